#include "util.h"

#include <errno.h>
#include <spawn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

void sbx_freep(void *p)
{
	free(*(void **)p);
}

void sbx_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
	}
}

int sbx_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void on_watchdog(int sig)
{
	(void)sig;
}

/* The timer repeats, so that a shot landing before the call starts does
 * not leave the call unguarded. */
static void watchdog(bool on)
{
	static bool installed;
	struct itimerval it = { 0 };

	if (on && !installed) {
		/* Without SA_RESTART: the blocked call returns. */
		struct sigaction sa = { .sa_handler = on_watchdog };
		sigset_t set;

		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		sigemptyset(&set);
		sigaddset(&set, SIGALRM);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		installed = true;
	}
	if (on)
		it.it_value.tv_usec = it.it_interval.tv_usec = SBX_IO_WATCHDOG_MS * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

ssize_t sbx_read_bounded(int fd, void *buf, size_t len)
{
	ssize_t n;
	int saved;

	watchdog(true);
	n = read(fd, buf, len);
	saved = errno;
	watchdog(false);
	errno = saved;
	return n;
}

ssize_t sbx_write_bounded(int fd, const void *buf, size_t len)
{
	ssize_t n;
	int saved;

	watchdog(true);
	n = write(fd, buf, len);
	saved = errno;
	watchdog(false);
	errno = saved;
	return n;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sbx_write_all_within(int fd, const void *buf, size_t len, int timeout_ms)
{
	const char *p = buf;
	int64_t end = monotonic_ms() + timeout_ms;

	if (timeout_ms < 0)
		return sbx_write_all(fd, buf, len);
	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int64_t left = end - monotonic_ms();
		ssize_t n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = sbx_write_bounded(fd, p, len < 4096 ? len : 4096);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -1;
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
	return 0;
}

int sbx_write_file_at(int dirfd, const char *path, const char *str, struct sbx_error *err)
{
	cleanup_close int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return sbx_fail(err, errno, "opening %s for writing", path);
	if (sbx_write_all(fd, str, strlen(str)) < 0)
		return sbx_fail(err, errno, "writing %s", path);
	return 0;
}

int sbx_read_fd(int fd, const char *what, size_t max, char **out, struct sbx_error *err)
{
	cleanup_free char *buf = malloc(max + 1);
	size_t len = 0;

	if (buf == NULL)
		return sbx_fail(err, ENOMEM, "reading %s", what);
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sbx_fail(err, errno, "reading %s", what);
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return sbx_fail(err, EFBIG, "reading %s (larger than %zu bytes)", what, max);
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	return 0;
}

int sbx_read_file(const char *path, size_t max, char **out, struct sbx_error *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return sbx_fail(err, errno, "opening %s", path);
	return sbx_read_fd(fd, path, max, out, err);
}

int sbx_parse_size(const char *s, uint64_t *out)
{
	uint64_t value = 0, mult = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (value > (UINT64_MAX - 9) / 10)
			return -1;
		value = value * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case 'k': case 'K': mult = 1ULL << 10; p++; break;
	case 'm': case 'M': mult = 1ULL << 20; p++; break;
	case 'g': case 'G': mult = 1ULL << 30; p++; break;
	case 't': case 'T': mult = 1ULL << 40; p++; break;
	default: break;
	}
	if (mult > 1 && (*p == 'i' || *p == 'I'))
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0' || value == 0 || value > UINT64_MAX / mult)
		return -1;
	*out = value * mult;
	return 0;
}

int sbx_parse_id(const char *s, uint32_t *out)
{
	uint64_t value = 0;
	const char *p = s;

	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		value = value * 10 + (uint64_t)(*p - '0');
		/* (uid_t)-1 means "unchanged" to set*id(2): never a real id. */
		if (value >= UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)value;
	return 0;
}

bool sbx_valid_env_name(const char *s, size_t len)
{
	if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

void sbx_verbose(bool verbose, const char *fmt, ...)
{
	char text[1024], line[1024] = "sbx: ";
	va_list ap;
	size_t n;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Paths and image text go to a terminal: escaped. */
	n = 5 + sbx_escape_controls(text, line + 5, sizeof(line) - 6);
	line[n] = '\n';
	/* One write per line, so that the parent's and the child's lines never
	 * interleave mid-line. */
	(void)!write(STDERR_FILENO, line, n + 1);
}

int sbx_exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return SBX_EXIT_FAILURE;
}

int sbx_capture_start(const char *path, char *const argv[], char *const envp[], struct sbx_capture *c,
		      struct sbx_error *err)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], r;

	c->path = path;
	c->pid = -1;
	c->out = -1;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return sbx_fail(err, errno, "%s: pipe", path);
	r = posix_spawn_file_actions_init(&fa);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	if (r == 0)
		r = posix_spawn(&c->pid, path, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return sbx_fail(err, r, "%s", path);
	}
	c->out = pipefd[0];
	return 0;
}

int sbx_capture_finish(struct sbx_capture *c, char *out, size_t len, int *status, struct sbx_error *err)
{
	size_t used = 0;

	for (;;) {
		char drop[512];
		bool full = used + 1 >= len;
		ssize_t n = read(c->out, full ? drop : out + used, full ? sizeof(drop) : len - 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!full)
			used += (size_t)n;
	}
	out[used] = '\0';
	sbx_closep(&c->out);
	while (waitpid(c->pid, status, 0) < 0)
		if (errno != EINTR)
			return sbx_fail(err, errno, "%s: waitpid", c->path);
	return 0;
}

int sbx_run_capture(const char *path, char *const argv[], char *const envp[], char *out, size_t len,
		    int *status, struct sbx_error *err)
{
	struct sbx_capture c;

	if (sbx_capture_start(path, argv, envp, &c, err) < 0)
		return -1;
	return sbx_capture_finish(&c, out, len, status, err);
}
