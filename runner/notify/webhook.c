/*
 * The webhook format: the job as JSON, as `show --json` writes it, with
 * the event; signed with an HMAC when it is sent.
 */
#include "notify_int.h"
#include "json.h"
#include "jobs.h"
#include "outbox.h"
#include "util.h"
#include "records.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *webhook_body(const char *kind, const char *tags,
    const struct job *j, int64_t event_id, const char *base)
{
	struct sbuf out = SBUF_INIT, text = SBUF_INIT;
	struct json w;

	notify_summary(&text, kind, j);
	json_init(&w, &out);
	json_obj(&w, NULL);
	json_int(&w, "id", event_id);
	json_string(&w, "event", kind);
	json_arr(&w, "matches");
	for (const char *p = tags; *p; ) {
		size_t n = strcspn(p, " ");
		char *tag = xstrndup(p, n);
		json_string(&w, NULL, tag);
		free(tag);
		p += n;
		p += strspn(p, " ");
	}
	json_end(&w);
	json_string(&w, "sent_by", "runner");
	json_int(&w, "created_ms", now_ms());
	json_string(&w, "summary", text.buf);
	if (base) {
		char *url = xasprintf("%s/job/%lld", base, (long long)j->id);
		json_string(&w, "url", url);
		free(url);
	}
	json_job(&w, "job", j);
	json_end(&w);
	sbuf_release(&text);
	return sbuf_detach(&out);
}
