/*
 * Unit tests of the job modules: a build (build.c) over its steps
 * (step.c) and a deployment (deploy.c), run in this process against a
 * real bare repository made with git, a real store and runner.yml, as a
 * worker runs them (the sandbox off: runner.yml trusts the repositories).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "checkout.h"
#include "config.h"
#include "deploy.h"
#include "envs.h"
#include "home_store.h"
#include "step.h"
#include "store.h"
#include "util.h"

struct fx {
	char dir[64];
	char *home, *repo, *src;
	struct config *conf;
	struct store *s;
	int stopping;
	struct job_ctx ctx;
};

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	struct sbuf cmd = SBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sbuf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	sbuf_adds(&cmd, " >/dev/null 2>&1");
	assert_int_equal(system(cmd.buf), 0);
	sbuf_release(&cmd);
}

static enum stage_event no_event(void *arg)
{
	(void)arg;
	return STAGE_EV_NONE;
}

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	struct sbuf yml = SBUF_INIT;

	strcpy(fx->dir, "/tmp/runner-jobs-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	fx->home = xasprintf("%s/home", fx->dir);
	fx->repo = xasprintf("%s/app.git", fx->dir);
	fx->src = xasprintf("%s/src", fx->dir);
	if (mkdir(fx->home, 0700) < 0 ||
	    open_home(fx->home, STORE_CREATE, &fx->s) < 0)
		return -1;
	sbuf_addf(&yml, "trust_repositories: true\nisolate: false\n"
	    "default_timeout: 20s\nrepos:\n  - path: %s\n", fx->repo);
	if (config_parse("runner.yml", yml.buf, yml.len, &fx->conf) < 0)
		return -1;
	sbuf_release(&yml);
	sh("git init -q --bare %s && git init -q -b develop %s && "
	    "git -C %s config user.email t@example.com && "
	    "git -C %s config user.name t && "
	    "git -C %s remote add origin %s", fx->repo, fx->src, fx->src,
	    fx->src, fx->src, fx->repo);
	fx->ctx = (struct job_ctx){ .home = fx->home, .conf = fx->conf,
	    .store = fx->s, .event_fd = -1, .on_event = no_event,
	    .stopping = &fx->stopping };
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	free(fx->ctx.ended_error);
	store_close(fx->s);
	config_free(fx->conf);
	rm_rf(fx->dir);
	free(fx->home);
	free(fx->repo);
	free(fx->src);
	free(fx);
	return 0;
}

/* Commit `pipeline` as .runner.yml (and a file dist.txt) and push it;
 * returns the id of the queued build. */
static int64_t push_pipeline(struct fx *fx, const char *pipeline,
    const char *subject)
{
	struct sbuf path = SBUF_INIT, head = SBUF_INIT;
	struct enqueued e;
	char *file;
	FILE *f;

	sbuf_addf(&path, "%s/.runner.yml", fx->src);
	assert_non_null(f = fopen(path.buf, "w"));
	fputs(pipeline, f);
	fclose(f);
	sh("cd %s && echo '%s' > version.txt && git add -A && "
	    "git commit -q -m '%s' && git push -q origin develop", fx->src,
	    subject, subject);
	file = xasprintf("%s/refs/heads/develop", fx->repo);
	assert_int_equal(read_file(file, 100, &head), 0);
	sbuf_truncate(&head, 40);
	struct push p = { fx->repo, "refs/heads/develop",
	    "0000000000000000000000000000000000000000", head.buf, NULL, NULL,
	    NULL, NULL, NULL };
	assert_int_equal(store_enqueue(fx->s, &p, 1, &e), 0);
	free(file);
	sbuf_release(&path);
	sbuf_release(&head);
	return e.id;
}

/* Claim the next job and run it as a worker does; returns it, ended. */
static struct job *run_next(struct fx *fx)
{
	struct job *j = NULL;
	int64_t id;

	assert_int_equal(store_claim(fx->s, getpid(), "h1", "", 30000, 0,
	    CLAIM_ANY, NULL, &j), 0);
	id = j->id;
	if (j->kind == KIND_DEPLOY)
		assert_int_equal(deploy_run(&fx->ctx, j), 0);
	else
		assert_int_equal(build_run(&fx->ctx, j), 0);
	job_free(j);
	assert_int_equal(store_job_get(fx->s, id, &j), 0);
	return j;
}

