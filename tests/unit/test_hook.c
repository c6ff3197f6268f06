/* Unit tests of the post-receive input parser and config triggers. */
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "envvar.h"
#include "hook.h"
#include "spool.h"
#include "util.h"

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_parse_good(void **state)
{
	const char in[] = A " " B " refs/heads/develop\n"
	    B " " A " refs/tags/v1.0.0\n";
	struct hook_update *u;
	size_t n, bad;

	(void)state;
	hook_parse(in, sizeof(in) - 1, &u, &n, &bad);
	assert_int_equal(n, 2);
	assert_int_equal(bad, 0);
	assert_string_equal(u[0].old, A);
	assert_string_equal(u[0].new, B);
	assert_string_equal(u[0].ref, "refs/heads/develop");
	assert_string_equal(u[1].ref, "refs/tags/v1.0.0");
	hook_updates_free(u, n);
}

static void test_parse_garbage(void **state)
{
	const char *cases[] = {
		"garbage\n",
		A " " B "\n",
		A " " B " develop\n",			/* not under refs/ */
		A " " B " refs/heads/a..b\n",
		A " " B " refs/heads/x\033[2J\n",
		"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz " B " refs/heads/x\n",
		A "aa " B " refs/heads/x\n",		/* lengths differ */
		"\0\0\0\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct hook_update *u;
		size_t n, bad;
		hook_parse(cases[i], strlen(cases[i]) ? strlen(cases[i]) : 4,
		    &u, &n, &bad);
		assert_int_equal(n, 0);
		assert_int_equal(bad, 1);
		hook_updates_free(u, n);
	}
}

static void test_parse_no_newline(void **state)
{
	const char in[] = A " " B " refs/heads/develop";
	struct hook_update *u;
	size_t n, bad;

	(void)state;
	hook_parse(in, sizeof(in) - 1, &u, &n, &bad);
	assert_int_equal(n, 1);
	hook_updates_free(u, n);
}

static void test_config(void **state)
{
	const char yml[] =
	    "workers: 3\n"
	    "default_timeout: 5m\n"
	    "repos:\n"
	    "  - path: /srv/git/a.git/\n"
	    "    branches: '^(develop|release/.*)$'\n"
	    "  - path: /srv/git/b.git\n";
	struct config *c;

	(void)state;
	assert_int_equal(config_parse("runner.yml", yml, strlen(yml), &c), 0);
	assert_int_equal(c->workers, 3);
	assert_int_equal(c->default_timeout_ms, 300000);
	assert_int_equal(c->supersede, 1);
	assert_string_equal(config_repo(c, "/srv/git/a.git")->branches,
	    "^(develop|release/.*)$");
	assert_string_equal(config_repo(c, "/srv/git/b.git")->branches,
	    "^develop$");
	assert_string_equal(config_repo(c, "/elsewhere.git")->branches,
	    "^develop$");
	config_free(c);
}

struct error_case {
	const char *yml, *msg;
};

/* Each runner.yml is refused with exactly its message, which never
 * repeats a value (the cases' values hold TOKEN). */
static void config_errors(const struct error_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct config *c = NULL;
		assert_int_equal(config_parse("runner.yml", cases[i].yml,
		    strlen(cases[i].yml), &c), ERR_INVALID);
		assert_string_equal(error_last(), cases[i].msg);
		assert_null(strstr(error_last(), "TOKEN"));
		assert_null(c);
	}
}

/* retention: deployments: one count for every environment, or counts
 * for those named (the others keep all); unset, all are kept. */
