/*
 * One command run as a recorded, logged step of a job: its environment,
 * its secrets (scoped by runner.yml), its sandbox and user, its log, and
 * its outcome in the store. Builds (build.c) and deployments (deploy.c)
 * are two kinds of job over these steps. Its sandbox's confinement is
 * confine.c's.
 */
#include "step.h"
#include "step_int.h"
#include "hosts.h"
#include "mask.h"
#include "syscall_filter.h"
#include "config.h"
#include "chunks.h"
#include "fetch.h"
#include "jobs.h"
#include "reserve.h"
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

static void build_env(struct job_ctx *ctx, const struct job *job,
    const char *name, const char *ws, char *const *extra, struct env *e)
{
	char id[32];

	snprintf(id, sizeof(id), "%lld", (long long)job->id);
	/* a build's variables (git push -o ci.variable=, runner run --var)
	 * first: nothing below can be replaced by one */
	for (const char *v = job->kind == KIND_BUILD ? job->variables : NULL,
	    *nl; v && *v; v = nl + 1) {
		char *line;
		nl = strchr(v, '\n');
		line = nl ? xstrndup(v, (size_t)(nl - v)) : xstrdup(v);
		if (strchr(line, '='))
			env_set(e, line);
		free(line);
		if (!nl)
			break;
	}
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

/*
 * A stage's log, sent through the store as it grows, by a host that does
 * not share the git server's files: every LOG_SHIP_MS the bytes written
 * since, a chunk each (the log file stays the record here).
 */
#define LOG_SHIP_MS 1000
#define LOG_SHIP_CHUNK (256 * 1024)

struct shipper {
	struct job_ctx *ctx;
	int64_t job;
	int idx;
	int fd;			/* the log, read; -1: not shipped */
	off_t off;
	int seq;
	int error;		/* the store refused: no more tries */
};

static void ship_open(struct shipper *sh, struct job_ctx *ctx, int64_t job,
    int idx, const char *log)
{
	*sh = (struct shipper){ ctx, job, idx, -1, 0, 0, 0 };
	if (job_ships(ctx) && (sh->fd = open(log, O_RDONLY | O_CLOEXEC)) < 0)
		log_line("job #%lld: cannot read log '%s' to send it: %s",
		    (long long)job, log, strerror(errno));
}

static void ship(struct shipper *sh)
{
	char *buf;
	ssize_t n;

	if (sh->fd < 0 || sh->error)
		return;
	buf = xmalloc(LOG_SHIP_CHUNK);
	while ((n = pread(sh->fd, buf, LOG_SHIP_CHUNK, sh->off)) > 0) {
		if (store_log_append(sh->ctx->store, sh->job, sh->idx, sh->seq,
		    buf, (size_t)n) < 0) {
			sh->error = -1;
			log_line("job #%lld: cannot send the log of step %d: %s",
			    (long long)sh->job, sh->idx, error_last());
			break;
		}
		sh->off += n;
		sh->seq++;
	}
	free(buf);
}

static void ship_close(struct shipper *sh)
{
	ship(sh);
	/* an empty log is sent too: readers then know it is the store's */
	if (sh->fd >= 0 && !sh->error && !sh->seq &&
	    store_log_append(sh->ctx->store, sh->job, sh->idx, 0, "", 0) < 0)
		sh->error = -1;
	if (sh->fd >= 0)
		close(sh->fd);
	sh->fd = -1;
}

int job_ships(const struct job_ctx *ctx)
{
	return ctx->conf->host.nsources > 0;
}

int job_ship_log(struct job_ctx *ctx, int64_t job, int idx, const char *log)
{
	struct shipper sh;

	ship_open(&sh, ctx, job, idx, log);
	ship_close(&sh);
	return sh.error;
}

int job_source(struct job_ctx *ctx, const struct job *job, char **path)
{
	return source_local(&ctx->conf->host, ctx->home, job->repo,
	    job->commit, job->kind == KIND_DEPLOY ? job->tag : NULL, path);
}

/*
 * A build stage's disk, looked at while it runs: its workspace measured
 * (every MEASURE_MS at least, and at most a tenth of the time when the
 * tree is large) against its bound, and the home's disk. A stage past
 * its bound is killed at once, with the reason; so is one that wrote to
 * its workspace or its log while the disk is full (it cannot go on, and
 * what it wrote goes with its workspace), not one that wrote nothing.
 */
#define MEASURE_MS 2000
#define DISK_FULL_ROOM (256 * 1024)

struct disk_watch {
	const char *home;
	const char *ws;		/* NULL: not a build stage */
	int log_fd;		/* its log, which may fill the disk too */
	int64_t max;
	int64_t used;		/* at the last measure (first: its start) */
	int64_t logged;		/* the log's blocks then */
	int64_t next_ms;
	pid_t pgid;
	char *fail;		/* why the stage was killed */
	int full;		/* because the disk is full */
};

/* Is the home's disk full: next to no room, or a reserve used (a write
 * found it full: the store's, or the spool's by a hook, which on
 * PostgreSQL spools every push) and not yet room to make it again? */
static int disk_short(const char *home, int64_t *left)
{
	*left = disk_free(home);
	return *left >= 0 && (*left < DISK_FULL_ROOM || (*left < 2 *
	    RESERVE_HOME_BYTES && (!reserve_present(home, RESERVE_HOME) ||
	    !reserve_present(home, RESERVE_SPOOL))));
}

static void watch_disk(struct disk_watch *dw)
{
	int64_t t0 = mono_ms(), used, left, took, logged = 0;
	struct sbuf a = SBUF_INIT, b = SBUF_INIT;
	struct stat st;
	int error;

	if (!dw->ws || dw->fail || t0 < dw->next_ms)
		return;
	error = disk_usage(dw->ws, dw->max, &used);
	took = mono_ms() - t0;
	if (fstat(dw->log_fd, &st) == 0)
		logged = (int64_t)st.st_blocks * 512;
	dw->next_ms = mono_ms() + (took * 10 > MEASURE_MS ? took * 10 :
	    MEASURE_MS);
	if (error == ERR_INVALID) {
		dw->fail = xasprintf("its workspace cannot be measured for its "
		    "quota: %s", error_last());
	} else if (error < 0) {
		return;		/* gone: the stage is ending */
	} else if (used > dw->max) {
		format_size(&a, dw->max);
		dw->fail = xasprintf("its workspace exceeds its quota of %s "
		    "(runner.yml disk: workspace, or the pipeline's)", a.buf);
	} else if ((used > dw->used || logged > dw->logged) &&
	    disk_short(dw->home, &left)) {
		format_size(&a, used > dw->used ? used : logged);
		format_size(&b, left);
		dw->fail = xasprintf("the runner's disk is full (home '%s': %s "
		    "free%s) while it wrote to its %s (%s now)", dw->home,
		    b.buf, reserve_present(dw->home, RESERVE_HOME) ? "" :
		    ", its reserve used", used > dw->used ? "workspace" : "log",
		    a.buf);
		dw->full = 1;
	}
	dw->used = used;
	dw->logged = logged;
	if (dw->fail && dw->pgid > 0)
		kill(-dw->pgid, SIGKILL);
	sbuf_release(&a);
	sbuf_release(&b);
}

/*
 * Bytes of the logs of the job whose log `log` is, the other stages' (a
 * job's logs together are bounded by runner.yml disk: logs).
 */
static int64_t logs_used(const char *log)
{
	const char *slash = strrchr(log, '/');
	char *dir = xstrndup(log, slash ? (size_t)(slash - log) : 0);
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	int64_t sum = 0;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, slash ? slash + 1 : log) &&
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			sum += st.st_size;
	if (d)
		closedir(d);
	free(dir);
	return sum;
}

