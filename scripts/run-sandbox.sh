#!/usr/bin/env bash
# run-sandbox.sh WORKSPACE COMMAND... -- the Docker + gVisor wrapper of the
# seed documents, on top of `sbx run`, for users coming from that set-up.
#
# WORKSPACE is mounted read-write at /workspace; the image is read-only;
# there is no network.  The image is built (rootfs/build) when missing, as
# the Docker version built its image.  Settings, from the environment:
#
#   SANDBOX_IMAGE    image (default sbx-default)
#   SANDBOX_MEMORY   memory limit (default 2g)
#   SANDBOX_CPUS     CPU limit (default 2)
#   SANDBOX_PIDS     process limit (default 256)
#   SANDBOX_RUNTIME  auto (default: runsc when sbx can hand off to it), runsc or sbx
#   SANDBOX_TIMEOUT  seconds before the sandbox is stopped (default: none)
#   SANDBOX_NETWORK  none (default) or host
#   SBX              the sbx binary (default: this checkout's ./sbx, else sbx)
#
# This sbx cannot enforce every setting yet: a setting sbx has no option for
# is passed on when sbx learns it, and until then is reported, once, on
# stderr when you set it yourself.  Asking for runsc when sbx cannot hand
# off to it is an error.  Exit status: the command's; 125 when the wrapper
# or sbx failed.
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
[ $# -ge 2 ] || { usage >&2; die "expected WORKSPACE and a COMMAND"; }
workspace=$1
shift
[ -d "$workspace" ] || die "workspace $workspace is not a directory"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${SBX:-}" ]; then
	sbx=$SBX
elif [ -x "$here/sbx" ]; then
	sbx=$here/sbx
else
	sbx=$(command -v sbx) || die "sbx not found (build it with make, or set SBX)"
fi

image=${SANDBOX_IMAGE:-sbx-default}
network=${SANDBOX_NETWORK:-none}
runtime=${SANDBOX_RUNTIME:-auto}
case $runtime in auto | runsc | sbx) ;; *) die "SANDBOX_RUNTIME=$runtime: expected auto, runsc or sbx" ;; esac

help=$("$sbx" run --help)
has_option() { grep -q -- "$1" <<<"$help"; }

args=(--image "$image" -w "$workspace" --network "$network")
[ -z "${SANDBOX_TIMEOUT:-}" ] || args+=(--timeout "$SANDBOX_TIMEOUT")

# name variable default sbx-option
for spec in "memory SANDBOX_MEMORY 2g --memory" "cpus SANDBOX_CPUS 2 --cpus" "pids SANDBOX_PIDS 256 --pids-limit"; do
	read -r what var default option <<<"$spec"
	value=${!var:-$default}
	if has_option "$option "; then
		args+=("$option" "$value")
	elif [ -n "${!var:-}" ]; then
		warn "$var=$value is not enforced: this sbx has no $what limit yet ($option)"
	fi
done

if has_option "--runtime "; then
	[ "$runtime" = auto ] || args+=(--runtime "$runtime")
elif [ "$runtime" = runsc ]; then
	die "SANDBOX_RUNTIME=runsc: this sbx cannot hand off to gVisor yet (use auto or sbx)"
fi

if ! "$sbx" image inspect "$image" >/dev/null 2>&1; then
	[ "$image" = sbx-default ] || die "image $image is not in the store (sbx image import it first)"
	printf '%s: building the default image (once)...\n' "$prog" >&2
	SBX=$sbx "$here/rootfs/build" >/dev/null || die "building the default image failed"
fi

exec "$sbx" run "${args[@]}" -- "$@"
