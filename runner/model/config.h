/*
 * The runner's own configuration, `runner.yml` under its home: workers,
 * timeouts, which branches of which repositories trigger a job. Trust and
 * server settings live here, never in a repository being built.
 */
#ifndef RUNNER_CONFIG_H
#define RUNNER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "run.h"

struct sbuf;

#define CONFIG_FILE "runner.yml"
#define DEFAULT_BRANCHES "^develop$"

#define DEFAULT_PROCESSES 4096
#define DEFAULT_LOG_CAP (64LL * 1024 * 1024)

#define DEFAULT_RELEASE_TAGS "^v\\d+\\.\\d+\\.\\d+$"

struct repo_conf {
	char *path;		/* absolute path of the bare repository */
	char *branches;		/* pcre2 pattern on the branch name */
	char *release_tags;	/* pcre2 pattern on the tag name */
	char *allowed_signers;	/* ssh-keygen -Y allowed signers file */
	char *gpg_keyring;	/* OpenPGP public keys */
	char **auto_deploy;	/* environments a passed build deploys to */
	char **auto_deploy_branches;	/* and for each, a pcre2 pattern on
					 * the branches whose builds it takes */
	size_t nauto_deploy;
	int require_staging;	/* production only after a healthy staging */
	int release_variables;	/* a release may deploy a build that had
				 * push variables */
	int64_t max_running;	/* builds at once; 0: runner.yml's */
	int notes;		/* results as git notes (refs/notes/runner) */
	int isolate;		/* -1: the server's default; 0 or 1 */
	int network;		/* -1: the server's default; 0 or 1 */
	char **variables;	/* pcre2 patterns on the whole name of a
				 * variable a push may set; none: no push
				 * variable */
	size_t nvariables;
	size_t line;
};

/*
 * A secret and where it may be used: commands of these environments only
 * (build stages never, when the list is given), refs matching `refs` and
 * repositories matching `repos` (pcre2; NULL: any).
 */
struct secret {
	char *name;
	char *value;
	char *file;		/* where the value was read from, or NULL */
	char **envs;
	size_t nenvs;
	char *refs;
	char *repos;
};

/*
 * What runner.yml grants the commands (deploy, backup, restore, run
 * checks) of an environment: the user they run as and paths they may
 * write, besides the environment's own state folder.
 */
struct env_grant {
	char *name;
	char *user;		/* NULL: build_user */
	char **paths;		/* writable inside the sandbox */
	size_t npaths;
	int signed_tag;		/* requires: signed-tag (server side) */
	char **runs_on;		/* labels the host of its deployments needs */
	size_t nruns_on;
	char **check_hosts;	/* HOST:PORT its http checks may reach
				 * besides its url's */
	char *url;		/* its url, pinned: checks reach only its
				 * host and port, whatever the pipeline says */
	size_t ncheck_hosts;
	char **serve_users;	/* whose listeners on its url's port count
				 * as its own (a proxy in front of it) */
	size_t nserve_users;
	/* where the verification window measures its resources (usage.c):
	 * a cgroup v2 folder under /sys/fs/cgroup (`unit` is the one of a
	 * system unit), or a Prometheus endpoint and its two series */
	char *cgroup;
	char *unit;
	char *metrics_url;
	char *metrics_cpu;	/* a counter of CPU seconds */
	char *metrics_memory;	/* a gauge of bytes */
	int64_t approvals;	/* distinct trusted keys a release tag needs,
				 * its own signer's included (0: 1) */
	size_t line;
};

#define DEFAULT_BUILD_USER "runner-build"
#define DEFAULT_RELEASE_USER "runner-release"

/* Where notifications go (the `notify:` list). */
enum notify_service {
	NOTIFY_SLACK, NOTIFY_PAGERDUTY, NOTIFY_EMAIL, NOTIFY_WEBHOOK
};

/* Event kinds, for matching a target's `on` list. */
#define NOTIFY_EVENTS "job_passed job_failed job_fixed job_error deployed " \
	"deploy_failed production_failed rolled_back rejected approval_needed"

