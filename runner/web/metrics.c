/*
 * The web page's /metrics: the queue, the jobs, the deployments and the
 * notifications, with their histograms, in Prometheus's text format.
 */
#include "web_int.h"
#include "admin.h"
#include "chunks.h"
#include "config.h"
#include "home.h"
#include "jobs.h"
#include "page.h"
#include "state.h"
#include "util.h"
#include "view.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
/* ---- metrics ---- */

static void metric_head(struct sbuf *sb, const char *name, const char *type,
    const char *help)
{
	sbuf_addf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label(struct sbuf *sb, const char *key, const char *v, int first)
{
	sbuf_addf(sb, "%s%s=\"", first ? "" : ",", key);
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			sbuf_addch(sb, '\\');
		if (*v == '\n')
			sbuf_adds(sb, "\\n");
		else
			sbuf_addch(sb, *v);
	}
	sbuf_addch(sb, '"');
}

static void histogram(struct sbuf *sb, const char *name, const char *lkey,
    const struct stat_row *v, size_t n)
{
	const int64_t *bounds;
	size_t nb = stats_bounds(&bounds);

	for (size_t i = 0; i < n; i++) {
		char *repo = repo_short_name(v[i].text[0]);
		for (size_t b = 0; b <= nb; b++) {
			sbuf_addf(sb, "%s_bucket{", name);
			label(sb, "repo", repo, 1);
			label(sb, lkey, v[i].text[1], 0);
			if (b < nb)
				sbuf_addf(sb, ",le=\"%g\"} %lld\n",
				    (double)bounds[b] / 1000, (long long)v[i].num[b]);
			else
				sbuf_addf(sb, ",le=\"+Inf\"} %lld\n",
				    (long long)v[i].num[nb]);
		}
		sbuf_addf(sb, "%s_sum{", name);
		label(sb, "repo", repo, 1);
		label(sb, lkey, v[i].text[1], 0);
		sbuf_addf(sb, "} %.3f\n%s_count{", (double)v[i].num[nb + 1] / 1000,
		    name);
		label(sb, "repo", repo, 1);
		label(sb, lkey, v[i].text[1], 0);
		sbuf_addf(sb, "} %lld\n", (long long)v[i].num[nb]);
		free(repo);
	}
}

