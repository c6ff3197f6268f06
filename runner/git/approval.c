/*
 * Approvals of a release (approval.h): the tags RELEASE+approved.NAME of
 * the repository, each verified as a release tag is (tagsig.c), counted
 * once per key. Nothing is cached: what counts is what verifies now, with
 * runner.yml's signers as they are now.
 */
#include "approval.h"
#include "gitlib.h"
#include "tagsig.h"
#include "util.h"
#include "who.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>

/* Approval tags looked at for one release, at most: each is a signature
 * checked by ssh-keygen or gpg. */
#define APPROVALS_MAX 64

int approval_name(const char *tag, char **release)
{
	const char *m = strstr(tag, APPROVAL_MARK);

	*release = NULL;
	if (!m || m == tag || !m[strlen(APPROVAL_MARK)])
		return 0;
	*release = xstrndup(tag, (size_t)(m - tag));
	return 1;
}

void approvals_release(struct approvals *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].who);
		free(a->v[i].name);
		free(a->v[i].key);
		free(a->v[i].tag);
	}
	free(a->v);
	free(a->ignored);
	memset(a, 0, sizeof(*a));
}

char *approvals_names(const struct approvals *a)
{
	struct sbuf sb = SBUF_INIT;

	for (size_t i = 0; i < a->n; i++) {
		if (i)
			sbuf_adds(&sb, ", ");
		sbuf_adds(&sb, a->v[i].name);
	}
	return sbuf_detach(&sb);
}

/* Add the key of `ti` (signed tag `tag`) unless it approved already. */
static int add_key(struct approvals *a, const struct tag_info *ti,
    const char *tag)
{
	const char *key = ti->key ? ti->key : "";

	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->v[i].key, key))
			return 0;
	a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
	a->v[a->n].who = tag_info_signer(ti);
	a->v[a->n].name = who_clean_text(ti->signer ? ti->signer : key, 200);
	if (!a->v[a->n].name)
		a->v[a->n].name = xstrdup("?");
	a->v[a->n].key = xstrdup(key);
	a->v[a->n].tag = xstrdup(tag);
	a->n++;
	return 1;
}

int approvals_count(const char *repo, const char *release,
    const struct tag_info *rel, const struct repo_conf *rc,
    const char *tmpdir, struct approvals *out)
{
	git_repository *r = NULL;
	git_reference_iterator *it = NULL;
	git_reference *ref;
	struct sbuf ign = SBUF_INIT;
	char *prefix = xasprintf("refs/tags/%s" APPROVAL_MARK, release);
	size_t plen = strlen(prefix), seen = 0;
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (!rel->key) {
		error = error_set(ERR_INVALID, "release tag '%s': its signer's "
		    "key is not known", release);
		goto out;
	}
	add_key(out, rel, release);
	gitlib_init();
	if (git_repository_open_bare(&r, repo) < 0 ||
	    git_reference_iterator_glob_new(&it, r, "refs/tags/*") < 0) {
		error = error_set(-1, "cannot read the tags of '%s': %s", repo,
		    git_error_last() ? git_error_last()->message : "?");
		goto out;
	}
	while (git_reference_next(&ref, it) == 0) {
		const char *name = git_reference_name(ref);
		const git_oid *oid = git_reference_target(ref);
		struct tag_info ti;

		if (strncmp(name, prefix, plen) || !name[plen] || !oid) {
			git_reference_free(ref);
			continue;
		}
		if (++seen > APPROVALS_MAX) {
			sbuf_addf(&ign, "%s: more than %d approval tags of '%s' (the "
			    "rest are not looked at)\n", name + 10, APPROVALS_MAX,
			    release);
			git_reference_free(ref);
			break;
		}
		if (tag_verify(repo, NULL, name + 10, git_oid_tostr_s(oid), rc,
		    tmpdir, &ti) < 0) {
			sbuf_addf(&ign, "%s\n", error_last());
		} else if (strcmp(ti.commit, rel->commit)) {
			sbuf_addf(&ign, "tag '%s': approves commit %.7s, not the "
			    "release's %.7s\n", name + 10, ti.commit, rel->commit);
			tag_info_release(&ti);
		} else {
			if (!add_key(out, &ti, name + 10)) {
				char *who = tag_info_signer(&ti);
				sbuf_addf(&ign, "tag '%s': %s approved already "
				    "(a key counts once)\n", name + 10, who);
				free(who);
			}
			tag_info_release(&ti);
		}
		git_reference_free(ref);
	}
	error_clear();
	if (ign.len)
		out->ignored = sbuf_detach(&ign);
out:
	sbuf_release(&ign);
	if (error < 0)
		approvals_release(out);
	git_reference_iterator_free(it);
	git_repository_free(r);
	free(prefix);
	return error;
}

int approval_release_commit(const char *repo, const char *quarantine,
    const char *release, const char *pushed, char **object, char **out)
{
	git_repository *r = NULL;
	git_odb *odb = NULL;
	git_object *obj = NULL, *peeled = NULL;
	git_oid oid;
	char *ref = xasprintf("refs/tags/%s", release);
	int error = 0;

	*out = NULL;
	if (object)
		*object = NULL;
	if ((error = gitlib_open_pushed(repo, quarantine, &r, &odb)) < 0)
		goto out;
	if (pushed ? git_oid_fromstr(&oid, pushed) < 0 :
	    git_reference_name_to_id(&oid, r, ref) < 0) {
		error = error_set(ERR_NOTFOUND, "there is no release tag '%s'",
		    release);
		goto out;
	}
	if (git_object_lookup(&obj, r, &oid, GIT_OBJECT_ANY) < 0 ||
	    git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
		error = error_set(ERR_NOTFOUND, "release tag '%s' points at no "
		    "commit", release);
		goto out;
	}
	*out = xstrdup(git_oid_tostr_s(git_object_id(peeled)));
	if (object)
		*object = xstrdup(git_oid_tostr_s(&oid));
out:
	git_object_free(peeled);
	git_object_free(obj);
	git_odb_free(odb);
	git_repository_free(r);
	free(ref);
	return error;
}

char *approval_refusal(const char *name, const char *release,
    const struct tag_info *ti, const char *release_commit)
{
	if (!release_commit)
		return xasprintf("approval tag '%s': there is no release tag "
		    "'%s' to approve (push the release tag first)", name,
		    release);
	if (strcmp(ti->commit, release_commit))
		return xasprintf("approval tag '%s' points at commit %.7s, but "
		    "release tag '%s' is of commit %.7s: an approval is of the "
		    "release's own commit", name, ti->commit, release,
		    release_commit);
	return NULL;
}
