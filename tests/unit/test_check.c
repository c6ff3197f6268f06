/*
 * Unit tests of check.c: what an http check keeps of the body it got,
 * for the page of a failed deployment: its first HTTP_BODY_START bytes
 * at most, as text a store takes (valid UTF-8, control characters but
 * newlines and tabs as '?', a character cut by the bound left out),
 * from a real server on 127.0.0.1 (a child that answers once).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "util.h"

/* A server that answers one GET with `status` and `body` (`len` bytes):
 * its port; *pid the child's. */
static int serve_once(int status, const char *body, size_t len, pid_t *pid)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 1), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		char req[4096], head[256];
		int c = accept(s, NULL, NULL);
		if (c < 0 || read(c, req, sizeof(req)) <= 0)
			_exit(1);
		int n = snprintf(head, sizeof(head), "HTTP/1.0 %d X\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
		    len);
		if (write_all(c, head, (size_t)n) < 0 || write_all(c, body,
		    len) < 0)
			_exit(1);
		close(c);
		_exit(0);
	}
	close(s);
	return ntohs(sa.sin_port);
}

static void get(int status, const char *body, size_t len,
    struct http_result *r)
{
	pid_t pid;
	int port = serve_once(status, body, len, &pid), st;
	char *url = xasprintf("http://127.0.0.1:%d/health", port);

	assert_int_equal(http_get(url, 10000, r), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	free(url);
}

static void test_body_start_kept(void **state)
{
	struct http_result r;
	static const char json[] = "{\"status\":\"failing\"}\n";

	(void)state;
	get(500, json, strlen(json), &r);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, json);
}

static void test_body_bounded_and_text(void **state)
{
	struct http_result r;
	char big[4096];

	(void)state;
	/* controls and bytes that are no UTF-8 become '?'; UTF-8 stays */
	static const char odd[] = "a\tb\001c\xff" "d\xc3\xa9" "e\n";
	get(503, odd, sizeof(odd) - 1, &r);
	assert_string_equal(r.body, "a\tb?c?d\xc3\xa9" "e\n");
	/* a long body: its first HTTP_BODY_START bytes */
	memset(big, 'x', sizeof(big));
	get(500, big, sizeof(big), &r);
	assert_int_equal(strlen(r.body), HTTP_BODY_START);
	/* a character cut by the bound is left out, not made '?' */
	memset(big, 'y', HTTP_BODY_START - 1);
	memcpy(big + HTTP_BODY_START - 1, "\xc3\xa9zz", 4);
	get(500, big, HTTP_BODY_START + 3, &r);
	assert_int_equal(strlen(r.body), HTTP_BODY_START - 1);
	assert_int_equal(r.body[HTTP_BODY_START - 2], 'y');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_start_kept),
		cmocka_unit_test(test_body_bounded_and_text),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
