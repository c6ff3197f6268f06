/*
 * runner artifacts JOB [--extract DIR]: list a job's archives, or extract
 * them after checking their sha256 against the store.
 */
#include "artifact.h"
#include "cli.h"
#include "store.h"
#include "util.h"

#include <getopt.h>
#include <stdlib.h>

static const char usage[] =
    "usage: runner artifacts [--home DIR] [--extract DIR] JOB\n"
    "\n"
    "List the artifact archives of JOB (path, size, files, sha256). With\n"
    "--extract, check each archive's sha256 against the one recorded and\n"
    "extract it into DIR, refusing absolute paths, '..' and writes through\n"
    "symlinks.\n";

int cmd_artifacts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "extract", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *dest = NULL;
	struct store *s = NULL;
	struct job *j = NULL;
	int c, rc = EXIT_FAIL;
	int64_t id;
	char *home;

	while ((c = getopt_long(argc, argv, "hx:", opts, NULL)) != -1) {
		if (c == 'H')
			home_opt = optarg;
		else if (c == 'x')
			dest = optarg;
		else if (c == 'h') {
			fputs(usage, stdout);
			return EXIT_OK;
		} else
			return cli_usage(usage);
	}
	if (optind + 1 != argc)
		return cli_usage(usage);
	if ((id = cli_job_id(argv[optind])) < 0) {
		cli_error("'%s' is not a job number", argv[optind]);
		return EXIT_USAGE;
	}
	home = cli_home(home_opt);
	if (!(s = cli_store(home)))
		goto out;
	if (store_job_get(s, id, &j) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (!j->nartifacts) {
		cli_error("job #%lld has no artifacts (%s)", (long long)id,
		    j->state);
		goto out;
	}
	for (size_t i = 0; i < j->nartifacts; i++) {
		const struct artifact_rec *a = &j->artifacts[i];
		if (!dest) {
			printf("%s\t%lld\t%lld\t%s\n", a->path, (long long)a->size,
			    (long long)a->files, a->sha256);
			continue;
		}
		if (artifact_extract(a->path, dest, a->sha256) < 0) {
			cli_error("%s", error_last());
			goto out;
		}
		printf("extracted %s (%lld files) into %s\n", a->path,
		    (long long)a->files, dest);
	}
	rc = EXIT_OK;
out:
	job_free(j);
	store_close(s);
	free(home);
	return rc;
}
