/*
 * The web process (web.h): libmicrohttpd, a thread per connection (a live
 * log is a response that blocks until the log grows). A page borrows one
 * of a few store connections kept open, with their statements prepared
 * (on PostgreSQL a new one is a TCP connect, an authentication and a
 * prepare of each statement); a server that is gone is said within a
 * second. A live log is woken by its file growing (inotify) or, for a log
 * a build host sends through PostgreSQL, by the server's word that a
 * chunk arrived (LISTEN, on a connection of its own).
 * Read-only: GET and HEAD, nothing else.
 */
#include "web.h"
#include "admin.h"
#include "chunks.h"
#include "config.h"
#include "envs.h"
#include "home.h"
#include "jobs.h"
#include "json.h"
#include "outbox.h"
#include "page.h"
#include "peer.h"
#include "records.h"
#include "repos.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "view.h"

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

/* A log page shows this much of its end; the rest is a link away. */
#define LOG_TAIL (256 * 1024)
/* What a live log sends at most per event, and how often it checks that
 * the stage still runs, and says it is still there. */
#define SSE_CHUNK (64 * 1024)
/* After the log grows, a moment for more to come, so that a stage that
 * writes a lot is sent in fewer, larger events (and new output still
 * shows within a tenth of a second). */
#define SSE_GATHER_MS 20
/* How often a live log looks at its stage's state: when nothing can wake
 * it (its file is not there yet, the store's word is not heard), and at
 * most when something can (the stage ending closes its file, or sends
 * its last chunk: a look then, and again at SSE_RECHECK_MS, doubling). */
#define SSE_CHECK_MS 250
#define SSE_IDLE_CHECK_MS 1000
#define SSE_RECHECK_MS 25
#define SSE_KEEPALIVE_MS 15000
/* The store connections pages share, how long a page waits for one, and
 * how long opening one may take: with the server gone a page says so
 * within a second. */
#define POOL_SIZE 4
#define POOL_WAIT_MS 1000
#define CONNECT_MS 700

struct sse;

struct web {
	const char *home;
	pthread_mutex_t lock;		/* the pool and the live logs */
	pthread_cond_t freed;
	struct store *pool[POOL_SIZE];
	int busy[POOL_SIZE];
	struct sse *live;		/* live logs, to wake */
	atomic_int heard;		/* the store's word on logs is heard */
	atomic_int sse_clients;
	/* who may not look: repository code (peer.h) */
	struct sockaddr_storage local;
	uid_t *code, own[2];
	struct peer_policy policy;
	const char *store_url;		/* runner.yml's store: */
	int conf_loaded;		/* runner.yml the policy comes from */
	struct timespec conf_mtime;
	off_t conf_size;
};

static struct web W;

/* ---- responses ---- */

static enum MHD_Result send_buf(struct MHD_Connection *c, int status,
    const char *type, struct sbuf *body)
{
	size_t len = body->len;
	struct MHD_Response *r = MHD_create_response_from_buffer(len,
	    sbuf_detach(body), MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy",
	    "default-src 'self'; img-src 'self' data:");
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status,
    const char *msg)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addf(&sb, "%s\n", msg);
	return send_buf(c, status, "text/plain; charset=utf-8", &sb);
}

static enum MHD_Result not_found(struct MHD_Connection *c, const char *what)
{
	struct sbuf sb = SBUF_INIT;

	page_begin(&sb, "not found");
	sbuf_adds(&sb, "<h1>Not found</h1><p>");
	html(&sb, what);
	sbuf_adds(&sb, "</p>");
	page_end(&sb);
	return send_buf(c, 404, "text/html; charset=utf-8", &sb);
}

static enum MHD_Result send_fd(struct MHD_Connection *c, int fd,
    const char *type, const char *download);

/* A file of the home, whole (a log, an artifact). */
static enum MHD_Result send_file(struct MHD_Connection *c, const char *path,
    const char *type, const char *download)
{
	return send_fd(c, open(path, O_RDONLY | O_CLOEXEC), type, download);
}

/*
 * The artifact of job `id` recorded at `path`: the file, or the copy a
 * host that shares only the store sent there (anonymous memory while it
 * is sent; whoever downloads it checks the sha256 the page shows).
 */
static enum MHD_Result send_artifact(struct MHD_Connection *c,
    struct store *st, int64_t id, const char *path, const char *download)
{
	int fd;

