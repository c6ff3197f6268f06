/*
 * Installing the runner's post-receive hook into a bare repository.
 */
#ifndef RUNNER_INSTALL_H
#define RUNNER_INSTALL_H

/*
 * Write REPO/hooks/NAME ("post-receive" or "pre-receive"), a script that
 * execs `prog NAME HOME CHAINED`. A hook already there that is not ours is
 * kept as NAME.chained and keeps running. Idempotent. *chained is set when
 * a foreign hook was kept.
 */
int install_hook(const char *repo, const char *home, const char *prog,
    const char *name, int *chained);

#endif
