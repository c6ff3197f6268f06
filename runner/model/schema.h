/*
 * The schema of runner.yml and .runner.yml as tables (tmux's
 * options-table is the model): each key with its type, bounds, default
 * and a line of documentation, read by one validator. The validator gives
 * every message with file:line:col and did-you-mean hints; the reference
 * tables of docs/configuration.md and docs/pipeline.md are generated from
 * the same tables (`runner-schema`, checked by tests/docs.sh).
 */
#ifndef RUNNER_SCHEMA_H
#define RUNNER_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

struct sbuf;
struct ynode;
struct schema;

enum skind {
	S_END,
	S_STR,		/* char *: a string */
	S_BOOL,		/* int: true or false */
	S_TRISTATE,	/* int: true or false, -1 when absent */
	S_INT,		/* int64_t: a whole number in [min, max] */
	S_DURATION,	/* int64_t ms: "10m", "1h30m", "500ms"; at least min */
	S_SIZE,		/* int64_t bytes: "512M", "2G"; at least min */
	S_PATTERN,	/* char *: a pcre2 pattern that compiles */
	S_STRV,		/* char ** (NULL-terminated), size_t at count_off */
	S_FRACTION,	/* double in [0, 1]: "0.001" or "0.1%" */
	S_CHOICE,	/* int: 1 + the index of the value in `choices`;
			   0 when absent */
	S_MAP,		/* a mapping read by `sub` into the struct at off */
	S_LIST,		/* a list of mappings read by `sub`: an array of
			   sub->size at off, size_t count at count_off */
	S_DICT,		/* a mapping of NAME: mapping, read by `sub` like
			   S_LIST; the name goes to sub->name_off */
	S_CUSTOM,	/* `read` does it */
};

/* flags */
#define S_REQUIRED	0x01u	/* "WHAT has no 'KEY'" when absent */
#define S_NONEMPTY	0x02u	/* strings: not "" */
#define S_ABSOLUTE	0x04u	/* strings: an absolute path */
#define S_SECRET	0x08u	/* messages never show the value */
#define S_URL		0x10u	/* strings: a URL, `choices` the schemes */

/* How a message about a value names where it is: "'KEY' must be ..."
 * (TERSE), "'KEY' in WHAT must be ..." (IN), "'KEY' of WHAT ..." (OF). */
enum srel { REL_TERSE, REL_IN, REL_OF };

struct sread;
typedef int sread_fn(const struct sread *r, const struct ynode *v,
    void *obj);

struct sfield {
	const char *key;
	enum skind kind;
	size_t off;		/* where the value goes in the struct */
	size_t count_off;	/* S_STRV, S_LIST, S_DICT: the count */
	unsigned flags;
	long min, max;		/* S_INT; S_DURATION and S_SIZE: min;
				   S_LIST and S_DICT: max entries (0: any) */
	/* S_CHOICE: the values, space-separated; S_URL: the schemes;
	 * S_DURATION: how the message says to write one */
	const char *choices;
	const struct schema *sub;
	sread_fn *read;		/* S_CUSTOM */
	/* the default: a value as runner.yml would write it, applied by
	 * schema_defaults(), or text for the docs alone (starting with
	 * '(') */
	const char *def;
	const char *type_doc;	/* the type for the docs, when not the kind's */
	/* keys people write for this one, space-separated: an unknown key
	 * among them gets "did you mean" this key */
	const char *aliases;
	const char *doc;
	/* The key in the commented runner.yml that `runner init` writes
	 * (schema_sample): the comment above it, lines apart by '\n'; ""
	 * for none, the key then following the one before without a blank
	 * line; NULL: the key is left out. */
	const char *sample;
	/* The value it shows there when not the default (`def`, or for
	 * S_MAP the defaults of `sub`): a line, or indented lines under
	 * the key when it starts with '\n'. */
	const char *example;
};

struct schema {
	const char *name;	/* the table's name in the docs */
	const char *doc;	/* a line above its table */
	const struct sfield *fields;
	enum srel rel;
	size_t size;		/* S_LIST, S_DICT: of one element */
	size_t name_off;	/* S_DICT: char * for the element's name */
	size_t line_at;		/* S_LIST, S_DICT: offset + 1 of a size_t
				   for its line (0: none); see SLINE */
	/* S_LIST, S_DICT: what one element is called in messages: `what`
	 * with its name ("notify '%s'"), else `entry` ("a 'repos' entry"),
	 * which also names it until its name is known */
	const char *what;
	const char *entry;
	const char *name_key;	/* S_LIST: the key that names an element */
	sread_fn *check_name;	/* S_DICT: the name, before anything else */
	/* After the fields: checks that involve several (NULL: none). */
	sread_fn *check;
	/* S_LIST, S_DICT: frees what `read` functions of an element
	 * allocated (schema_free frees the rest). */
	void (*free)(void *elem);
};
#define SLINE(type, member) (offsetof(type, member) + 1)

/* What a read function is given: the file, what the mapping being read
 * is called in messages ("stage 'unit'"), its schema and field. */
struct sread {
	const char *file;
	const char *what;
	const struct schema *schema;
	const struct sfield *field;
	const struct ynode *map;
};

#define SFIELD_END { .key = NULL }

/*
 * Read the mapping `map` by `s` into `obj`: it must be a mapping (else
 * "'KEY' in PARENT must be a mapping"; `key` and `parent` may be NULL at
 * the top), with no key `s` does not know, every required key, each
 * value as its kind says. Defaults are not applied here (see
 * schema_defaults). Returns 0 or ERR_INVALID with the message set.
 */
int schema_read(const char *file, const struct ynode *map,
    const struct schema *s, const char *what, void *obj);
/* Read value `v` of field r->field into `obj` (for a read function that
 * reads its field as another kind would). */
int schema_read_field(const struct sread *r, const struct ynode *v,
    void *obj);
/* Apply the defaults of `s` (those written as values) to `obj`. */
int schema_defaults(const struct schema *s, void *obj);
/* Free what schema_read() allocated in `obj` (not obj itself). */
void schema_free(const struct schema *s, void *obj);

/* Report a problem with value `v` of field `f` as the schema's messages
 * do: "FILE:L:C: 'KEY' in WHAT " + the text of fmt. */
int schema_error(const struct sread *r, const struct ynode *v,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The reference table of `s` (and of the mappings under it) in
 * markdown: key, type, default, meaning. */
void schema_doc(const struct schema *s, const char *prefix,
    struct sbuf *out);
/* The same reference as roff for a man page: a .SS per table, a .TP per
 * key. */
void schema_man(const struct schema *s, const char *prefix,
    struct sbuf *out);

/* The commented sample of `s` (its fields with a `sample`), every line
 * a comment: each key's comment, then "# KEY: VALUE". */
void schema_sample(const struct schema *s, struct sbuf *out);

#endif
