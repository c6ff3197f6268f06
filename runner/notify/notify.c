/*
 * Routing events to notifications and delivering them. Bodies are built
 * when an event is routed and stored with the notification, so a retry
 * after a restart sends the same bytes; secrets stay in runner.yml and are
 * added only on the way out (the PagerDuty routing key, the webhook's HMAC,
 * SMTP credentials).
 */
#include "notify.h"
#include "notify_int.h"
#include "curl_lib.h"
#include "notes.h"
#include "config.h"
#include "json.h"
#include "jobs.h"
#include "outbox.h"
#include "util.h"
#include "repos.h"
#include "refmatch.h"
#include "store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RESPONSE_MAX 4096

char *notify_body(const struct notify_target *t, const char *kind,
    const char *tags, const struct job *j, int64_t event_id,
    const char *action, const char *dedup, const char *base_url)
{
	/* the job's page: base_url without a trailing slash */
	char *base = base_url ? xstrdup(base_url) : NULL, *body;
	while (base && *base && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	switch (t->service) {
	case NOTIFY_SLACK:
		body = slack_body(kind, j, base);
		break;
	case NOTIFY_PAGERDUTY:
		body = pagerduty_body(kind, j, action ? action : "trigger",
		    dedup ? dedup : "runner", base);
		break;
	case NOTIFY_EMAIL:
		body = email_body(t, kind, j, event_id, base);
		break;
	default:
		body = webhook_body(kind, tags ? tags : kind, j, event_id, base);
	}
	free(base);
	return body;
}

/* ---- routing ---- */

static int wants(const struct notify_target *t, const char *tags)
{
	for (size_t i = 0; i < t->non; i++)
		if (!strcmp(t->on[i], "all") || word_in(tags, t->on[i]))
			return 1;
	return 0;
}

static int repo_matches(const struct notify_target *t, const char *repo)
{
	struct ref_matcher m;
	char *name;
	int hit;

	if (!t->repos)
		return 1;
	if (ref_matcher_init(&m, t->repos, stderr) < 0)
		return 0;
	/* the name as status shows it, the last component, or the path */
	name = repo_short_name(repo);
	hit = ref_matcher_match(&m, name, stderr) == 1 ||
	    ref_matcher_match(&m, repo, stderr) == 1;
	free(name);
	if (!hit) {
		char *plain = repo_base_name(repo);
		hit = ref_matcher_match(&m, plain, stderr) == 1;
		free(plain);
	}
	ref_matcher_release(&m);
	return hit;
}

/* A PagerDuty incident per repository and environment (or branch). */
static char *incident_key(const struct job *j)
{
	char *repo = repo_short_name(j->repo);
	char *key = xasprintf("runner/%s/%s", repo,
	    j->env ? j->env : ref_short_name(j->ref));

	free(repo);
	return key;
}

static int route_event(struct store *s, const struct config *c,
    const struct event *ev)
{
	struct notification *v = xcalloc(c->nnotify + 1, sizeof(*v));
	struct job *j = NULL;
	size_t n = 0;
	int error;

	if (store_job_get(s, ev->job_id, &j) < 0)
		goto route;	/* nothing to say about a job that is gone */
	for (size_t i = 0; i < c->nnotify; i++) {
		const struct notify_target *t = &c->notify[i];
		const char *action = NULL;
		char *dedup = NULL;

		if (!repo_matches(t, j->repo))
			continue;
		if (t->service == NOTIFY_PAGERDUTY) {
			/* good news never pages; it resolves what did */
			int good = word_in(ev->tags, "deployed") ||
			    word_in(ev->tags, "job_passed");
			dedup = incident_key(j);
			if (good) {
				char *last = store_notif_last_action(s, t->name,
				    dedup);
				if (last && !strcmp(last, "trigger"))
					action = "resolve";
				free(last);
			} else if (wants(t, ev->tags)) {
				action = "trigger";
			}
			if (!action) {
				free(dedup);
				continue;
			}
		} else if (!wants(t, ev->tags)) {
			continue;
		}
		v[n].job_id = j->id;
		v[n].target = t->name;
		v[n].service = (char *)notify_service_name(t->service);
		v[n].event = ev->kind;
		v[n].action = (char *)action;
		v[n].dedup = dedup;
		v[n].body = notify_body(t, ev->kind, ev->tags, j, ev->id,
		    action, dedup, c->http.base_url);
		n++;
	}
route:
	error = store_event_route(s, ev->id, v, n);
	for (size_t i = 0; i < n; i++) {
		free(v[i].dedup);
		free(v[i].body);
	}
	free(v);
	job_free(j);
	return error < 0 ? error : (int)n;
}

int notify_route(struct store *s, const char *home, const struct config *c,
    int *writers)
{
	int total = 0, notes = 0;

	for (size_t i = 0; i < c->nrepos; i++)
		notes |= c->repos[i].notes;
	/* a repository runner.yml does not list has notes on */
	notes |= config_repo(c, "/")->notes;
	if (!c->nnotify && !notes)	/* one statement, not one per event */
		return store_events_drop(s);
	for (;;) {
		struct event *ev;
		size_t n;
		int error = store_events_unrouted(s, NOTIFY_BATCH, &ev, &n);

		if (error < 0)
			return error;
		/* the ends these events announce on disk before a note or a
		 * notification tells of them (a worker's end is synced
		 * behind it: store_sync_behind) */
		if (n && (error = store_sync_now(s)) < 0) {
			events_free(ev, n);
			return error;
		}
		/* messages and incident keys name repositories as the store
		 * recorded them */
		if (n && store_repo_names_load(s) < 0)
			error_clear();
		/* the results in the repositories first, a note per commit
		 * of the batch; a note that cannot be written does not hold
		 * up the notifications */
		if (n && notes) {
			int64_t *ids = xcalloc(n, sizeof(*ids));
			for (size_t i = 0; i < n; i++)
				ids[i] = ev[i].job_id;
			int w = notes_record(s, c, home, ids, n);
			if (w < 0)
				log_line("warning: %s", error_last());
			else if (writers)
				*writers += w;
			free(ids);
		}
		for (size_t i = 0; i < n && error >= 0; i++)
			if ((error = route_event(s, c, &ev[i])) > 0)
				total += error;
		events_free(ev, n);
		if (error < 0)
			return error;
		if (n < NOTIFY_BATCH)
			return total;
	}
}

/* ---- masking ---- */

/*
 * A target's URL as libcurl reads it (curl_url(): this process delivers
 * with libcurl anyway): each part as written in the URL (not decoded),
 * NULL where there is none.
 */
struct url_parts {
	char *scheme, *user, *password, *host, *port, *path, *query, *fragment;
};

static void url_parts_release(struct url_parts *u)
{
	if (curl_lib_load() < 0)
		return;		/* nothing was read */
	curl_free(u->scheme);
	curl_free(u->user);
	curl_free(u->password);
	curl_free(u->host);
	curl_free(u->port);
	curl_free(u->path);
	curl_free(u->query);
	curl_free(u->fragment);
	memset(u, 0, sizeof(*u));
}

/* 0, or -1 if libcurl cannot be loaded or cannot read `url`. With
 * `as_sent`, the parts as they go out: the path with its dot segments
 * resolved (as libcurl sends it), the user and password decoded (as the
 * server reads them). */
static int url_split(const char *url, struct url_parts *u, int as_sent)
{
	const struct { CURLUPart part; char **to; } parts[] = {
		{ CURLUPART_SCHEME, &u->scheme }, { CURLUPART_USER, &u->user },
		{ CURLUPART_PASSWORD, &u->password },
		{ CURLUPART_HOST, &u->host }, { CURLUPART_PORT, &u->port },
		{ CURLUPART_PATH, &u->path }, { CURLUPART_QUERY, &u->query },
		{ CURLUPART_FRAGMENT, &u->fragment },
	};
	CURLU *h;
	int error = -1;

	memset(u, 0, sizeof(*u));
	if (curl_lib_load() < 0 || !(h = curl_url()))
		return -1;
	if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME |
	    (as_sent ? 0 : CURLU_PATH_AS_IS)) == CURLUE_OK) {
		error = 0;
		for (size_t i = 0; i < sizeof(parts) / sizeof(*parts); i++)
			if (curl_url_get(h, parts[i].part, parts[i].to, as_sent &&
			    (parts[i].part == CURLUPART_USER || parts[i].part ==
			    CURLUPART_PASSWORD) ? CURLU_URLDECODE : 0) != CURLUE_OK)
				*parts[i].to = NULL;
		if (!u->scheme || !u->host)
			error = -1;
	}
	curl_url_cleanup(h);
	if (error < 0)
		url_parts_release(u);
	return error;
}

