/*
 * One job, start to end. Failures of the job (bad pipeline, a stage that
 * fails, a full disk) are outcomes recorded in the store; only a failing
 * store is an error of this function.
 */
#include "job.h"
#include "artifact.h"
#include "mask.h"
#include "checkout.h"
#include "config.h"
#include "deploy.h"
#include "pipeline.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

/* What is left of a log that filled the disk. */
#define LOG_KEPT_ON_ENOSPC (64 * 1024)

char *job_log_path(const char *home, int64_t id, int idx, const char *name)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addf(&sb, "%s/logs/%lld/%02d-", home, (long long)id, idx);
	/* step names like "check /api/health" become file names too */
	for (const char *c = name; *c; c++)
		sbuf_addch(&sb, (*c >= 'a' && *c <= 'z') || (*c >= '0' &&
		    *c <= '9') || *c == '-' || *c == '_' ? *c : '_');
	sbuf_adds(&sb, ".log");
	return sbuf_detach(&sb);
}

char *job_workspace_path(const char *home, int64_t id)
{
	return xasprintf("%s/work/%lld", home, (long long)id);
}

/*
 * A finished build's workspace is moved aside in one rename and deleted
 * when the worker is idle, or after DISCARD_BATCH of them, so that removing
 * a tree is not on the way from one job to the next.
 */
#define DISCARD_DIR "work/.discard"
#define DISCARD_BATCH 64
static int discarded;

void job_purge_workspaces(const char *home)
{
	char *dir = xasprintf("%s/%s", home, DISCARD_DIR);

	rm_rf(dir);
	discarded = 0;
	free(dir);
}

int job_workspaces_discarded(void)
{
	return discarded;
}

static void discard_workspace(const char *home, const char *ws, int64_t id)
{
	char *dir = xasprintf("%s/%s", home, DISCARD_DIR);
	char *to = xasprintf("%s/%lld.%d", dir, (long long)id, (int)getpid());

	if ((mkdir(dir, 0755) == 0 || errno == EEXIST) && rename(ws, to) == 0) {
		if (++discarded >= DISCARD_BATCH)
			job_purge_workspaces(home);
	} else {
		rm_rf(ws);
	}
	free(to);
	free(dir);
}

char *job_artifact_path(const char *home, int64_t id)
{
	return xasprintf("%s/artifacts/%lld.tar.zst", home, (long long)id);
}

struct env {
	char **v;
	size_t n;
};

static void env_set(struct env *e, const char *kv)
{
	size_t klen = strcspn(kv, "=");

	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], kv, klen) && e->v[i][klen] == '=') {
			free(e->v[i]);
			e->v[i] = xstrdup(kv);
			return;
		}
	e->v = xrealloc(e->v, (e->n + 2) * sizeof(*e->v));
	e->v[e->n++] = xstrdup(kv);
	e->v[e->n] = NULL;
}

static void env_setf(struct env *e, const char *key, const char *val)
{
	char *kv = xasprintf("%s=%s", key, val);

	env_set(e, kv);
	free(kv);
}

static void env_free(struct env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
}

/* The runner user's home directory, looked up once (NSS is not cheap). */
static const char *user_home(void)
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
 * The sandbox of one step: the system read-only; the runner's home, its
 * user's home, the private files runner.yml names and the other
 * repositories hidden; the job's own repository read-only (the workspace
 * borrows its objects); the workspace and the step's own paths writable.
 */
struct confine {
	struct run_sandbox sb;
	const char **hide, **ro, **rw;
	char *parent;
	const char **private;
};

