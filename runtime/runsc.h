/* The runsc backend: the same sandbox under gVisor.
 *
 * sbx writes an OCI bundle from the sandbox's description (spec.h) in a
 * private directory and runs `runsc run` on it, inside a user, mount and
 * pid namespace of sbx's own with the same id maps as the native sandbox
 * (idmap.h): the workspace's owner is the sandbox user under both
 * runtimes, runsc's gofer is never host root, and everything runsc starts
 * dies with that pid namespace's init, so a killed sbx leaves no process
 * behind.  runsc runs as root of that namespace with --ignore-cgroups; a
 * cgroup sbx made holds it from outside. */
#ifndef SBX_RUNSC_H
#define SBX_RUNSC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* What sbx knows of runsc for this caller, without running it. */
struct sbx_runsc_probe {
	bool found;            /* an executable runsc on PATH */
	char path[PATH_MAX];
	bool usable;           /* and this caller can run it */
	char why[512];         /* found but not usable: the reason and remedy */
	bool lacks_range;      /* the reason: no /etc/subuid and /etc/subgid range */
};

/* Look for runsc on PATH and decide whether this caller can run it: root
 * can; everyone else needs /etc/subuid and /etc/subgid ranges and
 * newuidmap/newgidmap (runsc needs every id of a full range). */
void sbx_runsc_probe(struct sbx_runsc_probe *p);

/* `runsc --version`'s first line into OUT (runs it). */
int sbx_runsc_version(const char *path, char *out, size_t len, struct sbx_error *err);

/* A container id for this run into ID: sbx's pid and a nonce, so that
 * concurrent runs never share runsc's control socket. */
int sbx_runsc_name_container(char *id, size_t len, struct sbx_error *err);

/* --runtime runsc for a caller without subordinate ids: fails ERR with the
 * /etc/subuid and /etc/subgid lines to add. */
int sbx_runsc_fail_without_range(struct sbx_error *err);

#endif
