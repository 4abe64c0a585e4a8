# Shell helpers of the sections (sourced, not run: its name has no NN-).
# A section sets sec (its name, e.g. 10-startup) and sources it:
#   sec=10-startup; . "$BENCH_TOP/scripts/bench.d/lib.sh"
# shellcheck shell=bash
: "${BENCH_OUT:?run by scripts/bench}" "${BENCH_WORK:?}" "${BENCH_USER:?}"
sec=${sec:?set sec before sourcing lib.sh}
out=$BENCH_OUT/$sec
# A section starts from nothing of its last run: no md, no summary, no
# findings (an empty file the section adds refusals to).
rm -f "$out".md "$out".summary.tsv "$out".json "$out".findings "$out"-*
: >"$out.findings"
uid=$(id -u)
runs=$BENCH_RUNS
warm=$BENCH_WARMUP

# as MODE CMD...: run CMD as root (MODE root) or as $BENCH_USER (rootless).
as() {
	local mode=$1
	shift
	if [ "$mode" = rootless ] && [ "$uid" = 0 ]; then
		runuser -u "$BENCH_USER" -- env -C "$BENCH_WORK" "$@"
	else
		env -C "$BENCH_WORK" "$@"
	fi
}

# try MODE NAME CMD: run CMD once; on failure record NAME's refusal (its
# last error line) as a finding and return 1, so it is left out of the run.
# Its stderr goes to a file the user's own shell makes: runc (rootless)
# fchowns its stdio and cannot a pipe root made.
try() {
	local mode=$1 name=$2 cmd=$3 err rc=0 f=$BENCH_WORK/try-err
	[ "$mode" = rootless ] && [ "$uid" = 0 ] && f=$BENCH_STATE_USER/try-err
	# shellcheck disable=SC2086,SC2016 # the command line is split into its words
	as "$mode" bash -c 'f=$1; shift; rm -f "$f"; "$@" </dev/null >/dev/null 2>"$f"' _ "$f" $cmd || rc=$?
	[ "$rc" = 0 ] && return 0
	err=$(grep -v '^\s*$' "$f" | tail -n 1)
	printf '%s\t%s\t%s\t%s\n' "$mode" "$name" "$rc" "$err" >>"$out.findings"
	echo "$sec: $mode: $name refused (exit $rc): $err" >&2
	return 1
}

# hf MODE JSON NAME CMD [NAME CMD]...: one interleaved hyperfine run.
hf() {
	local mode=$1 json=$2 tmp
	shift 2
	local args=()
	: >"$json.cmds"
	while [ $# -gt 0 ]; do
		args+=(-n "$1" "$2")
		printf '%s\t%s\n' "$1" "$2" >>"$json.cmds"
		shift 2
	done
	tmp=$json
	if [ "$mode" = rootless ] && [ "$uid" = 0 ]; then
		tmp=$BENCH_STATE_USER/${json##*/}
	fi
	if ! as "$mode" hyperfine -N --warmup "$warm" --runs "$runs" --export-json "$tmp" "${args[@]}" >&2; then
		# A run that failed now and then: measured again with the failures
		# kept (their exit codes are in the JSON), and said so.
		printf '%s\t%s\t%s\t%s\n' "$mode" "hyperfine" "-" \
			"a command failed in the run of ${json##*/}; measured again with --ignore-failure" >>"$out.findings"
		as "$mode" hyperfine -N -i --warmup "$warm" --runs "$runs" --export-json "$tmp" "${args[@]}" >&2
	fi
	[ "$tmp" = "$json" ] || cp "$tmp" "$json"
}

# skip WHY: the section's md says SKIP and why; exit 0 (never a failure).
skip() {
	printf '## %s\n\nSKIP: %s\n' "$sec" "$1" >"$out.md"
	printf '%s\tSKIP: %s\t\tn/a\n' "$sec" "$1" >"$out.summary.tsv"
	echo "$sec: SKIP: $1" >&2
	exit 0
}
