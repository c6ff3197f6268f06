/*
 * runner-bench: times the runner's own code paths for tests/bench/run,
 * each against nothing but itself (the driver measures the baselines).
 *   runner-bench checkout REPO COMMIT DEST    libgit2 checkout as a job does
 *   runner-bench checkout-over REPO COMMIT DEST   the same over a workspace
 *                                             a worker kept (its files ours)
 *   runner-bench archive ROOT OUT GLOB...     artifacts as a stage does
 *   runner-bench stage LOG SCRIPT             a stage's output into its log
 *   runner-bench spawn-loop HOME REPO SLOT N  `true` started N times as a
 *                                             build stage of REPO on worker
 *                                             SLOT starts (sandbox, user,
 *                                             limits), one after the other
 * Each prints the elapsed milliseconds of that work alone.
 *   runner-bench lines LOG N                  N lines appended to a log
 *   runner-bench chunks HOME JOB N            N lines sent through the
 *                                             store as a build host sends
 *                                             stage 0 of job JOB's log
 * These two write "line K" every 100 ms and print "K USEC" for each: the
 * wall clock once it is written (committed), for a live log's latency.
 *   runner-bench provenance-sign HOME JOB N   build JOB's provenance signed
 *                                             and written N times, as its
 *                                             worker does (after one round
 *                                             that records the key)
 *   runner-bench provenance-check HOME JOB N  build JOB's provenance
 *                                             checked N times, as a
 *                                             deployment does
 * These two print the milliseconds of each round, a line each.
 *   runner-bench statements [sqlite]          every statement of the store
 *                                             that PostgreSQL prepares, in
 *                                             its dialect (or SQLite's):
 *                                             "N\tTEXT\0" each
 *                                             (tests/e2e/t0975 explains
 *                                             their plans)
 *   runner-bench session-settings HOME       plan_cache_mode and jit of
 *                                             a session of HOME's store
 *                                             (PostgreSQL), as the runner
 *                                             opens it
 */
#include "artifact.h"
#include "build.h"
#include "checkout.h"
#include "chunks.h"
#include "config.h"
#include "home.h"
#include "jobs.h"
#include "provenance.h"
#include "run.h"
#include "stage.h"
#include "step.h"
#include "store.h"
#include "store_int.h"
#include "home_store.h"
#include "util.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "line K" N times, 100 ms apart, to a file (fd >= 0) or the store. */
static int lines(int fd, struct store *st, int64_t job, int n)
{
	for (int k = 1; k <= n; k++) {
		char line[32];
		int len = snprintf(line, sizeof(line), "line %d\n", k);
		if (fd >= 0 ? write_all(fd, line, (size_t)len) < 0 :
		    store_log_append(st, job, 0, k - 1, line, (size_t)len) < 0) {
			fprintf(stderr, "runner-bench: %s\n", fd >= 0 ?
			    "cannot write the log" : error_last());
			return 1;
		}
		printf("%d %lld\n", k, usec());
		fflush(stdout);
		poll(NULL, 0, 100);
	}
	return 0;
}

/*
 * The confined spawn limit's loop: `true` started n times as a build
 * stage of `repo` starts on worker `slot` of the daemon of `home` (its
 * build user, sandbox, filter, limits: step_spawn_loop), in a workspace
 * of its own. Prints the elapsed milliseconds of the loop.
 */
