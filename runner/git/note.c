/*
 * Git notes with libgit2 (note.h).
 */
#include "note.h"
#include "util.h"

#include <errno.h>
#include <git2.h>
#include <string.h>
#include <sys/stat.h>

#define NOTE_TRIES 5

struct note_repo {
	git_repository *r;
	char *path;
	mode_t mode;		/* the repository folder's */
};

static int note_fail(const char *what, const char *repo)
{
	const git_error *e = git_error_last();

	return error_set(-1, "%s in '%s': %s", what, repo,
	    e && e->message ? e->message : "unknown libgit2 error");
}

/*
 * libgit2 with no configuration but the repository's own, and no question
 * of whose the repository is: the caller decided that. Once per process
 * and never shut down: libgit2's set-up reads the system's CA bundle
 * (its TLS), which took more than the notes themselves when it was done
 * around each one.
 */
static void note_init(void)
{
	static const int levels[] = { GIT_CONFIG_LEVEL_SYSTEM,
	    GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL,
	    GIT_CONFIG_LEVEL_PROGRAMDATA };
	static int ready;

	if (ready)
		return;
	ready = 1;
	git_libgit2_init();
	for (size_t i = 0; i < sizeof(levels) / sizeof(*levels); i++)
		git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "");
#if LIBGIT2_VER_MAJOR > 1 || LIBGIT2_VER_MINOR >= 5
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
#endif
}

int note_repo_open(const char *repo, struct note_repo **out)
{
	struct note_repo *nr;
	struct stat st;

	*out = NULL;
	note_init();
	if (stat(repo, &st) < 0)
		return error_set(-1, "cannot look at '%s': %s", repo,
		    strerror(errno));
	nr = xcalloc(1, sizeof(*nr));
	if (git_repository_open_bare(&nr->r, repo) < 0) {
		int error = note_fail("cannot open the repository", repo);
		free(nr);
		return error;
	}
	nr->path = xstrdup(repo);
	nr->mode = st.st_mode;
	*out = nr;
	return 0;
}

void note_repo_free(struct note_repo *nr)
{
	if (!nr)
		return;
	git_repository_free(nr->r);
	free(nr->path);
	free(nr);
}

int note_repo_read(struct note_repo *nr, const char *ref, const char *commit,
    char **text)
{
	git_note *note = NULL;
	git_oid target;
	int error;

	*text = NULL;
	if (git_oid_fromstr(&target, commit) < 0)
		return error_set(ERR_INVALID, "bad commit id '%s'", commit);
	error = git_note_read(&note, nr->r, ref, &target);
	if (error == GIT_ENOTFOUND)
		return 0;
	if (error < 0)
		return note_fail("cannot read the note", nr->path);
	*text = xstrdup(git_note_message(note) ? git_note_message(note) : "");
	git_note_free(note);
	return 1;
}

int note_repo_write(struct note_repo *nr, const char *ref, const char *commit,
    const char *text)
{
	git_signature *sig = NULL;
	git_oid target, note;
	char *now = NULL;
	mode_t old_mask;
	int error, i;

	if ((error = note_repo_read(nr, ref, commit, &now)) == 1 &&
	    !strcmp(now, text)) {
		free(now);
		return 0;
	}
	free(now);
	if (error < 0)
		return error;
	if (git_oid_fromstr(&target, commit) < 0)
		return error_set(ERR_INVALID, "bad commit id '%s'", commit);
	if (git_signature_now(&sig, "runner", "runner@localhost") < 0)
		return note_fail("cannot sign the note", nr->path);
	/* what the repository's mode lets the group and others have */
	old_mask = umask((mode_t)(~nr->mode & 0077));
	error = 0;
	/* libgit2 makes the notes commit on the ref's tip and moves the
	 * ref only if it still points there */
	for (i = 0; i < NOTE_TRIES; i++)
		if (git_note_create(&note, nr->r, ref, sig, sig, &target, text,
		    1) == 0)
			break;
	if (i == NOTE_TRIES)
		error = note_fail("cannot write the note", nr->path);
	umask(old_mask);
	git_signature_free(sig);
	return error;
}

int note_read(const char *repo, const char *ref, const char *commit,
    char **text)
{
	struct note_repo *nr;
	int error;

	*text = NULL;
	if ((error = note_repo_open(repo, &nr)) < 0)
		return error;
	error = note_repo_read(nr, ref, commit, text);
	note_repo_free(nr);
	return error;
}

int note_write(const char *repo, const char *ref, const char *commit,
    const char *text)
{
	struct note_repo *nr;
	int error;

	if ((error = note_repo_open(repo, &nr)) < 0)
		return error;
	error = note_repo_write(nr, ref, commit, text);
	note_repo_free(nr);
	return error;
}
