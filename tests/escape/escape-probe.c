/* escape-probe: a static program that tries, from inside a sandbox, the
 * escapes and kernel attack surface a code sandbox must shut, and prints one
 * JSON line per attempt:
 *
 *   {"test": NAME, "ret": R, "errno": "ENAME", "signal": S}
 *
 * "errno" is "0" when ret >= 0; "signal" is the signal that killed the
 * attempt (0 when it returned).  A killed attempt has ret and errno null.
 *
 * The technique is bubblewrap's try-syscall.c: each call gets a bad fd (-1),
 * a bad pointer, an invalid flag or an impossible size, chosen so that a call
 * that REACHES the kernel fails harmlessly with a known errno (EBADF, EFAULT,
 * EINVAL...) while a call stopped by the seccomp filter returns the policy's
 * errno (EPERM or ENOSYS).  Where the brief wants the real thing (a nested
 * user namespace, a thread, a device node, a ptrace attach) the call is real
 * and harmless: it acts on the probe's own short-lived children.  Every
 * attempt runs in a forked child, so nothing one attempt changes (personality,
 * namespaces) leaks into the next, and a killed attempt is reported.
 *
 * Raw syscall(2) everywhere (glibc wrappers may emulate, retry or hide
 * ENOSYS); inline assembly for the foreign ABIs.
 *
 * Options:
 *   --arch-tests        also try an i386 (int $0x80) and an x32 system call,
 *                       each in a child; under the default policy they kill it
 *   --userns            run each attempt in a fresh user+mount+pid namespace
 *                       (a negative control for calls the kernel refuses
 *                       without CAP_SYS_ADMIN/CAP_SYS_BOOT over a namespace)
 *   --canary-pid PID    try kill(PID, SIGKILL)
 *   --tcp-port PORT     try to connect to 127.0.0.1:PORT
 *   --abstract NAME     try to connect to the abstract unix socket @NAME
 *   --canary-file PATH  try to append to PATH
 *   --only NAME         run only the attempt called NAME (and status)
 *
 * Build: cc -std=gnu11 -O2 -Wall -Wextra -Werror -static -pthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define BAD_PTR ((void *)1)          /* unmapped: EFAULT wherever the kernel reads it */
#define HIGH (1UL << 32)             /* high bits the kernel's 32-bit ioctl cmd drops */
#define BAD_SOCK_TYPE 15             /* >= SOCK_MAX: EINVAL before any family code runs */
#define UNSHARE_BAD_FLAG CLONE_SETTLS /* not an unshare flag: EINVAL once in the kernel */
#define KEXEC_TOO_MANY_SEGMENTS 17UL /* > KEXEC_SEGMENT_MAX: EINVAL, never an unload */
#define SYSLOG_ACTION_READ_ALL 3
#define I386_NR_GETPID 20
#define X32_SYSCALL_BIT 0x40000000L
#define X86_64_NR_GETPID 39

static struct {
	bool arch_tests, userns;
	long canary_pid, tcp_port;
	const char *abstract, *canary_file, *only;
} opt;

/* ---- output --------------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c < 0x20 || *c >= 0x7f)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "E?";
}

/* ---- the attempts ------------------------------------------------------------
 * Each returns the system call's result (-1 with errno on failure).  The
 * comment says what an UNFILTERED kernel answers. */

