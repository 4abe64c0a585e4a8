/* sbx-probe: a small static program the integration tests run inside the
 * sandbox.  Each subcommand tries one thing and prints one result line:
 * "ok ..." (exit 0) or "err <errno> <name>" (exit 1).  Static, so it runs in
 * any rootfs, even one holding nothing else. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stddef.h>
#include <sys/sysmacros.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

extern char **environ;

static int result(int r)
{
	if (r == 0) {
		printf("ok\n");
		return 0;
	}
	printf("err %d %s\n", errno, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	return 1;
}

/* chmod(PATH, MODE) through the i386 entry (int 0x80): a filter that knows
 * only the native architecture would miss it.  The path must lie below
 * 4 GiB for the 32-bit call. */
static int cmd_chmod_int80(const char *path, const char *mode)
{
#if defined(__x86_64__)
	char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	long ret;

	if (low == MAP_FAILED || strlen(path) >= 4096)
		return result(-1);
	strcpy(low, path);
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(15L), "b"(low), "c"(strtol(mode, NULL, 8)) : "memory");
	if (ret < 0) {
		errno = (int)-ret;
		return result(-1);
	}
	return result(0);
#else
	(void)path;
	(void)mode;
	errno = ENOSYS;
	return result(-1);
#endif
}

static int cmd_ids(void)
{
	uid_t r, e, s;
	gid_t gr, ge, gs, groups[64];
	int n;

	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	n = getgroups(64, groups);
	printf("ok uid=%u,%u,%u gid=%u,%u,%u groups=", r, e, s, gr, ge, gs);
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", groups[i]);
	printf("\n");
	return 0;
}

static int cmd_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int self;

	if (d == NULL)
		return result(-1);
	self = dirfd(d);
	printf("ok");
	while ((de = readdir(d)) != NULL) {
		char link[256] = "";
		int fd = atoi(de->d_name);
		char path[64];
		ssize_t n;

		if (de->d_name[0] == '.' || fd == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		printf(" %d=%s", fd, link);
	}
	printf("\n");
	closedir(d);
	return 0;
}

static int cmd_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return result(-1);
	if (write(fd, "x", 1) != 1)
		return result(-1);
	return result(close(fd));
}

static int cmd_read(const char *path)
{
	char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n, total = 0;

	if (fd < 0)
		return result(-1);
	printf("ok ");
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		total += n;
	}
	if (n < 0)
		return result(-1);
	close(fd);
	if (total == 0)
		printf("\n");
	return 0;
}

/* Write 1 MiB blocks to PATH until it fails; print how much fit. */
static int cmd_fill(const char *path)
{
	static char block[1 << 20];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	long long total = 0;
	ssize_t n;

	if (fd < 0)
		return result(-1);
	while ((n = write(fd, block, sizeof(block))) > 0)
		total += n;
	printf("ok bytes=%lld errno=%s\n", total, strerrorname_np(errno));
	close(fd);
	unlink(path);
	return 0;
}

/* Create empty files in DIR until it fails (at most LIMIT); print how many. */
static int cmd_mkfiles(const char *dir, long limit)
{
	char name[4096];
	long n;
	int fd;

	for (n = 0; n < limit; n++) {
		snprintf(name, sizeof(name), "%s/f%ld", dir, n);
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			break;
		close(fd);
	}
	printf("ok files=%ld errno=%s\n", n, n < limit ? strerrorname_np(errno) : "none");
	return 0;
}

static int cmd_statfs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st) < 0)
		return result(-1);
	printf("ok type=0x%lx flags=0x%lx files=%lu\n", (unsigned long)st.f_type, (unsigned long)st.f_flags,
	       (unsigned long)st.f_files);
	return 0;
}

static int cmd_stat(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return result(-1);
	printf("ok mode=0%o uid=%u gid=%u dev=%lu ino=%lu rdev=%u:%u\n", st.st_mode, st.st_uid,
	       st.st_gid, (unsigned long)st.st_dev, (unsigned long)st.st_ino,
	       major(st.st_rdev), minor(st.st_rdev));
	return 0;
}

static int cmd_ifaces(void)
{
	struct if_nameindex *ifs = if_nameindex();

	if (ifs == NULL)
		return result(-1);
	printf("ok");
	for (struct if_nameindex *i = ifs; i->if_index != 0; i++)
		printf(" %s", i->if_name);
	printf("\n");
	return 0;
}

