/*
 * The pushed commit read with libgit2: the repository opened (a worker
 * keeps the last one), the commit, its subject and message, a file of
 * it, a ref's head, its pipeline. Writing it out is checkout.c's.
 */
#include "checkout.h"
#include "checkout_int.h"
#include "pipeline.h"
#include "run.h"
#include "gitlib.h"
#include "sha256.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

struct source_cache source_cache;

void checkout_global_init(void)
{
	if (!source_cache.enabled) {
		gitlib_init();
		/* git checked every object when the push was received; hashing
		 * each blob again on every checkout is the repository's work,
		 * not a job's */
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
		/* nor a cache of the objects read: the repository stays open
		 * for good, and libgit2 kept each job's commit and trees,
		 * up to 256 MiB (a checkout reads each tree once) */
		git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
		source_cache.enabled = 1;
	}
}

int source_open(const char *repo, const char *commit, struct source **out)
{
	struct source *src = xcalloc(1, sizeof(*src));
	git_oid oid;
	int error;

	*out = NULL;
	gitlib_init();
	src->path = xstrdup(repo);
	if (source_cache.repo && !strcmp(source_cache.path, repo)) {
		src->repo = source_cache.repo;
		src->cached = 1;
	} else if (git_repository_open_bare(&src->repo, repo) < 0) {
		error = git_fail("cannot open repository", repo);
		goto fail;
	} else if (source_cache.enabled) {
		git_repository_free(source_cache.repo);
		free(source_cache.path);
		free(source_cache.objdir);
		source_cache.objdir = NULL;
		source_cache.repo = src->repo;
		source_cache.path = xstrdup(repo);
		src->cached = 1;
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

int source_owner_reads(const char *repo, const char *commit)
{
	struct run_user owner = { 0 };
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_NO_SYMLINKS };
	struct stat st;
	struct sbuf err = SBUF_INIT;
	char *spec = NULL;
	int rc, fd, other = 0;

	if (geteuid() == 0) {
		/* whose it is, as reached with no link followed: the store's
		 * paths are real ones, so a link on the way is someone's
		 * doing (the owner's, who may point it at a repository of
		 * root's) */
		if ((fd = (int)syscall(SYS_openat2, AT_FDCWD, repo, &how,
		    sizeof(how))) < 0)
			return errno == ELOOP ?
			    error_set(ERR_INVALID, "'%s' is reached through "
			    "a link, which root does not follow into a "
			    "repository: name it by its real path", repo) : 0;
		other = fstat(fd, &st) == 0 && st.st_uid != 0;
		close(fd);
	}

	/* what root reads of another user's repository is hashed again, as
	 * git does: a pack index the owner swaps in after the check below
	 * cannot pass an object of a pack of root's off as one of its own
	 * (the workers' default skips it, for repositories git received) */
	if (source_cache.enabled)
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, other);
	if (!other)
		return 0;	/* opening it says what is wrong */
	run_user_owner(&st, &owner);
	spec = xasprintf("%s^{tree}", commit);
	{
		/* the repository is the owner's: safe.directory from the
		 * command line, which git trusts */
		const char *const argv[] = { "git", "-c", "safe.directory=*",
		    "--git-dir", repo, "cat-file", "-e", spec, NULL };
		struct child c = { .argv = argv, .user = &owner };
		rc = child_capture(&c, NULL, 0, NULL, &err, GIT_REF_TIMEOUT_MS);
	}
	if (rc > 0 || rc == ERR_TIMEOUT) {
		struct sbuf why = SBUF_INIT;
		err.buf[strcspn(err.buf, "\n")] = '\0';
		sbuf_add_display(&why, err.buf, strlen(err.buf));
		rc = error_set(ERR_INVALID, "commit %.12s is not one that the "
		    "owner of '%s' ('%s') may read there, so it is not built: "
		    "%s", commit, repo, owner.name, rc == ERR_TIMEOUT ?
		    "its git did not answer in time" : why.len ? why.buf :
		    "its objects are not the repository's own");
		sbuf_release(&why);
	}
	sbuf_release(&err);
	run_user_release(&owner);
	free(spec);
	return rc;
}

void source_free(struct source *src)
{
	if (!src)
		return;
	git_commit_free(src->commit);
	if (!src->cached)
		git_repository_free(src->repo);
	free(src->path);
	free(src);
}

const char *source_subject(const struct source *src)
{
	const char *s = git_commit_summary(src->commit);

	return s ? s : "";
}

int source_ref_head(const char *repo, const char *ref, char **full,
    char *hex)
{
	git_repository *r = NULL;
	git_reference *ref_obj = NULL;
	git_object *obj = NULL;
	int error = 0;

	*full = NULL;
	gitlib_init();
	if (git_repository_open_bare(&r, repo) < 0) {
		error = git_fail("cannot open repository", repo);
		goto out;
	}
	/* a branch by its name, else a full ref name */
	if (git_reference_dwim(&ref_obj, r, ref) < 0 ||
	    (strncmp(git_reference_name(ref_obj), "refs/heads/", 11) &&
	    strncmp(git_reference_name(ref_obj), "refs/tags/", 10))) {
		error = error_set(ERR_NOTFOUND, "no branch or tag '%s' in '%s'",
		    ref, repo);
		goto out;
	}
	if (git_reference_peel(&obj, ref_obj, GIT_OBJECT_COMMIT) < 0) {
		error = error_set(ERR_INVALID, "'%s' in '%s' is not a commit", ref,
		    repo);
		goto out;
	}
	git_oid_tostr(hex, 65, git_object_id(obj));
	*full = xstrdup(git_reference_name(ref_obj));
out:
	git_object_free(obj);
	git_reference_free(ref_obj);
	git_repository_free(r);
	return error;
}

const char *source_message(const struct source *src)
{
	const char *s = git_commit_message(src->commit);

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

/* The tags of the bare repository, as one packed-refs file. */

int source_pipeline(struct source *src, struct pipeline **out,
    char digest[65])
{
	struct sbuf buf = SBUF_INIT;
	int error;

	if ((error = source_read(src, PIPELINE_NAME, PIPELINE_MAX_BYTES,
	    &buf)) == 0 && digest && sha256_hex(buf.buf, buf.len, digest) < 0)
		error = error_set(ERR_GENERIC, "%s: no sha256: libcrypto cannot "
		    "be loaded", PIPELINE_NAME);
	if (error == 0)
		error = pipeline_parse(PIPELINE_NAME, buf.buf, buf.len, out);
	sbuf_release(&buf);
	return error;
}
