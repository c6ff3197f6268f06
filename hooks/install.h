/*
 * Installing the runner's post-receive hook into a bare repository.
 */
#ifndef RUNNER_INSTALL_H
#define RUNNER_INSTALL_H

#include <sys/types.h>

/*
 * Write REPO/hooks/NAME ("post-receive" or "pre-receive"), a script that
 * execs `prog NAME HOME CHAINED`. A hook already there that is not ours is
 * kept as NAME.chained and keeps running. Idempotent. *chained is set when
 * a foreign hook was kept. Run as root on a hooks folder that another
 * user owns (or in a folder of that user's), all of it is done by a child
 * that has become that user: the hook is that user's file, and a link
 * planted there leads nowhere that user could not write anyway.
 */
int install_hook(const char *repo, const char *home, const char *prog,
    const char *name, int *chained);
/* The same into the folder `dir` of hooks (gitolite's common hooks), as
 * user `owner` (by a child that has become it, when this is root), who
 * is not root. */
int install_hook_into(const char *dir, uid_t owner, const char *home,
    const char *prog, const char *name, int *chained);

/*
 * If gitolite manages `repo`, the folder of its common hooks, which
 * gitolite links into every repository it manages, new ones too (caller
 * frees), and in *owner (may be NULL) gitolite's user; else NULL. Its
 * update hook is a link to HOME/.gitolite/hooks/common/update, and that
 * folder, HOME/.gitolite and HOME are folders (not links) of the
 * repository's owner, who is not root: the owner makes the link and may
 * make folders, and gitolite runs HOME/.gitolite.rc, so a link into a
 * folder of anyone else's (root's, one to be created) is not gitolite's.
 */
char *install_gitolite_hooks(const char *repo, uid_t *owner);

/*
 * Does repository `repo` hand its pushes to `home`: a bare repository
 * whose hook NAME (its own, or gitolite's common one) is ours, executable,
 * names this home and a hook program that exists, and whose chained hook,
 * if any, can run? 0 yes; 1 no, with *problem and *fix (caller frees);
 * 2 this user may not look at the hook (gitolite's common hooks are its
 * user's alone), with *problem saying so and no fix.
 */
int install_check(const char *repo, const char *home, const char *name,
    char **problem, char **fix);

#endif
