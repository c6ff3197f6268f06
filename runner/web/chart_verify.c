/*
 * A deployment's verification window as a chart (chart.h): four small
 * panels over the same time axis, the p95 latency and the error rate of
 * its checks so far, and the CPU and memory of what it runs, each a line
 * of its samples (class "mark series NAME") against its limit (a red
 * line of class "limit"), read from the figures the deployment recorded
 * (figures.h).
 */
#include "chart.h"
#include "figures.h"
#include "jobs.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PANEL_H 64
#define PANEL_GAP 22
#define LEFT 110
#define RIGHT (CHART_W - 90)

struct panel {
	const char *name;	/* its class */
	const char *label;
	const char *series;	/* samples.NAME */
	const char *limit;	/* the figures' member, or NULL */
	double scale;		/* limit and values in the shown unit */
	const char *unit;
	const char *color;
};

static const struct panel panels[] = {
	{ "latency", "latency p95", "samples.p95_ms", "max_latency_ms", 1, "ms",
	    "#1565c0" },
	{ "errors", "error rate", "samples.error_rate", "max_error_rate", 100,
	    "%", "#6a1b9a" },
	{ "cpu", "CPU", "samples.cpu", "cpu.max", 1, "%", "#2e7d32" },
	{ "memory", "memory", "samples.memory", "memory.max", 1.0 / 1048576,
	    "MB", "#6d4c41" },
};
#define NPANELS (sizeof(panels) / sizeof(*panels))

static void value(struct sbuf *sb, double v, const char *unit)
{
	sbuf_addf(sb, v >= 100 || v == (long long)v ? "%.0f %s" : "%.2g %s", v,
	    unit);
}

/* One panel at `top`: its name, its axis, its limit and its line. */
static void panel(struct sbuf *sb, const struct panel *p, double top,
    const char *fig, const double *t, size_t n, double tmax,
    struct sbuf *desc)
{
	double *v = NULL, limit = -1, hi = 0, peak = -1;
	size_t nv = figures_array(fig, p->series, &v), k = 0;
	double *xy = xcalloc(2 * (nv ? nv : 1), sizeof(*xy));
	struct sbuf s = SBUF_INIT;
	double bottom = top + PANEL_H;

	if (p->limit && figures_num(fig, p->limit, &limit) == 0)
		limit *= p->scale;
	for (size_t i = 0; i < nv && i < n; i++)
		if (v[i] >= 0 && v[i] * p->scale > peak)
			peak = v[i] * p->scale;
	hi = (peak > limit ? peak : limit) * 1.15;
	if (hi <= 0)
		hi = 1;
	chart_text(sb, LEFT - 8, top + 12, "end", p->label);
	chart_line(sb, LEFT, bottom, RIGHT, bottom);
	chart_line(sb, LEFT, top, LEFT, bottom);
	if (limit >= 0) {
		double y = chart_scale(limit, 0, hi, bottom, top);
		double lxy[4] = { LEFT, y, RIGHT, y };
		chart_polyline(sb, "limit", "#c62828", lxy, 2);
		sbuf_adds(&s, "limit ");
		value(&s, limit, p->unit);
		chart_text(sb, RIGHT + 4, y + 4, "start", s.buf);
		sbuf_reset(&s);
	}
	for (size_t i = 0; i < nv && i < n; i++) {
		if (v[i] < 0)
			continue;	/* not measured then */
		xy[2 * k] = chart_scale(t[i], 0, tmax, LEFT, RIGHT);
		xy[2 * k + 1] = chart_scale(v[i] * p->scale, 0, hi, bottom, top);
		k++;
	}
	if (k) {
		char cls[64];
		snprintf(cls, sizeof(cls), "mark series %s", p->name);
		chart_polyline(sb, cls, p->color, xy, k);
		sbuf_adds(&s, "peak ");
		value(&s, peak, p->unit);
		chart_text(sb, LEFT - 8, top + 26, "end", s.buf);
	}
	sbuf_addf(desc, "%s%s: ", desc->len ? "; " : "", p->label);
	if (k) {
		sbuf_adds(desc, "peak ");
		value(desc, peak, p->unit);
	} else
		sbuf_adds(desc, "not measured");
	if (limit >= 0) {
		sbuf_adds(desc, ", limit ");
		value(desc, limit, p->unit);
	}
	sbuf_release(&s);
	free(xy);
	free(v);
}

void chart_verify(struct sbuf *sb, const struct job *j)
{
	double *t = NULL, tmax = 0, ok_flag = 0;
	size_t n = j && j->figures ? figures_array(j->figures, "samples.t_ms",
	    &t) : 0;
	struct sbuf desc = SBUF_INIT, title = SBUF_INIT;
	struct sbuf body = SBUF_INIT;
	int h = (int)(NPANELS * (PANEL_H + PANEL_GAP) + 24);

	if (!n) {
		free(t);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (t[i] > tmax)
			tmax = t[i];
	if (tmax <= 0)
		tmax = 1;
	for (size_t i = 0; i < NPANELS; i++)
		panel(&body, &panels[i], 8 + (double)i * (PANEL_H + PANEL_GAP),
		    j->figures, t, n, tmax, &desc);
	ok_flag = figures_bool(j->figures, "ok");
	sbuf_addf(&title, "verification window of deployment #%lld: %zu "
	    "samples over %.1f s, %s", (long long)j->id, n, tmax / 1000,
	    ok_flag == 1 ? "passed" : "failed");
	sbuf_addch(&desc, '.');
	sbuf_adds(sb, "<h2>Verification</h2>");
	chart_begin(sb, "verify", "verify", CHART_W, h, title.buf, desc.buf);
	sbuf_add(sb, body.buf, body.len);
	char end[32];
	snprintf(end, sizeof(end), "%.1f s", tmax / 1000);
	chart_text(sb, LEFT, h - 6, "start", "0 s");
	chart_text(sb, RIGHT, h - 6, "end", end);
	chart_end(sb);
	sbuf_release(&desc);
	sbuf_release(&title);
	sbuf_release(&body);
	free(t);
}