static void test_config_deployments(void **state)
{
	static const char *const yml[] = {
	    "retention: { builds: 3 }\n",
	    "retention: { deployments: 7 }\n",
	    "retention: { deployments: all }\n",
	    "retention:\n  deployments: { staging: 3, production: all }\n",
	};
	struct config *c;

	(void)state;
	for (size_t i = 0; i < sizeof(yml) / sizeof(*yml); i++) {
		assert_int_equal(config_parse("runner.yml", yml[i],
		    strlen(yml[i]), &c), 0);
		int64_t staging = retention_deployments(&c->retention,
		    "staging");
		int64_t prod = retention_deployments(&c->retention,
		    "production");
		int64_t qa = retention_deployments(&c->retention, "qa");
		assert_int_equal(staging, i == 1 ? 7 : i == 3 ? 3 : 0);
		assert_int_equal(prod, i == 1 ? 7 : 0);
		assert_int_equal(qa, i == 1 ? 7 : 0);
		config_free(c);
	}
}

/* Push variables: the server's list, and the start-up names it cannot
 * open. */
static void test_config_variables(void **state)
{
	static const char yml[] =
	    "repos:\n"
	    "  - path: /srv/a.git\n"
	    "    variables: [LEVEL, 'FEATURE_.*', '[A-Z]+']\n"
	    "  - path: /srv/b.git\n";
	struct config *c;
	struct sbuf kept = SBUF_INIT, refused = SBUF_INIT;
	char *why = NULL;

	(void)state;
	assert_int_equal(config_parse("runner.yml", yml, strlen(yml), &c), 0);
	assert_int_equal(config_variable_allowed(c, "/srv/a.git", "LEVEL", &why), 1);
	assert_null(why);
	assert_int_equal(config_variable_allowed(c, "/srv/a.git", "FEATURE_X",
	    &why), 1);
	/* the whole name: LEVELS is not LEVEL, lower case not [A-Z]+ */
	assert_int_equal(config_variable_allowed(c, "/srv/a.git", "level", &why), 0);
	assert_string_equal(why, "runner.yml's 'variables' of '/srv/a.git' "
	    "(LEVEL, FEATURE_.*, [A-Z]+) do not name it");
	free(why);
	/* [A-Z]+ matches ENV, which is a shell's */
	assert_int_equal(config_variable_allowed(c, "/srv/a.git", "ENV", &why), 0);
	assert_string_equal(why, "no push may set it: sh runs the file it names "
	    "at start-up");
	free(why);
	assert_int_equal(config_variable_allowed(c, "/srv/b.git", "LEVEL", &why), 0);
	assert_non_null(strstr(why, "lets no push set variables of '/srv/b.git'"));
	free(why);
	assert_int_equal(config_variables_filter(c, "/srv/a.git",
	    "LEVEL=1\nLD_PRELOAD=/x.so\nFEATURE_A=a=b\nlower=2\nnovalue\n"
	    "GIT_DIR=/\n", &kept, &refused), 4);
	assert_string_equal(kept.buf, "LEVEL=1\nFEATURE_A=a=b\n");
	assert_non_null(strstr(refused.buf, "variable 'LD_PRELOAD' refused: no "
	    "push may set it: the dynamic loader reads it"));
	assert_non_null(strstr(refused.buf, "variable 'novalue' refused: not "
	    "NAME=VALUE"));
	assert_non_null(strstr(refused.buf, "variable 'GIT_DIR' refused"));
	sbuf_release(&kept);
	sbuf_release(&refused);
	config_free(c);
	/* every reserved kind, and a well-formed name that is not */
	assert_non_null(envvar_reserved("LD_AUDIT"));
	assert_non_null(envvar_reserved("BASH_ENV"));
	assert_non_null(envvar_reserved("GCONV_PATH"));
	assert_non_null(envvar_reserved("PYTHONPATH"));
	assert_non_null(envvar_reserved("RUNNER_JOB"));
	assert_null(envvar_reserved("LDX"));
	assert_null(envvar_reserved("ENVIRONMENT"));
	assert_string_equal(envvar_why("LD_PRELOAD=x"), "the dynamic loader "
	    "reads it before any program runs");
	assert_null(envvar_why("LEVEL=full"));
}

/* auto_deploy: which environments take which branches' builds. A list
 * (and the default) takes develop's only, whatever `branches` builds. */
