/* `sbx check`: what this host lets sbx enforce, found by trying it.
 *
 * Every answer comes from a trial, never from a kernel version: a child
 * makes a throwaway user namespace with the maps a sandbox would get, then
 * mount, pid and network namespaces, mounts a fresh /proc the way the
 * sandbox does, brings up lo and makes an overlay; seccomp loads a filter
 * and sees it act; runsc runs a bundle the way the runsc backend does, in
 * namespaces of its own with the same id maps.  Nothing on the host is
 * written. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "cgroup.h"
#include "idmap.h"
#include "json.h"
#include "landlock.h"
#include "mounts.h"
#include "net.h"
#include "procfs.h"
#include "runsc.h"
#include "util.h"

enum check_status { CHECK_OK, CHECK_WARN, CHECK_FAIL, CHECK_INFO };

static const char *const status_names[] = {
	[CHECK_OK] = "ok", [CHECK_WARN] = "warn", [CHECK_FAIL] = "fail", [CHECK_INFO] = "info",
};

#define MAX_FACTS 10

/* One fact for the JSON: a string, a number, a flag or a list. */
struct fact {
	const char *key;
	enum { FACT_STR, FACT_INT, FACT_BOOL, FACT_LIST, FACT_NULL } type;
	char str[256]; /* FACT_LIST: comma-separated */
	long long num;
};

struct check {
	const char *id;
	const char *name;
	enum check_status status;
	/* A failure here means no sandbox can start (exit 2), not a weaker
	 * one (exit 1). */
	bool essential;
	char detail[512];
	char remedy[1024];
	char extra[1024]; /* lines printed under the remedy (a profile) */
	struct fact facts[MAX_FACTS];
	size_t n_facts;
};

enum {
	C_USERNS, C_IDMAP, C_PROC, C_NET, C_CGROUP, C_SECCOMP, C_LANDLOCK, C_OVERLAY, C_IDMAPPED, C_RUNSC,
	N_CHECKS
};

__attribute__((format(printf, 3, 4))) static void set(struct check *c, enum check_status st, const char *fmt, ...)
{
	va_list ap;

	c->status = st;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void remedy(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->remedy, sizeof(c->remedy), fmt, ap);
	va_end(ap);
}

static struct fact *add_fact(struct check *c, const char *key, int type)
{
	struct fact *f = &c->facts[c->n_facts < MAX_FACTS ? c->n_facts++ : MAX_FACTS - 1];

	memset(f, 0, sizeof(*f));
	f->key = key;
	f->type = type;
	return f;
}

static void fact_str(struct check *c, const char *key, const char *value)
{
	struct fact *f = add_fact(c, key, value ? FACT_STR : FACT_NULL);

	if (value)
		snprintf(f->str, sizeof(f->str), "%s", value);
}

static void fact_list(struct check *c, const char *key, const char *csv)
{
	snprintf(add_fact(c, key, FACT_LIST)->str, sizeof(c->facts[0].str), "%s", csv);
}

static void fact_int(struct check *c, const char *key, long long v)
{
	add_fact(c, key, FACT_INT)->num = v;
}

static void fact_bool(struct check *c, const char *key, bool v)
{
	add_fact(c, key, FACT_BOOL)->num = v;
}

/* A sysctl's value, or -1 when the kernel has no such knob. */
static long read_sysctl(const char *path)
{
	struct sbx_error ignored;
	cleanup_free char *text = NULL;

	if (sbx_read_file(path, 64, &text, &ignored) < 0)
		return -1;
	return strtol(text, NULL, 10);
}

/* ---- the trial namespace ---- */

#define TRIAL_MSG 320

/* Written by the trial processes into memory shared with sbx. */
struct trial {
	int userns_err;   /* unshare(CLONE_NEWUSER) */
	int nested_err;   /* a user namespace inside that one */
	int setup_err;    /* the mount, pid and network namespaces */
	bool setup_done, proc_done, net_done, overlay_done;
	int proc_err, net_err, overlay_err;
	char setup_msg[TRIAL_MSG], proc_msg[TRIAL_MSG], net_msg[TRIAL_MSG], overlay_msg[TRIAL_MSG];
	char net_ifaces[128];
};

static void trial_fail(int *errp, char *msg, const struct sbx_error *err)
{
	*errp = err->err ? err->err : EPERM;
	snprintf(msg, TRIAL_MSG, "%.300s", err->msg);
}

/* A tmpfs over /tmp of the trial's mount namespace, as the sandbox's own
 * mounts are: the root the trials below mount in. */
static int trial_root(struct sbx_error *err)
{
	cleanup_close int tree = sbx_new_tmpfs(SBX_TMPFS(1 << 20, 0755), SBX_MNT_NOSUID | SBX_MNT_NODEV, err);
	cleanup_close int target = -1;
	int root, fd;

	if (tree < 0)
		return sbx_error_wrap(err, "a tmpfs");
	target = open("/tmp", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return sbx_fail(err, errno, "/tmp in the trial namespace");
	if (sbx_attach(tree, target, err) < 0)
		return -1;
	root = open("/tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root < 0)
		return sbx_fail(err, errno, "opening the trial root");
	if (mkdirat(root, "proc", 0755) < 0 || mkdirat(root, "dev", 0755) < 0 ||
	    (fd = openat(root, "dev/null", O_CREAT | O_WRONLY | O_CLOEXEC, 0666)) < 0) {
		sbx_fail(err, errno, "making the trial root's directories");
		close(root);
		return -1;
	}
	close(fd);
	return root;
}

/* The sandbox's /proc, masks and all; it must show this pid namespace. */
static void trial_proc(struct trial *t, int root)
{
	struct sbx_error err = { 0 };
	char self[32];
	ssize_t n;

	t->proc_done = true;
	if (sbx_mount_proc(root, &err) < 0)
		return trial_fail(&t->proc_err, t->proc_msg, &err);
	n = readlinkat(root, "proc/self", self, sizeof(self) - 1);
	if (n < 0) {
		t->proc_err = errno;
		snprintf(t->proc_msg, TRIAL_MSG, "reading /proc/self in the fresh /proc");
		return;
	}
	self[n] = '\0';
	if (strcmp(self, "1") != 0) {
		t->proc_err = EINVAL;
		snprintf(t->proc_msg, TRIAL_MSG, "the fresh /proc shows pid %s, not the namespace's 1", self);
	}
}

/* lo up, and a socket bound on it; the namespace must hold nothing else. */
static void trial_net(struct trial *t)
{
	struct sbx_error err = { 0 };
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct if_nameindex *ifs;
	cleanup_close int sock = -1;
	size_t len = 0;

	t->net_done = true;
	if (sbx_loopback_up(&err) < 0)
		return trial_fail(&t->net_err, t->net_msg, &err);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		t->net_err = errno;
		snprintf(t->net_msg, TRIAL_MSG, "binding 127.0.0.1 in the new namespace");
		return;
	}
	ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; i && i->if_index && len + IF_NAMESIZE + 2 < sizeof(t->net_ifaces); i++)
		len += (size_t)snprintf(t->net_ifaces + len, sizeof(t->net_ifaces) - len, "%s%s", len ? "," : "",
					i->if_name);
	if (ifs)
		if_freenameindex(ifs);
}

