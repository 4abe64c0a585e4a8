/* libFuzzer target: the runsc backend translates the same untrusted
 * profiles (--seccomp takes any file) into config.json.  Whatever the
 * bytes, the translation must not crash or leak, and what it writes must
 * be JSON that names every rule sbx's own parser applies, with only the
 * actions runsc knows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "runsc_bundle.h"
#include "seccomp_filter.h"

static bool known_action(const char *s)
{
	static const char *const known[] = { "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
					     "SCMP_ACT_TRAP", "SCMP_ACT_TRACE" };

	for (size_t i = 0; s != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(s, known[i]) == 0)
			return true;
	return false;
}

/* The names of an entry that are rules of the profile: the alias this
 * runsc knows a syscall by ("pselect" after "pselect6") is not one. */
static size_t rule_names(const sbx_json *names)
{
	size_t n = 0;

	for (size_t i = 0; i < sbx_json_array_size(names); i++) {
		const char *name = sbx_json_string(sbx_json_array_at(names, i));
		const char *prev = i > 0 ? sbx_json_string(sbx_json_array_at(names, i - 1)) : NULL;

		if (!(name != NULL && prev != NULL && strcmp(name, "pselect") == 0 && strcmp(prev, "pselect6") == 0))
			n++;
	}
	return n;
}

/* The output against the native parse of the same text. */
static void check(const char *text, const char *out)
{
	struct sbx_error err = { 0 };
	struct sbx_seccomp_profile p;
	sbx_json *native = NULL, *oci = NULL;
	const sbx_json *list;
	size_t names = 0;

	if (sbx_json_parse(out, "out", &oci, &err) < 0 || sbx_seccomp_parse(text, "in", &p, &native, &err) < 0)
		abort();
	if (!known_action(sbx_json_string(sbx_json_get(oci, "defaultAction"))))
		abort();
	list = sbx_json_get(oci, "syscalls");
	for (size_t i = 0; i < sbx_json_array_size(list); i++) {
		const sbx_json *e = sbx_json_array_at(list, i);

		if (!known_action(sbx_json_string(sbx_json_get(e, "action"))))
			abort();
		names += rule_names(sbx_json_get(e, "names"));
	}
	if (names != p.n_rules)
		abort();
	sbx_seccomp_profile_free(&p);
	sbx_json_free(native);
	sbx_json_free(oci);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_error err = { 0 };
	char *text = malloc(size + 1), *out = NULL;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (sbx_runsc_seccomp_gen(text, "fuzz", &out, &err) == 0)
		check(text, out);
	free(out);
	free(text);
	return 0;
}
