/*
 * libcurl loaded on demand (curl_lib.h).
 */
#define CURL_LIB_IMPL
#include "curl_lib.h"
#include "util.h"

#include <dlfcn.h>
#include <pthread.h>

#define CURL_SONAME "libcurl.so.4"

struct curl_lib curl_lib;
static char *load_error;

static void load(void)
{
	void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		load_error = xasprintf("cannot load %s (install libcurl4): %s",
		    CURL_SONAME, dlerror());
		return;
	}
#define CURL_LIB_LOAD(f) \
	if (!(curl_lib.f = (__typeof__(curl_lib.f))dlsym(lib, #f))) { \
		load_error = xasprintf("%s has no %s: too old a " \
		    "libcurl", CURL_SONAME, #f); \
		return; \
	}
	CURL_LIB_CALLS(CURL_LIB_LOAD)
#undef CURL_LIB_LOAD
	if (curl_lib.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		load_error = xasprintf("%s: curl_global_init failed",
		    CURL_SONAME);
}

int curl_lib_load(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, load);
	return load_error ? error_set(-1, "%s", load_error) : 0;
}