struct stage_arg {
	struct job_ctx *ctx;
	int64_t job;
	int idx;
	int store_error;
	struct shipper ship;
	const struct job_step *st;
	struct disk_watch dw;
};

static void on_tick(void *arg)
{
	struct stage_arg *sa = arg;

	ship(&sa->ship);
	watch_disk(&sa->dw);
}

static void on_start(pid_t pgid, void *arg)
{
	struct stage_arg *sa = arg;

	sa->dw.pgid = pgid;
	if (store_stage_start(sa->ctx->store, sa->job, sa->idx, pgid, 0) < 0)
		sa->store_error = -1;
	/* what it writes is what it adds to the checkout and the stages
	 * before it: measured once it started, while its sandbox is made,
	 * not on the way to it. What it writes before the walk passes
	 * counts in that base: its quota is absolute, and the disk-full
	 * check sees its growth at the next measure. */
	if (sa->dw.ws)
		disk_usage(sa->dw.ws, 0, &sa->dw.used);
}

static void on_sandbox(pid_t init, uint64_t pidns, void *arg)
{
	struct stage_arg *sa = arg;

	if (sa->st->on_services &&
	    sa->st->on_services(sa->st->services_arg, init, pidns) < 0)
		sa->store_error = -1;
}

static enum stage_event on_event(void *arg)
{
	struct stage_arg *sa = arg;
	enum stage_event ev = sa->ctx->on_event(sa->ctx->arg);

