/*
 * libarchive loaded on demand (archive_lib.h).
 */
#define ARCHIVE_LIB_IMPL
#include "archive_lib.h"
#include "util.h"

#include <dlfcn.h>
#include <pthread.h>

#define ARCHIVE_SONAME "libarchive.so.13"

struct archive_lib archive_lib;
static char *load_error;

static void load(void)
{
	void *lib = dlopen(ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		load_error = xasprintf("cannot load %s (install libarchive13): %s",
		    ARCHIVE_SONAME, dlerror());
		return;
	}
#define ARCHIVE_LIB_LOAD(f) \
	if (!(archive_lib.f = (__typeof__(archive_lib.f))dlsym(lib, #f))) { \
		load_error = xasprintf("%s has no %s: too old a libarchive", \
		    ARCHIVE_SONAME, #f); \
		return; \
	}
	ARCHIVE_LIB_CALLS(ARCHIVE_LIB_LOAD)
#undef ARCHIVE_LIB_LOAD
}

int archive_lib_load(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, load);
	return load_error ? error_set(-1, "%s", load_error) : 0;
}
