/*
 * An environment's commands, each in its sandbox as the environment's
 * user, with the log of the deployment; and the services they leave
 * running, found, kept alive or ended when the release they serve
 * stops.
 */
#include "deploy_int.h"
#include "artifact.h"
#include "config.h"
#include "run.h"
#include "step.h"
#include "envs.h"
#include "util.h"
#include "peer.h"

#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int on_services(void *arg, pid_t init, uint64_t pidns);

/*
 * Run a command of the environment in workspace `ws` for `release`, with
 * the RUNNER_ variables of a deployment. Deploy, backup and restore may
 * leave services running (detached into their own session); checks may
 * not.
 */
int deploy_run_cmd(struct deploy *d, const char *name, const char *script,
    const char *ws, const struct job *release, int64_t timeout_ms,
    int keep_detached, char **err)
{
	char id[32], *prev_dir = NULL;
	const struct env_grant *g = config_env(d->ctx->conf, d->env->name);
	const char *ro[4] = { release->release_dir, NULL, NULL, NULL };
	const char **rw = xcalloc(3 + (g ? g->npaths : 0), sizeof(*rw));
	struct job_step st = {
		.name = name, .what = name, .script = script, .cwd = ws,
		.secrets = d->env->secrets,
		.timeout_ms = timeout_ms, .keep_detached = keep_detached,
		.env_name = d->env->name, .ro = ro, .rw = rw, .user = d->user,
		.isolate = config_isolate(d->ctx->conf, d->job->repo),
		.network = 1,
		.on_services = keep_detached ? on_services : NULL,
		.services_arg = d,
		.preamble = keep_detached && d->ended.len ? d->ended.buf : NULL,
	};
	char *envv[11] = { 0 };
	int n = 0, rc;

	/* its own release (and the one before, for a rollback) read-only;
	 * its state folder and what runner.yml grants it writable */
	rw[0] = d->state_dir;
	rw[1] = d->backup_dir;
	for (size_t i = 0; g && i < g->npaths; i++)
		rw[i + 2] = g->paths[i];

	snprintf(id, sizeof(id), "%lld", (long long)release->id);
	envv[n++] = xasprintf("RUNNER_ENV=%s", d->env->name);
	envv[n++] = xasprintf("RUNNER_RELEASE_DIR=%s", release->release_dir);
	envv[n++] = xasprintf("RUNNER_RELEASE_ID=%s", id);
	envv[n++] = xasprintf("RUNNER_URL=%s", d->env->url ? d->env->url : "");
	envv[n++] = xasprintf("RUNNER_DEPLOY_COMMIT=%s", release->commit);
	if (release->tag)
		envv[n++] = xasprintf("RUNNER_TAG=%s", release->tag);
	if (d->prev && d->prev != release && d->prev->release_dir)
		prev_dir = d->prev->release_dir;
	envv[n++] = xasprintf("RUNNER_PREVIOUS_RELEASE_DIR=%s",
	    prev_dir ? prev_dir : "");
	envv[n++] = xasprintf("RUNNER_STATE_DIR=%s", d->state_dir);
	envv[n++] = xasprintf("RUNNER_BACKUP_DIR=%s", d->backup_dir);
	envv[n++] = xasprintf("RUNNER_RESTORE_DIR=%s", d->restore_dir ?
	    d->restore_dir : "");
	/* the release before (a rollback's) and the backup to restore,
	 * read-only */
	int nro = 1;
	if (prev_dir)
		ro[nro++] = prev_dir;
	if (d->restore_dir)
		ro[nro++] = d->restore_dir;
	st.env = envv;
	rc = job_step(d->ctx, d->job, &st, err);
	if (keep_detached)
		sbuf_reset(&d->ended);
	for (int i = 0; i < n; i++)
		free(envv[i]);
	free(rw);
	return rc;
}

int deploy_command(struct deploy *d, const char *name, const char *script,
    const char *ws, const struct job *release, char **err)
{
	return deploy_run_cmd(d, name, script, ws, release, d->env->timeout_ms, 1, err);
}

/* A command's pid namespace is up: record its init, whose end ends all
 * the command leaves running in it. */
static int on_services(void *arg, pid_t init, uint64_t pidns)
{
	struct deploy *d = arg;
	struct service svc = { .host = d->host, .pid = init, .pidns = pidns,
	    .job = d->job->id };

	if (proc_started(init, &svc.started) < 0)
		return 0;	/* gone already: nothing stays */
	return store_service_add(d->ctx->store, d->job->repo, d->job->env, &svc);
}

/* Is recorded service `svc` still the process it was? */
int deploy_service_alive(const struct service *svc)
{
	int64_t started;
	uint64_t ns;

	return proc_started((pid_t)svc->pid, &started) == 0 &&
	    started == svc->started && (proc_pidns((pid_t)svc->pid, &ns) < 0 ||
	    ns == svc->pidns);
}

/* How long the end of a service's namespace is waited for. */
#define SERVICE_END_MS 10000

/* End service `svc`: SIGKILL its namespace's init, which takes all in
 * the namespace with it, and wait for it. 0 (ended, or gone), or -1 with
 * why. */
static int service_end(const struct service *svc)
{
	int fd = pidfd_open((pid_t)svc->pid, 0), rc = 0;

	if (fd < 0)
		return 0;
	/* the pidfd holds this process: checked after it is opened, the
	 * signal cannot reach a later one with its pid */
	if (!deploy_service_alive(svc)) {
		close(fd);
		return 0;
	}
	if (pidfd_send_signal(fd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
		rc = error_set(-1, "cannot end pid %lld: %s",
		    (long long)svc->pid, strerror(errno));
	else {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t until = mono_ms() + SERVICE_END_MS;
		int n;
		while ((n = poll(&p, 1, (int)(until - mono_ms()))) < 0 &&
		    errno == EINTR && mono_ms() < until)
			;
		if (n <= 0)
			rc = error_set(-1, "pid %lld did not end within %ds",
			    (long long)svc->pid, SERVICE_END_MS / 1000);
	}
	close(fd);
	return rc;
}

/*
 * End what the environment's earlier commands left running on this
 * host, before its next deploy command: nothing a deployment started
 * outlives the one that replaces it. What runs on another host is left
 * to that host's next deployment. Said in d->ended, for the log of the
 * command that follows. Returns 0, or a negative code when the store
 * failed; *why (caller frees) says which service could not be ended.
 */
int deploy_end_services(struct deploy *d, char **why)
{
	struct service *v = NULL;
	size_t n = 0;
	int rc;

	*why = NULL;
	if ((rc = store_services(d->ctx->store, d->job->repo, d->job->env, &v,
	    &n)) < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (strcmp(v[i].host, d->host))
			continue;
		int alive = deploy_service_alive(&v[i]);
		if (alive && service_end(&v[i]) < 0) {
			*why = xasprintf("cannot end the services deployment "
			    "#%lld left running: %s", (long long)v[i].job,
			    error_last());
			break;
		}
		if (alive)
			sbuf_addf(&d->ended, "[runner: ended the services "
			    "deployment #%lld left running (pid %lld and all in "
			    "its namespace)]\n", (long long)v[i].job,
			    (long long)v[i].pid);
		rc = store_service_del(d->ctx->store, d->job->repo, d->job->env,
		    &v[i]);
	}
	services_free(v, n);
	return rc;
}
