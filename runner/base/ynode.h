/*
 * A small tree built from libyaml events, with line and column on every
 * node, so the pipeline and config parsers can check a schema and point at
 * the exact place of a mistake. Aliases are refused (no alias bombs) and
 * depth and node count are bounded.
 */
#ifndef RUNNER_YNODE_H
#define RUNNER_YNODE_H

#include <stddef.h>

enum ynode_type { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
	enum ynode_type type;
	size_t line, col;	/* 1-based */
	char *value;		/* scalars: the text */
	int plain;		/* scalars: written without quotes */
	/* Sequences: the items. Mappings: key, value, key, value... */
	struct ynode **items;
	size_t n;
};

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 100000

/*
 * Parse one document from `buf`. `name` is used in messages, which read
 * "NAME:LINE:COL: problem". An empty document gives *out == NULL and 0.
 * The caller frees *out with ynode_free().
 */
int ynode_parse(const char *name, const char *buf, size_t len,
    struct ynode **out);
void ynode_free(struct ynode *n);

/* For mappings: the value stored under `key`, or NULL. */
struct ynode *ynode_get(const struct ynode *map, const char *key);
const char *ynode_type_name(const struct ynode *n);
/* True for a plain scalar "true"/"false"/"yes"/"no"; sets *out. */
int ynode_bool(const struct ynode *n, int *out);
/* A plain scalar that is a whole non-negative number. */
int ynode_uint(const struct ynode *n, long *out);

#endif

/*
 * Schema helpers shared by the pipeline and config parsers. Each sets an
 * error "FILE:LINE:COL: ..." naming `what` (like "stage 'unit'") and
 * returns ERR_INVALID, or returns 0.
 */
int ynode_check_keys(const char *file, const struct ynode *map,
    const char *const *known, const char *what);
int ynode_want(const char *file, const struct ynode *n, enum ynode_type t,
    const char *field, const char *what);
/* A string, or a list of strings; the list is NULL-terminated, caller frees
 * it with strv_free(). */
int ynode_strv(const char *file, const struct ynode *n, const char *field,
    const char *what, char ***out, size_t *nout);
void strv_free(char **v);