static void test_config_auto_deploy(void **state)
{
	static const char yml[] =
	    "repos:\n"
	    "  - path: /srv/list.git\n"
	    "    branches: '^(develop|feature/.*)$'\n"
	    "    auto_deploy: [staging, qa]\n"
	    "  - path: /srv/map.git\n"
	    "    auto_deploy: {staging: '^(develop|main)$', review: "
	    "'^feature/'}\n"
	    "  - path: /srv/none.git\n"
	    "    auto_deploy: []\n"
	    "  - path: /srv/one.git\n"
	    "    auto_deploy: qa\n"
	    "  - path: /srv/default.git\n"
	    "    branches: '^main$'\n";
	struct config *c;
	const struct repo_conf *rc;

	(void)state;
	assert_int_equal(config_parse("runner.yml", yml, strlen(yml), &c), 0);
	rc = config_repo(c, "/srv/list.git");
	assert_int_equal(rc->nauto_deploy, 2);
	assert_string_equal(rc->auto_deploy[1], "qa");
	assert_true(config_auto_deploys(rc, 0, "refs/heads/develop"));
	assert_true(config_auto_deploys(rc, 1, "refs/heads/develop"));
	assert_false(config_auto_deploys(rc, 0, "refs/heads/feature/x"));
	assert_false(config_auto_deploys(rc, 0, "refs/tags/develop"));
	assert_false(config_auto_deploys(rc, 2, "refs/heads/develop"));
	assert_true(config_builds_branch(rc, "feature/x"));
	rc = config_repo(c, "/srv/map.git");
	assert_int_equal(rc->nauto_deploy, 2);
	assert_string_equal(rc->auto_deploy[0], "staging");
	assert_string_equal(rc->auto_deploy[1], "review");
	assert_true(config_auto_deploys(rc, 0, "refs/heads/main"));
	assert_false(config_auto_deploys(rc, 0, "refs/heads/feature/x"));
	assert_true(config_auto_deploys(rc, 1, "refs/heads/feature/x"));
	assert_false(config_auto_deploys(rc, 1, "refs/heads/develop"));
	assert_int_equal(config_repo(c, "/srv/none.git")->nauto_deploy, 0);
	rc = config_repo(c, "/srv/one.git");
	assert_int_equal(rc->nauto_deploy, 1);
	assert_true(config_auto_deploys(rc, 0, "refs/heads/develop"));
	for (int k = 0; k < 2; k++) {	/* listed without it, and not listed */
		rc = config_repo(c, k ? "/elsewhere.git" : "/srv/default.git");
		assert_int_equal(rc->nauto_deploy, 1);
		assert_string_equal(rc->auto_deploy[0], "staging");
		assert_true(config_auto_deploys(rc, 0, "refs/heads/develop"));
		assert_false(config_auto_deploys(rc, 0, "refs/heads/main"));
	}
	assert_false(config_builds_branch(config_repo(c, "/srv/default.git"),
	    "develop"));
	config_free(c);
}

/* approvals: what runner.yml says, 1 (the signed tag alone) unless it
 * says more */
static void test_config_approvals(void **state)
{
	const char *yml = "environments:\n  production:\n    approvals: 3\n"
	    "  staging:\n    paths: [/srv/s]\n";
	struct config *c = NULL;

	(void)state;
	assert_int_equal(config_parse("runner.yml", yml, strlen(yml), &c), 0);
	assert_int_equal(config_env(c, "production")->approvals, 3);
	assert_int_equal(config_env(c, "staging")->approvals, 1);
	assert_null(config_env(c, "review"));
	config_free(c);
}

