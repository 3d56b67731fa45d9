"""Fixtures of the renderer read-back tests: the render_tool binary."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from render_table import find_tool  # noqa: E402


@pytest.fixture(scope="session")
def tool():
    path = find_tool()
    if not path:
        pytest.skip("render_tool not built (build it with ninja, or set "
                    "SAPB1FS_BUILD or RENDER_TOOL)")
    return path
