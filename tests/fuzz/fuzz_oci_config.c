/* libFuzzer target: config.json comes from the engine's bundle and an
 * exec's --process file from its caller.  Neither parser may crash, leak
 * or read out of bounds; what they accept must hold what the container
 * code relies on without checking again, and a refusal leaves nothing to
 * free. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "oci_config.h"

static void check_process(const struct sbx_oci_process *p)
{
	size_t n = 0;

	if (p->args == NULL || p->args[0] == NULL || p->args[0][0] == '\0' || p->env == NULL || p->cwd == NULL ||
	    p->cwd[0] != '/')
		abort();
	while (p->env[n] != NULL)
		if (strchr(p->env[n++], '=') == NULL)
			abort();
	for (size_t i = 0; i < p->n_rlimits; i++)
		if (p->rlimits[i].soft > p->rlimits[i].hard)
			abort();
	if (p->has_oom_score_adj && (p->oom_score_adj < -1000 || p->oom_score_adj > 1000))
		abort();
}

static void check_config(const struct sbx_oci_config *c)
{
	struct sbx_error err = { 0 };
	char *text = NULL;
	sbx_json *doc = NULL;

	check_process(&c->process);
	if (c->root_path == NULL || c->root_path[0] == '\0')
		abort();
	for (size_t i = 0; i < c->n_mounts; i++) {
		const struct sbx_oci_mount *m = &c->mounts[i];

		if (m->destination[0] != '/' || (m->bind && m->data != NULL) || m->bind != !!(m->flags & MS_BIND) ||
		    (m->type == NULL && !m->bind) || (m->flags & m->clear) != 0)
			abort();
	}
	for (int k = 0; k < SBX_OCI_HOOK_KINDS; k++)
		for (size_t i = 0; i < c->n_hooks[k]; i++)
			if (c->hooks[k][i].path[0] != '/')
				abort();
	for (int ns = 0; ns < SBX_OCI_NS_COUNT; ns++)
		if (c->ns[ns].path != NULL && (!c->ns[ns].present || c->ns[ns].path[0] != '/'))
			abort();
	/* The seccomp text is JSON that the compiler reads. */
	if (sbx_oci_seccomp_text(c, &text, &err) < 0)
		abort();
	if ((text == NULL) != (c->seccomp == NULL) || (text != NULL && sbx_json_parse(text, "seccomp", &doc, &err) < 0))
		abort();
	sbx_json_free(doc);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sbx_oci_config zero;
	struct sbx_error err = { 0 };
	struct sbx_oci_config c;
	struct sbx_oci_process p;
	sbx_json *doc = NULL;
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (sbx_oci_config_parse(text, "fuzz", &c, &err) == 0)
		check_config(&c);
	else if (memcmp(&c, &zero, sizeof(c)) != 0)
		abort();
	sbx_oci_config_free(&c);
	if (sbx_oci_process_parse(text, "fuzz", &p, &doc, &err) == 0)
		check_process(&p);
	else if (doc != NULL)
		abort();
	sbx_oci_process_free(&p);
	sbx_json_free(doc);
	free(text);
	return 0;
}
