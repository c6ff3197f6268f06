/*
 * For the unit tests and the benchmark: a home's store opened as a
 * process that loaded its runner.yml opens it (home_store.h).
 */
#include "home_store.h"
#include "config.h"

#include <stdlib.h>

int open_home(const char *home, enum store_mode mode, struct store **out)
{
	char *url = NULL;
	int error = config_store_url(home, &url);

	if (error == 0)
		error = store_open(home, url, mode, out);
	else
		*out = NULL;
	free(url);
	return error;
}