void notify_describe(struct sbuf *sb, const struct notify_target *t)
{
	struct url_parts u;

	sbuf_addf(sb, "%s ", notify_service_name(t->service));
	/* scheme and host; never user:password@, path or query */
	if (url_split(t->url, &u, 0) < 0) {
		sbuf_adds(sb, "***");
	} else {
		sbuf_addf(sb, "%s://%s%s%s", u.scheme, u.host, u.port ? ":" : "",
		    u.port ? u.port : "");
		if ((u.path && strcmp(u.path, "/")) || u.query || u.fragment)
			sbuf_adds(sb, "/***");
		url_parts_release(&u);
	}
	if (t->service == NOTIFY_EMAIL) {
		sbuf_adds(sb, " to ");
		for (size_t i = 0; i < t->nto; i++)
			sbuf_addf(sb, "%s%s", i ? ", " : "", t->to[i]);
	}
	if (t->service == NOTIFY_PAGERDUTY)
		sbuf_adds(sb, " (routing key ***)");
	if (t->service == NOTIFY_WEBHOOK && t->secret)
		sbuf_adds(sb, " (signed)");
}

static void redact_one(char *text, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	char *p;

	if (n < 4)	/* too short to tell from ordinary text */
		return;
	while ((p = strstr(text, secret))) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + n, strlen(p + n) + 1);
	}
}