	/* the store's disk is full: what fills it stops now, no grace */
	if (sa->ctx->fail && sa->dw.pgid > 0)
		kill(-sa->dw.pgid, SIGKILL);
	return ev;
}

void step_note(int fd, const char *msg)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addf(&sb, "[runner: %s]\n", msg);
	write_all(fd, sb.buf, sb.len);
	sbuf_release(&sb);
}

/*
 * What a step's command is started with, but for its log and what
 * watches it: its environment (secrets last), sandbox and filter, user
 * and limits.
 */
struct launch {
	struct env env;
	struct confine cf;
	int confined;
	const struct run_user *user;
	const char **secrets;	/* their values, to mask */
	size_t nsecrets;
	struct run_limits limits;
};

static void launch_release(struct launch *ln)
{
	env_free(&ln->env);
	free(ln->secrets);
	if (ln->confined)
		confine_release(&ln->cf);
}

/* 0, or -1 with the reason it cannot start in *why (caller frees). */
static int launch_init(struct launch *ln, struct job_ctx *ctx,
    const struct job *job, const struct job_step *st, char **why)
{
	const void *bpf = NULL;
	size_t bpf_len = 0;

	memset(ln, 0, sizeof(*ln));
	*why = NULL;
	ln->user = st->user ? st->user : ctx->user;
	/* a sandbox without its filter is not started at all */
	if (job_confined(ctx, st->isolate) &&
	    syscall_filter_bpf(&bpf, &bpf_len) < 0) {
		*why = xasprintf("%s '%s' could not start: %s", st->what,
		    st->name, error_last());
		return -1;
	}
	build_env(ctx, job, st->name, st->cwd, st->env, &ln->env);
	if (job_confined(ctx, st->isolate))
		env_setf(&ln->env, "HOME", "/tmp");
	else if (ln->user)
		env_setf(&ln->env, "HOME", access(ln->user->home, W_OK) == 0 ?
		    ln->user->home : st->cwd);
	else
		env_setf(&ln->env, "HOME", confine_user_home());
	/* what a stage starts may not outlive the daemon; services that a
	 * deploy detaches may */
	if (!st->keep_detached)
		env_setf(&ln->env, RUN_OWNER_VAR, st->cwd);
	/* secrets last: a stage's env cannot shadow one it asked for */
	for (char *const *p = st->secrets; p && *p; p++) {
		const struct secret *def = config_secret_def(ctx->conf, *p);
		char *scope = NULL;
		if (!def || !secret_allowed(def, st->env_name, job->ref, job->repo,
		    &scope)) {
			*why = def ? xasprintf("%s '%s' names secret '%s', whose "
			    "scope in runner.yml is %s; it was not given", st->what,
			    st->name, *p, scope) : xasprintf("%s '%s' needs secret "
			    "'%s', which is not defined in runner.yml (secrets:)",
			    st->what, st->name, *p);
			free(scope);
			launch_release(ln);
			return -1;
		}
		env_setf(&ln->env, *p, def->value);
		ln->secrets = xrealloc(ln->secrets, (ln->nsecrets + 1) *
		    sizeof(*ln->secrets));
		ln->secrets[ln->nsecrets++] = def->value;
	}
	if ((ln->confined = job_confined(ctx, st->isolate))) {
		confine_init(&ln->cf, ctx, job, st);
		ln->cf.sb.seccomp = bpf;
		ln->cf.sb.seccomp_len = bpf_len;
	}
	/* a stage's limits can only narrow runner.yml's */
	ln->limits = ctx->conf->limits;
	if (st->limits) {
		const struct run_limits *l = st->limits;
		int64_t *have[] = { &ln->limits.processes, &ln->limits.memory,
		    &ln->limits.file_size, &ln->limits.open_files };
		const int64_t want[] = { l->processes, l->memory, l->file_size,
		    l->open_files };
		for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
			if (want[i] && (!*have[i] || want[i] < *have[i]))
				*have[i] = want[i];
	}
	return 0;
}

int step_spawn_loop(struct job_ctx *ctx, const struct job *job,
    const struct job_step *st, int n)
{
	struct launch ln;
	char *why = NULL;
	int devnull, error = 0;

	if (launch_init(&ln, ctx, job, st, &why) < 0) {
		error = error_set(-1, "%s", why);
		free(why);
		return error;
	}
	struct stage_spec spec = {
		.script = st->script, .cwd = st->cwd, .envp = ln.env.v,
		.limits = ln.limits, .user = ln.user,
		.sandbox = ln.confined ? &ln.cf.sb : NULL,
	};
	if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		error = error_set(-1, "cannot open /dev/null: %s",
		    strerror(errno));
	for (int i = 0; i < n && error == 0; i++) {
		pid_t pid;
		int status;
		if ((error = stage_spawn(&spec, devnull, &pid)) < 0)
			break;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			error = error_set(-1, "%s '%s' ended with status %d",
			    st->what, st->name, status);
	}
	if (devnull >= 0)
		close(devnull);
	launch_release(&ln);
	return error;
}

