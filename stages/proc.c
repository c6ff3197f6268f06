/*
 * Ending what is left of the stages of a daemon that was killed. It lives
 * apart from stage.c so that the supervisor can call it without linking
 * what running stages needs.
 */
#include "stage.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int stage_kill_leftovers(const char *prefix)
{
	const char key[] = STAGE_OWNER_VAR "=";
	size_t plen = strlen(prefix);
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct sbuf env = SBUF_INIT;
	int killed = 0;

	while (d && (de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		char path[64];

		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
		sbuf_reset(&env);
		if (read_file(path, 1 << 20, &env) < 0)
			continue;
		for (size_t at = 0; at < env.len; at += strlen(env.buf + at) + 1) {
			const char *v = env.buf + at;
			if (!strncmp(v, key, sizeof(key) - 1) &&
			    !strncmp(v + sizeof(key) - 1, prefix, plen)) {
				killed += kill(pid, SIGKILL) == 0;
				break;
			}
		}
	}
	if (d)
		closedir(d);
	sbuf_release(&env);
	return killed;
}
