/* A minimal unit-test harness: CHECK records a failure and goes on;
 * each test file registers its tests in main.c. */
#ifndef SBX_UNIT_H
#define SBX_UNIT_H

#include <stdio.h>
#include <string.h>

extern int unit_failures;
extern int unit_checks;

#define CHECK(cond)                                                                       \
	do {                                                                              \
		unit_checks++;                                                            \
		if (!(cond)) {                                                            \
			unit_failures++;                                                  \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                         \
	} while (0)

#define CHECK_STR(a, b)                                                                   \
	do {                                                                              \
		const char *a_ = (a), *b_ = (b);                                          \
		unit_checks++;                                                            \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                    \
			unit_failures++;                                                  \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,  \
				a_ ? a_ : "(null)", b_ ? b_ : "(null)");                  \
		}                                                                         \
	} while (0)

void test_util(void);
void test_options(void);
void test_idmap(void);
void test_command(void);
void test_relay(void);
void test_oci(void);
void test_init(void);
void test_limits(void);
void test_runsc_bundle(void);
void test_oci_process(void);
void test_spec(void);
void test_mountinfo(void);
void test_oci_config(void);
void test_oci_cgroup(void);

#endif
