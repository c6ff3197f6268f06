/*
 * The spool as the daemon keeps it, and as status, doctor, the web page
 * and /metrics show it. The hook's group writes HOME/spool/ (02730); a
 * push the daemon cannot take now waits in spool/held/ with the reason,
 * one it refuses lies in spool/refused/ with the reason, both folders
 * the daemon's own (0700). Nothing is removed before its job, or its
 * refusal, is recorded.
 */
#ifndef RUNNER_SPOOL_H
#define RUNNER_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* HOME/SPOOL_DIR: where the hook hands pushes over (hook.h) */
#define SPOOL_DIR "spool"
#define SPOOL_HELD "held"
#define SPOOL_REFUSED "refused"
/* What the daemon did with an entry of the runner's own hook, for the
 * hook that waits for it (see spool_answer_write). */
#define SPOOL_TAKEN "taken"
/* How long an answer is kept: its hook read it at once, or gave up. */
#define SPOOL_TAKEN_KEEP_MS (60 * 1000)
/* A held or refused entry's reason is NAME + this, beside it. */
#define SPOOL_WHY ".why"
/* the group a held push's fix makes for the repositories of a writer
 * whose primary group others share */
#define SPOOL_REPO_GROUP "runner-repos"
/* How often the daemon tries the held pushes again. */
#define SPOOL_HELD_RETRY_MS 5000

/*
 * The daemon's own folder `name` below the spool (open as `sfd`), made
 * 0700 if missing and `make`; opened without following a link and
 * accepted only if fstat shows it the caller's and closed to others.
 * Returns its descriptor (the caller closes it), or -1.
 */
int spool_own_dir(int sfd, const char *name, int make);

/*
 * The daemon's own folder `name` below the spool (open as `sfd`, at
 * `dir`), as status, doctor and the hook read it, whoever they run as:
 * opened without following a link and accepted only if fstat shows it
 * the spool's owner's (or root's) and closed to others. Its descriptor, or -1: then
 * *why and *fix (the caller's) say what is there instead, or are NULL if
 * nothing is.
 */
int spool_daemon_dir(int sfd, const char *dir, const char *name, char **why,
    char **fix);

/*
 * Record beside entry `name` of the daemon's folder `dfd` why it is
 * there (`reason`) and what fixes it (`fix`, may be NULL): NAME.why, made
 * anew and renamed into place. 0 or -1.
 */
int spool_why_write(int dfd, const char *name, const char *reason,
    const char *fix);
/* Read it back: *reason and *fix (either may be NULL) are the caller's. */
int spool_why_read(int dfd, const char *name, char **reason, char **fix);
/* Remove it, with the entry it explained. */
void spool_why_remove(int dfd, const char *name);

/*
 * The daemon's answer about entry `name` of the spool (open as `sfd`),
 * for a hook of the runner's own that waits for it (hook.c): `text` in
 * taken/NAME, which the hook reads once it is closed, and which stays
 * until spool_answers_expire (a file less to remove inside the push).
 * Not synced: a lost one loses nothing (the hook then syncs the entry
 * and leaves it to the daemon). 0 or -1.
 */
int spool_answer_write(int sfd, const char *name, const char *text);
/* Remove the answers of taken/ older than SPOOL_TAKEN_KEEP_MS. */
void spool_answers_expire(int sfd);

/* Is `name` a push the hook handed over (NAME.push, not a temporary)? */
int spool_is_entry(const char *name);

/* Pushes held for one reason. */
struct spool_reason {
	char *reason, *fix;
	size_t count;
	int64_t oldest_ms;	/* wall clock: when the oldest was pushed */
};

struct spool_summary {
	size_t waiting;		/* in spool/: the daemon has not looked yet */
	int64_t waiting_oldest_ms;
	size_t held;		/* in spool/held/: it cannot take them now */
	int64_t held_oldest_ms;
	struct spool_reason *reasons;
	size_t nreasons;
	size_t refused;		/* in spool/refused/, for the operator */
	char *error;		/* the spool could not be read, or NULL */
	char *error_fix;	/* what fixes it, if root or its user may */
};

/*
 * What the spool holds, read from its folders (the daemon need not run).
 * A spool this user cannot read leaves the counts 0 and says why in
 * out->error. Release with spool_summary_release().
 */
void spool_summary_load(const char *home, struct spool_summary *out);
void spool_summary_release(struct spool_summary *s);

/* Has this process group `gid` (its own or a supplementary one)? */
int spool_in_group(gid_t gid);
/* Is `gid`, user `uid`'s primary group, its own (a user private group):
 * no other user has it as theirs, so that the files it holds are that
 * user's? (Members it was given, the daemon's user among them, make
 * their files with their own groups.) Only such a group is given to the
 * daemon's user by a held push's fix; for a writer whose group others
 * share (a "users" of all), the fix makes SPOOL_REPO_GROUP. */
int spool_group_private(gid_t gid, uid_t uid);

/*
 * Why this process cannot hand a push to HOME's spool, and the fix, or
 * NULL if it can (it may write and enter the folder). Caller frees both.
 */
char *spool_unwritable(const char *home, char **fix);

#endif