static void confine_init(struct confine *cf, struct job_ctx *ctx,
    const struct job *job, const struct job_step *st)
{
	size_t nh = 0, nro = 0, nrw = 0;

	memset(cf, 0, sizeof(*cf));
	cf->hide = strv_push(NULL, &nh, ctx->home);
	if (strcmp(user_home(), "/"))
		cf->hide = strv_push(cf->hide, &nh, user_home());
	if ((cf->parent = repo_parent(job->repo)))
		cf->hide = strv_push(cf->hide, &nh, cf->parent);
	cf->private = config_private_files(ctx->conf);
	for (const char **p = cf->private; *p; p++)
		cf->hide = strv_push(cf->hide, &nh, *p);
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
	/* services a deploy starts must outlive its shell */
	cf->sb.pid_ns = !st->keep_detached;
}

static void confine_release(struct confine *cf)
{
	free(cf->hide);
	free(cf->ro);
	free(cf->rw);
	free(cf->parent);
	free(cf->private);
}

static uid_t give_uid;
static gid_t give_gid;

static int give_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return lchown(path, give_uid, give_gid) < 0 ? -1 : 0;
}

int job_give(const char *path, const struct run_user *user)
{
	if (!user)
		return 0;
	give_uid = user->uid;
	give_gid = user->gid;
	if (nftw(path, give_one, 32, FTW_PHYS | FTW_MOUNT) < 0)
		return error_set(-1, "cannot give '%s' to user '%s': %s", path,
		    user->name, strerror(errno));
	return 0;
}

static void build_env(struct job_ctx *ctx, const struct job *job,
    const char *name, const char *ws, char *const *extra, struct env *e)
{
	char id[32];

	snprintf(id, sizeof(id), "%lld", (long long)job->id);
	env_setf(e, "PATH", ctx->conf->path_env);
	env_setf(e, "LANG", "C.UTF-8");
	env_setf(e, "CI", "true");
	env_setf(e, "RUNNER_JOB", id);
	env_setf(e, "RUNNER_REPO", job->repo);
	env_setf(e, "RUNNER_REF", job->ref);
	env_setf(e, "RUNNER_BRANCH", !strncmp(job->ref, "refs/heads/", 11) ?
	    job->ref + 11 : job->ref);
	env_setf(e, "RUNNER_COMMIT", job->commit);
	env_setf(e, "RUNNER_STAGE", name);
	env_setf(e, "RUNNER_WORKSPACE", ws);
	for (char *const *p = extra; p && *p; p++)
		env_set(e, *p);
}

struct stage_arg {
	struct job_ctx *ctx;
	int64_t job;
	int idx;
	int store_error;
};

static void on_start(pid_t pgid, void *arg)
{
	struct stage_arg *sa = arg;

	if (store_stage_start(sa->ctx->store, sa->job, sa->idx, pgid, 0) < 0)
		sa->store_error = -1;
}

static enum stage_event on_event(void *arg)
{
	struct stage_arg *sa = arg;

	return sa->ctx->on_event(sa->ctx->arg);
}

/* Append a line of the runner's own to a stage log. */
static void log_note(int fd, const char *msg)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addf(&sb, "[runner: %s]\n", msg);
	write_all(fd, sb.buf, sb.len);
	sbuf_release(&sb);
}

/*
 * Run `st` as stage `idx` of `job`, its output in `log`. On return
 * res->state is the stage's state and res->error (caller frees) why it did
 * not pass; res->fd is the log, still open for notes. Returns 0, or a
 * negative code if the store failed.
 */
struct logged {
	const char *state;
	char *error;
	int fd;
	int exit_code;
	int canceled, interrupted;
};

