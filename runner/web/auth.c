/*
 * Who asks the web page (auth.h). The page believes a person's name only
 * from the reverse proxy that authenticated them: runner.yml's http:
 * auth header, on a connection whose client socket is the proxy user's
 * (peer.h: the socket's owner, as the page finds repository code); the
 * same header on any other connection is refused, and logged once. The
 * forms' tokens are an HMAC-SHA256 of the name and an expiry, keyed by a
 * secret of the home (web.secret, 0600) that only the daemon's user
 * reads, so that a token is one person's and another site cannot make
 * one.
 */
#include "auth.h"
#include "web_int.h"
#include "config.h"
#include "peer.h"
#include "sha256.h"
#include "util.h"
#include "who.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The home's secret for the tokens, beside runner.yml. */
#define SECRET_FILE "web.secret"
#define SECRET_LEN 32
/* How long a page's forms may be sent. */
#define TOKEN_TTL_S (12 * 3600)

static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct auth_conf *conf_now;
static unsigned char secret[SECRET_LEN];
/* set once, after `secret` is read, by the listener's thread (at start
 * or at the reload that first turns http: auth on); the request threads
 * read it before they read `secret` */
static _Atomic int have_secret;

_Thread_local struct actor auth_actor;

void auth_conf_put(struct auth_conf *s)
{
	int last;

	if (!s)
		return;
	pthread_mutex_lock(&conf_lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&conf_lock);
	if (last) {
		config_free(s->c);
		free(s);
	}
}

struct auth_conf *auth_conf_get(void)
{
	struct auth_conf *s;

	pthread_mutex_lock(&conf_lock);
	if ((s = conf_now))
		s->refs++;
	pthread_mutex_unlock(&conf_lock);
	return s;
}

static int secret_load(const char *home);

void auth_set_config(const char *home, struct config *c)
{
	struct auth_conf *s = xcalloc(1, sizeof(*s)), *old;
	const struct passwd *pw;

	if (c->http.auth.proxy_user && !have_secret && secret_load(home) == 0)
		have_secret = 1;

	s->c = c;
	s->refs = 1;
	s->proxy = (uid_t)-1;
	if (c->http.auth.proxy_user) {
		/* the listener's thread alone looks users up */
		if ((pw = getpwnam(c->http.auth.proxy_user)))
			s->proxy = pw->pw_uid;
		else
			log_line("warning: http auth: no user '%s': no request is "
			    "taken as a person's", c->http.auth.proxy_user);
	}
	pthread_mutex_lock(&conf_lock);
	old = conf_now;
	conf_now = s;
	pthread_mutex_unlock(&conf_lock);
	auth_conf_put(old);
}

/* The secret: read, or made (0600, the daemon's user's) the first time.
 * Anything else there (a link, a file of another user or mode) leaves
 * the page read-only. */
static int secret_load(const char *home)
{
	char *path = xasprintf("%s/%s", home, SECRET_FILE);
	unsigned char fresh[SECRET_LEN];
	struct stat st;
	int fd = -1, error = -1;

	for (int tries = 0; tries < 2 && fd < 0; tries++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || tries)
			break;
		if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh) ||
		    write_file_atomic(path, (const char *)fresh, sizeof(fresh),
		    0600) < 0)
			break;
	}
	memset(fresh, 0, sizeof(fresh));
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) || st.st_nlink != 1 ||
	    read(fd, secret, sizeof(secret)) != (ssize_t)sizeof(secret)) {
		log_line("warning: '%s' is not a %d-byte file of this user's "
		    "alone (mode 0600): the web page takes no action", path,
		    SECRET_LEN);
		goto out;
	}
	error = 0;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return error;
}

void auth_init(const char *home)
{
	struct config *c = NULL;
	char *why = NULL;

	if (config_load_kept(home, &c, &why) < 0) {
		log_line("warning: %s; the web page is read-only", error_last());
		error_clear();
		return;
	}
	free(why);
	auth_set_config(home, c);
}

/* ---- who asks ---- */

void auth_actor_release(struct actor *a)
{
	free(a->user);
	free(a->as);
	auth_conf_put(a->conf);
	memset(a, 0, sizeof(*a));
}

/* The connection's client, as the log names it. */
static void client_name(struct MHD_Connection *c, char *host, size_t hl,
    char *port, size_t pl)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(host, hl, "?");
	snprintf(port, pl, "?");
	if (i && i->client_addr)
		getnameinfo(i->client_addr, sizeof(struct sockaddr_storage), host,
		    (socklen_t)hl, port, (socklen_t)pl, NI_NUMERICHOST |
		    NI_NUMERICSERV);
}

