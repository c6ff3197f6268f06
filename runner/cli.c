/*
 * Helpers of the command files. Output to people goes through
 * sbuf_add_display, so text from pushes cannot drive the terminal.
 */
#include "cli.h"
#include "store.h"
#include "util.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

struct store *cli_store(const char *home)
{
	struct store *s;

	if (store_open(home, STORE_OPEN, &s) < 0) {
		cli_error("%s", error_last());
		return NULL;
	}
	return s;
}

int64_t cli_job_id(const char *arg)
{
	char *end;
	long long v;

	if (*arg == '#')
		arg++;
	if (*arg < '0' || *arg > '9')
		return -1;
	v = strtoll(arg, &end, 10);
	return *end || v <= 0 ? -1 : v;
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

void cli_repo_name(struct sbuf *sb, const char *repo)
{
	const char *base = strrchr(repo, '/');
	size_t n;

	base = base ? base + 1 : repo;
	n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".git"))
		n -= 4;
	sbuf_add_display(sb, base, n);
}

const char *cli_ref_name(const char *ref)
{
	if (!strncmp(ref, "refs/heads/", 11))
		return ref + 11;
	if (!strncmp(ref, "refs/tags/", 10))
		return ref + 10;
	return ref;
}