/* A writable overlay with its upper on tmpfs, as --writable-root makes. */
static void trial_overlay(struct trial *t, int root)
{
	static const char *const dirs[] = { "lower", "upper", "work" };
	char path[3][40], why[256];
	cleanup_close int fs = -1;
	cleanup_close int mnt = -1;
	cleanup_close int file = -1;
	int fds[3] = { -1, -1, -1 };

	t->overlay_done = true;
	for (int i = 0; i < 3; i++) {
		if (mkdirat(root, dirs[i], 0755) < 0 ||
		    (fds[i] = openat(root, dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
			t->overlay_err = errno;
			snprintf(t->overlay_msg, TRIAL_MSG, "making the overlay's directories");
			goto out;
		}
		snprintf(path[i], sizeof(path[i]), "/proc/self/fd/%d", fds[i]);
	}
	fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0) {
		t->overlay_err = errno;
		snprintf(t->overlay_msg, TRIAL_MSG, "overlayfs is not available");
		goto out;
	}
	if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", path[0], 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", path[1], 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "workdir", path[2], 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		t->overlay_err = errno;
		sbx_fs_context_error(fs, why, sizeof(why));
		snprintf(t->overlay_msg, TRIAL_MSG, "overlayfs refused%s%s", why[0] ? " (kernel: " : "",
			 why[0] ? why + 2 : "");
		if (why[0])
			strncat(t->overlay_msg, ")", TRIAL_MSG - strlen(t->overlay_msg) - 1);
		goto out;
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	file = mnt < 0 ? -1 : openat(mnt, "written", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (file < 0) {
		t->overlay_err = errno;
		snprintf(t->overlay_msg, TRIAL_MSG, mnt < 0 ? "mounting the overlay" : "writing through the overlay");
	}
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Pid 1 of the trial's pid namespace. */
static int trial_init(struct trial *t)
{
	struct sbx_error err = { 0 };
	cleanup_close int root = -1;

	alarm(20);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		t->setup_err = errno;
		snprintf(t->setup_msg, TRIAL_MSG, "making the trial's mounts private");
		return 0;
	}
	root = trial_root(&err);
	if (root < 0) {
		trial_fail(&t->setup_err, t->setup_msg, &err);
		return 0;
	}
	t->setup_done = true;
	trial_net(t);
	trial_overlay(t, root);
	trial_proc(t, root);
	return 0;
}

static int nested_userns(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) < 0 ? errno : 0);
	if (pid < 0)
		return errno;
	if (waitpid(pid, &status, 0) < 0)
		return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

static void trial_child(struct trial *t, const struct sbx_idplan *plan, int ready, int go)
{
	pid_t pid;
	int status;
	char c = 0;

	alarm(20);
	if (unshare(CLONE_NEWUSER) < 0) {
		t->userns_err = errno;
		_exit(0);
	}
	(void)!write(ready, "x", 1);
	if (read(go, &c, 1) != 1 || c != 'y')
		_exit(0);
	if (setresgid(plan->setup_gid, plan->setup_gid, plan->setup_gid) < 0 ||
	    setresuid(plan->setup_uid, plan->setup_uid, plan->setup_uid) < 0) {
		t->setup_err = errno;
		snprintf(t->setup_msg, TRIAL_MSG, "taking the setup ids %u:%u inside", plan->setup_uid,
			 plan->setup_gid);
		_exit(0);
	}
	t->nested_err = nested_userns();
	if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0) {
		t->setup_err = errno;
		snprintf(t->setup_msg, TRIAL_MSG, "unsharing the mount, pid, network, ipc and uts namespaces");
		_exit(0);
	}
	pid = fork();
	if (pid == 0)
		_exit(trial_init(t));
	if (pid < 0) {
		t->setup_err = errno;
		snprintf(t->setup_msg, TRIAL_MSG, "forking pid 1 of the new pid namespace");
		_exit(0);
	}
	waitpid(pid, &status, 0);
	_exit(0);
}

/* Run the trial namespace; PLAN_ERR/MAP_ERR say whether sbx could make and
 * install the maps. */
static void run_trial(struct trial *t, int *plan_r, struct sbx_error *plan_err, int *map_r,
		      struct sbx_error *map_err)
{
	struct sbx_idplan plan;
	int ready[2], go[2];
	pid_t pid;
	char c;

