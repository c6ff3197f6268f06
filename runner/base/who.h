/*
 * Who caused a job. The kernel says which unix user pushed or ran a
 * command: the real uid of the hook or the command, or, for a push handed
 * over through the spool, the owner of its spool file as the daemon sees
 * it. The transport says at most what that user vouches for: the gitolite
 * user (GL_USER), the web server's user (REMOTE_USER), the ssh key sshd
 * let in (SSH_USER_AUTH, with ExposeAuthInfo). A user pushing to a path
 * sets all of those as it likes, so they are kept as that user's claim,
 * beside its name and never instead of it. Every string is cleaned: it
 * is shown in terminals, on the web page and in notifications.
 */
#ifndef RUNNER_WHO_H
#define RUNNER_WHO_H

#include <stddef.h>
#include <sys/types.h>

/* How the name was known. */
#define WHO_UNIX "unix"		/* the unix user itself (a push by path) */
#define WHO_SSH "ssh"		/* the unix user, let in by sshd */
#define WHO_HTTP "http"		/* the web server's REMOTE_USER */
#define WHO_GITOLITE "gitolite"	/* gitolite's GL_USER */
#define WHO_CLI "cli"		/* a command: runner run, deploy, retry */
#define WHO_SCHEDULE "schedule"	/* a schedule of runner.yml */
#define WHO_WEB "web page"	/* the web page: the name its proxy
				 * authenticated, as the proxy's user */

/* The longest name kept, in bytes; longer ones are cut. */
#define WHO_NAME_MAX 100

struct who {
	char *by;	/* the name: the transport's claim, or the unix user */
	char *via;	/* one of WHO_* */
	char *key;	/* the ssh key's fingerprint ("SHA256:..."), or NULL */
	char *as;	/* the unix user the kernel reported */
};
#define WHO_INIT { NULL, NULL, NULL, NULL }

void who_release(struct who *w);

/* The name of user `uid` (cleaned), or "uid N" if it has none. The
 * caller frees it. */
char *who_user_name(uid_t uid);

/*
 * A name as it may be recorded: at most WHO_NAME_MAX bytes of printable
 * ASCII without spaces, quotes, brackets, commas, colons or semicolons
 * (each other byte becomes '?'), so that no name can pass for the words
 * around it ("bob (gitolite, as git)"). NULL for NULL or "". The caller
 * frees it.
 */
char *who_clean(const char *s);

/* Text for display (a signer's user id): at most `max` bytes of valid
 * UTF-8 without control or bidirectional formatting characters (each
 * becomes '?'). NULL for NULL or "". The caller frees it. */
char *who_clean_text(const char *s, size_t max);

/*
 * The fingerprint of an ssh public key given as "TYPE BASE64" (a line of
 * authorized_keys or of SSH_USER_AUTH after "publickey "), as ssh-keygen
 * -l prints it: "SHA256:" and the unpadded base64 of the SHA-256 of the
 * key's blob. NULL if it is not such a key. The caller frees it.
 */
char *who_key_fingerprint(const char *line);

/* Is `s` a fingerprint as who_key_fingerprint() makes them? */
int who_key_valid(const char *s);

/*
 * Who pushes, for the hook running as real uid `uid`: its unix user, and
 * what the environment claims (GL_USER, REMOTE_USER, the ssh key of the
 * file SSH_USER_AUTH names, which must be a regular file `uid` owns).
 */
void who_from_env(struct who *w, uid_t uid);

/* A command's user: `by` (cli_user_name: sudo's user for root) as the
 * real uid's unix user. */
void who_cli(struct who *w, const char *by);

struct sbuf;
/* The claims of `w` (not its unix user, which the reader takes from the
 * kernel) as "via=...\nby=...\nkey=...\n", for a spool entry. */
void who_encode(const struct who *w, struct sbuf *out);
/*
 * The claims of a spool entry that `owner` wrote: what who_encode()
 * made, cleaned again (another user wrote it) and judged as who_from_env()
 * would: only a gitolite or http name is taken as a claim; anything else
 * is `owner`'s own name. Old entries (no claims) are `owner`'s pushes.
 */
void who_decode(const char *s, uid_t owner, struct who *out);

/*
 * One line for people: "alice", "git (ssh, key SHA256:...)", "bob
 * (gitolite, as gitolite3)", "alice (by hand, as root)". The unix user
 * is named whenever the name is not its own. Nothing when there is no
 * name (a job older than the audit trail).
 */
void who_describe(struct sbuf *sb, const char *by, const char *via,
    const char *key, const char *as);

#endif
