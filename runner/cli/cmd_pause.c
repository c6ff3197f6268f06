/*
 * runner pause / runner resume: hold the queue (for an upgrade, a
 * migration of the server), and release it. runner drain: hold one
 * build host.
 */
#include "admin.h"
#include "cli.h"
#include "config.h"
#include "hosts.h"
#include "util.h"
#include "wake.h"

#include <stdlib.h>
#include <unistd.h>
#include <string.h>

static const char pause_usage[] =
    "usage: runner pause [--home DIR]\n"
    "\n"
    "Hold the queue: no job starts until 'runner resume'. Pushes still\n"
    "queue their jobs, running jobs finish, notifications are still\n"
    "sent; 'runner status' says the queue is paused, by whom and since\n"
    "when. Pausing a paused queue changes nothing.\n";

static const char resume_usage[] =
    "usage: runner resume [--home DIR]\n"
    "\n"
    "Release a queue held by 'runner pause': the daemon starts the jobs\n"
    "queued meanwhile, oldest first.\n";

static int pause_or_resume(int argc, char **argv, int pause)
{
	const char *usage = pause ? pause_usage : resume_usage;
	const char *home_opt = NULL;
	struct cli_session cs = { 0 };
	char *by = NULL;
	int rc, was;

	if ((rc = cli_parse(argc, argv, usage, NULL, &home_opt)) >= 0)
		return rc;
	if (optind != argc)
		return cli_usage(usage);
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	if ((was = store_setting_get(cs.store, SETTING_PAUSED, NULL, NULL)) < 0)
		goto fail;
	if (pause) {
		by = cli_user_name();
		if (!was && store_setting_set(cs.store, SETTING_PAUSED, by) < 0)
			goto fail;
		printf(was ? "the queue was already paused\n" : "paused the "
		    "queue: no job starts until 'runner resume'\n");
	} else {
		if (was && store_setting_set(cs.store, SETTING_PAUSED, NULL) < 0)
			goto fail;
		/* the daemon looks for work at once */
		wake_send(cs.home, WAKE_JOBS);
		printf(was ? "resumed the queue\n" : "the queue was not "
		    "paused\n");
	}
	rc = EXIT_OK;
	goto out;
fail:
	cli_error("%s", error_last());
out:
	free(by);
	cli_close(&cs);
	return rc;
}

static const char drain_usage[] =
    "usage: runner drain [--home DIR] [--undo] [HOST]\n"
    "\n"
    "Drain a build host (default: this one, runner.yml's host: name, else\n"
    "the machine's host name): it finishes the jobs it runs and claims no\n"
    "new one, so it can be stopped or upgraded; other hosts take the\n"
    "queue. --undo lets it claim again. 'runner status' shows drained\n"
    "hosts, by whom and since when.\n";

int cmd_drain(int argc, char **argv)
{
	const char *home_opt = NULL;
	struct cli_session cs = { 0 };
	struct config *conf = NULL;
	char *host = NULL, *by = NULL;
	int rc, undo = 0;
	const struct opt opts[] = {
		OPT_BOOL(0, "undo", &undo, "let the host claim jobs again"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, drain_usage, opts, &home_opt)) >= 0)
		return rc;
	if (argc - optind > 1)
		return cli_usage(drain_usage);
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	if (optind < argc) {
		host = xstrdup(argv[optind]);
	} else if (cli_session_config(&cs, 0, &conf) < 0) {
		goto fail;
	} else {
		host = config_host_name(conf);
	}
	if (!*host) {
		cli_error("a host name cannot be empty");
		goto out;
	}
	by = cli_user_name();
	if (store_host_drain(cs.store, host, !undo, by) < 0)
		goto fail;
	if (undo) {
		wake_send(cs.home, WAKE_JOBS);
		printf("host '%s' claims jobs again\n", host);
	} else {
		printf("drained host '%s': it finishes what it runs and claims "
		    "nothing new ('runner drain --undo %s' ends it)\n", host,
		    host);
	}
	rc = EXIT_OK;
	goto out;
fail:
	cli_error("%s", error_last());
out:
	config_free(conf);
	free(host);
	free(by);
	cli_close(&cs);
	return rc;
}

int cmd_pause(int argc, char **argv)
{
	return pause_or_resume(argc, argv, 1);
}

int cmd_resume(int argc, char **argv)
{
	return pause_or_resume(argc, argv, 0);
}
