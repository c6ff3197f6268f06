/*
 * Inside runner/store, shared by jobs.c, jobread.c and claim.c: the
 * numbers of the job statements, whose SQL is jobs.c's table, and the
 * columns a job is read from.
 */
#ifndef RUNNER_JOBS_INT_H
#define RUNNER_JOBS_INT_H

#include "store_int.h"

enum q {
	Q_ENQ_INSERT = BASE_JOBS, Q_ENQ_FIND,
	Q_SUPERSEDE, Q_SUPERSEDE_DEPLOY, Q_CLAIM, Q_CLAIM_SYNC,
	Q_RUNNING_BY_REPO, Q_CAPACITY, Q_OTHER_REPO,
	Q_JOB_GET, Q_STAGES_GET, Q_ARTS_GET, Q_CHECKS_GET,
	Q_LIST_ACTIVE, Q_LIST_DONE,
	Q_SUBJECT, Q_STAGES_DEL, Q_STAGE_INS, Q_STAGE_START, Q_STAGE_END,
	Q_STAGE_COUNT, Q_JOB_END, Q_STAGES_SKIP, Q_ART_INS,
	Q_CANCEL_QUEUED, Q_CANCEL_RUNNING, Q_CANCEL_GET, Q_CANCEL_PIDS,
	Q_RETRY,
	Q_REC_PGIDS, Q_REC_CANCELED, Q_REC_STAGES, Q_REC_ARTS, Q_REC_JOBS,
	Q_REC_DEPLOYS, Q_REC_DEPLOY_IDS, Q_QUEUED, Q_PHASE, Q_UNNAMED,
	Q_OF_REF, Q_OF_REPO, Q_BRANCHES, Q_OF_COMMIT, Q_CLAIM_LOCK,
	Q_DEPLOYING, Q_BUILDING, Q_TOP_ID, Q_REJECTED,
	Q_JOBS_END
};
_Static_assert((int)Q_JOBS_END <= (int)BASE_DEPLOYS, "job statements overlap");
/* the web page's history, filtered (store_jobs_find), in jobs.c's table */
enum q_find {
	Q_FIND_ID = BASE_FIND, Q_FIND_REPO, Q_FIND_REF, Q_FIND_STATE,
	Q_FIND_PERSON, Q_FIND_END
};
_Static_assert((int)Q_FIND_END <= (int)STMT_SLOTS, "find statements overlap");

/*
 * The columns a job is read from, in the order of the SELECT: each
 * JOB_COLUMN(name, SQL). The SELECT list (JOB_COLS) and the index of each
 * column in a row (JC_name, read by job_from_row) are both made from this
 * one list, so that a column added or moved cannot shift the others.
 */
#define JOB_COLUMNS(JOB_COLUMN, SEP) \
	JOB_COLUMN(ID, "id") SEP \
	JOB_COLUMN(REPO, "repo") SEP \
	JOB_COLUMN(REF, "ref") SEP \
	JOB_COLUMN(OLD, "old_commit") SEP \
	JOB_COLUMN(COMMIT, "commit_id") SEP \
	JOB_COLUMN(STATE, "state") SEP \
	JOB_COLUMN(ERROR, "error") SEP \
	JOB_COLUMN(SUBJECT, "subject") SEP \
	JOB_COLUMN(ATTEMPT, "attempt") SEP \
	JOB_COLUMN(CANCEL, "cancel") SEP \
	JOB_COLUMN(WORKER_PID, "worker_pid") SEP \
	JOB_COLUMN(RETRY_OF, "retry_of") SEP \
	JOB_COLUMN(CREATED_MS, "created_ms") SEP \
	JOB_COLUMN(STARTED_MS, "started_ms") SEP \
	JOB_COLUMN(FINISHED_MS, "finished_ms") SEP \
	JOB_COLUMN(KIND, "kind") SEP \
	JOB_COLUMN(ENV, "env") SEP \
	JOB_COLUMN(TAG, "tag") SEP \
	JOB_COLUMN(TAG_OBJECT, "tag_object") SEP \
	JOB_COLUMN(FORCED_BY, "forced_by") SEP \
	JOB_COLUMN(RELEASE_DIR, "release_dir") SEP \
	JOB_COLUMN(NOTES, "notes") SEP \
	JOB_COLUMN(FIGURES, "figures") SEP \
	JOB_COLUMN(SOURCE_JOB, "source_job") SEP \
	JOB_COLUMN(ROLLBACK_TO, "rollback_to") SEP \
	JOB_COLUMN(PREVIOUS, "previous") SEP \
	JOB_COLUMN(REQUESTED_BY, "requested_by") SEP \
	JOB_COLUMN(PHASE, "phase") SEP \
	JOB_COLUMN(PHASE_MS, "phase_ms") SEP \
	JOB_COLUMN(VARIABLES, "variables") SEP \
	JOB_COLUMN(HOST, "host") SEP \
	JOB_COLUMN(LEASE_MS, "lease_ms") SEP \
	JOB_COLUMN(NEEDS, "(SELECT group_concat(label, ',') FROM job_needs " \
	    "WHERE job_id = jobs.id)") SEP \
	JOB_COLUMN(PUSHED_BY, "pushed_by") SEP \
	JOB_COLUMN(PUSHED_VIA, "pushed_via") SEP \
	JOB_COLUMN(PUSHED_KEY, "pushed_key") SEP \
	JOB_COLUMN(PUSHED_AS, "pushed_as") SEP \
	JOB_COLUMN(SIGNER, "signer") SEP \
	JOB_COLUMN(PROVENANCE, "provenance") SEP \
	JOB_COLUMN(CANCELED_BY, "canceled_by") SEP \
	JOB_COLUMN(SOURCE_REF, "(SELECT b.ref FROM jobs b WHERE " \
	    "b.id = jobs.source_job)")
#define JOB_COLUMN_SQL(name, sql) sql
#define JOB_COLUMN_INDEX(name, sql) JC_##name,
#define JOB_COLS JOB_COLUMNS(JOB_COLUMN_SQL, ", ")
enum job_col { JOB_COLUMNS(JOB_COLUMN_INDEX, ) JC_COUNT };

#endif
