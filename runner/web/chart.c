/*
 * Charts as inline SVG (chart.h): the primitives, and the three charts of
 * the pages, a job's stage timeline, a branch's trend of build durations
 * and an environment's history of what served. Everything from the store
 * or a repository is escaped for XML; numbers are written with one
 * decimal at most, so a chart of 50 marks stays a few KB.
 */
#include "chart.h"
#include "jobs.h"
#include "state.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The rows of a stage timeline at most, then "and N more". */
#define CHART_ROWS 40

void chart_esc(struct sbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '<': sbuf_adds(sb, "&lt;"); break;
		case '>': sbuf_adds(sb, "&gt;"); break;
		case '&': sbuf_adds(sb, "&amp;"); break;
		case '"': sbuf_adds(sb, "&quot;"); break;
		case '\'': sbuf_adds(sb, "&#39;"); break;
		default:
			if (c >= 0x20 && c != 0x7f)
				sbuf_addch(sb, (char)c);
			else if (c == '\t' || c == '\n')
				sbuf_addch(sb, ' ');
		}
	}
}

/* A number of px: an integer when it is one, else one decimal. */
static void num(struct sbuf *sb, double v)
{
	long long t = (long long)(v * 10 + (v < 0 ? -0.5 : 0.5));

	if (t % 10)
		sbuf_addf(sb, "%s%lld.%lld", t < 0 && t > -10 ? "-" : "", t / 10,
		    llabs(t % 10));
	else
		sbuf_addf(sb, "%lld", t / 10);
}

double chart_scale(double v, double lo, double hi, double px0, double px1)
{
	if (hi <= lo)
		return px0;
	if (v < lo)
		v = lo;
	if (v > hi)
		v = hi;
	return px0 + (v - lo) / (hi - lo) * (px1 - px0);
}

const char *chart_color(const char *state)
{
	static const struct { const char *name, *color; } colors[] = {
		{ N_PASSED, "#2e7d32" }, { N_HEALTHY, "#2e7d32" },
		{ N_FAILED, "#c62828" }, { N_ERROR, "#c62828" },
		{ N_TIMED_OUT, "#c62828" }, { N_ROLLED_BACK, "#c62828" },
		{ N_RUNNING, "#1565c0" }, { N_DEPLOYING, "#1565c0" },
		{ N_QUEUED, "#6d4c41" }, { N_PENDING, "#6d4c41" },
	};

	for (size_t i = 0; state && i < sizeof(colors) / sizeof(*colors); i++)
		if (!strcmp(colors[i].name, state))
			return colors[i].color;
	return "#757575";
}

void chart_begin(struct sbuf *sb, const char *id, const char *cls, int w,
    int h, const char *label, const char *desc)
{
	sbuf_adds(sb, "<svg xmlns='http://www.w3.org/2000/svg' id='");
	chart_esc(sb, id);
	sbuf_adds(sb, "' class='chart ");
	chart_esc(sb, cls);
	sbuf_addf(sb, "' width='%d' height='%d' viewBox='0 0 %d %d' role='img' "
	    "aria-label='", w, h, w, h);
	chart_esc(sb, label);
	sbuf_adds(sb, "' font-family='system-ui,sans-serif' font-size='11'>"
	    "<title>");
	chart_esc(sb, label);
	sbuf_adds(sb, "</title><desc>");
	chart_esc(sb, desc);
	sbuf_adds(sb, "</desc>");
}

void chart_end(struct sbuf *sb)
{
	sbuf_adds(sb, "</svg>");
}

static void tip_of(struct sbuf *sb, const char *tip, const char *tag)
{
	if (!tip) {
		sbuf_adds(sb, "/>");
		return;
	}
	sbuf_adds(sb, "><title>");
	chart_esc(sb, tip);
	sbuf_addf(sb, "</title></%s>", tag);
}

void chart_bar(struct sbuf *sb, const char *cls, const char *fill, double x,
    double y, double w, double h, const char *tip)
{
	sbuf_adds(sb, "<rect class='mark ");
	chart_esc(sb, cls);
	sbuf_adds(sb, "' x='");
	num(sb, x);
	sbuf_adds(sb, "' y='");
	num(sb, y);
	sbuf_adds(sb, "' width='");
	num(sb, w < 1 ? 1 : w);
	sbuf_adds(sb, "' height='");
	num(sb, h < 1 ? 1 : h);
	sbuf_adds(sb, "' fill='");
	chart_esc(sb, fill);
	sbuf_adds(sb, "'");
	tip_of(sb, tip, "rect");
}

