/*
 * Unit tests of the store on a real SQLite file in a temporary home, or,
 * given "pg", on a real PostgreSQL server (tests/helpers/pg.sh run): a
 * schema of its own for each test, named by the home's runner.yml.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* gcc -fanalyzer (tests/analyze.sh): cmocka leaves a failed assertion by
 * longjmp from a function not declared so, and the analyzer follows the
 * paths past it (a NULL the assertion refused, a value it never read). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wanalyzer-null-dereference"
#pragma GCC diagnostic ignored "-Wanalyzer-possible-null-argument"
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "store.h"
#include "store_int.h"
#include "admin.h"
#include "audit.h"
#include "chunks.h"
#include "envs.h"
#include "home_store.h"
#include "hosts.h"
#include "outbox.h"
#include "repos.h"
#include "util.h"
#include "who.h"

#define C1 "1111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222"
#define C3 "3333333333333333333333333333333333333333"
#define C4 "4444444444444444444444444444444444444444"
#define C5 "5555555555555555555555555555555555555555"
#define Z  "0000000000000000000000000000000000000000"

struct fx {
	char home[64];
	struct store *s;
};

/* States by name, so that the assertions read as the store writes them. */
#define JOB(name) ((enum job_state)job_state_parse(name))
#define STEP(name) ((enum step_state)step_state_parse(name))

static const char *pg_helper;	/* pg.sh, when the tests are on PostgreSQL */

/* runner.yml naming a schema of its own on the test's server. */
static int use_postgresql(const char *home)
{
	char *cmd = xasprintf("bash '%s' schema \"$RUNNER_TEST_PG\"",
	    pg_helper);
	char *path = xasprintf("%s/runner.yml", home);
	char url[4096];
	FILE *p = popen(cmd, "r"), *f;
	int ok = p && fgets(url, sizeof(url), p) != NULL;

	if (p && pclose(p) != 0)
		ok = 0;
	if (ok && (f = fopen(path, "w"))) {
		url[strcspn(url, "\n")] = '\0';
		fprintf(f, "store: '%s'\n", url);
		ok = fclose(f) == 0;
	} else
		ok = 0;
	free(cmd);
	free(path);
	return ok ? 0 : -1;
}

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));

	strcpy(fx->home, "/tmp/runner-store-XXXXXX");
	if (!mkdtemp(fx->home))
		return -1;
	if (pg_helper && use_postgresql(fx->home) < 0)
		return -1;
	if (open_home(fx->home, STORE_CREATE, &fx->s) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	store_close(fx->s);
	rm_rf(fx->home);
	free(fx);
	return 0;
}

static int64_t push(struct store *s, const char *ref, const char *old,
    const char *new, int *dup)
{
	struct push p = { "/srv/git/app.git", ref, old, new, NULL, NULL, NULL,
	    NULL, NULL };
	struct enqueued e;

	int rc = store_enqueue(s, &p, 1, &e);

	if (rc < 0)
		fprintf(stderr, "%s\n", error_last());
	assert_int_equal(rc, 0);
	if (dup)
		*dup = e.duplicate;
	return e.id;
}

static void test_enqueue_dedup(void **state)
{
	struct fx *fx = *state;
	int dup;

	int64_t a = push(fx->s, "refs/heads/develop", Z, C1, &dup);
	assert_int_equal(dup, 0);
	int64_t b = push(fx->s, "refs/heads/develop", Z, C1, &dup);
	assert_int_equal(dup, 1);
	assert_int_equal(a, b);
	int64_t c = push(fx->s, "refs/heads/develop", C1, C2, &dup);
	assert_int_equal(dup, 0);
	assert_true(c > a);
}

/*
 * The hook's connection (STORE_ENQUEUE), opened for one push: the same
 * jobs, keys and who pushed them as any other; on PostgreSQL its
 * statements run unnamed (one round trip each), none left prepared.
 */
static void test_enqueue_oneshot(void **state)
{
	struct fx *fx = *state;
	struct who gl = { "bob", WHO_GITOLITE, "SHA256:k", "gitolite3" };
	struct who other = { "eve", WHO_HTTP, NULL, "www-data" };
	struct push p[2] = {
		{ "/srv/git/app.git", "refs/heads/develop", Z, C1, NULL, NULL,
		    "A=1\n", NULL, &gl },
		{ "/srv/git/app.git", "refs/tags/v1", Z, C2, "production", "v1",
		    NULL, NULL, &gl },
	};
	struct enqueued e[2], again[2];
	struct store *hook = NULL;
	struct job *j = NULL;
	int64_t first = push(fx->s, "refs/heads/main", Z, C3, NULL);

	assert_int_equal(open_home(fx->home, STORE_ENQUEUE, &hook), 0);
	assert_int_equal(store_enqueue(hook, p, 2, e), 0);
	assert_int_equal(e[0].duplicate, 0);
	assert_int_equal(e[1].duplicate, 0);
	assert_true(e[0].id > first && e[1].id > e[0].id);
	/* the same push again: the same jobs, and who pushed them first */
	p[0].who = p[1].who = &other;
	assert_int_equal(store_enqueue(hook, p, 2, again), 0);
	assert_int_equal(again[0].duplicate, 1);
	assert_int_equal(again[0].id, e[0].id);
	assert_int_equal(again[1].id, e[1].id);
	if (hook->pg) {
		struct sbuf n = SBUF_INIT;
		assert_int_equal(pg_value_of(hook, "SELECT count(*) FROM "
		    "pg_prepared_statements", "count", &n), 1);
		assert_string_equal(n.buf, "0");
		sbuf_release(&n);
	}
	store_close(hook);
	assert_int_equal(store_job_get(fx->s, e[0].id, &j), 0);
	assert_string_equal(j->pushed_by, "bob");
	assert_string_equal(j->pushed_via, "gitolite");
	assert_string_equal(j->pushed_key, "SHA256:k");
	assert_string_equal(j->pushed_as, "gitolite3");
	assert_string_equal(j->variables, "A=1\n");
	assert_string_equal(job_state_name(j->state), "queued");
	job_free(j);
	assert_int_equal(store_job_get(fx->s, e[1].id, &j), 0);
	assert_int_equal(j->kind, KIND_DEPLOY);
	assert_string_equal(j->env, "production");
	assert_string_equal(j->tag, "v1");
	assert_string_equal(j->pushed_as, "gitolite3");
	job_free(j);
}

static void test_claim_order_and_supersede(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;

	push(fx->s, "refs/heads/develop", Z, C1, NULL);
	push(fx->s, "refs/heads/feature", Z, C2, NULL);
	int64_t newest = push(fx->s, "refs/heads/develop", C1, C3, NULL);

	/* without supersede: strictly oldest first */
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, 1);
	assert_string_equal(job_state_name(j->state), "running");
	assert_int_equal(j->attempt, 1);
	job_free(j);

	/* with supersede: nothing older on develop is left queued anyway;
	 * feature is next, then develop's newest */
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 1,
	    CLAIM_ANY, NULL, &j), 0);
	assert_string_equal(j->ref, "refs/heads/feature");
	job_free(j);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 1,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, newest);
	job_free(j);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 1,
	    CLAIM_ANY, NULL, &j), ERR_NOTFOUND);
}

static void test_supersede_skips_old(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;

	int64_t old = push(fx->s, "refs/heads/develop", Z, C1, NULL);
	int64_t mid = push(fx->s, "refs/heads/develop", C1, C2, NULL);
	int64_t newest = push(fx->s, "refs/heads/develop", C2, C3, NULL);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 1,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, newest);
	job_free(j);
	assert_int_equal(store_job_get(fx->s, old, &j), 0);
	assert_string_equal(job_state_name(j->state), "superseded");
	job_free(j);
	assert_int_equal(store_job_get(fx->s, mid, &j), 0);
	assert_string_equal(job_state_name(j->state), "superseded");
	job_free(j);
}