int step_run_logged(struct job_ctx *ctx, const struct job *job, int idx,
    const char *log, const struct job_step *st, struct step_result *res)
{
	struct stage_arg sa = { ctx, job->id, idx, 0, { .fd = -1 }, st, { 0 } };
	struct stage_result r;
	struct launch ln;
	struct sbuf dur = SBUF_INIT;
	char *err = NULL;

	memset(res, 0, sizeof(*res));
	res->fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0644);
	if (res->fd < 0) {
		res->state = STEP_FAILED;
		res->error = xasprintf("cannot create log '%s': %s%s", log,
		    strerror(errno), errno == ENOSPC ? " (no space)" : "");
		return 0;
	}
	if (st->preamble)
		write_all(res->fd, st->preamble, strlen(st->preamble));
	if (launch_init(&ln, ctx, job, st, &res->error) < 0) {
		res->state = STEP_FAILED;
		res->exit_code = -1;
		step_note(res->fd, res->error);
		job_ship_log(ctx, job->id, idx, log);
		return 0;
	}
	struct masker *mask = masker_new(ln.secrets, ln.nsecrets);
	struct stage_spec spec = {
		.script = st->script,
		.cwd = st->cwd,
		.envp = ln.env.v,
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
		.on_sandbox = on_sandbox,
		.on_tick = on_tick,
		.tick_ms = LOG_SHIP_MS,
		.arg = &sa,
		.mask = mask,
		.limits = ln.limits,
		.user = ln.user,
		.sandbox = ln.confined ? &ln.cf.sb : NULL,
	};
	/* no timeout outlasts its max_timeout */
	int capped = ctx->conf->max_timeout_ms &&
	    spec.timeout_ms > ctx->conf->max_timeout_ms;
	if (capped)
		spec.timeout_ms = ctx->conf->max_timeout_ms;
	/* the job's logs together are bounded too: this stage keeps what
	 * the others left of runner.yml's disk: logs (or the pipeline's) */
	int64_t logs_max = st->logs_max && st->logs_max < ctx->conf->disk.logs ?
	    st->logs_max : ctx->conf->disk.logs;
	int64_t logs_left = logs_max - logs_used(log);
	int null_fd = -1;
	if (logs_left <= 0 && (null_fd = open("/dev/null", O_WRONLY |
	    O_CLOEXEC)) >= 0) {
		spec.log_fd = null_fd;
		spec.log_cap = 0;
	} else if (logs_left < (int64_t)spec.log_cap) {
		spec.log_cap = (uint64_t)logs_left;
	}
	if (!st->env_name && job->kind == KIND_BUILD) {
		sa.dw.home = ctx->home;
		sa.dw.ws = st->cwd;
		sa.dw.log_fd = res->fd;
		sa.dw.max = st->workspace_max && st->workspace_max <
		    ctx->conf->disk.workspace ? st->workspace_max :
		    ctx->conf->disk.workspace;
	}
	ship_open(&sa.ship, ctx, job->id, idx, log);
	if (stage_run(&spec, &r) < 0 && r.end != STAGE_SPAWN_FAILED)
		r.end = STAGE_SPAWN_FAILED;
	launch_release(&ln);
	masker_free(mask);
	if (null_fd >= 0)
		close(null_fd);
	if (sa.store_error) {
		ship_close(&sa.ship);
		free(sa.dw.fail);
		return -1;
	}
	format_duration(&dur, spec.timeout_ms);
	switch (r.end) {
	case STAGE_TIMED_OUT:
		res->state = STEP_TIMED_OUT;
		err = xasprintf("%s '%s' timed out after %s%s", st->what, st->name,
		    dur.buf, capped ? " (runner.yml max_timeout)" : "");
		break;
	case STAGE_CANCELED:
		res->state = STEP_CANCELED;
		res->canceled = 1;
		err = xasprintf("canceled during %s '%s'", st->what, st->name);
		break;
	case STAGE_INTERRUPTED:
		res->state = STEP_INTERRUPTED;
		res->interrupted = 1;
		err = xasprintf("the daemon stopped during %s '%s'", st->what,
		    st->name);
		break;
	case STAGE_SPAWN_FAILED:
		res->state = STEP_FAILED;
		err = xasprintf("%s '%s' could not start: %s", st->what, st->name,
		    error_last());
		break;
	case STAGE_EXITED:
		res->state = STEP_PASSED;
		if (r.log_errno) {
			res->state = STEP_FAILED;
			err = xasprintf("%s '%s': cannot write its log: %s%s",
			    st->what, st->name, strerror(r.log_errno),
			    r.log_errno == ENOSPC ? " (no space)" : "");
			/* give the space back, so the outcome can be recorded */
			if (r.log_errno == ENOSPC && r.log_bytes > LOG_KEPT_ON_ENOSPC)
				(void)!ftruncate(res->fd, LOG_KEPT_ON_ENOSPC);
		} else if (r.exit_code == 128 + SIGXFSZ) {
			res->state = STEP_FAILED;
			err = xasprintf("%s '%s' failed with exit code %d: a file "
			    "grew past its size limit (limits.file_size)",
			    st->what, st->name, r.exit_code);
		} else if (r.exit_code) {
			res->state = STEP_FAILED;
			err = xasprintf("%s '%s' failed with exit code %d", st->what,
			    st->name, r.exit_code);
		}
		break;
	}
	/* killed for the disk: that is why it ended, whatever its end */
	if ((ctx->fail || sa.dw.fail) && r.end != STAGE_SPAWN_FAILED) {
		free(err);
		res->state = STEP_FAILED;
		res->canceled = res->interrupted = 0;
		res->disk_full = ctx->fail || sa.dw.full;
		err = xasprintf("%s '%s': %s", st->what, st->name, ctx->fail ?
		    ctx->fail : sa.dw.fail);
		/* and what it logged gives the room back too */
		if (res->disk_full && r.log_bytes > LOG_KEPT_ON_ENOSPC)
			(void)!ftruncate(res->fd, LOG_KEPT_ON_ENOSPC);
	}
	free(sa.dw.fail);
	if (logs_left <= 0 || (r.capped && (int64_t)spec.log_cap ==
	    logs_left)) {
		struct sbuf max = SBUF_INIT;
		format_size(&max, logs_max);
		char *note = xasprintf("the job's logs together reached their "
		    "bound of %s (runner.yml disk: logs, or the pipeline's); %s "
		    "output is dropped", max.buf, logs_left <= 0 ? "this stage's" :
		    "the rest of this stage's");
		step_note(res->fd, note);
		free(note);
		sbuf_release(&max);
	}
	sbuf_release(&dur);
	if (err)
		step_note(res->fd, err);
	ship_close(&sa.ship);
	res->error = err;
	res->exit_code = r.end == STAGE_SPAWN_FAILED ? -1 : r.exit_code;
	return 0;
}

