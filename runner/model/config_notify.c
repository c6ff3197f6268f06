/*
 * The schema of runner.yml's `notify`: one entry per target, with exactly
 * one service (slack, pagerduty, email, webhook), its events and its
 * retries; two entries with one name are refused.
 */
#include "config.h"
#include "config_int.h"
#include "schema.h"
#include "util.h"
#include "ynode.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- notify: one entry per target ---- */

static const char *const service_keys[] = {
	[NOTIFY_SLACK] = "slack", [NOTIFY_PAGERDUTY] = "pagerduty",
	[NOTIFY_EMAIL] = "email", [NOTIFY_WEBHOOK] = "webhook",
};

/* Is `url` a URL of one of `schemes`? Values may be secret (tokens in
 * URLs): messages name the field, never the value. */
static int check_url(const char *file, const struct ynode *n,
    const char *key, const char *what, const char *schemes, const char *url)
{
	if (url_scheme_in(url, schemes))
		return 0;
	return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' of %s must be a URL "
	    "(scheme one of: %s)", file, n->line, n->col, key, what, schemes);
}

static const struct sfield pagerduty_fields[] = {
	{ .key = "routing_key", .kind = S_STR,
	    FIELD(struct notify_target, secret),
	    .flags = S_REQUIRED | S_NONEMPTY | S_SECRET,
	    .doc = "the integration's key" },
	{ .key = "url", .kind = S_STR, FIELD(struct notify_target, url),
	    .flags = S_NONEMPTY | S_SECRET, .type_doc = "URL",
	    .def = "https://events.pagerduty.com/v2/enqueue",
	    .doc = "the Events API v2 endpoint" },
	SFIELD_END
};
static const struct schema pagerduty_schema = {
	.name = "pagerduty", .fields = pagerduty_fields, .rel = REL_OF,
};

static const struct sfield email_fields[] = {
	{ .key = "smtp", .kind = S_STR, FIELD(struct notify_target, url),
	    .flags = S_REQUIRED | S_NONEMPTY | S_SECRET, .type_doc = "URL",
	    .doc = "`smtp://HOST:PORT` or `smtps://HOST:PORT` (`user:password@` "
	    "allowed)" },
	{ .key = "from", .kind = S_STR, FIELD(struct notify_target, from),
	    .flags = S_REQUIRED | S_NONEMPTY, .doc = "the sender" },
	{ .key = "to", .kind = S_STRV, FIELD(struct notify_target, to),
	    COUNT(struct notify_target, nto), .flags = S_REQUIRED,
	    .doc = "the recipients" },
	{ .key = "username", .kind = S_STR,
	    FIELD(struct notify_target, username),
	    .flags = S_NONEMPTY | S_SECRET, .doc = "SMTP login" },
	{ .key = "password", .kind = S_STR,
	    FIELD(struct notify_target, password),
	    .flags = S_NONEMPTY | S_SECRET, .doc = "SMTP login" },
	{ .key = "starttls", .kind = S_CHOICE,
	    FIELD(struct notify_target, starttls_optional),
	    .choices = "required optional", .def = "required",
	    .doc = "with a login, an `smtp://` server must offer STARTTLS unless "
	    "`optional`, so a password never travels in clear by accident" },
	SFIELD_END
};
static const struct schema email_schema = {
	.name = "email", .fields = email_fields, .rel = REL_OF,
};

static const struct sfield webhook_fields[] = {
	{ .key = "url", .kind = S_STR, FIELD(struct notify_target, url),
	    .flags = S_REQUIRED | S_NONEMPTY | S_SECRET, .type_doc = "URL",
	    .doc = "where events are POSTed" },
	{ .key = "secret", .kind = S_STR, FIELD(struct notify_target, secret),
	    .flags = S_NONEMPTY | S_SECRET,
	    .doc = "key of the `X-Runner-Signature` HMAC-SHA256" },
	SFIELD_END
};
static const struct schema webhook_schema = {
	.name = "webhook", .fields = webhook_fields, .rel = REL_OF,
};

static const struct schema *const service_schemas[] = {
	[NOTIFY_SLACK] = NULL, [NOTIFY_PAGERDUTY] = &pagerduty_schema,
	[NOTIFY_EMAIL] = &email_schema, [NOTIFY_WEBHOOK] = &webhook_schema,
};

/* slack, pagerduty, email, webhook: exactly one per entry. */
static int read_service(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct notify_target *t = obj;
	const char *key = r->field->key;
	enum notify_service s = NOTIFY_SLACK;
	int error;

	while (strcmp(service_keys[s], key))
		s++;
	if (t->has_service)
		return error_set(ERR_INVALID, "%s:%zu:%zu: %s names more than one "
		    "service ('%s' and '%s')", r->file, v->line, v->col, r->what,
		    service_keys[t->service], key);
	t->has_service = 1;
	t->service = s;
	if (v->type == YNODE_SCALAR &&
	    (s == NOTIFY_SLACK || s == NOTIFY_WEBHOOK)) {
		t->url = xstrdup(v->value);
		return check_url(r->file, v, key, r->what, "https http", t->url);
	}
	if (s == NOTIFY_SLACK || v->type != YNODE_MAP)
		return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' of %s must be %s",
		    r->file, v->line, v->col, key, r->what,
		    s == NOTIFY_SLACK ? "the webhook URL" :
		    s == NOTIFY_WEBHOOK ? "a URL or {url, secret}" : "a mapping");
	char *what = xasprintf("'%s'", key);
	schema_defaults(service_schemas[s], t);
	if ((error = schema_read(r->file, v, service_schemas[s], what,
	    t)) == 0)
		error = check_url(r->file, v, s == NOTIFY_EMAIL ? "smtp" : "url",
		    what, s == NOTIFY_EMAIL ? "smtp smtps" : "https http", t->url);
	t->starttls_optional = t->starttls_optional == 2;
	free(what);
	return error;
}

