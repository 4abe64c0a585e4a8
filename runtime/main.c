/* sbx: the command line.  main() is the only place that prints an error
 * and chooses the exit status. */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "options.h"
#include "sandbox.h"

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
	"  version   print the version\n"
	"  help      show this help\n"
	"\n"
	"See sbx(1) for what each isolation layer does and does not protect against.\n";

static const char usage_run[] =
	"Usage: sbx run [OPTIONS] [--] COMMAND [ARG...]\n"
	"\n"
	"Options:\n"
	"      --rootfs DIR          root file system (an unpacked image), mounted read-only\n"
	"  -w, --workspace DIR       bind DIR read-write at /workspace and start there\n"
	"  -e, --env KEY=VALUE       set a variable (repeatable); the environment is\n"
	"                            otherwise only PATH, HOME=/tmp, LANG and TERM\n"
	"      --ro-bind SRC:DST     bind host SRC read-only at DST\n"
	"      --bind SRC:DST        bind host SRC read-write at DST\n"
	"      --tmpfs DST[:SIZE]    a tmpfs at DST (default size 256m); /tmp and\n"
	"                            /dev/shm always have one: this sets their size\n"
	"      --user UID[:GID]      user inside (default 1000:1000; GID defaults to UID)\n"
	"      --network none|host   none (default): own namespace with only lo\n"
	"      --hostname NAME       hostname inside (default sandbox)\n"
	"  -v, --verbose             say what is set up, step by step, on stderr\n"
	"  -h, --help                show this help\n"
	"\n"
	"Exit status: the command's own; 128+N when it was killed by signal N;\n"
	"125 when sbx failed; 126 when the command cannot be executed; 127 when it\n"
	"is not found in the sandbox.\n";

static int fail(const struct sbx_error *err)
{
	fprintf(stderr, "sbx: %s\n", err->msg);
	return err->status ? err->status : SBX_EXIT_FAILURE;
}

static int cmd_run(int argc, char *argv[])
{
	struct sbx_run_options opts;
	struct sbx_error err = { 0 };
	int status = 0;
	int r = sbx_parse_run_options(argc, argv, &opts, &err);

	if (r == 1) {
		fputs(usage_run, stdout);
		sbx_run_options_free(&opts);
		return 0;
	}
	if (r < 0) {
		sbx_run_options_free(&opts);
		return fail(&err);
	}
	r = sbx_sandbox_run(&opts, &status, &err);
	sbx_run_options_free(&opts);
	return r < 0 ? fail(&err) : status;
}

int main(int argc, char *argv[])
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		fputs(usage_main, stderr);
		return SBX_EXIT_FAILURE;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("sbx %s\n", SBX_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	fprintf(stderr, "sbx: unknown command '%s' (see sbx --help)\n", cmd);
	return SBX_EXIT_FAILURE;
}