struct notify_target {
	char *name;
	enum notify_service service;
	int has_service;	/* (while reading) a service was named */
	char *url;		/* webhook, Slack, PagerDuty or smtp:// URL */
	char *secret;		/* webhook HMAC key, PagerDuty routing key */
	char *username, *password;	/* SMTP login, if any */
	int starttls_optional;	/* send a login without STARTTLS too */
	char *from;		/* e-mail */
	char **to;
	size_t nto;
	char **on;		/* event kinds, or "all" */
	size_t non;
	char *repos;		/* pcre2 on the repository's name, or NULL */
	int64_t retries;	/* attempts after the first */
	int64_t backoff_ms;	/* first wait; doubles per retry */
	size_t line;
};

/* retention: deployments: {ENV: N}: one environment's count. */
struct env_count {
	char *env;
	int64_t n;
};

/* runner.yml retention: what `runner gc` keeps (0 ms: no age limit). */
struct retention {
	int64_t builds;			/* ended builds per repo and branch */
	int64_t build_age_ms;
	int64_t logs_ms;
	int64_t artifacts_ms;
	int64_t workspaces_ms;
	int64_t releases;		/* release folders per environment */
	int64_t interval_ms;		/* the daemon's; 0: never */
	/* deployment records per repository and environment: `deployments`
	 * for every environment, or those of `deployments_of` for the
	 * environments named there; 0: all kept */
	int64_t deployments;
	struct env_count *deployments_of;
	size_t ndeployments_of;
};

/* Is `s` a name a stage or an environment may have: a-z, 0-9, '_' and
 * '-', at most 64? */
int config_name_valid(const char *s);

/* How many deployment records of environment `env` retention keeps
 * (besides those that always stay); 0: all of them. */
int64_t retention_deployments(const struct retention *r, const char *env);

/* runner.yml schedules: builds of a branch's head at set times. */
#include "cron.h"
struct schedule {
	char *name, *repo, *branch, *cron;
	struct cron when;	/* `cron`, parsed */
	int skip_built;		/* none when the head already has a build */
	size_t line;
};

/* runner.yml http: operators: who may act on the web page (one entry:
 * these people may do these actions, on these environments). */
struct web_operator {
	char **who;		/* user names, or @group for a unix group */
	size_t nwho;
	char **may;		/* words of WEB_ACTIONS */
	size_t nmay;
	char **envs;		/* environments of deploy, rollback and of
				 * deployments' retry and cancel */
	size_t nenvs;
	size_t line;
};
/* What an operator may be allowed, the words of `may`. */
#define WEB_ACTIONS "retry cancel run deploy rollback pause resume"

/* runner.yml http: the web page. */
struct http_conf {
	char *listen;			/* HOST:PORT; NULL: no web page */
	char *base_url;			/* for links in notifications */
	/* a commit in the team's git web view: {repo} and {commit} in
	 * its path; NULL: commits are not linked */
	char *commit_url;
	/* http: auth: the reverse proxy that authenticates people; no
	 * proxy_user: no actions, the page is read-only */
	struct http_auth {
		char *header;		/* the user's name, as the proxy sets it */
		char *proxy_user;	/* whose connections carry it */
	} auth;
	struct web_operator *operators;
	size_t noperators;
};

/* Where a host that does not share the git server's files fetches the
 * repositories under `path`: `url` and the rest of the path. */
struct host_source {
	char *path;
	char *url;
	size_t line;
};

/* This machine as a build host (hosts.h). */
struct host_conf {
	char *name;			/* NULL: the machine's host name */
	char **labels;			/* what it offers: linux, arm64... */
	size_t nlabels;
	int64_t lease_ms;		/* a claim without a heartbeat ends */
	int builds;			/* 0: deployments only */
	struct host_source *sources;	/* none: it sees the repositories */
	size_t nsources;
};

/* runner.yml disk, and a pipeline's: what one job may take of the home's
 * disk, in bytes (a pipeline's 0: runner.yml's). */
struct disk_limits {
	int64_t workspace;	/* its workspace, measured while stages run */
	int64_t logs;		/* all its logs together */
	int64_t artifacts;	/* its artifact archive */
};

