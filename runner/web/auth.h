/*
 * Who asks the web page (auth.c), for its actions (actions.c): the person
 * the reverse proxy of runner.yml's http: auth authenticated, believed
 * only on the proxy user's connections; the tokens the page's forms carry
 * for that person; whether a request's Origin is the page's own.
 */
#ifndef RUNNER_AUTH_H
#define RUNNER_AUTH_H

#include <microhttpd.h>
#include <sys/types.h>

struct config;
struct sbuf;

/* runner.yml as the page knows it now, kept while a request uses it. */
struct auth_conf {
	struct config *c;
	uid_t proxy;		/* auth: proxy_user's uid; -1: none */
	int refs;
};

/* Who asks: a name the proxy sent, as its unix user. */
struct actor {
	char *user;		/* NULL: no one (the page is read-only) */
	char *as;		/* the proxy's unix user */
	struct auth_conf *conf;	/* held while the request lasts */
};

/* Who asks in this thread's request (auth_begin to auth_end): the pages
 * render their forms for them. */
extern _Thread_local struct actor auth_actor;

/* At start: the home (its secret for the forms' tokens, made 0600 on
 * first use), and runner.yml as loaded now. */
void auth_init(const char *home);
/* runner.yml changed: the configuration from now on (taken; the one
 * before is freed once no request holds it). The first configuration
 * with http: auth reads or makes the home's secret, so that turning
 * auth on takes a reload, not a restart. */
void auth_set_config(const char *home, struct config *c);
/* The configuration now, held until auth_conf_put(); NULL: none. */
struct auth_conf *auth_conf_get(void);
void auth_conf_put(struct auth_conf *s);
/* Do the forms have their secret? */
int auth_ready(void);

/*
 * Who asks on `c`, into *a: 0 (a->user NULL: no one, the page stays
 * read-only for them), or -1 when the request carries the auth header
 * but its connection is not the proxy user's, or names a person as the
 * runner would not record the name: refused, logged here once.
 */
int auth_who(struct MHD_Connection *c, struct actor *a);
void auth_actor_release(struct actor *a);
/* auth_who() into auth_actor for a GET or HEAD; auth_end() forgets. */
int auth_begin(struct MHD_Connection *c);
void auth_end(void);

/* A token for `user`, good for some hours ("EXPIRY.HMAC"), added to
 * `sb`; is `tok` one of `user`'s, not expired (compared in constant
 * time)? */
void auth_token_add(struct sbuf *sb, const char *user);
int auth_token_ok(const char *tok, const char *user);
/* Is the request's Origin the page's own: base_url's scheme, host and
 * port, or without base_url the Host it was sent to? */
int auth_origin_ok(struct MHD_Connection *c, const struct config *conf);

#endif
