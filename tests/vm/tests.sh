#!/bin/sh
# The limit tests, run inside the VM by /init (busybox sh).
#   sh /tests.sh            run every mode: root, then the test users
#   sh /tests.sh MODE       run one mode as the current user
# Each result is one console line "VMTEST: ok|FAIL|SKIP MODE NAME[: why]";
# the host-side runner (tests/vm/run) parses them.
SBX=/opt/sbx/sbx
ROOTFS=/srv/rootfs
CG=/sys/fs/cgroup
MIB=1048576

# /etc/vm-tests (from SBX_VM_TESTS, tests/vm/run) may select tests: shell
# patterns matched against MODE:NAME, one a line; empty runs everything.
selected() { # mode name
	[ -s /etc/vm-tests ] || return 0
	while read -r pat; do
		case "$1:$2" in $pat) return 0 ;; esac
	done < /etc/vm-tests
	return 1
}
mode_selected() { # mode
	[ -s /etc/vm-tests ] || return 0
	while read -r pat; do
		case "$1" in ${pat%%:*}) return 0 ;; esac
	done < /etc/vm-tests
	return 1
}

if [ $# -eq 0 ]; then
	failed=0
	! mode_selected root || sh /tests.sh root || failed=1
	for pair in subuid:sbxtest-sub nosub:sbxtest-nosub; do
		mode=${pair%%:*} user=${pair#*:}
		mode_selected "$mode" || continue
		# Root puts the shell into a leaf of the user's delegated subtree
		# before it becomes the user (see /init).
		sh -c "echo \$\$ > $CG/users/$user/shell/cgroup.procs && exec su -s /bin/sh $user -c 'cd && exec sh /tests.sh $mode'" ||
			failed=1
	done
	# The same user in a cgroup of root's: no delegation, rlimits only.
	! mode_selected nodeleg || sh -c "echo \$\$ > $CG/nodeleg/cgroup.procs && exec su -s /bin/sh sbxtest-sub -c 'cd && exec sh /tests.sh nodeleg'" ||
		failed=1
	exit $failed
fi

MODE=$1
# The limit tests above run under the native backend; the runsc variants
# (t_runsc_*) ask for --runtime runsc themselves.
export SBX_RUNTIME=native
WORK=$(mktemp -d /tmp/vmtest.XXXXXX)
J=$WORK/result.json OUT=$WORK/stdout ERR=$WORK/stderr
FAILS=0

say() { echo "VMTEST: $*"; }
ok() { say "ok $MODE $1"; }
skip() { say "SKIP $MODE $1: $2"; }
fail() { # name why
	say "FAIL $MODE $1: $2"
	FAILS=$((FAILS + 1))
	for f in "$ERR" "$OUT" "$J"; do
		[ -s "$f" ] && head -c 2000 "$f" | sed "s|^|VMTEST:   $(basename "$f"): |"
	done
	return 1
}

# sbx run --rootfs ROOTFS --json J OPTS... -- CMD...; status in RC.
sbx_run() {
	rm -f "$J" "$OUT" "$ERR"
	timeout 120 "$SBX" run --rootfs "$ROOTFS" --json "$J" "$@" >"$OUT" 2>"$ERR" </dev/null
	RC=$?
}

# A top-level scalar of the JSON result (numbers, true/false/null, strings
# with their quotes).
jget() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$J"; }
# What limits_enforced_by says of LIMIT (memory, cpus, pids: the key may
# carry a suffix).
enforced_by() { sed -n "s/.*\"limits_enforced_by\":{[^}]*\"$1[a-z_]*\":\"\([^\"]*\)\".*/\1/p" "$J"; }
# awk comparisons of numbers from the JSON result.
holds() { awk "BEGIN { exit !($1) }"; }

cg_dirs() { find "$CG" -type d | sort; }
hogs_left() { pidof sbx-hog; }
own_cgroup() { sed -n 's/^0:://p' /proc/self/cgroup; }

# After every limited run: no process of the sandbox left, and no cgroup
# that was not there before the first one.
check_clean() { # name
	left=""
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		left=$(hogs_left)
		[ -z "$left" ] && break
		sleep 0.5
	done
	[ -z "$left" ] || { fail "$1" "processes left: $left"; killall -KILL sbx-hog 2>/dev/null; return 1; }
	cg_dirs > "$WORK/cg.now"
	if ! cmp -s "$WORK/cg.base" "$WORK/cg.now"; then
		fail "$1" "cgroups left: $(diff "$WORK/cg.base" "$WORK/cg.now" | grep '^+/' | tr '\n' ' ')"
		return 1
	fi
	return 0
}

expect_rc() { # name want
	[ "$RC" = "$2" ] || { fail "$1" "exit status $RC, want $2"; return 1; }
}

expect_cgroup() { # name limit
	by=$(enforced_by "$2")
	[ "$by" = "cgroup-v2" ] || { fail "$1" "limits_enforced_by.$2 is '${by:-missing}', want cgroup-v2"; return 1; }
}

# --- what sbx does here without limits --------------------------------------

t_sbx_runs() {
	sbx_run -- true
	expect_rc "$1" 0 || return
	[ "$(jget exit_code)" = 0 ] || { fail "$1" "exit_code in the JSON is '$(jget exit_code)'"; return; }
	ok "$1"
}

t_sbx_output() {
	sbx_run -- echo hello from the vm
	expect_rc "$1" 0 || return
	[ "$(cat "$OUT")" = "hello from the vm" ] || { fail "$1" "stdout is '$(cat "$OUT")'"; return; }
	ok "$1"
}

t_exit_status() {
	sbx_run -- sh -c 'exit 7'
	expect_rc "$1" 7 && ok "$1"
}

# --- limits ------------------------------------------------------------------

# The sandbox's cgroup namespace hides the host's tree.
t_cgroup_namespace() {
	sbx_run --memory 64m -- cat /proc/self/cgroup
	expect_rc "$1" 0 || return
	[ "$(cat "$OUT")" = "0::/" ] || { fail "$1" "/proc/self/cgroup in the sandbox: $(cat "$OUT")"; return; }
	check_clean "$1" && ok "$1"
}

t_pids_fork_bomb() {
	sbx_run --pids 32 -- sbx-hog fork 500
	expect_rc "$1" 0 || return
	expect_cgroup "$1" pids || return
	[ "$(jget pids_limit_hit)" = true ] || { fail "$1" "pids_limit_hit is '$(jget pids_limit_hit)'"; return; }
	peak=$(jget pids_peak)
	holds "$peak > 16 && $peak <= 32" || { fail "$1" "pids_peak $peak, want 17..32"; return; }
	check_clean "$1" && ok "$1"
}

t_pids_not_hit() {
	sbx_run --pids 32 -- sbx-hog fork 5
	# 3: all five forks succeeded
	expect_rc "$1" 3 || return
	[ "$(jget pids_limit_hit)" = false ] || { fail "$1" "pids_limit_hit is '$(jget pids_limit_hit)'"; return; }
	check_clean "$1" && ok "$1"
}

t_memory_oom() {
	sbx_run --memory 32m -- sbx-hog mem 256
	expect_rc "$1" 137 || return
	expect_cgroup "$1" memory || return
	[ "$(jget oom_killed)" = true ] || { fail "$1" "oom_killed is '$(jget oom_killed)'"; return; }
	[ "$(jget signal)" = 9 ] || { fail "$1" "signal is '$(jget signal)', want 9"; return; }
	peak=$(jget memory_peak_bytes)
	holds "$peak > 16 * $MIB && $peak <= 32 * $MIB" || { fail "$1" "memory_peak_bytes $peak, want 16..32 MiB"; return; }
	check_clean "$1" && ok "$1"
}

t_memory_within() {
	sbx_run --memory 64m -- sbx-hog mem 8
	expect_rc "$1" 0 || return
	[ "$(jget oom_killed)" = false ] || { fail "$1" "oom_killed is '$(jget oom_killed)'"; return; }
	peak=$(jget memory_peak_bytes)
	holds "$peak >= 8 * $MIB && $peak <= 64 * $MIB" || { fail "$1" "memory_peak_bytes $peak, want 8..64 MiB"; return; }
	check_clean "$1" && ok "$1"
}

t_cpus_throttle() {
	sbx_run --cpus 0.5 -- sbx-hog spin 3
	expect_rc "$1" 0 || return
	expect_cgroup "$1" cpu || return
	thr=$(jget cpu_throttled_s)
	holds "$thr > 0" || { fail "$1" "cpu_throttled_s is '$thr'"; return; }
	ratio=$(sed -n 's/^cpu_ratio=//p' "$OUT")
	holds "$ratio < 0.75" || { fail "$1" "the busy loop got $ratio of a CPU under --cpus 0.5"; return; }
	say "info $MODE $1: cpu_ratio=$ratio cpu_throttled_s=$thr"
	check_clean "$1" && ok "$1"
}

# The same loop unlimited gets a whole CPU: the throttling above is --cpus'.
t_cpus_unlimited() {
	sbx_run -- sbx-hog spin 1
	expect_rc "$1" 0 || return
	ratio=$(sed -n 's/^cpu_ratio=//p' "$OUT")
	holds "$ratio > 0.8" || { fail "$1" "the busy loop got $ratio of a CPU without --cpus"; return; }
	ok "$1"
}

t_timeout_cleans_up() {
	sbx_run --timeout 1 --kill-grace 1 --memory 64m -- sbx-hog sleepers 4
	expect_rc "$1" 124 || return
	[ "$(jget timed_out)" = true ] || { fail "$1" "timed_out is '$(jget timed_out)'"; return; }
	check_clean "$1" && ok "$1"
}

# Start OPTS... -- sbx-hog sleepers 1 in the background (--timeout 4 ends
# it); HOG_CG is the cgroup directory its processes are in, as the host sees
# it.  Wait for it with wait_bg.
start_sleeper() {
	rm -f "$OUT" "$ERR" "$J"
	"$SBX" run --rootfs "$ROOTFS" --json "$J" --timeout 4 --kill-grace 1 "$@" -- sbx-hog sleepers 1 \
		>"$OUT" 2>"$ERR" </dev/null &
	BG=$!
	for _ in $(seq 100); do
		grep -q ready "$OUT" 2>/dev/null && break
		kill -0 "$BG" 2>/dev/null || break
		sleep 0.1
	done
	HOG_CG=""
	grep -q ready "$OUT" 2>/dev/null || return 1
	HOG_PID=$(pidof sbx-hog | cut -d' ' -f1)
	HOG_CG=$CG$(sed -n 's/^0:://p' "/proc/$HOG_PID/cgroup")
}
wait_bg() { wait "$BG"; RC=$?; }
cgfile() { cat "$HOG_CG/$1" 2>&1; }

# The sandbox lives in a cgroup of its own with the limits asked for.
t_cgroup_files() {
	start_sleeper --memory 64m --cpus 0.5 --pids 48 || { wait_bg; fail "$1" "the sandbox did not start (exit $RC)"; return; }
	mine=$CG$(own_cgroup)
	why=""
	[ "$HOG_CG" != "$mine" ] || why="the sandbox is in the caller's own cgroup $mine; "
	[ "$(cgfile memory.max)" = 67108864 ] || why="${why}memory.max is '$(cgfile memory.max)'; "
	[ "$(cgfile memory.swap.max)" = 0 ] || why="${why}memory.swap.max is '$(cgfile memory.swap.max)'; "
	[ "$(cgfile pids.max)" = 48 ] || why="${why}pids.max is '$(cgfile pids.max)'; "
	cpumax=$(cgfile cpu.max)
	holds "${cpumax% *} / ${cpumax#* } == 0.5" 2>/dev/null || why="${why}cpu.max is '$cpumax'; "
	say "info $MODE $1: sandbox cgroup ${HOG_CG#$CG}"
	wait_bg
	[ -z "$why" ] || { fail "$1" "$why"; return; }
	expect_rc "$1" 124 || return
	check_clean "$1" && ok "$1"
}

# The defaults (memory 2g, pids 256, cpus unlimited) are in force without
# any option.
t_default_limits() {
	start_sleeper || { wait_bg; fail "$1" "the sandbox did not start (exit $RC)"; return; }
	why=""
	[ "$(cgfile memory.max)" = 2147483648 ] || why="${why}memory.max is '$(cgfile memory.max)'; "
	[ "$(cgfile pids.max)" = 256 ] || why="${why}pids.max is '$(cgfile pids.max)'; "
	case $(cgfile cpu.max) in "max "*) ;; *) why="${why}cpu.max is '$(cgfile cpu.max)'; " ;; esac
	wait_bg
	[ -z "$why" ] || { fail "$1" "$why"; return; }
	check_clean "$1" && ok "$1"
}

