/*
 * The store's schema: its migrations, forward only, numbered from 1,
 * each run once in the transaction that records its number (SQLite's
 * user_version, PostgreSQL's runner_schema), and the rewrites of data
 * some of them need.
 */
#include "store.h"
#include "store_int.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  repo TEXT NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  old_commit TEXT NOT NULL,"
	"  commit_id TEXT NOT NULL,"
	"  dedup TEXT UNIQUE,"
	"  state TEXT NOT NULL DEFAULT 'queued',"
	"  error TEXT,"
	"  subject TEXT,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  cancel INTEGER NOT NULL DEFAULT 0,"
	"  worker_pid INTEGER,"
	"  retry_of INTEGER REFERENCES jobs(id),"
	"  created_ms INTEGER NOT NULL,"
	"  started_ms INTEGER,"
	"  finished_ms INTEGER);"
	"CREATE INDEX jobs_state ON jobs (state, id);"
	"CREATE INDEX jobs_ref ON jobs (repo, ref, id);"
	"CREATE TABLE stages ("
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  idx INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending',"
	"  exit_code INTEGER,"
	"  error TEXT,"
	"  pgid INTEGER,"
	"  log_path TEXT NOT NULL,"
	"  started_ms INTEGER,"
	"  finished_ms INTEGER,"
	"  PRIMARY KEY (job_id, idx));"
	"CREATE TABLE artifacts ("
	"  id INTEGER PRIMARY KEY,"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  path TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  files INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX artifacts_job ON artifacts (job_id);",
	/* 2: deployments are jobs of kind 'deploy' */
	"ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'build';"
	"ALTER TABLE jobs ADD COLUMN env TEXT;"
	"ALTER TABLE jobs ADD COLUMN tag TEXT;"
	"ALTER TABLE jobs ADD COLUMN tag_object TEXT;"
	"ALTER TABLE jobs ADD COLUMN forced_by TEXT;"
	"ALTER TABLE jobs ADD COLUMN release_dir TEXT;"
	"ALTER TABLE jobs ADD COLUMN notes TEXT;"
	"ALTER TABLE jobs ADD COLUMN figures TEXT;"
	"ALTER TABLE jobs ADD COLUMN source_job INTEGER REFERENCES jobs(id);"
	"ALTER TABLE jobs ADD COLUMN rollback_to INTEGER REFERENCES jobs(id);"
	"ALTER TABLE jobs ADD COLUMN previous INTEGER REFERENCES jobs(id);"
	"CREATE INDEX jobs_deploy ON jobs (kind, repo, env, state);"
	"CREATE INDEX jobs_commit ON jobs (repo, commit_id);"
	"CREATE TABLE checks ("
	"  id INTEGER PRIMARY KEY,"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  name TEXT NOT NULL,"
	"  status INTEGER,"
	"  latency_ms INTEGER,"
	"  ok INTEGER NOT NULL,"
	"  error TEXT,"
	"  at_ms INTEGER NOT NULL);"
	"CREATE INDEX checks_job ON checks (job_id);"
	"CREATE TABLE environments ("
	"  repo TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  release INTEGER REFERENCES jobs(id),"
	"  last INTEGER REFERENCES jobs(id),"
	"  updated_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (repo, name));",
	/* 3: the outbox. An event is written with the state change that
	 * causes it; the daemon routes it to notifications and sends those. */
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  kind TEXT NOT NULL,"
	"  tags TEXT NOT NULL,"
	"  routed INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE INDEX events_unrouted ON events (id) WHERE routed = 0;"
	"CREATE TABLE notifications ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  event_id INTEGER NOT NULL REFERENCES events(id),"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  target TEXT NOT NULL,"
	"  service TEXT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  action TEXT,"
	"  dedup TEXT,"
	"  body TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending',"
	"  error TEXT,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  status INTEGER,"
	"  next_ms INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  done_ms INTEGER);"
	"CREATE INDEX notifications_due ON notifications (next_ms, id) "
	"  WHERE state = 'pending';"
	"CREATE INDEX notifications_state ON notifications (state, id);"
	"CREATE INDEX notifications_job ON notifications (job_id);"
	"CREATE INDEX notifications_dedup ON notifications (target, dedup, id);",
	/* a release's files, to tell when they changed (manifest.h) */
	"ALTER TABLE jobs ADD COLUMN manifest TEXT;",
	/* 5: who asked for a job by hand (a deployment, a retry), else NULL:
	 * it came from a push */
	"ALTER TABLE jobs ADD COLUMN requested_by TEXT;",
	/* 6: what a running job is doing, when no stage of it runs */
	("ALTER TABLE jobs ADD COLUMN phase TEXT;"
	"ALTER TABLE jobs ADD COLUMN phase_ms INTEGER;"),
	/* 7: the runner's own settings: the queue paused, the home's disk
	 * use as the last collection measured it */
	("CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL,"
	"  updated_ms INTEGER NOT NULL);"),
	/* 8: variables a push (git push -o ci.variable=) or a manual run
	 * gave a build: "NAME=VALUE" lines */
	"ALTER TABLE jobs ADD COLUMN variables TEXT;",
	/* 9: build hosts: who runs a job, and until when its claim holds
	 * without a heartbeat (a lease); the hosts and their last word */
	"ALTER TABLE jobs ADD COLUMN host TEXT;"
	"ALTER TABLE jobs ADD COLUMN lease_ms INTEGER;"
	"CREATE INDEX jobs_lease ON jobs(lease_ms) WHERE state = 'running';"
	"CREATE TABLE hosts ("
	"  name TEXT PRIMARY KEY,"
	"  labels TEXT NOT NULL DEFAULT '',"
	"  workers INTEGER NOT NULL DEFAULT 0,"
	"  started_ms INTEGER NOT NULL,"
	"  heartbeat_ms INTEGER NOT NULL,"
	"  draining INTEGER NOT NULL DEFAULT 0,"
	"  drained_by TEXT,"
	"  drained_ms INTEGER"
	");",
	/* 10: the labels a build's host must have (its pipeline's runs_on),
	 * recorded by the first host that read the pipeline and lacked them */
	"CREATE TABLE job_needs ("
	"  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  label TEXT NOT NULL,"
	"  PRIMARY KEY (job_id, label)"
	");",
	/* 11: what a host that does not share the git server's files sends
	 * through the store: its stages' logs and its artifacts, in chunks
	 * that go with the stage or artifact they belong to */
	"CREATE TABLE log_chunks ("
	"  job_id INTEGER NOT NULL,"
	"  idx INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  PRIMARY KEY (job_id, idx, seq),"
	"  FOREIGN KEY (job_id, idx) REFERENCES stages(job_id, idx)"
	"    ON DELETE CASCADE"
	");"
	"CREATE TABLE artifact_chunks ("
	"  artifact_id INTEGER NOT NULL REFERENCES artifacts(id)"
	"    ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  PRIMARY KEY (artifact_id, seq)"
	");",
	/* 12: the services an environment's commands left running: the
	 * init of the pid namespace each command ran in, on its host, known
	 * by its start time and namespace as well as its pid; the next
	 * deployment of the environment ends them */
	"CREATE TABLE services ("
	"  repo TEXT NOT NULL,"
	"  env TEXT NOT NULL,"
	"  host TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  started INTEGER NOT NULL,"
	"  pidns INTEGER NOT NULL,"
	"  job_id INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (repo, env, host, pid, started)"
	");",
	/* 13: a repository's short name, fixed when it is first seen, so that
	 * adding another repository never renames one (badges, metrics
	 * labels and --repo keep working) */
	"CREATE TABLE repos ("
	"  path TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created_ms INTEGER NOT NULL"
	");",
	/* 14: who caused a job: the name the git server knew the pusher by
	 * (or the user behind a command), how it knew (unix, ssh, http,
	 * gitolite, cli), the ssh key's fingerprint where sshd gave it; and
	 * the key that signed a release's tag */
	"ALTER TABLE jobs ADD COLUMN pushed_by TEXT;"
	"ALTER TABLE jobs ADD COLUMN pushed_via TEXT;"
	"ALTER TABLE jobs ADD COLUMN pushed_key TEXT;"
	"ALTER TABLE jobs ADD COLUMN signer TEXT;",
	/* 15: and the unix user the kernel reported (the hook's real uid, the
	 * spool file's owner, the command's), which the other columns are
	 * only that user's claims beside */
	"ALTER TABLE jobs ADD COLUMN pushed_as TEXT;",
	/* 16: what refers to a job, indexed: removing one (runner gc) checks
	 * every reference to it, and without these each check reads the
	 * whole table */
	"CREATE INDEX jobs_source ON jobs (source_job) WHERE source_job IS "
	"NOT NULL;"
	"CREATE INDEX jobs_previous ON jobs (previous) WHERE previous IS NOT "
	"NULL;"
	"CREATE INDEX jobs_rollback ON jobs (rollback_to) WHERE rollback_to "
	"IS NOT NULL;"
	"CREATE INDEX jobs_retry ON jobs (retry_of) WHERE retry_of IS NOT "
	"NULL;"
	"CREATE INDEX events_job ON events (job_id);",
	/* 17: deduplication keys are the same bytes on both engines, their
	 * parts apart by char(1): SQLite's, made with char(0) before, are
	 * rewritten by dedup_backfill() (its replace() stops at a NUL) */
	"SELECT 1",
	/* 18: the start of the body an http check got (a failed one's page
	 * shows it; bounded and recorded as text) */
	"ALTER TABLE checks ADD COLUMN body TEXT;",
	/* 19: a release that needs approvals (runner.yml `approvals:`): how
	 * many distinct keys approved it when its deployment decided, of how
	 * many needed, and who; the deployment held for want of them
	 * (have < need) is a pending release until a newer one of its tag */
	"CREATE TABLE approvals ("
	"  job_id INTEGER PRIMARY KEY REFERENCES jobs(id),"
	"  repo TEXT NOT NULL,"
	"  env TEXT NOT NULL,"
	"  tag TEXT NOT NULL,"
	"  have INTEGER NOT NULL,"
	"  need INTEGER NOT NULL,"
	"  names TEXT NOT NULL,"
	"  approvers TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL"
	");"
	"CREATE INDEX approvals_pending ON approvals (repo, tag) WHERE have < "
	"need;",
	/* 20: signed provenance (docs/provenance.md): an artifact's DSSE
	 * envelope, sent through the store to the hosts that deploy it, and
	 * what a deployment found when it checked that envelope; and the
	 * public keys of the hosts that sign, so that a host deploys what
	 * another one built */
	"ALTER TABLE artifacts ADD COLUMN provenance TEXT;"
	"ALTER TABLE jobs ADD COLUMN provenance TEXT;"
	"CREATE TABLE provenance_keys ("
	"  keyid TEXT PRIMARY KEY,"
	"  host TEXT NOT NULL,"
	"  public_pem TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL"
	");",
	/* 21: the web page's history filtered by repository or by person,
	 * newest first, through an index each (store_jobs_find): with
	 * 100,000 jobs a page reads its 50 rows, not the table */
	"CREATE INDEX jobs_repo ON jobs (repo, id);"
	"CREATE INDEX jobs_pushed_by ON jobs (pushed_by, id);",
	/* 22: who asked for a job's cancel (who_describe: runner cancel, or
	 * the web page's person) */
	"ALTER TABLE jobs ADD COLUMN canceled_by TEXT;",
	/* 23: a repository's branches (its page) by seeks, each the next
	 * branch with builds past the one before (Q_BRANCHES) */
	"CREATE INDEX jobs_branches ON jobs (repo, kind, ref, id);",
	/* 24: an environment's deployments queued since a push, by a seek
	 * (NEWER_DEPLOY_OF: the supersede and the claim, each claim on
	 * PostgreSQL): by jobs_deploy, every deployment that ever served the
	 * environment was read, 20-27 ms a claim on 100,000 jobs */
	"CREATE INDEX jobs_env_deploys ON jobs (repo, env, id) WHERE kind = "
	"'deploy';",
};

