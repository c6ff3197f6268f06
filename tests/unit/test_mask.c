/* Unit tests of mask.c: secrets masked in streamed output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"
#include "util.h"

/* Feed `in` to a masker in pieces of `step` bytes; return the output. */
static char *masked(struct masker *m, const char *in, size_t step)
{
	struct sbuf out = SBUF_INIT;
	size_t len = strlen(in);

	for (size_t i = 0; i < len; i += step)
		masker_feed(m, in + i, len - i < step ? len - i : step, &out);
	masker_flush(m, &out);
	return sbuf_detach(&out);
}

static void test_plain_and_split(void **state)
{
	const char *v[] = { "hunter2-s3cret", "tok" };
	struct masker *m = masker_new(v, 2);
	const char *in = "login with hunter2-s3cret, again hunter2-s3cret\n"
	    "and half hunter2-s3 of it, tok stays (too short)\n";
	const char *want = "login with ***, again ***\n"
	    "and half hunter2-s3 of it, tok stays (too short)\n";

	(void)state;
	assert_non_null(m);
	/* whatever the pieces, the same result */
	for (size_t step = 1; step <= strlen(in); step++) {
		char *out = masked(m, in, step);
		assert_string_equal(out, want);
		free(out);
	}
	masker_free(m);
	const char *short_only[] = { "abc" };
	assert_null(masker_new(short_only, 1));
}

static void test_encoded_forms(void **state)
{
	const char *v[] = { "p@ss w/rd:42!" };
	struct masker *m = masker_new(v, 1);
	char *out;

	(void)state;
	/* echo -n 'p@ss w/rd:42!' | base64 */
	out = masked(m, "b64 cEBzcyB3L3JkOjQyIQ== end", 3);
	assert_null(strstr(out, "cEBzcyB3L3JkOjQy"));
	assert_string_equal(out, "b64 ***Q== end");
	free(out);
	/* inside a longer base64 text, at each alignment */
	const char *shifted[] = {
		"eHA=",				/* not it */
		"eHBAc3Mgdy9yZDo0MiE=",		/* "x" + value */
		"eHlwQHNzIHcvcmQ6NDIh",		/* "xy" + value */
	};
	for (int k = 1; k < 3; k++) {
		out = masked(m, shifted[k], 5);
		assert_non_null(strstr(out, "***"));
		free(out);
	}
	out = masked(m, shifted[0], 5);
	assert_string_equal(out, "eHA=");
	free(out);
	/* URL-encoded, upper and lower case hex */
	out = masked(m, "?t=p%40ss%20w%2Frd%3A42%21&u=p%40ss%20w%2frd%3a42%21",
	    7);
	assert_string_equal(out, "?t=***&u=***");
	free(out);
	masker_free(m);
}

static void test_apply(void **state)
{
	const char *v[] = { "abcdef", "abcdefgh" };
	struct masker *m = masker_new(v, 2);
	struct sbuf sb = SBUF_INIT;

	(void)state;
	/* the longer value wins, the shorter is still masked alone */
	masker_feed(m, "abcdefgh abcdef abcde", 21, &sb);
	masker_flush(m, &sb);
	assert_string_equal(sb.buf, "*** *** abcde");
	sbuf_release(&sb);
	masker_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_and_split),
		cmocka_unit_test(test_encoded_forms),
		cmocka_unit_test(test_apply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
