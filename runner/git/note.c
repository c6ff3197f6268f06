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

static int note_fail(const char *what, const char *repo)
{
	const git_error *e = git_error_last();

	return error_set(-1, "%s in '%s': %s", what, repo,
	    e && e->message ? e->message : "unknown libgit2 error");
}

/* libgit2 with no configuration but the repository's own, and no
 * question of whose the repository is: the caller decided that. */
static void note_init(void)
{
	static const int levels[] = { GIT_CONFIG_LEVEL_SYSTEM,
	    GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL,
	    GIT_CONFIG_LEVEL_PROGRAMDATA };

	git_libgit2_init();
	for (size_t i = 0; i < sizeof(levels) / sizeof(*levels); i++)
		git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "");
#if LIBGIT2_VER_MAJOR > 1 || LIBGIT2_VER_MINOR >= 5
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
#endif
}

static int open_repo(git_repository **r, const char *repo, const char *commit,
    git_oid *target)
{
	if (git_oid_fromstr(target, commit) < 0)
		return error_set(ERR_INVALID, "bad commit id '%s'", commit);
	if (git_repository_open_bare(r, repo) < 0)
		return note_fail("cannot open the repository", repo);
	return 0;
}

int note_read(const char *repo, const char *ref, const char *commit,
    char **text)
{
	git_repository *r = NULL;
	git_note *note = NULL;
	git_oid target;
	int error;

	*text = NULL;
	note_init();
	if ((error = open_repo(&r, repo, commit, &target)) < 0)
		goto out;
	error = git_note_read(&note, r, ref, &target);
	if (error == GIT_ENOTFOUND)
		error = 0;
	else if (error < 0)
		error = note_fail("cannot read the note", repo);
	else {
		*text = xstrdup(git_note_message(note) ? git_note_message(note) :
		    "");
		error = 1;
	}
out:
	git_note_free(note);
	git_repository_free(r);
	git_libgit2_shutdown();
	return error;
}

int note_write(const char *repo, const char *ref, const char *commit,
    const char *text)
{
	git_repository *r = NULL;
	git_signature *sig = NULL;
	git_oid target, note;
	struct stat st;
	char *now = NULL;
	mode_t old_mask;
	int error, i;

	if ((error = note_read(repo, ref, commit, &now)) == 1 &&
	    !strcmp(now, text)) {
		free(now);
		return 0;
	}
	free(now);
	if (error < 0)
		return error;
	if (stat(repo, &st) < 0)
		return error_set(-1, "cannot look at '%s': %s", repo,
		    strerror(errno));
	/* what the repository's mode lets the group and others have */
	old_mask = umask((mode_t)(~st.st_mode & 0077));
	error = 0;
	note_init();
	if ((error = open_repo(&r, repo, commit, &target)) < 0)
		goto out;
	if (git_signature_now(&sig, "runner", "runner@localhost") < 0) {
		error = note_fail("cannot sign the note", repo);
		goto out;
	}
	/* libgit2 makes the notes commit on the ref's tip and moves the
	 * ref only if it still points there */
	for (i = 0; i < NOTE_TRIES; i++)
		if (git_note_create(&note, r, ref, sig, sig, &target, text,
		    1) == 0)
			break;
	if (i == NOTE_TRIES)
		error = note_fail("cannot write the note", repo);
out:
	git_signature_free(sig);
	git_repository_free(r);
	git_libgit2_shutdown();
	umask(old_mask);
	return error;
}
