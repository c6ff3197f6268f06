/*
 * libcurl, loaded when a notification or a check first needs it (as
 * pg.c loads libpq): libcurl and its own libraries (TLS, LDAP, IDN,
 * HTTP/2, ...) are 17 more shared libraries that every process of
 * runner-worker would map, relocate and keep private copies of, and only
 * the notifier's deliveries and a deployment's checks use. Include this
 * instead of <curl/curl.h>: the calls keep their names.
 */
#ifndef RUNNER_CURL_LIB_H
#define RUNNER_CURL_LIB_H

/* the calls go through pointers: no macro of curl.h's may stand for them */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#define CURL_LIB_CALLS(X) X(curl_global_init) X(curl_easy_init) \
	X(curl_easy_setopt) X(curl_easy_perform) X(curl_easy_getinfo) \
	X(curl_easy_cleanup) X(curl_easy_reset) X(curl_easy_strerror) \
	X(curl_free) X(curl_getdate) X(curl_slist_append) \
	X(curl_slist_free_all) X(curl_url) X(curl_url_cleanup) \
	X(curl_url_get) X(curl_url_set)

struct curl_lib {
#define CURL_LIB_POINTER(f) __typeof__(f) *f;
	CURL_LIB_CALLS(CURL_LIB_POINTER)
#undef CURL_LIB_POINTER
};
extern struct curl_lib curl_lib;

/*
 * Load libcurl.so.4 and call curl_global_init(), the first time (safe
 * from threads); later calls cost nothing. 0, or an error saying that
 * libcurl cannot be loaded (every call below is then not to be made).
 */
int curl_lib_load(void);

#ifndef CURL_LIB_IMPL
/* curl.h's function-like stand-ins of these two */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init curl_lib.curl_global_init
#define curl_easy_init curl_lib.curl_easy_init
#define curl_easy_setopt curl_lib.curl_easy_setopt
#define curl_easy_perform curl_lib.curl_easy_perform
#define curl_easy_getinfo curl_lib.curl_easy_getinfo
#define curl_easy_cleanup curl_lib.curl_easy_cleanup
#define curl_easy_reset curl_lib.curl_easy_reset
#define curl_easy_strerror curl_lib.curl_easy_strerror
#define curl_free curl_lib.curl_free
#define curl_getdate curl_lib.curl_getdate
#define curl_slist_append curl_lib.curl_slist_append
#define curl_slist_free_all curl_lib.curl_slist_free_all
#define curl_url curl_lib.curl_url
#define curl_url_cleanup curl_lib.curl_url_cleanup
#define curl_url_get curl_lib.curl_url_get
#define curl_url_set curl_lib.curl_url_set
#endif

#endif
