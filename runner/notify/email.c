/*
 * The email format: a whole RFC 5322 message, its headers encoded where
 * they are not ASCII, sent over SMTP.
 */
#include "notify.h"
#include "notify_int.h"
#include "config.h"
#include "jobs.h"
#include "util.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* RFC 2047: a header value with anything but printable ASCII is sent as
 * base64 encoded-words, split between characters. */
static void header_text(struct sbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	int plain = 1;

	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] >= 0x7f)
			plain = 0;
	if (plain) {
		sbuf_adds(sb, s);
		return;
	}
	for (size_t i = 0; i < len; ) {
		size_t n = 0;
		unsigned cp;
		/* 45 bytes give 60 of base64: a word stays under 76 */
		while (i + n < len) {
			size_t c = utf8_char_len(p + i + n, len - i - n, &cp);
			if (!c)
				c = 1;
			if (n + c > 45)
				break;
			n += c;
		}
		unsigned char enc[64];
		EVP_EncodeBlock(enc, p + i, (int)n);
		sbuf_addf(sb, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", enc);
		i += n;
	}
}

char *email_body(const struct notify_target *t, const char *kind,
    const struct job *j, int64_t event_id, const char *base)
{
	struct sbuf out = SBUF_INIT, subj = SBUF_INIT;
	const struct stage_rec *fs = notify_failing_stage(j);
	char host[256] = "localhost", date[64];
	time_t now = time(NULL);
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z",
	    localtime_r(&now, &tm));
	sbuf_adds(&subj, "[runner] ");
	notify_summary(&subj, kind, j);
	if (subj.len > 400) {
		subj.len = 400;
		subj.buf[400] = '\0';
	}
	sbuf_addf(&out, "Date: %s\r\nFrom: %s\r\nTo: ", date, t->from);
	for (size_t i = 0; i < t->nto; i++)
		sbuf_addf(&out, "%s%s", i ? ", " : "", t->to[i]);
	sbuf_adds(&out, "\r\nSubject: ");
	header_text(&out, subj.buf);
	/* the same id on every attempt, so a retry is recognisable */
	sbuf_addf(&out, "\r\nMessage-ID: <runner.%lld.", (long long)event_id);
	for (const char *c = t->name; *c; c++)
		sbuf_addch(&out, (*c >= 'a' && *c <= 'z') || (*c >= 'A' &&
		    *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ?
		    *c : '_');
	sbuf_addf(&out, ".%lld.%lld@%s>\r\n", (long long)j->id,
	    (long long)now_ms(), host);
	sbuf_addf(&out, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "X-Runner-Event: %s\r\n\r\n", kind);
	notify_summary(&out, kind, j);
	sbuf_adds(&out, "\r\n\r\n");
	if (strcmp(kind, "test")) {
		notify_details(&out, j, "\r\n", base);
		sbuf_adds(&out, "\r\n");
	}
	if (fs && fs->log_path) {
		sbuf_addf(&out, "The last %d lines of the log of '", LOG_TAIL_LINES);
		notify_add_display(&out, fs->name);
		sbuf_adds(&out, "':\r\n\r\n");
		notify_log_tail(&out, fs->log_path, "\r\n");
		sbuf_adds(&out, "\r\n");
	}
	if (j->id)
		sbuf_addf(&out, "More: runner show %lld; runner log %lld\r\n",
		    (long long)j->id, (long long)j->id);
	sbuf_release(&subj);
	return sbuf_detach(&out);
}
