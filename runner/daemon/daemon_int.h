/*
 * Inside runner/daemon, shared by the files of the supervisor: its state
 * (`struct sup`), its children's, and what each file gives the others.
 */
#ifndef RUNNER_DAEMON_INT_H
#define RUNNER_DAEMON_INT_H

#include "ask.h"
#include "watch.h"

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct config;
struct store;

struct worker {
	pid_t pid;
	int wake_w;	/* supervisor's end of the worker's wake pipe */
	int64_t started;	/* mono ms */
	int64_t respawn_at;	/* a child that died at once: start again then */
};

/* A child that dies within this long of its start is started again only
 * after as long: a broken install must not become a fork loop. */
#define RESPAWN_MS 1000

/* A child answering a hook (answer.c): killed if it outlives the longest
 * answer, runner.yml's wait_timeout and ASK_KILL_MS more. */
#define ASK_KILL_MS 60000
struct asker {
	pid_t pid;
	uid_t uid;		/* who connected */
	int64_t kill_at;	/* mono ms */
};

/* The home's mark of a store whose disk failed a write (children.c):
 * the daemon does not serve while it is there. */
#define DAEMON_DISK_FAILED "store-disk-failed"

struct sup {
	const char *home;
	const struct config *conf;
	struct config *reloaded;	/* runner.yml as SIGHUP read it again */
	const char *log_file;	/* --log-file: reopened on SIGHUP */
	int sigfd, sock, lockfd;
	int stopping;
	int disk_failed;	/* a child's write of the store to disk failed */
	int64_t started_ms;
	/* the workers and the notifier (pool.c) */
	struct sup_pool {
		struct worker *w;
		int nworkers;
		struct worker notifier;	/* delivers notifications */
		char *worker_prog;	/* runner-worker, beside runner */
	} pool;
	/* the hooks' questions (children.c) */
	struct sup_ask {
		int fd;			/* ask.sock, or -1 */
		struct asker askers[ASK_MAX];
		int64_t window;		/* mono ms: the second being counted */
		int taken;		/* connections taken in it */
		struct ask_user { uid_t uid; int n; } took[ASK_RATE]; /* by user */
		int users;		/* entries of took */
		int64_t paused;		/* out of descriptors: not before then */
	} ask;
	/* its other children (children.c) */
	struct sup_kids {
		pid_t gc_pid;		/* `runner gc` running, or 0 */
		int64_t gc_at;		/* mono ms: when to collect next; 0 never */
		pid_t web_pid;		/* runner-web, or 0 */
		int64_t web_at;		/* mono ms: when to start it (again); 0 no */
		int64_t web_started;
		char *web_listen;	/* what it was started with */
	} kids;
	/* work no datagram announced (watch.c) */
	struct sup_look {
		struct watch watch;	/* the store's and the spool's files */
		int64_t at;		/* mono ms: when to look; 0: when the
					 * watch says */
		int64_t looked_at;	/* ... when it last looked */
		int seen;		/* WATCH_* bits the watch said since */
		int again;		/* the last look found a change */
		int64_t reserve_at;	/* mono ms: when to look at the reserves;
					 * 0: when the watch says one was used */
	} look;
	/* the spool (daemon.c) */
	struct sup_spool {
		int64_t retry_at;	/* it could not be read: when again */
		int said;		/* ... and the log said so */
		size_t held;		/* pushes held in spool/held/ */
		int64_t held_retry_at;	/* when to try them again; 0: none held */
		/* runner.yml as it is now, for the spool (spool_conf), and
		 * the file's size and time when it was read */
		struct config *conf;
		struct timespec conf_mtime;
		off_t conf_size;
	} spool;
	/* leases (leases.c) */
	struct sup_lease {
		int64_t beat_at;	/* mono ms: the host's heartbeat, leases;
					 * 0: none due (SQLite, no worker alive) */
	} lease;
	int64_t sched_at;	/* mono ms: when to look at the schedules */
	/* the store */
	struct store *store;	/* opened on demand, closed before fork */
	int shared;		/* the store is PostgreSQL's */
	struct store *listen;	/* there: told of queued jobs; opened on
				 * demand, closed before fork */
	int listen_fd;
	int64_t listen_at;	/* when to try to listen again */
	int reserve_said;	/* the reserve could not be made: said once */
};

/* daemon.c: the supervisor */
void sup_drop_connections(struct sup *s);
struct store *sup_store(struct sup *s);

/* children.c: its children, the answerers, the reaping */
int sup_alive(const struct sup *s);
int64_t sup_ask_overdue(struct sup *s);
void sup_on_ask(struct sup *s);
void sup_reap(struct sup *s);
void sup_signal_children(const struct sup *s, int sig, int askers);
void sup_start_gc(struct sup *s);
void sup_start_web(struct sup *s);
pid_t sup_child(const char *prog, const char *const *argv,
    const char *var, int keep, int deathsig, int out_err);
int sup_workers_alive(const struct sup *s);

/* leases.c: the heartbeat and recovery */
void sup_host_beat(struct sup *s);
void sup_recover(struct sup *s, pid_t worker);

/* pool.c: the workers and the notifier */
void sup_close_wake_pipes(struct sup *s);
void sup_ensure_notifier(struct sup *s, int always);
void sup_ensure_workers(struct sup *s);
void sup_poke_workers(struct sup *s, int poke);
void sup_respawn(struct sup *s, struct worker *w, const char *role);
int64_t sup_respawn_due(struct sup *s);
void sup_signal_cancels(struct sup *s);
int sup_spawn(struct sup *s, struct worker *w, const char *role);
int sup_spawn_worker(struct sup *s, int i);
void sup_wake_notifier(struct sup *s);
void sup_wake_workers(struct sup *s);

/* schedules.c */
void sup_run_schedules(struct sup *s);

#endif
