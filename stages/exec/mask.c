/*
 * A streaming multi-pattern replace. Patterns are few and short, so a
 * table of first bytes lets runs of ordinary output pass with memchr-like
 * speed; at a candidate byte every pattern is compared, longest first.
 */
#include "mask.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct masker {
	char **pat;
	size_t *len;
	size_t n;
	size_t maxlen;
	unsigned char first[256];
	struct sbuf pending;
};

static void add_pattern(struct masker *m, const char *p, size_t len)
{
	if (len < MASK_MIN_LEN)
		return;
	for (size_t i = 0; i < m->n; i++)
		if (m->len[i] == len && !memcmp(m->pat[i], p, len))
			return;
	m->pat = xrealloc(m->pat, (m->n + 1) * sizeof(*m->pat));
	m->len = xrealloc(m->len, (m->n + 1) * sizeof(*m->len));
	m->pat[m->n] = xstrndup(p, len);
	m->len[m->n] = len;
	m->n++;
	m->first[(unsigned char)p[0]] = 1;
	if (len > m->maxlen)
		m->maxlen = len;
}

/*
 * The base64 text of `v` as it appears when `v` starts `k` bytes into a
 * longer input: the characters that depend on the bytes around it are
 * left out.
 */
static void add_base64(struct masker *m, const char *v, size_t len, int k)
{
	size_t total = (size_t)k + len;
	unsigned char *in = xcalloc(total + 1, 1);
	char *enc = xmalloc(4 * (total / 3 + 1) + 1);
	size_t elen, from, to;

	memcpy(in + k, v, len);
	elen = (size_t)EVP_EncodeBlock((unsigned char *)enc, in, (int)total);
	while (elen && enc[elen - 1] == '=')
		elen--;
	from = k == 0 ? 0 : k == 1 ? 2 : 3;
	/* a last partial group's final character mixes in what follows */
	to = total % 3 ? elen - 1 : elen;
	if (to > from)
		add_pattern(m, enc + from, to - from);
	free(in);
	free(enc);
}

static void add_urlencoded(struct masker *m, const char *v, size_t len)
{
	static const char *const hex[] = { "0123456789ABCDEF",
	    "0123456789abcdef" };

	for (int h = 0; h < 2; h++) {
		struct sbuf sb = SBUF_INIT;
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)v[i];
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || strchr("-._~", c))
				sbuf_addch(&sb, (char)c);
			else
				sbuf_addf(&sb, "%%%c%c", hex[h][c >> 4],
				    hex[h][c & 15]);
		}
		add_pattern(m, sb.buf, sb.len);
		sbuf_release(&sb);
	}
}

static int longer_first(const void *a, const void *b, void *arg)
{
	const size_t *len = arg;
	size_t x = len[*(const size_t *)a], y = len[*(const size_t *)b];

	return x < y ? 1 : x > y ? -1 : 0;
}

struct masker *masker_new(const char *const *values, size_t n)
{
	struct masker *m = xcalloc(1, sizeof(*m));

	sbuf_init(&m->pending);
	for (size_t i = 0; i < n; i++) {
		size_t len = values[i] ? strlen(values[i]) : 0;
		if (len < MASK_MIN_LEN)
			continue;
		add_pattern(m, values[i], len);
		for (int k = 0; k < 3; k++)
			add_base64(m, values[i], len, k);
		add_urlencoded(m, values[i], len);
	}
	if (!m->n) {
		masker_free(m);
		return NULL;
	}
	/* longest first, so a value wins over a pattern inside it */
	size_t *order = xcalloc(m->n, sizeof(*order));
	char **pat = xcalloc(m->n, sizeof(*pat));
	size_t *len = xcalloc(m->n, sizeof(*len));
	for (size_t i = 0; i < m->n; i++)
		order[i] = i;
	qsort_r(order, m->n, sizeof(*order), longer_first, m->len);
	for (size_t i = 0; i < m->n; i++) {
		pat[i] = m->pat[order[i]];
		len[i] = m->len[order[i]];
	}
	free(m->pat);
	free(m->len);
	free(order);
	m->pat = pat;
	m->len = len;
	return m;
}

/* Mask m->pending into `out`; keep a tail that may still become a match
 * unless `final`. */
static void run(struct masker *m, struct sbuf *out, int final)
{
	const char *p = m->pending.buf;
	size_t n = m->pending.len, i = 0, copied = 0;

	while (i < n) {
		if (!m->first[(unsigned char)p[i]]) {
			i++;
			continue;
		}
		size_t hit = 0;
		int partial = 0;
		/* longest first: a longer value that may still match here
		 * is waited for before a shorter one is taken */
		for (size_t k = 0; k < m->n && !hit && !partial; k++) {
			size_t l = m->len[k];
			if (i + l <= n)
				hit = memcmp(p + i, m->pat[k], l) ? 0 : l;
			else
				partial = !final && !memcmp(p + i, m->pat[k], n - i);
		}
		if (hit) {
			sbuf_add(out, p + copied, i - copied);
			sbuf_adds(out, MASK_TEXT);
			i += hit;
			copied = i;
		} else if (partial) {
			break;	/* p + i may be the start of a value */
		} else {
			i++;
		}
	}
	sbuf_add(out, p + copied, i - copied);
	memmove(m->pending.buf, p + i, n - i);
	m->pending.len = n - i;
	m->pending.buf[m->pending.len] = '\0';
}

void masker_feed(struct masker *m, const char *in, size_t len,
    struct sbuf *out)
{
	sbuf_add(&m->pending, in, len);
	run(m, out, 0);
}

void masker_flush(struct masker *m, struct sbuf *out)
{
	run(m, out, 1);
}

void masker_free(struct masker *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->pat[i]);
	free(m->pat);
	free(m->len);
	sbuf_release(&m->pending);
	free(m);
}
