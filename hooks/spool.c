/*
 * The spool's own folders (held/, refused/), the reasons kept beside
 * their entries, and the summary that status, doctor, the web page and
 * /metrics show, read from the folders themselves so that it is true
 * while the daemon is stopped. The hook's whole group writes spool/, so
 * nothing below it is reached by a path: each folder is opened from the
 * spool's descriptor without following a link and judged by fstat.
 */
#include "spool.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A reason file is a line or two; anything larger is not ours. */
#define WHY_MAX 8192

int spool_own_dir(int sfd, const char *name, int make)
{
	struct stat st;
	int fd;

	if (make && mkdirat(sfd, name, 0700) < 0 && errno != EEXIST)
		return -1;
	fd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		return -1;
	}
	return fd;
}

int spool_daemon_dir(int sfd, const char *dir, const char *name, char **why,
    char **fix)
{
	struct stat sp, st;
	struct passwd *pw;
	struct sbuf f = SBUF_INIT;
	char *path;
	int fd;

	*why = *fix = NULL;
	fd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return -1;
	/* the spool's owner's (the daemon's user), or root's */
	if (fd >= 0 && fstat(sfd, &sp) == 0 && fstat(fd, &st) == 0 &&
	    (st.st_uid == sp.st_uid || st.st_uid == 0) && !(st.st_mode & 077))
		return fd;
	if (fd >= 0)
		close(fd);
	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	/* another member of the hook's group made it: what it holds is
	 * that member's words, which are not shown, and root pastes the fix:
	 * it is removed as its owner, so that root follows nothing there */
	*why = xasprintf("'%s/%s' is not the runner's own folder (a %s of uid "
	    "%d, mode %04o): the daemon can keep no push there, and what is "
	    "in it is not shown", dir, name, S_ISDIR(st.st_mode) ? "folder" :
	    S_ISLNK(st.st_mode) ? "link" : "file", (int)st.st_uid,
	    (unsigned)(st.st_mode & 07777));
	pw = getpwuid(st.st_uid);
	if (pw) {
		sbuf_addf(&f, "runuser -u %s -- rm -rf ", pw->pw_name);
	} else {
		sbuf_addf(&f, "as uid %d, its owner: rm -rf ", (int)st.st_uid);
	}
	path = xasprintf("%s/%s", dir, name);
	sbuf_add_shell(&f, path);
	free(path);
	*fix = sbuf_detach(&f);
	return -1;
}

int spool_why_write(int dfd, const char *name, const char *reason,
    const char *fix)
{
	struct sbuf sb = SBUF_INIT;
	char *tmp = xasprintf(".%s%s.%d.tmp", name, SPOOL_WHY, (int)getpid());
	char *to = xasprintf("%s%s", name, SPOOL_WHY);
	int fd, error = -1;

	sbuf_addf(&sb, "%s\n%s\n", reason, fix ? fix : "");
	unlinkat(dfd, tmp, 0);	/* one of ours, left by a crash */
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd >= 0) {
		error = write_all(fd, sb.buf, sb.len);
		close(fd);
		if (error == 0 && renameat(dfd, tmp, dfd, to) < 0)
			error = -1;
		if (error < 0)
			unlinkat(dfd, tmp, 0);
	}
	sbuf_release(&sb);
	free(tmp);
	free(to);
	return error;
}

int spool_why_read(int dfd, const char *name, char **reason, char **fix)
{
	char *file = xasprintf("%s%s", name, SPOOL_WHY);
	struct sbuf sb = SBUF_INIT;
	int fd, error = -1;

	*reason = *fix = NULL;
	fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && read_fd(fd, file, WHY_MAX, &sb) == 0) {
		char *nl = strchr(sb.buf, '\n');
		if (nl) {
			*nl = '\0';
			char *end = strchr(nl + 1, '\n');
			if (end)
				*end = '\0';
			if (nl[1])
				*fix = xstrdup(nl + 1);
		}
		*reason = xstrdup(sb.buf);
		error = 0;
	}
	if (fd >= 0)
		close(fd);
	sbuf_release(&sb);
	free(file);
	return error;
}

