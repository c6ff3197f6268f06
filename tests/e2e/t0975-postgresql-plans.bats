#!/usr/bin/env bats
# The plans of the store's statements on PostgreSQL, with 100,000 jobs.
# The runner's sessions plan each statement once, for whatever values are
# bound (plan_cache_mode = force_generic_plan, runner/store/pg.c): a plan
# that reads the jobs or the stages in full, or one costed high enough
# for the server to compile it (JIT), would cost that at every claim, job
# end or page. Each statement (runner-bench statements: as the server
# gets it) is explained as the sessions plan it, with JIT on as Debian
# ships the server; a store filled by one INSERT ... SELECT, its
# statistics read from every row, so the plans are the same each run.

load lib

setup_file() { pg_server_start; }
teardown_file() { pg_server_stop; }

setup() {
	pg_setup_env
	printf "store: '%s'\n" "$STORE_URL" > "$RUNNER_HOME/runner.yml"
	r init >/dev/null
	fill
}
teardown() { teardown_env; }

# psql on the test's store
pg() { psql -X -q -v ON_ERROR_STOP=1 "$STORE_URL" "$@"; }

# 100,000 jobs of 4 repositories, 6 branches each: builds (9 in 10)
# mostly passed or failed, some superseded or canceled, with 2 stages;
# deployments of a build to staging or production, most healthy; 40
# queued and 8 running last; then one build of a new branch
fill() {
	pg <<'SQL'
ALTER TABLE jobs SET (autovacuum_enabled = off);
ALTER TABLE stages SET (autovacuum_enabled = off);
INSERT INTO jobs (repo, ref, old_commit, commit_id, dedup, state, subject,
    attempt, created_ms, started_ms, finished_ms, kind, env, source_job,
    pushed_by, worker_pid, host, lease_ms, phase)
SELECT '/srv/git/app' || (i % 4) || '.git',
       CASE WHEN i % 10 = 9 THEN 'refs/heads/main'
            ELSE 'refs/heads/b' || (i % 6) END,
       lpad(to_hex(i - 1), 40, '0'), lpad(to_hex(i), 40, '0'),
       CASE WHEN i % 10 = 9 THEN NULL ELSE 'd' || i END,
       CASE WHEN i > 99992 THEN 'running' WHEN i > 99952 THEN 'queued'
            WHEN i % 10 = 9 THEN
                CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'healthy' END
            WHEN i % 20 = 3 THEN 'failed' WHEN i % 50 = 7 THEN 'superseded'
            WHEN i % 97 = 5 THEN 'canceled' ELSE 'passed' END,
       'commit ' || i, CASE WHEN i BETWEEN 99953 AND 99992 THEN 0 ELSE 1 END,
       1700000000000 + i * 1000,
       CASE WHEN i BETWEEN 99953 AND 99992 THEN NULL
            ELSE 1700000000000 + i * 1000 + 10 END,
       CASE WHEN i > 99952 THEN NULL ELSE 1700000000000 + i * 1000 + 900 END,
       CASE WHEN i % 10 = 9 THEN 'deploy' ELSE 'build' END,
       CASE WHEN i % 10 = 9 THEN
           CASE WHEN i % 20 = 9 THEN 'staging' ELSE 'production' END END,
       CASE WHEN i % 10 = 9 THEN i - 1 END,
       'dev' || (i % 13),
       CASE WHEN i > 99992 THEN 1000 + i % 100 END,
       CASE WHEN i > 99992 THEN 'host' || (i % 2) END,
       CASE WHEN i > 99992 THEN 1900000000000 END,
       CASE WHEN i > 99992 THEN 'stages' END
FROM generate_series(1, 100000) AS i;
INSERT INTO jobs (repo, ref, old_commit, commit_id, dedup, state, attempt,
    created_ms, started_ms, finished_ms, kind)
VALUES ('/srv/git/app1.git', 'refs/heads/new', 'x', 'y', 'new', 'passed',
    1, 1800000000000, 1800000000010, 1800000000900, 'build');
INSERT INTO stages (job_id, idx, name, state, exit_code, log_path,
    started_ms, finished_ms)
SELECT id, k, CASE k WHEN 0 THEN 'unit' ELSE 'lint' END,
       CASE WHEN state = 'running' THEN 'running'
            WHEN state = 'failed' AND k = 1 THEN 'failed' ELSE 'passed' END,
       CASE WHEN state = 'running' THEN NULL ELSE 0 END,
       '/var/log/runner/' || id || '.' || k, started_ms, finished_ms
FROM jobs, generate_series(0, 1) AS k
WHERE kind = 'build' AND state != 'queued';
INSERT INTO repos (path, name, created_ms)
SELECT DISTINCT repo, repo, 1 FROM jobs;
INSERT INTO hosts (name, labels, workers, started_ms, heartbeat_ms)
VALUES ('host0', 'linux', 4, 1, 1), ('host1', 'linux', 4, 1, 1);
SET default_statistics_target = 1000;
VACUUM ANALYZE;
SQL
}

