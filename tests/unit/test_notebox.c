/* Unit tests of notebox.c (git notes waiting for their repository's
 * writer: what a reader takes, what the writer is given) and of gitnote.c
 * (a note written once, not again when it says the same; found where git
 * fans notes out; one too large never read). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* gcc -fanalyzer (tests/analyze.sh): cmocka leaves a failed assertion by
 * longjmp from a function not declared so, and the analyzer follows the
 * paths past it (a NULL the assertion refused, a value it never read). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wanalyzer-null-dereference"
#pragma GCC diagnostic ignored "-Wanalyzer-possible-null-argument"
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitnote.h"
#include "notebox.h"
#include "notes.h"
#include "run.h"
#include "util.h"

#define C1 "0123456789abcdef0123456789abcdef01234567"
#define C2 "89abcdef0123456789abcdef0123456789abcdef"

struct fixture {
	char dir[64];
	char *home, *repo;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/notebox.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->home = xasprintf("%s/home", f->dir);
	f->repo = xasprintf("%s/app.git", f->dir);
	assert_int_equal(mkdir(f->home, 0700), 0);
	assert_int_equal(mkdir(f->repo, 0755), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_rf(f->dir);
	free(f->home);
	free(f->repo);
	free(f);
	return 0;
}

static void test_frames(void **state)
{
	struct notebox_note in[3] = {
		{ C1, "runner: build #1 passed\n", 0, 0, 0 },
		{ C2, "", 0, 0, 1 },
		{ C2, "two\n", 0, 0, 0 },
	}, *out = NULL;
	struct sbuf sb = SBUF_INIT;
	size_t n = 0;

	(void)state;
	notebox_frame(&sb, in, 3);
	assert_int_equal(notebox_unframe(sb.buf, sb.len, 2, &out, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(out[0].commit, C1);
	assert_string_equal(out[0].text, "runner: build #1 passed\n");
	assert_int_equal(out[0].repo, 0);
	assert_string_equal(out[1].commit, C2);
	assert_string_equal(out[1].text, "");
	assert_int_equal(out[1].repo, 1);
	assert_string_equal(out[2].text, "two\n");
	notebox_notes_free(out, n);
	/* a writer of one repository is given no note of a second */
	assert_int_equal(notebox_unframe(sb.buf, sb.len, 1, &out, &n),
	    ERR_INVALID);
	/* a length past the end, a name that is no commit, a NUL in the
	 * text, no newline, a number that is not plain digits, no
	 * repository: refused whole */
	const char *bad[] = {
		C1 " 10 0\nshort", "nothex 1 0\nx", C1 " 3 0\na\0b", C1 " 1 0",
		C1 " -1 0\nx", C1 "  1 0\nx", C1 " 1\nx", C1 " 1 01\nx",
		C1 " 1 0 \nx", C1 " 01 0\nx", C1 " 1  0\nx",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		size_t len = strlen(bad[i]);
		if (i == 2)
			len = strlen(C1) + 8;	/* past the NUL */
		assert_int_equal(notebox_unframe(bad[i], len, 2, &out, &n),
		    ERR_INVALID);
		assert_null(out);
		assert_int_equal(n, 0);
	}
	sbuf_release(&sb);
}

