/* Seccomp: profiles in the Docker/OCI JSON format, compiled with libseccomp
 * in sbx before the sandbox exists, loaded by the command as its very last
 * step before execve.
 *
 * A profile becomes one or two stacked filters, loaded in this order:
 *  B. conditional rules that are stricter than an unconditional rule for
 *     the same syscall (e.g. "allow ioctl" + "deny ioctl TIOCSTI"): in one
 *     filter libseccomp mishandles that overlap, but stacked the kernel
 *     applies the strictest action of all filters;
 *  A. the profile itself (libseccomp), foreign architectures killed, with
 *     a six-instruction prefix: syscall numbers above the highest one
 *     libseccomp knows -> ENOSYS, so that libc and runtimes fall back
 *     (libseccomp cannot express "nr > N").
 *
 * Before both, whatever the profile (even "unconfined" or the user's own),
 * sbx loads H, the host-safety filter: it protects the host, not the
 * sandbox.  Files the sandbox creates in the workspace and in --bind mounts
 * are files on the host, and a setuid/setgid bit on one of them would run
 * with its owner's (or group's) rights for any local user.  H refuses
 * (EPERM) every mode change and every creation that asks for S_ISUID or
 * S_ISGID, and makes openat2 and io_uring_setup ENOSYS (their modes are in
 * memory seccomp cannot read; libc falls back).  File capabilities need a
 * capability the sandbox never holds (nested user namespaces are disabled,
 * see sandbox.c). */
#ifndef SBX_SECCOMP_FILTER_H
#define SBX_SECCOMP_FILTER_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define SBX_SECCOMP_MAX_FILTERS 2

struct sbx_seccomp {
	struct sock_fprog host; /* H, loaded whatever ENABLED says */
	bool enabled;
	char name[256]; /* as given: a profile name or a path */
	struct sock_fprog filters[SBX_SECCOMP_MAX_FILTERS];
	size_t n_filters;
	unsigned int flags; /* SECCOMP_FILTER_FLAG_* for loading */
	size_t n_rules;     /* rules compiled, for -v */
	bool cached;        /* the BPF came from the cache */
};

/* Find and compile SPEC: "unconfined", a profile name (looked up in the
 * profile directories) or a path.  LOG makes the kernel log denials. */
int sbx_seccomp_prepare(const char *spec, bool log, struct sbx_seccomp *out, struct sbx_error *err);

/* Compile profile TEXT; WHAT names it in errors. */
int sbx_seccomp_compile(const char *text, const char *what, struct sbx_seccomp *out,
			struct sbx_error *err);

/* Compile H (see above) into OUT. */
int sbx_seccomp_host_filter(struct sock_fprog *out, struct sbx_error *err);

/* Install the filters on the calling thread (no_new_privs must be set). */
int sbx_seccomp_load(const struct sbx_seccomp *s, struct sbx_error *err);

void sbx_seccomp_free(struct sbx_seccomp *s);

/* The highest syscall number libseccomp knows for the native arch. */
int sbx_seccomp_max_known_nr(void);

#endif