static int run_logged(struct job_ctx *ctx, const struct job *job, int idx,
    const char *log, const struct job_step *st, struct logged *res)
{
	struct stage_arg sa = { ctx, job->id, idx, 0 };
	struct stage_result r;
	struct env env = { 0 };
	struct sbuf dur = SBUF_INIT;
	char *err = NULL;

	memset(res, 0, sizeof(*res));
	res->fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0644);
	if (res->fd < 0) {
		res->state = "failed";
		res->error = xasprintf("cannot create log '%s': %s%s", log,
		    strerror(errno), errno == ENOSPC ? " (no space)" : "");
		return 0;
	}
	const struct run_user *user = st->user ? st->user : ctx->user;
	/* Without a user of its own, repository code is always confined,
	 * unless runner.yml trusts the repositories. */
	int isolate = st->isolate || (!ctx->user && !ctx->conf->trust_repositories);
	build_env(ctx, job, st->name, st->cwd, st->env, &env);
	if (isolate)
		env_setf(&env, "HOME", "/tmp");
	else if (user)
		env_setf(&env, "HOME", access(user->home, W_OK) == 0 ?
		    user->home : st->cwd);
	else
		env_setf(&env, "HOME", user_home());
	/* what a stage starts may not outlive the daemon; services that a
	 * deploy detaches may */
	if (!st->keep_detached)
		env_setf(&env, STAGE_OWNER_VAR, st->cwd);
	/* secrets last: a stage's env cannot shadow one it asked for */
	size_t nsec = 0;
	const char **values = NULL;
	for (char *const *p = st->secrets; p && *p; p++) {
		const struct secret *def = config_secret_def(ctx->conf, *p);
		const char *v = def ? def->value : NULL;
		char *why = NULL;
		if (!def || !secret_allowed(def, st->env_name, job->ref, job->repo,
		    &why)) {
			env_free(&env);
			free(values);
			res->state = "failed";
			res->exit_code = -1;
			res->error = def ? xasprintf("%s '%s' names secret '%s', "
			    "whose scope in runner.yml is %s; it was not given",
			    st->what, st->name, *p, why) : xasprintf("%s '%s' "
			    "needs secret '%s', which is not defined in runner.yml "
			    "(secrets:)", st->what, st->name, *p);
			free(why);
			log_note(res->fd, res->error);
			return 0;
		}
		env_setf(&env, *p, v);
		values = xrealloc(values, (nsec + 1) * sizeof(*values));
		values[nsec++] = v;
	}
	struct masker *mask = masker_new(values, nsec);
	free(values);
	struct confine cf;
	confine_init(&cf, ctx, job, st);
	struct stage_spec spec = {
		.script = st->script,
		.cwd = st->cwd,
		.envp = env.v,
		.log_fd = res->fd,
		.log_cap = (uint64_t)ctx->conf->log_cap,
		.timeout_ms = st->timeout_ms ? st->timeout_ms :
		    ctx->conf->default_timeout_ms,
		.kill_grace_ms = ctx->conf->kill_grace_ms,
		.shutdown_grace_ms = ctx->conf->shutdown_grace_ms,
		.keep_detached = st->keep_detached,
		.event_fd = ctx->event_fd,
		.on_event = on_event,
		.on_start = on_start,
		.arg = &sa,
		.mask = mask,
		.limits = ctx->conf->limits,
		.user = user,
		.sandbox = isolate ? &cf.sb : NULL,
	};
	/* what the stage sets wins over runner.yml's defaults */
	if (st->limits) {
		const struct run_limits *l = st->limits;
		if (l->processes)
			spec.limits.processes = l->processes;
		if (l->memory)
			spec.limits.memory = l->memory;
		if (l->file_size)
			spec.limits.file_size = l->file_size;
		if (l->open_files)
			spec.limits.open_files = l->open_files;
	}
	if (stage_run(&spec, &r) < 0 && r.end != STAGE_SPAWN_FAILED)
		r.end = STAGE_SPAWN_FAILED;
	env_free(&env);
	masker_free(mask);
	confine_release(&cf);
	if (sa.store_error)
		return -1;
	format_duration(&dur, spec.timeout_ms);
	switch (r.end) {
	case STAGE_TIMED_OUT:
		res->state = "timed_out";
		err = xasprintf("%s '%s' timed out after %s", st->what, st->name,
		    dur.buf);
		break;
	case STAGE_CANCELED:
		res->state = "canceled";
		res->canceled = 1;
		err = xasprintf("canceled during %s '%s'", st->what, st->name);
		break;
	case STAGE_INTERRUPTED:
		res->state = "interrupted";
		res->interrupted = 1;
		err = xasprintf("the daemon stopped during %s '%s'", st->what,
		    st->name);
		break;
	case STAGE_SPAWN_FAILED:
		res->state = "failed";
		err = xasprintf("%s '%s' could not start: %s", st->what, st->name,
		    error_last());
		break;
	case STAGE_EXITED:
		res->state = "passed";
		if (r.log_errno) {
			res->state = "failed";
			err = xasprintf("%s '%s': cannot write its log: %s%s",
			    st->what, st->name, strerror(r.log_errno),
			    r.log_errno == ENOSPC ? " (no space)" : "");
			/* give the space back, so the outcome can be recorded */
			if (r.log_errno == ENOSPC && r.log_bytes > LOG_KEPT_ON_ENOSPC)
				(void)!ftruncate(res->fd, LOG_KEPT_ON_ENOSPC);
		} else if (r.exit_code == 128 + SIGXFSZ) {
			res->state = "failed";
			err = xasprintf("%s '%s' failed with exit code %d: a file "
			    "grew past its size limit (limits.file_size)",
			    st->what, st->name, r.exit_code);
		} else if (r.exit_code) {
			res->state = "failed";
			err = xasprintf("%s '%s' failed with exit code %d", st->what,
			    st->name, r.exit_code);
		}
		break;
	}
	sbuf_release(&dur);
	if (err)
		log_note(res->fd, err);
	res->error = err;
	res->exit_code = r.end == STAGE_SPAWN_FAILED ? -1 : r.exit_code;
	return 0;
}

