/* Unit tests of store.c on a real SQLite file in a temporary home. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

#define C1 "1111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222"
#define C3 "3333333333333333333333333333333333333333"
#define Z  "0000000000000000000000000000000000000000"

struct fx {
	char home[64];
	struct store *s;
};

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));

	strcpy(fx->home, "/tmp/runner-store-XXXXXX");
	if (!mkdtemp(fx->home))
		return -1;
	if (store_open(fx->home, STORE_CREATE, &fx->s) < 0)
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
	struct push p = { "/srv/git/app.git", ref, old, new, NULL, NULL };
	struct enqueued e;

	assert_int_equal(store_enqueue(s, &p, 1, &e), 0);
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

static void test_claim_order_and_supersede(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;

	push(fx->s, "refs/heads/develop", Z, C1, NULL);
	push(fx->s, "refs/heads/feature", Z, C2, NULL);
	int64_t newest = push(fx->s, "refs/heads/develop", C1, C3, NULL);

	/* without supersede: strictly oldest first */
	assert_int_equal(store_claim(fx->s, 100, 0, &j), 0);
	assert_int_equal(j->id, 1);
	assert_string_equal(j->state, "running");
	assert_int_equal(j->attempt, 1);
	job_free(j);

	/* with supersede: nothing older on develop is left queued anyway;
	 * feature is next, then develop's newest */
	assert_int_equal(store_claim(fx->s, 100, 1, &j), 0);
	assert_string_equal(j->ref, "refs/heads/feature");
	job_free(j);
	assert_int_equal(store_claim(fx->s, 100, 1, &j), 0);
	assert_int_equal(j->id, newest);
	job_free(j);
	assert_int_equal(store_claim(fx->s, 100, 1, &j), ERR_NOTFOUND);
}

static void test_supersede_skips_old(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;

	int64_t old = push(fx->s, "refs/heads/develop", Z, C1, NULL);
	int64_t mid = push(fx->s, "refs/heads/develop", C1, C2, NULL);
	int64_t newest = push(fx->s, "refs/heads/develop", C2, C3, NULL);
	assert_int_equal(store_claim(fx->s, 100, 1, &j), 0);
	assert_int_equal(j->id, newest);
	job_free(j);
	assert_int_equal(store_job_get(fx->s, old, &j), 0);
	assert_string_equal(j->state, "superseded");
	job_free(j);
	assert_int_equal(store_job_get(fx->s, mid, &j), 0);
	assert_string_equal(j->state, "superseded");
	job_free(j);
}

