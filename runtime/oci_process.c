/* A runtime-spec process's attributes, applied to the container's process
 * and to an exec's alike (see oci_process.h for where each part runs). */
#include "oci_process.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tty.h"
#include "util.h"

/* ---- a sealed copy of sbx ------------------------------------------------------- */

/* A process that sbx forks into a container runs sbx's binary until its
 * execve, and a container binary whose "#!" line names /proc/self/exe
 * makes that execve run sbx's binary again, inside the container, where
 * the container can then open it through /proc/PID/exe and, with root's
 * rights over it (a root engine's container is host root), overwrite the
 * host's sbx (runc's CVE-2019-5736).  So sbx enters containers from a
 * sealed memfd copy of itself: nothing can write to it. */

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define ORIGINAL_EXE_ENV "SBX_OCI_ORIGINAL_EXE"

bool sbx_oci_running_sealed(void)
{
	cleanup_close int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int seals = fd < 0 ? -1 : fcntl(fd, F_GET_SEALS);

	return seals >= 0 && (seals & SEALS) == SEALS;
}

static int sealed_copy(int src, struct sbx_error *err)
{
	cleanup_close int mfd = memfd_create("sbx", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	struct stat st;
	off_t at = 0;

	/* Kernels before 6.3 know no MFD_EXEC: their memfds are executable. */
	if (mfd < 0 && errno == EINVAL)
		mfd = memfd_create("sbx", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return sbx_fail(err, errno, "a sealed copy of sbx: memfd_create");
	if (fstat(src, &st) < 0)
		return sbx_fail(err, errno, "a sealed copy of sbx: /proc/self/exe");
	while (at < st.st_size) {
		ssize_t n = sendfile(mfd, src, &at, (size_t)(st.st_size - at));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return sbx_fail(err, n < 0 ? errno : EIO, "a sealed copy of sbx: copying");
	}
	if (fcntl(mfd, F_ADD_SEALS, SEALS) < 0)
		return sbx_fail(err, errno, "a sealed copy of sbx: sealing");
	return sbx_steal_fd(&mfd);
}

/* This process's arguments, from /proc/self/cmdline: NUL-terminated
 * strings, one after the other. */
static int own_argv(char **text, char ***argv, struct sbx_error *err)
{
	const size_t max = 1u << 20;
	cleanup_close int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	size_t len = 0, n = 0;
	ssize_t r;

	*text = malloc(max + 1);
	if (fd < 0 || *text == NULL)
		return sbx_fail(err, fd < 0 ? errno : ENOMEM, "a sealed copy of sbx: /proc/self/cmdline");
	while (len < max && (r = read(fd, *text + len, max - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sbx_fail(err, errno, "a sealed copy of sbx: /proc/self/cmdline");
		len += (size_t)r;
	}
	(*text)[len] = '\0';
	for (size_t i = 0; i < len; i++)
		n += (*text)[i] == '\0';
	*argv = calloc(n + 1, sizeof(**argv));
	if (*argv == NULL)
		return sbx_fail(err, ENOMEM, "a sealed copy of sbx");
	for (size_t i = 0, at = 0; i < n; i++) {
		(*argv)[i] = *text + at;
		at += strlen(*text + at) + 1;
	}
	return 0;
}

int sbx_oci_reexec_sealed(struct sbx_error *err)
{
	cleanup_close int src = -1;
	cleanup_close int mfd = -1;
	cleanup_free char *text = NULL;
	cleanup_free char **argv = NULL;
	char exe[PATH_MAX];
	ssize_t n;

	if (sbx_oci_running_sealed())
		return 0;
	src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return sbx_fail(err, errno, "a sealed copy of sbx: /proc/self/exe");
	mfd = sealed_copy(src, err);
	if (mfd < 0 || own_argv(&text, &argv, err) < 0)
		return -1;
	/* The copy has no directory: it finds its profiles beside the
	 * original (sbx_oci_process_prepare). */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		setenv(ORIGINAL_EXE_ENV, exe, 1);
	}
	syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
	return sbx_fail(err, errno, "a sealed copy of sbx: execveat");
}

/* sbx's `default` profile as sbx_seccomp_prepare would find it, from the
 * original binary's directory when this is the sealed copy. */
static void hardening_profile(char *out, size_t len)
{
	const char *orig = sbx_oci_running_sealed() ? getenv(ORIGINAL_EXE_ENV) : NULL;
	const char *slash = orig ? strrchr(orig, '/') : NULL;
	static const char *const beside[] = { "profiles", "../share/sbx/profiles" };

	snprintf(out, len, "default");
	for (size_t i = 0; slash != NULL && i < SBX_ARRAY_SIZE(beside); i++) {
		char path[PATH_MAX];

		if (snprintf(path, sizeof(path), "%.*s/%s/default.json", (int)(slash - orig), orig, beside[i]) <
			    (int)sizeof(path) &&
		    access(path, R_OK) == 0) {
			snprintf(out, len, "%s", path);
			return;
		}
	}
}

/* ---- prepare ---------------------------------------------------------------- */

static bool apparmor_enabled(void)
{
	char buf[4] = "";
	cleanup_close int fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);

	return fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && buf[0] == 'Y';
}

/* The LSM settings sbx can honour, checked on the host before anything
 * exists: inside the container /sys may be absent. */
static int check_lsm(const struct sbx_oci_process *p, struct sbx_error *err)
{
	if (p->apparmor_profile != NULL && p->apparmor_profile[0] != '\0' && !apparmor_enabled())
		return sbx_fail(err, 0, "process.apparmorProfile %s: AppArmor is not enabled on this host",
				p->apparmor_profile);
	/* sbx has no SELinux support: a label it cannot apply is refused,
	 * never dropped. */
	if (p->selinux_label != NULL && p->selinux_label[0] != '\0')
		return sbx_fail(err, 0, "process.selinuxLabel %s: sbx does not apply SELinux labels",
				p->selinux_label);
	return 0;
}

int sbx_oci_process_prepare(const struct sbx_oci_process *p, const char *seccomp_text, bool hardened,
			    struct sbx_oci_prepared *out, struct sbx_error *err)
{
	struct sbx_oci_caps caps;

	memset(out, 0, sizeof(*out));
	out->hardened = hardened;
	if (check_lsm(p, err) < 0 ||
	    sbx_oci_caps_plan(p, hardened, (unsigned int)cap_max_bits() - 1, &caps, err) < 0)
		return -1;
	if (seccomp_text != NULL && sbx_seccomp_compile(seccomp_text, "linux.seccomp", &out->seccomp, err) < 0)
		goto fail;
	/* Hardened: sbx's own profile and its host-safety filter H on top of
	 * the spec's; the kernel applies the strictest answer of all. */
	if (hardened) {
		char profile[PATH_MAX];

		hardening_profile(profile, sizeof(profile));
		if (sbx_seccomp_prepare(profile, false, &out->hardening, err) < 0) {
			sbx_error_wrap(err, "run.sbx.profile=hardened");
			goto fail;
		}
	}
	return 0;
fail:
	sbx_oci_prepared_free(out);
	return -1;
}

void sbx_oci_prepared_free(struct sbx_oci_prepared *pp)
{
	sbx_seccomp_free(&pp->seccomp);
	sbx_seccomp_free(&pp->hardening);
}

/* ---- capabilities ------------------------------------------------------------- */

static int first_cap(uint64_t set)
{
	return __builtin_ctzll(set);
}

static int refuse_caps(uint64_t extra, const char *set, const char *within, struct sbx_error *err)
{
	char *name = cap_to_name(first_cap(extra));
	int r;

	/* The spec's spelling, CAP_NET_ADMIN, not libcap's. */
	for (char *c = name; c != NULL && *c; c++)
		*c = (char)toupper((unsigned char)*c);
	r = sbx_fail(err, 0, "process.capabilities.%s: %s is not in %s", set, name ? name : "?", within);

	cap_free(name);
	return r;
}

int sbx_oci_caps_plan(const struct sbx_oci_process *p, bool hardened, unsigned int last_cap,
		      struct sbx_oci_caps *out, struct sbx_error *err)
{
	uint64_t known = last_cap >= 63 ? ~0ULL : (1ULL << (last_cap + 1)) - 1;

	memset(out, 0, sizeof(*out));
	/* Hardened: no capability at all, whatever the spec grants.  An
	 * absent capabilities object means none too. */
	if (hardened || !p->has_caps)
		return 0;
	/* A capability newer than the kernel cannot be held: runc drops it
	 * too, and the process is no stronger for it. */
	*out = (struct sbx_oci_caps){
		.bounding = p->cap_bounding & known,
		.effective = p->cap_effective & known,
		.inheritable = p->cap_inheritable & known,
		.permitted = p->cap_permitted & known,
		.ambient = p->cap_ambient & known,
	};
	/* capset(2) refuses these; said here with the capability's name. */
	if (out->effective & ~out->permitted)
		return refuse_caps(out->effective & ~out->permitted, "effective", "permitted", err);
	if (out->ambient & ~(out->permitted & out->inheritable))
		return refuse_caps(out->ambient & ~(out->permitted & out->inheritable), "ambient",
				   "both permitted and inheritable", err);
	return 0;
}

/* The bounding set limits what any later execve can gain; dropping needs
 * CAP_SETPCAP, so this runs while the process still has it. */
static int apply_bounding(uint64_t bounding, struct sbx_error *err)
{
	for (int cap = 0; cap < cap_max_bits(); cap++) {
		if (bounding & (1ULL << cap))
			continue;
		if (cap_drop_bound((cap_value_t)cap) < 0 && errno != EINVAL)
			return sbx_fail(err, errno, "dropping capability %d from the bounding set", cap);
	}
	return 0;
}

static int set_flags(cap_t c, cap_flag_t flag, uint64_t set)
{
	for (int cap = 0; cap < cap_max_bits(); cap++) {
		cap_value_t v = (cap_value_t)cap;

		if ((set & (1ULL << cap)) && cap_set_flag(c, flag, 1, &v, CAP_SET) < 0)
			return -1;
	}
	return 0;
}

static int apply_caps(const struct sbx_oci_caps *caps, struct sbx_error *err)
{
	cap_t c = cap_init();
	int r = 0;

	if (c == NULL)
		return sbx_fail(err, errno, "capabilities");
	if (set_flags(c, CAP_EFFECTIVE, caps->effective) < 0 || set_flags(c, CAP_PERMITTED, caps->permitted) < 0 ||
	    set_flags(c, CAP_INHERITABLE, caps->inheritable) < 0)
		r = sbx_fail(err, errno, "building the capability sets");
	else if (cap_set_proc(c) < 0)
		r = sbx_fail(err, errno, "setting the process's capabilities");
	cap_free(c);
	if (r < 0)
		return r;
	/* Ambient last: raising one needs it permitted and inheritable. */
	if (cap_reset_ambient() < 0 && errno != EINVAL)
		return sbx_fail(err, errno, "clearing the ambient capabilities");
	for (int cap = 0; cap < cap_max_bits(); cap++)
		if ((caps->ambient & (1ULL << cap)) && cap_set_ambient((cap_value_t)cap, CAP_SET) < 0)
			return sbx_fail(err, errno, "raising ambient capability %d", cap);
	return 0;
}

/* ---- console ------------------------------------------------------------------ */

/* The master goes over the socket with a name beside it, as runc sends
 * it: conmon reads the name (a stream socket passes no fd without data). */
static int send_console(int sock, int master, struct sbx_error *err)
{
	static const char name[] = "/dev/ptmx";
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = { 0 };
	struct iovec iov = { .iov_base = (void *)name, .iov_len = sizeof(name) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return sbx_fail(err, errno, "sending the pty master over the console socket");
	return 0;
}

/* The container's /dev/ptmx (devpts' ptmx, or a link to it): checked to be
 * one before it is trusted with the console. */
static int open_container_ptmx(struct sbx_error *err)
{
	cleanup_close int fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return sbx_fail(err, errno, "opening the container's /dev/ptmx");
	if (fstat(fd, &st) < 0)
		return sbx_fail(err, errno, "/dev/ptmx");
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2)
		return sbx_fail(err, 0, "the container's /dev/ptmx is not a pty multiplexer");
	return sbx_steal_fd(&fd);
}

int sbx_oci_process_console(const struct sbx_oci_process *p, int console_socket, struct sbx_error *err)
{
	cleanup_close int master = open_container_ptmx(err);
	cleanup_close int slave = -1;
	struct winsize ws = { .ws_row = (unsigned short)p->console_height,
			      .ws_col = (unsigned short)p->console_width };
	int unlock = 0;

	if (master < 0)
		return -1;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return sbx_fail(err, errno, "unlocking the container's pty");
	/* The peer by the master itself, not by a path in /dev/pts that the
	 * container's mounts could send elsewhere. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return sbx_fail(err, errno, "opening the container's pty peer");
	if ((ws.ws_row || ws.ws_col) && ioctl(slave, TIOCSWINSZ, &ws) < 0)
		return sbx_fail(err, errno, "process.consoleSize");
	if (send_console(console_socket, master, err) < 0)
		return -1;
	/* A session of its own, so that the pty can be its controlling
	 * terminal; a process already leading one keeps it. */
	if (setsid() < 0 && getsid(0) != getpid())
		return sbx_fail(err, errno, "starting a new session for the terminal");
	if (sbx_pty_make_controlling(slave, err) < 0)
		return -1;
	/* The master lives on in the engine only: held here too, the
	 * terminal would never hang up when the engine lets go. */
	return 0;
}

/* ---- find ---------------------------------------------------------------------- */

/* 0: an executable file; else the errno execvp would weigh (EACCES for a
 * file without x bits or a directory, as Go's LookPath says). */
static int check_candidate(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111))
		return EACCES;
	return 0;
}