static void test_stages_and_end(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;
	char *names[] = { "unit", "lint", "build" };
	char *logs[] = { "/l/0", "/l/1", "/l/2" };

	int64_t id = push(fx->s, "refs/heads/develop", Z, C1, NULL);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 1,
	    CLAIM_ANY, NULL, &j), 0);
	job_free(j);
	assert_int_equal(store_stages_init(fx->s, id, NULL, names, logs, 3), 0);
	assert_int_equal(store_stage_start(fx->s, id, 0, 4242, 0), 0);
	assert_int_equal(store_job_get(fx->s, id, &j), 0);
	assert_int_equal(job_stage_state(j, 0), STEP("running"));
	assert_int_equal(job_stage_state(j, 1), STEP("pending"));
	/* a stage the store does not list, the job running (its record
	 * lost with a server that crashed): running until the job ends */
	assert_int_equal(job_stage_state(j, 7), STEP("running"));
	job_free(j);
	assert_int_equal(store_stage_end(fx->s, id, 0, STEP("failed"), 2,
	    "stage 'unit' failed with exit code 2"), 0);
	assert_int_equal(store_job_end(fx->s, id, JOB("failed"), "boom"), 0);
	assert_int_equal(store_job_get(fx->s, id, &j), 0);
	assert_string_equal(job_state_name(j->state), "failed");
	assert_string_equal(j->error, "boom");
	assert_int_equal(j->nstages, 3);
	assert_string_equal(step_state_name(j->stages[0].state), "failed");
	assert_int_equal(j->stages[0].exit_code, 2);
	assert_string_equal(step_state_name(j->stages[1].state), "skipped");
	assert_string_equal(step_state_name(j->stages[2].state), "skipped");
	assert_int_equal(j->stages[2].exit_code, -1);
	assert_int_equal(job_stage_state(j, 7), -1);
	job_free(j);
	/* a finished job cannot be ended again */
	assert_int_equal(store_job_end(fx->s, id, JOB("passed"), NULL), 0);
	assert_int_equal(store_job_get(fx->s, id, &j), 0);
	assert_string_equal(job_state_name(j->state), "failed");
	job_free(j);
}

static void test_recover(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;
	char *names[] = { "unit" };
	char *logs[] = { "/l/0" };
	pid_t *pgids;
	size_t n;

	int64_t a = push(fx->s, "refs/heads/a", Z, C1, NULL);
	int64_t b = push(fx->s, "refs/heads/b", Z, C1, NULL);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 1,
	    CLAIM_ANY, NULL, &j), 0);
	job_free(j);
	assert_int_equal(store_claim(fx->s, 200, "h1", "", 30000, 1,
	    CLAIM_ANY, NULL, &j), 0);
	job_free(j);
	assert_int_equal(store_stages_init(fx->s, a, NULL, names, logs, 1), 0);
	assert_int_equal(store_stage_start(fx->s, a, 0, 777, 0), 0);
	/* killed between recording its artifact and ending the job */
	assert_int_equal(store_artifact_add(fx->s, a, "/a/1.tar.zst", 10,
	    "00", 1, NULL), 0);

	/* worker 200 died: only its job goes back */
	assert_int_equal(store_recover(fx->s, 200, "h1", &pgids, &n), 0);
	assert_int_equal(n, 0);
	free(pgids);
	assert_int_equal(store_job_get(fx->s, b, &j), 0);
	assert_string_equal(job_state_name(j->state), "queued");
	assert_int_equal(j->attempt, 1);
	job_free(j);

	/* the daemon died: everything running goes back, pgids reported */
	assert_int_equal(store_recover(fx->s, 0, "h1", &pgids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pgids[0], 777);
	free(pgids);
	assert_int_equal(store_job_get(fx->s, a, &j), 0);
	assert_string_equal(job_state_name(j->state), "queued");
	assert_int_equal(j->nstages, 0);
	assert_int_equal(j->nartifacts, 0);	/* the re-run records its own */
	job_free(j);

	/* attempt count is kept across the re-run */
	assert_int_equal(store_claim(fx->s, 300, "h1", "", 30000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, a);
	assert_int_equal(j->attempt, 2);
	job_free(j);
}

/*
 * The job state machine: a final state has no way out, a queued job can
 * only start or end unrun, and job_move() refuses an illegal move before
 * any SQL: its statement here is not SQL at all, and is never prepared,
 * while a legal move with it fails preparing it.
 */
static void test_illegal_move_refused(void **state)
{
	struct fx *fx = *state;
	enum { SLOT = STMT_SLOTS - 1 };
	static sql_table bogus = { [SLOT] = "THIS IS NOT SQL" };
	int changed = -1;

	for (int to = 0; to < JOB_STATES; to++)
		for (int from = 0; from < JOB_STATES; from++)
			if (job_state_final((enum job_state)from))
				assert_false(job_state_legal((enum job_state)from,
				    (enum job_state)to));
	assert_true(job_state_legal(JOB("queued"), JOB("running")));
	assert_true(job_state_legal(JOB("running"), JOB("queued")));
	assert_false(job_state_legal(JOB("queued"), JOB("passed")));
	assert_false(job_state_legal(JOB("running"), JOB("superseded")));
	assert_false(job_state_legal(JOB("queued"), JOB("queued")));
	assert_false(job_state_legal((enum job_state)JOB_STATES, JOB("queued")));
	assert_false(job_state_legal((enum job_state)-1, JOB("queued")));

	assert_null(fx->s->stmts[SLOT]);
	assert_int_equal(job_move(fx->s, SLOT, bogus, JOB("passed"),
	    JOB("running"), NO_ARGS, &changed), ERR_INVALID);
	assert_int_equal(changed, 0);
	assert_non_null(strstr(error_last(), "cannot go from passed to "
	    "running"));
	assert_null(fx->s->stmts[SLOT]);	/* nothing was prepared */
	error_clear();
	/* the claim's own way in refuses the same */
	struct stmt *st = (struct stmt *)1;
	assert_int_equal(job_move_stmt(fx->s, SLOT, bogus, JOB("queued"),
	    JOB("passed"), NO_ARGS, &st), ERR_INVALID);
	assert_null(st);
	assert_null(fx->s->stmts[SLOT]);
	error_clear();
	/* the control: a legal move does reach the SQL, and fails there */
	assert_true(job_move(fx->s, SLOT, bogus, JOB("queued"), JOB("running"),
	    NO_ARGS, &changed) < 0);
	assert_null(strstr(error_last(), "cannot go from"));
	error_clear();
}

static void test_cancel_retry(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;
	int running;
	int64_t retry;
	pid_t *pids;
	size_t n;

	int64_t a = push(fx->s, "refs/heads/a", Z, C1, NULL);
	int64_t b = push(fx->s, "refs/heads/b", Z, C1, NULL);
	assert_int_equal(store_claim(fx->s, 55, "h1", "", 30000, 1,
	    CLAIM_ANY, NULL, &j), 0);
	job_free(j);
	assert_int_equal(store_cancel(fx->s, b, NULL, &running), 0);
	assert_int_equal(running, 0);
	assert_int_equal(store_cancel(fx->s, a, NULL, &running), 0);
	assert_int_equal(running, 1);
	assert_true(store_cancel_requested(fx->s, a));
	assert_int_equal(store_cancel_workers(fx->s, &pids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], 55);
	free(pids);
	assert_int_equal(store_cancel(fx->s, b, NULL, &running), ERR_INVALID);
	assert_non_null(strstr(error_last(), "already canceled"));

	struct who ops = { "ops", WHO_CLI, NULL, "root" };
	assert_int_equal(store_retry(fx->s, b, &ops, &retry), 0);
	assert_int_equal(store_job_get(fx->s, retry, &j), 0);
	assert_string_equal(job_state_name(j->state), "queued");
	assert_int_equal(j->retry_of, b);
	assert_string_equal(j->commit, C1);
	assert_string_equal(j->requested_by, "ops");
	/* who retried it caused it */
	assert_string_equal(j->pushed_by, "ops");
	assert_string_equal(j->pushed_via, WHO_CLI);
	assert_string_equal(j->pushed_as, "root");
	assert_null(j->pushed_key);
	job_free(j);
	/* a retry is queued: it is not retried; it keeps the first of the
	 * chain as what it retries */
	int64_t again;
	assert_int_equal(store_retry(fx->s, retry, NULL, &again), ERR_INVALID);
	assert_non_null(strstr(error_last(), "once it has ended"));
	assert_int_equal(store_cancel(fx->s, retry, NULL, &running), 0);
	assert_int_equal(store_retry(fx->s, retry, NULL, &again), 0);
	assert_int_equal(store_job_get(fx->s, again, &j), 0);
	assert_int_equal(j->retry_of, b);
	job_free(j);
	assert_int_equal(store_retry(fx->s, 999, NULL, &retry), ERR_NOTFOUND);
}

static void test_list(void **state)
{
	struct fx *fx = *state;
	struct job **v, *j;
	size_t n;

	for (int i = 0; i < 30; i++) {
		char ref[32];
		snprintf(ref, sizeof(ref), "refs/heads/b%d", i);
		push(fx->s, ref, Z, C1, NULL);
	}
	for (int i = 0; i < 25; i++) {
		assert_int_equal(store_claim(fx->s, 1, "h1", "", 30000, 0,
		    CLAIM_ANY, NULL, &j), 0);
		if (i < 24)
			assert_int_equal(store_job_end(fx->s, j->id, JOB("passed"),
			    NULL), 0);
		job_free(j);
	}
	/* 5 queued + 1 running + the 10 newest finished */
	assert_int_equal(store_jobs_list(fx->s, 10, &v, &n), 0);
	assert_int_equal(n, 16);
	assert_string_equal(job_state_name(v[0]->state), "running");
	assert_string_equal(job_state_name(v[15]->state), "passed");
	assert_int_equal(v[6]->id, 24);
	jobs_free(v, n);
}

static void test_reopen_keeps_data(void **state)
{
	struct fx *fx = *state;
	struct job *j;

	int64_t id = push(fx->s, "refs/heads/develop", Z, C1, NULL);
	store_close(fx->s);
	assert_int_equal(open_home(fx->home, STORE_CREATE, &fx->s), 0);
	assert_int_equal(store_job_get(fx->s, id, &j), 0);
	assert_string_equal(j->commit, C1);
	job_free(j);
}

/* Descriptors of this process open on `path`. */
static int fds_on(const char *path)
{
	char link[64], target[4096];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		n += !strcmp(target, path);
	}
	return n;
}