	*map_r = -1;
	*plan_r = sbx_idplan_make(1000, 1000, -1, -1, &plan, plan_err);
	t->userns_err = -1;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		t->userns_err = errno;
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		t->userns_err = 0;
		trial_child(t, &plan, ready[1], go[0]);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (pid < 0) {
		t->userns_err = errno;
	} else if (read(ready[0], &c, 1) == 1) {
		if (*plan_r == 0)
			*map_r = sbx_idplan_apply(&plan, pid, map_err);
		(void)!write(go[1], *plan_r == 0 && *map_r == 0 ? "y" : "n", 1);
	}
	close(ready[0]);
	close(go[1]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

/* ---- the checks ---- */

/* The installed sbx, which an AppArmor profile must name. */
static void exe_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		snprintf(buf, len, "/usr/local/bin/sbx");
	else
		buf[n] = '\0';
}

/* Why the kernel refused a user namespace, and what lifts it. */
static void userns_refused(struct check *c, int e, const char *step)
{
	long max = read_sysctl("/proc/sys/user/max_user_namespaces");
	long clone = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
	long aa = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
	char exe[PATH_MAX];

	set(c, CHECK_FAIL, "refused (%s: %s)", step, strerror(e));
	if (e == ENOSPC || max == 0) {
		remedy(c, "sysctl -w user.max_user_namespaces=15000 (it is %ld%s)", max,
		       max == 0 ? "" : " here, or lower in an enclosing namespace");
	} else if (clone == 0) {
		remedy(c, "sysctl -w kernel.unprivileged_userns_clone=1");
	} else if (aa == 1) {
		exe_path(exe, sizeof(exe));
		remedy(c, "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or load this AppArmor "
			  "profile (/etc/apparmor.d/sbx; apparmor_parser -r /etc/apparmor.d/sbx):");
		snprintf(c->extra, sizeof(c->extra),
			 "abi <abi/4.0>,\ninclude <tunables/global>\nprofile sbx %.900s flags=(unconfined) {\n"
			 "  userns,\n  include if exists <local/sbx>\n}\n", exe);
	} else {
		remedy(c, "the host or the container sbx runs in forbids user namespaces (a container "
			  "runtime's seccomp profile?): run sbx on the host or allow unshare(CLONE_NEWUSER)");
	}
}

static void check_userns(struct check *c, const struct trial *t, bool root, int map_r,
			 const struct sbx_error *map_err)
{
	long aa = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");

	c->essential = true;
	fact_bool(c, "apparmor_restrict_unprivileged_userns", aa == 1);
	if (t->userns_err != 0) {
		fact_bool(c, "nested", false);
		return userns_refused(c, t->userns_err < 0 ? EINVAL : t->userns_err, "unshare(CLONE_NEWUSER)");
	}
	/* Ubuntu's restriction lets the unshare through and takes the
	 * capabilities away inside: the first step that needs one fails. */
	if (t->setup_err == EPERM || t->setup_err == EACCES) {
		fact_bool(c, "nested", false);
		return userns_refused(c, t->setup_err, "without capabilities inside");
	}
	if (aa == 1 && map_r < 0 && (map_err->err == EPERM || map_err->err == EACCES)) {
		fact_bool(c, "nested", false);
		return userns_refused(c, map_err->err, "writing its id maps");
	}
	fact_bool(c, "nested", t->nested_err == 0);
	set(c, CHECK_OK, "%s, nested %s", root ? "as root" : "unprivileged",
	    t->nested_err == 0 ? "allowed" : "refused");
}

/* An error's message as the detail and its hint (the last parenthesis,
 * sbx_error_hint's) as the remedy. */
static void split_hint(struct check *c, const char *msg)
{
	size_t len = strlen(msg);
	const char *open = NULL;
	int depth = 0;

	for (size_t i = len; len && msg[len - 1] == ')' && i-- > 0;) {
		depth += msg[i] == ')' ? 1 : msg[i] == '(' ? -1 : 0;
		if (depth == 0) {
			open = msg + i;
			break;
		}
	}
	if (open == NULL || open == msg || open[-1] != ' ') {
		set(c, CHECK_FAIL, "%s", msg);
		return;
	}
	set(c, CHECK_FAIL, "%.*s", (int)(open - 1 - msg), msg);
	remedy(c, "%.*s", (int)(msg + len - 1 - open - 1), open + 1);
}

static void check_idmap(struct check *c, bool root, int plan_r, const struct sbx_error *plan_err, int map_r,
			const struct sbx_error *map_err)
{
	struct sbx_id_range u = { 0 }, g = { 0 };
	char path[64];
	bool newuid = sbx_find_map_helper("newuidmap", path, sizeof(path));
	bool newgid = sbx_find_map_helper("newgidmap", path, sizeof(path));
	struct passwd *pw = getpwuid(getuid());
	const char *user = pw ? pw->pw_name : NULL;
	/* Looked up as sbx run looks them up: by name, else by uid. */
	bool has_u = sbx_read_subid_range("/etc/subuid", user, getuid(), &u);
	bool has_g = sbx_read_subid_range("/etc/subgid", user, getuid(), &g);

	c->essential = true;
	fact_bool(c, "subuid", has_u);
	fact_bool(c, "subgid", has_g);
	fact_bool(c, "newuidmap", newuid);
	fact_bool(c, "newgidmap", newgid);
	if (plan_r < 0) {
		split_hint(c, plan_err->msg);
		return;
	}
	if (map_r < 0 && map_err->msg[0]) {
		set(c, CHECK_FAIL, "installing the maps: %s", map_err->msg);
		return;
	}
	if (root) {
		set(c, CHECK_OK, "root: sandboxes map to %s %u:%u", has_u ? "root's /etc/subuid range" : "the range",
		    has_u ? u.start : SBX_ROOT_RANGE_BASE, has_u ? u.count : SBX_ROOT_RANGE_COUNT);
		return;
	}
	if (has_u && has_g && newuid && newgid) {
		set(c, CHECK_OK, "subuid %u:%u, subgid %u:%u, newuidmap/newgidmap", u.start, u.count, g.start,
		    g.count);
		return;
	}
	set(c, CHECK_WARN, "single id (no %s%s%s): chown and other users inside fail",
	    !has_u || !has_g ? "subordinate ranges" : "",
	    (!has_u || !has_g) && (!newuid || !newgid) ? ", " : "", !newuid || !newgid ? "newuidmap" : "");
	if (!newuid || !newgid)
		remedy(c, "install newuidmap/newgidmap (Debian: apt install uidmap)%s",
		       !has_u || !has_g ? " and add ranges: usermod --add-subuids 100000-165535 "
					      "--add-subgids 100000-165535 USER" : "");
	else
		remedy(c, "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", user ? user : "USER");
}

/* A trial step that needs the namespaces: skipped with its reason when
 * they could not be made. */
static bool trial_reached(struct check *c, const struct trial *t, bool done)
{
	if (t->userns_err != 0) {
		set(c, CHECK_FAIL, "not tried: no user namespace");
		return false;
	}
	if (!done) {
		set(c, CHECK_FAIL, "not tried: %s%s%s", t->setup_msg[0] ? t->setup_msg : "the trial namespace failed",
		    t->setup_err > 0 ? ": " : "", t->setup_err > 0 ? strerror(t->setup_err) : "");
		return false;
	}
	return true;
}

static void check_proc(struct check *c, const struct trial *t)
{
	c->essential = true;
	if (!trial_reached(c, t, t->proc_done))
		return;
	if (t->proc_err) {
		set(c, CHECK_FAIL, "%s", t->proc_msg);
		remedy(c, "run sbx on the host, or in a container whose /proc is not partly masked "
			  "(e.g. docker --security-opt systempaths=unconfined)");
		return;
	}
	set(c, CHECK_OK, "fresh, masked, shows only the sandbox's processes");
}

static void check_net(struct check *c, const struct trial *t)
{
	c->essential = true;
	if (!trial_reached(c, t, t->net_done))
		return;
	if (t->net_err) {
		set(c, CHECK_FAIL, "%s: %s", t->net_msg, strerror(t->net_err));
		remedy(c, "allow network namespaces (or use --network host, with no network isolation)");
		return;
	}
	fact_list(c, "interfaces", t->net_ifaces);
	set(c, CHECK_OK, "own namespace, lo up (interfaces: %s)", t->net_ifaces);
}

static void controller_names(unsigned int mask, const char *sep, char *buf, size_t len)
{
	static const char *const names[] = { "memory", "cpu", "pids" };
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < 3; i++)
		if (mask & (1u << i))
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? sep : "", names[i]);
}

