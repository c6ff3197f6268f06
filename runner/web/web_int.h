/*
 * Inside runner/web, shared by the files of the web process: its state
 * (the store connections pages share, the live logs, who may look), its
 * bounds, and what each file gives the others.
 */
#ifndef RUNNER_WEB_INT_H
#define RUNNER_WEB_INT_H

#include "peer.h"
#include "util.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

struct job;
struct stage_rec;
struct store;

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
/* Connections: all of them, from one address (a reverse proxy's, which
 * is everyone's), and the live streams (logs and job pages) at once, so
 * that the streams a page or a person holds open never take every
 * connection the pages need. A connection counts until its thread has
 * ended it: on a busy machine, a client's quick requests one after the
 * other overlap there, and one past the limit is closed unanswered. */
#define WEB_CONNECTIONS 256
#define WEB_CONNECTIONS_PER_IP 128
#define WEB_STREAMS 16

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
	atomic_int job_streams;		/* live job pages (live.c) */
	atomic_int streams;		/* both, of WEB_STREAMS */
	char *commit_url;		/* runner.yml's http: commit_url */
	/* who may not look: repository code (peer.h) */
	struct sockaddr_storage local;
	uid_t *code, own[2];
	struct peer_policy policy;
	const char *store_url;		/* runner.yml's store: */
	int conf_loaded;		/* runner.yml the policy comes from */
	struct timespec conf_mtime;
	off_t conf_size;
};


extern struct web W;

/* web.c: responses and what the store says */
enum MHD_Result web_send_buf(struct MHD_Connection *c, int status,
    const char *type, struct sbuf *body);
enum MHD_Result web_send_text(struct MHD_Connection *c, int status,
    const char *msg);
enum MHD_Result web_not_found(struct MHD_Connection *c, const char *what);
/* A live stream's place: 0, or -1 when WEB_STREAMS are open (then the
 * caller answers web_streams_full); web_stream_give when it ends. */
int web_stream_take(void);
void web_stream_give(void);
enum MHD_Result web_streams_full(struct MHD_Connection *c);
enum MHD_Result web_send_file(struct MHD_Connection *c, const char *path,
    const char *type, const char *download);
enum MHD_Result web_send_artifact(struct MHD_Connection *c,
    struct store *st, int64_t id, const char *path, const char *download);
int web_pool_get(struct store **out);
void web_pool_put(int slot);
int64_t web_number(const char *s);
char *web_find_repo(struct store *st, const char *name);
const char *web_arg(struct MHD_Connection *c, const char *key);
/* runner.yml's http: commit_url as it is now, or NULL; caller frees. */
char *web_commit_url(void);

/* metrics.c */
int web_metrics(struct store *st, struct sbuf *sb);

/* sse.c: live logs */
void *web_listener(void *arg);
void web_wake_all(void);
enum MHD_Result web_send_events(struct MHD_Connection *c,
    const struct job *j, const struct stage_rec *st, int64_t from);
int web_log_sent_in(struct store *st, int64_t id, int idx, int *seq,
    struct sbuf *out);
/* One event (named `event`, or NULL) of `data`, a "data:" line each of
 * its lines, appended to `out`. */
void web_sse_event(struct sbuf *out, const char *event, const char *data,
    size_t len);

/* live.c: a job's page, live */
enum MHD_Result web_job_events(struct MHD_Connection *c,
    const struct job *j);

/* handlers.c: the pages */
enum MHD_Result web_job_route(struct MHD_Connection *c, struct store *st,
    const char *rest);
enum MHD_Result web_api_job(struct MHD_Connection *c, struct store *st,
    int64_t id);
enum MHD_Result web_history(struct MHD_Connection *c, struct store *st,
    int branch);
enum MHD_Result web_overview(struct MHD_Connection *c, struct store *st);
enum MHD_Result web_env_page(struct MHD_Connection *c, struct store *st);
enum MHD_Result web_badge(struct MHD_Connection *c, struct store *st);

#endif