/* A worker's durable commits written to disk by the store's thread
 * (store_sync_behind): each is there for another connection at once,
 * store_settle waits for the disk, and closing loses none. */
static void test_sync_behind(void **state)
{
	struct fx *fx = *state;
	struct store *other = NULL;
	struct job *j = NULL;
	int64_t ids[12];

	assert_int_equal(store_relax(fx->s), 0);
	assert_int_equal(store_sync_behind(fx->s), 0);
	assert_int_equal(open_home(fx->home, STORE_OPEN, &other), 0);
	for (int i = 0; i < 12; i++) {
		char commit[41];
		snprintf(commit, sizeof(commit), "%040d", i + 1);
		ids[i] = push(fx->s, "refs/heads/develop", Z, commit, NULL);
		assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 0,
		    CLAIM_ANY, NULL, &j), 0);
		assert_int_equal(j->id, ids[i]);
		job_free(j);
		assert_int_equal(store_job_end(fx->s, ids[i], JOB("passed"),
		    NULL), 0);
		/* seen by another connection before it is settled */
		assert_int_equal(store_job_get(other, ids[i], &j), 0);
		assert_string_equal(job_state_name(j->state), "passed");
		job_free(j);
		if (i % 3 == 0)
			store_settle(fx->s);
	}
	store_settle(fx->s);
	if (store_is_sqlite(fx->s)) {
		/* SQLite's of each connection, and the thread's own */
		char *wal = xasprintf("%s/runner.db-wal", fx->home);
		assert_int_equal(fds_on(wal), 3);
		free(wal);
	}
	/* the last end handed to the thread, closed at once */
	int64_t last = push(fx->s, "refs/heads/develop", Z, C5, NULL);
	store_close(fx->s);
	fx->s = NULL;
	assert_int_equal(store_job_get(other, last, &j), 0);
	assert_string_equal(job_state_name(j->state), "queued");
	job_free(j);
	store_close(other);
	assert_int_equal(open_home(fx->home, STORE_OPEN, &fx->s), 0);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(store_job_get(fx->s, ids[i], &j), 0);
		assert_string_equal(job_state_name(j->state), "passed");
		job_free(j);
	}
}

/* A store an older runner made is brought up to date by the first
 * command that opens it, not only by init or the daemon. */
