/*
 * For the unit tests and the benchmark: a home's store opened as a
 * process that loaded its runner.yml opens it.
 */
#ifndef RUNNER_TESTS_HOME_STORE_H
#define RUNNER_TESTS_HOME_STORE_H

#include "store.h"

/* The store of `home` as runner.yml's `store:` names it (what a process
 * that loaded runner.yml passes store_open); *out NULL on an error. */
int open_home(const char *home, enum store_mode mode, struct store **out);

#endif
