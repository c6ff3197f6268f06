#!/usr/bin/env bats
# Notifications reach Slack, e-mail and signed webhooks (real HTTP and SMTP
# listeners on 127.0.0.1) with what happened; secrets never show.

load lib

SUBJECT='Fix "quoted" \ path → ünïcödé ✓ <b>&'

setup() {
	setup_env
	empty_source app
}
teardown() { teardown_env; }

failing_pipeline() {
	set_pipeline "$SRC" "$1" <<'YML'
stages:
  - name: unit
    run: for i in $(seq 1 60); do echo "unit line $i"; done; exit 3
  - name: lint
    run: "true"
YML
}

passing_pipeline() {
	set_pipeline "$SRC" "$1" <<'YML'
stages:
  - name: unit
    run: echo all good
YML
}

@test "a failing push is announced on Slack and by e-mail with what failed" {
	start_sink http slack
	slack=$SINK_PORT
	start_sink smtp mail
	smtp=$SINK_PORT
	cat > "$RUNNER_HOME/runner.yml" <<YML
notify:
  - name: team
    slack: http://127.0.0.1:$slack/services/T000/B000/XXXXSECRET
    on: [job_failed, job_fixed]
  - name: mail
    email: { smtp: 'smtp://127.0.0.1:$smtp', from: runner@example.com, to: [dev@example.com, ops@example.com] }
    on: [job_failed]
YML
	failing_pipeline "$SUBJECT"
	short=$(git -C "$SRC" rev-parse --short=7 HEAD)
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 failed
	wait_for "[ \$(sink_count slack) -eq 1 ] && [ \$(sink_count mail) -eq 1 ]"

	# Slack: {"text": ...} naming repo, ref, commit, job, state, stage, time
	body="$T/sink-slack/1.body"
	grep -q '^POST /services/T000/B000/XXXXSECRET ' "$T/sink-slack/1.head"
	grep -qi '^Content-Type: application/json' "$T/sink-slack/1.head"
	text=$(jq -r .text "$body")
	[[ "$text" == "app develop $short: job #1 failed at stage 'unit' after "* ]]
	[[ "$text" == *"failing stage: unit (exit code 3)"* ]]
	[[ "$text" == *"job: #1, failed"* ]]
	[[ "$text" == *"duration: "* ]]
	# the subject arrives intact (Slack's own escapes for < > &)
	[[ "$text" == *'subject: Fix "quoted" \ path → ünïcödé ✓ &lt;b&gt;&amp;'* ]]

	# e-mail: envelope, headers, and the last 50 lines of the failing log
	mail="$T/sink-mail/1.mail"
	grep -q '^MAIL FROM:<runner@example.com>' "$mail"
	grep -q '^RCPT TO:<dev@example.com>' "$mail"
	grep -q '^RCPT TO:<ops@example.com>' "$mail"
	date -d "$(sed -n 's/^Date: \(.*\)\r$/\1/p' "$mail")" >/dev/null
	grep -qE '^Message-ID: <runner\.[0-9]+\.mail\.1\.[0-9]+@[^>]+>'$'\r''$' "$mail"
	grep -q "^Subject: \[runner\] app develop $short: job #1 failed at stage 'unit' after" "$mail"
	grep -q '^To: dev@example.com, ops@example.com'$'\r''$' "$mail"
	grep -q '^Content-Type: text/plain; charset=utf-8' "$mail"
	grep -qF 'subject: Fix "quoted" \ path → ünïcödé ✓ <b>&' "$mail"
	tail=$(sed -n "/^The last 50 lines of the log of 'unit':/,/^More: /p" "$mail" |
	    tr -d '\r' | sed '1,2d;$d' | sed '$d')
	[ "$(echo "$tail" | wc -l)" -eq 50 ]
	echo "$tail" | grep -qx 'unit line 60'
	echo "$tail" | grep -qx 'unit line 12'
	! echo "$tail" | grep -qx 'unit line 11' || false
	[[ "$tail" == *"[runner: stage 'unit' failed with exit code 3]"* ]]

	# the job lists its notifications, delivered
	[ "$(notifications_of 1 | sort | tr '\n' ' ')" = "mail:job_failed:delivered team:job_failed:delivered " ]
	run r show 1
	[[ "$output" == *"notifications:"*"team (slack) job #1 job_failed, 1 attempt"* ]]

	# the next green push on the branch is "fixed": Slack hears, mail not
	passing_pipeline "Mend the unit test"
	git -C "$SRC" push -q origin develop
	wait_state 2 passed
	wait_for "[ \$(sink_count slack) -eq 2 ]"
	[[ "$(jq -r .text "$T/sink-slack/2.body")" == "app develop "*": job #2 passed in "*" (fixed)"* ]]
	[ "$(notifications_of 2)" = "team:job_fixed:delivered" ]
	# a third push that passes again is neither failed nor fixed
	git -C "$SRC" commit -q --allow-empty -m "Nothing"
	git -C "$SRC" push -q origin develop
	wait_state 3 passed
	wait_for "[ \"\$(r show --json 3 | jq '.notifications | length')\" = 0 ]"
	[ "$(sink_count mail)" -eq 1 ]
	[ "$(sink_count slack)" -eq 2 ]

	# the Slack token is never shown: not in the log, status or show
	r status >"$T/out" 2>&1
	r show 1 >>"$T/out" 2>&1
	r show --json 1 >>"$T/out" 2>&1
	r notify list >>"$T/out" 2>&1
	! grep -q XXXXSECRET "$T/out" "$T/serve.log" || false
	grep -q "team: slack http://127.0.0.1:$slack/\*\*\*" "$T/out"
}

