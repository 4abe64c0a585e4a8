#include "archive_lib.h"

#include <stddef.h>

#include "dynlib.h"
#include "util.h"

#ifndef SBX_LIBARCHIVE_SONAME
#define SBX_LIBARCHIVE_SONAME "libarchive.so.13"
#endif

#define SYM(name, field) { name, offsetof(struct sbx_archive_lib, field) }

static const struct sbx_dynlib_symbol symbols[] = {
	SYM("archive_read_new", read_new),
	SYM("archive_read_support_filter_gzip", support_filter_gzip),
	SYM("archive_read_support_filter_zstd", support_filter_zstd),
	SYM("archive_read_support_filter_none", support_filter_none),
	SYM("archive_read_support_format_tar", support_format_tar),
	SYM("archive_read_support_format_raw", support_format_raw),
	SYM("archive_read_open_fd", open_fd),
	SYM("archive_read_open2", open2),
	SYM("archive_read_next_header", next_header),
	SYM("archive_read_data_block", data_block),
	SYM("archive_error_string", error_string),
	SYM("archive_read_free", read_free),
	SYM("archive_filter_count", filter_count),
	SYM("archive_filter_code", filter_code),
	SYM("archive_entry_pathname", entry_pathname),
	SYM("archive_entry_filetype", entry_filetype),
	SYM("archive_entry_hardlink", entry_hardlink),
	SYM("archive_entry_symlink", entry_symlink),
	SYM("archive_entry_perm", entry_perm),
	SYM("archive_entry_uid", entry_uid),
	SYM("archive_entry_gid", entry_gid),
	SYM("archive_entry_mtime", entry_mtime),
	SYM("archive_entry_mtime_nsec", entry_mtime_nsec),
	SYM("archive_entry_xattr_count", entry_xattr_count),
};

int sbx_archive_lib(const struct sbx_archive_lib **out, struct sbx_error *err)
{
	static struct sbx_archive_lib lib;
	static void *handle;

	if (sbx_dynlib_load(&handle, SBX_LIBARCHIVE_SONAME, "libarchive13", symbols, SBX_ARRAY_SIZE(symbols),
			    &lib, err) < 0)
		return -1;
	*out = &lib;
	return 0;
}
