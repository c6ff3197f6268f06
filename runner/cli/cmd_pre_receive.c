/*
 * runner pre-receive HOME CHAINED: the pre-receive hook (installed by
 * 'runner install-hook --pre-receive'). It refuses a release tag that
 * would not deploy, reading the pushed objects from git's quarantine; the
 * hook of another user than the runner's, which may read neither
 * runner.yml nor the signers, has the daemon judge them (ask.h), sending
 * it the tag objects. It fails open: a runner that cannot decide (no
 * store, no daemon to ask) lets the push through with a warning; the
 * deployment itself checks everything again.
 */
#include "cli.h"
#include "approval.h"
#include "ask.h"
#include "config.h"
#include "deploy.h"
#include "hook.h"
#include "notebox.h"
#include "reserve.h"
#include "spool.h"
#include "store.h"
#include "tagsig.h"
#include "util.h"
#include "refmatch.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner pre-receive HOME [CHAINED-HOOK]\n"
    "\n"
    "The pre-receive hook that 'runner install-hook --pre-receive' installs;\n"
    "not meant to be run by hand. It reads 'OLD NEW REF' lines and refuses\n"
    "the push (exit 1) when a release tag is lightweight, unsigned, signed\n"
    "by a key not allowed in runner.yml, names another tag, points at a\n"
    "commit without a passed build (or healthy staging, with\n"
    "require_staging), or was deployed before; and any push whose job\n"
    "could not be recorded: the runner's disk full, or a hook's user that\n"
    "may write neither the store nor the spool (with the fix); and any\n"
    "push that updates or deletes refs/notes/runner, the runner's results,\n"
    "which only the runner writes.\n"
    "\n"
    "An approval tag (RELEASE+approved.NAME, of a release tag) is refused\n"
    "when it is lightweight, unsigned, badly signed, signed by a key not\n"
    "allowed in runner.yml, or not of the release tag's commit, or when\n"
    "there is no such release tag.\n"
    "\n"
    "A hook's user that may not write the store (the git server's) has the\n"
    "daemon judge the release tags over HOME/ask.sock; with no daemon to\n"
    "ask, the tags are taken with a warning and their deployment judges\n"
    "them.\n";

/* Below this much free space, and with the reserves used up, the
 * post-receive hook could not record a job: the push is refused. */
#define PUSH_ROOM (256 * 1024)

/* Why no push can be taken now (the home's disk is full and its
 * reserves used), or NULL. Caller frees. */
static char *disk_refusal(const char *home)
{
	int64_t left = disk_free(home);

	if (left < 0 || left >= PUSH_ROOM || reserve_present(home,
	    RESERVE_HOME) || reserve_present(home, RESERVE_SPOOL))
		return NULL;
	return xasprintf("the runner's disk is full (home '%s': %lld KiB "
	    "free, its reserve used up): this push's job could not be "
	    "recorded; push again once there is room", home,
	    (long long)(left / 1024));
}

/* May this user write the store itself (the runner's own user, root)?
 * As post-receive judges it: SQLite's file, or the PostgreSQL URL that
 * only the runner's users may read in runner.yml. */
static int store_writable(const char *home, const char *configured)
{
	char *db = xasprintf("%s/%s", home, STORE_FILE);
	const char *url;
	int own = store_url(configured, &url) == 0 && (url ||
	    access(db, W_OK) == 0 || errno == ENOENT);

	free(db);
	return own;
}

/* "runner: refusing release tag 'NAME': WHY" (or approval tag), shown
 * as text. */
static void say_refused(const char *ref, const char *why)
{
	struct sbuf line = SBUF_INIT;

	sbuf_addf(&line, "runner: refusing %s tag '%s': ", strstr(ref + 10,
	    APPROVAL_MARK) ? "approval" : "release", ref + 10);
	sbuf_add_display(&line, why, strlen(why));
	fprintf(stderr, "%s\n", line.buf);
	sbuf_release(&line);
}

/* Send object `oid` of the push (ask_check): its type and bytes, read
 * from git's quarantine of the push in progress; as too large if it
 * would pass the `left` of the push's ASK_OBJECTS_MAX. */