int job_step(struct job_ctx *ctx, const struct job *job,
    const struct job_step *st, char **err)
{
	struct logged res = { .fd = -1 };
	char *log = NULL;
	int idx, error;

	*err = NULL;
	if ((error = store_stage_count(ctx->store, job->id, &idx)) < 0)
		return error;
	log = job_log_path(ctx->home, job->id, idx, st->name);
	if ((error = store_stage_add(ctx->store, job->id, idx, st->name,
	    log)) < 0 || (error = run_logged(ctx, job, idx, log, st, &res)) < 0)
		goto out;
	error = store_stage_end(ctx->store, job->id, idx, res.state,
	    res.exit_code, res.error);
	*err = res.error;
	res.error = NULL;
out:
	if (res.fd >= 0)
		close(res.fd);
	free(res.error);
	free(log);
	return error;
}

/* Run build stage `i`; sets *job_state and *job_error when the job must
 * stop. */
static int run_stage(struct job_ctx *ctx, const struct job *job,
    const struct stage_def *sd, int i, const char *ws,
    struct artifact_writer **aw, const char **job_state, char **job_error)
{
	char *log = job_log_path(ctx->home, job->id, i, sd->name);
	struct job_step st = {
		.name = sd->name, .what = "stage", .script = sd->run, .cwd = ws,
		.env = sd->env, .secrets = sd->secrets, .limits = &sd->limits,
		.isolate = sd->isolate >= 0 ? sd->isolate :
		    config_isolate(ctx->conf, job->repo),
		.network = sd->network >= 0 ? sd->network :
		    config_network(ctx->conf, job->repo),
		.timeout_ms = sd->timeout_ms,
	};
	struct logged res = { .fd = -1 };
	int error;

