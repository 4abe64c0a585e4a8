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
#include <stdint.h>
#include <seccomp.h>

#include "error.h"
#include "json.h"

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

/* "unconfined" (1), or the file of profile SPEC (a name looked up in the
 * profile directories, or a path) into PATH (0): the one lookup both
 * backends use. */
int sbx_seccomp_resolve(const char *spec, char *path, size_t len, struct sbx_error *err);
/* The profile directories' NAME.json into PATH. */
int sbx_seccomp_find_profile(const char *name, char *path, size_t len, struct sbx_error *err);
/* PATH's text, refused above the size sbx accepts for a profile. */
int sbx_seccomp_read_profile(const char *path, char **text, struct sbx_error *err);

/* A profile as sbx applies it, for the runsc backend to translate: the
 * same parser decides Docker's includes/excludes (no capabilities, this
 * architecture and kernel) and refuses the same mistakes, so both
 * backends apply one set of rules.  One rule per syscall name, in the
 * profile's order; actions and comparisons as libseccomp has them. */
struct sbx_seccomp_rule {
	int nr;
	uint32_t action;
	struct scmp_arg_cmp args[6];
	unsigned int n_args;
	size_t entry;     /* in the profile's syscalls[] */
	const char *name; /* borrowed from the parsed document */
};

struct sbx_seccomp_profile {
	const char *what;
	uint32_t default_action;
	uint32_t arches[8]; /* libseccomp's tokens, archMap applied */
	size_t n_arches;
	struct sbx_seccomp_rule *rules;
	size_t n_rules;
};

/* Parse TEXT into P; the rules borrow from *DOC: free P, then *DOC
 * (both, whatever the result). */
int sbx_seccomp_parse(const char *text, const char *what, struct sbx_seccomp_profile *p, sbx_json **doc,
		      struct sbx_error *err);
void sbx_seccomp_profile_free(struct sbx_seccomp_profile *p);

/* The kernel's precedence of ACTION among stacked filters: higher wins. */
int sbx_seccomp_strictness(uint32_t action);
/* The rule for NR without arguments that counts (the first), or NULL:
 * the native filter splits the profile around it. */
const struct sbx_seccomp_rule *sbx_seccomp_first_unconditional(const struct sbx_seccomp_profile *p, int nr);

/* The highest syscall number libseccomp knows for the native arch. */
int sbx_seccomp_max_known_nr(void);

#endif
