/*
 * libgit2 side of a job: the pushed commit written out as a workspace,
 * its index and .git, as git would. Reading the commit is commit.c's.
 */
#include "checkout.h"
#include "checkout_int.h"
#include "reffile.h"
#include "sha1.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The tags a workspace gets at most, and the bytes of packed-refs read. */
#define TAGS_MAX 100000
#define PACKED_REFS_MAX (64 * 1024 * 1024)

struct tag_ref {
	char *name;
	char hex[65];
};

static int tag_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tag_ref *)a)->name,
	    ((const struct tag_ref *)b)->name);
}

/* A ref name as a packed-refs line can hold it: no space, no control
 * character (git's own names never have them). */
static int plain_ref(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

/* The loose tags below folder `dir` (refs/tags/`prefix`), each folder
 * and file reached without a link. */
static void loose_tags(int dir, const char *prefix, int depth,
    struct tag_ref **v, size_t *n, size_t *cap)
{
	int dup_fd = fcntl(dir, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;

	if (dup_fd >= 0 && !d)
		close(dup_fd);
	while (d && (de = readdir(d)) && *n < TAGS_MAX) {
		struct sbuf text = SBUF_INIT;
		char *name;
		int sub;
		size_t len;

		if (de->d_name[0] == '.' || !plain_ref(de->d_name))
			continue;
		name = xasprintf("%s%s", prefix, de->d_name);
		if (depth < 16 && (sub = openat(dir, de->d_name, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			char *below = xasprintf("%s/", name);
			loose_tags(sub, below, depth + 1, v, n, cap);
			free(below);
			close(sub);
		} else if (reffile_read(dir, de->d_name, 4096, &text) == 0 &&
		    (len = reffile_hex_id(text.buf, '\n'))) {
			*v = xgrow(*v, *n, cap, sizeof(**v));
			(*v)[*n].name = name;
			memcpy((*v)[*n].hex, text.buf, len);
			(*v)[(*n)++].hex[len] = '\0';
			name = NULL;
		}
		free(name);
		sbuf_release(&text);
		error_clear();
	}
	if (d)
		closedir(d);
}

/*
 * The repository's tags, as packed-refs lines for the workspace's .git
 * (so that git describe works there). Read from the repository's files,
 * not by libgit2: the repository is its owner's, who may make a ref a
 * link (to a file of root's, whose first line would be copied into the
 * stage's workspace) or a FIFO (which would hold the worker), so nothing
 * is read through a link, nor from anything but a regular file of one
 * name. A loose tag counts over a packed one of the same name.
 */
static int pack_tags(git_repository *from, struct sbuf *out)
{
	char *real = realpath(git_repository_path(from), NULL);
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_NO_SYMLINKS };
	struct tag_ref *v = NULL;
	struct sbuf packed = SBUF_INIT;
	size_t n = 0, cap = 0, loose;
	int repo, dir = -1;

	/* its real path, no part of it swapped for a link since */
	repo = real ? (int)syscall(SYS_openat2, AT_FDCWD, real, &how,
	    sizeof(how)) : -1;
	free(real);
	if (repo < 0)
		return 0;	/* no tags: they only help git describe */
	if ((dir = openat(repo, "refs/tags", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) >= 0)
		loose_tags(dir, "refs/tags/", 0, &v, &n, &cap);
	loose = n;
	if (n)
		qsort(v, n, sizeof(*v), tag_cmp);
	if (reffile_read(repo, "packed-refs", PACKED_REFS_MAX, &packed) < 0)
		error_clear();	/* none, or not a file to read */
	else
		for (char *line = packed.buf, *nl; *line && n < TAGS_MAX;
		    line = nl) {
			size_t len;
			if ((nl = strchr(line, '\n')))
				*nl++ = '\0';
			else
				nl = line + strlen(line);
			if (!(len = reffile_hex_id(line, ' ')) || strncmp(line + len + 1,
			    "refs/tags/", 10) || !plain_ref(line + len + 1))
				continue;
			struct tag_ref key = { line + len + 1, "" };
			if (loose && bsearch(&key, v, loose, sizeof(*v), tag_cmp))
				continue;
			v = xgrow(v, n, &cap, sizeof(*v));
			v[n].name = xstrdup(line + len + 1);
			memcpy(v[n].hex, line, len);
			v[n++].hex[len] = '\0';
		}
	if (n)
		qsort(v, n, sizeof(*v), tag_cmp);
	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(v[i].name, v[i - 1].name))
			sbuf_addf(out, "%s %s\n", v[i].hex, v[i].name);
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	sbuf_release(&packed);
	if (dir >= 0)
		close(dir);
	close(repo);
	return 0;
}

/*
 * How a checkout writes: into a new folder, or over the workspace an
 * earlier job of the same user left (a worker keeps its last one, see
 * build.c: creating files is the dearest part of a small job), which it
 * makes what a new one would be. Over a workspace, every folder it
 * enters may be another user's: all is done relative to descriptors, a
 * name is never followed, and an inode is kept only once its descriptor
 * shows it may be (keep_inode).
 */
struct writer {
	git_repository *repo;
	int attributes;		/* the tree has .gitattributes */
	struct sbuf path;	/* of the current entry, from the top */
	struct sbuf index;	/* the index's entries, in git's order */
	uint32_t nindex;
	mode_t umask;
	int over;		/* over an earlier workspace */
	uid_t owner;		/* ... whose files are this user's */
	gid_t group;		/* ... and this group's ((gid_t)-1: any) */
	int made;		/* files and folders made, not kept */
	unsigned int flags_ok;	/* inode flags a new file may have too */
};

/*
 * This process's umask, read without changing it; once a process: the
 * daemon sets it before it starts its workers, and nothing changes it
 * for good after (git notes set it around a write, and put it back).
 */
static mode_t current_umask(void)
{
	static mode_t m = 022;
	static int known;
	struct sbuf sb = SBUF_INIT;
	const char *p;

	if (known)
		return m;
	if (read_file("/proc/self/status", 1 << 16, &sb) == 0 &&
	    (p = strstr(sb.buf, "\nUmask:")))
		m = (mode_t)strtoul(p + 7, NULL, 8);
	sbuf_release(&sb);
	known = 1;
	return m;
}

/* Inode flags that are the file system's own bookkeeping: any other one
 * (chattr) a user set on purpose. */
#define FLAGS_OWN (FS_EXTENT_FL | FS_INDEX_FL | FS_HUGE_FILE_FL | \
	FS_INLINE_DATA_FL)
/* A folder this large once held many entries: made again, not kept. */
#define KEEP_DIR_MAX (1 << 20)

/*
 * Over an earlier workspace: may the inode open at `fd`, found where the
 * tree has a `type` (S_IFREG or S_IFDIR), stay? Only one of that type
 * owned by the workspace's user, a file with no other name (a second
 * link could be anywhere), with no inode flag and no extended attribute
 * a new one would not have: its user attributes and ACLs are removed,
 * its mode set as a new one's. 0, or -1: replace it.
 */
static int keep_inode(const struct writer *w, int fd, mode_t type,
    mode_t mode)
{
	char names[1024];
	struct stat st;
	int flags = 0;
	ssize_t n;

	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != type ||
	    st.st_uid != w->owner || (w->group != (gid_t)-1 &&
	    st.st_gid != w->group) || (type == S_IFREG && st.st_nlink != 1) ||
	    (type == S_IFDIR && st.st_size > KEEP_DIR_MAX))
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0 ? errno != ENOTTY &&
	    errno != EOPNOTSUPP && errno != EINVAL :
	    ((unsigned int)flags & ~w->flags_ok) != 0)
		return -1;
	if ((n = flistxattr(fd, names, sizeof(names))) < 0 && errno != ENOTSUP)
		return -1;
	for (ssize_t at = 0; at < n; at += (ssize_t)strlen(names + at) + 1) {
		const char *a = names + at;
		/* a label of the system's (SELinux, IMA) is not the last
		 * job's to set, nor this code's to judge: replaced */
		if ((strncmp(a, "user.", 5) &&
		    strcmp(a, "system.posix_acl_access") &&
		    strcmp(a, "system.posix_acl_default")) ||
		    fremovexattr(fd, a) < 0)
			return -1;
	}
	if ((st.st_mode & 07777) == (mode & ~w->umask & 07777))
		return 0;
	return fchmod(fd, mode & ~w->umask);
}

