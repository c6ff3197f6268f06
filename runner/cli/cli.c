/*
 * Helpers of the command files. Output to people goes through
 * sbuf_add_display, so text from pushes cannot drive the terminal.
 */
#include "cli.h"
#include "config.h"
#include "store.h"
#include "envs.h"
#include "repos.h"
#include "outbox.h"
#include "util.h"
#include "run.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_config(const char *home, int quiet, struct config **out)
{
	char *why = NULL;
	int error = config_load_kept(home, out, &why);

	if (why && !quiet)
		fprintf(stderr, "runner: warning: %s\n", why);
	free(why);
	return error;
}

char *cli_home(const char *opt)
{
	const char *env = getenv("RUNNER_HOME");
	const char *h;

	if (opt && *opt)
		return xstrdup(opt);
	if (env && *env)
		return xstrdup(env);
	h = getenv("HOME");
	if (!h || !*h) {
		const struct passwd *pw = getpwuid(getuid());
		h = pw ? pw->pw_dir : "/";
	}
	return xasprintf("%s/.runner", h);
}

int cli_error(const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;

	sbuf_adds(&sb, "runner: ");
	va_start(ap, fmt);
	sbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	sbuf_addch(&sb, '\n');
	fputs(sb.buf, stderr);
	sbuf_release(&sb);
	return EXIT_FAIL;
}

int cli_usage(const char *usage)
{
	fputs(usage, stderr);
	return EXIT_USAGE;
}

int64_t cli_job_id(const char *arg)
{
	char *end;
	long long v;

	if (*arg == '#')
		arg++;
	if (*arg < '0' || *arg > '9')
		return -1;
	errno = 0;
	v = strtoll(arg, &end, 10);
	/* exactly: 99999999999999999999 is no job, not the largest one */
	return *end || v <= 0 || errno == ERANGE ? -1 : v;
}

const char *cli_color(const char *state, int tty)
{
	if (!tty)
		return "";
	if (!strcmp(state, "passed") || !strcmp(state, "healthy"))
		return "\033[32m";
	if (!strcmp(state, "failed") || !strcmp(state, "error") ||
	    !strcmp(state, "timed_out"))
		return "\033[31m";
	if (!strcmp(state, "running"))
		return "\033[33m";
	return "\033[2m";
}

/* The options every command takes, after its own. */
static const struct opt common[] = {
	OPT_STRING(0, "home", NULL, "DIR", "the runner's home (default "
	    "$RUNNER_HOME, else ~/.runner)"),
	OPT_BOOL('h', "help", NULL, "show this help"),
	OPT_END(),
};

static void opt_help(struct sbuf *sb, const struct opt *o)
{
	size_t start = sb->len;

	sbuf_adds(sb, "  ");
	if (o->short_name)
		sbuf_addf(sb, "-%c, ", o->short_name);
	sbuf_addf(sb, "--%s", o->long_name);
	if (o->arg)
		sbuf_addf(sb, " %s", o->arg);
	if (sb->len - start < 24)
		sbuf_addf(sb, "%*s", (int)(24 - (sb->len - start)), "");
	else
		sbuf_addf(sb, "\n%24s", "");
	sbuf_addf(sb, "%s\n", o->help);
}

/* The command's usage text, then its options from the tables. */
static void print_help(const char *usage, const struct opt *opts)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_adds(&sb, usage);
	sbuf_adds(&sb, "\nOptions:\n");
	for (const struct opt *o = opts; o && o->type != OPT_END_; o++)
		opt_help(&sb, o);
	for (const struct opt *o = common; o->type != OPT_END_; o++)
		opt_help(&sb, o);
	fwrite(sb.buf, 1, sb.len, stdout);
	sbuf_release(&sb);
}

/* Take option `o`'s argument into its value; 0 or EXIT_USAGE. */
static int opt_take(const struct opt *o, const char *arg)
{
	long v;
	int64_t id;

	switch (o->type) {
	case OPT_BOOL_:
		*(int *)o->value = 1;
		return 0;
	case OPT_STRING_:
		*(const char **)o->value = arg;
		return 0;
	case OPT_INT_:
		if (cli_number(arg, o->min, o->max, &v) < 0) {
			cli_error("--%s must be a number from %ld to %ld, not '%s'",
			    o->long_name, o->min, o->max, arg);
			return EXIT_USAGE;
		}
		*(int *)o->value = (int)v;
		return 0;
	case OPT_JOB_:
		if ((id = cli_job_id(arg)) < 0) {
			cli_error("--%s takes a job number, not '%s'", o->long_name,
			    arg);
			return EXIT_USAGE;
		}
		*(int64_t *)o->value = id;
		return 0;
	case OPT_END_:
		break;
	}
	return EXIT_USAGE;
}

