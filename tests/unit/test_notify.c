/* Unit tests of notify.c: masking, and the bodies each service gets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "notify.h"
#include "jobs.h"
#include "util.h"

static struct config *load(const char *yml)
{
	struct config *c = NULL;

	assert_int_equal(config_parse("runner.yml", yml, strlen(yml), &c), 0);
	return c;
}

static void test_describe_masks(void **state)
{
	struct config *c = load(
	    "notify:\n"
	    "  - name: team\n"
	    "    slack: https://hooks.slack.com/services/T0/B0/TOKEN\n"
	    "  - name: mail\n"
	    "    email: { smtp: 'smtp://user:PASSWORD@mail.example:587', "
	    "from: a@b, to: [c@d, e@f] }\n"
	    "  - name: pd\n"
	    "    pagerduty: { routing_key: ROUTINGKEY }\n"
	    "  - name: hook\n"
	    "    webhook: { url: 'http://127.0.0.1:9000', secret: SECRET }\n");
	const char *want[] = {
		"slack https://hooks.slack.com/***",
		"email smtp://mail.example:587 to c@d, e@f",
		"pagerduty https://events.pagerduty.com/*** (routing key ***)",
		"webhook http://127.0.0.1:9000 (signed)",
	};

	(void)state;
	for (size_t i = 0; i < c->nnotify; i++) {
		struct sbuf sb = SBUF_INIT;
		notify_describe(&sb, &c->notify[i]);
		assert_string_equal(sb.buf, want[i]);
		sbuf_release(&sb);
	}
	char text[] = "POST https://hooks.slack.com/services/T0/B0/TOKEN "
	    "failed; /services/T0/B0/TOKEN again";
	notify_redact(&c->notify[0], text);
	assert_string_equal(text, "POST *** failed; *** again");
	char login[] = "login user:PASSWORD refused";
	notify_redact(&c->notify[1], login);
	assert_string_equal(login, "login ***:*** refused");
	/* a URL libcurl cannot read (runner.yml takes none such): nothing
	 * of it shown, nothing dereferenced that is not there */
	struct notify_target odd = { .service = NOTIFY_WEBHOOK,
	    .url = "no scheme here" };
	struct sbuf sb = SBUF_INIT;
	char said[] = "no scheme here failed";
	notify_describe(&sb, &odd);
	assert_string_equal(sb.buf, "webhook ***");
	notify_redact(&odd, said);
	assert_string_equal(said, "*** failed");
	sbuf_release(&sb);
	/* what the server got, as it may echo it: the path with its dot
	 * segments resolved, the password decoded */
	struct notify_target dots = { .service = NOTIFY_WEBHOOK,
	    .url = "http://u:p%40ssword@127.0.0.1:9/a/../TOKEN?k=QUERY#FRAG" };
	char echo[] = "HTTP 500: got /TOKEN?k=QUERY from p@ssword";
	notify_redact(&dots, echo);
	assert_string_equal(echo, "HTTP 500: got ***?*** from ***");
	config_free(c);
}

static struct job *fake_job(void)
{
	static struct stage_rec st = { .idx = 0, .name = "unit", .state =
	    STEP_FAILED, .exit_code = 3, .log_path = "/nonexistent" };
	struct job *j = xcalloc(1, sizeof(*j));

	j->id = 7;
	j->kind = KIND_BUILD;
	j->repo = "/srv/git/store-erp.git";
	j->ref = "refs/heads/develop";
	j->commit = "0123456789abcdef0123456789abcdef01234567";
	j->state = JOB_FAILED;
	j->subject = "Fix \"quotes\" <and> & ünïcödé\x1b[2J";
	j->error = "stage 'unit' failed — see the log";
	j->started_ms = 1000;
	j->finished_ms = 5200;
	j->stages = &st;
	j->nstages = 1;
	return j;
}

static void test_bodies(void **state)
{
	struct config *c = load(
	    "notify:\n"
	    "  - name: team\n"
	    "    slack: https://hooks.slack.com/services/T0/B0/TOKEN\n"
	    "  - name: pd\n"
	    "    pagerduty: { routing_key: ROUTINGKEY }\n"
	    "  - name: mail\n"
	    "    email: { smtp: 'smtp://mail', from: a@b, to: c@d }\n");
	struct job *j = fake_job();
	char *b;

	(void)state;
	b = notify_body(&c->notify[0], "job_failed", "job_failed", j, 3, NULL,
	    NULL, NULL);
	assert_non_null(strstr(b, "{\"text\":\"store-erp develop 0123456: "
	    "job #7 failed at stage 'unit' after 4.2s\\n"));
	/* Slack's escapes, JSON's escapes, the terminal escape shown */
	assert_non_null(strstr(b, "subject: Fix \\\"quotes\\\" &lt;and&gt; "
	    "&amp; ünïcödé\\\\x1b[2J\\n"));
	assert_non_null(strstr(b, "failing stage: unit (exit code 3)"));
	free(b);

	b = notify_body(&c->notify[1], "job_failed", "job_failed", j, 3,
	    "trigger", "runner/store-erp/develop", NULL);
	assert_null(strstr(b, "ROUTINGKEY"));	/* added only when sent */
	assert_non_null(strstr(b, "\"event_action\":\"trigger\","
	    "\"dedup_key\":\"runner/store-erp/develop\""));
	assert_non_null(strstr(b, "\"severity\":\"error\""));
	free(b);

	/* a subject line with more than ASCII goes as RFC 2047 words */
	j->kind = KIND_DEPLOY;
	j->env = "production";
	j->state = JOB_REJECTED;
	b = notify_body(&c->notify[2], "rejected", "rejected", j, 3, NULL,
	    NULL, NULL);
	char *subj = strstr(b, "\r\nSubject: ");
	assert_non_null(subj);
	subj += 11;
	struct sbuf dec = SBUF_INIT;
	for (char *p = subj; !strncmp(p, "=?UTF-8?B?", 10); ) {
		char *end = strstr(p + 10, "?=");
		unsigned char out[64];
		assert_non_null(end);
		assert_true(end - p + 2 <= 75);
		int n = EVP_DecodeBlock(out, (unsigned char *)p + 10,
		    (int)(end - p - 10));
		assert_true(n > 0);
		while (n > 0 && out[n - 1] == '\0')	/* base64 padding */
			n--;
		sbuf_add(&dec, out, (size_t)n);
		p = end + 2;
		if (!strncmp(p, "\r\n ", 3))
			p += 3;
	}
	assert_string_equal(dec.buf, "[runner] store-erp production 0123456: "
	    "deployment #7 was rejected: stage 'unit' failed — see the log");
	sbuf_release(&dec);
	assert_non_null(strstr(b, "\r\nMessage-ID: <runner.3.mail.7."));
	assert_non_null(strstr(b, "\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\n"));
	free(b);
	free(j);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe_masks),
		cmocka_unit_test(test_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
