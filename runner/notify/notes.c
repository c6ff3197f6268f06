/*
 * Results in the repository itself (notes.h): each ended build and
 * deployment of a commit, as one git note of that commit under
 * refs/notes/runner, written by whoever may write the repository. The
 * notifier takes the events it routes in batches: a note per commit of
 * the batch, however many of its jobs ended, and one writer per owner of
 * repositories for all of them. A root daemon has them written by a
 * helper program started as the repositories' owner (its uid, gid and
 * groups, a clean environment, no HOME), a daemon that owns a repository
 * by the same program as itself; that program sets libgit2 up once for
 * all the notes it is given. A note that is not written so (the daemon
 * may not write the repository: its own user, the git server's
 * repositories; or a read-only system under systemd; or the writer
 * failed) waits in the home (notebox.h) for the repository's hook, which
 * writes what waits at the next push. The daemon removes each waiting
 * note once it sees it in the repository, looking through the same
 * program (the repository is its owner's: a FIFO there would hold the
 * notifier). A daemon that cannot have them written says why once per
 * run, not per job, and keeps the reason in the store for doctor and
 * status.
 */
#include "notes.h"
#include "admin.h"
#include "audit.h"
#include "config.h"
#include "jobs.h"
#include "gitnote.h"
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

/* Every ended job of the commit, one paragraph each; a build's signed
 * provenance whole (its DSSE envelope, one line: docs/provenance.md), so
 * that a clone carries it. */
static void note_text(struct store *st, struct sbuf *sb, struct job *const *v,
    size_t n)
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
		if (j->kind == KIND_BUILD && j->nartifacts &&
		    j->artifacts[0].provenance) {
			struct sbuf env = SBUF_INIT;
			if (store_artifact_provenance(st, j->id, &env) > 0)
				sbuf_addf(sb, "  provenance %s\n", env.buf);
			error_clear();
			sbuf_release(&env);
		} else if (j->kind == KIND_DEPLOY && j->provenance) {
			sbuf_adds(sb, "  ");
			job_provenance_describe(sb, j);
			sbuf_addch(sb, '\n');
		}
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

/* One repository's notes of a batch. */
struct batch_repo {
	char *repo;
	int skip;		/* not reached without a link: no notes */
	struct stat st;
	int root_only;
	struct job *judge;	/* its newest job: sweep() judges the hook by it */
	struct notebox_note *v;	/* a note per commit */
	size_t n, cap;
	char *why;		/* why the daemon may not write them, or NULL */
	struct run_user owner;	/* as root: whom the writer runs as */
	struct notebox_note *wait;	/* left in the notebox before */
	size_t nwait;
	size_t nput;		/* of wait, given to the writer too */
	int done;		/* handed to a writer */
};

/* `commit`'s note as of now: every ended job of it. 0, or an error of
 * the store. */
static int commit_text(struct store *s, const char *repo, const char *commit,
    int64_t job_id, struct sbuf *text)
{
	struct job **v = NULL;
	size_t n = 0;
	int error;

	if ((error = store_jobs_of_commit(s, repo, commit, &v, &n)) < 0)
		return error;
	note_text(s, text, v, n);
	jobs_free(v, n);
	if (text->len > NOTEBOX_MAX_TEXT - 128) {
		/* a commit with that many jobs and stages: the newest part
		 * goes, at a line's end, and the note says where the rest is */
		char *cut = memrchr(text->buf, '\n', NOTEBOX_MAX_TEXT - 128);
		sbuf_truncate(text, cut ? (size_t)(cut - text->buf) + 1 : 0);
		sbuf_addf(text, "runner: more in 'runner show' of job #%lld and "
		    "the others of this commit\n", (long long)job_id);
	}
	return 0;
}

static struct batch_repo *batch_repo(struct batch_repo **v, size_t *n,
    size_t *cap, const char *repo)
{
	struct batch_repo *r;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].repo, repo))
			return &(*v)[i];
	*v = xgrow(*v, *n + 1, cap, sizeof(**v));
	r = &(*v)[(*n)++];
	memset(r, 0, sizeof(*r));
	r->repo = xstrdup(repo);
	r->skip = notebox_repo_stat(repo, &r->st, &r->root_only) < 0;
	if (r->skip)
		error_clear();
	return r;
}

/* Who writes the notes of `r`: r->why when the daemon may not have them
 * written, else r->owner (as root, another user's repository). */
static void writer_of(struct batch_repo *r)
{
	if (geteuid() == 0 && r->st.st_uid == 0 && !r->root_only)
		r->why = xasprintf("it is root's, but a folder on its path may be "
		    "changed by another user: root does not write there");
	else if (geteuid() != 0 && geteuid() != r->st.st_uid) {
		/* getpwuid's answer lasts until its next call */
		struct passwd *pw = getpwuid(r->st.st_uid);
		char *them = pw ? xstrdup(pw->pw_name) : xasprintf("%d",
		    (int)r->st.st_uid);
		pw = getpwuid(geteuid());
		r->why = xasprintf("it is user '%s''s, and the runner's user '%s' "
		    "may not write it", them, pw ? pw->pw_name : "?");
		free(them);
	}
	if (geteuid() == 0 && r->st.st_uid != 0)
		run_user_owner(&r->st, &r->owner);
}

