/* sbx as an OCI runtime: runc's command line, as podman (through conmon),
 * containerd's runc shim and `ctr --runc-binary` call it.
 *
 * The engines build the command line for runc, whose parser (Go's flag
 * package under urfave/cli) takes --opt and -opt alike, with the value
 * after '=' or in the next argument; so does this one.  An option it does
 * not know is an error that names it: an engine that asks for something
 * sbx would silently not do gets told.
 *
 * Errors follow runc's convention, since the engines read them there: one
 * line on stderr, the same appended to --log (JSON lines with
 * --log-format json), exit status 1.  This file and main are the only
 * places that print. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/capability.h>
#include <seccomp.h>

#include <libmount.h>

#include "mountinfo.h"
#include "json.h"
#include "oci_runtime.h"
#include "oci_runsc.h"
#include "util.h"

#ifndef SBX_VERSION
#define SBX_VERSION "0.0.0-dev"
#endif

#define OCI_SPEC_VERSION "1.0.2"
#define OCI_SPEC_VERSION_MIN "1.0.0"
#define OCI_SPEC_VERSION_MAX "1.2.0"
#define OCI_EXIT_FAILURE 1
#define KILL_WAIT_MS 10000

/* ---- logging ---- */

static int log_fd = -1;
static bool log_json;
static bool log_debug;

static void log_line(const char *level, const char *msg)
{
	char when[64];

	if (log_fd < 0)
		return;
	sbx_oci_now(when, sizeof(when));
	if (log_json) {
		yajl_gen g = yajl_gen_alloc(NULL);
		cleanup_free char *text = NULL;
		struct sbx_error ignored;

		if (g == NULL)
			return;
		yajl_gen_map_open(g);
		sbx_json_gen_str(g, "level", level);
		sbx_json_gen_str(g, "msg", msg);
		sbx_json_gen_str(g, "time", when);
		yajl_gen_map_close(g);
		if (sbx_json_gen_text(g, &text, &ignored) == 0)
			(void)!sbx_write_all(log_fd, text, strlen(text));
		yajl_gen_free(g);
	} else {
		char esc[SBX_ERROR_MSG_MAX * 4], line[sizeof(esc) + 128];
		size_t j = 0;

		for (size_t i = 0; msg[i] != '\0' && j + 3 < sizeof(esc); i++) {
			if (msg[i] == '"' || msg[i] == '\\')
				esc[j++] = '\\';
			esc[j++] = msg[i] == '\n' ? ' ' : msg[i];
		}
		esc[j] = '\0';
		snprintf(line, sizeof(line), "time=\"%s\" level=%s msg=\"%s\"\n", when, level, esc);
		(void)!sbx_write_all(log_fd, line, strlen(line));
	}
}

static void say(const char *level, const char *msg)
{
	char esc[SBX_ERROR_MSG_MAX * 4];

	/* messages carry the bundle's and caller's text: never raw to a terminal */
	sbx_escape_controls(msg, esc, sizeof(esc));
	fprintf(stderr, "sbx: %s%s%s\n", strcmp(level, "error") == 0 ? "" : level,
		strcmp(level, "error") == 0 ? "" : ": ", esc);
	log_line(level, msg);
}

static int oci_fail(const struct sbx_error *err)
{
	say("error", err->msg);
	return OCI_EXIT_FAILURE;
}

static void oci_warn(const struct sbx_error *err)
{
	say("warning", err->msg);
}

/* create's warnings: what it could not enforce and did not have to refuse. */
static void create_warning(void *ctx, const char *msg)
{
	(void)ctx;
	say("warning", msg);
}

