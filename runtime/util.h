/* Small helpers shared by every module: scoped cleanup, whole-file I/O,
 * size parsing. */
#ifndef SBX_UTIL_H
#define SBX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Scoped cleanup in the manner of systemd and crun: the variable is released
 * when it goes out of scope, so early returns on error leak nothing. */
void sbx_freep(void *p);
void sbx_closep(int *fd);
#define cleanup_free __attribute__((cleanup(sbx_freep)))
#define cleanup_close __attribute__((cleanup(sbx_closep)))

/* Hand an owned fd to the caller without the cleanup closing it. */
static inline int sbx_steal_fd(int *fd)
{
	int ret = *fd;

	*fd = -1;
	return ret;
}

#define SBX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Write all of BUF to FD, retrying on EINTR and short writes. */
int sbx_write_all(int fd, const void *buf, size_t len);

/* One read or write on a descriptor sbx shares with its caller (its stdio),
 * which must never hold sbx up: O_NONBLOCK cannot be set there (it belongs
 * to the open file description, which other processes share), so a
 * watchdog signal interrupts a call still blocked after
 * SBX_IO_WATCHDOG_MS (EINTR, or a short count).  Callers poll first; the
 * watchdog covers what poll cannot promise (a terminal with less room than
 * the write, another writer on the same pipe). */
#define SBX_IO_WATCHDOG_MS 20
ssize_t sbx_read_bounded(int fd, void *buf, size_t len);
ssize_t sbx_write_bounded(int fd, const void *buf, size_t len);
/* All of BUF to FD, as sbx_write_all, but waiting at most TIMEOUT_MS for
 * the reader to take it (ETIMEDOUT); -1 waits as long as it takes. */
int sbx_write_all_within(int fd, const void *buf, size_t len, int timeout_ms);

/* Write STR to the file at PATH (relative to DIRFD), which must exist. */
int sbx_write_file_at(int dirfd, const char *path, const char *str, struct sbx_error *err);

/* Read at most MAX bytes of the file at PATH into a NUL-terminated malloc'd
 * buffer; files larger than MAX are an error (EFBIG). */
int sbx_read_file(const char *path, size_t max, char **out, struct sbx_error *err);
/* The same from an open FD; WHAT names it in errors. */
int sbx_read_fd(int fd, const char *what, size_t max, char **out, struct sbx_error *err);

/* Parse a size such as "256m", "1G", "4096" (binary units, k/m/g/t, optional
 * trailing "b"/"ib"). Rejects zero, negative numbers, garbage and overflow. */
int sbx_parse_size(const char *s, uint64_t *out);

/* Parse a decimal id (uid or gid) in [0, 2^32-2]; rejects -1 and garbage. */
int sbx_parse_id(const char *s, uint32_t *out);

/* Whether a NUL-terminated string is a valid environment variable name. */
bool sbx_valid_env_name(const char *s, size_t len);

/* The exit status a wait status stands for: the code, or 128+N for a
 * death by signal N. */
int sbx_exit_status(int wstatus);

/* Progress for -v: one "sbx: ..." line on stderr when VERBOSE is set. */
void sbx_verbose(bool verbose, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Run PATH with ARGV and ENVP, its stdout and stderr captured: the first
 * LEN - 1 bytes into OUT (NUL-terminated), the rest read and dropped.
 * *STATUS gets its wait status.  -1 only when it could not be run. */
int sbx_run_capture(const char *path, char *const argv[], char *const envp[], char *out, size_t len,
		    int *status, struct sbx_error *err);

/* The same in two halves, so that two programs may run at once: start
 * PATH (posix_spawn: no copy of sbx's page tables), then collect it. */
struct sbx_capture {
	const char *path;
	pid_t pid;
	int out; /* the read end of its stdout and stderr */
};
int sbx_capture_start(const char *path, char *const argv[], char *const envp[], struct sbx_capture *c,
		      struct sbx_error *err);
int sbx_capture_finish(struct sbx_capture *c, char *out, size_t len, int *status, struct sbx_error *err);

#endif