# No limit in force: no cgroup is made (its cost is paid only for limits).
t_no_limits_no_cgroup() {
	start_sleeper --memory 0 --pids 0 || { wait_bg; fail "$1" "the sandbox did not start (exit $RC)"; return; }
	mine=$CG$(own_cgroup)
	wait_bg
	[ "$HOG_CG" = "$mine" ] || { fail "$1" "the sandbox got cgroup $HOG_CG without any limit"; return; }
	check_clean "$1" && ok "$1"
}

t_require_limits_met() {
	sbx_run --require-limits --memory 64m --cpus 1 --pids 64 -- true
	expect_rc "$1" 0 || return
	for l in memory cpus pids; do expect_cgroup "$1" $l || return; done
	check_clean "$1" && ok "$1"
}

# A second sandbox beside a running one: its start (which removes what
# killed sbx processes left) leaves the live one's cgroup and processes.
t_concurrent_sandbox_untouched() {
	start_sleeper --memory 64m || { wait_bg; fail "$1" "the sandbox did not start (exit $RC)"; return; }
	first_cg=$HOG_CG
	first_json=$J
	J=$WORK/second.json
	"$SBX" run --rootfs "$ROOTFS" --json "$J" --memory 64m -- true >/dev/null 2>"$WORK/second.err" </dev/null
	rc2=$?
	J=$first_json
	alive=yes
	[ -d "$first_cg" ] && [ -n "$(pidof sbx-hog)" ] || alive=no
	wait_bg
	[ "$rc2" = 0 ] || { fail "$1" "the second sandbox exited with $rc2: $(cat "$WORK/second.err")"; return; }
	[ "$alive" = yes ] || { fail "$1" "the first sandbox's cgroup or processes were gone after the second ran"; return; }
	# It ran to its timeout, not killed.
	expect_rc "$1" 124 || return
	check_clean "$1" && ok "$1"
}

