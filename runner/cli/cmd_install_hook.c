/*
 * runner install-hook: put the post-receive hook into bare repositories.
 * The hook remembers the home and the hook binary it was installed with.
 */
#include "cli.h"
#include "home.h"
#include "install.h"
#include "run.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    "A repository that gitolite manages gets the hook through gitolite's\n"
    "common hooks (its ~/.gitolite/hooks/common), which gitolite links into\n"
    "every repository it manages, new ones too; gitolite's own hooks go on\n"
    "running.\n"
    "\n"
    "--pre-receive also installs a pre-receive hook that refuses, at push\n"
    "time, a release tag that would not deploy (unsigned, lightweight,\n"
    "untrusted key, untested commit...), with the reason, and an update of\n"
    "refs/notes/runner (the runner's results), which the post-receive hook\n"
    "otherwise undoes after the fact.\n";

/*
 * A repository that gitolite manages: the hooks go into gitolite's common
 * hooks, which gitolite links into every repository it manages (new ones
 * too, and again whenever it rewrites their hooks), and `gitolite setup
 * --hooks-only` links them now. All of it as gitolite's user `owner`
 * (install_gitolite_hooks), never as root: gitolite runs its home's
 * .gitolite.rc, which is that user's.
 */
static int gitolite_install(const char *common, uid_t owner, const char *home,
    const char *bin, int pre)
{
	const char *argv[] = { "gitolite", "setup", "--hooks-only", NULL };
	char *base = xstrndup(common, strlen(common) - strlen("/hooks/common"));
	char *gl_home = xstrndup(base, (size_t)(strrchr(base, '/') - base));
	char *env_home = xasprintf("HOME=%s", gl_home);
	char *const envp[] = { env_home,
	    "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C", NULL };
	struct run_user u = { 0 };
	struct sbuf out = SBUF_INIT, err = SBUF_INIT;
	char *self = NULL;
	int chained = 0, error;

	if (owner != geteuid()) {
		char id[32];
		snprintf(id, sizeof(id), "%d", (int)owner);
		if (geteuid() != 0) {
			error = error_set(-1, "gitolite's hooks belong to another "
			    "user: run install-hook as root or as that user");
			goto out;
		}
		if ((error = run_user_lookup(id, &u)) < 0)
			goto out;
	}
	if ((error = install_hook_into(common, owner, home, bin,
	    "post-receive", &chained)) < 0)
		goto out;
	if (pre) {
		self = realpath("/proc/self/exe", NULL);
		if (!self || (error = install_hook_into(common, owner, home, self,
		    "pre-receive", &chained)) < 0)
			goto out;
	}
	struct child c = { .argv = argv, .envp = envp, .cwd = gl_home,
	    .user = u.name ? &u : NULL };
	error = child_capture(&c, NULL, 0, &out, &err, 120000);
	if (error != 0) {
		error = error_set(-1, "'gitolite setup --hooks-only' failed: %s",
		    err.len ? err.buf : error > 0 ? "exit code" : error_last());
		goto out;
	}
	printf("installed %s hook%s in gitolite's common hooks '%s': gitolite "
	    "links %s into every repository it manages, new ones too (linked "
	    "now by 'gitolite setup --hooks-only')%s\n", pre ?
	    "post-receive and pre-receive" : "post-receive", pre ? "s" : "",
	    common, pre ? "them" : "it", chained ? "; the common hook that was "
	    "there runs after it" : "");
out:
	run_user_release(&u);
	sbuf_release(&out);
	sbuf_release(&err);
	free(self);
	free(env_home);
	free(gl_home);
	free(base);
	return error < 0 ? error : 0;
}

/*
 * Let pushes to `repo` carry options (git push -o ci.skip, ci.variable=):
 * receive.advertisePushOptions in its config, written by git itself. Run
 * as root on another user's repository, git runs as that user: the
 * config is that user's file, and a link it planted in its own folder
 * leads the write nowhere it could not write itself (root chowning the
 * config afterwards, by name, would follow one).
 */
static int push_options_on(const char *repo)
{
	char *cfg = xasprintf("%s/config", repo);
	/* --file: no repository discovery, so no ownership check either */
	const char *argv[] = { "git", "config", "--file", cfg,
	    "receive.advertisePushOptions", "true", NULL };
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	struct child c = { .argv = argv, .envp = envp, .cwd = repo };
	struct run_user u = { 0 };
	struct sbuf err = SBUF_INIT;
	struct stat st;
	char id[32];
	int rc;

	if (geteuid() == 0 && lstat(repo, &st) == 0 && st.st_uid != 0) {
		snprintf(id, sizeof(id), "%d", (int)st.st_uid);
		if ((rc = run_user_lookup(id, &u)) < 0) {
			rc = error_set(rc, "cannot turn on push options in '%s' as "
			    "its owner: %s", cfg, error_last());
			goto out;
		}
		c.user = &u;
	}
	rc = child_capture(&c, NULL, 0, NULL, &err, 60000);
	if (rc != 0)
		rc = error_set(-1, "cannot turn on push options in '%s': %s", cfg,
		    err.len ? err.buf : rc > 0 ? "git config failed" :
		    error_last());
out:
	run_user_release(&u);
	sbuf_release(&err);
	free(cfg);
	return rc;
}

/* runner-hook lives beside the runner binary. */
static char *hook_binary(void)
{
	const char *env = getenv("RUNNER_HOOK_BIN");

	if (env && *env)
		return realpath(env, NULL);
	return run_sibling("runner-hook");
}

int cmd_install_hook(int argc, char **argv)
{
	const char *home_opt = NULL;
	char *real_home = NULL, *bin = NULL, *self = NULL;
	struct cli_session cs = { 0 };
	int rc, pre = 0;

	const struct opt opts[] = {
		OPT_BOOL(0, "pre-receive", &pre,
		    "also install the pre-receive hook, which refuses "
		    "unsigned release tags"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
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
		uid_t gl_user = 0;
		char *gl = install_gitolite_hooks(repo, &gl_user);
		if (gl) {
			if (push_options_on(repo) < 0)
				fprintf(stderr, "runner: warning: %s\n", error_last());
			if (gitolite_install(gl, gl_user, real_home, bin, pre) < 0) {
				cli_error("cannot install into gitolite's hooks for "
				    "'%s': %s", argv[i], error_last());
				rc = EXIT_FAIL;
			} else {
				struct sbuf said = SBUF_INIT;
				if (home_grant(real_home, repo, &said) < 0) {
					cli_error("%s", error_last());
					rc = EXIT_FAIL;
				}
				fputs(said.buf, stdout);
				sbuf_release(&said);
			}
			free(gl);
			free(repo);
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
			if (push_options_on(repo) < 0) {
				cli_error("%s", error_last());
				rc = EXIT_FAIL;
			}
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