	if (access(path, F_OK) == 0 || store_is_sqlite(st))
		return send_file(c, path, "application/zstd", download);
	if ((fd = memfd_create("artifact", MFD_CLOEXEC)) >= 0 &&
	    (store_artifact_fetch(st, id, fd) <= 0 || lseek(fd, 0,
	    SEEK_SET) < 0)) {
		close(fd);
		fd = -1;
	}
	return send_fd(c, fd, "application/zstd", download);
}

/* An open file (taken over), whole; -1: it is gone. */
static enum MHD_Result send_fd(struct MHD_Connection *c, int fd,
    const char *type, const char *download)
{
	struct stat st;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return not_found(c, "the file is gone (runner gc removes old "
		    "logs and artifacts)");
	}
	r = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (download) {
		char *cd = xasprintf("attachment; filename=\"%s\"", download);
		MHD_add_response_header(r, "Content-Disposition", cd);
		free(cd);
	}
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- what the store says ---- */

/*
 * A store connection of the pool for this thread: its slot (give it back
 * with pool_put), or -1 with the error set: none free within
 * POOL_WAIT_MS, or the server cannot be reached. A connection is opened
 * the first time its slot is used, and kept; one the server closed is
 * opened again before use (store_alive), within CONNECT_MS.
 */
static int pool_get(struct store **out)
{
	struct timespec end;
	int slot = -1, error;

	*out = NULL;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += POOL_WAIT_MS / 1000;
	end.tv_nsec += (POOL_WAIT_MS % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&W.lock);
	for (;;) {
		for (int i = 0; i < POOL_SIZE && slot < 0; i++)
			if (!W.busy[i])
				slot = i;
		if (slot >= 0 || pthread_cond_timedwait(&W.freed, &W.lock,
		    &end) == ETIMEDOUT)
			break;
	}
	if (slot >= 0)
		W.busy[slot] = 1;
	pthread_mutex_unlock(&W.lock);
	if (slot < 0)
		return error_set(ERR_BUSY, "the web page's %d store connections "
		    "are all in use: try again", POOL_SIZE);
	if (!W.pool[slot])
		error = store_open(W.home, W.store_url, STORE_OPEN,
		    &W.pool[slot]);
	else
		error = store_alive(W.pool[slot]);
	if (error < 0) {
		pthread_mutex_lock(&W.lock);
		W.busy[slot] = 0;
		pthread_cond_signal(&W.freed);
		pthread_mutex_unlock(&W.lock);
		return error;
	}
	*out = W.pool[slot];
	return slot;
}

static void pool_put(int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&W.lock);
	W.busy[slot] = 0;
	pthread_cond_signal(&W.freed);
	pthread_mutex_unlock(&W.lock);
}

static int64_t number(const char *s)
{
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno || *end ? -1 : v;
}

/* The repository a page names (its name as status shows it, or its
 * path); NULL if none or several. Caller frees. */
static char *find_repo(struct store *st, const char *name)
{
	struct repo_name *v = NULL;
	char *found = NULL;
	size_t n = 0, at;

	if (!name || store_repo_names(st, &v, &n) < 0)
		return NULL;
	if (repo_names_find(v, n, name, NULL, &at) == 0)
		found = xstrdup(v[at].path);
	repo_names_free(v, n);
	error_clear();
	return found;
}

static const char *arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

/* ---- metrics ---- */

static void metric_head(struct sbuf *sb, const char *name, const char *type,
    const char *help)
{
	sbuf_addf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label(struct sbuf *sb, const char *key, const char *v, int first)
{
	sbuf_addf(sb, "%s%s=\"", first ? "" : ",", key);
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			sbuf_addch(sb, '\\');
		if (*v == '\n')
			sbuf_adds(sb, "\\n");
		else
			sbuf_addch(sb, *v);
	}
	sbuf_addch(sb, '"');
}

static void histogram(struct sbuf *sb, const char *name, const char *lkey,
    const struct stat_row *v, size_t n)
{
	const int64_t *bounds;
	size_t nb = stats_bounds(&bounds);

	for (size_t i = 0; i < n; i++) {
		char *repo = repo_short_name(v[i].text[0]);
		for (size_t b = 0; b <= nb; b++) {
			sbuf_addf(sb, "%s_bucket{", name);
			label(sb, "repo", repo, 1);
			label(sb, lkey, v[i].text[1], 0);
			if (b < nb)
				sbuf_addf(sb, ",le=\"%g\"} %lld\n",
				    (double)bounds[b] / 1000, (long long)v[i].num[b]);
			else
				sbuf_addf(sb, ",le=\"+Inf\"} %lld\n",
				    (long long)v[i].num[nb]);
		}
		sbuf_addf(sb, "%s_sum{", name);
		label(sb, "repo", repo, 1);
		label(sb, lkey, v[i].text[1], 0);
		sbuf_addf(sb, "} %.3f\n%s_count{", (double)v[i].num[nb + 1] / 1000,
		    name);
		label(sb, "repo", repo, 1);
		label(sb, lkey, v[i].text[1], 0);
		sbuf_addf(sb, "} %lld\n", (long long)v[i].num[nb]);
		free(repo);
	}
}

