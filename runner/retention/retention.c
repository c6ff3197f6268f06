/*
 * What a collection removes (retention.h): the rules of what stays are
 * here, the statements that read and remove records in admin.c.
 *
 * What a collection keeps, whatever runner.yml's retention says:
 *   - queued and running jobs, and every file of theirs;
 *   - per repository and environment: the current release, the one it
 *     replaced (what `runner rollback` returns to), the latest deployment,
 *     the deployment under way, and the newest `releases` release
 *     folders, with their backups and records;
 *   - the deployment a kept one rolled back to (its record; its release
 *     too while the rollback is under way), and every deployment of a
 *     release tag (what keeps a tag from deploying twice, moving or
 *     going back);
 *   - the newest `deployments` deployment records of each repository and
 *     environment (all of them when it is not set);
 *   - the builds kept deployments came from (their records), and the
 *     artifacts of those whose release is kept (a rollback extracts it
 *     again);
 *   - jobs with a notification not yet delivered (or an event not yet
 *     made into notifications), and deployments whose services still run.
 * Of the rest, a deployment goes whole (record, stages, checks, logs,
 * release folder, backup); an ended build goes (record, logs, artifact,
 * workspace) when it is older than `build_age` or not among the newest
 * `builds` of its repository and branch; logs, artifacts and kept
 * workspaces go after their ages; folders of jobs the store no longer
 * knows go. A job newer than what was read is never touched.
 */
#include "retention.h"
#include "admin.h"
#include "chunks.h"
#include "config.h"
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *gc_kind_name(enum gc_kind k)
{
	static const char *const names[GC_KINDS] = {
		[GC_BUILDS] = "builds", [GC_DEPLOYS] = "deployments",
		[GC_LOGS] = "logs",
		[GC_ARTIFACTS] = "artifacts", [GC_WORKSPACES] = "workspaces",
		[GC_RELEASES] = "releases", [GC_BACKUPS] = "backups",
		[GC_SOURCES] = "sources", [GC_STORE] = "store",
	};
	return names[k];
}

/* One job as a collection sees it. */
struct gjob {
	int64_t id;
	int64_t ended_ms;	/* 0: queued or running */
	int64_t source, previous, rollback_to;
	unsigned deploy : 1, release : 1, tag : 1;
	unsigned keep_record : 1;	/* a job that must stay */
	unsigned keep_release : 1;	/* a release folder that must stay */
	unsigned keep_artifact : 1;
	unsigned doomed : 1;		/* a job whose record goes */
	unsigned removed : 1;		/* and went */
	int rank;			/* 1: newest of its group */
	int drank;			/* deployments: 1, the newest ended */
	int64_t dkeep;			/* deployments: records kept; 0 all */
};

struct gc {
	struct store *s;
	const char *home;
	const struct retention *r;
	int dry_run;
	FILE *verbose;
	struct gc_report *out;
	int64_t now;
	struct gjob *v;		/* sorted by id */
	size_t n;
	int64_t max_id;		/* newer jobs are not looked at */
	size_t cap;
	char *group;		/* the group being read, and its ranks */
	size_t group_len;
	int rank, drank;
};

static int by_id(const void *a, const void *b)
{
	const struct gjob *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static struct gjob *find(const struct gc *g, int64_t id)
{
	struct gjob key = { .id = id };
	return id ? bsearch(&key, g->v, g->n, sizeof(*g->v), by_id) : NULL;
}

/* Mark the jobs whose ids the store gives as jobs that must stay. */
static int keep_ids(struct gc *g, enum gc_kept which)
{
	int64_t *ids = NULL;
	size_t nids = 0;
	int error;

	if ((error = store_gc_kept(g->s, which, &ids, &nids)) < 0)
		return error;
	for (size_t i = 0; i < nids; i++) {
		struct gjob *j = find(g, ids[i]);
		if (j)
			j->keep_record = 1;
	}
	free(ids);
	return 0;
}

/* One job read, ranked in its group. */
static int add_job(void *arg, const struct gc_row *r)
{
	struct gc *g = arg;
	struct gjob *j;
	size_t glen = strlen(r->group);

	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 1024;
		g->v = xrealloc(g->v, g->cap * sizeof(*g->v));
	}
	j = &g->v[g->n++];
	memset(j, 0, sizeof(*j));
	j->id = r->id;
	j->deploy = r->deploy;
	j->ended_ms = r->ended ? r->time_ms : 0;
	if (!j->ended_ms && r->ended)
		j->ended_ms = 1;
	j->source = r->source;
	j->previous = r->previous;
	j->release = r->release;
	j->rollback_to = r->rollback_to;
	j->tag = r->tag;
	if (j->deploy)
		j->dkeep = retention_deployments(g->r, r->env);
	if (!g->group || g->group_len != glen ||
	    memcmp(g->group, r->group, glen)) {
		free(g->group);
		g->group_len = glen;
		g->group = xmalloc(glen + 1);
		memcpy(g->group, r->group, glen + 1);
		g->rank = g->drank = 0;
	}
	/* only what counts: ended builds, releases */
	if (j->deploy ? j->release : r->ended)
		j->rank = ++g->rank;
	if (j->deploy && r->ended)
		j->drank = ++g->drank;
	if (j->id > g->max_id)
		g->max_id = j->id;
	return 0;
}

