/*
 * Results in the repository itself (notes.h): each ended build and
 * deployment of a commit, as one git note of that commit under
 * refs/notes/runner, written by whoever may write the repository. The
 * notifier leaves the note's text in the home (notebox.h); then a root
 * daemon has it written by a helper program started as the repository's
 * owner (its uid, gid and groups, a clean environment, no HOME), a
 * daemon that owns the repository by the same program as itself, and a
 * daemon that may not write it (its own user, the git server's
 * repositories; or a read-only system under systemd) leaves it for the
 * repository's hook, which writes what waits at the next push. The
 * daemon removes each note once it sees it in the repository, looking
 * through the same program (the repository is its owner's: a FIFO there
 * would hold the notifier). A daemon
 * that cannot have them written says why once per run, not per job, and
 * keeps the reason in the store for doctor and status.
 */
#include "notes.h"
#include "admin.h"
#include "config.h"
#include "jobs.h"
#include "note.h"
#include "notebox.h"
#include "run.h"
#include "state.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Said once per run of the notifier and repository, not per job (the
 * reason names a temporary file, for one, that differs each time). */
static void say_once(const char *repo, const char *why)
{
	static char **said;
	static size_t nsaid;

	for (size_t i = 0; i < nsaid; i++)
		if (!strcmp(said[i], repo))
			return;
	said = xrealloc(said, (nsaid + 1) * sizeof(*said));
	said[nsaid++] = xstrdup(repo);
	log_line("git notes of '%s' are left for its hook, which writes them "
	    "at the next push: %s", repo, why);
}

/* Keep (or clear, with NULL) why the notes of `repo` cannot be written,
 * and its fix, for doctor and status. */
static void problem(struct store *s, const char *repo, const char *why,
    const char *fix)
{
	char *key = xasprintf("%s%s", NOTES_SETTING, repo), *old = NULL;
	char *val = why ? xasprintf("%s\n%s", why, fix) : NULL;

	if (store_setting_get(s, key, &old, NULL) < 0 || (old && val &&
	    !strcmp(old, val)) || (!old && !val))
		goto out;
	store_setting_set(s, key, val);
	if (why)
		log_line("error: git notes of '%s': %s; fix: %s", repo, why, fix);
out:
	free(old);
	free(val);
	free(key);
}

/* The notes written: each removed from the notebox. */
static void all_done(const char *home, const char *repo,
    const struct notebox_note *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		notebox_done(home, repo, v[i].commit, v[i].text);
}

/*
 * A daemon that may not write the repository: the notes that its hook has
 * written are removed; one still waiting since before a push that
 * queued `j` (10 s before, as the hook writes them before it queues) was
 * not written by that push's hook.
 */
static void sweep(struct store *s, const char *home, const char *repo,
    const struct job *j, const struct run_user *as)
{
	struct notebox_note *v = NULL;
	size_t n = 0, missed = 0;
	/* a push's build: its hook had its turn (not a deployment, a
	 * retry, a build by hand or a schedule's) */
	int pushed = j->kind == KIND_BUILD && !j->requested_by && !j->retry_of;

	/* what is in place is read by the helper, as the writer would run:
	 * the repository is another user's to change (a FIFO, a link), and
	 * the notifier opens none of it itself; what it cannot tell is not
	 * judged */
	if (notebox_list(home, repo, &v, &n) < 0 || !n ||
	    notebox_check(repo, v, n, as) < 0) {
		error_clear();
		notebox_notes_free(v, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].in_place)
			notebox_done(home, repo, v[i].commit, v[i].text);
		else if (pushed && v[i].mtime_ms + 10000 < j->created_ms)
			missed++;
	}
	if (!pushed)
		;	/* nothing to judge the hook by */
	else if (missed) {
		/* the same words each time: kept and logged once; why the
		 * hook failed, only the push's output says */
		problem(s, repo, "its hook did not write the notes that wait for "
		    "it at a push, and the daemon may not write them itself",
		    "push to it and do what the line 'runner: warning: git "
		    "notes: ...' of the push's output says; 'runner doctor' as "
		    "root checks the hook");
	} else {
		problem(s, repo, NULL, NULL);
	}
	notebox_notes_free(v, n);
}

