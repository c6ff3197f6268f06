/*
 * Schedules: runner.yml's cron entries, each firing a build of its
 * branch's head when due.
 */
#include "daemon_int.h"
#include "admin.h"
#include "config.h"
#include "home.h"
#include "run.h"
#include "jobs.h"
#include "notebox.h"
#include "reffile.h"
#include "util.h"
#include "who.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Ref `ref` of repository `real` (a real path) into `hex`, read from its
 * files by a daemon that is neither root nor the repository's owner: its
 * git would follow a ref that is a link (to a secret file of the
 * runner's, say) with the runner's rights. A loose ref, else
 * packed-refs; no link followed, no FIFO waited on.
 */
static int ref_read_files(const char *real, const char *ref, char *hex)
{
	struct sbuf buf = SBUF_INIT;
	int root = -1, dir = -1, error;
	size_t rl = strlen(ref), n;

	/* from the root, each folder reached without a link: its owner
	 * may swap a folder on the path for a link between a check of the
	 * path and this open */
	if ((root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (dir = reffile_open_below(root, real, O_PATH | O_DIRECTORY)) < 0) {
		error = error_set(-1, "cannot open '%s': %s", real,
		    strerror(errno));
		goto out;
	}
	if ((error = reffile_read(dir, ref, 4096, &buf)) == 0) {
		if ((n = reffile_hex_id(buf.buf, '\n'))) {
			memcpy(hex, buf.buf, n);
			hex[n] = '\0';
		} else {
			error = error_set(ERR_NOTFOUND, "%s of '%s' holds no "
			    "object id", ref, real);
		}
		goto out;
	}
	if (error != ERR_NOTFOUND)
		goto out;
	sbuf_reset(&buf);
	if ((error = reffile_read(dir, "packed-refs", 64 * 1024 * 1024,
	    &buf)) < 0 && error != ERR_NOTFOUND)
		goto out;
	error = ERR_NOTFOUND;
	for (char *line = buf.buf, *nl; line && *line; line = nl) {
		if ((nl = strchr(line, '\n')))
			*nl++ = '\0';
		if ((n = reffile_hex_id(line, ' ')) && line[n] == ' ' &&
		    !strncmp(line + n + 1, ref, rl) && !line[n + 1 + rl]) {
			memcpy(hex, line, n);
			hex[n] = '\0';
			error = 0;
			break;
		}
	}
	if (error)
		error_set(error, "no %s in '%s' (read without its owner's git: "
		    "loose and packed refs only)", ref, real);
out:
	if (dir >= 0)
		close(dir);
	if (root >= 0)
		close(root);
	sbuf_release(&buf);
	return error;
}

/*
 * Read ref `ref` of a schedule's repository `repo` into `hex`. As root,
 * git runs as the repository's owner, never as root in a folder another
 * user may change: what the repository holds (its config's include.path,
 * a ref that is a link to a file of root's, a FIFO) is its owner's
 * doing, and is read with the owner's rights alone. A daemon of its own
 * user runs its git on its own repositories only, and reads another
 * user's ref files itself (ref_read_files). The path used is the real
 * one, each folder on it checked as it is reached.
 */
static int schedule_ref(const char *repo, const char *ref, char *hex)
{
	struct run_user owner = { 0 };
	struct stat st;
	char *real;
	int root_only, error;

	if (!(real = realpath(repo, NULL)))
		return error_set(-1, "cannot reach '%s': %s", repo,
		    strerror(errno));
	if ((error = notebox_repo_stat(real, &st, &root_only)) < 0)
		goto out;
	if (geteuid() != 0) {
		/* our own: our git; another user's: its files, no link
		 * followed */
		error = st.st_uid == geteuid() ? git_ref_read(real, ref, NULL,
		    hex) : ref_read_files(real, ref, hex);
		goto out;
	}
	if (st.st_uid == 0) {
		if (!root_only)
			error = error_set(-1, "'%s' is root's, but a folder on "
			    "its path may be changed by another user: root "
			    "runs no git there", repo);
		else
			error = git_ref_read(real, ref, NULL, hex);
		goto out;
	}
	run_user_owner(&st, &owner);
	error = git_ref_read(real, ref, &owner, hex);
	run_user_release(&owner);
out:
	free(real);
	return error;
}

/* A schedule's build: the branch's head, unless it has one already and
 * the schedule says skip_built. */
static void fire_schedule(struct sup *s, struct store *st,
    const struct schedule *sc)
{
	char hex[65], *ref = xasprintf("refs/heads/%s", sc->branch);
	char *by = xasprintf("schedule %s", sc->name);
	/* the schedule caused it, by the daemon's hand */
	struct who who = { who_clean(sc->name), xstrdup(WHO_SCHEDULE), NULL,
	    who_user_name(getuid()) };
	struct push p = { sc->repo, ref, "0000000000000000000000000000000000000000",
	    hex, NULL, NULL, NULL, by, &who };
	struct enqueued e;

	if (schedule_ref(sc->repo, ref, hex) < 0) {
		log_line("warning: schedule '%s': %s", sc->name, error_last());
		goto out;
	}
	if (sc->skip_built) {
		struct job **v = NULL;
		size_t n = 0, built = 0;
		if (store_jobs_of_commit(st, sc->repo, hex, &v, &n) == 0)
			for (size_t i = 0; i < n; i++)
				built += v[i]->kind == KIND_BUILD;
		jobs_free(v, n);
		if (built) {
			log_line("schedule '%s': %s %.7s was built already", sc->name,
			    sc->branch, hex);
			goto out;
		}
	}
	if (store_enqueue(st, &p, 1, &e) < 0) {
		log_line("warning: schedule '%s': %s", sc->name, error_last());
		goto out;
	}
	log_line("schedule '%s': queued job #%lld for %s %.7s", sc->name,
	    (long long)e.id, sc->branch, hex);
	sup_wake_workers(s);
out:
	free(ref);
	free(by);
	who_release(&who);
}

/*
 * Run the schedules whose time came since they last ran (once, however
 * many times were missed while the daemon was down); a schedule seen for
 * the first time starts from now. When each last ran is kept in the
 * store (settings "schedule:NAME"). Sets when to look again.
 */
void sup_run_schedules(struct sup *s)
{
	const struct config *c = s->conf;
	struct store *st;
	int64_t now = now_ms(), next = 0;

	s->sched_at = 0;
	if (!c->nschedules || !(st = sup_store(s)))
		return;
	for (size_t i = 0; i < c->nschedules; i++) {
		const struct schedule *sc = &c->schedules[i];
		char *key = xasprintf("schedule:%s", sc->name), *val = NULL;
		int64_t last = 0, due;
		char buf[32];
		if (store_setting_get(st, key, &val, NULL) == 1)
			last = strtoll(val, NULL, 10);
		free(val);
		if (!last || last > now)
			last = now;
		due = (int64_t)cron_next(&sc->when, (time_t)(last / 1000)) * 1000;
		if (due && due <= now) {
			fire_schedule(s, st, sc);
			last = now;
			due = (int64_t)cron_next(&sc->when, (time_t)(now / 1000)) *
			    1000;
		}
		snprintf(buf, sizeof(buf), "%lld", (long long)last);
		if (store_setting_set(st, key, buf) < 0)
			log_line("warning: schedule '%s': %s", sc->name,
			    error_last());
		if (due)
			next = next ? (due < next ? due : next) : due;
		free(key);
	}
	/* look again when the next is due, and at least once a minute (the
	 * clock may be set) */
	int64_t wait = next ? next - now : 60000;
	s->sched_at = mono_ms() + (wait < 1000 ? 1000 : wait > 60000 ? 60000 :
	    wait);
}