# After a SIGKILL of sbx, `sbx gc` removes its cgroup without another run
# (the issue: "the next run, or sbx gc").
t_gc_removes_leftover() {
	rm -f "$OUT" "$ERR" "$J"
	"$SBX" run --rootfs "$ROOTFS" --memory 64m -- sbx-hog sleepers 1 >"$OUT" 2>"$ERR" </dev/null &
	pid=$!
	for _ in $(seq 100); do
		grep -q ready "$OUT" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL $pid
	wait $pid 2>/dev/null
	"$SBX" gc >"$OUT" 2>"$ERR" </dev/null
	RC=$?
	expect_rc "$1" 0 || return
	grep -q "^removed 1 cgroup " "$OUT" || { fail "$1" "gc said: $(cat "$OUT" "$ERR")"; return; }
	check_clean "$1" && ok "$1"
}

# SIGKILL of sbx: no process of the sandbox survives it, and its cgroup is
# gone at the latest after the next run.
t_sigkill_cleans_up() {
	rm -f "$OUT" "$ERR" "$J"
	"$SBX" run --rootfs "$ROOTFS" --memory 64m --pids 64 -- sbx-hog sleepers 4 >"$OUT" 2>"$ERR" </dev/null &
	pid=$!
	for _ in $(seq 100); do
		grep -q ready "$OUT" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q ready "$OUT" || { kill -KILL $pid; fail "$1" "the sandbox did not start"; return; }
	kill -KILL $pid
	wait $pid 2>/dev/null
	left=""
	for _ in $(seq 20); do
		left=$(hogs_left)
		[ -z "$left" ] && break
		sleep 0.5
	done
	[ -z "$left" ] || { fail "$1" "processes left after SIGKILL of sbx: $left"; killall -KILL sbx-hog 2>/dev/null; return; }
	sbx_run --memory 64m -- true
	expect_rc "$1" 0 || return
	check_clean "$1" && ok "$1"
}