struct config {
	char *store;			/* a postgresql:// URL; NULL: SQLite */
	int64_t workers;		/* 0: the number of cores */
	int64_t max_running;		/* builds of one repository at once;
					 * 0: all workers but one */
	int64_t max_timeout_ms;		/* no stage runs longer */
	int keep_workspaces;
	int supersede;
	int64_t default_timeout_ms;
	int64_t kill_grace_ms;		/* SIGTERM to SIGKILL for a stage */
	int64_t shutdown_grace_ms;	/* how long SIGTERM lets stages run */
	int64_t idle_exit_ms;		/* a worker with nothing to do leaves */
	int64_t wait_timeout_ms;	/* git push -o ci.wait follows this long */
	char *path_env;			/* PATH given to stages */
	struct run_limits limits;	/* of every stage that sets none */
	int64_t log_cap;		/* bytes of one stage's log kept */
	struct disk_limits disk;	/* of one job */
	struct retention retention;
	struct http_conf http;
	struct host_conf host;
	struct schedule *schedules;
	size_t nschedules;
	int isolate;			/* repository code under bubblewrap */
	int network;			/* and with the network */
	char *build_user;		/* who runs repository code (as root) */
	char *release_user;		/* and the commands of environments
					 * that need a signed tag */
	int trust_repositories;		/* run it as the runner's user */
	struct env_grant *envs;
	size_t nenvs;
	struct repo_conf *repos;
	size_t nrepos;
	struct secret *secrets;
	size_t nsecrets;
	struct notify_target *notify;
	size_t nnotify;
};

/* The copy of the runner.yml the daemon last loaded, beside it. */
#define CONFIG_KEPT_FILE "runner.yml.last-good"
/* The largest runner.yml read. */
#define CONFIG_MAX (1024 * 1024)

/*
 * Load HOME/runner.yml; a missing file gives the defaults. Messages name
 * the file, line and field. The caller frees *out with config_free().
 */
int config_load(const char *home, struct config **out);
/*
 * config_load() and config_check_files(), for the daemon (at its start
 * and on SIGHUP): what it loaded is kept as HOME/CONFIG_KEPT_FILE, the
 * configuration everything else falls back on while runner.yml has a
 * mistake. 1: loaded, but the copy could not be written (error_last()
 * says why).
 */
int config_load_keep(const char *home, struct config **out);
/*
 * Would the daemon take runner.yml `path` (runner check --config)? The
 * checks of config_load_keep(), the same messages; a missing file is an
 * error here. The caller frees *out.
 */
int config_check_file(const char *path, struct config **out);
/*
 * config_load(), or, when runner.yml has a mistake, the configuration the
 * daemon last loaded, with *warning (the caller frees it) naming the
 * mistake by file, line and column. Fails as config_load() does only when
 * no copy was kept. For every reader but `runner check --config`: a bad
 * runner.yml never stops the service.
 */
int config_load_kept(const char *home, struct config **out, char **warning);
int config_parse(const char *file, const char *buf, size_t len,
    struct config **out);
void config_free(struct config *c);
/*
 * The store runner.yml names (its `store:`): a postgresql:// URL in *url
 * (the caller frees it), or NULL for the SQLite file in the home. Reads
 * only that key, so that a mistake elsewhere in the file does not keep
 * the store shut. For a process that does not load runner.yml otherwise
 * (the CLI when the file does not load, the tests): whoever loaded it
 * passes its `store` to store_open.
 */
int config_store_url(const char *home, char **url);
/* Is `v` a URL the store can be given? */
int config_store_url_valid(const char *v);
/* The files runner.yml `file` names (signers, keyrings) can be read:
 * else an error naming the file, line and key, so that the daemon does
 * not start to fail at the first release. */
int config_check_files(const char *file, const struct config *c);
/* The settings of `repo_path`: its own, or the defaults (never NULL). */
const struct repo_conf *config_repo(const struct config *c,
    const char *repo_path);
