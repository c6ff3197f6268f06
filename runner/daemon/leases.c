/*
 * Leases: this host's heartbeat, every third of the lease, and the jobs
 * taken back whose lease ended or whose worker died, nothing of their
 * stages left running.
 */
#include "daemon_int.h"
#include "admin.h"
#include "config.h"
#include "home.h"
#include "run.h"
#include "hosts.h"
#include "jobs.h"
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

/* Make sure nothing of the stages of jobs being recovered is left. */
void sup_recover(struct sup *s, pid_t worker)
{
	struct store *st = sup_store(s);
	pid_t *pgids;
	size_t n;

	if (!st)
		return;
	char *host = config_host_name(s->conf);
	int rc = store_recover(st, worker, host, &pgids, &n);

	/* a full disk: the store's reserve was released for this */
	if (rc == ERR_NOSPACE)
		rc = store_recover(st, worker, host, &pgids, &n);
	free(host);
	if (rc < 0) {
		log_line("warning: cannot recover jobs: %s", error_last());
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (pgids[i] > 1 && kill(-pgids[i], SIGKILL) == 0)
			log_line("killed leftover process group %d", (int)pgids[i]);
	free(pgids);
}


/*
 * Every third of the lease: this host says it is alive (status shows it,
 * and the store counts its workers in the shares of a claim), and jobs
 * whose lease ended, on any host, are taken back. The stages of this
 * host's (a worker frozen with its stage) are killed first: nothing of
 * the lost attempt may run beside the next.
 *
 * On SQLite every job is this host's, held by a worker alive: with none
 * alive there is nothing to take back, and the beats stop (beat_at 0),
 * so that an idle daemon writes nothing; the next worker started beats
 * first (spawn).
 */
void sup_host_beat(struct sup *s)
{
	struct store *st = sup_store(s);
	char *host = config_host_name(s->conf);
	char *labels = config_host_labels(s->conf);
	struct expired *x = NULL;
	pid_t *pgids = NULL;
	size_t nx = 0, np = 0;

	s->lease.beat_at = mono_ms() + s->conf->host.lease_ms / 3;
	if (!st)
		goto out;
	if (store_host_beat(st, host, labels, s->pool.nworkers, s->started_ms) < 0)
		log_line("warning: cannot record this host's heartbeat: %s",
		    error_last());
	if (store_leases_expire(st, 0, host, &x, &nx, &pgids,
	    &np) < 0) {
		log_line("warning: cannot take back jobs whose lease ended: %s",
		    error_last());
		goto out;
	}
	for (size_t i = 0; i < np; i++)
		if (pgids[i] > 1 && kill(-pgids[i], SIGKILL) == 0)
			log_line("killed process group %d of a job whose lease "
			    "ended", (int)pgids[i]);
	for (size_t i = 0; i < nx; i++)
		log_line("job #%lld: the lease of host '%s' ended without a "
		    "heartbeat: %s", (long long)x[i].id, x[i].host ? x[i].host :
		    "?", x[i].deploy ? "the deployment is interrupted, not "
		    "re-run" : "back in the queue, to run again");
	if (nx)
		sup_wake_workers(s);
out:
	expired_free(x, nx);
	free(pgids);
	free(labels);
	free(host);
}
