/*
 * runner-oldstore HOME VERSION: make HOME/runner.db as the runner of
 * schema VERSION made it (its migrations, in order, and nothing after),
 * holding one passed build with a stage, for the upgrade tests.
 */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	char path[4096], sql[256];
	sqlite3 *db;
	int v;

	if (argc != 3 || (v = atoi(argv[2])) < 1 || v > store_migrations()) {
		fprintf(stderr, "usage: runner-oldstore HOME VERSION (1 to %d)\n",
		    store_migrations());
		return 2;
	}
	snprintf(path, sizeof(path), "%s/" STORE_FILE, argv[1]);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL))
		goto fail;
	for (int i = 1; i <= v; i++)
		if (sqlite3_exec(db, store_migration(i), NULL, NULL, NULL))
			goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) || sqlite3_exec(db,
	    "INSERT INTO jobs (repo, ref, old_commit, commit_id, state, "
	    "attempt, created_ms, started_ms, finished_ms) VALUES ('/old.git', "
	    "'refs/heads/develop', '', 'abcdef0', 'passed', 1, 1000, 1000, "
	    "2000);"
	    "INSERT INTO stages (job_id, idx, name, state, exit_code, "
	    "log_path) VALUES (1, 0, 'unit', 'passed', 0, '/nonexistent')",
	    NULL, NULL, NULL))
		goto fail;
	sqlite3_close(db);
	return 0;
fail:
	fprintf(stderr, "runner-oldstore: %s\n", sqlite3_errmsg(db));
	sqlite3_close(db);
	return 1;
}