/* Read every job (ranked in its group), then mark what must stay. */
static int load(struct gc *g)
{
	int64_t *envs = NULL;
	size_t nenvs = 0;
	int error;

	error = store_gc_jobs(g->s, add_job, g);
	free(g->group);
	g->group = NULL;
	if (error < 0)
		return error;
	if (g->n)
		qsort(g->v, g->n, sizeof(*g->v), by_id);

	/* releases that stay: under way, newest, current, the one before,
	 * the latest deployment */
	for (size_t i = 0; i < g->n; i++) {
		struct gjob *j = &g->v[i];
		if (j->deploy && (!j->ended_ms || (j->release &&
		    j->rank <= g->r->releases)))
			j->keep_release = 1;
	}
	if ((error = store_gc_envs(g->s, &envs, &nenvs)) < 0)
		return error;
	for (size_t e = 0; e < nenvs; e++)
		for (int c = 0; c < 2; c++) {
			struct gjob *j = find(g, envs[2 * e + c]);
			if (!j)
				continue;
			j->keep_release = 1;
			if (c == 0 && (j = find(g, j->previous)))
				j->keep_release = 1;
		}
	free(envs);

	/* records that stay besides: a notification waits, a service of a
	 * deployment runs */
	if ((error = keep_ids(g, GC_KEPT_PENDING)) < 0 ||
	    (error = keep_ids(g, GC_KEPT_SERVICES)) < 0)
		return error;

	/* deployments that stay: those whose release stays, the newest
	 * `deployments` of their environment, release tags; and what a kept
	 * one rolled back to, which is older (newest first, so that a target
	 * is marked before it is looked at). A rollback under way extracts
	 * its target's release again: that stays whole. */
	for (size_t i = g->n; i-- > 0; ) {
		struct gjob *j = &g->v[i], *t;
		if (!j->deploy)
			continue;
		if (!j->ended_ms || j->keep_release || j->tag || !j->dkeep ||
		    j->drank <= j->dkeep)
			j->keep_record = 1;
		if (!j->keep_record) {
			j->doomed = 1;
			continue;
		}
		if ((t = find(g, j->rollback_to))) {
			t->keep_record = 1;
			if (!j->ended_ms)
				t->keep_release = 1;
		}
	}

	/* builds that stay: a kept deployment came from them (their artifact
	 * too, while its release stays) */
	for (size_t i = 0; i < g->n; i++) {
		struct gjob *j = &g->v[i], *b;
		if (!j->deploy || j->doomed || !(b = find(g, j->source)))
			continue;
		b->keep_record = 1;
		if (j->keep_release)
			b->keep_artifact = 1;
	}

	for (size_t i = 0; i < g->n; i++) {
		struct gjob *j = &g->v[i];
		if (j->deploy || !j->ended_ms || j->keep_record)
			continue;
		j->doomed = j->rank > g->r->builds || (g->r->build_age_ms &&
		    j->ended_ms < g->now - g->r->build_age_ms);
	}
	return 0;
}

/* Jobs removed in one transaction: a first collection of a long history
 * holds the store from pushes and workers only this long at a time. */
#define GC_BATCH 256

