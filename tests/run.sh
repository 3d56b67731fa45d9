#!/bin/sh
# The whole test suite, as CI runs it: installs what it needs (Debian
# packages), builds twice (plain, then AddressSanitizer +
# UndefinedBehaviorSanitizer), and runs the unit and style tests (meson)
# and the tests against real servers and a real mount (pytest) on each.
#
#   sudo tests/run.sh            everything
#   sudo tests/run.sh --quick    plain build only, slow tests left out
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
quick=no
[ "${1:-}" = "--quick" ] && quick=yes

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: run as root (packages, mounts, servers)" >&2
	exit 1
fi
sh contrib/deps.sh all
modprobe fuse 2>/dev/null || true
# Python test tools come from Debian's python3-* packages.
PY=/usr/bin/python3

status=0
run_suite() { # name build-dir meson-setup-args...
	name=$1
	dir=$2
	shift 2
	echo "=== $name build ($dir)"
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@"
	else
		meson setup --reconfigure "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
	echo "=== $name: unit and style tests"
	# Here any undefined behaviour fails its test; the daemons below
	# go on, and tests/pylib fails a test whose log shows one.
	UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1" \
		meson test -C "$dir" --print-errorlogs || status=1
	echo "=== $name: tests against real servers and a real mount"
	marks=""
	[ "$name" != plain ] && marks="not slow"
	[ "$quick" = yes ] && marks="not slow"
	# One pytest per folder: each part has its own conftest.py.
	for t in tests/*/; do
		ls "$t"test_*.py >/dev/null 2>&1 || continue
		echo "--- $t"
		rc=0
		SAPB1FS_BUILD="$root/$dir" $PY -m pytest -q -p no:cacheprovider \
			${marks:+-m "$marks"} "$t" || rc=$?
		# 5: every test of the folder is marked slow and left out.
		[ $rc -eq 0 ] || [ $rc -eq 5 ] || status=1
	done
}

run_suite plain build
# A short fuzz run of every parser (tests/fuzz/run-fuzz.sh, clang),
# SAPB1FS_FUZZ_SECONDS per target: 3 by default, 0 leaves it out.
fuzz_secs=${SAPB1FS_FUZZ_SECONDS:-3}
if [ "$fuzz_secs" -gt 0 ]; then
	echo "=== fuzz: each parser for ${fuzz_secs}s (build-fuzz)"
	sh tests/fuzz/run-fuzz.sh "$fuzz_secs" || [ $? -eq 77 ] || status=1
fi
if [ "$quick" = no ]; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0
	run_suite sanitizers build-asan -Db_sanitize=address,undefined \
		-Db_lundef=false
fi
if [ $status -eq 0 ]; then
	echo "tests/run.sh: all suites passed"
else
	echo "tests/run.sh: some tests failed" >&2
fi
exit $status
