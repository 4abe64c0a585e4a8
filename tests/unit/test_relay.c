#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "options.h"
#include "relay.h"
#include "unit.h"

/* Feed CHUNKS into a relay with LIMIT and return what it wrote, taken by a
 * reader STEP bytes at a time. */
static char *relay_slowly(uint64_t limit, const char *const chunks[], size_t step, size_t *len,
			  bool *truncated)
{
	static char out[1 << 16];
	struct sbx_error err = { 0 };
	struct sbx_relay r;
	int p[2];
	ssize_t n;

	CHECK(pipe(p) == 0);
	CHECK(sbx_relay_init(&r, -1, p[1], limit, &err) == 0);
	for (size_t i = 0; chunks[i] != NULL; i++)
		CHECK(sbx_relay_feed(&r, chunks[i], strlen(chunks[i]), &err) == 0);
	sbx_relay_eof(&r);
	for (;;) {
		const char *buf;
		size_t due = sbx_relay_pending(&r, &buf);

		if (due == 0)
			break;
		due = due < step ? due : step;
		CHECK(write(p[1], buf, due) == (ssize_t)due);
		sbx_relay_sent(&r, due);
	}
	CHECK(sbx_relay_dropped(&r) == 0);
	*truncated = sbx_relay_truncated(&r);
	sbx_relay_free(&r);
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = '\0';
	*len = n > 0 ? (size_t)n : 0;
	return out;
}

static char *relay_through(uint64_t limit, const char *const chunks[], size_t *len, bool *truncated)
{
	return relay_slowly(limit, chunks, SIZE_MAX, len, truncated);
}

/* A reader that stops: what it never took is counted, the omitted middle
 * is not. */
static void test_relay_drop(void)
{
	struct sbx_error err = { 0 };
	struct sbx_relay r;
	const char *buf;

	CHECK(sbx_relay_init(&r, -1, -1, 10, &err) == 0);
	CHECK(sbx_relay_feed(&r, "abc", 3, &err) == 0);
	CHECK(sbx_relay_pending(&r, &buf) == 3 && buf[0] == 'a');
	sbx_relay_sent(&r, 1);
	CHECK(sbx_relay_feed(&r, "defghijklmnopqrstuvwxyz", 23, &err) == 0);
	CHECK(sbx_relay_pending(&r, &buf) == 4 && buf[0] == 'b');
	CHECK(sbx_relay_dropped(&r) == 0);
	sbx_relay_drop(&r);
	CHECK(sbx_relay_pending(&r, &buf) == 0);
	/* b..e of the head, v..z of the tail. */
	CHECK(sbx_relay_dropped(&r) == 4 + 5);
	sbx_relay_free(&r);
}

void test_relay(void)
{
	size_t len;
	bool trunc;
	uint64_t ns;

	/* Under the limit: everything, unchanged, no marker. */
	CHECK_STR(relay_through(10, (const char *[]){ "hello", NULL }, &len, &trunc), "hello");
	CHECK(!trunc);
	CHECK_STR(relay_through(10, (const char *[]){ "0123456789", NULL }, &len, &trunc), "0123456789");
	CHECK(!trunc);
	/* Over: head 5, marker, tail 5, in one chunk or many. */
	CHECK_STR(relay_through(10, (const char *[]){ "abcdefghijklmnopqrstuvwxyz", NULL }, &len, &trunc),
		  "abcde\n[sbx: output truncated, 16 bytes omitted]\nvwxyz");
	CHECK(trunc);
	CHECK_STR(relay_through(10, (const char *[]){ "ab", "cdefg", "hijkl", "mnopqrstu", "v", "wxyz", NULL },
				&len, &trunc),
		  "abcde\n[sbx: output truncated, 16 bytes omitted]\nvwxyz");
	/* An odd limit: the tail gets the extra byte. */
	CHECK_STR(relay_through(5, (const char *[]){ "abcdefgh", NULL }, &len, &trunc),
		  "ab\n[sbx: output truncated, 3 bytes omitted]\nfgh");
	/* Exactly one byte over. */
	CHECK_STR(relay_through(4, (const char *[]){ "abcde", NULL }, &len, &trunc),
		  "ab\n[sbx: output truncated, 1 bytes omitted]\nde");
	/* A reader taking 3 bytes at a time gets the same. */
	CHECK_STR(relay_slowly(10, (const char *[]){ "ab", "cdefg", "hijkl", "mnopqrstu", "v", "wxyz", NULL }, 3,
			       &len, &trunc),
		  "abcde\n[sbx: output truncated, 16 bytes omitted]\nvwxyz");
	CHECK_STR(relay_slowly(64, (const char *[]){ "hello", " world", NULL }, 1, &len, &trunc), "hello world");
	test_relay_drop();

	CHECK(sbx_parse_seconds("2", &ns) == 0 && ns == 2000000000ULL);
	CHECK(sbx_parse_seconds("0.5", &ns) == 0 && ns == 500000000ULL);
	CHECK(sbx_parse_seconds("1.000000001", &ns) == 0 && ns == 1000000001ULL);
	CHECK(sbx_parse_seconds("0.0000000001", &ns) < 0); /* rounds to zero */
	CHECK(sbx_parse_seconds("0", &ns) < 0);
	CHECK(sbx_parse_seconds("-1", &ns) < 0);
	CHECK(sbx_parse_seconds("1.", &ns) < 0);
	CHECK(sbx_parse_seconds(".5", &ns) < 0);
	CHECK(sbx_parse_seconds("1e3", &ns) < 0);
	CHECK(sbx_parse_seconds("99999999999", &ns) < 0);
}
