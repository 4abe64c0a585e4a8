/* The limit options and the policy of what holds each limit. */
#include <stdlib.h>

#include "cgroup.h"
#include "limit_policy.h"
#include "options.h"
#include "unit.h"

#define ARGS(...) (char *[]){ __VA_ARGS__, NULL }
#define NARGS(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, e, ...) sbx_parse_run_options(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), o, e)

static void test_parsers(void)
{
	uint64_t v;

	CHECK(sbx_parse_memory("0", &v) == 0 && v == 0);
	CHECK(sbx_parse_memory("512m", &v) == 0 && v == 512ULL << 20);
	CHECK(sbx_parse_memory("2g", &v) == 0 && v == 2ULL << 30);
	CHECK(sbx_parse_memory("1048576", &v) == 0 && v == 1048576);
	CHECK(sbx_parse_memory("1k", &v) < 0); /* below 1m */
	CHECK(sbx_parse_memory("-1", &v) < 0);
	CHECK(sbx_parse_memory("", &v) < 0);
	CHECK(sbx_parse_memory("1x", &v) < 0);

	CHECK(sbx_parse_cpus("0", &v) == 0 && v == 0);
	CHECK(sbx_parse_cpus("0.5", &v) == 0 && v == 500);
	CHECK(sbx_parse_cpus("2", &v) == 0 && v == 2000);
	CHECK(sbx_parse_cpus("1.25", &v) == 0 && v == 1250);
	CHECK(sbx_parse_cpus("0.01", &v) == 0 && v == 10);
	CHECK(sbx_parse_cpus("0.001", &v) < 0); /* below cpu.max's 1 ms */
	CHECK(sbx_parse_cpus("0.0001", &v) < 0);
	CHECK(sbx_parse_cpus("1.", &v) < 0);
	CHECK(sbx_parse_cpus(".5", &v) < 0);
	CHECK(sbx_parse_cpus("-1", &v) < 0);
	CHECK(sbx_parse_cpus("1e3", &v) < 0);
	CHECK(sbx_parse_cpus("5000", &v) < 0);
	CHECK(sbx_parse_cpus("", &v) < 0);

	CHECK(sbx_parse_pids("0", &v) == 0 && v == 0);
	CHECK(sbx_parse_pids("256", &v) == 0 && v == 256);
	CHECK(sbx_parse_pids("-5", &v) < 0);
	CHECK(sbx_parse_pids("9999999", &v) < 0);
	CHECK(sbx_parse_pids("12a", &v) < 0);
}

static void test_option_words(void)
{
	struct sbx_run_options o;
	struct sbx_error e = { 0 };

	/* The defaults: memory 2g, pids 256, cpus none, none of them given. */
	CHECK(PARSE(&o, &e, "true") == 0);
	CHECK(o.limits.memory_bytes == 2ULL << 30 && o.limits.pids == 256 && o.limits.cpu_millis == 0);
	CHECK(!o.limits.memory_given && !o.limits.cpus_given && !o.limits.pids_given && !o.limits.required);
	sbx_run_options_free(&o);

	char *words[] = { "-m", "64m", "--cpus", "0.5", "--pids", "10", "--require-limits", "true", NULL };

	CHECK(sbx_parse_run_options(8, words, &o, &e) == 0);
	CHECK(o.limits.memory_bytes == 64ULL << 20 && o.limits.cpu_millis == 500 && o.limits.pids == 10);
	CHECK(o.limits.memory_given && o.limits.cpus_given && o.limits.pids_given && o.limits.required);
	CHECK_STR(o.argv[0], "true");
	sbx_run_options_free(&o);

	CHECK(PARSE(&o, &e, "--memory=0", "--pids-limit", "0", "true") == 0);
	CHECK(o.limits.memory_bytes == 0 && o.limits.pids == 0 && o.limits.memory_given && o.limits.pids_given);
	sbx_run_options_free(&o);

	CHECK(PARSE(&o, &e, "-m128m", "true") == 0 && o.limits.memory_bytes == 128ULL << 20);
	sbx_run_options_free(&o);

	CHECK(PARSE(&o, &e, "--cpus", "lots", "true") < 0 && strstr(e.msg, "--cpus 'lots'") != NULL);
	sbx_run_options_free(&o);
	CHECK(PARSE(&o, &e, "--pids-limit", "x", "true") < 0 && strstr(e.msg, "--pids-limit 'x'") != NULL);
	sbx_run_options_free(&o);
	CHECK(PARSE(&o, &e, "--memory", "1k", "true") < 0 && strstr(e.msg, "--memory '1k'") != NULL);
	sbx_run_options_free(&o);
	CHECK(PARSE(&o, &e, "--require-limits=yes", "true") < 0);
	sbx_run_options_free(&o);
}

