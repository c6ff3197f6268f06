/*
 * runner pre-receive HOME CHAINED: the pre-receive hook (installed by
 * 'runner install-hook --pre-receive'). It refuses a release tag that
 * would not deploy, reading the pushed objects from git's quarantine.
 * It fails open: a runner that cannot decide (no store, a broken
 * runner.yml) lets the push through with a warning; the deployment itself
 * checks everything again.
 */
#include "cli.h"
#include "config.h"
#include "deploy.h"
#include "hook.h"
#include "reserve.h"
#include "spool.h"
#include "store.h"
#include "tagsig.h"
#include "util.h"
#include "refmatch.h"

#include <errno.h>
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
    "may write neither the store nor the spool (with the fix).\n";

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
static int store_writable(const char *home)
{
	char *db = xasprintf("%s/%s", home, STORE_FILE), *url = NULL;
	int own = store_url(home, &url) == 0 && (url || access(db, W_OK) == 0 ||
	    errno == ENOENT);

	free(db);
	free(url);
	return own;
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

int cmd_pre_receive(int argc, char **argv)
{
	struct sbuf in = SBUF_INIT;
	struct hook_update *u = NULL;
	struct config *conf = NULL;
	struct store *st = NULL;
	struct ref_matcher tags = { 0 };
	size_t n = 0, bad = 0;
	int truncated, refused = 0, rc = 0, keep = -1;
	char *repo = NULL;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc > 1 && (!strcmp(argv[1], "--help") ||
		    !strcmp(argv[1], "-h"))) {
			fputs(usage, stdout);
			return EXIT_OK;
		}
		return cli_usage(usage);
	}
	const char *home = argv[1];
	if (argc > 2 && access(argv[2], X_OK) == 0)
		keep = memfd_create("runner-hook-input", MFD_CLOEXEC);
	hook_read_input(&in, &truncated, keep);
	hook_parse(in.buf, in.len, &u, &n, &bad);
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
		    store_writable(home) || !(why = spool_unwritable(home, &fix)))
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
	if (!repo || cli_config(home, 1, &conf) < 0) {
		/* Which tags are releases, and who may sign them, is in
		 * runner.yml: without it no tag can be checked, so none is
		 * taken (a release name once taken cannot be given back).
		 * Branches pass. */
		const char *why = repo ? error_last() :
		    "cannot resolve the repository";
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
	if (store_open(home, STORE_OPEN, &st) < 0) {
		fprintf(stderr, "runner: warning: %s; builds of release tags not "
		    "checked at push time\n", error_last());
		st = NULL;
	}
	if (ref_matcher_init(&tags, config_repo(conf, repo)->release_tags,
	    stderr) < 0)
		goto chain;
	for (size_t i = 0; i < n; i++) {
		char *why;
		if (strncmp(u[i].ref, "refs/tags/", 10) || hook_zero_id(u[i].new) ||
		    !ref_matcher_match(&tags, u[i].ref + 10, stderr))
			continue;
		if ((why = check_tag(home, repo, conf, st, &u[i]))) {
			struct sbuf line = SBUF_INIT;
			sbuf_addf(&line, "runner: refusing release tag '%s': ",
			    u[i].ref + 10);
			sbuf_add_display(&line, why, strlen(why));
			fprintf(stderr, "%s\n", line.buf);
			sbuf_release(&line);
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
	hook_updates_free(u, n);
	sbuf_release(&in);
	free(repo);
	return rc;
}
