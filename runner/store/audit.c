/*
 * Who caused a job, who signed a release and who approved it, in the
 * store (audit.h). The cause is written in the transaction that queues
 * the job, so that no job is ever without it; the approvals when the
 * deployment counts them.
 */
#include "audit.h"
#include "jobs.h"
#include "state.h"
#include "store_int.h"
#include "util.h"
#include "who.h"

#include <stdlib.h>
#include <string.h>

#define APPROVAL_COLS "a.job_id, a.repo, a.env, a.tag, a.have, a.need, " \
	"a.names, a.approvers, a.created_ms"

enum q {
	A_SET = BASE_AUDIT, A_COPY, A_SIGNER, A_APPROVALS_SET, A_APPROVALS_GET,
	A_PENDING, A_AS_RELEASE, A_PROV_GET, A_PROV_SET, A_KEY_ADD,
	A_KEY_GET, A_END
};
_Static_assert((int)A_END <= (int)BASE_FIND, "audit statements overlap");

STORE_SQL(audit) = {
	[A_SET] = "UPDATE jobs SET pushed_by = ?2, pushed_via = ?3, pushed_key "
	    "= ?4, pushed_as = ?5 WHERE id = ?1",
	/* a deployment that a build queued: the build's cause */
	[A_COPY] = "UPDATE jobs SET (pushed_by, pushed_via, pushed_key, "
	    "pushed_as) = (SELECT b.pushed_by, b.pushed_via, b.pushed_key, "
	    "b.pushed_as FROM jobs b WHERE b.id = ?2) WHERE id = ?1",
	[A_SIGNER] = "UPDATE jobs SET signer = ?2 WHERE id = ?1",
	[A_APPROVALS_SET] = "INSERT INTO approvals (job_id, repo, env, tag, "
	    "have, need, names, approvers, created_ms) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6, ?7, ?8, ?9) ON CONFLICT (job_id) DO UPDATE SET have = ?5, "
	    "need = ?6, names = ?7, approvers = ?8, created_ms = ?9",
	[A_APPROVALS_GET] = "SELECT " APPROVAL_COLS " FROM approvals a WHERE "
	    "a.job_id = ?1",
	/* held for want of approvals, and nothing newer of its tag queued
	 * since, nor a newer release healthy in its environment (releases
	 * only go forward) */
	[A_PENDING] = "SELECT " APPROVAL_COLS " FROM approvals a WHERE a.have < "
	    "a.need AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = "
	    "'deploy' AND j.repo = a.repo AND j.tag = a.tag AND j.id > "
	    "a.job_id) AND NOT EXISTS (SELECT 1 FROM jobs h WHERE h.kind = "
	    "'deploy' AND h.repo = a.repo AND h.env = a.env AND h.id > a.job_id "
	    "AND h.state = " SQ(N_HEALTHY) ") ORDER BY a.job_id",
	/* a deployment an approval tag queued becomes its release's */
	[A_AS_RELEASE] = "UPDATE jobs SET ref = ?2, tag = ?3, commit_id = ?4 "
	    "WHERE id = ?1 AND kind = 'deploy'",
	[A_PROV_GET] = "SELECT provenance FROM artifacts WHERE job_id = ?1 "
	    "ORDER BY id LIMIT 1",
	[A_PROV_SET] = "UPDATE jobs SET provenance = ?2 WHERE id = ?1",
	[A_KEY_ADD] = "INSERT OR IGNORE INTO provenance_keys (keyid, host, "
	    "public_pem, created_ms) VALUES (?1, ?2, ?3, ?4)",
	[A_KEY_GET] = "SELECT public_pem, host FROM provenance_keys WHERE "
	    "keyid = ?1",
};

static void approval_from_row(struct stmt *st, struct approval_rec *a)
{
	a->job_id = col_int64(st, 0);
	a->repo = col_text(st, 1);
	a->env = col_text(st, 2);
	a->tag = col_text(st, 3);
	a->have = col_int64(st, 4);
	a->need = col_int64(st, 5);
	a->names = col_text(st, 6);
	a->approvers = col_text(st, 7);
	a->created_ms = col_int64(st, 8);
}

int store_approvals_set(struct store *s, const struct approval_rec *a)
{
	return run(s, A_APPROVALS_SET, sql, "record the approvals of a release",
	    ARGS(arg_int(a->job_id), arg_text(a->repo), arg_text(a->env),
	    arg_text(a->tag), arg_int(a->have), arg_int(a->need),
	    arg_text(a->names), arg_text(a->approvers), arg_int(now_ms())));
}

/* The rows of `st` into *out, *n. */
static int approvals_read(struct store *s, struct stmt *st,
    struct approval_rec **out, size_t *n)
{
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		approval_from_row(st, &(*out)[(*n)++]);
	}
	reset(st);
	if (rc != STEP_DONE) {
		approval_recs_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_error(s, "read approvals");
	}
	return 0;
}