/* ESC-45: mounts and root changes. */
static long t_mount(void)       { return syscall(SYS_mount, NULL, BAD_PTR, NULL, 0UL, NULL); } /* EFAULT (target) */
static long t_umount2(void)     { return syscall(SYS_umount2, BAD_PTR, 0x80000000U); }        /* EINVAL (UMOUNT_UNUSED) */
static long t_pivot_root(void)  { return syscall(SYS_pivot_root, BAD_PTR, BAD_PTR); }         /* EPERM w/o CAP_SYS_ADMIN, else EFAULT */
static long t_chroot(void)      { return syscall(SYS_chroot, BAD_PTR); }                      /* EFAULT */
static long t_open_tree(void)   { return syscall(SYS_open_tree, -1, BAD_PTR, 0U); }           /* EFAULT */
static long t_move_mount(void)  { return syscall(SYS_move_mount, -1, BAD_PTR, -1, BAD_PTR, 0U); } /* EPERM w/o CAP_SYS_ADMIN */
static long t_fsopen(void)      { return syscall(SYS_fsopen, BAD_PTR, 0U); }                  /* EPERM w/o CAP_SYS_ADMIN, else EFAULT */
static long t_fsconfig(void)    { return syscall(SYS_fsconfig, -1, 0U, NULL, NULL, 0); }      /* EINVAL/EBADF */
static long t_fsmount(void)     { return syscall(SYS_fsmount, -1, 0U, 0U); }                  /* EPERM w/o CAP_SYS_ADMIN, else EBADF */
static long t_fspick(void)      { return syscall(SYS_fspick, -1, BAD_PTR, 0U); }              /* EPERM w/o CAP_SYS_ADMIN */
static long t_mount_setattr(void) { return syscall(SYS_mount_setattr, -1, BAD_PTR, 0U, NULL, 0UL); } /* EINVAL (size 0) */

/* ESC-43: nested namespaces.  A real unshare: it succeeds where allowed. */
static long t_unshare_user(void) { return syscall(SYS_unshare, CLONE_NEWUSER); }
/* With a bit unshare() rejects: EINVAL whenever the call reaches the kernel,
 * so the filter is the only possible source of EPERM. */
static long t_unshare_ns(void)   { return syscall(SYS_unshare, CLONE_NEWNS | UNSHARE_BAD_FLAG); }
static long t_unshare_time(void) { return syscall(SYS_unshare, CLONE_NEWTIME | UNSHARE_BAD_FLAG); }

/* A real fork into a new user namespace; the child leaves at once. */
static long t_clone_user(void)
{
	long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, 0UL);

	if (pid == 0)
		syscall(SYS_exit_group, 0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return pid;
}

/* ESC-44: clone3's flags are behind a pointer; EFAULT when unfiltered. */
static long t_clone3(void) { return syscall(SYS_clone3, NULL, 88UL); }

static void *thread_main(void *arg) { return arg; }

/* glibc's pthread_create tries clone3 and must fall back to clone on ENOSYS. */
static long t_pthread_create(void)
{
	pthread_t thread;
	int e = pthread_create(&thread, NULL, thread_main, NULL);

	if (e != 0) {
		errno = e;
		return -1;
	}
	pthread_join(thread, NULL);
	return 0;
}

static long t_setns(void) { return syscall(SYS_setns, -1, 0); } /* EBADF */

/* ESC-49: other processes.  ptrace attaches for real, to a child of ours
 * (never to a host process: as root that could stop the host's init). */
static long t_ptrace(void)
{
	pid_t child = fork();
	long r;
	int saved, status;

	if (child < 0)
		return -1;
	if (child == 0) {
		for (;;)
			pause();
	}
	r = syscall(SYS_ptrace, (long)PTRACE_ATTACH, (long)child, NULL, NULL);
	saved = errno;
	kill(child, SIGKILL);
	while (waitpid(child, &status, 0) == child && !WIFEXITED(status) && !WIFSIGNALED(status))
		;
	errno = saved;
	return r;
}

static long t_process_vm_readv(void)  { return syscall(SYS_process_vm_readv, 1, NULL, 1UL, NULL, 1UL, 0UL); }  /* EFAULT */
static long t_process_vm_writev(void) { return syscall(SYS_process_vm_writev, 1, NULL, 1UL, NULL, 1UL, 0UL); } /* EFAULT */
static long t_kcmp(void)        { return syscall(SYS_kcmp, getpid(), getpid(), 99, 0UL, 0UL); } /* EINVAL (type) */
static long t_pidfd_getfd(void) { return syscall(SYS_pidfd_getfd, -1, 0, 0U); }              /* EBADF */

