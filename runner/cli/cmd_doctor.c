/*
 * runner doctor: check what the runner depends on and say, for each
 * problem, how to fix it. Read-only: it changes nothing (opening a store
 * of an older version brings it up to date, as every command does).
 */
#include "admin.h"
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "running.h"
#include "envs.h"
#include "home.h"
#include "install.h"
#include "jobs.h"
#include "json.h"
#include "notebox.h"
#include "run.h"
#include "spool.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "wake.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sqlite3.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner doctor [--home DIR] [--json]\n"
    "\n"
    "Check the home and what the runner depends on, and print each\n"
    "problem with its fix: runner.yml; the file modes of the home and of\n"
    "signers, keyrings and secret files; the users and bubblewrap that\n"
    "confine repository code; every repository of runner.yml (a bare\n"
    "repository, the hook installed and executable with this home, its\n"
    "user in the home's group, a chained hook that can run, gitolite's\n"
    "common hooks; who writes its git notes, and why they cannot be\n"
    "written); the daemon and\n"
    "its socket; pushes held in the spool (with the fix) or waiting with\n"
    "no daemon; free disk space; jobs left running by a daemon that is\n"
    "gone; the store's integrity and schema version; folders of an older\n"
    "home that need the operator. Changes nothing. It judges for the\n"
    "daemon's user (the running daemon's, else the home's owner), also\n"
    "when run as root; a fix is a command to paste where there is one\n"
    "(\"as root: COMMAND\" where only root may run it).\n"
    "\n"
    "Exit codes: 0 no problem (warnings allowed), 1 a problem found,\n"
    "2 usage error.\n";

enum level { OK, WARN, FAIL };

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct doctor {
	struct sbuf text;
	struct json w;
	struct sbuf json;
	int problems, warnings, as_json;
};

