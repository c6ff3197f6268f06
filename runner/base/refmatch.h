/*
 * Matching ref names against runner.yml's patterns (triggers, release
 * tags, notification filters).
 */
#ifndef RUNNER_REFMATCH_H
#define RUNNER_REFMATCH_H

#include <stdio.h>

/* A pcre2 pattern on ref names, with match and depth limits so that a
 * pattern cannot backtrack for ever. */
struct ref_matcher {
	struct pcre2_real_code_8 *re;
	struct pcre2_real_match_data_8 *md;
	struct pcre2_real_match_context_8 *ctx;
	const char *pattern;
	int limited;		/* a match hit the limits */
};

/* Compile `pattern`; a bad one is reported on `msg` (unless NULL) and
 * gives -1. */
int ref_matcher_init(struct ref_matcher *m, const char *pattern, FILE *msg);
/* Does `name` match? A pattern that hits its limits is reported on
 * `msg` (unless NULL), does not match, and sets m->limited. */
int ref_matcher_match(struct ref_matcher *m, const char *name, FILE *msg);
void ref_matcher_release(struct ref_matcher *m);

#endif