void chart_dot(struct sbuf *sb, const char *cls, const char *fill, double x,
    double y, double r, const char *tip)
{
	sbuf_adds(sb, "<circle class='mark ");
	chart_esc(sb, cls);
	sbuf_adds(sb, "' cx='");
	num(sb, x);
	sbuf_adds(sb, "' cy='");
	num(sb, y);
	sbuf_adds(sb, "' r='");
	num(sb, r);
	sbuf_adds(sb, "' fill='");
	chart_esc(sb, fill);
	sbuf_adds(sb, "'");
	tip_of(sb, tip, "circle");
}

void chart_polyline(struct sbuf *sb, const char *cls, const char *stroke,
    const double *xy, size_t n)
{
	sbuf_adds(sb, "<polyline class='");
	chart_esc(sb, cls);
	sbuf_adds(sb, "' fill='none' stroke-width='1.5' stroke='");
	chart_esc(sb, stroke);
	sbuf_adds(sb, "' points='");
	for (size_t i = 0; i < n; i++) {
		sbuf_adds(sb, i ? " " : "");
		num(sb, xy[2 * i]);
		sbuf_addch(sb, ',');
		num(sb, xy[2 * i + 1]);
	}
	sbuf_adds(sb, "'/>");
}

void chart_line(struct sbuf *sb, double x1, double y1, double x2, double y2)
{
	sbuf_adds(sb, "<line class='axis' stroke='#9e9e9e' x1='");
	num(sb, x1);
	sbuf_adds(sb, "' y1='");
	num(sb, y1);
	sbuf_adds(sb, "' x2='");
	num(sb, x2);
	sbuf_adds(sb, "' y2='");
	num(sb, y2);
	sbuf_adds(sb, "'/>");
}

void chart_text(struct sbuf *sb, double x, double y, const char *anchor,
    const char *text)
{
	sbuf_adds(sb, "<text fill='#222' x='");
	num(sb, x);
	sbuf_adds(sb, "' y='");
	num(sb, y);
	sbuf_addf(sb, "' text-anchor='%s'>", anchor);
	chart_esc(sb, text);
	sbuf_adds(sb, "</text>");
}

/* At most `max` bytes of s, cut before a character (UTF-8), with "…". */
static char *shorten(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return xstrdup(s);
	while (max && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return xasprintf("%.*s…", (int)max, s);
}

/* A time of day, as the pages write it (local time). */
static void at(struct sbuf *sb, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];

	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	sbuf_adds(sb, buf);
}

static char *duration(int64_t ms)
{
	struct sbuf sb = SBUF_INIT;

	format_duration(&sb, ms < 0 ? 0 : ms);
	return sbuf_detach(&sb);
}

/* ---- a job's stages ---- */

