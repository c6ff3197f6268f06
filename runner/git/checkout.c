/*
 * libgit2 side of a job: everything the worker needs from the repository.
 */
#include "checkout.h"
#include "pipeline.h"
#include "gitlib.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct source {
	char *path;
	git_repository *repo;
	git_commit *commit;
	int cached;		/* repo belongs to the cache below */
};

/*
 * A worker keeps the last repository it opened: reopening it for each job
 * reads three config files and probes the layout again. New objects are
 * still found (libgit2 rescans the packs when an object is missing) and
 * refs are read from disk each time.
 */
static struct {
	int enabled;		/* checkout_global_init() ran: a worker */
	char *path;
	git_repository *repo;
} cache;

static int git_fail(const char *what, const char *subject)
{
	const git_error *e = git_error_last();

	return error_set(-1, "%s '%s': %s", what, subject,
	    e && e->message ? e->message : "unknown libgit2 error");
}

void checkout_global_init(void)
{
	if (!cache.enabled) {
		gitlib_init();
		/* git checked every object when the push was received; hashing
		 * each blob again on every checkout is the repository's work,
		 * not a job's */
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
		/* nor a cache of the objects read: the repository stays open
		 * for good, and libgit2 kept each job's commit and trees,
		 * up to 256 MiB (a checkout reads each tree once) */
		git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
		cache.enabled = 1;
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
	if (cache.repo && !strcmp(cache.path, repo)) {
		src->repo = cache.repo;
		src->cached = 1;
	} else if (git_repository_open_bare(&src->repo, repo) < 0) {
		error = git_fail("cannot open repository", repo);
		goto fail;
	} else if (cache.enabled) {
		git_repository_free(cache.repo);
		free(cache.path);
		cache.repo = src->repo;
		cache.path = xstrdup(repo);
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
static int pack_tags(git_repository *from, struct sbuf *out)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;

	if (git_reference_iterator_glob_new(&it, from, "refs/tags/*") < 0)
		return git_fail("cannot list tags of", git_repository_path(from));
	while (git_reference_next(&ref, it) == 0) {
		const git_oid *target = git_reference_target(ref);
		if (target)
			sbuf_addf(out, "%s %s\n", git_oid_tostr_s(target),
			    git_reference_name(ref));
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	return 0;
}

/*
 * A workspace file only this job reads: no temporary name and no sync (a
 * crash throws the whole workspace away). `st` gets its stat for the index.
 */
static int put_file(int dirfd, const char *name, const char *data,
    size_t len, mode_t mode, struct stat *st)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	int error = 0;

	if (fd < 0)
		return error_set(-1, "cannot create '%s': %s", name,
		    strerror(errno));
	if (write_all(fd, data, len) < 0 || fstat(fd, st) < 0)
		error = error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot write '%s': %s", name, strerror(errno));
	close(fd);
	return error;
}

struct writer {
	git_repository *repo;
	git_index *index;
	int attributes;		/* the tree has .gitattributes */
	struct sbuf path;	/* of the current entry, from the top */
};

/* Does `n`, as NTFS or HFS+ would read it, name `word` (".git",
 * ".gitmodules"...)? Case folded; trailing spaces and dots, an NTFS
 * stream (":..."), and the code points HFS+ ignores (U+200C-U+200F,
 * U+202A-U+202E, U+206A-U+206F, U+FEFF) left out. */
static int names(const char *n, const char *word)
{
	struct sbuf sb = SBUF_INIT;
	int same;

	for (const unsigned char *p = (const unsigned char *)n; *p;) {
		unsigned cp;
		size_t k = utf8_char_len(p, strlen((const char *)p), &cp);
		if (*p == ':')
			break;
		if (k > 1 && ((cp >= 0x200c && cp <= 0x200f) ||
		    (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff)) {
			p += k;
			continue;
		}
		sbuf_addch(&sb, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
		p++;
	}
	while (sb.len && (sb.buf[sb.len - 1] == ' ' || sb.buf[sb.len - 1] == '.'))
		sbuf_truncate(&sb, sb.len - 1);
	same = !strcmp(sb.buf, word);
	sbuf_release(&sb);
	return same;
}

/*
 * Names git refuses to check out (core.protectNTFS and protectHFS, as
 * libgit2's path validation does), and any that would leave the folder
 * they are written into: ".git" in any disguise ("git~1", ".GIT.",
 * ".g\u200cit", ".git::$INDEX_ALLOCATION"). Other odd names (newlines,
 * escapes, bytes that are not UTF-8) are kept, as git keeps them.
 */
static int unsafe_name(const char *n)
{
	return !*n || !strcmp(n, ".") || !strcmp(n, "..") || strchr(n, '/') ||
	    names(n, ".git") || names(n, "git~1");
}

static int add_to_index(struct writer *w, const git_tree_entry *te,
    const struct stat *st)
{
	git_index_entry e;

	memset(&e, 0, sizeof(e));
	if (st) {
		e.ctime.seconds = (int32_t)st->st_ctim.tv_sec;
		e.ctime.nanoseconds = (uint32_t)st->st_ctim.tv_nsec;
		e.mtime.seconds = (int32_t)st->st_mtim.tv_sec;
		e.mtime.nanoseconds = (uint32_t)st->st_mtim.tv_nsec;
		e.dev = (uint32_t)st->st_dev;
		e.ino = (uint32_t)st->st_ino;
		e.uid = st->st_uid;
		e.gid = st->st_gid;
		e.file_size = (uint32_t)st->st_size;
	}
	e.mode = git_tree_entry_filemode(te);
	git_oid_cpy(&e.id, git_tree_entry_id(te));
	e.path = w->path.buf;
	if (git_index_add(w->index, &e) < 0)
		return git_fail("cannot index", w->path.buf);
	return 0;
}

static int write_blob(struct writer *w, int dirfd, const git_tree_entry *te)
{
	const char *name = git_tree_entry_name(te);
	git_filemode_t mode = git_tree_entry_filemode(te);
	git_blob *blob = NULL;
	const char *data;
	size_t len;
	struct stat st;
	int error;

	if (git_blob_lookup(&blob, w->repo, git_tree_entry_id(te)) < 0)
		return git_fail("cannot read", w->path.buf);
	data = git_blob_rawcontent(blob);
	len = (size_t)git_blob_rawsize(blob);
	if (mode == GIT_FILEMODE_LINK && (names(name, ".gitmodules") ||
	    names(name, ".gitattributes") || names(name, ".gitignore"))) {
		/* git refuses these as links: they would read files elsewhere */
		error = error_set(ERR_INVALID, "refusing the path '%s' in the "
		    "commit: a symbolic link", w->path.buf);
	} else if (mode == GIT_FILEMODE_LINK) {
		char *target = xstrndup(data, len);
		error = symlinkat(target, dirfd, name) < 0 ||
		    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ?
		    error_set(-1, "cannot create the link '%s': %s", w->path.buf,
		    strerror(errno)) : 0;
		free(target);
	} else {
		error = put_file(dirfd, name, data, len,
		    mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0777 : 0666, &st);
	}
	if (error == 0)
		error = add_to_index(w, te, &st);
	git_blob_free(blob);
	return error;
}

/* Write `tree` into the open folder `dirfd`, depth first, in the order of
 * git's index, so the index is built by appending. */
static int write_tree(struct writer *w, const git_tree *tree, int dirfd)
{
	size_t n = git_tree_entrycount(tree);
	int error = 0;

	for (size_t i = 0; i < n && error == 0; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(te);
		size_t at = w->path.len;

		if (unsafe_name(name))
			return error_set(ERR_INVALID, "refusing the path '%s/%s' "
			    "in the commit", w->path.buf, name);
		if (at)
			sbuf_addch(&w->path, '/');
		sbuf_adds(&w->path, name);
		switch (git_tree_entry_type(te)) {
		case GIT_OBJECT_TREE: {
			git_tree *sub = NULL;
			int fd = -1;
			if (mkdirat(dirfd, name, 0777) < 0 || (fd = openat(dirfd,
			    name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC)) < 0)
				error = error_set(-1, "cannot create '%s': %s",
				    w->path.buf, strerror(errno));
			else if (git_tree_lookup(&sub, w->repo,
			    git_tree_entry_id(te)) < 0)
				error = git_fail("cannot read", w->path.buf);
			else
				error = write_tree(w, sub, fd);
			if (fd >= 0)
				close(fd);
			git_tree_free(sub);
			break;
		}
		case GIT_OBJECT_COMMIT:	/* a submodule: an empty folder */
			if (mkdirat(dirfd, name, 0777) < 0)
				error = error_set(-1, "cannot create '%s': %s",
				    w->path.buf, strerror(errno));
			else
				error = add_to_index(w, te, NULL);
			break;
		default:
			error = write_blob(w, dirfd, te);
		}
		sbuf_truncate(&w->path, at);
	}
	return error;
}

static int find_attributes(const char *root, const git_tree_entry *te,
    void *found)
{
	(void)root;
	if (!strcmp(git_tree_entry_name(te), ".gitattributes")) {
		*(int *)found = 1;
		return -1;	/* enough */
	}
	return 0;
}

/* The files that make the folder `fd` (`dest`) a work tree of the bare
 * repository: HEAD detached at the commit, objects borrowed through
 * alternates, the tags. */
static int write_git_dir(struct source *src, int fd, const char *dest)
{
	/* what git needs to see a repository; it makes the rest on demand
	 * (creating a folder is among the dearest calls of a checkout) */
	static const char *const dirs[] = {
		".git", ".git/objects", ".git/objects/info", ".git/refs",
	};
	static const char config[] = "[core]\n\trepositoryformatversion = 0\n"
	    "\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n";
	struct sbuf head = SBUF_INIT, alt = SBUF_INIT, tags = SBUF_INIT;
	char *objdir = realpath(git_repository_path(src->repo), NULL);
	struct stat st;
	int error = 0;

	if (!objdir) {
		error = error_set(-1, "cannot open '%s': %s", src->path,
		    strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
		if (mkdirat(fd, dirs[i], 0777) < 0) {
			error = error_set(-1, "cannot create '%s/%s': %s", dest,
			    dirs[i], strerror(errno));
			goto out;
		}
	sbuf_addf(&head, "%s\n", git_oid_tostr_s(git_commit_id(src->commit)));
	sbuf_addf(&alt, "%s/objects\n", objdir);
	if ((error = pack_tags(src->repo, &tags)) < 0 ||
	    (error = put_file(fd, ".git/HEAD", head.buf, head.len, 0666,
	    &st)) < 0 ||
	    (error = put_file(fd, ".git/config", config, sizeof(config) - 1,
	    0666, &st)) < 0 ||
	    (error = put_file(fd, ".git/objects/info/alternates", alt.buf,
	    alt.len, 0666, &st)) < 0 ||
	    (tags.len && (error = put_file(fd, ".git/packed-refs", tags.buf,
	    tags.len, 0666, &st)) < 0))
		goto out;
out:
	free(objdir);
	sbuf_release(&head);
	sbuf_release(&alt);
	sbuf_release(&tags);
	return error;
}

/*
 * A tree with .gitattributes (line endings, filters, ident) is checked
 * out by libgit2, which owns git's rules for them; the fast path below
 * writes the rest.
 */
static int checkout_with_libgit2(const char *dest, git_tree *tree)
{
	git_checkout_options opts;
	git_repository *repo = NULL;
	git_tree *own = NULL;
	int error = 0;

	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	opts.checkout_strategy = GIT_CHECKOUT_FORCE;
	/* the workspace's repository, reading the objects through its
	 * alternates, and the tree as that repository's object */
	if (git_repository_open(&repo, dest) < 0)
		error = git_fail("cannot open the workspace", dest);
	else if (git_tree_lookup(&own, repo, git_tree_id(tree)) < 0)
		error = git_fail("cannot read the tree in", dest);
	else if (git_checkout_tree(repo, (const git_object *)own, &opts) < 0)
		error = git_fail("cannot check out into", dest);
	git_tree_free(own);
	git_repository_free(repo);
	return error;
}

/*
 * Write the files straight from the bare repository's objects (libgit2's
 * checkout would first make a repository through its config machinery and
 * then compare every file with an empty index), and the index from what
 * was written, so `git status` in a stage sees a clean tree.
 */
int source_checkout(struct source *src, const char *dest)
{
	struct writer w = { .repo = src->repo, .path = SBUF_INIT };
	git_tree *tree = NULL;
	char *index_path = xasprintf("%s/.git/index", dest);
	int fd = -1, error;

	if ((error = mkdir_p(dest, 0777)) < 0) {
		error = error_set(error, "cannot create workspace: %s",
		    error_last());
		goto out;
	}
	if ((fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		error = error_set(-1, "cannot open '%s': %s", dest,
		    strerror(errno));
		goto out;
	}
	if ((error = write_git_dir(src, fd, dest)) < 0)
		goto out;
	if (git_commit_tree(&tree, src->commit) < 0) {
		error = git_fail("cannot read the tree of", src->path);
		goto out;
	}
	git_tree_walk(tree, GIT_TREEWALK_PRE, find_attributes, &w.attributes);
	if (w.attributes) {
		error = checkout_with_libgit2(dest, tree);
		goto out;
	}
	if (git_index_open(&w.index, index_path) < 0) {
		error = git_fail("cannot create the index", index_path);
		goto out;
	}
	if ((error = write_tree(&w, tree, fd)) < 0) {
		error = error_set(error, "cannot check out into '%s': %s", dest,
		    error_last());
		goto out;
	}
	if (git_index_write(w.index) < 0)
		error = git_fail("cannot write the index", index_path);
out:
	if (fd >= 0)
		close(fd);
	git_index_free(w.index);
	git_tree_free(tree);
	sbuf_release(&w.path);
	free(index_path);
	return error;
}

int source_pipeline(struct source *src, struct pipeline **out)
{
	struct sbuf buf = SBUF_INIT;
	int error;

	if ((error = source_read(src, PIPELINE_NAME, PIPELINE_MAX_BYTES,
	    &buf)) == 0)
		error = pipeline_parse(PIPELINE_NAME, buf.buf, buf.len, out);
	sbuf_release(&buf);
	return error;
}