static int metrics(struct store *st, struct sbuf *sb)
{
	struct status_view v;
	struct stat_row *rows[4] = { 0 };
	size_t nrows[4] = { 0 };
	int64_t queued = 0, running = 0, spooled = 0;
	int error = 0;

	if (status_view_load(st, W.home, 0, &v) < 0)
		return -1;
	for (int k = 0; k < 4 && error == 0; k++)
		error = store_stats(st, (enum stat_kind)k, &rows[k], &nrows[k]);
	if (error < 0)
		goto out;
	for (size_t i = 0; i < v.n; i++) {
		queued += v.jobs[i]->state == JOB_QUEUED;
		running += v.jobs[i]->state == JOB_RUNNING;
	}
	spooled = (int64_t)(v.spool.waiting + v.spool.held);

	metric_head(sb, "runner_up", "gauge", "Whether the daemon runs.");
	sbuf_addf(sb, "runner_up %d\n", v.pid != 0);
	metric_head(sb, "runner_config_ok", "gauge", "Whether runner.yml "
	    "loads (0: the last good configuration is kept; status says why).");
	sbuf_addf(sb, "runner_config_ok %d\n", !v.config_bad);
	metric_head(sb, "runner_queue_paused", "gauge",
	    "Whether the queue is paused (runner pause).");
	sbuf_addf(sb, "runner_queue_paused %d\n", v.paused != NULL);
	metric_head(sb, "runner_jobs_queued", "gauge", "Jobs in the queue.");
	sbuf_addf(sb, "runner_jobs_queued %lld\n", (long long)queued);
	metric_head(sb, "runner_jobs_running", "gauge", "Jobs running.");
	sbuf_addf(sb, "runner_jobs_running %lld\n", (long long)running);
	metric_head(sb, "runner_jobs", "gauge",
	    "Jobs in the store by kind and state (retention removes old ones).");
	for (size_t i = 0; i < nrows[STAT_JOBS]; i++) {
		sbuf_adds(sb, "runner_jobs{");
		label(sb, "kind", rows[STAT_JOBS][i].text[0], 1);
		label(sb, "state", rows[STAT_JOBS][i].text[1], 0);
		sbuf_addf(sb, "} %lld\n", (long long)rows[STAT_JOBS][i].num[0]);
	}
	metric_head(sb, "runner_deployments", "gauge",
	    "Ended deployments by repository, environment and outcome.");
	for (size_t i = 0; i < nrows[STAT_DEPLOYS]; i++) {
		char *repo = repo_short_name(rows[STAT_DEPLOYS][i].text[0]);
		sbuf_adds(sb, "runner_deployments{");
		label(sb, "repo", repo, 1);
		label(sb, "environment", rows[STAT_DEPLOYS][i].text[1], 0);
		label(sb, "state", rows[STAT_DEPLOYS][i].text[2], 0);
		sbuf_addf(sb, "} %lld\n", (long long)rows[STAT_DEPLOYS][i].num[0]);
		free(repo);
	}
	metric_head(sb, "runner_job_duration_seconds", "histogram",
	    "How long jobs ran, by repository and kind (build, deploy).");
	histogram(sb, "runner_job_duration_seconds", "kind",
	    rows[STAT_JOB_TIMES], nrows[STAT_JOB_TIMES]);
	metric_head(sb, "runner_stage_duration_seconds", "histogram",
	    "How long the stages of builds ran, by repository and stage.");
	histogram(sb, "runner_stage_duration_seconds", "stage",
	    rows[STAT_STAGE_TIMES], nrows[STAT_STAGE_TIMES]);
	metric_head(sb, "runner_notifications_pending", "gauge",
	    "Notifications not delivered yet.");
	sbuf_addf(sb, "runner_notifications_pending %lld\n",
	    (long long)v.pending);
	metric_head(sb, "runner_notifications_dead", "gauge",
	    "Notifications given up on.");
	sbuf_addf(sb, "runner_notifications_dead %lld\n", (long long)v.dead);
	metric_head(sb, "runner_spooled_pushes", "gauge",
	    "Pushes in the spool not queued yet: waiting for the daemon, or "
	    "held.");
	sbuf_addf(sb, "runner_spooled_pushes %lld\n", (long long)spooled);
	metric_head(sb, "runner_spool_held_pushes", "gauge",
	    "Pushes the daemon cannot queue now (a repository it cannot "
	    "read): runner status says why and the fix.");
	sbuf_addf(sb, "runner_spool_held_pushes %zu\n", v.spool.held);
	metric_head(sb, "runner_spool_held_oldest_seconds", "gauge",
	    "Age of the oldest held push, 0 if none.");
	sbuf_addf(sb, "runner_spool_held_oldest_seconds %lld\n",
	    v.spool.held ? (long long)((now_ms() - v.spool.held_oldest_ms) /
	    1000) : 0LL);
	metric_head(sb, "runner_spool_refused_pushes", "gauge",
	    "Spool entries refused, in spool/refused/ for the operator.");
	sbuf_addf(sb, "runner_spool_refused_pushes %zu\n", v.spool.refused);
	metric_head(sb, "runner_disk_bytes", "gauge",
	    "The home's disk use by kind, as runner gc last measured it.");
	for (char *p = v.disk, *tok; p && (tok = strsep(&p, " "));) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		sbuf_adds(sb, "runner_disk_bytes{");
		label(sb, "kind", tok, 1);
		sbuf_addf(sb, "} %s\n", eq + 1);
	}
	metric_head(sb, "runner_web_live_logs", "gauge",
	    "Live logs (Server-Sent Events) being followed.");
	sbuf_addf(sb, "runner_web_live_logs %d\n", atomic_load(&W.sse_clients));
