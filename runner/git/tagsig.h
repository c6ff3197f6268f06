/*
 * Is this pushed tag a release we may deploy? An annotated tag object,
 * named as it was pushed, pointing at a commit, signed (SSH or OpenPGP)
 * by a key the server trusts. Trust comes from runner.yml only.
 */
#ifndef RUNNER_TAGSIG_H
#define RUNNER_TAGSIG_H

#include <stddef.h>
#include <stdint.h>

struct repo_conf;
struct sbuf;

struct tag_info {
	char *commit;	/* the tagged commit, 40 hex */
	char *message;	/* the tag message without the signature */
	char *signer;	/* who signed: the SSH principal allowed_signers
			 * names, or the OpenPGP key's user id */
	char *key;	/* the key: "SHA256:..." as ssh-keygen -l names it,
			 * or the OpenPGP primary key's fingerprint
			 * (whichever of its subkeys signed) */
	char *kind;	/* "ssh" or "gpg" */
	int64_t tagged_at;	/* the tagger's date, s since the epoch (0:
				 * none); signed with the tag */
};

/* The tagger's date of tag object `tag_oid` in `repo` into *out (0 when
 * it has none). ERR_NOTFOUND when the object is gone. */
int tag_time(const char *repo, const char *tag_oid, int64_t *out);

/*
 * Verify `tag_oid` pushed as refs/tags/`name` in the bare repository
 * `repo`. `quarantine` is git's object directory of a push in progress
 * (pre-receive), or NULL. `tmpdir` is where temporary files may go.
 * Returns 0 and fills *out, or ERR_INVALID with the reason for refusing.
 */
int tag_verify(const char *repo, const char *quarantine, const char *name,
    const char *tag_oid, const struct repo_conf *rc, const char *tmpdir,
    struct tag_info *out);
void tag_info_release(struct tag_info *t);
/* Who signed, for the record and for people: "alice@example.com (ssh
 * key SHA256:...)" or "Alice <alice@example.com> (OpenPGP key 0123...)",
 * cleaned for display. The caller frees it. */
char *tag_info_signer(const struct tag_info *t);

/*
 * The same judgement of a tag object given as its bytes (`data`, `len`)
 * and git's name of its type ("tag", "commit"...), as a process that
 * cannot read the repository or the push's quarantine is sent them: the
 * object's id is computed from the bytes and must be `tag_oid`.
 */
int tag_verify_raw(const char *name, const char *tag_oid, const char *type,
    const char *data, size_t len, const struct repo_conf *rc,
    const char *tmpdir, struct tag_info *out);

/*
 * Object `oid` of `repo` (and of git's `quarantine` of a push in
 * progress, or NULL): its type's name into *type (caller frees) and its
 * bytes appended to `out`. ERR_NOTFOUND when it is not there,
 * ERR_INVALID when it is larger than `max` bytes (*type still set).
 */
int tag_object_read(const char *repo, const char *quarantine,
    const char *oid, size_t max, char **type, struct sbuf *out);

/*
 * Release notes: "- subject" for each commit reachable from `to` but not
 * from `from` (NULL: the last `max`), newest first.
 */
int release_notes(const char *repo, const char *from, const char *to,
    int max, struct sbuf *out);

#endif