static void check_cgroup(struct check *c)
{
	struct sbx_cgroup_host_info info;
	char usable[64], v1[64], v2[64], pretty[64];
	const unsigned int all = SBX_CG_MEMORY | SBX_CG_CPU | SBX_CG_PIDS;

	memset(&info, 0, sizeof(info));
	sbx_cgroup_describe(&info);
	controller_names(info.usable, ",", usable, sizeof(usable));
	controller_names(info.v1_controllers, ",", v1, sizeof(v1));
	controller_names(info.v2_controllers, ",", v2, sizeof(v2));
	fact_str(c, "mode", sbx_cgroup_mode_name(info.mode));
	fact_str(c, "cgroup2_mount", info.mount[0] ? info.mount : NULL);
	fact_list(c, "v1_controllers", v1);
	fact_list(c, "v2_controllers", v2);
	fact_list(c, "delegated", usable);
	fact_str(c, "parent", info.parent[0] ? info.parent : NULL);
	if ((info.usable & all) == all) {
		set(c, CHECK_OK, "%s, memory, cpu, pids delegated", sbx_cgroup_mode_name(info.mode));
		return;
	}
	controller_names(info.v1_controllers, ", ", pretty, sizeof(pretty));
	if (info.mode == SBX_CGROUP_MODE_HYBRID && info.v1_controllers)
		set(c, CHECK_WARN, "hybrid (%s on v1): limits by %s", pretty,
		    info.usable ? "cgroup for some, rlimit for the rest" : "rlimit only");
	else
		set(c, CHECK_WARN, "%s (delegated: %s): limits by %s", sbx_cgroup_mode_name(info.mode),
		    usable[0] ? usable : "none", info.usable ? "cgroup for some, rlimit for the rest" : "rlimit only");
	fact_str(c, "why", info.why[0] ? info.why : NULL);
	if (info.mode == SBX_CGROUP_MODE_HYBRID || info.mode == SBX_CGROUP_MODE_V1)
		remedy(c, "boot with systemd.unified_cgroup_hierarchy=1");
	else if (info.why[0])
		remedy(c, "%s", info.why);
	else
		remedy(c, "delegate a cgroup v2 subtree to this user (systemd: Delegate=yes in user@.service)");
}

/* Load a filter in a child and see it answer a call with its errno. */
static bool seccomp_acts(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

		if (ctx == NULL || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTRECOVERABLE), SCMP_SYS(getppid), 0) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(2);
		_exit(syscall(SYS_getppid) == -1 && errno == ENOTRECOVERABLE ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void check_seccomp(struct check *c)
{
	static const char *const needed[] = { "kill_process", "kill_thread", "trap", "errno", "log", "allow" };
	struct sbx_error ignored;
	cleanup_free char *avail = NULL;
	char missing[128] = "";
	size_t n = 0;

	fact_int(c, "api_level", seccomp_api_get());
	if (sbx_read_file("/proc/sys/kernel/seccomp/actions_avail", 4096, &avail, &ignored) == 0) {
		avail[strcspn(avail, "\n")] = '\0';
		for (char *p = avail; *p; p++)
			if (*p == ' ')
				*p = ',';
		fact_list(c, "actions", avail);
		for (size_t i = 0; i < SBX_ARRAY_SIZE(needed); i++) {
			char *hit = strstr(avail, needed[i]);
			size_t l = strlen(needed[i]);

			while (hit && !((hit == avail || hit[-1] == ',') && (hit[l] == ',' || hit[l] == '\0')))
				hit = strstr(hit + 1, needed[i]);
			if (hit == NULL)
				n += (size_t)snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? "," : "", needed[i]);
		}
	} else {
		fact_list(c, "actions", "");
	}
	if (!seccomp_acts()) {
		set(c, CHECK_FAIL, "a filter could not be loaded or did not act");
		remedy(c, "a kernel with CONFIG_SECCOMP_FILTER; meanwhile only --seccomp unconfined runs");
		return;
	}
	if (missing[0]) {
		set(c, CHECK_WARN, "filters work (API %d) but the kernel lacks actions: %s", seccomp_api_get(), missing);
		remedy(c, "a newer kernel (the default profile uses kill_process, trap and log)");
		return;
	}
	set(c, CHECK_OK, "filters act (libseccomp API %d; every action sbx uses)", seccomp_api_get());
}

