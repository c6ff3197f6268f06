/*
 * runner notify: the notification targets of runner.yml. `list` shows
 * them (secrets masked); `test NAME` sends a test event to one right now,
 * from this process, and prints what the far end answered.
 */
#include "cli.h"
#include "config.h"
#include "notify.h"
#include "jobs.h"
#include "outbox.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner notify [--home DIR] list\n"
    "       runner notify [--home DIR] test NAME\n"
    "\n"
    "list: the targets of 'notify:' in runner.yml, where they send (URLs,\n"
    "keys and passwords masked) and which events they hear.\n"
    "test NAME: send a test event to target NAME once, now, and print the\n"
    "outcome (a PagerDuty target gets a trigger of severity info and its\n"
    "resolve). Exit code 0 if it was accepted, 1 if not.\n"
    "\n"
    "Events are delivered by 'runner serve'; 'runner status' shows those\n"
    "not delivered and 'runner show JOB' those of a job. See docs/notify.md.\n";

static void list(const struct config *c)
{
	struct sbuf sb = SBUF_INIT;

	if (!c->nnotify)
		sbuf_adds(&sb, "no notification targets: add 'notify:' to "
		    "runner.yml (see docs/notify.md)\n");
	for (size_t i = 0; i < c->nnotify; i++) {
		const struct notify_target *t = &c->notify[i];
		sbuf_addf(&sb, "%s: ", t->name);
		notify_describe(&sb, t);
		sbuf_adds(&sb, "\n  on:");
		for (size_t j = 0; j < t->non; j++)
			sbuf_addf(&sb, " %s", t->on[j]);
		if (t->repos)
			sbuf_addf(&sb, "\n  repos: %s", t->repos);
		sbuf_addf(&sb, "\n  retries: %lld, backoff from ",
		    (long long)t->retries);
		format_duration(&sb, t->backoff_ms);
		sbuf_addch(&sb, '\n');
	}
	fwrite(sb.buf, 1, sb.len, stdout);
	sbuf_release(&sb);
}

/* One test delivery; prints the outcome, returns 0 if accepted. */
static int send_one(const struct notify_target *t, const char *action,
    const char *base_url)
{
	struct job fake = {
		.kind = KIND_BUILD, .repo = "runner", .ref = "refs/heads/test",
		.commit = "", .state = JOB_PASSED,
	};
	struct notification x = {
		.target = t->name, .event = "test", .action = (char *)action,
		.service = (char *)notify_service_name(t->service),
	};
	struct sbuf where = SBUF_INIT;
	struct delivery d;
	int rc;

	x.dedup = xasprintf("runner/test/%s", t->name);
	x.body = notify_body(t, "test", "test", &fake, 0, action, x.dedup,
	    base_url);
	notify_describe(&where, t);
	notify_deliver(t, &x, NULL, NULL, &d);
	if (d.ok) {
		printf("%s: %s%s%s: delivered (%s %ld in %lldms)\n", t->name,
		    where.buf, action ? " " : "", action ? action : "",
		    t->service == NOTIFY_EMAIL ? "SMTP" : "HTTP", d.status,
		    (long long)d.took_ms);
		rc = 0;
	} else {
		rc = cli_error("notify %s: %s%s%s: not delivered: %s", t->name,
		    where.buf, action ? " " : "", action ? action : "", d.error);
	}
	sbuf_release(&where);
	free(x.dedup);
	free(x.body);
	return rc;
}

int cmd_notify(int argc, char **argv)
{
	const char *home_opt = NULL;
	struct config *c = NULL;
	char *home = NULL;
	int rc;

	if ((rc = cli_parse(argc, argv, usage, NULL, &home_opt)) >= 0)
		return rc;
	if (optind >= argc || (!strcmp(argv[optind], "list") &&
	    argc - optind != 1) || (!strcmp(argv[optind], "test") &&
	    argc - optind != 2) || (strcmp(argv[optind], "list") &&
	    strcmp(argv[optind], "test")))
		return cli_usage(usage);
	home = cli_home(home_opt);
	rc = EXIT_FAIL;
	if (cli_config(home, 0, &c) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (!strcmp(argv[optind], "list")) {
		list(c);
		rc = EXIT_OK;
		goto out;
	}
	const struct notify_target *t = config_notify(c, argv[optind + 1]);
	if (!t) {
		struct sbuf names = SBUF_INIT;
		for (size_t i = 0; i < c->nnotify; i++)
			sbuf_addf(&names, "%s%s", i ? ", " : "", c->notify[i].name);
		cli_error("no notify target '%s' in %s/%s (%s%s)",
		    argv[optind + 1], home, CONFIG_FILE, c->nnotify ?
		    "targets: " : "none configured", names.buf);
		sbuf_release(&names);
		goto out;
	}
	if (t->service == NOTIFY_PAGERDUTY)
		rc = send_one(t, "trigger", c->http.base_url) ||
		    send_one(t, "resolve", c->http.base_url) ?
		    EXIT_FAIL : EXIT_OK;
	else
		rc = send_one(t, NULL, c->http.base_url) ? EXIT_FAIL : EXIT_OK;
out:
	config_free(c);
	free(home);
	return rc;
}