static int spawn_loop(const char *home, const char *repo, int slot, int n)
{
	struct config *conf = NULL;
	struct store *st = NULL;
	struct run_user base = { 0 }, own = { 0 };
	char *ws = xasprintf("%s/work/.bench-%d", home, slot);
	char zero[41];
	struct job job = { .id = 1, .kind = KIND_BUILD, .repo = (char *)repo,
	    .ref = "refs/heads/develop", .commit = zero };
	struct job_ctx ctx = { .home = home, .slot = slot, .event_fd = -1 };
	int64_t t0;
	int rc = 1;

	memset(zero, '0', 40);
	zero[40] = '\0';
	if (config_load(home, &conf) < 0 ||
	    open_home(home, STORE_OPEN, &st) < 0)
		goto out;
	ctx.conf = conf;
	ctx.store = st;
	/* the users a worker runs builds as (worker.c's build_user) */
	if (geteuid() == 0 && !conf->trust_repositories) {
		if (run_user_lookup(conf->build_user, &base) < 0 ||
		    home_worker_lookup(conf->build_user, slot, &own) < 0)
			goto out;
		ctx.user = &base;
		ctx.build_user = &own;
	}
	rm_rf(ws);
	if (mkdir(ws, 0700) < 0) {
		error_set(-1, "cannot make '%s': %s", ws, strerror(errno));
		goto out;
	}
	if (job_give(ws, ctx.build_user) < 0)
		goto out;
	struct job_step step = { .name = "bench", .what = "stage",
	    .script = "true", .cwd = ws, .user = ctx.build_user,
	    .isolate = config_isolate(conf, repo),
	    .network = config_network(conf, repo) };
	t0 = mono_ms();
	if (step_spawn_loop(&ctx, &job, &step, n) < 0)
		goto out;
	printf("%lld\n", (long long)(mono_ms() - t0));
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "runner-bench: %s\n", error_last());
	rm_rf(ws);
	free(ws);
	run_user_release(&base);
	run_user_release(&own);
	store_close(st);
	config_free(conf);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: runner-bench checkout REPO COMMIT DEST\n"
	    "       runner-bench checkout-over REPO COMMIT DEST\n"
	    "       runner-bench archive ROOT OUT GLOB...\n"
	    "       runner-bench stage LOG SCRIPT\n"
	    "       runner-bench spawn-loop HOME REPO SLOT N\n"
	    "       runner-bench provenance-sign HOME JOB N\n"
	    "       runner-bench provenance-check HOME JOB N\n"
	    "       runner-bench lines LOG N\n"
	    "       runner-bench chunks HOME JOB N\n"
	    "       runner-bench statements [sqlite]\n"
	    "       runner-bench session-settings HOME\n");
	return 2;
}

/* The provenance of build `id` of `home` signed (sign) or checked, `n`
 * times, each round's milliseconds printed. */
