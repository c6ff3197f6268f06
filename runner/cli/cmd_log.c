/*
 * runner log JOB [STAGE] [-f]: print a job's stage logs, or follow them
 * live until the stage (or the whole job) ends.
 */
#include "cli.h"
#include "store.h"
#include "chunks.h"
#include "jobs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner log [--home DIR] [-f] [--raw] JOB [STAGE]\n"
    "\n"
    "Print the log of STAGE of JOB, or of every stage in order. With -f,\n"
    "keep printing as output arrives until the stage (without STAGE: the\n"
    "job) ends. Control characters and invalid UTF-8 are shown escaped\n"
    "unless --raw is given; the stored log keeps the raw bytes. A stage\n"
    "that ran on a build host sharing only the store is read from the\n"
    "store, where that host sends its log every second. While the store\n"
    "cannot be read, -f says why and goes on when it can again.\n";

/* How long opening the store may take while following: a server gone
 * is said within a second. */
#define FOLLOW_CONNECT_MS 700

struct follower {
	struct store *s;
	int64_t id;
	int raw;
	int headers;
	int follow;
	int watching;		/* the server tells of chunks of logs */
	int chunk_came;		/* of the stage followed */
	int idx;
	char *said;		/* the store's error, said on stderr */
};

/* The store cannot be read (`why`), or can again (NULL): said once. */
static void store_said(struct follower *f, const char *why)
{
	if (why ? f->said && !strcmp(f->said, why) : !f->said)
		return;
	if (why)
		fprintf(stderr, "runner: %s; following again when the store "
		    "answers\n", why);
	else
		fprintf(stderr, "runner: the store answers again\n");
	free(f->said);
	f->said = why ? xstrdup(why) : NULL;
}

static void chunk_came(int64_t id, int idx, void *arg)
{
	struct follower *f = arg;

	if (id == f->id && idx == f->idx)
		f->chunk_came = 1;
}

static void emit(const struct follower *f, const char *buf, size_t n)
{
	struct sbuf sb = SBUF_INIT;

	if (f->raw) {
		fwrite(buf, 1, n, stdout);
		return;
	}
	sbuf_add_display(&sb, buf, n);
	fwrite(sb.buf, 1, sb.len, stdout);
	sbuf_release(&sb);
}

/* Copy what the file has past *off to stdout. */
static void copy_new(const struct follower *f, int fd, off_t *off)
{
	char buf[65536];
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), *off)) > 0) {
		emit(f, buf, (size_t)n);
		*off += n;
	}
	fflush(stdout);
}

static int stage_done(enum step_state state)
{
	return state != STEP_RUNNING && state != STEP_PENDING;
}

/*
 * Look the stage up again; returns 1 while it may still write, 0 when it
 * ended (a job that ended or went back to the queue ends the follow of
 * its stage, and so does a job removed), < 0 when the store cannot say.
 */
static int still_running(struct follower *f, int idx)
{
	struct job *j = NULL;
	int running, rc;

	if ((rc = store_alive(f->s)) < 0 ||
	    (rc = store_job_get(f->s, f->id, &j)) < 0)
		return rc == ERR_NOTFOUND ? 0 : rc;
	running = j->state == JOB_RUNNING &&
	    (rc = job_stage_state(j, idx)) >= 0 && !stage_done(rc);
	job_free(j);
	return running;
}

/*
 * What a host that shares only the store sent of the log: from chunk
 * *seq on. Returns 1 if there was any so far (the log is the store's).
 */
static int copy_sent(const struct follower *f, int idx, int *seq)
{
	struct sbuf sb = SBUF_INIT;
	int n;

	if (store_is_sqlite(f->s))
		return 0;
	n = store_log_read(f->s, f->id, idx, *seq, &sb, seq);
	if (sb.len)
		emit(f, sb.buf, sb.len);
	fflush(stdout);
	sbuf_release(&sb);
	return n > 0 || *seq > 0;
}

