/*
 * Live logs, by Server-Sent Events: a response that blocks until its
 * stage's log grows, woken by the file growing (inotify) or, for a log a
 * build host sends through PostgreSQL, by the server's word that a chunk
 * arrived (LISTEN, on a connection of its own).
 */
#include "web_int.h"
#include "admin.h"
#include "chunks.h"
#include "home.h"
#include "jobs.h"
#include "outbox.h"
#include "page.h"
#include "state.h"
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
/* ---- live logs ---- */

struct sse {
	int64_t job;
	int idx;
	char *path;
	int fd, ino;
	off_t off;
	struct ansi a;
	struct sbuf out;	/* events not sent yet */
	char *buf;		/* SSE_CHUNK bytes read at a time */
	int64_t quiet_since;
	int ending, done;
	/* the next look at the stage's state, and the one after it when it
	 * still runs; the store's error said (a look that failed) */
	int64_t check_at;
	int recheck_ms;
	char *said;
	/* a log sent through the store (its host shares only that): the
	 * next chunk, the bytes read so far, when it was last asked; the
	 * server said a chunk came (through `efd`, an eventfd) */
	int seq;
	int64_t sent, asked;
	int efd, chunk_came;
	struct sse *next;	/* W.live */
};

/* The stage's state; -1 when it is gone, ERR_BUSY (the error set) when
 * the store cannot say. */
static int stage_state(const struct sse *s)
{
	struct store *st = NULL;
	struct job *j = NULL;
	int state = -1, slot, rc;

	if ((slot = web_pool_get(&st)) < 0)
		return ERR_BUSY;
	if ((rc = store_job_get(st, s->job, &j)) == 0)
		state = job_stage_state(j, s->idx);
	else if (rc != ERR_NOTFOUND)
		state = ERR_BUSY;
	job_free(j);
	web_pool_put(slot);
	return state;
}

/* The server says a chunk of the log of stage `idx` of job `id` came
 * (the listener's thread): its live logs look. */
static void wake(const struct sse *s)
{
	uint64_t one = 1;

	/* a full count (never, in practice) still wakes it */
	if (s->efd >= 0 && write(s->efd, &one, sizeof(one)) < 0)
		return;
}

static void chunk_came(int64_t id, int idx, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&W.lock);
	for (struct sse *s = W.live; s; s = s->next)
		if (s->job == id && s->idx == idx)
			wake(s);
	pthread_mutex_unlock(&W.lock);
}

/* Every live log looks: the word may have been missed. */
void web_wake_all(void)
{
	pthread_mutex_lock(&W.lock);
	for (struct sse *s = W.live; s; s = s->next)
		wake(s);
	pthread_mutex_unlock(&W.lock);
}

/*
 * The listener (a thread of its own, PostgreSQL only): a connection that
 * LISTENs for chunks of logs arriving and wakes the live logs that
 * follow them. Down, it tries again every second, and the live logs look
 * every SSE_CHECK_MS meanwhile.
 */
void *web_listener(void *arg)
{
	struct store *st = NULL;
	int said = 0;

	(void)arg;
	for (;;) {
		struct pollfd p = { -1, POLLIN, 0 };
		if (!st && (store_open(W.home, W.store_url, STORE_OPEN, &st) < 0 ||
		    store_log_watch(st) < 0)) {
			if (!said++)
				log_line("warning: live logs sent through the "
				    "store are looked at every %d ms: %s",
				    SSE_CHECK_MS, error_last());
			error_clear();
			store_close(st);
			st = NULL;
			poll(NULL, 0, 1000);
			continue;
		}
		if (said) {
			log_line("live logs are woken by the store again");
			said = 0;
		}
		atomic_store(&W.heard, 1);
		web_wake_all();	/* what was said while no one listened */
		while ((p.fd = store_fd(st)) >= 0) {
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				break;
			if (store_log_heard(st, chunk_came, NULL) < 0)
				break;
		}
		atomic_store(&W.heard, 0);
		error_clear();
		store_close(st);
		st = NULL;
		web_wake_all();
	}
	return NULL;
}

/* One event of HTML: a "data:" line per line of it. A CR ends a line
 * for the browser as LF does, so it ends one here too: a CR of a commit
 * subject would otherwise start a line of the push's own (an event of
 * its choosing, "end" or a "job" of its text). */