/* Commit the removals of `batch` and count them, or roll them back. */
static int commit_batch(struct gc *g, struct gjob **batch, size_t n)
{
	int error = store_gc_commit(g->s);

	if (error < 0)
		store_gc_rollback(g->s);
	for (size_t i = 0; i < n; i++) {
		if (error < 0)
			batch[i]->removed = 0;
		else
			g->out->count[batch[i]->deploy ? GC_DEPLOYS : GC_BUILDS]++;
	}
	return error;
}

/* The records of doomed jobs, GC_BATCH to a transaction: deployments
 * first (newest first: one that must stay after all keeps what it rolled
 * back to), then the builds they no longer hold. */
static int remove_records(struct gc *g)
{
	struct gjob *batch[GC_BATCH];
	size_t n = 0;
	int open = 0, error = 0;

	if (g->dry_run) {
		for (size_t i = 0; i < g->n; i++)
			g->out->count[g->v[i].deploy ? GC_DEPLOYS : GC_BUILDS] +=
			    g->v[i].doomed;
		return 0;
	}
	for (int pass = 0; pass < 2 && error == 0; pass++)
		for (size_t i = g->n; i-- > 0 && error == 0; ) {
			struct gjob *j = &g->v[i], *t;
			if (!j->doomed || j->deploy != (pass == 0))
				continue;
			if (!open && (error = store_gc_begin(g->s)) < 0)
				break;
			open = 1;
			if ((error = store_gc_remove(g->s, j->id, j->deploy,
			    g->max_id)) < 0)
				break;
			if (error == 0) {
				j->doomed = 0;
				if (j->deploy && (t = find(g, j->rollback_to)))
					t->doomed = 0;
				continue;
			}
			error = 0;
			j->removed = 1;
			batch[n++] = j;
			if (n == GC_BATCH) {
				open = 0;
				error = commit_batch(g, batch, n);
				n = 0;
			}
		}
	if (open && error == 0)
		return commit_batch(g, batch, n);
	if (open) {
		store_gc_rollback(g->s);
		while (n > 0)
			batch[--n]->removed = 0;
	}
	return error;
}

/* Disk space taken by what is at `name` in `dirfd`, all of it. */
static int64_t du_at(int dirfd, const char *name)
{
	struct stat st;
	int64_t total;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	total = (int64_t)st.st_blocks * 512;
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;
		if (!d) {
			if (fd >= 0)
				close(fd);
			return total;
		}
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				total += du_at(fd, de->d_name);
		closedir(d);
	}
	return total;
}

/* A job id from a folder entry ("123", or "123.tar.zst" with `suffix`);
 * 0 when it is not one. */
static int64_t entry_id(const char *name, const char *suffix)
{
	char *end;
	long long id;

	if (*name < '1' || *name > '9')
		return 0;
	errno = 0;
	id = strtoll(name, &end, 10);
	if (errno || strcmp(end, suffix ? suffix : ""))
		return 0;
	return id;
}

/* Does the entry of job `id` of kind `k` go? */
static int goes(const struct gc *g, enum gc_kind k, int64_t id)
{
	const struct retention *r = g->r;
	const struct gjob *j = find(g, id);
	int64_t age_ms = 0;

	if (id > g->max_id)
		return 0;	/* newer than what was read */
	if (!j)
		return 1;	/* the store does not know it (any more) */
	if (!j->ended_ms)
		return 0;
	if (j->removed || (g->dry_run && j->doomed))
		return 1;
	switch (k) {
	case GC_LOGS:
		age_ms = r->logs_ms;
		break;
	case GC_ARTIFACTS:
		if (j->keep_artifact)
			return 0;
		age_ms = r->artifacts_ms;
		break;
	case GC_WORKSPACES:
		age_ms = r->workspaces_ms;
		break;
	case GC_RELEASES:
	case GC_BACKUPS:
		return j->deploy && !j->keep_release;
	default:
		return 0;
	}
	return age_ms > 0 && j->ended_ms < g->now - age_ms;
}

/* Collect in folder `path`, whose entries are named by job ids (with
 * `suffix`), `depth` folders down (releases/ENV/ID: 1). */
