/*
 * The Slack format: an incoming webhook's JSON, the summary and details
 * as mrkdwn.
 */
#include "notify_int.h"
#include "json.h"
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

/* Slack's mrkdwn wants &, < and > escaped. */
static void add_slack(struct sbuf *sb, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '&')
			sbuf_adds(sb, "&amp;");
		else if (*p == '<')
			sbuf_adds(sb, "&lt;");
		else if (*p == '>')
			sbuf_adds(sb, "&gt;");
		else
			sbuf_addch(sb, *p);
	}
}

char *slack_body(const char *kind, const struct job *j,
    const char *base)
{
	struct sbuf text = SBUF_INIT, esc = SBUF_INIT, out = SBUF_INIT;
	struct json w;

	notify_summary(&text, kind, j);
	if (strcmp(kind, "test")) {
		sbuf_addch(&text, '\n');
		notify_details(&text, j, "\n", base);
	}
	add_slack(&esc, text.buf);
	json_init(&w, &out);
	json_obj(&w, NULL);
	json_string(&w, "text", esc.buf);
	json_end(&w);
	sbuf_release(&text);
	sbuf_release(&esc);
	return sbuf_detach(&out);
}
