/*
 * The spool read by the daemon (hook_spool_ingest): each file a push left
 * checked, its repository readable by the runner and its owner the hook's
 * user, then queued as the hook would have, or held, or refused into
 * spool/refused/ with the reason.
 */
#include "hook.h"
#include "hook_int.h"
#include "config.h"
#include "follow.h"
#include "run.h"
#include "store.h"
#include "jobs.h"
#include "util.h"
#include "spool.h"
#include "who.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/*
 * Set entry `name` (in folder `from`: the spool `sfd`, at `dir`, or its
 * held/), refused for `why`, aside into spool/refused/ for the operator
 * with the reason beside it, and say so in one line on the log: it is not
 * read again. If that folder is not the runner's own, or the entry cannot
 * be moved, it is left where it is and the line says so.
 */
static void refuse_entry(int from, int sfd, const char *dir,
    const char *name, const char *why)
{
	char *to = xstrdup(name);
	const char *fate = "moved to " SPOOL_REFUSED "/ for the operator";
	int rfd = spool_own_dir(sfd, SPOOL_REFUSED, 1), moved = 0;

	if (rfd >= 0) {
		moved = renameat2(from, name, rfd, to, RENAME_NOREPLACE) == 0;
		if (!moved && errno == EEXIST) {
			free(to);
			to = xasprintf("%s.%lld", name, (long long)now_ms());
			moved = renameat2(from, name, rfd, to,
			    RENAME_NOREPLACE) == 0;
		}
	}
	if (moved) {
		spool_why_write(rfd, to, why, NULL);
		if (from != sfd)	/* it was held: its reason goes */
			spool_why_remove(from, name);
	} else {
		fate = "left in place (" SPOOL_REFUSED "/ is not the runner's "
		    "own folder, 0700): move it away";
	}
	log_line("warning: spool: refused '%s/%s': %s; %s", dir, name, why,
	    fate);
	if (rfd >= 0)
		close(rfd);
	free(to);
}

/* 0 if the daemon may read repository `repo` (enter it and its
 * objects, read its HEAD), else why not (an errno). */
static int repo_unreadable(const char *repo)
{
	char *objects = xasprintf("%s/objects", repo);
	char *head = xasprintf("%s/HEAD", repo);
	int err = 0;

	if (access(repo, X_OK) < 0 || access(objects, R_OK | X_OK) < 0 ||
	    access(head, R_OK) < 0)
		err = errno;
	free(objects);
	free(head);
	return err;
}

/* Is `path` spelled as realpath() spells it: no '.' or '..' component,
 * no '//', no '/' at its end? */
static int plain_path(const char *path)
{
	size_t len = strlen(path);

	if (path[0] != '/' || (len > 1 && path[len - 1] == '/') ||
	    strstr(path, "//"))
		return 0;
	for (const char *c = path; (c = strchr(c, '/')); c++)
		if ((c[1] == '.' && (c[2] == '/' || !c[2])) || (c[1] == '.' &&
		    c[2] == '.' && (c[3] == '/' || !c[3])))
			return 0;
	return 1;
}

int spool_group_private(gid_t gid, uid_t uid)
{
	const struct passwd *p;
	int mine = 1;

	setpwent();
	while (mine && (p = getpwent()))
		mine = p->pw_gid != gid || p->pw_uid == uid;
	endpwent();
	return mine;
}

/*
 * Why the daemon cannot read repository `repo` now, and the fix: the
 * first folder on the way to its objects that the daemon's user may not
 * enter, and the group bits that let it in (its user in the writer's
 * own group, the repositories' owner's, and those folders in it).
 * Caller frees both. The path is the
 * spool entry's, which any member of the group writes, and root pastes
 * the fix: it is held only if that folder is the entry's writer's
 * (`writer`), reached without a link, and the path below it has no '..';
 * the writer's own user makes the changes below it (runuser), so that a
 * link there leads them nowhere its writer could not go. Else NULL and
 * *refuse says why.
 */
