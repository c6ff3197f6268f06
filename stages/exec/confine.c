/*
 * The confinement of a step's sandbox (step_int.h): what it hides, what
 * it may read and write, the folders closed to it, and the files given
 * to the user it runs as.
 */
#include "step.h"
#include "step_int.h"
#include "config.h"
#include "chunks.h"
#include "envs.h"
#include "jobs.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The runner user's home directory, looked up once (NSS is not cheap). */
const char *confine_user_home(void)
{
	static char *home;

	if (!home) {
		const struct passwd *pw = getpwuid(getuid());
		home = xstrdup(pw && pw->pw_dir ? pw->pw_dir : "/");
	}
	return home;
}

/* Paths that repository code must not see, besides the home: the
 * folder of the job's repository (its siblings are other repositories;
 * the repository itself is bound back read-only) unless that is the root
 * or a system folder. Caller frees. */
static char *repo_parent(const char *repo)
{
	static const char *const system[] = { "/", "/usr", "/etc", "/var",
	    "/bin", "/lib", "/opt", "/home", "/tmp", "/srv", NULL };
	const char *slash = strrchr(repo, '/');
	char *p;

	if (!slash || slash == repo)
		return NULL;
	p = xstrndup(repo, (size_t)(slash - repo));
	for (size_t i = 0; system[i]; i++)
		if (!strcmp(p, system[i])) {
			free(p);
			return NULL;
		}
	return p;
}

static const char **strv_push(const char **v, size_t *n, const char *s)
{
	v = xrealloc(v, (*n + 2) * sizeof(*v));
	v[(*n)++] = s;
	v[*n] = NULL;
	return v;
}

/*
 * The first folder on the way to `path` (with `self`, `path` itself too)
 * that others may not enter, or NULL. The runner's users are given the
 * groups that enter such folders (gitolite's, for its repositories), and
 * a stage has them too: what is behind one is for the runner, not for
 * every build. Caller frees.
 */
static char *closed_folder(const char *path, int self)
{
	char *p = xstrdup(path);
	struct stat st;

	for (size_t i = 1; p[i - 1]; i++) {
		char c = p[i];
		if (c != '/' && (c || !self))
			continue;
		p[i] = '\0';
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
		    !(st.st_mode & S_IXOTH))
			return p;
		p[i] = c;
		if (!c)
			break;
	}
	free(p);
	return NULL;
}

/* Hide the closed folder on the way to `repo` (closed_folder()). */
static void hide_closed(struct confine *cf, size_t *nh, const char *repo,
    int self)
{
	char *c = closed_folder(repo, self);

	if (!c)
		return;
	for (size_t i = 0; i < cf->nclosed; i++)
		if (!strcmp(cf->closed[i], c)) {
			free(c);
			return;
		}
	cf->closed = xrealloc(cf->closed, (cf->nclosed + 1) *
	    sizeof(*cf->closed));
	cf->closed[cf->nclosed++] = c;
	cf->hide = strv_push(cf->hide, nh, c);
}

void confine_init(struct confine *cf, struct job_ctx *ctx,
    const struct job *job, const struct job_step *st)
{
	size_t nh = 0, nro = 0, nrw = 0;

	memset(cf, 0, sizeof(*cf));
	cf->hide = strv_push(NULL, &nh, ctx->home);
	if (strcmp(confine_user_home(), "/"))
		cf->hide = strv_push(cf->hide, &nh, confine_user_home());
	if ((cf->parent = repo_parent(job->repo)))
		cf->hide = strv_push(cf->hide, &nh, cf->parent);
	cf->private = config_private_files(ctx->conf);
	for (const char **p = cf->private; *p; p++)
		cf->hide = strv_push(cf->hide, &nh, *p);
	/* the repositories behind a folder that only a group enters (the
	 * job's own is bound back below): its siblings at every level, and
	 * every repository the runner knows of */
	hide_closed(cf, &nh, job->repo, 0);
	for (size_t i = 0; i < ctx->conf->nrepos; i++)
		if (strcmp(ctx->conf->repos[i].path, job->repo))
			hide_closed(cf, &nh, ctx->conf->repos[i].path, 1);
	char **known = NULL;
	size_t nknown = 0;
	if (ctx->store && store_repos(ctx->store, 0, &known, &nknown) < 0)
		error_clear();
	for (size_t i = 0; i < nknown; i++)
		if (strcmp(known[i], job->repo))
			hide_closed(cf, &nh, known[i], 1);
	strv_free_n(known, nknown);
	/* a repository its user may not read (gitolite's umask is 0077)
	 * stays hidden: the stage's git commands cannot see its objects */
	const struct run_user *user = st->user ? st->user : ctx->user;
	if (!user || run_user_can_reach(user, job->repo, 1))
		cf->ro = strv_push(NULL, &nro, job->repo);
	for (const char *const *p = st->ro; p && *p; p++)
		cf->ro = strv_push(cf->ro, &nro, *p);
	cf->rw = strv_push(NULL, &nrw, st->cwd);
	for (const char *const *p = st->rw; p && *p; p++)
		cf->rw = strv_push(cf->rw, &nrw, *p);
	cf->sb.hide = cf->hide;
	cf->sb.ro = cf->ro;
	cf->sb.rw = cf->rw;
	cf->sb.network = st->network;
	/* a pid namespace of its own: the step sees and signals only its
	 * own processes; services a deploy starts outlive its shell in it */
	cf->sb.pid_ns = 1;
	cf->sb.keep_ns = st->keep_detached;
}

void confine_release(struct confine *cf)
{
	strv_free_n(cf->closed, cf->nclosed);
	free(cf->hide);
	free(cf->ro);
	free(cf->rw);
	free(cf->parent);
	free(cf->private);
}

int job_confined(const struct job_ctx *ctx, int isolate)
{
	/* Without a user of its own, repository code is always confined,
	 * unless runner.yml trusts the repositories. */
	return isolate || (!ctx->user && !ctx->conf->trust_repositories);
}

int job_give(const char *path, const struct run_user *user)
{
	if (!user)
		return 0;
	/* by descriptors, children first: the build user, who may have
	 * processes on this host, can change nothing in the tree while
	 * root walks it, and no link leads root out of it */
	if (chown_tree_at(AT_FDCWD, path, user->uid, user->gid) < 0)
		return error_set(-1, "cannot give '%s' to user '%s': %s", path,
		    user->name, error_last());
	return 0;
}