static void test_old_store_upgraded(void **state)
{
	struct fx *fx = *state;
	struct job **v = NULL;
	size_t n = 0;
	sqlite3 *db;
	char *path = xasprintf("%s/runner.db", fx->home);

	struct push other = { "/srv/a/app.git", "refs/heads/develop", Z, C2,
	    NULL, NULL, NULL, NULL, NULL };
	struct enqueued e;
	push(fx->s, "refs/heads/develop", Z, C1, NULL);
	assert_int_equal(store_enqueue(fx->s, &other, 1, &e), 0);
	store_close(fx->s);
	fx->s = NULL;
	/* as version 4 left it: no requested_by, phase, phase_ms, settings,
	 * variables */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE jobs DROP COLUMN "
	    "phase_ms; ALTER TABLE jobs DROP COLUMN phase; ALTER TABLE jobs "
	    "DROP COLUMN requested_by; ALTER TABLE jobs DROP COLUMN variables; "
	    "DROP TABLE settings; DROP INDEX jobs_lease; DROP TABLE hosts; "
	    "DROP TABLE job_needs; DROP TABLE log_chunks; "
	    "DROP TABLE artifact_chunks; DROP TABLE services; "
	    "ALTER TABLE jobs DROP COLUMN host; "
	    "ALTER TABLE jobs DROP COLUMN lease_ms; DROP TABLE repos; "
	    "DROP INDEX jobs_repo; DROP INDEX jobs_pushed_by; "
	    "DROP INDEX jobs_branches; DROP INDEX jobs_env_deploys; "
	    "ALTER TABLE jobs DROP COLUMN pushed_by; "
	    "ALTER TABLE jobs DROP COLUMN pushed_via; "
	    "ALTER TABLE jobs DROP COLUMN pushed_key; "
	    "ALTER TABLE jobs DROP COLUMN signer; "
	    "ALTER TABLE jobs DROP COLUMN pushed_as; "
	    "DROP INDEX jobs_source; DROP INDEX jobs_previous; "
	    "DROP INDEX jobs_rollback; DROP INDEX jobs_retry; "
	    "DROP INDEX events_job; "
	    "ALTER TABLE checks DROP COLUMN body; DROP TABLE approvals; "
	    "ALTER TABLE artifacts DROP COLUMN provenance; "
	    "ALTER TABLE jobs DROP COLUMN provenance; "
	    "DROP TABLE provenance_keys; "
	    "ALTER TABLE jobs DROP COLUMN canceled_by; "
	    /* its keys had char(0) between their parts */
	    "UPDATE jobs SET dedup = repo || char(0) || ref || char(0) || "
	    "old_commit || char(0) || commit_id; "
	    "PRAGMA user_version = 4", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(open_home(fx->home, STORE_OPEN, &fx->s), 0);
	assert_int_equal(store_jobs_list(fx->s, 10, &v, &n), 0);
	assert_int_equal(n, 2);
	jobs_free(v, n);
	/* the same push again is known by its key as written now */
	int dup;
	assert_int_equal(push(fx->s, "refs/heads/develop", Z, C1, &dup), 1);
	assert_int_equal(dup, 1);
	assert_int_equal(store_jobs_list(fx->s, 10, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_null(v[0]->requested_by);
	jobs_free(v, n);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), store_migrations());
	sqlite3_finalize(st);
	/* the repositories were named in the order of their first jobs */
	struct repo_name *names;
	size_t at;
	assert_int_equal(store_repo_names(fx->s, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(repo_names_find(names, n, "/srv/git/app.git", NULL,
	    &at), 0);
	assert_string_equal(names[at].name, "app");
	assert_string_equal(names[1 - at].name, "a/app");
	assert_int_equal(names[0].first + names[1].first, 0);	/* recorded */
	repo_names_free(names, n);
	/* not recorded (an older runner queued them): shown as they will be
	 * named, in the order of their first jobs */
	assert_int_equal(sqlite3_exec(db, "DELETE FROM repos", NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(store_repo_names(fx->s, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0].path, "/srv/git/app.git");
	assert_string_equal(names[0].name, "app");
	assert_int_equal(names[0].first, 1);
	assert_string_equal(names[1].name, "a/app");
	repo_names_free(names, n);
	char *name = NULL;
	assert_int_equal(store_repo_record(fx->s, "/srv/a/app.git", &name), 0);
	assert_string_equal(name, "a/app");	/* the older one first */
	free(name);
	assert_int_equal(store_repo_names(fx->s, &names, &n), 0);
	assert_int_equal(names[0].first + names[1].first, 0);
	assert_int_equal(repo_names_find(names, n, "app", NULL, &at), 0);
	assert_string_equal(names[at].path, "/srv/git/app.git");
	repo_names_free(names, n);
	sqlite3_close(db);
	free(path);
}

/* A repository's name is fixed when it is first seen: another one of the
 * same last name gets a longer one, and never renames it. */
static void test_repo_names(void **state)
{
	struct fx *fx = *state;
	static const char *const paths[] = { "/srv/a/app.git", "/srv/b/app.git",
	    "/srv/x/b/app.git", "/srv/git/zlib.git" };
	static const char *const names[] = { "app", "b/app", "x/b/app", "zlib" };
	struct repo_name *v;
	size_t n, at;
	char *name;

	assert_int_equal(store_repo_names(fx->s, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(repo_names_find(v, n, "app", NULL, &at), ERR_NOTFOUND);
	assert_non_null(strstr(error_last(), "has seen none yet"));
	for (size_t i = 0; i < 4; i++) {
		struct push p = { paths[i], "refs/heads/develop", Z, C1, NULL,
		    NULL, NULL, NULL, NULL };
		struct enqueued e;
		assert_int_equal(store_enqueue(fx->s, &p, 1, &e), 0);
	}
	/* a host that names it again finds it named */
	assert_int_equal(store_repo_record(fx->s, paths[0], &name), 0);
	assert_string_equal(name, "app");
	free(name);
	assert_int_equal(store_repo_names(fx->s, &v, &n), 0);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(repo_names_find(v, n, paths[i], NULL, &at), 0);
		assert_string_equal(v[at].name, names[i]);
		assert_int_equal(v[at].first, 0);	/* recorded */
	}
	/* --repo: the name, the path, or a suffix only one path has */
	static const struct { const char *arg, *real, *path; } finds[] = {
		{ "app", NULL, "/srv/a/app.git" },
		{ "b/app", NULL, "/srv/b/app.git" },
		{ "/srv/b/app.git", NULL, "/srv/b/app.git" },
		{ "b/app.git", "/srv/b/app.git", "/srv/b/app.git" },
		{ "a/app", NULL, "/srv/a/app.git" },
		{ "zlib.git/", NULL, "/srv/git/zlib.git" },
	};
	for (size_t i = 0; i < sizeof(finds) / sizeof(*finds); i++) {
		assert_int_equal(repo_names_find(v, n, finds[i].arg,
		    finds[i].real, &at), 0);
		assert_string_equal(v[at].path, finds[i].path);
	}
	/* never a guess */
	assert_int_equal(repo_names_find(v, n, "b/app.git", NULL, &at),
	    ERR_INVALID);
	assert_non_null(strstr(error_last(), "could be any of 2"));
	assert_int_equal(repo_names_find(v, n, "app", "/srv/b/app.git", &at),
	    ERR_INVALID);
	assert_non_null(strstr(error_last(), "give the full path"));
	assert_int_equal(repo_names_find(v, n, "nope", NULL, &at),
	    ERR_NOTFOUND);
	assert_non_null(strstr(error_last(), "no repository 'nope'; known are "));
	assert_non_null(strstr(error_last(), "'b/app' (/srv/b/app.git)"));
	repo_names_free(v, n);
	/* the process's book says the same */
	assert_int_equal(store_repo_names_load(fx->s), 0);
	name = repo_short_name(paths[1]);
	assert_string_equal(name, "b/app");
	free(name);
	name = repo_short_name("/srv/c/app.git");	/* not seen yet */
	assert_string_equal(name, "c/app");
	free(name);
	repo_names_reset();
}

/* A store that cannot be opened is named without its passwords, in
 * either place the URL may hold one. */
static void test_url_redacted(void **state)
{
	struct store *s = NULL;

	(void)state;
	setenv("RUNNER_STORE", "postgresql://ci:s3cret@127.0.0.1:1/runner?"
	    "connect_timeout=2&password=0ther&sslmode=disable", 1);
	assert_true(open_home("/nonexistent/home", STORE_OPEN, &s) < 0);
	unsetenv("RUNNER_STORE");
	assert_null(s);
	assert_non_null(strstr(error_last(), "cannot open store 'postgresql://"
	    "ci:***@127.0.0.1:1/runner?connect_timeout=2&password=***&"
	    "sslmode=disable'"));
	assert_null(strstr(error_last(), "s3cret"));
	assert_null(strstr(error_last(), "0ther"));
}

static void test_open_missing(void **state)
{
	struct store *s;

	(void)state;
	assert_int_equal(open_home("/nonexistent/home", STORE_OPEN, &s),
	    ERR_NOTFOUND);
	assert_non_null(strstr(error_last(), "runner init"));
}

/* Claim the next job and end it `state`; returns its id. */
static int64_t run_build(struct store *s, const char *ref, const char *c,
    const char *state)
{
	struct job *j = NULL;
	int64_t id = push(s, ref, Z, c, NULL);

	assert_int_equal(store_claim(s, 100, "h1", "", 30000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, id);
	job_free(j);
	assert_int_equal(store_job_end(s, id, JOB(state), NULL), 0);
	return id;
}

/* The kinds and tags of the events not routed yet, "kind=tags;..." */
static char *events_text(struct store *s)
{
	struct sbuf sb = SBUF_INIT;
	struct event *ev;
	size_t n;

	assert_int_equal(store_events_unrouted(s, 100, &ev, &n), 0);
	for (size_t i = 0; i < n; i++)
		sbuf_addf(&sb, "#%lld %s=%s;", (long long)ev[i].job_id,
		    ev[i].kind, ev[i].tags);
	events_free(ev, n);
	return sbuf_detach(&sb);
}

static void test_events_of_builds(void **state)
{
	struct fx *fx = *state;
	char *text;

	run_build(fx->s, "refs/heads/develop", C1, "passed");
	run_build(fx->s, "refs/heads/develop", C2, "failed");
	run_build(fx->s, "refs/heads/other", C2, "passed");	/* other ref */
	run_build(fx->s, "refs/heads/develop", C3, "canceled");	/* no event */
	run_build(fx->s, "refs/heads/develop", C4, "passed");	/* fixed */
	run_build(fx->s, "refs/heads/develop", C5, "error");
	text = events_text(fx->s);
	assert_string_equal(text, "#1 job_passed=job_passed;"
	    "#2 job_failed=job_failed;#3 job_passed=job_passed;"
	    "#5 job_fixed=job_fixed job_passed;#6 job_error=job_error;");
	free(text);
	/* a job that was already ended records nothing more */
	assert_int_equal(store_job_end(fx->s, 1, JOB("failed"), NULL), 0);
	text = events_text(fx->s);
	assert_int_equal(strstr(text, "#1 job_failed") == NULL, 1);
	free(text);
}

/*
 * Who caused a job is written with it: a push keeps its first pusher when
 * pushed again, a deployment its build queued gets the build's cause, one
 * by hand its own; a release records its signer.
 */
static void test_audit(void **state)
{
	struct fx *fx = *state;
	struct who gl = { "bob", WHO_GITOLITE, "SHA256:k", "gitolite3" };
	struct who other = { "eve", WHO_HTTP, NULL, "www-data" };
	struct who hand = { "ops", WHO_CLI, NULL, "root" };
	struct push p = { "/srv/git/app.git", "refs/heads/develop", Z, C1, NULL,
	    NULL, NULL, NULL, &gl };
	struct enqueued e, e2;
	struct job *j = NULL;
	struct sbuf sb = SBUF_INIT;
	int64_t d, h;

	assert_int_equal(store_enqueue(fx->s, &p, 1, &e), 0);
	p.who = &other;
	assert_int_equal(store_enqueue(fx->s, &p, 1, &e2), 0);
	assert_int_equal(e2.duplicate, 1);
	assert_int_equal(store_job_get(fx->s, e.id, &j), 0);
	assert_string_equal(j->pushed_by, "bob");
	assert_string_equal(j->pushed_via, "gitolite");
	assert_string_equal(j->pushed_key, "SHA256:k");
	assert_string_equal(j->pushed_as, "gitolite3");
	assert_null(j->signer);
	job_who_describe(&sb, j);
	assert_string_equal(sb.buf, "bob (gitolite, as gitolite3, key SHA256:k)");
	job_free(j);

	struct deploy_req r = { "/srv/git/app.git", "refs/heads/develop", C1,
	    "staging", e.id, NULL, 0, NULL, NULL };
	assert_int_equal(store_deploy_enqueue(fx->s, &r, 1, &d), 0);
	r.who = &hand;
	r.requested_by = "ops";
	assert_int_equal(store_deploy_enqueue(fx->s, &r, 1, &h), 0);
	assert_int_equal(store_job_get(fx->s, d, &j), 0);
	assert_string_equal(j->pushed_by, "bob");
	assert_string_equal(j->pushed_as, "gitolite3");
	job_free(j);
	assert_int_equal(store_job_get(fx->s, h, &j), 0);
	sbuf_reset(&sb);
	job_who_describe(&sb, j);
	assert_string_equal(sb.buf, "ops (by hand, as root)");
	job_free(j);

	assert_int_equal(store_job_signer(fx->s, h, "alice@example.com (ssh "
	    "key SHA256:x)"), 0);
	assert_int_equal(store_job_get(fx->s, h, &j), 0);
	assert_string_equal(j->signer, "alice@example.com (ssh key SHA256:x)");
	job_free(j);

	/* a job queued without a cause (older code) shows none */
	int64_t o = push(fx->s, "refs/heads/other", Z, C2, NULL);
	assert_int_equal(store_job_get(fx->s, o, &j), 0);
	assert_null(j->pushed_by);
	sbuf_reset(&sb);
	job_who_describe(&sb, j);
	assert_string_equal(sb.buf, "");
	job_free(j);
	sbuf_release(&sb);
}

/* Queue an automatic deployment of build `build` to staging. */
static int64_t auto_deploy(struct store *s, int64_t build, const char *c,
    const char *by)
{
	struct deploy_req r = { "/srv/git/app.git", "refs/heads/develop", c,
	    "staging", build, NULL, 0, by, NULL };
	int64_t id;

	assert_int_equal(store_deploy_enqueue(s, &r, 1, &id), 0);
	return id;
}

/*
 * Environments move forward only: the deployment of an older push that
 * comes after a newer one deployed is superseded, naming it; one asked
 * for by hand is not.
 */
static void test_deploys_move_forward(void **state)
{
	struct fx *fx = *state;
	int64_t a = run_build(fx->s, "refs/heads/develop", C1, "passed");
	int64_t b = run_build(fx->s, "refs/heads/develop", C2, "passed");
	struct job *j = NULL;
	char want[96];

	/* B's build finished first: its deployment serves */
	int64_t db = auto_deploy(fx->s, b, C2, NULL);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, db);
	assert_int_equal(store_deploy_end(fx->s, j, JOB("healthy"), NULL,
	    ENV_HEALTHY, j->id), 0);
	job_free(j);
	/* then A's: older, it does not deploy */
	int64_t da = auto_deploy(fx->s, a, C1, NULL);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 0,
	    CLAIM_ANY, NULL, &j), ERR_NOTFOUND);
	assert_int_equal(store_job_get(fx->s, da, &j), 0);
	assert_string_equal(job_state_name(j->state), "superseded");
	snprintf(want, sizeof(want), "superseded by deployment #%lld of a "
	    "newer push", (long long)db);
	assert_string_equal(j->error, want);
	job_free(j);
	/* two queued at once: the newer push wins, whatever the order */
	int64_t c = run_build(fx->s, "refs/heads/develop", C3, "passed");
	int64_t d = run_build(fx->s, "refs/heads/develop", C4, "passed");
	int64_t dd = auto_deploy(fx->s, d, C4, NULL);
	int64_t dc = auto_deploy(fx->s, c, C3, NULL);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, dd);
	job_free(j);
	assert_int_equal(store_job_get(fx->s, dc, &j), 0);
	assert_string_equal(job_state_name(j->state), "superseded");
	job_free(j);
	/* by hand, an older build deploys */
	int64_t dh = auto_deploy(fx->s, a, C1, "ops");
	assert_int_equal(store_job_end(fx->s, dd, JOB("healthy"), NULL), 0);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, dh);
	assert_string_equal(j->requested_by, "ops");
	job_free(j);
}

static void test_events_of_deploys(void **state)
{
	static const struct { const char *env, *state, *event; } cases[] = {
		{ "staging", "healthy", "deployed=deployed" },
		{ "staging", "failed", "deploy_failed=deploy_failed" },
		{ "production", "failed",
		    "production_failed=deploy_failed production_failed" },
		{ "production", "rolled_back",
		    "rolled_back=rolled_back deploy_failed production_failed" },
		{ "staging", "rolled_back", "rolled_back=rolled_back deploy_failed" },
		{ "production", "rejected", "rejected=rejected" },
		{ "production", "canceled", NULL },
	};
	struct fx *fx = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct deploy_req r = { "/srv/git/app.git", "refs/heads/develop",
		    C1, cases[i].env, 0, NULL, 0, NULL, NULL };
		struct job *j = NULL;
		int64_t id;
		char want[160], *text;

		assert_int_equal(store_deploy_enqueue(fx->s, &r, 1, &id), 0);
		assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 0,
		    CLAIM_ANY, NULL, &j), 0);
		assert_int_equal(store_deploy_end(fx->s, j, JOB(cases[i].state),
		    "x", ENV_UNCHANGED, 0), 0);
		job_free(j);
		text = events_text(fx->s);
		snprintf(want, sizeof(want), "#%lld %s;", (long long)id,
		    cases[i].event ? cases[i].event : "");
		if (cases[i].event)
			assert_string_equal(text, want);
		else
			assert_string_equal(text, "");
		free(text);
		assert_int_equal(store_events_drop(fx->s), 0);
	}

	/* a deploy the daemon died during ends 'interrupted', with an event */
	struct deploy_req r = { "/srv/git/app.git", "refs/heads/develop", C1,
	    "production", 0, NULL, 0, NULL, NULL };
	struct job *j = NULL;
	pid_t *pgids;
	size_t n;
	int64_t id;
	assert_int_equal(store_deploy_enqueue(fx->s, &r, 1, &id), 0);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	job_free(j);
	assert_int_equal(store_recover(fx->s, 0, "h1", &pgids, &n), 0);
	free(pgids);
	char *text = events_text(fx->s);
	char want[128];
	snprintf(want, sizeof(want), "#%lld production_failed=deploy_failed "
	    "production_failed;", (long long)id);
	assert_string_equal(text, want);
	free(text);
}