# --- rootless in a cgroup the user was not given -----------------------------

t_nodeleg_require_fails() {
	sbx_run --require-limits --memory 32m -- true
	expect_rc "$1" 125 || return
	grep -q memory "$ERR" || { fail "$1" "the message does not name the memory limit"; return; }
	check_clean "$1" && ok "$1"
}

t_nodeleg_rlimit_fallback() {
	sbx_run --memory 32m -- sbx-hog mem 256
	[ "$RC" != 0 ] && [ "$RC" != 125 ] || { fail "$1" "exit status $RC: the hog was not held"; return; }
	by=$(enforced_by memory)
	[ "$by" = rlimit ] || { fail "$1" "limits_enforced_by.memory is '${by:-missing}', want rlimit"; return; }
	check_clean "$1" && ok "$1"
}

t_nodeleg_no_limits_runs() {
	sbx_run --memory 0 --pids 0 -- true
	expect_rc "$1" 0 || return
	check_clean "$1" && ok "$1"
}

# --- the same limits under --runtime runsc -------------------------------------
# sbx puts runsc's whole tree (runsc run, its sandbox, gofer and, on the
# ptrace platform, the stub processes that run the command) into the
# sandbox's cgroup from outside; runsc runs with --ignore-cgroups.  So the
# cgroup bounds gVisor as a whole: memory.max its sentry and the command's
# memory, pids.max every host thread of it (about 45 for runsc's own
# processes, several more per process of the command).

RUNSC_MISSING=$(cat /etc/vm-runsc-missing 2>/dev/null)
# runsc's ptrace platform under TCG: a run takes seconds, not milliseconds.
RUNSC_TIMEOUT=${RUNSC_TIMEOUT:-180}
uptime_s() { cut -d' ' -f1 /proc/uptime; }

