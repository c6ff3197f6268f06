/*
 * Writing JSON (json.h).
 */
#include "json.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void json_str(struct sbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = s ? strlen(s) : 0;

	if (!s) {
		sbuf_adds(sb, "null");
		return;
	}
	sbuf_addch(sb, '"');
	while (*p) {
		size_t n;
		switch (*p) {
		case '"':
			sbuf_adds(sb, "\\\"");
			p++;
			continue;
		case '\\':
			sbuf_adds(sb, "\\\\");
			p++;
			continue;
		case '\n':
			sbuf_adds(sb, "\\n");
			p++;
			continue;
		case '\r':
			sbuf_adds(sb, "\\r");
			p++;
			continue;
		case '\t':
			sbuf_adds(sb, "\\t");
			p++;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			sbuf_addf(sb, "\\u%04x", *p);
			p++;
			continue;
		}
		unsigned cp;
		n = utf8_char_len(p, left - (size_t)(p - (const unsigned char *)s),
		    &cp);
		if (!n) {
			sbuf_adds(sb, "\\ufffd");
			p++;
			continue;
		}
		sbuf_add(sb, p, n);
		p += n;
	}
	sbuf_addch(sb, '"');
}

void json_init(struct json *w, struct sbuf *sb)
{
	w->sb = sb;
	w->depth = 0;
	w->has_items[0] = 0;
}

/* The comma and key before a value. */
static void member(struct json *w, const char *key)
{
	if (w->depth > 0 && w->has_items[w->depth])
		sbuf_addch(w->sb, ',');
	w->has_items[w->depth] = 1;
	if (key) {
		json_str(w->sb, key);
		sbuf_addch(w->sb, ':');
	}
}

static void open_(struct json *w, const char *key, char open, char close)
{
	member(w, key);
	sbuf_addch(w->sb, open);
	if (w->depth + 1 >= JSON_MAX_DEPTH)
		fatal("JSON nested deeper than %d", JSON_MAX_DEPTH);
	w->depth++;
	w->has_items[w->depth] = 0;
	w->closer[w->depth] = close;
}

void json_obj(struct json *w, const char *key)
{
	open_(w, key, '{', '}');
}

void json_arr(struct json *w, const char *key)
{
	open_(w, key, '[', ']');
}

void json_end(struct json *w)
{
	if (w->depth > 0)
		sbuf_addch(w->sb, w->closer[w->depth--]);
}

void json_csv(struct json *w, const char *key, const char *csv)
{
	json_arr(w, key);
	for (const char *l = csv, *c; l && *l; l = c + !!*c) {
		c = l + strcspn(l, ",");
		char *one = xstrndup(l, (size_t)(c - l));
		json_string(w, NULL, one);
		free(one);
	}
	json_end(w);
}

void json_string(struct json *w, const char *key, const char *v)
{
	member(w, key);
	json_str(w->sb, v);
}

void json_int(struct json *w, const char *key, int64_t v)
{
	member(w, key);
	sbuf_addf(w->sb, "%lld", (long long)v);
}

void json_id(struct json *w, const char *key, int64_t v)
{
	if (v)
		json_int(w, key, v);
	else
		json_null(w, key);
}

void json_bool(struct json *w, const char *key, int v)
{
	member(w, key);
	sbuf_adds(w->sb, v ? "true" : "false");
}

void json_double(struct json *w, const char *key, double v)
{
	member(w, key);
	if (isfinite(v))
		sbuf_addf(w->sb, "%.6f", v);
	else
		sbuf_adds(w->sb, "null");
}

void json_null(struct json *w, const char *key)
{
	member(w, key);
	sbuf_adds(w->sb, "null");
}

void json_raw(struct json *w, const char *key, const char *json)
{
	member(w, key);
	sbuf_adds(w->sb, json ? json : "null");
}
