/*
 * Unit tests of checkout.c: a commit of a real bare repository made with
 * git, read and checked out as a worker does (the differential test
 * against git's own checkout over a corpus is t0225).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "checkout.h"
#include "config.h"
#include "fetch.h"
#include "sources.h"
#include "pipeline.h"
#include "util.h"

struct fx {
	char dir[64];
	char *repo;
	char head[41];
};

/* Run a shell command in the fixture's folder; its first output line
 * (up to 40 characters) into `out` when given. */
static void sh(struct fx *fx, char *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sh(struct fx *fx, char *out, const char *fmt, ...)
{
	struct sbuf cmd = SBUF_INIT;
	va_list ap;
	FILE *p;

	sbuf_addf(&cmd, "cd %s && (", fx->dir);
	va_start(ap, fmt);
	sbuf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	sbuf_adds(&cmd, ") 2>/dev/null");
	assert_non_null(p = popen(cmd.buf, "r"));
	char line[128] = "";
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	while (fgetc(p) != EOF)
		;
	assert_int_equal(pclose(p), 0);
	if (out) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(out, 41, "%s", line);
	}
	sbuf_release(&cmd);
}

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));

	strcpy(fx->dir, "/tmp/runner-checkout-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	fx->repo = xasprintf("%s/app.git", fx->dir);
	sh(fx, NULL, "git init -q --bare app.git && git init -q src && cd src "
	    "&& git config user.email t@example.com && git config user.name t "
	    "&& mkdir -p sub/deep && printf 'hello\\n' > a.txt && "
	    "printf '#!/bin/sh\\n' > run.sh && chmod +x run.sh && "
	    "ln -s a.txt link && printf 'x' > sub/deep/b && "
	    "printf 'stages:\\n  - name: unit\\n    run: make\\n' > .runner.yml "
	    "&& git add -A && git commit -q -m 'Subject line' -m body && "
	    "git push -q ../app.git HEAD:refs/heads/develop");
	sh(fx, fx->head, "git -C app.git rev-parse refs/heads/develop");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	rm_rf(fx->dir);
	free(fx->repo);
	free(fx);
	return 0;
}

static void test_read_and_check_out(void **state)
{
	struct fx *fx = *state;
	struct source *src = NULL;
	struct pipeline *pl = NULL;
	struct sbuf buf = SBUF_INIT;
	char *ws = xasprintf("%s/ws", fx->dir), *p;
	char target[64];
	struct stat st;
	ssize_t n;

	assert_int_equal(source_open(fx->repo, fx->head, &src), 0);
	assert_string_equal(source_subject(src), "Subject line");
	assert_int_equal(source_read(src, "a.txt", 100, &buf), 0);
	assert_string_equal(buf.buf, "hello\n");
	assert_int_equal(source_read(src, "missing", 100, &buf), ERR_NOTFOUND);
	assert_int_equal(source_pipeline(src, &pl, NULL), 0);
	assert_int_equal(pl->nstages, 1);
	assert_string_equal(pl->stages[0].name, "unit");
	assert_int_equal(source_checkout(src, ws), 0);

	p = xasprintf("%s/run.sh", ws);
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_mode & S_IXUSR);
	free(p);
	p = xasprintf("%s/link", ws);
	n = readlink(p, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "a.txt");
	free(p);
	p = xasprintf("%s/sub/deep/b", ws);
	sbuf_reset(&buf);
	assert_int_equal(read_file(p, 10, &buf), 0);
	assert_string_equal(buf.buf, "x");
	free(p);
	/* a real work tree: git itself sees the commit, and nothing changed */
	char head[41];
	sh(fx, head, "git -C ws rev-parse HEAD");
	assert_string_equal(head, fx->head);
	sh(fx, NULL, "test -z \"$(git -C ws status --porcelain)\"");
	/* the workspace must not exist yet */
	assert_true(source_checkout(src, ws) < 0);

	pipeline_free(pl);
	source_free(src);
	sbuf_release(&buf);
	free(ws);
}

