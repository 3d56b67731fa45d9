"""The daemon killed with SIGKILL while readers are inside it: readers
get an error (ENOTCONN or ECONNABORTED), never a hang; with
-o auto_unmount the mount point is not left dead; the next mount serves
again and adopts the snapshots the killed one left in cache_dir."""
import errno
import os
import signal
import subprocess
import threading
import time

import pytest

from faulttools import generations, partial_files
from pylib.mount import check_sanitizers, wait_for

pytestmark = pytest.mark.slow

GONE = (errno.ENOTCONN, errno.ECONNABORTED)


def kill_daemon(m):
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait(10)
    m.proc = None
    m.log_fh.close()
    check_sanitizers(m.log())


def close_gone(f):
    """close() of a handle into a dead mount: the flush says ENOTCONN,
    and the descriptor is gone all the same."""
    try:
        f.close()
    except OSError as e:
        assert e.errno in GONE


class Blocked(threading.Thread):
    """Does @fn in a thread; .error holds the OSError it ended with."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.error = None
        self.done = False

    def run(self):
        try:
            self.fn()
        except OSError as e:
            self.error = e
        self.done = True


def make_mount(mount, pg):
    m = mount(timeout=30)
    m.report("fast", {"source": "pg", "formats": "csv json", "ttl": "600"},
              "SELECT /* f-dk-fast */ id, label FROM big")
    m.report("slow", {"source": "pg", "formats": "csv"},
              "SELECT /* f-dk-slow */ pg_sleep(20)::text AS s")
    return m


def readers_inside(m):
    """One reader in the middle of a big file, one waiting on a run."""
    fast = open(m.path("reports/fast/fast.csv"), "rb")
    first = fast.read(65536)
    assert first.startswith(b"id,label")
    slow = Blocked(lambda: open(m.path("reports/slow/slow.csv"),
                                "rb").read())
    slow.start()
    time.sleep(1.0)  # the open waits for the run now
    assert not slow.done
    return fast, slow


def plain_folder(path):
    try:
        os.listdir(path)
    except OSError:
        return False
    return not os.path.ismount(path)


def test_sigkill_with_readers_auto_unmount(mount, pg):
    m = make_mount(mount, pg)
    m.start(extra_opts="allow_other,auto_unmount")
    fast, slow = readers_inside(m)
    size = os.fstat(fast.fileno()).st_size
    kill_daemon(m)
    slow.join(10)
    assert slow.done, "an open hung after the daemon died"
    assert slow.error.errno in GONE, slow.error
    with pytest.raises(OSError) as e:
        fast.seek(size // 2)
        fast.read(65536)
    assert e.value.errno in GONE
    close_gone(fast)
    # auto_unmount: the mount point is an ordinary folder again
    # (ismount says no while the dead mount still answers ENOTCONN)
    assert wait_for(lambda: plain_folder(m.mnt), 15)
    assert os.listdir(m.mnt) == []
    # the finished snapshot is there; the killed run's folder may be
    assert partial_files(m.cache) == []
    assert len(generations(m.cache, "fast")) == 1
    # the next mount adopts it: right size before any open, no query
    n = pg.statements("f-dk-fast")
    m.start(extra_opts="allow_other,auto_unmount")
    assert os.stat(m.path("reports/fast/fast.csv")).st_size == size
    body = open(m.path("reports/fast/fast.csv"), "rb").read()
    assert len(body) == size and body.count(b"\r\n") == 200001
    assert pg.statements("f-dk-fast") == n
    # the next mount swept what the killed run left half-written
    os.listdir(m.path("reports/slow"))
    assert generations(m.cache, "slow") == []
    assert len(generations(m.cache, "fast")) == 1


def test_sigkill_without_auto_unmount_then_remount(mount, pg):
    m = make_mount(mount, pg)
    m.start()
    fast, slow = readers_inside(m)
    kill_daemon(m)
    slow.join(10)
    assert slow.done and slow.error.errno in GONE, slow.error
    close_gone(fast)
    # without auto_unmount the dead mount stays until it is unmounted:
    # every access says ENOTCONN at once, nothing hangs
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        os.stat(m.path("reports"))
    assert e.value.errno == errno.ENOTCONN
    assert time.monotonic() - t0 < 1
    subprocess.run(["fusermount3", "-u", "-z", m.mnt], check=True)
    m.start()
    assert open(m.path("reports/fast/fast.csv"), "rb").read(8) == \
        b"id,label"
