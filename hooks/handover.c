/*
 * The hook and the daemon: the datagram that wakes it, what a push is told
 * when it could not be, and, on PostgreSQL with the daemon serving, the
 * push handed to the daemon as a spool file and its answer awaited,
 * relayed to the pusher while git still listens.
 */
#include "hook.h"
#include "hook_int.h"
#include "ask.h"
#include "config.h"
#include "follow.h"
#include "run.h"
#include "store.h"
#include "jobs.h"
#include "util.h"
#include "spool.h"
#include "wake.h"
#include "who.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Say that the daemon could not be woken, if so. */
void hook_wake(const char *home, FILE *msg)
{
	int e = wake_send(home, WAKE_JOBS);

	if (e)
		fprintf(msg, "runner: warning: could not wake the daemon: %s; it "
		    "finds the push within a second\n", strerror(e));
}

/*
 * The push could not be handed over: say so plainly, loud enough to be
 * seen among git's lines, with the fix, and never that it will be found.
 */
void hook_lost_push(const char *home, FILE *msg)
{
	char *cause = xstrdup(error_last()), *fix = NULL;
	char *why = spool_unwritable(home, &fix);

	fprintf(msg, "runner: ERROR: NOTHING WAS QUEUED for this push: %s\n"
	    "runner: the push itself is stored, but the runner will never see "
	    "it.\n", why ? why : cause);
	if (fix)
		fprintf(msg, "runner: fix: %s; then push again (or run 'runner "
		    "run' on the runner's host).\n", fix);
	else
		fprintf(msg, "runner: push again once that is fixed (or run "
		    "'runner run' on the runner's host).\n");
	free(cause);
	free(why);
	free(fix);
}


/* The parent of `pid` as /proc says, or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64];
	struct sbuf buf = SBUF_INIT;
	const char *p;
	pid_t pp = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	/* "pid (comm) state ppid ...": the name may hold anything */
	if (read_file(path, 4096, &buf) == 0 && (p = strrchr(buf.buf, ')')) &&
	    p[1] == ' ' && p[2] && p[3] == ' ')
		pp = (pid_t)strtol(p + 4, NULL, 10);
	sbuf_release(&buf);
	return pp;
}

void hook_lineage_init(struct lineage *l)
{
	pid_t pid = getppid();

	l->n = 0;
	while (l->n < LINEAGE_MAX && pid > 1) {
		pid_t pp = parent_of(pid);
		if (pp < 0)
			break;
		l->pid[l->n] = pid;
		l->ppid[l->n++] = pp;
		pid = pp;
	}
}

/* Has a process that started the hook gone, or been handed to another
 * parent (its own ended)? */
static int lineage_broken(const struct lineage *l)
{
	for (int i = 0; i < l->n; i++)
		if (parent_of(l->pid[i]) != l->ppid[i])
			return 1;
	return 0;
}

/* Has the reader of `msg` gone (the push interrupted)? A pipe's write
 * end reports it without a write; the pusher's session ending says it
 * where git keeps the pipe open. */
static int gone(FILE *msg, const struct lineage *l)
{
	struct pollfd p = { fileno(msg), POLLOUT, 0 };

	return (poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP))) ||
	    (l && lineage_broken(l));
}


int hook_file_line(struct say *s, const char *text)
{
	struct hook_say *h = s->arg;

	fprintf(h->msg, "%s\n", text);
	return fflush(h->msg) == EOF || ferror(h->msg) ? -1 : 0;
}

int hook_file_gone(struct say *s)
{
	struct hook_say *h = s->arg;

	return gone(h->msg, &h->lineage);
}

/* A line the daemon said, for the push's output: shown as text, never
 * as a terminal's escape. */
static int relay(FILE *msg, const char *text)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_add_display(&sb, text, strlen(text));
	fprintf(msg, "%s\n", sb.buf);
	sbuf_release(&sb);
	return fflush(msg) == EOF || ferror(msg) ? -1 : 0;
}

/*
 * Ask the daemon what became of the spool entry `entry` that holds the
 * `np` updates `p` of repository `repo`, and say its answer: the jobs it
 * queued (with links), or why it holds the push; with `wait` it then
 * follows them as for the runner's own user (ask.h). A daemon that is not
 * there, busy or silent is said in one line, at once or within the
 * bounds of ask.h: the push is handed over whatever it answers. A push
 * interrupted (its output closed) stops the asking, never a job.
 */
