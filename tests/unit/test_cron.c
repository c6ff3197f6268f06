/*
 * Unit tests of cron.c against the rules of cron(8) as crontab(5)
 * documents them: fields, ranges, steps, lists, 0 and 7 for Sunday, and
 * the day rule (both day fields restricted: either matches; a field that
 * starts with `*` is not restricted, so then both must match). In UTC.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "util.h"

/* "YYYY-MM-DD HH:MM" in UTC */
static time_t at(const char *s)
{
	struct tm tm = { 0 };

	assert_non_null(strptime(s, "%Y-%m-%d %H:%M", &tm));
	return timegm(&tm);
}

static char *show(time_t t)
{
	static char buf[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M %a", &tm);
	return buf;
}

/* the next `n` times of `expr` after `from`, one a line */
static void expect(const char *expr, const char *from, const char *want)
{
	struct sbuf got = SBUF_INIT;
	struct cron c;
	char *why = NULL;
	time_t t = at(from);
	size_t n = 0;

	if (cron_parse(expr, &c, &why) < 0)
		fail_msg("'%s': %s", expr, why);
	for (const char *p = want; *p; p++)
		n += *p == '\n';
	for (size_t i = 0; i < n; i++) {
		t = cron_next(&c, t);
		sbuf_addf(&got, "%s\n", t ? show(t) : "none");
	}
	if (strcmp(got.buf, want))
		fail_msg("'%s' after %s:\nwant:\n%sgot:\n%s", expr, from, want,
		    got.buf);
	sbuf_release(&got);
}

static void test_fields(void **state)
{
	(void)state;
	expect("*/15 * * * *", "2026-03-01 10:07",
	    "2026-03-01 10:15 Sun\n2026-03-01 10:30 Sun\n"
	    "2026-03-01 10:45 Sun\n2026-03-01 11:00 Sun\n");
	/* a whole minute is never its own next */
	expect("0 12 * * *", "2026-03-01 12:00",
	    "2026-03-02 12:00 Mon\n");
	expect("5,10-12,50-59/5 3 * * *", "2026-03-01 00:00",
	    "2026-03-01 03:05 Sun\n2026-03-01 03:10 Sun\n"
	    "2026-03-01 03:11 Sun\n2026-03-01 03:12 Sun\n"
	    "2026-03-01 03:50 Sun\n2026-03-01 03:55 Sun\n"
	    "2026-03-02 03:05 Mon\n");
	expect("0 0 1 */4 *", "2026-01-15 00:00",
	    "2026-05-01 00:00 Fri\n2026-09-01 00:00 Tue\n"
	    "2027-01-01 00:00 Fri\n");
	/* 0 and 7 are both Sunday */
	expect("0 9 * * 7", "2026-03-02 00:00", "2026-03-08 09:00 Sun\n");
	expect("0 9 * * 0", "2026-03-02 00:00", "2026-03-08 09:00 Sun\n");
	expect("0 9 * * 5-7", "2026-03-02 00:00",
	    "2026-03-06 09:00 Fri\n2026-03-07 09:00 Sat\n"
	    "2026-03-08 09:00 Sun\n2026-03-13 09:00 Fri\n");
	/* 29 February: the next leap year */
	expect("0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00 Tue\n");
	/* 31 February never comes */
	expect("0 0 31 2 *", "2026-03-01 00:00", "none\n");
}

/*
 * crontab(5): "If both fields are restricted (i.e., don't start with *),
 * the command will be run when either field matches the current time.
 * For example, 30 4 1,15 * 5 would cause a command to be run at 4:30 am
 * on the 1st and 15th of each month, plus every Friday."
 */
static void test_day_rule(void **state)
{
	(void)state;
	expect("30 4 1,15 * 5", "2026-03-01 05:00",
	    "2026-03-06 04:30 Fri\n2026-03-13 04:30 Fri\n"
	    "2026-03-15 04:30 Sun\n2026-03-20 04:30 Fri\n"
	    "2026-03-27 04:30 Fri\n2026-04-01 04:30 Wed\n");
	/* one of them `*`: only the other restricts */
	expect("0 0 * * 1", "2026-03-01 00:00",
	    "2026-03-02 00:00 Mon\n2026-03-09 00:00 Mon\n");
	expect("0 0 13 * *", "2026-03-01 00:00",
	    "2026-03-13 00:00 Fri\n2026-04-13 00:00 Mon\n");
	/* `*` with a step starts with `*`: not restricted, so both must
	 * match: odd days that are Mondays */
	expect("0 0 */2 * 1", "2026-03-01 00:00",
	    "2026-03-09 00:00 Mon\n2026-03-23 00:00 Mon\n"
	    "2026-04-13 00:00 Mon\n");
	/* the first of a month that is a Sunday, Tuesday, Thursday or
	 * Saturday */
	expect("0 0 1 * */2", "2026-01-01 00:00",
	    "2026-02-01 00:00 Sun\n2026-03-01 00:00 Sun\n"
	    "2026-08-01 00:00 Sat\n2026-09-01 00:00 Tue\n");
}

static void test_errors(void **state)
{
	static const struct { const char *expr, *why; } bad[] = {
		{ "* * * *", "five fields: minute hour day-of-month month "
		  "day-of-week" },
		{ "* * * * * *", "more than five fields" },
		{ "60 * * * *", "minute: a value is out of the field's range "
		  "(0 to 59)" },
		{ "* 24 * * *", "hour: a value is out of the field's range "
		  "(0 to 23)" },
		{ "* * 0 * *", "day of month: a value is out of the field's "
		  "range (1 to 31)" },
		{ "* * * 13 *", "month: a value is out of the field's range "
		  "(1 to 12)" },
		{ "* * * * 8", "day of week: a value is out of the field's "
		  "range (0 to 7)" },
		{ "5-1 * * * *", "minute: a value is out of the field's range "
		  "(0 to 59)" },
		{ "*/0 * * * *", "minute: a step is a number from 1 (0 to 59)" },
		{ "1- * * * *", "minute: a range needs two numbers (0 to 59)" },
		{ "mon * * * *", "minute: a field is *, a number or a range "
		  "(0 to 59)" },
		{ "1,,2 * * * *", "minute: a field is *, a number or a range "
		  "(0 to 59)" },
		{ "", "five fields: minute hour day-of-month month "
		  "day-of-week" },
	};
	struct cron c;
	char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		why = NULL;
		if (cron_parse(bad[i].expr, &c, &why) == 0)
			fail_msg("'%s' was taken", bad[i].expr);
		assert_non_null(why);
		if (strcmp(why, bad[i].why))
			fail_msg("'%s': want '%s', got '%s'", bad[i].expr,
			    bad[i].why, why);
		free(why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_day_rule),
		cmocka_unit_test(test_errors),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
