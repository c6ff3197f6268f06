/*
 * The web process (web.h): libmicrohttpd, a thread per connection (a live
 * log is a response that blocks until the log grows). A page borrows one
 * of a few store connections kept open, with their statements prepared
 * (on PostgreSQL a new one is a TCP connect, an authentication and a
 * prepare of each statement); a server that is gone is said within a
 * second. A live log is woken by its file growing (inotify) or, for a log
 * a build host sends through PostgreSQL, by the server's word that a
 * chunk arrived (LISTEN, on a connection of its own).
 * Read-only (GET and HEAD) unless runner.yml's http: auth and operators
 * let people act (actions.c: POST).
 * This file is the server: its responses, the connections it lends, who
 * may look, and the routes to the handlers (handlers.c), the metrics
 * (metrics.c) and the live logs (sse.c).
 */
#include "web.h"
#include "web_int.h"
#include "actions.h"
#include "auth.h"
#include "admin.h"
#include "chunks.h"
#include "config.h"
#include "home.h"
#include "jobs.h"
#include "json.h"
#include "page.h"
#include "peer.h"
#include "repos.h"
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

struct web W;

/* ---- responses ---- */

enum MHD_Result web_send_buf(struct MHD_Connection *c, int status,
    const char *type, struct sbuf *body)
{
	size_t len = body->len;
	struct MHD_Response *r = MHD_create_response_from_buffer(len,
	    sbuf_detach(body), MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* no other site frames a page (its buttons under a decoy of its
	 * own: the Origin would be the page's), nor do forms post elsewhere */
	MHD_add_response_header(r, "Content-Security-Policy",
	    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
	    "form-action 'self'; base-uri 'none'");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result web_send_text(struct MHD_Connection *c, int status,
    const char *msg)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addf(&sb, "%s\n", msg);
	return web_send_buf(c, status, "text/plain; charset=utf-8", &sb);
}

enum MHD_Result web_not_found(struct MHD_Connection *c, const char *what)
{
	struct sbuf sb = SBUF_INIT;

	page_begin(&sb, "not found");
	sbuf_adds(&sb, "<h1>Not found</h1><p>");
	html(&sb, what);
	sbuf_adds(&sb, "</p>");
	page_end(&sb);
	return web_send_buf(c, 404, "text/html; charset=utf-8", &sb);
}

int web_stream_take(void)
{
	if (atomic_fetch_add(&W.streams, 1) >= WEB_STREAMS) {
		atomic_fetch_sub(&W.streams, 1);
		return -1;
	}
	return 0;
}

void web_stream_give(void)
{
	atomic_fetch_sub(&W.streams, 1);
}

/* A stream past WEB_STREAMS: refused at once, the connection closed, so
 * that it holds none of the pages' (a browser's EventSource does not ask
 * again after a 503; the page still shows what it showed). */
enum MHD_Result web_streams_full(struct MHD_Connection *c)
{
	struct MHD_Response *r;
	static const char msg[] = "too many live streams open: reload the "
	    "page later\n";
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg,
	    MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Retry-After", "60");
	MHD_add_response_header(r, "Connection", "close");
	ret = MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_fd(struct MHD_Connection *c, int fd,
    const char *type, const char *download);

/* A file of the home, whole (a log, an artifact). */
enum MHD_Result web_send_file(struct MHD_Connection *c, const char *path,
    const char *type, const char *download)
{
	return send_fd(c, open(path, O_RDONLY | O_CLOEXEC), type, download);
}

/*
 * The artifact of job `id` recorded at `path`: the file, or the copy a
 * host that shares only the store sent there (anonymous memory while it
 * is sent; whoever downloads it checks the sha256 the page shows).
 */
enum MHD_Result web_send_artifact(struct MHD_Connection *c,
    struct store *st, int64_t id, const char *path, const char *download)
{
	int fd;

	if (access(path, F_OK) == 0 || store_is_sqlite(st))
		return web_send_file(c, path, "application/zstd", download);
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
		return web_not_found(c, "the file is gone (runner gc removes old "
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
int web_pool_get(struct store **out)
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

void web_pool_put(int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&W.lock);
	W.busy[slot] = 0;
	pthread_cond_signal(&W.freed);
	pthread_mutex_unlock(&W.lock);
}

int64_t web_number(const char *s)
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
char *web_find_repo(struct store *st, const char *name)
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

char *web_commit_url(void)
{
	char *url;

	pthread_mutex_lock(&W.lock);
	url = W.commit_url ? xstrdup(W.commit_url) : NULL;
	pthread_mutex_unlock(&W.lock);
	return url;
}

const char *web_arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result route(struct MHD_Connection *c, struct store *st,
    const char *url)
{
	struct sbuf sb = SBUF_INIT;

	if (!strcmp(url, "/"))
		return web_overview(c, st);
	if (!strcmp(url, "/api/status")) {
		struct status_view v;
		int64_t limit = web_number(web_arg(c, "limit"));
		if (status_view_load(st, W.home, limit >= 0 && limit <= 100000 ?
		    (int)limit : 20, &v) < 0)
			return web_send_text(c, 503, error_last());
		status_view_json(&v, st, &sb);
		sbuf_addch(&sb, '\n');
		status_view_free(&v);
		return web_send_buf(c, 200, "application/json", &sb);
	}
	if (!strncmp(url, "/api/job/", 9))
		return web_api_job(c, st, web_number(url + 9));
	if (!strncmp(url, "/job/", 5))
		return web_job_route(c, st, url + 5);
	if (!strcmp(url, "/repo"))
		return web_history(c, st, 0);
	if (!strcmp(url, "/branch"))
		return web_history(c, st, 1);
	if (!strcmp(url, "/env"))
		return web_env_page(c, st);
	if (!strcmp(url, "/badge.svg"))
		return web_badge(c, st);
	if (!strcmp(url, "/metrics")) {
		if (web_metrics(st, &sb) < 0) {
			sbuf_release(&sb);
			return web_send_text(c, 503, error_last());
		}
		return web_send_buf(c, 200, "text/plain; version=0.0.4; "
		    "charset=utf-8", &sb);
	}
	return web_not_found(c, "no such page");
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
	if (!strcmp(method, "POST"))
		return actions_post(c, url, upload, upload_size, con_cls);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return web_send_text(c, 405, "read-only: GET and HEAD only");
	if (auth_begin(c) < 0)
		return web_send_text(c, 403, "this request names a person but "
		    "does not come from the proxy that authenticates them");
	if (!strcmp(url, "/style.css")) {
		auth_end();
		sbuf_adds(&sb, page_css);
		return web_send_buf(c, 200, "text/css", &sb);
	}
	if (!strcmp(url, "/live.js")) {
		auth_end();
		sbuf_adds(&sb, page_js);
		return web_send_buf(c, 200, "text/javascript", &sb);
	}
	if ((slot = web_pool_get(&st)) < 0) {
		ret = web_send_text(c, 503, error_last());
	} else {
		/* every page names repositories as the store recorded them */
		if (store_repo_names_load(st) < 0)
			error_clear();
		ret = route(c, st, url);
		web_pool_put(slot);
	}
	auth_end();
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
	auth_set_config(W.home, c);
	free(path);
}

/* The policy of configuration `c`. */
static void policy_make(const struct config *c)
{
	struct stat st;
	char *url = c->http.commit_url ? xstrdup(c->http.commit_url) : NULL;

	/* pages read it on their threads */
	pthread_mutex_lock(&W.lock);
	free(W.commit_url);
	W.commit_url = url;
	pthread_mutex_unlock(&W.lock);
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
	auth_init(home);
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
		    pthread_create(&t, NULL, web_listener, NULL) == 0)
			pthread_detach(t);
		error_clear();
	}
	prctl(PR_SET_DUMPABLE, 0);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
	    (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, accept_peer, NULL,
	    handler, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)WEB_CONNECTIONS_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, actions_completed, NULL,
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