static const char pipeline[] =
    "stages:\n"
    "  - name: unit\n"
    "    run: echo unit ran; test -f version.txt\n"
    "  - name: build\n"
    "    run: mkdir -p dist && cp version.txt dist/\n"
    "    artifacts: [dist/**]\n"
    "environments:\n"
    "  staging:\n"
    "    deploy: cp \"$RUNNER_RELEASE_DIR/dist/version.txt\" "
    "\"$RUNNER_STATE_DIR/serving\" && test ! -e fail-deploy\n";

static void test_build_passes_and_archives(void **state)
{
	struct fx *fx = *state;
	int64_t id = push_pipeline(fx, pipeline, "first");
	struct job *j = run_next(fx);
	struct sbuf log = SBUF_INIT;

	assert_int_equal(j->id, id);
	assert_string_equal(job_state_name(j->state), "passed");
	assert_string_equal(j->subject, "first");
	assert_int_equal(j->nstages, 2);
	assert_int_equal(j->stages[0].state, STEP_PASSED);
	assert_int_equal(j->stages[0].exit_code, 0);
	assert_int_equal(read_file(j->stages[0].log_path, 4096, &log), 0);
	assert_non_null(strstr(log.buf, "unit ran"));
	assert_int_equal(j->nartifacts, 1);
	assert_int_equal(strlen(j->artifacts[0].sha256), 64);
	assert_int_equal(j->artifacts[0].files, 1);	/* dist/version.txt */
	assert_int_equal(access(j->artifacts[0].path, R_OK), 0);
	/* its last phase, as status showed it while it ran */
	assert_string_equal(j->phase, "archiving");
	sbuf_release(&log);
	job_free(j);
}

static void test_failing_stage_skips_the_rest(void **state)
{
	struct fx *fx = *state;
	struct job *j;

	push_pipeline(fx, "stages:\n  - name: unit\n    run: echo no; exit 3\n"
	    "  - name: build\n    run: 'true'\n", "broken");
	j = run_next(fx);
	assert_string_equal(job_state_name(j->state), "failed");
	assert_string_equal(j->error, "stage 'unit' failed with exit code 3");
	assert_int_equal(j->stages[0].state, STEP_FAILED);
	assert_int_equal(j->stages[0].exit_code, 3);
	assert_int_equal(j->stages[1].state, STEP_SKIPPED);
	assert_int_equal(j->nartifacts, 0);
	job_free(j);
}

static void test_bad_pipeline_is_an_error(void **state)
{
	struct fx *fx = *state;
	struct job *j;

	push_pipeline(fx, "stages:\n  - name: unit\n    runn: make\n", "typo");
	j = run_next(fx);
	assert_string_equal(job_state_name(j->state), "error");
	assert_non_null(strstr(j->error, ".runner.yml:3:5:"));
	assert_non_null(strstr(j->error, "'run'"));	/* did you mean */
	job_free(j);
}

/* A repository may narrow runner.yml's policy, never widen it. */
static void test_pipeline_cannot_widen_policy(void **state)
{
	struct fx *fx = *state;
	struct config *strict = NULL;
	char *yml = xasprintf("trust_repositories: true\nisolate: false\n"
	    "network: false\nrepos:\n  - path: %s\n", fx->repo);
	struct job *j;

	assert_int_equal(config_parse("runner.yml", yml, strlen(yml), &strict),
	    0);
	fx->ctx.conf = strict;
	push_pipeline(fx, "stages:\n  - name: unit\n    run: 'true'\n"
	    "    network: true\n", "wider");
	j = run_next(fx);
	fx->ctx.conf = fx->conf;
	assert_string_equal(job_state_name(j->state), "error");
	assert_non_null(strstr(j->error, ".runner.yml:4:14: stage 'unit' says "
	    "'network: true'"));
	job_free(j);
	config_free(strict);
	free(yml);
}

/* HOME/state/app-HASH/staging/serving: the one file the sample's deploy
 * command writes (the folder is named by the repository's path). */
