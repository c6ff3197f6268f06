/*
 * runner deploy JOB ENV: deploy a passed build's artifact by hand. An
 * environment that requires a signed tag needs --force, and the deploy is
 * recorded as forced by the unix user.
 */
#include "checkout.h"
#include "cli.h"
#include "who.h"
#include "pipeline.h"
#include "envs.h"
#include "util.h"
#include "wake.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner deploy [--home DIR] [--force] JOB ENV\n"
    "\n"
    "Queue a deployment of the artifact of JOB (a passed build) to the\n"
    "environment ENV of its .runner.yml, and print its number. An\n"
    "environment with 'requires: signed-tag' takes a deploy by hand only\n"
    "with --force; it is recorded as forced, with the unix user's name\n"
    "(it passes over the signed tag, and so over runner.yml approvals).\n";

/* The environment as the build's own commit defines it, or NULL. */
static int env_of(const struct job *j, const char *env, int *signed_tag)
{
	struct source *src = NULL;
	struct pipeline *pl = NULL;
	const struct env_def *e;
	int error;

	if ((error = source_open(j->repo, j->commit, &src)) < 0 ||
	    (error = source_pipeline(src, &pl, NULL)) < 0)
		goto out;
	if (!(e = pipeline_env(pl, env))) {
		error = error_set(ERR_NOTFOUND, "no environment '%s' in "
		    ".runner.yml of commit %.7s", env, j->commit);
		goto out;
	}
	*signed_tag = e->signed_tag;
out:
	pipeline_free(pl);
	source_free(src);
	return error;
}

int cmd_deploy(int argc, char **argv)
{
	const char *home_opt = NULL, *env;
	struct cli_session cs = { 0 };
	struct job *j = NULL;
	char *user = NULL;
	struct who who = WHO_INIT;
	int force = 0, signed_tag = 0, rc;
	int64_t id, new_id;

	const struct opt opts[] = {
		OPT_BOOL('f', "force", &force,
		    "deploy to an environment that needs a signed tag "
		    "(recorded with your user name)"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
		return rc;
	if (argc - optind != 2)
		return cli_usage(usage);
	env = argv[optind + 1];
	if ((id = cli_job_id(argv[optind])) < 0) {
		cli_error("'%s' is not a job number", argv[optind]);
		return EXIT_USAGE;
	}
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	if (store_job_get(cs.store, id, &j) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (deploy_source_check(j) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (env_of(j, env, &signed_tag) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (signed_tag && !force) {
		cli_error("environment '%s' requires a signed release tag; "
		    "'--force' deploys by hand and is recorded as forced", env);
		goto out;
	}
	user = cli_user_name();
	who_cli(&who, user);
	struct deploy_req req = {
		.repo = j->repo, .ref = j->ref, .commit = j->commit, .env = env,
		.source_job = j->id, .forced_by = force ? user : NULL,
		.requested_by = user, .who = &who,
	};
	if (store_deploy_enqueue(cs.store, &req, 1, &new_id) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	wake_send(cs.home, WAKE_JOBS);
	printf("queued deployment #%lld of build #%lld to %s%s%s%s\n",
	    (long long)new_id, (long long)id, env, force ? " (forced by " : "",
	    force ? user : "", force ? ")" : "");
	rc = EXIT_OK;
out:
	free(user);
	who_release(&who);
	job_free(j);
	cli_close(&cs);
	return rc;
}