static void ask_daemon(const char *home, const char *repo,
    const char *entry, const struct push *p, size_t np, int wait,
    FILE *msg)
{
	struct ask_conn c;
	struct sbuf req = SBUF_INIT;
	int64_t deadline = mono_ms() + ASK_TAKE_MS + ASK_SLACK_MS;
	int error, done = 0;
	struct lineage lineage;
	char *line;

	/* a closed output (the push interrupted) is an error to see, not a
	 * signal to die of */
	signal(SIGPIPE, SIG_IGN);
	hook_lineage_init(&lineage);
	if ((error = ask_connect(home, repo, &c)) < 0) {
		fprintf(msg, "runner: %s: %s: it queues the push when it %s%s\n",
		    error == ERR_NOTFOUND ? "the runner's daemon is not running" :
		    "cannot ask the runner's daemon", error == ERR_NOTFOUND ?
		    "no job number yet" : error_last(), error == ERR_NOTFOUND ?
		    "starts" : "looks (within a second)", wait ?
		    "; ci.wait cannot follow it" : "");
		return;
	}
	sbuf_addf(&req, "spool %s\n%s", entry, wait ? "wait\n" : "");
	for (size_t i = 0; i < np; i++)
		sbuf_addf(&req, "update %s %s %s\n", p[i].old, p[i].new, p[i].ref);
	sbuf_adds(&req, "end\n");
	error = ask_write(&c, req.buf, req.len, mono_ms() + ASK_REQUEST_MS);
	sbuf_release(&req);
	while (error == 0 && !done) {
		/* a second at a time: the pusher may have hung up */
		error = ask_read_line(&c, deadline_min(deadline, mono_ms() + 1000),
		    fileno(msg), &line);
		if (error == ERR_TIMEOUT && mono_ms() < deadline) {
			error = lineage_broken(&lineage) ? error_set(ASK_GONE,
			    "the pusher hung up") : 0;
			continue;
		}
		if (error < 0)
			break;
		if (!strncmp(line, "say ", 4)) {
			if (relay(msg, line + 4) < 0)
				error = ASK_GONE;
		} else if (!strncmp(line, "wait ", 5)) {
			/* it follows the jobs this long: the answer is bounded */
			long long ms = strtoll(line + 5, NULL, 10);
			if (ms > 0 && ms < 7LL * 24 * 3600 * 1000)
				deadline = mono_ms() + ms + ASK_SLACK_MS;
		} else if (!strcmp(line, "done")) {
			done = 1;
		} else if (!strcmp(line, "busy")) {
			fprintf(msg, "runner: the runner's daemon answers too many "
			    "pushes at the moment: no job number; the push is "
			    "handed over and queued all the same\n");
			done = 1;
		} else if (!strncmp(line, "error ", 6)) {
			char *said = xasprintf("runner: warning: the runner's daemon "
			    "did not answer: %s; the push is handed over", line + 6);
			relay(msg, said);
			free(said);
			done = 1;
		}
	}
	if (!done && error != ASK_GONE)
		fprintf(msg, "runner: warning: the runner's daemon stopped "
		    "answering (%s); the push is handed over, and its jobs go on\n",
		    error_last());
	fflush(msg);
	ask_close(&c);
}

/*
 * The hook of a user who may not write the store (the git server's user,
 * when the runner's is another): it hands every branch and tag update to
 * the spool, which install-hook made writable for it, and the daemon
 * matches them against runner.yml, which that user cannot read; then it
 * asks the daemon for the jobs (ask_daemon).
 */
int hook_hand_over(const char *home, const char *repo,
    const struct hook_update *updates, size_t n, const char *vars,
    const struct who *who, int wait, FILE *msg)
{
	struct push *p = xcalloc(n ? n : 1, sizeof(*p));
	size_t np = 0;
	int error = 0;
	char *entry = NULL;

	for (size_t i = 0; i < n; i++)
		if (!hook_zero_id(updates[i].new) &&
		    (!strncmp(updates[i].ref, "refs/heads/", 11) ||
		    !strncmp(updates[i].ref, "refs/tags/", 10)))
			p[np++] = (struct push){ repo, updates[i].ref,
			    updates[i].old, updates[i].new, NULL, NULL, vars, NULL,
			    who };
	if (np && (error = hook_spool(home, p, np, 1, &entry)) == ERR_NOSPACE)
		fprintf(msg, "runner: error: %s: the runner's disk is full; "
		    "NOTHING WAS QUEUED for this push: push again once there is "
		    "room (or run 'runner run' on the runner's host)\n",
		    error_last());
	else if (np && error < 0)
		hook_lost_push(home, msg);
	else if (np)
		fprintf(msg, "runner: handed %zu update%s to the runner\n", np,
		    np == 1 ? "" : "s");
	fflush(msg);
	/* the daemon is woken only for what it can find */
	if (np && error == 0) {
		hook_wake(home, msg);
		ask_daemon(home, repo, entry, p, np, wait, msg);
	}
	free(entry);
	free(p);
	return error < 0 ? error : (int)np;
}