void chart_stages(struct sbuf *sb, const struct job *j)
{
	const double left = 130, right = CHART_W - 60, row = 18;
	int64_t lo = 0, hi = 0, now = now_ms();
	size_t rows = 0, started = 0;
	struct sbuf desc = SBUF_INIT, tip = SBUF_INIT;

	for (size_t i = 0; i < j->nstages; i++) {
		const struct stage_rec *s = &j->stages[i];
		int64_t end = s->finished_ms ? s->finished_ms : now;
		if (!s->started_ms)
			continue;
		started++;
		if (!lo || s->started_ms < lo)
			lo = s->started_ms;
		if (end > hi)
			hi = end;
	}
	if (!started)
		return;
	rows = started < CHART_ROWS ? started : CHART_ROWS;
	sbuf_addf(&desc, "%zu %s on one time axis over ", started,
	    j->kind == KIND_DEPLOY ? "steps" : "stages");
	format_duration(&desc, hi - lo);
	sbuf_adds(&desc, ":");
	for (size_t i = 0, k = 0; i < j->nstages; i++) {
		const struct stage_rec *s = &j->stages[i];
		if (!s->started_ms || k++ >= CHART_ROWS)
			continue;
		sbuf_adds(&desc, k > 1 ? "; " : " ");
		sbuf_addf(&desc, "%s %s, from ", s->name,
		    step_state_name(s->state));
		format_duration(&desc, s->started_ms - lo);
		sbuf_adds(&desc, " for ");
		format_duration(&desc, (s->finished_ms ? s->finished_ms : now) -
		    s->started_ms);
	}
	sbuf_adds(sb, "<h2>Timeline</h2>");
	chart_begin(sb, "stage-chart", "timeline", CHART_W,
	    (int)(row * (double)rows + 24 + (started > rows ? row : 0)),
	    j->kind == KIND_DEPLOY ? "timeline of the steps" :
	    "timeline of the stages", desc.buf);
	for (size_t i = 0, k = 0; i < j->nstages && k < CHART_ROWS; i++) {
		const struct stage_rec *s = &j->stages[i];
		int64_t end = s->finished_ms ? s->finished_ms : now;
		const char *state = step_state_name(s->state);
		double y = 4 + row * (double)k, x0, x1;
		char *name, *d, *cls;
		if (!s->started_ms)
			continue;
		k++;
		x0 = chart_scale((double)(s->started_ms - lo), 0,
		    (double)(hi - lo), left, right);
		x1 = chart_scale((double)(end - lo), 0, (double)(hi - lo), left,
		    right);
		name = shorten(s->name, 20);
		d = duration(end - s->started_ms);
		chart_text(sb, left - 6, y + 11, "end", name);
		sbuf_reset(&tip);
		sbuf_addf(&tip, "%s: %s, %s", s->name, state, d);
		cls = xasprintf("stage %s", state);
		chart_bar(sb, cls, chart_color(state), x0, y, x1 - x0, row - 4,
		    tip.buf);
		chart_text(sb, x1 + 4 > right ? right + 4 : x1 + 4, y + 11,
		    "start", d);
		free(cls);
		free(name);
		free(d);
	}
	if (started > rows) {
		char *more = xasprintf("and %zu more", started - rows);
		chart_text(sb, left, row * (double)rows + 15, "start", more);
		free(more);
	}
	{
		double y = row * (double)(started > rows ? rows + 1 : rows) + 8;
		char *all = duration(hi - lo);
		chart_line(sb, left, y, right, y);
		chart_text(sb, left, y + 12, "start", "0s");
		chart_text(sb, right, y + 12, "end", all);
		free(all);
	}
	chart_end(sb);
	sbuf_release(&desc);
	sbuf_release(&tip);
}

/* ---- a branch's builds ---- */

void chart_trend(struct sbuf *sb, struct job *const *v, size_t n)
{
	const double left = 50, right = CHART_W - 10, top = 8, bottom = 110;
	const struct job *pick[CHART_TREND];
	size_t k = 0, counts[JOB_STATES] = { 0 };
	int64_t max = 0, now = now_ms();
	struct sbuf desc = SBUF_INIT, tip = SBUF_INIT;
	char *top_label;

	for (size_t i = 0; i < n && k < CHART_TREND; i++) {
		const struct job *j = v[i];
		int64_t d;
		if (j->kind != KIND_BUILD || !j->started_ms)
			continue;
		d = (j->finished_ms ? j->finished_ms : now) - j->started_ms;
		if (d > max)
			max = d;
		counts[j->state]++;
		pick[k++] = j;
	}
	if (!k)
		return;
	sbuf_addf(&desc, "the duration of the last %zu build%s, oldest first, "
	    "longest ", k, k == 1 ? "" : "s");
	format_duration(&desc, max);
	for (int s = 0; s < JOB_STATES; s++)
		if (counts[s])
			sbuf_addf(&desc, ", %zu %s", counts[s],
			    job_state_name((enum job_state)s));
	sbuf_adds(sb, "<h2>Trend</h2>");
	chart_begin(sb, "trend-chart", "trend", CHART_W, 130,
	    "build durations", desc.buf);
	chart_line(sb, left, bottom, right, bottom);
	chart_line(sb, left, top, left, bottom);
	top_label = duration(max);
	chart_text(sb, left - 4, top + 8, "end", top_label);
	chart_text(sb, left - 4, bottom, "end", "0s");
	chart_text(sb, left, bottom + 14, "start", "older");
	chart_text(sb, right, bottom + 14, "end", "newer");
	for (size_t i = 0; i < k; i++) {
		const struct job *j = pick[k - 1 - i];
		const char *state = job_state_name(j->state);
		double slot = (right - left) / CHART_TREND;
		double x = left + 2 + slot * (double)i;
		int64_t d = (j->finished_ms ? j->finished_ms : now) - j->started_ms;
		double h = chart_scale((double)d, 0, (double)max, 0, bottom - top);
		char *cls = xasprintf("build %s", state);
		sbuf_reset(&tip);
		sbuf_addf(&tip, "#%lld %.7s %s, ", (long long)j->id, j->commit,
		    state);
		format_duration(&tip, d);
		chart_bar(sb, cls, chart_color(state), x, bottom - h, slot - 2, h,
		    tip.buf);
		free(cls);
	}
	chart_end(sb);
	free(top_label);
	sbuf_release(&desc);
	sbuf_release(&tip);
}

