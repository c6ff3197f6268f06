/*
 * Golden tests of the pipeline parser: each fixtures/pipelines/NAME.yml has
 * NAME.out (the dump of a valid file) or NAME.err (the exact message).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "util.h"

static const char *dir;

static void check_one(const char *name)
{
	char *yml = xasprintf("%s/%s.yml", dir, name);
	char *out = xasprintf("%s/%s.out", dir, name);
	char *err = xasprintf("%s/%s.err", dir, name);
	struct sbuf in = SBUF_INIT, want = SBUF_INIT, got = SBUF_INIT;
	struct pipeline *pl = NULL;

	assert_int_equal(read_file(yml, 64 << 20, &in), 0);
	int rc = pipeline_parse(".runner.yml", in.buf, in.len, &pl);
	char *msg = xstrdup(error_last());
	if (read_file(out, 1 << 20, &want) == 0) {
		if (rc < 0)
			fail_msg("%s: unexpected error: %s", name, error_last());
		pipeline_dump(pl, 30 * 60 * 1000, &got);
	} else {
		sbuf_reset(&want);
		if (read_file(err, 1 << 20, &want) < 0)
			fail_msg("%s: neither .out nor .err beside it", name);
		if (rc == 0)
			fail_msg("%s: parsed, but an error was expected", name);
		sbuf_addf(&got, "%s\n", msg);
	}
	if (strcmp(want.buf, got.buf))
		fail_msg("%s:\nwant: %sgot:  %s", name, want.buf, got.buf);
	pipeline_free(pl);
	free(msg);
	sbuf_release(&in);
	sbuf_release(&want);
	sbuf_release(&got);
	free(yml);
	free(out);
	free(err);
}

static void test_golden(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".yml"))
			continue;
		char *name = xstrndup(de->d_name, len - 4);
		check_one(name);
		free(name);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
}

static void test_alias_bomb(void **state)
{
	struct sbuf sb = SBUF_INIT;
	struct pipeline *pl = NULL;

	(void)state;
	sbuf_adds(&sb, "a: &a [x, x, x, x, x, x, x, x, x]\n");
	for (int i = 0; i < 9; i++)
		sbuf_addf(&sb, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n",
		    'b' + i, 'b' + i, 'a' + i, 'a' + i, 'a' + i, 'a' + i,
		    'a' + i, 'a' + i, 'a' + i, 'a' + i);
	assert_int_equal(pipeline_parse("x.yml", sb.buf, sb.len, &pl),
	    ERR_INVALID);
	assert_non_null(strstr(error_last(), "aliases are not supported"));
	sbuf_release(&sb);
}

static void test_deep_nesting(void **state)
{
	struct sbuf sb = SBUF_INIT;
	struct pipeline *pl = NULL;

	(void)state;
	for (int i = 0; i < 10000; i++)
		sbuf_addch(&sb, '[');
	assert_int_equal(pipeline_parse("x.yml", sb.buf, sb.len, &pl),
	    ERR_INVALID);
	assert_non_null(strstr(error_last(), "deeper than"));
	sbuf_release(&sb);
}

static void test_too_big(void **state)
{
	size_t n = PIPELINE_MAX_BYTES + 1;
	char *buf = xmalloc(n);
	struct pipeline *pl = NULL;

	(void)state;
	memset(buf, '#', n);
	assert_int_equal(pipeline_parse("x.yml", buf, n, &pl), ERR_INVALID);
	assert_non_null(strstr(error_last(), "larger than"));
	free(buf);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_too_big),
	};
	dir = argc > 1 ? argv[1] : "fixtures/pipelines";
	return cmocka_run_group_tests(tests, NULL, NULL);
}
