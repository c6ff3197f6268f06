/* Unit tests of figures.c (the figures of a verification window read
 * back) and of usage.c's reading of Prometheus's text format. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "figures.h"
#include "deploy_int.h"
#include "util.h"

static const char fig[] = "{\"window_ms\":4000,\"requests\":3,"
    "\"source\":\"the \\\"host\\\"\\n\",\"cpu\":{\"peak\":64.5,\"p95\":60,"
    "\"max\":40,\"ok\":false},\"memory\":{\"peak\":38526976,\"ok\":true},"
    "\"skip\":[{\"a\":\"}]\"},[1,2]],"
    "\"samples\":{\"t_ms\":[16,514,1014],\"cpu\":[null,50.2,64]},\"ok\":false}";

static void test_figures(void **state)
{
	double x = 0, *v = NULL;
	char *s;

	(void)state;
	assert_int_equal(figures_num(fig, "requests", &x), 0);
	assert_true(x == 3);
	assert_int_equal(figures_num(fig, "cpu.peak", &x), 0);
	assert_true(x == 64.5);
	assert_int_equal(figures_num(fig, "memory.peak", &x), 0);
	assert_true(x == 38526976);
	assert_int_equal(figures_num(fig, "memory.max", &x), -1);
	assert_int_equal(figures_num(fig, "source", &x), -1);
	assert_int_equal(figures_num(fig, "cpu.peak.x", &x), -1);
	assert_int_equal(figures_bool(fig, "cpu.ok"), 0);
	assert_int_equal(figures_bool(fig, "memory.ok"), 1);
	assert_int_equal(figures_bool(fig, "nothing"), -1);
	s = figures_str(fig, "source");
	assert_string_equal(s, "the \"host\"\n");
	free(s);
	/* after a member holding braces and brackets in a string */
	assert_int_equal(figures_array(fig, "samples.cpu", &v), 3);
	assert_true(v[0] == -1 && v[1] == 50.2 && v[2] == 64);
	free(v);
	assert_int_equal(figures_array(fig, "samples.memory", &v), 0);
	assert_null(v);
	/* an array is no number */
	assert_int_equal(figures_num(fig, "samples.t_ms", &x), -1);
	assert_int_equal(figures_bool(fig, "ok"), 0);
	/* cut short, or not JSON: nothing */
	assert_int_equal(figures_num("{\"a\":{\"b\":1", "a.c", &x), -1);
	assert_int_equal(figures_array("{\"a\":[1,2", "a", &v), 0);
	assert_int_equal(figures_num("[1]", "a", &x), -1);
	assert_int_equal(figures_num(NULL, "a", &x), -1);
	s = figures_str("{\"a\":\"x\\u0041\\u\"}", "a");
	assert_string_equal(s, "xAu");
	free(s);
}

static const char prom[] =
    "# HELP app_cpu_seconds_total CPU time.\n"
    "# TYPE app_cpu_seconds_total counter\n"
    "app_cpu_seconds_total{mode=\"user\",x=\"a}b\\\"\"} 1.5\n"
    "app_cpu_seconds_total{mode=\"system\"} 0.25 1700000000000\n"
    "app_cpu_seconds_total_other 99\n"
    "app_memory_bytes 1.2e+07\n"
    "app_nan NaN\n";

static void test_prometheus(void **state)
{
	double x = 0;

	(void)state;
	assert_int_equal(usage_prom_value(prom, "app_cpu_seconds_total", &x), 0);
	assert_true(x == 1.75);
	assert_int_equal(usage_prom_value(prom, "app_memory_bytes", &x), 0);
	assert_true(x == 12000000);
	assert_int_equal(usage_prom_value(prom, "app_cpu", &x), ERR_NOTFOUND);
	assert_int_equal(usage_prom_value(prom, "app_nan", &x), ERR_NOTFOUND);
	assert_int_equal(usage_prom_value("", "a", &x), ERR_NOTFOUND);
	/* the application's numbers: never an infinity into the window's
	 * figures, nor a sum past what a double holds */
	assert_int_equal(usage_prom_value("a 1\na{x=\"1\"} +Inf\n", "a", &x),
	    ERR_INVALID);
	assert_int_equal(usage_prom_value("a -Inf\n", "a", &x), ERR_INVALID);
	assert_int_equal(usage_prom_value("a 1e999\n", "a", &x), ERR_INVALID);
	assert_int_equal(usage_prom_value("a 1e308\na{b=\"c\"} 1e308\n", "a",
	    &x), ERR_INVALID);
	/* a line without its value takes none from the next line */
	assert_int_equal(usage_prom_value("a\t\n7\na{x=\"\\\n7}\nb 1\n", "a",
	    &x), ERR_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_figures),
		cmocka_unit_test(test_prometheus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