int store_migrations(void)
{
	return (int)(sizeof(migrations) / sizeof(*migrations));
}

const char *store_migration(int version)
{
	return version >= 1 && version <= store_migrations() ?
	    migrations[version - 1] : NULL;
}
#define MIGRATIONS ((int)(sizeof(migrations) / sizeof(*migrations)))

/* SQLite keeps the version in the file's header (PRAGMA user_version),
 * PostgreSQL in a table of its own. */
static const char *const version_sql[2] = {
	"PRAGMA user_version",
	"SELECT version FROM runner_schema",
};

/* The store's schema version: 0 for a store not made yet; an error
 * (negative) when it cannot be read. */
static int schema_version(struct store *s)
{
	struct stmt st = { .s = s };
	int v = 0, rc;

	if (s->pg) {
		struct sbuf sb = SBUF_INIT;
		rc = pg_value_of(s, version_sql[1], "read the schema version",
		    &sb);
		/* undefined_table: a database the runner has not used yet */
		if (rc < 0 && !strcmp(s->pg_state, "42P01")) {
			error_clear();
			rc = 0;
		}
		v = rc > 0 ? (int)strtol(sb.buf, NULL, 10) : rc;
		sbuf_release(&sb);
		return v;
	}
	if (sqlite3_prepare_v2(s->db, version_sql[0], -1, &st.lite,
	    NULL) != SQLITE_OK)
		return db_error(s, "read the schema version");
	if ((rc = step(&st)) == STEP_ROW)
		v = col_int(&st, 0);
	else if (rc < 0)
		v = db_error(s, "read the schema version");
	sqlite3_finalize(st.lite);
	return v;
}

