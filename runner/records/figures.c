/*
 * Reading back the figures of a verification window (figures.h): a small
 * walk over JSON that finds a member by its path and reads a number, a
 * boolean, a string or an array of numbers there. Bounded by the text:
 * every step looks at the next character and never past the end.
 */
#include "figures.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

/* After the string that starts at `p` (a '"'), or NULL. */
static const char *skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p == '"' ? p + 1 : NULL;
}

/* After the value at `p`, or NULL when it is not one. */
static const char *skip_value(const char *p, int depth)
{
	p = ws(p);
	if (*p == '"')
		return skip_string(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		if (depth > 32)
			return NULL;
		p = ws(p + 1);
		while (p && *p && *p != close) {
			if (close == '}') {
				if (*p != '"' || !(p = skip_string(p)))
					return NULL;
				p = ws(p);
				if (*p++ != ':')
					return NULL;
			}
			if (!(p = skip_value(p, depth + 1)))
				return NULL;
			p = ws(p);
			if (*p == ',')
				p = ws(p + 1);
		}
		return p && *p == close ? p + 1 : NULL;
	}
	if (!*p)
		return NULL;
	while (*p && !strchr(",}] \n\t\r", *p))
		p++;
	return p;
}

/* The value of member `key` (`n` bytes) of the object at `p`, or NULL. */
static const char *member(const char *p, const char *key, size_t n)
{
	p = ws(p);
	if (*p != '{')
		return NULL;
	p = ws(p + 1);
	while (*p == '"') {
		const char *k = p + 1, *end = skip_string(p);
		if (!end)
			return NULL;
		p = ws(end);
		if (*p++ != ':')
			return NULL;
		p = ws(p);
		if ((size_t)(end - 1 - k) == n && !strncmp(k, key, n))
			return p;
		if (!(p = skip_value(p, 0)))
			return NULL;
		p = ws(p);
		if (*p == ',')
			p = ws(p + 1);
	}
	return NULL;
}

/* The value at dot-separated `path`, or NULL. */
static const char *find(const char *json, const char *path)
{
	const char *p = json;

	while (p && *path) {
		size_t n = strcspn(path, ".");
		p = member(p, path, n);
		path += n + (path[n] == '.');
	}
	return p;
}

int figures_num(const char *json, const char *path, double *out)
{
	const char *p = json ? find(json, path) : NULL;
	char *end;

	if (!p || *p == 'n' || *p == '"')
		return -1;
	*out = strtod(p, &end);
	return end == p ? -1 : 0;
}

int figures_bool(const char *json, const char *path)
{
	const char *p = json ? find(json, path) : NULL;

	if (p && !strncmp(p, "true", 4))
		return 1;
	if (p && !strncmp(p, "false", 5))
		return 0;
	return -1;
}

char *figures_str(const char *json, const char *path)
{
	const char *p = json ? find(json, path) : NULL;
	struct sbuf sb = SBUF_INIT;

	if (!p || *p != '"' || !skip_string(p))
		return NULL;
	for (p++; *p != '"'; p++) {
		if (*p == '\\') {
			p++;
			if (*p == 'n')
				sbuf_addch(&sb, '\n');
			else if (*p == 't')
				sbuf_addch(&sb, '\t');
			else if (*p == 'u' && isxdigit((unsigned char)p[1]) &&
			    isxdigit((unsigned char)p[2]) &&
			    isxdigit((unsigned char)p[3]) &&
			    isxdigit((unsigned char)p[4])) {
				/* the runner writes \u00XX for control bytes */
				char hex[5] = { p[1], p[2], p[3], p[4], 0 };
				unsigned v = (unsigned)strtoul(hex, NULL, 16);
				sbuf_addch(&sb, v < 0x80 ? (char)v : '?');
				p += 4;
			} else
				sbuf_addch(&sb, *p);
		} else
			sbuf_addch(&sb, *p);
	}
	return sbuf_detach(&sb);
}

size_t figures_array(const char *json, const char *path, double **out)
{
	const char *p = json ? find(json, path) : NULL;
	size_t n = 0;

	*out = NULL;
	if (!p || *p != '[' || !skip_value(p, 0))
		return 0;
	p = ws(p + 1);
	while (*p && *p != ']') {
		char *end;
		double x = -1;
		if (!strncmp(p, "null", 4))
			end = (char *)p + 4;
		else if ((x = strtod(p, &end)), end == p)
			break;
		*out = xrealloc(*out, (n + 1) * sizeof(**out));
		(*out)[n++] = x;
		p = ws(end);
		if (*p == ',')
			p = ws(p + 1);
	}
	return n;
}