@test "webhooks carry the event as JSON, signed with HMAC-SHA256 of the body" {
	start_sink http hook
	hook=$SINK_PORT
	cat > "$RUNNER_HOME/runner.yml" <<YML
notify:
  - name: audit
    webhook: { url: 'http://127.0.0.1:$hook/runner', secret: s3cret-key }
    on: [all]
    repos: '^app$'
  - name: failures-only
    webhook: http://127.0.0.1:$hook/failures
    on: [job_failed]
  - name: other-repo
    webhook: { url: 'http://127.0.0.1:$hook/other', secret: x }
    on: [all]
    repos: '^store-erp$'
YML
	passing_pipeline "$SUBJECT"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	wait_for "[ \$(sink_count hook) -ge 1 ]"
	wait_for "[ \"\$(notifications_of 1)\" = audit:job_passed:delivered ]"
	[ "$(sink_count hook)" -eq 1 ]
	head="$T/sink-hook/1.head" body="$T/sink-hook/1.body"
	grep -q '^POST /runner ' "$head"
	sig=$(sed -n 's/^X-Runner-Signature: sha256=\([0-9a-f]*\)\r$/\1/p' "$head")
	[ ${#sig} -eq 64 ]
	[ "$sig" = "$(openssl dgst -sha256 -hmac s3cret-key -r "$body" | cut -d' ' -f1)" ]
	[ "$sig" != "$(openssl dgst -sha256 -hmac s3cret-kez -r "$body" | cut -d' ' -f1)" ]
	grep -q '^X-Runner-Event: job_passed'$'\r''$' "$head"
	delivery=$(sed -n 's/^X-Runner-Delivery: \([0-9]*\)\r$/\1/p' "$head")
	[ "$(jq -r .id "$body")" = "$delivery" ]
	[ "$(jq -r .event "$body")" = job_passed ]
	[ "$(jq -r .job.id "$body")" = 1 ]
	[ "$(jq -r .job.state "$body")" = passed ]
	[ "$(jq -r .job.commit "$body")" = "$(git -C "$SRC" rev-parse HEAD)" ]
	# quotes, backslash and unicode arrive intact
	[ "$(jq -r .job.subject "$body")" = "$SUBJECT" ]
	! grep -q s3cret-key "$T/serve.log" "$body" || false
}

@test "runner notify test, list, and clear errors for bad targets" {
	start_sink http hook
	hook=$SINK_PORT
	start_sink smtp mail
	smtp=$SINK_PORT
	cat > "$RUNNER_HOME/runner.yml" <<YML
notify:
  - name: oncall
    pagerduty: { routing_key: R0UTINGKEY-SECRET, url: 'http://127.0.0.1:$hook/v2/enqueue' }
    on: [production_failed, rolled_back]
  - name: mail
    email: { smtp: 'smtp://mailer:pa55word-secret@127.0.0.1:$smtp', from: Runner <runner@example.com>, to: dev@example.com }
  - name: down
    webhook: http://127.0.0.1:$(free_port)/hook-token-secret
YML
	run r notify list
	[ "$status" -eq 0 ]
	[[ "$output" == *"oncall: pagerduty http://127.0.0.1:$hook/*** (routing key ***)"* ]]
	[[ "$output" == *"on: production_failed rolled_back"* ]]
	[[ "$output" == *"mail: email smtp://127.0.0.1:$smtp to dev@example.com"* ]]
	[[ "$output" != *secret* && "$output" != *SECRET* ]]

	run r notify test oncall
	[ "$status" -eq 0 ]
	[[ "$output" == *"oncall: pagerduty http://127.0.0.1:$hook/*** (routing key ***) trigger: delivered (HTTP 200"* ]]
	[[ "$output" == *"resolve: delivered"* ]]
	[ "$(jq -r .routing_key "$T/sink-hook/1.body")" = R0UTINGKEY-SECRET ]
	[ "$(jq -r .event_action "$T/sink-hook/1.body")" = trigger ]
	[ "$(jq -r .payload.severity "$T/sink-hook/1.body")" = info ]
	[ "$(jq -r .payload.summary "$T/sink-hook/1.body")" = "test notification from runner" ]
	[ "$(jq -r .event_action "$T/sink-hook/2.body")" = resolve ]
	[ "$(jq -r .dedup_key "$T/sink-hook/2.body")" = "$(jq -r .dedup_key "$T/sink-hook/1.body")" ]

	# a login goes out only over TLS: this server offers no STARTTLS
	run r notify test mail
	[ "$status" -eq 1 ]
	[[ "$output" == *"not delivered"* ]]
	[[ "$output" != *secret* ]]
	[ "$(sink_count mail)" = 0 ]
	# unless runner.yml says the login may travel in clear
	sed -i "s|to: dev@example.com }|to: dev@example.com, starttls: optional }|" "$RUNNER_HOME/runner.yml"
	run r notify test mail
	[ "$status" -eq 0 ]
	[[ "$output" == *"delivered (SMTP 250"* ]]
	grep -q '^MAIL FROM:<runner@example.com>' "$T/sink-mail/1.mail"
	grep -q '^From: Runner <runner@example.com>' "$T/sink-mail/1.mail"

	run r notify test down
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner: notify down: webhook http://127.0.0.1:"*"/*** : not delivered: "* ||
	   "$output" == *"runner: notify down: webhook http://127.0.0.1:"*"/***: not delivered: "* ]]
	[[ "$output" != *secret* ]]

	run r notify test nobody
	[ "$status" -eq 1 ]
	[[ "$output" == *"no notify target 'nobody' in $RUNNER_HOME/runner.yml (targets: oncall, mail, down)"* ]]
	run r notify frobnicate
	[ "$status" -eq 2 ]
	run r notify --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: runner notify"* ]]

	# mistakes in runner.yml name the line and field, never a secret
	cat > "$RUNNER_HOME/runner.yml" <<'YML'
notify:
  - name: team
    slack: https://hooks.slack.com/services/T000/B000/TOKEN
    on: [job_failed, job_faild]
YML
	run r notify list
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:4:22: unknown event 'job_faild' in 'on' of notify 'team'"* ]]
	cat > "$RUNNER_HOME/runner.yml" <<'YML'
notify:
  - name: team
    slack: ftp://hooks.slack.com/services/T000/B000/TOKEN
YML
	run r notify list
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:3:12: 'slack' of notify 'team' must be a URL"* ]]
	[[ "$output" != *TOKEN* ]]
	cat > "$RUNNER_HOME/runner.yml" <<'YML'
notify:
  - name: team
    slack: https://hooks.slack.com/services/T000/B000/TOKEN
    webhook: https://example.com/x
  - name: team
    webhook: https://example.com/y
YML
	run r notify list
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:4:14: notify 'team' names more than one service ('slack' and 'webhook')"* ]]
	sed -i '4d' "$RUNNER_HOME/runner.yml"
	run r notify list
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:4:5: two 'notify' entries are named 'team' (lines 2 and 4)"* ]]
}