/* The notes of `r` left in the notebox for the repository's hook (a
 * full disk or the notebox's modes: a problem with its fix). */
static void leave(struct store *s, const char *home, struct batch_repo *r)
{
	for (size_t i = 0; i < r->n; i++) {
		int error = notebox_put(home, r->repo, r->v[i].commit,
		    r->v[i].text);
		if (error >= 0)
			continue;
		/* the modes notebox.h gives the folders, the runner's
		 * user's alone */
		char *fix = error == ERR_NOSPACE ? xasprintf("runner gc --home "
		    "'%s', or more space", home) : xasprintf("chmod 700 "
		    "'%s/%s' && find '%s/%s' -mindepth 1 -maxdepth 1 -type d "
		    "-exec chmod 700 {} +", home, NOTEBOX_DIR, home,
		    NOTEBOX_DIR);
		problem(s, r->repo, error_last(), fix);
		free(fix);
		return;
	}
}

/* Whoever writes for `r`: the same uid, the same writer. */
static int same_writer(const struct batch_repo *a, const struct batch_repo *b)
{
	return !a->owner.name == !b->owner.name && (!a->owner.name ||
	    a->owner.uid == b->owner.uid);
}

/*
 * Hand repositories `r[at]` and after of the same writer that are not yet
 * handed to one to a single writer, as many as NOTEBOX_MAX notes and
 * NOTEBOX_MAX_REPOS repositories allow; then clear what it wrote from
 * the notebox, and leave what it did not for the hook. 1 when a writer
 * was started.
 */
static int deliver(struct store *s, const char *home, struct batch_repo *r,
    size_t nr, size_t at)
{
	const char *repos[NOTEBOX_MAX_REPOS];
	size_t which[NOTEBOX_MAX_REPOS], k = 0, nv = 0, cap = 0;
	unsigned char written[NOTEBOX_MAX_REPOS];
	struct notebox_note *v = NULL;
	const struct run_user *as = r[at].owner.name ? &r[at].owner : NULL;
	char *why, *err = NULL;

	if (r[at].done || r[at].skip || r[at].why || !r[at].n)
		return 0;
	for (size_t i = at; i < nr && k < NOTEBOX_MAX_REPOS; i++) {
		struct batch_repo *b = &r[i];
		if (b->done || b->skip || b->why || !b->n || !same_writer(b,
		    &r[at]) || (k && nv + b->n > NOTEBOX_MAX))
			continue;
		b->done = 1;
		for (size_t j = 0; j < b->n && nv < NOTEBOX_MAX; j++) {
			v = xgrow(v, nv + 1, &cap, sizeof(*v));
			v[nv] = b->v[j];
			v[nv++].repo = k;
		}
		/* those left before (a writer failed, a daemon of another
		 * user), unless this batch has a newer note of the commit */
		for (size_t j = 0; j < b->nwait && nv < NOTEBOX_MAX; j++) {
			size_t m = 0;
			while (m < b->n && strcmp(b->v[m].commit, b->wait[j].commit))
				m++;
			if (m == b->n) {
				v = xgrow(v, nv + 1, &cap, sizeof(*v));
				v[nv] = b->wait[j];
				v[nv++].repo = k;
			}
			b->nput = j + 1;
		}
		which[k] = i;
		repos[k++] = b->repo;
	}
	if (notebox_deliver(repos, k, v, nv, as, written) == 0)
		memset(written, 1, k);
	else
		err = xstrdup(error_last());
	for (size_t i = 0; i < k; i++) {
		struct batch_repo *b = &r[which[i]];
		if (written[i]) {
			/* a waiting note is removed unless replaced meanwhile */
			for (size_t j = 0; j < b->nput; j++)
				notebox_done(home, b->repo, b->wait[j].commit,
				    b->wait[j].text);
			problem(s, b->repo, NULL, NULL);
			continue;
		}
		/* a read-only system (systemd's ProtectSystem) or another
		 * reason: the hook writes them at the next push */
		why = as ? xasprintf("writing them as '%s' failed: %s",
		    as->name, err) : xasprintf("writing them as the "
		    "runner's user failed: %s", err);
		leave(s, home, b);
		say_once(b->repo, why);
		sweep(s, home, b->repo, b->judge, as);
		free(why);
	}
	free(err);
	free(v);
	return 1;
}

