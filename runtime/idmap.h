/* User and group id maps of the sandbox's user namespace.
 *
 * The sandbox user (1000 unless --user) always maps to an unprivileged host
 * id, never to host root:
 *  - root mode: to the owner of the workspace, or to a dedicated range
 *    (root's /etc/subuid entry, else SBX_ROOT_RANGE_BASE);
 *  - rootless: to the caller.
 * The other ids inside map to a "background" range when there is one (root
 * mode, or a rootless caller with /etc/subuid + /etc/subgid ranges and
 * newuidmap/newgidmap), so that chown inside works and files owned by inside
 * root in an image unpacked with the same range stay root-owned.  Without a
 * range only the sandbox user is mapped and setgroups is denied. */
#ifndef SBX_IDMAP_H
#define SBX_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define SBX_ROOT_RANGE_BASE 0x70000000u
#define SBX_ROOT_RANGE_COUNT 65536u
#define SBX_IDMAP_MAX 8

struct sbx_id_range {
	uint32_t start;
	uint32_t count;
};

struct sbx_idmap_entry {
	uint32_t inside;
	uint32_t outside;
	uint32_t count;
};

struct sbx_idmap {
	struct sbx_idmap_entry e[SBX_IDMAP_MAX];
	size_t n;
};

enum sbx_idmap_writer {
	SBX_IDMAP_DIRECT,  /* root: write /proc/PID/{uid,gid}_map ourselves */
	SBX_IDMAP_HELPERS, /* rootless with ranges: newuidmap / newgidmap */
	SBX_IDMAP_SINGLE,  /* rootless without: one id each, setgroups denied */
};

struct sbx_idplan {
	enum sbx_idmap_writer writer;
	struct sbx_idmap uid;
	struct sbx_idmap gid;
	/* Ids the child takes inside while it sets up: inside root when it is
	 * mapped (files it creates on tmpfs need a mapped owner), else the
	 * sandbox user. */
	uint32_t setup_uid;
	uint32_t setup_gid;
	bool setgroups_allowed;
	/* Root mode with a root-owned workspace: the sandbox user is not host
	 * root, so the workspace is mounted idmapped instead, its owner shown
	 * as (and files created stored back as) the sandbox user's host ids. */
	bool workspace_idmapped;
	struct sbx_idmap workspace_uid;
	struct sbx_idmap workspace_gid;
};

/* Find the first range of USER (by name, or by numeric ID) in the text of an
 * /etc/subuid-style file.  Returns 1 and fills OUT when found, 0 when not. */
int sbx_subid_find(const char *content, const char *user, uint32_t id, struct sbx_id_range *out);

/* The same, LINE set to the (1-based) line the range is on. */
int sbx_subid_find_line(const char *content, const char *user, uint32_t id, struct sbx_id_range *out,
			unsigned int *line);

/* The first range of USER (or ID) in FILE (/etc/subuid, /etc/subgid): 1
 * and OUT filled when there is one, 0 when not or when FILE is unreadable. */
int sbx_read_subid_range(const char *file, const char *user, uint32_t id, struct sbx_id_range *out);

/* newuidmap or newgidmap (NAME) in a system directory, its path in PATH:
 * setuid helpers are never looked for in a caller's PATH. */
bool sbx_find_map_helper(const char *name, char *path, size_t len);

/* Whether RANGE may serve as root's range of host ids: it must not hold
 * host id 0 nor an id that DB, the text of /etc/passwd or /etc/group
 * ("name:x:ID:..."), gives a real user or group.  0 when it may; -1 when
 * not, WHY saying which id it holds. */
int sbx_id_range_check(const struct sbx_id_range *range, const char *db, char *why, size_t len);

/* Build a map that sends SANDBOX_ID to HOST_ID and, when BACKGROUND is not
 * NULL, inside id k to BACKGROUND->start + k for every other k in
 * [0, BACKGROUND->count), leaving holes so that no inside or host id is
 * mapped twice. */
int sbx_idmap_build(uint32_t sandbox_id, uint32_t host_id, const struct sbx_id_range *background,
		    struct sbx_idmap *out);

/* Format as the kernel's uid_map text ("inside outside count\n" lines). */
int sbx_idmap_format(const struct sbx_idmap *map, char *buf, size_t len);

/* Whether inside id ID is mapped. */
bool sbx_idmap_has_inside(const struct sbx_idmap *map, uint32_t id);

/* Host id that inside id ID maps to, or (uint32_t)-1. */
uint32_t sbx_idmap_to_host(const struct sbx_idmap *map, uint32_t id);

/* Whether sbx runs as root of the initial user namespace. */
bool sbx_is_host_root(void);

/* Decide the maps for a sandbox user UID:GID.  WS_UID/WS_GID is the owner of
 * the workspace, or -1 without one. */
int sbx_idplan_make(uint32_t uid, uint32_t gid, int64_t ws_uid, int64_t ws_gid,
		    struct sbx_idplan *plan, struct sbx_error *err);

/* Install the maps for the child PID, which has made a new user namespace
 * and waits for them. */
int sbx_idplan_apply(const struct sbx_idplan *plan, pid_t pid, struct sbx_error *err);

/* A user namespace fd whose maps are UID and GID, for idmapped mounts
 * (root only: the maps may name any host id). */
int sbx_userns_with_maps(const struct sbx_idmap *uid, const struct sbx_idmap *gid,
			 struct sbx_error *err);

/* One line for -v. */
void sbx_idplan_describe(const struct sbx_idplan *plan, char *buf, size_t len);

#endif
