/*
 * Git notes with libgit2 (note.h).
 */
#include "note.h"
#include "util.h"

#include <git2.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOTE_TRIES 5

static int note_fail(const char *what, const char *repo)
{
	const git_error *e = git_error_last();

	return error_set(-1, "%s in '%s': %s", what, repo,
	    e && e->message ? e->message : "unknown libgit2 error");
}

int note_write(const char *repo, const char *ref, const char *commit,
    const char *text, uid_t uid, gid_t gid)
{
	git_repository *r = NULL;
	git_signature *sig = NULL;
	git_oid target, note;
	mode_t old_mask = umask(022);
	int old_uid = -1, old_gid = -1, error = 0, i;

	/* the group first: once the uid is not root's, it could not be */
	if (gid != (gid_t)-1) {
		old_gid = setfsgid(gid);
		if (setfsgid((gid_t)-1) != (int)gid) {
			error = error_set(-1, "cannot write as group %d in '%s'",
			    (int)gid, repo);
			goto out;
		}
	}
	if (uid != (uid_t)-1) {
		old_uid = setfsuid(uid);
		if (setfsuid((uid_t)-1) != (int)uid) {
			error = error_set(-1, "cannot write as user %d in '%s'",
			    (int)uid, repo);
			goto out;
		}
	}
	git_libgit2_init();
	if (git_oid_fromstr(&target, commit) < 0) {
		error = error_set(ERR_INVALID, "bad commit id '%s'", commit);
		goto shut;
	}
	if (git_repository_open_bare(&r, repo) < 0) {
		error = note_fail("cannot open the repository", repo);
		goto shut;
	}
	if (git_signature_now(&sig, "runner", "runner@localhost") < 0) {
		error = note_fail("cannot sign the note", repo);
		goto shut;
	}
	/* libgit2 makes the notes commit on the ref's tip and moves the
	 * ref only if it still points there */
	for (i = 0; i < NOTE_TRIES; i++)
		if (git_note_create(&note, r, ref, sig, sig, &target, text,
		    1) == 0)
			break;
	if (i == NOTE_TRIES)
		error = note_fail("cannot write the note", repo);
shut:
	git_signature_free(sig);
	git_repository_free(r);
	git_libgit2_shutdown();
out:
	if (old_uid != -1)
		setfsuid((uid_t)old_uid);
	if (old_gid != -1)
		setfsgid((gid_t)old_gid);
	umask(old_mask);
	return error;
}
