#include <stdint.h>

#include "error.h"
#include "unit.h"
#include "util.h"

void test_util(void)
{
	uint64_t v;
	uint32_t id;
	struct sbx_error err = { 0 };

	CHECK(sbx_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(sbx_parse_size("256m", &v) == 0 && v == 256ULL << 20);
	CHECK(sbx_parse_size("1G", &v) == 0 && v == 1ULL << 30);
	CHECK(sbx_parse_size("2KiB", &v) == 0 && v == 2048);
	CHECK(sbx_parse_size("1mb", &v) == 0 && v == 1ULL << 20);
	CHECK(sbx_parse_size("0", &v) < 0);
	CHECK(sbx_parse_size("", &v) < 0);
	CHECK(sbx_parse_size("-1m", &v) < 0);
	CHECK(sbx_parse_size("12x", &v) < 0);
	CHECK(sbx_parse_size("1mm", &v) < 0);
	CHECK(sbx_parse_size("99999999999999999999", &v) < 0);
	CHECK(sbx_parse_size("17179869184G", &v) < 0); /* overflows 64 bits */

	CHECK(sbx_parse_id("0", &id) == 0 && id == 0);
	CHECK(sbx_parse_id("1000", &id) == 0 && id == 1000);
	CHECK(sbx_parse_id("4294967294", &id) == 0 && id == 4294967294u);
	CHECK(sbx_parse_id("4294967295", &id) < 0); /* (uid_t)-1 */
	CHECK(sbx_parse_id("-1", &id) < 0);
	CHECK(sbx_parse_id("", &id) < 0);
	CHECK(sbx_parse_id("1a", &id) < 0);
	CHECK(sbx_parse_id("99999999999", &id) < 0);

	{
		char out[64];

		sbx_escape_controls("plain /path é €", out, sizeof(out));
		CHECK_STR(out, "plain /path é €");
		sbx_escape_controls("a\x1b]0;t\x07" "b\n\x7f", out, sizeof(out));
		CHECK_STR(out, "a\\x1b]0;t\\x07b\\x0a\\x7f");
		/* C1 CSI as UTF-8, a lone C1 byte, a truncated sequence, an overlong '/'. */
		sbx_escape_controls("\xc2\x9b" "2J|\x9b|\xe2\x82|\xc0\xaf", out, sizeof(out));
		CHECK_STR(out, "\\xc2\\x9b2J|\\x9b|\\xe2\\x82|\\xc0\\xaf");
		/* Truncation never splits an escape. */
		CHECK(sbx_escape_controls("ab\x1b", out, 6) == 2);
		CHECK_STR(out, "ab");
	}

	CHECK(sbx_valid_env_name("PATH", 4));
	CHECK(sbx_valid_env_name("_a1", 3));
	CHECK(!sbx_valid_env_name("1A", 2));
	CHECK(!sbx_valid_env_name("", 0));
	CHECK(!sbx_valid_env_name("A-B", 3));

	sbx_fail(&err, 2, "opening %s", "x");
	CHECK_STR(err.msg, "opening x: No such file or directory");
	CHECK(err.status == 125 && err.err == 2);
	sbx_error_wrap(&err, "step %d", 3);
	CHECK_STR(err.msg, "step 3: opening x: No such file or directory");
	sbx_error_hint(&err, "do this");
	CHECK_STR(err.msg, "step 3: opening x: No such file or directory (do this)");
	sbx_fail_status(&err, 127, 0, "nope");
	CHECK_STR(err.msg, "nope");
	CHECK(err.status == 127);
	/* Wrapping a full message truncates without overflowing. */
	memset(err.msg, 'a', sizeof(err.msg) - 1);
	err.msg[sizeof(err.msg) - 1] = '\0';
	sbx_error_wrap(&err, "ctx");
	CHECK(strlen(err.msg) == sizeof(err.msg) - 1 && strncmp(err.msg, "ctx: a", 6) == 0);
}