int notes_record(struct store *s, const struct config *c, const char *home,
    const int64_t *ids, size_t nids)
{
	struct batch_repo *r = NULL;
	size_t nr = 0, cap = 0;
	struct sbuf text = SBUF_INIT;
	int error = 0, writers = 0;

	for (size_t i = 0; i < nids && error >= 0; i++) {
		struct batch_repo *b;
		struct job *j = NULL;
		size_t k;

		if (store_job_get(s, ids[i], &j) < 0 || !j->commit ||
		    strlen(j->commit) < 40 || !config_repo(c, j->repo)->notes) {
			/* gone, or nothing to note yet */
			error_clear();
			job_free(j);
			continue;
		}
		b = batch_repo(&r, &nr, &cap, j->repo);
		for (k = 0; k < b->n && strcmp(b->v[k].commit, j->commit); k++)
			;
		if (!b->skip && k == b->n) {
			/* one note a commit, however many of its jobs ended */
			sbuf_reset(&text);
			if ((error = commit_text(s, j->repo, j->commit, j->id,
			    &text)) == 0 && text.len) {
				b->v = xgrow(b->v, b->n + 1, &b->cap,
				    sizeof(*b->v));
				memset(&b->v[b->n], 0, sizeof(*b->v));
				memcpy(b->v[b->n].commit, j->commit,
				    strlen(j->commit) + 1);
				b->v[b->n++].text = sbuf_detach(&text);
			}
		}
		if (!b->judge || j->id > b->judge->id) {
			job_free(b->judge);
			b->judge = j;
		} else {
			job_free(j);
		}
	}
	if (error < 0)
		goto out;
	/* who writes them: the owner (as root: a helper that becomes it),
	 * the daemon that is the owner, or the hook at the next push */
	for (size_t i = 0; i < nr; i++) {
		struct batch_repo *b = &r[i];
		if (b->skip || !b->n)
			continue;
		writer_of(b);
		if (b->why) {
			leave(s, home, b);
			say_once(b->repo, b->why);
			/* root reads nothing below a folder others may change */
			if (geteuid() != 0)
				sweep(s, home, b->repo, b->judge, NULL);
		} else if (notebox_list(home, b->repo, &b->wait, &b->nwait) < 0) {
			error_clear();	/* none left before that can be read */
		}
	}
	/* a writer per owner, for all of its repositories */
	for (size_t i = 0; i < nr; i++)
		writers += deliver(s, home, r, nr, i);
out:
	for (size_t i = 0; i < nr; i++) {
		free(r[i].repo);
		job_free(r[i].judge);
		notebox_notes_free(r[i].v, r[i].n);
		free(r[i].why);
		run_user_release(&r[i].owner);
		notebox_notes_free(r[i].wait, r[i].nwait);
	}
	free(r);
	sbuf_release(&text);
	return error < 0 ? error : writers;
}

int notes_check_frames(const char *repo, const char *buf, size_t len,
    struct sbuf *out)
{
	struct notebox_note *v = NULL;
	struct note_repo *nr = NULL;
	size_t n = 0;
	int error;

	if ((error = notebox_unframe(buf, len, 1, &v, &n)) < 0)
		return error;
	if (n && (error = note_repo_open(repo, &nr)) < 0)
		goto out;
	for (size_t i = 0; i < n && error >= 0; i++) {
		char *now = NULL;
		error = note_repo_read(nr, NOTES_REF, v[i].commit, &now);
		if (error == 1 && !strcmp(now, v[i].text))
			sbuf_addf(out, "%s\n", v[i].commit);
		free(now);
	}
out:
	note_repo_free(nr);
	notebox_notes_free(v, n);
	return error < 0 ? error : 0;
}

int notes_write_frames(const char *const *repos, size_t nrepos,
    const char *buf, size_t len, struct sbuf *out, struct sbuf *err)
{
	struct notebox_note *v = NULL;
	size_t n = 0;
	int error, failed = 0;

	if ((error = notebox_unframe(buf, len, nrepos, &v, &n)) < 0)
		return error;
	/* each repository opened once and its notes written in one commit;
	 * one that fails stops none of the others */
	struct note_text *t = xcalloc(n ? n : 1, sizeof(*t));
	for (size_t k = 0; k < nrepos; k++) {
		struct note_repo *nr = NULL;
		size_t nt = 0;
		for (size_t i = 0; i < n; i++)
			if (v[i].repo == k) {
				t[nt].commit = v[i].commit;
				t[nt++].text = v[i].text;
			}
		error = 0;
		if (nt && (error = note_repo_open(repos[k], &nr)) == 0)
			error = note_repo_write_all(nr, NOTES_REF, t, nt);
		note_repo_free(nr);
		if (error < 0) {
			sbuf_addf(err, "%s\n", error_last());
			error_clear();
			failed = 1;
		} else {
			sbuf_addf(out, "%zu\n", k);
		}
	}
	free(t);
	notebox_notes_free(v, n);
	return failed ? -1 : 0;
}