int job_step(struct job_ctx *ctx, const struct job *job,
    const struct job_step *st, char **err)
{
	struct step_result res = { .fd = -1 };
	char *log = NULL;
	int idx, error;

	*err = NULL;
	if ((error = store_stage_count(ctx->store, job->id, &idx)) < 0)
		return error;
	log = job_log_path(ctx->home, job->id, idx, st->name);
	if ((error = store_stage_add(ctx->store, job->id, idx, st->name,
	    log)) < 0 || (error = step_run_logged(ctx, job, idx, log, st, &res)) < 0)
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

int job_logs_dir(struct job_ctx *ctx, const struct job *job)
{
	char *dir = xasprintf("%s/logs/%lld", ctx->home, (long long)job->id);
	int error = mkdir_p(dir, 0755);

	free(dir);
	return error;
}

int job_hand_on(struct job_ctx *ctx, const struct job *job,
    const char *const *need, size_t n, const char *what, int *error)
{
	const struct host_conf *h = &ctx->conf->host;
	struct sbuf missing = SBUF_INIT;
	size_t nmissing = 0;
	char *host;

	*error = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < h->nlabels && strcmp(h->labels[k], need[i]))
			k++;
		if (k == h->nlabels)
			sbuf_addf(&missing, "%s%s", nmissing++ ? ", " : "",
			    need[i]);
	}
	if (nmissing) {
		host = config_host_name(ctx->conf);
		*error = store_job_hand_on(ctx->store, job->id, need, n);
		if (*error == 0)
			log_line("job #%lld: %s on hosts labelled %s, which host "
			    "'%s' is not: back in the queue for one that is",
			    (long long)job->id, what, missing.buf, host);
		free(host);
	}
	sbuf_release(&missing);
	return nmissing > 0;
}
