/*
 * libarchive, loaded when an artifact is first written or read (as pg.c
 * loads libpq): libarchive and its own libraries (libxml2, ICU and the
 * C++ runtime, five compressors, ACLs) are 13 more shared libraries that
 * every process of runner-worker would map, relocate and keep private
 * copies of, and only jobs with artifacts use. Include this instead of
 * <archive.h>: the calls keep their names.
 */
#ifndef RUNNER_ARCHIVE_LIB_H
#define RUNNER_ARCHIVE_LIB_H

#include <archive.h>
#include <archive_entry.h>

#define ARCHIVE_LIB_CALLS(X) X(archive_entry_copy_hardlink) \
	X(archive_entry_copy_pathname) X(archive_entry_copy_symlink) \
	X(archive_entry_filetype) X(archive_entry_free) \
	X(archive_entry_hardlink) X(archive_entry_new) \
	X(archive_entry_pathname) X(archive_entry_perm) \
	X(archive_entry_set_mode) X(archive_entry_set_mtime) \
	X(archive_entry_set_perm) X(archive_entry_set_size) \
	X(archive_entry_symlink) X(archive_errno) X(archive_error_string) \
	X(archive_read_data_block) X(archive_read_free) X(archive_read_new) \
	X(archive_read_next_header) X(archive_read_open_filename) \
	X(archive_read_support_filter_all) \
	X(archive_read_support_format_tar) X(archive_set_error) \
	X(archive_write_add_filter_zstd) X(archive_write_close) \
	X(archive_write_data) X(archive_write_data_block) \
	X(archive_write_disk_new) X(archive_write_disk_set_options) \
	X(archive_write_fail) X(archive_write_finish_entry) \
	X(archive_write_free) X(archive_write_header) X(archive_write_new) \
	X(archive_write_open2) X(archive_write_set_bytes_in_last_block) \
	X(archive_write_set_filter_option) \
	X(archive_write_set_format_pax_restricted)

struct archive_lib {
#define ARCHIVE_LIB_POINTER(f) __typeof__(f) *f;
	ARCHIVE_LIB_CALLS(ARCHIVE_LIB_POINTER)
#undef ARCHIVE_LIB_POINTER
};
extern struct archive_lib archive_lib;

/*
 * Load libarchive.so.13, the first time (safe from threads); later calls
 * cost nothing. 0, or an error saying that libarchive cannot be loaded
 * (every call below is then not to be made).
 */
int archive_lib_load(void);

#ifndef ARCHIVE_LIB_IMPL
#define archive_entry_copy_hardlink archive_lib.archive_entry_copy_hardlink
#define archive_entry_copy_pathname archive_lib.archive_entry_copy_pathname
#define archive_entry_copy_symlink archive_lib.archive_entry_copy_symlink
#define archive_entry_filetype archive_lib.archive_entry_filetype
#define archive_entry_free archive_lib.archive_entry_free
#define archive_entry_hardlink archive_lib.archive_entry_hardlink
#define archive_entry_new archive_lib.archive_entry_new
#define archive_entry_pathname archive_lib.archive_entry_pathname
#define archive_entry_perm archive_lib.archive_entry_perm
#define archive_entry_set_mode archive_lib.archive_entry_set_mode
#define archive_entry_set_mtime archive_lib.archive_entry_set_mtime
#define archive_entry_set_perm archive_lib.archive_entry_set_perm
#define archive_entry_set_size archive_lib.archive_entry_set_size
#define archive_entry_symlink archive_lib.archive_entry_symlink
#define archive_errno archive_lib.archive_errno
#define archive_error_string archive_lib.archive_error_string
#define archive_read_data_block archive_lib.archive_read_data_block
#define archive_read_free archive_lib.archive_read_free
#define archive_read_new archive_lib.archive_read_new
#define archive_read_next_header archive_lib.archive_read_next_header
#define archive_read_open_filename archive_lib.archive_read_open_filename
#define archive_read_support_filter_all archive_lib.archive_read_support_filter_all
#define archive_read_support_format_tar archive_lib.archive_read_support_format_tar
#define archive_set_error archive_lib.archive_set_error
#define archive_write_add_filter_zstd archive_lib.archive_write_add_filter_zstd
#define archive_write_close archive_lib.archive_write_close
#define archive_write_data archive_lib.archive_write_data
#define archive_write_data_block archive_lib.archive_write_data_block
#define archive_write_disk_new archive_lib.archive_write_disk_new
#define archive_write_disk_set_options archive_lib.archive_write_disk_set_options
#define archive_write_fail archive_lib.archive_write_fail
#define archive_write_finish_entry archive_lib.archive_write_finish_entry
#define archive_write_free archive_lib.archive_write_free
#define archive_write_header archive_lib.archive_write_header
#define archive_write_new archive_lib.archive_write_new
#define archive_write_open2 archive_lib.archive_write_open2
#define archive_write_set_bytes_in_last_block archive_lib.archive_write_set_bytes_in_last_block
#define archive_write_set_filter_option archive_lib.archive_write_set_filter_option
#define archive_write_set_format_pax_restricted archive_lib.archive_write_set_format_pax_restricted
#endif

#endif
