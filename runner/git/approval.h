/*
 * Approvals of a release: signed tags named RELEASE+approved.NAME, each
 * an annotated tag signed by a key the server trusts (the same
 * allowed_signers and keyring as the release tag, tagsig.h), pointing at
 * the release tag's commit. They are counted by key, never by name, and
 * always by verifying them again, so that a key taken out of
 * allowed_signers no longer counts.
 */
#ifndef RUNNER_APPROVAL_H
#define RUNNER_APPROVAL_H

#include <stddef.h>

struct repo_conf;
struct tag_info;

/* What a tag name that approves a release has between the release and
 * the approver's name. */
#define APPROVAL_MARK "+approved."

/*
 * Is `tag` (a tag's name, without refs/tags/) an approval? 1 and the
 * release's name into *release (caller frees), when it is
 * RELEASE+approved.NAME with RELEASE and NAME not empty; else 0.
 */
int approval_name(const char *tag, char **release);

/* One key that approved: who (tag_info_signer's text), the short name
 * (the SSH principal or OpenPGP user id), the key and the tag. */
struct approver {
	char *who, *name, *key, *tag;
};

struct approvals {
	struct approver *v;	/* distinct keys, the release's signer first */
	size_t n;
	char *ignored;		/* approval tags that did not count, and why,
				 * one a line; NULL if none */
};

/*
 * Count the approvals of release tag `release` (whose verified tag is
 * `rel`: its commit and signer, who counts as the first approver) in the
 * bare repository `repo`: every refs/tags/RELEASE+approved.* verified
 * now with `rc`'s signers, kept if it is of the release's commit, one
 * per key. Returns 0 (what did not count said in out->ignored), or a
 * negative code when the repository cannot be read.
 */
int approvals_count(const char *repo, const char *release,
    const struct tag_info *rel, const struct repo_conf *rc,
    const char *tmpdir, struct approvals *out);
void approvals_release(struct approvals *a);

/* "alice, bob": the short names of the approvers. Caller frees. */
char *approvals_names(const struct approvals *a);

/*
 * The commit the release tag `release` points at in `repo` (and in git's
 * `quarantine` of a push in progress, or NULL; `pushed`: the tag's object
 * in that push, which its ref does not name yet), into *out (caller frees);
 * the tag object's id into *object when it is not NULL. ERR_NOTFOUND
 * when there is no such tag.
 */
int approval_release_commit(const char *repo, const char *quarantine,
    const char *release, const char *pushed, char **object, char **out);

/*
 * Why an approval tag that verified (`ti`, the approval of release
 * `release`) must be refused: its commit is not `release_commit`, the
 * release tag's (NULL: there is no such release tag). NULL when it may
 * be taken. Caller frees.
 */
char *approval_refusal(const char *name, const char *release,
    const struct tag_info *ti, const char *release_commit);

#endif
