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
    "store, where that host sends its log every second.\n";

struct follower {
	struct store *s;
	int64_t id;
	int raw;
	int headers;
	int follow;
};

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
 * Look the stage up again; returns 1 while it may still write. A job that
 * ended (or went back to the queue) ends the follow of its stage.
 */
static int still_running(struct follower *f, int idx)
{
	struct job *j = NULL;
	int running = 0;

	if (store_job_get(f->s, f->id, &j) < 0)
		return 0;
	for (size_t i = 0; i < j->nstages; i++)
		if (j->stages[i].idx == idx)
			running = !stage_done(j->stages[i].state);
	if (j->state != JOB_RUNNING)
		running = 0;
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
	int fd = -1, ino = -1, sent = 0, seq = 0;
	off_t off = 0;

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
		if (!follow || !still_running(f, st->idx))
			break;
		/* Woken by writes; the timeout notices the stage ending
		 * without output, and a log that does not exist yet (or
		 * comes through the store, every second). */
		struct pollfd p = { ino, POLLIN, 0 };
		if (poll(&p, 1, fd >= 0 && ino >= 0 ? 500 : sent ? 250 :
		    100) > 0) {
			char ev[4096];
			while (read(ino, ev, sizeof(ev)) > 0)
				;
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
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	f.s = cs.store;
	if (store_job_get(f.s, f.id, &j) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	/* Following a job that has not started: wait for its stages. */
	while (follow && !j->nstages && (j->state == JOB_QUEUED ||
	    j->state == JOB_RUNNING)) {
		poll(NULL, 0, 100);
		job_free(j);
		j = NULL;
		if (store_job_get(f.s, f.id, &j) < 0) {
			cli_error("%s", error_last());
			goto out;
		}
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
	job_free(j);
	cli_close(&cs);
	return rc;
}
