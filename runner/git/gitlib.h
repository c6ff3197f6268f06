/*
 * libgit2 set up for the process: once, at the first use, and never shut
 * down, without the system's CA certificates; a repository opened with
 * the objects of a push still in quarantine.
 */
#ifndef RUNNER_GITLIB_H
#define RUNNER_GITLIB_H

/*
 * Set libgit2 up, the first time only; later calls cost nothing. Its
 * set-up parses the system's CA bundle (libgit2 built with mbedTLS, as
 * Debian's), for HTTPS remotes this program never opens: that is left
 * out (gitlib.c says how), and libgit2 keeps no certificate.
 */
void gitlib_init(void);

struct git_repository;
struct git_odb;
/*
 * Open the bare repository `repo` and its objects, with those of a push
 * not yet accepted readable beside them when `quarantine` names their
 * folder (git's GIT_QUARANTINE_PATH, in a pre-receive hook). On an error
 * (set), what was opened is in *r and *odb for the caller to free.
 */
int gitlib_open_pushed(const char *repo, const char *quarantine,
    struct git_repository **r, struct git_odb **odb);

#endif