/* Does a passed build of `ref` deploy itself to environment `i` of
 * rc->auto_deploy? Only a branch that the environment's pattern matches
 * (the list form: DEFAULT_BRANCHES); never a tag. */
int config_auto_deploys(const struct repo_conf *rc, size_t i,
    const char *ref);
/* Does `rc`'s `branches` build branch `name`? */
int config_builds_branch(const struct repo_conf *rc, const char *name);
/*
 * May a push (git push -o ci.variable=) or `runner run --var` give the
 * builds of `repo` variable `name`? Only where `repo`'s entry lists it
 * under `variables`, and never a name of envvar_reserved(). 1 yes; 0 no,
 * and *why (the caller frees it) says why and what to do.
 */
int config_variable_allowed(const struct config *c, const char *repo,
    const char *name, char **why);
/*
 * The NAME=VALUE lines of `vars` that config_variable_allowed() lets
 * through, each with its newline, added to `kept`; for each other one a
 * line "variable 'NAME' refused: WHY" added to `refused`. Returns how many
 * were refused.
 */
size_t config_variables_filter(const struct config *c, const char *repo,
    const char *vars, struct sbuf *kept, struct sbuf *refused);
/* The value of secret `name`, or NULL. */
const char *config_secret(const struct config *c, const char *name);
/* Secret `name` with its scope, or NULL. */
const struct secret *config_secret_def(const struct config *c,
    const char *name);
/*
 * May secret `s` be given to a command of environment `env` (NULL: a
 * build stage) of a job on `ref` of `repo`? 1 yes, 0 no (then *why, which
 * the caller frees, names the scope).
 */
int secret_allowed(const struct secret *s, const char *env, const char *ref,
    const char *repo, char **why);
/* The grants of environment `name`, or NULL. */
const struct env_grant *config_env(const struct config *c, const char *name);
/* Does the server require a signed release tag for environment `name`?
 * (Always for production, and where runner.yml says so.) */
int config_env_signed(const struct config *c, const char *name);
/* Is repository code of `repo` confined, and does it keep the network? */
int config_isolate(const struct config *c, const char *repo);
/* With trust_repositories: how repository code runs, for the warnings
 * of serve, status and doctor ("as the daemon's own user, under
 * bubblewrap ..."). A constant string. */
const char *config_trust_how(const struct config *c);
int config_network(const struct config *c, const char *repo);
/* Worker processes: runner.yml's workers, else the number of cores. */
int config_workers(const struct config *c);
/* Is `name` the user of one of the build user's workers (build_user-N)? */
int config_worker_user(const struct config *c, const char *name);
/* Files of the runner's that repository code must not see: secret files,
 * signers, keyrings. NULL-terminated; the caller frees the array only. */
const char **config_private_files(const struct config *c);
/* This host's name (runner.yml's, else the machine's) and its labels
 * joined by commas; the caller frees them. */
char *config_host_name(const struct config *c);
char *config_host_labels(const struct config *c);
/*
 * May `user` (a name the proxy of http: auth authenticated) do `action`
 * (a word of WEB_ACTIONS) from the web page, on environment `env` (NULL:
 * a build, or the queue)? As an entry of http: operators names the user
 * (or a unix group the user is in) with the action and, for an
 * environment, the environment. An environment that requires a signed
 * tag (production) is changed from the page by rollback only. 1 yes, 0
 * no.
 */
int config_web_may(const struct config *c, const char *user,
    const char *action, const char *env);
/* The notification target called `name`, or NULL. */
const struct notify_target *config_notify(const struct config *c,
    const char *name);
/* The service's name: "slack", "pagerduty", "email" or "webhook". */
const char *notify_service_name(enum notify_service s);
/* The commented file `runner init` writes, made from the schema's
 * samples (schema_sample), into `out`. */
void config_sample(struct sbuf *out);

/* The schemas of runner.yml and of a stage's `limits` (schema.h). */
struct schema;
extern const struct schema config_schema, stage_limits_schema;
/* A pipeline's `disk` (narrowing runner.yml's). */
extern const struct schema pipeline_disk_schema;

#endif
