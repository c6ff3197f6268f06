/*
 * A build, start to end: read the pipeline from the commit, check it out,
 * run its stages as steps (step.c), archive the artifacts, and record the
 * outcome; a passed build queues its automatic deployments. Failures of
 * the build (bad pipeline, a stage that fails, a full disk) are outcomes
 * recorded in the store; only a failing store is an error here.
 */
#include "build.h"
#include "artifact.h"
#include "audit.h"
#include "checkout.h"
#include "config.h"
#include "home.h"
#include "pipeline.h"
#include "provenance.h"
#include "sha256.h"
#include "step.h"
#include "envs.h"
#include "refmatch.h"
#include "reserve.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A finished build's workspace is kept for the worker's next build, which
 * checks out over it (source_checkout_over): creating and deleting files
 * is most of what a small job costs the kernel, and on some file systems
 * (ext4 without a journal) each file made soon after others were deleted
 * costs more for each of them. It waits in work/.pool/SLOT, named by the
 * worker's number: the worker runs its builds as a user of its own
 * (build_user-N), whose files the checkout may keep.
 */
static char *pool_path(const struct job_ctx *ctx)
{
	if (ctx->slot < 0 || ctx->conf->keep_workspaces)
		return NULL;
	return xasprintf("%s/%s/%d", ctx->home, HOME_POOL_DIR, ctx->slot);
}

/* Take the workspace the worker kept, as the job's `ws`: 1 if there was
 * one, 0 if not. */
static int pool_take(const struct job_ctx *ctx, const char *ws)
{
	char *pool = pool_path(ctx);
	int taken = pool && rename(pool, ws) == 0;

	free(pool);
	return taken;
}

/*
 * A workspace that is not kept is moved aside in one rename and deleted
 * when the worker is idle, or after DISCARD_BATCH of them, so that removing
 * a tree is not on the way from one job to the next.
 */
#define DISCARD_DIR "work/.discard"
#define DISCARD_BATCH 64
static int discarded;
/* ... unless the disk is short of room: then at once */
#define DISCARD_ROOM ((int64_t)1 << 30)

void build_purge_workspaces(const char *home)
{
	char *dir = xasprintf("%s/%s", home, DISCARD_DIR);

	rm_rf(dir);
	discarded = 0;
	free(dir);
}

int build_workspaces_discarded(void)
{
	return discarded;
}

static void discard_workspace(const char *home, const char *ws, int64_t id)
{
	char *dir = xasprintf("%s/%s", home, DISCARD_DIR);
	char *to = xasprintf("%s/%lld.%d", dir, (long long)id, (int)getpid());

	if ((mkdir(dir, 0755) == 0 || errno == EEXIST) && rename(ws, to) == 0) {
		if (++discarded >= DISCARD_BATCH ||
		    disk_free(home) < DISCARD_ROOM)
			build_purge_workspaces(home);
	} else {
		rm_rf(ws);
	}
	free(to);
	free(dir);
}

/* The job is over: its workspace is kept for the worker's next build,
 * else discarded. */
static void put_workspace(const struct job_ctx *ctx, const char *ws,
    int64_t id)
{
	char *pool = pool_path(ctx);
	char *dir = xasprintf("%s/%s", ctx->home, HOME_POOL_DIR);
	struct stat st;

	if (!pool || lstat(ws, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    disk_free(ctx->home) < DISCARD_ROOM ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST) || rename(ws, pool) < 0)
		discard_workspace(ctx->home, ws, id);
	free(dir);
	free(pool);
}

/* Does stage `sd` run for `ref` (only/except on the branch's or tag's
 * name)? 1 or 0; -1 with a message naming the pattern if one
 * backtracked past its limits. The patterns were checked when the
 * pipeline was read. */
static int stage_wanted(const struct stage_def *sd, const char *ref)
{
	const char *name = ref_short_name(ref);
	const char *key[] = { "only", "except" };
	const char *pat[] = { sd->only, sd->except };
	int yes = 1;

	for (int k = 0; k < 2 && yes == 1; k++) {
		struct ref_matcher m = { 0 };
		if (!pat[k] || ref_matcher_init(&m, pat[k], stderr) < 0)
			continue;
		int hit = ref_matcher_match(&m, name, NULL) == 1;
		if (m.limited)
			yes = error_set(ERR_INVALID, "stage '%s': pattern '%s' of "
			    "'%s' hit its match limit on '%s' (make it simpler)",
			    sd->name, pat[k], key[k], name);
		else
			yes = k == 0 ? hit : !hit;
		ref_matcher_release(&m);
	}
	return yes;
}

