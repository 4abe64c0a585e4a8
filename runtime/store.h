/* The image store: named image records and the unpacked trees they use.
 *
 *   STORE/lock                 flock: exclusive while publishing or removing
 *   STORE/images/NAME:TAG.json records ('/' in NAME written as '+')
 *   STORE/blobs/sha256/HEX     manifests and configs of stored images
 *   STORE/rootfs/HEX/          unpacked trees named by their layer chain
 *                              (OCI ChainID); immutable once published
 *   STORE/rootfs/.tmp-*        trees being built, never used
 *   STORE/tmp/                 scratch space of imports
 *
 * The store is its owner's alone (0700, checked at every open); its lock
 * file is 0600.
 *
 * Everything appears by rename(2), whole or not at all.  A tree in use by
 * `sbx run` holds a shared flock on its directory, so gc leaves it alone. */
#ifndef SBX_STORE_H
#define SBX_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "json.h"

#define SBX_IMAGE_NAME_MAX 200
#define SBX_IMAGE_TAG_MAX 128
#define SBX_DEFAULT_IMAGE "sbx-default"

struct sbx_store {
	char path[PATH_MAX];
	int dirfd;
	int lockfd;
};

struct sbx_image_ref {
	char name[SBX_IMAGE_NAME_MAX + 1];
	char tag[SBX_IMAGE_TAG_MAX + 1];
};

struct sbx_image_record {
	sbx_json *doc;
	const char *name, *tag, *id;
	char chain_hex[SBX_SHA256_HEX + 1];
	const sbx_json *config; /* Env, Entrypoint, Cmd, WorkingDir, User */
};

/* Where the store is: OVERRIDE (--store), else $SBX_STORE, else /var/lib/sbx
 * for root, else $XDG_DATA_HOME/sbx or ~/.local/share/sbx. */
int sbx_store_locate(const char *override, char *out, size_t len, struct sbx_error *err);

/* Open the store; CREATE makes it (and its directories) when missing. */
int sbx_store_open(const char *override, bool create, struct sbx_store *s, struct sbx_error *err);
void sbx_store_close(struct sbx_store *s);

/* How long sbx waits for a lock someone else holds: $SBX_LOCK_TIMEOUT
 * seconds, else 60 s.  A wait is said on stderr, and ends. */
#define SBX_LOCK_TIMEOUT_DEFAULT_NS (60ULL * 1000000000ULL)
uint64_t sbx_lock_timeout_ns(void);

/* flock(FD, OP), waiting at most LIMIT_NS (and not past a stop signal);
 * failing with STATUS when the time is up.  WHAT names the lock. */
int sbx_lock_bounded(int fd, int op, const char *what, uint64_t limit_ns, int status, struct sbx_error *err);

/* The store-wide lock (waits at most sbx_lock_timeout_ns()). */
int sbx_store_lock(struct sbx_store *s, struct sbx_error *err);
void sbx_store_unlock(struct sbx_store *s);

/* "NAME[:TAG]" (TAG defaults to latest).  Names: [a-z0-9] then [a-z0-9._-/]
 * (upper case allowed too); tags: [A-Za-z0-9_][A-Za-z0-9_.-]*. */
int sbx_image_ref_parse(const char *text, struct sbx_image_ref *ref, struct sbx_error *err);

/* Read the record of REF; status SBX_EXIT_IMAGE_MISSING when there is none. */
int sbx_store_read_record(struct sbx_store *s, const struct sbx_image_ref *ref, struct sbx_image_record *rec,
			  struct sbx_error *err);
void sbx_image_record_free(struct sbx_image_record *rec);

/* Publish TEXT as the record of REF (replacing one of the same name). */
int sbx_store_write_record(struct sbx_store *s, const struct sbx_image_ref *ref, const char *text,
			   struct sbx_error *err);

/* Write the record as JSON with "rootfs" (the tree's path) added. */
int sbx_store_record_json(struct sbx_store *s, const struct sbx_image_record *rec, yajl_gen g);

/* Call FN for every record, in name order. */
int sbx_store_each_record(struct sbx_store *s, int (*fn)(struct sbx_store *, struct sbx_image_record *, void *),
			  void *ctx, struct sbx_error *err);

/* Remove the record of REF (66 when missing). */
int sbx_store_remove_record(struct sbx_store *s, const struct sbx_image_ref *ref, struct sbx_error *err);

/* Open the published tree HEX for reading and take a shared lock on it, so
 * that gc leaves it alone while the fd is open (waiting at most LIMIT_NS,
 * then failing with STATUS). */
int sbx_store_open_tree(struct sbx_store *s, const char *hex, uint64_t limit_ns, int status, struct sbx_error *err);

/* Store BLOB (TEXT) as blobs/sha256/HEX, if not there already. */
int sbx_store_put_blob(struct sbx_store *s, const char *hex, const char *text, struct sbx_error *err);

/* Remove the tree NAME in STORE/DIR (rootfs or tmp) that the image worker
 * made (a leftover of a failed import, or its scratch space). */
int sbx_store_discard(struct sbx_store *s, const char *dir, const char *name, struct sbx_error *err);

/* Remove what no record references: trees, blobs, and the leftovers of
 * interrupted imports.  REPORT is called with each entry tried, relative
 * to the store, and PROBLEM NULL when it was removed, else why not.  An
 * entry that cannot be removed does not stop gc; it fails at the end. */
typedef void (*sbx_gc_report_fn)(const char *what, const struct sbx_error *problem, void *ctx);
int sbx_store_gc(struct sbx_store *s, sbx_gc_report_fn report, void *ctx, struct sbx_error *err);

#endif
