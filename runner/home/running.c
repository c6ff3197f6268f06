/*
 * Whether a daemon serves the home (running.h): the lock `runner serve`
 * holds on runner.pid, read without taking it.
 */
#include "running.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int daemon_pid(const char *home)
{
	char *path = xasprintf("%s/%s", home, LOCK_FILE);
	struct sbuf buf = SBUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC), pid = 0;

	if (fd >= 0) {
		if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK &&
		    read_file(path, 64, &buf) == 0)
			pid = atoi(buf.buf);
		close(fd);
	}
	sbuf_release(&buf);
	free(path);
	return pid;
}

uid_t daemon_uid(const char *home)
{
	int pid = daemon_pid(home);
	struct sbuf buf = SBUF_INIT;
	struct stat st;
	uid_t uid = stat(home, &st) == 0 ? st.st_uid : geteuid();

	/* the running daemon's effective uid (its /proc/PID is root's: it
	 * is not dumpable) */
	if (pid > 0) {
		char *path = xasprintf("/proc/%d/status", pid);
		const char *line;
		unsigned long r, e;
		if (read_file(path, 64 * 1024, &buf) == 0 &&
		    (line = strstr(buf.buf, "\nUid:")) &&
		    sscanf(line + 5, "%lu %lu", &r, &e) == 2)
			uid = (uid_t)e;
		free(path);
	}
	sbuf_release(&buf);
	return uid;
}

int64_t daemon_since(const char *home)
{
	char *path = xasprintf("%s/%s", home, LOCK_FILE);
	struct stat st;
	int64_t ms = 0;

	/* the pid is written into it when the daemon takes the lock */
	if (stat(path, &st) == 0)
		ms = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
	free(path);
	return ms;
}