static void check_landlock(struct check *c)
{
	int abi = sbx_landlock_abi();

	fact_int(c, "abi", abi);
	if (abi == 0) {
		set(c, CHECK_WARN, "not offered: writes are confined by mounts only");
		remedy(c, "boot with lsm=landlock,... (CONFIG_SECURITY_LANDLOCK; see /sys/kernel/security/lsm)");
		return;
	}
	set(c, CHECK_OK, "ABI %d%s", abi, abi >= 6 ? ", signals and abstract sockets scoped" : "");
}

static void check_overlay(struct check *c, const struct trial *t)
{
	if (!trial_reached(c, t, t->overlay_done)) {
		c->status = CHECK_WARN;
		return;
	}
	if (t->overlay_err) {
		set(c, CHECK_WARN, "%s (%s): no --writable-root, images need every mount point", t->overlay_msg,
		    strerror(t->overlay_err));
		remedy(c, "Linux 5.11+ with overlayfs (modprobe overlay)");
		return;
	}
	set(c, CHECK_OK, "in a user namespace, writable upper on tmpfs (--writable-root)");
}

static const char *fs_name(long type)
{
	switch (type) {
	case EXT4_SUPER_MAGIC: return "ext4";
	case XFS_SUPER_MAGIC: return "xfs";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case TMPFS_MAGIC: return "tmpfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlay";
	default: return NULL;
	}
}

/* Root mode shows a root-owned workspace to the sandbox through an
 * idmapped mount: tried on the file system of the current directory. */
static void check_idmapped(struct check *c, bool root)
{
	struct sbx_error err = { 0 };
	struct sbx_idmap map;
	struct statfs sf;
	char fsbuf[32];
	const char *fs;
	cleanup_close int ns = -1;
	cleanup_close int tree = -1;

	if (!root) {
		set(c, CHECK_INFO, "not needed rootless (the workspace is the caller's own)");
		return;
	}
	fs = statfs(".", &sf) == 0 ? fs_name((long)sf.f_type) : "?";
	if (fs == NULL) {
		snprintf(fsbuf, sizeof(fsbuf), "0x%lx", (unsigned long)sf.f_type);
		fs = fsbuf;
	}
	fact_str(c, "filesystem", fs);
	sbx_idmap_build(1000, SBX_ROOT_RANGE_BASE + 1000, NULL, &map);
	ns = sbx_userns_with_maps(&map, &map, &err);
	tree = ns < 0 ? -1 : sbx_clone_tree(".", &err);
	if (tree < 0 || sbx_set_mount_idmap(tree, ns, &err) < 0) {
		set(c, CHECK_WARN, "refused on %s here: %.400s", fs, err.msg);
		remedy(c, "a root-owned workspace needs idmapped mounts (Linux 5.12+, and a file system "
			  "that has them): give a workspace owned by a user instead");
		return;
	}
	set(c, CHECK_OK, "on %s (the current directory's file system)", fs);
}

/* Run ARGV with stdout and stderr into OUT, killed after TIMEOUT_MS: the
 * exit status, -2 on timeout, -1 when it could not start.  EXE, when not
 * -1, is the program to run (an O_PATH descriptor, not close-on-exec so
 * that a script's interpreter can open it), else ARGV[0] on PATH. */
static int run_bounded(int exe, char *const argv[], int timeout_ms, char *out, size_t len)
{
	int p[2], status = -1;
	size_t n = 0;
	struct timespec start, now;
	pid_t pid;

	out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		dup2(null, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (exe >= 0)
			execveat(exe, "", argv, environ, AT_EMPTY_PATH);
		else
			execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		long left;
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(p[0]);
			return -2;
		}
		r = read(p[0], out + n, len - 1 - n);
		if (r <= 0 && !(r < 0 && errno == EINTR))
			break;
		if (r > 0)
			n += (size_t)r;
		out[n] = '\0';
		if (n == len - 1) {
			char sink[256];

			while (read(p[0], sink, sizeof(sink)) > 0)
				;
			break;
		}
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	kill(-pid, SIGKILL);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The last line with text: where a failing program says why. */
static const char *last_line(char *text)
{
	size_t n = strlen(text);
	char *nl;

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = '\0';
	nl = strrchr(text, '\n');
	return nl ? nl + 1 : text;
}

/* ---- runsc, tried the way a sandbox runs it ---- */

#define RUNSC_VERSION_MS 5000
#define RUNSC_FLAGS_MS 3000
#define RUNSC_TRIAL_MS 10000

/* sbx_runsc_version, within RUNSC_VERSION_MS: a runsc that hangs must not
 * hang sbx check.  It runs in a child of its own process group, which goes
 * whole (runsc with it) when time is up. */
static int runsc_version_bounded(const char *path, char *out, size_t len, struct sbx_error *err)
{
	struct pollfd pfd = { .events = POLLIN };
	int p[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return sbx_fail(err, errno, "runsc --version");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct sbx_error child_err = { 0 };
		char line[512];

		setpgid(0, 0);
		close(p[0]);
		if (sbx_runsc_version(path, line, sizeof(line), &child_err) < 0)
			_exit(sbx_write_all(p[1], child_err.msg, strlen(child_err.msg)) < 0 ? 2 : 1);
		_exit(sbx_write_all(p[1], line, strlen(line)) < 0 ? 2 : 0);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return sbx_fail(err, errno, "runsc --version");
	}
	setpgid(pid, pid);
	pfd.fd = p[0];
	if (poll(&pfd, 1, RUNSC_VERSION_MS) <= 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		close(p[0]);
		waitpid(pid, NULL, 0);
		return sbx_fail(err, 0, "%s --version timed out", path);
	}
	n = read(p[0], out, len - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	kill(-pid, SIGKILL);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return sbx_fail(err, 0, "%s", out[0] && WIFEXITED(status) && WEXITSTATUS(status) == 1 ? out :
						"runsc --version failed");
	return 0;
}

/* runsc's default platform, from its own flag table (`runsc flags`: a line
 * "-platform string", then its help ending in (default "ptrace")): sbx
 * passes no --platform, so this is the one its sandboxes get. */
static bool runsc_platform(const char *path, char *out, size_t len)
{
	static const char key[] = "-platform string\n", dflt[] = "(default \"";
	char *argv[] = { (char *)path, "flags", NULL };
	char flags[16384], name[64];
	const char *at, *def;

	if (run_bounded(-1, argv, RUNSC_FLAGS_MS, flags, sizeof(flags)) != 0)
		return false;
	at = strstr(flags, key);
	if (at == NULL)
		return false;
	at += sizeof(key) - 1;
	def = strstr(at, dflt);
	if (def == NULL || memchr(at, '\n', (size_t)(def - at)) != NULL)
		return false;
	def += sizeof(dflt) - 1;
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(def, "\"\n"), def);
	sbx_escape_controls(name, out, len);
	return out[0] != '\0';
}

/* What the trial saw, written by its child into memory shared with sbx. */
struct runsc_trial {
	int status;           /* runsc run's exit status; -2: timed out; -1: not run */
	int err;              /* errno of the step before it that failed */
	char step[TRIAL_MSG];
	char out[1024];       /* runsc's stdout and stderr */
};

/* As small a bundle as a sandbox's: the host's tree read-only as its root
 * (nothing to copy), the sandbox user, a fresh /proc, no network and no
 * user namespace of its own (runsc cannot make one inside sbx's). */
static const char runsc_trial_config[] =
	"{\"ociVersion\":\"1.0.2\",\"hostname\":\"sbx-check\","
	"\"root\":{\"path\":\"/\",\"readonly\":true},"
	"\"process\":{\"args\":[\"/bin/true\"],\"env\":[\"PATH=/usr/bin:/bin\"],\"cwd\":\"/\","
	"\"user\":{\"uid\":1000,\"gid\":1000},\"noNewPrivileges\":true},"
	"\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}],"
	"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"ipc\"},"
	"{\"type\":\"uts\"},{\"type\":\"network\"}]}}\n";

static void runsc_trial_fail(struct runsc_trial *t, int e, const char *step)
{
	t->err = e ? e : EPERM;
	snprintf(t->step, TRIAL_MSG, "%s", step);
}

/* The bundle and runsc's state directory on a tmpfs over /tmp of the
 * trial's own mount namespace: nothing on the host is written and nothing
 * outlives the trial. */
static int runsc_trial_bundle(struct runsc_trial *t)
{
	struct sbx_error err = { 0 };
	cleanup_close int root = -1;
	cleanup_close int fd = -1;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		runsc_trial_fail(t, errno, "making the trial's mounts private");
		return -1;
	}
	root = trial_root(&err);
	if (root < 0) {
		trial_fail(&t->err, t->step, &err);
		return -1;
	}
	if (mkdirat(root, "bundle", 0700) < 0 || mkdirat(root, "state", 0700) < 0 ||
	    (fd = openat(root, "bundle/config.json", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600)) < 0 ||
	    sbx_write_all(fd, runsc_trial_config, strlen(runsc_trial_config)) < 0) {
		runsc_trial_fail(t, errno, "writing the trial's bundle");
		return -1;
	}
	return 0;
}

