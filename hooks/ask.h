/*
 * The hook's questions to the daemon. A hook whose user may not read the
 * store (the git server's: git, www-data, gitolite3) still learns what
 * became of its push by asking the daemon over HOME/ask.sock, a stream
 * socket that the home's group may connect to (0660), beside the wake-up
 * datagram socket. Both ends of the protocol are here; the daemon's
 * answers are made in runner/worker/answer.c, by a child per connection.
 *
 * A request is lines of text, ended by "end"; the first message carries
 * a descriptor of the repository's folder (SCM_RIGHTS), which the daemon
 * compares with the path the request names: a client only learns about
 * the repositories its user owns (as the spool takes a push from its
 * owner only).
 *
 *   runner-ask 1
 *   repo /srv/git/app.git          (with the descriptor)
 *   spool NAME                     post-receive: the spool entry it wrote
 *   check                          pre-receive: judge the release tags
 *   notes                          the git notes that wait for it
 *   wait                           -o ci.wait: follow the jobs
 *   update OLD NEW REF             each ref update of the push
 *   end
 *
 * The daemon answers lines: "say TEXT" (a line for the pusher), "wait MS"
 * (how long it follows the jobs), for a check "need OID" (send me this object) then "send", to which the client
 * answers "object OID TYPE SIZE" and SIZE bytes for each, then "end", and
 * the daemon "refuse REF REASON" or "accept REF" for each release tag;
 * for notes "note COMMIT LENGTH" and LENGTH bytes of its text, each;
 * "error TEXT" when it refuses the request, "busy" when it answers too
 * many already; "done" last. A connection closed before "done" is a
 * daemon that went away.
 */
#ifndef RUNNER_ASK_H
#define RUNNER_ASK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sbuf;

#define ASK_SOCKET "ask.sock"
#define ASK_HELLO "runner-ask 1"
/* One line either way; a ref name (HOOK_REF_MAX) fits with room. */
#define ASK_LINE_MAX 16384
/* All of a request's lines: the updates of a push the hook read. */
#define ASK_REQUEST_MAX (4 * 1024 * 1024 + 65536)
/* A release tag's object, and how many release tags one push may have
 * checked. */
#define ASK_OBJECT_MAX (1024 * 1024)
#define ASK_TAGS_MAX 64
/* All the tag objects of one push: an object that would pass it is sent
 * as too large (size -1), as one larger than ASK_OBJECT_MAX is. */
#define ASK_OBJECTS_MAX (4 * 1024 * 1024)
/* A client sends its request (and its objects) within this. */
#define ASK_REQUEST_MS 5000
/* The daemon takes a spooled push within this, or says it has not. */
#define ASK_TAKE_MS 5000
/* A client that reads nothing for this long is let go. */
#define ASK_SEND_MS 30000
/* The daemon answers at most this many clients at once, this many of
 * one user, and takes at most this many new connections a second, this
 * many of one user (one user's flood leaves room for the others). */
#define ASK_MAX 64
#define ASK_PER_UID 48
#define ASK_RATE 32
#define ASK_RATE_PER_UID 24
/* The client waits this much longer than the daemon said it follows. */
#define ASK_SLACK_MS 30000

/* The reader of the descriptor a client watches went away (the push was
 * interrupted). */
#define ASK_GONE (-20)

struct ask_conn {
	int fd;
	int passed;		/* the descriptor that came with it, or -1 */
	char *buf;		/* read; from `skip` on not yet taken */
	size_t len, cap, skip;
	size_t total;		/* read in all */
	size_t max;		/* at most this many in all; 0: no bound */
};

/* The daemon's socket: HOME/ask.sock bound anew, non-blocking and
 * listening, the home's group allowed to connect. A descriptor, or -1
 * with error_set(). */
int ask_bind(const char *home);
void ask_unbind(const char *home, int fd);

/*
 * Connect to the daemon of `home` and send the request's first lines,
 * with a descriptor of repository `repo` (its folder, opened for
 * reading). Refuses a socket whose owner is not the home's owner or root.
 * 0, or a negative code with error_set() (ERR_NOTFOUND: no daemon).
 */
int ask_connect(const char *home, const char *repo, struct ask_conn *c);
/* The daemon's end of a connection it accepted as `fd`. */
void ask_init(struct ask_conn *c, int fd, size_t max);
void ask_close(struct ask_conn *c);

/* Write all of `buf` by `deadline` (mono ms). 0 or a negative code. */
int ask_write(struct ask_conn *c, const void *buf, size_t len,
    int64_t deadline);
int ask_printf(struct ask_conn *c, int64_t deadline, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * The next line, without its newline, NUL-terminated, into *line (valid
 * until the next read). ERR_TIMEOUT by `deadline`, ERR_INVALID for a
 * line over ASK_LINE_MAX or a request over the bound, -1 when the other
 * end closed; with watch >= 0, ASK_GONE as soon as that descriptor's
 * reader is gone (a pipe's write end).
 */
int ask_read_line(struct ask_conn *c, int64_t deadline, int watch,
    char **line);
/* Exactly `n` bytes into `out`, by `deadline`. */
int ask_read_bytes(struct ask_conn *c, size_t n, int64_t deadline,
    struct sbuf *out);
/* Has the other end gone (closed, or reset)? Without reading. */
int ask_hung_up(const struct ask_conn *c);

struct notebox_note;
/*
 * The git notes that wait for repository `repo` (notebox.h), asked of
 * the daemon of `home` ("notes", answered by "note COMMIT LENGTH" and
 * the text, each): a hook of another user than the runner's writes them
 * as the repository's owner, and only the owner is told. 0 and *out
 * (notebox_notes_free()), or an error (ERR_NOTFOUND: no daemon).
 */
int ask_notes(const char *home, const char *repo, struct notebox_note **out,
    size_t *n);

#endif
