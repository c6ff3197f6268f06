/*
 * runner retry JOB: queue a new job for the same repository, ref and
 * commit. The new job is never superseded by the push it repeats.
 */
#include "cli.h"
#include "hook.h"
#include "store.h"
#include "util.h"

#include <getopt.h>
#include <stdlib.h>

static const char usage[] =
    "usage: runner retry [--home DIR] JOB\n"
    "\n"
    "Queue a new job for the repository, ref and commit of JOB and print\n"
    "its number.\n";

int cmd_retry(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	struct store *s = NULL;
	int c, rc = EXIT_FAIL;
	int64_t id, new_id;
	char *home;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'H')
			home_opt = optarg;
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
	if (store_retry(s, id, &new_id) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	hook_wake(home, "wake");
	printf("queued job #%lld (retry of #%lld)\n", (long long)new_id,
	    (long long)id);
	rc = EXIT_OK;
out:
	store_close(s);
	free(home);
	return rc;
}