/* The unix user of the client socket of `c` (this machine's), or -1. */
static uid_t client_uid(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	/* no user is repository code here: only the owner is asked for */
	const struct peer_policy none = { 0 };
	uid_t uid = (uid_t)-1;

	if (i && i->client_addr)
		peer_is_code(i->client_addr, (const struct sockaddr *)&W.local,
		    &none, &uid);
	return uid;
}

/* Who asks on `c`, into *a: 0 (a->user NULL: no one), or -1 when the
 * header came from another than the proxy (logged here, once). */
int auth_who(struct MHD_Connection *c, struct actor *a)
{
	struct auth_conf *s = auth_conf_get();
	const char *name;
	char host[NI_MAXHOST], port[NI_MAXSERV], *clean;
	uid_t uid;

	memset(a, 0, sizeof(*a));
	if (!s || !s->c->http.auth.proxy_user || !(name =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    s->c->http.auth.header))) {
		auth_conf_put(s);
		return 0;
	}
	if ((uid = client_uid(c)) == (uid_t)-1 || uid != s->proxy) {
		client_name(c, host, sizeof(host), port, sizeof(port));
		log_line("refused a request from %s port %s (uid %ld): it sends "
		    "'%s' but is not the proxy's user '%s'", host, port,
		    (long)(int)uid, s->c->http.auth.header,
		    s->c->http.auth.proxy_user);
		auth_conf_put(s);
		return -1;
	}
	a->conf = s;
	if (!*name)
		return 0;	/* the proxy let someone in without a name */
	clean = who_clean(name);
	if (!clean || strcmp(clean, name)) {
		client_name(c, host, sizeof(host), port, sizeof(port));
		log_line("refused a request from %s port %s: the proxy's '%s' is "
		    "not a name the runner records", host, port,
		    s->c->http.auth.header);
		free(clean);
		auth_actor_release(a);
		return -1;
	}
	a->user = clean;
	/* the proxy's user: its name as runner.yml gives it (no lookup
	 * beside the listener's) */
	a->as = who_clean(s->c->http.auth.proxy_user);
	return 0;
}

int auth_begin(struct MHD_Connection *c)
{
	auth_actor_release(&auth_actor);
	return auth_who(c, &auth_actor);
}

void auth_end(void)
{
	auth_actor_release(&auth_actor);
}

/* ---- tokens ---- */

static int mac_of(const char *user, long long exp, char hex[2 * SHA256_LEN
    + 1])
{
	unsigned char mac[SHA256_LEN];
	char *msg = xasprintf("runner-web action\n%s\n%lld", user, exp);
	int error = hmac_sha256(secret, sizeof(secret), msg, strlen(msg), mac);

	free(msg);
	hex_encode(mac, SHA256_LEN, hex);
	return error;
}

/* A token for `user`, good for TOKEN_TTL_S: "EXPIRY.HMAC". */
void auth_token_add(struct sbuf *sb, const char *user)
{
	long long exp = (long long)time(NULL) + TOKEN_TTL_S;
	char hex[2 * SHA256_LEN + 1];

	if (mac_of(user, exp, hex) == 0)
		sbuf_addf(sb, "%lld.%s", exp, hex);
}

/* Is `tok` a token of `user` not yet expired? Compared in constant
 * time. */
int auth_token_ok(const char *tok, const char *user)
{
	char hex[2 * SHA256_LEN + 1], *end;
	long long exp, now = (long long)time(NULL);
	unsigned char diff = 0;

	if (!tok || !have_secret)
		return 0;
	errno = 0;
	exp = strtoll(tok, &end, 10);
	if (errno || end == tok || *end != '.' || exp < now ||
	    exp > now + TOKEN_TTL_S + 60 || strlen(end + 1) != 2 * SHA256_LEN ||
	    mac_of(user, exp, hex) < 0)
		return 0;
	for (size_t i = 0; i < 2 * SHA256_LEN; i++)
		diff |= (unsigned char)(hex[i] ^ end[1 + i]);
	return diff == 0;
}

/* Is the request's Origin the page's own: base_url's scheme, host and
 * port, or without one the Host it was sent to? */
int auth_origin_ok(struct MHD_Connection *c, const struct config *conf)
{
	const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Origin");
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Host");
	const char *b = conf->http.base_url, *p;
	size_t n;

	if (!o || !*o)
		return 0;
	if (b && (p = strstr(b, "://"))) {
		n = (size_t)(p + 3 - b) + strcspn(p + 3, "/?#");
		return strlen(o) == n && !strncasecmp(o, b, n);
	}
	if (!host || !*host)
		return 0;
	p = !strncasecmp(o, "http://", 7) ? o + 7 : !strncasecmp(o, "https://",
	    8) ? o + 8 : NULL;
	return p && !strcasecmp(p, host);
}


int auth_ready(void)
{
	return have_secret;
}
