/* syscall_loop -- the cost of one system call, for scripts/bench.d/30-filter.sh.
 *
 * Usage: syscall_loop getppid|ioctl N [--floor | --stacked K]
 *
 * Times N calls with clock_gettime(CLOCK_MONOTONIC) and prints the ns per
 * call as one number.  getppid takes no arguments: a filter that allows it
 * unconditionally lets the kernel's constant-action bitmap skip every BPF
 * program.  ioctl(FIONREAD) on a pipe is the argument-filtered path of
 * profiles/default.json (its TIOCSTI/TIOCLINUX/... deny rules are a
 * stacked filter that must read the request number) and is allowed.
 *
 * --floor first installs a 1-instruction SECCOMP_RET_ALLOW filter (after
 * PR_SET_NO_NEW_PRIVS, as any filter needs without CAP_SYS_ADMIN): the
 * floor of any filter.  --stacked K installs K copies of a 4-instruction
 * filter that reads ioctl's request (so ioctl leaves the bitmap, and every
 * stacked program runs on each ioctl): the cost of one more program.  Static (gcc -O2 -static) so that it runs in a
 * busybox rootfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int install_filter(struct sock_filter *insns, unsigned short len)
{
	struct sock_fprog prog = { .len = len, .filter = insns };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "syscall_loop: PR_SET_NO_NEW_PRIVS: %s\n", strerror(errno));
		return -1;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		fprintf(stderr, "syscall_loop: seccomp: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int install_floor_filter(void)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };

	return install_filter(allow, 1);
}

/* Allows everything, but reads ioctl's second argument on the way: the
 * kernel cannot prove a constant action for ioctl. */
static int install_arg_filters(long k)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 1),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};

	for (long i = 0; i < k; i++)
		if (install_filter(f, sizeof(f) / sizeof(f[0])) < 0)
			return -1;
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* syscall() rather than the libc wrappers: glibc caches nothing for these
 * today, but the point is one real entry into the kernel per iteration. */
static double loop_getppid(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return now_ns() - t0;
}

static double loop_ioctl(long n, int fd)
{
	int avail;
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		if (syscall(SYS_ioctl, fd, FIONREAD, &avail) < 0)
			return -1;
	return now_ns() - t0;
}

static int usage(void)
{
	fprintf(stderr, "usage: syscall_loop getppid|ioctl N [--floor | --stacked K]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int fds[2];
	long n;
	double ns;
	char *end;

	if (argc < 3)
		return usage();
	n = strtol(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || n <= 0)
		return usage();
	if (argc == 4 && strcmp(argv[3], "--floor") == 0) {
		if (install_floor_filter() < 0)
			return 1;
	} else if (argc == 5 && strcmp(argv[3], "--stacked") == 0) {
		long k = strtol(argv[4], &end, 10);

		if (*argv[4] == '\0' || *end != '\0' || k < 0 || k > 64)
			return usage();
		if (install_arg_filters(k) < 0)
			return 1;
	} else if (argc != 3) {
		return usage();
	}
	if (strcmp(argv[1], "getppid") == 0) {
		loop_getppid(n / 10 + 1); /* warm-up: caches, frequency */
		ns = loop_getppid(n);
	} else if (strcmp(argv[1], "ioctl") == 0) {
		if (pipe(fds) < 0) {
			fprintf(stderr, "syscall_loop: pipe: %s\n", strerror(errno));
			return 1;
		}
		loop_ioctl(n / 10 + 1, fds[0]);
		ns = loop_ioctl(n, fds[0]);
		if (ns < 0) {
			fprintf(stderr, "syscall_loop: ioctl(FIONREAD): %s\n", strerror(errno));
			return 1;
		}
	} else {
		return usage();
	}
	printf("%.2f\n", ns / (double)n);
	return 0;
}
