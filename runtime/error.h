/* Errors carried up the call chain.
 *
 * A function that can fail returns a negative int and fills a struct
 * sbx_error: the errno that caused it (0 when there is none), the exit status
 * sbx should end with, and a message that says what failed, why, and, where
 * we know it, what to do.  Callers add context with sbx_error_wrap() as the
 * error travels up; only main() prints it.  The struct is plain data so the
 * sandbox's child can send it to the parent over the sync socket as is. */
#ifndef SBX_ERROR_H
#define SBX_ERROR_H

#include <stddef.h>

/* Exit statuses of sbx itself; a command's own status passes through. */
enum sbx_exit {
	SBX_EXIT_IMAGE_REFUSED = 65, /* an image is malformed, hostile or does not match its digests */
	SBX_EXIT_IMAGE_MISSING = 66, /* no such image in the store, or no such input */
	SBX_EXIT_FAILURE = 125,  /* sbx failed: bad option, host refused a step */
	SBX_EXIT_NOEXEC = 126,   /* the command exists but cannot be executed */
	SBX_EXIT_NOTFOUND = 127, /* the command does not exist in the sandbox */
};

#define SBX_ERROR_MSG_MAX 1024

struct sbx_error {
	int err;    /* errno of the root cause, 0 if none */
	int status; /* exit status to end with */
	char msg[SBX_ERROR_MSG_MAX];
};

/* Fill ERR with errno value ERRNUM (its strerror is appended) and return -1.
 * ERRNUM 0 means the failure has no errno. */
int sbx_fail(struct sbx_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same, with exit status STATUS instead of 125. */
int sbx_fail_status(struct sbx_error *err, int status, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prefix the message with context ("mounting /proc: ...") and return -1. */
int sbx_error_wrap(struct sbx_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append a hint saying what the user can do about it and return -1. */
int sbx_error_hint(struct sbx_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Copy IN to OUT (OUTLEN bytes with the NUL) with every control
 * character, C1 control and byte that is not UTF-8 written as \xHH, so that
 * text from an image or a caller cannot drive the terminal it is printed
 * on.  Truncates; returns the length written. */
size_t sbx_escape_controls(const char *in, char *out, size_t outlen);

#endif