/* ---- an environment's releases ---- */

void chart_served(struct sbuf *sb, struct job *const *rel, size_t n)
{
	static const char *const fills[] = { "#1565c0", "#00695c", "#6a1b9a",
	    "#ad1457", "#4e342e", "#283593" };
	const double left = 10, right = CHART_W - 10, y = 8, h = 26;
	const struct job *served[CHART_TREND];
	size_t k = 0;
	int64_t lo, hi = now_ms();
	struct sbuf desc = SBUF_INIT, tip = SBUF_INIT;

	/* newest first: the first CHART_TREND that served */
	for (size_t i = 0; i < n && k < CHART_TREND; i++)
		if (rel[i]->state == JOB_HEALTHY && rel[i]->finished_ms)
			served[k++] = rel[i];
	if (!k)
		return;
	lo = served[k - 1]->finished_ms;
	sbuf_addf(&desc, "%zu release%s served, oldest first:", k,
	    k == 1 ? "" : "s");
	for (size_t i = k; i-- > 0;) {
		const struct job *j = served[i];
		int64_t until = i ? served[i - 1]->finished_ms : hi;
		sbuf_addf(&desc, "%s #%lld %.7s%s%s for ", i + 1 < k ? ";" : "",
		    (long long)j->id, j->commit, j->tag ? " " : "",
		    j->tag ? j->tag : "");
		format_duration(&desc, until - j->finished_ms);
		sbuf_adds(&desc, i ? "" : " (serving now)");
	}
	sbuf_adds(sb, "<h2>Served</h2>");
	chart_begin(sb, "served-chart", "served", CHART_W, 62,
	    "which release served when", desc.buf);
	for (size_t i = k; i-- > 0;) {
		const struct job *j = served[i];
		int64_t until = i ? served[i - 1]->finished_ms : hi;
		double x0 = chart_scale((double)(j->finished_ms - lo), 0,
		    (double)(hi - lo), left, right);
		double x1 = chart_scale((double)(until - lo), 0, (double)(hi - lo),
		    left, right);
		const char *fill = fills[(size_t)j->id % (sizeof(fills) /
		    sizeof(*fills))];
		sbuf_reset(&tip);
		sbuf_addf(&tip, "#%lld %.7s%s%s, from ", (long long)j->id,
		    j->commit, j->tag ? " " : "", j->tag ? j->tag : "");
		at(&tip, j->finished_ms);
		sbuf_adds(&tip, i ? ", for " : ", serving now, for ");
		format_duration(&tip, until - j->finished_ms);
		chart_bar(sb, i ? "release" : "release serving", fill, x0, y,
		    x1 - x0, h, tip.buf);
		if (x1 - x0 >= 60) {
			char *label = j->tag ? shorten(j->tag, 12) :
			    xasprintf("%.7s", j->commit);
			sbuf_adds(sb, "<text fill='#fff' x='");
			num(sb, x0 + 4);
			sbuf_adds(sb, "' y='");
			num(sb, y + 17);
			sbuf_adds(sb, "'>");
			chart_esc(sb, label);
			sbuf_adds(sb, "</text>");
			free(label);
		}
	}
	chart_line(sb, left, y + h + 4, right, y + h + 4);
	{
		struct sbuf from = SBUF_INIT;
		at(&from, lo);
		chart_text(sb, left, y + h + 18, "start", from.buf);
		chart_text(sb, right, y + h + 18, "end", "now");
		sbuf_release(&from);
	}
	chart_end(sb);
	sbuf_release(&desc);
	sbuf_release(&tip);
}
