/* `sbx run --image`: the stored image's tree as the rootfs, and its config
 * (Env, Entrypoint/Cmd, WorkingDir, User) where the command line is silent. */
#ifndef SBX_IMAGE_RUN_H
#define SBX_IMAGE_RUN_H

#include "error.h"
#include "options.h"
#include "store.h"

struct sbx_image_run {
	struct sbx_store store;
	struct sbx_image_record rec;
	int tree; /* the tree, share-locked while the sandbox runs */
	char rootfs[PATH_MAX + 80];
	char **argv; /* Entrypoint + Cmd, when no command was given */
	char name[SBX_IMAGE_NAME_MAX + SBX_IMAGE_TAG_MAX + 2];
	char workdir[PATH_MAX]; /* the image's WorkingDir, taken from / */
	bool root_user_declined; /* the image's User is uid 0 and --user 0 was not given */
};

/* With --rootfs nothing happens; otherwise fill OPTS from the image named by
 * --image, or from sbx-default. */
int sbx_image_run_prepare(struct sbx_run_options *opts, struct sbx_image_run *ir, struct sbx_error *err);
void sbx_image_run_release(struct sbx_image_run *ir);

/* Resolve a Docker-style USER ("name", "uid", "name:group", "uid:gid") with
 * the passwd and group files of the tree at ROOTFD. */
int sbx_image_user(int rootfd, const char *user, uint32_t *uid, uint32_t *gid, struct sbx_error *err);

#endif
