/* sbx: the command line.  main() is the only place that prints an error
 * and chooses the exit status. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "error.h"
#include "image_run.h"
#include "options.h"
#include "result.h"
#include "sandbox.h"
#include "cgroup.h"
#include "check.h"
#include "cli.h"
#include "oci_runtime.h"
#include "util.h"

#ifndef SBX_VERSION
#define SBX_VERSION "0.0.0-dev"
#endif

static const char usage_main[] =
	"Usage: sbx COMMAND [OPTIONS]\n"
	"\n"
	"Run untrusted code in a sandbox: a read-only image, a writable /workspace,\n"
	"no network, no host processes, an unprivileged user.\n"
	"\n"
	"Commands:\n"
	"  run       run a command in a new sandbox (sbx run --help)\n"
	"  image     import, list, inspect and remove images (sbx image --help)\n"
	"  check     what this host lets sbx enforce, with remedies (sbx check --help)\n"
	"  gc [-v]   remove the cgroups of sbx runs killed with SIGKILL (the next run\n"
	"            does it too)\n"
	"  version   print the version\n"
	"  create, start, state, kill, delete, exec, ps, list, features, spec, and run\n"
	"            with --bundle: sbx as an OCI runtime, runc's command line\n"
	"            (sbx help-oci)\n"
	"  help      show this help\n"
	"\n"
	"See sbx(1) for what each isolation layer does and does not protect against.\n";

static const char usage_run[] =
	"Usage: sbx run [OPTIONS] [--] [COMMAND [ARG...]]\n"
	"\n"
	"Options:\n"
	"      --image NAME[:TAG]    run from a stored image (default: sbx-default, which\n"
	"                            rootfs/build makes); its Env, Entrypoint/Cmd (when no\n"
	"                            COMMAND), WorkingDir (without -w) and User (without\n"
	"                            --user) apply\n"
	"      --store DIR           the image store (see sbx image --help)\n"
	"      --rootfs DIR          run from a directory instead, mounted read-only\n"
	"                            (mount points it lacks are made on an overlay)\n"
	"  -w, --workspace DIR       bind DIR read-write at /workspace and start there\n"
	"  -e, --env KEY=VALUE       set a variable (repeatable); the environment is\n"
	"                            otherwise only PATH, HOME=/tmp, LANG and TERM\n"
	"      --ro-bind SRC:DST     bind host SRC read-only at DST\n"
	"      --bind SRC:DST        bind host SRC read-write at DST\n"
	"      --tmpfs DST[:SIZE]    a tmpfs at DST (default size 256m); /tmp and\n"
	"                            /dev/shm always have one: this sets their size\n"
	"      --writable-root[=SIZE] an overlay over the image whose writes go to a\n"
	"                            tmpfs of SIZE (default the /tmp size) and vanish\n"
	"                            at exit; the image never changes\n"
	"      --user UID[:GID]      user inside (default 1000:1000; GID defaults to UID)\n"
	"      --network none|host   none (default): own namespace with only lo\n"
	"      --hostname NAME       hostname inside (default sandbox)\n"
	"  -v, --verbose             say what is set up, step by step, on stderr\n"
	"      --timeout SECONDS     at the deadline SIGTERM the whole sandbox, SIGKILL\n"
	"                            after --kill-grace SECONDS (default 2); exit 124\n"
	"      --output-limit SIZE   relay stdout and stderr through sbx keeping at most\n"
	"                            SIZE of each (head and tail), e.g. 1m\n"
	"      --json FILE           write the result as one JSON object to FILE\n"
	"      --json-fd N           ... or to the open file descriptor N\n"
	"  -t, --tty                 give the command a terminal of its own (the default\n"
	"                            when stdin is a terminal)\n"
	"      --no-tty              never: the command runs without a controlling terminal\n"
	"      --seccomp NAME|PATH   the seccomp profile (default: default); unconfined\n"
	"                            for none (with a warning)\n"
	"      --seccomp-log         have the kernel log the calls the filter denies\n"
	"      --require landlock    fail (125) when the kernel offers no Landlock\n"
	"  -m, --memory SIZE         memory of the whole sandbox, no swap (default 2g;\n"
	"                            0: none); where no cgroup v2 can, per process\n"
	"                            by RLIMIT_DATA\n"
	"      --cpus N              CPU time as a rate, e.g. 0.5 (default: none);\n"
	"                            cgroup v2 only\n"
	"      --pids N              processes and threads (default 256; 0: none;\n"
	"                            also --pids-limit); without cgroup v2 by\n"
	"                            RLIMIT_NPROC where the sandbox's uid is its own\n"
	"      --require-limits      fail (125) when a limit in force cannot be held\n"
	"                            by cgroup v2 here\n"
	"      --runtime auto|native|runsc\n"
	"                            the backend: gVisor's runsc when installed and\n"
	"                            usable by you (auto, the default), sbx's own\n"
	"                            sandbox (native), or runsc or fail (125);\n"
	"                            $SBX_RUNTIME sets the default\n"
	"  -h, --help                show this help\n"
	"\n"
	"Exit status: the command's own; 128+N when it was killed by signal N; 124 on\n"
	"timeout;\n"
	"125 when sbx failed; 126 when the command cannot be executed; 127 when it\n"
	"is not found in the sandbox.\n";

int sbx_cli_fail(const struct sbx_error *err)
{
	char msg[SBX_ERROR_MSG_MAX * 4];

	/* Messages carry image and caller text: never raw to a terminal. */
	sbx_escape_controls(err->msg, msg, sizeof(msg));
	fprintf(stderr, "sbx: %s\n", msg);
	return err->status ? err->status : SBX_EXIT_FAILURE;
}

