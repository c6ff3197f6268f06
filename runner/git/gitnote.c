/*
 * Git notes with libgit2 (gitnote.h). Whoever may push writes
 * refs/notes/runner too, so what is read of it is bounded by the sizes
 * the objects' headers give, before libgit2 inflates them.
 */
#include "gitnote.h"
#include "gitlib.h"
#include "util.h"

#include <errno.h>
#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <string.h>
#include <sys/stat.h>

#define NOTE_TRIES 5
/* what is read of the notes: a note's text, and each commit and tree
 * (git fans a notes tree out long before a level has 16 MiB of names) */
#define NOTE_READ_MAX (1024 * 1024)
#define NOTE_OBJECT_MAX (16 * 1024 * 1024)

struct note_repo {
	git_repository *r;
	git_odb_backend *mem;	/* the notes' new objects, until packed */
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
	gitlib_init();
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

/*
 * Object `id` of `type`, looked up only when its size (from its header,
 * without inflating the rest) is at most `max`: a few hundred KB of
 * zeros pushed inflate to gigabytes. 0; 1 when it is larger (*out NULL);
 * or an error.
 */
static int lookup_bounded(git_object **out, struct note_repo *nr,
    const git_oid *id, git_object_t type, size_t max)
{
	git_odb *odb = NULL;
	git_object_t t;
	size_t len;
	int rc;

	*out = NULL;
	if (git_repository_odb(&odb, nr->r) < 0)
		return note_fail("cannot open the objects", nr->path);
	rc = git_odb_read_header(&len, &t, odb, id);
	git_odb_free(odb);
	if (rc < 0)
		return note_fail("cannot read an object of the notes", nr->path);
	if (t != type)
		return error_set(ERR_INVALID, "the notes in '%s' have a %s where "
		    "a %s belongs", nr->path, git_object_type2string(t),
		    git_object_type2string(type));
	if (len > max)
		return 1;
	if (git_object_lookup(out, nr->r, id, type) < 0)
		return note_fail("cannot read an object of the notes", nr->path);
	return 0;
}

/* A commit or tree of the notes, bounded by NOTE_OBJECT_MAX: 0, or an
 * error saying why it is not read. */
static int lookup_notes_object(git_object **out, struct note_repo *nr,
    const char *ref, const git_oid *id, git_object_t type)
{
	int rc = lookup_bounded(out, nr, id, type, NOTE_OBJECT_MAX);

	if (rc == 1)
		rc = error_set(ERR_INVALID, "'%s' in '%s' has a %s over %d MiB: "
		    "not read (delete the ref, or push one of a reasonable size)",
		    ref, nr->path, git_object_type2string(type),
		    NOTE_OBJECT_MAX >> 20);
	return rc;
}

/* The notes commit at `ref` and its tree, bounded (*parent and *base
 * NULL when there is no such ref): 0, or an error. */
static int notes_tip(struct note_repo *nr, const char *ref,
    git_commit **parent, git_tree **base)
{
	git_object *o = NULL;
	git_oid id;
	int rc;

	*parent = NULL;
	*base = NULL;
	if ((rc = git_reference_name_to_id(&id, nr->r, ref)) == GIT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return note_fail("cannot read the notes' ref", nr->path);
	if ((rc = lookup_notes_object(&o, nr, ref, &id, GIT_OBJECT_COMMIT)) < 0)
		return rc;
	*parent = (git_commit *)o;
	if ((rc = lookup_notes_object(&o, nr, ref, git_commit_tree_id(*parent),
	    GIT_OBJECT_TREE)) < 0) {
		git_commit_free(*parent);
		*parent = NULL;
		return rc;
	}
	*base = (git_tree *)o;
	return 0;
}

static int note_path(struct note_repo *nr, const char *ref, git_tree *tree,
    const char *hex, struct sbuf *path, git_oid *blob);

int note_repo_read(struct note_repo *nr, const char *ref, const char *commit,
    char **text)
{
	struct sbuf path = SBUF_INIT;
	git_commit *parent = NULL;
	git_tree *base = NULL;
	git_object *o = NULL;
	git_oid target, blob;
	int error;

	*text = NULL;
	if (git_oid_fromstr(&target, commit) < 0)
		return error_set(ERR_INVALID, "bad commit id '%s'", commit);
	if ((error = notes_tip(nr, ref, &parent, &base)) < 0 || !base ||
	    (error = note_path(nr, ref, base, commit, &path, &blob)) <= 0)
		goto out;
	/* a note over NOTE_READ_MAX is never one of ours: 2, not read */
	if ((error = lookup_bounded(&o, nr, &blob, GIT_OBJECT_BLOB,
	    NOTE_READ_MAX)) == 1) {
		error = 2;
		goto out;
	}
	if (error < 0)
		goto out;
	*text = xstrndup(git_blob_rawcontent((git_blob *)o),
	    (size_t)git_blob_rawsize((git_blob *)o));
	error = 1;
out:
	git_object_free(o);
	git_tree_free(base);
	git_commit_free(parent);
	sbuf_release(&path);
	return error;
}

/*
 * Where the note of `hex` is in notes tree `tree` (NULL: none yet), as
 * git looks: its full name at the top, or below fan-out folders named by
 * its next two digits ("ab/cdef..."), as git makes them for many notes.
 * The path into `path`; 1 and its blob into *blob when there is a note,
 * else 0 and the path a new one takes (beside the others); or an error
 * (a tree over NOTE_OBJECT_MAX is not read).
 */
static int note_path(struct note_repo *nr, const char *ref, git_tree *tree,
    const char *hex, struct sbuf *path, git_oid *blob)
{
	git_tree *t = tree, *sub = NULL;
	size_t off = 0;
	int found = 0;

	sbuf_reset(path);
	while (t) {
		const git_tree_entry *e = git_tree_entry_byname(t, hex + off);
		char two[3] = { hex[off], hex[off + 1], '\0' };

		if (e && git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
			git_oid_cpy(blob, git_tree_entry_id(e));
			found = 1;
			break;
		}
		e = strlen(hex + off) > 2 ? git_tree_entry_byname(t, two) : NULL;
		if (!e || git_tree_entry_type(e) != GIT_OBJECT_TREE)
			break;
		git_object *next = NULL;
		int rc = lookup_notes_object(&next, nr, ref,
		    git_tree_entry_id(e), GIT_OBJECT_TREE);
		if (rc < 0) {
			git_tree_free(sub);
			return rc;
		}
		git_tree_free(sub);
		t = sub = (git_tree *)next;
		sbuf_addf(path, "%s/", two);
		off += 2;
	}
	git_tree_free(sub);
	sbuf_adds(path, hex + off);
	return found;
}

/*
 * New objects of the notes go to memory first (a backend in front of the
 * repository's own), and then into the repository as one pack: a file
 * for each note's blob, its trees and commit cost more than the notes
 * themselves on a busy file system (ext4 looks for a free inode among
 * those recently deleted, and workspaces delete many).
 */
static int mem_attach(struct note_repo *nr)
{
	git_odb *odb = NULL;
	git_odb_backend *mem = NULL;

	if (nr->mem)
		return 0;
	if (git_repository_odb(&odb, nr->r) < 0 || git_mempack_new(&mem) < 0 ||
	    git_odb_add_backend(odb, mem, 999) < 0) {
		if (mem)	/* not the database's: it refused it */
			mem->free(mem);
		git_odb_free(odb);
		return note_fail("cannot write the notes", nr->path);
	}
	git_odb_free(odb);
	nr->mem = mem;
	return 0;
}

/* The objects in memory into the repository, one pack (none when there
 * is none), and memory emptied. 0, or an error. */
static int mem_flush(struct note_repo *nr)
{
	git_buf pack = { 0 };
	git_odb *odb = NULL;
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats = { 0 };
	int error = 0;

	if (git_mempack_dump(&pack, nr->r, nr->mem) < 0)
		goto fail;
	/* "PACK", its version, and the number of objects */
	if (pack.size >= 12 && (pack.ptr[8] | pack.ptr[9] | pack.ptr[10] |
	    pack.ptr[11])) {
		if (git_repository_odb(&odb, nr->r) < 0 ||
		    git_odb_write_pack(&wp, odb, NULL, NULL) < 0 ||
		    wp->append(wp, pack.ptr, pack.size, &stats) < 0 ||
		    wp->commit(wp, &stats) < 0)
			goto fail;
	}
	goto out;
fail:
	error = note_fail("cannot write the notes", nr->path);
out:
	if (wp)
		wp->free(wp);
	git_odb_free(odb);
	git_buf_dispose(&pack);
	git_mempack_reset(nr->mem);
	return error;
}

int note_repo_write_all(struct note_repo *nr, const char *ref,
    const struct note_text *v, size_t n)
{
	git_tree_update *up = xcalloc(n ? n : 1, sizeof(*up));
	struct sbuf *paths = xcalloc(n ? n : 1, sizeof(*paths));
	git_signature *sig = NULL;
	git_reference *moved = NULL;
	git_commit *parent = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_treebuilder *empty = NULL;
	git_oid tree_id, commit_id, target;
	mode_t old_mask;
	size_t nup, i;
	int error = 0, tries;

	for (i = 0; i < n; i++) {
		sbuf_init(&paths[i]);
		if (git_oid_fromstr(&target, v[i].commit) < 0) {
			error = error_set(ERR_INVALID, "bad commit id '%s'",
			    v[i].commit);
			goto out;
		}
	}
	if ((error = mem_attach(nr)) < 0)
		goto out;
	/* what the repository's mode lets the group and others have */
	old_mask = umask((mode_t)(~nr->mode & 0077));
	for (tries = 0; tries < NOTE_TRIES; tries++) {
		git_commit_free(parent);
		git_tree_free(base);
		git_tree_free(tree);
		parent = NULL, base = NULL, tree = NULL;
		/* the notes as they are now: the ref's commit and its tree
		 * (bounded: libgit2 reads no more of them than note_path()
		 * does), or an empty tree for the first */
		if ((error = notes_tip(nr, ref, &parent, &base)) < 0)
			goto done;
		if (!base) {
			if (!empty && git_treebuilder_new(&empty, nr->r, NULL) < 0)
				goto fail;
			if (git_treebuilder_write(&tree_id, empty) < 0 ||
			    git_tree_lookup(&base, nr->r, &tree_id) < 0)
				goto fail;
		}
		/* a blob for each note that says something new; the last
		 * of a commit's notes counts */
		nup = 0;
		for (i = 0; i < n; i++) {
			git_oid old, blob;
			size_t k;
			int had;

			for (k = i + 1; k < n && strcmp(v[k].commit, v[i].commit); k++)
				;
			if (k < n)
				continue;
			if ((had = note_path(nr, ref, base, v[i].commit,
			    &paths[i], &old)) < 0) {
				error = had;
				goto done;
			}
			if (git_blob_create_from_buffer(&blob, nr->r, v[i].text,
			    strlen(v[i].text)) < 0)
				goto fail;
			if (had && git_oid_equal(&old, &blob))
				continue;	/* the note says that already */
			up[nup].action = GIT_TREE_UPDATE_UPSERT;
			git_oid_cpy(&up[nup].id, &blob);
			up[nup].filemode = GIT_FILEMODE_BLOB;
			up[nup].path = paths[i].buf;
			nup++;
		}
		if (!nup) {
			git_mempack_reset(nr->mem);
			error = 0;
			break;
		}
		/* one tree and one commit for all of them */
		if (!sig && git_signature_now(&sig, "runner",
		    "runner@localhost") < 0)
			goto fail;
		if (git_tree_create_updated(&tree_id, nr->r, base, nup, up) < 0 ||
		    git_tree_lookup(&tree, nr->r, &tree_id) < 0 ||
		    git_commit_create(&commit_id, nr->r, NULL, sig, sig, NULL,
		    "Notes added by runner\n", tree, parent ? 1 : 0,
		    (const git_commit **)&parent) < 0)
			goto fail;
		/* the objects in place before the ref names them */
		if ((error = mem_flush(nr)) < 0)
			goto done;
		/* the ref moves only if it is still what was read: another
		 * writer in between, and it is tried again on the new tip */
		git_reference_free(moved);
		moved = NULL;
		error = parent ? git_reference_create_matching(&moved, nr->r, ref,
		    &commit_id, 1, git_commit_id(parent), "notes: runner") :
		    git_reference_create(&moved, nr->r, ref, &commit_id, 0,
		    "notes: runner");
		if (error == 0)
			break;
		if (error != GIT_EMODIFIED && error != GIT_EEXISTS &&
		    error != GIT_ELOCKED)
			goto fail;
	}
	if (tries == NOTE_TRIES)
		goto fail;
	error = 0;
	goto done;
fail:
	error = note_fail("cannot write the notes", nr->path);
done:
	umask(old_mask);
	git_mempack_reset(nr->mem);	/* what a failure left */
out:
	for (i = 0; i < n; i++)
		sbuf_release(&paths[i]);
	free(paths);
	free(up);
	git_treebuilder_free(empty);
	git_reference_free(moved);
	git_commit_free(parent);
	git_tree_free(base);
	git_tree_free(tree);
	git_signature_free(sig);
	return error;
}

int note_repo_write(struct note_repo *nr, const char *ref, const char *commit,
    const char *text)
{
	struct note_text one = { commit, text };

	return note_repo_write_all(nr, ref, &one, 1);
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
