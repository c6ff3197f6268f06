/*
 * Who caused a job and who signed a release, in the store (audit.h).
 * Written in the transaction that queues the job, so that no job is ever
 * without its cause.
 */
#include "audit.h"
#include "jobs.h"
#include "store_int.h"
#include "util.h"
#include "who.h"

enum q {
	A_SET = BASE_AUDIT, A_COPY, A_SIGNER, A_END
};
_Static_assert((int)A_END <= (int)STMT_SLOTS, "audit statements overlap");

STORE_SQL(audit) = {
	[A_SET] = "UPDATE jobs SET pushed_by = ?2, pushed_via = ?3, pushed_key "
	    "= ?4, pushed_as = ?5 WHERE id = ?1",
	/* a deployment that a build queued: the build's cause */
	[A_COPY] = "UPDATE jobs SET (pushed_by, pushed_via, pushed_key, "
	    "pushed_as) = (SELECT b.pushed_by, b.pushed_via, b.pushed_key, "
	    "b.pushed_as FROM jobs b WHERE b.id = ?2) WHERE id = ?1",
	[A_SIGNER] = "UPDATE jobs SET signer = ?2 WHERE id = ?1",
};

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