static char *unreadable_repo(const char *repo, int err, uid_t writer,
    char **fix, char **refuse)
{
	struct passwd *pw = getpwuid(geteuid());
	char *user = xstrdup(pw ? pw->pw_name : "?"), *owner = NULL;
	char *path = xasprintf("%s/objects", repo), *why = NULL, *real = NULL;
	char *group = NULL;
	int join = 0, regroup = 0;
	struct sbuf dirs = SBUF_INIT, f = SBUF_INIT;
	size_t plen = 0, rlen = strlen(repo);
	struct stat st = { 0 };
	struct group *gr;

	*fix = NULL;
	*refuse = NULL;
	if (!plain_path(repo)) {
		*refuse = xasprintf("it names repository '%s', which is not a "
		    "real path ('.', '..' or '//' in it)", repo);
		goto out;
	}
	/* the first folder that lstat sees but this user may not enter */
	for (size_t i = 1; !plen; i++) {
		char c = path[i];
		if (c != '/' && c)
			continue;
		path[i] = '\0';
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
		    access(path, X_OK) < 0)
			plen = i;
		else
			path[i] = c;
		if (!c)
			break;
	}
	if (!plen) {
		/* every folder may be entered: the repository's owner shows */
		if (stat(repo, &st) < 0 || st.st_uid != writer) {
			*refuse = xasprintf("it names repository '%s', which the "
			    "runner's user '%s' may not read, nor tell its "
			    "writer's (uid %d)", repo, user, (int)writer);
			goto out;
		}
		*fix = xasprintf("give user '%s' read access to '%s' and the "
		    "folders above it", user, repo);
		why = xasprintf("the runner's user '%s' cannot read repository "
		    "'%s': %s", user, repo, strerror(err));
		goto out;
	}
	real = realpath(path, NULL);
	if (!real || strcmp(real, path) || st.st_uid != writer) {
		*refuse = xasprintf("it names repository '%s', which the runner's "
		    "user '%s' may not reach: '%s' is not its writer's (uid %d) "
		    "but uid %d's%s", repo, user, path, (int)writer,
		    (int)st.st_uid, real && !strcmp(real, path) ? "" :
		    ", or is reached through a link");
		goto out;
	}
	pw = getpwuid(writer);
	owner = pw ? xstrdup(pw->pw_name) : NULL;
	gr = getgrgid(st.st_gid);
	why = xasprintf("the runner's user '%s' cannot read repository '%s': "
	    "it may not enter '%s' (mode %04o, group '%s')%s", user, repo,
	    path, (unsigned)(st.st_mode & 07777), gr ? gr->gr_name : "?",
	    strstr(repo, "/repositories/") ? "; with gitolite, also set "
	    "UMASK => 0027 in its .gitolite.rc, so that new repositories get "
	    "the group's bits" : "");
	/* the folders from the closed one down to the repository's parent
	 * need g+x; the repository g+rX throughout */
	size_t parent = (size_t)(strrchr(repo, '/') - repo);
	for (size_t i = plen; i <= parent && plen < rlen; i++)
		if (repo[i] == '/') {
			/* the path is the spool entry's: whoever wrote it
			 * chose it, and root pastes the fix */
			char *dir = xstrndup(repo, i);
			sbuf_addch(&dirs, ' ');
			sbuf_add_shell(&dirs, dir);
			free(dir);
		}
	/* the group that lets the daemon's user in is the writer's own
	 * (its primary group: git's, gitolite3's). The folder's group is the
	 * writer's choice among all of its groups, and one that gives more
	 * than the repositories (docker, disk, adm) is never given to the
	 * daemon's user by root pasting the fix: the folders are moved into
	 * the writer's own group instead, as the writer (unless the daemon's
	 * user is in the folder's group already). */
	gid_t pgid = pw ? pw->pw_gid : (gid_t)-1;
	gr = pw && !spool_in_group(st.st_gid) ? getgrgid(pgid) : NULL;
	/* (spool_group_private reads the user database: pw is not used
	 * after) */
	if (gr && !spool_group_private(pgid, writer)) {
		/* a primary group others share (a "users" of all): the
		 * repositories get a group of their own, which the writer
		 * joins too */
		group = xstrdup(SPOOL_REPO_GROUP);
		join = regroup = 1;
		sbuf_addf(&f, "groupadd -f %s && usermod -aG %s %s && ", group,
		    group, owner);
	} else if (gr) {
		group = xstrdup(gr->gr_name);
		join = !spool_in_group(pgid);
		regroup = st.st_gid != pgid;
	}
	if (join)
		sbuf_addf(&f, "usermod -aG %s %s && ", group, user);
	if (!owner)
		sbuf_addf(&f, "as uid %d, the repository's owner: ", (int)writer);
	if (regroup) {
		if (dirs.len)
			sbuf_addf(&f, "runuser -u %s -- chgrp %s%s && ", owner,
			    group, dirs.buf);
		sbuf_addf(&f, "runuser -u %s -- chgrp -R %s ", owner, group);
		sbuf_add_shell(&f, repo);
		sbuf_adds(&f, " && ");
	}
	if (dirs.len)
		sbuf_addf(&f, "%s%s%schmod g+x%s && ", owner ? "runuser -u " : "",
		    owner ? owner : "", owner ? " -- " : "", dirs.buf);
	sbuf_addf(&f, "%s%s%schmod -R g+rX ", owner ? "runuser -u " : "",
	    owner ? owner : "", owner ? " -- " : "");
	sbuf_add_shell(&f, repo);
	if (join)
		sbuf_adds(&f, "; then restart the daemon (it has the groups it "
		    "started with)");
	*fix = sbuf_detach(&f);
