/*
 * runner-web: the web page's process (web.h). `runner web` runs it in the
 * foreground; the daemon starts it when runner.yml has http: listen.
 */
#include "cli.h"
#include "config.h"
#include "util.h"
#include "web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner web [--home DIR] [--listen HOST:PORT]\n"
    "\n"
    "Serve the read-only web page in the foreground: the overview (queue,\n"
    "running jobs, environments, recent results), repositories and\n"
    "branches (a branch with the trend of its builds' durations), all\n"
    "three filtered by ?r=REPO&b=BRANCH&s=STATE&p=PUSHER and paged by\n"
    "&before=JOB, jobs with their stages on a timeline, artifacts and\n"
    "checks, stage logs (followed live while they run), environments\n"
    "and their releases (which one served when),\n"
    "badges (/badge.svg?r=REPO&b=BRANCH or &e=ENV), the JSON of status and\n"
    "show under /api/ and Prometheus metrics at /metrics. It listens on\n"
    "--listen, else runner.yml's http: listen, else 127.0.0.1:8080 (a\n"
    "port alone means 127.0.0.1; port 0: one the system chooses, which\n"
    "the line 'web page on http://HOST:PORT/' names); it has no login: put\n"
    "it behind a proxy that authenticates\n"
    "to show it to more than this machine. The daemon starts it by itself\n"
    "when runner.yml has http: listen.\n";

int main(int argc, char **argv)
{
	const char *home_opt = NULL, *listen_opt = NULL;
	struct config *conf = NULL;
	char *home, *why = NULL;
	int rc;

	const struct opt opts[] = {
		OPT_STRING(0, "listen", &listen_opt, "HOST:PORT",
		    "where to serve (default: runner.yml's http: listen)"),
		OPT_END(),
	};

	if (argc < 2 || strcmp(argv[1], "web")) {
		fprintf(stderr, "runner-web: run it as 'runner web'\n");
		return EXIT_USAGE;
	}
	if ((rc = cli_parse(argc - 1, argv + 1, usage, opts, &home_opt)) >= 0)
		return rc;
	if (optind != argc - 1)
		return cli_usage(usage);
	/* started by the daemon: it dies with it */
	if (getenv("RUNNER_WEB_PARENT")) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != (pid_t)atoi(getenv("RUNNER_WEB_PARENT")))
			return EXIT_FAIL;
	}
	home = cli_home(home_opt);
	rc = EXIT_FAIL;
	/* started again by the daemon after a reload met a mistake: the
	 * configuration it keeps (the daemon logged the mistake) */
	if (config_load_kept(home, &conf, &why) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (!listen_opt && !(listen_opt = conf->http.listen))
		listen_opt = "127.0.0.1:8080";
	if (web_serve(home, conf, listen_opt) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	rc = EXIT_OK;
out:
	config_free(conf);
	free(why);
	free(home);
	return rc;
}
