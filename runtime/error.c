#include "error.h"

#include <stdarg.h>
#include <stdbool.h>
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

/* Length of the valid UTF-8 sequence at S (at most N bytes), 0 when it is
 * not one; *CP gets its code point. */
static size_t utf8_sequence(const unsigned char *s, size_t n, unsigned int *cp)
{
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	unsigned int v;

	if (len == 0 || len > n)
		return 0;
	v = s[0] & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not text. */
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

size_t sbx_escape_controls(const char *in, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), used = 0;

	if (outlen == 0)
		return 0;
	for (size_t i = 0; i < n;) {
		unsigned int cp = s[i];
		size_t len = s[i] < 0x80 ? 1 : utf8_sequence(s + i, n - i, &cp);
		bool control = len == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
		char esc[5];
		const char *piece = control ? esc : (const char *)s + i;
		size_t piece_len = control ? 4 : len;

		/* An escape byte, a C1 control (CSI...) or a stray byte could
		 * move the cursor, rewrite the title or answer back: \xHH. */
		if (control) {
			snprintf(esc, sizeof(esc), "\\x%02x", s[i]);
			len = 1;
		}
		if (used + piece_len >= outlen)
			break;
		memcpy(out + used, piece, piece_len);
		used += piece_len;
		i += len;
	}
	out[used] = '\0';
	return used;
}
