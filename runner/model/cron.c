/*
 * Cron expressions (cron.h): five fields, each `*`, a number, a range
 * `a-b`, any of them with a step `/n`, or a comma-separated list of
 * those. Day of month and day of week both restricted: either matches;
 * a field that starts with `*` (a star with a step too) is not
 * restricted, as in cron(8) (crontab(5): "if both fields are restricted
 * (i.e., don't start with *)"): "0 0 *\/2 * 1" runs on Mondays that are
 * odd days only.
 */
#include "cron.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; int lo, hi; } fields[5] = {
	{ "minute", 0, 59 }, { "hour", 0, 23 }, { "day of month", 1, 31 },
	{ "month", 1, 12 }, { "day of week", 0, 7 },
};

static int number(const char **p, int *out)
{
	char *end;
	long v;

	if (**p < '0' || **p > '9')
		return -1;
	v = strtol(*p, &end, 10);
	if (v > 1000)
		return -1;
	*p = end;
	*out = (int)v;
	return 0;
}

/* One field into the bits of `mask`; -1 with the reason in *why. */
static int field(const char *text, int k, uint64_t *mask, int *star,
    const char **why)
{
	const char *p = text;
	int lo = fields[k].lo, hi = fields[k].hi;

	*mask = 0;
	*star = *text == '*';
	for (;;) {
		int a, b, step = 1;
		if (*p == '*') {
			a = lo;
			b = hi;
			p++;
		} else if (number(&p, &a) == 0) {
			b = a;
			if (*p == '-') {
				p++;
				if (number(&p, &b) < 0)
					return *why = "a range needs two numbers", -1;
			}
		} else {
			return *why = "a field is *, a number or a range", -1;
		}
		if (*p == '/') {
			p++;
			if (number(&p, &step) < 0 || step < 1)
				return *why = "a step is a number from 1", -1;
		}
		if (a < lo || b > hi || a > b)
			return *why = "a value is out of the field's range", -1;
		for (int v = a; v <= b; v += step)
			*mask |= 1ULL << v;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p)
			return *why = "a field is *, a number or a range", -1;
		break;
	}
	if (k == 4 && (*mask & (1ULL << 7)))	/* 7 is Sunday too */
		*mask |= 1;
	return 0;
}

int cron_parse(const char *text, struct cron *c, char **why)
{
	char *copy = xstrdup(text), *p = copy, *tok;
	const char *reason = NULL;
	int k = 0, error = 0;

	memset(c, 0, sizeof(*c));
	*why = NULL;
	while (!error && (tok = strsep(&p, " \t"))) {
		if (!*tok)
			continue;
		if (k == 5) {
			reason = "more than five fields";
			error = -1;
			break;
		}
		if (field(tok, k, &c->mask[k], &c->star[k], &reason) < 0) {
			*why = xasprintf("%s: %s (%d to %d)", fields[k].name, reason,
			    fields[k].lo, fields[k].hi);
			error = -1;
			break;
		}
		k++;
	}
	if (!error && k < 5) {
		reason = "five fields: minute hour day-of-month month day-of-week";
		error = -1;
	}
	if (error && !*why)
		*why = xstrdup(reason);
	free(copy);
	return error;
}

static int day_matches(const struct cron *c, const struct tm *tm)
{
	int dom = (c->mask[2] >> tm->tm_mday) & 1;
	int dow = (c->mask[4] >> tm->tm_wday) & 1;

	if (!((c->mask[3] >> (tm->tm_mon + 1)) & 1))
		return 0;
	if (!c->star[2] && !c->star[4])
		return dom || dow;
	return dom && dow;
}

time_t cron_next(const struct cron *c, time_t after)
{
	struct tm tm;
	time_t t = after - after % 60 + 60;	/* the next whole minute */

	/* at most four years ahead (29 February on a Monday, say) */
	for (int days = 0; days < 4 * 366 + 1; days++) {
		localtime_r(&t, &tm);
		if (!day_matches(c, &tm)) {
			/* to the start of the next day */
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			tm.tm_mday++;
			tm.tm_isdst = -1;
			t = mktime(&tm);
			continue;
		}
		for (; tm.tm_hour < 24; tm.tm_hour++, tm.tm_min = 0) {
			if (!((c->mask[1] >> tm.tm_hour) & 1))
				continue;
			for (; tm.tm_min < 60; tm.tm_min++)
				if ((c->mask[0] >> tm.tm_min) & 1) {
					tm.tm_sec = 0;
					tm.tm_isdst = -1;
					return mktime(&tm);
				}
		}
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_mday++;
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	return 0;
}
