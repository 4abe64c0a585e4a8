#include <stdlib.h>

#include "options.h"
#include "util.h"
#include "unit.h"

static int parse(struct sbx_run_options *o, struct sbx_error *err, int argc, char **argv)
{
	return sbx_parse_run_options(argc, argv, o, err);
}

#define ARGS(...) (char *[]){ __VA_ARGS__, NULL }
#define NARGS(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, e, ...) parse(o, e, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__))

static void test_user_specs(void)
{
	/* The table of ESC-05: uid 0 only when asked for explicitly. */
	static const struct {
		const char *spec;
		int ok;
		uint32_t uid, gid;
	} cases[] = {
		{ "1000", 1, 1000, 1000 }, { "1000:1000", 1, 1000, 1000 }, { "1", 1, 1, 1 },
		{ "0", 1, 0, 0 },	   { "1:0", 1, 1, 0 },		   { "-1", 0, 0, 0 },
		{ "4294967295", 0, 0, 0 }, { "abc", 0, 0, 0 },		   { "1000:", 0, 0, 0 },
		{ ":1000", 0, 0, 0 },	   { "", 0, 0, 0 },		   { "1:2:3", 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t uid = 77, gid = 77;
		int r = sbx_parse_user(cases[i].spec, &uid, &gid);

		CHECK((r == 0) == cases[i].ok);
		if (cases[i].ok)
			CHECK(uid == cases[i].uid && gid == cases[i].gid);
	}
}

static void test_paths(void)
{
	char *p;

	p = sbx_normalize_sandbox_path("/a//b/");
	CHECK_STR(p, "/a/b");
	free(p);
	CHECK(sbx_normalize_sandbox_path("/") == NULL);
	CHECK(sbx_normalize_sandbox_path("//") == NULL);
	CHECK(sbx_normalize_sandbox_path("rel") == NULL);
	CHECK(sbx_normalize_sandbox_path("/a/../etc") == NULL);
	CHECK(sbx_normalize_sandbox_path("/a/./b") == NULL);
	CHECK(sbx_normalize_sandbox_path("/..") == NULL);
	p = sbx_normalize_sandbox_path("/a/..b/c.");
	CHECK_STR(p, "/a/..b/c.");
	free(p);
}

/* A WorkingDir taken from / by name: never above it. */
static void test_clean_paths(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/app", "/app" },         { "app/sub/", "/app/sub" }, { "../../..", "/" },
		{ "/../../etc", "/etc" },   { "/a/./b//c/..", "/a/b" }, { "", "/" },
		{ "/w/../../../x", "/x" },  { "/a/..b", "/a/..b" },     { "/a/b/../../..", "/" },
	};
	char out[64], tiny[4];

	for (size_t i = 0; i < SBX_ARRAY_SIZE(cases); i++) {
		CHECK(sbx_clean_sandbox_path(cases[i].in, out, sizeof(out)) == 0);
		CHECK_STR(out, cases[i].out);
	}
	CHECK(sbx_clean_sandbox_path("/abcd", tiny, sizeof(tiny)) < 0);
	CHECK(sbx_clean_sandbox_path("/ab", tiny, sizeof(tiny)) == 0);
}