void web_sse_event(struct sbuf *out, const char *event, const char *data,
    size_t len)
{
	if (event)
		sbuf_addf(out, "event: %s\n", event);
	for (;;) {
		size_t n = 0;
		while (n < len && data[n] != '\n' && data[n] != '\r')
			n++;
		sbuf_adds(out, "data: ");
		sbuf_add(out, data, n);
		sbuf_addch(out, '\n');
		if (n == len)
			break;
		len -= n + 1;
		data += n + 1;
	}
	sbuf_addch(out, '\n');
}

/* The log of stage `idx` of job `id` that its host sent through the
 * store, from chunk *seq on, appended to `out`; 0 when there is none. */
int web_log_sent_in(struct store *st, int64_t id, int idx, int *seq,
    struct sbuf *out)
{
	int n = store_is_sqlite(st) ? 0 : store_log_read(st, id, idx, *seq,
	    out, seq);

	return n > 0 ? n : 0;
}

/* web_log_sent_in() on a connection of the pool */
static int log_sent(int64_t id, int idx, int *seq, struct sbuf *out)
{
	struct store *st = NULL;
	int n = 0, slot;

	if ((slot = web_pool_get(&st)) >= 0)
		n = web_log_sent_in(st, id, idx, seq, out);
	web_pool_put(slot);
	error_clear();
	return n;
}

/* What the store has of the log past s->off: when the server says a
 * chunk came, else once per SSE_CHECK_MS (once a second while its word
 * is heard: a word missed). */
static int sse_more_sent(struct sse *s)
{
	struct sbuf got = SBUF_INIT, h = SBUF_INIT;
	int64_t now = mono_ms(), start = s->sent;

	if (!s->chunk_came && now - s->asked < (atomic_load(&W.heard) ?
	    SSE_IDLE_CHECK_MS : SSE_CHECK_MS))
		return 0;
	s->chunk_came = 0;
	s->asked = now;
	log_sent(s->job, s->idx, &s->seq, &got);
	s->sent += (int64_t)got.len;
	if (s->sent > s->off) {
		size_t skip = start < s->off ? (size_t)(s->off - start) : 0;
		ansi_html(&s->a, got.buf + skip, got.len - skip, &h);
		s->off = s->sent;
		if (h.len)
			web_sse_event(&s->out, NULL, h.buf, h.len);
	}
	sbuf_release(&got);
	sbuf_release(&h);
	return s->out.len > 0;
}

static int sse_more(struct sse *s)
{
	char *buf = s->buf;
	ssize_t n;

	if (s->fd < 0 && (s->seq || access(s->path, F_OK) < 0))
		return sse_more_sent(s);
	if (s->fd < 0) {
		s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (s->fd >= 0 && s->ino >= 0)
			inotify_add_watch(s->ino, s->path, IN_MODIFY |
			    IN_CLOSE_WRITE);
	}
	if (s->fd < 0 || (n = pread(s->fd, buf, SSE_CHUNK, s->off)) <= 0)
		return 0;
	s->off += n;
	struct sbuf h = SBUF_INIT;
	ansi_html(&s->a, buf, (size_t)n, &h);
	if (h.len)
		web_sse_event(&s->out, NULL, h.buf, h.len);
	sbuf_release(&h);
	return 1;
}

/* The store cannot say (`why`), or can again (NULL): an event "store"
 * with why, or empty, when that changes. */
static void store_said(struct sse *s, const char *why)
{
	if (why ? s->said && !strcmp(s->said, why) : !s->said)
		return;
	web_sse_event(&s->out, "store", why ? why : "", why ? strlen(why) : 0);
	free(s->said);
	s->said = why ? xstrdup(why) : NULL;
}

/* How long the stage's state may go unread: longer when something wakes
 * the log at its end. */
static int idle_check_ms(const struct sse *s)
{
	int woken = s->fd >= 0 ? s->ino >= 0 : atomic_load(&W.heard) &&
	    s->seq > 0;

	return woken ? SSE_IDLE_CHECK_MS : SSE_CHECK_MS;
}

/* Wait until the log may have grown, the stage may have ended, or
 * `until` (monotonic ms). */