int cli_parse(int argc, char **argv, const char *usage,
    const struct opt *opts, const char **home_opt)
{
	struct option *all;
	struct sbuf shorts = SBUF_INIT;
	size_t n = 0, k = 0;
	int c, idx, rc = -1;

	while (opts && opts[n].type != OPT_END_)
		n++;
	all = xcalloc(n + 3, sizeof(*all));
	sbuf_adds(&shorts, "h");
	for (size_t i = 0; i < n; i++) {
		const struct opt *o = &opts[i];
		int has_arg = o->type == OPT_BOOL_ ? no_argument :
		    required_argument;
		all[k++] = (struct option){ o->long_name, has_arg, NULL,
		    256 + (int)i };
		if (o->short_name)
			sbuf_addf(&shorts, "%c%s", o->short_name,
			    has_arg == required_argument ? ":" : "");
	}
	all[k++] = (struct option){ "home", required_argument, NULL, 'H' };
	all[k++] = (struct option){ "help", no_argument, NULL, 'h' };
	optind = 1;
	while (rc < 0 && (c = getopt_long(argc, argv, shorts.buf, all,
	    &idx)) != -1) {
		const struct opt *o = NULL;
		if (c == 'H') {
			*home_opt = optarg;
			continue;
		}
		if (c == 'h') {
			print_help(usage, opts);
			rc = EXIT_OK;
			continue;
		}
		if (c >= 256 && (size_t)(c - 256) < n)
			o = &opts[c - 256];
		for (size_t i = 0; !o && i < n; i++)
			if (opts[i].short_name == c)
				o = &opts[i];
		rc = o ? opt_take(o, optarg) : cli_usage(usage);
		if (rc == 0)
			rc = -1;
	}
	free(all);
	sbuf_release(&shorts);
	return rc;
}

/*
 * The name recorded as requested_by, forced_by, paused_by, drained_by: it
 * comes from the kernel, not from the environment, which any user sets as
 * it likes. Only root may say, through sudo's SUDO_USER, who ran it, and
 * only with the name of a user that exists.
 */
char *cli_user_name(void)
{
	uid_t uid = getuid();
	const char *sudo = getenv("SUDO_USER");
	const struct passwd *pw;

	if (uid == 0 && sudo && *sudo && (pw = getpwnam(sudo)))
		return xstrdup(pw->pw_name);
	if ((pw = getpwuid(uid)))
		return xstrdup(pw->pw_name);
	return xasprintf("%lu", (unsigned long)uid);
}

int cli_open(const char *home_opt, struct cli_session *out)
{
	char *key = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	out->home = cli_home(home_opt);
	/* runner.yml once: the store it names; one that does not load names
	 * it by its `store:` alone, so that a mistake elsewhere in the file
	 * does not keep the store shut */
	if (config_load_kept(out->home, &out->conf, &out->conf_why) < 0) {
		out->conf = NULL;
		out->conf_error = xstrdup(error_last());
		error = config_store_url(out->home, &key);
	} else {
		error = 0;
	}
	if (error < 0 || store_open(out->home, out->conf ? out->conf->store :
	    key, STORE_OPEN, &out->store) < 0) {
		cli_error("%s", error_last());
		out->store = NULL;
	}
	free(key);
	/* what a command prints names repositories as the store recorded
	 * them */
	if (out->store && store_repo_names_load(out->store) < 0)
		error_clear();
	return out->store ? 0 : -1;
}

void cli_close(struct cli_session *s)
{
	store_close(s->store);
	config_free(s->conf);
	free(s->conf_error);
	free(s->conf_why);
	free(s->home);
	memset(s, 0, sizeof(*s));
}

int cli_session_config(struct cli_session *s, int quiet,
    struct config **out)
{
	*out = s->conf;
	s->conf = NULL;
	if (!*out)
		return error_set(-1, "%s", s->conf_error ? s->conf_error :
		    "runner.yml was read already");
	if (s->conf_why && !quiet)
		fprintf(stderr, "runner: warning: %s\n", s->conf_why);
	return 0;
}

