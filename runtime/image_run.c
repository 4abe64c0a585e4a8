#include "image_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mounts.h"
#include "util.h"

#define ACCOUNTS_MAX (1u << 20)

/* The id of NAME in an /etc/passwd- or /etc/group-style file of the tree,
 * and (for passwd) the user's group.  Returns 1 when found. */
static int lookup(int rootfd, const char *file, const char *name, uint32_t by_id, bool by_number, uint32_t *id,
		  uint32_t *gid)
{
	struct sbx_error ignored;
	cleanup_free char *text = NULL;
	cleanup_close int fd = sbx_open_file_in_root(rootfd, file, &ignored);
	char *save = NULL;

	if (fd < 0 || sbx_read_fd(fd, file, ACCOUNTS_MAX, &text, &ignored) < 0)
		return 0;
	for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *fields[4] = { 0 };
		char *p = line;
		uint32_t n, g;

		for (int f = 0; f < 4 && p != NULL; f++) {
			fields[f] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = '\0';
		}
		if (fields[2] == NULL || sbx_parse_id(fields[2], &n) < 0)
			continue;
		if (by_number ? n != by_id : strcmp(fields[0], name) != 0)
			continue;
		*id = n;
		if (gid != NULL)
			*gid = fields[3] != NULL && sbx_parse_id(fields[3], &g) == 0 ? g : n;
		return 1;
	}
	return 0;
}

int sbx_image_user(int rootfd, const char *user, uint32_t *uid, uint32_t *gid, struct sbx_error *err)
{
	char buf[256];
	char *group;
	bool numeric;

	if (snprintf(buf, sizeof(buf), "%s", user) >= (int)sizeof(buf))
		return sbx_fail(err, 0, "the image's User '%.40s...' is too long", user);
	group = strchr(buf, ':');
	if (group)
		*group++ = '\0';
	numeric = sbx_parse_id(buf, uid) == 0;
	if (numeric) {
		/* A known uid brings its group, like a name does. */
		if (!lookup(rootfd, "etc/passwd", NULL, *uid, true, uid, gid))
			*gid = *uid;
	} else if (!lookup(rootfd, "etc/passwd", buf, 0, false, uid, gid)) {
		return sbx_fail(err, 0, "the image's User '%s' is not in its /etc/passwd (give --user UID:GID)", user);
	}
	if (group == NULL || group[0] == '\0')
		return 0;
	if (sbx_parse_id(group, gid) == 0 || lookup(rootfd, "etc/group", group, 0, false, gid, NULL))
		return 0;
	return sbx_fail(err, 0, "the image's User '%s': group '%s' is not in its /etc/group (give --user UID:GID)",
			user, group);
}

/* Entrypoint then Cmd, for a run without a command. */
static int image_command(const sbx_json *config, char ***out, struct sbx_error *err)
{
	const sbx_json *parts[2] = { sbx_json_get(config, "Entrypoint"), sbx_json_get(config, "Cmd") };
	size_t n = sbx_json_array_size(parts[0]) + sbx_json_array_size(parts[1]), used = 0;
	char **argv;

	if (n == 0)
		return sbx_fail(err, 0, "no command given and the image has no Entrypoint or Cmd "
				"(usage: sbx run [OPTIONS] [--] COMMAND [ARG...])");
	argv = calloc(n + 1, sizeof(*argv));
	if (argv == NULL)
		return sbx_fail(err, ENOMEM, "the image's command");
	for (size_t p = 0; p < 2; p++)
		for (size_t i = 0; i < sbx_json_array_size(parts[p]); i++) {
			const char *s = sbx_json_string(sbx_json_array_at(parts[p], i));

			argv[used++] = (char *)(s ? s : "");
		}
	*out = argv;
	return 0;
}

/* uid 0 inside only when the caller asks for it (--user 0), whatever the
 * image says: an image's root would hold every capability of its user
 * namespace over the sandbox's own mounts for the whole run. */
static int apply_image_user(struct sbx_run_options *opts, struct sbx_image_run *ir, const char *user,
			    struct sbx_error *err)
{
	uint32_t uid, gid;

	if (sbx_image_user(ir->tree, user, &uid, &gid, err) < 0)
		return -1;
	if (uid == 0) {
		ir->root_user_declined = true;
		return 0;
	}
	opts->uid = uid;
	opts->gid = gid;
	return 0;
}

