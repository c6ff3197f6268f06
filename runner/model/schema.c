/*
 * The one validator of runner.yml and .runner.yml (schema.h): it walks a
 * YAML tree by a table of fields, and writes their reference tables.
 */
#include "schema.h"
#include "util.h"
#include "ynode.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define AT(obj, off, type) ((type *)((char *)(obj) + (off)))

/* How messages about values of this mapping name it. */
static void add_place(struct sbuf *sb, const struct sread *r)
{
	if (r->schema->rel == REL_IN)
		sbuf_addf(sb, " in %s", r->what);
	else if (r->schema->rel == REL_OF)
		sbuf_addf(sb, " of %s", r->what);
}

static int verror(const struct sread *r, const struct ynode *v, int quote_key,
    const char *fmt, va_list ap)
{
	struct sbuf sb = SBUF_INIT;
	int error;

	sbuf_addf(&sb, "%s:%zu:%zu: ", r->file, v->line, v->col);
	if (quote_key) {
		sbuf_addf(&sb, "'%s'", r->field->key);
		add_place(&sb, r);
		sbuf_addch(&sb, ' ');
	}
	sbuf_vaddf(&sb, fmt, ap);
	error = error_set(ERR_INVALID, "%s", sb.buf);
	sbuf_release(&sb);
	return error;
}

int schema_error(const struct sread *r, const struct ynode *v,
    const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = verror(r, v, 1, fmt, ap);
	va_end(ap);
	return error;
}

/* A message that does not start with the key. */
static int plain_error(const struct sread *r, const struct ynode *v,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int plain_error(const struct sread *r, const struct ynode *v,
    const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = verror(r, v, 0, fmt, ap);
	va_end(ap);
	return error;
}

/* "'KEY' 'VALUE' in WHAT" (never the value of a secret). */
static void key_value(struct sbuf *sb, const struct sread *r,
    const struct ynode *v)
{
	sbuf_addf(sb, "'%s'", r->field->key);
	if (!(r->field->flags & S_SECRET))
		sbuf_addf(sb, " '%s'", v->value);
	add_place(sb, r);
}

static int read_str(const struct sread *r, const struct ynode *v, char **out)
{
	const struct sfield *f = r->field;
	struct sbuf sb = SBUF_INIT;
	int error = 0;

	if ((f->flags & S_NONEMPTY) && (v->type != YNODE_SCALAR ||
	    v->plain == 2 || !*v->value))
		return schema_error(r, v, "must be a non-empty string");
	if ((error = ynode_want(r->file, v, YNODE_SCALAR, f->key,
	    r->what)) < 0)
		return error;
	if ((f->flags & S_ABSOLUTE) && v->value[0] != '/') {
		key_value(&sb, r, v);
		error = plain_error(r, v, "%s must be absolute", sb.buf);
	} else if (f->flags & S_URL) {
		if (!url_scheme_in(v->value, f->choices))
			error = schema_error(r, v, "must be a URL (scheme one of: "
			    "%s)", f->choices);
	}
	sbuf_release(&sb);
	if (error == 0) {
		free(*out);
		*out = xstrdup(v->value);
	}
	return error;
}

static int read_pattern(const struct sread *r, const struct ynode *v,
    char **out)
{
	PCRE2_SIZE off;
	pcre2_code *re;
	int code, error;

	if ((error = ynode_want(r->file, v, YNODE_SCALAR, r->field->key,
	    r->what)) < 0)
		return error;
	if (!(re = pcre2_compile((PCRE2_SPTR)v->value, PCRE2_ZERO_TERMINATED,
	    0, &code, &off, NULL))) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return plain_error(r, v, "bad pattern in '%s' at offset %zu: %s",
		    r->field->key, (size_t)off, (char *)msg);
	}
	pcre2_code_free(re);
	free(*out);
	*out = xstrdup(v->value);
	return 0;
}

static int parse_fraction(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -1;
	if (*end == '%') {
		v /= 100;
		end++;
	}
	if (*end || v > 1)
		return -1;
	*out = v;
	return 0;
}

/* "4096" as "4K" for messages. */
static void add_size(struct sbuf *sb, int64_t n)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (n >= 1024 && n % 1024 == 0 && u < 3) {
		n /= 1024;
		u++;
	}
	sbuf_addf(sb, "%lld", (long long)n);
	if (u >= 0)
		sbuf_addch(sb, units[u]);
}