out:
	for (int k = 0; k < 4; k++)
		stats_free(rows[k], nrows[k]);
	status_view_free(&v);
	return error;
}

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

	if ((slot = pool_get(&st)) < 0)
		return ERR_BUSY;
	if ((rc = store_job_get(st, s->job, &j)) == 0)
		state = job_stage_state(j, s->idx);
	else if (rc != ERR_NOTFOUND)
		state = ERR_BUSY;
	job_free(j);
	pool_put(slot);
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
static void wake_all(void)
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
static void *listener(void *arg)
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
		wake_all();	/* what was said while no one listened */
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
		wake_all();
	}
	return NULL;
}

/* One event of HTML: a "data:" line per line of it. */
static void sse_event(struct sbuf *out, const char *event, const char *data,
    size_t len)
{
	if (event)
		sbuf_addf(out, "event: %s\n", event);
	for (;;) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		sbuf_adds(out, "data: ");
		sbuf_add(out, data, n);
		sbuf_addch(out, '\n');
		if (!nl)
			break;
		len -= n + 1;
		data = nl + 1;
	}
	sbuf_addch(out, '\n');
}

/* The log of stage `idx` of job `id` that its host sent through the
 * store, from chunk *seq on, appended to `out`; 0 when there is none. */
static int log_sent_in(struct store *st, int64_t id, int idx, int *seq,
    struct sbuf *out)
{
	int n = store_is_sqlite(st) ? 0 : store_log_read(st, id, idx, *seq,
	    out, seq);

	return n > 0 ? n : 0;
}

/* log_sent_in() on a connection of the pool */
static int log_sent(int64_t id, int idx, int *seq, struct sbuf *out)
{
	struct store *st = NULL;
	int n = 0, slot;

	if ((slot = pool_get(&st)) >= 0)
		n = log_sent_in(st, id, idx, seq, out);
	pool_put(slot);
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
			sse_event(&s->out, NULL, h.buf, h.len);
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
		sse_event(&s->out, NULL, h.buf, h.len);
	sbuf_release(&h);
	return 1;
}

/* The store cannot say (`why`), or can again (NULL): an event "store"
 * with why, or empty, when that changes. */
static void store_said(struct sse *s, const char *why)
{
	if (why ? s->said && !strcmp(s->said, why) : !s->said)
		return;
	sse_event(&s->out, "store", why ? why : "", why ? strlen(why) : 0);
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
			sse_event(&s->out, "end", name, strlen(name));
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
}