/*
 * The daemon's answer about spool entry `entry` (spool/taken/ENTRY,
 * spool_answer_write), waited for until `deadline` (mono ms): the text,
 * or NULL. The folder is the daemon's own; read as its user or as root,
 * without following a link.
 *
 * Looked for at short intervals, not by inotify: the kernel releases an
 * inotify instance that has delivered an event only after a grace period
 * of its own, and the hook's exit (or close) waits for it, 8 to 17 ms
 * measured, more than the daemon takes to answer (about 5 ms: its
 * transaction on its kept connection). A look is two opens; the first
 * ones, every half millisecond, cover the daemon's usual answer, and the
 * interval grows to 20 ms for a daemon that is busy.
 */
static char *await_answer(const char *home, const char *entry,
    int64_t deadline)
{
	char *spool = xasprintf("%s/%s", home, SPOOL_DIR);
	struct sbuf text = SBUF_INIT;
	long step_us = 500;
	int64_t start = mono_ms();
	int got = 0, tfd = -1, foreign = 0;

	for (;;) {
		int fd = -1;
		struct stat st;
		/* the daemon's own folder: another member of the hook's group
		 * may have made one of that name first, with answers in it;
		 * one not made yet (a daemon that has not looked at the
		 * spool) is looked for again */
		if (tfd < 0) {
			int sfd = open(spool, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			char *why = NULL, *fix = NULL;
			if (sfd >= 0) {
				tfd = spool_daemon_dir(sfd, spool, SPOOL_TAKEN,
				    &why, &fix);
				close(sfd);
			}
			/* someone else's: no answer can come through it */
			foreign = why != NULL;
			free(why);
			free(fix);
		}
		if (tfd >= 0)
			fd = openat(tfd, entry, O_RDONLY | O_NOFOLLOW |
			    O_NONBLOCK | O_CLOEXEC);
		/* empty or without its last newline: being written */
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    read_fd(fd, entry, 2 * HOOK_MAX_INPUT, &text) == 0 &&
		    text.len && text.buf[text.len - 1] == '\n')
			got = 1;
		else
			sbuf_reset(&text);
		if (fd >= 0)
			close(fd);
		int64_t left = deadline - mono_ms();
		if (got || foreign || left <= 0)
			break;
		if (mono_ms() - start >= 10 && step_us < 20000)
			step_us = step_us * 3 / 2 < 20000 ? step_us * 3 / 2 : 20000;
		long us = left * 1000 < step_us ? (long)left * 1000 : step_us;
		struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
		nanosleep(&ts, NULL);
	}
	if (tfd >= 0)
		close(tfd);
	free(spool);
	if (!got)
		sbuf_release(&text);
	return got ? sbuf_detach(&text) : NULL;
}

/* The spool's entry `entry`, if it is still there, on disk: the file
 * and its name. */