/* Has the file at `path` (no link followed) any extended attribute? */
static int has_xattrs(const char *path)
{
	char names[256];

	return llistxattr(path, names, sizeof(names)) != 0;
}

/*
 * A workspace an earlier job left, with what a hostile stage could leave
 * in it: edited and extra files, a set-uid bit, attributes, an ACL that
 * new files would inherit, an inode flag, links to outside the workspace
 * where the tree has a folder and a file, a FIFO, hooks and config in
 * .git. Checked out over, it is the workspace a new checkout makes, and
 * nothing outside changed; a file that could stay kept its inode.
 */
static void test_check_out_over(void **state)
{
	struct fx *fx = *state;
	struct source *src = NULL;
	char *ws = xasprintf("%s/ws", fx->dir), *fresh = xasprintf("%s/fresh",
	    fx->dir), *p;
	/* an ACL (version 2): user::rwx user:0:rwx group::rwx mask::rwx
	 * other::rwx, as setfacl writes it */
	static const unsigned char acl[] = { 2, 0, 0, 0,
	    1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 7, 0, 0, 0, 0, 0,
	    4, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 0x10, 0, 7, 0, 0xff, 0xff,
	    0xff, 0xff, 0x20, 0, 7, 0, 0xff, 0xff, 0xff, 0xff };
	struct stat st;
	ino_t kept;
	int fd, flags;

	assert_int_equal(source_open(fx->repo, fx->head, &src), 0);
	assert_int_equal(source_checkout(src, ws), 0);
	assert_int_equal(source_checkout(src, fresh), 0);
	/* over itself, untouched: only the link is made again (a link is
	 * never written over) */
	int made = -1;
	assert_int_equal(source_checkout_over(src, ws, getuid(), getgid(),
	    &made), 0);
	assert_int_equal(made, 1);
	p = xasprintf("%s/.runner.yml", ws);
	assert_int_equal(stat(p, &st), 0);
	kept = st.st_ino;
	free(p);
	/* a.txt and HEAD: other bytes of the same size */
	sh(fx, NULL, "mkdir -p outside/deep && echo outside > outside/deep/b && "
	    "echo victim > outside/victim && cd ws && printf 'jello\\n' > a.txt && "
	    "printf '%%040d\\n' 0 > .git/HEAD && "
	    "chmod 4755 a.txt && echo more >> .runner.yml && "
	    "rm -r sub/deep && ln -s ../../outside/deep sub/deep && "
	    "rm run.sh && ln ../outside/victim run.sh && "
	    "rm link && echo notalink > link && echo x > extra.txt && "
	    "mkdir -p sub/extra/dir && touch sub/extra/dir/file && mkfifo fifo && "
	    "mkdir -p .git/hooks && printf '#!/bin/sh\\n' > .git/hooks/pre-commit && "
	    "printf '[core]\\n\\tfsmonitor = evil\\n' >> .git/config && "
	    "mkdir -p .git/info .git/refs/heads && echo x > .git/info/exclude && "
	    "echo %s > .git/refs/heads/x && echo x > .git/objects/info/packs",
	    fx->head);
	p = xasprintf("%s/.runner.yml", ws);
	assert_int_equal(setxattr(p, "user.evil", "1", 1, 0), 0);
	free(p);
	p = xasprintf("%s/sub", ws);
	/* where ACLs work, one that new files in it would inherit */
	if (setxattr(p, "system.posix_acl_default", acl, sizeof(acl), 0) == 0)
		assert_true(has_xattrs(p));
	free(p);
	p = xasprintf("%s/.git/HEAD", ws);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	flags = FS_NODUMP_FL;
	int flagged = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	close(fd);
	free(p);

	assert_int_equal(source_checkout_over(src, ws, getuid(), (gid_t)-1, NULL), 0);

	/* what git sees and what is there: the new checkout's */
	sh(fx, NULL, "test -z \"$(git -C ws status --porcelain --ignored)\"");
	sh(fx, NULL, "diff -r --no-dereference -x index ws fresh && "
	    "(cd ws && find . -printf '%%M %%P\\n' | sort) > ws.list && "
	    "(cd fresh && find . -printf '%%M %%P\\n' | sort) > fresh.list && "
	    "cmp ws.list fresh.list");
	/* outside: untouched */
	sh(fx, NULL, "test \"$(cat outside/deep/b)\" = outside && "
	    "test \"$(cat outside/victim)\" = victim && test -f outside/victim");
	p = xasprintf("%s/outside/victim", fx->dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	free(p);
	/* no attribute, ACL or flag left */
	static const char *const clean[] = { ".runner.yml", "sub", "a.txt",
	    ".git/HEAD", "." };
	for (size_t i = 0; i < sizeof(clean) / sizeof(*clean); i++) {
		p = xasprintf("%s/%s", ws, clean[i]);
		assert_false(has_xattrs(p));
		assert_int_equal(lstat(p, &st), 0);
		assert_false(st.st_mode & (S_ISUID | S_ISGID));
		fd = open(p, O_RDONLY);
		flags = 0;
		assert_true(fd >= 0);
		if (flagged) {
			assert_int_equal(ioctl(fd, FS_IOC_GETFLAGS, &flags), 0);
			assert_false(flags & FS_NODUMP_FL);
		}
		close(fd);
		free(p);
	}
	/* a file that could stay is the same file */
	p = xasprintf("%s/.runner.yml", ws);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_ino, kept);
	free(p);
	/* over a workspace of another user's files: none is kept (the file
	 * held open is gone from it) */
	p = xasprintf("%s/.runner.yml", ws);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(source_checkout_over(src, ws, getuid() + 1, (gid_t)-1, NULL), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	close(fd);
	free(p);
	sh(fx, NULL, "test -z \"$(git -C ws status --porcelain --ignored)\"");
	/* and where there is none, a new one */
	rm_rf(ws);
	assert_int_equal(source_checkout_over(src, ws, getuid(), (gid_t)-1, NULL), 0);
	sh(fx, NULL, "test -z \"$(git -C ws status --porcelain --ignored)\"");

	source_free(src);
	free(ws);
	free(fresh);
}

static void test_bad_commits(void **state)
{
	struct fx *fx = *state;
	struct source *src = NULL;

	assert_true(source_open(fx->repo, "not-hex", &src) < 0);
	assert_true(source_open(fx->repo,
	    "0123456789012345678901234567890123456789", &src) < 0);
	assert_non_null(strstr(error_last(), "0123456"));
	assert_true(source_open("/nonexistent/repo.git", fx->head, &src) < 0);
}

/* Trees git itself would refuse to check out: a '.GIT' folder (the
 * repository's own on a case-insensitive file system), '..'. */
static void test_hostile_names(void **state)
{
	struct fx *fx = *state;
	static const char *const names[] = { ".GIT", "git~1", ".git " };
	char blob[41], tree[41], commit[41];

	sh(fx, blob, "printf evil | git -C app.git hash-object -w --stdin");
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		struct source *src = NULL;
		char *ws = xasprintf("%s/ws%zu", fx->dir, i);
		sh(fx, tree, "printf '100644 blob %s\\tconfig\\n' | "
		    "git -C app.git mktree --missing", blob);
		sh(fx, tree, "printf '040000 tree %s\\t%s\\n' | "
		    "git -C app.git mktree --missing", tree, names[i]);
		sh(fx, commit, "git -C app.git commit-tree -m x %s", tree);
		assert_int_equal(source_open(fx->repo, commit, &src), 0);
		assert_true(source_checkout(src, ws) < 0);
		assert_non_null(strstr(error_last(), names[i]));
		source_free(src);
		free(ws);
	}
}

