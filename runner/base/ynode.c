/*
 * libyaml events into a tree of struct ynode. Building the whole tree first
 * keeps each schema check a simple walk, and lets every message carry the
 * position of the node it is about.
 */
#include "ynode.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct builder {
	const char *name;
	yaml_parser_t parser;
	size_t nodes;
	const char *buf;
	size_t len;
};

/* What libyaml's message leaves a person to guess, for the usual
 * mistakes. */
static const char *hint(const struct builder *b, const yaml_mark_t *m)
{
	const char *p = b->parser.problem;

	if (!p)
		return "";
	if (strstr(p, "cannot start any token") && m->index < b->len &&
	    b->buf[m->index] == '\t')
		return " (a tab: YAML indents with spaces)";
	if (strstr(p, "mapping values are not allowed"))
		return " (a value with ': ' in it must be quoted, like "
		    "run: \"echo a: b\")";
	return "";
}

static struct ynode *node_new(struct builder *b, enum ynode_type t,
    const yaml_event_t *ev)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = t;
	n->line = ev->start_mark.line + 1;
	n->col = ev->start_mark.column + 1;
	b->nodes++;
	return n;
}

static void node_push(struct ynode *parent, struct ynode *child)
{
	parent->items = xrealloc(parent->items,
	    (parent->n + 1) * sizeof(*parent->items));
	parent->items[parent->n++] = child;
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev)) {
		const yaml_mark_t *m = &b->parser.problem_mark;
		return error_set(ERR_INVALID, "%s:%zu:%zu: %s%s%s%s", b->name,
		    m->line + 1, m->column + 1,
		    b->parser.problem ? b->parser.problem : "invalid YAML",
		    b->parser.context ? " " : "",
		    b->parser.context ? b->parser.context : "", hint(b, m));
	}
	return 0;
}

/* Parse the node that starts with `ev` (already read) into *out. */
/* Which of two nodes stands first in the file. */
static int cmp_pos(const struct ynode *x, const struct ynode *y)
{
	return x->line != y->line ? (x->line > y->line) - (x->line < y->line) :
	    (x->col > y->col) - (x->col < y->col);
}

static int cmp_keys(const void *a, const void *b)
{
	const struct ynode *x = *(const struct ynode *const *)a;
	const struct ynode *y = *(const struct ynode *const *)b;
	int c = strcmp(x->value, y->value);

	return c ? c : cmp_pos(x, y);
}

/*
 * A key that stands twice in mapping `n` is an error at its second place
 * (the first such place in the file). Sorting the keys makes it
 * O(n log n): a file with tens of thousands of keys costs milliseconds.
 */
static int check_duplicates(struct builder *b, const struct ynode *n)
{
	size_t nk = n->n / 2;
	const struct ynode **keys;
	const struct ynode *dup = NULL;

	if (nk < 2)
		return 0;
	keys = xmalloc(nk * sizeof(*keys));
	for (size_t i = 0; i < nk; i++)
		keys[i] = n->items[2 * i];
	qsort(keys, nk, sizeof(*keys), cmp_keys);
	for (size_t i = 1; i < nk; i++)
		if (!strcmp(keys[i - 1]->value, keys[i]->value) && (!dup ||
		    cmp_pos(keys[i], dup) < 0))
			dup = keys[i];
	free(keys);
	if (dup)
		return error_set(ERR_INVALID, "%s:%zu:%zu: duplicate key '%s'",
		    b->name, dup->line, dup->col, dup->value);
	return 0;
}

static int parse_node(struct builder *b, yaml_event_t *ev, size_t depth,
    struct ynode **out)
{
	struct ynode *n = NULL;
	int error = 0;

