#!/usr/bin/env bats
# PagerDuty: a production rollback pages (Events API v2 trigger, one
# incident per repository and environment), the next healthy deployment
# resolves the same incident.

load lib

setup() {
	setup_env
	empty_source app
}
teardown() { teardown_env; }

deploy() {
	r deploy --force "$1" production | sed -n 's/^queued deployment #\([0-9]*\).*/\1/p'
}

@test "a production rollback triggers an incident; the next healthy deploy resolves it" {
	start_sink http pd
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    auto_deploy: []
notify:
  - name: oncall
    pagerduty: { routing_key: R0UTINGKEY, url: 'http://127.0.0.1:$SINK_PORT/v2/enqueue' }
    on: [production_failed, rolled_back]
YML
	set_pipeline "$SRC" "Release candidate" <<YML
stages:
  - name: build
    run: mkdir -p dist && git rev-parse HEAD > dist/version
    artifacts: [dist/**]
environments:
  production:
    deploy: "true"
    checks:
      - run: test ! -e $MARK-broken
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	good=$(deploy 1)
	[ "$(wait_deploy "$good")" = healthy ]

	git -C "$SRC" commit -q --allow-empty -m "Break production"
	git -C "$SRC" push -q origin develop
	wait_state 3 passed
	touch "$MARK-broken"
	bad=$(deploy 3)
	[ "$(wait_deploy "$bad")" = rolled_back ]
	wait_for "[ \$(sink_count pd) -eq 1 ]"
	body="$T/sink-pd/1.body"
	[ "$(jq -r .routing_key "$body")" = R0UTINGKEY ]
	[ "$(jq -r .event_action "$body")" = trigger ]
	[ "$(jq -r .dedup_key "$body")" = runner/app/production ]
	[ "$(jq -r .payload.severity "$body")" = critical ]
	[ "$(jq -r .payload.source "$body")" != "" ]
	[ "$(jq -r .payload.component "$body")" = app ]
	[ "$(jq -r .payload.class "$body")" = rolled_back ]
	[[ "$(jq -r .payload.summary "$body")" == "app production "*": deployment #$bad failed and was rolled back: "* ]]
	[ "$(jq -r .payload.custom_details.job "$body")" = "$bad" ]
	[ "$(r show --json "$bad" | jq -r '.notifications[] | "\(.target) \(.action) \(.state)"')" = "oncall trigger delivered" ]

	rm "$MARK-broken"
	fixed=$(deploy 3)
	[ "$(wait_deploy "$fixed")" = healthy ]
	wait_for "[ \$(sink_count pd) -eq 2 ]"
	body="$T/sink-pd/2.body"
	[ "$(jq -r .event_action "$body")" = resolve ]
	[ "$(jq -r .dedup_key "$body")" = runner/app/production ]
	[ "$(jq -r .routing_key "$body")" = R0UTINGKEY ]
	[ "$(r show --json "$fixed" | jq -r '.notifications[] | "\(.target) \(.action) \(.event)"')" = "oncall resolve deployed" ]
	# healthy again and again: nothing left to resolve
	again=$(deploy 3)
	[ "$(wait_deploy "$again")" = healthy ]
	wait_for "[ \"\$(r show --json "$again" | jq '.notifications | length')\" = 0 ]"
	[ "$(sink_count pd)" -eq 2 ]
}
