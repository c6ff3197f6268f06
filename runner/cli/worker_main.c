/*
 * runner-worker: the half of runner that needs libgit2, libcurl and
 * libarchive (the last two loaded when first used: curl_lib.h,
 * archive_lib.h). The supervisor starts it as each of its workers and as its
 * notifier; `runner` hands it the commands that need those libraries
 * (exec, so they behave exactly as if runner ran them).
 */
#include "cli.h"
#include "notebox.h"
#include "notes.h"
#include "provenance.h"
#include "util.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct command worker_commands[] = {
	{ "artifacts",   cmd_artifacts,   "list a job's artifacts, or extract them safely" },
	{ "deploy",      cmd_deploy,      "deploy a passed build's artifact to an environment" },
	{ "run",         cmd_run,         "queue a build of a branch's head by hand, with variables" },
	{ "notify",      cmd_notify,      "list notification targets, or send a test event to one" },
	{ "pre-receive", cmd_pre_receive, "the pre-receive hook (install-hook --pre-receive)" },
	{ "verify",      cmd_verify,      "check the signed provenance of a build's artifact" },
};

/* The daemon's children: `worker HOME PARENT SLOT` and `notifier HOME
 * PARENT SLOT`, with the supervisor's wake-up pipe on descriptor 3; SLOT
 * is the worker's number (the notifier's -1); and `answer HOME PARENT -1`
 * with a hook's connection on descriptor 3. */
static const struct {
	const char *name;
	worker_child *fn;
} children[] = {
	{ "worker", worker_main },
	{ "notifier", notifier_main },
	{ "answer", answer_main },
};

static int usage(void)
{
	fprintf(stderr, "usage: runner-worker COMMAND [ARGS]\n"
	    "\n"
	    "The part of runner that needs libgit2, libcurl and libarchive:\n"
	    "'runner serve' starts it as its workers and notifier, and runner\n"
	    "runs these commands through it:\n\n");
	for (size_t i = 0; i < sizeof(worker_commands) /
	    sizeof(*worker_commands); i++)
		fprintf(stderr, "  %-12s %s\n", worker_commands[i].name,
		    worker_commands[i].summary);
	fprintf(stderr, "\nRun them as 'runner COMMAND'.\n");
	return EXIT_USAGE;
}

/*
 * notes-write REPO...: write the git notes given on stdin (notebox.h), each
 * into its repository, as whoever runs it: the repository's hook at a
 * push, or the helper a root daemon starts as the repositories' owner;
 * prints the number of each repository whose notes are all written, a
 * line each. notes-check REPO: print the commits of those REPO has
 * already, one a line (the notifier's look, outside its own process).
 * Not commands of runner's: they trust their input, which only their
 * parent gives them.
 */
static int notes_write(int argc, char **argv)
{
	struct sbuf in = SBUF_INIT, out = SBUF_INIT, err = SBUF_INIT;
	int check = !strcmp(argv[1], NOTEBOX_CHECK_COMMAND);
	int rc = EXIT_OK, error;

	if (argc < 3 || (check && argc != 3) || argc - 2 > NOTEBOX_MAX_REPOS ||
	    isatty(0)) {
		fprintf(stderr, "usage: runner-worker %s REPO%s < NOTES (run by "
		    "the hook and the notifier, not by hand)\n", argv[1],
		    check ? "" : "...");
		return EXIT_USAGE;
	}
	if ((error = read_fd(0, "stdin", NOTEBOX_MAX * (NOTEBOX_MAX_TEXT + 80),
	    &in)) == 0)
		error = check ? notes_check_frames(argv[2], in.buf, in.len, &out) :
		    notes_write_frames((const char *const *)argv + 2,
		    (size_t)argc - 2, in.buf, in.len, &out, &err);
	if (out.len && write_all(1, out.buf, out.len) < 0)
		rc = EXIT_FAIL;
	if (error < 0) {
		fprintf(stderr, "%s", err.len ? err.buf : "");
		if (!err.len)
			fprintf(stderr, "%s\n", error_last());
		rc = EXIT_FAIL;
	}
	sbuf_release(&in);
	sbuf_release(&out);
	sbuf_release(&err);
	error_clear();
	return rc;
}

/*
 * provenance-key HOME: make the home's provenance key pair when it has
 * none (runner init, which links no libcrypto, runs it); prints the
 * public key's path when it made one.
 */
static int provenance_key(int argc, char **argv)
{
	int made = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: runner-worker %s HOME (run by runner "
		    "init)\n", PROVENANCE_KEY_COMMAND);
		return EXIT_USAGE;
	}
	if (prov_key_make(argv[2], &made) < 0) {
		fprintf(stderr, "%s\n", error_last());
		return EXIT_FAIL;
	}
	if (made)
		printf("made the provenance key %s/%s (publish %s/%s)\n", argv[2],
		    PROV_KEY_FILE, argv[2], PROV_PUB_FILE);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], PROVENANCE_KEY_COMMAND))
		return provenance_key(argc, argv);
	if (!strcmp(argv[1], NOTEBOX_WRITER_COMMAND) ||
	    !strcmp(argv[1], NOTEBOX_CHECK_COMMAND))
		return notes_write(argc, argv);
	for (size_t i = 0; i < sizeof(children) / sizeof(*children); i++) {
		if (strcmp(argv[1], children[i].name))
			continue;
		if (argc != 5)
			return usage();
		return children[i].fn(argv[2], 3, (pid_t)atoi(argv[3]),
		    atoi(argv[4]));
	}
	for (size_t i = 0; i < sizeof(worker_commands) /
	    sizeof(*worker_commands); i++) {
		if (strcmp(argv[1], worker_commands[i].name))
			continue;
		int rc = worker_commands[i].fn(argc - 1, argv + 1);
		error_clear();
		return rc;
	}
	return usage();
}
