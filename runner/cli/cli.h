/*
 * What the subcommands share: the command table, finding the home, usage
 * and error reporting, and presenting jobs to people.
 */
#ifndef RUNNER_CLI_H
#define RUNNER_CLI_H

#include <stdint.h>
#include <stdio.h>

struct job;
struct sbuf;
struct store;

/* A subcommand: its name, the function that runs it, a line of help. */
struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};



/*
 * Run command argv[0] of runner-worker with these arguments, in its
 * place (exec); returns only when it cannot, with EXIT_FAIL and a message.
 */
int cmd_worker(int argc, char **argv);
/* The same with runner-web (the web page). */
int cmd_web(int argc, char **argv);

extern const struct command commands[];

/* Exit codes, documented in `runner --help`. */
#define EXIT_OK      0
#define EXIT_FAIL    1
#define EXIT_USAGE   2

int cmd_init(int argc, char **argv);
int cmd_install_hook(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_retry(int argc, char **argv);
int cmd_artifacts(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_releases(int argc, char **argv);
int cmd_pre_receive(int argc, char **argv);
int cmd_notify(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_drain(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_verify(int argc, char **argv);
/* runner-worker's command that makes the home's provenance key (init) */
#define PROVENANCE_KEY_COMMAND "provenance-key"

/*
 * A command's options as a table (git's parse-options is the model): the
 * parser, the checks of each value and the options part of --help all
 * come from it. --home and --help are every command's.
 */
enum opt_type { OPT_END_, OPT_BOOL_, OPT_STRING_, OPT_INT_, OPT_JOB_ };
struct opt {
	enum opt_type type;
	int short_name;		/* 0: none */
	const char *long_name;
	void *value;		/* int * (BOOL, INT), const char ** (STRING),
				   int64_t * (JOB) */
	const char *arg;	/* what the value is called in --help */
	const char *help;
	long min, max;		/* INT: the range allowed */
};
#define OPT_BOOL(s, l, v, h) { OPT_BOOL_, s, l, v, NULL, h, 0, 0 }
#define OPT_STRING(s, l, v, a, h) { OPT_STRING_, s, l, v, a, h, 0, 0 }
#define OPT_INT(s, l, v, a, h, lo, hi) { OPT_INT_, s, l, v, a, h, lo, hi }
#define OPT_JOB(s, l, v, a, h) { OPT_JOB_, s, l, v, a, h, 0, 0 }
#define OPT_END() { OPT_END_, 0, NULL, NULL, NULL, NULL, 0, 0 }

/*
 * Parse argv by `opts` (NULL: none but the common ones), up to the first
 * operand. Returns -1 when the command should go on (its operands start at
 * argv[optind]), else the exit code to return (--help printed, or a usage
 * error reported).
 */
int cli_parse(int argc, char **argv, const char *usage,
    const struct opt *opts, const char **home_opt);

/*
 * Who runs the command: the real uid's user name (else the number); for
 * root, the user sudo was run by (SUDO_USER) if that user exists. Caller
 * frees.
 */
char *cli_user_name(void);

/* A command's home and open store; cli_close() releases both. */
struct cli_session {
	char *home;
	struct store *store;
	/* runner.yml, read once by cli_open (NULL when it does not load:
	 * conf_error says why) and what cli_session_config says of it */
	struct config *conf;
	char *conf_error, *conf_why;
};
/* Resolve the home, read runner.yml and open the store it names (errors
 * are printed). */
int cli_open(const char *home_opt, struct cli_session *out);
/* cli_config of the session's runner.yml, handed over to *out (the
 * caller frees it), without reading it again. */
int cli_session_config(struct cli_session *s, int quiet,
    struct config **out);
void cli_close(struct cli_session *s);
/* The one JOB operand at argv[optind]; prints and returns EXIT_USAGE if
 * it is missing or not a job number, else 0. */
int cli_job_operand(int argc, char **argv, const char *usage, int64_t *id);


/* --home, else $RUNNER_HOME, else ~/.runner. Caller frees. */
char *cli_home(const char *opt);
/* Print "runner: MSG" to stderr; returns EXIT_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print usage to stderr; returns EXIT_USAGE. */
int cli_usage(const char *usage);
/*
 * The configuration of `home` (config_load_kept): while runner.yml has a
 * mistake, the one the daemon keeps, the mistake printed as a warning
 * unless `quiet`. Fails (message in error_last()) only when there is none.
 */
struct config;
int cli_config(const char *home, int quiet, struct config **out);
/* Parse a job id argument ("12" or "#12"); -1 if it is not one. */
int64_t cli_job_id(const char *arg);

/*
 * The repository a user names with --repo: its name as status shows it,
 * its path, or a path suffix only it has (repos.h repo_names_find). *out
 * is its path (caller frees). Errors are printed: an unknown name lists
 * the known ones, one that could mean several is refused.
 */
int cli_find_repo(struct store *s, const char *arg, char **out);
/*
 * The environment `name` of repository `repo` (as cli_find_repo() takes
 * it; or of the only repository that has one by that name). Errors are
 * printed.
 */
struct env_rec;
int cli_find_env(struct store *s, const char *repo, const char *name,
    struct env_rec **out);

/*
 * How a command on one JOB starts (cancel, retry): no option but --home,
 * the JOB operand into *id, the store opened into `cs`. -1 when the
 * command goes on; else the exit code to return now (--help, usage, a
 * store that cannot be opened: said). cli_close(cs) either way.
 */
int cli_start_job(int argc, char **argv, const char *usage, int64_t *id,
    struct cli_session *cs);
/*
 * How a command on one ENV operand starts (releases, rollback): `opts`
 * parsed (one of them sets *repo, --repo), the store opened into `cs`,
 * the environment found into *e. -1 when the command goes on; else the
 * exit code to return now, as cli_start_job().
 */
int cli_start_env(int argc, char **argv, const char *usage,
    const struct opt *opts, const char *const *repo, struct cli_session *cs,
    struct env_rec **e);

/* A whole number in [min, max] from an option argument. */
int cli_number(const char *arg, long min, long max, long *out);

/* One line about a notification, for status and show. */
struct notification;
void cli_notification_line(struct sbuf *sb, const struct notification *x,
    int tty);

/* Colour for a state, on a terminal only. */
const char *cli_color(const char *state, int tty);
#define COLOR_RESET "\033[0m"

#endif