/* Remove what is at `name` in folder `dirfd` (a tree walked by
 * descriptors); `shown` names it in the message. */
static int remove_entry(int dirfd, const char *name, const char *shown)
{
	if (rm_rf_at(dirfd, name) < 0)
		return error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot remove '%s': %s", shown, strerror(errno));
	return 0;
}

/*
 * Over an earlier workspace: remove the entries of folder `fd` that
 * neither `tree` (NULL: none) nor `keep` (NULL-terminated, or NULL) has.
 */
static int drop_extras(const struct writer *w, int fd, const char *shown,
    const git_tree *tree, const char *const *keep)
{
	int dfd;
	DIR *d;
	struct dirent *de;
	int error = 0;

	if (!w->over)
		return 0;
	if ((dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(d = fdopendir(dfd))) {
		error = error_set(-1, "cannot read '%s': %s", shown,
		    strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return error;
	}
	while (error == 0 && (de = readdir(d))) {
		const char *n = de->d_name;
		const char *const *k = keep;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		while (k && *k && strcmp(*k, n))
			k++;
		if ((k && *k) || (tree && git_tree_entry_byname(tree, n)))
			continue;
		error = remove_entry(fd, n, n);
	}
	closedir(d);
	return error;
}

/*
 * The folder `name` of `dirfd` (`shown` in messages), made, or over a
 * workspace kept as keep_inode allows; its descriptor into *out.
 */
static int make_dir(struct writer *w, int dirfd, const char *name,
    const char *shown, int *out)
{
	struct stat st;
	int fd;

	*out = -1;
	if (w->over && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode) && (fd = openat(dirfd, name, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			if (keep_inode(w, fd, S_IFDIR, 0777) == 0) {
				*out = fd;
				return 0;
			}
			close(fd);
		}
		if (remove_entry(dirfd, name, shown) < 0)
			return -1;
	}
	w->made++;
	if (mkdirat(dirfd, name, 0777) < 0 || (fd = openat(dirfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot create '%s': %s", shown, strerror(errno));
	*out = fd;
	return 0;
}

/* Does the file at `fd` hold `data` already (a small one: read whole)? */
#define SAME_MAX (64 * 1024)

static int same_bytes(int fd, const char *data, size_t len)
{
	char buf[8192];
	size_t at = 0;

	while (at < len) {
		size_t want = len - at < sizeof(buf) ? len - at : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)at);
		if (n <= 0 || memcmp(buf, data + at, (size_t)n))
			return 0;
		at += (size_t)n;
	}
	return 1;
}

/*
 * A workspace file only this job reads: no temporary name and no sync (a
 * crash throws the whole workspace away). Over a workspace, written into
 * the file that is there when keep_inode allows, from its start, and cut
 * where the new bytes end (emptied first, its blocks would be freed and
 * taken again); one of the same size that holds the same bytes (the
 * last build's .git/HEAD, config, a file the commits share) is left as
 * it is, written to disk once. `st` gets its stat for the index.
 */
static int put_file(struct writer *w, int dirfd, const char *name,
    const char *shown, const char *data, size_t len, mode_t mode,
    struct stat *st)
{
	struct stat old;
	int fd = -1, error = 0;

	if (w->over && fstatat(dirfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0) {
		/* not truncated on opening: keep_inode first sees whose it
		 * is and that it has no other name */
		if (S_ISREG(old.st_mode) && (fd = openat(dirfd, name, O_RDWR |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) >= 0 &&
		    keep_inode(w, fd, S_IFREG, mode) < 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0 && remove_entry(dirfd, name, shown) < 0)
			return -1;
		if (fd >= 0 && old.st_size == (off_t)len && len <= SAME_MAX &&
		    fstat(fd, st) == 0 && st->st_size == (off_t)len &&
		    same_bytes(fd, data, len)) {
			close(fd);
			return 0;
		}
	}
	if (fd < 0)
		w->made++;
	if (fd < 0 && (fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, mode)) < 0)
		return error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot create '%s': %s", shown, strerror(errno));
	if (write_all(fd, data, len) < 0 || fstat(fd, st) < 0 ||
	    (st->st_size != (off_t)len && (ftruncate(fd, (off_t)len) < 0 ||
	    fstat(fd, st) < 0)))
		error = error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot write '%s': %s", shown, strerror(errno));
	close(fd);
	return error;
}

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

/* git's order of the entries of a tree: by name, a folder's as if it
 * ended in '/'. */
static int tree_order(const git_tree_entry *a, const git_tree_entry *b)
{
	const char *na = git_tree_entry_name(a), *nb = git_tree_entry_name(b);
	size_t la = strlen(na), lb = strlen(nb), n = la < lb ? la : lb;
	int c = memcmp(na, nb, n);
	unsigned char ca, cb;

	if (c)
		return c;
	ca = la > n ? (unsigned char)na[n] :
	    git_tree_entry_type(a) == GIT_OBJECT_TREE ? '/' : 0;
	cb = lb > n ? (unsigned char)nb[n] :
	    git_tree_entry_type(b) == GIT_OBJECT_TREE ? '/' : 0;
	return ca - cb;
}

static void put_be32(struct sbuf *sb, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24),
	    (unsigned char)(v >> 16), (unsigned char)(v >> 8),
	    (unsigned char)v };

	sbuf_add(sb, b, 4);
}

/*
 * The index entry of the current path (git's index format, version 2),
 * with the stat of what was written (none for a submodule), as git
 * records one. Entries come in git's order: the tree is written in it.
 */
static void index_add(struct writer *w, const git_tree_entry *te,
    const struct stat *st)
{
	static const unsigned char zeros[8];
	uint32_t mode = git_tree_entry_filemode(te);
	size_t len = w->path.len;

	if (mode != GIT_FILEMODE_COMMIT && mode != GIT_FILEMODE_LINK)
		mode = GIT_FILEMODE_BLOB | (mode & 0111 ? 0755 : 0644);
	put_be32(&w->index, st ? (uint32_t)st->st_ctim.tv_sec : 0);
	put_be32(&w->index, st ? (uint32_t)st->st_ctim.tv_nsec : 0);
	put_be32(&w->index, st ? (uint32_t)st->st_mtim.tv_sec : 0);
	put_be32(&w->index, st ? (uint32_t)st->st_mtim.tv_nsec : 0);
	put_be32(&w->index, st ? (uint32_t)st->st_dev : 0);
	put_be32(&w->index, st ? (uint32_t)st->st_ino : 0);
	put_be32(&w->index, mode);
	put_be32(&w->index, st ? (uint32_t)st->st_uid : 0);
	put_be32(&w->index, st ? (uint32_t)st->st_gid : 0);
	put_be32(&w->index, st ? (uint32_t)st->st_size : 0);
	sbuf_add(&w->index, git_tree_entry_id(te)->id, GIT_OID_RAWSZ);
	sbuf_addch(&w->index, (char)((len < 0xfff ? len : 0xfff) >> 8));
	sbuf_addch(&w->index, (char)((len < 0xfff ? len : 0xfff) & 0xff));
	sbuf_add(&w->index, w->path.buf, len);
	/* NULs to a multiple of 8 bytes, at least one */
	sbuf_add(&w->index, zeros, 8 - (62 + len) % 8);
	w->nindex++;
}

/* The index, written once the tree is: its entries, and the SHA-1 of
 * it all that git checks. */
static int write_index(struct writer *w, int gitfd)
{
	struct sbuf out = SBUF_INIT;
	unsigned char sum[SHA1_LEN];
	struct sha1 c;
	struct stat st;
	int error;

	sbuf_add(&out, "DIRC", 4);
	put_be32(&out, 2);
	put_be32(&out, w->nindex);
	sbuf_add(&out, w->index.buf, w->index.len);
	sha1_init(&c);
	sha1_update(&c, out.buf, out.len);
	sha1_final(&c, sum);
	sbuf_add(&out, sum, SHA1_LEN);
	error = put_file(w, gitfd, "index", ".git/index", out.buf, out.len,
	    0666, &st);
	sbuf_release(&out);
	return error;
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
		error = w->over ? remove_entry(dirfd, name, w->path.buf) : 0;
		w->made++;
		if (error == 0 && (symlinkat(target, dirfd, name) < 0 ||
		    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0))
			error = error_set(-1, "cannot create the link '%s': %s",
			    w->path.buf, strerror(errno));
		free(target);
	} else {
		error = put_file(w, dirfd, name, w->path.buf, data, len,
		    mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0777 : 0666, &st);
	}
	if (error == 0)
		index_add(w, te, &st);
	git_blob_free(blob);
	return error;
}

/* Write `tree` into the open folder `dirfd`, depth first, in git's
 * order, so the index is built by appending; over a workspace, what the
 * folder has besides the tree (and `keep`) goes first. */
static int write_tree(struct writer *w, const git_tree *tree, int dirfd,
    const char *const *keep)
{
	size_t n = git_tree_entrycount(tree);
	int error;

	if ((error = drop_extras(w, dirfd, w->path.len ? w->path.buf : ".",
	    tree, keep)) < 0)
		return error;
	for (size_t i = 0; i < n && error == 0; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(te);
		size_t at = w->path.len;

		if (unsafe_name(name))
			return error_set(ERR_INVALID, "refusing the path '%s/%s' "
			    "in the commit", w->path.buf, name);
		/* git's own trees are sorted, each name once (git fsck); a
		 * tree that is not would make a second entry of one name */
		if (i && tree_order(git_tree_entry_byindex(tree, i - 1), te) >= 0)
			return error_set(ERR_INVALID, "refusing the tree of '%s' "
			    "in the commit: its entries are not in git's order "
			    "(at '%s'; git fsck calls it broken)",
			    at ? w->path.buf : ".", name);
		if (at)
			sbuf_addch(&w->path, '/');
		sbuf_adds(&w->path, name);
		switch (git_tree_entry_type(te)) {
		case GIT_OBJECT_TREE: {
			git_tree *sub = NULL;
			int fd = -1;
			if ((error = make_dir(w, dirfd, name, w->path.buf,
			    &fd)) < 0)
				;
			else if (git_tree_lookup(&sub, w->repo,
			    git_tree_entry_id(te)) < 0)
				error = git_fail("cannot read", w->path.buf);
			else
				error = write_tree(w, sub, fd, NULL);
			if (fd >= 0)
				close(fd);
			git_tree_free(sub);
			break;
		}
		case GIT_OBJECT_COMMIT: {	/* a submodule: an empty folder */
			int fd = -1;
			if ((error = make_dir(w, dirfd, name, w->path.buf,
			    &fd)) == 0 && (error = drop_extras(w, fd,
			    w->path.buf, NULL, NULL)) == 0)
				index_add(w, te, NULL);
			if (fd >= 0)
				close(fd);
			break;
		}
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

/*
 * The files that make the folder `fd` (`dest`) a work tree of the bare
 * repository: HEAD detached at the commit, objects borrowed through
 * alternates, the tags; and nothing else in .git (over a workspace, what
 * the last job left there goes, but for the index, which is written over
 * after the tree unless libgit2 writes it). The descriptor of .git into
 * *gitfd.
 */
static int write_git_dir(struct writer *w, struct source *src, int fd,
    int *gitfd)
{
	static const char config[] = "[core]\n\trepositoryformatversion = 0\n"
	    "\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n";
	/* what git needs to see a repository; it makes the rest on demand
	 * (creating a folder is among the dearest calls of a checkout) */
	const char *keep_git[7] = { "objects", "refs", "HEAD", "config" };
	static const char *const keep_objects[] = { "info", NULL };
	static const char *const keep_info[] = { "alternates", NULL };
	struct sbuf head = SBUF_INIT, alt = SBUF_INIT, tags = SBUF_INIT;
	char *objdir = src->cached && source_cache.objdir ? xstrdup(source_cache.objdir) :
	    realpath(git_repository_path(src->repo), NULL);
	int objects = -1, info = -1, refs = -1, error;
	struct stat st;

	*gitfd = -1;
	if (!objdir) {
		error = error_set(-1, "cannot open '%s': %s", src->path,
		    strerror(errno));
		goto out;
	}
	sbuf_addf(&head, "%s\n", git_oid_tostr_s(git_commit_id(src->commit)));
	if (src->cached && !source_cache.objdir)
		source_cache.objdir = xstrdup(objdir);
	sbuf_addf(&alt, "%s/objects\n", objdir);
	if ((error = pack_tags(src->repo, &tags)) < 0)
		goto out;
	{
		size_t k = 4;
		if (!w->attributes)
			keep_git[k++] = "index";
		if (tags.len)
			keep_git[k++] = "packed-refs";
		keep_git[k] = NULL;
	}
	if ((error = make_dir(w, fd, ".git", ".git", gitfd)) < 0 ||
	    (error = drop_extras(w, *gitfd, ".git", NULL, keep_git)) < 0 ||
	    (error = make_dir(w, *gitfd, "objects", ".git/objects",
	    &objects)) < 0 ||
	    (error = drop_extras(w, objects, ".git/objects", NULL,
	    keep_objects)) < 0 ||
	    (error = make_dir(w, objects, "info", ".git/objects/info",
	    &info)) < 0 ||
	    (error = drop_extras(w, info, ".git/objects/info", NULL,
	    keep_info)) < 0 ||
	    (error = make_dir(w, *gitfd, "refs", ".git/refs", &refs)) < 0 ||
	    (error = drop_extras(w, refs, ".git/refs", NULL, NULL)) < 0 ||
	    (error = put_file(w, *gitfd, "HEAD", ".git/HEAD", head.buf,
	    head.len, 0666, &st)) < 0 ||
	    (error = put_file(w, *gitfd, "config", ".git/config", config,
	    sizeof(config) - 1, 0666, &st)) < 0 ||
	    (error = put_file(w, info, "alternates", ".git/objects/info/"
	    "alternates", alt.buf, alt.len, 0666, &st)) < 0 ||
	    (tags.len && (error = put_file(w, *gitfd, "packed-refs",
	    ".git/packed-refs", tags.buf, tags.len, 0666, &st)) < 0))
		goto out;
out:
	if (objects >= 0)
		close(objects);
	if (info >= 0)
		close(info);
	if (refs >= 0)
		close(refs);
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
 * The workspace's folder, opened: made, or over a workspace the one
 * there when keep_inode allows (else removed and made again).
 */
static int open_top(struct writer *w, const char *dest, int *out)
{
	int fd = -1, error;

	if (w->over) {
		char *parent = xstrndup(dest, (size_t)(strrchr(dest, '/') ?
		    strrchr(dest, '/') - dest : 0));
		int pfd = open(*parent ? parent : "/", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC), flags = 0;
		/* a new inode takes the flags of its folder that pass on:
		 * those the folder of the workspaces has may stay */
		if (pfd >= 0 && ioctl(pfd, FS_IOC_GETFLAGS, &flags) == 0)
			w->flags_ok |= (unsigned int)flags;
		if (pfd >= 0)
			close(pfd);
		free(parent);
		fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && keep_inode(w, fd, S_IFDIR, 0777) == 0) {
			*out = fd;
			return 0;
		}
		if (fd >= 0)
			close(fd);
		w->over = 0;
		if ((error = rm_rf(dest)) < 0)
			return error;
	}
	w->made++;
	if ((error = mkdir_p(dest, 0777)) < 0)
		return error_set(error, "cannot create workspace: %s",
		    error_last());
	if ((fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return error_set(-1, "cannot open '%s': %s", dest,
		    strerror(errno));
	*out = fd;
	return 0;
}

/*
 * Write the files straight from the bare repository's objects (libgit2's
 * checkout would first make a repository through its config machinery and
 * then compare every file with an empty index), and the index from what
 * was written, so `git status` in a stage sees a clean tree.
 */
static int checkout(struct source *src, const char *dest, int over,
    uid_t owner, gid_t group, int *made)
{
	static const char *const keep_top[] = { ".git", NULL };
	struct writer w = { .repo = src->repo, .path = SBUF_INIT,
	    .index = SBUF_INIT, .over = over, .owner = owner, .group = group,
	    .flags_ok = FLAGS_OWN };
	git_tree *tree = NULL;
	int fd = -1, gitfd = -1, error;

	w.umask = current_umask();
	if (git_commit_tree(&tree, src->commit) < 0) {
		error = git_fail("cannot read the tree of", src->path);
		goto out;
	}
	git_tree_walk(tree, GIT_TREEWALK_PRE, find_attributes, &w.attributes);
	if ((error = open_top(&w, dest, &fd)) < 0 ||
	    (error = write_git_dir(&w, src, fd, &gitfd)) < 0)
		goto out;
	if (w.attributes) {
		w.made++;	/* libgit2's files */
		if ((error = drop_extras(&w, fd, dest, NULL, keep_top)) == 0)
			error = checkout_with_libgit2(dest, tree);
		goto out;
	}
	if ((error = write_tree(&w, tree, fd, keep_top)) < 0) {
		error = error_set(error, "cannot check out into '%s': %s", dest,
		    error_last());
		goto out;
	}
	error = write_index(&w, gitfd);
out:
	if (made)
		*made = w.made;
	if (fd >= 0)
		close(fd);
	if (gitfd >= 0)
		close(gitfd);
	git_tree_free(tree);
	sbuf_release(&w.path);
	sbuf_release(&w.index);
	return error;
}

int source_checkout(struct source *src, const char *dest)
{
	return checkout(src, dest, 0, 0, (gid_t)-1, NULL);
}

int source_checkout_over(struct source *src, const char *dest, uid_t owner,
    gid_t group, int *made)
{
	return checkout(src, dest, 1, owner, group, made);
}
