/*
 * The users children run as (run.h): looked up once into a struct
 * run_user, a function run as one of them in a child of its own, and
 * whether one can reach a path.
 */
#include "run.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int run_user_lookup(const char *name, struct run_user *out)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	char *end;
	long id = strtol(name, &end, 10);
	int n = 16;

	memset(out, 0, sizeof(*out));
	if (*name && !*end && id >= 0)
		getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &res);
	else
		getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (!res)
		return error_set(ERR_NOTFOUND, "no user '%s' on this system", name);
	out->name = xstrdup(pw.pw_name);
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	out->home = xstrdup(pw.pw_dir ? pw.pw_dir : "/");
	out->groups = xmalloc((size_t)n * sizeof(gid_t));
	while (getgrouplist(pw.pw_name, pw.pw_gid, out->groups, &n) < 0)
		out->groups = xrealloc(out->groups, (size_t)n * sizeof(gid_t));
	out->ngroups = n;
	return 0;
}

void run_user_owner(const struct stat *st, struct run_user *out)
{
	char id[32];

	snprintf(id, sizeof(id), "%d", (int)st->st_uid);
	if (run_user_lookup(id, out) < 0) {
		error_clear();
		out->name = xstrdup(id);
		out->uid = st->st_uid;
		out->gid = st->st_gid;
	}
}

void run_user_release(struct run_user *u)
{
	if (!u)
		return;
	free(u->name);
	free(u->groups);
	free(u->home);
	memset(u, 0, sizeof(*u));
}

static int may(const struct run_user *u, const struct stat *st, mode_t bits)
{
	if (st->st_uid == u->uid)
		return (st->st_mode >> 6 & bits) == bits;
	for (int i = 0; i < u->ngroups; i++)
		if (st->st_gid == u->groups[i])
			return (st->st_mode >> 3 & bits) == bits;
	if (st->st_gid == u->gid)
		return (st->st_mode >> 3 & bits) == bits;
	return (st->st_mode & bits) == bits;
}

int run_as_user_into(const struct run_user *u, int (*fn)(void *), void *arg,
    void *out, size_t len)
{
	struct sbuf msg = SBUF_INIT;
	int p[2], rc = -1, status = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return error_set(-1, "cannot make a pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return error_set(-1, "cannot fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(p[0]);
		if (syscall(SYS_setgroups, (size_t)u->ngroups, u->groups) < 0 ||
		    syscall(SYS_setresgid, u->gid, u->gid, u->gid) < 0 ||
		    syscall(SYS_setresuid, u->uid, u->uid, u->uid) < 0)
			rc = error_set(-1, "cannot become user '%s': %s", u->name,
			    strerror(errno));
		else
			rc = fn(arg);
		/* the answer: rc, what `out` holds now, why it failed */
		(void)!write_all(p[1], &rc, sizeof(rc));
		if (len)
			(void)!write_all(p[1], out, len);
		if (rc < 0)
			(void)!write_all(p[1], error_last(), strlen(error_last()));
		_exit(0);
	}
	close(p[1]);
	for (;;) {
		char buf[512];
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		sbuf_add(&msg, buf, (size_t)n);
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (msg.len < sizeof(rc) + len)
		rc = error_set(-1, "the child as user '%s' ended without a word "
		    "(status %d)", u->name, status);
	else {
		memcpy(&rc, msg.buf, sizeof(rc));
		if (len)
			memcpy(out, msg.buf + sizeof(rc), len);
		if (rc < 0)
			rc = error_set(rc, "%s", msg.buf + sizeof(rc) + len);
	}
	sbuf_release(&msg);
	return rc;
}

int run_as_user(const struct run_user *u, int (*fn)(void *), void *arg)
{
	return run_as_user_into(u, fn, arg, NULL, 0);
}

int run_user_can_reach(const struct run_user *u, const char *path, int read)
{
	struct sbuf sb = SBUF_INIT;
	struct stat st;
	int ok = 1;

	if (u->uid == 0)
		return 1;
	for (const char *p = path; ok && *p;) {
		const char *next = strchr(p + 1, '/');
		size_t n = next ? (size_t)(next - path) : strlen(path);
		sbuf_reset(&sb);
		sbuf_add(&sb, path, n ? n : 1);
		ok = stat(sb.buf, &st) == 0 && may(u, &st, next ? 1u :
		    S_ISDIR(st.st_mode) ? (read ? 5u : 1u) : read ? 4u : 0u);
		p = next ? next : path + strlen(path);
	}
	sbuf_release(&sb);
	return ok;
}
