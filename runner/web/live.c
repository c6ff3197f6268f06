/*
 * A job's page, live: /job/ID/events, Server-Sent Events that carry the
 * part of the job's page that changes while it queues and runs (its
 * state, stages and their durations, what failed), rendered by the same
 * code as the page (page_job_live), each time it changes; then an event
 * "end" with the final state, and the stream ends. The page's script
 * puts each in place (page.c, page_js); without script the page is the
 * same HTML, as it was when loaded.
 *
 * The job is read from the store every JOB_LIVE_MS, on a connection of
 * the pool held only for that read; a change shows within that, and the
 * durations of a running stage move every second.
 */
#include "web_int.h"
#include "jobs.h"
#include "page.h"
#include "state.h"
#include "store.h"
#include "util.h"

#include <microhttpd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define JOB_LIVE_MS 250

struct job_live {
	int64_t id;
	struct sbuf last;	/* the part of the page sent last */
	struct sbuf out;	/* events not sent yet */
	char *said;		/* the store's error, said */
	int64_t next_at, quiet_since;
	int done;
};

/* The job's live part into `h`; *state its state. 0, ERR_NOTFOUND when
 * it is gone, or ERR_BUSY (the error set) when the store cannot say. */
static int render(const struct job_live *l, struct sbuf *h, int *state)
{
	struct store *st = NULL;
	struct job *j = NULL;
	int slot, rc;

	if ((slot = web_pool_get(&st)) < 0)
		return ERR_BUSY;
	if ((rc = store_job_get(st, l->id, &j)) == 0) {
		page_job_live(h, st, j);
		*state = (int)j->state;
	} else if (rc != ERR_NOTFOUND) {
		rc = ERR_BUSY;
	}
	job_free(j);
	web_pool_put(slot);
	return rc;
}

/* Look at the job: an event when its page changed, "end" when it is
 * over; "store" with the error when the store cannot say, empty when it
 * can again. */
static void look(struct job_live *l)
{
	struct sbuf h = SBUF_INIT;
	int state = -1, rc = render(l, &h, &state);
	const char *why = NULL;

	if (rc == ERR_BUSY)
		why = error_last();
	if (why ? !l->said || strcmp(l->said, why) : l->said != NULL) {
		web_sse_event(&l->out, "store", why ? why : "", why ?
		    strlen(why) : 0);
		free(l->said);
		l->said = why ? xstrdup(why) : NULL;
	}
	error_clear();
	if (rc == 0 && (l->last.len != h.len || memcmp(l->last.buf, h.buf,
	    h.len))) {
		web_sse_event(&l->out, "job", h.buf, h.len);
		sbuf_reset(&l->last);
		sbuf_add(&l->last, h.buf, h.len);
	}
	if (rc == ERR_NOTFOUND || (rc == 0 && job_state_final(state))) {
		const char *name = rc == 0 ? job_state_name(state) : "gone";
		web_sse_event(&l->out, "end", name, strlen(name));
		l->done = 1;
	}
	sbuf_release(&h);
}

static ssize_t live_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct job_live *l = cls;

	(void)pos;
	while (!l->out.len) {
		int64_t now = mono_ms();
		if (l->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (now >= l->next_at) {
			look(l);
			l->next_at = now + JOB_LIVE_MS;
			if (l->out.len)
				break;
		}
		if (now - l->quiet_since >= SSE_KEEPALIVE_MS) {
			sbuf_adds(&l->out, ": still there\n\n");
			break;
		}
		poll(NULL, 0, (int)(l->next_at - now > 0 ? l->next_at - now : 0));
	}
	l->quiet_since = mono_ms();
	size_t n = l->out.len < max ? l->out.len : max;
	memcpy(buf, l->out.buf, n);
	memmove(l->out.buf, l->out.buf + n, l->out.len - n);
	sbuf_truncate(&l->out, l->out.len - n);
	return (ssize_t)n;
}

static void live_free(void *cls)
{
	struct job_live *l = cls;

	sbuf_release(&l->last);
	sbuf_release(&l->out);
	free(l->said);
	free(l);
	atomic_fetch_sub(&W.job_streams, 1);
	web_stream_give();
}

enum MHD_Result web_job_events(struct MHD_Connection *c, const struct job *j)
{
	struct job_live *l;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (web_stream_take() < 0)
		return web_streams_full(c);
	l = xcalloc(1, sizeof(*l));
	l->id = j->id;
	l->last = (struct sbuf)SBUF_INIT;
	l->out = (struct sbuf)SBUF_INIT;
	l->quiet_since = mono_ms();
	l->next_at = mono_ms();
	atomic_fetch_add(&W.job_streams, 1);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_CHUNK,
	    live_read, l, live_free);
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	/* nginx passes it on as it comes */
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