static int check_notify(const struct sread *r, const struct ynode *map,
    void *obj)
{
	struct notify_target *t = obj;
	const struct ynode *v = ynode_get(map, "on");

	if (!t->has_service)
		return error_set(ERR_INVALID, "%s:%zu:%zu: %s needs one of "
		    "'slack', 'pagerduty', 'email' or 'webhook'", r->file,
		    map->line, map->col, r->what);
	for (size_t i = 0; i < t->non; i++) {
		const char *k = t->on[i];
		if (!strcmp(k, "all") || word_in(NOTIFY_EVENTS, k))
			continue;
		const struct ynode *at = v->type == YNODE_SEQ && i < v->n ?
		    v->items[i] : v;
		return error_set(ERR_INVALID, "%s:%zu:%zu: unknown event '%s' in "
		    "'on' of %s (events: %s, all)", r->file, at->line, at->col,
		    k, r->what, NOTIFY_EVENTS);
	}
	return 0;
}

void free_notify(void *elem)
{
	struct notify_target *t = elem;

	free(t->url);
	free(t->secret);
	free(t->username);
	free(t->password);
	free(t->from);
	strv_free(t->to);
}

static const struct sfield notify_fields[] = {
	{ .key = "name", .kind = S_STR, FIELD(struct notify_target, name),
	    .flags = S_REQUIRED | S_NONEMPTY,
	    .doc = "unique; used by `runner notify test NAME`, in `status` "
	    "and `show`" },
	{ .key = "slack", .kind = S_CUSTOM, .read = read_service,
	    .type_doc = "URL", .doc = "a Slack incoming webhook" },
	{ .key = "pagerduty", .kind = S_CUSTOM, .read = read_service,
	    .sub = &pagerduty_schema, .type_doc = "mapping",
	    .doc = "PagerDuty Events API v2" },
	{ .key = "email", .kind = S_CUSTOM, .read = read_service,
	    .sub = &email_schema, .type_doc = "mapping", .doc = "SMTP" },
	{ .key = "webhook", .kind = S_CUSTOM, .read = read_service,
	    .sub = &webhook_schema, .type_doc = "URL or mapping",
	    .doc = "a JSON POST; with a `secret` every request is signed" },
	{ .key = "on", .kind = S_STRV, FIELD(struct notify_target, on),
	    COUNT(struct notify_target, non),
	    .def = "[job_failed, job_error, job_fixed, deploy_failed, "
	    "rolled_back, rejected]",
	    .type_doc = "event or list of events",
	    .doc = "the events it hears (`" NOTIFY_EVENTS "`, or `all`)" },
	{ .key = "repos", .kind = S_PATTERN, FIELD(struct notify_target, repos),
	    .def = "(any)", .doc = "only repositories whose path, name (the "
	    "last path component without `.git`) or name as status shows it "
	    "(fixed when the runner first sees it: `b/zlib` for a second "
	    "`zlib`) matches" },
	{ .key = "retries", .kind = S_INT, FIELD(struct notify_target, retries),
	    .min = 0, .max = 100, .def = "6",
	    .doc = "attempts after the first" },
	{ .key = "backoff", .kind = S_DURATION,
	    FIELD(struct notify_target, backoff_ms), .def = "2s",
	    .doc = "the first wait between attempts; it doubles" },
	SFIELD_END
};
const struct schema notify_schema = {
	.name = "notify", .fields = notify_fields, .rel = REL_OF,
	.size = sizeof(struct notify_target),
	.line_at = SLINE(struct notify_target, line),
	.entry = "a 'notify' entry", .what = "notify '%s'", .name_key = "name",
	.check = check_notify, .free = free_notify,
	.doc = "Where events are announced: one entry per target, with "
	    "exactly one of `slack`, `pagerduty`, `email`, `webhook`.",
};

/* Two entries with one name: the second is refused. */
int read_notify(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct config *c = obj;
	struct sfield f = *r->field;
	struct sread nr = *r;
	int error;

	f.kind = S_LIST;
	f.off = offsetof(struct config, notify);
	f.count_off = offsetof(struct config, nnotify);
	nr.field = &f;
	if ((error = schema_read_field(&nr, v, obj)) < 0)
		return error;
	for (size_t i = 0; i < c->nnotify; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->notify[j].name, c->notify[i].name))
				return error_set(ERR_INVALID, "%s:%zu:%zu: two "
				    "'notify' entries are named '%s' (lines %zu and "
				    "%zu)", r->file, c->notify[i].line,
				    v->items[i]->col, c->notify[i].name,
				    c->notify[j].line, c->notify[i].line);
	return 0;
}

const char *notify_service_name(enum notify_service s)
{
	return service_keys[s];
}