static int send_object(struct ask_conn *c, const char *repo,
    const char *oid, size_t *left, int64_t deadline)
{
	const char *quarantine = getenv("GIT_QUARANTINE_PATH");
	struct sbuf bytes = SBUF_INIT;
	char *type = NULL;
	int error;

	if (!quarantine)
		quarantine = getenv("GIT_OBJECT_DIRECTORY");
	error = tag_object_read(repo, quarantine, oid, *left < ASK_OBJECT_MAX ?
	    *left : ASK_OBJECT_MAX, &type, &bytes);
	if (error == 0)
		*left -= bytes.len;
	if (error == 0)
		error = ask_printf(c, deadline, "object %s %s %zu\n", oid, type,
		    bytes.len) < 0 ? -1 : ask_write(c, bytes.buf, bytes.len,
		    deadline);
	else if (error == ERR_INVALID && type)	/* too large to send */
		error = ask_printf(c, deadline, "object %s %s -1\n", oid, type);
	else
		error = ask_printf(c, deadline, "object %s missing 0\n", oid);
	free(type);
	sbuf_release(&bytes);
	return error;
}

/*
 * A hook whose user may not read runner.yml or the signers asks the
 * daemon to judge the release tags among `u` (ask.h): it names the
 * tags, the daemon asks for the tag objects it needs, which only this
 * process can read (they are in the push's quarantine), and judges them
 * as check_tag does. Each refusal is said; *refused set if any. 0 when
 * the daemon answered, or a negative code (its message set) when it
 * could not be asked.
 */
static int ask_check(const char *home, const char *repo,
    const struct hook_update *u, size_t n, int *refused)
{
	struct ask_conn c;
	struct sbuf req = SBUF_INIT;
	char **need = NULL;
	size_t nneed = 0;
	int error, done = 0;
	/* each line within the slack; the whole within a bound too */
	int64_t end = mono_ms() + 10 * ASK_SLACK_MS;
	char *line;

	signal(SIGPIPE, SIG_IGN);
	if ((error = ask_connect(home, repo, &c)) < 0)
		return error;
	sbuf_adds(&req, "check\n");
	for (size_t i = 0; i < n; i++)
		if (!strncmp(u[i].ref, "refs/tags/", 10) && !hook_zero_id(u[i].new))
			sbuf_addf(&req, "update %s %s %s\n", u[i].old, u[i].new,
			    u[i].ref);
	sbuf_adds(&req, "end\n");
	error = ask_write(&c, req.buf, req.len, mono_ms() + ASK_REQUEST_MS);
	while (error == 0 && !done) {
		int64_t deadline = deadline_min(end, mono_ms() + ASK_SLACK_MS);
		if ((error = ask_read_line(&c, deadline, -1, &line)) < 0)
			break;
		if (!strncmp(line, "need ", 5) && nneed < ASK_TAGS_MAX) {
			need = xrealloc(need, (nneed + 1) * sizeof(*need));
			need[nneed++] = xstrdup(line + 5);
		} else if (!strcmp(line, "send")) {
			size_t left = ASK_OBJECTS_MAX;
			for (size_t i = 0; i < nneed && error == 0; i++)
				error = send_object(&c, repo, need[i], &left,
				    mono_ms() + ASK_REQUEST_MS);
			if (error == 0)
				error = ask_write(&c, "end\n", 4, mono_ms() +
				    ASK_REQUEST_MS);
		} else if (!strncmp(line, "refuse ", 7)) {
			char *sp = strchr(line + 7, ' ');
			if (sp && !strncmp(line + 7, "refs/tags/", 10)) {
				*sp = '\0';
				say_refused(line + 7, sp + 1);
				*refused = 1;
			}
		} else if (!strncmp(line, "error ", 6)) {
			error = error_set(-1, "%s", line + 6);
		} else if (!strcmp(line, "busy")) {
			error = error_set(ERR_BUSY, "it answers too many pushes at "
			    "the moment");
		} else if (!strcmp(line, "done")) {
			done = 1;
		}
	}
	for (size_t i = 0; i < nneed; i++)
		free(need[i]);
	free(need);
	sbuf_release(&req);
	ask_close(&c);
	return done ? 0 : error < 0 ? error : -1;
}

/* Why `u` must be refused, or NULL. Caller frees. */
static char *check_tag(const char *home, const char *repo,
    const struct config *conf, struct store *st, const struct hook_update *u)
{
	const struct repo_conf *rc = config_repo(conf, repo);
	const char *name = u->ref + 10;
	const char *quarantine = getenv("GIT_QUARANTINE_PATH");
	struct tag_info ti;
	char *tmp = xasprintf("%s/tmp", home), *why = NULL;
	int64_t build;

	if (!quarantine)
		quarantine = getenv("GIT_OBJECT_DIRECTORY");
	mkdir_p(tmp, 0700);
	if (tag_verify(repo, quarantine, name, u->new, rc, tmp, &ti) < 0) {
		why = xstrdup(error_last());
		goto out;
	}
	if (st) {
		const struct release_tag rt = { name, u->new, ti.commit,
		    ti.tagged_at, repo };
		why = release_refusal(st, rc, repo, RELEASE_ENV, &rt, 0, &build,
		    NULL);
	}
	tag_info_release(&ti);
out:
	free(tmp);
	return why;
}