	if ((error = run_logged(ctx, job, i, log, &st, &res)) < 0)
		goto out;
	/* Artifacts of a passed stage, before the stage counts as passed. */
	if (!res.error && sd->nartifacts) {
		size_t matched = 0;
		if (!*aw) {
			char *ap = job_artifact_path(ctx->home, job->id);
			char *part = xasprintf("%s.part", ap);
			free(ap);
			if (artifact_open(part, aw) < 0)
				res.error = xasprintf("artifacts of stage '%s': %s",
				    sd->name, error_last());
			free(part);
		}
		if (!res.error && artifact_add(*aw, ws, sd->artifacts,
		    sd->nartifacts, &matched) < 0)
			res.error = xasprintf("artifacts of stage '%s': %s",
			    sd->name, error_last());
		else if (!res.error && matched == 0)
			res.error = xasprintf("artifacts of stage '%s': no file "
			    "matches %s%s", sd->name, sd->artifacts[0],
			    sd->nartifacts > 1 ? " or the other globs" : "");
		if (res.error) {
			res.state = "failed";
			log_note(res.fd, res.error);
		} else {
			char *note = xasprintf("archived %zu artifact file%s",
			    matched, matched == 1 ? "" : "s");
			log_note(res.fd, note);
			free(note);
		}
	}
	error = store_stage_end(ctx->store, job->id, i, res.state,
	    res.exit_code, res.error);
	if (res.error) {
		*job_state = res.canceled ? "canceled" : res.interrupted ?
		    "interrupted" : "failed";
		*job_error = res.error;
		res.error = NULL;
	}
out:
	if (res.fd >= 0)
		close(res.fd);
	free(res.error);
	free(log);
	return error;
}

static int mkdir_p_logs(struct job_ctx *ctx, const struct job *job)
{
	char *dir = xasprintf("%s/logs/%lld", ctx->home, (long long)job->id);
	int error = mkdir_p(dir, 0755);

	free(dir);
	return error;
}

/*
 * End a build; a passed one queues its automatic deployments (runner.yml
 * auto_deploy, environments of its pipeline that need no signed tag) in
 * the same transaction, so none is lost between the two.
 */
static int end_build(struct job_ctx *ctx, const struct job *job,
    const struct pipeline *pl, const char *state, const char *msg)
{
	const struct repo_conf *rc = config_repo(ctx->conf, job->repo);
	struct deploy_req *reqs;
	size_t n = 0;
	int error;

	if (strcmp(state, "passed") || !pl)
		return store_job_end(ctx->store, job->id, state, msg);
	reqs = xcalloc(rc->nauto_deploy + 1, sizeof(*reqs));
	for (size_t i = 0; i < rc->nauto_deploy; i++) {
		const struct env_def *e = pipeline_env(pl, rc->auto_deploy[i]);
		if (!e || e->signed_tag || config_env_signed(ctx->conf, e->name))
			continue;
		reqs[n++] = (struct deploy_req){ .repo = job->repo,
		    .ref = job->ref, .commit = job->commit, .env = e->name,
		    .source_job = job->id };
	}
	error = store_job_end_deploy(ctx->store, job->id, state, msg, reqs, n);
	free(reqs);
	return error;
}

/*
 * The repository may narrow the server's policy, never widen it: a stage
 * that asks for isolate: false or network: true where runner.yml does not
 * allow it is an error of the pipeline. Returns the message, or NULL.
 */
static char *pipeline_policy(struct job_ctx *ctx, const struct job *job,
    const struct pipeline *pl)
{
	int iso = config_isolate(ctx->conf, job->repo);
	int net = config_network(ctx->conf, job->repo);

	for (size_t i = 0; i < pl->nstages; i++) {
		const struct stage_def *sd = &pl->stages[i];
		if (sd->isolate == 0 && iso)
			return xasprintf("%s:%zu:%zu: stage '%s' says 'isolate: "
			    "false', which runner.yml does not allow for %s (a "
			    "repository can narrow the server's policy, never widen "
			    "it)", PIPELINE_NAME, sd->isolate_at.line,
			    sd->isolate_at.col, sd->name, job->repo);
		if (sd->network == 1 && !net)
			return xasprintf("%s:%zu:%zu: stage '%s' says 'network: "
			    "true', which runner.yml does not allow for %s (a "
			    "repository can narrow the server's policy, never widen "
			    "it)", PIPELINE_NAME, sd->network_at.line,
			    sd->network_at.col, sd->name, job->repo);
	}
	return NULL;
}