/* Archiving asks this whether to stop: the job was canceled, or the
 * daemon is stopping. */
struct stop_arg {
	struct job_ctx *ctx;
	int64_t job;
};

static int archiving_canceled(void *arg)
{
	struct stop_arg *sa = arg;

	return *sa->ctx->stopping ||
	    store_cancel_requested(sa->ctx->store, sa->job) > 0;
}

/* Record the end of a stage (once more with the store's reserve, which a
 * full disk released for it). */
static int record_stage_end(struct job_ctx *ctx, const struct job *job,
    const struct stage_record *se)
{
	int error = store_stage_end(ctx->store, job->id, se->idx, se->state,
	    se->exit_code, se->error);

	if (error == ERR_NOSPACE)
		error = store_stage_end(ctx->store, job->id, se->idx, se->state,
		    se->exit_code, se->error);
	return error;
}

/* Run build stage `i`; sets *job_state and *job_error when the job must
 * stop. With `defer`, the stage's end is handed back there (its error
 * the caller's to free) for the caller to record, rather than recorded. */
static int run_stage(struct job_ctx *ctx, const struct job *job,
    const struct pipeline *pl, int i, const char *ws,
    struct artifact_writer **aw, enum job_state *job_state, char **job_error,
    struct stage_record *defer)
{
	const struct stage_def *sd = &pl->stages[i];
	char *log = job_log_path(ctx->home, job->id, i, sd->name);
	struct job_step st = {
		.name = sd->name, .what = "stage", .script = sd->run, .cwd = ws,
		.env = sd->env, .secrets = sd->secrets, .limits = &sd->limits,
		.isolate = sd->isolate >= 0 ? sd->isolate :
		    config_isolate(ctx->conf, job->repo),
		.network = sd->network >= 0 ? sd->network :
		    config_network(ctx->conf, job->repo),
		.timeout_ms = sd->timeout_ms, .user = ctx->build_user,
	};
	struct step_result res = { .fd = -1 };
	struct stop_arg stop = { ctx, job->id };
	int64_t art_max = pl->disk.artifacts && pl->disk.artifacts <
	    ctx->conf->disk.artifacts ? pl->disk.artifacts :
	    ctx->conf->disk.artifacts;
	/* archiving counts in the stage's time: it ends at its timeout */
	int64_t deadline = mono_ms() + (sd->timeout_ms ? sd->timeout_ms :
	    ctx->conf->default_timeout_ms);
	int error;

