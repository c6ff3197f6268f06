/*
 * Settings and collection (admin.h).
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
#include "admin.h"
#include "chunks.h"
#include "config.h"
#include "state.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum q {
	Q_SET_GET = BASE_ADMIN, Q_SET_PUT, Q_SET_DEL, Q_GC_JOBS, Q_GC_ENVS,
	Q_GC_PENDING, Q_GC_UNRETRY, Q_GC_STAGES, Q_GC_ARTS, Q_GC_CHECKS,
	Q_GC_NOTIFS, Q_GC_EVENTS, Q_GC_MAY, Q_GC_JOB,
	Q_STAT_JOBS, Q_STAT_DEPLOYS, Q_STAT_JOB_TIMES, Q_STAT_STAGE_TIMES,
	Q_GC_SERVICES, Q_GC_UNPREV, Q_GC_UNROLL, Q_GC_MAY_DEPLOY,
	Q_ADMIN_END
};
_Static_assert((int)Q_ADMIN_END <= (int)BASE_HOSTS, "admin statements overlap");

#define ENDED "state NOT IN (" SQ(N_QUEUED) ", " SQ(N_RUNNING) ")"

/* the bounds of the duration histograms, in ms (stats_bounds()) */
#define LE(d, n) "sum(CASE WHEN " d " <= " n " THEN 1 ELSE 0 END), "
#define BUCKETS(d) LE(d, "1000") LE(d, "5000") LE(d, "10000") \
	LE(d, "30000") LE(d, "60000") LE(d, "300000") LE(d, "900000") \
	LE(d, "1800000") LE(d, "3600000") "count(*), sum(" d ")"
static const int64_t bounds_ms[] = { 1000, 5000, 10000, 30000, 60000,
	300000, 900000, 1800000, 3600000 };

STORE_SQL(admin) = {
	/* in the order of their groups, on both engines */
	[Q_STAT_JOBS] = "SELECT kind, state, count(*) FROM jobs GROUP BY kind, "
	    "state ORDER BY kind, state",
	[Q_STAT_DEPLOYS] = "SELECT repo, env, state, count(*) FROM jobs WHERE "
	    "kind = 'deploy' AND " ENDED " GROUP BY repo, env, state ORDER BY repo, env, state",
	[Q_STAT_JOB_TIMES] = "SELECT repo, kind, " BUCKETS("(finished_ms - "
	    "started_ms)") " FROM jobs WHERE finished_ms IS NOT NULL AND "
	    "started_ms IS NOT NULL GROUP BY repo, kind ORDER BY repo, kind",
	[Q_STAT_STAGE_TIMES] = "SELECT j.repo, s.name, " BUCKETS("(s.finished_ms"
	    " - s.started_ms)") " FROM stages s JOIN jobs j ON j.id = s.job_id "
	    "WHERE j.kind = 'build' AND s.finished_ms IS NOT NULL AND "
	    "s.started_ms IS NOT NULL GROUP BY j.repo, s.name ORDER BY "
	    "j.repo, s.name",
	[Q_SET_GET] = "SELECT value, updated_ms FROM settings WHERE key = ?1",
	[Q_SET_PUT] = "INSERT INTO settings (key, value, updated_ms) VALUES "
	    "(?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET value = ?2, "
	    "updated_ms = ?3",
	[Q_SET_DEL] = "DELETE FROM settings WHERE key = ?1",
	/* grouped as retention counts: builds by repository and branch,
	 * deployments by repository and environment, newest first */
	[Q_GC_JOBS] = "SELECT id, kind, state, coalesce(finished_ms, "
	    "created_ms), source_job, previous, release_dir IS NOT NULL, "
	    "repo || char(1) || CASE kind WHEN 'build' THEN ref ELSE env END, "
	    "rollback_to, tag IS NOT NULL, env "
	    "FROM jobs ORDER BY kind, repo, CASE kind WHEN 'build' THEN ref "
	    "ELSE env END, id DESC",
	/* the deployments that started what still runs */
	[Q_GC_SERVICES] = "SELECT DISTINCT job_id FROM services",
	[Q_GC_ENVS] = "SELECT release, last FROM environments",
	/* events not yet routed are notifications not yet made */
	[Q_GC_PENDING] = "SELECT job_id FROM notifications WHERE state = "
	    SQ(N_PENDING) " UNION SELECT job_id FROM events WHERE routed = 0",
	[Q_GC_UNRETRY] = "UPDATE jobs SET retry_of = NULL WHERE retry_of = ?1",
	/* a kept deployment forgets the removed one it replaced */
	[Q_GC_UNPREV] = "UPDATE jobs SET previous = NULL WHERE previous = ?1",
	[Q_GC_UNROLL] = "UPDATE jobs SET rollback_to = NULL WHERE "
	    "rollback_to = ?1",
	[Q_GC_STAGES] = "DELETE FROM stages WHERE job_id = ?1",
	[Q_GC_ARTS] = "DELETE FROM artifacts WHERE job_id = ?1",
	[Q_GC_CHECKS] = "DELETE FROM checks WHERE job_id = ?1",
	[Q_GC_NOTIFS] = "DELETE FROM notifications WHERE job_id = ?1",
	[Q_GC_EVENTS] = "DELETE FROM events WHERE job_id = ?1",
	/* checked again as it goes: ended, nothing came from it, nothing
	 * of it waits to be delivered */
	[Q_GC_JOB] = "DELETE FROM jobs WHERE id = ?1",
	[Q_GC_MAY] = "SELECT count(*) FROM jobs WHERE id = ?1 AND kind = 'build' AND "
	    ENDED " AND NOT EXISTS (SELECT 1 FROM jobs d WHERE d.source_job = "
	    "?1) AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.job_id "
	    "= ?1 AND n.state = " SQ(N_PENDING) ") AND NOT EXISTS (SELECT 1 "
	    "FROM events e WHERE e.job_id = ?1 AND e.routed = 0)",
	/* the same of a deployment: ended, not of a tag, not what an
	 * environment serves, served before or last ran, nor what a job
	 * under way (or newer than ?2, what was read) replaces or rolls back
	 * to, nothing of it waits to be delivered, none of its services
	 * runs */
	[Q_GC_MAY_DEPLOY] = "SELECT count(*) FROM jobs WHERE id = ?1 AND kind "
	    "= 'deploy' AND " ENDED " AND tag IS NULL AND NOT EXISTS (SELECT 1 "
	    "FROM environments e WHERE e.release = ?1 OR e.last = ?1) AND NOT "
	    "EXISTS (SELECT 1 FROM environments e JOIN jobs c ON c.id = "
	    "e.release WHERE c.previous = ?1) AND NOT EXISTS (SELECT 1 FROM "
	    "jobs d WHERE (d.previous = ?1 OR d.rollback_to = ?1) AND (d.id > "
	    "?2 OR d.state IN (" SQ(N_QUEUED) ", " SQ(N_RUNNING) "))) AND NOT "
	    "EXISTS (SELECT 1 FROM notifications n WHERE n.job_id = ?1 AND "
	    "n.state = " SQ(N_PENDING) ") AND NOT EXISTS (SELECT 1 FROM events "
	    "e WHERE e.job_id = ?1 AND e.routed = 0) AND NOT EXISTS (SELECT 1 "
	    "FROM services v WHERE v.job_id = ?1)",
};