static void test_config_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "workerz: 2\n", "runner.yml:1:1: unknown key 'workerz' in "
		    "runner.yml (did you mean 'workers'?)" },
		{ "repos:\n  - path: /a.git\n    variables: [LEVEL, LD_PRELOAD]\n",
		    "runner.yml:3:24: variable 'LD_PRELOAD' in 'variables' of "
		    "'/a.git' can never come from a push: the dynamic loader "
		    "reads it before any program runs (set it in the "
		    "pipeline's env: instead)" },
		{ "repos:\n  - path: /a.git\n    variables: ['(X']\n",
		    "runner.yml:3:17: bad pattern '(X' in 'variables' of "
		    "'/a.git': missing closing parenthesis at offset 2" },
		{ "workers: lots\n", "runner.yml:1:10: 'workers' must be a "
		    "number from 1 to 256" },
		{ "environments:\n  production:\n    approvals: 0\n",
		    "runner.yml:3:16: 'approvals' of environment 'production' "
		    "must be a number from 1 to 100" },
		{ "environments:\n  production:\n    approvals: two\n",
		    "runner.yml:3:16: 'approvals' of environment 'production' "
		    "must be a number from 1 to 100" },
		{ "repos:\n  - path: rel.git\n", "runner.yml:2:11: 'path' "
		    "'rel.git' must be absolute" },
		{ "repos:\n  - path: /a.git\n    branches: '(('\n",
		    "runner.yml:3:15: bad pattern in 'branches' at offset 2: "
		    "missing closing parenthesis" },
		{ "supersede: maybe\n", "runner.yml:1:12: 'supersede' must be "
		    "true or false" },
		{ "repos:\n  - path: /a.git\n    auto_deploy: {staging: '(x'}\n",
		    "runner.yml:3:28: bad pattern '(x' for environment 'staging' "
		    "in 'auto_deploy' of '/a.git': missing closing parenthesis at "
		    "offset 2" },
		{ "repos:\n  - path: /a.git\n    auto_deploy:\n      staging: "
		    "[develop, main]\n", "runner.yml:4:16: 'auto_deploy' of "
		    "'/a.git': environment 'staging' takes one pattern of the "
		    "branches whose builds it deploys, like '^develop$' or "
		    "'^(develop|main)$'" },
		{ "repos:\n  - path: /a.git\n    auto_deploy: [{staging: x}]\n",
		    "runner.yml:3:19: 'auto_deploy' of '/a.git': a list names "
		    "environments (each takes the builds of '^develop$'); to name "
		    "the branches, write a mapping, like auto_deploy: {staging: "
		    "'^develop$'}" },
		{ "store: mysql://db/runner\n", "runner.yml:1:8: 'store' must "
		    "be a postgresql:// URL (like postgresql://runner@db.example/"
		    "runner), or unset for SQLite in the home" },
		{ "retention:\n  deployments: 0\n", "runner.yml:2:16: "
		    "'deployments' in 'retention' of runner.yml must be a number "
		    "from 1 to 2147483647, 'all', or environments and numbers "
		    "like {staging: 20}" },
		{ "retention:\n  deployments: [5]\n", "runner.yml:2:16: "
		    "'deployments' in 'retention' of runner.yml must be a number "
		    "from 1 to 2147483647, 'all', or environments and numbers "
		    "like {staging: 20}" },
		{ "retention:\n  deployments: {staging: 20, prod: many}\n",
		    "runner.yml:2:36: 'deployments' of 'prod' in 'retention' of "
		    "runner.yml must be a number from 1 to 2147483647, or 'all'" },
		{ "retention:\n  deployments: {Staging: 20}\n",
		    "runner.yml:2:17: bad environment name 'Staging' in "
		    "'deployments' of 'retention' of runner.yml (use a-z, 0-9, "
		    "'_' and '-', at most 64)" },
	};
	(void)state;
	config_errors(cases, sizeof(cases) / sizeof(*cases));
}

/* The store's URL, read alone: a mistake elsewhere does not hide it, a
 * file of comments or none means SQLite, a bad one names its place, and
 * a changed file is read again. */