/*
 * Why approval tag `u` of release `release` must be refused, or NULL: it
 * must verify as a release tag does (signed by a key runner.yml trusts,
 * named as pushed) and point at the release tag's commit, that tag being
 * in the repository or in this same push (among the `n` of `all`).
 * Caller frees.
 */
static char *check_approval(const char *home, const char *repo,
    const struct config *conf, const struct hook_update *u,
    const char *release, const struct hook_update *all, size_t n)
{
	const struct repo_conf *rc = config_repo(conf, repo);
	const char *name = u->ref + 10, *pushed = NULL;
	const char *quarantine = getenv("GIT_QUARANTINE_PATH");
	struct tag_info ti;
	char *tmp = xasprintf("%s/tmp", home), *why = NULL, *commit = NULL;
	int error;

	if (!quarantine)
		quarantine = getenv("GIT_OBJECT_DIRECTORY");
	mkdir_p(tmp, 0700);
	if (tag_verify(repo, quarantine, name, u->new, rc, tmp, &ti) < 0) {
		why = xasprintf("approval %s", error_last());
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!strncmp(all[i].ref, "refs/tags/", 10) &&
		    !strcmp(all[i].ref + 10, release))
			pushed = hook_zero_id(all[i].new) ? NULL : all[i].new;
	error = approval_release_commit(repo, quarantine, release, pushed, NULL,
	    &commit);
	if (error < 0 && error != ERR_NOTFOUND)
		why = xasprintf("approval tag '%s': %s", name, error_last());
	else
		why = approval_refusal(name, release, &ti, commit);
	tag_info_release(&ti);
out:
	free(commit);
	free(tmp);
	return why;
}