/* ESC-46..50: keyrings, bpf, userfaultfd, io_uring, perf. */
static long t_keyctl(void)      { return syscall(SYS_keyctl, 9999, 0UL, 0UL, 0UL, 0UL); }     /* EOPNOTSUPP */
static long t_add_key(void)     { return syscall(SYS_add_key, NULL, NULL, NULL, 0UL, 0); }    /* EFAULT */
static long t_request_key(void) { return syscall(SYS_request_key, NULL, NULL, NULL, 0); }     /* EFAULT */
static long t_bpf(void)         { return syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 8U); } /* EFAULT */
/* UFFD_USER_MODE_ONLY passes the privilege check; 0x10 is no valid flag. */
static long t_userfaultfd(void) { return syscall(SYS_userfaultfd, 1 | 0x10); }                /* EINVAL */
static long t_io_uring_setup(void)    { return syscall(SYS_io_uring_setup, 1U, NULL); }      /* EFAULT */
static long t_io_uring_enter(void)    { return syscall(SYS_io_uring_enter, -1, 0U, 0U, 0U, NULL, 0UL); } /* EBADF */
static long t_io_uring_register(void) { return syscall(SYS_io_uring_register, -1, 0U, NULL, 0U); } /* EINVAL/EBADF */
static long t_perf_event_open(void)   { return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0UL); } /* EFAULT */

/* "Shocker" (CDK cap-dac-read-search): EBADF on Linux 6.9+ whatever the caps. */
static long t_open_by_handle_at(void) { return syscall(SYS_open_by_handle_at, -1, NULL, 0); }

/* ESC-34 and kernel state: ENOSYS where the kernel lacks the feature,
 * otherwise EPERM without the capability, EFAULT/EINVAL/ENOEXEC with it. */
static long t_init_module(void)   { return syscall(SYS_init_module, NULL, 0UL, ""); }
static long t_finit_module(void)  { return syscall(SYS_finit_module, -1, "", 0); }
static long t_delete_module(void) { return syscall(SYS_delete_module, BAD_PTR, 0U); }
static long t_kexec_load(void)    { return syscall(SYS_kexec_load, 0UL, KEXEC_TOO_MANY_SEGMENTS, NULL, 0UL); }
/* Bad magic: EINVAL even with CAP_SYS_BOOT, so it can never reboot. */
static long t_reboot(void)        { return syscall(SYS_reboot, 0, 0, 0U, NULL); }
static long t_swapon(void)        { return syscall(SYS_swapon, NULL, 0x40000000); }           /* EINVAL (flags) */
static long t_acct(void)          { return syscall(SYS_acct, BAD_PTR); }                      /* EPERM w/o CAP_SYS_PACCT, else EFAULT */
static long t_syslog_read_all(void)    { return syscall(SYS_syslog, SYSLOG_ACTION_READ_ALL, NULL, -1); } /* EINVAL, EPERM under dmesg_restrict */
/* ESC-55: time. */
static long t_settimeofday(void)  { return syscall(SYS_settimeofday, BAD_PTR, NULL); }        /* EFAULT */
static long t_clock_settime(void) { return syscall(SYS_clock_settime, CLOCK_REALTIME, BAD_PTR); } /* EFAULT */

/* ESC-33: a real device node (1:3 is /dev/null's), removed if it was made. */
static long t_mknod(void)
{
	char path[64];
	long r;

	snprintf(path, sizeof(path), "/tmp/escape-probe-mknod.%d", getpid());
	r = syscall(SYS_mknod, path, S_IFCHR | 0600, makedev(1, 3));
	if (r == 0)
		unlink(path);
	return r;
}

/* ESC-54: socket families. */
static long try_socket(int domain, int type, int protocol)
{
	long fd = syscall(SYS_socket, domain, type, protocol);

	if (fd >= 0)
		close((int)fd);
	return fd;
}

