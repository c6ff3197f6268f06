/*
 * runner retry JOB: queue a new job for the same repository, ref and
 * commit. The new job is never superseded by the push it repeats.
 */
#include "cli.h"
#include "jobs.h"
#include "util.h"
#include "wake.h"

#include <stdlib.h>

static const char usage[] =
    "usage: runner retry [--home DIR] JOB\n"
    "\n"
    "Queue a new job for the repository, ref and commit of JOB and print\n"
    "its number.\n";

int cmd_retry(int argc, char **argv)
{
	const char *home_opt = NULL;
	struct cli_session cs = { 0 };
	int64_t id, new_id;
	int rc;

	if ((rc = cli_parse(argc, argv, usage, NULL, &home_opt)) >= 0 || (rc = cli_job_operand(argc, argv, usage, &id)))
		return rc;
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	if (store_retry(cs.store, id, &new_id) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	wake_send(cs.home, WAKE_JOBS);
	printf("queued job #%lld (retry of #%lld)\n", (long long)new_id,
	    (long long)id);
	rc = EXIT_OK;
out:
	cli_close(&cs);
	return rc;
}