static enum MHD_Result send_events(struct MHD_Connection *c,
    const struct job *j, const struct stage_rec *st, int64_t from)
{
	struct sse *s = xcalloc(1, sizeof(*s));
	struct MHD_Response *r;
	enum MHD_Result ret;

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

/* ---- pages ---- */

static const struct stage_rec *stage_of(const struct job *j, int64_t idx)
{
	for (size_t i = 0; i < j->nstages; i++)
		if (j->stages[i].idx == idx)
			return &j->stages[i];
	return NULL;
}

/* The end of a log (whole lines), for its page. */
static void log_tail(const char *path, struct sbuf *text, int64_t *size,
    int64_t *from)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	*size = *from = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	*size = st.st_size;
	*from = st.st_size > LOG_TAIL ? st.st_size - LOG_TAIL : 0;
	buf = xmalloc(LOG_TAIL);
	n = pread(fd, buf, LOG_TAIL, *from);
	close(fd);
	if (n > 0) {
		const char *start = buf;
		if (*from > 0) {	/* from the first whole line */
			const char *nl = memchr(buf, '\n', (size_t)n);
			if (nl) {
				start = nl + 1;
				*from += start - buf;
			}
		}
		sbuf_add(text, start, (size_t)(buf + n - start));
	}
	free(buf);
}

static enum MHD_Result job_route(struct MHD_Connection *c, struct store *st,
    const char *rest)
{
	struct job *j = NULL;
	struct sbuf sb = SBUF_INIT;
	char *end;
	long long id = strtoll(rest, &end, 10);
	enum MHD_Result ret;

	if (end == rest || id <= 0 || store_job_get(st, id, &j) < 0)
		return not_found(c, "no such job");
	if (!*end) {
		struct notification **notes = NULL;
		size_t nn = 0;
		store_notifs_of_job(st, j->id, &notes, &nn);
		page_job(&sb, st, j, notes, nn);
		notifs_free(notes, nn);
		ret = send_buf(c, 200, "text/html; charset=utf-8", &sb);
	} else if (!strcmp(end, "/artifact")) {
		if (!j->nartifacts) {
			ret = not_found(c, "this job has no artifact");
		} else {
			char *name = xasprintf("job-%lld.tar.zst", id);
			ret = send_artifact(c, st, j->id, j->artifacts[0].path,
			    name);
			free(name);
		}
	} else if (!strncmp(end, "/log/", 5)) {
		char *tail;
		long long idx = strtoll(end + 5, &tail, 10);
		const struct stage_rec *s = tail != end + 5 ? stage_of(j, idx) :
		    NULL;
		if (!s) {
			ret = not_found(c, "no such stage");
		} else if (!*tail) {
			struct sbuf text = SBUF_INIT;
			int64_t size, from;
			int seq = 0;
			if (access(s->log_path, F_OK) < 0 && log_sent_in(st,
			    j->id, s->idx, &seq, &text)) {
				size = (int64_t)text.len;
				from = 0;
			} else {
				log_tail(s->log_path, &text, &size, &from);
			}
			page_log(&sb, j, s, text.buf, text.len, size, from);
			sbuf_release(&text);
			ret = send_buf(c, 200, "text/html; charset=utf-8", &sb);
		} else if (!strcmp(tail, "/raw")) {
			struct sbuf text = SBUF_INIT;
			int seq = 0;
			if (access(s->log_path, F_OK) < 0 && log_sent_in(st,
			    j->id, s->idx, &seq, &text))
				ret = send_buf(c, 200, "text/plain; charset=utf-8",
				    &text);
			else
				ret = send_file(c, s->log_path,
				    "text/plain; charset=utf-8", NULL);
			sbuf_release(&text);
		} else if (!strcmp(tail, "/events")) {
			ret = send_events(c, j, s, number(arg(c, "from")));
		} else {
			ret = not_found(c, "no such page");
		}
	} else {
		ret = not_found(c, "no such page");
	}
	job_free(j);
	sbuf_release(&sb);
	return ret;
}

static enum MHD_Result api_job(struct MHD_Connection *c, struct store *st,
    int64_t id)
{
	struct job *j = NULL;
	struct notification **notes = NULL;
	size_t nn = 0;
	struct sbuf sb = SBUF_INIT;

	if (id <= 0 || store_job_get(st, id, &j) < 0)
		return send_text(c, 404, "{\"error\":\"no such job\"}");
	store_notifs_of_job(st, id, &notes, &nn);
	show_json(st, j, notes, nn, &sb);
	notifs_free(notes, nn);
	job_free(j);
	return send_buf(c, 200, "application/json", &sb);
}