int cli_job_operand(int argc, char **argv, const char *usage, int64_t *id)
{
	if (optind + 1 != argc)
		return cli_usage(usage);
	if ((*id = cli_job_id(argv[optind])) < 0) {
		cli_error("'%s' is not a job number", argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

int cli_start_job(int argc, char **argv, const char *usage, int64_t *id,
    struct cli_session *cs)
{
	const char *home_opt = NULL;
	int rc;

	if ((rc = cli_parse(argc, argv, usage, NULL, &home_opt)) >= 0 ||
	    (rc = cli_job_operand(argc, argv, usage, id)))
		return rc;
	return cli_open(home_opt, cs) < 0 ? EXIT_FAIL : -1;
}

int cli_start_env(int argc, char **argv, const char *usage,
    const struct opt *opts, const char *const *repo, struct cli_session *cs,
    struct env_rec **e)
{
	const char *home_opt = NULL;
	int rc;

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage(usage);
	if (cli_open(home_opt, cs) < 0 ||
	    cli_find_env(cs->store, *repo, argv[optind], e) < 0)
		return EXIT_FAIL;
	return -1;
}

int cli_number(const char *arg, long min, long max, long *out)
{
	char *end;
	long v;

	if (*arg < '0' || *arg > '9')
		return -1;
	v = strtol(arg, &end, 10);
	if (*end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_find_repo(struct store *s, const char *arg, char **out)
{
	struct repo_name *v = NULL;
	char *real = realpath(arg, NULL);
	size_t n = 0, at;
	int error;

	*out = NULL;
	if ((error = store_repo_names(s, &v, &n)) == 0 &&
	    (error = repo_names_find(v, n, arg, real, &at)) == 0)
		*out = xstrdup(v[at].path);
	else
		cli_error("%s", error_last());
	repo_names_free(v, n);
	free(real);
	return error;
}

int cli_find_env(struct store *s, const char *repo, const char *name,
    struct env_rec **out)
{
	struct env_rec **v = NULL;
	char *real = NULL;
	size_t n = 0, found = 0, at = 0;
	int error;

	*out = NULL;
	if (repo && cli_find_repo(s, repo, &real) < 0)
		return -1;
	if ((error = store_envs_list(s, &v, &n)) < 0) {
		cli_error("%s", error_last());
		free(real);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i]->name, name) && (!real ||
		    !strcmp(v[i]->repo, real))) {
			found++;
			at = i;
		}
	error = -1;
	if (!found)
		cli_error("environment '%s' has never been deployed%s%s", name,
		    real ? " from " : "", real ? real : "");
	else if (found > 1) {
		struct sbuf which = SBUF_INIT;
		if (store_repo_names_load(s) < 0)
			error_clear();
		for (size_t i = 0; i < n; i++)
			if (!strcmp(v[i]->name, name)) {
				sbuf_adds(&which, which.len ? ", " : "");
				repo_name_add(&which, v[i]->repo);
			}
		cli_error("several repositories have an environment '%s' (%s): "
		    "name one with --repo", name, which.buf);
		sbuf_release(&which);
	} else {
		*out = v[at];
		v[at] = NULL;
		error = 0;
	}
	for (size_t i = 0; i < n; i++)
		env_rec_free(v[i]);
	free(v);
	free(real);
	return error;
}

void cli_notification_line(struct sbuf *sb, const struct notification *x,
    int tty)
{
	const char *state = x->state == NOTIF_DELIVERED ? "passed" :
	    x->state == NOTIF_DEAD ? "failed" : "queued";

	sbuf_addf(sb, "  #%-5lld %s%-9s%s %s (%s%s%s) job #%lld %s", (long long)x->id,
	    cli_color(state, tty), notif_state_name(x->state),
	    tty ? COLOR_RESET : "",
	    x->target, x->service, x->action ? " " : "",
	    x->action ? x->action : "", (long long)x->job_id, x->event);
	sbuf_addf(sb, ", %d attempt%s", x->attempts, x->attempts == 1 ? "" :
	    "s");
	if (x->state == NOTIF_PENDING && x->attempts) {
		sbuf_adds(sb, ", next in ");
		format_duration(sb, x->next_ms > now_ms() ? x->next_ms -
		    now_ms() : 0);
	}
	if (x->error) {
		sbuf_adds(sb, ": ");
		sbuf_add_display(sb, x->error, strlen(x->error));
	}
	sbuf_addch(sb, '\n');
}

/* Run helper program `name` with argv (argv[0] the command), in place. */
static int exec_helper(const char *name, int argc, char **argv)
{
	char *prog = run_sibling(name);
	char **args = xcalloc((size_t)argc + 2, sizeof(*args));

	args[0] = (char *)name;
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	if (prog)
		execv(prog, args);
	cli_error("cannot run %s (it is installed in libexec/runner, "
	    "or beside 'runner'): %s", prog ? prog : name, strerror(errno));
	free(args);
	free(prog);
	return EXIT_FAIL;
}

int cmd_worker(int argc, char **argv)
{
	return exec_helper(WORKER_PROGRAM, argc, argv);
}

int cmd_web(int argc, char **argv)
{
	return exec_helper(WEB_PROGRAM, argc, argv);
}
