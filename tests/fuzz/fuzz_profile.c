/* libFuzzer target: seccomp profiles are untrusted input (a user may point
 * --seccomp at any file).  Parsing, validating and compiling must never
 * crash, leak or read out of bounds, whatever the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seccomp_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_seccomp s;
	struct sbx_error err = { 0 };
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&s, 0, sizeof(s));
	sbx_seccomp_compile(text, "fuzz", &s, &err);
	sbx_seccomp_free(&s);
	free(text);
	return 0;
}
