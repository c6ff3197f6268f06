/*
 * Which variable names a push may set. A push variable reaches the
 * stage's shell and every program a stage starts; a name that the
 * loader, glibc, a shell, git or an interpreter reads at start-up turns a
 * value into code that runs before the stage's own first line, in
 * whatever program reads it first. Those names are refused here, for
 * every push, whatever runner.yml lists: the list is one table, which
 * docs/configuration.md repeats.
 */
#include "envvar.h"

#include <string.h>

/* A name, or a prefix when it ends in '*'; and who reads it. */
static const struct {
	const char *name;
	const char *why;
} reserved[] = {
	{ "RUNNER_*", "RUNNER_ names are the runner's own" },
	{ "LD_*", "the dynamic loader reads it before any program runs" },
	{ "GCONV_PATH", "glibc loads code from it" },
	{ "GETCONF_DIR", "glibc reads it at start-up" },
	{ "GLIBC_TUNABLES", "glibc reads it at start-up" },
	{ "HOSTALIASES", "glibc's resolver reads files it names" },
	{ "LOCALDOMAIN", "glibc's resolver reads it" },
	{ "LOCPATH", "glibc loads locales from it" },
	{ "MALLOC_*", "glibc's allocator reads it at start-up" },
	{ "NIS_PATH", "glibc reads it" },
	{ "NLSPATH", "glibc loads message catalogues from it" },
	{ "RESOLV_HOST_CONF", "glibc's resolver reads files it names" },
	{ "RES_OPTIONS", "glibc's resolver reads it" },
	{ "TMPDIR", "every program puts its temporary files there" },
	{ "TZDIR", "glibc reads time zone files from it" },
	{ "BASH_ENV", "bash runs the file it names before a script" },
	{ "ENV", "sh runs the file it names at start-up" },
	{ "BASHOPTS", "bash reads it at start-up" },
	{ "SHELLOPTS", "shells read it at start-up" },
	{ "PS4", "the shell expands it, commands and all, under set -x" },
	{ "PROMPT_COMMAND", "bash runs it" },
	{ "IFS", "the shell splits words with it" },
	{ "CDPATH", "the shell's cd follows it" },
	{ "GLOBIGNORE", "the shell's globs read it" },
	{ "ZDOTDIR", "zsh runs start-up files from it" },
	{ "HOME", "the runner sets it" },
	{ "PATH", "the runner sets it (runner.yml path)" },
	{ "SHELL", "programs start it as the shell" },
	{ "GIT_*", "git reads it (config, ssh command, object folders)" },
	{ "PYTHON*", "python reads it at start-up" },
	{ "PERL5LIB", "perl loads modules from it" },
	{ "PERL5OPT", "perl reads options from it" },
	{ "PERLLIB", "perl loads modules from it" },
	{ "PERL5DB", "perl runs it" },
	{ "RUBYOPT", "ruby reads options from it" },
	{ "RUBYLIB", "ruby loads code from it" },
	{ "NODE_OPTIONS", "node reads options from it" },
	{ "NODE_PATH", "node loads modules from it" },
	{ "JAVA_TOOL_OPTIONS", "the JVM reads options from it" },
	{ "_JAVA_OPTIONS", "the JVM reads options from it" },
	{ "JDK_JAVA_OPTIONS", "the java launcher reads options from it" },
	{ "LUA_INIT", "lua runs it" },
};

const char *envvar_reserved(const char *name)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(*reserved); i++) {
		const char *r = reserved[i].name;
		size_t n = strlen(r);
		if (r[n - 1] == '*' ? !strncmp(name, r, n - 1) : !strcmp(name, r))
			return reserved[i].why;
	}
	return NULL;
}

const char *envvar_why(const char *nv)
{
	static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_";
	const char *eq = strchr(nv, '=');
	size_t n = eq ? (size_t)(eq - nv) : 0;
	char name[ENVVAR_NAME_MAX + 1];

	if (!eq || !n)
		return "not NAME=VALUE";
	if (n > ENVVAR_NAME_MAX || strspn(nv, name_chars) < n ||
	    (nv[0] >= '0' && nv[0] <= '9'))
		return "the name must be letters, digits and _ (not first a "
		    "digit), at most 64";
	if (strpbrk(eq + 1, "\n\r") || strlen(eq + 1) > ENVVAR_VALUE_MAX)
		return "the value must be one line of at most 4096 bytes";
	memcpy(name, nv, n);
	name[n] = '\0';
	return envvar_reserved(name);
}
