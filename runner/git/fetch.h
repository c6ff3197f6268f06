/*
 * Sources for a host that does not share the git server's files: each
 * repository is fetched over git's own transports (ssh, git, http) into
 * a cache of the host's, and jobs are checked out from there.
 */
#ifndef RUNNER_FETCH_H
#define RUNNER_FETCH_H

struct host_conf;

/*
 * Where this host reads repository `repo` (its path on the git server)
 * for a job of `commit` (and release tag `tag`, or NULL): `repo` itself
 * when no `sources` entry of `h` covers it, else its cache under
 * HOME/cache/sources, fetched first unless it has them already (always
 * when `commit` is NULL). Returns
 * 0 with *local set (the caller frees it) or a negative code with a
 * message naming the URL.
 */
int source_local(const struct host_conf *h, const char *home,
    const char *repo, const char *commit, const char *tag, char **local);

#endif
