/*
 * Writing JSON (json.h).
 */
#include "json.h"
#include "util.h"

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
