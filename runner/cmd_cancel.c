/*
 * runner cancel JOB: a queued job is canceled at once; a running one is
 * flagged and its worker ends the running stage (SIGTERM to its process
 * group, then SIGKILL after kill_grace).
 */
#include "cli.h"
#include "hook.h"
#include "store.h"
#include "util.h"

#include <getopt.h>
#include <stdlib.h>

static const char usage[] =
    "usage: runner cancel [--home DIR] JOB\n"
    "\n"
    "Cancel a queued or running job. A running stage gets SIGTERM, then\n"
    "SIGKILL after 'kill_grace'; the job ends 'canceled'. Exit code 1 if\n"
    "the job has already finished.\n";

int cmd_cancel(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	struct store *s = NULL;
	int c, running, rc = EXIT_FAIL;
	int64_t id;
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
	if (store_cancel(s, id, &running) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (running) {
		hook_wake(home, "cancel");
		printf("canceling running job #%lld\n", (long long)id);
	} else {
		printf("canceled job #%lld\n", (long long)id);
	}
	rc = EXIT_OK;
out:
	store_close(s);
	free(home);
	return rc;
}
