/*
 * The web page's HTML, badges and the rendering of logs (page.c, one job's
 * page page_job.c, environments and logs page_env.c): what the web
 * process (web.c) sends. Read-only views of the store.
 */
#ifndef RUNNER_PAGE_H
#define RUNNER_PAGE_H

#include <stddef.h>
#include <stdint.h>

struct env_rec;
struct find;
struct job;
struct notification;
struct sbuf;
struct stage_rec;
struct status_view;
struct store;

extern const char page_css[];
extern const char page_js[];

/* Text escaped for HTML (a query parameter escaped for a URL is
 * find.h's url_param). */
void html(struct sbuf *sb, const char *s);

void page_begin(struct sbuf *sb, const char *title);
void page_end(struct sbuf *sb);
void job_link(struct sbuf *sb, int64_t id);
void repo_link(struct sbuf *sb, const char *repo);
/* A table of jobs (those `pick` takes; NULL: all). */
void jobs_table(struct sbuf *sb, struct job *const *v, size_t n,
    int (*pick)(const struct job *));

/* The overview: what `runner status` shows, its running and queued jobs
 * those `f` finds, then `recent` (a page of `limit` asked for). */
void page_overview(struct sbuf *sb, struct store *st,
    const struct status_view *v, const struct find *f,
    struct job *const *recent, size_t nrecent, int limit);
/* One job: stages or steps, artifacts, checks, notes, notifications. */
void page_job(struct sbuf *sb, struct store *st, const struct job *j,
    struct notification *const *notes, size_t nnotes);
/* What changes on a job's page while it runs: its state, what it is,
 * who caused it, stages, what failed, artifacts, checks (page_job.c;
 * sent again by the page's live events, live.c). */
void page_job_live(struct sbuf *sb, struct store *st, const struct job *j);
/* Who caused job `j`, as rows of its table; its commit, linked to the
 * team's git web view when runner.yml says how (page_who.c). */
void page_job_who(struct sbuf *sb, const struct job *j);
void page_commit_link(struct sbuf *sb, const char *repo, const char *commit);
/* What failed (page_failed.c): a failed job's failing stage's last
 * EXCERPT_LINES lines, a failed deployment's failing check; the
 * deployments of an environment that were refused, with why. */
#define EXCERPT_LINES 30
void page_job_failed(struct sbuf *sb, struct store *st, const struct job *j);
void page_env_rejected(struct sbuf *sb, struct store *st,
    const struct env_rec *e);
/* The page of an environment never deployed whose deployments were all
 * refused; ERR_NOTFOUND when none was. */
int page_env_refused(struct sbuf *sb, struct store *st, const char *repo,
    const char *env);
/* Approvals (page_approvals.c): the releases waiting for them (of
 * `repo` and `env` only, unless NULL), and who approved the release of
 * deployment `j`. Nothing when there are none. */
void page_approvals_waiting(struct sbuf *sb, struct store *st,
    const char *repo, const char *env);
void page_approvals_job(struct sbuf *sb, struct store *st,
    const struct job *j);
/* The last `lines` lines of a stage's log (its file's end, or the last
 * chunks its host sent through the store), appended to `out`. */
int page_log_last_lines(struct store *st, const struct job *j,
    const struct stage_rec *s, int lines, struct sbuf *out);
/* History of a repository or branch: its branches (refs, with their last
 * build), the trend of its builds' durations (`trend`, newest first;
 * none: no chart), the form of filters `f`, then `n` jobs (a page of
 * `limit` asked for) and links to older ones. */
void page_history(struct sbuf *sb, struct store *st, const char *title,
    const struct find *f, struct job *const *v, size_t n, int limit,
    char *const *refs, const int64_t *last, size_t nrefs,
    struct job *const *trend, size_t ntrend);
/* An environment and its deployments (`rel`, newest first). */
void page_env(struct sbuf *sb, struct store *st, const struct env_rec *e,
    struct job *const *rel, size_t n);
/* A stage's log: `text` is its bytes from offset `from` of `size`. */
void page_log(struct sbuf *sb, const struct job *j, const struct stage_rec *s,
    const char *text, size_t len, int64_t size, int64_t from);
/* Shared by the page files (page.c, page_job.c, page_env.c): a time, a
 * duration (to 0: until now), a state's cell, a job's ref or environment
 * linked, its running stage, a job's checks, an environment's row. */
void when(struct sbuf *sb, int64_t ms);
void took(struct sbuf *sb, int64_t from, int64_t to);
void state_cell(struct sbuf *sb, const char *state);
void ref_link(struct sbuf *sb, const struct job *j);
const struct stage_rec *running_stage(const struct job *j);
void checks_table(struct sbuf *sb, const struct job *j);
void env_row(struct sbuf *sb, struct store *st, const struct env_rec *e);

/* actions.c: the forms of the actions the person asking may take
 * (auth.h): a job's (retry, cancel, run with variables, deploy), an
 * environment's (rollback), the queue's (pause or resume). Nothing for
 * anyone else. */
void actions_job(struct sbuf *sb, const struct job *j);
void actions_env(struct sbuf *sb, const struct env_rec *e);
void actions_queue(struct sbuf *sb, int paused);

/* An SVG badge. */
void badge_svg(struct sbuf *sb, const char *label, const char *value);

/* ANSI colours to HTML, across chunks of a stream. */
struct ansi {
	int bold, fg;		/* fg -1: the default */
	char carry[32];		/* an escape cut at the end of a chunk */
	size_t ncarry;
};
#define ANSI_INIT { 0, -1, { 0 }, 0 }
void ansi_html(struct ansi *a, const char *s, size_t len, struct sbuf *sb);

#endif
