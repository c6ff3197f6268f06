/* Unit tests of artifact.c: globs, archive + sha256, and safe extraction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact.h"
#include "util.h"

static char *tmpdir(void)
{
	char *d = xstrdup("/tmp/runner-art-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void put(const char *root, const char *rel, const char *data)
{
	char *p = xasprintf("%s/%s", root, rel);
	char *slash = strrchr(p, '/');

	*slash = '\0';
	assert_int_equal(mkdir_p(p, 0755), 0);
	*slash = '/';
	assert_int_equal(write_file_atomic(p, data, strlen(data), 0644), 0);
	free(p);
}

static void test_globs(void **state)
{
	char *globs[] = { "dist/**", "build/*.tar", "./top?.txt", "docs/", NULL };
	struct glob_set *g;

	(void)state;
	assert_int_equal(glob_set_compile(globs, 4, &g), 0);
	assert_true(glob_set_match(g, "dist/a/b/c.js"));
	assert_true(glob_set_match(g, "build/app.tar"));
	assert_false(glob_set_match(g, "build/sub/app.tar"));
	assert_true(glob_set_match(g, "top1.txt"));
	assert_false(glob_set_match(g, "top12.txt"));
	assert_true(glob_set_match(g, "docs/x/y.md"));
	assert_false(glob_set_match(g, "distx/a"));
	assert_false(glob_set_match(g, "src/main.c"));
	glob_set_free(g);

	/* bracket expressions as fnmatch(3) reads them */
	char *classes[] = { "a[!]x]", "b[]c]", "c[[:digit:]]", "d[!x]e", "e[x" };
	assert_int_equal(glob_set_compile(classes, 5, &g), 0);
	assert_true(glob_set_match(g, "ay"));
	assert_false(glob_set_match(g, "a]"));
	assert_false(glob_set_match(g, "ax"));
	assert_true(glob_set_match(g, "b]"));
	assert_true(glob_set_match(g, "bc"));
	assert_false(glob_set_match(g, "bd"));
	assert_true(glob_set_match(g, "c7"));
	assert_false(glob_set_match(g, "cx"));
	assert_true(glob_set_match(g, "dye"));
	assert_false(glob_set_match(g, "d/e"));
	assert_true(glob_set_match(g, "e[x"));
	glob_set_free(g);

	/* a glob that backtracks without bound is an error naming it, in
	 * a bounded time, not a match and not a hang */
	char *bomb[] = { "**a**a**a**a**a**a**a**a**b" };
	char name[200];
	/* a 'b' but not at the end: pcre2's quick checks pass it on */
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 3] = 'b';
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(glob_set_compile(bomb, 1, &g), 0);
	int64_t t0 = mono_ms();
	assert_int_equal(glob_set_match(g, name), ERR_INVALID);
	assert_true(mono_ms() - t0 < 5000);
	assert_non_null(strstr(error_last(), "glob '**a**a**a**a**a**a**a**a**b' "
	    "hit its match limit on 'aaaa"));
	assert_int_equal(glob_set_match(g, "x/aaaaaaaab"), 1);
	glob_set_free(g);
}