int job_run(struct job_ctx *ctx, struct job *job)
{
	struct source *src = NULL;
	struct pipeline *pl = NULL;
	struct artifact_writer *aw = NULL;
	char **names = NULL, **logs = NULL;
	char *ws, *logdir, *artdir, *msg = NULL;
	const char *state = "passed";
	int error = 0;

	if (job->kind && !strcmp(job->kind, "deploy"))
		return mkdir_p_logs(ctx, job) < 0 ? -1 : deploy_run(ctx, job);
	ws = job_workspace_path(ctx->home, job->id);
	logdir = xasprintf("%s/logs/%lld", ctx->home, (long long)job->id);
	artdir = xasprintf("%s/artifacts", ctx->home);
	rm_rf(ws);
	if (mkdir_p(logdir, 0755) < 0 || mkdir_p(artdir, 0755) < 0) {
		state = "error";
		msg = xstrdup(error_last());
		goto end;
	}
	if (source_open(job->repo, job->commit, &src) < 0) {
		state = "error";
		msg = xstrdup(error_last());
		goto end;
	}
	if (store_job_set_subject(ctx->store, job->id,
	    source_subject(src)) < 0) {
		error = -1;
		goto out;
	}
	if ((error = pipeline_read(src, &pl)) < 0) {
		error = 0;
		state = "error";
		msg = xstrdup(error_last());
		goto end;
	}
	names = xcalloc(pl->nstages + 1, sizeof(*names));
	logs = xcalloc(pl->nstages + 1, sizeof(*logs));
	for (size_t i = 0; i < pl->nstages; i++) {
		names[i] = pl->stages[i].name;
		logs[i] = job_log_path(ctx->home, job->id, (int)i,
		    pl->stages[i].name);
	}
	if ((error = store_stages_init(ctx->store, job->id, names, logs,
	    pl->nstages)) < 0)
		goto out;
	if ((msg = pipeline_policy(ctx, job, pl))) {
		state = "error";
		goto end;
	}
	if (source_checkout(src, ws) < 0 || job_give(ws, ctx->user) < 0) {
		state = "error";
		msg = xasprintf("checkout failed: %s", error_last());
		goto end;
	}
	source_free(src);
	src = NULL;

	for (size_t i = 0; i < pl->nstages; i++) {
		if (store_cancel_requested(ctx->store, job->id)) {
			state = "canceled";
			msg = xstrdup("canceled");
			break;
		}
		if (*ctx->stopping) {
			state = "interrupted";
			msg = xasprintf("the daemon stopped before stage '%s'",
			    pl->stages[i].name);
			break;
		}
		if ((error = run_stage(ctx, job, &pl->stages[i], (int)i, ws, &aw,
		    &state, &msg)) < 0)
			goto out;
		if (msg)
			break;
	}
	if (!msg && aw) {
		char sha[65], *path = job_artifact_path(ctx->home, job->id);
		char *part = xasprintf("%s.part", path);
		int64_t size, files;
		struct artifact_writer *w = aw;

		aw = NULL;
		if (artifact_close(w, sha, &size, &files) < 0 ||
		    (rename(part, path) < 0 && error_set(-1, "cannot rename "
		    "'%s': %s", part, strerror(errno)))) {
			state = "failed";
			msg = xasprintf("artifacts: %s", error_last());
			unlink(part);
		} else if ((error = store_artifact_add(ctx->store, job->id, path,
		    size, sha, files)) < 0) {
			free(part);
			free(path);
			goto out;
		}
		free(part);
		free(path);
	}
end:
	error = end_build(ctx, job, pl, state, msg);
out:
	artifact_abort(aw);
	source_free(src);
	pipeline_free(pl);
	if (!ctx->conf->keep_workspaces)
		discard_workspace(ctx->home, ws, job->id);
	if (logs)
		for (size_t i = 0; logs[i]; i++)
			free(logs[i]);
	free(logs);
	free(names);
	free(msg);
	free(ws);
	free(logdir);
	free(artdir);
	return error;
}
