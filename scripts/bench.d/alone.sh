# What a section of sections 3-5 needs when it runs on its own, outside
# scripts/bench (which sets every BENCH_* variable), and the section's own
# scratch directory.  A section sets name (e.g. 30-filter), then sources
# this; it leaves md (the section's markdown) and work (its directory).
# shellcheck shell=bash
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
name=${name:?set name before sourcing alone.sh}
: "${BENCH_RUNS:=10}"
: "${BENCH_USER:=sbxtest-sub}"
: "${SBX:=$repo/sbx}"
if [ -z "${BENCH_WORK:-}" ]; then
	BENCH_WORK=$(mktemp -d)
	chmod 755 "$BENCH_WORK"
	trap 'rm -rf "$BENCH_WORK"' EXIT
fi
: "${BENCH_OUT:=$BENCH_WORK/out}"
: "${BENCH_DOCS:=$repo/docs/bench}"
: "${BENCH_WARMUP:=3}"
: "${BENCH_PYTHON:=/usr/bin/python3}"
mkdir -p "$BENCH_OUT" "$BENCH_DOCS"
md=$BENCH_OUT/$name.md
work=$BENCH_WORK/$name
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"
