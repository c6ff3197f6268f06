/*
 * runner retry JOB: queue the job again: a build of the same commit, or
 * the same deployment (environment and source; a tag's signature is
 * checked again). The new job is never superseded by the push it
 * repeats.
 */
#include "cli.h"
#include "who.h"
#include "jobs.h"
#include "util.h"
#include "wake.h"

#include <stdlib.h>

static const char usage[] =
    "usage: runner retry [--home DIR] JOB\n"
    "\n"
    "Queue JOB again, once it has ended, and print the new job's number:\n"
    "a build of the same commit, or a deployment to the same environment\n"
    "from the same build, release tag (its signature checked again) or\n"
    "release, with fresh checks. Recorded with who asked.\n";

int cmd_retry(int argc, char **argv)
{
	struct cli_session cs = { 0 };
	struct job *j = NULL;
	char *user = NULL;
	struct who who = WHO_INIT;
	int64_t id, new_id;
	int rc;

	if ((rc = cli_start_job(argc, argv, usage, &id, &cs)) >= 0)
		goto out;
	rc = EXIT_FAIL;
	user = cli_user_name();
	who_cli(&who, user);
	if (store_retry(cs.store, id, &who, &new_id) < 0 ||
	    store_job_get(cs.store, new_id, &j) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	wake_send(cs.home, WAKE_JOBS);
	if (j->kind == KIND_DEPLOY)
		printf("queued deployment #%lld to %s (retry of #%lld)\n",
		    (long long)new_id, j->env, (long long)id);
	else
		printf("queued job #%lld (retry of #%lld)\n", (long long)new_id,
		    (long long)id);
	rc = EXIT_OK;
out:
	job_free(j);
	free(user);
	who_release(&who);
	cli_close(&cs);
	return rc;
}
