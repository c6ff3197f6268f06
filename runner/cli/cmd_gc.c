/*
 * runner gc: remove what runner.yml's retention lets go, and say what it
 * freed. The daemon runs it every retention 'interval'.
 */
#include "retention.h"
#include "cli.h"
#include "config.h"
#include "sources.h"
#include "jobs.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner gc [--home DIR] [--dry-run] [--verbose] [--quiet]\n"
    "\n"
    "Remove what runner.yml's 'retention' lets go: builds beyond the\n"
    "newest 'builds' of their branch or older than 'build_age' (record,\n"
    "logs, artifact, workspace), deployments beyond the newest\n"
    "'deployments' of their environment (record, logs, release folder,\n"
    "backup; all are kept unless it is set), logs and artifacts past\n"
    "their age, kept workspaces, and release folders (with their backups)\n"
    "beyond the newest 'releases' of each environment; then give the\n"
    "store's freed pages back. Never removed: queued or running jobs,\n"
    "an environment's current, previous and latest deployment, those a\n"
    "kept deployment rolled back to, deployments of release tags, the\n"
    "builds kept deployments came from and the artifacts of kept\n"
    "releases, jobs with notifications not yet delivered. On a host that\n"
    "fetches its sources (runner.yml host: sources), the cache of a\n"
    "repository no entry covers any more, or of which the store keeps no\n"
    "job, is removed, and git collects the others (git gc --prune=now).\n"
    "Prints what it freed, by kind, and keeps the home's disk use for\n"
    "'runner status'.\n"
    "Safe while the daemon runs; the daemon runs it every retention\n"
    "'interval' (default 1h).\n";

/* A cache of sources is needed while the store keeps a job of its
 * repository (a retry, a deployment of it checks out from it). */
static int repo_in_use(const char *repo, void *arg)
{
	struct job **v = NULL;
	size_t n = 0;
	int rc = store_jobs_of(arg, repo, NULL, 0, 1, &v, &n);

	jobs_free(v, n);
	return rc < 0 ? rc : n > 0;
}

int cmd_gc(int argc, char **argv)
{
	const char *home_opt = NULL;
	struct cli_session cs = { 0 };
	struct config *conf = NULL;
	struct gc_report rep;
	struct sbuf sb = SBUF_INIT;
	int dry = 0, verbose = 0, quiet = 0, rc;
	int64_t total = 0;

	const struct opt opts[] = {
		OPT_BOOL('n', "dry-run", &dry, "say what would be removed, "
		    "remove nothing"),
		OPT_BOOL('v', "verbose", &verbose, "name every file and "
		    "folder removed"),
		OPT_BOOL('q', "quiet", &quiet, "one log line, and only when "
		    "something was freed (the daemon's)"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
		return rc;
	if (optind != argc)
		return cli_usage(usage);
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	/* --quiet: the daemon's own run, whose log said the mistake. A
	 * fetching host's caches first: the disk use measured after */
	memset(&rep, 0, sizeof(rep));
	if (cli_session_config(&cs, quiet, &conf) < 0 ||
	    source_cache_gc(&conf->host, cs.home, repo_in_use, cs.store, dry,
	    verbose ? stdout : NULL, &rep.count[GC_SOURCES],
	    &rep.bytes[GC_SOURCES]) < 0 ||
	    retention_run(cs.store, cs.home, &conf->retention, dry,
	    verbose ? stdout : NULL, &rep) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	for (int k = 0; k < GC_KINDS; k++)
		total += rep.bytes[k];
	rc = EXIT_OK;
	if (quiet) {
		if (!total && !rep.count[GC_BUILDS] && !rep.count[GC_DEPLOYS])
			goto out;
		const char *sep = " (";
		format_bytes(&sb, total);
		for (int k = 0; k < GC_STORE; k++)
			if (rep.count[k]) {
				sbuf_addf(&sb, "%s%lld %s", sep,
				    (long long)rep.count[k], gc_kind_name(k));
				sep = ", ";
			}
		log_line("collected: freed %s%s", sb.buf, *sep == ',' ? ")" : "");
		goto out;
	}
	for (int k = 0; k < GC_KINDS; k++) {
		static const char *const what[GC_KINDS] = {
			"records", "records", "folders", "files", "folders",
			"folders", "folders", "caches", "",
		};
		if (k == GC_STORE && !rep.count[k])
			continue;
		/* a host that fetches nothing has no caches to speak of */
		if (k == GC_SOURCES && !rep.count[k] && !rep.bytes[k] &&
		    !conf->host.nsources)
			continue;
		sbuf_reset(&sb);
		if (k != GC_BUILDS && k != GC_DEPLOYS)
			format_bytes(&sb, rep.bytes[k]);
		if (k == GC_STORE)
			printf("%-11s %15s %10s\n", gc_kind_name(k), "", sb.buf);
		else
			printf("%-11s %6lld %-8s %10s\n", gc_kind_name(k),
			    (long long)rep.count[k], what[k], sb.buf);
	}
	sbuf_reset(&sb);
	format_bytes(&sb, total);
	printf("%s %s\n", dry ? "would free" : "freed", sb.buf);
out:
	sbuf_release(&sb);
	config_free(conf);
	cli_close(&cs);
	return rc;
}
