/*
 * The folders of a deployment: its release extracted from the build's
 * artifacts, the environment's user, and its state and backup folders,
 * each made by or given to their owner.
 */
#include "deploy_int.h"
#include "artifact.h"
#include "audit.h"
#include "checkout.h"
#include "config.h"
#include "manifest.h"
#include "pipeline.h"
#include "provenance.h"
#include "run.h"
#include "step.h"
#include "envs.h"
#include "util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Make the release folder `dir`, HOME/releases/ENV/ID, closed (0700): its
 * files are written and sealed (release_seal) before anyone but the
 * runner may enter it, so nobody can open one of them for writing in
 * between. HOME/releases/ENV is passed through by the environment's user
 * (0711, whatever the daemon's umask). Both are the runner's, in folders
 * only it can write.
 */
static int release_folder(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	char *parent = xstrndup(dir, (size_t)(slash - dir));
	int pfd = -1, fd = -1, rc = 0;

	if ((rc = mkdir_p(parent, 0711)) < 0)
		goto out;
	if ((pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fchmod(pfd, 0711) < 0) {
		rc = error_set(-1, "cannot make '%s': %s", parent,
		    strerror(errno));
		goto out;
	}
	if ((mkdirat(pfd, slash + 1, 0700) < 0 && errno != EEXIST) ||
	    (fd = openat(pfd, slash + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fchmod(fd, 0700) < 0)
		rc = error_set(errno == ENOSPC ? ERR_NOSPACE : -1, "cannot make "
		    "'%s': %s", dir, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	free(parent);
	return rc;
}

/*
 * Check the provenance of the artifact of `build`, at `local` here,
 * before it is extracted (docs/provenance.md): the store's envelope, and
 * the file beside the artifact when it says something else, each signed
 * by a key this store trusts, naming the recorded digest (which the
 * extraction then checks the bytes against), the build's commit and
 * repository. A build made before the runner signed its builds has none:
 * an environment that deploys signed releases refuses it, another one
 * deploys it with a warning; so does a return to release `rel` that
 * served before (a rollback, by hand or after a failed deployment: what
 * was trusted to serve then is not refused now that it is needed
 * again). Records the verdict of the deployment's own release; what was
 * checked is appended to `report` (the extract step's log). Returns 0
 * (go on), 1 refused (*why), or a negative code when the store failed.
 */
static int release_provenance(struct deploy *d, const struct job *build,
    const struct job *rel, const char *local, struct sbuf *report,
    char **why)
{
	char *verdict = NULL, *refused = NULL;
	int returning = rel != d->job || d->job->rollback_to;
	int rc = prov_check_build(d->ctx->store, d->ctx->home, build, local,
	    report, &verdict);

	if (rc < 0 && rc != ERR_INVALID)
		return rc;
	if (rc == ERR_INVALID) {
		*why = xstrdup(error_last());
	} else if (rc == 1 && !returning && config_env_signed(d->ctx->conf,
	    d->job->env)) {
		*why = xasprintf("provenance: build #%lld has none (it was made "
		    "before the runner signed its builds), and environment '%s' "
		    "deploys signed builds only: build the commit again (runner "
		    "retry %lld)", (long long)build->id, d->job->env,
		    (long long)build->id);
		sbuf_addf(report, "%s\n", *why);
	} else if (rc == 1) {
		sbuf_addf(report, "warning: %s (deployed with a warning)\n",
		    verdict);
	}
	if (*why)
		refused = xasprintf("refused: %s", *why);
	rc = rel != d->job ? 0 : store_job_provenance(d->ctx->store, d->job->id,
	    refused ? refused : verdict);
	free(refused);
	free(verdict);
	return rc < 0 ? rc : *why ? 1 : 0;
}

/*
 * Extract the artifact of `build` into `rel`'s release folder, read-only to the
 * environment's user, and store its manifest; records the step. Returns
 * 0, 1 when it failed (*why says why; the caller frees it), or a negative
 * code when the store failed.
 */
int deploy_extract_release(struct deploy *d, const struct job *build,
    const struct job *rel, char **why)
{
	const struct artifact_rec *a = &build->artifacts[0];
	struct sbuf manifest = SBUF_INIT, checked = SBUF_INIT;
	int rc = 0;
	char *text, *local = NULL;

	*why = NULL;
	rm_rf(rel->release_dir);
	if (release_folder(rel->release_dir) < 0) {
		*why = xasprintf("release: %s", error_last());
		rc = deploy_record_step(d, "extract", 0, *why, *why, 0);
		return rc < 0 ? rc : 1;
	}
	/* the very bytes the build recorded and signed, or nothing */
	if (artifact_local(d->ctx->store, d->ctx->home, build->id, a->path,
	    a->sha256, &local) < 0) {
		*why = xasprintf("release: %s", error_last());
		rc = deploy_record_step(d, "extract", 0, *why, *why, 0);
		rc = rc < 0 ? rc : 1;
		goto out;
	}
	if ((rc = release_provenance(d, build, rel, local, &checked, why)) < 0)
		goto out;
	if (rc > 0) {
		rc = deploy_record_step(d, "extract", 0, *why, checked.buf, 0);
		rc = rc < 0 ? rc : 1;
		goto out;
	}
	if (artifact_extract(local, rel->release_dir, a->sha256) < 0 ||
	    release_seal(rel->release_dir, d->user ? d->user->gid :
	    (gid_t)-1, &manifest) < 0) {
		*why = xasprintf("release: %s", error_last());
		rc = deploy_record_step(d, "extract", 0, *why, *why, 0);
		rc = rc < 0 ? rc : 1;
		goto out;
	}
	if ((rc = store_manifest_set(d->ctx->store, rel->id, manifest.buf)) < 0)
		goto out;
	text = xasprintf("%sextracted %s (sha256 %s) into %s, read-only; %zu "
	    "files in its manifest\n", checked.buf, a->path, a->sha256,
	    rel->release_dir, manifest_count(manifest.buf));
	rc = deploy_record_step(d, "extract", 1, NULL, text, 0);
	free(text);
out:
	free(local);
	sbuf_release(&manifest);
	sbuf_release(&checked);
	return rc;
}

/* Where a release's files are extracted. */
char *deploy_release_dir(const struct deploy *d)
{
	return xasprintf("%s/releases/%s/%lld", d->ctx->home, d->env->name,
	    (long long)d->job->id);
}

/* The pipeline of `commit`, and a checkout of it at `ws`. */
int deploy_prepare(struct deploy *d, const char *commit, const char *ws,
    struct pipeline **pl)
{
	struct source *src = NULL;
	int error;

	if ((error = source_open(d->repo, commit, &src)) < 0 ||
	    (error = source_pipeline(src, pl, NULL)) < 0)
		goto out;
	rm_rf(ws);
	error = source_checkout(src, ws);
out:
	source_free(src);
	return error;
}

/* Who runs the environment's commands (only when the daemon switches
 * users): runner.yml's user for it, else the release user for an
 * environment that needs a signed tag, else the build user. */
int deploy_env_user(struct deploy *d)
{
	const struct config *c = d->ctx->conf;
	const struct env_grant *g = config_env(c, d->job->env);
	const char *name = g && g->user ? g->user :
	    config_env_signed(c, d->job->env) ? c->release_user : NULL;

	if (!name || !d->ctx->user)
		return 0;
	if (run_user_lookup(name, &d->grant_user) < 0)
		return error_set(ERR_INVALID, "environment '%s': %s (runner.yml "
		    "%s)", d->job->env, error_last(), g && g->user ?
		    "environments: user" : "release_user");
	if (d->grant_user.uid == 0 || d->grant_user.uid == geteuid())
		return error_set(ERR_INVALID, "environment '%s': user '%s' is "
		    "root or the runner's own user; its commands run as a user "
		    "of their own", d->job->env, name);
	d->user = &d->grant_user;
	return 0;
}

/*
 * The name of a repository's folders under HOME/state and HOME/backups:
 * its last path component without ".git", then 16 hex digits of the
 * sha256 of its whole path, so that two repositories named alike in
 * different folders never share one (their commands would read and write
 * each other's state).
 */
static char *repo_folder(const char *repo)
{
	char *base = repo_base_name(repo), *out;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[17];

	EVP_Digest(repo, strlen(repo), md, &mdlen, EVP_sha256(), NULL);
	hex_encode(md, 8, hex);
	out = xasprintf("%s-%s", base, hex);
	free(base);
	return out;
}

/*
 * Homes of runner 0.1 named the folders after the last path component
 * alone. Such a folder moves to its repository's own name when no other
 * repository with that component has had a deployment (it can only be
 * this one's); otherwise whose it was is unknown, and it stays for the
 * operator (`runner doctor` names it).
 */
static void adopt_old_folder(struct deploy *d, const char *kind,
			     const char *name)
{
	char *base = repo_base_name(d->job->repo);
	char *old, *new;
	char **v;
	size_t n, same = 0;
	struct stat st;

	old = xasprintf("%s/%s/%s", d->ctx->home, kind, base);
	new = xasprintf("%s/%s/%s", d->ctx->home, kind, name);
	if (lstat(old, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    lstat(new, &st) == 0 ||
	    store_repos(d->ctx->store, 1, &v, &n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char *b = repo_base_name(v[i]);
		same += !strcmp(b, base);
		free(b);
	}
	strv_free_n(v, n);
	if (same == 1 && rename(old, new) == 0)
		log_line("moved %s to %s (its repository's own name)", old,
		    new);
out:
	free(base);
	free(old);
	free(new);
}

/* One folder of a path under the home that own_dirs() makes: its mode,
 * whether an existing one is given that mode again (the daemon's umask
 * takes the search bits away), and whether it is given to the user of
 * the environment's commands. */
struct dir_step {
	const char *name;
	mode_t mode;
	int fix_mode;
	int give;
};

/*
 * Make or open the folders of `steps` under the home, each from its
 * parent's descriptor and never through a link (O_NOFOLLOW|O_DIRECTORY),
 * and change mode and owner on the descriptor. A folder that exists in
 * a folder another user can write (this environment's backups, which
 * its user owns) must be a folder of the runner's or of that user: a
 * link, or anything else that user put at the name, is refused, and
 * nothing is changed through it. The path made is in *path.
 */
static int own_dirs(struct deploy *d, const struct dir_step *steps,
    size_t n, char **path)
{
	const struct run_user *u = d->user;
	struct sbuf p = SBUF_INIT;
	struct stat up, st;
	int fd = -1, rc = 0;

	sbuf_adds(&p, d->ctx->home);
	if ((fd = open(p.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &up) < 0) {
		rc = error_set(-1, "cannot open '%s': %s", p.buf, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct dir_step *s = &steps[i];
		int made, next;

		sbuf_addf(&p, "/%s", s->name);
		made = mkdirat(fd, s->name, s->mode) == 0;
		if (!made && errno != EEXIST) {
			rc = error_set(errno == ENOSPC ? ERR_NOSPACE : -1, "cannot "
			    "create '%s': %s", p.buf, strerror(errno));
			goto out;
		}
		next = openat(fd, s->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next < 0) {
			int e = errno;
			rc = error_set(-1, fstatat(fd, s->name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) ?
			    "'%s' is a symbolic link: refused, nothing was changed "
			    "through it (remove it)" : "cannot open '%s' as a "
			    "folder: %s", p.buf, strerror(e));
			goto out;
		}
		close(fd);
		fd = next;
		if (fstat(fd, &st) < 0) {
			rc = error_set(-1, "cannot read '%s': %s", p.buf,
			    strerror(errno));
			goto out;
		}
		/* who else could have put it there: the parent's owner, or
		 * anyone its mode lets write */
		if (!made && (up.st_uid != geteuid() || (up.st_mode & 022)) &&
		    st.st_uid != geteuid() && !(u && st.st_uid == u->uid)) {
			rc = error_set(-1, "'%s' belongs to uid %d, neither the "
			    "runner's nor the environment's user: refused",
			    p.buf, (int)st.st_uid);
			goto out;
		}
		if ((made || s->fix_mode) && fchmod(fd, s->mode) < 0) {
			rc = error_set(-1, "cannot set the mode of '%s': %s", p.buf,
			    strerror(errno));
			goto out;
		}
		if (s->give && u && fchown(fd, u->uid, u->gid) < 0) {
			rc = error_set(-1, "cannot give '%s' to user '%s': %s", p.buf,
			    u->name, strerror(errno));
			goto out;
		}
		if (s->give && u && fstat(fd, &st) < 0) {
			rc = error_set(-1, "cannot read '%s': %s", p.buf,
			    strerror(errno));
			goto out;
		}
		up = st;
	}
	*path = sbuf_detach(&p);
out:
	if (fd >= 0)
		close(fd);
	sbuf_release(&p);
	return rc;
}

/* The environment's state folder, kept across deployments, owned by the
 * user of its commands: HOME/state/REPO/ENV; and beside it the folder of
 * this deployment's backup, HOME/backups/REPO/ENV/ID. The folders above
 * them are the runner's, mode 0711: the user passes through them. */
int deploy_state_dir(struct deploy *d)
{
	char *name = repo_folder(d->job->repo);
	char id[32];
	int rc;

	adopt_old_folder(d, "state", name);
	adopt_old_folder(d, "backups", name);
	snprintf(id, sizeof(id), "%lld", (long long)d->job->id);
	const struct dir_step state[] = {
		{ "state", 0711, 0, 0 },
		{ name, 0711, 1, 0 },
		{ d->env->name, 0700, 0, 1 },
	};
	const struct dir_step backup[] = {
		{ "backups", 0711, 0, 0 },
		{ name, 0711, 1, 0 },
		{ d->env->name, 0711, 1, 1 },
		{ id, 0700, 0, 1 },
	};
	rc = own_dirs(d, state, sizeof(state) / sizeof(*state), &d->state_dir);
	if (rc == 0)
		rc = own_dirs(d, backup, sizeof(backup) / sizeof(*backup),
		    &d->backup_dir);
	free(name);
	return rc;
}