static void sse_wait(struct sse *s, int64_t until)
{
	struct pollfd p[2] = { { s->fd >= 0 ? s->ino : -1, POLLIN, 0 },
		{ s->efd, POLLIN, 0 } };
	int64_t left = until - mono_ms();

	/* a file that is not there yet is looked for every 50 ms */
	if (s->fd < 0 && !s->seq && left > 50)
		left = 50;
	if (poll(p, 2, left > 0 ? (int)left : 0) <= 0)
		return;
	if (p[0].revents) {
		char ev[4096] __attribute__((aligned(8)));
		ssize_t n;
		poll(NULL, 0, SSE_GATHER_MS);
		while ((n = read(s->ino, ev, sizeof(ev))) > 0)
			for (ssize_t k = 0; k + (ssize_t)sizeof(struct
			    inotify_event) <= n;) {
				const struct inotify_event *e = (const void *)
				    (ev + k);
				/* the worker closes a stage's log when it has
				 * recorded its end */
				if (e->mask & IN_CLOSE_WRITE) {
					s->check_at = mono_ms();
					s->recheck_ms = SSE_RECHECK_MS;
				}
				k += (ssize_t)sizeof(*e) + e->len;
			}
	}
	if (p[1].revents) {
		uint64_t n;
		if (read(s->efd, &n, sizeof(n)) > 0)
			s->chunk_came = 1;
	}
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *s = cls;

	(void)pos;
	while (!s->out.len) {
		if (s->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (sse_more(s))
			break;
		int64_t now = mono_ms();
		if (s->ending) {	/* nothing more after the end */
			int state = stage_state(s);
			const char *name = state >= 0 ?
			    step_state_name((enum step_state)state) : "ended";
			error_clear();
			web_sse_event(&s->out, "end", name, strlen(name));
			s->done = 1;
			break;
		}
		if (now >= s->check_at) {
			int state = stage_state(s);
			if (state == ERR_BUSY) {
				/* said, and looked at again until it answers */
				store_said(s, error_last());
				error_clear();
				s->check_at = now + SSE_CHECK_MS;
			} else {
				store_said(s, NULL);
				if (state != STEP_RUNNING &&
				    state != STEP_PENDING) {
					s->ending = 1;	/* what is left first */
					continue;
				}
				s->check_at = now + s->recheck_ms;
				s->recheck_ms = s->recheck_ms * 2 <
				    idle_check_ms(s) ? s->recheck_ms * 2 :
				    idle_check_ms(s);
			}
			if (s->out.len)
				break;
		}
		if (now - s->quiet_since >= SSE_KEEPALIVE_MS) {
			sbuf_adds(&s->out, ": still running\n\n");
			break;
		}
		sse_wait(s, s->check_at < s->quiet_since + SSE_KEEPALIVE_MS ?
		    s->check_at : s->quiet_since + SSE_KEEPALIVE_MS);
	}
	s->quiet_since = mono_ms();
	size_t n = s->out.len < max ? s->out.len : max;
	memcpy(buf, s->out.buf, n);
	memmove(s->out.buf, s->out.buf + n, s->out.len - n);
	sbuf_truncate(&s->out, s->out.len - n);
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct sse *s = cls;

	pthread_mutex_lock(&W.lock);
	for (struct sse **p = &W.live; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	pthread_mutex_unlock(&W.lock);
	if (s->fd >= 0)
		close(s->fd);
	if (s->ino >= 0)
		close(s->ino);
	if (s->efd >= 0)
		close(s->efd);
	sbuf_release(&s->out);
	free(s->said);
	free(s->buf);
	free(s->path);
	free(s);
	atomic_fetch_sub(&W.sse_clients, 1);
	web_stream_give();
}

enum MHD_Result web_send_events(struct MHD_Connection *c,
    const struct job *j, const struct stage_rec *st, int64_t from)
{
	struct sse *s;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (web_stream_take() < 0)
		return web_streams_full(c);
	s = xcalloc(1, sizeof(*s));
	s->job = j->id;
	s->idx = st->idx;
	s->path = xstrdup(st->log_path);
	s->buf = xmalloc(SSE_CHUNK);
	s->fd = -1;
	s->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->off = from > 0 ? from : 0;
	s->a = (struct ansi)ANSI_INIT;
	s->quiet_since = mono_ms();
	s->check_at = mono_ms();
	s->recheck_ms = SSE_CHECK_MS;
	atomic_fetch_add(&W.sse_clients, 1);
	pthread_mutex_lock(&W.lock);
	s->next = W.live;
	W.live = s;
	pthread_mutex_unlock(&W.lock);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_CHUNK * 8,
	    sse_read, s, sse_free);
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