static int cmd_pids(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (d == NULL)
		return result(-1);
	printf("ok");
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
			printf(" %s", de->d_name);
	printf("\n");
	closedir(d);
	return 0;
}

static int cmd_connect_abstract(const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	size_t len = strlen(name);

	if (fd < 0)
		return result(-1);
	if (len > sizeof(addr.sun_path) - 1)
		len = sizeof(addr.sun_path) - 1;
	memcpy(addr.sun_path + 1, name, len);
	return result(connect(fd, (struct sockaddr *)&addr,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)));
}

static int cmd_connect_tcp(const char *host, const char *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return result(-1);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		errno = EINVAL;
		return result(-1);
	}
	return result(connect(fd, (struct sockaddr *)&addr, sizeof(addr)));
}

static int cmd_shmget(const char *key)
{
	return result(shmget((key_t)strtol(key, NULL, 0), 0, 0) < 0 ? -1 : 0);
}

/* mknod PATH as a char (c) or block (b) device MAJOR:MINOR, then open it
 * read-write: a node the sandbox makes itself must open nothing. */
static int cmd_mknod_open(const char *path, const char *type, const char *maj, const char *min)
{
	mode_t kind = type[0] == 'b' ? S_IFBLK : S_IFCHR;
	int fd;

	if (mknod(path, kind | 0600, makedev((unsigned)atoi(maj), (unsigned)atoi(min))) < 0) {
		printf("mknod ");
		return result(-1);
	}
	fd = open(path, O_RDWR);
	if (fd < 0) {
		printf("open ");
		return result(-1);
	}
	close(fd);
	return result(0);
}

/* A tmpfs mounted at DIR (needs CAP_SYS_ADMIN): whether it reaches the
 * host is the propagation test's question. */
static int cmd_mount_tmpfs(const char *dir)
{
	return result(mount("probe-tmpfs", dir, "tmpfs", 0, "size=64k"));
}

