/*
 * runner cancel JOB: a queued job is canceled at once; a running one is
 * flagged and its worker ends the running stage (SIGTERM to its process
 * group, then SIGKILL after kill_grace).
 */
#include "cli.h"
#include "jobs.h"
#include "util.h"
#include "wake.h"
#include "who.h"

#include <stdlib.h>

static const char usage[] =
    "usage: runner cancel [--home DIR] JOB\n"
    "\n"
    "Cancel a queued or running job. A running stage gets SIGTERM, then\n"
    "SIGKILL after 'kill_grace'; the job ends 'canceled', recorded with\n"
    "who asked. Exit code 1 if the job has already finished.\n";

int cmd_cancel(int argc, char **argv)
{
	struct cli_session cs = { 0 };
	struct who who = WHO_INIT;
	char *user = NULL;
	int running, rc;
	int64_t id;

	if ((rc = cli_start_job(argc, argv, usage, &id, &cs)) >= 0)
		goto out;
	user = cli_user_name();
	who_cli(&who, user);
	rc = store_cancel(cs.store, id, &who, &running);
	/* a full disk: the store's reserve was released for this */
	if (rc == ERR_NOSPACE)
		rc = store_cancel(cs.store, id, &who, &running);
	if (rc < 0) {
		rc = EXIT_FAIL;
		cli_error("%s", error_last());
		goto out;
	}
	if (running) {
		wake_send(cs.home, WAKE_CANCEL);
		printf("canceling running job #%lld\n", (long long)id);
	} else {
		printf("canceled job #%lld\n", (long long)id);
	}
	rc = EXIT_OK;
out:
	free(user);
	who_release(&who);
	cli_close(&cs);
	return rc;
}