static int apply_config(struct sbx_run_options *opts, struct sbx_image_run *ir, struct sbx_error *err)
{
	const sbx_json *config = ir->rec.config;
	const sbx_json *env = sbx_json_get(config, "Env");
	const char *workdir = sbx_json_string(sbx_json_get(config, "WorkingDir"));
	const char *user = sbx_json_string(sbx_json_get(config, "User"));

	for (size_t i = 0; i < sbx_json_array_size(env); i++) {
		const char *e = sbx_json_string(sbx_json_array_at(env, i));
		const char *eq = e ? strchr(e, '=') : NULL;

		if (eq == NULL || !sbx_valid_env_name(e, (size_t)(eq - e)) || opts->n_image_env >= SBX_MAX_ENV)
			return sbx_fail(err, 0, "the image's Env[%zu] is not NAME=VALUE", i);
		opts->image_env[opts->n_image_env++] = e;
	}
	/* Relative or full of "..", it stays inside: the cwd is made and
	 * entered from the sandbox's /, never from anywhere else. */
	if (workdir != NULL && workdir[0] != '\0') {
		if (sbx_clean_sandbox_path(workdir, ir->workdir, sizeof(ir->workdir)) < 0)
			return sbx_fail(err, 0, "the image's WorkingDir is too long");
		opts->workdir = ir->workdir;
	}
	if (!opts->user_set && user != NULL && user[0] != '\0' && apply_image_user(opts, ir, user, err) < 0)
		return -1;
	if (opts->argv[0] == NULL) {
		if (image_command(config, &ir->argv, err) < 0)
			return -1;
		opts->argv = ir->argv;
	}
	return 0;
}

/* The tree, share-locked; the wait for the lock counts against --timeout
 * (124 when that runs out first), so that the timeout holds. */
static int open_tree_within_timeout(const struct sbx_run_options *opts, struct sbx_image_run *ir,
				    struct sbx_error *err)
{
	uint64_t limit = sbx_lock_timeout_ns();
	int status = SBX_EXIT_FAILURE;

	if (opts->timeout_ns != 0 && opts->timeout_ns < limit) {
		limit = opts->timeout_ns;
		status = 124;
	}
	return sbx_store_open_tree(&ir->store, ir->rec.chain_hex, limit, status, err);
}

int sbx_image_run_prepare(struct sbx_run_options *opts, struct sbx_image_run *ir, struct sbx_error *err)
{
	const char *name = opts->image ? opts->image : SBX_DEFAULT_IMAGE;
	struct sbx_image_ref ref;

	memset(ir, 0, sizeof(*ir));
	ir->store.dirfd = ir->store.lockfd = ir->tree = -1;
	if (opts->rootfs != NULL) {
		if (opts->argv[0] == NULL)
			return sbx_fail(err, 0, "no command given (usage: sbx run [OPTIONS] [--] COMMAND [ARG...])");
		return 0;
	}
	if (sbx_image_ref_parse(name, &ref, err) < 0)
		return -1;
	if (sbx_store_open(opts->store, false, &ir->store, err) < 0) {
		if (err->status != SBX_EXIT_IMAGE_MISSING)
			return -1; /* a store that is not to be trusted: said as it is */
		sbx_fail(err, 0, "no image %s:%s: there is no image store at %s", ref.name, ref.tag, ir->store.path);
	}
	if (ir->store.dirfd < 0 || sbx_store_read_record(&ir->store, &ref, &ir->rec, err) < 0) {
		err->status = SBX_EXIT_FAILURE;
		if (opts->image == NULL)
			return sbx_error_hint(err, "build the default image with rootfs/build, or import one with "
					      "sbx image import PATH --name %s, or give --image or --rootfs",
					      SBX_DEFAULT_IMAGE);
		return sbx_error_hint(err, "see sbx image ls; import it with sbx image import PATH --name %s:%s",
				      ref.name, ref.tag);
	}
	ir->tree = open_tree_within_timeout(opts, ir, err);
	if (ir->tree < 0) {
		if (err->status != 124)
			err->status = SBX_EXIT_FAILURE;
		return sbx_error_wrap(err, "image %s:%s%s", ref.name, ref.tag, err->status == 124 ? "" : " (re-import it)");
	}
	snprintf(ir->rootfs, sizeof(ir->rootfs), "%s/rootfs/%s", ir->store.path, ir->rec.chain_hex);
	snprintf(ir->name, sizeof(ir->name), "%s:%s", ref.name, ref.tag);
	opts->rootfs = ir->rootfs;
	opts->rootfs_fd = ir->tree;
	opts->image_name = ir->name;
	opts->image_id = ir->rec.id;
	return apply_config(opts, ir, err);
}

void sbx_image_run_release(struct sbx_image_run *ir)
{
	free(ir->argv);
	ir->argv = NULL;
	sbx_closep(&ir->tree);
	sbx_image_record_free(&ir->rec);
	sbx_store_close(&ir->store);
}