static int read_choice(const struct sread *r, const struct ynode *v, int *out)
{
	const char *c = r->field->choices;
	struct sbuf sb = SBUF_INIT;
	int i = 0, error;

	for (const char *p = c; v->type == YNODE_SCALAR && *p; i++) {
		size_t n = strcspn(p, " ");
		if (strlen(v->value) == n && !strncmp(p, v->value, n)) {
			*out = i + 1;
			return 0;
		}
		p += n;
		p += strspn(p, " ");
	}
	for (const char *p = c; *p; ) {
		size_t n = strcspn(p, " ");
		const char *next = p + n + strspn(p + n, " ");
		sbuf_addf(&sb, "%s'%.*s'", p == c ? "" : *next ? ", " : " or ",
		    (int)n, p);
		p = next;
	}
	error = schema_error(r, v, "must be %s", sb.buf);
	sbuf_release(&sb);
	return error;
}

static int read_elements(const struct sread *r, const struct ynode *v,
    void *obj);

int schema_read_field(const struct sread *r, const struct ynode *v,
    void *obj);
#define read_field schema_read_field

int schema_read_field(const struct sread *r, const struct ynode *v,
    void *obj)
{
	const struct sfield *f = r->field;
	struct sbuf sb = SBUF_INIT;
	int error = 0;
	long num;

	switch (f->kind) {
	case S_STR:
		return read_str(r, v, AT(obj, f->off, char *));
	case S_PATTERN:
		return read_pattern(r, v, AT(obj, f->off, char *));
	case S_BOOL:
	case S_TRISTATE:
		if (!ynode_bool(v, AT(obj, f->off, int)))
			return schema_error(r, v, "must be true or false");
		return 0;
	case S_INT:
		if (!ynode_uint(v, &num) || num < f->min || num > f->max) {
			if (f->max == LONG_MAX && f->min == 1)
				return schema_error(r, v, "must be a positive "
				    "number");
			return schema_error(r, v, "must be a number from %ld to "
			    "%ld", f->min, f->max);
		}
		*AT(obj, f->off, int64_t) = num;
		return 0;
	case S_DURATION: {
		int64_t ms;
		if ((error = ynode_want(r->file, v, YNODE_SCALAR, f->key,
		    r->what)) < 0)
			return error;
		if (parse_duration(v->value, &ms) == 0 && ms < f->min) {
			format_duration(&sb, f->min);
			error = schema_error(r, v, "must be at least %s", sb.buf);
			sbuf_release(&sb);
			return error;
		}
		if (parse_duration(v->value, &ms) < 0) {
			key_value(&sb, r, v);
			error = plain_error(r, v, "bad %s (use a number with %s)",
			    sb.buf, f->choices ? f->choices : "s, m or h, like 10m");
			sbuf_release(&sb);
			return error;
		}
		*AT(obj, f->off, int64_t) = ms;
		return 0;
	}
	case S_SIZE: {
		int64_t n;
		if (v->type != YNODE_SCALAR || parse_size(v->value, &n) < 0 ||
		    n < (f->min > 1 ? f->min : 1)) {
			if (f->min > 1) {
				add_size(&sb, f->min);
				error = schema_error(r, v, "must be a size of at least "
				    "%s, like 64M", sb.buf);
				sbuf_release(&sb);
				return error;
			}
			return schema_error(r, v, "must be a size like 512M or 2G");
		}
		*AT(obj, f->off, int64_t) = n;
		return 0;
	}
	case S_FRACTION:
		if (v->type != YNODE_SCALAR || parse_fraction(v->value,
		    /* AT() is the double field at f->off (offsetof), not
		     * bytes read as a double */
		    /* cppcheck-suppress invalidPointerCast */
		    AT(obj, f->off, double)) < 0)
			return schema_error(r, v, "must be a fraction or a "
			    "percentage, like 0.1%%");
		return 0;
	case S_STRV:
		strv_free(*AT(obj, f->off, char **));
		*AT(obj, f->off, char **) = NULL;
		return ynode_strv(r->file, v, f->key, r->what,
		    AT(obj, f->off, char **), AT(obj, f->count_off, size_t));
	case S_CHOICE:
		return read_choice(r, v, AT(obj, f->off, int));
	case S_MAP: {
		if ((error = ynode_want(r->file, v, YNODE_MAP, f->key,
		    r->what)) < 0)
			return error;
		sbuf_addf(&sb, "'%s' of %s", f->key, r->what);
		error = schema_read(r->file, v, f->sub, sb.buf,
		    AT(obj, f->off, void));
		sbuf_release(&sb);
		return error;
	}
	case S_LIST:
	case S_DICT:
		return read_elements(r, v, obj);
	case S_CUSTOM:
		return f->read(r, v, obj);
	case S_END:
		break;
	}
	return 0;
}

