/*
 * Unit tests of stage.c: one stage run in this process, as a step runs
 * it: exit codes, the log, the timeout that ends the whole tree, the log
 * cap, masking, and nothing left behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mask.h"
#include "stage.h"
#include "util.h"

static char *const envp[] = { "PATH=/usr/bin:/bin", NULL };

/* Is `pid` a process still (not gone, not a zombie)? */
static int alive(pid_t pid)
{
	char path[64];
	struct sbuf st = SBUF_INIT;
	int yes;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, 4096, &st) < 0)
		return 0;
	const char *p = strrchr(st.buf, ')');
	yes = p && p[1] == ' ' && p[2] != 'Z';
	sbuf_release(&st);
	return yes;
}

/* Run `script` with its log in a temporary file; the log's text in *log. */
static void run(const char *script, int64_t timeout_ms, uint64_t cap,
    struct masker *mask, struct stage_result *r, struct sbuf *log)
{
	char path[] = "/tmp/runner-stage-XXXXXX";
	int fd = mkstemp(path);
	struct stage_spec spec = {
		.script = script, .cwd = "/tmp", .envp = envp, .log_fd = fd,
		.log_cap = cap, .timeout_ms = timeout_ms, .kill_grace_ms = 200,
		.shutdown_grace_ms = 1000, .event_fd = -1, .mask = mask,
	};

	assert_true(fd >= 0);
	assert_int_equal(stage_run(&spec, r), 0);
	close(fd);
	sbuf_reset(log);
	assert_int_equal(read_file(path, 1 << 20, log), 0);
	unlink(path);
}

static void test_exit_code_and_log(void **state)
{
	struct stage_result r;
	struct sbuf log = SBUF_INIT;

	(void)state;
	run("echo out; echo err >&2; exit 7", 0, 0, NULL, &r, &log);
	assert_int_equal(r.end, STAGE_EXITED);
	assert_int_equal(r.exit_code, 7);
	assert_string_equal(log.buf, "out\nerr\n");
	/* sh -e: the first failing command ends the stage */
	run("false; echo not reached", 0, 0, NULL, &r, &log);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(log.buf, "");
	/* stdin is /dev/null: a command reading it does not wait */
	run("cat", 0, 0, NULL, &r, &log);
	assert_int_equal(r.exit_code, 0);
	sbuf_release(&log);
}

/* A timeout ends the stage and what it started, also what ignores
 * SIGTERM (after the grace). */
static void test_timeout_ends_the_tree(void **state)
{
	struct stage_result r;
	struct sbuf log = SBUF_INIT, pid = SBUF_INIT;
	char path[] = "/tmp/runner-stage-pid-XXXXXX";
	int fd = mkstemp(path);
	char *script = xasprintf("sh -c 'trap \"\" TERM; echo $$ > %s; "
	    "exec sleep 30' & sleep 30", path);

	(void)state;
	close(fd);
	run(script, 300, 0, NULL, &r, &log);
	assert_int_equal(r.end, STAGE_TIMED_OUT);
	assert_true(r.duration_ms < 5000);
	assert_int_equal(read_file(path, 64, &pid), 0);
	assert_true(atoi(pid.buf) > 1);
	/* the child that ignored SIGTERM is gone too */
	assert_false(alive(atoi(pid.buf)));
	unlink(path);
	free(script);
	sbuf_release(&pid);
	sbuf_release(&log);
}

static void test_log_cap(void **state)
{
	struct stage_result r;
	struct sbuf log = SBUF_INIT;

	(void)state;
	run("head -c 100000 /dev/zero | tr '\\0' x", 0, 8192, NULL, &r, &log);
	assert_int_equal(r.exit_code, 0);
	assert_true(r.capped);
	assert_true(log.len <= 8192 + 200);	/* and the note that says so */
	assert_true(log.len >= 8192);
	sbuf_release(&log);
}

static void test_secrets_masked(void **state)
{
	const char *values[] = { "hunter2" };
	struct masker *m = masker_new(values, 1);
	struct stage_result r;
	struct sbuf log = SBUF_INIT;

	(void)state;
	run("printf 'pw=hunter2\\n'; printf 'hun'; printf 'ter2\\n'", 0, 0, m,
	    &r, &log);
	assert_null(strstr(log.buf, "hunter2"));
	assert_non_null(strstr(log.buf, "pw=***"));
	masker_free(m);
	sbuf_release(&log);
}

/*
 * A service a deploy command detaches survives it, every time and with
 * the CPU kept busy (the child of `setsid -f` may not have left the
 * group yet when the shell exits); what stays in the group is ended.
 */
