/*
 * The PagerDuty format: an Events API v2 trigger or resolve, keyed by the
 * job's repository, branch and environment.
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

/* Stored without the routing key, which is added when it is sent. */
char *pagerduty_body(const char *kind, const struct job *j,
    const char *action, const char *dedup, const char *base)
{
	struct sbuf out = SBUF_INIT, text = SBUF_INIT, det = SBUF_INIT;
	struct json w;
	char host[256] = "runner";

	json_init(&w, &out);
	json_obj(&w, NULL);
	json_string(&w, "event_action", action);
	json_string(&w, "dedup_key", dedup);
	if (!strcmp(action, "trigger")) {
		char *repo = repo_short_name(j->repo ? j->repo : "runner");
		gethostname(host, sizeof(host) - 1);
		notify_summary(&text, kind, j);
		if (text.len > 1000) {	/* PagerDuty takes 1024 */
			text.len = 1000;
			text.buf[1000] = '\0';
		}
		notify_details(&det, j, "\n", base);
		json_obj(&w, "payload");
		json_string(&w, "summary", text.buf);
		json_string(&w, "source", host);
		json_string(&w, "severity", !strcmp(kind, "test") ? "info" :
		    j->env && !strcmp(j->env, "production") ? "critical" :
		    "error");
		json_string(&w, "component", repo);
		json_string(&w, "group", j->env ? j->env :
		    ref_short_name(j->ref));
		json_string(&w, "class", kind);
		json_obj(&w, "custom_details");
		json_string(&w, "details", det.buf);
		json_int(&w, "job", j->id);
		json_end(&w);
		json_end(&w);
		free(repo);
	}
	json_string(&w, "client", "runner");
	json_end(&w);
	sbuf_release(&text);
	sbuf_release(&det);
	return sbuf_detach(&out);
}
