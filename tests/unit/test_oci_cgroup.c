/* Where an OCI container's cgroup goes (runtime/oci_cgroup.c). */
#include <string.h>

#include "oci_cgroup.h"
#include "unit.h"

static void expect_path(const char *cp, bool systemd, const char *want)
{
	struct sbx_error err = { 0 };
	char out[4096];

	CHECK(sbx_oci_cgroup_path(cp, systemd, "/run/sbx", "c1", out, sizeof(out), &err) == 0);
	CHECK_STR(out, want);
}

static void expect_refused(const char *cp, bool systemd, const char *says)
{
	struct sbx_error err = { 0 };
	char out[4096];

	CHECK(sbx_oci_cgroup_path(cp, systemd, "/run/sbx", "c1", out, sizeof(out), &err) < 0);
	CHECK(strstr(err.msg, says) != NULL);
}

void test_oci_cgroup(void)
{
	struct sbx_error err = { 0 };
	char a[256], b[256];

	/* runc's cgroupfs rule: below the mount. */
	expect_path("/libpod_parent/libpod-abc", false, "libpod_parent/libpod-abc");
	expect_path("/default/c1", false, "default/c1");
	/* systemd's: the slice's dashes nest it; the scope is prefix-name. */
	expect_path("machine.slice:libpod:abc", true, "machine.slice/libpod-abc.scope");
	expect_path("a-b-c.slice:p:n", true, "a.slice/a-b.slice/a-b-c.slice/p-n.scope");
	expect_path(":p:n", true, "system.slice/p-n.scope");
	expect_path("-.slice:p:n", true, "/p-n.scope");
	expect_path("user.slice:p:x.slice", true, "user.slice/x.slice");
	/* Without --systemd-cgroup a colon is a name's. */
	expect_path("/a:b:c", false, "a:b:c");
	expect_refused("machine.slice:libpod", true, "slice:prefix:name");
	expect_refused("a/b.slice:p:n", true, "not a systemd slice");
	expect_refused("/a/../../etc", false, "no . or ..");
	expect_refused("/a/./b", false, "no . or ..");
	/* None given: per state root, so two roots' same id never meet. */
	CHECK(sbx_oci_cgroup_path(NULL, false, "/run/a", "c1", a, sizeof(a), &err) == 0);
	CHECK(sbx_oci_cgroup_path("", false, "/run/b", "c1", b, sizeof(b), &err) == 0);
	CHECK(strncmp(a, "sbx/oci-", 8) == 0 && strcmp(a, b) != 0);
}