int store_approvals_get(struct store *s, int64_t job_id,
    struct approval_rec **out)
{
	size_t n;

	return approvals_read(s, stmt_bound(s, A_APPROVALS_GET, sql,
	    ARGS(arg_int(job_id))), out, &n);
}

int store_approvals_pending(struct store *s, struct approval_rec **out,
    size_t *n)
{
	return approvals_read(s, stmt_bound(s, A_PENDING, sql, NO_ARGS), out,
	    n);
}

void approval_recs_free(struct approval_rec *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].repo);
		free(v[i].env);
		free(v[i].tag);
		free(v[i].names);
		free(v[i].approvers);
	}
	free(v);
}

void approval_describe(struct sbuf *sb, const struct approval_rec *a)
{
	sbuf_addf(sb, "%lld of %lld approvals: ", (long long)a->have,
	    (long long)a->need);
	sbuf_add_display(sb, a->names, strlen(a->names));
	if (a->have < a->need)
		sbuf_addf(sb, "; %lld more needed", (long long)(a->need -
		    a->have));
}

int store_job_as_release(struct store *s, int64_t id, const char *tag,
    const char *object)
{
	char *ref = xasprintf("refs/tags/%s", tag);
	int error = run(s, A_AS_RELEASE, sql, "record the release an approval "
	    "deploys", ARGS(arg_int(id), arg_text(ref), arg_text(tag),
	    arg_text(object)));

	free(ref);
	return error;
}

int job_provenance_describe(struct sbuf *sb, const struct job *j)
{
	const char *v = j->provenance;

	if (v && !strncmp(v, "verified: ", 10))
		sbuf_addf(sb, "provenance verified (%s)", v + 10);
	else if (v && !strncmp(v, "none: ", 6))
		sbuf_addf(sb, "provenance missing: %s", v + 6);
	else if (v && !strncmp(v, "refused: ", 9))
		sbuf_addf(sb, "provenance refused: %s", v + 9);
	else if (v)
		sbuf_addf(sb, "provenance: %s", v);
	else if (j->kind == KIND_BUILD && j->nartifacts &&
	    j->artifacts[0].provenance)
		sbuf_adds(sb, "provenance signed");
	else
		return 0;
	return 1;
}

int store_prov_key_add(struct store *s, const char *keyid, const char *host,
    const char *pem)
{
	return run(s, A_KEY_ADD, sql, "record a provenance key",
	    ARGS(arg_text(keyid), arg_text(host), arg_text(pem),
	    arg_int(now_ms())));
}

int store_prov_key_get(struct store *s, const char *keyid, struct sbuf *pem,
    char **host)
{
	struct stmt *st = stmt_bound(s, A_KEY_GET, sql, ARGS(arg_text(keyid)));
	int rc;

	if (!st)
		return -1;
	if ((rc = step(st)) == STEP_ROW) {
		sbuf_adds(pem, col_str(st, 0));
		if (host)
			*host = col_text(st, 1);
		rc = 1;
	} else if (rc < 0) {
		rc = db_error(s, "read a provenance key");
	}
	reset(st);
	return rc;
}

int store_artifact_provenance(struct store *s, int64_t id, struct sbuf *out)
{
	struct stmt *st = stmt_bound(s, A_PROV_GET, sql, ARGS(arg_int(id)));
	int rc;

	if (!st)
		return -1;
	if ((rc = step(st)) == STEP_ROW && !col_null(st, 0)) {
		sbuf_adds(out, col_str(st, 0));
		rc = 1;
	} else if (rc < 0) {
		rc = db_error(s, "read an artifact's provenance");
	} else {
		rc = 0;
	}
	reset(st);
	return rc;
}

int store_job_provenance(struct store *s, int64_t id, const char *verdict)
{
	return run(s, A_PROV_SET, sql, "record the provenance's check",
	    ARGS(arg_int(id), arg_text(verdict)));
}

int audit_record(struct store *s, int64_t id, const struct who *w)
{
	if (!w)
		return 0;
	return run(s, A_SET, sql, "record who queued a job", ARGS(arg_int(id),
	    arg_text(w->by), arg_text(w->via), arg_text(w->key),
	    arg_text(w->as)));
}

int audit_copy(struct store *s, int64_t id, int64_t from)
{
	return run(s, A_COPY, sql, "record who queued a job",
	    ARGS(arg_int(id), arg_int(from)));
}

int store_job_signer(struct store *s, int64_t id, const char *signer)
{
	return run(s, A_SIGNER, sql, "record the signer of a release",
	    ARGS(arg_int(id), arg_text(signer)));
}

void job_who_describe(struct sbuf *sb, const struct job *j)
{
	who_describe(sb, j->pushed_by, j->pushed_via, j->pushed_key,
	    j->pushed_as);
}
