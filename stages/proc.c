/*
 * A small run-command: fork, exec with a fixed environment, poll the three
 * pipes, kill on timeout.
 */
#include "proc.h"
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

#define OUT_MAX (1024 * 1024)

int proc_run(char *const argv[], const char *in, size_t inlen,
    struct sbuf *out, struct sbuf *err, int64_t timeout_ms)
{
	static char *const envp[] = {
		"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C", NULL
	};
	int pin[2], pout[2], perr[2], status = 0;
	int64_t deadline = mono_ms() + timeout_ms;
	size_t off = 0;
	pid_t pid;

	if (pipe2(pin, O_CLOEXEC) < 0)
		return error_set(-1, "cannot create a pipe: %s", strerror(errno));
	if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0)
		return error_set(-1, "cannot create a pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return error_set(-1, "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		execvpe(argv[0], argv, envp);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	int fds[3] = { pin[1], pout[0], perr[0] };
	struct sbuf *bufs[3] = { NULL, out, err };
	if (!inlen) {
		close(fds[0]);
		fds[0] = -1;
	}
	while (fds[1] >= 0 || fds[2] >= 0) {
		struct pollfd p[3] = {
			{ fds[0], POLLOUT, 0 }, { fds[1], POLLIN, 0 },
			{ fds[2], POLLIN, 0 },
		};
		int64_t left = deadline - mono_ms();
		if (left <= 0 || poll(p, 3, (int)left) == 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			for (int i = 0; i < 3; i++)
				if (fds[i] >= 0)
					close(fds[i]);
			return error_set(ERR_TIMEOUT, "'%s' did not finish within "
			    "%lldms", argv[0], (long long)timeout_ms);
		}
		if (fds[0] >= 0 && p[0].revents) {
			ssize_t n = write(fds[0], in + off, inlen - off);
			if (n > 0)
				off += (size_t)n;
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = inlen;	/* it stopped reading */
			if (off == inlen) {
				close(fds[0]);
				fds[0] = -1;
			}
		}
		for (int i = 1; i < 3; i++) {
			char chunk[8192];
			if (fds[i] < 0 || !p[i].revents)
				continue;
			ssize_t n = read(fds[i], chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(fds[i]);
				fds[i] = -1;
			} else if (bufs[i] && bufs[i]->len < OUT_MAX) {
				sbuf_add(bufs[i], chunk, (size_t)n);
			}
		}
	}
	if (fds[0] >= 0)
		close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	if (WEXITSTATUS(status) == 127)
		return error_set(ERR_NOTFOUND, "cannot run '%s' (is it installed?)",
		    argv[0]);
	return WEXITSTATUS(status);
}

/* Lives here, not in stage.c, so that the supervisor can call it without
 * linking what running stages needs. */
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
