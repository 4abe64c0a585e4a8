/* oci_process.c's pure parts: the executable search (execvp's rules, in a
 * temporary tree) and the capability sets exec applies. */
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci_process.h"
#include "unit.h"

static void make_file(const char *dir, const char *name, mode_t mode)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	chmod(path, mode);
}

static void make_dir(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK(mkdir(path, 0755) == 0);
}

static void test_find(void)
{
	char tmp[] = "/tmp/sbx-unit-find-XXXXXX";
	char bin[4200], ubin[4200], path[8600], want[4300], out[4096], cmd[4300];
	struct sbx_error err = { 0 };

	if (mkdtemp(tmp) == NULL) {
		CHECK(!"mkdtemp");
		return;
	}
	make_dir(tmp, "bin");
	make_dir(tmp, "ubin");
	snprintf(bin, sizeof(bin), "%s/bin", tmp);
	snprintf(ubin, sizeof(ubin), "%s/ubin", tmp);
	make_file(bin, "prog", 0755);
	make_file(bin, "both", 0644);  /* found first, not executable */
	make_file(ubin, "both", 0755); /* so the search goes on to this one */
	make_file(ubin, "noexec", 0644);
	make_dir(ubin, "adir");
	snprintf(path, sizeof(path), "%s:%s", bin, ubin);

	CHECK(sbx_oci_find_executable("prog", path, "/", out, sizeof(out), &err) == 0);
	snprintf(want, sizeof(want), "%s/prog", bin);
	CHECK_STR(out, want);

	CHECK(sbx_oci_find_executable("both", path, "/", out, sizeof(out), &err) == 0);
	snprintf(want, sizeof(want), "%s/both", ubin);
	CHECK_STR(out, want);

	err = (struct sbx_error){ 0 };
	CHECK(sbx_oci_find_executable("noexec", path, "/", out, sizeof(out), &err) < 0);
	CHECK(err.status == 126);
	CHECK_STR(err.msg, "exec: \"noexec\": permission denied");

	err = (struct sbx_error){ 0 };
	CHECK(sbx_oci_find_executable("adir", path, "/", out, sizeof(out), &err) < 0);
	CHECK(err.status == 126);

	err = (struct sbx_error){ 0 };
	CHECK(sbx_oci_find_executable("missing", path, "/", out, sizeof(out), &err) < 0);
	CHECK(err.status == 127);
	CHECK_STR(err.msg, "exec: \"missing\": executable file not found in $PATH");

	/* A slash: as is, never searched; relative to the process's cwd. */
	snprintf(cmd, sizeof(cmd), "%s/prog", bin);
	CHECK(sbx_oci_find_executable(cmd, "/nonexistent", "/", out, sizeof(out), &err) == 0);
	CHECK_STR(out, cmd);
	CHECK(sbx_oci_find_executable("./prog", "/nonexistent", bin, out, sizeof(out), &err) == 0);
	snprintf(want, sizeof(want), "%s/./prog", bin);
	CHECK_STR(out, want);
	err = (struct sbx_error){ 0 };
	CHECK(sbx_oci_find_executable("bin/prog", path, "/", out, sizeof(out), &err) < 0);
	CHECK(err.status == 127);
	CHECK_STR(err.msg, "exec: \"bin/prog\": stat bin/prog: No such file or directory");
	err = (struct sbx_error){ 0 };
	snprintf(cmd, sizeof(cmd), "%s/noexec", ubin);
	CHECK(sbx_oci_find_executable(cmd, path, "/", out, sizeof(out), &err) < 0);
	CHECK(err.status == 126);

	/* An empty PATH entry and a relative one: the working directory. */
	CHECK(sbx_oci_find_executable("prog", "/nonexistent::", bin, out, sizeof(out), &err) == 0);
	snprintf(want, sizeof(want), "%s/./prog", bin);
	CHECK_STR(out, want);
	CHECK(sbx_oci_find_executable("prog", "bin", tmp, out, sizeof(out), &err) == 0);
	snprintf(want, sizeof(want), "%s/bin/prog", tmp);
	CHECK_STR(out, want);

	/* No PATH at all: execvp's default, /bin:/usr/bin. */
	CHECK(sbx_oci_find_executable("sh", NULL, "/", out, sizeof(out), &err) == 0);
	CHECK(strcmp(out, "/bin/sh") == 0 || strcmp(out, "/usr/bin/sh") == 0);
	err = (struct sbx_error){ 0 };
	CHECK(sbx_oci_find_executable("", path, "/", out, sizeof(out), &err) < 0 && err.status == 127);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	CHECK(system(cmd) == 0);
}

#define BIT(c) (1ULL << (c))

static void test_caps(void)
{
	struct sbx_oci_process p = { 0 };
	struct sbx_oci_caps c;
	struct sbx_error err = { 0 };

	/* Absent: none at all. */
	memset(&c, 0xff, sizeof(c));
	CHECK(sbx_oci_caps_plan(&p, false, 40, &c, &err) == 0);
	CHECK(c.bounding == 0 && c.effective == 0 && c.permitted == 0 && c.inheritable == 0 && c.ambient == 0);

	p.has_caps = true;
	p.cap_bounding = BIT(CAP_CHOWN) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_FSETID);
	p.cap_permitted = p.cap_bounding;
	p.cap_effective = BIT(CAP_CHOWN) | BIT(CAP_NET_BIND_SERVICE);
	p.cap_inheritable = BIT(CAP_NET_BIND_SERVICE);
	p.cap_ambient = BIT(CAP_NET_BIND_SERVICE);
	CHECK(sbx_oci_caps_plan(&p, false, 40, &c, &err) == 0);
	CHECK(c.bounding == p.cap_bounding && c.effective == p.cap_effective && c.permitted == p.cap_permitted &&
	      c.inheritable == p.cap_inheritable && c.ambient == p.cap_ambient);

	/* Hardened: nothing, whatever the spec grants. */
	CHECK(sbx_oci_caps_plan(&p, true, 40, &c, &err) == 0);
	CHECK(c.bounding == 0 && c.effective == 0 && c.permitted == 0 && c.inheritable == 0 && c.ambient == 0);

	/* Newer than the kernel: dropped (CAP_CHECKPOINT_RESTORE is 40). */
	p.cap_bounding |= BIT(40);
	p.cap_permitted |= BIT(40);
	p.cap_effective |= BIT(40);
	CHECK(sbx_oci_caps_plan(&p, false, 39, &c, &err) == 0);
	CHECK(!(c.bounding & BIT(40)) && !(c.permitted & BIT(40)) && !(c.effective & BIT(40)));
	CHECK(c.bounding & BIT(CAP_CHOWN));

	/* Effective outside permitted: refused, by name. */
	p.cap_effective |= BIT(CAP_NET_ADMIN);
	err = (struct sbx_error){ 0 };
	CHECK(sbx_oci_caps_plan(&p, false, 40, &c, &err) < 0);
	CHECK_STR(err.msg, "process.capabilities.effective: CAP_NET_ADMIN is not in permitted");
	p.cap_effective &= ~BIT(CAP_NET_ADMIN);

	/* Ambient outside inheritable. */
	p.cap_ambient |= BIT(CAP_CHOWN);
	err = (struct sbx_error){ 0 };
	CHECK(sbx_oci_caps_plan(&p, false, 40, &c, &err) < 0);
	CHECK_STR(err.msg, "process.capabilities.ambient: CAP_CHOWN is not in both permitted and inheritable");
}

void test_oci_process(void)
{
	test_find();
	test_caps();
}
