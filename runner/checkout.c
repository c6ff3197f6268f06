/*
 * libgit2 side of a job: everything the worker needs from the repository.
 */
#include "checkout.h"
#include "util.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>

struct source {
	char *path;
	git_repository *repo;
	git_commit *commit;
};

static int git_fail(const char *what, const char *subject)
{
	const git_error *e = git_error_last();

	return error_set(-1, "%s '%s': %s", what, subject,
	    e && e->message ? e->message : "unknown libgit2 error");
}

void checkout_global_init(void)
{
	static int done;

	if (!done) {
		git_libgit2_init();	/* the reference is never given back */
		done = 1;
	}
}

int source_open(const char *repo, const char *commit, struct source **out)
{
	struct source *src = xcalloc(1, sizeof(*src));
	git_oid oid;
	int error;

	*out = NULL;
	git_libgit2_init();
	src->path = xstrdup(repo);
	if (git_repository_open_bare(&src->repo, repo) < 0) {
		error = git_fail("cannot open repository", repo);
		goto fail;
	}
	if (git_oid_fromstr(&oid, commit) < 0) {
		error = error_set(ERR_INVALID, "bad commit id '%s'", commit);
		goto fail;
	}
	if (git_commit_lookup(&src->commit, src->repo, &oid) < 0) {
		error = error_set(ERR_NOTFOUND, "commit %s is not in '%s' (was "
		    "the branch rewritten and the object pruned?)", commit, repo);
		goto fail;
	}
	*out = src;
	return 0;
fail:
	source_free(src);
	return error;
}

void source_free(struct source *src)
{
	if (!src)
		return;
	git_commit_free(src->commit);
	git_repository_free(src->repo);
	free(src->path);
	free(src);
	git_libgit2_shutdown();
}

const char *source_subject(const struct source *src)
{
	const char *s = git_commit_summary(src->commit);

	return s ? s : "";
}

int source_read(struct source *src, const char *path, size_t max,
    struct sbuf *out)
{
	git_tree *tree = NULL;
	git_tree_entry *ent = NULL;
	git_blob *blob = NULL;
	int error;

	if (git_commit_tree(&tree, src->commit) < 0) {
		error = git_fail("cannot read the tree of", src->path);
		goto out;
	}
	if (git_tree_entry_bypath(&ent, tree, path) < 0) {
		error = error_set(ERR_NOTFOUND, "no '%s' in commit %.12s", path,
		    git_oid_tostr_s(git_commit_id(src->commit)));
		goto out;
	}
	if (git_tree_entry_type(ent) != GIT_OBJECT_BLOB) {
		error = error_set(ERR_INVALID, "'%s' in commit %.12s is not a file",
		    path, git_oid_tostr_s(git_commit_id(src->commit)));
		goto out;
	}
	if (git_blob_lookup(&blob, src->repo, git_tree_entry_id(ent)) < 0) {
		error = git_fail("cannot read", path);
		goto out;
	}
	if ((size_t)git_blob_rawsize(blob) > max) {
		error = error_set(ERR_INVALID, "%s: file is larger than %zu bytes",
		    path, max);
		goto out;
	}
	sbuf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	error = 0;
out:
	git_blob_free(blob);
	git_tree_entry_free(ent);
	git_tree_free(tree);
	return error;
}

static int copy_tags(git_repository *from, git_repository *to)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	int error = 0;

	if (git_reference_iterator_glob_new(&it, from, "refs/tags/*") < 0)
		return git_fail("cannot list tags of", git_repository_path(from));
	while (git_reference_next(&ref, it) == 0) {
		const git_oid *target = git_reference_target(ref);
		git_reference *copy = NULL;
		if (target && git_reference_create(&copy, to,
		    git_reference_name(ref), target, 1, "runner: copy tag") < 0)
			error = git_fail("cannot copy tag", git_reference_name(ref));
		git_reference_free(copy);
		git_reference_free(ref);
		if (error < 0)
			break;
	}
	git_reference_iterator_free(it);
	return error;
}

int source_checkout(struct source *src, const char *dest)
{
	git_repository_init_options init;
	git_checkout_options co;
	git_repository *ws = NULL;
	git_commit *commit = NULL;
	struct sbuf alt = SBUF_INIT, objects = SBUF_INIT;
	char *objdir = NULL;
	int error;

	git_repository_init_options_init(&init,
	    GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	init.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	if (git_repository_init_ext(&ws, dest, &init) < 0) {
		error = git_fail("cannot create workspace", dest);
		goto out;
	}
	git_repository_free(ws);
	ws = NULL;

	/* Borrow the bare repository's objects instead of copying them. */
	objdir = realpath(git_repository_path(src->repo), NULL);
	if (!objdir) {
		error = error_set(-1, "cannot resolve '%s'", src->path);
		goto out;
	}
	sbuf_addf(&objects, "%s/objects\n", objdir);
	sbuf_addf(&alt, "%s/.git/objects/info/alternates", dest);
	if ((error = write_file_atomic(alt.buf, objects.buf, objects.len,
	    0644)) < 0)
		goto out;

	if (git_repository_open(&ws, dest) < 0) {
		error = git_fail("cannot open workspace", dest);
		goto out;
	}
	if (git_commit_lookup(&commit, ws, git_commit_id(src->commit)) < 0) {
		error = git_fail("cannot find the commit through alternates in",
		    dest);
		goto out;
	}
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_checkout_tree(ws, (git_object *)commit, &co) < 0) {
		error = git_fail("cannot check out into", dest);
		goto out;
	}
	if (git_repository_set_head_detached(ws, git_commit_id(commit)) < 0) {
		error = git_fail("cannot set HEAD in", dest);
		goto out;
	}
	error = copy_tags(src->repo, ws);
out:
	git_commit_free(commit);
	git_repository_free(ws);
	sbuf_release(&alt);
	sbuf_release(&objects);
	free(objdir);
	return error;
}