static void oci_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void oci_debug(const char *fmt, ...)
{
	char msg[SBX_ERROR_MSG_MAX];
	va_list ap;

	if (!log_debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line("debug", msg);
}

/* ---- options ---- */

enum opt_kind { OPT_BOOL, OPT_VALUE };

struct opt {
	const char *name;  /* long name */
	const char *alias; /* one-letter alias or NULL */
	enum opt_kind kind;
	int id;
};

/* One option found: its table entry and value (NULL for a bool). */
struct opt_hit {
	const struct opt *opt;
	const char *value;
};

/* runc's spellings: --name, -name, --name=V, -name=V, --name V.  A bool
 * takes =true/=false.  Parsing stops at the first argument that is not an
 * option, or after "--".  Returns the index of that argument. */
static int next_opt(const struct opt *table, int argc, char *argv[], int *i, struct opt_hit *hit,
		    const char *cmd, struct sbx_error *err)
{
	const char *arg, *name, *eq;
	size_t len;

	if (*i >= argc)
		return 0;
	arg = argv[*i];
	if (strcmp(arg, "--") == 0) {
		(*i)++;
		return 0;
	}
	if (arg[0] != '-' || arg[1] == '\0')
		return 0;
	name = arg + (arg[1] == '-' ? 2 : 1);
	eq = strchr(name, '=');
	len = eq != NULL ? (size_t)(eq - name) : strlen(name);
	for (const struct opt *o = table; o->name != NULL; o++) {
		if (!((strlen(o->name) == len && strncmp(o->name, name, len) == 0) ||
		      (o->alias != NULL && strlen(o->alias) == len && strncmp(o->alias, name, len) == 0)))
			continue;
		hit->opt = o;
		hit->value = NULL;
		(*i)++;
		if (o->kind == OPT_BOOL) {
			if (eq != NULL && strcmp(eq + 1, "true") != 0 && strcmp(eq + 1, "false") != 0)
				return sbx_fail(err, 0, "%s: invalid boolean value \"%s\" for -%s", cmd, eq + 1, o->name);
			hit->value = eq != NULL && strcmp(eq + 1, "false") == 0 ? NULL : "true";
			return 1;
		}
		if (eq != NULL) {
			hit->value = eq + 1;
		} else if (*i < argc) {
			hit->value = argv[(*i)++];
		} else {
			return sbx_fail(err, 0, "%s: flag needs an argument: -%s", cmd, o->name);
		}
		return 1;
	}
	len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	if (strcmp(cmd, "sbx") == 0)
		return sbx_fail(err, 0, "unknown global option '%.*s' (see sbx help-oci)", (int)len, arg);
	return sbx_fail(err, 0, "%s: unknown option '%.*s' (see sbx %s --help)", cmd, (int)len, arg, cmd);
}

enum {
	G_ROOT = 1, G_LOG, G_LOG_FORMAT, G_DEBUG, G_SYSTEMD_CGROUP, G_ROOTLESS, G_HELP, G_VERSION,
	O_HELP, O_BUNDLE, O_PID_FILE, O_CONSOLE_SOCKET, O_PRESERVE_FDS, O_NO_PIVOT, O_NO_NEW_KEYRING, O_DETACH,
	O_KEEP, O_NO_SUBREAPER, O_ALL, O_FORCE, O_FORMAT, O_QUIET, O_ROOTLESS, O_CWD, O_ENV, O_TTY, O_USER,
	O_ADDITIONAL_GIDS, O_PROCESS, O_PROCESS_LABEL, O_APPARMOR, O_NO_NEW_PRIVS, O_CAP, O_CGROUP,
	O_IGNORE_PAUSED,
};

#define HELP_OPT { "help", "h", OPT_BOOL, O_HELP }

static const struct opt global_opts[] = {
	{ "root", NULL, OPT_VALUE, G_ROOT },
	{ "log", NULL, OPT_VALUE, G_LOG },
	{ "log-format", NULL, OPT_VALUE, G_LOG_FORMAT },
	{ "debug", NULL, OPT_BOOL, G_DEBUG },
	{ "systemd-cgroup", NULL, OPT_BOOL, G_SYSTEMD_CGROUP },
	{ "rootless", NULL, OPT_VALUE, G_ROOTLESS },
	{ "help", "h", OPT_BOOL, G_HELP },
	{ "version", "v", OPT_BOOL, G_VERSION },
	{ NULL, NULL, 0, 0 },
};

static const struct opt create_opts[] = {
	{ "bundle", "b", OPT_VALUE, O_BUNDLE },
	{ "pid-file", NULL, OPT_VALUE, O_PID_FILE },
	{ "console-socket", NULL, OPT_VALUE, O_CONSOLE_SOCKET },
	{ "preserve-fds", NULL, OPT_VALUE, O_PRESERVE_FDS },
	{ "no-pivot", NULL, OPT_BOOL, O_NO_PIVOT },
	{ "no-new-keyring", NULL, OPT_BOOL, O_NO_NEW_KEYRING },
	/* containerd's go-runc may add it; create always detaches */
	{ "detach", "d", OPT_BOOL, O_DETACH },
	HELP_OPT,
	{ NULL, NULL, 0, 0 },
};

static const struct opt run_opts[] = {
	{ "bundle", "b", OPT_VALUE, O_BUNDLE },
	{ "pid-file", NULL, OPT_VALUE, O_PID_FILE },
	{ "console-socket", NULL, OPT_VALUE, O_CONSOLE_SOCKET },
	{ "preserve-fds", NULL, OPT_VALUE, O_PRESERVE_FDS },
	{ "no-pivot", NULL, OPT_BOOL, O_NO_PIVOT },
	{ "no-new-keyring", NULL, OPT_BOOL, O_NO_NEW_KEYRING },
	{ "detach", "d", OPT_BOOL, O_DETACH },
	{ "keep", NULL, OPT_BOOL, O_KEEP },
	{ "no-subreaper", NULL, OPT_BOOL, O_NO_SUBREAPER },
	HELP_OPT,
	{ NULL, NULL, 0, 0 },
};

static const struct opt exec_opts[] = {
	{ "console-socket", NULL, OPT_VALUE, O_CONSOLE_SOCKET },
	{ "cwd", NULL, OPT_VALUE, O_CWD },
	{ "env", "e", OPT_VALUE, O_ENV },
	{ "tty", "t", OPT_BOOL, O_TTY },
	{ "user", "u", OPT_VALUE, O_USER },
	{ "additional-gids", "g", OPT_VALUE, O_ADDITIONAL_GIDS },
	{ "process", "p", OPT_VALUE, O_PROCESS },
	{ "detach", "d", OPT_BOOL, O_DETACH },
	{ "pid-file", NULL, OPT_VALUE, O_PID_FILE },
	{ "process-label", NULL, OPT_VALUE, O_PROCESS_LABEL },
	{ "apparmor", NULL, OPT_VALUE, O_APPARMOR },
	{ "no-new-privs", NULL, OPT_BOOL, O_NO_NEW_PRIVS },
	{ "cap", "c", OPT_VALUE, O_CAP },
	{ "preserve-fds", NULL, OPT_VALUE, O_PRESERVE_FDS },
	{ "cgroup", NULL, OPT_VALUE, O_CGROUP },
	{ "ignore-paused", NULL, OPT_BOOL, O_IGNORE_PAUSED },
	HELP_OPT,
	{ NULL, NULL, 0, 0 },
};

static const struct opt no_opts[] = { HELP_OPT, { NULL, NULL, 0, 0 } };
static const struct opt kill_opts[] = { { "all", "a", OPT_BOOL, O_ALL }, HELP_OPT, { NULL, NULL, 0, 0 } };
static const struct opt delete_opts[] = { { "force", "f", OPT_BOOL, O_FORCE }, HELP_OPT, { NULL, NULL, 0, 0 } };
static const struct opt ps_opts[] = { { "format", "f", OPT_VALUE, O_FORMAT }, HELP_OPT, { NULL, NULL, 0, 0 } };
static const struct opt list_opts[] = {
	{ "format", "f", OPT_VALUE, O_FORMAT },
	{ "quiet", "q", OPT_BOOL, O_QUIET },
	HELP_OPT,
	{ NULL, NULL, 0, 0 },
};
static const struct opt spec_opts[] = {
	{ "bundle", "b", OPT_VALUE, O_BUNDLE },
	{ "rootless", NULL, OPT_BOOL, O_ROOTLESS },
	HELP_OPT,
	{ NULL, NULL, 0, 0 },
};

struct command {
	const char *name;
	const struct opt *opts;
	const char *usage;
};

static const struct command commands[] = {
	{ "create", create_opts, "create [--bundle|-b DIR] [--pid-file FILE] [--console-socket SOCK] "
				 "[--preserve-fds N] [--no-new-keyring] ID" },
	{ "start", no_opts, "start ID" },
	{ "state", no_opts, "state ID" },
	{ "kill", kill_opts, "kill [--all|-a] ID [SIGNAL]   (SIGNAL: a name, TERM or SIGTERM, or a number; "
			     "default TERM)" },
	{ "delete", delete_opts, "delete [--force|-f] ID" },
	{ "run", run_opts, "run --bundle|-b DIR [--pid-file FILE] [--console-socket SOCK] [--detach|-d] "
			   "[--keep] [--no-subreaper] [--preserve-fds N] ID" },
	{ "exec", exec_opts, "exec [--process|-p FILE] [--tty|-t] [--detach|-d] [--pid-file FILE] "
			     "[--console-socket SOCK] [--cwd DIR] [--env|-e K=V]... [--user|-u UID[:GID]] "
			     "[--additional-gids|-g GID]... [--cap|-c CAP]... [--no-new-privs] [--preserve-fds N] "
			     "ID [COMMAND [ARG...]]" },
	{ "ps", ps_opts, "ps [--format|-f table|json] ID [PS-OPTIONS...]" },
	{ "list", list_opts, "list [--format|-f table|json] [--quiet|-q]" },
	{ "features", no_opts, "features" },
	{ "spec", spec_opts, "spec [--bundle|-b DIR] [--rootless]" },
};

static const char usage_oci[] =
	"Usage: sbx [GLOBAL OPTIONS] COMMAND [OPTIONS] ID\n"
	"\n"
	"sbx as an OCI runtime, with runc's command line (podman --runtime, containerd's\n"
	"runc shim with BinaryName, ctr --runc-binary).  See sbx(1), OCI RUNTIME.\n"
	"\n"
	"Global options:\n"
	"  --root DIR             container state (default /run/sbx as root,\n"
	"                         $XDG_RUNTIME_DIR/sbx otherwise)\n"
	"  --log FILE             errors and warnings also go there\n"
	"  --log-format text|json the format of --log (default text)\n"
	"  --debug                debug lines in the log too\n"
	"  --systemd-cgroup       cgroupsPath is slice:prefix:name\n"
	"  --rootless true|false|auto  accepted for runc's callers\n"
	"\n"
	"Commands: create start state kill delete run exec ps list features spec\n"
	"(sbx COMMAND --help for each).  `sbx run` without a global option and\n"
	"without --bundle is sbx's own run (sbx run --help).\n";

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < SBX_ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int print_usage(const struct command *c)
{
	printf("Usage: sbx [GLOBAL OPTIONS] %s\n", c->usage);
	return fflush(stdout) == 0 ? 0 : OCI_EXIT_FAILURE;
}

/* The positional arguments a command takes: exactly N (runc's wording). */
static int want_args(const char *cmd, int n, int min, int max, struct sbx_error *err)
{
	if (n >= min && n <= max)
		return 0;
	if (min == max)
		return sbx_fail(err, 0, "\"%s\" requires exactly %d argument(s)", cmd, min);
	if (n < min)
		return sbx_fail(err, 0, "\"%s\" requires a minimum of %d argument(s)", cmd, min);
	return sbx_fail(err, 0, "\"%s\" requires a maximum of %d argument(s)", cmd, max);
}

static int parse_nonneg(const char *s, const char *what, int *out, struct sbx_error *err)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1 << 20)
		return sbx_fail(err, 0, "invalid value \"%s\" for %s", s, what);
	*out = (int)v;
	return 0;
}

/* ---- output helpers ---- */

static int print_text(const char *text)
{
	fputs(text, stdout);
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : OCI_EXIT_FAILURE;
}

static yajl_gen new_gen(bool pretty)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g != NULL && pretty) {
		yajl_gen_config(g, yajl_gen_beautify, 1);
		yajl_gen_config(g, yajl_gen_indent_string, "  ");
	}
	return g;
}

static int print_gen(yajl_gen g, struct sbx_error *err)
{
	cleanup_free char *text = NULL;
	int r = sbx_json_gen_text(g, &text, err);

	yajl_gen_free(g);
	if (r < 0)
		return oci_fail(err);
	return print_text(text);
}

/* ---- signals and processes ---- */