static int join_path(char *out, size_t len, const char *dir, size_t dir_len, const char *name, const char *cwd)
{
	int n;

	if (dir_len == 0) /* an empty PATH entry: the working directory */
		dir = ".", dir_len = 1;
	if (dir[0] == '/')
		n = snprintf(out, len, "%.*s/%s", (int)dir_len, dir, name);
	else
		n = snprintf(out, len, "%s/%.*s/%s", cwd, (int)dir_len, dir, name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int sbx_oci_find_executable(const char *name, const char *path_env, const char *cwd, char *out, size_t len,
			    struct sbx_error *err)
{
	const char *path = path_env ? path_env : "/bin:/usr/bin";
	bool denied = false;
	int e;

	if (cwd == NULL || cwd[0] == '\0')
		cwd = "/";
	if (name[0] == '\0')
		return sbx_fail_status(err, SBX_EXIT_NOTFOUND, 0, "exec: \"\": executable file not found in $PATH");
	/* A name with a slash is taken as is, like execvp. */
	if (strchr(name, '/') != NULL) {
		int n = name[0] == '/' ? snprintf(out, len, "%s", name) : snprintf(out, len, "%s/%s", cwd, name);

		if (n < 0 || (size_t)n >= len)
			return sbx_fail_status(err, SBX_EXIT_NOTFOUND, ENAMETOOLONG, "exec: \"%s\"", name);
		e = check_candidate(out);
		if (e == EACCES)
			return sbx_fail_status(err, SBX_EXIT_NOEXEC, 0, "exec: \"%s\": permission denied", name);
		if (e != 0)
			return sbx_fail_status(err, SBX_EXIT_NOTFOUND, e, "exec: \"%s\": stat %s", name, name);
		return 0;
	}
	for (const char *dir = path;; dir++) {
		size_t dir_len = strcspn(dir, ":");

		if (join_path(out, len, dir, dir_len, name, cwd) == 0) {
			e = check_candidate(out);
			if (e == 0)
				return 0;
			denied |= e == EACCES;
		}
		dir += dir_len;
		if (*dir == '\0')
			break;
	}
	out[0] = '\0';
	/* execvp's rule: a file found but not executable outranks "absent". */
	if (denied)
		return sbx_fail_status(err, SBX_EXIT_NOEXEC, 0, "exec: \"%s\": permission denied", name);
	sbx_fail_status(err, SBX_EXIT_NOTFOUND, 0, "exec: \"%s\": executable file not found in $PATH", name);
	err->err = ENOENT;
	return -1;
}

static const char *env_value(char *const *env, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		if (strncmp(env[i], key, klen) == 0 && env[i][klen] == '=')
			return env[i] + klen + 1;
	return NULL;
}

int sbx_oci_process_find(const struct sbx_oci_process *p, struct sbx_oci_prepared *pp, struct sbx_error *err)
{
	if (p->args == NULL || p->args[0] == NULL)
		return sbx_fail(err, 0, "process.args: empty");
	return sbx_oci_find_executable(p->args[0], env_value(p->env, "PATH"), p->cwd, pp->exe, sizeof(pp->exe),
				       err);
}

/* ---- exec ---------------------------------------------------------------------- */

int sbx_oci_oom_score_adj(pid_t pid, int adj, struct sbx_error *err)
{
	char path[64], value[16];

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/oom_score_adj");
	else
		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
	snprintf(value, sizeof(value), "%d", adj);
	if (sbx_write_file_at(AT_FDCWD, path, value, err) < 0)
		return sbx_error_wrap(err, "process.oomScoreAdj %d", adj);
	return 0;
}

static int apply_rlimits(const struct sbx_oci_process *p, struct sbx_error *err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const struct sbx_oci_rlimit *l = &p->rlimits[i];
		struct rlimit rl = { .rlim_cur = (rlim_t)l->soft, .rlim_max = (rlim_t)l->hard };

		if (setrlimit(l->resource, &rl) < 0)
			return sbx_fail(err, errno, "process.rlimits[%zu]: setting resource %d to %llu/%llu", i,
					l->resource, (unsigned long long)l->soft, (unsigned long long)l->hard);
	}
	return 0;
}

/* AppArmor changes profile at the next execve; the per-thread file where
 * the kernel has it (5.8+), the shared one otherwise. */
static int apply_apparmor(const char *profile, struct sbx_error *err)
{
	cleanup_free char *cmd = NULL;
	struct sbx_error ignored;

	if (profile == NULL || profile[0] == '\0')
		return 0;
	if (asprintf(&cmd, "exec %s", profile) < 0)
		return sbx_fail(err, ENOMEM, "process.apparmorProfile");
	if (sbx_write_file_at(AT_FDCWD, "/proc/thread-self/attr/apparmor/exec", cmd, &ignored) == 0)
		return 0;
	if (sbx_write_file_at(AT_FDCWD, "/proc/self/attr/exec", cmd, err) < 0)
		return sbx_error_wrap(err, "process.apparmorProfile %s", profile);
	return 0;
}

/* Supplementary groups: exactly additionalGids.  Where the user namespace
 * denies setgroups (a single-id map), none can be set: fine when none are
 * asked for, an error otherwise. */
static int apply_groups(const struct sbx_oci_process *p, struct sbx_error *err)
{
	char buf[8] = "";
	cleanup_close int fd = -1;

	if (setgroups(p->n_additional_gids, (const gid_t *)p->additional_gids) == 0)
		return 0;
	if (errno == EPERM) {
		fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && strncmp(buf, "deny", 4) == 0) {
			if (p->n_additional_gids == 0)
				return 0;
			return sbx_fail(err, EPERM, "process.user.additionalGids: the user namespace denies setgroups");
		}
	}
	return sbx_fail(err, errno, "process.user.additionalGids");
}