static long t_socket_packet(void) { return try_socket(AF_PACKET, BAD_SOCK_TYPE, 0); }  /* EINVAL */
static long t_socket_vsock(void)  { return try_socket(AF_VSOCK, BAD_SOCK_TYPE, 0); }   /* EINVAL */
static long t_socket_alg(void)    { return try_socket(AF_ALG, BAD_SOCK_TYPE, 0); }     /* EINVAL */
static long t_socket_audit(void)  { return try_socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT); } /* a socket */
static long t_socket_route(void)  { return try_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE); } /* allowed */
static long t_socket_unix(void)   { return try_socket(AF_UNIX, SOCK_STREAM, 0); }             /* allowed */
static long t_socket_inet(void)   { return try_socket(AF_INET, SOCK_STREAM, 0); }             /* allowed */

/* ESC-06..08, ESC-34: terminal ioctls on fd -1: EBADF when unfiltered. */
static long try_ioctl(unsigned long cmd) { return syscall(SYS_ioctl, -1, cmd, NULL); }
static long t_tiocsti(void)       { return try_ioctl(TIOCSTI); }
static long t_tiocsti_hi(void)    { return try_ioctl(HIGH | TIOCSTI); }
static long t_tioclinux(void)     { return try_ioctl(TIOCLINUX); }
static long t_tioclinux_hi(void)  { return try_ioctl(HIGH | TIOCLINUX); }
static long t_tiocsetd(void)      { return try_ioctl(TIOCSETD); }
static long t_tiocsetd_hi(void)   { return try_ioctl(HIGH | TIOCSETD); }
static long t_tioccons(void)      { return try_ioctl(TIOCCONS); }
static long t_tioccons_hi(void)   { return try_ioctl(HIGH | TIOCCONS); }
static long t_tcgets(void)        { return try_ioctl(TCGETS); }

/* ESC-51: personality; the real call (the child's persona only). */
static long t_personality_norandom(void) { return syscall(SYS_personality, (unsigned long)ADDR_NO_RANDOMIZE); }
static long t_personality_query(void)    { return syscall(SYS_personality, 0xffffffffUL); }
/* arg5 != 0: EINVAL before any capability check. */
static long t_prctl_set_mm(void) { return syscall(SYS_prctl, PR_SET_MM, PR_SET_MM_START_CODE, 0UL, 0UL, 1UL); }
static long t_syscall_1000(void) { return syscall(1000, 0UL, 0UL, 0UL); }                     /* ENOSYS */

/* ESC-21, ESC-22: host-global knobs, opened for writing as a shell's `>`
 * does (nothing is ever written). */
static long try_open_write(const char *path)
{
	long fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd >= 0)
		close((int)fd);
	return fd;
}

static long t_core_pattern(void)  { return try_open_write("/proc/sys/kernel/core_pattern"); }
static long t_sysrq_trigger(void) { return try_open_write("/proc/sysrq-trigger"); }
static long t_uevent_helper(void) { return try_open_write("/sys/kernel/uevent_helper"); }

/* ESC-56, 57, 59: the host's canaries, when the harness names them. */
static long t_kill_canary(void) { return syscall(SYS_kill, (pid_t)opt.canary_pid, SIGKILL); }

static long try_connect(int domain, const struct sockaddr *addr, socklen_t len)
{
	int fd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long r;
	int saved;

	if (fd < 0)
		return -1;
	r = syscall(SYS_connect, fd, addr, len);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

static long t_connect_tcp(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.tcp_port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	return try_connect(AF_INET, (struct sockaddr *)&addr, sizeof(addr));
}

static long t_connect_abstract(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strnlen(opt.abstract, sizeof(addr.sun_path) - 1);

	memcpy(addr.sun_path + 1, opt.abstract, len);
	return try_connect(AF_UNIX, (struct sockaddr *)&addr,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len));
}

static long t_write_canary_file(void)
{
	long fd = syscall(SYS_openat, AT_FDCWD, opt.canary_file, O_WRONLY | O_APPEND | O_CLOEXEC);
	long r;

	if (fd < 0)
		return -1;
	r = write((int)fd, "escaped\n", 8);
	close((int)fd);
	return r;
}