void notify_redact(const struct notify_target *t, char *text)
{
	struct url_parts u;

	redact_one(text, t->url);
	redact_one(text, t->secret);
	redact_one(text, t->password);
	redact_one(text, t->username);
	/* each part as runner.yml writes it, and as it goes out (a server's
	 * answer echoes what it got: /a/../TOKEN is sent as /TOKEN) */
	for (int as_sent = 0; as_sent < 2; as_sent++) {
		if (url_split(t->url, &u, as_sent) < 0)
			return;
		/* the part of a URL after the host carries Slack's token */
		if (u.path && strcmp(u.path, "/"))
			redact_one(text, u.path);
		redact_one(text, u.query);
		redact_one(text, u.fragment);
		/* user:password@ before the host: SMTP credentials */
		redact_one(text, u.password);
		redact_one(text, u.user);
		url_parts_release(&u);
	}
}

/* ---- delivery ---- */

struct response {
	char buf[RESPONSE_MAX];
	size_t len;
};

static size_t keep_response(char *p, size_t size, size_t n, void *arg)
{
	struct response *r = arg;
	size_t len = size * n, room = sizeof(r->buf) - 1 - r->len;

	memcpy(r->buf + r->len, p, len < room ? len : room);
	r->len += len < room ? len : room;
	r->buf[r->len] = '\0';
	return len;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t read_upload(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t len = size * n < u->left ? size * n : u->left;

	memcpy(buf, u->p, len);
	u->p += len;
	u->left -= len;
	return len;
}

struct stopper {
	int (*stop)(void *);
	void *arg;
	int stopped;
};

static int progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct stopper *s = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	if (s->stop && s->stop(s->arg))
		s->stopped = 1;
	return s->stopped;
}

static void hmac_header(struct curl_slist **h, const char *secret,
    const char *body)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	struct sbuf sb = SBUF_INIT;

	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)body, strlen(body), md, &mdlen);
	hex_encode(md, mdlen, hex);
	sbuf_adds(&sb, "X-Runner-Signature: sha256=");
	sbuf_adds(&sb, hex);
	*h = curl_slist_append(*h, sb.buf);
	sbuf_release(&sb);
}