/* Pid 1 of the trial's pid namespace: runsc finds itself through
 * /proc/self, so the namespace gets its own /proc; whatever runsc leaves
 * running dies with this process. */
static int runsc_trial_init(struct runsc_trial *t, int exe, char *const argv[])
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		runsc_trial_fail(t, errno, "mounting /proc for the trial's pid namespace");
		return 0;
	}
	t->status = run_bounded(exe, argv, RUNSC_TRIAL_MS, t->out, sizeof(t->out));
	return 0;
}

/* runsc run, as the namespace's root in a user namespace with the maps of
 * a sandbox for user 1000 (PLAN), as runsc.h says sbx runs it; runsc is
 * pid 1 of a pid namespace of its own, so that what it starts dies with it. */
static void runsc_trial_child(struct runsc_trial *t, const struct sbx_idplan *plan, const char *path, int ready,
			      int go)
{
	char *argv[] = { (char *)path, "--root", "/tmp/state", "--network=none", "--ignore-cgroups", "run",
			 "--bundle", "/tmp/bundle", "sbx-check", NULL };
	/* Opened as the caller: the tmpfs over /tmp may hide it, and the
	 * namespace's ids may not reach it by its path. */
	int exe = open(path, O_PATH);
	pid_t pid;
	char c = 0;

	alarm(RUNSC_TRIAL_MS / 1000 + 5);
	if (exe < 0)
		return runsc_trial_fail(t, errno, "opening runsc");
	if (unshare(CLONE_NEWUSER) < 0)
		return runsc_trial_fail(t, errno, "unshare(CLONE_NEWUSER)");
	(void)!write(ready, "x", 1);
	if (read(go, &c, 1) != 1 || c != 'y')
		return;
	if (setresgid(plan->setup_gid, plan->setup_gid, plan->setup_gid) < 0 ||
	    setresuid(plan->setup_uid, plan->setup_uid, plan->setup_uid) < 0)
		return runsc_trial_fail(t, errno, "taking the setup ids inside");
	/* Set after the ids change, which clears it: a killed sbx check
	 * takes the trial, and with it runsc's pid namespace, along. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* A network namespace of its own too: runsc's control socket is an
	 * abstract one named after the container, which a concurrent sbx check
	 * would otherwise hold ("address already in use"). */
	if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET) < 0)
		return runsc_trial_fail(t, errno, "unsharing the mount, pid and network namespaces");
	if (runsc_trial_bundle(t) < 0)
		return;
	pid = fork();
	if (pid == 0)
		_exit(runsc_trial_init(t, exe, argv));
	if (pid < 0)
		return runsc_trial_fail(t, errno, "forking pid 1 of the new pid namespace");
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void run_runsc_trial(struct runsc_trial *t, const char *path)
{
	struct sbx_error err = { 0 };
	struct sbx_idplan plan;
	int ready[2], go[2];
	pid_t pid;
	char c;

	t->status = -1;
	if (sbx_idplan_make(1000, 1000, -1, -1, &plan, &err) < 0)
		return trial_fail(&t->err, t->step, &err);
	if (pipe2(ready, O_CLOEXEC) < 0)
		return runsc_trial_fail(t, errno, "pipe2");
	if (pipe2(go, O_CLOEXEC) < 0) {
		runsc_trial_fail(t, errno, "pipe2");
		close(ready[0]);
		close(ready[1]);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		runsc_trial_child(t, &plan, path, ready[1], go[0]);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (pid < 0) {
		runsc_trial_fail(t, errno, "fork");
	} else if (read(ready[0], &c, 1) == 1) {
		if (sbx_idplan_apply(&plan, pid, &err) < 0)
			trial_fail(&t->err, t->step, &err);
		(void)!write(go[1], t->err ? "n" : "y", 1);
	}
	close(ready[0]);
	close(go[1]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

/* What `sbx run --runtime auto` picks and why, as the probe decides it. */
static const char *auto_choice(const struct sbx_runsc_probe *p)
{
	return p->found && p->usable ? "runsc" : "native";
}

/* Without subordinate ranges, the remedy is the one `sbx run --runtime
 * runsc` gives: the exact /etc/subuid and /etc/subgid line to add.  Else
 * (no newuidmap) the probe's reason says it. */
static void runsc_unusable_remedy(struct check *c, const char *why)
{
	struct sbx_error err = { 0 };
	struct sbx_id_range r;
	struct passwd *pw = getpwuid(getuid());
	const char *user = pw ? pw->pw_name : NULL;
	char *hint;
	size_t n;

	if (sbx_read_subid_range("/etc/subuid", user, getuid(), &r) &&
	    sbx_read_subid_range("/etc/subgid", user, getuid(), &r)) {
		remedy(c, "%s", why);
		return;
	}
	sbx_runsc_fail_without_range(&err);
	hint = strstr(err.msg, " (");
	if (hint == NULL) {
		remedy(c, "%s", why);
		return;
	}
	hint += 2;
	n = strlen(hint);
	if (n > 0 && hint[n - 1] == ')')
		hint[n - 1] = '\0';
	remedy(c, "%s", hint);
}

static void check_runsc(struct check *c, bool root)
{
	const char *mode = root ? "root" : "rootless";
	struct sbx_runsc_probe probe;
	struct sbx_error err = { 0 };
	struct runsc_trial *t = MAP_FAILED;
	char path[PATH_MAX], raw[256], version[128] = "", platform[64] = "", out[1024] = "", why[512] = "";
	bool has_version = false, has_platform = false;

	sbx_runsc_probe(&probe);
	sbx_escape_controls(probe.path, path, sizeof(path));
	if (!probe.found) {
		set(c, CHECK_INFO, "not installed: --runtime auto runs sbx's own sandbox (native)");
		remedy(c, "for the gVisor backend, install runsc (Debian: apt-get install runsc; "
			  "https://gvisor.dev/docs/user_guide/install/)");
		goto facts;
	}
	has_version = runsc_version_bounded(probe.path, raw, sizeof(raw), &err) == 0;
	if (!has_version) {
		sbx_escape_controls(err.msg, out, sizeof(out));
		set(c, CHECK_WARN, "%.300s", out);
		remedy(c, "reinstall runsc%s", probe.usable ? " (--runtime auto picks it and would fail; "
							       "--runtime native meanwhile)" : "");
		goto facts;
	}
	sbx_escape_controls(raw, version, sizeof(version));
	has_platform = runsc_platform(probe.path, platform, sizeof(platform));
	if (!probe.usable) {
		sbx_escape_controls(probe.why, why, sizeof(why));
		set(c, CHECK_INFO, "%s, platform %s; %s mode not usable by this caller (%s): --runtime auto runs "
				   "native", version, has_platform ? platform : "unknown", mode, why);
		runsc_unusable_remedy(c, why);
		goto facts;
	}
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED) {
		set(c, CHECK_WARN, "%s; not tried: mmap: %s", version, strerror(errno));
		remedy(c, "run sbx check again");
		goto facts;
	}
	memset(t, 0, sizeof(*t));
	run_runsc_trial(t, probe.path);
	/* runsc's words, whatever runsc on PATH is: no control characters
	 * to a terminal, nothing but UTF-8 into the JSON. */
	sbx_escape_controls(last_line(t->out), out, sizeof(out));
	if (t->status == 0) {
		set(c, CHECK_OK, "%s, platform %s; %s mode works (runsc ran /bin/true as 1000:1000 in sbx's "
			       "id maps): --runtime auto runs runsc", version, has_platform ? platform : "unknown", mode);
	} else if (t->status == -1) {
		set(c, CHECK_WARN, "%s; %s mode not tried: %s: %s", version, mode, t->step[0] ? t->step : "runsc",
		    strerror(t->err ? t->err : ENOEXEC));
		remedy(c, "--runtime auto picks runsc here and may fail: see sbx check's other lines, or use "
			  "--runtime native");
	} else {
		char how[32] = "timed out";

		if (t->status != -2)
			snprintf(how, sizeof(how), "failed (exit %d)", t->status);
		set(c, CHECK_WARN, "%s, platform %s; %s mode: runsc run %s%s%.400s", version,
		    has_platform ? platform : "unknown", mode, how, out[0] && t->status != -2 ? ": " : "",
		    t->status == -2 ? "" : out);
		remedy(c, "--runtime auto picks runsc here and would fail: see runsc's own diagnostics "
			  "(runsc --debug --debug-log=/tmp/runsc/ ...), or use --runtime native");
	}
facts:
	fact_str(c, "path", probe.found ? path : NULL);
	fact_str(c, "version", has_version ? version : NULL);
	fact_str(c, "platform", has_platform ? platform : NULL);
	fact_str(c, "mode", mode);
	fact_bool(c, "usable", probe.found && probe.usable);
	fact_str(c, "why", why[0] ? why : NULL);
	if (t == MAP_FAILED)
		fact_str(c, "works", NULL);
	else
		fact_bool(c, "works", t->status == 0);
	fact_list(c, "modes", t != MAP_FAILED && t->status == 0 ? mode : "");
	fact_str(c, "auto", auto_choice(&probe));
	if (t != MAP_FAILED)
		munmap(t, sizeof(*t));
}

/* ---- output ---- */

static void print_text(const struct check *checks)
{
	char buf[4096];

	for (int i = 0; i < N_CHECKS; i++) {
		const struct check *c = &checks[i];

		snprintf(buf, sizeof(buf), "%-4s %s: %s%s%s\n", status_names[c->status], c->name, c->detail,
			 c->remedy[0] ? " — remedy: " : "", c->remedy);
		fputs(buf, stdout);
		for (const char *l = c->extra; *l;) {
			size_t n = strcspn(l, "\n");

			printf("       %.*s\n", (int)n, l);
			l += n + (l[n] == '\n');
		}
	}
}

static void gen_fact(yajl_gen g, const struct fact *f)
{
	sbx_json_gen_key(g, f->key);
	switch (f->type) {
	case FACT_STR: yajl_gen_string(g, (const unsigned char *)f->str, strlen(f->str)); break;
	case FACT_INT: yajl_gen_integer(g, f->num); break;
	case FACT_BOOL: yajl_gen_bool(g, (int)f->num); break;
	case FACT_NULL: yajl_gen_null(g); break;
	case FACT_LIST:
		yajl_gen_array_open(g);
		for (const char *p = f->str; *p;) {
			size_t n = strcspn(p, ",");

			yajl_gen_string(g, (const unsigned char *)p, n);
			p += n + (p[n] == ',');
		}
		yajl_gen_array_close(g);
		break;
	}
}

static int print_json(const struct check *checks, int code, bool root, struct sbx_error *err)
{
	static const char *const verdicts[] = { "full", "degraded", "unusable" };
	yajl_gen g = yajl_gen_alloc(NULL);
	cleanup_free char *text = NULL;
	int r;

	if (g == NULL)
		return sbx_fail(err, ENOMEM, "sbx check --json");
	yajl_gen_map_open(g);
	sbx_json_gen_key(g, "exit_code");
	yajl_gen_integer(g, code);
	sbx_json_gen_str(g, "verdict", verdicts[code]);
	sbx_json_gen_key(g, "root");
	yajl_gen_bool(g, root);
	sbx_json_gen_key(g, "checks");
	yajl_gen_map_open(g);
	for (int i = 0; i < N_CHECKS; i++) {
		const struct check *c = &checks[i];

		sbx_json_gen_key(g, c->id);
		yajl_gen_map_open(g);
		sbx_json_gen_str(g, "name", c->name);
		sbx_json_gen_str(g, "status", status_names[c->status]);
		sbx_json_gen_key(g, "essential");
		yajl_gen_bool(g, c->essential);
		sbx_json_gen_str(g, "detail", c->detail);
		sbx_json_gen_str(g, "remedy", c->remedy[0] ? c->remedy : NULL);
		if (c->extra[0])
			sbx_json_gen_str(g, "profile", c->extra);
		for (size_t j = 0; j < c->n_facts; j++)
			gen_fact(g, &c->facts[j]);
		yajl_gen_map_close(g);
	}
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	r = sbx_json_gen_text(g, &text, err);
	yajl_gen_free(g);
	if (r < 0)
		return -1;
	fputs(text, stdout);
	return 0;
}

static const char usage_check[] =
	"Usage: sbx check [--json]\n"
	"\n"
	"Try what this host lets sbx enforce, one line each, with a remedy for\n"
	"what is missing: user namespaces, id ranges, a fresh /proc, a network\n"
	"namespace, cgroups, seccomp, Landlock, overlayfs, idmapped mounts, and\n"
	"runsc: whether it runs for you, and what --runtime auto picks.\n"
	"\n"
	"      --json    one JSON object on stdout instead\n"
	"  -h, --help    show this help\n"
	"\n"
	"Exit status: 0 full isolation; 1 sbx runs, degraded (a warn or a failed\n"
	"optional layer); 2 sbx cannot run here; 125 bad usage.\n";

int sbx_check_main(int argc, char *argv[], struct sbx_error *err)
{
	static const struct { const char *id, *name; } names[N_CHECKS] = {
		[C_USERNS] = { "user_namespaces", "user namespaces" },
		[C_IDMAP] = { "id_maps", "id maps" },
		[C_PROC] = { "procfs", "procfs" },
		[C_NET] = { "network_namespace", "network namespace" },
		[C_CGROUP] = { "cgroups", "cgroups" },
		[C_SECCOMP] = { "seccomp", "seccomp" },
		[C_LANDLOCK] = { "landlock", "landlock" },
		[C_OVERLAY] = { "overlayfs", "overlayfs" },
		[C_IDMAPPED] = { "idmapped_mounts", "idmapped mounts" },
		[C_RUNSC] = { "runsc", "runsc" },
	};
	struct check checks[N_CHECKS];
	struct sbx_error plan_err = { 0 }, map_err = { 0 };
	struct trial *t;
	bool json = false, root = sbx_is_host_root();
	int plan_r, map_r, code = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_check, stdout);
			return 0;
		} else {
			return sbx_fail(err, 0, "sbx check: unknown argument '%.64s' (see sbx check --help)", argv[i]);
		}
	}
	memset(checks, 0, sizeof(checks));
	for (int i = 0; i < N_CHECKS; i++) {
		checks[i].id = names[i].id;
		checks[i].name = names[i].name;
	}
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return sbx_fail(err, errno, "sbx check: mmap");
	memset(t, 0, sizeof(*t));
	fflush(stdout);
	run_trial(t, &plan_r, &plan_err, &map_r, &map_err);
	check_userns(&checks[C_USERNS], t, root, map_r, &map_err);
	check_idmap(&checks[C_IDMAP], root, plan_r, &plan_err, map_r, &map_err);
	check_proc(&checks[C_PROC], t);
	check_net(&checks[C_NET], t);
	check_cgroup(&checks[C_CGROUP]);
	check_seccomp(&checks[C_SECCOMP]);
	check_landlock(&checks[C_LANDLOCK]);
	check_overlay(&checks[C_OVERLAY], t);
	check_idmapped(&checks[C_IDMAPPED], root);
	check_runsc(&checks[C_RUNSC], root);
	munmap(t, sizeof(*t));
	for (int i = 0; i < N_CHECKS; i++) {
		if (checks[i].status == CHECK_FAIL && checks[i].essential)
			code = 2;
		else if ((checks[i].status == CHECK_FAIL || checks[i].status == CHECK_WARN) && code < 1)
			code = 1;
	}
	if (json) {
		if (print_json(checks, code, root, err) < 0)
			return -1;
	} else {
		print_text(checks);
	}
	fflush(stdout);
	return code;
}