#define fail sbx_cli_fail

static int open_json(const struct sbx_run_options *opts, struct sbx_error *err)
{
	if (opts->json_fd >= 0)
		return sbx_result_json_fd(opts->json_fd, err);
	if (opts->json_path == NULL)
		return -1;
	return sbx_result_open_json_file(opts->json_path, err);
}

/* On stderr, which may be as stalled as the output was: a bounded write,
 * lost rather than waited for (the JSON result has the count too). */
static void say_output_dropped(const struct sbx_result *res)
{
	char msg[256];
	int n;

	if (!res->output_given_up || res->output_dropped_bytes == 0)
		return;
	n = snprintf(msg, sizeof(msg), "sbx: %llu bytes of the command's output were dropped: "
		     "the reader had not taken them when the run ended\n",
		     (unsigned long long)res->output_dropped_bytes);
	(void)!sbx_write_bounded(STDERR_FILENO, msg, (size_t)n);
}

static int cmd_run(int argc, char *argv[])
{
	struct sbx_run_options opts;
	struct sbx_error err = { 0 };
	struct sbx_result res;
	struct sbx_image_run image = { .store = { .dirfd = -1, .lockfd = -1 }, .tree = -1 };
	int json = -1, status;
	int r = sbx_parse_run_options(argc, argv, &opts, &err);

	if (r == 1) {
		fputs(usage_run, stdout);
		sbx_run_options_free(&opts);
		return 0;
	}
	if (r == 0)
		r = sbx_image_run_prepare(&opts, &image, &err);
	if (r == 0 && (opts.json_fd >= 0 || opts.json_path != NULL)) {
		json = open_json(&opts, &err);
		r = json < 0 ? -1 : 0;
	}
	if (r < 0) {
		sbx_image_run_release(&image);
		sbx_run_options_free(&opts);
		return fail(&err);
	}
	if (image.root_user_declined)
		fprintf(stderr, "sbx: notice: the image's User is root; running as %u:%u (give --user 0 to run "
				"as root inside)\n", opts.uid, opts.gid);
	if (strcmp(opts.seccomp, "unconfined") == 0)
		fprintf(stderr, "sbx: warning: --seccomp unconfined: the command runs without a system call filter\n");
	status = sbx_sandbox_run(&opts, &res);
	if (res.failed)
		fail(&res.error);
	say_output_dropped(&res);
	if (json >= 0 && sbx_result_write_json(json, &res, &opts, &err) < 0) {
		fail(&err);
		if (status == 0)
			status = SBX_EXIT_FAILURE;
	}
	if (json >= 0)
		close(json);
	sbx_image_run_release(&image);
	sbx_run_options_free(&opts);
	return status;
}

static int cmd_gc(int argc, char *argv[])
{
	struct sbx_error err = { 0 };
	bool verbose = argc == 1 && (strcmp(argv[0], "-v") == 0 || strcmp(argv[0], "--verbose") == 0);
	size_t removed;

	if (argc > 0 && !verbose) {
		sbx_fail(&err, 0, "gc: unexpected argument '%.64s' (usage: sbx gc [-v])", argv[0]);
		return sbx_cli_fail(&err);
	}
	if (sbx_cgroup_gc(verbose, &removed, &err) < 0)
		return sbx_cli_fail(&err);
	printf("removed %zu cgroup%s left by killed sbx runs\n", removed, removed == 1 ? "" : "s");
	return fflush(stdout) == 0 ? 0 : SBX_EXIT_FAILURE;
}

int main(int argc, char *argv[])
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	struct sbx_error err = { 0 };

	if (cmd == NULL) {
		fputs(usage_main, stderr);
		return SBX_EXIT_FAILURE;
	}
	if (sbx_oci_cli_wants(argc - 1, argv + 1))
		return sbx_oci_cli(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (strcmp(cmd, "image") == 0)
		return sbx_cli_image(argc - 2, argv + 2);
	if (strcmp(cmd, "check") == 0) {
		int r = sbx_check_main(argc - 2, argv + 2, &err);

		return r < 0 ? sbx_cli_fail(&err) : r;
	}
	if (strcmp(cmd, "gc") == 0)
		return cmd_gc(argc - 2, argv + 2);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("sbx %s\n", SBX_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	sbx_fail(&err, 0, "unknown command '%.64s' (see sbx --help)", cmd);
	return sbx_cli_fail(&err);
}