int web_metrics(struct store *st, struct sbuf *sb)
{
	struct status_view v;
	struct stat_row *rows[4] = { 0 };
	size_t nrows[4] = { 0 };
	int64_t queued = 0, running = 0, spooled = 0;
	int error = 0;

	if (status_view_load(st, W.home, 0, &v) < 0)
		return -1;
	for (int k = 0; k < 4 && error == 0; k++)
		error = store_stats(st, (enum stat_kind)k, &rows[k], &nrows[k]);
	if (error < 0)
		goto out;
	for (size_t i = 0; i < v.n; i++) {
		queued += v.jobs[i]->state == JOB_QUEUED;
		running += v.jobs[i]->state == JOB_RUNNING;
	}
	spooled = (int64_t)(v.spool.waiting + v.spool.held);

	metric_head(sb, "runner_up", "gauge", "Whether the daemon runs.");
	sbuf_addf(sb, "runner_up %d\n", v.pid != 0);
	metric_head(sb, "runner_config_ok", "gauge", "Whether runner.yml "
	    "loads (0: the last good configuration is kept; status says why).");
	sbuf_addf(sb, "runner_config_ok %d\n", !v.config_bad);
	metric_head(sb, "runner_queue_paused", "gauge",
	    "Whether the queue is paused (runner pause).");
	sbuf_addf(sb, "runner_queue_paused %d\n", v.paused != NULL);
	metric_head(sb, "runner_jobs_queued", "gauge", "Jobs in the queue.");
	sbuf_addf(sb, "runner_jobs_queued %lld\n", (long long)queued);
	metric_head(sb, "runner_jobs_running", "gauge", "Jobs running.");
	sbuf_addf(sb, "runner_jobs_running %lld\n", (long long)running);
	metric_head(sb, "runner_jobs", "gauge",
	    "Jobs in the store by kind and state (retention removes old ones).");
	for (size_t i = 0; i < nrows[STAT_JOBS]; i++) {
		sbuf_adds(sb, "runner_jobs{");
		label(sb, "kind", rows[STAT_JOBS][i].text[0], 1);
		label(sb, "state", rows[STAT_JOBS][i].text[1], 0);
		sbuf_addf(sb, "} %lld\n", (long long)rows[STAT_JOBS][i].num[0]);
	}
	metric_head(sb, "runner_deployments", "gauge",
	    "Ended deployments by repository, environment and outcome.");
	for (size_t i = 0; i < nrows[STAT_DEPLOYS]; i++) {
		char *repo = repo_short_name(rows[STAT_DEPLOYS][i].text[0]);
		sbuf_adds(sb, "runner_deployments{");
		label(sb, "repo", repo, 1);
		label(sb, "environment", rows[STAT_DEPLOYS][i].text[1], 0);
		label(sb, "state", rows[STAT_DEPLOYS][i].text[2], 0);
		sbuf_addf(sb, "} %lld\n", (long long)rows[STAT_DEPLOYS][i].num[0]);
		free(repo);
	}
	metric_head(sb, "runner_job_duration_seconds", "histogram",
	    "How long jobs ran, by repository and kind (build, deploy).");
	histogram(sb, "runner_job_duration_seconds", "kind",
	    rows[STAT_JOB_TIMES], nrows[STAT_JOB_TIMES]);
	metric_head(sb, "runner_stage_duration_seconds", "histogram",
	    "How long the stages of builds ran, by repository and stage.");
	histogram(sb, "runner_stage_duration_seconds", "stage",
	    rows[STAT_STAGE_TIMES], nrows[STAT_STAGE_TIMES]);
	metric_head(sb, "runner_notifications_pending", "gauge",
	    "Notifications not delivered yet.");
	sbuf_addf(sb, "runner_notifications_pending %lld\n",
	    (long long)v.pending);
	metric_head(sb, "runner_notifications_dead", "gauge",
	    "Notifications given up on.");
	sbuf_addf(sb, "runner_notifications_dead %lld\n", (long long)v.dead);
	metric_head(sb, "runner_spooled_pushes", "gauge",
	    "Pushes in the spool not queued yet: waiting for the daemon, or "
	    "held.");
	sbuf_addf(sb, "runner_spooled_pushes %lld\n", (long long)spooled);
	metric_head(sb, "runner_spool_held_pushes", "gauge",
	    "Pushes the daemon cannot queue now (a repository it cannot "
	    "read): runner status says why and the fix.");
	sbuf_addf(sb, "runner_spool_held_pushes %zu\n", v.spool.held);
	metric_head(sb, "runner_spool_held_oldest_seconds", "gauge",
	    "Age of the oldest held push, 0 if none.");
	sbuf_addf(sb, "runner_spool_held_oldest_seconds %lld\n",
	    v.spool.held ? (long long)((now_ms() - v.spool.held_oldest_ms) /
	    1000) : 0LL);
	metric_head(sb, "runner_spool_refused_pushes", "gauge",
	    "Spool entries refused, in spool/refused/ for the operator.");
	sbuf_addf(sb, "runner_spool_refused_pushes %zu\n", v.spool.refused);
	metric_head(sb, "runner_disk_bytes", "gauge",
	    "The home's disk use by kind, as runner gc last measured it.");
	for (char *p = v.disk, *tok; p && (tok = strsep(&p, " "));) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		sbuf_adds(sb, "runner_disk_bytes{");
		label(sb, "kind", tok, 1);
		sbuf_addf(sb, "} %s\n", eq + 1);
	}
	metric_head(sb, "runner_web_live_logs", "gauge",
	    "Live logs (Server-Sent Events) being followed.");
	sbuf_addf(sb, "runner_web_live_logs %d\n", atomic_load(&W.sse_clients));
	metric_head(sb, "runner_web_live_jobs", "gauge",
	    "Job pages followed live (Server-Sent Events).");
	sbuf_addf(sb, "runner_web_live_jobs %d\n", atomic_load(&W.job_streams));
out:
	for (int k = 0; k < 4; k++)
		stats_free(rows[k], nrows[k]);
	status_view_free(&v);
	return error;
}
