#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_message(struct sbx_error *err, int errnum, const char *fmt, va_list ap)
{
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);

	if (errnum != 0 && n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(errnum));
}

static int vfail(struct sbx_error *err, int status, int errnum, const char *fmt, va_list ap)
{
	err->err = errnum;
	err->status = status;
	set_message(err, errnum, fmt, ap);
	return -1;
}

int sbx_fail(struct sbx_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, SBX_EXIT_FAILURE, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int sbx_fail_status(struct sbx_error *err, int status, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, status, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int sbx_error_wrap(struct sbx_error *err, const char *fmt, ...)
{
	char prefix[SBX_ERROR_MSG_MAX];
	char old[SBX_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	/* Truncation keeps the start, which says what failed. */
	size_t n = strnlen(prefix, sizeof(err->msg) - 1);
	memcpy(err->msg, prefix, n);
	if (n + 2 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 2);
		n += 2;
	}
	size_t rest = strnlen(old, sizeof(err->msg) - 1 - n);
	memcpy(err->msg + n, old, rest);
	err->msg[n + rest] = '\0';
	return -1;
}

int sbx_error_hint(struct sbx_error *err, const char *fmt, ...)
{
	size_t len = strnlen(err->msg, sizeof(err->msg));
	va_list ap;

	if (len + 3 >= sizeof(err->msg))
		return -1;
	memcpy(err->msg + len, " (", 3);
	len += 2;
	va_start(ap, fmt);
	vsnprintf(err->msg + len, sizeof(err->msg) - len, fmt, ap);
	va_end(ap);
	len = strnlen(err->msg, sizeof(err->msg));
	if (len + 2 <= sizeof(err->msg)) {
		err->msg[len] = ')';
		err->msg[len + 1] = '\0';
	}
	return -1;
}