	if (depth > YAML_MAX_DEPTH)
		return error_set(ERR_INVALID,
		    "%s:%zu:%zu: nesting deeper than %d levels", b->name,
		    ev->start_mark.line + 1, ev->start_mark.column + 1,
		    YAML_MAX_DEPTH);
	if (b->nodes >= YAML_MAX_NODES)
		return error_set(ERR_INVALID,
		    "%s:%zu:%zu: more than %d nodes", b->name,
		    ev->start_mark.line + 1, ev->start_mark.column + 1,
		    YAML_MAX_NODES);

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return error_set(ERR_INVALID,
		    "%s:%zu:%zu: YAML aliases are not supported", b->name,
		    ev->start_mark.line + 1, ev->start_mark.column + 1);
	case YAML_SCALAR_EVENT:
		n = node_new(b, YNODE_SCALAR, ev);
		n->value = xstrndup((const char *)ev->data.scalar.value,
		    ev->data.scalar.length);
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (n->plain && (!strcmp(n->value, "~") ||
		    !strcmp(n->value, "null")))
			n->plain = 2;	/* an explicit null */
		*out = n;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		int is_map = ev->type == YAML_MAPPING_START_EVENT;
		yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT :
		    YAML_SEQUENCE_END_EVENT;
		n = node_new(b, is_map ? YNODE_MAP : YNODE_SEQ, ev);
		for (;;) {
			yaml_event_t child_ev;
			struct ynode *child = NULL;

			if ((error = next_event(b, &child_ev)) < 0)
				goto fail;
			if (child_ev.type == end) {
				yaml_event_delete(&child_ev);
				break;
			}
			error = parse_node(b, &child_ev, depth + 1, &child);
			yaml_event_delete(&child_ev);
			if (error < 0)
				goto fail;
			if (is_map && n->n % 2 == 0 &&
			    child->type != YNODE_SCALAR) {
				error = error_set(ERR_INVALID,
				    "%s:%zu:%zu: mapping keys must be plain "
				    "strings", b->name, child->line, child->col);
				ynode_free(child);
				goto fail;
			}
			node_push(n, child);
		}
		if (is_map && (error = check_duplicates(b, n)) < 0)
			goto fail;
		*out = n;
		return 0;
	}
	default:
		return error_set(ERR_INVALID, "%s:%zu:%zu: unexpected YAML event",
		    b->name, ev->start_mark.line + 1, ev->start_mark.column + 1);
	}
fail:
	ynode_free(n);
	return error;
}

int ynode_parse(const char *name, const char *buf, size_t len,
    struct ynode **out)
{
	struct builder b = { .name = name, .buf = buf, .len = len };
	struct ynode *root = NULL;
	yaml_event_t ev;
	int error;

	*out = NULL;
	if (!yaml_parser_initialize(&b.parser))
		return error_set(-1, "%s: cannot initialise YAML parser", name);
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)buf, len);

	/* stream start, then document start or stream end */
	if ((error = next_event(&b, &ev)) < 0)
		goto out;
	yaml_event_delete(&ev);
	if ((error = next_event(&b, &ev)) < 0)
		goto out;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		error = 0;
		goto out;
	}
	yaml_event_delete(&ev);
	if ((error = next_event(&b, &ev)) < 0)
		goto out;
	error = parse_node(&b, &ev, 0, &root);
	yaml_event_delete(&ev);
	if (error < 0)
		goto out;
	/* document end, then stream end: a second document is an error */
	if ((error = next_event(&b, &ev)) < 0)
		goto out;
	yaml_event_delete(&ev);
	if ((error = next_event(&b, &ev)) < 0)
		goto out;
	if (ev.type != YAML_STREAM_END_EVENT) {
		error = error_set(ERR_INVALID,
		    "%s:%zu:%zu: only one YAML document is allowed", name,
		    ev.start_mark.line + 1, ev.start_mark.column + 1);
		yaml_event_delete(&ev);
		goto out;
	}
	yaml_event_delete(&ev);
	if (root && root->type == YNODE_SCALAR && root->plain == 2) {
		ynode_free(root);	/* "~" alone: an empty document */
		root = NULL;
	}
	*out = root;
	root = NULL;
	error = 0;
out:
	ynode_free(root);
	yaml_parser_delete(&b.parser);
	return error;
}

void ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		ynode_free(n->items[i]);
	free(n->items);
	free(n->value);
	free(n);
}

struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	if (!map || map->type != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->n; i += 2)
		if (!strcmp(map->items[i]->value, key))
			return map->items[i + 1];
	return NULL;
}

const char *ynode_type_name(const struct ynode *n)
{
	switch (n->type) {
	case YNODE_SCALAR:
		return n->plain == 2 ? "null" : "a string";
	case YNODE_SEQ:
		return "a list";
	case YNODE_MAP:
		return "a mapping";
	}
	return "?";
}

int ynode_bool(const struct ynode *n, int *out)
{
	static const char *yes[] = { "true", "yes", "on", "True", "TRUE" };
	static const char *no[] = { "false", "no", "off", "False", "FALSE" };

	if (n->type != YNODE_SCALAR || n->plain != 1)
		return 0;
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		if (!strcmp(n->value, yes[i])) {
			*out = 1;
			return 1;
		}
		if (!strcmp(n->value, no[i])) {
			*out = 0;
			return 1;
		}
	}
	return 0;
}

int ynode_uint(const struct ynode *n, long *out)
{
	char *end;

	if (n->type != YNODE_SCALAR || n->plain != 1 || !*n->value ||
	    n->value[0] < '0' || n->value[0] > '9')
		return 0;
	long v = strtol(n->value, &end, 10);
	if (*end || v < 0 || v > 1000000000L)
		return 0;
	*out = v;
	return 1;
}

int ynode_check_keys(const char *file, const struct ynode *map,
    const char *const *known, const char *what)
{
	for (size_t i = 0; i + 1 < map->n; i += 2) {
		const struct ynode *k = map->items[i];
		const char *best = NULL;
		size_t best_d = 3;
		int found = 0;

		for (const char *const *p = known; *p; p++) {
			if (!strcmp(*p, k->value)) {
				found = 1;
				break;
			}
			size_t d = levenshtein(*p, k->value);
			if (d < best_d) {
				best_d = d;
				best = *p;
			}
		}
		if (found)
			continue;
		if (best)
			return error_set(ERR_INVALID,
			    "%s:%zu:%zu: unknown key '%s' in %s (did you mean "
			    "'%s'?)", file, k->line, k->col, k->value, what,
			    best);
		return error_set(ERR_INVALID, "%s:%zu:%zu: unknown key '%s' in %s",
		    file, k->line, k->col, k->value, what);
	}
	return 0;
}

static const char *type_word(enum ynode_type t)
{
	return t == YNODE_SCALAR ? "a string" : t == YNODE_SEQ ? "a list" :
	    "a mapping";
}

int ynode_want(const char *file, const struct ynode *n, enum ynode_type t,
    const char *field, const char *what)
{
	if (n->type == t && !(t == YNODE_SCALAR && n->plain == 2))
		return 0;
	return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' in %s must be %s, not %s",
	    file, n->line, n->col, field, what, type_word(t),
	    ynode_type_name(n));
}

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int ynode_strv(const char *file, const struct ynode *n, const char *field,
    const char *what, char ***out, size_t *nout)
{
	char **v;

	if (n->type == YNODE_SCALAR && n->plain != 2) {
		v = xcalloc(2, sizeof(*v));
		v[0] = xstrdup(n->value);
		*out = v;
		*nout = 1;
		return 0;
	}
	if (n->type != YNODE_SEQ)
		return error_set(ERR_INVALID,
		    "%s:%zu:%zu: '%s' in %s must be a string or a list of "
		    "strings, not %s", file, n->line, n->col, field, what,
		    ynode_type_name(n));
	v = xcalloc(n->n + 1, sizeof(*v));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];
		if (it->type != YNODE_SCALAR || it->plain == 2) {
			strv_free(v);
			return error_set(ERR_INVALID,
			    "%s:%zu:%zu: items of '%s' in %s must be strings, "
			    "not %s", file, it->line, it->col, field, what,
			    ynode_type_name(it));
		}
		v[i] = xstrdup(it->value);
	}
	*out = v;
	*nout = n->n;
	return 0;
}
