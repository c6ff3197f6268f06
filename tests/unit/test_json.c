/* Unit tests of json.c (the writer, escaping of text that comes from
 * pushes) and of the records' JSON shapes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "json.h"
#include "jobs.h"
#include "util.h"
#include "records.h"

static void test_escape(void **state)
{
	struct sbuf sb = SBUF_INIT;

	(void)state;
	json_str(&sb, "say \"hi\"\n\tback\\slash \x01 caf\xc3\xa9 \xe2\x9c\x93 \xff");
	assert_string_equal(sb.buf, "\"say \\\"hi\\\"\\n\\tback\\\\slash "
	    "\\u0001 caf\xc3\xa9 \xe2\x9c\x93 \\ufffd\"");
	sbuf_reset(&sb);
	json_str(&sb, NULL);
	assert_string_equal(sb.buf, "null");
	sbuf_release(&sb);
}

static void test_job(void **state)
{
	struct stage_rec st = { 0, "unit", STEP_PASSED, 0, NULL, "/l", 1000,
	    1012 };
	struct artifact_rec a = { "/a.tar.zst", 123, "ab", 2, 0 };
	struct job j = {
		.id = 7, .kind = KIND_BUILD, .repo = "/r.git",
		.ref = "refs/heads/develop",
		.commit = "c0ffee", .state = JOB_PASSED, .attempt = 1,
		.created_ms = 5, .stages = &st, .nstages = 1,
		.artifacts = &a, .nartifacts = 1,
	};
	struct sbuf sb = SBUF_INIT;
	struct json w;

	(void)state;
	json_init(&w, &sb);
	json_job(&w, NULL, &j);
	assert_non_null(strstr(sb.buf, "{\"id\":7,\"kind\":\"build\",\"repo\":\"/r.git\""));
	assert_non_null(strstr(sb.buf, "\"error\":null"));
	assert_non_null(strstr(sb.buf, "\"stages\":[{\"name\":\"unit\","
	    "\"state\":\"passed\",\"exit_code\":0,\"duration_ms\":12"));
	assert_non_null(strstr(sb.buf, "\"artifacts\":[{\"path\":\"/a.tar.zst\","
	    "\"size\":123,\"files\":2,\"sha256\":\"ab\","
	    "\"provenance\":false}]"));
	sbuf_release(&sb);
}

/* Commas, keys and nesting come from the writer alone. */
static void test_writer(void **state)
{
	struct sbuf sb = SBUF_INIT;
	struct json w;

	(void)state;
	json_init(&w, &sb);
	json_obj(&w, NULL);
	json_int(&w, "id", -3);
	json_id(&w, "none", 0);
	json_arr(&w, "empty");
	json_end(&w);
	json_arr(&w, "list");
	json_string(&w, NULL, "a");
	json_bool(&w, NULL, 1);
	json_null(&w, NULL);
	json_obj(&w, NULL);
	json_end(&w);
	json_raw(&w, NULL, "{\"x\":1}");
	json_end(&w);
	json_string(&w, "k\"ey", NULL);
	json_raw(&w, "raw", NULL);
	json_end(&w);
	assert_string_equal(sb.buf, "{\"id\":-3,\"none\":null,\"empty\":[],"
	    "\"list\":[\"a\",true,null,{},{\"x\":1}],\"k\\\"ey\":null,"
	    "\"raw\":null}");
	/* a second document into the same buffer starts afresh */
	json_init(&w, &sb);
	json_arr(&w, NULL);
	json_int(&w, NULL, 1);
	json_end(&w);
	assert_string_equal(sb.buf + sb.len - 3, "[1]");
	sbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_job),
		cmocka_unit_test(test_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