static int apply_ids(const struct sbx_oci_process *p, struct sbx_error *err)
{
	/* Keep the permitted set across the uid change: the sets the spec
	 * asks for are applied afterwards, from it. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "PR_SET_KEEPCAPS");
	if (apply_groups(p, err) < 0)
		return -1;
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return sbx_fail(err, errno, "process.user.gid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return sbx_fail(err, errno, "process.user.uid %u", p->uid);
	return 0;
}

/* Every loaded filter must let the next seccomp(2) through: sbx's own
 * (H allows it, `default` too) go first, the spec's last. */
static int load_filters(const struct sbx_seccomp *s, struct sbx_error *err)
{
	for (size_t i = 0; s->enabled && i < s->n_filters; i++)
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->flags, &s->filters[i]) < 0)
			return sbx_fail(err, errno, "loading seccomp filter %zu of %zu of %s", i + 1, s->n_filters,
					s->name[0] ? s->name : "linux.seccomp");
	return 0;
}

static int apply_seccomp(const struct sbx_oci_prepared *pp, struct sbx_error *err)
{
	if (pp->hardening.host.filter != NULL && sbx_seccomp_load(&pp->hardening, err) < 0)
		return sbx_error_wrap(err, "run.sbx.profile=hardened");
	return load_filters(&pp->seccomp, err);
}

