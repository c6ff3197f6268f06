/*
 * Writing JSON into an sbuf. Strings are escaped per RFC 8259; bytes that
 * are not valid UTF-8 become U+FFFD, so output is always valid JSON.
 */
#ifndef RUNNER_JSON_H
#define RUNNER_JSON_H

#include <stdint.h>

struct sbuf;

void json_str(struct sbuf *sb, const char *s);	/* NULL gives null */

#endif
