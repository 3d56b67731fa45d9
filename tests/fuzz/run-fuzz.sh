#!/bin/sh
# The short fuzz run, for CI and by hand: builds the libFuzzer programs
# with clang in a build folder of their own, then runs each target for
# SECONDS (default 30) from its committed corpus.  New inputs go to a
# scratch folder, not into the corpus; a crash, hang, leak or failed
# check is kept in FUZZ_OUT (default: the scratch folder's crashes/) and
# fails the run.
#
#   tests/fuzz/run-fuzz.sh [SECONDS] [TARGET...]
#
#   FUZZ_BUILD=DIR  build folder (default build-fuzz, in the source tree)
#   FUZZ_MERGE=1    afterwards replace the corpus by the fewest inputs
#                   that reach every edge the corpus and the new inputs
#                   reached (libFuzzer -set_cover_merge=1, without hit
#                   counts); seed-* and crash-* files always stay
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)
secs=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-"conf report sqlbind cron encode render sljson params tree"}
build=${FUZZ_BUILD:-build-fuzz}
corpus=$root/tests/fuzz/corpus

if ! command -v clang >/dev/null 2>&1; then
	echo "run-fuzz.sh: clang is not installed (contrib/deps.sh)" >&2
	exit 77
fi
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Db_lundef=false >/dev/null
fi
progs=""
for t in $targets; do
	progs="$progs tests/fuzz/fuzz_$t"
done
# shellcheck disable=SC2086
ninja -C "$build" $progs >/dev/null

scratch=$(mktemp -d "${TMPDIR:-/tmp}/sapb1fs-fuzz.XXXXXX")
out=${FUZZ_OUT:-$scratch/crashes}
mkdir -p "$out"
status=0
for t in $targets; do
	mkdir -p "$scratch/$t"
	dict=""
	[ -f "$root/tests/fuzz/dict/$t.dict" ] &&
		dict="-dict=$root/tests/fuzz/dict/$t.dict"
	printf '%-8s %4ss ' "$t" "$secs"
	# shellcheck disable=SC2086
	if "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$out/$t-" $dict \
		"$scratch/$t" "$corpus/$t" >"$scratch/$t.log" 2>&1; then
		grep -o 'DONE.*exec/s: [0-9]*' "$scratch/$t.log" || echo ok
	else
		status=1
		echo "FAILED; the input is in $out:"
		grep -E '^fuzz: |ERROR|SUMMARY|runtime error' \
			"$scratch/$t.log" | head -5
	fi
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		keep="$scratch/$t.merged"
		mkdir -p "$keep"
		cp "$corpus/$t"/seed-* "$keep"/ 2>/dev/null || true
		cp "$corpus/$t"/crash-* "$keep"/ 2>/dev/null || true
		# shellcheck disable=SC2086
		if "$build/tests/fuzz/fuzz_$t" -set_cover_merge=1 \
			-use_counters=0 -timeout=10 $dict \
			"$keep" "$corpus/$t" "$scratch/$t" \
			>"$scratch/$t.merge.log" 2>&1; then
			rm -f "$corpus/$t"/*
			cp "$keep"/* "$corpus/$t"/
			echo "         corpus: $(ls "$corpus/$t" | wc -l) files"
		else
			status=1
			echo "         merge failed: $scratch/$t.merge.log"
		fi
	fi
done
if [ $status -eq 0 ]; then
	rm -rf "$scratch"
else
	echo "run-fuzz.sh: logs in $scratch" >&2
fi
exit $status
