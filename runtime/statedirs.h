/* Where sbx keeps state between runs (the compiled seccomp filters, the
 * image store), and keeping every sandbox away from it: a sandbox that
 * could write there would decide what later, unrelated runs get (no
 * filter while the result still says seccomp, a trojan in a tree). */
#ifndef SBX_STATEDIRS_H
#define SBX_STATEDIRS_H

#include <stddef.h>

#include "error.h"
#include "layout.h"
#include "options.h"

/* The seccomp cache: /var/cache/sbx/seccomp for root, else
 * $XDG_CACHE_HOME/sbx/seccomp or ~/.cache/sbx/seccomp.  -1 when there is
 * no HOME to put it in. */
int sbx_cache_dir_path(char *out, size_t len);

/* Open the seccomp cache directory, creating what is missing (0700; root's
 * /var/cache/sbx 0755), never through a symlink; every directory from the
 * base (/var/cache, or the user's cache home) down must be the caller's and
 * writable by nobody else, the last private.  -1 when there is none safe. */
int sbx_cache_dir_open(void);

/* Refuse (125) a workspace or writable --bind that contains the seccomp
 * cache or the image store in use, or lies inside one of them; RESOLVED
 * holds the sources as sbx resolved them once (sbx_sources_resolve). */
int sbx_statedirs_check(const struct sbx_run_options *opts, const struct sbx_sources *resolved,
			struct sbx_error *err);

#endif
