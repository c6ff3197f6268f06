/*
 * runner artifacts JOB [--extract DIR]: list a job's archives, or extract
 * them after checking their sha256 against the store.
 */
#include "artifact.h"
#include "cli.h"
#include "jobs.h"
#include "util.h"

#include <stdlib.h>

static const char usage[] =
    "usage: runner artifacts [--home DIR] [--extract DIR] JOB\n"
    "\n"
    "List the artifact archives of JOB (path, size, files, sha256). With\n"
    "--extract, check each archive's sha256 against the one recorded and\n"
    "extract it into DIR, refusing absolute paths, '..' and writes through\n"
    "symlinks. An archive made on a host whose files this one does not see\n"
    "is first copied from the store (PostgreSQL) into the home's\n"
    "artifacts/.\n";

int cmd_artifacts(int argc, char **argv)
{
	const char *home_opt = NULL, *dest = NULL;
	struct cli_session cs = { 0 };
	struct job *j = NULL;
	int64_t id;
	int rc;

	const struct opt opts[] = {
		OPT_STRING('x', "extract", &dest, "DIR",
		    "check each archive against its sha256 and extract it "
		    "into DIR"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0 ||
	    (rc = cli_job_operand(argc, argv, usage, &id)))
		return rc;
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	if (store_job_get(cs.store, id, &j) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (!j->nartifacts) {
		cli_error("job #%lld has no artifacts (%s)", (long long)id,
		    job_state_name(j->state));
		goto out;
	}
	for (size_t i = 0; i < j->nartifacts; i++) {
		const struct artifact_rec *a = &j->artifacts[i];
		if (!dest) {
			printf("%s\t%lld\t%lld\t%s\n", a->path, (long long)a->size,
			    (long long)a->files, a->sha256);
			continue;
		}
		char *local = NULL;
		if (artifact_local(cs.store, cs.home, j->id, a->path, a->sha256,
		    &local) < 0 || artifact_extract(local, dest, a->sha256) < 0) {
			free(local);
			cli_error("%s", error_last());
			goto out;
		}
		free(local);
		printf("extracted %s (%lld files) into %s\n", a->path,
		    (long long)a->files, dest);
	}
	rc = EXIT_OK;
out:
	job_free(j);
	cli_close(&cs);
	return rc;
}
