/*
 * libcurl for the checks after a deploy (loaded then: curl_lib.h). The
 * body is read and dropped (bounded); only status and timing count, and
 * its start is kept to be shown when the check fails.
 */
#include "check.h"
#include "curl_lib.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	size_t *total = arg;

	(void)p;
	*total += size * n;
	return *total > 16 * 1024 * 1024 ? 0 : size * n;
}

struct body_start {
	size_t total;
	struct sbuf start;
};

/* The body's first HTTP_BODY_START bytes kept, the rest dropped. */
static size_t keep_start(char *p, size_t size, size_t n, void *arg)
{
	struct body_start *b = arg;
	size_t len = size * n;

	if (b->start.len < HTTP_BODY_START)
		sbuf_add(&b->start, p, len < HTTP_BODY_START - b->start.len ?
		    len : HTTP_BODY_START - b->start.len);
	return discard(p, size, n, &b->total);
}

/* `in` as text a store and a page take: valid UTF-8, no control
 * characters but newlines and tabs; a character cut at the end goes. */
static void body_text(const struct sbuf *in, char *out, size_t max)
{
	const unsigned char *s = (const unsigned char *)in->buf;
	size_t i = 0, o = 0;

	while (i < in->len && o < max) {
		unsigned cp;
		size_t k = utf8_char_len(s + i, in->len - i, &cp);
		if (k == 0 && in->len - i < 4 && s[i] >= 0xc0)
			break;	/* cut by the bound */
		if (k > 1 && o + k <= max) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
			continue;
		}
		out[o++] = k == 1 && (cp >= 0x20 || cp == '\n' || cp == '\t') &&
		    cp != 0x7f ? (char)cp : '?';
		i += k ? k : 1;
	}
	out[o] = '\0';
}

int http_get(const char *url, int64_t timeout_ms, struct http_result *res)
{
	CURL *c;
	CURLcode rc;
	struct body_start body = { 0, SBUF_INIT };
	curl_off_t us = 0;

	memset(res, 0, sizeof(*res));
	if (curl_lib_load() < 0) {
		snprintf(res->error, sizeof(res->error), "%s", error_last());
		return -1;
	}
	if (!(c = curl_easy_init())) {
		snprintf(res->error, sizeof(res->error), "cannot start libcurl");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_start);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "runner-check/1");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(c);
	body_text(&body.start, res->body, HTTP_BODY_START);
	sbuf_release(&body.start);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &us);
	res->latency_ms = (int64_t)(us / 1000);
	if (rc != CURLE_OK) {
		snprintf(res->error, sizeof(res->error), "%s",
		    curl_easy_strerror(rc));
		curl_easy_cleanup(c);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_cleanup(c);
	return 0;
}

int tls_days_left(const char *url, long *days)
{
	struct curl_certinfo *ci = NULL;
	CURL *c;
	CURLcode rc;
	size_t total = 0;
	time_t expire = 0;
	int error = 0;

	if (strncmp(url, "https://", 8))
		return error_set(ERR_INVALID, "'%s' is not an https URL", url);
	if (curl_lib_load() < 0)
		return -1;
	if (!(c = curl_easy_init()))
		return error_set(-1, "cannot start libcurl");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
	/* Only the expiry is read here; trust is the http checks' business. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &total);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		error = error_set(-1, "cannot reach '%s': %s", url,
		    curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci);
	for (int i = 0; ci && i < ci->num_of_certs && i < 1; i++)
		for (struct curl_slist *s = ci->certinfo[i]; s; s = s->next)
			if (!strncmp(s->data, "Expire date:", 12))
				expire = curl_getdate(s->data + 12, NULL);
	if (expire <= 0) {
		error = error_set(-1, "'%s' presented no certificate expiry", url);
		goto out;
	}
	*days = (long)((expire - time(NULL)) / 86400);
out:
	curl_easy_cleanup(c);
	return error;
}

int url_host_port(const char *url, char **host, long *port)
{
	CURLU *u;
	char *h = NULL, *p = NULL, *scheme = NULL;
	int error = 0;

	*host = NULL;
	*port = 0;
	if (curl_lib_load() < 0)
		return -1;
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https")) ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK) {
		error = error_set(ERR_INVALID, "'%s' is not an http or https URL "
		    "with a host", url);
		goto out;
	}
	size_t n = strlen(h);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
		*host = xstrndup(h + 1, n - 2);
	else
		*host = xstrdup(h);
	for (char *c = *host; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	*port = strtol(p, NULL, 10);
out:
	curl_free(h);
	curl_free(p);
	curl_free(scheme);
	curl_url_cleanup(u);
	return error;
}

int host_is_local(const char *host)
{
	return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) ||
	    !strcmp(host, "::1") || !strcmp(host, "0.0.0.0") ||
	    !strcmp(host, "::") || !strcmp(host, "0") ||
	    !strcmp(host, "localhost.localdomain") || !strncmp(host,
	    "::ffff:127.", 11);
}

char *url_join(const char *base, const char *path)
{
	size_t n;

	if (!base || strncmp(path, "/", 1))
		return xstrdup(path);
	n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	return xasprintf("%.*s%s", (int)n, base, path);
}