void test_options(void)
{
	struct sbx_run_options o;
	struct sbx_error e = { 0 };
	int r;

	test_user_specs();
	test_paths();
	test_clean_paths();

	/* --writable-root takes its size only after "=": the next word is the
	 * command's. */
	r = PARSE(&o, &e, "--rootfs", "/r", "--writable-root", "true");
	CHECK(r == 0 && o.writable_root && o.writable_root_size == 0);
	CHECK_STR(o.argv[0], "true");
	r = PARSE(&o, &e, "--rootfs", "/r", "--writable-root=2g", "true");
	CHECK(r == 0 && o.writable_root && o.writable_root_size == 2ULL << 30);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--writable-root=", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--writable-root=0", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--writable-root=big", "true") < 0);
	CHECK(strstr(e.msg, "--writable-root") != NULL);

	r = PARSE(&o, &e, "--rootfs", "/r", "true");
	CHECK(r == 0);
	CHECK(o.uid == 1000 && o.gid == 1000 && o.network == SBX_NETWORK_NONE);
	CHECK_STR(o.hostname, "sandbox");
	CHECK(o.tmp_size == 256ULL << 20 && o.shm_size == 256ULL << 20);
	CHECK_STR(o.argv[0], "true");
	sbx_run_options_free(&o);

	/* The command's own options are never ours. */
	r = PARSE(&o, &e, "--rootfs=/r", "-v", "ls", "-v", "--rootfs", "x");
	CHECK(r == 0);
	CHECK(o.verbose && o.argv[0] && o.argv[1] && o.argv[2]);
	CHECK_STR(o.argv[1], "-v");
	sbx_run_options_free(&o);
	r = PARSE(&o, &e, "--rootfs", "/r", "--", "-x");
	CHECK(r == 0);
	CHECK_STR(o.argv[0], "-x");
	sbx_run_options_free(&o);

	r = PARSE(&o, &e, "--rootfs", "/r", "-e", "A=1", "-eB=2", "--env=C=", "-w", "/ws",
		    "--user", "0", "--network", "host", "--hostname", "box-1", "true");
	CHECK(r == 0);
	CHECK(o.n_env == 3);
	CHECK_STR(o.env[1], "B=2");
	CHECK_STR(o.env[2], "C=");
	CHECK_STR(o.workspace, "/ws");
	CHECK(o.uid == 0 && o.gid == 0 && o.network == SBX_NETWORK_HOST);
	sbx_run_options_free(&o);

	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--ro-bind", "/a:b/../c", "true") < 0);
	r = PARSE(&o, &e, "--rootfs", "/r", "--ro-bind", "/a:/opt/x", "--bind", "rel:/data",
		    "--tmpfs", "/cache:1m", "--tmpfs", "/tmp:64m", "--tmpfs", "/dev/shm:8m",
		    "true");
	CHECK(r == 0);
	CHECK(o.n_mounts == 3);
	CHECK(o.mounts[0].kind == SBX_MOUNT_RO_BIND);
	CHECK_STR(o.mounts[0].src, "/a");
	CHECK_STR(o.mounts[0].dst, "/opt/x");
	CHECK(o.mounts[1].kind == SBX_MOUNT_BIND);
	CHECK_STR(o.mounts[1].src, "rel");
	CHECK(o.mounts[2].kind == SBX_MOUNT_TMPFS && o.mounts[2].size == 1ULL << 20);
	CHECK(o.tmp_size == 64ULL << 20 && o.shm_size == 8ULL << 20);
	sbx_run_options_free(&o);

	/* Refused, each with a message. */
	/* No command and no rootfs are left to the image (image_run.c). */
	CHECK(PARSE(&o, &e, "--rootfs", "/r") == 0 && o.argv[0] == NULL);
	CHECK(PARSE(&o, &e, "true") == 0 && o.rootfs == NULL && o.image == NULL);
	CHECK(PARSE(&o, &e, "--image", "x", "--store", "/s", "--user", "5", "true") == 0 && o.user_set);
	CHECK_STR(o.image, "x");
	CHECK_STR(o.store, "/s");
	CHECK(PARSE(&o, &e, "--image", "x", "--rootfs", "/r", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--bogus", "true") < 0);
	CHECK(strstr(e.msg, "--bogus") != NULL && e.status == 125);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "-e", "NOEQUALS", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "-e", "1X=2", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--network", "bridge", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--hostname", "a b", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--user", "-1", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--bind", "/a", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--bind", "/a:/proc/sys", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--bind", "/a:/dev/kvm", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--bind", "/a:/", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--bind", "/a:/workspace", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--tmpfs", "/x:0", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--verbose=1", "true") < 0);
	CHECK(PARSE(&o, &e, "--rootfs") < 0);
	CHECK(strstr(e.msg, "needs a value") != NULL);
	CHECK(PARSE(&o, &e, "--rootfs", "/r", "--help") == 1);
}