static void test_store_url(void **state)
{
	char home[] = "/tmp/runner-url-XXXXXX";
	char *path, *url = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(home));
	path = xasprintf("%s/runner.yml", home);
	assert_int_equal(config_store_url(home, &url), 0);
	assert_null(url);
	f = fopen(path, "w");
	fputs("# nothing but comments\n", f);
	fclose(f);
	assert_int_equal(config_store_url(home, &url), 0);
	assert_null(url);
	f = fopen(path, "w");
	fputs("workerz: 2\nstore: 'postgresql://runner@db/ci'\n", f);
	fclose(f);
	assert_int_equal(config_store_url(home, &url), 0);
	assert_string_equal(url, "postgresql://runner@db/ci");
	free(url);
	f = fopen(path, "w");
	fputs("workers: 2\nstore: [postgresql://db]\n", f);
	fclose(f);
	assert_int_equal(config_store_url(home, &url), ERR_INVALID);
	assert_null(url);
	assert_non_null(strstr(error_last(), "runner.yml:2:8: 'store' must "
	    "be a postgresql:// URL"));
	unlink(path);
	rmdir(home);
	free(path);
}

static void test_config_notify(void **state)
{
	const char *yml =
	    "notify:\n"
	    "  - name: team\n"
	    "    slack: https://hooks.slack.com/services/T/B/X\n"
	    "    on: [job_failed, job_fixed]\n"
	    "  - name: oncall\n"
	    "    pagerduty: { routing_key: KEY }\n"
	    "  - name: mail\n"
	    "    email: { smtp: 'smtps://u:p@mail:465', from: a@b, to: c@d }\n"
	    "    on: job_failed\n"
	    "  - name: audit\n"
	    "    webhook: { url: 'http://127.0.0.1:9000/r', secret: s }\n"
	    "    on: [all]\n"
	    "    repos: '^store-erp$'\n"
	    "    retries: 0\n"
	    "    backoff: 250ms\n";
	struct config *c;

	(void)state;
	assert_int_equal(config_parse("runner.yml", yml, strlen(yml), &c), 0);
	assert_int_equal(c->nnotify, 4);
	assert_int_equal(c->notify[0].service, NOTIFY_SLACK);
	assert_int_equal(c->notify[0].non, 2);
	assert_int_equal(c->notify[0].retries, 6);
	assert_int_equal(c->notify[0].backoff_ms, 2000);
	const struct notify_target *pd = config_notify(c, "oncall");
	assert_non_null(pd);
	assert_string_equal(pd->secret, "KEY");
	assert_string_equal(pd->url, "https://events.pagerduty.com/v2/enqueue");
	assert_int_equal(pd->non, 6);	/* the failures by default */
	assert_string_equal(c->notify[2].url, "smtps://u:p@mail:465");
	assert_int_equal(c->notify[2].nto, 1);
	assert_string_equal(c->notify[2].to[0], "c@d");
	assert_string_equal(c->notify[3].repos, "^store-erp$");
	assert_int_equal(c->notify[3].retries, 0);
	assert_int_equal(c->notify[3].backoff_ms, 250);
	assert_null(config_notify(c, "nobody"));
	config_free(c);
}

static void test_config_notify_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "notify:\n  - slack: https://x/y\n", "runner.yml:2:5: a "
		    "'notify' entry has no 'name'" },
		{ "notify:\n  - name: a\n", "runner.yml:2:5: notify 'a' needs "
		    "one of 'slack', 'pagerduty', 'email' or 'webhook'" },
		{ "notify:\n  - name: a\n    slak: https://x/TOKEN\n",
		    "runner.yml:3:5: unknown key 'slak' in a 'notify' entry "
		    "(did you mean 'slack'?)" },
		{ "notify:\n  - name: a\n    webhook: { url: 'x:TOKEN' }\n",
		    "runner.yml:3:14: 'url' of 'webhook' must be a URL (scheme "
		    "one of: https http)" },
		{ "notify:\n  - name: a\n    pagerduty: { url: 'https://x' }\n",
		    "runner.yml:3:16: 'pagerduty' has no 'routing_key'" },
		{ "notify:\n  - name: a\n    email: { smtp: 'smtp://h', from: "
		    "x@y }\n", "runner.yml:3:12: 'email' has no 'to'" },
		{ "notify:\n  - name: a\n    slack: https://x/TOKEN\n    "
		    "retries: many\n", "runner.yml:4:14: 'retries' of notify 'a' "
		    "must be a number from 0 to 100" },
		{ "notify:\n  - name: a\n    slack: https://x/TOKEN\n    "
		    "repos: '(('\n", "runner.yml:4:12: bad pattern in 'repos' at "
		    "offset 2: missing closing parenthesis" },
		{ "notify: {}\n", "runner.yml:1:9: 'notify' in runner.yml must "
		    "be a list, not a mapping" },
	};
	(void)state;
	config_errors(cases, sizeof(cases) / sizeof(*cases));
}

