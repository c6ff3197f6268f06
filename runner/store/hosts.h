/*
 * Build hosts and their leases. A worker holds the job it claimed for as
 * long as its lease: it renews it by heartbeat; when the lease ends
 * without one (the host was killed, frozen or cut off), any supervisor
 * takes the job back: a build goes back to the queue (its next claim is
 * attempt 2), a deployment ends 'interrupted' (never re-run by itself,
 * as after a crash). A worker that lost its lease records nothing more
 * of the job: every write of a fenced connection checks first that the
 * job is still its own (store_fence).
 */
#ifndef RUNNER_HOSTS_H
#define RUNNER_HOSTS_H

#include "store.h"

#include <stdint.h>
#include <sys/types.h>

/* From now on, every write of `s` first checks that job `id` is still
 * held by this worker (its attempt, pid and host); ERR_LEASE if not.
 * id 0 ends the fence. */
void store_fence(struct store *s, int64_t id, int attempt, pid_t worker,
    const char *host);

/* Renew the lease of job `id` held by (attempt, worker, host) until
 * lease_ms from now by the store's clock (on PostgreSQL the server's,
 * one for every host): 1 renewed, 0 no longer held, <0 store error. */
int store_lease_renew(struct store *s, int64_t id, int attempt,
    pid_t worker, const char *host, int64_t lease_ms);

/* One job whose lease ended. */
struct expired {
	int64_t id;
	int deploy;
	char *host;
};

/*
 * Take back the jobs whose lease ends before `ahead_ms` from now by the
 * store's clock (0: whose lease has ended; the tests look ahead). The
 * process groups of their running stages on `host` (this machine's) are
 * returned in *pgids, to be killed: whatever the frozen worker left must
 * not run beside the next attempt. The caller frees *jobs with
 * expired_free().
 */
int store_leases_expire(struct store *s, int64_t ahead_ms, const char *host,
    struct expired **jobs, size_t *njobs, pid_t **pgids, size_t *npgids);
void expired_free(struct expired *v, size_t n);

/*
 * The pipeline of running job `id` needs host labels `needs` that this
 * host lacks: record them and put the job back in the queue, as if it had
 * not been claimed (its attempt count too), for a host that has them.
 */
int store_job_hand_on(struct store *s, int64_t id, const char *const *needs,
    size_t n);

/* Host `name` is alive: its labels (comma-separated) and workers; the
 * time of its heartbeat is the store's clock. */
int store_host_beat(struct store *s, const char *name, const char *labels,
    int workers, int64_t started_ms);

/* Drain host `name` (on) or let it claim again (off); `by` who asked.
 * A drained host finishes what it runs and claims nothing new. */
int store_host_drain(struct store *s, const char *name, int on,
    const char *by);

struct host_rec {
	char *name, *labels, *drained_by;
	int workers, draining;
	int64_t started_ms, heartbeat_ms, drained_ms;
	int64_t heartbeat_age_ms;	/* by the store's clock */
	int64_t *running;	/* the jobs it runs */
	size_t nrunning;
};

/* Every host that has said it is alive or was drained, by name. */
int store_hosts(struct store *s, struct host_rec **out, size_t *n);
void hosts_free(struct host_rec *v, size_t n);

#endif
