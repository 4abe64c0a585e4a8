#include "unit.h"

int unit_failures;
int unit_checks;

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{ "util", test_util },
		{ "options", test_options },
		{ "idmap", test_idmap },
		{ "command", test_command },
		{ "relay", test_relay },
		{ "oci", test_oci },
		{ "init", test_init },
		{ "limits", test_limits },
		{ "runsc_bundle", test_runsc_bundle },
		{ "spec", test_spec },
		{ "mountinfo", test_mountinfo },
		{ "oci_config", test_oci_config },
		{ "oci_process", test_oci_process },
		{ "oci_cgroup", test_oci_cgroup },
	};

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		int before = unit_failures;

		tests[i].fn();
		printf("%s %s\n", unit_failures == before ? "PASS" : "FAIL", tests[i].name);
	}
	printf("%d checks, %d failed\n", unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}
