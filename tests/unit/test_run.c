/*
 * Unit tests of run.c: descriptors a child keeps land at 3, 4, ... even
 * when they sit where another must go, and nothing else is inherited; a
 * sandboxed child gets its environment inside the sandbox only, while
 * bwrap, seen from outside, has PATH and LANG and no variable of the
 * child on its command line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "util.h"

/* A pipe whose read end holds `text` and is at descriptor `at` (or
 * anywhere, with -1). */
static int pipe_holding(const char *text, int at)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	close(p[1]);
	if (at >= 0 && p[0] != at) {
		assert_int_equal(dup3(p[0], at, O_CLOEXEC), at);
		close(p[0]);
		p[0] = at;
	}
	return p[0];
}

static void test_keep_lands_in_order(void **state)
{
	static const char *const argv[] = { "/bin/sh", "-c",
	    "ls /proc/self/fd | tr '\\n' ' '; echo; cat <&3; cat <&4", NULL };
	struct sbuf out = SBUF_INIT, err = SBUF_INIT;
	int a, b, rc;

	(void)state;
	/* swapped: what goes to 3 sits at 4 and the other way round */
	a = pipe_holding("three\n", 4);
	b = pipe_holding("four\n", 3);
	struct child c = { .argv = argv, .keep = { a, b }, .nkeep = 2 };
	rc = child_capture(&c, NULL, 0, &out, &err, 10000);
	assert_int_equal(rc, 0);
	/* 0-2, the two kept, and ls's own for the folder */
	assert_string_equal(out.buf, "0 1 2 3 4 5 \nthree\nfour\n");
	close(a);
	close(b);
	sbuf_release(&out);
	sbuf_release(&err);
}

static void test_keep_too_many(void **state)
{
	static const char *const argv[] = { "/bin/true", NULL };
	struct child c = { .argv = argv, .nkeep = CHILD_KEEP_MAX + 1 };

	(void)state;
	assert_int_equal(child_capture(&c, NULL, 0, NULL, NULL, 10000),
	    ERR_INVALID);
}

/* A child that closes its outputs and goes on (as one stopped or traced
 * by the user it runs as would) is still bounded by the timeout. */
static void test_capture_closed_outputs_bounded(void **state)
{
	static const char *const argv[] = { "/bin/sh", "-c",
	    "echo said; exec >&- 2>&-; exec sleep 30", NULL };
	struct sbuf out = SBUF_INIT;
	struct child c = { .argv = argv };
	int64_t t0 = mono_ms();

	(void)state;
	assert_int_equal(child_capture(&c, NULL, 0, &out, NULL, 300),
	    ERR_TIMEOUT);
	assert_true(mono_ms() - t0 < 5000);
	assert_string_equal(out.buf, "said\n");
	/* killed and reaped */
	assert_int_equal(c.pid, -1);
	error_clear();
	sbuf_release(&out);
}

/* The NUL-separated strings of a /proc file, as one line. */
static void proc_read(pid_t pid, const char *what, struct sbuf *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	sbuf_reset(out);
	assert_int_equal(read_file(path, 1 << 20, out), 0);
	for (size_t i = 0; i < out->len; i++)
		if (!out->buf[i])
			out->buf[i] = ' ';
}

