/*
 * Installing the runner's post-receive hook into a bare repository.
 */
#ifndef RUNNER_INSTALL_H
#define RUNNER_INSTALL_H

/*
 * Write REPO/hooks/post-receive that execs `hook_bin` with `home`. A hook
 * already there that is not ours is kept as post-receive.chained and keeps
 * running. Idempotent. *chained is set when a foreign hook was kept.
 */
int install_hook(const char *repo, const char *home, const char *hook_bin,
    int *chained);

#endif
