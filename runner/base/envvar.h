/*
 * Environment variable names that a push may ask for (git push -o
 * ci.variable=, runner run --var): the form of NAME=VALUE, and the names
 * no push may set whatever runner.yml lists, because a program reads them
 * before it runs a line of its own (the dynamic loader, glibc, the shells,
 * git, interpreters) or because they are the runner's.
 */
#ifndef RUNNER_ENVVAR_H
#define RUNNER_ENVVAR_H

/* The longest name and value a push may give. */
#define ENVVAR_NAME_MAX 64
#define ENVVAR_VALUE_MAX 4096

/*
 * Is `nv` a well-formed NAME=VALUE (NAME letters, digits and _, not first
 * a digit, at most ENVVAR_NAME_MAX; VALUE one line of at most
 * ENVVAR_VALUE_MAX) whose NAME is not reserved? NULL if so, else why not
 * (a static string).
 */
const char *envvar_why(const char *nv);

/*
 * Why `name` may never come from a push (a static string), or NULL. The
 * names are in one table in envvar.c, which docs/configuration.md lists.
 */
const char *envvar_reserved(const char *name);

#endif
