/*
 * Ref patterns (refmatch.h) with pcre2's match and depth limits.
 */
#include "refmatch.h"

#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

int ref_matcher_init(struct ref_matcher *m, const char *pattern, FILE *msg)
{
	int code;
	PCRE2_SIZE off;

	memset(m, 0, sizeof(*m));
	m->pattern = pattern;
	m->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0,
	    &code, &off, NULL);
	if (!m->re) {
		if (msg)
			fprintf(msg, "runner: warning: bad pattern '%s'; nothing "
			    "queued\n", pattern);
		return -1;
	}
	m->md = pcre2_match_data_create_from_pattern(m->re, NULL);
	m->ctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(m->ctx, 100000);
	pcre2_set_depth_limit(m->ctx, 1000);
	return 0;
}

int ref_matcher_match(struct ref_matcher *m, const char *name, FILE *msg)
{
	int rc = pcre2_match(m->re, (PCRE2_SPTR)name, strlen(name), 0, 0, m->md,
	    m->ctx);

	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT) {
		m->limited = 1;
		if (msg)
			fprintf(msg, "runner: warning: pattern '%s' hit its match limit "
		    "on '%s'; not queued\n", m->pattern, name);
	}
	return rc >= 0;
}

void ref_matcher_release(struct ref_matcher *m)
{
	pcre2_match_context_free(m->ctx);
	pcre2_match_data_free(m->md);
	pcre2_code_free(m->re);
}