/* Which URL a repository is fetched from: the longest `path` that holds
 * it, whole folder names only, the rest of its path after the URL. */
static void test_source_urls(void **state)
{
	struct host_source src[] = {
		{ "/srv/git", "ssh://git@gs/srv/git", 0 },
		{ "/srv/git/big/", "git://big.example.com/", 0 },
		{ "/srv/one.git", "https://gs/one.git", 0 },
	};
	struct host_conf h = { .sources = src, .nsources = 3 };
	static const struct { const char *repo, *url; } cases[] = {
		{ "/srv/git/app.git", "ssh://git@gs/srv/git/app.git" },
		{ "/srv/git/team/app.git", "ssh://git@gs/srv/git/team/app.git" },
		{ "/srv/git/big/app.git", "git://big.example.com/app.git" },
		{ "/srv/one.git", "https://gs/one.git" },
		{ "/srv/gitx/app.git", NULL },	/* not below /srv/git */
		{ "/srv/one.git2", NULL },
		{ "/elsewhere/app.git", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *url = source_url(&h, cases[i].repo);
		if (cases[i].url)
			assert_string_equal(url, cases[i].url);
		else
			assert_null(url);
		free(url);
	}
}

/* A host that does not see the repository fetches it into its cache
 * (real git, over file://), once; a commit the server lacks is named. */
static void test_source_fetched(void **state)
{
	struct fx *fx = *state;
	char *url = xasprintf("file://%s", fx->dir);
	struct host_source hs = { fx->dir, url, 0 };
	struct host_conf h = { .sources = &hs, .nsources = 1 };
	char *home = xasprintf("%s/home", fx->dir), *local = NULL, *again;
	struct source *src = NULL;

	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(source_local(&h, home, fx->repo, fx->head, NULL,
	    &local), 0);
	assert_non_null(strstr(local, "/home/cache/sources/"));
	assert_string_not_equal(local, fx->repo);
	assert_int_equal(source_open(local, fx->head, &src), 0);
	assert_string_equal(source_subject(src), "Subject line");
	source_free(src);
	/* it has the commit now: the same cache, no fetch (the URL may be
	 * gone) */
	hs.url = "file:///nonexistent";
	assert_int_equal(source_local(&h, home, fx->repo, fx->head, NULL,
	    &again), 0);
	assert_string_equal(again, local);
	free(again);
	/* a commit it lacks: fetched, and still missing */
	hs.url = url;
	assert_true(source_local(&h, home, fx->repo,
	    "0123456789012345678901234567890123456789", NULL, &again) < 0);
	assert_non_null(strstr(error_last(), url));
	assert_non_null(strstr(error_last(), "has no commit 0123456"));
	/* a server that is not there: git's reason */
	hs.url = "file:///nonexistent";
	assert_true(source_local(&h, home, fx->repo,
	    "0123456789012345678901234567890123456789", NULL, &again) < 0);
	assert_non_null(strstr(error_last(), "cannot fetch from "
	    "file:///nonexistent/app.git: "));
	/* a repository no entry covers is read where it is */
	hs.path = "/srv/git";
	assert_int_equal(source_local(&h, home, fx->repo, fx->head, NULL,
	    &again), 0);
	assert_string_equal(again, fx->repo);
	free(again);
	free(local);
	free(home);
	free(url);
}

/* in_use for the collection: the repositories named in `arg` (a
 * NULL-ended list) have jobs; of one named ".../unsure.git" the store
 * cannot say */
static int named(const char *repo, void *arg)
{
	const char *const *v = arg;
	size_t n = strlen(repo);

	if (n >= 11 && !strcmp(repo + n - 11, "/unsure.git"))
		return error_set(-1, "the store cannot say");
	for (; *v; v++)
		if (!strcmp(*v, repo))
			return 1;
	return 0;
}

/* A cache made by hand for repository `repo` in HOME; its path. */
static char *cache_for(struct fx *fx, const char *home, const char *repo)
{
	char *name = source_cache_name(repo);
	char *dir = xasprintf("%s/cache/sources/%s", home, name);

	sh(fx, NULL, "git init -q --bare '%s' && touch '%s.lock'", dir, dir);
	free(name);
	return dir;
}

/*
 * runner gc on a fetching host: the cache of a repository the store keeps
 * no job of goes, and so does one no `sources` entry covers any more; one
 * in use is kept and collected by git (an object nothing refers to is
 * pruned); one a fetch holds, or that the store cannot judge, is left.
 */
static void test_source_cache_collected(void **state)
{
	struct fx *fx = *state;
	char *url = xasprintf("file://%s", fx->dir);
	struct host_source hs = { fx->dir, url, 0 };
	struct host_conf h = { .sources = &hs, .nsources = 1 };
	char *home = xasprintf("%s/home", fx->dir), *local = NULL, *again;
	char *gone = xasprintf("%s/gone.git", fx->dir), *local2 = NULL;
	char *unsure_repo = xasprintf("%s/unsure.git", fx->dir);
	char loose[41];
	int64_t count, bytes;
	const char *in_use[] = { fx->repo, NULL };

	assert_int_equal(mkdir(home, 0700), 0);
	sh(fx, NULL, "git clone -q --bare app.git gone.git");
	assert_int_equal(source_local(&h, home, fx->repo, fx->head, NULL,
	    &local), 0);
	assert_int_equal(source_local(&h, home, gone, fx->head, NULL,
	    &local2), 0);
	/* an object of a branch deleted since: in the cache, unreferenced */
	sh(fx, loose, "printf 'deleted branch' | git -C '%s' hash-object -w "
	    "--stdin", local);
	char *obj = xasprintf("%s/objects/%.2s/%s", local, loose, loose + 2);
	assert_int_equal(access(obj, F_OK), 0);
	/* a cache of another server's repository (runner.yml changed
	 * since), and one the store cannot judge */
	char *other = cache_for(fx, home, "/elsewhere/x.git");
	char *unsure = cache_for(fx, home, unsure_repo);

	/* a dry run removes nothing */
	assert_int_equal(source_cache_gc(&h, home, named, in_use, 1, NULL,
	    &count, &bytes), 0);
	assert_int_equal(count, 2);
	assert_true(bytes > 0);
	assert_int_equal(access(local2, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);
	assert_int_equal(access(obj, F_OK), 0);

	error_clear();
	assert_int_equal(source_cache_gc(&h, home, named, in_use, 0, NULL,
	    &count, &bytes), 0);
	assert_int_equal(count, 2);
	assert_true(access(local2, F_OK) < 0);	/* no job of it */
	assert_true(access(other, F_OK) < 0);	/* no entry covers it */
	assert_int_equal(access(unsure, F_OK), 0);	/* cannot say: kept */
	assert_int_equal(access(local, F_OK), 0);	/* in use: kept... */
	assert_true(access(obj, F_OK) < 0);	/* ...and collected */
	/* what it holds still serves, without a fetch */
	hs.url = "file:///nonexistent";
	assert_int_equal(source_local(&h, home, fx->repo, fx->head, NULL,
	    &again), 0);
	assert_string_equal(again, local);
	free(again);
	hs.url = url;

	/* a fetch holds the cache (its lock): left for the next time */
	const char *none[] = { NULL };
	char *lock = xasprintf("%s.lock", local);
	int fd = open(lock, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0 && flock(fd, LOCK_EX) == 0);
	assert_int_equal(source_cache_gc(&h, home, named, none, 0, NULL,
	    &count, &bytes), 0);
	assert_int_equal(count, 0);
	assert_int_equal(access(local, F_OK), 0);
	close(fd);
	assert_int_equal(source_cache_gc(&h, home, named, none, 0, NULL,
	    &count, &bytes), 0);
	assert_int_equal(count, 1);
	assert_true(access(local, F_OK) < 0);
	free(lock);
	free(obj);
	free(unsure);
	free(unsure_repo);
	free(other);
	free(local2);
	free(local);
	free(gone);
	free(home);
	free(url);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read_and_check_out),
		T(test_check_out_over),
		T(test_bad_commits),
		T(test_hostile_names),
		cmocka_unit_test(test_source_urls),
		T(test_source_fetched),
		T(test_source_cache_collected),
	};
	checkout_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
