/*
 * Cron expressions for runner.yml's schedules: "MIN HOUR DOM MONTH DOW",
 * each field `*`, `N`, `A-B`, with `/STEP`, or a list of those; day of
 * week 0-7 (0 and 7 Sunday); local time.
 */
#ifndef RUNNER_CRON_H
#define RUNNER_CRON_H

#include <stdint.h>
#include <time.h>

struct cron {
	uint64_t mask[5];	/* bit v: value v allowed */
	int star[5];		/* the field starts with "*" */
};

/* Parse; -1 with the reason in *why (caller frees). */
int cron_parse(const char *text, struct cron *c, char **why);
/* The first time after `after` (whole minutes) that matches; 0 if none
 * within four years (a 31 February). */
time_t cron_next(const struct cron *c, time_t after);

#endif