static int provenance(const char *home, int64_t id, int n, int sign)
{
	struct config *conf = NULL;
	struct store *st = NULL;
	struct job *j = NULL;
	char **names = NULL, **logs = NULL;
	int rc = 1;

	if (config_load(home, &conf) < 0 || open_home(home, STORE_OPEN,
	    &st) < 0 || store_job_get(st, id, &j) < 0)
		goto out;
	if (!j->nartifacts) {
		error_set(-1, "job #%lld has no artifact", (long long)id);
		goto out;
	}
	struct job_ctx ctx = { .home = home, .conf = conf, .store = st,
	    .slot = -1 };
	names = xcalloc(j->nstages + 1, sizeof(*names));
	logs = xcalloc(j->nstages + 1, sizeof(*logs));
	for (size_t i = 0; i < j->nstages; i++) {
		names[i] = j->stages[i].name;
		logs[i] = j->stages[i].log_path;
	}
	for (int k = sign ? -1 : 0; k < n; k++) {
		struct sbuf report = SBUF_INIT;
		char *out = NULL;
		struct timespec a, b;
		int r;
		clock_gettime(CLOCK_MONOTONIC, &a);
		r = sign ? build_provenance(&ctx, j, j->artifacts[0].sha256,
		    names, logs, j->nstages, j->artifacts[0].path,
		    j->artifacts[0].sha256, &out) :
		    prov_check_build(st, home, j, j->artifacts[0].path, &report,
		    &out);
		clock_gettime(CLOCK_MONOTONIC, &b);
		free(out);
		sbuf_release(&report);
		if (r < 0)
			goto out;
		if (k >= 0)
			printf("%.3f\n", (double)(b.tv_sec - a.tv_sec) * 1e3 +
			    (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	}
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "runner-bench: %s\n", error_last());
	free(names);
	free(logs);
	job_free(j);
	store_close(st);
	config_free(conf);
	return rc;
}

/* The statements a PostgreSQL store prepares on its connections (the
 * others, BEGIN and the like, run as text), as the server gets them; or
 * as SQLite gets them (`lite`), every one but the PRAGMAs. */
static int statements(int lite)
{
	for (int q = 0; q < STMT_SLOTS; q++) {
		const char *sql = store_statement(q);
		char *t;
		if (!sql || !strncmp(sql, "PRAGMA", 6))
			continue;
		if (lite) {
			printf("%d\t%s%c", q, sql, '\0');
			continue;
		}
		if (pg_sql(sql, &t) < 0) {
			fprintf(stderr, "runner-bench: statement %d: %s\n", q,
			    error_last());
			return 1;
		}
		if (strncmp(t, "BEGIN", 5) && strncmp(t, "COMMIT", 6) &&
		    strncmp(t, "ROLLBACK", 8) && strncmp(t, "SET ", 4))
			printf("%d\t%s%c", q, t, '\0');
		free(t);
	}
	return fflush(stdout) ? 1 : 0;
}

/* What the store's session set (pg.c's configure): a statement of the
 * helper's own, in a slot no statement of the store has. */
static int session_settings(const char *home)
{
	static sql_table own = { [STMT_SLOTS - 1] = "SELECT "
	    "current_setting('plan_cache_mode') || ' ' || "
	    "current_setting('jit')" };
	struct store *s = NULL;
	struct stmt *st;
	int rc = 1;

	if (store_statement(STMT_SLOTS - 1)) {
		fprintf(stderr, "runner-bench: the store has a statement %d\n",
		    STMT_SLOTS - 1);
		return 1;
	}
	if (open_home(home, STORE_OPEN, &s) < 0 ||
	    !(st = stmt(s, STMT_SLOTS - 1, own)))
		goto out;
	if (step(st) == STEP_ROW) {
		printf("%s\n", col_str(st, 0));
		rc = 0;
	}
	reset(st);
out:
	if (rc)
		fprintf(stderr, "runner-bench: %s\n", error_last());
	store_close(s);
	return rc;
}

int main(int argc, char **argv)
{
	int64_t t0;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "statements") && (argc == 2 || (argc == 3 &&
	    !strcmp(argv[2], "sqlite"))))
		return statements(argc == 3);
	if (!strcmp(argv[1], "session-settings") && argc == 3)
		return session_settings(argv[2]);
	if (!strncmp(argv[1], "provenance-", 11) && argc == 5)
		return provenance(argv[2], atoll(argv[3]), atoi(argv[4]),
		    !strcmp(argv[1], "provenance-sign"));
	if (!strcmp(argv[1], "spawn-loop") && argc == 6)
		return spawn_loop(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	if (!strcmp(argv[1], "lines") && argc == 4) {
		int fd = open(argv[2], O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0) {
			perror(argv[2]);
			return 1;
		}
		return lines(fd, NULL, 0, atoi(argv[3]));
	}
	if (!strcmp(argv[1], "chunks") && argc == 5) {
		struct store *st;
		int rc;
		if (open_home(argv[2], STORE_OPEN, &st) < 0) {
			fprintf(stderr, "runner-bench: %s\n", error_last());
			return 1;
		}
		rc = lines(-1, st, atoll(argv[3]), atoi(argv[4]));
		store_close(st);
		return rc;
	}
	if ((!strcmp(argv[1], "checkout") || !strcmp(argv[1],
	    "checkout-over")) && argc == 5) {
		struct source *src;
		checkout_global_init();		/* as a worker does */
		t0 = mono_ms();
		if (source_open(argv[2], argv[3], &src) < 0 ||
		    (argv[1][8] ? source_checkout_over(src, argv[4], geteuid(),
		    (gid_t)-1, NULL) :
		    source_checkout(src, argv[4])) < 0) {
			fprintf(stderr, "runner-bench: %s\n", error_last());
			return 1;
		}
		source_free(src);
	} else if (!strcmp(argv[1], "archive") && argc >= 5) {
		struct artifact_writer *w;
		char sha[65];
		int64_t size, files;
		size_t matched;
		t0 = mono_ms();
		if (artifact_open(argv[3], &w) < 0 ||
		    artifact_add(w, argv[2], argv + 4, (size_t)(argc - 4),
		    &matched) < 0 || artifact_close(w, sha, &size, &files) < 0) {
			fprintf(stderr, "runner-bench: %s\n", error_last());
			return 1;
		}
	} else if (!strcmp(argv[1], "stage") && argc == 4) {
		static char *envp[] = { "PATH=/usr/bin:/bin", NULL };
		struct stage_result r;
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
		struct stage_spec spec = {
			.script = argv[3], .cwd = ".", .envp = envp, .log_fd = fd,
			.kill_grace_ms = 1000, .event_fd = -1,
		};
		t0 = mono_ms();
		if (fd < 0 || stage_run(&spec, &r) < 0 || r.exit_code) {
			fprintf(stderr, "runner-bench: stage failed\n");
			return 1;
		}
		close(fd);
	} else {
		return usage();
	}
	printf("%lld\n", (long long)(mono_ms() - t0));
	return 0;
}
