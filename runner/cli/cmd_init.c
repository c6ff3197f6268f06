/*
 * runner init: create a home with its directories, the store and a
 * commented runner.yml. Safe to run again: nothing existing is replaced.
 */
#include "cli.h"
#include "config.h"
#include "home.h"
#include "run.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner init [--home DIR]\n"
    "\n"
    "Create the runner's home: the store (runner.db), the directories for\n"
    "logs, workspaces, artifacts, releases and the spool, a commented\n"
    "runner.yml, and the ed25519 key that signs each artifact's provenance\n"
    "(provenance.key, the runner's user's alone; provenance.pub, to\n"
    "publish: see 'runner verify'). Run as root, it also creates the group\n"
    "'runner' (through which the hooks of other users queue pushes), the\n"
    "build user (runner.yml build_user, default runner-build) that runs\n"
    "the commands of staging, a user for each worker (runner.yml workers)\n"
    "that runs its build stages (runner-build-0, runner-build-1...), and\n"
    "the release user (release_user, runner-release) that runs the\n"
    "commands of production. Running it again changes nothing that is\n"
    "there, but makes a missing key, creates the users of workers added\n"
    "since and gives every file of the home its safe mode again.\n";

int cmd_init(int argc, char **argv)
{
	const char *home_opt = NULL;
	struct store *s = NULL;
	struct config *conf = NULL;
	struct sbuf said = SBUF_INIT;
	gid_t gid = (gid_t)-1;
	char *home, *conf_path;
	int rc;

	if ((rc = cli_parse(argc, argv, usage, NULL, &home_opt)) >= 0)
		return rc;
	rc = EXIT_FAIL;
	if (optind != argc)
		return cli_usage(usage);
	umask(077);
	home = cli_home(home_opt);
	conf_path = xasprintf("%s/%s", home, CONFIG_FILE);
	if (home_prepare(home, (gid_t)-1) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	/* written in the home's real folder: the temporary and the rename
	 * never go through a link (a home may be one, /var/lib/runner to a
	 * disk of its own) */
	char *real = realpath(home, NULL);
	char *real_conf = real ? xasprintf("%s/%s", real, CONFIG_FILE) :
	    xstrdup(conf_path);
	free(real);
	struct sbuf sample = SBUF_INIT;
	config_sample(&sample);
	int wrote = access(conf_path, F_OK) == 0 || write_file_atomic(real_conf,
	    sample.buf, sample.len, 0600) == 0;
	sbuf_release(&sample);
	free(real_conf);
	if (!wrote) {
		cli_error("%s", error_last());
		goto out;
	}
	if (config_load(home, &conf) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (geteuid() == 0) {
		if (home_users(conf->build_user, conf->release_user,
		    config_workers(conf), &gid, &said) < 0) {
			cli_error("%s", error_last());
			goto out;
		}
	} else {
		gid = getegid();
	}
	if (store_open(home, conf->store, STORE_CREATE, &s) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (home_prepare(home, gid) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	/* the key that signs provenance: made by runner-worker, which
	 * links libcrypto (runner does not) */
	{
		char *prog = run_sibling(WORKER_PROGRAM);
		const char *argv_key[] = { prog ? prog : WORKER_PROGRAM,
		    PROVENANCE_KEY_COMMAND, home, NULL };
		struct sbuf out = SBUF_INIT, err = SBUF_INIT;
		int krc = run_helper(argv_key, NULL, 0, &out, &err, 60000);
		if (krc != 0) {
			cli_error("cannot make the provenance key: %s", err.len ?
			    err.buf : error_last());
			free(prog);
			sbuf_release(&out);
			sbuf_release(&err);
			goto out;
		}
		sbuf_adds(&said, out.buf);
		free(prog);
		sbuf_release(&out);
		sbuf_release(&err);
	}
	fputs(said.buf, stdout);
	printf("initialised runner home '%s'\n", home);
	rc = EXIT_OK;
out:
	store_close(s);
	config_free(conf);
	sbuf_release(&said);
	free(conf_path);
	free(home);
	return rc;
}