/* http: operators: who may do what from the web page */
static void test_config_web(void **state)
{
	const char *yml =
	    "environments: { preprod: { requires: signed-tag } }\n"
	    "http:\n"
	    "  auth: { proxy_user: www-data }\n"
	    "  operators:\n"
	    "    - { who: [alice], may: [retry, deploy, cancel], environments: [staging] }\n"
	    "    - { who: ['@root'], may: [rollback, pause], environments: [production, preprod] }\n";
	struct config *c = NULL;

	(void)state;
	assert_int_equal(config_parse("runner.yml", yml, strlen(yml), &c), 0);
	assert_string_equal(c->http.auth.header, "X-Remote-User");
	assert_true(config_web_may(c, "alice", "retry", NULL));
	assert_true(config_web_may(c, "alice", "deploy", "staging"));
	assert_true(config_web_may(c, "alice", "cancel", "staging"));
	assert_false(config_web_may(c, "alice", "deploy", NULL));
	assert_false(config_web_may(c, "alice", "deploy", "production"));
	assert_false(config_web_may(c, "alice", "rollback", "staging"));
	assert_false(config_web_may(c, "alice", "pause", NULL));
	assert_false(config_web_may(c, "bob", "retry", NULL));
	assert_false(config_web_may(c, "", "retry", NULL));
	assert_false(config_web_may(c, NULL, "retry", NULL));
	/* root's primary group */
	assert_true(config_web_may(c, "root", "rollback", "production"));
	assert_true(config_web_may(c, "root", "pause", NULL));
	/* production, and what requires a signed tag: rollback only */
	assert_false(config_web_may(c, "root", "pause", "production"));
	assert_false(config_web_may(c, "root", "retry", "preprod"));
	assert_false(config_web_may(c, "nobody", "rollback", "production"));
	config_free(c);
	/* without auth, no one */
	assert_int_equal(config_parse("runner.yml", "http: { listen: '8080' }\n",
	    24, &c), 0);
	assert_false(config_web_may(c, "alice", "retry", NULL));
	config_free(c);
	/* refused: deploying where a signed tag is required */
	yml = "environments: { preprod: { requires: signed-tag } }\n"
	    "http: { auth: { proxy_user: www-data }, operators: [ { who: [a], "
	    "may: [deploy], environments: [preprod] } ] }\n";
	assert_int_not_equal(config_parse("runner.yml", yml, strlen(yml), &c), 0);
	assert_non_null(strstr(error_last(), "requires a signed release tag"));
	assert_non_null(strstr(error_last(), "runner.yml:2"));
}

/* Debian's base-passwd gives sync, _apt and nobody the group nogroup
 * (65534): not nobody's own. root's group is root's alone. */
static void test_group_private(void **state)
{
	(void)state;
	assert_int_equal(spool_group_private(65534, 65534), 0);
	assert_int_equal(spool_group_private(0, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_parse_no_newline),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_deployments),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_approvals),
		cmocka_unit_test(test_config_auto_deploy),
		cmocka_unit_test(test_config_variables),
		cmocka_unit_test(test_store_url),
		cmocka_unit_test(test_config_notify),
		cmocka_unit_test(test_config_notify_errors),
		cmocka_unit_test(test_config_web),
		cmocka_unit_test(test_group_private),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