/* The processes a test forks to load the CPU: ended by the teardown,
 * which runs however the test ends, and with the test's process. */
struct load {
	pid_t busy[2];
};

static int load_start(void **state)
{
	struct load *l = xcalloc(1, sizeof(*l));
	pid_t parent = getpid();

	for (int i = 0; i < 2; i++) {
		if ((l->busy[i] = fork()) == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			for (;;)
				;
		}
		if (l->busy[i] < 0)
			return -1;
	}
	*state = l;
	return 0;
}

static int load_stop(void **state)
{
	struct load *l = *state;

	for (int i = 0; l && i < 2; i++) {
		if (l->busy[i] > 0) {
			kill(l->busy[i], SIGKILL);
			waitpid(l->busy[i], NULL, 0);
		}
	}
	free(l);
	return 0;
}

static void test_detached_service_survives(void **state)
{
	char dir[] = "/tmp/runner-detach-XXXXXX";
	struct stage_result r;
	struct sbuf log = SBUF_INIT, pid = SBUF_INIT;
	int lost = 0;

	(void)state;	/* the load: load_start */
	assert_non_null(mkdtemp(dir));
	char *file = xasprintf("%s/pid", dir);
	char *script = xasprintf("rm -f %s; setsid -f sh -c 'echo $$ > %s.new "
	    "&& mv %s.new %s && exec sleep 30'", file, file, file, file);
	for (int i = 0; i < 200; i++) {
		char path[] = "/tmp/runner-stage-XXXXXX";
		int fd = mkstemp(path);
		struct stage_spec spec = {
			.script = script, .cwd = "/tmp", .envp = envp, .log_fd = fd,
			.kill_grace_ms = 200, .shutdown_grace_ms = 1000,
			.event_fd = -1, .keep_detached = 1,
		};
		assert_int_equal(stage_run(&spec, &r), 0);
		close(fd);
		unlink(path);
		assert_int_equal(r.exit_code, 0);
		/* the service writes its pid once it has left the group */
		int64_t until = mono_ms() + 5000;
		sbuf_reset(&pid);
		while (read_file(file, 64, &pid) < 0 && mono_ms() < until)
			poll(NULL, 0, 5);
		if (!pid.len || !alive(atoi(pid.buf))) {
			lost++;
			continue;
		}
		kill(atoi(pid.buf), SIGKILL);
	}
	assert_int_equal(lost, 0);
	free(script);
	free(file);
	rm_rf(dir);
	sbuf_release(&pid);
	sbuf_release(&log);
}

static void test_stray_in_group_ended(void **state)
{
	struct stage_result r;
	struct sbuf log = SBUF_INIT;
	char path[] = "/tmp/runner-stage-XXXXXX";
	int fd = mkstemp(path);
	struct stage_spec spec = {
		.script = "sleep 30 & echo $!", .cwd = "/tmp", .envp = envp,
		.log_fd = fd, .kill_grace_ms = 200, .shutdown_grace_ms = 1000,
		.event_fd = -1, .keep_detached = 1,
	};

	(void)state;
	assert_int_equal(stage_run(&spec, &r), 0);
	close(fd);
	assert_int_equal(read_file(path, 64, &log), 0);
	unlink(path);
	assert_true(atoi(log.buf) > 1);
	/* ended: gone at once, or within a moment of its SIGKILL */
	for (int i = 0; i < 200 && alive(atoi(log.buf)); i++)
		poll(NULL, 0, 10);
	assert_false(alive(atoi(log.buf)));
	sbuf_release(&log);
}

static void test_cannot_start(void **state)
{
	struct stage_spec spec = {
		.script = "true", .cwd = "/nonexistent/dir", .envp = envp,
		.log_fd = -1, .event_fd = -1,
	};
	struct stage_result r;

	(void)state;
	int fd = open("/dev/null", O_WRONLY);
	spec.log_fd = fd;
	stage_run(&spec, &r);
	close(fd);
	assert_int_equal(r.end, STAGE_SPAWN_FAILED);
	assert_non_null(strstr(error_last(), "/nonexistent/dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_code_and_log),
		cmocka_unit_test(test_timeout_ends_the_tree),
		cmocka_unit_test(test_log_cap),
		cmocka_unit_test(test_secrets_masked),
		cmocka_unit_test(test_cannot_start),
		cmocka_unit_test_setup_teardown(test_detached_service_survives,
		    load_start, load_stop),
		cmocka_unit_test(test_stray_in_group_ended),
	};
	stage_become_subreaper();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