/* The address inside "Name <addr>", or all of it. */
static char *envelope(const char *addr)
{
	const char *lt = strrchr(addr, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (lt && gt)
		return xasprintf("<%.*s>", (int)(gt - lt - 1), lt + 1);
	return xasprintf("<%s>", addr);
}

int notify_deliver(const struct notify_target *t,
    const struct notification *x, int (*stop)(void *), void *arg,
    struct delivery *d)
{
	/* one handle for every delivery of this process: its connections,
	 * TLS sessions and CA certificates are kept from one to the next */
	static CURL *c;
	struct stopper stopper = { stop, arg, 0 };
	struct response resp = { .len = 0 };
	struct curl_slist *hdr = NULL, *rcpt = NULL;
	struct sbuf body = SBUF_INIT;
	struct upload up;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *from = NULL;
	curl_off_t retry_after = 0;
	int64_t t0 = mono_ms();
	CURLcode rc;

	memset(d, 0, sizeof(*d));
	d->retry_after_ms = -1;
	if (curl_lib_load() < 0) {
		snprintf(d->error, sizeof(d->error), "%s", error_last());
		d->retry = 1;
		return 0;
	}
	if (c)
		curl_easy_reset(c);
	else if (!(c = curl_easy_init())) {
		snprintf(d->error, sizeof(d->error), "cannot start libcurl");
		d->retry = 1;
		return 0;
	}
	curl_easy_setopt(c, CURLOPT_URL, t->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)NOTIFY_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)NOTIFY_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &stopper);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_response);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);

	if (t->service == NOTIFY_EMAIL) {
		from = envelope(t->from);
		for (size_t i = 0; i < t->nto; i++) {
			char *to = envelope(t->to[i]);
			rcpt = curl_slist_append(rcpt, to);
			free(to);
		}
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
		curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
		curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
		/* a login goes out only encrypted, unless runner.yml says
		 * starttls: optional: a server that offers no STARTTLS would
		 * get the password in clear */
		int login = t->username || t->password ||
		    strchr(t->url + strcspn(t->url, "/") + 2, '@');
		curl_easy_setopt(c, CURLOPT_USE_SSL, login &&
		    !t->starttls_optional ? (long)CURLUSESSL_ALL :
		    (long)CURLUSESSL_TRY);
		if (t->username)
			curl_easy_setopt(c, CURLOPT_USERNAME, t->username);
		if (t->password)
			curl_easy_setopt(c, CURLOPT_PASSWORD, t->password);
		up.p = x->body;
		up.left = strlen(x->body);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	} else {
		if (t->service == NOTIFY_PAGERDUTY) {
			/* the key joins the stored body only on the way out */
			sbuf_adds(&body, "{\"routing_key\":");
			json_str(&body, t->secret);
			sbuf_addch(&body, ',');
			sbuf_adds(&body, x->body + 1);
		} else {
			sbuf_adds(&body, x->body);
		}
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		hdr = curl_slist_append(hdr, "Expect:");
		if (t->service == NOTIFY_WEBHOOK) {
			char line[160];
			snprintf(line, sizeof(line), "X-Runner-Event: %s", x->event);
			hdr = curl_slist_append(hdr, line);
			snprintf(line, sizeof(line), "X-Runner-Delivery: %lld",
			    (long long)x->event_id);
			hdr = curl_slist_append(hdr, line);
			if (t->secret)
				hmac_header(&hdr, t->secret, body.buf);
		}
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_USERAGENT, "runner-notify/1");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.buf);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
	}

	rc = curl_easy_perform(c);
	d->took_ms = mono_ms() - t0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &d->status);
	if (rc == CURLE_ABORTED_BY_CALLBACK && stopper.stopped) {
		snprintf(d->error, sizeof(d->error), "stopped");
		rc = CURLE_OK;
		d->took_ms = -1;
	} else if (t->service == NOTIFY_EMAIL) {
		d->ok = rc == CURLE_OK;
		/* 5xx: the server refuses for good; anything else may pass */
		d->retry = !d->ok && rc != CURLE_LOGIN_DENIED &&
		    !(d->status >= 500 && d->status < 600);
		if (!d->ok && d->status)
			snprintf(d->error, sizeof(d->error), "SMTP: %s (reply %ld)",
			    *errbuf ? errbuf : curl_easy_strerror(rc), d->status);
		else if (!d->ok)
			snprintf(d->error, sizeof(d->error), "SMTP: %s",
			    *errbuf ? errbuf : curl_easy_strerror(rc));
	} else if (rc != CURLE_OK) {
		d->retry = 1;
		snprintf(d->error, sizeof(d->error), "%s",
		    *errbuf ? errbuf : curl_easy_strerror(rc));
	} else {
		d->ok = d->status >= 200 && d->status < 300;
		d->retry = d->status == 429 || d->status >= 500;
		if ((d->status == 429 || d->status == 503) &&
		    curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after) ==
		    CURLE_OK && retry_after > 0)
			d->retry_after_ms = (int64_t)retry_after * 1000;
		if (!d->ok) {
			struct sbuf msg = SBUF_INIT;
			size_t keep = resp.len > 200 ? 200 : resp.len;
			while (keep && strchr(" \t\r\n", resp.buf[keep - 1]))
				keep--;
			sbuf_addf(&msg, "HTTP %ld", d->status);
			if (keep) {
				sbuf_adds(&msg, ": ");
				sbuf_add_display(&msg, resp.buf, keep);
			}
			snprintf(d->error, sizeof(d->error), "%s", msg.buf);
			sbuf_release(&msg);
		}
	}
	notify_redact(t, d->error);
	curl_slist_free_all(hdr);
	curl_slist_free_all(rcpt);
	/* nothing of this delivery's is left for the next: its lists and
	 * buffers are freed below */
	curl_easy_reset(c);
	sbuf_release(&body);
	free(from);
	return d->took_ms < 0 ? -1 : 0;
}