/* The keys `s` knows, for the unknown-key check. */
static const char **known_keys(const struct schema *s)
{
	size_t n = 0;
	const char **k;

	while (s->fields[n].key)
		n++;
	k = xcalloc(n + 1, sizeof(*k));
	for (size_t i = 0; i < n; i++)
		k[i] = s->fields[i].key;
	return k;
}

static int check_keys(const char *file, const struct ynode *map,
    const struct schema *s, const char *what)
{
	const char **k = known_keys(s);
	int error;

	/* a key written for another one: say which */
	for (size_t i = 0; map->type == YNODE_MAP && i + 1 < map->n; i += 2) {
		const struct ynode *key = map->items[i];
		if (key->type == YNODE_SCALAR)
			for (const struct sfield *f = s->fields; f->key; f++)
				if (f->aliases && word_in(f->aliases, key->value) &&
				    strcmp(f->key, key->value)) {
					free(k);
					return error_set(ERR_INVALID, "%s:%zu:%zu: "
					    "unknown key '%s' in %s (did you mean "
					    "'%s'?)", file, key->line, key->col,
					    key->value, what, f->key);
				}
	}
	error = ynode_check_keys(file, map, k, what);

	free(k);
	return error;
}

/* Read the fields of `map` (its keys already checked) as `what`. */
static int read_fields(const char *file, const struct ynode *map,
    const struct schema *s, const char *what, void *obj, const char *skip)
{
	struct sread r = { file, what, s, NULL, map };
	int error;

	for (const struct sfield *f = s->fields; f->key; f++) {
		const struct ynode *v = ynode_get(map, f->key);
		if (skip && !strcmp(f->key, skip))
			continue;
		r.field = f;
		if (!v && (f->flags & S_REQUIRED))
			return plain_error(&r, map, "%s has no '%s'", what,
			    f->key);
		if (v && (error = read_field(&r, v, obj)) < 0)
			return error;
	}
	r.field = NULL;
	return s->check ? s->check(&r, map, obj) : 0;
}

int schema_read(const char *file, const struct ynode *map,
    const struct schema *s, const char *what, void *obj)
{
	int error;

	if ((error = check_keys(file, map, s, what)) < 0)
		return error;
	return read_fields(file, map, s, what, obj, NULL);
}

/* Read element `e` of the list or dict r->field (`k` its key in a
 * dict, else NULL) into `elem`: its keys checked as the schema's entry
 * (or as "WHAT 'NAME'" in a dict), its name read first, then the rest
 * as "WHAT 'NAME'". */
static int read_element(const struct sread *r, const struct ynode *k,
    const struct ynode *e, void *elem)
{
	const struct schema *s = r->field->sub;
	const char *entry = s->entry ? s->entry : r->field->key;
	struct sread nr = { r->file, entry, s, NULL, e };
	struct sbuf what = SBUF_INIT;
	const char *name = NULL;
	int error;

	schema_defaults(s, elem);
	if (s->line_at)
		*AT(elem, s->line_at - 1, size_t) = k ? k->line : e->line;
	if (k) {
		name = k->value;
		*AT(elem, s->name_off, char *) = xstrdup(name);
		if (s->check_name && (error = s->check_name(&nr, k, elem)) < 0)
			return error;
		if ((error = ynode_want(r->file, e, YNODE_MAP, name,
		    r->field->key)) < 0)
			return error;
		if (s->what)
			sbuf_addf(&what, s->what, name);
		if ((error = check_keys(r->file, e, s, what.len ? what.buf :
		    entry)) < 0)
			goto out;
	} else {
		if ((error = ynode_want(r->file, e, YNODE_MAP, r->field->key,
		    r->what)) < 0 ||
		    (error = check_keys(r->file, e, s, entry)) < 0)
			goto out;
		for (const struct sfield *f = s->fields; s->name_key && f->key;
		    f++) {
			const struct ynode *v = ynode_get(e, f->key);
			if (strcmp(f->key, s->name_key))
				continue;
			nr.field = f;
			if (!v)
				error = plain_error(&nr, e, "%s has no '%s'", entry,
				    f->key);
			else
				error = read_field(&nr, v, elem);
			if (error < 0)
				goto out;
			name = *AT(elem, f->off, char *);
		}
		if (s->what && name)
			sbuf_addf(&what, s->what, name);
	}
	error = read_fields(r->file, e, s, what.len ? what.buf : entry, elem,
	    k ? NULL : s->name_key);
out:
	sbuf_release(&what);
	return error;
}