/* ESC-52: foreign system call ABIs.  Return the raw kernel answer. */
static long raw_result(long r)
{
	if (r < 0 && r >= -4095) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static long t_i386_getpid(void)
{
	long r = I386_NR_GETPID;

	__asm__ volatile("int $0x80" : "+a"(r) : : "r8", "r9", "r10", "r11", "memory");
	return raw_result(r);
}

static long t_x32_getpid(void)
{
	long r = X32_SYSCALL_BIT | X86_64_NR_GETPID;

	__asm__ volatile("syscall" : "+a"(r) : : "rcx", "r11", "memory");
	return raw_result(r);
}

/* ---- the table ---------------------------------------------------------------- */

enum needs { ALWAYS, CANARY_PID, TCP_PORT, ABSTRACT, CANARY_FILE, ARCH };

static const struct attack {
	const char *name;
	long (*fn)(void);
	enum needs needs;
} attacks[] = {
	{ "mount", t_mount, ALWAYS },
	{ "umount2", t_umount2, ALWAYS },
	{ "pivot_root", t_pivot_root, ALWAYS },
	{ "chroot", t_chroot, ALWAYS },
	{ "open_tree", t_open_tree, ALWAYS },
	{ "move_mount", t_move_mount, ALWAYS },
	{ "fsopen", t_fsopen, ALWAYS },
	{ "fsconfig", t_fsconfig, ALWAYS },
	{ "fsmount", t_fsmount, ALWAYS },
	{ "fspick", t_fspick, ALWAYS },
	{ "mount_setattr", t_mount_setattr, ALWAYS },
	{ "unshare(CLONE_NEWUSER)", t_unshare_user, ALWAYS },
	{ "unshare(CLONE_NEWNS)", t_unshare_ns, ALWAYS },
	{ "unshare(CLONE_NEWTIME)", t_unshare_time, ALWAYS },
	{ "clone(CLONE_NEWUSER)", t_clone_user, ALWAYS },
	{ "clone3", t_clone3, ALWAYS },
	{ "pthread_create", t_pthread_create, ALWAYS },
	{ "setns", t_setns, ALWAYS },
	{ "ptrace(PTRACE_ATTACH)", t_ptrace, ALWAYS },
	{ "process_vm_readv", t_process_vm_readv, ALWAYS },
	{ "process_vm_writev", t_process_vm_writev, ALWAYS },
	{ "kcmp", t_kcmp, ALWAYS },
	{ "pidfd_getfd", t_pidfd_getfd, ALWAYS },
	{ "keyctl", t_keyctl, ALWAYS },
	{ "add_key", t_add_key, ALWAYS },
	{ "request_key", t_request_key, ALWAYS },
	{ "bpf", t_bpf, ALWAYS },
	{ "userfaultfd", t_userfaultfd, ALWAYS },
	{ "io_uring_setup", t_io_uring_setup, ALWAYS },
	{ "io_uring_enter", t_io_uring_enter, ALWAYS },
	{ "io_uring_register", t_io_uring_register, ALWAYS },
	{ "perf_event_open", t_perf_event_open, ALWAYS },
	{ "open_by_handle_at", t_open_by_handle_at, ALWAYS },
	{ "init_module", t_init_module, ALWAYS },
	{ "finit_module", t_finit_module, ALWAYS },
	{ "delete_module", t_delete_module, ALWAYS },
	{ "kexec_load", t_kexec_load, ALWAYS },
	{ "reboot", t_reboot, ALWAYS },
	{ "swapon", t_swapon, ALWAYS },
	{ "acct", t_acct, ALWAYS },
	{ "syslog(READ_ALL)", t_syslog_read_all, ALWAYS },
	{ "settimeofday", t_settimeofday, ALWAYS },
	{ "clock_settime", t_clock_settime, ALWAYS },
	{ "mknod(char 1:3)", t_mknod, ALWAYS },
	{ "socket(AF_PACKET)", t_socket_packet, ALWAYS },
	{ "socket(AF_VSOCK)", t_socket_vsock, ALWAYS },
	{ "socket(AF_ALG)", t_socket_alg, ALWAYS },
	{ "socket(AF_NETLINK, NETLINK_AUDIT)", t_socket_audit, ALWAYS },
	{ "socket(AF_NETLINK, NETLINK_ROUTE)", t_socket_route, ALWAYS },
	{ "socket(AF_UNIX)", t_socket_unix, ALWAYS },
	{ "socket(AF_INET)", t_socket_inet, ALWAYS },
	{ "ioctl(TIOCSTI)", t_tiocsti, ALWAYS },
	{ "ioctl(1<<32|TIOCSTI)", t_tiocsti_hi, ALWAYS },
	{ "ioctl(TIOCLINUX)", t_tioclinux, ALWAYS },
	{ "ioctl(1<<32|TIOCLINUX)", t_tioclinux_hi, ALWAYS },
	{ "ioctl(TIOCSETD)", t_tiocsetd, ALWAYS },
	{ "ioctl(1<<32|TIOCSETD)", t_tiocsetd_hi, ALWAYS },
	{ "ioctl(TIOCCONS)", t_tioccons, ALWAYS },
	{ "ioctl(1<<32|TIOCCONS)", t_tioccons_hi, ALWAYS },
	{ "ioctl(TCGETS)", t_tcgets, ALWAYS },
	{ "personality(ADDR_NO_RANDOMIZE)", t_personality_norandom, ALWAYS },
	{ "personality(0xffffffff)", t_personality_query, ALWAYS },
	{ "prctl(PR_SET_MM)", t_prctl_set_mm, ALWAYS },
	{ "syscall(1000)", t_syscall_1000, ALWAYS },
	{ "write /proc/sys/kernel/core_pattern", t_core_pattern, ALWAYS },
	{ "write /proc/sysrq-trigger", t_sysrq_trigger, ALWAYS },
	{ "write /sys/kernel/uevent_helper", t_uevent_helper, ALWAYS },
	{ "kill(host canary)", t_kill_canary, CANARY_PID },
	{ "connect(host tcp canary)", t_connect_tcp, TCP_PORT },
	{ "connect(host abstract canary)", t_connect_abstract, ABSTRACT },
	{ "write(host canary file)", t_write_canary_file, CANARY_FILE },
	/* Last: under the default policy these kill the child that tries them. */
	{ "i386 int 0x80 getpid", t_i386_getpid, ARCH },
	{ "x32 getpid", t_x32_getpid, ARCH },
};

static bool wanted(const struct attack *a)
{
	if (opt.only && strcmp(opt.only, a->name) != 0)
		return false;
	switch (a->needs) {
	case ALWAYS:      return true;
	case CANARY_PID:  return opt.canary_pid > 0;
	case TCP_PORT:    return opt.tcp_port > 0;
	case ABSTRACT:    return opt.abstract != NULL;
	case CANARY_FILE: return opt.canary_file != NULL;
	case ARCH:        return opt.arch_tests;
	}
	return false;
}

/* ---- running one attempt in a child ----------------------------------------- */

struct outcome {
	long ret;
	int err;
	int in_setup; /* the --userns set-up failed: err is its errno */
};

static void send_outcome(int fd, long ret, int err, int in_setup)
{
	struct outcome o = { .ret = ret, .err = err, .in_setup = in_setup };

	if (write(fd, &o, sizeof(o)) != (ssize_t)sizeof(o))
		_exit(3);
}

static void attempt_child(const struct attack *a, int fd)
{
	long r;

	if (opt.userns) {
		/* Own the user namespace that owns the new mount and pid
		 * namespaces; the grandchild is pid 1 of the latter. */
		pid_t inner;
		int status;

		if (syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) < 0) {
			send_outcome(fd, -1, errno, 1);
			_exit(0);
		}
		inner = fork();
		if (inner < 0) {
			send_outcome(fd, -1, errno, 1);
			_exit(0);
		}
		if (inner > 0) {
			waitpid(inner, &status, 0);
			_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 0);
		}
	}
	errno = 0;
	r = a->fn();
	send_outcome(fd, r, r < 0 ? errno : 0, 0);
	_exit(0);
}

