/*
 * Running a helper program (ssh-keygen, gpg) to its end: arguments, stdin
 * from a buffer, stdout and stderr captured (bounded), a timeout, and a
 * clean environment.
 */
#ifndef RUNNER_PROC_H
#define RUNNER_PROC_H

#include <stddef.h>
#include <stdint.h>

struct sbuf;

/*
 * Run argv[0] (searched in PATH) with `in` on stdin. Returns its exit code
 * (128 + signal if killed), or a negative code if it could not run or
 * timed out (then it is killed).
 */
int proc_run(char *const argv[], const char *in, size_t inlen,
    struct sbuf *out, struct sbuf *err, int64_t timeout_ms);

#endif
