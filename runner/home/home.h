/*
 * The runner's home and who may reach what in it. The runner's user owns
 * it all; the hook's group (the home's group) may only add files to the
 * spool and send datagrams to the daemon's socket; the build user may only
 * pass through the home to its workspace, its environment's state folder
 * and releases (each of which is its own or readable by its group). Nothing
 * in it is readable by others.
 */
#ifndef RUNNER_HOME_H
#define RUNNER_HOME_H

#include <sys/types.h>

struct config;
struct run_user;
struct sbuf;

/* The group 'runner init' run as root creates for the hooks of other users
 * (the git server's), and the build user it creates. */
#define HOOK_GROUP "runner"
#define BUILD_USER_COMMENT "runner build user (repository code)"
#define RELEASE_USER_COMMENT "runner release user (signed releases)"

/*
 * Create the home's folders and give everything already there the modes
 * of the table in home.c, with group `gid` ((gid_t)-1: unchanged) for the
 * home, its spool and socket. Safe to run again.
 */
int home_prepare(const char *home, gid_t gid);

/* Where worker N keeps the workspace of its last build for its next one
 * (work/.pool/N), and the removal of those of workers that are no more
 * (a daemon started with fewer than `workers`). */
#define HOME_POOL_DIR "work/.pool"
void home_prune_pools(const char *home, int workers);

/* A file that others may read or write more than they should, or whose
 * owner is not to decide what the runner trusts. */
struct home_issue {
	char *problem;		/* what is wrong, naming the file */
	char *fix;		/* the shell command that fixes it */
};

/*
 * Append to *v (*n of them) an issue for each file of the home, and each
 * signers file, keyring and secret file of runner.yml, that others may
 * read or write more than they should, or that belongs to someone else
 * than root or the runner's user. The runner's user is the home's owner,
 * whoever runs this (root judges the home of a daemon that runs as
 * 'runner' as 'runner' would). Free with home_issues_free().
 */
void home_audit(const char *home, const struct config *conf,
    struct home_issue **v, size_t *n);
void home_issues_free(struct home_issue *v, size_t n);
/* home_audit(), each issue handed to fn(issue, arg) (the doctor, the
 * status warnings, the daemon's log at start); how many there were. */
size_t home_audit_each(const char *home, const struct config *conf,
    void (*fn)(const struct home_issue *issue, void *arg), void *arg);

/*
 * As root: make sure group HOOK_GROUP, the build user, the users of
 * `workers` workers (home_worker_users) and the release user exist,
 * creating them with groupadd/useradd; *gid is the group's. Each thing
 * created is a line appended to `out`.
 */
int home_users(const char *build_user, const char *release_user,
    int workers, gid_t *gid, struct sbuf *out);

/*
 * The user worker `slot` runs its build stages as: `build_user`-SLOT
 * (runner-build-0, runner-build-1...). One per worker, so that what the
 * kernel counts per user (RLIMIT_NPROC above all) is counted per job, and
 * so that one job's processes cannot touch another's workspace. Caller
 * frees.
 */
char *home_worker_user(const char *build_user, int slot);

/*
 * As root: create the users of workers 0 to `workers` - 1 that do not
 * exist yet, each a line appended to `out`. Fails with the command that
 * failed.
 */
int home_worker_users(const char *build_user, int workers, struct sbuf *out);

/*
 * Look up the user of worker `slot`, with the supplementary groups of
 * `build_user` besides its own (what the operator gave the build user,
 * like the git server's group to read repositories, its workers' users
 * have too). ERR_NOTFOUND when either user is missing; *out is then
 * empty.
 */
int home_worker_lookup(const char *build_user, int slot, struct run_user *out);

/*
 * What the owner of repository `repo` (who runs its hooks) needs to queue
 * pushes, when it is not the home's owner or root: membership of the
 * home's group, which may add to the spool and wake the daemon. As root
 * it is granted (usermod); otherwise the error names the command. What
 * was found or done is a line appended to `out`.
 */
int home_grant(const char *home, const char *repo, struct sbuf *out);

/*
 * Whether the owner of repository `repo` (who runs its hooks) may queue
 * pushes into `home`, as home_grant would leave it: 1 it is root, the
 * home's owner or in the home's group (the user database's groups, which
 * a process of that user gets at its next start); 0 not, with *problem
 * naming the user and the group (the caller frees); -1 on an error.
 */
int home_granted(const char *home, const char *repo, char **problem);

/* The command that creates user `name` (a build user, or the release
 * user when `comment` is RELEASE_USER_COMMENT), for messages. Caller
 * frees. */
char *home_useradd_command(const char *name, const char *comment);

#endif