static void attempt(const struct attack *a)
{
	struct outcome o;
	int pipefd[2], status = 0, sig = 0;
	ssize_t n = -1;
	pid_t pid;

	fflush(stdout);
	if (pipe2(pipefd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		printf("{\"test\": ");
		json_str(a->name);
		printf(", \"ret\": null, \"errno\": \"%s\", \"signal\": 0, \"error\": \"fork\"}\n", errno_name(errno));
		return;
	}
	if (pid == 0) {
		close(pipefd[0]);
		attempt_child(a, pipefd[1]);
	}
	close(pipefd[1]);
	do
		n = read(pipefd[0], &o, sizeof(o));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status))
		sig = WTERMSIG(status);
	else if (WIFEXITED(status) && WEXITSTATUS(status) > 128)
		sig = WEXITSTATUS(status) - 128;

	printf("{\"test\": ");
	json_str(a->name);
	if (n != (ssize_t)sizeof(o))
		printf(", \"ret\": null, \"errno\": null");
	else
		printf(", \"ret\": %ld, \"errno\": \"%s\"", o.ret, o.ret >= 0 ? "0" : errno_name(o.err));
	printf(", \"signal\": %d", sig);
	if (n == (ssize_t)sizeof(o) && o.in_setup)
		printf(", \"setup\": \"userns\"");
	printf("}\n");
}