int store_setting_get(struct store *s, const char *key, char **value,
    int64_t *ms)
{
	struct stmt *st = stmt_bound(s, Q_SET_GET, sql, ARGS(arg_text(key)));
	int rc;

	if (value)
		*value = NULL;
	if (!st)
		return -1;
	rc = step(st);
	if (rc == STEP_ROW) {
		if (value)
			*value = col_text(st, 0);
		if (ms)
			*ms = col_int64(st, 1);
	}
	reset(st);
	if (rc != STEP_ROW && rc != STEP_DONE)
		return db_error(s, "read a setting");
	return rc == STEP_ROW;
}

int store_setting_set(struct store *s, const char *key, const char *value)
{
	if (!value)
		return run(s, Q_SET_DEL, sql, "remove a setting",
		    ARGS(arg_text(key)));
	return run(s, Q_SET_PUT, sql, "change a setting",
	    ARGS(arg_text(key), arg_text(value), arg_int(now_ms())));
}

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

/* Mark the jobs whose ids `q` reads as jobs that must stay. */
static int keep_ids(struct gc *g, int q)
{
	struct stmt *st = stmt(g->s, q, sql);
	int64_t *ids = NULL;
	size_t nids = 0;
	int error;

	if (!st || (error = ids_of(g->s, st, &ids, &nids)) < 0)
		return st ? error : -1;
	for (size_t i = 0; i < nids; i++) {
		struct gjob *j = find(g, ids[i]);
		if (j)
			j->keep_record = 1;
	}
	free(ids);
	return 0;
}