	st.workspace_max = pl->disk.workspace;
	st.logs_max = pl->disk.logs;
	if ((error = step_run_logged(ctx, job, i, log, &st, &res)) < 0)
		goto out;
	/* Artifacts of a passed stage, before the stage counts as passed. */
	if (!res.error && sd->nartifacts) {
		size_t matched = 0;
		if ((error = store_job_phase(ctx->store, job->id,
		    "archiving")) < 0)
			goto out;
		if (!*aw) {
			char *ap = job_artifact_path(ctx->home, job->id);
			char *part = xasprintf("%s.part", ap);
			free(ap);
			if (artifact_open(part, aw) < 0)
				res.error = xasprintf("artifacts of stage '%s': %s",
				    sd->name, error_last());
			else
				artifact_set_max(*aw, art_max);
			free(part);
		}
		if (*aw)
			artifact_set_stop(*aw, deadline, archiving_canceled, &stop);
		int added = res.error ? 0 : artifact_add(*aw, ws, sd->artifacts,
		    sd->nartifacts, &matched);
		if (added == ERR_TIMEOUT || (added < 0 &&
		    archiving_canceled(&stop))) {
			res.error = xasprintf("artifacts of stage '%s': %s",
			    sd->name, error_last());
			res.state = added == ERR_TIMEOUT ? STEP_TIMED_OUT :
			    *ctx->stopping ? STEP_INTERRUPTED : STEP_CANCELED;
			res.canceled = added != ERR_TIMEOUT && !*ctx->stopping;
			res.interrupted = added != ERR_TIMEOUT && *ctx->stopping;
			step_note(res.fd, res.error);
		} else if (added < 0)
			res.error = xasprintf("artifacts of stage '%s': %s",
			    sd->name, error_last());
		else if (!res.error && matched == 0)
			res.error = xasprintf("artifacts of stage '%s': no file "
			    "matches %s%s", sd->name, sd->artifacts[0],
			    sd->nartifacts > 1 ? " or the other globs" : "");
		if (res.error && res.state == STEP_PASSED) {
			res.state = STEP_FAILED;
			step_note(res.fd, res.error);
		} else if (!res.error) {
			char *note = xasprintf("archived %zu artifact file%s",
			    matched, matched == 1 ? "" : "s");
			step_note(res.fd, note);
			free(note);
		}
	}
	/* the disk is full: the workspace goes before anything is recorded,
	 * and the record may use the store's reserve (released for this) */
	if (ctx->fail && !res.disk_full) {
		free(res.error);
		res.error = xasprintf("stage '%s': %s", sd->name, ctx->fail);
		res.state = STEP_FAILED;
		res.canceled = res.interrupted = 0;
		res.disk_full = 1;
	}
	if (res.disk_full)
		rm_rf(ws);
	struct stage_record se = { i, res.state, res.exit_code, res.error };
	if (defer) {	/* the caller records it */
		*defer = se;
		defer->error = se.error ? xstrdup(se.error) : NULL;
		error = 0;
	} else {
		error = record_stage_end(ctx, job, &se);
	}
	if (res.error) {
		*job_state = res.canceled ? JOB_CANCELED : res.interrupted ?
		    JOB_INTERRUPTED : JOB_FAILED;
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

/*
 * End a build; a passed one queues its automatic deployments (runner.yml
 * auto_deploy: the environments that take its branch's builds, of its
 * pipeline, that need no signed tag) in the same transaction, so none is
 * lost between the two. A branch no environment names (a feature
 * branch) builds and deploys nowhere.
 */
static int end_build(struct job_ctx *ctx, const struct job *job,
    const struct pipeline *pl, enum job_state state, const char *msg,
    int unarchived, const struct stage_record *last)
{
	const struct repo_conf *rc = config_repo(ctx->conf, job->repo);
	struct deploy_req *reqs = xcalloc(rc->nauto_deploy + 1, sizeof(*reqs));
	size_t n = 0;
	int error;

	/* a branch whose pipeline skips the stage that archives has nothing
	 * to deploy */
	for (size_t i = 0; state == JOB_PASSED && pl && !unarchived &&
	    i < rc->nauto_deploy; i++) {
		const struct env_def *e = pipeline_env(pl, rc->auto_deploy[i]);
		if (!e || e->signed_tag || config_env_signed(ctx->conf, e->name) ||
		    !config_auto_deploys(rc, i, job->ref))
			continue;
		reqs[n++] = (struct deploy_req){ .repo = job->repo,
		    .ref = job->ref, .commit = job->commit, .env = e->name,
		    .source_job = job->id };
	}
	error = store_job_end_deploy(ctx->store, job->id, state, msg, reqs, n,
	    last);
	/* a full disk: the store's reserve was released for this */
	if (error == ERR_NOSPACE)
		error = store_job_end_deploy(ctx->store, job->id, state, msg,
		    reqs, n, last);
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
	/* runner.yml may have changed since the push: its variables are
	 * checked again against the file the build runs under */
	if (job->variables) {
		struct sbuf kept = SBUF_INIT, refused = SBUF_INIT;
		char *msg = NULL;
		if (config_variables_filter(ctx->conf, job->repo, job->variables,
		    &kept, &refused)) {
			sbuf_truncate(&refused, strcspn(refused.buf, "\n"));
			msg = xasprintf("%s; nothing ran", refused.buf);
		}
		sbuf_release(&kept);
		sbuf_release(&refused);
		return msg;
	}
	return NULL;
}

/* The builds this one superseded were never checked out: give them their
 * commits' subjects too, so that status shows what was skipped. */
static void name_superseded(struct job_ctx *ctx, const struct job *job,
    const char *repo)
{
	int64_t *ids;
	size_t n;

	if (store_unnamed_superseded(ctx->store, job->repo, job->ref, job->id,
	    &ids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct job *old = NULL;
		struct source *src = NULL;
		if (store_job_get(ctx->store, ids[i], &old) == 0 &&
		    source_open(repo, old->commit, &src) == 0)
			store_job_set_subject(ctx->store, old->id,
			    source_subject(src));
		source_free(src);
		job_free(old);
	}
	free(ids);
	error_clear();
}

int build_provenance(struct job_ctx *ctx, const struct job *job,
    const char *pl_sha, char *const *names, char *const *logs, size_t n,
    const char *path, const char *sha, char **out)
{
	const char *off = getenv("RUNNER_PROVENANCE");
	struct prov_key *key = NULL;
	struct prov_build b = { 0 };
	struct sbuf st = SBUF_INIT, env = SBUF_INIT;
	const char **lnames = xcalloc(n + 1, sizeof(*lnames));
	char **lsha = xcalloc(n + 1, sizeof(*lsha));
	const char **secrets = xcalloc(ctx->conf->nsecrets + 1,
	    sizeof(*secrets));
	char *host = config_host_name(ctx->conf), *file = NULL;
	const char *slash = strrchr(path, '/');
	int rc;

	*out = NULL;
	if (off && !strcmp(off, "off")) {
		rc = 0;
		goto out;
	}
	if ((rc = prov_key_load(ctx->home, &key)) == ERR_NOTFOUND) {
		error_clear();
		if ((rc = prov_key_make(ctx->home, NULL)) == 0)
			rc = prov_key_load(ctx->home, &key);
	}
	if (rc < 0)
		goto out;
	/* the hosts that deploy what this one built find its key in the
	 * store (prov_trusted_key); recorded once a process */
	static int recorded;
	if (!recorded) {
		struct sbuf pem = SBUF_INIT;
		if ((rc = prov_key_public_pem(key, &pem)) == 0)
			rc = store_prov_key_add(ctx->store, prov_key_id(key), host,
			    pem.buf);
		sbuf_release(&pem);
		if (rc < 0)
			goto out;
		recorded = 1;
	}
	for (size_t i = 0; i < n; i++) {
		char hex[65];
		if (sha256_file(logs[i], hex) < 0) {	/* a stage not run */
			error_clear();
			continue;
		}
		lsha[b.nlogs] = xstrdup(hex);
		lnames[b.nlogs++] = names[i];
	}
	for (size_t i = 0; i < ctx->conf->nsecrets; i++)
		if (ctx->conf->secrets[i].value)
			secrets[b.nsecrets++] = ctx->conf->secrets[i].value;
	b.name = slash ? slash + 1 : path;
	b.sha256 = sha;
	b.repo = job->repo;
	b.ref = job->ref;
	b.commit = job->commit;
	b.pipeline_file = PIPELINE_NAME;
	b.pipeline_sha256 = pl_sha;
	b.variables = job->variables;
	b.secrets = secrets;
	b.host = host;
	b.job = job->id;
	b.started_ms = job->started_ms;
	b.finished_ms = now_ms();
	b.log_names = lnames;
	b.log_sha256 = (const char *const *)lsha;
	prov_statement(&b, &st);
	if ((rc = prov_sign(key, st.buf, st.len, &env)) < 0)
		goto out;
	sbuf_addch(&env, '\n');
	/* not synced: the store's copy, committed with the artifact's row,
	 * is the one that must survive a crash (an empty file left by one
	 * is passed over: prov_check_build) */
	file = prov_path(path);
	if ((rc = write_file_renamed(file, env.buf, env.len, 0600, 0)) < 0)
		goto out;
	sbuf_truncate(&env, env.len - 1);
	*out = sbuf_detach(&env);
out:
	prov_key_free(key);
	sbuf_release(&st);
	sbuf_release(&env);
	for (size_t i = 0; i < n; i++)
		free(lsha[i]);
	free(lsha);
	free(lnames);
	free(secrets);
	free(host);
	free(file);
	return rc;
}

int build_run(struct job_ctx *ctx, struct job *job)
{
	struct source *src = NULL;
	struct pipeline *pl = NULL;
	struct artifact_writer *aw = NULL;
	char **names = NULL, **logs = NULL;
	char *ws, *logdir, *artdir, *msg = NULL, *repo = NULL, *prov = NULL;
	char pl_sha[65] = "";
	enum job_state state = JOB_PASSED;
	struct stage_record last = { .idx = -1 };
	int error = 0, unarchived = 0, taken, unkept = 0, made = 0;

	ws = job_workspace_path(ctx->home, job->id);
	logdir = xasprintf("%s/logs/%lld", ctx->home, (long long)job->id);
	artdir = xasprintf("%s/artifacts", ctx->home);
	rm_rf(ws);
	if (mkdir_p(logdir, 0755) < 0 || mkdir_p(artdir, 0755) < 0) {
		state = JOB_ERROR;
		msg = xstrdup(error_last());
		goto end;
	}
	/* the claim recorded the phase: checkout */
	if (job_source(ctx, job, &repo) < 0 ||
	    source_owner_reads(repo, job->commit) < 0 ||
	    source_open(repo, job->commit, &src) < 0) {
		state = JOB_ERROR;
		msg = xstrdup(error_last());
		goto end;
	}
	name_superseded(ctx, job, repo);
	/* the pushed head asks for no build; a run by hand is built anyway */
	if (!job->requested_by && (strstr(source_message(src), "[skip ci]") ||
	    strstr(source_message(src), "[ci skip]"))) {
		if ((error = store_job_set_subject(ctx->store, job->id,
		    source_subject(src))) < 0)
			goto out;
		state = JOB_CANCELED;
		msg = xasprintf("skipped: the commit message says %s",
		    strstr(source_message(src), "[skip ci]") ? "[skip ci]" :
		    "[ci skip]");
		goto end;
	}
	/* with the file's digest, for the provenance */
	if ((error = source_pipeline(src, &pl, pl_sha)) < 0) {
		if ((error = store_job_set_subject(ctx->store, job->id,
		    source_subject(src))) < 0)
			goto out;
		state = JOB_ERROR;
		msg = xstrdup(error_last());
		goto end;
	}
	{
		size_t n;
		const char **need = pipeline_labels(pl, &n);
		int handed = job_hand_on(ctx, job, need, n, "its pipeline runs",
		    &error);
		free(need);
		if (handed) {
			if (!error)
				error = store_job_set_subject(ctx->store, job->id,
				    source_subject(src));
			goto out;
		}
	}
	names = xcalloc(pl->nstages + 1, sizeof(*names));
	logs = xcalloc(pl->nstages + 1, sizeof(*logs));
	for (size_t i = 0; i < pl->nstages; i++) {
		names[i] = pl->stages[i].name;
		logs[i] = job_log_path(ctx->home, job->id, (int)i,
		    pl->stages[i].name);
	}
	/* the commit's subject with the list: one transaction */
	if ((error = store_stages_init(ctx->store, job->id,
	    source_subject(src), names, logs, pl->nstages)) < 0)
		goto out;
	if ((msg = pipeline_policy(ctx, job, pl))) {
		state = JOB_ERROR;
		goto end;
	}
	if ((taken = pool_take(ctx, ws)) && source_checkout_over(src, ws,
	    ctx->build_user ? ctx->build_user->uid : geteuid(),
	    ctx->build_user ? ctx->build_user->gid : (gid_t)-1, &made) < 0) {
		/* what the last build left cannot be made this one's tree
		 * (a folder it may not empty, a tree too deep): it goes
		 * aside, and this build gets a fresh checkout */
		log_line("job #%lld: the workspace kept from the last build "
		    "cannot be reused (%s); checking out afresh",
		    (long long)job->id, error_last());
		discard_workspace(ctx->home, ws, job->id);
		taken = 0;
	}
	/* a kept workspace of which nothing was made anew is all the
	 * build user's already */
	if ((!taken && source_checkout(src, ws) < 0) ||
	    ((!taken || made) && job_give(ws, ctx->build_user) < 0)) {
		state = JOB_ERROR;
		msg = xasprintf("checkout failed: %s", error_last());
		unkept = 1;	/* a failed tree is never reused */
		goto end;
	}
	source_free(src);
	src = NULL;
	/* the worker's last job's end on disk before a stage of this one
	 * runs (store_sync_behind) */
	if ((error = store_settle(ctx->store)) < 0)
		goto out;	/* its disk failed: nothing is recorded */

	for (size_t i = 0; i < pl->nstages; i++) {
		if (ctx->fail) {	/* the disk filled between stages */
			state = JOB_FAILED;
			msg = xstrdup(ctx->fail);
			rm_rf(ws);
			break;
		}
		if (store_cancel_requested(ctx->store, job->id) > 0) {
			state = JOB_CANCELED;
			msg = xstrdup("canceled");
			break;
		}
		if (*ctx->stopping) {
			state = JOB_INTERRUPTED;
			msg = xasprintf("the daemon stopped before stage '%s'",
			    pl->stages[i].name);
			break;
		}
		int wanted = stage_wanted(&pl->stages[i], job->ref);
		if (wanted < 0) {
			state = JOB_ERROR;
			msg = xstrdup(error_last());
			break;
		}
		if (!wanted) {
			unarchived |= pl->stages[i].nartifacts > 0;
			char *why = xasprintf("not for %s (only/except)",
			    ref_short_name(job->ref));
			error = store_stage_end(ctx->store, job->id, (int)i,
			    STEP_SKIPPED, -1, why);
			free(why);
			if (error < 0)
				goto out;
			continue;
		}
		/* the last stage's end is recorded with the job's, in one
		 * transaction (when nothing is archived after it) */
		if ((error = run_stage(ctx, job, pl, (int)i, ws, &aw,
		    &state, &msg, i + 1 == pl->nstages ? &last : NULL)) < 0)
			goto out;
		if (msg)
			break;
	}
	if (!msg && aw && last.idx >= 0) {
		error = record_stage_end(ctx, job, &last);
		last.idx = -1;
		if (error < 0)
			goto out;
	}
	if (!msg && aw && (error = store_job_phase(ctx->store, job->id,
	    "archiving")) < 0)
		goto out;
	if (!msg && aw) {
		char sha[65], *path = job_artifact_path(ctx->home, job->id);
		char *part = xasprintf("%s.part", path);
		int64_t size, files;
		struct artifact_writer *w = aw;

		aw = NULL;
		if (artifact_close(w, sha, &size, &files) < 0 ||
		    (rename(part, path) < 0 && error_set(-1, "cannot rename "
		    "'%s': %s", part, strerror(errno)))) {
			state = JOB_FAILED;
			msg = xasprintf("artifacts: %s", error_last());
			unlink(part);
		} else if (build_provenance(ctx, job, pl_sha, names, logs,
		    pl->nstages, path, sha, &prov) < 0) {
			state = JOB_FAILED;
			msg = xasprintf("provenance: %s", error_last());
			unlink(path);
		} else if ((error = store_artifact_add(ctx->store, job->id, path,
		    size, sha, files, prov)) < 0 ||
		    /* on a shared store, for hosts that do not see this
		     * one's files (a deployment elsewhere) */
		    (!store_is_sqlite(ctx->store) && (error = artifact_upload(
		    ctx->store, job->id, path)) < 0)) {
			free(part);
			free(path);
			goto out;
		}
		free(part);
		free(path);
	}
end:
	/* an unfinished archive is gone before the job's end is seen */
	artifact_abort(aw);
	aw = NULL;
	if ((error = end_build(ctx, job, pl, state, msg, unarchived,
	    last.idx >= 0 ? &last : NULL)) == 0) {
		ctx->ended = 1;
		ctx->ended_state = state;
		free(ctx->ended_error);
		ctx->ended_error = msg ? xstrdup(msg) : NULL;
	}
out:
	free(last.error);
	artifact_abort(aw);
	source_free(src);
	pipeline_free(pl);
	if (!ctx->conf->keep_workspaces && unkept)
		discard_workspace(ctx->home, ws, job->id);
	else if (!ctx->conf->keep_workspaces)
		put_workspace(ctx, ws, job->id);
	if (logs)
		for (size_t i = 0; logs[i]; i++)
			free(logs[i]);
	free(logs);
	free(names);
	free(msg);
	free(ws);
	free(logdir);
	free(artdir);
	free(repo);
	free(prov);
	return error;
}
