/*
 * runner install-hook: put the post-receive hook into bare repositories.
 * The hook remembers the home and the hook binary it was installed with.
 */
#include "cli.h"
#include "home.h"
#include "install.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner install-hook [--home DIR] [--pre-receive] REPO.git...\n"
    "\n"
    "Install the runner's post-receive hook into each bare repository. A\n"
    "post-receive hook already there is kept as post-receive.chained and\n"
    "still runs after the runner's, with its exit code passed on. Running\n"
    "it again updates the hook. The home must exist ('runner init').\n"
    "\n"
    "When the repository belongs to another user than the runner's (the\n"
    "git server's: git, gitolite3, www-data), its hook hands pushes to the\n"
    "home's spool; run as root, install-hook adds that user to the home's\n"
    "group, which may do that and nothing more, and says so.\n"
    "\n"
    "--pre-receive also installs a pre-receive hook that refuses, at push\n"
    "time, a release tag that would not deploy (unsigned, lightweight,\n"
    "untrusted key, untested commit...), with the reason.\n";

static int on_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c == 'p')
		*(int *)ctx = 1;
	return 0;
}

/* runner-hook lives beside the runner binary. */
static char *hook_binary(void)
{
	const char *env = getenv("RUNNER_HOOK_BIN");

	if (env && *env)
		return realpath(env, NULL);
	return cli_sibling("runner-hook");
}

int cmd_install_hook(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pre-receive", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	char *real_home = NULL, *bin = NULL, *self = NULL;
	struct cli_session cs = { 0 };
	int rc, pre = 0;

	if ((rc = cli_options(argc, argv, usage, NULL, opts, on_opt, &pre,
	    &home_opt)) >= 0)
		return rc;
	if (optind == argc)
		return cli_usage(usage);
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	real_home = realpath(cs.home, NULL);
	bin = hook_binary();
	if (!real_home || !bin || access(bin, X_OK) != 0) {
		cli_error("cannot find the hook program '%s' (it is installed "
		    "beside 'runner')", bin ? bin : "runner-hook");
		goto out;
	}
	rc = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		char *repo = realpath(argv[i], NULL);
		int chained = 0;

		if (!repo) {
			cli_error("cannot install into '%s': %s", argv[i],
			    strerror(errno));
			rc = EXIT_FAIL;
			continue;
		}
		if (install_hook(repo, real_home, bin, "post-receive",
		    &chained) < 0) {
			cli_error("cannot install into '%s': %s", argv[i],
			    error_last());
			rc = EXIT_FAIL;
		} else {
			struct sbuf said = SBUF_INIT;
			printf("installed post-receive hook in '%s'%s\n", repo,
			    chained ? " (the existing hook runs after it, as "
			    "post-receive.chained)" : "");
			if (home_grant(real_home, repo, &said) < 0) {
				cli_error("%s", error_last());
				rc = EXIT_FAIL;
			}
			fputs(said.buf, stdout);
			sbuf_release(&said);
		}
		if (pre && rc == EXIT_OK) {
			if (!self)
				self = realpath("/proc/self/exe", NULL);
			if (!self || install_hook(repo, real_home, self,
			    "pre-receive", &chained) < 0) {
				cli_error("cannot install the pre-receive hook into "
				    "'%s': %s", argv[i], error_last());
				rc = EXIT_FAIL;
			} else {
				printf("installed pre-receive hook in '%s'%s\n", repo,
				    chained ? " (the existing hook runs after it, as "
				    "pre-receive.chained)" : "");
			}
		}
		free(repo);
	}
out:
	cli_close(&cs);
	free(self);
	free(bin);
	free(real_home);
	return rc;
}