/* Read every job (ranked in its group), then mark what must stay. */
static int load(struct gc *g)
{
	struct stmt *st = stmt(g->s, Q_GC_JOBS, sql);
	char *group = NULL;
	size_t cap = 0, group_len = 0;
	int rank = 0, drank = 0, rc, error = 0;

	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		struct gjob *j;
		const char *grp = col_str(st, 7);
		int glen = grp ? (int)strlen(grp) : 0;
		const char *state = col_str(st, 2);
		int ended = strcmp(state, N_QUEUED) && strcmp(state, N_RUNNING);
		if (g->n == cap) {
			cap = cap ? 2 * cap : 1024;
			g->v = xrealloc(g->v, cap * sizeof(*g->v));
		}
		j = &g->v[g->n++];
		memset(j, 0, sizeof(*j));
		j->id = col_int64(st, 0);
		j->deploy = !strcmp(col_str(st, 1), "deploy");
		j->ended_ms = ended ? col_int64(st, 3) : 0;
		if (!j->ended_ms && ended)
			j->ended_ms = 1;
		j->source = col_int64(st, 4);
		j->previous = col_int64(st, 5);
		j->release = col_int(st, 6) != 0;
		j->rollback_to = col_int64(st, 8);
		j->tag = col_int(st, 9) != 0;
		if (j->deploy)
			j->dkeep = retention_deployments(g->r, col_str(st, 10));
		if (!group || group_len != (size_t)glen ||
		    memcmp(group, grp ? grp : "", group_len)) {
			free(group);
			group_len = (size_t)glen;
			group = xmalloc(group_len + 1);
			memcpy(group, grp ? grp : "", group_len);
			rank = drank = 0;
		}
		/* only what counts: ended builds, releases */
		if (j->deploy ? j->release : ended)
			j->rank = ++rank;
		if (j->deploy && ended)
			j->drank = ++drank;
		if (j->id > g->max_id)
			g->max_id = j->id;
	}
	free(group);
	reset(st);
	if (rc != STEP_DONE)
		return db_error(g->s, "read the jobs");
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
	st = stmt(g->s, Q_GC_ENVS, sql);
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW)
		for (int c = 0; c < 2; c++) {
			struct gjob *j = find(g, col_int64(st, c));
			if (!j)
				continue;
			j->keep_release = 1;
			if (c == 0 && (j = find(g, j->previous)))
				j->keep_release = 1;
		}
	reset(st);
	if (rc != STEP_DONE)
		return db_error(g->s, "read the environments");

	/* records that stay besides: a notification waits, a service of a
	 * deployment runs */
	if ((error = keep_ids(g, Q_GC_PENDING)) < 0 ||
	    (error = keep_ids(g, Q_GC_SERVICES)) < 0)
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

/* Remove the record of doomed job `j` and what hangs on it, if it may
 * still go; 1 when it went. */
static int remove_record(struct gc *g, struct gjob *j)
{
	static const int steps[] = { Q_GC_UNRETRY, Q_GC_UNPREV, Q_GC_UNROLL,
		Q_GC_STAGES, Q_GC_ARTS, Q_GC_CHECKS, Q_GC_NOTIFS, Q_GC_EVENTS,
		Q_GC_JOB };
	int error = 0;

	/* what was read may have changed since: a job that must stay after
	 * all does */
	int64_t may = j->deploy ? first_id(g->s, Q_GC_MAY_DEPLOY, sql,
	    ARGS(arg_int(j->id), arg_int(g->max_id))) : first_id(g->s,
	    Q_GC_MAY, sql, ARGS(arg_int(j->id)));

	if (may != 1)
		return may < 0 ? (int)may : 0;
	for (size_t k = 0; k < sizeof(steps) / sizeof(*steps) && error == 0;
	    k++)
		error = run(g->s, steps[k], sql, j->deploy ? "remove a "
		    "deployment" : "remove a build", ARGS(arg_int(j->id)));
	return error < 0 ? error : 1;
}

/* Jobs removed in one transaction: a first collection of a long history
 * holds the store from pushes and workers only this long at a time. */
#define GC_BATCH 256

/* Commit the removals of `batch` and count them, or roll them back. */
static int commit_batch(struct gc *g, struct gjob **batch, size_t n)
{
	int error = commit(g->s);

	if (error < 0)
		rollback(g->s);
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
			if (!open && (error = begin(g->s)) < 0)
				break;
			open = 1;
			if ((error = remove_record(g, j)) < 0)
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
		rollback(g->s);
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

int store_gc(struct store *s, const char *home, const struct retention *r,
    int dry_run, FILE *verbose, struct gc_report *out)
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

size_t stats_bounds(const int64_t **ms)
{
	*ms = bounds_ms;
	return sizeof(bounds_ms) / sizeof(*bounds_ms);
}

int store_stats(struct store *s, enum stat_kind k, struct stat_row **out,
    size_t *n)
{
	static const int q[] = { [STAT_JOBS] = Q_STAT_JOBS,
		[STAT_DEPLOYS] = Q_STAT_DEPLOYS,
		[STAT_JOB_TIMES] = Q_STAT_JOB_TIMES,
		[STAT_STAGE_TIMES] = Q_STAT_STAGE_TIMES };
	static const int ntext[] = { [STAT_JOBS] = 2, [STAT_DEPLOYS] = 3,
		[STAT_JOB_TIMES] = 2, [STAT_STAGE_TIMES] = 2 };
	struct stmt *st = stmt(s, q[k], sql);
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		struct stat_row *r;
		int cols = col_count(st);
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		r = &(*out)[(*n)++];
		memset(r, 0, sizeof(*r));
		for (int c = 0; c < cols && c < ntext[k] + STAT_NUMS; c++) {
			if (c < ntext[k])
				r->text[c] = col_text(st, c);
			else
				r->num[c - ntext[k]] = col_int64(st, c);
		}
	}
	reset(st);
	if (rc != STEP_DONE) {
		stats_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_error(s, "read the figures");
	}
	return 0;
}

void stats_free(struct stat_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < 3; c++)
			free(v[i].text[c]);
	free(v);
}