static int set_version(struct store *s, int v)
{
	char text[80];

	snprintf(text, sizeof(text), s->pg ? "UPDATE runner_schema SET "
	    "version = %d" : "PRAGMA user_version = %d", v);
	return exec_sql(s, text, "migrate");
}

/* SQLite's deduplication keys made before SCHEMA_DEDUP: char(0) between
 * their parts, char(1) now, as on PostgreSQL (whose keys always had it).
 * In the caller's transaction. */
#define SCHEMA_DEDUP 17
static int dedup_backfill(struct store *s)
{
	sqlite3_stmt *sel = NULL, *upd = NULL;
	int rc = SQLITE_OK;

	if (s->pg)
		return 0;
	if (sqlite3_prepare_v2(s->db, "SELECT id, CAST(dedup AS BLOB) FROM "
	    "jobs WHERE instr(CAST(dedup AS BLOB), x'00') > 0", -1, &sel,
	    NULL) != SQLITE_OK || sqlite3_prepare_v2(s->db, "UPDATE jobs SET "
	    "dedup = ?2 WHERE id = ?1", -1, &upd, NULL) != SQLITE_OK)
		rc = SQLITE_ERROR;
	while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(sel, 1);
		char *key = xmalloc((size_t)n + 1);
		memcpy(key, sqlite3_column_blob(sel, 1), (size_t)n);
		for (int i = 0; i < n; i++)
			if (!key[i])
				key[i] = 1;
		sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
		sqlite3_bind_text(upd, 2, key, n, free);
		rc = sqlite3_step(upd) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(upd);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return rc == SQLITE_DONE ? 0 : db_error(s, "rewrite deduplication keys");
}