static void test_put_list_done(void **state)
{
	struct fixture *f = *state;
	struct notebox_note *v = NULL;
	char *dir, *p;
	struct stat st;
	size_t n = 0;

	assert_int_equal(notebox_list(f->home, f->repo, &v, &n), 0);
	assert_int_equal(n, 0);	/* nothing left yet */
	assert_int_equal(notebox_put(f->home, f->repo, C1, "one\n"), 0);
	assert_int_equal(notebox_put(f->home, f->repo, C2, "two\n"), 0);
	assert_int_equal(notebox_put(f->home, f->repo, "HEAD", "x"),
	    ERR_INVALID);
	dir = notebox_dir(f->home, f->repo);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	p = xasprintf("%s/notes", f->home);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	free(p);
	p = xasprintf("%s/" C1, dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(p);
	/* what is not a note is not read: a link, another name, a folder */
	p = xasprintf("%s/" C1 "ff", dir);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	free(p);
	p = xasprintf("%s/abcdefabcdefabcdefabcdefabcdefabcdefabcd", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/README", dir);
	assert_int_equal(write_file_atomic(p, "x", 1, 0640), 0);
	free(p);
	assert_int_equal(notebox_list(f->home, f->repo, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_true(!strcmp(v[0].commit, C1) || !strcmp(v[1].commit, C1));
	notebox_notes_free(v, n);
	/* replaced meanwhile: stays; the same text: removed */
	notebox_done(f->home, f->repo, C1, "older text\n");
	notebox_done(f->home, f->repo, C2, "two\n");
	assert_int_equal(notebox_list(f->home, f->repo, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].commit, C1);
	assert_string_equal(v[0].text, "one\n");
	notebox_notes_free(v, n);
	free(dir);
}

/* A note is written once: the same text again makes no new commit. */
/* A link where a repository's folder is (its owner may swap one in at
 * any moment) names no notes folder: never the linked repository's. */
static void test_link_names_no_box(void **state)
{
	struct fixture *f = *state;
	char *other = xasprintf("%s/other.git", f->dir);
	char *link = xasprintf("%s/link.git", f->dir);
	char *up = xasprintf("%s/up", f->dir);
	char *via = xasprintf("%s/up/app.git", f->dir);
	struct notebox_note *v = NULL;
	size_t n = 7;

	assert_int_equal(mkdir(other, 0755), 0);
	assert_int_equal(symlink(other, link), 0);
	assert_int_equal(symlink(f->dir, up), 0);
	assert_null(notebox_dir(f->home, link));
	assert_non_null(strstr(error_last(), "without following a link"));
	assert_int_not_equal(notebox_put(f->home, link, C1, "theirs\n"), 0);
	assert_int_not_equal(notebox_put(f->home, via, C1, "theirs\n"), 0);
	error_clear();
	assert_int_equal(notebox_list(f->home, other, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(notebox_list(f->home, f->repo, &v, &n), 0);
	assert_int_equal(n, 0);
	free(other);
	free(link);
	free(up);
	free(via);
}

static void test_note_once(void **state)
{
	struct fixture *f = *state;
	char *cmd, *text = NULL, *commit;
	char before[65], after[65];
	FILE *p;

	rm_rf(f->repo);
	cmd = xasprintf("git init -q --bare '%s' && git --git-dir='%s' "
	    "hash-object -w --stdin </dev/null", f->repo, f->repo);
	assert_non_null(p = popen(cmd, "r"));
	char line[80] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	line[strcspn(line, "\n")] = '\0';
	commit = xstrdup(line);	/* any object takes a note */
	assert_int_equal(note_read(f->repo, "refs/notes/runner", commit, &text),
	    0);
	assert_int_equal(note_write(f->repo, "refs/notes/runner", commit,
	    "runner: build #1 passed\n"), 0);
	assert_int_equal(note_read(f->repo, "refs/notes/runner", commit, &text),
	    1);
	assert_string_equal(text, "runner: build #1 passed\n");
	free(text);
	assert_int_equal(git_ref_read(f->repo, "refs/notes/runner", NULL,
	    before), 0);
	assert_int_equal(note_write(f->repo, "refs/notes/runner", commit,
	    "runner: build #1 passed\n"), 0);
	assert_int_equal(git_ref_read(f->repo, "refs/notes/runner", NULL,
	    after), 0);
	assert_string_equal(before, after);
	assert_int_equal(note_write(f->repo, "refs/notes/runner", commit,
	    "runner: build #1 failed\n"), 0);
	assert_int_equal(git_ref_read(f->repo, "refs/notes/runner", NULL,
	    after), 0);
	assert_string_not_equal(before, after);
	free(commit);
	free(cmd);
}

/* One writer for the notes of several repositories: each opened once,
 * one that fails stops none of the others, and the writer says which it
 * wrote. */
static void test_write_batch(void **state)
{
	struct fixture *f = *state;
	char *other = xasprintf("%s/none.git", f->dir), *cmd, *text = NULL;
	const char *repos[] = { other, f->repo };
	struct notebox_note v[3] = {
		{ C1, "lost\n", 0, 0, 0 },
		{ C1, "runner: build #1 passed\n", 0, 0, 1 },
		{ C2, "runner: build #2 failed\n", 0, 0, 1 },
	};
	struct sbuf in = SBUF_INIT, out = SBUF_INIT, err = SBUF_INIT;
	char line[80] = "", commit[2][41];
	FILE *p;

	rm_rf(f->repo);
	cmd = xasprintf("git init -q --bare '%s' && for i in 1 2; do echo $i | "
	    "git --git-dir='%s' hash-object -w --stdin; done", f->repo,
	    f->repo);
	assert_non_null(p = popen(cmd, "r"));
	for (int i = 0; i < 2; i++) {
		assert_non_null(fgets(line, sizeof(line), p));
		memcpy(commit[i], line, 40);
		commit[i][40] = '\0';
	}
	assert_int_equal(pclose(p), 0);
	memcpy(v[1].commit, commit[0], 41);
	memcpy(v[2].commit, commit[1], 41);
	notebox_frame(&in, v, 3);
	assert_int_equal(notes_write_frames(repos, 2, in.buf, in.len, &out,
	    &err), -1);
	assert_string_equal(out.buf, "1\n");
	assert_non_null(strstr(err.buf, other));
	assert_int_equal(note_read(f->repo, NOTES_REF, commit[0], &text), 1);
	assert_string_equal(text, "runner: build #1 passed\n");
	free(text);
	assert_int_equal(note_read(f->repo, NOTES_REF, commit[1], &text), 1);
	assert_string_equal(text, "runner: build #2 failed\n");
	free(text);
	sbuf_release(&in);
	sbuf_release(&out);
	sbuf_release(&err);
	free(cmd);
	free(other);
}

/* The first line `cmd` prints, run by the shell (caller frees). */
static char *sh_line(const char *cmd)
{
	char line[256] = "";
	FILE *p;

	assert_non_null(p = popen(cmd, "r"));
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	line[strcspn(line, "\n")] = '\0';
	return xstrdup(line);
}

/* Notes as a pusher may leave them: fanned out (ab/cdef...) as git does
 * for many notes, and one of 2 MiB, which is not read but replaced. */
static void test_note_fanout_and_huge(void **state)
{
	struct fixture *f = *state;
	char *cmd, *commit, *text = NULL, *top;

	rm_rf(f->repo);
	cmd = xasprintf("git init -q --bare '%s' && git --git-dir='%s' "
	    "hash-object -w --stdin </dev/null", f->repo, f->repo);
	commit = sh_line(cmd);
	free(cmd);
	/* a note in a folder of its first two digits */
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
	cmd = xasprintf("cd '%s' && b=$(echo fanned | git hash-object -w "
	    "--stdin) && s=$(printf '100644 blob %%s\\t%s\\n' $b | git "
	    "mktree) && t=$(printf '040000 tree %%s\\t%.2s\\n' $s | git "
	    "mktree) && c=$(git commit-tree -m notes $t) && git update-ref "
	    "refs/notes/runner $c && echo $c", f->repo, commit + 2, commit);
	top = sh_line(cmd);
	free(cmd);
	assert_int_equal(note_read(f->repo, "refs/notes/runner", commit, &text),
	    1);
	assert_string_equal(text, "fanned\n");
	free(text);
	/* the same text: nothing written */
	assert_int_equal(note_write(f->repo, "refs/notes/runner", commit,
	    "fanned\n"), 0);
	cmd = xasprintf("git --git-dir='%s' rev-parse refs/notes/runner",
	    f->repo);
	text = sh_line(cmd);
	assert_string_equal(text, top);
	free(text);
	free(top);
	/* 2 MiB of zeros: not read, and replaced by the runner's text */
	free(cmd);
	cmd = xasprintf("cd '%s' && b=$(head -c 2097152 /dev/zero | git "
	    "hash-object -w --stdin) && git notes --ref=runner add -f -C $b %s "
	    "2>/dev/null && echo ok", f->repo, commit);
	top = sh_line(cmd);
	free(top);
	assert_int_equal(note_read(f->repo, "refs/notes/runner", commit, &text),
	    2);
	assert_null(text);
	assert_int_equal(note_write(f->repo, "refs/notes/runner", commit,
	    "runner: build #1 passed\n"), 0);
	assert_int_equal(note_read(f->repo, "refs/notes/runner", commit, &text),
	    1);
	assert_string_equal(text, "runner: build #1 passed\n");
	free(text);
	free(cmd);
	free(commit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames),
		cmocka_unit_test_setup_teardown(test_put_list_done, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_link_names_no_box, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_note_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_batch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_note_fanout_and_huge, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
