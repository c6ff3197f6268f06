/*
 * Charts as inline SVG drawn by the server (chart.c): no script, no
 * external asset, no inline style (the page's Content-Security-Policy
 * refuses it), colours as attributes so that the SVG stands on its own.
 * Each chart is one <svg class=chart role=img> of a fixed small size
 * (scaled down on a narrow screen by page_css), with a <title>, an
 * aria-label and a <desc> saying in words what it draws; each mark is an
 * element of class "mark ..." with a <title> of its own, so that a test
 * can count them and a pointer can read them.
 *
 * The primitives (chart_begin ... chart_end) are for any chart of the
 * web pages; chart_stages, chart_trend and chart_served are the job's,
 * the branch's and the environment's.
 */
#ifndef RUNNER_CHART_H
#define RUNNER_CHART_H

#include <stddef.h>
#include <stdint.h>

struct job;
struct sbuf;

/* The drawing's width: every chart is this wide, scaled down on phones. */
#define CHART_W 600

/* Opens an <svg id=ID class='chart CLS'> of w x h px; `label` is its
 * title and aria-label, `desc` the text alternative (both escaped). */
void chart_begin(struct sbuf *sb, const char *id, const char *cls, int w,
    int h, const char *label, const char *desc);
void chart_end(struct sbuf *sb);
/* A rectangle of class "mark CLS" filled with `fill`, with `tip` as its
 * <title> (NULL: none). Widths under 1 px are drawn 1 px wide. */
void chart_bar(struct sbuf *sb, const char *cls, const char *fill, double x,
    double y, double w, double h, const char *tip);
/* A dot (circle of radius r) of class "mark CLS". */
void chart_dot(struct sbuf *sb, const char *cls, const char *fill, double x,
    double y, double r, const char *tip);
/* A line through n points (xy: x0 y0 x1 y1 ...), of class CLS; no mark. */
void chart_polyline(struct sbuf *sb, const char *cls, const char *stroke,
    const double *xy, size_t n);
/* A straight line (axes, grid), of class "axis". */
void chart_line(struct sbuf *sb, double x1, double y1, double x2, double y2);
/* Text at (x, y); anchor "start", "middle" or "end". */
void chart_text(struct sbuf *sb, double x, double y, const char *anchor,
    const char *text);
/* Text escaped for XML: markup characters as entities, control
 * characters (which XML cannot hold) dropped. */
void chart_esc(struct sbuf *sb, const char *s);
/* v's place between px0 and px1 as lo..hi maps to them (clamped). */
double chart_scale(double v, double lo, double hi, double px0, double px1);
/* The colour of a state's name (passed, failed, running, ...): the
 * same as the page's text, dark enough on white. */
const char *chart_color(const char *state);

/* A job's stages (or a deployment's steps) on one time axis: a bar for
 * each one that started (class "mark stage STATE"). Nothing when none
 * started. */
void chart_stages(struct sbuf *sb, const struct job *j);
/* The duration of builds (v[0] the newest, n of them; the first
 * CHART_TREND builds that started are drawn), oldest on the left, one bar
 * each coloured by its result (class "mark build STATE"). */
#define CHART_TREND 50
void chart_trend(struct sbuf *sb, struct job *const *v, size_t n);
/* Which release of an environment served when: the deployments `rel`
 * (newest first) that became healthy, each a segment from its end to the
 * next one's (the last to now), class "mark release". */
void chart_served(struct sbuf *sb, struct job *const *rel, size_t n);

/* A deployment's verification window (chart_verify.c): its latency,
 * error rate, CPU and memory over time against their limits; nothing
 * when it recorded no samples. */
void chart_verify(struct sbuf *sb, const struct job *j);

#endif
