/*
 * Writing JSON into an sbuf, the one way the runner writes it: a writer
 * that knows where commas go, so that code says what it writes (keys and
 * values) and never builds punctuation by hand. Strings are escaped per
 * RFC 8259; bytes that are not valid UTF-8 become U+FFFD, so the output
 * is always valid JSON.
 *
 *	struct json w;
 *	json_init(&w, &sb);
 *	json_obj(&w, NULL);
 *	json_int(&w, "id", 7);
 *	json_arr(&w, "stages");
 *	...
 *	json_end(&w);		(the array)
 *	json_end(&w);		(the object)
 *
 * `key` names the member inside an object; it must be NULL inside an
 * array and at the top.
 */
#ifndef RUNNER_JSON_H
#define RUNNER_JSON_H

#include <stdint.h>

struct sbuf;

#define JSON_MAX_DEPTH 32

struct json {
	struct sbuf *sb;
	int depth;
	unsigned char has_items[JSON_MAX_DEPTH];	/* a comma is due */
	char closer[JSON_MAX_DEPTH];			/* '}' or ']' */
};

void json_init(struct json *w, struct sbuf *sb);
void json_obj(struct json *w, const char *key);
void json_arr(struct json *w, const char *key);
/* Close the innermost object or array. */
void json_end(struct json *w);

/* NULL: null */
void json_string(struct json *w, const char *key, const char *v);
/* "a,b,c" (NULL: none) as the array ["a","b","c"]. */
void json_csv(struct json *w, const char *key, const char *csv);
void json_int(struct json *w, const char *key, int64_t v);
void json_id(struct json *w, const char *key, int64_t v);	/* 0: null */
void json_bool(struct json *w, const char *key, int v);
/* A fraction, with six decimals (a value that is not finite: null). */
void json_double(struct json *w, const char *key, double v);
void json_null(struct json *w, const char *key);
/* A value that is JSON already (written by the runner itself); NULL: null. */
void json_raw(struct json *w, const char *key, const char *json);

/* A string literal alone, escaped (for text that is not a document). */
void json_str(struct sbuf *sb, const char *s);

#endif