static void test_stages_and_end(void **state)
{
	struct fx *fx = *state;
	struct job *j = NULL;
	char *names[] = { "unit", "lint", "build" };
	char *logs[] = { "/l/0", "/l/1", "/l/2" };

	int64_t id = push(fx->s, "refs/heads/develop", Z, C1, NULL);
	assert_int_equal(store_claim(fx->s, 100, 1, &j), 0);
	job_free(j);
	assert_int_equal(store_stages_init(fx->s, id, names, logs, 3), 0);
	assert_int_equal(store_stage_start(fx->s, id, 0, 4242, 0), 0);
	assert_int_equal(store_stage_end(fx->s, id, 0, "failed", 2,
	    "stage 'unit' failed with exit code 2"), 0);
	assert_int_equal(store_job_end(fx->s, id, "failed", "boom"), 0);
	assert_int_equal(store_job_get(fx->s, id, &j), 0);
	assert_string_equal(j->state, "failed");
	assert_string_equal(j->error, "boom");
	assert_int_equal(j->nstages, 3);
	assert_string_equal(j->stages[0].state, "failed");
	assert_int_equal(j->stages[0].exit_code, 2);
	assert_string_equal(j->stages[1].state, "skipped");
	assert_string_equal(j->stages[2].state, "skipped");
	assert_int_equal(j->stages[2].exit_code, -1);
	job_free(j);
	/* a finished job cannot be ended again */
	assert_int_equal(store_job_end(fx->s, id, "passed", NULL), 0);
	assert_int_equal(store_job_get(fx->s, id, &j), 0);
	assert_string_equal(j->state, "failed");
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
	assert_int_equal(store_claim(fx->s, 100, 1, &j), 0);
	job_free(j);
	assert_int_equal(store_claim(fx->s, 200, 1, &j), 0);
	job_free(j);
	assert_int_equal(store_stages_init(fx->s, a, names, logs, 1), 0);
	assert_int_equal(store_stage_start(fx->s, a, 0, 777, 0), 0);

	/* worker 200 died: only its job goes back */
	assert_int_equal(store_recover(fx->s, 200, &pgids, &n), 0);
	assert_int_equal(n, 0);
	free(pgids);
	assert_int_equal(store_job_get(fx->s, b, &j), 0);
	assert_string_equal(j->state, "queued");
	assert_int_equal(j->attempt, 1);
	job_free(j);

	/* the daemon died: everything running goes back, pgids reported */
	assert_int_equal(store_recover(fx->s, 0, &pgids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pgids[0], 777);
	free(pgids);
	assert_int_equal(store_job_get(fx->s, a, &j), 0);
	assert_string_equal(j->state, "queued");
	assert_int_equal(j->nstages, 0);
	job_free(j);

	/* attempt count is kept across the re-run */
	assert_int_equal(store_claim(fx->s, 300, 0, &j), 0);
	assert_int_equal(j->id, a);
	assert_int_equal(j->attempt, 2);
	job_free(j);
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
	assert_int_equal(store_claim(fx->s, 55, 1, &j), 0);
	job_free(j);
	assert_int_equal(store_cancel(fx->s, b, &running), 0);
	assert_int_equal(running, 0);
	assert_int_equal(store_cancel(fx->s, a, &running), 0);
	assert_int_equal(running, 1);
	assert_true(store_cancel_requested(fx->s, a));
	assert_int_equal(store_cancel_workers(fx->s, &pids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], 55);
	free(pids);
	assert_int_equal(store_cancel(fx->s, b, &running), ERR_INVALID);
	assert_non_null(strstr(error_last(), "already canceled"));

	assert_int_equal(store_retry(fx->s, b, &retry), 0);
	assert_int_equal(store_job_get(fx->s, retry, &j), 0);
	assert_string_equal(j->state, "queued");
	assert_int_equal(j->retry_of, b);
	assert_string_equal(j->commit, C1);
	job_free(j);
	assert_int_equal(store_retry(fx->s, 999, &retry), ERR_NOTFOUND);
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
		assert_int_equal(store_claim(fx->s, 1, 0, &j), 0);
		if (i < 24)
			assert_int_equal(store_job_end(fx->s, j->id, "passed",
			    NULL), 0);
		job_free(j);
	}
	/* 5 queued + 1 running + the 10 newest finished */
	assert_int_equal(store_jobs_list(fx->s, 10, &v, &n), 0);
	assert_int_equal(n, 16);
	assert_string_equal(v[0]->state, "running");
	assert_string_equal(v[15]->state, "passed");
	assert_int_equal(v[6]->id, 24);
	jobs_free(v, n);
}

static void test_reopen_keeps_data(void **state)
{
	struct fx *fx = *state;
	struct job *j;

	int64_t id = push(fx->s, "refs/heads/develop", Z, C1, NULL);
	store_close(fx->s);
	assert_int_equal(store_open(fx->home, STORE_CREATE, &fx->s), 0);
	assert_int_equal(store_job_get(fx->s, id, &j), 0);
	assert_string_equal(j->commit, C1);
	job_free(j);
}

static void test_open_missing(void **state)
{
	struct store *s;

	(void)state;
	assert_int_equal(store_open("/nonexistent/home", STORE_OPEN, &s),
	    ERR_NOTFOUND);
	assert_non_null(strstr(error_last(), "runner init"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_enqueue_dedup),
		T(test_claim_order_and_supersede),
		T(test_supersede_skips_old),
		T(test_stages_and_end),
		T(test_recover),
		T(test_cancel_retry),
		T(test_list),
		T(test_reopen_keeps_data),
		cmocka_unit_test(test_open_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