static int read_elements(const struct sread *r, const struct ynode *v,
    void *obj)
{
	const struct sfield *f = r->field;
	const struct schema *s = f->sub;
	int dict = f->kind == S_DICT, error;
	size_t n, *count = AT(obj, f->count_off, size_t);
	char *arr;

	if ((error = ynode_want(r->file, v, dict ? YNODE_MAP : YNODE_SEQ,
	    f->key, r->what)) < 0)
		return error;
	n = dict ? v->n / 2 : v->n;
	if (f->max && n > (size_t)f->max)
		return schema_error(r, v, "has more than %ld entries", f->max);
	arr = xcalloc(n + 1, s->size);
	*AT(obj, f->off, void *) = arr;
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		void *elem = arr + i * s->size;
		(*count)++;	/* so that schema_free frees what was read */
		if ((error = read_element(r, dict ? v->items[2 * i] : NULL,
		    dict ? v->items[2 * i + 1] : v->items[i], elem)) < 0)
			return error;
	}
	return 0;
}

/* A default as written ("[staging]", "10m", "true"...) into `obj`. */
static void apply_default(const struct sfield *f, void *obj)
{
	const char *d = f->def;
	int64_t n;

	switch (f->kind) {
	case S_STR:
	case S_PATTERN:
		free(*AT(obj, f->off, char *));
		*AT(obj, f->off, char *) = xstrdup(d);
		break;
	case S_BOOL:
		*AT(obj, f->off, int) = !strcmp(d, "true");
		break;
	case S_INT:
		*AT(obj, f->off, int64_t) = strtoll(d, NULL, 10);
		break;
	case S_DURATION:
		if (parse_duration(d, &n) == 0)
			*AT(obj, f->off, int64_t) = n;
		break;
	case S_SIZE:
		if (parse_size(d, &n) == 0)
			*AT(obj, f->off, int64_t) = n;
		break;
	case S_FRACTION:
		/* AT() is the double field at f->off, as above */
		/* cppcheck-suppress invalidPointerCast */
		parse_fraction(d, AT(obj, f->off, double));
		break;
	case S_STRV: {
		char **v = xcalloc(strlen(d) + 2, sizeof(*v));
		size_t k = 0;
		const char *p = d + (*d == '[');
		while (*p && *p != ']') {
			size_t len = strcspn(p, ",]");
			while (len && p[len - 1] == ' ')
				len--;
			if (len)
				v[k++] = xstrndup(p, len);
			p += strcspn(p, ",]");
			if (*p == ',')
				p += 1 + strspn(p + 1, " ");
		}
		strv_free(*AT(obj, f->off, char **));
		*AT(obj, f->off, char **) = v;
		*AT(obj, f->count_off, size_t) = k;
		break;
	}
	case S_CHOICE: {
		int i = 0;
		for (const char *p = f->choices; *p; i++) {
			size_t len = strcspn(p, " ");
			if (strlen(d) == len && !strncmp(p, d, len))
				*AT(obj, f->off, int) = i + 1;
			p += len;
			p += strspn(p, " ");
		}
		break;
	}
	default:
		break;
	}
}

int schema_defaults(const struct schema *s, void *obj)
{
	for (const struct sfield *f = s->fields; f->key; f++) {
		if (f->kind == S_MAP)
			schema_defaults(f->sub, AT(obj, f->off, void));
		else if (f->kind == S_TRISTATE)
			*AT(obj, f->off, int) = -1;
		else if (f->def && f->def[0] != '(')
			apply_default(f, obj);
	}
	return 0;
}