void spool_why_remove(int dfd, const char *name)
{
	char *file = xasprintf("%s%s", name, SPOOL_WHY);

	unlinkat(dfd, file, 0);
	free(file);
}

int spool_answer_write(int sfd, const char *name, const char *text)
{
	int dfd = spool_own_dir(sfd, SPOOL_TAKEN, 1), fd, error = -1;

	if (dfd < 0)
		return -1;
	/* written in place: the hook reads it when it is closed */
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd >= 0) {
		struct stat st;
		error = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ?
		    write_all(fd, text, strlen(text)) : -1;
		close(fd);
	}
	close(dfd);
	return error;
}

void spool_answers_expire(int sfd)
{
	int dfd = spool_own_dir(sfd, SPOOL_TAKEN, 0);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	int64_t now = now_ms();
	struct dirent *de;
	struct stat st;

	if (dfd >= 0 && !d)
		close(dfd);
	while (d && (de = readdir(d)))
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && S_ISREG(st.st_mode) && now - (int64_t)st.st_mtim.tv_sec *
		    1000 > SPOOL_TAKEN_KEEP_MS)
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
}

int spool_is_entry(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 5 && !strcmp(name + len - 5, ".push");
}

static int64_t mtime_ms(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec /
	    1000000;
}

static void oldest(int64_t *at, int64_t ms)
{
	if (!*at || ms < *at)
		*at = ms;
}

