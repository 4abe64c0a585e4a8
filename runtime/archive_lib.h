/* libarchive, loaded when an image command needs it (see dynlib.h). */
#ifndef SBX_ARCHIVE_LIB_H
#define SBX_ARCHIVE_LIB_H

#include <archive.h>
#include <archive_entry.h>

#include "error.h"

struct sbx_archive_lib {
	struct archive *(*read_new)(void);
	int (*support_filter_gzip)(struct archive *);
	int (*support_filter_zstd)(struct archive *);
	int (*support_filter_none)(struct archive *);
	int (*support_format_tar)(struct archive *);
	int (*support_format_raw)(struct archive *);
	int (*open_fd)(struct archive *, int, size_t);
	int (*open2)(struct archive *, void *, archive_open_callback *, archive_read_callback *,
		     archive_skip_callback *, archive_close_callback *);
	int (*next_header)(struct archive *, struct archive_entry **);
	int (*data_block)(struct archive *, const void **, size_t *, la_int64_t *);
	const char *(*error_string)(struct archive *);
	int (*read_free)(struct archive *);
	int (*filter_count)(struct archive *);
	int (*filter_code)(struct archive *, int);
	const char *(*entry_pathname)(struct archive_entry *);
	mode_t (*entry_filetype)(struct archive_entry *);
	const char *(*entry_hardlink)(struct archive_entry *);
	const char *(*entry_symlink)(struct archive_entry *);
	mode_t (*entry_perm)(struct archive_entry *);
	la_int64_t (*entry_uid)(struct archive_entry *);
	la_int64_t (*entry_gid)(struct archive_entry *);
	time_t (*entry_mtime)(struct archive_entry *);
	long (*entry_mtime_nsec)(struct archive_entry *);
	int (*entry_xattr_count)(struct archive_entry *);
};

/* Load libarchive (once) and return its functions. */
int sbx_archive_lib(const struct sbx_archive_lib **out, struct sbx_error *err);

#endif
