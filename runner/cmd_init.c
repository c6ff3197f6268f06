/*
 * runner init: create a home with its directories, the store and a
 * commented runner.yml. Safe to run again: nothing existing is replaced.
 */
#include "cli.h"
#include "config.h"
#include "store.h"
#include "util.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner init [--home DIR]\n"
    "\n"
    "Create the runner's home: the store (runner.db), the directories for\n"
    "logs, workspaces and artifacts, and a commented runner.yml. Running it\n"
    "again on an existing home changes nothing that is there.\n";

int cmd_init(int argc, char **argv)
{
	const char *home_opt = NULL;
	static const char *const dirs[] = { "logs", "work", "artifacts" };
	struct store *s = NULL;
	char *home, *conf;
	int rc;

	if ((rc = cli_options(argc, argv, usage, NULL, NULL, NULL, NULL,
	    &home_opt)) >= 0)
		return rc;
	rc = EXIT_FAIL;
	if (optind != argc)
		return cli_usage(usage);
	home = cli_home(home_opt);
	conf = xasprintf("%s/%s", home, CONFIG_FILE);
	if (mkdir_p(home, 0755) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		char *d = xasprintf("%s/%s", home, dirs[i]);
		int e = mkdir_p(d, 0755);
		free(d);
		if (e < 0) {
			cli_error("%s", error_last());
			goto out;
		}
	}
	if (store_open(home, STORE_CREATE, &s) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (access(conf, F_OK) != 0 && write_file_atomic(conf, config_template,
	    strlen(config_template), 0644) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	printf("initialised runner home '%s'\n", home);
	rc = EXIT_OK;
out:
	store_close(s);
	free(conf);
	free(home);
	return rc;
}
