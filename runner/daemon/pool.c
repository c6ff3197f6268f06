/*
 * The pool: the workers and the notifier, started, started again after a
 * death (not at once after a quick one), woken when there is work, and
 * told of cancels.
 */
#include "daemon_int.h"
#include "admin.h"
#include "home.h"
#include "run.h"
#include "jobs.h"
#include "outbox.h"
#include "util.h"

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

/* ---- supervisor ---- */

void sup_close_wake_pipes(struct sup *s)
{
	for (int j = 0; j < s->pool.nworkers; j++)
		if (s->pool.w[j].wake_w >= 0)
			close(s->pool.w[j].wake_w);
	if (s->pool.notifier.wake_w >= 0)
		close(s->pool.notifier.wake_w);
}

/*
 * Start a worker or the notifier in slot `w`: runner-worker ROLE HOME
 * PARENT SLOT (the notifier's is -1), with the read end of its wake pipe
 * as descriptor 3.
 */
int sup_spawn(struct sup *s, struct worker *w, const char *role)
{
	char ppid[32], slot[16];
	/* a worker's number: the build user its stages run as */
	const char *argv[] = { WORKER_PROGRAM, role, s->home, ppid, slot,
	    NULL };
	int fds[2];
	pid_t pid;

	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	snprintf(slot, sizeof(slot), "%d", w == &s->pool.notifier ? -1 :
	    (int)(w - s->pool.w));
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return error_set(-1, "cannot create a pipe: %s", strerror(errno));
	/* the beats stopped while no worker was alive: this host is alive
	 * again (its workers count in a claim's shares) before it claims */
	if (w != &s->pool.notifier && !s->lease.beat_at && !s->stopping)
		sup_host_beat(s);
	/* the supervisor's connections stay open: the child execs at once
	 * (vfork), and the store's descriptors are close-on-exec; dropped,
	 * each start cost the supervisor a new connection to the server */
	/* it dies with the supervisor (PDEATHSIG survives the exec) */
	pid = sup_child(s->pool.worker_prog, argv, NULL, fds[0], SIGKILL, 0);
	close(fds[0]);
	w->started = mono_ms();
	if (pid < 0) {
		/* as a child that died at once: again in a moment, not in a
		 * loop */
		close(fds[1]);
		log_line("cannot run %s: %s", s->pool.worker_prog, error_last());
		w->pid = 0;
		w->wake_w = -1;
		w->respawn_at = w->started + RESPAWN_MS;
		return 0;
	}
	w->pid = pid;
	w->wake_w = fds[1];
	w->respawn_at = 0;
	return 0;
}

/* Start slot `w` again, now or, if it died at once, in a moment. */
void sup_respawn(struct sup *s, struct worker *w, const char *role)
{
	if (mono_ms() - w->started < RESPAWN_MS) {
		w->respawn_at = mono_ms() + RESPAWN_MS;
		return;
	}
	if (sup_spawn(s, w, role) < 0)
		log_line("warning: %s", error_last());
}

/* Start the children whose moment came; the next such moment, or 0. */
int64_t sup_respawn_due(struct sup *s)
{
	int64_t next = 0, now = mono_ms();

	for (int i = 0; i <= s->pool.nworkers; i++) {
		struct worker *w = i < s->pool.nworkers ? &s->pool.w[i] : &s->pool.notifier;
		if (!w->respawn_at || w->pid)
			continue;
		if (w->respawn_at <= now && !s->stopping) {
			if (sup_spawn(s, w, i < s->pool.nworkers ? "worker" : "notifier") < 0)
				log_line("warning: %s", error_last());
			continue;
		}
		next = deadline_min(next, w->respawn_at);
	}
	return next;
}

int sup_spawn_worker(struct sup *s, int i)
{
	return sup_spawn(s, &s->pool.w[i], "worker");
}

/* A slot with no child, and none about to start. */
static int vacant(const struct worker *w)
{
	return !w->pid && !w->respawn_at;
}

/*
 * Workers and the notifier leave when idle (runner.yml idle_exit): start
 * them again for the work there is, a worker per queued job at most.
 */
void sup_ensure_workers(struct sup *s)
{
	int vacancies = 0;
	int64_t queued;
	struct store *st;

	for (int i = 0; i < s->pool.nworkers; i++)
		vacancies += vacant(&s->pool.w[i]);
	if (!vacancies || s->stopping)
		return;
	st = sup_store(s);
	queued = st ? store_queued(st) : 1;
	if (queued < 0)		/* the store cannot say: one looks */
		queued = 1;
	for (int i = 0; i < s->pool.nworkers && queued > 0; i++) {
		if (!vacant(&s->pool.w[i]))
			continue;
		if (sup_spawn_worker(s, i) < 0)
			log_line("warning: %s", error_last());
		queued--;
	}
}

/* `always`: a worker says an event is recorded; else only if the store
 * holds events or notifications not yet sent. */
void sup_ensure_notifier(struct sup *s, int always)
{
	struct store *st;

	if (!vacant(&s->pool.notifier) || s->stopping)
		return;
	if (!always && (!(st = sup_store(s)) || store_unsent(st) == 0))
		return;
	if (sup_spawn(s, &s->pool.notifier, "notifier") < 0)
		log_line("warning: %s", error_last());
}

void sup_wake_notifier(struct sup *s)
{
	sup_ensure_notifier(s, 1);
	if (s->pool.notifier.wake_w >= 0)
		(void)!write(s->pool.notifier.wake_w, "n", 1);
}

void sup_wake_workers(struct sup *s)
{
	sup_ensure_workers(s);
	for (int i = 0; i < s->pool.nworkers; i++)
		if (s->pool.w[i].wake_w >= 0)
			(void)!write(s->pool.w[i].wake_w, "w", 1);
}

void sup_signal_cancels(struct sup *s)
{
	struct store *st = sup_store(s);
	pid_t *pids;
	size_t n;

	if (!st || store_cancel_workers(st, &pids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < s->pool.nworkers; j++)
			if (s->pool.w[j].pid == pids[i])
				kill(pids[i], SIGUSR1);
	free(pids);
}

/*
 * A hook queued a job (with `poke`; without, it is about to) and the
 * pusher waits for its first stage: the workers that run are told before
 * anything else is done, and when none runs one starts at once, before
 * the store is asked how many jobs wait (ensure_workers, after the
 * spool).
 */
void sup_poke_workers(struct sup *s, int poke)
{
	int running = 0;

	for (int i = 0; i < s->pool.nworkers; i++)
		if (s->pool.w[i].wake_w >= 0) {
			if (poke)
				(void)!write(s->pool.w[i].wake_w, "w", 1);
			running++;
		}
	for (int i = 0; i < s->pool.nworkers && !running && !s->stopping; i++)
		if (vacant(&s->pool.w[i])) {
			if (sup_spawn_worker(s, i) < 0)
				log_line("warning: %s", error_last());
			running++;
		}
}