static void test_sandbox_env_inside_only(void **state)
{
	static char *const envp[] = {
		"PATH=/usr/bin:/bin", "SECRET=s3cr3t-value",
		"BASH_ENV=/nonexistent/evil.sh", "=no-name", "EMPTY=", NULL,
	};
	static const char *const argv[] = { "/bin/sh", "-c",
	    "ls /proc/self/fd | tr '\\n' ' '; echo; env | sort | tr '\\n' ' '; "
	    "echo; echo ready; exec sleep 30", NULL };
	static const struct run_sandbox sb = { .pid_ns = 1 };
	struct sbuf out = SBUF_INIT, text = SBUF_INIT;
	char buf[4096];
	int p[2];

	(void)state;
	if (run_sandbox_works(NULL) < 0)
		skip();
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	struct child c = { .argv = argv, .envp = envp, .cwd = "/",
	    .in = -1, .out = p[1], .err = p[1], .setsid = 1,
	    .sandbox = &sb };
	assert_int_equal(child_start(&c), 0);
	close(p[1]);
	int64_t until = mono_ms() + 10000;
	while (!strstr(out.buf, "ready\n") && mono_ms() < until) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		ssize_t n;
		if (poll(&pfd, 1, 100) > 0 && (n = read(p[0], buf,
		    sizeof(buf))) > 0)
			sbuf_add(&out, buf, (size_t)n);
	}
	assert_non_null(strstr(out.buf, "ready\n"));
	/* inside: the child's variables (the one without a name left out),
	 * the PWD bwrap sets, and no descriptor but 0-2 (3 is ls's own) */
	assert_string_equal(out.buf, "0 1 2 3 \nBASH_ENV=/nonexistent/evil.sh "
	    "EMPTY= PATH=/usr/bin:/bin PWD=/ SECRET=s3cr3t-value \nready\n");
	/* outside: bwrap has its own environment, and none of the
	 * child's variables on its command line */
	proc_read(c.pid, "environ", &text);
	assert_string_equal(text.buf, "PATH=/usr/local/sbin:/usr/local/bin:"
	    "/usr/sbin:/usr/bin:/sbin:/bin LANG=C ");
	proc_read(c.pid, "cmdline", &text);
	assert_null(strstr(text.buf, "s3cr3t"));
	assert_null(strstr(text.buf, "evil"));
	assert_non_null(strstr(text.buf, "bwrap --args 3 "));
	/* its copy that is pid 1 inside has the same */
	char *kids = xasprintf("task/%d/children", (int)c.pid);
	proc_read(c.pid, kids, &text);
	free(kids);
	pid_t init = (pid_t)atoi(text.buf);
	assert_true(init > 0);
	proc_read(init, "environ", &text);
	assert_string_equal(text.buf, "PATH=/usr/local/sbin:/usr/local/bin:"
	    "/usr/sbin:/usr/bin:/sbin:/bin LANG=C ");
	proc_read(init, "cmdline", &text);
	assert_null(strstr(text.buf, "s3cr3t"));
	kill(-c.pid, SIGKILL);
	assert_int_equal(child_finish(&c), 128 + SIGKILL);
	close(p[0]);
	sbuf_release(&out);
	sbuf_release(&text);
}

/* git_ref_read: what git says a ref holds, loose or packed; a ref that
 * is not there is ERR_NOTFOUND naming it */
static void test_git_ref_read(void **state)
{
	char dir[] = "/tmp/runner-ref-XXXXXX", hex[65], want[65];
	char *cmd;
	FILE *p;

	(void)state;
	assert_non_null(mkdtemp(dir));
	cmd = xasprintf("git init -q --bare %s/r.git && git --git-dir=%s/r.git "
	    "-c user.name=t -c user.email=t@t commit-tree -m x "
	    "$(git --git-dir=%s/r.git mktree </dev/null) > %s/id && "
	    "git --git-dir=%s/r.git update-ref refs/heads/loose $(cat %s/id) && "
	    "git --git-dir=%s/r.git update-ref refs/heads/packed $(cat %s/id) && "
	    "git --git-dir=%s/r.git pack-refs --all --prune && "
	    "git --git-dir=%s/r.git update-ref refs/heads/loose $(cat %s/id) && "
	    "cat %s/id", dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir,
	    dir);
	assert_non_null(p = popen(cmd, "r"));
	assert_non_null(fgets(want, sizeof(want), p));
	assert_int_equal(pclose(p), 0);
	want[strcspn(want, "\n")] = '\0';
	free(cmd);
	char *repo = xasprintf("%s/r.git", dir);
	assert_int_equal(git_ref_read(repo, "refs/heads/loose", NULL, hex), 0);
	assert_string_equal(hex, want);
	assert_int_equal(git_ref_read(repo, "refs/heads/packed", NULL, hex), 0);
	assert_string_equal(hex, want);
	assert_int_equal(git_ref_read(repo, "refs/heads/none", NULL, hex),
	    ERR_NOTFOUND);
	assert_non_null(strstr(error_last(), "no refs/heads/none in"));
	error_clear();
	free(repo);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_git_ref_read),
		cmocka_unit_test(test_keep_lands_in_order),
		cmocka_unit_test(test_keep_too_many),
		cmocka_unit_test(test_capture_closed_outputs_bounded),
		cmocka_unit_test(test_sandbox_env_inside_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