static void test_nproc_rule(void)
{
	/* Root mode with sbx's range: the uid is the sandbox's alone. */
	CHECK(sbx_limits_nproc_private(SBX_IDMAP_DIRECT, 0x70000000u + 1000, -1));
	CHECK(sbx_limits_nproc_private(SBX_IDMAP_DIRECT, 0x70000000u + 1000, 0)); /* root-owned ws: idmapped */
	/* Root mode mapped to the workspace's owner: shared. */
	CHECK(!sbx_limits_nproc_private(SBX_IDMAP_DIRECT, 4242, 4242));
	CHECK(!sbx_limits_nproc_private(SBX_IDMAP_DIRECT, 0, -1));
	/* Rootless, with ranges or without: the sandbox user is the caller. */
	CHECK(!sbx_limits_nproc_private(SBX_IDMAP_HELPERS, 1000, -1));
	CHECK(!sbx_limits_nproc_private(SBX_IDMAP_SINGLE, 1000, -1));
}

static void test_plan(void)
{
	struct sbx_limits l = { .memory_bytes = 2ULL << 30, .pids = 256 };
	struct sbx_limits_plan p;
	struct sbx_error e = { 0 };
	char line[512];

	/* No cgroup, uid private: memory and pids by rlimit, no cpus. */
	sbx_limits_plan_make(&l, 0, true, &p);
	CHECK(p.memory == SBX_ENFORCER_RLIMIT && p.pids == SBX_ENFORCER_RLIMIT && p.cpus == SBX_ENFORCER_NONE);
	/* Shared uid: pids not enforced at all. */
	sbx_limits_plan_make(&l, 0, false, &p);
	CHECK(p.memory == SBX_ENFORCER_RLIMIT && p.pids == SBX_ENFORCER_NONE);
	/* --cpus never by rlimit. */
	l.cpu_millis = 500;
	sbx_limits_plan_make(&l, SBX_CG_MEMORY | SBX_CG_PIDS, true, &p);
	CHECK(p.memory == SBX_ENFORCER_CGROUP && p.pids == SBX_ENFORCER_CGROUP && p.cpus == SBX_ENFORCER_NONE);
	sbx_limits_plan_make(&l, SBX_CG_MEMORY | SBX_CG_CPU | SBX_CG_PIDS, false, &p);
	CHECK(p.memory == SBX_ENFORCER_CGROUP && p.pids == SBX_ENFORCER_CGROUP && p.cpus == SBX_ENFORCER_CGROUP);
	/* 0: no limit, nothing holds it. */
	l = (struct sbx_limits){ 0 };
	sbx_limits_plan_make(&l, SBX_CG_MEMORY | SBX_CG_CPU | SBX_CG_PIDS, true, &p);
	CHECK(p.memory == SBX_ENFORCER_NONE && p.pids == SBX_ENFORCER_NONE && p.cpus == SBX_ENFORCER_NONE);
	CHECK_STR(sbx_enforcer_name(SBX_ENFORCER_CGROUP), "cgroup-v2");
	CHECK_STR(sbx_enforcer_name(SBX_ENFORCER_RLIMIT), "rlimit");
	CHECK_STR(sbx_enforcer_name(SBX_ENFORCER_NONE), "none");

	/* --require-limits: every limit in force by a cgroup, or an error
	 * naming the missing ones and the host's reason. */
	l = (struct sbx_limits){ .memory_bytes = 1ULL << 30, .pids = 256, .required = true };
	sbx_limits_plan_make(&l, SBX_CG_MEMORY, true, &p);
	CHECK(sbx_limits_check_required(&l, &p, "WHY", &e) < 0);
	CHECK(strstr(e.msg, "hold the pids limit here: WHY") != NULL);
	sbx_limits_plan_make(&l, 0, true, &p);
	CHECK(sbx_limits_check_required(&l, &p, "WHY", &e) < 0 && strstr(e.msg, "memory and pids limits") != NULL);
	sbx_limits_plan_make(&l, SBX_CG_MEMORY | SBX_CG_PIDS, true, &p);
	CHECK(sbx_limits_check_required(&l, &p, "WHY", &e) == 0);
	l.required = false;
	sbx_limits_plan_make(&l, 0, true, &p);
	CHECK(sbx_limits_check_required(&l, &p, "WHY", &e) == 0);

	/* Speak of what was given; the defaults are for -v. */
	l = (struct sbx_limits){ .memory_bytes = 2ULL << 30, .pids = 256, .cpu_millis = 1500, .cpus_given = true };
	sbx_limits_plan_make(&l, 0, false, &p);
	sbx_limits_describe_weaker(&l, &p, true, line, sizeof(line));
	CHECK_STR(line, "--cpus 1.5 is not enforced (no rlimit sets a rate)");
	sbx_limits_describe_weaker(&l, &p, false, line, sizeof(line));
	CHECK(strstr(line, "--memory 2g holds per process only (RLIMIT_DATA)") == line);
	CHECK(strstr(line, " and --pids 256 is not enforced") != NULL);
	sbx_limits_plan_make(&l, SBX_CG_MEMORY | SBX_CG_CPU | SBX_CG_PIDS, false, &p);
	sbx_limits_describe_weaker(&l, &p, true, line, sizeof(line));
	CHECK_STR(line, "");
	sbx_limits_describe_weaker(&l, &p, false, line, sizeof(line));
	CHECK_STR(line, "");
}

void test_limits(void)
{
	test_parsers();
	test_option_words();
	test_nproc_rule();
	test_plan();
}