int store_migrate(struct store *s)
{
	const int latest = MIGRATIONS;
	int version, error;

	/* durable on a relaxed connection too (STORE_RELAXED) */
	if ((error = begin_durable(s)) < 0)
		return error;
	if (s->pg && (error = pg_exec(s, "CREATE TABLE IF NOT EXISTS "
	    "runner_schema (version INTEGER NOT NULL); INSERT INTO "
	    "runner_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM "
	    "runner_schema)", "migrate")) < 0)
		goto out;
	if ((error = version = schema_version(s)) < 0)
		goto out;
	if (version > latest) {
		error = error_set(ERR_INVALID, "store '%s' has schema version %d, "
		    "newer than this runner knows (%d): upgrade the runner",
		    s->path, version, latest);
		goto out;
	}
	for (int v = version; v < latest; v++)
		if ((error = exec_sql(s, migrations[v], "migrate")) < 0 ||
		    (error = set_version(s, v + 1)) < 0)
			goto out;
	/* the repositories an older runner knew keep the names it showed */
	if (version < SCHEMA_REPOS && (error = repos_backfill(s)) < 0)
		goto out;
	if (version < SCHEMA_DEDUP && (error = dedup_backfill(s)) < 0)
		goto out;
	error = commit(s);
out:
	if (error < 0)
		rollback(s);
	return error;
}

int store_schema_version(struct store *s)
{
	return schema_version(s);
}