/* The held entries of folder `hfd`, counted by reason. */
static void load_held(int hfd, struct spool_summary *out)
{
	DIR *d = fdopendir(hfd);
	struct dirent *de;

	if (!d) {
		close(hfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		char *reason, *fix;
		size_t i;

		if (!spool_is_entry(de->d_name) || fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		out->held++;
		oldest(&out->held_oldest_ms, mtime_ms(&st));
		if (spool_why_read(dirfd(d), de->d_name, &reason, &fix) < 0)
			reason = xstrdup("held (the daemon is writing its "
			    "reason)");
		for (i = 0; i < out->nreasons; i++)
			if (!strcmp(out->reasons[i].reason, reason))
				break;
		if (i == out->nreasons) {
			out->reasons = xrealloc(out->reasons, (i + 1) *
			    sizeof(*out->reasons));
			out->reasons[i] = (struct spool_reason){ reason, fix, 0,
			    0 };
			out->nreasons++;
		} else {
			free(reason);
			free(fix);
		}
		out->reasons[i].count++;
		oldest(&out->reasons[i].oldest_ms, mtime_ms(&st));
	}
	closedir(d);
}

/* spool_daemon_dir() for the summary: the first folder that is not the
 * daemon's own is its error, with the fix */
static int daemon_dir(int sfd, const char *dir, const char *name,
    struct spool_summary *out)
{
	char *why, *fix;
	int fd = spool_daemon_dir(sfd, dir, name, &why, &fix);

	if (why && !out->error) {
		out->error = why;
		out->error_fix = fix;
	} else {
		free(why);
		free(fix);
	}
	return fd;
}

void spool_summary_load(const char *home, struct spool_summary *out)
{
	char *dir = xasprintf("%s/%s", home, SPOOL_DIR);
	int sfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = NULL;
	struct dirent *de;
	struct stat st;

	*out = (struct spool_summary){ 0 };
	if (sfd < 0) {
		if (errno != ENOENT)
			out->error = xasprintf("cannot read '%s': %s (the "
			    "runner's user or root can)", dir, strerror(errno));
		free(dir);
		return;
	}
	/* the daemon's own folders only: the hook's group writes spool/,
	 * and may make a folder of that name first */
	int hfd = daemon_dir(sfd, dir, SPOOL_HELD, out);
	int rfd = daemon_dir(sfd, dir, SPOOL_REFUSED, out);
	/* taken/: the daemon's answers to the runner's own hook, which
	 * waits for them in vain while another's folder is there */
	int tfd = daemon_dir(sfd, dir, SPOOL_TAKEN, out);
	if (tfd >= 0)
		close(tfd);
	if (hfd >= 0)
		load_held(hfd, out);
	if (rfd >= 0 && (d = fdopendir(rfd))) {
		while ((de = readdir(d)))
			out->refused += de->d_name[0] != '.' &&
			    !strstr(de->d_name, SPOOL_WHY);
		closedir(d);
	} else if (rfd >= 0) {
		close(rfd);
	}
	if (!(d = fdopendir(sfd))) {
		close(sfd);
		free(dir);
		return;
	}
	while ((de = readdir(d))) {
		if (!spool_is_entry(de->d_name) || fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		out->waiting++;
		oldest(&out->waiting_oldest_ms, mtime_ms(&st));
	}
	closedir(d);
	free(dir);
}

void spool_summary_release(struct spool_summary *s)
{
	for (size_t i = 0; i < s->nreasons; i++) {
		free(s->reasons[i].reason);
		free(s->reasons[i].fix);
	}
	free(s->reasons);
	free(s->error);
	free(s->error_fix);
	*s = (struct spool_summary){ 0 };
}

int spool_in_group(gid_t gid)
{
	gid_t g[256];
	int n = getgroups(256, g);

	if (getegid() == gid)
		return 1;
	for (int i = 0; i < n; i++)
		if (g[i] == gid)
			return 1;
	return 0;
}

char *spool_unwritable(const char *home, char **fix)
{
	char *dir = xasprintf("%s/%s", home, SPOOL_DIR), *why = NULL;
	struct passwd *pw = getpwuid(getuid());
	const char *user = pw ? pw->pw_name : "?";
	struct group *gr;
	struct stat st;
	int err;

	*fix = NULL;
	if (access(dir, W_OK | X_OK) == 0) {
		free(dir);
		return NULL;
	}
	err = errno;
	if (err != EACCES || stat(dir, &st) < 0) {
		why = xasprintf("cannot write '%s': %s", dir, strerror(err));
		*fix = err == EROFS ? xasprintf("let the service that runs git "
		    "write '%s' (systemd: ReadWritePaths=%s)", dir, dir) :
		    xasprintf("as root: runner init --home %s, then runner "
		    "install-hook --home %s REPOSITORY", home, home);
		goto out;
	}
	gr = getgrgid(st.st_gid);
	int listed = pw && pw->pw_gid == st.st_gid;
	for (char **m = gr ? gr->gr_mem : NULL; m && *m && !listed; m++)
		listed = !strcmp(*m, user);
	if (!gr) {
		why = xasprintf("cannot write '%s': its group %d has no name",
		    dir, (int)st.st_gid);
		*fix = xasprintf("as root: runner init --home %s", home);
	} else if (!listed) {
		why = xasprintf("cannot write '%s': user '%s' is not in group "
		    "'%s'", dir, user, gr->gr_name);
		*fix = xasprintf("as root: runner install-hook --home %s "
		    "REPOSITORY (it adds '%s' to group '%s'); then restart what "
		    "runs git as '%s' (fcgiwrap or the web server; a new ssh "
		    "session is enough)", home, user, gr->gr_name, user);
	} else if (!spool_in_group(st.st_gid)) {
		why = xasprintf("cannot write '%s': this process of user '%s' "
		    "started before '%s' was added to group '%s'", dir, user,
		    user, gr->gr_name);
		*fix = xasprintf("restart what runs git as '%s' (fcgiwrap or the "
		    "web server for smart HTTP; a new ssh session is enough for "
		    "ssh)", user);
	} else {
		why = xasprintf("cannot write '%s': Permission denied (its mode "
		    "is %04o)", dir, (unsigned)(st.st_mode & 07777));
		*fix = xasprintf("as root: runner init --home %s (gives the "
		    "spool its mode, 2730)", home);
	}
out:
	free(dir);
	return why;
}