sbx_runsc() {
	rm -f "$J" "$OUT" "$ERR"
	t0=$(uptime_s)
	timeout "$RUNSC_TIMEOUT" "$SBX" run --runtime runsc --rootfs "$ROOTFS" --json "$J" "$@" >"$OUT" 2>"$ERR" </dev/null
	RC=$?
	RUN_S=$(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')
}

# Host processes of runsc (runsc, runsc-sandbox, runsc-gofer: runsc names
# its children in argv[0]; they run /proc/self/exe).
runsc_procs() {
	for d in /proc/[0-9]*; do
		case $({ tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null) in runsc* | /usr/bin/runsc*) echo "${d#/proc/}" ;; esac
	done
}

# check_clean, and no process of runsc left.
check_clean_runsc() { # name
	left=""
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		left=$(runsc_procs)
		[ -z "$left" ] && break
		sleep 0.5
	done
	[ -z "$left" ] || { fail "$1" "runsc processes left: $left"; return 1; }
	check_clean "$1"
}

expect_runsc() { # name
	[ "$(jget runtime)" = '"runsc"' ] || { fail "$1" "runtime in the JSON is '$(jget runtime)', want runsc"; return 1; }
}

t_runsc_runs() {
	sbx_runsc -- echo hello from gvisor
	expect_rc "$1" 0 || return
	expect_runsc "$1" || return
	[ "$(cat "$OUT")" = "hello from gvisor" ] || { fail "$1" "stdout is '$(cat "$OUT")'"; return; }
	say "info $MODE $1: ${RUN_S}s"
	check_clean_runsc "$1" && ok "$1"
}

# Every descendant of PID (pids, one a line).
descendants() { # pid
	for d in /proc/[0-9]*; do
		echo "$(cut -d' ' -f4 "$d/stat" 2>/dev/null) ${d#/proc/}"
	done > "$WORK/ppids"
	todo=$1
	while [ -n "$todo" ]; do
		next=""
		for p in $todo; do
			for c in $(awk -v p="$p" '$1 == p { print $2 }' "$WORK/ppids"); do
				echo "$c"
				next="$next $c"
			done
		done
		todo=$next
	done
}

# Every process sbx starts for runsc (its shim, runsc run, the sandbox,
# the gofer, the ptrace platform's stub processes) lives in the sandbox's
# cgroup, not the caller's, with the limits asked for.
t_runsc_tree_in_cgroup() {
	rm -f "$OUT" "$ERR" "$J"
	"$SBX" run --runtime runsc --rootfs "$ROOTFS" --json "$J" --timeout 30 --kill-grace 1 --memory 256m --pids 200 \
		-- sbx-hog sleepers 2 >"$OUT" 2>"$ERR" </dev/null &
	BG=$!
	for _ in $(seq 600); do
		grep -q ready "$OUT" 2>/dev/null && break
		kill -0 "$BG" 2>/dev/null || break
		sleep 0.1
	done
	grep -q ready "$OUT" 2>/dev/null || { kill $BG; wait_bg; fail "$1" "the sandbox did not start (exit $RC)"; return; }
	want=$CG$(own_cgroup)
	want=${want%/*}/sbx-$BG
	[ "$MODE" = root ] && want=$CG/sbx/sbx-$BG
	why="" n=0
	for pid in $(descendants $BG); do
		got=$CG$(sed -n 's/^0:://p' "/proc/$pid/cgroup" 2>/dev/null)
		[ "$got" = "$CG" ] && continue # gone meanwhile
		n=$((n + 1))
		[ "$got" = "$want" ] || why="${why}process $pid ($(tr '\0' ' ' < /proc/$pid/cmdline | cut -c1-40)) is in $got; "
	done
	nrunsc=$(runsc_procs | wc -l)
	# The shim, runsc run, its sandbox and gofer, a stub per process.
	[ "$n" -ge 6 ] && [ "$nrunsc" -ge 3 ] || why="${why}only $n descendants of sbx, $nrunsc of them runsc's; "
	[ "$(cat "$want/memory.max" 2>&1)" = 268435456 ] || why="${why}memory.max is '$(cat "$want/memory.max" 2>&1)'; "
	[ "$(cat "$want/pids.max" 2>&1)" = 200 ] || why="${why}pids.max is '$(cat "$want/pids.max" 2>&1)'; "
	say "info $MODE $1: $n processes ($nrunsc runsc), $(wc -l < "$want/cgroup.threads") threads in ${want#$CG}"
	kill -TERM $BG
	wait_bg
	[ -z "$why" ] || { fail "$1" "$why"; return; }
	[ ! -d "$want" ] || { fail "$1" "$want is left"; return; }
	check_clean_runsc "$1" && ok "$1"
}

# A hog beyond --memory: the OOM killer ends the sandbox (gVisor's sentry
# holds the command's memory: the whole sandbox goes, with SIGKILL).
t_runsc_memory_oom() {
	sbx_runsc --memory 64m -- sbx-hog mem 256
	say "info $MODE $1: ${RUN_S}s, $(grep -c '^mem [0-9]' "$OUT") progress lines, $(tail -n 1 "$OUT")"
	expect_rc "$1" 137 || return
	expect_runsc "$1" || return
	expect_cgroup "$1" memory || return
	[ "$(jget oom_killed)" = true ] || { fail "$1" "oom_killed is '$(jget oom_killed)'"; return; }
	[ "$(jget signal)" = 9 ] || { fail "$1" "signal is '$(jget signal)', want 9"; return; }
	! grep -q "^mem done" "$OUT" || { fail "$1" "the hog got all of its 256 MiB under --memory 64m"; return; }
	peak=$(jget memory_peak_bytes)
	# memory.peak may pass memory.max by the page being charged.
	holds "$peak > 32 * $MIB && $peak <= 64 * $MIB + 65536" || { fail "$1" "memory_peak_bytes $peak, want 32..64 MiB"; return; }
	check_clean_runsc "$1" && ok "$1"
}

t_runsc_memory_within() {
	sbx_runsc --memory 256m -- sbx-hog mem 16
	expect_rc "$1" 0 || return
	[ "$(jget oom_killed)" = false ] || { fail "$1" "oom_killed is '$(jget oom_killed)'"; return; }
	peak=$(jget memory_peak_bytes)
	holds "$peak >= 16 * $MIB && $peak <= 256 * $MIB" || { fail "$1" "memory_peak_bytes $peak, want 16..256 MiB"; return; }
	say "info $MODE $1: ${RUN_S}s, memory_peak_bytes $peak (gVisor's own included)"
	check_clean_runsc "$1" && ok "$1"
}

# --pids bounds a fork bomb: pids.max counts every host thread of gVisor,
# and this runsc's sentry panics when it cannot make one (its ptrace
# platform makes a stub process with a thread per sentry thread for each
# process of the command), so the bomb ends the sandbox: sbx says so (125),
# never the sentry's exit status as the command's.
RUNSC_PIDS=128
t_runsc_pids_fork_bomb() {
	sbx_runsc --pids $RUNSC_PIDS -- sbx-hog fork 500
	say "info $MODE $1: ${RUN_S}s, exit $RC, pids_peak $(jget pids_peak): $(cat "$OUT" "$ERR" | tr '\n' ' ' | cut -c1-400)"
	case $RC in
	0) ;; # gVisor gave the hog EAGAIN
	125) grep -q "gVisor's sandbox crashed" "$ERR" || { fail "$1" "exit 125 without saying that gVisor's sandbox crashed"; return; } ;;
	*) fail "$1" "exit status $RC, want 0 (EAGAIN in the sandbox) or 125 (gVisor's sandbox crashed)"; return ;;
	esac
	expect_cgroup "$1" pids || return
	[ "$(jget pids_limit_hit)" = true ] || { fail "$1" "pids_limit_hit is '$(jget pids_limit_hit)'"; return; }
	peak=$(jget pids_peak)
	holds "$peak > 45 && $peak <= $RUNSC_PIDS" || { fail "$1" "pids_peak $peak, want 46..$RUNSC_PIDS"; return; }
	check_clean_runsc "$1" && ok "$1"
}

t_runsc_pids_not_hit() {
	sbx_runsc --pids $RUNSC_PIDS -- sbx-hog fork 5
	expect_rc "$1" 3 || return
	[ "$(jget pids_limit_hit)" = false ] || { fail "$1" "pids_limit_hit is '$(jget pids_limit_hit)'"; return; }
	say "info $MODE $1: ${RUN_S}s, pids_peak $(jget pids_peak) for the hog and 5 children"
	check_clean_runsc "$1" && ok "$1"
}

# --cpus 0.5 throttles the whole of gVisor (the command's CPU is spent in
# its stub process and the sentry).
t_runsc_cpus_throttle() {
	sbx_runsc --cpus 0.5 -- sbx-hog spin 3
	expect_rc "$1" 0 || return
	expect_cgroup "$1" cpu || return
	thr=$(jget cpu_throttled_s)
	holds "$thr > 0" || { fail "$1" "cpu_throttled_s is '$thr'"; return; }
	ratio=$(sed -n 's/^cpu_ratio=//p' "$OUT")
	say "info $MODE $1: ${RUN_S}s, cpu_ratio=$ratio cpu_throttled_s=$thr"
	# gVisor's clock of the task runs while its stub is throttled too:
	# more than 0.5 (0.55..0.65 measured), well under runsc_cpus_unlimited's.
	holds "$ratio < 0.8" || { fail "$1" "the busy loop got $ratio of a CPU under --cpus 0.5"; return; }
	check_clean_runsc "$1" && ok "$1"
}

t_runsc_cpus_unlimited() {
	sbx_runsc -- sbx-hog spin 2
	expect_rc "$1" 0 || return
	ratio=$(sed -n 's/^cpu_ratio=//p' "$OUT")
	say "info $MODE $1: ${RUN_S}s, cpu_ratio=$ratio cpu_throttled_s=$(jget cpu_throttled_s)"
	holds "$ratio > 0.8" || { fail "$1" "the busy loop got $ratio of a CPU without --cpus"; return; }
	check_clean_runsc "$1" && ok "$1"
}

# A timeout ends runsc and everything in the cgroup.
t_runsc_timeout_cleans_up() {
	sbx_runsc --timeout 3 --kill-grace 1 --memory 256m -- sbx-hog sleepers 4
	expect_rc "$1" 124 || return
	[ "$(jget timed_out)" = true ] || { fail "$1" "timed_out is '$(jget timed_out)'"; return; }
	check_clean_runsc "$1" && ok "$1"
}

# SIGKILL of sbx: runsc's whole tree dies with it (sbx's shim is the init
# of its pid namespace), and the next run removes the cgroup left.
t_runsc_sigkill_cleans_up() {
	rm -f "$OUT" "$ERR" "$J"
	"$SBX" run --runtime runsc --rootfs "$ROOTFS" --memory 256m --pids 200 -- sbx-hog sleepers 4 >"$OUT" 2>"$ERR" </dev/null &
	pid=$!
	for _ in $(seq 600); do
		grep -q ready "$OUT" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q ready "$OUT" || { kill -KILL $pid; fail "$1" "the sandbox did not start"; return; }
	[ -n "$(runsc_procs)" ] || { kill -KILL $pid; fail "$1" "no runsc process while the sandbox runs"; return; }
	kill -KILL $pid
	wait $pid 2>/dev/null
	left=""
	for _ in $(seq 20); do
		left=$(runsc_procs)
		[ -z "$left" ] && break
		sleep 0.5
	done
	[ -z "$left" ] || { fail "$1" "runsc processes left after SIGKILL of sbx: $left"; return; }
	sbx_runsc --memory 256m -- true
	expect_rc "$1" 0 || return
	check_clean_runsc "$1" && ok "$1"
}

# Without a subordinate range runsc cannot run: 125 and the line to add.
t_runsc_needs_range() {
	sbx_runsc -- true
	expect_rc "$1" 125 || return
	grep -q "add the line 'sbxtest-nosub:[0-9]*:65536' to /etc/subuid" "$ERR" || { fail "$1" "stderr does not give the /etc/subuid line"; return; }
	check_clean_runsc "$1" && ok "$1"
}

# --- sbx as an OCI runtime: linux.resources on a real cgroup v2 ---------------

# oci_bundle DIR RESOURCES CGROUPSPATH ARGS...: a config.json running ARGS
# as root in ROOTFS with RESOURCES (a JSON object) under CGROUPSPATH.
oci_bundle() {
	dir=$1 res=$2 cgp=$3
	shift 3
	args=""
	for a in "$@"; do args="$args${args:+, }\"$a\""; done
	mkdir -p "$dir"
	cat > "$dir/config.json" <<CONFIG
{"ociVersion": "1.0.2",
 "process": {"user": {"uid": 0, "gid": 0}, "args": [$args], "env": ["PATH=/usr/bin:/bin"], "cwd": "/"},
 "root": {"path": "$ROOTFS", "readonly": true},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}],
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}],
           "cgroupsPath": "$cgp", "resources": $res}}
CONFIG
}

# sbx --root ... run --bundle DIR ID; status in RC.
oci_run() { # dir id
	rm -f "$OUT" "$ERR"
	timeout 120 "$SBX" --root "$WORK/oci-state" run --bundle "$1" "$2" >"$OUT" 2>"$ERR" </dev/null
	RC=$?
}

oci_clean() { # name
	left=$(ls "$WORK/oci-state" 2>/dev/null | grep -v '^@')
	[ -z "$left" ] || { fail "$1" "state left: $left"; return 1; }
	check_clean "$1"
}

t_oci_memory_oom() {
	oci_bundle "$WORK/ob-mem" '{"memory": {"limit": 33554432}}' "" sbx-hog mem 256
	oci_run "$WORK/ob-mem" mem1
	expect_rc "$1" 137 || return
	oci_clean "$1" && ok "$1"
}

t_oci_memory_within() {
	oci_bundle "$WORK/ob-memok" '{"memory": {"limit": 67108864}}' "" sbx-hog mem 8
	oci_run "$WORK/ob-memok" mem2
	expect_rc "$1" 0 || return
	oci_clean "$1" && ok "$1"
}

t_oci_pids_fork_bomb() {
	oci_bundle "$WORK/ob-pids" '{"pids": {"limit": 32}}' "" sbx-hog fork 500
	oci_run "$WORK/ob-pids" pids1
	expect_rc "$1" 0 || return
	n=$(sed -n 's/^forked=\([0-9]*\).*/\1/p' "$OUT")
	holds "$n >= 16 && $n < 32" || { fail "$1" "forked '$n' under pids.limit 32: $(cat "$OUT")"; return; }
	oci_clean "$1" && ok "$1"
}

t_oci_cpu_quota() {
	oci_bundle "$WORK/ob-cpu" '{"cpu": {"quota": 50000, "period": 100000}}' "" sbx-hog spin 3
	oci_run "$WORK/ob-cpu" cpu1
	expect_rc "$1" 0 || return
	ratio=$(sed -n 's/^cpu_ratio=//p' "$OUT")
	holds "$ratio < 0.75" || { fail "$1" "the busy loop got '$ratio' of a CPU under quota 50000/100000"; return; }
	oci_clean "$1" && ok "$1"
}

# The cgroup at linux.cgroupsPath, with the limits written, while the
# container lives; gone after delete.
t_oci_cgroup_path() {
	oci_bundle "$WORK/ob-path" '{"memory": {"limit": 67108864}, "pids": {"limit": 40}}' "/sbxvm/oci1" sleep 30
	timeout 60 "$SBX" --root "$WORK/oci-state" create --bundle "$WORK/ob-path" path1 >"$OUT" 2>"$ERR" </dev/null ||
		{ fail "$1" "create failed"; return; }
	mem=$(cat "$CG/sbxvm/oci1/memory.max" 2>&1) pids=$(cat "$CG/sbxvm/oci1/pids.max" 2>&1)
	procs=$(wc -l < "$CG/sbxvm/oci1/cgroup.procs" 2>/dev/null)
	"$SBX" --root "$WORK/oci-state" delete --force path1 2>>"$ERR"
	[ "$mem" = 67108864 ] && [ "$pids" = 40 ] || { fail "$1" "memory.max '$mem', pids.max '$pids'"; return; }
	[ "$procs" = 1 ] || { fail "$1" "cgroup.procs has '$procs' processes, want the container's 1"; return; }
	[ ! -e "$CG/sbxvm/oci1" ] || { fail "$1" "the cgroup outlived delete"; return; }
	rmdir "$CG/sbxvm" 2>/dev/null
	oci_clean "$1" && ok "$1"
}

# What podman 4.3 writes for `--memory 64m --pids-limit 50` (its spec,
# recorded in tests/engines/fixtures/podman-root-options.config.json:
# swap is twice the memory, a deny-all device rule, a libpod_parent
# cgroup), held by a real cgroup v2: the files, the OOM kill, removal.
PODMAN_RES='{"devices": [{"allow": false, "access": "rwm"}], "memory": {"limit": 67108864, "swap": 134217728}, "pids": {"limit": 50}}'
t_oci_podman_limits() {
	oci_bundle "$WORK/ob-podman" "$PODMAN_RES" "/libpod_parent/libpod-vmtest" sleep 30
	timeout 60 "$SBX" --root "$WORK/oci-state" create --bundle "$WORK/ob-podman" podman1 >"$OUT" 2>"$ERR" </dev/null ||
		{ fail "$1" "create failed"; return; }
	d=$CG/libpod_parent/libpod-vmtest
	got="$(cat "$d/memory.max" "$d/memory.swap.max" "$d/pids.max" 2>&1 | tr '\n' ' ')"
	"$SBX" --root "$WORK/oci-state" delete --force podman1 2>>"$ERR"
	[ "$got" = "67108864 67108864 50 " ] || { fail "$1" "memory.max, memory.swap.max, pids.max: '$got'"; return; }
	[ ! -e "$d" ] || { fail "$1" "the cgroup outlived delete"; return; }
	oci_bundle "$WORK/ob-podman-oom" "$PODMAN_RES" "/libpod_parent/libpod-vmtest2" sbx-hog mem 256
	oci_run "$WORK/ob-podman-oom" podman2
	expect_rc "$1" 137 || return
	rmdir "$CG/libpod_parent" 2>/dev/null
	oci_clean "$1" && ok "$1"
}

# A limit a v2 host can hold is never only a warning.
t_oci_no_unenforced_warning() {
	oci_bundle "$WORK/ob-warn" '{"memory": {"limit": 67108864}, "pids": {"limit": 40}}' "" true
	oci_run "$WORK/ob-warn" warn1
	expect_rc "$1" 0 || return
	! grep -q 'not enforced' "$ERR" || { fail "$1" "a warning on a cgroup v2 host: $(cat "$ERR")"; return; }
	oci_clean "$1" && ok "$1"
}
OCI_TESTS="t_oci_memory_oom t_oci_memory_within t_oci_pids_fork_bomb t_oci_cpu_quota t_oci_cgroup_path
	t_oci_podman_limits t_oci_no_unenforced_warning"

RUNSC_TESTS="t_runsc_runs t_runsc_tree_in_cgroup t_runsc_memory_oom t_runsc_memory_within t_runsc_pids_fork_bomb
	t_runsc_pids_not_hit t_runsc_cpus_throttle t_runsc_cpus_unlimited t_runsc_timeout_cleans_up t_runsc_sigkill_cleans_up"
run_runsc_tests() { # tests...
	for t in "$@"; do
		selected "$MODE" "${t#t_}" || continue
		if [ -n "$RUNSC_MISSING" ]; then skip "${t#t_}" "$RUNSC_MISSING"; else $t "${t#t_}"; fi
	done
}

say "mode $MODE: uid $(id -u), cgroup $(cat /proc/self/cgroup)"
if [ "$MODE" = nodeleg ]; then
	cg_dirs > "$WORK/cg.base"
	for t in t_sbx_runs t_nodeleg_no_limits_runs t_nodeleg_require_fails t_nodeleg_rlimit_fallback; do
		! selected "$MODE" "${t#t_}" || $t "${t#t_}"
	done
	rm -rf "$WORK"
	[ "$FAILS" = 0 ]
	exit
fi
for t in t_sbx_runs t_sbx_output t_exit_status; do
	! selected "$MODE" "${t#t_}" || $t "${t#t_}"
done

# The baseline of cgroup directories, after a first limited run has made
# whatever parent sbx keeps.
sbx_run --memory 64m --pids 64 -- true
cg_dirs > "$WORK/cg.base"
for t in t_cgroup_files t_default_limits t_no_limits_no_cgroup t_require_limits_met t_cgroup_namespace t_pids_fork_bomb t_pids_not_hit t_memory_oom t_memory_within \
	t_cpus_throttle t_cpus_unlimited t_timeout_cleans_up t_sigkill_cleans_up \
	t_concurrent_sandbox_untouched t_gc_removes_leftover; do
	! selected "$MODE" "${t#t_}" || $t "${t#t_}"
done
# The OCI runtime makes cgroups as root only (rootless engines run it in a
# user namespace of their own, which the VM's users do not have).
if [ "$MODE" = root ]; then
	for t in $OCI_TESTS; do
		! selected "$MODE" "${t#t_}" || $t "${t#t_}"
	done
fi
runsc_t0=$(uptime_s)
if [ "$MODE" = nosub ]; then
	run_runsc_tests t_runsc_needs_range
else
	# shellcheck disable=SC2086
	run_runsc_tests $RUNSC_TESTS
fi
say "info $MODE runsc tests: $(awk -v a="$runsc_t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')s"
rm -rf "$WORK"
[ "$FAILS" = 0 ]
