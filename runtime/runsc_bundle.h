/* The runsc backend's config.json, written from the sandbox's description.
 *
 * Every field of struct sbx_spec maps to one OCI field, so that the
 * sandbox under gVisor is the one the native backend would have made:
 * the same root, user, environment, mounts and limits.  What the spec
 * does not say is filled the way `runsc spec` does (a /dev of its own)
 * and never widened: no capabilities, no user namespace (runsc runs in
 * sbx's own), no rlimits sbx does not set.
 *
 * The seccomp profile is translated from the same parse the native filter
 * uses (seccomp_filter.h), rules ordered for runsc, which stops at the
 * first rule that matches where the kernel applies the strictest of
 * stacked filters; a rule runsc cannot apply as sbx does is an error
 * naming it, never dropped. */
#ifndef SBX_RUNSC_BUNDLE_H
#define SBX_RUNSC_BUNDLE_H

#include "error.h"
#include "spec.h"

/* Where the runsc backend put what the config names: the root and each
 * bind mount's source as runsc will see them (attached clones inside the
 * bundle); NULL: the spec's own path. */
struct sbx_bundle_paths {
	const char *root;
	const char *mount_source[SBX_SPEC_MAX_MOUNTS];
};

/* config.json for SPEC as one malloc'd NUL-terminated string in *OUT. */
int sbx_runsc_config_gen(const struct sbx_spec *spec, const struct sbx_bundle_paths *paths, char **out,
			 struct sbx_error *err);

/* The same written to DIRFD/config.json (O_CREAT|O_EXCL|O_NOFOLLOW, 0600):
 * a file that exists already is someone else's, and the config holds the
 * environment, which may carry secrets. */
int sbx_runsc_config_write(int dirfd, const struct sbx_spec *spec, const struct sbx_bundle_paths *paths,
			   struct sbx_error *err);

/* TEXT (from sbx_runsc_config_gen) as DIRFD/config.json, as above.
 * Generating reads the seccomp profile, whose name or path means what the
 * user meant only in sbx's own mount namespace and working directory (a
 * child with a staging tmpfs on /tmp, or in another directory, would read
 * another file or none): generate there, write here. */
int sbx_runsc_config_write_text(int dirfd, const char *text, struct sbx_error *err);

/* Profile TEXT (WHAT names it in errors) as OCI's linux.seccomp, alone:
 * the part of the config that reads untrusted text, for the fuzzer. */
int sbx_runsc_seccomp_gen(const char *text, const char *what, char **out, struct sbx_error *err);

#endif
