/*
 * runner-hook: the small program the installed post-receive script execs.
 * It links only SQLite, pcre2 and libyaml so that it starts fast inside
 * `git push`. It always exits 0, unless a chained hook (one that was
 * installed before the runner's) runs and exits otherwise.
 */
#include "ask.h"
#include "hook.h"
#include "notebox.h"
#include "run.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Write the git notes the daemon left for this repository (notebox.h):
 * it may not write the repository, and this user, who runs its hooks,
 * may. Before the push's own updates are handed over, so that a note
 * that waits after this push's jobs end was not written by this hook.
 * The notes are the runner's user's: another user asks the daemon for
 * its repository's (ask.h); with no daemon to ask they wait for the next
 * push. Quiet when none waits; one warning line when they cannot be
 * written.
 */
static void write_notes(const char *home, const char *repo)
{
	const char *repos[] = { repo };
	struct notebox_note *v = NULL;
	struct stat hs;
	size_t n = 0;
	int error;

	if (geteuid() == 0 || (stat(home, &hs) == 0 && hs.st_uid == geteuid()))
		error = notebox_list(home, repo, &v, &n);
	else if ((error = ask_notes(home, repo, &v, &n)) == ERR_NOTFOUND ||
	    error == ERR_BUSY)
		error = 0;	/* no daemon to ask now: the next push */
	if (error < 0 || (n && notebox_deliver(repos, 1, v, n, NULL,
	    NULL) < 0))
		fprintf(stderr, "runner: warning: git notes: %s\n",
		    error_last());
	notebox_notes_free(v, n);
}

/*
 * Undo the push's updates of the runner's notes (NOTES_REF): its results,
 * which the pusher must not rewrite (a failed build shown as passed) nor
 * remove. The pre-receive hook refuses them where it is installed; here,
 * after the fact, the ref goes back to what it was, unless it moved again
 * since (a compare-and-swap: git update-ref with the push's new value as
 * the old one). This user may: it wrote the ref in this push.
 */
static void undo_notes(const char *repo, const struct hook_update *u,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sbuf err = SBUF_INIT;
		int created = hook_zero_id(u[i].old);
		int removed = hook_zero_id(u[i].new);
		int rc;

		if (!notebox_is_notes_ref(u[i].ref) || (created && removed))
			continue;
		const char *argv[] = { "git", "--git-dir", repo, "update-ref",
		    "-m", "runner: a push's update undone", created ? "-d" :
		    u[i].ref, created ? u[i].ref : u[i].old,
		    created ? u[i].new : removed ? "" : u[i].new, NULL };
		rc = run_helper(argv, NULL, 0, NULL, &err, 10000);
		if (rc == 0)
			fprintf(stderr, "runner: %s holds the runner's results: "
			    "this push's update of it is undone (only the runner "
			    "writes it)\n", u[i].ref);
		else
			fprintf(stderr, "runner: warning: %s holds the runner's "
			    "results, and this push's update of it could not be "
			    "undone: %s\n", u[i].ref, rc < 0 ? error_last() :
			    err.buf);
		sbuf_release(&err);
	}
}

int main(int argc, char **argv)
{
	struct sbuf in = SBUF_INIT;
	struct hook_update *u = NULL;
	size_t n = 0, bad = 0;
	int truncated, rc = 0, keep = -1;
	char *repo;
	int chained = argc > 3 && access(argv[3], X_OK) == 0;

	if (argc < 3 || strcmp(argv[1], "post-receive")) {
		fprintf(stderr, "usage: runner-hook post-receive HOME "
		    "[CHAINED-HOOK]\n(installed by 'runner install-hook'; not "
		    "meant to be run by hand)\n");
		return 2;
	}
	/* A chained hook gets all of the input, however large: it is kept
	 * in memory-backed file as it is read. */
	if (chained)
		keep = memfd_create("runner-hook-input", MFD_CLOEXEC);
	hook_read_input(&in, &truncated, keep);
	repo = realpath(getenv("GIT_DIR") ? getenv("GIT_DIR") : ".", NULL);
	if (!repo) {
		fprintf(stderr, "runner: warning: cannot resolve the repository "
		    "path: %s; nothing queued\n", strerror(errno));
		goto chain;
	}
	if (truncated)
		fprintf(stderr, "runner: warning: hook input over %d bytes; only "
		    "the first part was read\n", HOOK_MAX_INPUT);
	hook_parse(in.buf, in.len, &u, &n, &bad);
	if (bad && n == HOOK_MAX_LINES)
		fprintf(stderr, "runner: warning: ignored %zu hook input line%s "
		    "past the first %d ref updates, or malformed\n", bad,
		    bad == 1 ? "" : "s", HOOK_MAX_LINES);
	else if (bad)
		fprintf(stderr, "runner: warning: ignored %zu malformed hook "
		    "input line%s\n", bad, bad == 1 ? "" : "s");
	undo_notes(repo, u, n);
	write_notes(argv[2], repo);
	hook_post_receive(argv[2], repo, u, n, stdout);
	fflush(stdout);
	free(repo);
chain:
	if (chained) {
		/* argv[3..] become the chained hook's arguments after argv[0] */
		rc = hook_run_chained(argv[3], argv + 3, keep);
	}
	if (keep >= 0)
		close(keep);
	hook_updates_free(u, n);
	sbuf_release(&in);
	error_clear();
	return rc;
}