static void sweep(struct gc *g, enum gc_kind k, const char *path,
    const char *suffix, int depth)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *sub;
		int64_t id;
		if (de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", path, de->d_name);
		if (depth > 0) {
			sweep(g, k, sub, suffix, depth - 1);
		} else if ((id = entry_id(de->d_name, suffix)) && goes(g, k, id)) {
			int64_t bytes = du_at(dirfd(d), de->d_name);
			if (g->verbose)
				fprintf(g->verbose, "%s\n", sub);
			if (g->dry_run || rm_rf(sub) == 0) {
				g->out->count[k]++;
				g->out->bytes[k] += bytes;
			} else {
				log_line("warning: %s", error_last());
			}
		}
		free(sub);
	}
	closedir(d);
}

/* Space the deletions freed, given back. */
static int compact(struct gc *g)
{
	int64_t freed = 0;
	int error = store_compact(g->s, &freed);

	if (freed > 0) {
		g->out->count[GC_STORE] = 1;
		g->out->bytes[GC_STORE] = freed;
	}
	return error;
}

/* The home's disk use by kind, kept for `runner status`. */
static int measure(struct gc *g)
{
	static const char *const dirs[GC_KINDS] = {
		[GC_LOGS] = "logs", [GC_ARTIFACTS] = "artifacts",
		[GC_WORKSPACES] = "work", [GC_RELEASES] = "releases",
		[GC_BACKUPS] = "backups", [GC_SOURCES] = "cache/sources",
	};
	struct sbuf sb = SBUF_INIT;
	int error;

	g->out->usage[GC_BUILDS] = du_at(AT_FDCWD, g->home);
	for (int k = GC_LOGS; k < GC_STORE; k++) {
		char *p = xasprintf("%s/%s", g->home, dirs[k]);
		g->out->usage[k] = du_at(AT_FDCWD, p);
		free(p);
	}
	if ((g->out->usage[GC_STORE] = store_size(g->s)) < 0)
		return (int)g->out->usage[GC_STORE];
	sbuf_addf(&sb, "home=%lld", (long long)g->out->usage[GC_BUILDS]);
	for (int k = GC_LOGS; k < GC_KINDS; k++)
		sbuf_addf(&sb, " %s=%lld", gc_kind_name(k),
		    (long long)g->out->usage[k]);
	error = store_setting_set(g->s, SETTING_DISK, sb.buf);
	sbuf_release(&sb);
	return error;
}

int retention_run(struct store *s, const char *home,
    const struct retention *r, int dry_run, FILE *verbose,
    struct gc_report *out)
{
	struct gc g = { .s = s, .home = home, .r = r, .dry_run = dry_run,
	    .verbose = verbose, .out = out, .now = now_ms() };
	int64_t sources[2] = { out->count[GC_SOURCES], out->bytes[GC_SOURCES] };
	char *p;
	int error;

	memset(out, 0, sizeof(*out));
	out->count[GC_SOURCES] = sources[0];
	out->bytes[GC_SOURCES] = sources[1];
	if ((error = load(&g)) < 0 || (error = remove_records(&g)) < 0)
		goto out;
	p = xasprintf("%s/logs", home);
	sweep(&g, GC_LOGS, p, NULL, 0);
	free(p);
	p = xasprintf("%s/artifacts", home);
	sweep(&g, GC_ARTIFACTS, p, ".tar.zst", 0);
	free(p);
	p = xasprintf("%s/work", home);
	sweep(&g, GC_WORKSPACES, p, NULL, 0);
	free(p);
	p = xasprintf("%s/releases", home);
	sweep(&g, GC_RELEASES, p, NULL, 1);	/* releases/ENV/ID */
	free(p);
	p = xasprintf("%s/backups", home);
	sweep(&g, GC_BACKUPS, p, NULL, 2);	/* backups/REPO/ENV/ID */
	free(p);
	/* what hosts that share only the store sent of logs and artifacts
	 * goes when the files would */
	for (size_t i = 0; !dry_run && !store_is_sqlite(s) && i < g.n &&
	    error == 0; i++)
		if (!g.v[i].removed && (goes(&g, GC_LOGS, g.v[i].id) ||
		    goes(&g, GC_ARTIFACTS, g.v[i].id)))
			error = store_chunks_drop(s, g.v[i].id,
			    goes(&g, GC_LOGS, g.v[i].id),
			    goes(&g, GC_ARTIFACTS, g.v[i].id));
	if (!dry_run && (error = compact(&g)) == 0)
		error = measure(&g);
out:
	free(g.v);
	return error;
}