static const struct {
	const char *name;
	int sig;
} signal_table[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },     { "QUIT", SIGQUIT }, { "ILL", SIGILL },
	{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT },   { "IOT", SIGIOT },   { "BUS", SIGBUS },
	{ "FPE", SIGFPE },   { "KILL", SIGKILL },   { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },   { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CLD", SIGCHLD }, { "CONT", SIGCONT },
	{ "STOP", SIGSTOP }, { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
	{ "URG", SIGURG },   { "XCPU", SIGXCPU },   { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM },
	{ "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },     { "POLL", SIGPOLL },
	{ "PWR", SIGPWR },   { "SYS", SIGSYS },
};

int sbx_oci_parse_signal(const char *s, int *out, struct sbx_error *err)
{
	char upper[16];
	const char *name;
	size_t i;

	if (s[0] >= '0' && s[0] <= '9') {
		int n;

		if (parse_nonneg(s, "the signal", &n, err) < 0 || n < 1 || n > SIGRTMAX)
			return sbx_fail(err, 0, "invalid signal \"%s\"", s);
		*out = n;
		return 0;
	}
	for (i = 0; s[i] != '\0' && i + 1 < sizeof(upper); i++)
		upper[i] = (char)toupper((unsigned char)s[i]);
	upper[i] = '\0';
	name = strncmp(upper, "SIG", 3) == 0 ? upper + 3 : upper;
	if (s[i] == '\0')
		for (i = 0; i < SBX_ARRAY_SIZE(signal_table); i++)
			if (strcmp(signal_table[i].name, name) == 0) {
				*out = signal_table[i].sig;
				return 0;
			}
	return sbx_fail(err, 0, "unknown signal \"%.32s\"", s);
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Signal the container's process, and only it: the pidfd is opened
 * before its start time is checked, so a number that was reused since
 * cannot be hit (the pidfd of a process that ended signals nothing). */
static int signal_init(const struct sbx_oci_state *st, int sig, struct sbx_error *err)
{
	cleanup_close int fd = pidfd_open_(st->pid);

	if (fd < 0 || !sbx_oci_pid_alive(st->pid, st->pid_start))
		return sbx_fail(err, 0, "container not running");
	if (pidfd_signal(fd, sig) < 0 && errno != ESRCH)
		return sbx_fail(err, errno, "signalling container %s", st->id);
	return 0;
}

static int signal_all(const struct sbx_oci_state *st, int sig, struct sbx_error *err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n;

	if (signal_init(st, sig == SIGKILL ? SIGKILL : sig, err) < 0)
		return -1;
	if (sbx_oci_container_pids(st, &pids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		cleanup_close int fd = -1;
		cleanup_free pid_t *again = NULL;
		size_t m;
		bool member = false;

		if (pids[i] == st->pid)
			continue;
		fd = pidfd_open_(pids[i]);
		if (fd < 0)
			continue;
		/* still a member once the pidfd holds it */
		if (sbx_oci_container_pids(st, &again, &m, err) < 0)
			return -1;
		for (size_t j = 0; j < m && !member; j++)
			member = again[j] == pids[i];
		if (member && pidfd_signal(fd, sig) < 0 && errno != ESRCH)
			return sbx_fail(err, errno, "signalling process %d of container %s", (int)pids[i], st->id);
	}
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* SIGKILL every process of the container and wait until none is left. */
static int kill_container(const struct sbx_oci_state *st, struct sbx_error *err)
{
	for (int waited = 0; sbx_oci_pid_alive(st->pid, st->pid_start); waited += 10) {
		if (waited % 500 == 0) {
			struct sbx_error ignored;

			if (st->own_pid_ns || st->cgroup[0] != '\0')
				signal_all(st, SIGKILL, &ignored);
			else
				signal_init(st, SIGKILL, &ignored);
		}
		if (waited >= KILL_WAIT_MS)
			return sbx_fail(err, 0, "container %s: its process %d outlived SIGKILL for %d s", st->id,
					(int)st->pid, KILL_WAIT_MS / 1000);
		sleep_ms(10);
	}
	return 0;
}

/* ---- commands ---- */

#define NOT_RUNSC (-1000)

/* A container handed to runsc (oci_runsc.h): its commands are runsc's.
 * delete also removes sbx's marker, once runsc has deleted (or with
 * --force, whatever runsc said).  NOT_RUNSC: not such a container. */
static int forward_to_runsc(const struct sbx_oci_globals *g, const char *cmd, bool force, int argc, char *argv[],
			    struct sbx_error *err)
{
	static const char *const by_id[] = { "start", "state", "kill", "delete", "exec", "ps", "pause", "resume" };
	struct sbx_oci_state st;
	struct sbx_error ignored;
	cleanup_close int dirfd = -1;
	bool known = false;
	int status;

	for (size_t i = 0; i < SBX_ARRAY_SIZE(by_id); i++)
		known |= strcmp(cmd, by_id[i]) == 0;
	if (!known || argc < 1 || sbx_oci_state_open(g, argv[0], false, &dirfd, &ignored) < 0 ||
	    sbx_oci_state_read(dirfd, &st, &ignored) < 0 || !st.runsc)
		return NOT_RUNSC;
	sbx_closep(&dirfd);
	oci_debug("%s %s: handed to runsc", cmd, argv[0]);
	if (strcmp(cmd, "delete") != 0) {
		sbx_oci_runsc_exec(g, g->argv, &st, err);
		return oci_fail(err);
	}
	if (sbx_oci_runsc_run(g, g->argv, &st, &status, err) < 0)
		return oci_fail(err);
	if (status == 0 || force) {
		sbx_oci_state_remove(g, argv[0], &ignored);
		sbx_oci_runsc_tidy(g);
	}
	return status;
}

/* run of a bundle whose annotation asks for runsc: runsc's run. */
static int bundle_wants_runsc(const char *bundle, struct sbx_oci_config *cfg, bool *wants, char *abs, size_t len,
			      struct sbx_error *err)
{
	cleanup_close int fd = open(bundle ? bundle : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char link[64];
	ssize_t n;

	if (fd < 0)
		return sbx_fail(err, errno, "bundle %s", bundle ? bundle : ".");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, abs, len - 1);
	if (n < 0)
		return sbx_fail(err, errno, "bundle %s", bundle ? bundle : ".");
	abs[n] = '\0';
	if (sbx_oci_config_load(fd, cfg, err) < 0)
		return -1;
	*wants = sbx_oci_wants_runsc(cfg);
	return 0;
}


struct open_container {
	int dirfd;
	struct sbx_oci_state st;
	enum sbx_oci_status status;
};

static int open_container(const struct sbx_oci_globals *g, const char *id, bool lock, struct open_container *c,
			  struct sbx_error *err)
{
	c->dirfd = -1;
	if (sbx_oci_state_open(g, id, false, &c->dirfd, err) < 0)
		return -1;
	if ((lock && sbx_oci_state_lock(c->dirfd, err) < 0) || sbx_oci_state_read(c->dirfd, &c->st, err) < 0) {
		sbx_closep(&c->dirfd);
		return -1;
	}
	c->status = sbx_oci_status(c->dirfd, &c->st);
	return 0;
}

static int cmd_state(const struct sbx_oci_globals *g, int argc, char *argv[], struct sbx_error *err)
{
	struct open_container c;
	struct sbx_oci_config cfg;
	cleanup_free char *json = NULL;
	bool have_cfg;
	int r;

	if (want_args("state", argc, 1, 1, err) < 0 || open_container(g, argv[0], false, &c, err) < 0)
		return oci_fail(err);
	have_cfg = sbx_oci_state_config(c.dirfd, &cfg, err) == 0;
	if (!have_cfg)
		oci_debug("state %s: no saved config: %s", argv[0], err->msg);
	r = sbx_oci_state_json(&c.st, c.status, have_cfg ? &cfg : NULL, &json, err);
	if (have_cfg)
		sbx_oci_config_free(&cfg);
	close(c.dirfd);
	return r < 0 ? oci_fail(err) : print_text(json);
}

static int cmd_kill(const struct sbx_oci_globals *g, bool all, int argc, char *argv[], struct sbx_error *err)
{
	struct open_container c;
	int sig = SIGTERM, r;

	if (want_args("kill", argc, 1, 2, err) < 0 || (argc == 2 && sbx_oci_parse_signal(argv[1], &sig, err) < 0))
		return oci_fail(err);
	if (open_container(g, argv[0], false, &c, err) < 0)
		return oci_fail(err);
	if (c.status == SBX_OCI_STOPPED || c.status == SBX_OCI_CREATING) {
		close(c.dirfd);
		sbx_fail(err, 0, "container not running");
		return oci_fail(err);
	}
	if (all && !c.st.own_pid_ns && c.st.cgroup[0] == '\0') {
		close(c.dirfd);
		sbx_fail(err, 0, "kill --all: container %s has neither a pid namespace nor a cgroup of its own, "
				 "so its processes cannot be told from the host's: refused", c.st.id);
		return oci_fail(err);
	}
	r = all ? signal_all(&c.st, sig, err) : signal_init(&c.st, sig, err);
	close(c.dirfd);
	return r < 0 ? oci_fail(err) : 0;
}

/* What `delete` and `run` leave of a container: nothing.  FORCE kills a
 * running one; a created one is killed anyway (runc's rule). */
static int delete_container(const struct sbx_oci_globals *g, const char *id, bool force, struct sbx_error *err)
{
	struct open_container c;
	struct sbx_oci_config cfg;
	struct sbx_error warn;
	int r;

	if (sbx_oci_valid_id(id, err) < 0)
		return -1;
	if (open_container(g, id, true, &c, err) < 0) {
		struct sbx_error e2;
		cleanup_close int dirfd = -1;

		if (!force)
			return -1;
		/* an aborted create leaves a directory without a state: --force removes it */
		if (sbx_oci_state_open(g, id, false, &dirfd, &e2) < 0) {
			if (strncmp(e2.msg, "container does not exist", 24) == 0)
				return 0;
			*err = e2;
			return -1;
		}
		if (sbx_oci_state_lock(dirfd, err) < 0)
			return -1;
		return sbx_oci_state_remove(g, id, err);
	}
	if (c.status == SBX_OCI_RUNNING && !force) {
		close(c.dirfd);
		return sbx_fail(err, 0, "cannot delete container %s that is not stopped: running", id);
	}
	if ((c.status == SBX_OCI_RUNNING || c.status == SBX_OCI_CREATED) && kill_container(&c.st, err) < 0) {
		close(c.dirfd);
		return -1;
	}
	if (sbx_oci_state_config(c.dirfd, &cfg, &warn) == 0) {
		if (sbx_oci_run_hooks(&cfg, SBX_OCI_HOOK_POSTSTOP, &c.st, SBX_OCI_STOPPED, &warn) < 0)
			oci_warn(&warn);
		sbx_oci_config_free(&cfg);
	} else {
		sbx_error_wrap(&warn, "container %s: no poststop hooks run", id);
		oci_warn(&warn);
	}
	if (c.st.cgroup[0] != '\0' && sbx_oci_cgroup_remove(&c.st, err) < 0) {
		close(c.dirfd);
		return -1;
	}
	r = sbx_oci_state_remove(g, id, err);
	close(c.dirfd);
	return r;
}

static int cmd_delete(const struct sbx_oci_globals *g, bool force, int argc, char *argv[], struct sbx_error *err)
{
	if (want_args("delete", argc, 1, 1, err) < 0 || delete_container(g, argv[0], force, err) < 0)
		return oci_fail(err);
	return 0;
}

/* The PID column's value in LINE, or -1. */
static long ps_row_pid(const char *line, int pid_col)
{
	char row[8192], *tok, *save;
	int col = 0;

	snprintf(row, sizeof(row), "%s", line);
	for (tok = strtok_r(row, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save), col++)
		if (col == pid_col)
			return strtol(tok, NULL, 10);
	return -1;
}

static int ps_pid_column(const char *header)
{
	char hdr[4096], *tok, *save;
	int col = 0;

	snprintf(hdr, sizeof(hdr), "%s", header);
	for (tok = strtok_r(hdr, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save), col++)
		if (strcmp(tok, "PID") == 0)
			return col;
	return -1;
}

/* As runc: ps(1)'s table (PS_ARGS, default -ef), only the container's rows. */
static int print_ps_table(const pid_t *pids, size_t n, int nargs, char *ps_args[], struct sbx_error *err)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };
	const size_t out_len = 4u << 20;
	cleanup_free char *out = malloc(out_len);
	char *ps_argv[64] = { "ps" }, *line, *save;
	int k = 1, status, pid_col = -1;

	if (out == NULL)
		return sbx_fail(err, ENOMEM, "ps");
	for (int i = 0; i < nargs && k < 62; i++)
		if (ps_args[i][0] != '\0') /* go-runc passes "" for no options */
			ps_argv[k++] = ps_args[i];
	if (k == 1)
		ps_argv[k++] = "-ef";
	ps_argv[k] = NULL;
	if (sbx_run_capture("/bin/ps", ps_argv, envp, out, out_len, &status, err) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return sbx_fail(err, 0, "ps: %s", out);
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		long pid;

		if (pid_col < 0) {
			pid_col = ps_pid_column(line);
			if (pid_col < 0)
				return sbx_fail(err, 0, "ps: its output has no PID column");
			printf("%s\n", line);
			continue;
		}
		pid = ps_row_pid(line, pid_col);
		for (size_t i = 0; i < n; i++)
			if (pids[i] == pid) {
				printf("%s\n", line);
				break;
			}
	}
	return 0;
}

/* The exit status. */
static int print_ps_json(const pid_t *pids, size_t n, struct sbx_error *err)
{
	yajl_gen gen = new_gen(false);

	if (gen == NULL) {
		sbx_fail(err, ENOMEM, "ps");
		return oci_fail(err);
	}
	yajl_gen_array_open(gen);
	for (size_t i = 0; i < n; i++)
		sbx_json_gen_uint(gen, NULL, (uint64_t)pids[i]);
	yajl_gen_array_close(gen);
	return print_gen(gen, err);
}

static int cmd_ps(const struct sbx_oci_globals *g, const char *format, int argc, char *argv[],
		  struct sbx_error *err)
{
	bool json = strcmp(format, "json") == 0;
	struct open_container c;
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	int r;

	if (argc < 1) {
		want_args("ps", argc, 1, 1, err);
		return oci_fail(err);
	}
	if (!json && strcmp(format, "table") != 0) {
		sbx_fail(err, 0, "invalid format option \"%s\": table or json", format);
		return oci_fail(err);
	}
	if (json && argc > 1) {
		sbx_fail(err, 0, "ps: PS-OPTIONS and --format json cannot go together");
		return oci_fail(err);
	}
	if (open_container(g, argv[0], false, &c, err) < 0)
		return oci_fail(err);
	r = sbx_oci_container_pids(&c.st, &pids, &n, err);
	close(c.dirfd);
	if (r < 0)
		return oci_fail(err);
	if (json)
		return print_ps_json(pids, n, err);
	if (print_ps_table(pids, n, argc - 1, argv + 1, err) < 0)
		return oci_fail(err);
	return print_text("");
}

static void gen_list_entry(yajl_gen gen, int rootfd, const char *id)
{
	struct sbx_oci_state st;
	struct sbx_oci_config cfg;
	struct sbx_error e;
	cleanup_close int dirfd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_free char *json = NULL;
	sbx_json *doc = NULL;
	bool have_cfg;

	if (dirfd < 0 || sbx_oci_state_read(dirfd, &st, &e) < 0)
		return;
	have_cfg = sbx_oci_state_config(dirfd, &cfg, &e) == 0;
	if (sbx_oci_state_json(&st, sbx_oci_status(dirfd, &st), have_cfg ? &cfg : NULL, &json, &e) == 0 &&
	    sbx_json_parse(json, "state", &doc, &e) == 0) {
		sbx_json_gen_value(gen, NULL, doc);
		sbx_json_free(doc);
	}
	if (have_cfg)
		sbx_oci_config_free(&cfg);
}

struct list_row {
	char id[SBX_OCI_ID_MAX + 1];
	struct sbx_oci_state st;
	enum sbx_oci_status status;
};

static int cmd_list(const struct sbx_oci_globals *g, const char *format, bool quiet, int argc,
		    struct sbx_error *err)
{
	cleanup_close int root = -1;
	DIR *d = NULL;
	struct dirent *e;
	yajl_gen gen = NULL;
	bool json = strcmp(format, "json") == 0;
	int w_id = 2, w_bundle = 6;
	struct list_row *rows = NULL;
	size_t n = 0;

	if (want_args("list", argc, 0, 0, err) < 0)
		return oci_fail(err);
	if (!json && strcmp(format, "table") != 0) {
		sbx_fail(err, 0, "invalid format option \"%s\": table or json", format);
		return oci_fail(err);
	}
	if (sbx_oci_root_open(g, false, &root, err) < 0) {
		if (err->err != ENOENT)
			return oci_fail(err);
	} else {
		int fd = dup(root);

		d = fd < 0 ? NULL : fdopendir(fd);
		if (d == NULL) {
			sbx_fail(err, errno, "listing the state directory");
			return oci_fail(err);
		}
	}
	if (json) {
		gen = new_gen(false);
		yajl_gen_array_open(gen);
	}
	while (d != NULL && (e = readdir(d)) != NULL) {
		struct list_row *nr;
		cleanup_close int dirfd = -1;
		struct sbx_error ignored;

		if (e->d_name[0] == '.' || sbx_oci_valid_id(e->d_name, &ignored) < 0)
			continue;
		if (json) {
			gen_list_entry(gen, root, e->d_name);
			continue;
		}
		dirfd = openat(root, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		nr = realloc(rows, (n + 1) * sizeof(*rows));
		if (nr == NULL)
			break;
		rows = nr;
		if (dirfd < 0 || sbx_oci_state_read(dirfd, &rows[n].st, &ignored) < 0)
			continue;
		snprintf(rows[n].id, sizeof(rows[n].id), "%s", e->d_name);
		rows[n].status = sbx_oci_status(dirfd, &rows[n].st);
		if ((int)strlen(rows[n].id) > w_id)
			w_id = (int)strlen(rows[n].id);
		if ((int)strlen(rows[n].st.bundle) > w_bundle)
			w_bundle = (int)strlen(rows[n].st.bundle);
		n++;
	}
	if (d != NULL)
		closedir(d);
	if (json) {
		yajl_gen_array_close(gen);
		free(rows);
		return print_gen(gen, err);
	}
	if (!quiet)
		printf("%-*s   %-8s %-10s %-*s   %-30s   %s\n", w_id, "ID", "PID", "STATUS", w_bundle, "BUNDLE",
		       "CREATED", "OWNER");
	for (size_t i = 0; i < n; i++) {
		const struct sbx_oci_state *st = &rows[i].st;

		if (quiet) {
			printf("%s\n", rows[i].id);
			continue;
		}
		{
			struct passwd *pw = getpwuid(st->owner);
			char owner[32];

			snprintf(owner, sizeof(owner), "%u", (unsigned)st->owner);
			printf("%-*s   %-8d %-10s %-*s   %-30s   %s\n", w_id, rows[i].id,
			       rows[i].status == SBX_OCI_STOPPED ? 0 : (int)st->pid,
			       sbx_oci_status_name(rows[i].status), w_bundle, st->bundle, st->created,
			       pw != NULL ? pw->pw_name : owner);
		}
	}
	free(rows);
	return print_text("");
}

/* ---- features ---- */

/* libmount's own table of the mount options it turns into flags: the
 * same one config.json's options go through (oci_config.c). */
static void gen_mount_options(yajl_gen gen)
{
	struct sbx_error ignored;
	const struct libmnt_optmap *map = sbx_mount_linux_optmap(&ignored);

	sbx_json_gen_key(gen, "mountOptions");
	yajl_gen_array_open(gen);
	for (; map != NULL && map->name != NULL; map++)
		if (strpbrk(map->name, "=[%") == NULL)
			sbx_json_gen_str(gen, NULL, map->name);
	yajl_gen_array_close(gen);
}

static void gen_strings(yajl_gen gen, const char *key, const char *const *list, size_t n)
{
	sbx_json_gen_key(gen, key);
	yajl_gen_array_open(gen);
	for (size_t i = 0; i < n; i++)
		sbx_json_gen_str(gen, NULL, list[i]);
	yajl_gen_array_close(gen);
}

static void gen_bool(yajl_gen gen, const char *key, bool v)
{
	sbx_json_gen_key(gen, key);
	yajl_gen_bool(gen, v);
}

static void gen_capabilities(yajl_gen gen)
{
	sbx_json_gen_key(gen, "capabilities");
	yajl_gen_array_open(gen);
	for (int i = 0; i < (int)cap_max_bits(); i++) {
		char *name = cap_to_name((cap_value_t)i), upper[64];
		size_t j;

		if (name == NULL)
			continue;
		for (j = 0; name[j] != '\0' && j + 1 < sizeof(upper); j++)
			upper[j] = (char)toupper((unsigned char)name[j]);
		upper[j] = '\0';
		cap_free(name);
		/* a capability libcap has no name for comes back as a number */
		if (strncmp(upper, "CAP_", 4) == 0)
			sbx_json_gen_str(gen, NULL, upper);
	}
	yajl_gen_array_close(gen);
}

static void gen_seccomp(yajl_gen gen)
{
	/* what sbx's profile compiler (seccomp_filter.c) accepts */
	static const char *const actions[] = { "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
					       "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
					       "SCMP_ACT_TRAP" };
	static const char *const operators[] = { "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
						 "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE" };
	static const char *const archs[] = { "x86", "x86_64", "x32", "arm", "aarch64", "mips", "mips64",
					     "mips64n32", "mipsel", "mipsel64", "mipsel64n32", "ppc", "ppc64",
					     "ppc64le", "s390", "s390x", "parisc", "parisc64", "riscv64" };
	static const char *const flags[] = { "SECCOMP_FILTER_FLAG_LOG" };

	sbx_json_gen_key(gen, "seccomp");
	yajl_gen_map_open(gen);
	gen_bool(gen, "enabled", true);
	gen_strings(gen, "actions", actions, SBX_ARRAY_SIZE(actions));
	gen_strings(gen, "operators", operators, SBX_ARRAY_SIZE(operators));
	sbx_json_gen_key(gen, "archs");
	yajl_gen_array_open(gen);
	for (size_t i = 0; i < SBX_ARRAY_SIZE(archs); i++) {
		char upper[32];
		size_t j;

		if (seccomp_arch_resolve_name(archs[i]) == 0)
			continue;
		for (j = 0; archs[i][j] != '\0'; j++)
			upper[j] = (char)toupper((unsigned char)archs[i][j]);
		upper[j] = '\0';
		{
			char name[48];

			snprintf(name, sizeof(name), "SCMP_ARCH_%s", upper);
			sbx_json_gen_str(gen, NULL, name);
		}
	}
	yajl_gen_array_close(gen);
	gen_strings(gen, "knownFlags", flags, SBX_ARRAY_SIZE(flags));
	gen_strings(gen, "supportedFlags", flags, SBX_ARRAY_SIZE(flags));
	yajl_gen_map_close(gen);
}

static bool apparmor_enabled(void)
{
	char buf[4] = "";
	int fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	(void)!read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return buf[0] == 'Y';
}

static int cmd_features(int argc, struct sbx_error *err)
{
	static const char *const hooks[] = { "prestart", "createRuntime", "createContainer", "startContainer",
					     "poststart", "poststop" };
	yajl_gen gen = new_gen(true);
	const struct scmp_version *v = seccomp_version();
	char libseccomp[32];

	if (gen == NULL || want_args("features", argc, 0, 0, err) < 0) {
		if (gen != NULL)
			yajl_gen_free(gen);
		else
			sbx_fail(err, ENOMEM, "features");
		return oci_fail(err);
	}
	snprintf(libseccomp, sizeof(libseccomp), "%u.%u.%u", v->major, v->minor, v->micro);
	yajl_gen_map_open(gen);
	sbx_json_gen_str(gen, "ociVersionMin", OCI_SPEC_VERSION_MIN);
	sbx_json_gen_str(gen, "ociVersionMax", OCI_SPEC_VERSION_MAX);
	gen_strings(gen, "hooks", hooks, SBX_ARRAY_SIZE(hooks));
	gen_mount_options(gen);
	sbx_json_gen_key(gen, "linux");
	yajl_gen_map_open(gen);
	sbx_json_gen_key(gen, "namespaces");
	yajl_gen_array_open(gen);
	for (int ns = 0; ns < SBX_OCI_NS_COUNT; ns++)
		sbx_json_gen_str(gen, NULL, sbx_oci_ns_name((enum sbx_oci_ns)ns));
	yajl_gen_array_close(gen);
	gen_capabilities(gen);
	sbx_json_gen_key(gen, "cgroup");
	yajl_gen_map_open(gen);
	gen_bool(gen, "v1", false);
	gen_bool(gen, "v2", true);
	gen_bool(gen, "systemd", false);
	gen_bool(gen, "systemdUser", false);
	gen_bool(gen, "rdma", false);
	yajl_gen_map_close(gen);
	gen_seccomp(gen);
	sbx_json_gen_key(gen, "apparmor");
	yajl_gen_map_open(gen);
	gen_bool(gen, "enabled", apparmor_enabled());
	yajl_gen_map_close(gen);
	sbx_json_gen_key(gen, "selinux");
	yajl_gen_map_open(gen);
	gen_bool(gen, "enabled", false);
	yajl_gen_map_close(gen);
	yajl_gen_map_close(gen);
	sbx_json_gen_key(gen, "annotations");
	yajl_gen_map_open(gen);
	sbx_json_gen_str(gen, "io.github.seccomp.libseccomp.version", libseccomp);
	sbx_json_gen_str(gen, "run.sbx.version", SBX_VERSION);
	sbx_json_gen_str(gen, "run.sbx.profile", "hardened");
	sbx_json_gen_str(gen, "run.sbx.runtime", "runsc");
	sbx_json_gen_str(gen, "run.sbx.require-limits", "true");
	yajl_gen_map_close(gen);
	yajl_gen_map_close(gen);
	return print_gen(gen, err);
}

/* ---- spec ---- */

static void gen_mount(yajl_gen gen, const char *dst, const char *type, const char *src, const char *const *opts,
		      size_t n)
{
	yajl_gen_map_open(gen);
	sbx_json_gen_str(gen, "destination", dst);
	sbx_json_gen_str(gen, "type", type);
	sbx_json_gen_str(gen, "source", src);
	gen_strings(gen, "options", opts, n);
	yajl_gen_map_close(gen);
}

static void gen_idmap(yajl_gen gen, const char *key, uint32_t host)
{
	sbx_json_gen_key(gen, key);
	yajl_gen_array_open(gen);
	yajl_gen_map_open(gen);
	sbx_json_gen_uint(gen, "containerID", 0);
	sbx_json_gen_uint(gen, "hostID", host);
	sbx_json_gen_uint(gen, "size", 1);
	yajl_gen_map_close(gen);
	yajl_gen_array_close(gen);
}

/* runc's starter spec with sbx's hardening: no capability at all, no new
 * privileges, a read-only root, sbx's seccomp profile and a user namespace
 * through run.sbx.profile=hardened; a terminal only when asked for. */
static void gen_spec(yajl_gen gen, bool rootless)
{
	static const char *const args[] = { "sh" };
	static const char *const env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
					   "TERM=xterm" };
	static const char *const masked[] = { "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
					      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
					      "/proc/sched_debug", "/sys/firmware", "/proc/scsi" };
	static const char *const readonly[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
						"/proc/sysrq-trigger" };
	static const char *const proc_o[] = { "nosuid", "noexec", "nodev" };
	static const char *const dev_o[] = { "nosuid", "strictatime", "mode=755", "size=65536k" };
	static const char *const pts_o[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
					     "gid=5" };
	static const char *const pts_rootless_o[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666",
						      "mode=0620" };
	static const char *const shm_o[] = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" };
	static const char *const mq_o[] = { "nosuid", "noexec", "nodev" };
	static const char *const sys_o[] = { "nosuid", "noexec", "nodev", "ro" };
	static const char *const sys_rootless_o[] = { "rbind", "nosuid", "noexec", "nodev", "ro" };
	static const char *const ns_root[] = { "pid", "network", "ipc", "uts", "mount", "cgroup" };
	static const char *const ns_rootless[] = { "pid", "network", "ipc", "uts", "mount", "cgroup", "user" };
	const char *const *ns = rootless ? ns_rootless : ns_root;
	size_t n_ns = rootless ? SBX_ARRAY_SIZE(ns_rootless) : SBX_ARRAY_SIZE(ns_root);

	yajl_gen_map_open(gen);
	sbx_json_gen_str(gen, "ociVersion", OCI_SPEC_VERSION);
	sbx_json_gen_key(gen, "process");
	yajl_gen_map_open(gen);
	gen_bool(gen, "terminal", false);
	sbx_json_gen_key(gen, "user");
	yajl_gen_map_open(gen);
	sbx_json_gen_uint(gen, "uid", 0);
	sbx_json_gen_uint(gen, "gid", 0);
	yajl_gen_map_close(gen);
	gen_strings(gen, "args", args, SBX_ARRAY_SIZE(args));
	gen_strings(gen, "env", env, SBX_ARRAY_SIZE(env));
	sbx_json_gen_str(gen, "cwd", "/");
	sbx_json_gen_key(gen, "capabilities");
	yajl_gen_map_open(gen);
	gen_strings(gen, "bounding", NULL, 0);
	gen_strings(gen, "effective", NULL, 0);
	gen_strings(gen, "permitted", NULL, 0);
	gen_strings(gen, "ambient", NULL, 0);
	yajl_gen_map_close(gen);
	sbx_json_gen_key(gen, "rlimits");
	yajl_gen_array_open(gen);
	yajl_gen_map_open(gen);
	sbx_json_gen_str(gen, "type", "RLIMIT_NOFILE");
	sbx_json_gen_uint(gen, "hard", 1024);
	sbx_json_gen_uint(gen, "soft", 1024);
	yajl_gen_map_close(gen);
	yajl_gen_array_close(gen);
	gen_bool(gen, "noNewPrivileges", true);
	yajl_gen_map_close(gen);
	sbx_json_gen_key(gen, "root");
	yajl_gen_map_open(gen);
	sbx_json_gen_str(gen, "path", "rootfs");
	gen_bool(gen, "readonly", true);
	yajl_gen_map_close(gen);
	sbx_json_gen_str(gen, "hostname", "sbx");
	sbx_json_gen_key(gen, "mounts");
	yajl_gen_array_open(gen);
	gen_mount(gen, "/proc", "proc", "proc", proc_o, SBX_ARRAY_SIZE(proc_o));
	gen_mount(gen, "/dev", "tmpfs", "tmpfs", dev_o, SBX_ARRAY_SIZE(dev_o));
	if (rootless)
		gen_mount(gen, "/dev/pts", "devpts", "devpts", pts_rootless_o, SBX_ARRAY_SIZE(pts_rootless_o));
	else
		gen_mount(gen, "/dev/pts", "devpts", "devpts", pts_o, SBX_ARRAY_SIZE(pts_o));
	gen_mount(gen, "/dev/shm", "tmpfs", "shm", shm_o, SBX_ARRAY_SIZE(shm_o));
	gen_mount(gen, "/dev/mqueue", "mqueue", "mqueue", mq_o, SBX_ARRAY_SIZE(mq_o));
	if (rootless)
		gen_mount(gen, "/sys", "none", "/sys", sys_rootless_o, SBX_ARRAY_SIZE(sys_rootless_o));
	else
		gen_mount(gen, "/sys", "sysfs", "sysfs", sys_o, SBX_ARRAY_SIZE(sys_o));
	yajl_gen_array_close(gen);
	sbx_json_gen_key(gen, "annotations");
	yajl_gen_map_open(gen);
	sbx_json_gen_str(gen, "run.sbx.profile", "hardened");
	yajl_gen_map_close(gen);
	sbx_json_gen_key(gen, "linux");
	yajl_gen_map_open(gen);
	if (rootless) {
		gen_idmap(gen, "uidMappings", geteuid());
		gen_idmap(gen, "gidMappings", getegid());
	} else {
		sbx_json_gen_key(gen, "resources");
		yajl_gen_map_open(gen);
		sbx_json_gen_key(gen, "devices");
		yajl_gen_array_open(gen);
		yajl_gen_map_open(gen);
		gen_bool(gen, "allow", false);
		sbx_json_gen_str(gen, "access", "rwm");
		yajl_gen_map_close(gen);
		yajl_gen_array_close(gen);
		yajl_gen_map_close(gen);
	}
	sbx_json_gen_key(gen, "namespaces");
	yajl_gen_array_open(gen);
	for (size_t i = 0; i < n_ns; i++) {
		yajl_gen_map_open(gen);
		sbx_json_gen_str(gen, "type", ns[i]);
		yajl_gen_map_close(gen);
	}
	yajl_gen_array_close(gen);
	gen_strings(gen, "maskedPaths", masked, SBX_ARRAY_SIZE(masked));
	gen_strings(gen, "readonlyPaths", readonly, SBX_ARRAY_SIZE(readonly));
	yajl_gen_map_close(gen);
	yajl_gen_map_close(gen);
}

static int cmd_spec(const char *bundle, bool rootless, int argc, struct sbx_error *err)
{
	cleanup_close int dir = -1, fd = -1;
	cleanup_free char *text = NULL;
	yajl_gen gen;

	if (want_args("spec", argc, 0, 0, err) < 0)
		return oci_fail(err);
	dir = open(bundle != NULL ? bundle : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		sbx_fail(err, errno, "spec: bundle %s", bundle != NULL ? bundle : ".");
		return oci_fail(err);
	}
	fd = openat(dir, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST) {
		sbx_fail(err, 0, "File config.json exists. Remove it first");
		return oci_fail(err);
	}
	if (fd < 0) {
		sbx_fail(err, errno, "spec: writing config.json");
		return oci_fail(err);
	}
	gen = new_gen(true);
	if (gen == NULL) {
		sbx_fail(err, ENOMEM, "spec");
		return oci_fail(err);
	}
	gen_spec(gen, rootless);
	if (sbx_json_gen_text(gen, &text, err) < 0) {
		yajl_gen_free(gen);
		return oci_fail(err);
	}
	yajl_gen_free(gen);
	if (sbx_write_all(fd, text, strlen(text)) < 0) {
		sbx_fail(err, errno, "spec: writing config.json");
		return oci_fail(err);
	}
	return 0;
}

/* ---- create, start, run, exec ---- */

static int cmd_create(const struct sbx_oci_globals *g, struct sbx_oci_create_opts *o, bool no_pivot, int argc,
		      char *argv[], struct sbx_error *err)
{
	if (want_args("create", argc, 1, 1, err) < 0)
		return oci_fail(err);
	if (no_pivot) {
		sbx_fail(err, 0, "--no-pivot is not supported: sbx always pivots into the container's root");
		return oci_fail(err);
	}
	o->id = argv[0];
	if (sbx_oci_valid_id(o->id, err) < 0 || sbx_oci_create(g, o, err) < 0)
		return oci_fail(err);
	return 0;
}

/* sbx_oci_start's 1: the container runs, a poststart hook failed (a
 * warning, the runtime spec's rule). */
static int start_container(const struct sbx_oci_globals *g, const char *id, struct sbx_error *err)
{
	int r = sbx_oci_start(g, id, err);

	if (r > 0)
		oci_warn(err);
	return r < 0 ? -1 : 0;
}

static int cmd_start(const struct sbx_oci_globals *g, int argc, char *argv[], struct sbx_error *err)
{
	if (want_args("start", argc, 1, 1, err) < 0 || sbx_oci_valid_id(argv[0], err) < 0 ||
	    start_container(g, argv[0], err) < 0)
		return oci_fail(err);
	return 0;
}

static const int forwarded_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH,
					 SIGCONT, SIGALRM, SIGPIPE };

/* Wait for the container's process PID, as its parent or subreaper: reap
 * the orphans its children leave, pass the signals sbx gets on to it
 * (runc run's signal proxy). */
static int wait_container(pid_t pid, const sigset_t *set, int *status)
{
	for (;;) {
		siginfo_t si;
		int ws;
		pid_t r;

		while ((r = waitpid(-1, &ws, WNOHANG)) > 0)
			if (r == pid) {
				*status = sbx_exit_status(ws);
				return 0;
			}
		if (r < 0 && errno == ECHILD)
			return -1;
		if (sigwaitinfo(set, &si) < 0)
			continue;
		if (si.si_signo != SIGCHLD)
			kill(pid, si.si_signo);
	}
}

static int cmd_run(const struct sbx_oci_globals *g, struct sbx_oci_create_opts *o, bool no_pivot, bool detach,
		   bool keep, bool no_subreaper, int argc, char *argv[], struct sbx_error *err)
{
	struct open_container c;
	sigset_t set, old;
	int status = 0;
	bool runsc = false;
	char bundle[4096];
	struct sbx_oci_config cfg = { 0 };

	if (want_args("run", argc, 1, 1, err) < 0)
		return oci_fail(err);
	if (no_pivot) {
		sbx_fail(err, 0, "--no-pivot is not supported: sbx always pivots into the container's root");
		return oci_fail(err);
	}
	o->id = argv[0];
	if (sbx_oci_valid_id(o->id, err) < 0 ||
	    bundle_wants_runsc(o->bundle, &cfg, &runsc, bundle, sizeof(bundle), err) < 0)
		return oci_fail(err);
	if (runsc) {
		int r = sbx_oci_runsc_hand_off(g, &cfg, o->id, bundle, false, &status, err);

		sbx_oci_config_free(&cfg);
		return r < 0 ? oci_fail(err) : status;
	}
	sbx_oci_config_free(&cfg);
	/* the container's process stays sbx's to wait for, whoever forks it */
	if (!detach && !no_subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		sbx_fail(err, errno, "run: becoming a subreaper");
		return oci_fail(err);
	}
	if (sbx_oci_create(g, o, err) < 0)
		return oci_fail(err);
	/* after create: a mask set before would pass to the container across execve */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < SBX_ARRAY_SIZE(forwarded_signals); i++)
		sigaddset(&set, forwarded_signals[i]);
	if (!detach)
		sigprocmask(SIG_BLOCK, &set, &old);
	if (start_container(g, o->id, err) < 0) {
		struct sbx_error e2;

		oci_fail(err);
		if (delete_container(g, o->id, true, &e2) < 0)
			oci_fail(&e2);
		return OCI_EXIT_FAILURE;
	}
	if (detach)
		return 0;
	if (open_container(g, o->id, false, &c, err) < 0)
		return oci_fail(err);
	close(c.dirfd);
	if (wait_container(c.st.pid, &set, &status) < 0) {
		sbx_fail(err, 0, "run: container %s: its process %d is not sbx's child (--no-subreaper?)", o->id,
			 (int)c.st.pid);
		oci_fail(err);
		status = OCI_EXIT_FAILURE;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (!keep && delete_container(g, o->id, true, err) < 0)
		oci_fail(err);
	return status;
}

/* exec's options, parsed here; oci_exec.c does the work. */
static int cmd_exec(const struct sbx_oci_globals *g, struct sbx_oci_exec_opts *o, int argc, char *argv[],
		    struct sbx_error *err)
{
	int status = 0;

	if (argc < 1 || (o->process == NULL && argc < 2)) {
		sbx_fail(err, 0, "\"exec\" requires a minimum of %d argument(s)", o->process == NULL ? 2 : 1);
		return oci_fail(err);
	}
	if (o->process != NULL && argc > 1) {
		sbx_fail(err, 0, "exec: give --process or a command, not both");
		return oci_fail(err);
	}
	o->id = argv[0];
	o->args = argc > 1 ? argv + 1 : NULL;
	if (sbx_oci_valid_id(o->id, err) < 0 || sbx_oci_exec(g, o, &status, err) < 0)
		return oci_fail(err);
	return status;
}

/* ---- entry ---- */

static int open_log(const char *path, struct sbx_error *err)
{
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (log_fd < 0)
		return sbx_fail(err, errno, "opening the log %s", path);
	return 0;
}

static bool in_initial_userns(void)
{
	char buf[128] = "";
	unsigned long a = 1, b = 1, n = 0;
	int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return true;
	(void)!read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return sscanf(buf, "%lu %lu %lu", &a, &b, &n) == 3 && a == 0 && b == 0 && n == 4294967295UL;
}

static int append(const char ***list, size_t *n, const char *v, struct sbx_error *err)
{
	const char **nl = realloc(*list, (*n + 2) * sizeof(**list));

	if (nl == NULL)
		return sbx_fail(err, ENOMEM, "options");
	nl[(*n)++] = v;
	nl[*n] = NULL;
	*list = nl;
	return 0;
}

struct cmd_opts {
	struct sbx_oci_create_opts create;
	struct sbx_oci_exec_opts exec;
	bool help, no_pivot, detach, keep, no_subreaper, all, force, quiet, rootless;
	const char *format, *bundle;
};

static int take_opt(struct cmd_opts *co, const struct opt_hit *h, struct sbx_error *err)
{
	bool on = h->value != NULL;

	switch (h->opt->id) {
	case O_HELP: co->help = on; break;
	case O_BUNDLE: co->create.bundle = co->bundle = h->value; break;
	case O_PID_FILE: co->create.pid_file = co->exec.pid_file = h->value; break;
	case O_CONSOLE_SOCKET: co->create.console_socket = co->exec.console_socket = h->value; break;
	case O_PRESERVE_FDS:
		if (parse_nonneg(h->value, "--preserve-fds", &co->create.preserve_fds, err) < 0)
			return -1;
		co->exec.preserve_fds = co->create.preserve_fds;
		break;
	case O_NO_PIVOT: co->no_pivot = on; break;
	case O_NO_NEW_KEYRING: break; /* sbx makes no session keyring: there is none to share */
	case O_DETACH: co->detach = co->exec.detach = on; break;
	case O_KEEP: co->keep = on; break;
	case O_NO_SUBREAPER: co->no_subreaper = on; break;
	case O_ALL: co->all = on; break;
	case O_FORCE: co->force = on; break;
	case O_FORMAT: co->format = h->value; break;
	case O_QUIET: co->quiet = on; break;
	case O_ROOTLESS: co->rootless = on; break;
	case O_CWD: co->exec.cwd = h->value; break;
	case O_ENV: return append(&co->exec.env, &co->exec.n_env, h->value, err);
	case O_TTY: co->exec.tty = on; break;
	case O_USER: co->exec.user = h->value; break;
	case O_ADDITIONAL_GIDS: return append(&co->exec.additional_gids, &co->exec.n_additional_gids, h->value, err);
	case O_PROCESS: co->exec.process = h->value; break;
	case O_PROCESS_LABEL: co->exec.process_label = h->value; break;
	case O_APPARMOR: co->exec.apparmor = h->value; break;
	case O_NO_NEW_PRIVS: co->exec.no_new_privs = on; break;
	case O_CAP: return append(&co->exec.caps, &co->exec.n_caps, h->value, err);
	case O_CGROUP:
		return sbx_fail(err, 0, "exec --cgroup is not supported: the process joins the container's cgroup");
	case O_IGNORE_PAUSED: break; /* sbx does not pause containers */
	}
	return 0;
}

static int parse_globals(struct sbx_oci_globals *g, int argc, char *argv[], int *i, bool *help, bool *version,
			 struct sbx_error *err)
{
	struct opt_hit h;
	int r;

	while ((r = next_opt(global_opts, argc, argv, i, &h, "sbx", err)) == 1) {
		switch (h.opt->id) {
		case G_ROOT: g->root = h.value; break;
		case G_LOG: g->log = h.value; break;
		case G_LOG_FORMAT:
			if (strcmp(h.value, "json") != 0 && strcmp(h.value, "text") != 0)
				return sbx_fail(err, 0, "invalid log-format: %s (text or json)", h.value);
			g->log_json = strcmp(h.value, "json") == 0;
			break;
		case G_DEBUG: g->debug = h.value != NULL; break;
		case G_SYSTEMD_CGROUP: g->systemd_cgroup = h.value != NULL; break;
		case G_ROOTLESS:
			if (strcmp(h.value, "true") != 0 && strcmp(h.value, "false") != 0 && strcmp(h.value, "auto") != 0)
				return sbx_fail(err, 0, "invalid --rootless value: %s (true, false or auto)", h.value);
			if (strcmp(h.value, "true") == 0)
				g->rootless = true;
			break;
		case G_HELP: *help = h.value != NULL; break;
		case G_VERSION: *version = h.value != NULL; break;
		}
	}
	return r;
}

int sbx_oci_cli(int argc, char *argv[])
{
	struct sbx_oci_globals g = { 0 };
	struct sbx_error err = { 0 };
	struct cmd_opts co = { .format = "table" };
	const struct command *c;
	struct opt_hit h;
	bool help = false, version = false;
	int i = 0, r;
	cleanup_free char **command_line = NULL;

	g.rootless = geteuid() != 0 || !in_initial_userns();
	r = parse_globals(&g, argc, argv, &i, &help, &version, &err);
	log_json = g.log_json;
	log_debug = g.debug;
	if (g.log != NULL && open_log(g.log, &err) < 0)
		r = -1;
	if (r < 0)
		return oci_fail(&err);
	if (version) {
		printf("sbx version %s\nspec: %s\n", SBX_VERSION, OCI_SPEC_VERSION);
		return print_text("");
	}
	if (i >= argc || help) {
		fputs(usage_oci, help ? stdout : stderr);
		return help ? print_text("") : OCI_EXIT_FAILURE;
	}
	if (strcmp(argv[i], "help-oci") == 0 || strcmp(argv[i], "help") == 0) {
		fputs(usage_oci, stdout);
		return print_text("");
	}
	c = find_command(argv[i]);
	if (c == NULL) {
		sbx_fail(&err, 0, "unknown command '%.64s' (see sbx help-oci)", argv[i]);
		return oci_fail(&err);
	}
	/* The command line as the engine gave it, for a hand-off to runsc
	 * (option parsing below reorders argv). */
	g.argv = command_line = calloc((size_t)(argc - i + 1), sizeof(char *));
	if (command_line == NULL) {
		sbx_fail(&err, ENOMEM, "copying the command line");
		return oci_fail(&err);
	}
	memcpy(command_line, argv + i, (size_t)(argc - i) * sizeof(char *));
	i++;
	oci_debug("%s", c->name);
	while ((r = next_opt(c->opts, argc, argv, &i, &h, c->name, &err)) == 1)
		if (take_opt(&co, &h, &err) < 0) {
			r = -1;
			break;
		}
	if (r < 0)
		return oci_fail(&err);
	if (co.help)
		return print_usage(c);
	argc -= i;
	argv += i;
	/* runc takes a command's options after the id too (kill ID SIG --all is
	 * not, but delete ID --force is seen); exec and ps keep what follows */
	if (strcmp(c->name, "exec") != 0 && strcmp(c->name, "ps") != 0 && argc > 1) {
		int j = 1, k = 1;

		while (j < argc) {
			if (argv[j][0] == '-' && argv[j][1] != '\0' && (argv[j][1] < '0' || argv[j][1] > '9')) {
				int at = j;

				r = next_opt(c->opts, argc, argv, &j, &h, c->name, &err);
				if (r < 0 || (r == 1 && take_opt(&co, &h, &err) < 0))
					return oci_fail(&err);
				if (r == 0)
					j = at + 1;
				continue;
			}
			argv[k++] = argv[j++];
		}
		argc = k;
		if (co.help)
			return print_usage(c);
	}
	co.create.warn = create_warning;
	r = forward_to_runsc(&g, c->name, co.force, argc, argv, &err);
	if (r != NOT_RUNSC)
		return r;
	if (strcmp(c->name, "create") == 0)
		return cmd_create(&g, &co.create, co.no_pivot, argc, argv, &err);
	if (strcmp(c->name, "start") == 0)
		return cmd_start(&g, argc, argv, &err);
	if (strcmp(c->name, "state") == 0)
		return cmd_state(&g, argc, argv, &err);
	if (strcmp(c->name, "kill") == 0)
		return cmd_kill(&g, co.all, argc, argv, &err);
	if (strcmp(c->name, "delete") == 0)
		return cmd_delete(&g, co.force, argc, argv, &err);
	if (strcmp(c->name, "run") == 0)
		return cmd_run(&g, &co.create, co.no_pivot, co.detach, co.keep, co.no_subreaper, argc, argv, &err);
	if (strcmp(c->name, "exec") == 0) {
		r = cmd_exec(&g, &co.exec, argc, argv, &err);
		free(co.exec.env);
		free(co.exec.additional_gids);
		free(co.exec.caps);
		return r;
	}
	if (strcmp(c->name, "ps") == 0)
		return cmd_ps(&g, co.format, argc, argv, &err);
	if (strcmp(c->name, "list") == 0)
		return cmd_list(&g, co.format, co.quiet, argc, &err);
	if (strcmp(c->name, "features") == 0)
		return cmd_features(argc, &err);
	return cmd_spec(co.bundle, co.rootless, argc, &err);
}

static bool is_bundle_opt(const char *a)
{
	const char *n = a[0] == '-' ? a + (a[1] == '-' ? 2 : 1) : a;
	size_t len = strcspn(n, "=");

	return a[0] == '-' && ((len == 6 && strncmp(n, "bundle", 6) == 0) || (len == 1 && n[0] == 'b'));
}

/* `sbx run` is sbx's own unless it is runc's: its leading options are all
 * OCI run's, and one of them names the bundle. */
static bool run_is_oci(int argc, char *argv[])
{
	bool bundle = false;
	int i = 0;

	while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
		struct opt_hit h;
		struct sbx_error ignored;

		if (is_bundle_opt(argv[i]))
			bundle = true;
		if (next_opt(run_opts, argc, argv, &i, &h, "run", &ignored) != 1)
			return false;
	}
	return bundle;
}

bool sbx_oci_cli_wants(int argc, char *argv[])
{
	const char *cmd = argc > 0 ? argv[0] : NULL;

	if (cmd == NULL)
		return false;
	if (strcmp(cmd, "help-oci") == 0)
		return true;
	if (cmd[0] == '-')
		return strcmp(cmd, "-h") != 0 && strcmp(cmd, "--help") != 0 && strcmp(cmd, "--version") != 0;
	if (strcmp(cmd, "run") == 0)
		return run_is_oci(argc - 1, argv + 1);
	return find_command(cmd) != NULL;
}