static void say(struct doctor *d, enum level lv, const char *check,
    const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void say(struct doctor *d, enum level lv, const char *check,
    const char *fix, const char *fmt, ...)
{
	static const char *const names[] = { "ok", "warn", "FAIL" };
	struct sbuf msg = SBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	d->problems += lv == FAIL;
	d->warnings += lv == WARN;
	/* a message or fix may carry a repository's path or a spool
	 * entry's words: shown, never a terminal's control sequence */
	sbuf_addf(&d->text, "%-5s %s: ", names[lv], check);
	sbuf_add_display(&d->text, msg.buf, msg.len);
	sbuf_addch(&d->text, '\n');
	if (fix && lv != OK) {
		sbuf_adds(&d->text, "      fix: ");
		sbuf_add_display(&d->text, fix, strlen(fix));
		sbuf_addch(&d->text, '\n');
	}
	json_obj(&d->w, NULL);
	json_string(&d->w, "check", check);
	json_string(&d->w, "status", lv == OK ? "ok" : lv == WARN ? "warning" :
	    "problem");
	json_string(&d->w, "message", msg.buf);
	json_string(&d->w, "fix", lv == OK ? NULL : fix);
	json_end(&d->w);
	sbuf_release(&msg);
}

static void say_issue(const struct home_issue *issue, void *arg)
{
	say(arg, FAIL, "file modes", issue->fix, "%s", issue->problem);
}

static void check_home(struct doctor *d, const char *home,
    const struct config *conf)
{
	if (!home_audit_each(home, conf, say_issue, d))
		say(d, OK, "file modes", NULL, "the home, runner.yml, the store "
		    "and the files runner.yml names");
}

struct confinement_args {
	const char *home;
	const struct config *conf;
	int workers;
};

static int confinement_as_daemon(void *arg)
{
	const struct confinement_args *a = arg;

	return daemon_check_confinement(a->home, a->conf, a->workers);
}

/* Judged as the daemon's user: root makes the users and switches to
 * them; any other user confines with its user namespace. Root judges a
 * daemon of another user in a child that has become that user. */
static void check_confinement(struct doctor *d, const char *home,
    const struct config *conf)
{
	int workers = config_workers(conf);
	struct confinement_args a = { home, conf, workers };
	uid_t du = daemon_uid(home);
	struct run_user u = { 0 };
	char id[32];
	int error;

	if (conf->trust_repositories) {
		say(d, WARN, "confinement", "set trust_repositories: false in "
		    "runner.yml", "trust_repositories is true: repository code "
		    "runs %s", config_trust_how(conf));
		return;
	}
	snprintf(id, sizeof(id), "%d", (int)du);
	if (run_user_lookup(id, &u) < 0)
		u.name = xstrdup(id);
	if (du != geteuid() && geteuid() == 0 && u.uid == du)
		error = run_as_user(&u, confinement_as_daemon, &a);
	else
		error = confinement_as_daemon(&a);
	if (error < 0) {
		char *fix = du == 0 ? xasprintf("runner init --home %s", home) :
		    xstrdup(access(BWRAP_PATH, X_OK) < 0 ? "apt-get install "
		    "bubblewrap" : "see the message");
		say(d, FAIL, "confinement", fix, "%s", error_last());
		free(fix);
	} else if (du == 0) {
		char *last = home_worker_user(conf->build_user, workers - 1);
		say(d, OK, "confinement", NULL, "build stages run as '%s-0'%s%s%s "
		    "(a user per worker), staging's commands as '%s', "
		    "production's as '%s'%s", conf->build_user,
		    workers > 1 ? " to '" : "", workers > 1 ? last : "",
		    workers > 1 ? "'" : "", conf->build_user, conf->release_user,
		    conf->isolate ? ", under bubblewrap" : "");
		free(last);
	} else
		say(d, OK, "confinement", NULL, "repository code runs under "
		    "bubblewrap (user namespace), as the daemon's user '%s': its "
		    "limits per user (processes) are shared by all stages",
		    u.name);
	run_user_release(&u);
}

/*
 * Who writes the git notes of `repo` (notes.c), judged for the daemon's
 * user: a problem the notifier kept (it says why once, on its log), or
 * how they are written and how many wait for the hook.
 */
static void check_notes(struct doctor *d, const char *home, struct store *st,
    const char *repo)
{
	char *key = xasprintf("%s%s", NOTES_SETTING, repo), *val = NULL;
	char *what = xasprintf("notes %s", repo), *nl;
	struct notebox_note *v = NULL;
	struct passwd *pw;
	struct stat rs;
	size_t n = 0;
	uid_t du = daemon_uid(home);
	char *owner = NULL, *duser = NULL;
	struct sbuf msg = SBUF_INIT;

	if (st && store_setting_get(st, key, &val, NULL) == 1 &&
	    (nl = strchr(val, '\n'))) {
		*nl = '\0';
		say(d, FAIL, what, nl + 1, "%s", val);
		goto out;
	}
	if (stat(repo, &rs) < 0)
		goto out;	/* the repository's own check says so */
	pw = getpwuid(rs.st_uid);
	owner = pw ? xstrdup(pw->pw_name) : xasprintf("%d", (int)rs.st_uid);
	pw = getpwuid(du);
	duser = pw ? xstrdup(pw->pw_name) : xasprintf("%d", (int)du);
	if (du == 0)
		sbuf_addf(&msg, "the daemon has them written as the repository's "
		    "owner '%s'", owner);
	else if (du == rs.st_uid)
		sbuf_adds(&msg, "the daemon writes them; where it may not write "
		    "the repository (a read-only system), its hook does at the "
		    "next push");
	else
		sbuf_addf(&msg, "its hook writes them at each push, as '%s' (the "
		    "daemon's user '%s' may not write the repository)", owner,
		    duser);
	if (notebox_list(home, repo, &v, &n) == 0 && n) {
		sbuf_addf(&msg, "; %zu wait%s for the next push, the oldest for ",
		    n, n == 1 ? "s" : "");
		format_duration(&msg, now_ms() - v[0].mtime_ms);
	}
	say(d, OK, what, NULL, "%s", msg.buf);
out:
	notebox_notes_free(v, n);
	sbuf_release(&msg);
	free(owner);
	free(duser);
	free(val);
	free(key);
	free(what);
}

/* A repository's problem whose fix writes into it: run by another user
 * than its owner and root, the fix says that root runs it (install-hook
 * writes as the owner). */
static void say_root(struct doctor *d, const char *what, const char *repo,
    const char *fix, const char *problem)
{
	struct stat st;
	char *as_root = NULL;

	if (fix && geteuid() != 0 && (stat(repo, &st) < 0 ||
	    st.st_uid != geteuid()))
		as_root = xasprintf("as root: %s", fix);
	say(d, FAIL, what, as_root ? as_root : fix, "%s", problem);
	free(as_root);
}

/* The repositories of runner.yml, and those that pushed (sorted, each
 * once). */
static void check_repos(struct doctor *d, const char *home,
    const struct config *conf, struct store *st)
{
	char **v = NULL;
	size_t n = 0;

	if (st && store_repos(st, 0, &v, &n) < 0)
		n = 0;
	for (size_t i = 0; i < conf->nrepos; i++) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = xstrdup(conf->repos[i].path);
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	if (!n)
		say(d, WARN, "repositories", "runner install-hook REPO.git, or "
		    "list them under 'repos' in runner.yml",
		    "none in runner.yml and none has pushed");
	for (size_t i = 0; i < n; i++) {
		const char *repo = v[i];
		char *problem, *fix, *what;
		if (i && !strcmp(v[i], v[i - 1]))
			continue;
		what = xasprintf("repository %s", repo);
		int rc = install_check(repo, home, "post-receive", &problem, &fix);
		if (rc == 0 && home_granted(home, repo, &problem) == 0) {
			struct sbuf sb = SBUF_INIT;
			sbuf_adds(&sb, "runner install-hook --home ");
			sbuf_add_shell(&sb, home);
			sbuf_addch(&sb, ' ');
			sbuf_add_shell(&sb, repo);
			fix = sbuf_detach(&sb);
			rc = 1;
		}
		if (rc == 1)
			say_root(d, what, repo, fix, problem);
		else if (rc == 2)
			say(d, OK, what, NULL, "%s", problem);
		else
			say(d, OK, what, NULL, "the hook queues its pushes here");
		if (config_repo(conf, repo)->notes)
			check_notes(d, home, st, repo);
		free(problem);
		free(fix);
		free(what);
	}
	strv_free_n(v, n);
}

static void check_daemon(struct doctor *d, const char *home,
    struct store *st, int *running)
{
	char *sock = xasprintf("%s/%s", home, SOCKET_FILE);
	char *fix = xasprintf("start it: systemctl start runner, or runner "
	    "serve --home %s", home);
	struct stat sb;
	int pid = daemon_pid(home);
	char *paused = NULL;

	*running = pid > 0;
	if (pid <= 0)
		say(d, WARN, "daemon", fix, "not running: pushes queue, and "
		    "their jobs wait for it");
	else if (lstat(sock, &sb) < 0 || !S_ISSOCK(sb.st_mode))
		say(d, FAIL, "daemon", "restart the daemon: it makes the socket "
		    "again", "running (pid %d) but '%s' is not its socket: "
		    "pushes are seen only by its watch on the store and the spool", pid,
		    sock);
	else
		say(d, OK, "daemon", NULL, "running (pid %d), socket %s", pid,
		    sock);
	if (st && store_setting_get(st, SETTING_PAUSED, &paused, NULL) == 1) {
		char *resume = xasprintf("runner resume --home %s", home);
		say(d, WARN, "queue", resume, "paused by %s: no job starts",
		    paused);
		free(resume);
	}
	free(paused);
	free(sock);
	free(fix);
}

/* The spool: a held push is a problem, with the fix the daemon found;
 * pushes waiting with no daemon to take them, a warning. */
static void check_spool(struct doctor *d, const char *home, int running)
{
	struct spool_summary sp;
	struct sbuf age = SBUF_INIT;

	spool_summary_load(home, &sp);
	if (sp.error && sp.error_fix)
		say(d, FAIL, "spool", sp.error_fix, "%s", sp.error);
	else if (sp.error)
		say(d, WARN, "spool", "run doctor as root or as the runner's "
		    "user", "%s", sp.error);
	for (size_t i = 0; i < sp.nreasons; i++) {
		const struct spool_reason *r = &sp.reasons[i];
		sbuf_reset(&age);
		format_duration(&age, now_ms() - r->oldest_ms);
		say(d, FAIL, "spool", r->fix, "%zu push%s held for %s, not queued: "
		    "%s (queued by themselves once fixed)", r->count, r->count ==
		    1 ? "" : "es", age.buf, r->reason);
	}
	if (sp.waiting && !running) {
		sbuf_reset(&age);
		format_duration(&age, now_ms() - sp.waiting_oldest_ms);
		say(d, WARN, "spool", "start the daemon (runner serve, or "
		    "systemctl start runner)", "%zu push%s waiting for %s, and "
		    "no daemon to queue them", sp.waiting, sp.waiting == 1 ? "" :
		    "es", age.buf);
	}
	if (sp.refused) {
		char *fix = xasprintf("read the reasons in %s/spool/refused/ "
		    "(NAME.why), then remove the entries", home);
		say(d, WARN, "spool", fix, "%zu spool entr%s refused", sp.refused,
		    sp.refused == 1 ? "y" : "ies");
		free(fix);
	}
	if (!sp.error && !sp.nreasons && !(sp.waiting && !running) &&
	    !sp.refused)
		say(d, OK, "spool", NULL, "%zu push%s waiting, none held",
		    sp.waiting, sp.waiting == 1 ? "" : "es");
	sbuf_release(&age);
	spool_summary_release(&sp);
}

static void check_disk(struct doctor *d, const char *home)
{
	struct statvfs vfs;
	struct sbuf sb = SBUF_INIT;

	if (statvfs(home, &vfs) < 0) {
		say(d, FAIL, "disk", NULL, "cannot see the free space of '%s': "
		    "%s", home, strerror(errno));
		return;
	}
	int64_t avail = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
	int64_t size = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
	format_bytes(&sb, avail);
	if (avail < 512LL * 1024 * 1024 || (size && avail * 20 < size))
		say(d, FAIL, "disk", "runner gc (and a shorter 'retention' in "
		    "runner.yml), or more space", "%s free on the home's file "
		    "system (%.0f%%): jobs fail when it is full", sb.buf, size ?
		    100.0 * (double)avail / (double)size : 0.0);
	else
		say(d, OK, "disk", NULL, "%s free", sb.buf);
	sbuf_release(&sb);
}

/* Jobs of this host left running by a daemon that is gone (another
 * host's are its own, and taken back when their lease ends). */
static void check_store(struct doctor *d, struct store *st, int running,
    const struct config *conf)
{
	struct job **v = NULL;
	size_t n = 0, stale = 0;
	int64_t first = 0;
	char *host = conf ? config_host_name(conf) : NULL;

	if (store_jobs_list(st, 0, &v, &n) < 0) {
		say(d, FAIL, "jobs", NULL, "%s", error_last());
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i]->state == JOB_RUNNING && (!v[i]->host || !host ||
		    !strcmp(v[i]->host, host)) && (!running ||
		    (v[i]->worker_pid > 0 && kill(v[i]->worker_pid, 0) < 0 &&
		    errno == ESRCH))) {
			stale++;
			if (!first)
				first = v[i]->id;
		}
	if (stale)
		say(d, FAIL, "jobs", running ? "restart the daemon: it queues "
		    "them again" : "start the daemon: it queues them again",
		    "%zu job%s recorded running with no worker (#%lld%s)", stale,
		    stale == 1 ? "" : "s", (long long)first, stale > 1 ?
		    " and more" : "");
	else
		say(d, OK, "jobs", NULL, "none left running by a daemon that is "
		    "gone");
	jobs_free(v, n);
	free(host);
}

