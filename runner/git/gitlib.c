/*
 * libgit2 set up once per process, and a repository opened with a push's
 * quarantined objects (gitlib.h).
 *
 * git_libgit2_init() of a libgit2 built with mbedTLS (Debian's) parses the
 * whole system CA bundle into memory: about 4 ms of CPU and 0.5 MB of
 * private memory in each process that sets libgit2 up (every worker,
 * every notes writer), for HTTPS remotes that this program never opens
 * (it reads local repositories; fetch.c runs git for remote ones). There
 * is no option to leave it out, so this program defines mbedTLS's two
 * loaders itself: the dynamic linker binds libgit2's calls to the
 * program's definitions first. While gitlib_init() runs libgit2's set-up
 * they fail as an unreadable file would (libgit2 goes on without
 * certificates, so an HTTPS remote would fail its certificate check:
 * closed, not open); at any other time they hand over to mbedTLS's own
 * (RTLD_NEXT), for whatever else in the process may use them.
 */
#include "gitlib.h"
#include "util.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <git2.h>

/* MBEDTLS_ERR_X509_FILE_IO_ERROR: what mbedTLS says of a file it cannot
 * read */
#define NO_FILE (-0x2900)

struct mbedtls_x509_crt;
int mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain,
    const char *path);
int mbedtls_x509_crt_parse_path(struct mbedtls_x509_crt *chain,
    const char *path);

static int setting_up;

typedef int (*parse_fn)(struct mbedtls_x509_crt *, const char *);

static int hand_over(const char *name, struct mbedtls_x509_crt *chain,
    const char *path)
{
	parse_fn real = (parse_fn)dlsym(RTLD_NEXT, name);

	return real ? real(chain, path) : NO_FILE;
}

int mbedtls_x509_crt_parse_file(struct mbedtls_x509_crt *chain,
    const char *path)
{
	return setting_up ? NO_FILE : hand_over("mbedtls_x509_crt_parse_file",
	    chain, path);
}

int mbedtls_x509_crt_parse_path(struct mbedtls_x509_crt *chain,
    const char *path)
{
	return setting_up ? NO_FILE : hand_over("mbedtls_x509_crt_parse_path",
	    chain, path);
}

/* At exit: libgit2's state of the thread (its last error) is given back,
 * which nothing else points to once the process ends. */
static void gitlib_end(void)
{
	git_libgit2_shutdown();
}

void gitlib_init(void)
{
	static int ready;

	if (ready)
		return;
	ready = 1;
	setting_up = 1;
	git_libgit2_init();
	setting_up = 0;
	atexit(gitlib_end);
	/* the failed load's message is no error of ours */
	git_error_clear();
}

/*
 * Under LeakSanitizer (the CI's sanitized build): a process that set
 * libgit2 up once and wrote through it reports 40 bytes that libgit2
 * allocated and keeps past its shutdown, with no frame beyond libgit2's
 * allocator (Debian's libgit2 has no frame pointers). A leak of the
 * runner's own that ends in libgit2 shows no frame of the runner's
 * either, so the sanitized runs lose nothing they could attribute.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libgit2.so\n";
}

int gitlib_open_pushed(const char *repo, const char *quarantine,
    git_repository **r, git_odb **odb)
{
	*r = NULL;
	*odb = NULL;
	gitlib_init();
	if (git_repository_open_bare(r, repo) < 0 ||
	    git_repository_odb(odb, *r) < 0)
		return error_set(-1, "cannot open repository '%s'", repo);
	if (quarantine && git_odb_add_disk_alternate(*odb, quarantine) < 0)
		return error_set(-1, "cannot read the pushed objects in '%s'",
		    quarantine);
	return 0;
}