void schema_free(const struct schema *s, void *obj)
{
	for (const struct sfield *f = s->fields; obj && f->key; f++) {
		switch (f->kind) {
		case S_STR:
		case S_PATTERN:
			free(*AT(obj, f->off, char *));
			*AT(obj, f->off, char *) = NULL;
			break;
		case S_STRV:
			strv_free(*AT(obj, f->off, char **));
			*AT(obj, f->off, char **) = NULL;
			*AT(obj, f->count_off, size_t) = 0;
			break;
		case S_MAP:
			schema_free(f->sub, AT(obj, f->off, void));
			break;
		case S_LIST:
		case S_DICT: {
			char *arr = *AT(obj, f->off, char *);
			size_t n = *AT(obj, f->count_off, size_t);
			for (size_t i = 0; arr && i < n; i++) {
				void *elem = arr + i * f->sub->size;
				if (f->sub->free)
					f->sub->free(elem);
				schema_free(f->sub, elem);
				if (f->kind == S_DICT)
					free(*AT(elem, f->sub->name_off, char *));
			}
			free(arr);
			*AT(obj, f->off, char *) = NULL;
			*AT(obj, f->count_off, size_t) = 0;
			break;
		}
		default:
			break;
		}
	}
}

static const char *kind_doc(const struct sfield *f, struct sbuf *tmp)
{
	switch (f->kind) {
	case S_STR:
		return f->flags & S_URL ? "URL" : f->flags & S_ABSOLUTE ?
		    "absolute path" : "string";
	case S_BOOL:
	case S_TRISTATE:
		return "boolean";
	case S_INT:
		if (f->max == LONG_MAX)
			sbuf_addf(tmp, "number, at least %ld", f->min);
		else
			sbuf_addf(tmp, "number, %ld to %ld", f->min, f->max);
		return tmp->buf;
	case S_DURATION:
		return "duration";
	case S_SIZE:
		return "size";
	case S_PATTERN:
		return "pcre2 pattern";
	case S_STRV:
		return "string or list of strings";
	case S_FRACTION:
		return "fraction or percentage";
	case S_CHOICE:
		for (const char *p = f->choices; *p; ) {
			size_t len = strcspn(p, " ");
			sbuf_addf(tmp, "%s`%.*s`", tmp->len ? " or " : "", (int)len,
			    p);
			p += len;
			p += strspn(p, " ");
		}
		return tmp->buf;
	case S_MAP:
		return "mapping";
	case S_LIST:
		return "list of mappings";
	case S_DICT:
		return "mapping of names to mappings";
	default:
		return "";
	}
}

void schema_doc(const struct schema *s, const char *prefix,
    struct sbuf *out)
{
	sbuf_addf(out, "<!-- schema %s -->\n", prefix);
	if (s->doc)
		sbuf_addf(out, "%s\n\n", s->doc);
	sbuf_adds(out, "| key | type | default | meaning |\n"
	    "|---|---|---|---|\n");
	for (const struct sfield *f = s->fields; f->key; f++) {
		struct sbuf tmp = SBUF_INIT;
		const char *type = f->type_doc ? f->type_doc : kind_doc(f, &tmp);
		sbuf_addf(out, "| `%s` | %s | ", f->key, type);
		if (f->flags & S_REQUIRED)
			sbuf_adds(out, "(required)");
		else if (!f->def)
			sbuf_adds(out, "none");
		else if (f->def[0] == '(')
			sbuf_addf(out, "%.*s", (int)strlen(f->def) - 2, f->def + 1);
		else
			sbuf_addf(out, "`%s`", f->def);
		sbuf_addf(out, " | %s |\n", f->doc ? f->doc : "");
		sbuf_release(&tmp);
	}
	sbuf_addf(out, "<!-- /schema %s -->\n", prefix);
	for (const struct sfield *f = s->fields; f->key; f++) {
		if (!f->sub || (f->kind != S_MAP && f->kind != S_LIST &&
		    f->kind != S_DICT && f->kind != S_CUSTOM))
			continue;
		char *p = xasprintf("%s.%s", prefix, f->key);
		sbuf_addch(out, '\n');
		schema_doc(f->sub, p, out);
		free(p);
	}
}

