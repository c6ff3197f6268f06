/*
 * runner serve: run the daemon in the foreground (a service manager or
 * `&` puts it in the background). It logs to stderr.
 */
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "util.h"

#include <stdlib.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner serve [--home DIR] [--workers N] [--log-file FILE]\n"
    "\n"
    "Run the supervisor and N worker processes (default: 'workers' in\n"
    "runner.yml, else the number of cores). Jobs queued while the daemon\n"
    "was down run when it starts; jobs a dead daemon left running are\n"
    "queued again. SIGTERM or SIGINT stops it: running stages get\n"
    "'shutdown_grace' to finish, then are killed and their jobs recorded\n"
    "'interrupted'. SIGHUP reads runner.yml again and reopens the log\n"
    "file (after logrotate); a runner.yml with a mistake is logged once,\n"
    "and the workers, the spool, status and the web page keep the last\n"
    "good one (a copy in the home, runner.yml.last-good) and show the\n"
    "mistake as a warning until a reload reads a correct file ('runner\n"
    "check --config' checks one first). At the start, a runner.yml with a\n"
    "mistake stops serve. Logs go to stderr, one line per event, a\n"
    "warning starting 'warning:'; under systemd each line carries its\n"
    "level for the journal. The daemon runs 'runner gc' every retention\n"
    "'interval'.\n"
    "\n"
    "Code from repositories never runs as the daemon's user: as root the\n"
    "daemon runs the build stages of worker N as runner.yml's build_user\n"
    "with -N (runner-build-0, runner-build-1...: limits per user, like\n"
    "processes, count per job), creating the users of its workers that\n"
    "are missing, and the commands of environments as build_user (staging)\n"
    "and release_user (production), in a bubblewrap sandbox; as any other\n"
    "user, in the sandbox (its stages then share the daemon user's\n"
    "limits). serve refuses to start, saying what to do, when it cannot\n"
    "(no such user, no bubblewrap), unless runner.yml says\n"
    "trust_repositories: true: then repository code, environments'\n"
    "commands too, runs as the daemon's own user (root, as root), still in\n"
    "the sandbox unless isolate: false as well. Idle workers leave\n"
    "'idle_exit' after their last job and are started again for work.\n"
    "\n"
    "A write of the store to disk that fails (a sync of its log) stops\n"
    "serve with an error and leaves the mark HOME/store-disk-failed:\n"
    "serve refuses to start while it is there. Check the disk, then\n"
    "remove it.\n";

int cmd_serve(int argc, char **argv)
{
	const char *home_opt = NULL, *log_opt = NULL;
	struct config *conf = NULL;
	int workers = 0, rc;
	char *home, *log_file = NULL;

	const struct opt opts[] = {
		OPT_INT('w', "workers", &workers, "N",
		    "jobs run at once (default: runner.yml's workers)", 1, 256),
		OPT_STRING(0, "log-file", &log_opt, "FILE", "log there (appended) "
		    "instead of stderr; SIGHUP reopens it"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
		return rc;
	if (optind != argc)
		return cli_usage(usage);
	rc = EXIT_FAIL;
	home = cli_home(home_opt);
	if (log_opt) {
		char *cwd = getcwd(NULL, 0);
		log_file = log_opt[0] == '/' || !cwd ? xstrdup(log_opt) :
		    xasprintf("%s/%s", cwd, log_opt);
		free(cwd);
		/* the workers reopen it too, on the SIGHUP passed on to them */
		if (log_reopen(log_file) < 0 ||
		    setenv("RUNNER_LOG_FILE", log_file, 1) < 0) {
			cli_error("%s", error_last());
			goto out;
		}
	}
	/* strict at the start: what is served must be what the file says;
	 * a copy is kept, which the workers, the web page and the CLI fall
	 * back on should a reload meet a mistake */
	if ((rc = config_load_keep(home, &conf)) < 0) {
		rc = cli_error("%s", error_last());
		goto out;
	}
	if (rc > 0)
		log_line("warning: cannot keep a copy of %s: %s", CONFIG_FILE,
		    error_last());
	rc = EXIT_FAIL;
	if (!workers)
		workers = config_workers(conf);
	if (daemon_serve(home, conf, workers, log_file) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	rc = EXIT_OK;
out:
	config_free(conf);
	free(home);
	free(log_file);
	return rc;
}