int notes_record(struct store *s, const struct config *c, const char *home,
    int64_t job_id)
{
	const struct repo_conf *rc;
	struct job *j = NULL, **v = NULL;
	size_t n = 0, nw = 0;
	struct sbuf text = SBUF_INIT;
	struct notebox_note *w = NULL;
	struct run_user owner = { 0 };
	struct stat st;
	char *why = NULL;
	int error = 0, root_only;

	if (store_job_get(s, job_id, &j) < 0 || !j->commit ||
	    strlen(j->commit) < 40)
		goto out;	/* gone, or nothing to note yet */
	rc = config_repo(c, j->repo);
	if (!rc->notes || notebox_repo_stat(j->repo, &st, &root_only) < 0)
		goto out;
	if ((error = store_jobs_of_commit(s, j->repo, j->commit, &v, &n)) < 0)
		goto out;
	note_text(&text, v, n);
	if (!text.len)
		goto out;
	if (text.len > NOTEBOX_MAX_TEXT - 128) {
		/* a commit with that many jobs and stages: the newest part
		 * goes, at a line's end, and the note says where the rest is */
		char *cut = memrchr(text.buf, '\n', NOTEBOX_MAX_TEXT - 128);
		sbuf_truncate(&text, cut ? (size_t)(cut - text.buf) + 1 : 0);
		sbuf_addf(&text, "runner: more in 'runner show' of job #%lld and "
		    "the others of this commit\n", (long long)job_id);
	}
	if ((error = notebox_put(home, j->repo, j->commit, text.buf)) < 0) {
		/* a full disk; else the modes notebox.h gives the folders,
		 * as root or the runner's user would set them ('runner init'
		 * as root would give the home root's group) */
		char *fix = error == ERR_NOSPACE ? xasprintf("runner gc --home "
		    "'%s', or more space", home) : xasprintf("chmod 2710 "
		    "'%s/%s' && find '%s/%s' -mindepth 1 -maxdepth 1 -type d "
		    "-exec chmod 2750 {} +", home, NOTEBOX_DIR, home,
		    NOTEBOX_DIR);
		error = 0;
		problem(s, j->repo, error_last(), fix);
		free(fix);
		goto out;
	}
	/* who writes them: the owner (as root: a helper that becomes it),
	 * the daemon that is the owner, or the hook at the next push */
	if (geteuid() == 0 && st.st_uid == 0 && !root_only)
		why = xasprintf("it is root's, but a folder on its path may be "
		    "changed by another user: root does not write there");
	else if (geteuid() != 0 && geteuid() != st.st_uid) {
		/* getpwuid's answer lasts until its next call */
		struct passwd *pw = getpwuid(st.st_uid);
		char *them = pw ? xstrdup(pw->pw_name) : xasprintf("%d",
		    (int)st.st_uid);
		pw = getpwuid(geteuid());
		why = xasprintf("it is user '%s''s, and the runner's user '%s' "
		    "may not write it", them, pw ? pw->pw_name : "?");
		free(them);
	}
	if (geteuid() == 0 && st.st_uid != 0) {
		char id[32];
		snprintf(id, sizeof(id), "%d", (int)st.st_uid);
		if (run_user_lookup(id, &owner) < 0) {
			/* no name: its uid, and the repository's group */
			owner.name = xstrdup(id);
			owner.uid = st.st_uid;
			owner.gid = st.st_gid;
		}
	}
	if (why) {
		say_once(j->repo, why);
		/* root reads nothing below a folder others may change */
		if (geteuid() != 0)
			sweep(s, home, j->repo, j, NULL);
		goto out;
	}
	if (notebox_list(home, j->repo, &w, &nw) < 0 ||
	    notebox_deliver(j->repo, w, nw, owner.name ? &owner : NULL) < 0) {
		/* a read-only system (systemd's ProtectSystem) or another
		 * reason: the hook writes them at the next push */
		why = owner.name ? xasprintf("writing them as '%s' failed: %s",
		    owner.name, error_last()) : xasprintf("writing them as the "
		    "runner's user failed: %s", error_last());
		say_once(j->repo, why);
		sweep(s, home, j->repo, j, owner.name ? &owner : NULL);
		goto out;
	}
	all_done(home, j->repo, w, nw);
	problem(s, j->repo, NULL, NULL);
out:
	notebox_notes_free(w, nw);
	free(why);
	run_user_release(&owner);
	sbuf_release(&text);
	jobs_free(v, n);
	job_free(j);
	return error < 0 ? error : 0;
}

int notes_check_frames(const char *repo, const char *buf, size_t len,
    struct sbuf *out)
{
	struct notebox_note *v = NULL;
	size_t n = 0;
	int error;

	if ((error = notebox_unframe(buf, len, &v, &n)) < 0)
		return error;
	for (size_t i = 0; i < n && error >= 0; i++) {
		char *now = NULL;
		error = note_read(repo, NOTES_REF, v[i].commit, &now);
		if (error == 1 && !strcmp(now, v[i].text))
			sbuf_addf(out, "%s\n", v[i].commit);
		free(now);
	}
	notebox_notes_free(v, n);
	return error < 0 ? error : 0;
}

int notes_write_frames(const char *repo, const char *buf, size_t len)
{
	struct notebox_note *v = NULL;
	size_t n = 0;
	int error;

	if ((error = notebox_unframe(buf, len, &v, &n)) < 0)
		return error;
	for (size_t i = 0; i < n && !error; i++)
		error = note_write(repo, NOTES_REF, v[i].commit, v[i].text);
	notebox_notes_free(v, n);
	return error;
}