/* PRAGMA quick_check through a connection of its own (read-only). */
static void check_integrity(struct doctor *d, const char *home,
    struct store *st)
{
	char *path = xasprintf("%s/%s", home, STORE_FILE);
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	struct sbuf errs = SBUF_INIT;
	int version = store_schema_version(st), rows = 0;

	if (!store_is_sqlite(st)) {
		/* PostgreSQL checks its own pages */
		if (version < 0)
			say(d, FAIL, "store", NULL, "%s", error_last());
		else if (version != store_migrations())
			say(d, FAIL, "store", "upgrade the runner", "PostgreSQL: "
			    "schema version %d, not the %d this runner knows",
			    version, store_migrations());
		else
			say(d, OK, "store", NULL, "PostgreSQL, schema version %d",
			    version);
		free(path);
		return;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && sqlite3_busy_timeout(db, 10000) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &q, NULL) ==
	    SQLITE_OK) {
		while (sqlite3_step(q) == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(q, 0);
			if (t && strcmp(t, "ok") && rows++ < 3)
				sbuf_addf(&errs, "%s%s", errs.len ? "; " : "", t);
		}
	} else {
		sbuf_addf(&errs, "%s", db ? sqlite3_errmsg(db) : "cannot open");
		rows = 1;
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	for (size_t i = 0; i < errs.len; i++)
		if (errs.buf[i] == '\n')
			errs.buf[i] = ' ';
	if (rows)
		say(d, FAIL, "store", "stop the daemon, copy runner.db away, and "
		    "recover it with sqlite3's .recover", "'%s' is damaged: %s",
		    path, errs.buf);
	else if (version != store_migrations())
		say(d, FAIL, "store", "upgrade the runner", "schema version %d, "
		    "not the %d this runner knows", version, store_migrations());
	else
		say(d, OK, "store", NULL, "integrity ok, schema version %d",
		    version);
	sbuf_release(&errs);
	free(path);
}