int notify_attempt(struct store *s, const struct config *c,
    struct notification *x, int (*stop)(void *), void *arg)
{
	const struct notify_target *t = config_notify(c, x->target);
	struct delivery d;
	int64_t now;

	if (!t || strcmp(notify_service_name(t->service), x->service)) {
		x->state = NOTIF_DEAD;
		free(x->error);
		x->error = xasprintf("no %s target '%s' in runner.yml any more",
		    x->service, x->target);
		x->done_ms = now_ms();
		return store_notif_result(s, x);
	}
	if (notify_deliver(t, x, stop, arg, &d) < 0) {
		/* not an attempt: due again at once (it was taken until
		 * its result; store_notif_take), its last error kept */
		x->state = NOTIF_PENDING;
		x->next_ms = now_ms();
		return store_notif_result(s, x);
	}
	free(x->error);
	x->error = NULL;
	now = now_ms();
	x->attempts++;
	x->status = (int)d.status;
	if (d.ok) {
		x->state = NOTIF_DELIVERED;
		x->done_ms = now;
	} else if (d.retry && x->attempts <= t->retries) {
		int64_t wait = t->backoff_ms;
		for (int i = 1; i < x->attempts && wait < NOTIFY_MAX_BACKOFF_MS;
		    i++)
			wait *= 2;
		if (d.retry_after_ms >= 0)
			wait = d.retry_after_ms;
		if (wait > NOTIFY_MAX_BACKOFF_MS)
			wait = NOTIFY_MAX_BACKOFF_MS;
		x->state = NOTIF_PENDING;
		x->error = xstrdup(d.error);
		x->next_ms = now + wait;
	} else {
		x->state = NOTIF_DEAD;
		x->error = d.retry ? xasprintf("gave up after %d attempt%s: %s",
		    x->attempts, x->attempts == 1 ? "" : "s", d.error) :
		    xasprintf("%s (not retried)", d.error);
		x->done_ms = now;
	}
	return store_notif_result(s, x);
}