static char *serving_file(const struct fx *fx)
{
	char *pat = xasprintf("%s/state/app-*/staging/serving", fx->home);
	glob_t g;
	char *path;

	assert_int_equal(glob(pat, 0, NULL, &g), 0);
	assert_int_equal(g.gl_pathc, 1);
	assert_int_equal(strlen(strrchr(g.gl_pathv[0], '-')),
	    strlen("-0123456789abcdef/staging/serving"));
	path = xstrdup(g.gl_pathv[0]);
	globfree(&g);
	free(pat);
	return path;
}

/* A passed build queues staging; the deployment serves the build's own
 * artifact; a failing one rolls back to it. */
static void test_deploy_and_roll_back(void **state)
{
	struct fx *fx = *state;
	struct env_rec *e = NULL;
	struct sbuf served = SBUF_INIT;
	char *serving;
	struct job *b, *d;

	push_pipeline(fx, pipeline, "one");
	b = run_next(fx);
	assert_string_equal(job_state_name(b->state), "passed");
	d = run_next(fx);	/* the deployment the build queued */
	assert_int_equal(d->kind, KIND_DEPLOY);
	assert_int_equal(d->source_job, b->id);
	assert_string_equal(job_state_name(d->state), "healthy");
	serving = serving_file(fx);
	assert_int_equal(read_file(serving, 100, &served), 0);
	assert_string_equal(served.buf, "one\n");
	assert_int_equal(store_env_get(fx->s, fx->repo, "staging", &e), 0);
	assert_int_equal(e->state, ENV_HEALTHY);
	assert_int_equal(e->release, d->id);
	env_rec_free(e);
	int64_t good = d->id;
	job_free(b);
	job_free(d);

	/* the next commit's deploy command fails: the previous release
	 * comes back and the environment is healthy again */
	sh("cd %s && touch fail-deploy", fx->src);
	push_pipeline(fx, pipeline, "two");
	b = run_next(fx);
	assert_string_equal(job_state_name(b->state), "passed");
	d = run_next(fx);
	assert_string_equal(job_state_name(d->state), "rolled_back");
	assert_string_equal(d->phase, "rollback");
	assert_int_equal(d->previous, good);
	sbuf_reset(&served);
	assert_int_equal(read_file(serving, 100, &served), 0);
	assert_string_equal(served.buf, "one\n");
	assert_int_equal(store_env_get(fx->s, fx->repo, "staging", &e), 0);
	assert_int_equal(e->state, ENV_HEALTHY);
	assert_int_equal(e->release, good);
	env_rec_free(e);
	job_free(b);
	job_free(d);
	sbuf_release(&served);
	free(serving);
}

/* A deployment of a commit whose pipeline has no such environment is
 * refused before anything is touched. */
static void test_deploy_rejected_leaves_environment(void **state)
{
	struct fx *fx = *state;
	struct deploy_req r;
	struct env_rec *e = NULL;
	struct job *b, *d;
	int64_t id;

	push_pipeline(fx, "stages:\n  - name: build\n    run: mkdir -p dist && "
	    "touch dist/x\n    artifacts: [dist/**]\n", "no envs");
	b = run_next(fx);
	assert_string_equal(job_state_name(b->state), "passed");
	r = (struct deploy_req){ fx->repo, b->ref, b->commit, "staging", b->id,
	    NULL, 0, "tester", NULL };
	assert_int_equal(store_deploy_enqueue(fx->s, &r, 1, &id), 0);
	d = run_next(fx);
	assert_string_equal(job_state_name(d->state), "rejected");
	assert_non_null(strstr(d->error, "no environment 'staging'"));
	assert_int_equal(store_env_get(fx->s, fx->repo, "staging", &e),
	    ERR_NOTFOUND);
	job_free(b);
	job_free(d);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_build_passes_and_archives),
		T(test_failing_stage_skips_the_rest),
		T(test_bad_pipeline_is_an_error),
		T(test_pipeline_cannot_widen_policy),
		T(test_deploy_and_roll_back),
		T(test_deploy_rejected_leaves_environment),
	};
	checkout_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