static enum MHD_Result history(struct MHD_Connection *c, struct store *st,
    int branch)
{
	const char *name = arg(c, "r"), *b = arg(c, "b");
	char *repo = find_repo(st, name), *ref = NULL, *title, *more;
	struct job **v = NULL;
	char **refs = NULL;
	int64_t *last = NULL;
	size_t n = 0, nrefs = 0;
	struct sbuf sb = SBUF_INIT, u = SBUF_INIT;
	const int limit = 50;

	if (!repo || (branch && !b))
		return not_found(c, "no such repository");
	if (branch)
		ref = !strncmp(b, "refs/", 5) ? xstrdup(b) :
		    xasprintf("refs/heads/%s", b);
	else
		store_branches(st, repo, &refs, &last, &nrefs);
	store_jobs_of(st, repo, ref, number(arg(c, "before")), limit, &v, &n);
	title = branch ? xasprintf("%s %s", name, b) : xstrdup(name);
	sbuf_adds(&u, branch ? "/branch?r=" : "/repo?r=");
	url_param(&u, name);
	if (branch) {
		sbuf_adds(&u, "&b=");
		url_param(&u, b);
	}
	more = sbuf_detach(&u);
	page_history(&sb, title, more, v, n, limit, refs, last, nrefs, name);
	jobs_free(v, n);
	strv_free_n(refs, nrefs);
	free(last);
	free(title);
	free(more);
	free(repo);
	free(ref);
	return send_buf(c, 200, "text/html; charset=utf-8", &sb);
}

static enum MHD_Result env_page(struct MHD_Connection *c, struct store *st)
{
	const char *name = arg(c, "r"), *env = arg(c, "e");
	char *repo = find_repo(st, name);
	struct env_rec *e = NULL;
	struct job **rel = NULL, **mine;
	size_t n = 0, k = 0;
	struct sbuf sb = SBUF_INIT;

	if (!repo || !env || store_env_get(st, repo, env, &e) < 0) {
		free(repo);
		return not_found(c, "no such environment");
	}
	store_releases(st, env, &rel, &n);
	mine = xcalloc(n + 1, sizeof(*mine));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rel[i]->repo, repo))
			mine[k++] = rel[i];
	page_env(&sb, st, e, mine, k);
	free(mine);
	jobs_free(rel, n);
	env_rec_free(e);
	free(repo);
	return send_buf(c, 200, "text/html; charset=utf-8", &sb);
}

static enum MHD_Result badge(struct MHD_Connection *c, struct store *st)
{
	const char *name = arg(c, "r"), *b = arg(c, "b"), *env = arg(c, "e");
	char *repo = find_repo(st, name);
	struct sbuf sb = SBUF_INIT;
	const char *value = "unknown";
	char *label = NULL;

	if (repo && env) {
		struct env_rec *e = NULL;
		if (store_env_get(st, repo, env, &e) == 0)
			value = env_state_name(e->state);
		env_rec_free(e);
		label = xstrdup(env);
		badge_svg(&sb, label, value);
	} else if (repo && b) {
		char *ref = xasprintf("refs/heads/%s", b);
		struct job **v = NULL;
		size_t n = 0;
		/* the branch's last build (its deployments share the ref) */
		store_jobs_of(st, repo, ref, 0, 20, &v, &n);
		for (size_t i = 0; i < n; i++)
			if (v[i]->kind == KIND_BUILD) {
				value = job_state_name(v[i]->state);
				break;
			}
		label = xstrdup(b);
		badge_svg(&sb, label, value);
		jobs_free(v, n);
		free(ref);
	} else {
		badge_svg(&sb, "runner", "no such repository");
	}
	free(label);
	free(repo);
	return send_buf(c, 200, "image/svg+xml", &sb);
}