static int show_stage(struct follower *f, const struct stage_rec *st,
    int follow)
{
	int fd = -1, ino = -1, sent = 0, seq = 0, running;
	off_t off = 0;

	f->idx = st->idx;
	if (f->headers)
		printf("==> %s (%s) <==\n", st->name, step_state_name(st->state));
	fflush(stdout);
	for (;;) {
		/* the stage ran on a host that sends its log through the
		 * store, or here (or on a host that shares this one's files) */
		if (fd < 0 && (sent = copy_sent(f, st->idx, &seq)))
			;
		else if (fd < 0) {
			fd = open(st->log_path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && follow) {
				ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
				if (ino >= 0)
					inotify_add_watch(ino, st->log_path,
					    IN_MODIFY | IN_CLOSE_WRITE);
			}
		}
		if (fd >= 0)
			copy_new(f, fd, &off);
		if (!follow || (running = still_running(f, st->idx)) == 0)
			break;
		store_said(f, running < 0 ? error_last() : NULL);
		error_clear();
		/* Woken by writes, or by the server's word that a chunk
		 * came; the timeout notices the stage ending without
		 * output, a log that does not exist yet, and a store that
		 * answers again. */
		struct pollfd p[2] = { { ino, POLLIN, 0 },
			{ f->watching ? store_fd(f->s) : -1, POLLIN, 0 } };
		f->chunk_came = 0;
		if (poll(p, 2, running < 0 ? 250 : fd >= 0 && ino >= 0 ? 500 :
		    sent ? (p[1].fd >= 0 ? 1000 : 250) : 100) > 0) {
			char ev[4096];
			while (p[0].revents && read(ino, ev, sizeof(ev)) > 0)
				;
			if (p[1].revents &&
			    store_log_heard(f->s, chunk_came, f) < 0)
				error_clear();	/* opened again next time */
		}
	}
	if (fd >= 0)
		copy_new(f, fd, &off);
	else if (sent)
		copy_sent(f, st->idx, &seq);
	if (fd < 0 && !sent && !follow && stage_done(st->state) &&
	    st->state != STEP_SKIPPED)
		printf("(no log: never written, or removed by runner gc)\n");
	if (fd >= 0)
		close(fd);
	if (ino >= 0)
		close(ino);
	return 0;
}

int cmd_log(int argc, char **argv)
{
	const char *home_opt = NULL, *stage = NULL;
	struct follower f = { 0 };
	struct cli_session cs = { 0 };
	struct job *j = NULL;
	int follow, rc;

	const struct opt opts[] = {
		OPT_BOOL('f', "follow", &f.follow,
		    "follow the log while the job runs"),
		OPT_BOOL(0, "raw", &f.raw,
		    "print the log as written, control characters and all"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
		return rc;
	follow = f.follow;
	rc = EXIT_FAIL;
	if (optind == argc || argc - optind > 2)
		return cli_usage(usage);
	if ((f.id = cli_job_id(argv[optind])) < 0) {
		cli_error("'%s' is not a job number", argv[optind]);
		return EXIT_USAGE;
	}
	if (optind + 1 < argc)
		stage = argv[optind + 1];
	if (follow)
		store_connect_limit(FOLLOW_CONNECT_MS);
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	f.s = cs.store;
	if (store_job_get(f.s, f.id, &j) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	/* PostgreSQL: woken when a chunk of a log a host sends arrives */
	f.watching = follow && store_log_watch(f.s) >= 0;
	error_clear();
	/* Following a job that has not started: wait for its stages. */
	while (follow && !j->nstages && (j->state == JOB_QUEUED ||
	    j->state == JOB_RUNNING)) {
		struct job *again = NULL;
		int got;
		poll(NULL, 0, 100);
		if ((got = store_alive(f.s)) < 0 ||
		    (got = store_job_get(f.s, f.id, &again)) < 0) {
			if (got == ERR_NOTFOUND) {
				cli_error("%s", error_last());
				goto out;
			}
			store_said(&f, error_last());
			error_clear();
			continue;
		}
		store_said(&f, NULL);
		job_free(j);
		j = again;
	}
	f.headers = !stage;
	rc = EXIT_OK;
	int found = 0;
	for (size_t i = 0; i < j->nstages; i++) {
		if (stage && strcmp(stage, j->stages[i].name))
			continue;
		found = 1;
		if (!stage && j->stages[i].state == STEP_SKIPPED)
			continue;
		show_stage(&f, &j->stages[i], follow);
	}
	if (stage && !found) {
		struct sbuf names = SBUF_INIT;
		for (size_t i = 0; i < j->nstages; i++)
			sbuf_addf(&names, "%s%s", i ? ", " : "", j->stages[i].name);
		rc = cli_error("job #%lld has no stage '%s'%s%s",
		    (long long)f.id, stage, j->nstages ? " (it has: " : "",
		    j->nstages ? names.buf : "");
		if (j->nstages)
			fputs(")\n", stderr);
		sbuf_release(&names);
	} else if (!j->nstages) {
		printf("job #%lld has no stages%s%s\n", (long long)f.id,
		    j->error ? ": " : "", j->error ? j->error : "");
	}
out:
	free(f.said);
	job_free(j);
	cli_close(&cs);
	return rc;
}