/* A host that runs no builds passes them by and takes a deployment
 * queued after them. */
static void test_deploys_only(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;

	int64_t b = push(fx->s, "refs/heads/develop", Z, C1, NULL);
	assert_int_equal(store_claim(fx->s, 100, "d1", "deploy", 5000, 0,
	    CLAIM_DEPLOYS, NULL, &j), ERR_NOTFOUND);
	int64_t d = auto_deploy(fx->s, b, C1, NULL);
	assert_int_equal(store_claim(fx->s, 100, "d1", "deploy", 5000, 0,
	    CLAIM_DEPLOYS, NULL, &j), 0);
	assert_int_equal(j->id, d);
	assert_int_equal(j->kind, KIND_DEPLOY);
	job_free(j);
	assert_int_equal(store_claim(fx->s, 101, "h1", "", 5000, 0, CLAIM_ANY, NULL,
	    &j), 0);
	assert_int_equal(j->id, b);
	job_free(j);
}

/* A lease that ends takes a build back to the queue, attempt 2 next; the
 * worker that lost it records nothing more; a deployment ends
 * 'interrupted'; a drained host claims nothing. */
static void test_leases(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;
	struct expired *x;
	pid_t *pgids;
	size_t nx, np;
	char *names[] = { "unit" }, *logs[] = { "/l/0" };

	int64_t a = push(fx->s, "refs/heads/a", Z, C1, NULL);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 5000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, a);
	assert_string_equal(j->host, "h1");
	assert_true(j->lease_ms > now_ms() + 4000);
	store_fence(fx->s, a, j->attempt, 100, "h1");
	assert_int_equal(store_stages_init(fx->s, a, NULL, names, logs, 1), 0);
	assert_int_equal(store_stage_start(fx->s, a, 0, 4242, 0), 0);
	/* renewed while held; nothing ends before the lease does */
	assert_int_equal(store_lease_renew(fx->s, a, 1, 100, "h1", 5000), 1);
	assert_int_equal(store_lease_renew(fx->s, a, 1, 101, "h1", 5000), 0);
	assert_int_equal(store_leases_expire(fx->s, 0, "h1", &x, &nx,
	    &pgids, &np), 0);
	assert_int_equal(nx, 0);
	free(pgids);
	/* a minute on, without a heartbeat: back to the queue, and this
	 * host's running stage is to be killed */
	assert_int_equal(store_leases_expire(fx->s, 60000, "h1",
	    &x, &nx, &pgids, &np), 0);
	assert_int_equal(nx, 1);
	assert_int_equal(x[0].id, a);
	assert_string_equal(x[0].host, "h1");
	assert_int_equal(np, 1);
	assert_int_equal(pgids[0], 4242);
	expired_free(x, nx);
	free(pgids);
	job_free(j);
	assert_int_equal(store_job_get(fx->s, a, &j), 0);
	assert_string_equal(job_state_name(j->state), "queued");
	assert_int_equal(j->nstages, 0);
	assert_null(j->host);
	job_free(j);
	/* the old holder's writes are refused, in a transaction or not */
	assert_int_equal(store_stage_end(fx->s, a, 0, STEP_PASSED, 0, NULL),
	    ERR_LEASE);
	assert_int_equal(store_job_end(fx->s, a, JOB_PASSED, NULL), ERR_LEASE);
	store_fence(fx->s, 0, 0, 0, NULL);
	assert_int_equal(store_lease_renew(fx->s, a, 1, 100, "h1", 5000), 0);
	/* another host runs it: attempt 2 */
	assert_int_equal(store_claim(fx->s, 200, "h2", "", 5000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, a);
	assert_int_equal(j->attempt, 2);
	assert_string_equal(j->host, "h2");
	job_free(j);
	/* the first host thawed: its fence (attempt 1) still fails */
	store_fence(fx->s, a, 1, 100, "h1");
	assert_int_equal(store_job_end(fx->s, a, JOB_PASSED, NULL), ERR_LEASE);
	store_fence(fx->s, a, 2, 200, "h2");
	assert_int_equal(store_job_end(fx->s, a, JOB_PASSED, NULL), 0);
	store_fence(fx->s, 0, 0, 0, NULL);

	/* a deployment whose lease ends is interrupted, not re-run */
	struct deploy_req r = { "/srv/git/app.git", "refs/heads/develop", C1,
	    "staging", 0, NULL, 0, NULL, NULL };
	int64_t d;
	assert_int_equal(store_deploy_enqueue(fx->s, &r, 1, &d), 0);
	assert_int_equal(store_claim(fx->s, 300, "h2", "", 5000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	assert_int_equal(j->id, d);
	job_free(j);
	assert_int_equal(store_leases_expire(fx->s, 60000, "h1",
	    &x, &nx, &pgids, &np), 0);
	assert_int_equal(nx, 1);
	assert_int_equal(x[0].deploy, 1);
	assert_int_equal(np, 0);	/* h2's stages are not h1's to kill */
	expired_free(x, nx);
	free(pgids);
	assert_int_equal(store_job_get(fx->s, d, &j), 0);
	assert_string_equal(job_state_name(j->state), "interrupted");
	job_free(j);

	/* a drained host claims nothing; hosts are listed with their jobs */
	push(fx->s, "refs/heads/b", Z, C2, NULL);
	assert_int_equal(store_host_beat(fx->s, "h1", "linux,amd64", 2,
	    1000), 0);
	assert_int_equal(store_host_drain(fx->s, "h1", 1, "alice"), 0);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 5000, 0,
	    CLAIM_ANY, NULL, &j),
	    ERR_NOTFOUND);
	assert_int_equal(store_claim(fx->s, 200, "h2", "", 5000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	int64_t b = j->id;
	job_free(j);
	struct host_rec *h;
	size_t nh;
	assert_int_equal(store_hosts(fx->s, &h, &nh), 0);
	assert_int_equal(nh, 1);	/* h2 never beat */
	assert_string_equal(h[0].name, "h1");
	assert_string_equal(h[0].labels, "linux,amd64");
	assert_int_equal(h[0].workers, 2);
	assert_int_equal(h[0].draining, 1);
	assert_string_equal(h[0].drained_by, "alice");
	assert_int_equal(h[0].nrunning, 0);
	hosts_free(h, nh);
	assert_int_equal(store_host_beat(fx->s, "h2", "", 1, 1000), 0);
	assert_int_equal(store_hosts(fx->s, &h, &nh), 0);
	assert_int_equal(nh, 2);
	assert_int_equal(h[1].nrunning, 1);
	assert_int_equal(h[1].running[0], b);
	hosts_free(h, nh);
	assert_int_equal(store_host_drain(fx->s, "h1", 0, NULL), 0);
	push(fx->s, "refs/heads/c", Z, C3, NULL);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 5000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	job_free(j);
}

static void test_outbox(void **state)
{
	struct fx *fx = *state;
	struct notification *x = NULL, v[2] = {
		{ .target = "team", .service = "slack", .event = "job_failed",
		  .body = "{\"text\":\"a\"}" },
		{ .target = "oncall", .service = "pagerduty", .event =
		  "job_failed", .action = "trigger", .dedup = "runner/app/x",
		  .body = "{}" },
	};
	struct notification **list;
	struct event *ev;
	size_t n;
	int64_t count;

	int64_t id = run_build(fx->s, "refs/heads/develop", C1, "failed");
	assert_int_equal(store_events_unrouted(fx->s, 10, &ev, &n), 0);
	assert_int_equal(n, 1);
	v[0].job_id = v[1].job_id = id;
	assert_int_equal(store_event_route(fx->s, ev[0].id, v, 2), 0);
	events_free(ev, n);
	assert_int_equal(store_events_unrouted(fx->s, 10, &ev, &n), 0);
	assert_int_equal(n, 0);
	free(ev);

	/* both due now, oldest first */
	assert_int_equal(store_notif_next(fx->s, &x), 0);
	assert_string_equal(x->target, "team");
	assert_string_equal(notif_state_name(x->state), "pending");
	assert_int_equal(x->attempts, 0);
	notif_free(x);
	/* taken to be sent: no other notifier takes it until its result
	 * or the time it was taken until; the other one is next */
	int64_t now = now_ms();
	assert_int_equal(store_notif_take(fx->s, now, now + 60000, &x), 0);
	assert_string_equal(x->target, "team");
	assert_true(x->next_ms == now + 60000);
	notif_free(x);
	assert_int_equal(store_notif_take(fx->s, now, now + 60000, &x), 0);
	assert_string_equal(x->target, "oncall");
	notif_free(x);
	assert_int_equal(store_notif_take(fx->s, now, now + 60000, &x),
	    ERR_NOTFOUND);
	assert_null(x);
	/* a notifier that died while sending: both free again after; one
	 * stopped before its attempt gives each back at once */
	struct notification *both[2];
	for (int k = 0; k < 2; k++) {
		assert_int_equal(store_notif_take(fx->s, now + 60000,
		    now + 120000, &both[k]), 0);
		assert_string_equal(both[k]->target, k ? "oncall" : "team");
	}
	for (int k = 0; k < 2; k++) {
		both[k]->next_ms = now;
		assert_int_equal(store_notif_result(fx->s, both[k]), 0);
		notif_free(both[k]);
	}
	assert_int_equal(store_notif_next(fx->s, &x), 0);
	assert_string_equal(x->target, "team");
	assert_true(x->next_ms == now);
	/* a failed attempt: due again later, so the other one comes next */
	x->state = NOTIF_PENDING;
	x->attempts = 1;
	x->status = 500;
	x->error = xstrdup("HTTP 500");
	x->next_ms = now_ms() + 60000;
	assert_int_equal(store_notif_result(fx->s, x), 0);
	notif_free(x);
	assert_int_equal(store_notif_next(fx->s, &x), 0);
	assert_string_equal(x->target, "oncall");
	x->state = NOTIF_DELIVERED;
	x->attempts = 1;
	x->done_ms = now_ms();
	assert_int_equal(store_notif_result(fx->s, x), 0);
	notif_free(x);

	char *action = store_notif_last_action(fx->s, "oncall", "runner/app/x");
	assert_string_equal(action, "trigger");
	free(action);
	assert_null(store_notif_last_action(fx->s, "oncall", "runner/app/y"));
	assert_int_equal(store_notif_count(fx->s, NOTIF_PENDING, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_notif_count(fx->s, NOTIF_DELIVERED, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_notifs_of_job(fx->s, id, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0]->error, "HTTP 500");
	assert_int_equal(list[0]->status, 500);
	assert_string_equal(notif_state_name(list[1]->state), "delivered");
	notifs_free(list, n);
	assert_int_equal(store_notifs_open(fx->s, 10, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0]->target, "team");
	notifs_free(list, n);
}

/* What a host that shares only the store sends: logs and artifacts, any
 * bytes, in order, gone with their stage or artifact. */
static void test_chunks(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;
	char *names[] = { "unit" };
	char *logs[] = { "/elsewhere/logs/1/00-unit" };
	static const char bin[] = { 'a', 0, '\xff', '\n', '\\', 'x', 0 };
	struct sbuf got = SBUF_INIT;
	char tmp[] = "/tmp/runner-chunks-XXXXXX";
	int next, fd;

	int64_t id = push(fx->s, "refs/heads/develop", Z, C1, NULL);
	assert_int_equal(store_claim(fx->s, 100, "h1", "", 30000, 1,
	    CLAIM_ANY, NULL, &j), 0);
	job_free(j);
	assert_int_equal(store_stages_init(fx->s, id, NULL, names, logs, 1), 0);
	/* nothing sent yet */
	assert_int_equal(store_log_read(fx->s, id, 0, 0, &got, &next), 0);
	assert_int_equal(next, 0);
	assert_int_equal(store_log_append(fx->s, id, 0, 0, "first\n", 6), 0);
	assert_int_equal(store_log_append(fx->s, id, 0, 1, bin, sizeof(bin)),
	    0);
	assert_int_equal(store_log_read(fx->s, id, 0, 0, &got, &next), 2);
	assert_int_equal(next, 2);
	assert_int_equal(got.len, 6 + sizeof(bin));
	assert_memory_equal(got.buf, "first\n", 6);
	assert_memory_equal(got.buf + 6, bin, sizeof(bin));
	/* from where the last read ended: only what is new */
	sbuf_reset(&got);
	assert_int_equal(store_log_append(fx->s, id, 0, 2, "more", 4), 0);
	assert_int_equal(store_log_read(fx->s, id, 0, next, &got, &next), 1);
	assert_int_equal(got.len, 4);
	assert_int_equal(next, 3);
	/* its end, from its last chunks only: whole, or the last bytes */
	sbuf_reset(&got);
	assert_int_equal(store_log_tail(fx->s, id, 0, 1 << 20, &got), 3);
	assert_int_equal(got.len, 6 + sizeof(bin) + 4);
	assert_memory_equal(got.buf + 6 + sizeof(bin), "more", 4);
	sbuf_reset(&got);
	assert_int_equal(store_log_tail(fx->s, id, 0, 5, &got), 2);
	assert_int_equal(got.len, 5);
	assert_memory_equal(got.buf, "\x00more", 5);
	sbuf_reset(&got);
	assert_int_equal(store_log_tail(fx->s, id, 1, 100, &got), 0);
	assert_int_equal(got.len, 0);

	/* an artifact of three chunks (1 MiB each), byte for byte */
	size_t size = (2 << 20) + 12345;
	char *art = xmalloc(size);
	for (size_t i = 0; i < size; i++)
		art[i] = (char)(i * 7 + i / 251);
	assert_true((fd = mkstemp(tmp)) >= 0);
	assert_int_equal(write_all(fd, art, size), 0);
	assert_int_equal(store_artifact_add(fx->s, id, "/elsewhere/1.tar.zst",
	    (int64_t)size, "00", 1, NULL), 0);
	/* none sent: the store has no copy */
	assert_int_equal(store_artifact_fetch(fx->s, id, fd), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(store_artifact_put(fx->s, id, fd), 0);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(store_artifact_fetch(fx->s, id, fd), (int64_t)size);
	sbuf_reset(&got);
	assert_int_equal(read_file(tmp, size + 1, &got), 0);
	assert_int_equal(got.len, size);
	assert_memory_equal(got.buf, art, size);
	close(fd);
	unlink(tmp);
	free(art);

	/* a new attempt starts afresh: the chunks go with the rows */
	assert_int_equal(store_stages_init(fx->s, id, NULL, names, logs, 1), 0);
	sbuf_reset(&got);
	assert_int_equal(store_log_read(fx->s, id, 0, 0, &got, &next), 0);
	sbuf_release(&got);
}

/*
 * Every statement of the store, on the engine of this run and, in the
 * PostgreSQL run, on SQLite beside it: each is prepared (PostgreSQL's
 * text made by pg_sql), then run in a transaction rolled back after it,
 * with 1 for each of its parameters, on a store that holds a few jobs
 * of every kind. Both engines must run it, or refuse it for the same
 * constraint, and give the same rows (but for the ids an INSERT made:
 * PostgreSQL's sequences do not go back with a rollback).
 */
struct outcome {
	int rc;			/* 0, 1: a constraint refused it, -1 */
	struct sbuf rows;
	char *error;
};

static void seed(struct store *s)
{
	char *names[] = { "unit", "lint" };
	char *logs[] = { "/l/0", "/l/1" };
	const struct check_rec c = { .name = "http", .status = 200,
	    .latency_ms = 5, .ok = 1, .at_ms = 1000 };
	struct job *j = NULL;

	int64_t a = run_build(s, "refs/heads/develop", C1, "passed");
	run_build(s, "refs/heads/feature", C2, "failed");
	int64_t d = auto_deploy(s, a, C1, NULL);
	assert_int_equal(store_claim(s, 100, "h1", "", 30000, 0, CLAIM_ANY,
	    NULL, &j), 0);
	assert_int_equal(j->id, d);
	assert_int_equal(store_check_add(s, d, &c), 0);
	assert_int_equal(store_deploy_end(s, j, JOB("healthy"), NULL,
	    ENV_HEALTHY, j->id), 0);
	job_free(j);
	int64_t r = push(s, "refs/heads/develop", C1, C3, NULL);
	assert_int_equal(store_claim(s, 100, "h1", "", 30000, 0, CLAIM_ANY,
	    NULL, &j), 0);
	assert_int_equal(j->id, r);
	job_free(j);
	assert_int_equal(store_stages_init(s, r, NULL, names, logs, 2), 0);
	assert_int_equal(store_stage_start(s, r, 0, 4242, 0), 0);
	assert_int_equal(store_log_append(s, r, 0, 0, "a\001b", 3), 0);
	push(s, "refs/heads/develop", C3, C4, NULL);
	assert_int_equal(store_setting_set(s, "paused", "ops"), 0);
	assert_int_equal(store_host_beat(s, "h1", "linux", 2, 30000), 0);
	/* the same times on both engines */
	assert_int_equal(exec_sql(s, "UPDATE jobs SET created_ms = 1000 + id, "
	    "started_ms = CASE WHEN started_ms IS NULL THEN NULL ELSE 2000 + id "
	    "END, finished_ms = CASE WHEN finished_ms IS NULL THEN NULL ELSE "
	    "2500 + 2 * id END, lease_ms = CASE WHEN lease_ms IS NULL THEN NULL "
	    "ELSE 9000 END, phase_ms = CASE WHEN phase_ms IS NULL THEN NULL "
	    "ELSE 2200 + id END; UPDATE stages SET started_ms = CASE WHEN started_ms "
	    "IS NULL THEN NULL ELSE 2100 END; UPDATE events SET created_ms = "
	    "3000; UPDATE settings SET updated_ms = 4000; UPDATE hosts SET "
	    "started_ms = 5000, heartbeat_ms = 6000; UPDATE repos SET "
	    "created_ms = 7000; UPDATE checks SET at_ms = 8000; UPDATE "
	    "environments SET updated_ms = 8500", "times"), 0);
}

/* A value as both engines should show it: booleans as numbers, bytes in
 * hex. */
static void add_value(struct sbuf *out, struct stmt *st, int i)
{
	const char *v = col_str(st, i);

	if (st->lite && sqlite3_column_type(st->lite, i) == SQLITE_BLOB) {
		const unsigned char *b = sqlite3_column_blob(st->lite, i);
		sbuf_adds(out, "\\x");
		for (int k = 0; k < sqlite3_column_bytes(st->lite, i); k++)
			sbuf_addf(out, "%02x", b[k]);
		return;
	}
	if (!v) {
		sbuf_adds(out, "NULL");
		return;
	}
	if (!st->lite && (!strcmp(v, "t") || !strcmp(v, "f"))) {
		sbuf_adds(out, *v == 't' ? "1" : "0");
		return;
	}
	sbuf_adds(out, v);
}

static const char *first_word(const char *sql)
{
	static char w[16];
	size_t n = strcspn(sql, " ");

	snprintf(w, sizeof(w), "%.*s", (int)(n < 15 ? n : 15), sql);
	return w;
}

static void run_statement(struct store *s, int q, struct outcome *o)
{
	const char *all[STMT_SLOTS];
	const char *verb;
	struct stmt *st;
	struct arg args[32];
	int rc, tx;

	for (int k = 0; k < STMT_SLOTS; k++)
		all[k] = store_statement(k);
	verb = first_word(all[q]);
	o->rc = 0;
	sbuf_init(&o->rows);
	o->error = NULL;
	/* a transaction's own statements are prepared, and run by every
	 * other test; a PRAGMA cannot be inside a transaction */
	tx = strcmp(verb, "PRAGMA") != 0;
	if (!strcmp(verb, "BEGIN") || !strcmp(verb, "COMMIT") ||
	    !strcmp(verb, "ROLLBACK")) {
		if (!stmt(s, q, all))
			goto failed;
		return;
	}
	if (tx && begin(s) < 0)
		goto failed;
	if (!(st = stmt(s, q, all)))
		goto failed;
	assert_true(st->nparams <= 32);
	for (int k = 0; k < st->nparams; k++)
		args[k] = arg_int(1);
	if (!(st = stmt_bound(s, q, all, args, (size_t)st->nparams)))
		goto failed;
	while ((rc = step(st)) == STEP_ROW) {
		for (int i = 0; i < col_count(st); i++) {
			if (i)
				sbuf_addch(&o->rows, '|');
			add_value(&o->rows, st, i);
		}
		sbuf_addch(&o->rows, '\n');
	}
	if (rc < 0) {
		int constraint = s->pg ? !strncmp(s->pg_state, "23", 2) :
		    (sqlite3_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT;
		db_error(s, "run");
		reset(st);
		if (!constraint)
			goto failed;
		o->rc = 1;
		sbuf_reset(&o->rows);
	}
	reset(st);
	if (!strcmp(verb, "INSERT"))	/* ids aside: how many rows */
		sbuf_reset(&o->rows);
	if (tx)
		rollback(s);
	return;
failed:
	o->rc = -1;
	o->error = xstrdup(error_last());
	if (tx)
		rollback(s);
}

static void test_every_statement(void **state)
{
	struct fx *fx = *state;
	char lite_home[64] = "/tmp/runner-store-XXXXXX";
	struct store *lite = NULL;
	int ran = 0, bad = 0;

	if (pg_helper) {	/* SQLite beside PostgreSQL */
		assert_non_null(mkdtemp(lite_home));
		assert_int_equal(open_home(lite_home, STORE_CREATE, &lite), 0);
		seed(lite);
	}
	seed(fx->s);
	for (int q = 0; q < STMT_SLOTS; q++) {
		struct outcome a, b;
		if (!store_statement(q))
			continue;
		ran++;
		run_statement(fx->s, q, &a);
		if (a.rc < 0) {
			fprintf(stderr, "statement %d (%s):\n  %s\n", q,
			    store_statement(q), a.error);
			bad++;
		}
		if (lite) {
			run_statement(lite, q, &b);
			if (b.rc < 0) {
				fprintf(stderr, "statement %d on SQLite (%s):\n"
				    "  %s\n", q, store_statement(q), b.error);
				bad++;
			} else if (a.rc >= 0 && (a.rc != b.rc ||
			    /* the clock's rows differ by the time between */
			    (!strstr(store_statement(q), "runner_now_ms()") &&
			    strcmp(a.rows.buf, b.rows.buf)))) {
				fprintf(stderr, "statement %d differs (%s):\n"
				    "PostgreSQL %s:\n%sSQLite %s:\n%s", q,
				    store_statement(q), a.rc ? "refused" : "ran",
				    a.rows.buf, b.rc ? "refused" : "ran",
				    b.rows.buf);
				bad++;
			}
			sbuf_release(&b.rows);
			free(b.error);
		}
		sbuf_release(&a.rows);
		free(a.error);
	}
	store_close(lite);
	if (lite)
		rm_rf(lite_home);
	fprintf(stderr, "%d statements run on %s\n", ran, pg_helper ?
	    "PostgreSQL and SQLite" : "SQLite");
	assert_true(ran > 100);
	assert_int_equal(bad, 0);
}

/*
 * An error of the server reaches the caller with its SQLSTATE, never as a
 * value: a user who may not read the schema's version is told so, not
 * that an older runner made the store.
 */
static void test_errors_reach_caller(void **state)
{
	struct fx *fx = *state;
	char *path = xasprintf("%s/runner.yml", fx->home), *url;
	struct sbuf yml = SBUF_INIT;
	struct store *other = NULL;

	assert_int_equal(exec_sql(fx->s, "DO $$BEGIN CREATE ROLE "
	    "runner_noaccess LOGIN; EXCEPTION WHEN duplicate_object OR "
	    "unique_violation THEN NULL; END$$; DO $$BEGIN EXECUTE 'GRANT "
	    "USAGE ON SCHEMA ' || quote_ident(current_schema()) || ' TO "
	    "runner_noaccess'; END$$", "grant"), 0);
	assert_int_equal(read_file(path, 65536, &yml), 0);
	/* store: 'URL' */
	url = strchr(yml.buf, '\'') + 1;
	*strchr(url, '\'') = '\0';
	char *user = strstr(url, "user=runner");
	assert_non_null(user);
	char *noaccess = xasprintf("%.*suser=runner_noaccess%s",
	    (int)(user - url), url, user + strlen("user=runner"));
	setenv("RUNNER_STORE", noaccess, 1);
	assert_true(open_home(fx->home, STORE_OPEN, &other) < 0);
	unsetenv("RUNNER_STORE");
	fprintf(stderr, "%s\n", error_last());
	assert_non_null(strstr(error_last(), "SQLSTATE 42501"));
	assert_null(strstr(error_last(), "older runner"));
	free(noaccess);
	sbuf_release(&yml);
	free(path);
}

/* A deduplication key is the same bytes on both engines. */
static void test_dedup_key_bytes(void **state)
{
	struct fx *fx = *state;
	struct sbuf got = SBUF_INIT;
	int rc;

	push(fx->s, "refs/heads/develop", Z, C1, NULL);
	if (fx->s->pg)
		rc = pg_value_of(fx->s, "SELECT dedup FROM jobs WHERE id = 1",
		    "read", &got);
	else {
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(fx->s->db, "SELECT dedup "
		    "FROM jobs WHERE id = 1", -1, &st, NULL), SQLITE_OK);
		rc = sqlite3_step(st) == SQLITE_ROW;
		if (rc)
			sbuf_add(&got, sqlite3_column_blob(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0));
		sqlite3_finalize(st);
	}
	assert_int_equal(rc, 1);
	const char want[] = "/srv/git/app.git\001refs/heads/develop\001" Z
	    "\001" C1;
	assert_int_equal(got.len, sizeof(want) - 1);
	assert_memory_equal(got.buf, want, sizeof(want) - 1);
	sbuf_release(&got);
}

/*
 * PostgreSQL's dialect from SQLite's, token by token: keywords in any
 * case, nothing inside a string, a quoted name or a comment turned, and
 * what has no exact equivalent refused.
 */
static void test_dialect(void **state)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "SELECT ?1, ?12", "SELECT $1, $12" },
		{ "select * from t where a is ?2 and b IS NOT ?3 and c is null",
		  "select * from t where a IS NOT DISTINCT FROM $2 and b IS "
		  "DISTINCT FROM $3 and c IS null" },
		{ "SELECT '?1 IS ?2 char(0)', \"instr(\" FROM t -- is ?1\n",
		  "SELECT '?1 IS ?2 char(0)', \"instr(\" FROM t -- is ?1\n" },
		{ "insert or ignore into t (a) values (?1) returning id",
		  "INSERT into t (a) values ($1) ON CONFLICT DO NOTHING "
		  "returning id" },
		{ "INSERT OR IGNORE INTO t (a) VALUES ((SELECT 1)); SELECT 2",
		  "INSERT INTO t (a) VALUES ((SELECT 1)) ON CONFLICT DO "
		  "NOTHING; SELECT 2" },
		{ "SELECT Group_Concat(x, ','), INSTR(a, b), ifnull(a, 1), "
		  "char(10), max(x)", "SELECT string_agg(x, ','), strpos(a, b), "
		  "coalesce(a, 1), chr(10), max(x)" },
		{ "begin immediate", "BEGIN" },
		{ "PRAGMA synchronous = NORMAL", "SET synchronous_commit = off" },
		{ "CREATE TABLE t (id integer primary key autoincrement, "
		  "b BLOB, c INTEGER, d real)", "CREATE TABLE t (id BIGINT "
		  "GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, b BYTEA, c "
		  "BIGINT, d DOUBLE PRECISION)" },
		{ "SELECT 1 /*pg: FOR UPDATE*/", "SELECT 1  FOR UPDATE" },
		{ "SELECT /*sqlite*/ a(0) /*pg: b(0)*/ FROM t",
		  "SELECT  b(0) FROM t" },
		{ "SELECT 'it''s' /* a ?1 comment */ , ?1",
		  "SELECT 'it''s' /* a ?1 comment */ , $1" },
	};
	static const char *const refused[] = {
		"SELECT char(0)", "SELECT ?", "INSERT OR REPLACE INTO t VALUES (1)",
		"PRAGMA journal_mode = WAL", "SELECT a FROM t WHERE a LIKE 'x%'",
		"SELECT max(a, b)", "SELECT group_concat(a)",
		"SELECT strftime('%s', 'now')", "SELECT 1 WHERE a == 1",
		"SELECT 'open", "SELECT /* open", "SELECT /*sqlite*/ 1",
		"REPLACE INTO t VALUES (1)",
	};
	char *out;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		if (pg_sql(ok[i].in, &out) < 0)
			fail_msg("'%s': %s", ok[i].in, error_last());
		assert_string_equal(out, ok[i].out);
		free(out);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		out = NULL;
		if (pg_sql(refused[i], &out) == 0)
			fail_msg("'%s' was turned into '%s'", refused[i], out);
		assert_null(out);
		error_clear();
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
	/* what SQLite alone has: its file's own version */
	const struct CMUnitTest lite_only[] = {
		T(test_old_store_upgraded),
		cmocka_unit_test(test_url_redacted),
		cmocka_unit_test(test_dialect),
	};
	/* and PostgreSQL alone: its users and their rights */
	const struct CMUnitTest pg_only[] = {
		T(test_errors_reach_caller),
	};
	const struct CMUnitTest tests[] = {
		T(test_enqueue_dedup),
		T(test_enqueue_oneshot),
		T(test_audit),
		T(test_repo_names),
		T(test_claim_order_and_supersede),
		T(test_supersede_skips_old),
		T(test_stages_and_end),
		T(test_recover),
		T(test_cancel_retry),
		T(test_illegal_move_refused),
		T(test_list),
		T(test_reopen_keeps_data),
		T(test_sync_behind),
		T(test_events_of_builds),
		T(test_events_of_deploys),
		T(test_deploys_move_forward),
		T(test_leases),
		T(test_deploys_only),
		T(test_outbox),
		T(test_chunks),
		T(test_every_statement),
		T(test_dedup_key_bytes),
		cmocka_unit_test(test_open_missing),
	};

	if (argc > 2 && !strcmp(argv[2], "pg")) {
		if (!getenv("RUNNER_TEST_PG")) {
			fprintf(stderr, "RUNNER_TEST_PG is not set: run this "
			    "through tests/helpers/pg.sh run\n");
			return 1;
		}
		pg_helper = argv[1];
		return cmocka_run_group_tests_name("postgresql", tests, NULL,
		    NULL) | cmocka_run_group_tests_name("postgresql_only",
		    pg_only, NULL, NULL);
	}
	return cmocka_run_group_tests_name("sqlite", tests, NULL, NULL) |
	    cmocka_run_group_tests_name("sqlite_only", lite_only, NULL, NULL);
}