# Statements that read every job by purpose, none on the path of a job:
# the counts and durations of /metrics, retention's pass over the jobs
# (runner gc), doctor's list of repositories
whole_table() {
	case $1 in
	"SELECT kind, state, count(*) FROM jobs GROUP BY"*) ;;
	"SELECT repo, env, state, count(*) FROM jobs WHERE kind = 'deploy'"*) ;;
	"SELECT repo, kind, sum(CASE WHEN (finished_ms - started_ms)"*) ;;
	"SELECT j.repo, s.name, sum(CASE WHEN (s.finished_ms - s.started_ms)"*) ;;
	"SELECT id, kind, state, coalesce(finished_ms, created_ms), source_job"*) ;;
	"SELECT DISTINCT repo FROM jobs ORDER BY repo") ;;
	*) return 1 ;;
	esac
}

@test "with 100,000 jobs each statement's plan for any value reads jobs and stages by an index, uncompiled; status" {
	local q text n args checked=0 bad=0
	# one session, as the runner's: each statement prepared, and
	# explained with NULL for each parameter (a generic plan is the same
	# whatever is bound)
	{
		echo "SET plan_cache_mode = force_generic_plan; SET jit = on;"
		while IFS=$'\t' read -r -d '' q text; do
			# planned for its values at each run (FOR_ITS_VALUES)
			[[ $text != *"/*planned for its values*/"* ]] || continue
			n=$(grep -o '\$[0-9]*' <<<"$text" | tr -d '$' | sort -n | tail -n 1 || true)
			args=
			for ((k = 1; k <= ${n:-0}; k++)); do args+="${args:+, }NULL"; done
			printf 'PREPARE q%s AS %s;\n\\echo ==== %s\nEXPLAIN EXECUTE q%s%s;\n' \
			    "$q" "$text" "$q" "$q" "${args:+($args)}"
			printf '%s\t%s\n' "$q" "$text" >> "$T/statements"
		done < <("$RUNNER_BENCH" statements)
	} > "$T/explain.sql"
	pg -f "$T/explain.sql" > "$T/plans"
	while IFS=$'\t' read -r q text; do
		checked=$((checked + 1))
		plan=$(awk -v q="==== $q" '$0 == q { on = 1; next } /^==== / { on = 0 } on' "$T/plans")
		if [ -z "$plan" ]; then
			echo "statement $q: no plan: $text"
			bad=1
		elif grep -q 'JIT:' <<<"$plan" ||
		    { grep -qE 'Seq Scan on (jobs|stages)\b' <<<"$plan" && ! whole_table "$text"; }; then
			printf 'statement %s: %s\n%s\n\n' "$q" "$text" "$plan"
			bad=1
		fi
	done < "$T/statements"
	echo "$checked statements explained"
	[ "$checked" -gt 100 ]
	[ "$bad" = 0 ]

	# and the runner's sessions do plan so, without JIT: as the server
	# reports their settings to a session the runner opens
	run "$RUNNER_BENCH" session-settings "$RUNNER_HOME"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$output" = "force_generic_plan off" ]
	run r status
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"queue: 40 queued, 8 running"* ]]
}