static int sync_entry(const char *home, const char *entry)
{
	char *dir = xasprintf("%s/%s", home, SPOOL_DIR);
	int sfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int fd = sfd >= 0 ? openat(sfd, entry, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC) : -1, error = 0;

	if ((fd < 0 && errno != ENOENT) || (fd >= 0 && (fsync(fd) < 0 ||
	    fsync(sfd) < 0)))
		error = error_set(errno == ENOSPC ? ERR_NOSPACE : -1, "cannot "
		    "sync '%s/%s': %s", dir, entry, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	free(dir);
	return error;
}

/* Is the daemon serving this home? It holds a lock on its pid file. */
int hook_daemon_serving(const char *home)
{
	char *path = xasprintf("%s/runner.pid", home);
	int fd = open(path, O_RDONLY | O_CLOEXEC), serving = 0;

	if (fd >= 0) {
		serving = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		close(fd);
	}
	free(path);
	return serving;
}

/*
 * A PostgreSQL store, and the daemon serving: the hook does not connect
 * to the server (loading the client library and connecting cost more
 * than a whole push does with SQLite). It writes the pushes to the
 * spool, unsynced, and wakes the daemon, which queues them at once on
 * the connection it keeps and answers (spool_answer_write): the jobs it
 * queued, or why not. Once it answered with jobs, they are in the store,
 * and the push says them as with SQLite. Without that answer (the store
 * down, the daemon busy past HOOK_TAKE_MS) the entry is synced, stays
 * for the daemon, and the push says so. 1 when handed over; 0 when the
 * spool cannot be written: the caller queues the pushes itself.
 */
int hook_hand_to_daemon(const char *home, const char *url,
    const struct config *conf, const struct push *p, size_t np,
    int wait_for, struct hook_say *hs)
{
	FILE *msg = hs->msg;
	char *entry = NULL, *answer = NULL, *why = NULL;
	int64_t *ids = NULL;
	size_t nids = 0;

	if (hook_spool(home, p, np, 0, &entry) < 0 || !entry) {
		error_clear();
		return 0;
	}
	hook_wake(home, msg);
	answer = await_answer(home, entry, mono_ms() + HOOK_TAKE_MS);
	ids = xcalloc(np, sizeof(*ids));
	for (char *line = answer, *nl; line && *line; line = nl + 1) {
		long long id;
		char commit[65];
		int dup, at = 0;
		if (!(nl = strchr(line, '\n')))
			break;
		*nl = '\0';
		/* "job ID DUPLICATE COMMIT REF" */
		if (sscanf(line, "job %lld %d %64s %n", &id, &dup, commit,
		    &at) == 3 && at > 0 && nids < np) {
			ids[nids++] = id;
			follow_say_queued(&hs->say, id, dup, line + at, commit,
			    RELEASE_ENV, conf->http.base_url);
		} else if (!strcmp(line, "none")) {
			fprintf(msg, "runner: no job for this push: runner.yml's "
			    "branches and release_tags for this repository match "
			    "none of its refs\n");
		} else if (!strncmp(line, "held ", 5)) {
			fprintf(msg, "runner: NOTHING IS QUEUED YET for this push: "
			    "the runner cannot take it now: %s\n", line + 5);
			if (nl[1] && strchr(nl + 1, '\n') != nl + 1)
				fprintf(msg, "runner: it waits in the runner's spool "
				    "and is queued by itself once that is fixed; "
				    "the fix, on the runner's host: %.*s\n",
				    (int)strcspn(nl + 1, "\n"), nl + 1);
			break;
		} else if (!strncmp(line, "refused ", 8)) {
			fprintf(msg, "runner: NOTHING WAS QUEUED for this push: the "
			    "runner refused it: %s\n", line + 8);
			break;
		} else if (!strncmp(line, "error ", 6)) {
			why = xstrdup(line + 6);
			break;
		}
	}
	if (!nids && (!answer || why)) {
		/* the daemon has not queued it: it must be on disk */
		if (sync_entry(home, entry) < 0) {
			fprintf(msg, "runner: warning: %s\n", error_last());
			hook_lost_push(home, msg);
		} else if (why) {
			fprintf(msg, "runner: warning: %s; the push is saved in "
			    "%s/%s and is queued once the store answers\n", why,
			    home, SPOOL_DIR);
		} else {
			fprintf(msg, "runner: the runner's daemon has not queued "
			    "the push yet (it is busy): it is saved in %s/%s and "
			    "queued as soon as it can\n", home, SPOOL_DIR);
		}
	}
	fflush(msg);
	if (wait_for && !nids) {
		fprintf(msg, "runner: ci.wait cannot follow it: no job number "
		    "yet\n");
	} else if (wait_for) {
		struct store *store = NULL;
		if (store_open(home, url, STORE_OPEN, &store) < 0)
			fprintf(msg, "runner: ci.wait cannot follow the jobs: %s\n",
			    error_last());
		else
			follow_jobs(store, ids, nids, conf->wait_timeout_ms,
			    conf->http.base_url, 1, &hs->say);
		store_close(store);
	}
	free(ids);
	free(why);
	free(answer);
	free(entry);
	return 1;
}
