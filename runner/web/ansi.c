/*
 * A stage's log on the web page: its ANSI SGR colours and bold as HTML
 * spans, every other escape dropped, the text escaped (page.h).
 */
#include "page.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ANSI SGR colours and bold as spans; other escapes dropped. */
void ansi_html(struct ansi *a, const char *s, size_t len, struct sbuf *sb)
{
	struct sbuf in = SBUF_INIT;

	sbuf_add(&in, a->carry, a->ncarry);
	sbuf_add(&in, s, len);
	a->ncarry = 0;
	if (a->bold || a->fg >= 0)
		sbuf_addf(sb, "<span class='%s f%d'>", a->bold ? "b" : "",
		    a->fg >= 0 ? a->fg : 9);
	for (size_t i = 0; i < in.len; i++) {
		char c = in.buf[i];
		if (c == '\033') {
			size_t k = i + 1;
			if (k >= in.len || (in.buf[k] == '[' && k + 1 >= in.len)) {
				/* cut in the middle: the rest comes next time */
				size_t left = in.len - i;
				if (left < sizeof(a->carry)) {
					memcpy(a->carry, in.buf + i, left);
					a->ncarry = left;
				}
				break;
			}
			if (in.buf[k] != '[') {
				i = k;	/* a two-byte escape */
				continue;
			}
			size_t end = k + 1;
			while (end < in.len && !(in.buf[end] >= 0x40 &&
			    in.buf[end] <= 0x7e))
				end++;
			if (end >= in.len) {
				size_t left = in.len - i;
				if (left < sizeof(a->carry)) {
					memcpy(a->carry, in.buf + i, left);
					a->ncarry = left;
				}
				break;
			}
			if (in.buf[end] == 'm') {
				int was = a->bold || a->fg >= 0;
				const char *p = in.buf + k + 1;
				do {
					int code = atoi(p);
					if (code == 0) {
						a->bold = 0;
						a->fg = -1;
					} else if (code == 1) {
						a->bold = 1;
					} else if (code == 22) {
						a->bold = 0;
					} else if (code >= 30 && code <= 37) {
						a->fg = code - 30;
					} else if (code >= 90 && code <= 97) {
						a->fg = code - 90;
					} else if (code == 39) {
						a->fg = -1;
					}
					p = memchr(p, ';', (size_t)(in.buf + end - p));
				} while (p && ++p < in.buf + end);
				if (was)
					sbuf_adds(sb, "</span>");
				if (a->bold || a->fg >= 0)
					sbuf_addf(sb, "<span class='%s f%d'>", a->bold ?
					    "b" : "", a->fg >= 0 ? a->fg : 9);
			}
			i = end;
			continue;
		}
		switch (c) {
		case '<': sbuf_adds(sb, "&lt;"); break;
		case '>': sbuf_adds(sb, "&gt;"); break;
		case '&': sbuf_adds(sb, "&amp;"); break;
		case '\r': break;
		default: {
			/* a run of plain text at once */
			size_t k = i + 1;
			while (k < in.len && !strchr("<>&\r\033", in.buf[k]))
				k++;
			sbuf_add(sb, in.buf + i, k - i);
			i = k - 1;
		}
		}
	}
	if (a->bold || a->fg >= 0)
		sbuf_adds(sb, "</span>");
	sbuf_release(&in);
}
