/*
 * Results in the repository itself (notes.h): each ended build and
 * deployment of a commit, as one git note of that commit under
 * refs/notes/runner. libgit2 writes it in this process (note.h), as the
 * repository's owner, so that the objects and the ref it makes belong to
 * whoever owns the rest; its update of the ref is a compare-and-swap
 * (another writer in between makes it fail), and a failure is tried
 * again. A git process per note cost more than the rest of a short job.
 */
#include "notes.h"
#include "config.h"
#include "jobs.h"
#include "note.h"
#include "run.h"
#include "state.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOTES_REF "refs/notes/runner"

static void took(struct sbuf *sb, int64_t from, int64_t to)
{
	if (from && to)
		format_duration(sb, to - from);
	else
		sbuf_adds(sb, "-");
}

/* Every ended job of the commit, one paragraph each. */
static void note_text(struct sbuf *sb, struct job *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct job *j = v[i];
		if (!job_state_final(j->state))
			continue;
		if (sb->len)
			sbuf_addch(sb, '\n');
		if (j->kind == KIND_DEPLOY) {
			sbuf_addf(sb, "runner: deployment #%lld to %s %s", (long long)
			    j->id, j->env ? j->env : "?", job_state_name(j->state));
			if (j->tag)
				sbuf_addf(sb, ", tag %s", j->tag);
			if (j->source_job)
				sbuf_addf(sb, ", artifact of build #%lld",
				    (long long)j->source_job);
		} else {
			sbuf_addf(sb, "runner: build #%lld %s on %s", (long long)j->id,
			    job_state_name(j->state), ref_short_name(j->ref));
		}
		sbuf_adds(sb, " in ");
		took(sb, j->started_ms, j->finished_ms);
		sbuf_addch(sb, '\n');
		for (size_t k = 0; k < j->nstages; k++) {
			const struct stage_rec *s = &j->stages[k];
			sbuf_addf(sb, "  %-12s %-10s ", s->name,
			    step_state_name(s->state));
			took(sb, s->started_ms, s->finished_ms);
			sbuf_addch(sb, '\n');
		}
		for (size_t k = 0; k < j->nartifacts; k++)
			sbuf_addf(sb, "  artifact sha256 %s\n", j->artifacts[k].sha256);
		if (j->error) {
			sbuf_adds(sb, "  error: ");
			for (const char *p = j->error; *p; p++)
				sbuf_addch(sb, *p == '\n' ? ' ' : *p);
			sbuf_addch(sb, '\n');
		}
	}
}

int notes_record(struct store *s, const struct config *c, int64_t job_id)
{
	const struct repo_conf *rc;
	struct job *j = NULL, **v = NULL;
	size_t n = 0;
	struct sbuf text = SBUF_INIT;
	struct run_user owner = { 0 };
	struct stat st;
	int error = 0;

	if (store_job_get(s, job_id, &j) < 0 || !j->commit ||
	    strlen(j->commit) < 40)
		goto out;	/* gone, or nothing to note yet */
	rc = config_repo(c, j->repo);
	if (!rc->notes || stat(j->repo, &st) < 0)
		goto out;
	if ((error = store_jobs_of_commit(s, j->repo, j->commit, &v, &n)) < 0)
		goto out;
	note_text(&text, v, n);
	if (!text.len)
		goto out;
	/* as the repository's owner (with the owner's group, else the
	 * repository's), when the runner may be */
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	if (geteuid() == 0 && st.st_uid != 0) {
		char id[32];
		snprintf(id, sizeof(id), "%d", (int)st.st_uid);
		uid = st.st_uid;
		gid = run_user_lookup(id, &owner) == 0 ? owner.gid : st.st_gid;
	}
	if (note_write(j->repo, NOTES_REF, j->commit, text.buf, uid, gid) < 0)
		error = error_set(-1, "cannot write the note of job #%lld: %s",
		    (long long)job_id, error_last());
out:
	run_user_release(&owner);
	sbuf_release(&text);
	jobs_free(v, n);
	job_free(j);
	return error < 0 ? error : 0;
}