/* HOME/state/NAME of runner 0.1 (no "-" and 16 hex digits): left when
 * more than one repository of that name deploys. */
static void check_old_folders(struct doctor *d, const char *home)
{
	for (int k = 0; k < 2; k++) {
		char *dir = xasprintf("%s/%s", home, k ? "backups" : "state");
		DIR *dp = opendir(dir);
		struct dirent *de;
		while (dp && (de = readdir(dp))) {
			const char *dash = strrchr(de->d_name, '-');
			if (de->d_name[0] == '.' || (dash && strlen(dash) == 17 &&
			    strspn(dash + 1, "0123456789abcdef") == 16))
				continue;
			char *fix = xasprintf("move what belongs to each repository "
			    "into %s/%s-HASH/ENV (the name 'runner show' of a "
			    "deployment gives in its log), then remove it", dir,
			    de->d_name);
			say(d, FAIL, "old folder", fix, "%s/%s is named by a "
			    "repository's last path component alone, which more "
			    "than one repository has", dir, de->d_name);
			free(fix);
		}
		if (dp)
			closedir(dp);
		free(dir);
	}
}

int cmd_doctor(int argc, char **argv)
{
	const char *home_opt = NULL;
	struct doctor d = { .text = SBUF_INIT, .json = SBUF_INIT };
	struct config *conf = NULL;
	struct store *st = NULL;
	struct stat sb;
	int as_json = 0, rc, running = 0;
	char *home, *why = NULL, *key = NULL;

	const struct opt opts[] = {
		OPT_BOOL(0, "json", &as_json, "print the checks as JSON"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
		return rc;
	if (optind != argc)
		return cli_usage(usage);
	home = cli_home(home_opt);
	json_init(&d.w, &d.json);
	json_obj(&d.w, NULL);
	json_string(&d.w, "home", home);
	json_arr(&d.w, "checks");
	if (stat(home, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		char *fix = xasprintf("runner init --home %s", home);
		say(&d, FAIL, "home", fix, "'%s' is not a runner home", home);
		free(fix);
		goto done;
	}
	if (config_load_kept(home, &conf, &why) < 0) {
		say(&d, FAIL, "runner.yml", "correct it ('runner check --config' "
		    "names the line)", "%s", error_last());
	} else if (why) {
		/* the service goes on with the copy the daemon kept */
		say(&d, WARN, "runner.yml", "correct it ('runner check --config' "
		    "names the line), then reload the daemon (systemctl reload "
		    "runner, or SIGHUP)", "%s", why);
	} else {
		say(&d, OK, "runner.yml", NULL, "%zu repositor%s, %zu notify "
		    "target%s", conf->nrepos, conf->nrepos == 1 ? "y" : "ies",
		    conf->nnotify, conf->nnotify == 1 ? "" : "s");
	}
	/* runner.yml's store, or, when it does not load, its `store:` alone */
	if ((conf ? 0 : config_store_url(home, &key)) < 0 ||
	    store_open(home, conf ? conf->store : key, STORE_OPEN, &st) < 0) {
		say(&d, FAIL, "store", "runner init, or start the daemon as the "
		    "runner's user", "%s", error_last());
		st = NULL;
	}
	if (conf) {
		check_home(&d, home, conf);
		check_confinement(&d, home, conf);
		check_repos(&d, home, conf, st);
	}
	check_daemon(&d, home, st, &running);
	check_spool(&d, home, running);
	check_disk(&d, home);
	if (st) {
		check_store(&d, st, running, conf);
		check_integrity(&d, home, st);
	}
	check_old_folders(&d, home);
done:
	json_end(&d.w);
	json_int(&d.w, "problems", d.problems);
	json_int(&d.w, "warnings", d.warnings);
	json_end(&d.w);
	if (as_json)
		printf("%s\n", d.json.buf);
	else
		printf("%s%d problem%s, %d warning%s\n", d.text.buf, d.problems,
		    d.problems == 1 ? "" : "s", d.warnings,
		    d.warnings == 1 ? "" : "s");
	store_close(st);
	config_free(conf);
	free(why);
	free(key);
	sbuf_release(&d.text);
	sbuf_release(&d.json);
	free(home);
	return d.problems ? EXIT_FAIL : EXIT_OK;
}