out:
	sbuf_release(&dirs);
	sbuf_release(&f);
	free(path);
	free(real);
	free(user);
	free(owner);
	free(group);
	return why;
}

/*
 * Why update `u` of a spool entry is not one the hook writes, or NULL: a
 * ref as hook_parse() takes it, commit ids of 40 or 64 hex digits, and a
 * repository path without control characters (a reason, a log line and
 * a fix are lines; a newline in a path would start the next one).
 */
static char *bad_update(const struct push *u)
{
	size_t hl = strlen(u->new);

	for (const unsigned char *c = (const unsigned char *)u->repo; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return xstrdup("its repository path has a control "
			    "character");
	if (!hook_valid_ref(u->ref, strlen(u->ref)))
		return xstrdup("it names a ref that git would not have pushed");
	if ((hl != 40 && hl != 64) || strlen(u->old) != hl ||
	    !hook_is_hex(u->new, hl) || !hook_is_hex(u->old, hl))
		return xstrdup("its commit ids are not 40 or 64 hex digits");
	return NULL;
}

/* One look at the spool by the daemon. */
struct ingest {
	struct store *s;
	const struct config *conf;
	int sfd;		/* spool/ */
	int hfd;		/* spool/held/, the daemon's own; or -1 */
	const char *dir;	/* spool/'s path, for the log */
	int total;		/* jobs queued */
	size_t held;		/* entries still held */
};

/*
 * Keep entry `name` (in folder `from`: the spool, or held/ where it was
 * held before) in held/ for `why`, which `fix` fixes; the reason is
 * written beside it first, so that status always finds one. Said once on
 * the log as an error, and again only if the reason changes; the daemon
 * tries it again every SPOOL_HELD_RETRY_MS.
 */
static void hold_entry(struct ingest *in, int from, const char *name,
    const char *why, const char *fix)
{
	char *old = NULL, *oldfix = NULL, *to = NULL;
	struct stat st;

	in->held++;
	if (from == in->hfd) {
		if (spool_why_read(from, name, &old, &oldfix) == 0 &&
		    !strcmp(old, why))
			goto out;
		spool_why_write(from, name, why, fix);
		log_line("error: spool: held push '%s/%s/%s' still cannot be "
		    "queued: %s; fix: %s", in->dir, SPOOL_HELD, name, why, fix);
		goto out;
	}
	if (in->hfd < 0)	/* the first push held */
		in->hfd = spool_own_dir(in->sfd, SPOOL_HELD, 1);
	to = fstatat(in->hfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ?
	    xasprintf("%lld.%s", (long long)now_ms(), name) : xstrdup(name);
	if (in->hfd < 0 || spool_why_write(in->hfd, to, why, fix) < 0 ||
	    renameat2(from, name, in->hfd, to, RENAME_NOREPLACE) < 0) {
		if (in->hfd >= 0)
			spool_why_remove(in->hfd, to);
		log_line("error: spool: push '%s/%s' cannot be queued now: %s; "
		    "fix: %s; it stays in the spool (%s/ is not the runner's "
		    "own folder, 0700: move it away)", in->dir, name, why, fix,
		    SPOOL_HELD);
		goto out;
	}
	log_line("error: spool: push '%s/%s' held: %s; fix: %s; it is queued "
	    "by itself once that is fixed ('runner status' shows it)", in->dir,
	    to, why, fix);
out:
	free(old);
	free(oldfix);
	free(to);
}

/* Is an entry of owner `uid` one of the runner's own hook, which waits
 * for the daemon's answer (hand_to_daemon)? */
static int answered(uid_t uid)
{
	return uid == geteuid() || uid == 0;
}

/*
 * Queue the pushes of spool entry `name` (in folder `from`: the spool, or
 * held/) that runner.yml's triggers match, then remove it; adds the jobs
 * it queued to in->total. The group of the hook writes the spool, so the
 * entry is opened first (no link followed, a FIFO does not block), and
 * then judged by what the descriptor shows: a regular file with one name,
 * of at most HOOK_MAX_INPUT bytes, naming only repositories that its
 * owner owns (the hook's group must not make the runner build a
 * repository its member could not push to; no owner, root or the runner's
 * own user, is trusted more). Anything else is refused (refuse_entry),
 * with its reason. A repository the daemon cannot read now holds the
 * entry (hold_entry) until it can. The entry stays if the store refuses.
 * Nothing is removed before its jobs are in the store.
 */
static int ingest_file(struct ingest *in, int from, const char *name)
{
	struct store *s = in->s;
	const struct config *conf = in->conf;
	const char *dir = in->dir;
	struct sbuf buf = SBUF_INIT;
	struct push *p = NULL, *q = NULL;
	struct enqueued *res = NULL;
	struct hook_update *ups = NULL;
	struct sbuf *vars = NULL;
	size_t n = 0, at = 0, nq = 0, pcap = 0;
	char *path = xasprintf("%s/%s", dir, name), *why = NULL, *hold = NULL;
	char *fix = NULL;
	const char *owned = NULL;
	struct stat st = { 0 }, now;
	struct who who = WHO_INIT;
	struct sbuf answer = SBUF_INIT;
	int fd, error = 0, answer_it = 0;

	fd = openat(from, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)	/* else taken away meanwhile */
			why = errno == ELOOP ? xstrdup("it is a symbolic link") :
			    xasprintf("cannot open it: %s", strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0)
		why = xasprintf("cannot read it: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		why = xstrdup("it is not a regular file");
	else if (st.st_nlink != 1)
		why = xasprintf("it has %ju names (a link to another file)",
		    (uintmax_t)st.st_nlink);
	else if (st.st_size > HOOK_MAX_INPUT)
		why = xasprintf("it is larger than %d bytes", HOOK_MAX_INPUT);
	else if (read_fd(fd, path, HOOK_MAX_INPUT, &buf) < 0)
		why = xstrdup(error_last());
	/* (SQLite's hook queues by itself, and spools only what it cannot:
	 * no one waits for an answer) */
	answer_it = s && !store_is_sqlite(s) && S_ISREG(st.st_mode) &&
	    answered(st.st_uid);
	if (why)
		goto out;
	for (;;) {
		const char *f[6] = { 0 };	/* all six set, or none used */
		int k;
		for (k = 0; k < 6 && at < buf.len; k++) {
			f[k] = buf.buf + at;
			at += strlen(f[k]) + 1;
		}
		if (k < 6)
			break;
		p = xgrow(p, n, &pcap, sizeof(*p));
		p[n++] = (struct push){ f[0], f[1], f[2], f[3], NULL,
		    NULL, *f[4] ? f[4] : NULL, NULL, NULL };
		/* who pushed: the file's owner, as the kernel says; what
		 * the entry claims is only that user's claim */
		if (n == 1)
			who_decode(f[5], st.st_uid, &who);
	}
	/* the hook wrote what git said, which hook_parse() checked; another
	 * member of the group may write anything: the same checks, and a
	 * path that a line-based reason, log line or fix can show */
	for (size_t i = 0; i < n && !why; i++)
		why = bad_update(&p[i]);
	for (size_t i = 0; i < n && !why && !hold; i++) {
		struct stat rs;
		int err;
		if (p[i].repo[0] != '/' || (owned && !strcmp(owned, p[i].repo)))
			continue;
		/* the hook spools the repository's real path: another
		 * spelling ('..', a link) would pass the owner's check as one
		 * repository and match runner.yml as another */
		char *real = realpath(p[i].repo, NULL);
		err = real ? 0 : errno;
		/* a repository the daemon may not read now (gitolite's UMASK
		 * 0077, a group not given yet) waits for the fix */
		if (err == EACCES || err == EPERM || (real &&
		    (err = repo_unreadable(p[i].repo)) && (err == EACCES ||
		    err == EPERM)))
			hold = unreadable_repo(p[i].repo, err, st.st_uid, &fix,
			    &why);
		else if (!real)
			why = xasprintf("it names repository '%s', which cannot be "
			    "found: %s", p[i].repo, strerror(err));
		else if (strcmp(real, p[i].repo))
			why = xasprintf("it names repository '%s', which is not "
			    "that repository's real path", p[i].repo);
		else if (stat(p[i].repo, &rs) < 0 || rs.st_uid != st.st_uid)
			why = xasprintf("it names repository '%s', which its "
			    "owner (uid %d) does not own", p[i].repo,
			    (int)st.st_uid);
		free(real);
		owned = p[i].repo;
	}
	if (why || hold)
		goto out;
	/* the pushes point into these until they are enqueued */
	ups = xcalloc(n ? n : 1, sizeof(*ups));
	vars = xcalloc(n ? n : 1, sizeof(*vars));
	q = xcalloc(n ? n : 1, sizeof(*q));
	for (size_t i = 0; i < n; i++) {
		struct hook_update *u = &ups[i];
		u->ref = (char *)p[i].ref;
		snprintf(u->old, sizeof(u->old), "%s", p[i].old);
		snprintf(u->new, sizeof(u->new), "%s", p[i].new);
		if (p[i].repo[0] != '/' || strlen(p[i].new) >= sizeof(u->new))
			continue;
		size_t k = hook_match(conf, p[i].repo, u, 1, q + nq, stderr);
		if (k)
			q[nq].who = &who;
		/* a spool file is written by another user: its variables
		 * are checked here as the hook checks a push's */
		if (k && p[i].variables) {
			vars[i] = (struct sbuf)SBUF_INIT;
			sbuf_adds(&vars[i], p[i].variables);
			hook_variables_allowed(conf, p[i].repo, &vars[i], stderr,
			    "runner: spooled push: ");
			q[nq].variables = vars[i].len ? vars[i].buf : NULL;
		}
		nq += k;
	}
	res = xcalloc(nq ? nq : 1, sizeof(*res));
	/* enqueueing twice is harmless: a push is queued once */
	if (nq && (error = store_enqueue(s, q, nq, res)) < 0)
		goto out;
	for (size_t i = 0; i < nq; i++)
		in->total += !res[i].duplicate;
	/* told before the entry goes: a hook that sees it gone and no
	 * answer syncs nothing that is not there */
	for (size_t i = 0; answer_it && i < nq; i++)
		sbuf_addf(&answer, "job %lld %d %s %s\n", (long long)res[i].id,
		    res[i].duplicate, q[i].new, q[i].ref);
	if (answer_it)
		spool_answer_write(in->sfd, name, nq ? answer.buf : "none\n");
	/* the entry read, unless another took its name meanwhile (the next
	 * look reads that one) */
	if (fstatat(from, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now.st_dev == st.st_dev && now.st_ino == st.st_ino)
		unlinkat(from, name, 0);
	if (from == in->hfd) {
		spool_why_remove(from, name);
		log_line("spool: held push '%s/%s/%s' taken: %zu update%s "
		    "matched runner.yml", dir, SPOOL_HELD, name, nq, nq == 1 ?
		    "" : "s");
	}
out:
	/* the runner's own hook did not sync it (it waited for the jobs
	 * instead): set aside, it must be on disk */
	if (answer_it && (why || hold))
		fsync(fd);
	if (answer_it && (why || hold || error < 0)) {
		sbuf_reset(&answer);
		if (why)
			sbuf_addf(&answer, "refused %s\n", why);
		else if (hold)
			sbuf_addf(&answer, "held %s\n%s\n", hold, fix ? fix : "");
		else
			sbuf_addf(&answer, "error %s\n", error_last());
		spool_answer_write(in->sfd, name, answer.buf);
	}
	if (why)
		refuse_entry(from, in->sfd, dir, name, why);
	else if (hold)
		hold_entry(in, from, name, hold, fix);
	if (fd >= 0)
		close(fd);
	sbuf_release(&answer);
	for (size_t i = 0; vars && i < n; i++)
		if (vars[i].buf)
			sbuf_release(&vars[i]);
	free(vars);
	free(why);
	free(hold);
	free(fix);
	free(path);
	free(res);
	free(q);
	free(ups);
	free(p);
	who_release(&who);
	sbuf_release(&buf);
	return error;
}

/* Every entry of folder `fd` (the spool, or held/), until the store
 * refuses. */
static int ingest_dir(struct ingest *in, int fd)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;
	int error = 0;

	if (dup_fd >= 0 && !d)
		close(dup_fd);
	while (error == 0 && d && (de = readdir(d)))
		if (spool_is_entry(de->d_name))
			error = ingest_file(in, fd, de->d_name);
	if (d)
		closedir(d);
	return error;
}

/* How many pushes folder `fd` (held/) holds. */
static size_t count_entries(int fd)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;
	size_t n = 0;

	if (dup_fd >= 0 && !d)
		close(dup_fd);
	while (d && (de = readdir(d)))
		n += spool_is_entry(de->d_name);
	if (d)
		closedir(d);
	return n;
}

int hook_spool_ingest(const char *home, const struct config *conf,
    struct store *s, int retry_held, size_t *held)
{
	static int64_t expire_at;
	char *dir = xasprintf("%s/%s", home, SPOOL_DIR);
	struct ingest in = { s, conf, -1, -1, dir, 0, 0 };
	int error = 0;

	in.sfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (in.sfd >= 0)
		in.hfd = spool_own_dir(in.sfd, SPOOL_HELD, 0);
	if (in.sfd >= 0 && mono_ms() >= expire_at) {
		spool_answers_expire(in.sfd);
		expire_at = mono_ms() + 60000;
	}
	/* the held ones first: they are older */
	if (retry_held && in.hfd >= 0)
		error = ingest_dir(&in, in.hfd);
	if (error == 0 && in.sfd >= 0)
		error = ingest_dir(&in, in.sfd);
	/* the store refused: the entries after the one it refused are not
	 * tried, and the hooks that wait for them hear why at once */
	if (error < 0 && s && !store_is_sqlite(s)) {
		char *why = xstrdup(error_last());
		hook_spool_unqueued(home, why);
		error = error_set(error, "%s", why);
		free(why);
	}
	if (!retry_held && in.hfd >= 0)
		/* not tried now: still held (with those held just now) */
		in.held = count_entries(in.hfd);
	if (in.hfd >= 0)
		close(in.hfd);
	if (in.sfd >= 0)
		close(in.sfd);
	free(dir);
	*held = in.held;
	return error < 0 ? error : in.total;
}

void hook_spool_unqueued(const char *home, const char *why)
{
	char *dir = xasprintf("%s/%s", home, SPOOL_DIR), *text;
	int sfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int tfd = sfd >= 0 ? spool_own_dir(sfd, SPOOL_TAKEN, 1) : -1;
	int dup_fd = sfd >= 0 ? fcntl(sfd, F_DUPFD_CLOEXEC, 0) : -1;
	DIR *d = NULL;
	struct dirent *de;
	struct stat st;

	if (dup_fd >= 0 && !(d = fdopendir(dup_fd)))
		close(dup_fd);
	text = xasprintf("error %s\n", why);
	if (d != NULL && tfd >= 0) {
		while ((de = readdir(d)))
			if (spool_is_entry(de->d_name) && fstatat(sfd,
			    de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(st.st_mode) && answered(st.st_uid) &&
			    faccessat(tfd, de->d_name, F_OK,
			    AT_SYMLINK_NOFOLLOW) < 0)
				spool_answer_write(sfd, de->d_name, text);
	}
	if (d)
		closedir(d);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	free(text);
	free(dir);
}