static enum MHD_Result route(struct MHD_Connection *c, struct store *st,
    const char *url)
{
	struct sbuf sb = SBUF_INIT;

	if (!strcmp(url, "/")) {
		struct status_view v;
		if (status_view_load(st, W.home, 20, &v) < 0)
			return send_text(c, 503, error_last());
		page_overview(&sb, st, &v);
		status_view_free(&v);
		return send_buf(c, 200, "text/html; charset=utf-8", &sb);
	}
	if (!strcmp(url, "/api/status")) {
		struct status_view v;
		int64_t limit = number(arg(c, "limit"));
		if (status_view_load(st, W.home, limit >= 0 && limit <= 100000 ?
		    (int)limit : 20, &v) < 0)
			return send_text(c, 503, error_last());
		status_view_json(&v, st, &sb);
		sbuf_addch(&sb, '\n');
		status_view_free(&v);
		return send_buf(c, 200, "application/json", &sb);
	}
	if (!strncmp(url, "/api/job/", 9))
		return api_job(c, st, number(url + 9));
	if (!strncmp(url, "/job/", 5))
		return job_route(c, st, url + 5);
	if (!strcmp(url, "/repo"))
		return history(c, st, 0);
	if (!strcmp(url, "/branch"))
		return history(c, st, 1);
	if (!strcmp(url, "/env"))
		return env_page(c, st);
	if (!strcmp(url, "/badge.svg"))
		return badge(c, st);
	if (!strcmp(url, "/metrics")) {
		if (metrics(st, &sb) < 0) {
			sbuf_release(&sb);
			return send_text(c, 503, error_last());
		}
		return send_buf(c, 200, "text/plain; version=0.0.4; "
		    "charset=utf-8", &sb);
	}
	return not_found(c, "no such page");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
    const char *url, const char *method, const char *version,
    const char *upload, size_t *upload_size, void **con_cls)
{
	struct store *st = NULL;
	enum MHD_Result ret;
	struct sbuf sb = SBUF_INIT;
	int slot;

	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return send_text(c, 405, "read-only: GET and HEAD only");
	if (!strcmp(url, "/style.css")) {
		sbuf_adds(&sb, page_css);
		return send_buf(c, 200, "text/css", &sb);
	}
	if (!strcmp(url, "/live.js")) {
		sbuf_adds(&sb, page_js);
		return send_buf(c, 200, "text/javascript", &sb);
	}
	if ((slot = pool_get(&st)) < 0) {
		ret = send_text(c, 503, error_last());
	} else {
		/* every page names repositories as the store recorded them */
		if (store_repo_names_load(st) < 0)
			error_clear();
		ret = route(c, st, url);
		pool_put(slot);
	}
	error_clear();
	malloc_trim(0);
	return ret;
}

