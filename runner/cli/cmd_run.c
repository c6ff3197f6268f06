/*
 * runner run REPO REF [--var NAME=VALUE]...: queue a build of a branch's
 * (or tag's) head by hand, with variables for its stages.
 */
#include "checkout.h"
#include "cli.h"
#include "who.h"
#include "config.h"
#include "hook.h"
#include "jobs.h"
#include "util.h"
#include "wake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner run [--home DIR] [--var NAME=VALUE]... REPO.git REF\n"
    "\n"
    "Queue a build of the commit REF (a branch's or tag's name, or a full\n"
    "ref) points to in the bare repository REPO (its path, or the name\n"
    "status shows), whether or not runner.yml's triggers match it, and\n"
    "print its number. It is recorded as asked for by hand, by you, and\n"
    "is never superseded by a push. Each --var is given to its stages as\n"
    "an environment variable (NAME: letters, digits and _, one that\n"
    "runner.yml's 'variables' of the repository allows, never one the\n"
    "loader or a shell reads at start-up; VALUE: one line); `runner show`\n"
    "lists them. Variables are not secrets: they are stored and shown as\n"
    "given.\n"
    "A commit message saying [skip ci] does not stop a run by hand.\n";

int cmd_run(int argc, char **argv)
{
	const char *home_opt = NULL;
	struct cli_session cs = { 0 };
	struct sbuf vars = SBUF_INIT;
	char hex[65], *full = NULL, *repo = NULL, *user = NULL;
	struct who who = WHO_INIT;
	int rc, skip = 0, wait = 0;
	struct enqueued e;

	/* --var may be given many times: gathered here before the table
	 * parser sees the rest */
	char **rest = xcalloc((size_t)argc + 1, sizeof(*rest));
	int nrest = 0;
	for (int i = 0; i < argc; i++) {
		const char *v = NULL;
		if (!strcmp(argv[i], "--var") && i + 1 < argc)
			v = argv[++i];
		else if (!strncmp(argv[i], "--var=", 6))
			v = argv[i] + 6;
		else
			rest[nrest++] = argv[i];
		if (v) {
			/* checked as git push -o ci.variable= is */
			char *opt = xasprintf("ci.variable=%s", v);
			struct sbuf one = SBUF_INIT;
			setenv("GIT_PUSH_OPTION_COUNT", "1", 1);
			setenv("GIT_PUSH_OPTION_0", opt, 1);
			hook_push_options(stderr, &skip, &wait, &one);
			unsetenv("GIT_PUSH_OPTION_COUNT");
			unsetenv("GIT_PUSH_OPTION_0");
			free(opt);
			if (!one.len) {
				sbuf_release(&one);
				free(rest);
				sbuf_release(&vars);
				return EXIT_USAGE;
			}
			sbuf_add(&vars, one.buf, one.len);
			sbuf_release(&one);
		}
	}
	const char *var_seen = NULL;	/* gathered above */
	const struct opt opts[] = {
		OPT_STRING(0, "var", &var_seen, "NAME=VALUE", "a variable for the "
		    "stages (repeatable)"),
		OPT_END(),
	};
	if ((rc = cli_parse(nrest, rest, usage, opts, &home_opt)) >= 0)
		goto done;
	if (optind + 2 != nrest) {
		rc = cli_usage(usage);
		goto done;
	}
	rc = EXIT_FAIL;
	/* a path, else the name status shows (cli_find_repo) */
	if (!(repo = realpath(rest[optind], NULL)) && (cli_open(home_opt,
	    &cs) < 0 || cli_find_repo(cs.store, rest[optind], &repo) < 0))
		goto done;
	if (source_ref_head(repo, rest[optind + 1], &full, hex) < 0) {
		cli_error("%s", error_last());
		goto done;
	}
	if (!cs.store && cli_open(home_opt, &cs) < 0)
		goto done;
	if (vars.len) {
		struct config *conf = NULL;
		struct sbuf kept = SBUF_INIT, refused = SBUF_INIT;
		if (cli_session_config(&cs, 0, &conf) < 0) {
			cli_error("%s", error_last());
			goto done;
		}
		size_t bad = config_variables_filter(conf, repo, vars.buf, &kept,
		    &refused);
		config_free(conf);
		sbuf_release(&kept);
		if (bad) {
			sbuf_truncate(&refused, refused.len - 1);
			cli_error("%s", refused.buf);
			sbuf_release(&refused);
			goto done;
		}
		sbuf_release(&refused);
	}
	user = cli_user_name();
	who_cli(&who, user);
	struct push p = { repo, full, "0000000000000000000000000000000000000000",
	    hex, NULL, NULL, vars.len ? vars.buf : NULL, user, &who };
	if (store_enqueue(cs.store, &p, 1, &e) < 0) {
		cli_error("%s", error_last());
		goto done;
	}
	wake_send(cs.home, WAKE_JOBS);
	printf("queued job #%lld for %s %.7s (by hand, by %s)\n",
	    (long long)e.id, ref_short_name(full), hex, user);
	rc = EXIT_OK;
done:
	cli_close(&cs);
	free(user);
	who_release(&who);
	free(full);
	free(repo);
	free(rest);
	sbuf_release(&vars);
	return rc;
}
