#include <stdlib.h>
#include <unistd.h>

#include "options.h"
#include "relay.h"
#include "unit.h"

/* Feed CHUNKS into a relay with LIMIT and return what it wrote. */
static char *relay_through(uint64_t limit, const char *const chunks[], size_t *len, bool *truncated)
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
	CHECK(sbx_relay_finish(&r, &err) == 0);
	*truncated = sbx_relay_truncated(&r);
	sbx_relay_free(&r);
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = '\0';
	*len = n > 0 ? (size_t)n : 0;
	return out;
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