/* "HOST:PORT" ("[::1]:8080" for IPv6) as an address to bind. */
static int listen_addr(const char *spec, struct sockaddr_storage *sa,
    socklen_t *len)
{
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV }, *res = NULL;
	char *host;
	int rc;

	if (!colon && spec[0] && strspn(spec, "0123456789") == strlen(spec)) {
		/* a port alone: this machine only */
		host = xstrdup("127.0.0.1");
		colon = spec - 1;
	} else if (!colon || colon == spec || !colon[1]) {
		return error_set(ERR_INVALID, "http listen '%s' is not HOST:PORT",
		    spec);
	} else {
		host = xstrndup(spec, (size_t)(colon - spec));
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	free(host);
	if (rc || !res)
		return error_set(ERR_INVALID, "http listen '%s': %s", spec,
		    gai_strerror(rc));
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * A build with the network shares this machine's loopback: the page
 * must not answer repository code, which would read every repository's
 * jobs, logs and artifacts through it. The code users (build, release and
 * environment users) are refused; so are processes of the runner's own
 * users in a user namespace of their own (bubblewrap's, when the daemon
 * is not root and repository code runs as its user).
 */
static void add_code_user(const char *name)
{
	const struct passwd *pw;

	if (!name || !(pw = getpwnam(name)) || pw->pw_uid == 0 ||
	    pw->pw_uid == geteuid())
		return;
	for (size_t i = 0; i < W.policy.ncode; i++)
		if (W.code[i] == pw->pw_uid)
			return;
	W.code = xrealloc(W.code, (W.policy.ncode + 1) * sizeof(*W.code));
	W.code[W.policy.ncode++] = pw->pw_uid;
}

static void policy_make(const struct config *c);

/*
 * The users of runner.yml as it is now: the workers take an edit of it
 * for their next job without a reload, so the page looks at the file
 * before each connection and makes the policy again when it changed (a
 * file with a mistake gives the daemon's last configuration).
 */
static void policy_fresh(void)
{
	char *path = xasprintf("%s/%s", W.home, CONFIG_FILE);
	struct config *c = NULL;
	struct stat st;
	char *why = NULL;

	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	if (W.conf_loaded && st.st_mtim.tv_sec == W.conf_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == W.conf_mtime.tv_nsec &&
	    st.st_size == W.conf_size) {
		free(path);
		return;
	}
	W.conf_mtime = st.st_mtim;
	W.conf_size = st.st_size;
	/* a mistake: the daemon's last configuration, the mistake shown on
	 * the page (status_view_load) and logged by the daemon */
	if (config_load_kept(W.home, &c, &why) < 0) {
		log_line("warning: %s; the web page keeps the users it knew",
		    error_last());
		free(path);
		return;
	}
	free(why);
	policy_make(c);
	config_free(c);
	free(path);
}

/* The policy of configuration `c`. */
static void policy_make(const struct config *c)
{
	struct stat st;

	W.conf_loaded = 1;
	W.policy.ncode = 0;
	W.policy.nown = 0;
	W.policy.own_uids = W.own;
	add_code_user(c->build_user);
	/* the users of the workers' build stages: build_user-0, -1... as
	 * far as they exist (the daemon makes one per worker) */
	for (int i = 0; i < 256; i++) {
		char *name = home_worker_user(c->build_user, i);
		int there = getpwnam(name) != NULL;
		if (there)
			add_code_user(name);
		free(name);
		if (!there)
			break;
	}
	add_code_user(c->release_user);
	for (size_t i = 0; i < c->nenvs; i++)
		add_code_user(c->envs[i].user);
	W.policy.code_uids = W.code;	/* moved when it grew */
	W.own[W.policy.nown++] = geteuid();
	if (stat(W.home, &st) == 0 && st.st_uid != geteuid())
		W.own[W.policy.nown++] = st.st_uid;
}

static enum MHD_Result accept_peer(void *cls, const struct sockaddr *addr,
    socklen_t len)
{
	char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
	uid_t uid;

	(void)cls;
	policy_fresh();
	/* libmicrohttpd's thread: its message buffer goes with it */
	error_clear();
	if (!peer_is_code(addr, (const struct sockaddr *)&W.local, &W.policy,
	    &uid))
		return MHD_YES;
	getnameinfo(addr, len, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV);
	log_line("refused a connection from %s port %s: it is repository "
	    "code's (uid %ld)", host, port, (long)uid);
	return MHD_NO;
}

int web_serve(const char *home, const struct config *conf,
    const char *listen_spec)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	struct MHD_Daemon *d;
	sigset_t mask;
	int sig;

	if (listen_addr(listen_spec, &sa, &salen) < 0)
		return -1;
	W.home = home;
	W.store_url = conf->store;
	/* the policy of runner.yml as the caller loaded it; policy_fresh
	 * makes it again when the file changes */
	{
		char *path = xasprintf("%s/%s", home, CONFIG_FILE);
		struct stat cst;
		if (stat(path, &cst) == 0) {
			W.conf_mtime = cst.st_mtim;
			W.conf_size = cst.st_size;
		}
		free(path);
		policy_make(conf);
	}
	memcpy(&W.local, &sa, sizeof(sa));
	policy_fresh();
	pthread_mutex_init(&W.lock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&W.freed, &ca);
		pthread_condattr_destroy(&ca);
	}
	store_connect_limit(CONNECT_MS);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		/* PostgreSQL: the server's word wakes the live logs that
		 * hosts send through it */
		const char *url = NULL;
		pthread_t t;
		if (store_url(W.store_url, &url) == 0 && url &&
		    pthread_create(&t, NULL, listener, NULL) == 0)
			pthread_detach(t);
		error_clear();
	}
	prctl(PR_SET_DUMPABLE, 0);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
	    (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, accept_peer, NULL,
	    handler, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)32,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
	    MHD_OPTION_END);
	if (!d)
		return error_set(-1, "cannot serve HTTP on %s: %s", listen_spec,
		    strerror(errno));
	{
		/* port 0: the one the system chose */
		const union MHD_DaemonInfo *i = MHD_get_daemon_info(d,
		    MHD_DAEMON_INFO_BIND_PORT);
		in_port_t p = htons(i ? i->port : 0);
		if (W.local.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&W.local)->sin6_port = p;
		else
			((struct sockaddr_in *)&W.local)->sin_port = p;
	}
	{
		/* the port the system chose for a port 0, to be found */
		const char *c = strrchr(listen_spec, ':');
		struct sockaddr_in *in = (struct sockaddr_in *)&W.local;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&W.local;
		unsigned port = ntohs(W.local.ss_family == AF_INET6 ?
		    in6->sin6_port : in->sin_port);
		const char *given = c ? c + 1 : listen_spec;
		char shown[16];
		snprintf(shown, sizeof(shown), "%u", port);
		log_line("web page on http://%.*s:%s/ for '%s'",
		    c ? (int)(c - listen_spec) : 9, c ? listen_spec :
		    "127.0.0.1", strcmp(given, "0") ? given : shown, home);
	}
	do {
		if (sigwait(&mask, &sig) != 0)
			break;
	} while (sig == SIGHUP);
	MHD_stop_daemon(d);
	free(W.code);
	return 0;
}
