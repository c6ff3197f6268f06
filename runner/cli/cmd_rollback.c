/*
 * runner rollback ENV [--to RELEASE]: redeploy an earlier release of an
 * environment without rebuilding, then run its restore command.
 */
#include "cli.h"
#include "who.h"
#include "envs.h"
#include "util.h"
#include "wake.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner rollback [--home DIR] [--repo REPO] [--to RELEASE] ENV\n"
    "\n"
    "Queue a deployment that redeploys an earlier release of ENV (by\n"
    "default the one that served before the current one): the artifact of\n"
    "its build is extracted again (files changed in the kept release are\n"
    "never deployed), its deploy command runs, then the environment's\n"
    "restore command and its checks. --repo picks the repository when\n"
    "several have ENV: its name as 'runner status' shows it, or its path.\n";

int cmd_rollback(int argc, char **argv)
{
	const char *repo = NULL;
	int64_t to = 0;
	struct cli_session cs = { 0 };
	struct env_rec *e = NULL;
	char *user = NULL;
	struct who who = WHO_INIT;
	int rc;
	int64_t new_id;

	const struct opt opts[] = {
		OPT_STRING(0, "repo", &repo, "REPO",
		    "the repository (name or path), when more than one has "
		    "ENV"),
		OPT_JOB(0, "to", &to, "RELEASE",
		    "the release to go back to (default: the one before)"),
		OPT_END(),
	};

	if ((rc = cli_start_env(argc, argv, usage, opts, &repo, &cs, &e)) >= 0)
		goto out;
	rc = EXIT_FAIL;
	user = cli_user_name();
	who_cli(&who, user);
	/* refused there, before anything is queued */
	if ((rc = store_rollback_enqueue(cs.store, e, to, user, &who, &to,
	    &new_id)) < 0) {
		if (rc == ERR_NOTFOUND && !to)
			cli_error("%s (name one with --to; see 'runner releases "
			    "%s')", error_last(), e->name);
		else
			cli_error("%s; see 'runner releases %s'", error_last(),
			    e->name);
		rc = EXIT_FAIL;
		goto out;
	}
	wake_send(cs.home, WAKE_JOBS);
	printf("queued deployment #%lld: rollback of %s to release #%lld\n",
	    (long long)new_id, e->name, (long long)to);
	rc = EXIT_OK;
out:
	free(user);
	who_release(&who);
	env_rec_free(e);
	cli_close(&cs);
	return rc;
}