static void test_archive_roundtrip(void **state)
{
	char *src = tmpdir(), *dst = tmpdir(), *outside = tmpdir();
	char *arc = xasprintf("%s/a.tar.zst", outside);
	char *globs[] = { "dist/**" };
	struct artifact_writer *w;
	char sha[65], sha2[65];
	int64_t size, files;
	size_t matched;
	struct sbuf sb = SBUF_INIT;

	(void)state;
	put(src, "dist/app.js", "console.log(1)\n");
	put(src, "dist/sub/data.json", "{}\n");
	put(src, "src/main.c", "int main;\n");
	put(outside, "secret", "top secret\n");
	char *lnk = xasprintf("%s/dist/escape", src);
	char *target = xasprintf("%s/secret", outside);
	char *inside = xasprintf("%s/dist/sub/alias", src);
	assert_int_equal(symlink("../app.js", inside), 0);
	free(inside);

	/* a symlink out of the tree is refused, with what it points to */
	assert_int_equal(symlink(target, lnk), 0);
	assert_int_equal(artifact_open(arc, &w), 0);
	assert_int_equal(artifact_add(w, src, globs, 1, &matched),
	    ERR_INVALID);
	assert_non_null(strstr(error_last(), "artifact 'dist/escape' is a "
	    "symlink to '"));
	assert_non_null(strstr(error_last(), "outside the workspace: "
	    "refused"));
	artifact_abort(w);
	unlink(lnk);
	assert_int_equal(symlink("../../outside", lnk), 0);
	assert_int_equal(artifact_open(arc, &w), 0);
	assert_int_equal(artifact_add(w, src, globs, 1, &matched),
	    ERR_INVALID);
	artifact_abort(w);
	unlink(lnk);

	assert_int_equal(artifact_open(arc, &w), 0);
	assert_int_equal(artifact_add(w, src, globs, 1, &matched), 0);
	assert_int_equal(matched, 3);
	/* a second stage matching the same files adds nothing twice */
	assert_int_equal(artifact_add(w, src, globs, 1, &matched), 0);
	assert_int_equal(matched, 0);
	assert_int_equal(artifact_close(w, sha, &size, &files), 0);
	assert_int_equal(files, 3);
	assert_int_equal(sha256_file(arc, sha2), 0);
	assert_string_equal(sha, sha2);

	char *ex = xasprintf("%s/out", dst);
	assert_int_equal(artifact_extract(arc, ex, sha), 0);
	char *f = xasprintf("%s/dist/sub/data.json", ex);
	assert_int_equal(read_file(f, 100, &sb), 0);
	assert_string_equal(sb.buf, "{}\n");
	/* the symlink came back as a symlink, its target not copied in */
	char *l2 = xasprintf("%s/dist/sub/alias", ex);
	struct stat st;
	assert_int_equal(lstat(l2, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	free(l2);
	free(f);

	/* a changed archive is refused before anything is written */
	assert_int_equal(artifact_extract(arc, ex, "00"), ERR_INVALID);
	assert_non_null(strstr(error_last(), "was changed"));

	sbuf_release(&sb);
	free(ex);
	free(lnk);
	free(target);
	free(arc);
	rm_rf(src);
	rm_rf(dst);
	rm_rf(outside);
	free(src);
	free(dst);
	free(outside);
}

/*
 * Names in UTF-8 list silently with GNU tar (no pax keyword it does not
 * know); a name that is not UTF-8 keeps its bytes through libarchive and
 * GNU tar.
 */
static void test_names_for_every_tar(void **state)
{
	char *src = tmpdir(), *dst = tmpdir();
	char *arc = xasprintf("%s/a.tar.zst", dst);
	char *globs[] = { "dist/**" };
	struct artifact_writer *w;
	struct sbuf out = SBUF_INIT;
	char sha[65];
	int64_t size, files;
	size_t matched;

	(void)state;
	put(src, "dist/plain.txt", "a\n");
	put(src, "dist/caf\xc3\xa9 \xe2\x9c\x93.txt", "b\n");
	assert_int_equal(artifact_open(arc, &w), 0);
	assert_int_equal(artifact_add(w, src, globs, 1, &matched), 0);
	assert_int_equal(artifact_close(w, sha, &size, &files), 0);
	char *cmd = xasprintf("tar --zstd -tf %s 2>&1", arc);
	FILE *p = popen(cmd, "r");
	char line[256];
	while (fgets(line, sizeof(line), p))
		sbuf_adds(&out, line);
	assert_int_equal(pclose(p), 0);
	assert_null(strstr(out.buf, "Ignoring"));
	assert_non_null(strstr(out.buf, "dist/caf\xc3\xa9 \xe2\x9c\x93.txt\n"));
	free(cmd);

	/* not UTF-8: the same bytes come back */
	put(src, "dist/bad\xff.bin", "c\n");
	assert_int_equal(artifact_open(arc, &w), 0);
	assert_int_equal(artifact_add(w, src, globs, 1, &matched), 0);
	assert_int_equal(artifact_close(w, sha, &size, &files), 0);
	char *ex = xasprintf("%s/out", dst), *f = xasprintf("%s/dist/bad\xff.bin",
	    ex);
	if (artifact_extract(arc, ex, sha) < 0)
		fail_msg("%s", error_last());
	assert_int_equal(access(f, R_OK), 0);
	cmd = xasprintf("tar --zstd -tf %s 2>/dev/null | grep -c 'bad.377.bin'",
	    arc);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f);
	free(ex);
	free(arc);
	sbuf_release(&out);
	rm_rf(src);
	rm_rf(dst);
	free(src);
	free(dst);
}

/* An archive with one hostile entry after a harmless one. */
static void craft(const char *path, const char *name, int type,
    const char *link)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_pathname(e, "ok.txt");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 2);
	archive_write_header(a, e);
	archive_write_data(a, "ok", 2);
	archive_entry_clear(e);
	if (link && type == AE_IFLNK) {
		archive_entry_set_pathname(e, "link");
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_set_perm(e, 0777);
		archive_entry_set_symlink(e, link);
		archive_write_header(a, e);
		archive_entry_clear(e);
		type = AE_IFREG;
	}
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, (unsigned)type);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, type == AE_IFREG ? 4 : 0);
	archive_write_header(a, e);
	if (type == AE_IFREG)
		archive_write_data(a, "evil", 4);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
}

static void test_extract_hostile(void **state)
{
	char *dir = tmpdir();
	char *outside = tmpdir();
	char *arc = xasprintf("%s/bad.tar", dir);
	char *dest = xasprintf("%s/dest", dir);
	char *abs = xasprintf("%s/abs-evil", outside);
	struct { const char *name; int type; const char *link; const char *msg; }
	cases[] = {
		{ "../evil", AE_IFREG, NULL, "absolute or '..' path" },
		{ "a/../../evil", AE_IFREG, NULL, "absolute or '..' path" },
		{ abs, AE_IFREG, NULL, "absolute or '..' path" },
		{ "fifo", AE_IFIFO, NULL, "not a file, directory or symlink" },
		{ "link/evil", AE_IFLNK, outside, "refusing symlink 'link' to '" },
		{ "link/evil", AE_IFLNK, "../..", "it points outside" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		rm_rf(dest);
		craft(arc, cases[i].name, cases[i].type, cases[i].link);
		assert_int_equal(artifact_extract(arc, dest, NULL) < 0, 1);
		if (!strstr(error_last(), cases[i].msg))
			fail_msg("case %zu: %s", i, error_last());
		char *evil = xasprintf("%s/evil", outside);
		assert_int_not_equal(access(evil, F_OK), 0);
		assert_int_not_equal(access(abs, F_OK), 0);
		free(evil);
	}
	rm_rf(dir);
	rm_rf(outside);
	free(arc);
	free(dest);
	free(abs);
	free(dir);
	free(outside);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_globs),
		cmocka_unit_test(test_archive_roundtrip),
		cmocka_unit_test(test_names_for_every_tar),
		cmocka_unit_test(test_extract_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
