#include "archive_lib.h"

#include <dlfcn.h>
#include <stddef.h>

#ifndef SBX_LIBARCHIVE_SONAME
#define SBX_LIBARCHIVE_SONAME "libarchive.so.13"
#endif

static const struct {
	const char *symbol;
	size_t offset;
} symbols[] = {
	{ "archive_read_new", offsetof(struct sbx_archive_lib, read_new) },
	{ "archive_read_support_filter_gzip", offsetof(struct sbx_archive_lib, support_filter_gzip) },
	{ "archive_read_support_filter_zstd", offsetof(struct sbx_archive_lib, support_filter_zstd) },
	{ "archive_read_support_filter_none", offsetof(struct sbx_archive_lib, support_filter_none) },
	{ "archive_read_support_format_tar", offsetof(struct sbx_archive_lib, support_format_tar) },
	{ "archive_read_open_fd", offsetof(struct sbx_archive_lib, open_fd) },
	{ "archive_read_next_header", offsetof(struct sbx_archive_lib, next_header) },
	{ "archive_read_data_block", offsetof(struct sbx_archive_lib, data_block) },
	{ "archive_error_string", offsetof(struct sbx_archive_lib, error_string) },
	{ "archive_read_free", offsetof(struct sbx_archive_lib, read_free) },
	{ "archive_entry_pathname", offsetof(struct sbx_archive_lib, entry_pathname) },
	{ "archive_entry_filetype", offsetof(struct sbx_archive_lib, entry_filetype) },
	{ "archive_entry_hardlink", offsetof(struct sbx_archive_lib, entry_hardlink) },
	{ "archive_entry_symlink", offsetof(struct sbx_archive_lib, entry_symlink) },
	{ "archive_entry_perm", offsetof(struct sbx_archive_lib, entry_perm) },
	{ "archive_entry_uid", offsetof(struct sbx_archive_lib, entry_uid) },
	{ "archive_entry_gid", offsetof(struct sbx_archive_lib, entry_gid) },
	{ "archive_entry_mtime", offsetof(struct sbx_archive_lib, entry_mtime) },
	{ "archive_entry_mtime_nsec", offsetof(struct sbx_archive_lib, entry_mtime_nsec) },
	{ "archive_entry_xattr_count", offsetof(struct sbx_archive_lib, entry_xattr_count) },
};

int sbx_archive_lib(const struct sbx_archive_lib **out, struct sbx_error *err)
{
	static struct sbx_archive_lib lib;
	static void *handle;

	if (handle == NULL) {
		void *h = dlopen(SBX_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);

		if (h == NULL)
			return sbx_fail(err, 0, "loading %s: %s (install libarchive13)", SBX_LIBARCHIVE_SONAME,
					dlerror());
		for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
			void *fn = dlsym(h, symbols[i].symbol);

			if (fn == NULL) {
				dlclose(h);
				return sbx_fail(err, 0, "%s has no %s", SBX_LIBARCHIVE_SONAME, symbols[i].symbol);
			}
			*(void **)((char *)&lib + symbols[i].offset) = fn;
		}
		handle = h;
	}
	*out = &lib;
	return 0;
}