int cmd_pre_receive(int argc, char **argv)
{
	struct sbuf in = SBUF_INIT;
	struct hook_update *u = NULL;
	struct config *conf = NULL;
	struct store *st = NULL;
	struct ref_matcher tags = { 0 };
	size_t n = 0, bad = 0;
	int truncated, refused = 0, rc = 0, keep = -1;
	char *repo = NULL, *key = NULL, *conf_error = NULL;
	int writable;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc > 1 && (!strcmp(argv[1], "--help") ||
		    !strcmp(argv[1], "-h"))) {
			fputs(usage, stdout);
			return EXIT_OK;
		}
		return cli_usage(usage);
	}
	const char *home = argv[1];
	/* runner.yml, read once: its store, and which tags are releases;
	 * one that does not load gives only its `store:` */
	if (cli_config(home, 1, &conf) < 0) {
		conf = NULL;
		conf_error = xstrdup(error_last());
		writable = config_store_url(home, &key) == 0 &&
		    store_writable(home, key);
	} else {
		writable = store_writable(home, conf->store);
	}
	if (argc > 2 && access(argv[2], X_OK) == 0)
		keep = memfd_create("runner-hook-input", MFD_CLOEXEC);
	hook_read_input(&in, &truncated, keep);
	hook_parse(in.buf, in.len, &u, &n, &bad);
	/* the runner's results are its own to write: a pusher's "passed"
	 * over a failed job, or their removal, is refused */
	for (size_t i = 0; i < n; i++) {
		if (!notebox_is_notes_ref(u[i].ref))
			continue;
		fprintf(stderr, "runner: refusing the update of %s: it holds "
		    "the runner's results, which only the runner writes\n",
		    u[i].ref);
		rc = 1;
		goto out;
	}
	/* a push that would have no job is refused while it can be */
	for (size_t i = 0; i < n; i++) {
		char *why;
		if (hook_zero_id(u[i].new) || !(why = disk_refusal(home)))
			continue;
		fprintf(stderr, "runner: refusing the push: %s\n", why);
		free(why);
		rc = 1;
		goto out;
	}
	/* a push the post-receive hook could hand to no one would be lost:
	 * refused while it can be, with the fix */
	for (size_t i = 0; i < n; i++) {
		char *why, *fix;
		if (hook_zero_id(u[i].new) || (strncmp(u[i].ref, "refs/heads/",
		    11) && strncmp(u[i].ref, "refs/tags/", 10)) ||
		    writable || !(why = spool_unwritable(home, &fix)))
			continue;
		fprintf(stderr, "runner: refusing the push: the runner would "
		    "never see it: %s\nrunner: fix: %s; then push again\n", why,
		    fix);
		free(why);
		free(fix);
		rc = 1;
		goto out;
	}
	repo = realpath(getenv("GIT_DIR") ? getenv("GIT_DIR") : ".", NULL);
	/* a user who may not read the store (the git server's) cannot be
	 * trusted with runner.yml or the signers either: the daemon judges
	 * its release tags; with no daemon to ask, they are taken and the
	 * deployment judges them (a push is never lost for want of it) */
	if (repo && !writable) {
		int tags = 0;
		for (size_t i = 0; i < n; i++)
			tags += !strncmp(u[i].ref, "refs/tags/", 10) &&
			    !hook_zero_id(u[i].new);
		if (tags && ask_check(home, repo, u, n, &refused) < 0 &&
		    !refused) {
			struct sbuf line = SBUF_INIT;
			sbuf_adds(&line, "runner: warning: cannot ask the runner's "
			    "daemon to check the pushed tags (");
			sbuf_add_display(&line, error_last(), strlen(error_last()));
			sbuf_adds(&line, "): they are taken now, and a release "
			    "tag's deployment checks its signature and build");
			fprintf(stderr, "%s\n", line.buf);
			sbuf_release(&line);
		}
		if (refused) {
			rc = 1;
			goto out;
		}
		goto chain;
	}
	if (!repo || !conf) {
		/* Which tags are releases, and who may sign them, is in
		 * runner.yml: without it no tag can be checked, so none is
		 * taken (a release name once taken cannot be given back).
		 * Branches pass. */
		const char *why = !repo ? "cannot resolve the repository" :
		    conf_error ? conf_error : "runner.yml did not load";
		for (size_t i = 0; i < n; i++) {
			if (strncmp(u[i].ref, "refs/tags/", 10) ||
			    hook_zero_id(u[i].new))
				continue;
			struct sbuf line = SBUF_INIT;
			sbuf_addf(&line, "runner: refusing tag '%s': release tags "
			    "cannot be checked: ", u[i].ref + 10);
			sbuf_add_display(&line, why, strlen(why));
			fprintf(stderr, "%s\n", line.buf);
			sbuf_release(&line);
			refused = 1;
		}
		if (refused) {
			rc = 1;
			goto out;
		}
		goto chain;
	}
	if (store_open(home, conf->store, STORE_OPEN, &st) < 0) {
		fprintf(stderr, "runner: warning: %s; builds of release tags not "
		    "checked at push time\n", error_last());
		st = NULL;
	}
	if (ref_matcher_init(&tags, config_repo(conf, repo)->release_tags,
	    stderr) < 0)
		goto chain;
	for (size_t i = 0; i < n; i++) {
		char *why = NULL, *release = NULL;
		if (strncmp(u[i].ref, "refs/tags/", 10) || hook_zero_id(u[i].new))
			continue;
		/* an approval of a release (never a release itself) */
		if (approval_name(u[i].ref + 10, &release)) {
			if (ref_matcher_match(&tags, release, stderr))
				why = check_approval(home, repo, conf, &u[i], release,
				    u, n);
			free(release);
		} else if (!ref_matcher_match(&tags, u[i].ref + 10, stderr)) {
			continue;
		} else if (strstr(u[i].ref + 10, APPROVAL_MARK)) {
			why = xstrdup("a release tag's name may not hold '"
			    APPROVAL_MARK "', which names approvals "
			    "(RELEASE" APPROVAL_MARK "NAME)");
		} else {
			why = check_tag(home, repo, conf, st, &u[i]);
		}
		if (why) {
			say_refused(u[i].ref, why);
			free(why);
			refused = 1;
		}
	}
	if (refused) {
		rc = 1;
		goto out;
	}
chain:
	if (argc > 2 && access(argv[2], X_OK) == 0)
		rc = hook_run_chained(argv[2], argv + 2, keep);
out:
	if (keep >= 0)
		close(keep);
	ref_matcher_release(&tags);
	store_close(st);
	config_free(conf);
	free(key);
	free(conf_error);
	hook_updates_free(u, n);
	sbuf_release(&in);
	free(repo);
	return rc;
}