/* ---- the baseline: credentials, filters, descriptors, environment --------------- */

static void status_record(void)
{
	static const char *const fields[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
					      "NoNewPrivs", "Seccomp", "Seccomp_filters" };
	char line[512];
	FILE *f = fopen("/proc/self/status", "re");
	DIR *d;
	struct dirent *de;
	bool first = true;

	printf("{\"test\": \"status\", \"ret\": 0, \"errno\": \"0\", \"signal\": 0, \"uid\": %u, \"gid\": %u",
	       getuid(), getgid());
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *value;

		if (!colon)
			continue;
		*colon = '\0';
		value = colon + 1 + strspn(colon + 1, " \t");
		value[strcspn(value, "\n")] = '\0';
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			if (strcmp(line, fields[i]) == 0) {
				printf(", ");
				json_str(line);
				printf(": ");
				json_str(value);
			}
		}
	}
	if (f)
		fclose(f);

	printf(", \"fds\": [");
	d = opendir("/proc/self/fd");
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		printf("%s%d", first ? "" : ", ", atoi(de->d_name));
		first = false;
	}
	if (d)
		closedir(d);

	printf("], \"environ\": [");
	for (char **e = environ; *e; e++) {
		if (e != environ)
			printf(", ");
		json_str(*e);
	}
	printf("]}\n");
}

static int usage(void)
{
	fprintf(stderr, "usage: escape-probe [--arch-tests] [--userns] [--canary-pid PID] [--tcp-port PORT]\n"
			"                    [--abstract NAME] [--canary-file PATH] [--only NAME]\n");
	return 2;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(arg, "--arch-tests") == 0)
			opt.arch_tests = true;
		else if (strcmp(arg, "--userns") == 0)
			opt.userns = true;
		else if (val == NULL)
			return usage();
		else if (strcmp(arg, "--canary-pid") == 0 && ++i)
			opt.canary_pid = atol(val);
		else if (strcmp(arg, "--tcp-port") == 0 && ++i)
			opt.tcp_port = atol(val);
		else if (strcmp(arg, "--abstract") == 0 && ++i)
			opt.abstract = val;
		else if (strcmp(arg, "--canary-file") == 0 && ++i)
			opt.canary_file = val;
		else if (strcmp(arg, "--only") == 0 && ++i)
			opt.only = val;
		else
			return usage();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	status_record();
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++)
		if (wanted(&attacks[i]))
			attempt(&attacks[i]);
	return 0;
}
