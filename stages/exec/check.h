/*
 * Health checks over HTTP with libcurl: status and latency of a GET, and
 * how many days the certificate of an https URL stays valid.
 */
#ifndef RUNNER_CHECK_H
#define RUNNER_CHECK_H

#include <stdint.h>

/* How much of a response's body a check keeps, for the page of a failed
 * deployment. */
#define HTTP_BODY_START 512

struct http_result {
	long status;		/* 0 if no response */
	int64_t latency_ms;
	char error[256];	/* why there was no response */
	/* the start of the body, as valid UTF-8 text (anything else, and
	 * control characters but newlines and tabs, as '?') */
	char body[HTTP_BODY_START + 1];
};

/* One GET of `url`; connect timeout 5 s, total `timeout_ms`. Returns 0
 * when a response came (any status), -1 otherwise (see res->error). */
int http_get(const char *url, int64_t timeout_ms, struct http_result *res);

/* Whole days left before the certificate `url` presents expires. */
int tls_days_left(const char *url, long *days);

/*
 * The host (lowercase, IPv6 without brackets) and port (the scheme's
 * default when absent) of an http or https `url`; the caller frees *host.
 * ERR_INVALID with a message if it is none.
 */
int url_host_port(const char *url, char **host, long *port);

/* Is `host` this machine's loopback or any-address, by its name? */
int host_is_local(const char *host);

/* `path` made absolute against `base` (NULL base: path as it is). */
char *url_join(const char *base, const char *path);

#endif
