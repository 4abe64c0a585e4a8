#include <string.h>

#include "idmap.h"
#include "unit.h"

static void check_format(const struct sbx_idmap *m, const char *want)
{
	char buf[512];

	CHECK(sbx_idmap_format(m, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, want);
}

void test_idmap(void)
{
	struct sbx_idmap m;
	struct sbx_id_range r;
	struct sbx_id_range bg = { 100000, 65536 };

	/* Single mapping. */
	CHECK(sbx_idmap_build(1000, 1234, NULL, &m) == 0);
	check_format(&m, "1000 1234 1\n");

	/* Full range with the sandbox user sent to the caller. */
	CHECK(sbx_idmap_build(1000, 1234, &bg, &m) == 0);
	check_format(&m, "0 100000 1000\n1000 1234 1\n1001 101001 64535\n");
	CHECK(sbx_idmap_to_host(&m, 0) == 100000);
	CHECK(sbx_idmap_to_host(&m, 1000) == 1234);
	CHECK(sbx_idmap_to_host(&m, 65535) == 165535);
	CHECK(!sbx_idmap_has_inside(&m, 65536));

	/* Sandbox user 0, explicitly. */
	CHECK(sbx_idmap_build(0, 1234, &bg, &m) == 0);
	check_format(&m, "0 1234 1\n1 100001 65535\n");

	/* The host id falls inside the range: punch a second hole so that no
	 * host id is mapped twice. */
	CHECK(sbx_idmap_build(1000, 100005, &bg, &m) == 0);
	check_format(&m, "0 100000 5\n6 100006 994\n1000 100005 1\n1001 101001 64535\n");
	/* ...and when it is the sandbox id's own place, no hole at all. */
	CHECK(sbx_idmap_build(1000, 101000, &bg, &m) == 0);
	check_format(&m, "0 100000 1000\n1000 101000 1\n1001 101001 64535\n");
	/* Sandbox id beyond the range. */
	CHECK(sbx_idmap_build(70000, 5, &bg, &m) == 0);
	check_format(&m, "0 100000 65536\n70000 5 1\n");
	/* A range that would overflow is refused. */
	{
		struct sbx_id_range bad = { 4294967000u, 65536 };

		CHECK(sbx_idmap_build(1000, 5, &bad, &m) < 0);
	}

	/* /etc/subuid parsing. */
	CHECK(sbx_subid_find("alice:100000:65536\nbob:165536:65536\n", "bob", 1001, &r) == 1);
	CHECK(r.start == 165536 && r.count == 65536);
	CHECK(sbx_subid_find("1001:5:10\n", "bob", 1001, &r) == 1 && r.start == 5 && r.count == 10);
	CHECK(sbx_subid_find("alice:100000:65536", "bob", 1001, &r) == 0);
	CHECK(sbx_subid_find("# c\nbob:x:1\nbob:1:0\nbob:-1:5\nbob:7:8", "bob", 1, &r) == 1);
	CHECK(r.start == 7 && r.count == 8);
	CHECK(sbx_subid_find("bob:4294967295:2\n", "bob", 1, &r) == 0);
	CHECK(sbx_subid_find("", "bob", 1, &r) == 0);
	CHECK(sbx_subid_find("bobby:1:2\n", "bob", 1, &r) == 0);
	CHECK(sbx_subid_find("bob:1:2\n", NULL, 1, &r) == 0);

	/* Root's range: never host root, never a real user's or group's id. */
	{
		const char *passwd = "root:x:0:0:root:/root:/bin/bash\n# c:x:5:\nbob:x:1000:1000::/home/bob:/bin/sh\n"
				     "nobody:x:65534:65534::/:/usr/sbin/nologin\n";
		char why[128];
		unsigned int line;
		struct sbx_id_range at0 = { 0, 65536 }, over = { 999, 2 }, below = { 100, 900 };
		struct sbx_id_range after = { 1001, 64533 }, high = { 100000, 65536 }, nobody = { 65534, 1 };

		CHECK(sbx_id_range_check(&at0, "", why, sizeof(why)) < 0);
		CHECK(strstr(why, "host root") != NULL);
		CHECK(sbx_id_range_check(&over, passwd, why, sizeof(why)) < 0);
		CHECK_STR(why, "holds 1000, the id of bob");
		CHECK(sbx_id_range_check(&nobody, passwd, why, sizeof(why)) < 0);
		CHECK(sbx_id_range_check(&below, passwd, why, sizeof(why)) == 0);
		CHECK(sbx_id_range_check(&after, passwd, why, sizeof(why)) == 0);
		CHECK(sbx_id_range_check(&high, passwd, why, sizeof(why)) == 0);
		/* A comment or a line without an id is nobody's. */
		CHECK(sbx_id_range_check(&(struct sbx_id_range){ 5, 1 }, passwd, why, sizeof(why)) == 0);
		CHECK(sbx_id_range_check(&(struct sbx_id_range){ 1, 10 }, "x:y:zz:\n:\n", why, sizeof(why)) == 0);
		CHECK(sbx_subid_find_line("# c\nalice:1:2\nroot:100000:65536\n", "root", 0, &r, &line) == 1);
		CHECK(line == 3 && r.start == 100000);
	}
}