static int cmd_usage(void)
{
	fprintf(stderr,
		"usage: sbx-probe ids|fds|cwd|env|hostname|ifaces|pids|pid|securebits|rawsock\n"
		"       sbx-probe write|read|fill|statfs|stat|mkdir|sethostname ARG|mkfiles DIR MAX\n"
		"       sbx-probe kill PID|connect-abstract NAME|connect-tcp HOST PORT|shmget KEY\n"
		"       sbx-probe sleep SECONDS [TAG]|flood BYTES|zombies N|tiocsti TEXT [FD|tty]|exit N\n"
		"       sbx-probe mknod-open PATH c|b MAJOR MINOR|mount-tmpfs DIR\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : NULL;
	char buf[4096];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "ids") == 0)
		return cmd_ids();
	if (strcmp(cmd, "fds") == 0)
		return cmd_fds();
	if (strcmp(cmd, "cwd") == 0) {
		if (getcwd(buf, sizeof(buf)) == NULL)
			return result(-1);
		printf("ok %s\n", buf);
		return 0;
	}
	if (strcmp(cmd, "env") == 0) {
		for (char **e = environ; *e; e++)
			printf("%s\n", *e);
		return 0;
	}
	if (strcmp(cmd, "hostname") == 0) {
		if (gethostname(buf, sizeof(buf)) < 0)
			return result(-1);
		printf("ok %s\n", buf);
		return 0;
	}
	if (strcmp(cmd, "ifaces") == 0)
		return cmd_ifaces();
	if (strcmp(cmd, "pids") == 0)
		return cmd_pids();
	if (strcmp(cmd, "pid") == 0) {
		printf("ok %d\n", getpid());
		return 0;
	}
	if (strcmp(cmd, "securebits") == 0) {
		int bits = prctl(PR_GET_SECUREBITS);

		if (bits < 0)
			return result(-1);
		printf("ok 0x%x\n", bits);
		return 0;
	}
	if (strcmp(cmd, "rawsock") == 0)
		return result(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) < 0 ? -1 : 0);
	if (strcmp(cmd, "exit") == 0 && arg)
		return atoi(arg);
	if (arg == NULL)
		return cmd_usage();
	if (strcmp(cmd, "mknod-open") == 0 && argc > 5)
		return cmd_mknod_open(arg, argv[3], argv[4], argv[5]);
	if (strcmp(cmd, "mount-tmpfs") == 0 && arg != NULL)
		return cmd_mount_tmpfs(arg);
	if (strcmp(cmd, "write") == 0)
		return cmd_write(arg);
	if (strcmp(cmd, "read") == 0)
		return cmd_read(arg);
	if (strcmp(cmd, "fill") == 0)
		return cmd_fill(arg);
	if (strcmp(cmd, "statfs") == 0)
		return cmd_statfs(arg);
	if (strcmp(cmd, "mkfiles") == 0 && argc > 3)
		return cmd_mkfiles(arg, atol(argv[3]));
	if (strcmp(cmd, "stat") == 0)
		return cmd_stat(arg);
	if (strcmp(cmd, "sleep") == 0) {
		/* Extra arguments are a tag for finding the process with ps. */
		printf("ok sleeping\n");
		sleep((unsigned int)atoi(arg));
		return 0;
	}
	if (strcmp(cmd, "flood") == 0) {
		/* Write ARG bytes ("5g", "1m") of 'y\n' to stdout, fast. */
		static char block[1 << 16];
		unsigned long long left = strtoull(arg, NULL, 10);
		char unit = arg[strspn(arg, "0123456789")];

		left <<= unit == 'k' ? 10 : unit == 'm' ? 20 : unit == 'g' ? 30 : 0;
		for (size_t i = 0; i < sizeof(block); i += 2)
			memcpy(block + i, "y\n", 2);
		while (left > 0) {
			size_t n = left < sizeof(block) ? (size_t)left : sizeof(block);
			ssize_t w = write(1, block, n);

			if (w <= 0)
				return result(-1);
			left -= (unsigned long long)w;
		}
		return 0;
	}
	if (strcmp(cmd, "tiocsti") == 0) {
		/* Push ARG into the input queue of the terminal on fd argv[3]
		 * (or /dev/tty), one byte at a time; also with high bits set
		 * in the request (CVE-2019-10063). */
		int fd = argc > 3 ? (strcmp(argv[3], "tty") == 0 ? open("/dev/tty", O_RDWR) : atoi(argv[3])) : 0;
		int pushed = 0, last = 0;

		if (fd < 0)
			return result(-1);
		for (const char *c = arg; *c; c++) {
			if (syscall(SYS_ioctl, fd, TIOCSTI, c) == 0)
				pushed++;
			else
				last = errno;
			if (syscall(SYS_ioctl, fd, (1UL << 32) | TIOCSTI, c) == 0)
				pushed++;
			else
				last = errno;
		}
		printf("ok pushed=%d errno=%s\n", pushed, last ? strerrorname_np(last) : "0");
		return 0;
	}
	if (strcmp(cmd, "zombies") == 0) {
		/* Leave ARG orphans that exit at once; report how many zombies
		 * remain after a moment. */
		int n = atoi(arg), zombies = 0;
		DIR *d;
		struct dirent *de;

		for (int i = 0; i < n; i++) {
			pid_t p = fork();

			if (p == 0) {
				if (fork() == 0)
					_exit(0);
				_exit(0);
			}
			waitpid(p, NULL, 0);
		}
		usleep(300000);
		d = opendir("/proc");
		while (d && (de = readdir(d)) != NULL) {
			char path[300], stat[256];
			FILE *f;

			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
			f = fopen(path, "r");
			if (f && fgets(stat, sizeof(stat), f) && strstr(stat, ") Z "))
				zombies++;
			if (f)
				fclose(f);
		}
		printf("ok zombies=%d\n", zombies);
		return 0;
	}
	if (strcmp(cmd, "syscall") == 0)
		return result(syscall(atol(arg)) < 0 ? -1 : 0);
	if (strcmp(cmd, "mkdir") == 0)
		return result(mkdir(arg, 0755));
	if (strcmp(cmd, "sethostname") == 0)
		return result(sethostname(arg, strlen(arg)));
	if (strcmp(cmd, "kill") == 0)
		return result(kill(atoi(arg), 0));
	if (strcmp(cmd, "connect-abstract") == 0)
		return cmd_connect_abstract(arg);
	if (strcmp(cmd, "connect-tcp") == 0 && argc > 3)
		return cmd_connect_tcp(arg, argv[3]);
	if (strcmp(cmd, "shmget") == 0)
		return cmd_shmget(arg);
	if (strcmp(cmd, "chmod-int80") == 0 && argc > 3)
		return cmd_chmod_int80(arg, argv[3]);
	return cmd_usage();
}