int sbx_oci_process_exec(const struct sbx_oci_process *p, const struct sbx_oci_prepared *pp,
			 struct sbx_error *err)
{
	bool nnp = p->no_new_privileges || pp->hardened;
	struct sbx_oci_caps caps;

	if (sbx_oci_caps_plan(p, pp->hardened, (unsigned int)cap_max_bits() - 1, &caps, err) < 0)
		return -1;
	/* Rlimits first: raising a hard limit needs CAP_SYS_RESOURCE, which
	 * the id change below takes away. */
	if (apply_rlimits(p, err) < 0)
		return -1;
	/* The umask before anything of the process's own creates a file. */
	if (p->has_umask)
		umask((mode_t)p->umask);
	/* AppArmor's exec transition: before no_new_privs, which limits it,
	 * and before seccomp, which may forbid the write. */
	if (apply_apparmor(p->apparmor_profile, err) < 0)
		return -1;
	/* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load
	 * now, while the process has it (runc's order); the filter then sees
	 * the steps below, as it does under runc. */
	if (!nnp && apply_seccomp(pp, err) < 0)
		return -1;
	if (apply_bounding(caps.bounding, err) < 0 || apply_ids(p, err) < 0)
		return -1;
	/* As the user: a directory it may not enter is an error here, not a
	 * way in (runc retries as the user too).  Before the capabilities
	 * go: root of the container enters what its capabilities allow. */
	if (p->cwd != NULL && p->cwd[0] != '\0' && chdir(p->cwd) < 0)
		return sbx_fail(err, errno, "chdir to cwd (\"%s\") failed", p->cwd);
	if (apply_caps(&caps, err) < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "PR_SET_KEEPCAPS");
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "process.noNewPrivileges");
	/* Nothing of sbx's may follow the process through execve but the
	 * fds it was given. */
	if (close_range(3 + (unsigned int)pp->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return sbx_fail(err, errno, "marking the process's other fds close-on-exec");
	/* Seccomp as late as it can be, so the filter judges the process and
	 * as little of sbx as possible. */
	if (nnp && apply_seccomp(pp, err) < 0)
		return -1;
	execve(pp->exe, p->args, p->env);
	return sbx_fail_status(err, errno == ENOENT ? SBX_EXIT_NOTFOUND : SBX_EXIT_NOEXEC, errno,
			       "exec: \"%s\"", p->args[0]);
}