/* Text of the docs (markdown: `code`, [text](link)) as roff. */
static void roff_text(struct sbuf *out, const char *s)
{
	int code = 0;

	if (*s == '.' || *s == '\'')
		sbuf_adds(out, "\\&");
	for (; *s; s++) {
		if (*s == '\\') {
			sbuf_adds(out, "\\e");
		} else if (*s == '`') {
			sbuf_adds(out, code ? "\\fR" : "\\fB");
			code = !code;
		} else if (*s == '[' && !code && strstr(s, "](")) {
			const char *close = strstr(s, "](");
			const char *end = strchr(close, ')');
			if (!end || memchr(s, '\n', (size_t)(close - s))) {
				sbuf_addch(out, *s);
				continue;
			}
			char *label = xstrndup(s + 1, (size_t)(close - s - 1));
			roff_text(out, label);
			free(label);
			s = end;
		} else if (*s == '-') {
			sbuf_adds(out, "\\-");
		} else {
			sbuf_addch(out, *s);
		}
	}
	if (code)
		sbuf_adds(out, "\\fR");
}

void schema_man(const struct schema *s, const char *prefix,
    struct sbuf *out)
{
	sbuf_adds(out, ".SS ");
	roff_text(out, prefix);
	sbuf_addch(out, '\n');
	if (s->doc) {
		roff_text(out, s->doc);
		sbuf_addch(out, '\n');
	}
	for (const struct sfield *f = s->fields; f->key; f++) {
		struct sbuf tmp = SBUF_INIT;
		const char *type = f->type_doc ? f->type_doc : kind_doc(f, &tmp);
		sbuf_adds(out, ".TP\n.B ");
		roff_text(out, f->key);
		sbuf_addch(out, '\n');
		roff_text(out, type);
		if (f->flags & S_REQUIRED)
			sbuf_adds(out, "; required");
		else if (f->def && f->def[0] == '(') {
			sbuf_adds(out, "; default: ");
			char *d = xstrndup(f->def + 1, strlen(f->def) - 2);
			roff_text(out, d);
			free(d);
		} else if (f->def) {
			sbuf_adds(out, "; default: \\fB");
			roff_text(out, f->def);
			sbuf_adds(out, "\\fR");
		}
		sbuf_adds(out, ".\n");
		if (f->doc) {
			sbuf_adds(out, ".br\n");
			roff_text(out, f->doc);
			sbuf_addch(out, '\n');
		}
		sbuf_release(&tmp);
	}
	for (const struct sfield *f = s->fields; f->key; f++) {
		if (!f->sub || (f->kind != S_MAP && f->kind != S_LIST &&
		    f->kind != S_DICT && f->kind != S_CUSTOM))
			continue;
		char *p = xasprintf("%s.%s", prefix, f->key);
		schema_man(f->sub, p, out);
		free(p);
	}
}

/* Lines of `text` apart by '\n', each written "# LINE". */
static void sample_lines(const char *text, struct sbuf *out)
{
	while (*text) {
		size_t len = strcspn(text, "\n");
		sbuf_addf(out, "# %.*s\n", (int)len, text);
		text += len + (text[len] == '\n');
	}
}

void schema_sample(const struct schema *s, struct sbuf *out)
{
	for (const struct sfield *f = s->fields; f->key; f++) {
		if (!f->sample)
			continue;
		if (*f->sample) {
			sbuf_addch(out, '\n');
			sample_lines(f->sample, out);
		}
		sbuf_addf(out, "# %s:", f->key);
		if (f->example && f->example[0] == '\n') {
			sbuf_addch(out, '\n');
			sample_lines(f->example + 1, out);
			continue;
		}
		if (f->example) {
			sbuf_addf(out, " %s\n", f->example);
		} else if (f->kind == S_MAP) {
			const char *sep = " {";
			for (const struct sfield *g = f->sub->fields; g->key; g++)
				if (g->def && g->def[0] != '(') {
					sbuf_addf(out, "%s %s: %s", sep, g->key, g->def);
					sep = ",";
				}
			sbuf_adds(out, " }\n");
		} else {
			sbuf_addf(out, " %s\n", f->def);
		}
	}
}
