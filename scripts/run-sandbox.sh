#!/usr/bin/env bash
# Usage: run-sandbox.sh WORKSPACE COMMAND [ARG...]
#
# The Docker + gVisor wrapper of the seed documents, on top of `sbx run`,
# for users coming from that set-up: runs COMMAND in a sandbox made from
# the image, with WORKSPACE (a directory) read-write at /workspace, where the
# command starts, everything else read-only and no network.  It runs
#
#     sbx run --image IMAGE -w WORKSPACE --network NET [--timeout S] [--memory M]
#             [--cpus C] [--pids-limit P] [--runtime R] -- COMMAND...
#
# and builds the default image (rootfs/build) the first time, as the Docker
# version built its image.  Settings, from the environment:
#
#   SANDBOX_IMAGE    the image (default sbx-default)
#   SANDBOX_MEMORY   memory limit, e.g. 1g; 0 for none (default: sbx's, 2g)
#   SANDBOX_CPUS     CPU limit, e.g. 0.5 (default: sbx's, none)
#   SANDBOX_PIDS     process limit; 0 for none (default: sbx's, 256)
#   SANDBOX_RUNTIME  the Docker runtime of the seed, mapped onto sbx run --runtime:
#                    runsc    gVisor: --runtime runsc (sbx fails, 125, saying why
#                             when this caller cannot run runsc)
#                    runc     sbx's own sandbox, which stands in for runc:
#                             --runtime native (also: native, sbx)
#                    auto     (default) the seed's "gVisor with fallback to runc":
#                             sbx picks runsc when it is installed and usable by
#                             this caller, else its own sandbox
#   SANDBOX_TIMEOUT  seconds before the sandbox is stopped (exit 124; default none)
#   SANDBOX_NETWORK  none (default) or host
#   SBX              the sbx binary (default: this checkout's ./sbx, else sbx on PATH)
#   SBX_STORE        sbx's image store (see sbx image --help)
#
# A limit you set is passed on to sbx, which holds it with a cgroup v2 where
# the host allows, else says once on stderr how much less it holds (see
# LIMITS in sbx(1)); a limit you do not set is left to sbx's defaults, of
# which sbx speaks only with -v.  An older sbx whose `sbx run --help` lists
# no such option cannot enforce it: the wrapper says so on stderr (one line
# per setting you made).  SANDBOX_RUNTIME=runsc without a hand-off (no
# --runtime in the help) is an error; runc then means sbx's only sandbox.
#
# Exit status: the command's; 124 when SANDBOX_TIMEOUT ended it; 125 when
# the wrapper or sbx failed; 126/127 when the command cannot be run or is
# not found in the image.
set -euo pipefail

prog=run-sandbox.sh
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 125; }
warn() { printf '%s: warning: %s\n' "$prog" "$*" >&2; }

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
esac
if [ $# -lt 2 ]; then
	usage >&2
	die "expected a WORKSPACE directory and a COMMAND"
fi
workspace=$1
shift
[ -n "$workspace" ] || die "the WORKSPACE argument is empty"
[ -e "$workspace" ] || die "workspace $workspace does not exist (create it, or give the project's directory)"
[ -d "$workspace" ] || die "workspace $workspace is not a directory"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${SBX:-}" ]; then
	sbx=$SBX
elif [ -x "$here/sbx" ]; then
	sbx=$here/sbx
else
	sbx=$(command -v sbx) || die "sbx not found (build it with make, or set SBX)"
fi
[ -x "$sbx" ] || sbx=$(command -v -- "$sbx") || die "sbx binary $sbx not found or not executable (set SBX)"

image=${SANDBOX_IMAGE:-sbx-default}
network=${SANDBOX_NETWORK:-none}
# SANDBOX_RUNTIME to sbx's --runtime (empty: sbx's default, auto).
case ${SANDBOX_RUNTIME:-auto} in
auto) runtime= ;;
runsc) runtime=runsc ;;
runc | native | sbx) runtime=native ;;
*) die "SANDBOX_RUNTIME=$SANDBOX_RUNTIME: expected runsc (gVisor), runc (sbx's own sandbox) or auto" ;;
esac
case $network in
none | host) ;;
*) die "SANDBOX_NETWORK=$network: expected none or host" ;;
esac

help=$("$sbx" run --help 2>&1) || die "$sbx run --help failed: is $sbx an sbx binary? (set SBX)"
# Does `sbx run --help` list OPTION (as a whole word: --memory, not --memory-swap)?
has_option() { grep -Eq -- "(^|[^[:alnum:]-])$1([^[:alnum:]-]|\$)" <<<"$help"; }

args=(--image "$image" -w "$workspace" --network "$network")
[ -z "${SANDBOX_TIMEOUT:-}" ] || args+=(--timeout "$SANDBOX_TIMEOUT")

# variable, sbx option, what it limits: only what was set, so that sbx
# speaks of the limits the user asked for and keeps its defaults for the rest.
for spec in "SANDBOX_MEMORY --memory memory" "SANDBOX_CPUS --cpus CPU" \
	"SANDBOX_PIDS --pids-limit process"; do
	read -r var option what <<<"$spec"
	value=${!var:-}
	[ -n "$value" ] || continue
	if has_option "$option"; then
		args+=("$option" "$value")
	else
		warn "$var=$value is not enforced: this sbx has no $what limits yet"
	fi
done

# auto is left to sbx, which knows whether this caller can run runsc.
if has_option --runtime; then
	[ -z "$runtime" ] || args+=(--runtime "$runtime")
elif [ "$runtime" = runsc ]; then
	die "SANDBOX_RUNTIME=runsc: this sbx cannot hand off to gVisor (runsc) yet; use SANDBOX_RUNTIME=auto or runc"
fi

# The image: build the default one when it is missing (sbx exits 66 then).
status=0
err=$("$sbx" image inspect "$image" 2>&1 >/dev/null) || status=$?
if [ "$status" -eq 66 ]; then
	[ "$image" = sbx-default ] || [ "$image" = sbx-default:latest ] ||
		die "image $image is not in the store: import it first (sbx image import PATH --name $image)"
	printf '%s: the image sbx-default is missing: building it with rootfs/build (once)...\n' "$prog" >&2
	[ -x "$here/rootfs/build" ] || die "rootfs/build not found next to this script: build the image yourself"
	SBX=$sbx "$here/rootfs/build" >/dev/null || die "building the default image failed (see above)"
elif [ "$status" -ne 0 ]; then
	die "cannot look up image $image: ${err#sbx: }"
fi

exec "$sbx" run "${args[@]}" -- "$@"
