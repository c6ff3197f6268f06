/*
 * The post-receive path. It does the least work that makes a push durable:
 * parse, match, one INSERT transaction, one datagram; on PostgreSQL, with
 * the daemon serving, one spool file the daemon queues on its connection
 * and answers (hand_to_daemon). Everything else (checkout, reading the
 * pipeline) waits for the daemon.
 */
#include "hook.h"
#include "ask.h"
#include "config.h"
#include "follow.h"
#include "envvar.h"
#include "run.h"
#include "store.h"
#include "jobs.h"
#include "util.h"
#include "refmatch.h"
#include "reserve.h"
#include "spool.h"
#include "wake.h"
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

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int valid_ref(const char *r, size_t n)
{
	if (n < 6 || n > HOOK_REF_MAX || strncmp(r, "refs/", 5))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r[i];
		if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' ||
		    c == ':' || c == '?' || c == '*' || c == '[' || c == '\\')
			return 0;
	}
	return !memmem(r, n, "..", 2);
}

void hook_parse(const char *buf, size_t len, struct hook_update **out,
    size_t *n, size_t *bad)
{
	struct hook_update *v = NULL;
	const char *p = buf, *end = buf + len;
	size_t cap = 0;

	*n = *bad = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t ll = (size_t)(eol - p);
		const char *sp1 = memchr(p, ' ', ll);
		const char *sp2 = sp1 ? memchr(sp1 + 1, ' ',
		    (size_t)(eol - sp1 - 1)) : NULL;

		if (ll == 0) {
			p = eol + 1;
			continue;
		}
		size_t hl = sp1 ? (size_t)(sp1 - p) : 0;
		if (!sp2 || (hl != 40 && hl != 64) ||
		    (size_t)(sp2 - sp1 - 1) != hl || !is_hex(p, hl) ||
		    !is_hex(sp1 + 1, hl) || !valid_ref(sp2 + 1,
		    (size_t)(eol - sp2 - 1)) || *n >= HOOK_MAX_LINES) {
			(*bad)++;
			p = eol + 1;
			continue;
		}
		v = xgrow(v, *n, &cap, sizeof(*v));
		struct hook_update *u = &v[(*n)++];
		memcpy(u->old, p, hl);
		u->old[hl] = '\0';
		memcpy(u->new, sp1 + 1, hl);
		u->new[hl] = '\0';
		u->ref = xstrndup(sp2 + 1, (size_t)(eol - sp2 - 1));
		p = eol + 1;
	}
	*out = v;
}

void hook_updates_free(struct hook_update *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(u[i].ref);
	free(u);
}

int hook_zero_id(const char *hex)
{
	return strspn(hex, "0") == strlen(hex);
}

/*
 * Keep in `vars` only the variables runner.yml lets a push to `repo`
 * set; say each refused one on `msg`, prefixed by `prefix`.
 */
static void variables_allowed(const struct config *conf, const char *repo,
    struct sbuf *vars, FILE *msg, const char *prefix)
{
	struct sbuf kept = SBUF_INIT, refused = SBUF_INIT;

	if (!vars->len)
		return;
	if (config_variables_filter(conf, repo, vars->buf, &kept, &refused)) {
		for (char *p = refused.buf, *nl; *p; p = nl + 1) {
			nl = strchr(p, '\n');
			fprintf(msg, "%s%.*s\n", prefix, (int)(nl - p), p);
		}
	}
	sbuf_release(vars);
	*vars = kept;
	sbuf_release(&refused);
}

void hook_push_options(FILE *msg, int *skip, int *wait, struct sbuf *vars)
{
	const char *count = getenv("GIT_PUSH_OPTION_COUNT");
	int n = count ? atoi(count) : 0, nvars = 0;

	*skip = *wait = 0;
	for (int i = 0; i < n && i < 1000; i++) {
		char key[40];
		const char *v, *why;
		snprintf(key, sizeof(key), "GIT_PUSH_OPTION_%d", i);
		if (!(v = getenv(key)) || strncmp(v, "ci.", 3))
			continue;	/* another tool's */
		if (!strcmp(v, "ci.skip")) {
			*skip = 1;
		} else if (!strcmp(v, "ci.wait")) {
			*wait = 1;
		} else if (!strncmp(v, "ci.variable=", 12)) {
			if ((why = envvar_why(v + 12)))
				fprintf(msg, "runner: warning: push option '%.100s' "
				    "ignored: %s\n", v, why);
			else if (++nvars > 64)
				fprintf(msg, "runner: warning: push option '%.100s' "
				    "ignored: at most 64 variables\n", v);
			else
				sbuf_addf(vars, "%s\n", v + 12);
		} else {
			fprintf(msg, "runner: warning: unknown push option "
			    "'%.100s' ignored (the runner knows ci.skip, ci.wait "
			    "and ci.variable=NAME=VALUE)\n", v);
		}
	}
}

/*
 * One file per push: each ref update as six fields (repo, ref, old, new,
 * the push's variables, and what the transport claims about the pusher,
 * who_encode()'s lines; older spools have it empty), each ended by a NUL,
 * written
 * to a temporary name, synced and renamed, so the daemon never reads half
 * of one. The daemon matches the updates against runner.yml itself: what
 * a spool file asks for is no more than the push it records.
 */
static int spool(const char *home, const struct push *p, size_t n,
    int sync, char **entry)
{
	char *dir = xasprintf("%s/%s", home, SPOOL_DIR), *path;
	struct sbuf sb = SBUF_INIT;
	struct timespec ts;
	int error;

	struct stat st;
	if (stat(home, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(dir);	/* a home that is gone is not made again here */
		return error_set(ERR_NOTFOUND, "home '%s' does not exist", home);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	path = xasprintf("%s/%lld.%09ld.%d.push", dir, (long long)ts.tv_sec,
	    ts.tv_nsec, (int)getpid());
	for (size_t i = 0; i < n; i++) {
		/* the daemon takes who wrote the file from its owner; only
		 * the claims beside that name are written */
		struct sbuf claims = SBUF_INIT;
		if (p[i].who)
			who_encode(p[i].who, &claims);
		const char *f[] = { p[i].repo, p[i].ref, p[i].old, p[i].new,
		    p[i].variables ? p[i].variables : "", claims.buf };
		for (int k = 0; k < 6; k++)
			sbuf_add(&sb, f[k], strlen(f[k]) + 1);
		sbuf_release(&claims);
	}
	/* the spool folder is made by 'runner init'; readable by the daemon
	 * through its group, whoever the hook runs as */
	if ((error = mkdir_p(dir, 02730)) == 0)
		/* a random temporary made with O_EXCL, the folder synced: the
		 * other members of the group, who write here too, cannot lead
		 * the write elsewhere */
		error = write_file_renamed(path, sb.buf, sb.len, 0640, sync);
	/* a full disk: the spool's reserve is there for this */
	if (error == ERR_NOSPACE && reserve_release(home, RESERVE_SPOOL))
		error = write_file_renamed(path, sb.buf, sb.len, 0640, sync);
	sbuf_release(&sb);
	if (entry && error == 0)
		*entry = xstrdup(strrchr(path, '/') + 1);
	free(path);
	free(dir);
	return error;
}

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

/*
 * Why the daemon cannot read repository `repo` now, and the fix: the
 * first folder on the way to its objects that the daemon's user may not
 * enter, and the group bits that let it in (its user in that folder's
 * group, the repositories' owner's). Caller frees both. The path is the
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
	if (gr && !spool_in_group(st.st_gid))
		sbuf_addf(&f, "usermod -aG %s %s && ", gr->gr_name, user);
	if (!owner)
		sbuf_addf(&f, "as uid %d, the repository's owner: ", (int)writer);
	if (dirs.len)
		sbuf_addf(&f, "%s%s%schmod g+x%s && ", owner ? "runuser -u " : "",
		    owner ? owner : "", owner ? " -- " : "", dirs.buf);
	sbuf_addf(&f, "%s%s%schmod -R g+rX ", owner ? "runuser -u " : "",
	    owner ? owner : "", owner ? " -- " : "");
	sbuf_add_shell(&f, repo);
	if (gr && !spool_in_group(st.st_gid))
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
	if (!valid_ref(u->ref, strlen(u->ref)))
		return xstrdup("it names a ref that git would not have pushed");
	if ((hl != 40 && hl != 64) || strlen(u->old) != hl ||
	    !is_hex(u->new, hl) || !is_hex(u->old, hl))
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
			variables_allowed(conf, p[i].repo, &vars[i], stderr,
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

size_t hook_match(const struct config *conf, const char *repo,
    const struct hook_update *updates, size_t n, struct push *out,
    FILE *msg)
{
	const struct repo_conf *rc = config_repo(conf, repo);
	struct ref_matcher branches = { 0 }, tags = { 0 };
	size_t np = 0;

	if (ref_matcher_init(&branches, rc->branches, msg) < 0 ||
	    ref_matcher_init(&tags, rc->release_tags, msg) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct hook_update *u = &updates[i];

		if (hook_zero_id(u->new))
			continue;
		if (!strncmp(u->ref, "refs/heads/", 11) &&
		    ref_matcher_match(&branches, u->ref + 11, msg))
			out[np++] = (struct push){ repo, u->ref, u->old, u->new,
			    NULL, NULL, NULL, NULL, NULL };
		else if (!strncmp(u->ref, "refs/tags/", 10) &&
		    ref_matcher_match(&tags, u->ref + 10, msg))
			out[np++] = (struct push){ repo, u->ref, u->old, u->new,
			    RELEASE_ENV, u->ref + 10, NULL, NULL, NULL };
	}
out:
	ref_matcher_release(&branches);
	ref_matcher_release(&tags);
	return np;
}

/* Say that the daemon could not be woken, if so. */
static void wake(const char *home, FILE *msg)
{
	int e = wake_send(home, WAKE_JOBS);

	if (e)
		fprintf(msg, "runner: warning: could not wake the daemon: %s; it "
		    "finds the push within a second\n", strerror(e));
}

/*
 * The push could not be handed over: say so plainly, loud enough to be
 * seen among git's lines, with the fix, and never that it will be found.
 */
static void lost_push(const char *home, FILE *msg)
{
	char *cause = xstrdup(error_last()), *fix = NULL;
	char *why = spool_unwritable(home, &fix);

	fprintf(msg, "runner: ERROR: NOTHING WAS QUEUED for this push: %s\n"
	    "runner: the push itself is stored, but the runner will never see "
	    "it.\n", why ? why : cause);
	if (fix)
		fprintf(msg, "runner: fix: %s; then push again (or run 'runner "
		    "run' on the runner's host).\n", fix);
	else
		fprintf(msg, "runner: push again once that is fixed (or run "
		    "'runner run' on the runner's host).\n");
	free(cause);
	free(why);
	free(fix);
}

/*
 * The processes that started this hook, up to LINEAGE_MAX: git
 * receive-pack and whatever started it (sshd's session, a shell, git
 * push itself). A pusher who hangs up ends that session, but git keeps
 * the hook's output open (it stops reading it), so the hook learns of it
 * by the process that started receive-pack going away.
 */
#define LINEAGE_MAX 4

struct lineage {
	pid_t pid[LINEAGE_MAX], ppid[LINEAGE_MAX];
	int n;
};

/* The parent of `pid` as /proc says, or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64];
	struct sbuf buf = SBUF_INIT;
	const char *p;
	pid_t pp = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	/* "pid (comm) state ppid ...": the name may hold anything */
	if (read_file(path, 4096, &buf) == 0 && (p = strrchr(buf.buf, ')')) &&
	    p[1] == ' ' && p[2] && p[3] == ' ')
		pp = (pid_t)strtol(p + 4, NULL, 10);
	sbuf_release(&buf);
	return pp;
}

static void lineage_init(struct lineage *l)
{
	pid_t pid = getppid();

	l->n = 0;
	while (l->n < LINEAGE_MAX && pid > 1) {
		pid_t pp = parent_of(pid);
		if (pp < 0)
			break;
		l->pid[l->n] = pid;
		l->ppid[l->n++] = pp;
		pid = pp;
	}
}

/* Has a process that started the hook gone, or been handed to another
 * parent (its own ended)? */
static int lineage_broken(const struct lineage *l)
{
	for (int i = 0; i < l->n; i++)
		if (parent_of(l->pid[i]) != l->ppid[i])
			return 1;
	return 0;
}

/* Has the reader of `msg` gone (the push interrupted)? A pipe's write
 * end reports it without a write; the pusher's session ending says it
 * where git keeps the pipe open. */
static int gone(FILE *msg, const struct lineage *l)
{
	struct pollfd p = { fileno(msg), POLLOUT, 0 };

	return (poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP))) ||
	    (l && lineage_broken(l));
}

/* The lines for the hook's own output (the push's). */
struct hook_say {
	struct say say;
	FILE *msg;
	struct lineage lineage;
};

static int file_line(struct say *s, const char *text)
{
	struct hook_say *h = s->arg;

	fprintf(h->msg, "%s\n", text);
	return fflush(h->msg) == EOF || ferror(h->msg) ? -1 : 0;
}

static int file_gone(struct say *s)
{
	struct hook_say *h = s->arg;

	return gone(h->msg, &h->lineage);
}

/* A line the daemon said, for the push's output: shown as text, never
 * as a terminal's escape. */
static int relay(FILE *msg, const char *text)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_add_display(&sb, text, strlen(text));
	fprintf(msg, "%s\n", sb.buf);
	sbuf_release(&sb);
	return fflush(msg) == EOF || ferror(msg) ? -1 : 0;
}

/*
 * Ask the daemon what became of the spool entry `entry` that holds the
 * `np` updates `p` of repository `repo`, and say its answer: the jobs it
 * queued (with links), or why it holds the push; with `wait` it then
 * follows them as for the runner's own user (ask.h). A daemon that is not
 * there, busy or silent is said in one line, at once or within the
 * bounds of ask.h: the push is handed over whatever it answers. A push
 * interrupted (its output closed) stops the asking, never a job.
 */
static void ask_daemon(const char *home, const char *repo,
    const char *entry, const struct push *p, size_t np, int wait,
    FILE *msg)
{
	struct ask_conn c;
	struct sbuf req = SBUF_INIT;
	int64_t deadline = mono_ms() + ASK_TAKE_MS + ASK_SLACK_MS;
	int error, done = 0;
	struct lineage lineage;
	char *line;

	/* a closed output (the push interrupted) is an error to see, not a
	 * signal to die of */
	signal(SIGPIPE, SIG_IGN);
	lineage_init(&lineage);
	if ((error = ask_connect(home, repo, &c)) < 0) {
		fprintf(msg, "runner: %s: %s: it queues the push when it %s%s\n",
		    error == ERR_NOTFOUND ? "the runner's daemon is not running" :
		    "cannot ask the runner's daemon", error == ERR_NOTFOUND ?
		    "no job number yet" : error_last(), error == ERR_NOTFOUND ?
		    "starts" : "looks (within a second)", wait ?
		    "; ci.wait cannot follow it" : "");
		return;
	}
	sbuf_addf(&req, "spool %s\n%s", entry, wait ? "wait\n" : "");
	for (size_t i = 0; i < np; i++)
		sbuf_addf(&req, "update %s %s %s\n", p[i].old, p[i].new, p[i].ref);
	sbuf_adds(&req, "end\n");
	error = ask_write(&c, req.buf, req.len, mono_ms() + ASK_REQUEST_MS);
	sbuf_release(&req);
	while (error == 0 && !done) {
		/* a second at a time: the pusher may have hung up */
		error = ask_read_line(&c, deadline_min(deadline, mono_ms() + 1000),
		    fileno(msg), &line);
		if (error == ERR_TIMEOUT && mono_ms() < deadline) {
			error = lineage_broken(&lineage) ? error_set(ASK_GONE,
			    "the pusher hung up") : 0;
			continue;
		}
		if (error < 0)
			break;
		if (!strncmp(line, "say ", 4)) {
			if (relay(msg, line + 4) < 0)
				error = ASK_GONE;
		} else if (!strncmp(line, "wait ", 5)) {
			/* it follows the jobs this long: the answer is bounded */
			long long ms = strtoll(line + 5, NULL, 10);
			if (ms > 0 && ms < 7LL * 24 * 3600 * 1000)
				deadline = mono_ms() + ms + ASK_SLACK_MS;
		} else if (!strcmp(line, "done")) {
			done = 1;
		} else if (!strcmp(line, "busy")) {
			fprintf(msg, "runner: the runner's daemon answers too many "
			    "pushes at the moment: no job number; the push is "
			    "handed over and queued all the same\n");
			done = 1;
		} else if (!strncmp(line, "error ", 6)) {
			char *said = xasprintf("runner: warning: the runner's daemon "
			    "did not answer: %s; the push is handed over", line + 6);
			relay(msg, said);
			free(said);
			done = 1;
		}
	}
	if (!done && error != ASK_GONE)
		fprintf(msg, "runner: warning: the runner's daemon stopped "
		    "answering (%s); the push is handed over, and its jobs go on\n",
		    error_last());
	fflush(msg);
	ask_close(&c);
}

/*
 * The hook of a user who may not write the store (the git server's user,
 * when the runner's is another): it hands every branch and tag update to
 * the spool, which install-hook made writable for it, and the daemon
 * matches them against runner.yml, which that user cannot read; then it
 * asks the daemon for the jobs (ask_daemon).
 */
static int hand_over(const char *home, const char *repo,
    const struct hook_update *updates, size_t n, const char *vars,
    const struct who *who, int wait, FILE *msg)
{
	struct push *p = xcalloc(n ? n : 1, sizeof(*p));
	size_t np = 0;
	int error = 0;
	char *entry = NULL;

	for (size_t i = 0; i < n; i++)
		if (!hook_zero_id(updates[i].new) &&
		    (!strncmp(updates[i].ref, "refs/heads/", 11) ||
		    !strncmp(updates[i].ref, "refs/tags/", 10)))
			p[np++] = (struct push){ repo, updates[i].ref,
			    updates[i].old, updates[i].new, NULL, NULL, vars, NULL,
			    who };
	if (np && (error = spool(home, p, np, 1, &entry)) == ERR_NOSPACE)
		fprintf(msg, "runner: error: %s: the runner's disk is full; "
		    "NOTHING WAS QUEUED for this push: push again once there is "
		    "room (or run 'runner run' on the runner's host)\n",
		    error_last());
	else if (np && error < 0)
		lost_push(home, msg);
	else if (np)
		fprintf(msg, "runner: handed %zu update%s to the runner\n", np,
		    np == 1 ? "" : "s");
	fflush(msg);
	/* the daemon is woken only for what it can find */
	if (np && error == 0) {
		wake(home, msg);
		ask_daemon(home, repo, entry, p, np, wait, msg);
	}
	free(entry);
	free(p);
	return error < 0 ? error : (int)np;
}

/*
 * The daemon's answer about spool entry `entry` (spool/taken/ENTRY,
 * spool_answer_write), waited for until `deadline` (mono ms): the text,
 * or NULL. The folder is the daemon's own; read as its user or as root,
 * without following a link.
 */
static char *await_answer(const char *home, const char *entry,
    int64_t deadline)
{
	char *dir = xasprintf("%s/%s/%s", home, SPOOL_DIR, SPOOL_TAKEN);
	int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), wd = -1;
	struct sbuf text = SBUF_INIT;
	int got = 0;

	if (ifd >= 0)
		wd = inotify_add_watch(ifd, dir, IN_CLOSE_WRITE | IN_ONLYDIR |
		    IN_DONT_FOLLOW);
	for (;;) {
		int tfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC), fd = -1;
		struct stat st;
		if (tfd >= 0)
			fd = openat(tfd, entry, O_RDONLY | O_NOFOLLOW |
			    O_NONBLOCK | O_CLOEXEC);
		/* empty: being written (its close wakes this) */
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    read_fd(fd, entry, 2 * HOOK_MAX_INPUT, &text) == 0 &&
		    text.len && text.buf[text.len - 1] == '\n')
			got = 1;
		else
			sbuf_reset(&text);
		if (fd >= 0)
			close(fd);
		if (tfd >= 0)
			close(tfd);
		int64_t left = deadline - mono_ms();
		if (got || left <= 0)
			break;
		/* woken when the answer is written; a folder not made yet
		 * (a daemon that has not looked at the spool) is looked at */
		struct pollfd p = { ifd, POLLIN, 0 };
		if (poll(wd >= 0 ? &p : NULL, wd >= 0, wd >= 0 ?
		    (int)(left < 1000 ? left : 1000) : 10) > 0) {
			char buf[4096];
			while (read(ifd, buf, sizeof(buf)) > 0)
				;
		}
	}
	if (ifd >= 0)
		close(ifd);
	free(dir);
	if (!got)
		sbuf_release(&text);
	return got ? sbuf_detach(&text) : NULL;
}

/* The spool's entry `entry`, if it is still there, on disk: the file
 * and its name. */
static int sync_entry(const char *home, const char *entry)
{
	char *dir = xasprintf("%s/%s", home, SPOOL_DIR);
	int sfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int fd = sfd >= 0 ? openat(sfd, entry, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC) : -1, error = 0;

	if ((fd < 0 && errno != ENOENT) || (fd >= 0 && (fsync(fd) < 0 ||
	    fsync(sfd) < 0)))
		error = error_set(errno == ENOSPC ? ERR_NOSPACE : -1, "cannot "
		    "sync '%s/%s': %s", dir, entry, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	free(dir);
	return error;
}

/* Is the daemon serving this home? It holds a lock on its pid file. */
static int daemon_serving(const char *home)
{
	char *path = xasprintf("%s/runner.pid", home);
	int fd = open(path, O_RDONLY | O_CLOEXEC), serving = 0;

	if (fd >= 0) {
		serving = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		close(fd);
	}
	free(path);
	return serving;
}

/*
 * A PostgreSQL store, and the daemon serving: the hook does not connect
 * to the server (loading the client library and connecting cost more
 * than a whole push does with SQLite). It writes the pushes to the
 * spool, unsynced, and wakes the daemon, which queues them at once on
 * the connection it keeps and answers (spool_answer_write): the jobs it
 * queued, or why not. Once it answered with jobs, they are in the store,
 * and the push says them as with SQLite. Without that answer (the store
 * down, the daemon busy past HOOK_TAKE_MS) the entry is synced, stays
 * for the daemon, and the push says so. 1 when handed over; 0 when the
 * spool cannot be written: the caller queues the pushes itself.
 */
static int hand_to_daemon(const char *home, const char *url,
    const struct config *conf, const struct push *p, size_t np,
    int wait_for, struct hook_say *hs)
{
	FILE *msg = hs->msg;
	char *entry = NULL, *answer = NULL, *why = NULL;
	int64_t *ids = NULL;
	size_t nids = 0;

	if (spool(home, p, np, 0, &entry) < 0 || !entry) {
		error_clear();
		return 0;
	}
	wake(home, msg);
	answer = await_answer(home, entry, mono_ms() + HOOK_TAKE_MS);
	ids = xcalloc(np, sizeof(*ids));
	for (char *line = answer, *nl; line && *line; line = nl + 1) {
		long long id;
		char commit[65];
		int dup, at = 0;
		if (!(nl = strchr(line, '\n')))
			break;
		*nl = '\0';
		/* "job ID DUPLICATE COMMIT REF" */
		if (sscanf(line, "job %lld %d %64s %n", &id, &dup, commit,
		    &at) == 3 && at > 0 && nids < np) {
			ids[nids++] = id;
			follow_say_queued(&hs->say, id, dup, line + at, commit,
			    RELEASE_ENV, conf->http.base_url);
		} else if (!strcmp(line, "none")) {
			fprintf(msg, "runner: no job for this push: runner.yml's "
			    "branches and release_tags for this repository match "
			    "none of its refs\n");
		} else if (!strncmp(line, "held ", 5)) {
			fprintf(msg, "runner: NOTHING IS QUEUED YET for this push: "
			    "the runner cannot take it now: %s\n", line + 5);
			if (nl[1] && strchr(nl + 1, '\n') != nl + 1)
				fprintf(msg, "runner: it waits in the runner's spool "
				    "and is queued by itself once that is fixed; "
				    "the fix, on the runner's host: %.*s\n",
				    (int)strcspn(nl + 1, "\n"), nl + 1);
			break;
		} else if (!strncmp(line, "refused ", 8)) {
			fprintf(msg, "runner: NOTHING WAS QUEUED for this push: the "
			    "runner refused it: %s\n", line + 8);
			break;
		} else if (!strncmp(line, "error ", 6)) {
			why = xstrdup(line + 6);
			break;
		}
	}
	if (!nids && (!answer || why)) {
		/* the daemon has not queued it: it must be on disk */
		if (sync_entry(home, entry) < 0) {
			fprintf(msg, "runner: warning: %s\n", error_last());
			lost_push(home, msg);
		} else if (why) {
			fprintf(msg, "runner: warning: %s; the push is saved in "
			    "%s/%s and is queued once the store answers\n", why,
			    home, SPOOL_DIR);
		} else {
			fprintf(msg, "runner: the runner's daemon has not queued "
			    "the push yet (it is busy): it is saved in %s/%s and "
			    "queued as soon as it can\n", home, SPOOL_DIR);
		}
	}
	fflush(msg);
	if (wait_for && !nids) {
		fprintf(msg, "runner: ci.wait cannot follow it: no job number "
		    "yet\n");
	} else if (wait_for) {
		struct store *store = NULL;
		if (store_open(home, url, STORE_OPEN, &store) < 0)
			fprintf(msg, "runner: ci.wait cannot follow the jobs: %s\n",
			    error_last());
		else
			follow_jobs(store, ids, nids, conf->wait_timeout_ms,
			    conf->http.base_url, 1, &hs->say);
		store_close(store);
	}
	free(ids);
	free(why);
	free(answer);
	free(entry);
	return 1;
}

int hook_post_receive(const char *home, const char *repo,
    const struct hook_update *updates, size_t n, FILE *msg)
{
	struct config *conf = NULL;
	struct store *store = NULL;
	struct push *pushes = NULL;
	struct enqueued *res = NULL;
	size_t np = 0;
	int error, skip, wait_for;
	char *db = xasprintf("%s/%s", home, STORE_FILE), *why = NULL;
	char *key = NULL, *conf_error = NULL;
	const char *url = NULL;
	/* runner.yml, read once: its triggers and its store; one with a
	 * mistake gives the configuration the daemon keeps, else only its
	 * `store:` (so that a mistake elsewhere does not keep the store
	 * shut) and the default triggers */
	int have_store = config_load_kept(home, &conf, &why) == 0;
	if (!have_store) {
		conf = NULL;
		conf_error = xstrdup(error_last());
		have_store = config_store_url(home, &key) == 0;
	}
	/* the store is this user's to write: SQLite's file, or the
	 * PostgreSQL URL that runner.yml (mode 0600) tells only the
	 * runner's users; anyone else hands the push over */
	int own = have_store && store_url(conf ? conf->store : key, &url) == 0 &&
	    (url || access(db, W_OK) == 0 || errno == ENOENT);
	/* PostgreSQL: pushes go through the daemon when it serves
	 * (hand_to_daemon), which takes from the spool only repositories the
	 * entry's owner owns; without it the hook queues them itself, for
	 * the other hosts to run */
	struct stat rs;
	int through_daemon = own && url && stat(repo, &rs) == 0 &&
	    rs.st_uid == geteuid() && daemon_serving(home);
	struct sbuf vars = SBUF_INIT;
	struct who who;

	free(db);
	/* who pushes: this process's real user, and what the transport
	 * (gitolite, the web server, sshd) says beside it */
	who_from_env(&who, getuid());
	hook_push_options(msg, &skip, &wait_for, &vars);
	if (skip) {
		fprintf(msg, "runner: ci.skip: no job for this push\n");
		error = 0;
		goto out;
	}
	if (!own) {
		if (vars.len)
			fprintf(msg, "runner: the push's variables are checked "
			    "against runner.yml when the daemon takes the push; "
			    "one it does not allow is dropped, and its log says "
			    "why\n");
		error = hand_over(home, repo, updates, n, vars.len ? vars.buf :
		    NULL, &who, wait_for, msg);
		goto out;
	}
	/* a runner.yml with a mistake: the triggers the daemon keeps (it
	 * logged the mistake; status shows it) */
	if (!conf) {
		fprintf(msg, "runner: warning: %s (using the default triggers)\n",
		    conf_error);
		if (config_parse("defaults", "", 0, &conf) < 0) {
			error = -1;
			goto out;
		}
	} else if (why) {
		fprintf(msg, "runner: warning: %s\n", why);
	}
	free(why);
	why = NULL;
	variables_allowed(conf, repo, &vars, msg, "runner: warning: ");
	pushes = xcalloc(n ? n : 1, sizeof(*pushes));
	np = hook_match(conf, repo, updates, n, pushes, msg);
	for (size_t i = 0; i < np; i++) {
		if (vars.len)
			pushes[i].variables = vars.buf;
		pushes[i].who = &who;
	}
	if (!np) {
		error = 0;
		goto out;
	}
	/* an idle daemon whose workers left starts one now, while the
	 * store is written (a word lost or refused loses nothing: the
	 * wake-up after the enqueue says it again) */
	wake_send(home, WAKE_SOON);
	struct hook_say hs = { { file_line, file_gone, NULL }, msg, { .n = 0 } };
	hs.say.arg = &hs;
	if (wait_for) {
		/* a closed output (the push interrupted) is an error to see,
		 * not a signal to die of */
		signal(SIGPIPE, SIG_IGN);
		lineage_init(&hs.lineage);
	}
	if (through_daemon &&
	    hand_to_daemon(home, url, conf, pushes, np, wait_for, &hs) > 0) {
		error = (int)np;
		goto out;
	}
	res = xcalloc(np, sizeof(*res));
	if ((error = store_open(home, url, STORE_ENQUEUE, &store)) == 0) {
		store_busy_timeout(store, HOOK_STORE_WAIT_MS);
		/* With no daemon to checkpoint it, the WAL would grow with
		 * every push, and each hook would read all of it again when it
		 * opens the store: keep it short. */
		if (!daemon_serving(home))
			store_wal_limit(store, HOOK_WAL_PAGES);
		error = store_enqueue(store, pushes, np, res);
		/* a full disk: the store's reserve was released for this */
		if (error == ERR_NOSPACE)
			error = store_enqueue(store, pushes, np, res);
	}
	if (error < 0) {
		char *why = xstrdup(error_last());
		int spooled = spool(home, pushes, np, 1, NULL);
		if (spooled == 0)
			fprintf(msg, "runner: warning: %s; the push is saved in "
			    "%s/%s and is queued when the daemon next starts or "
			    "wakes\n", why, home, SPOOL_DIR);
		else if (spooled == ERR_NOSPACE || error == ERR_NOSPACE)
			fprintf(msg, "runner: error: %s; and %s: the runner's disk "
			    "is full; NOTHING WAS QUEUED for this push: push again "
			    "once there is room\n", why, error_last());
		else {
			fprintf(msg, "runner: warning: %s\n", why);
			lost_push(home, msg);
		}
		free(why);
		if (spooled == 0)
			wake(home, msg);
		goto out;
	}
	for (size_t i = 0; i < np; i++)
		follow_say_queued(&hs.say, res[i].id, res[i].duplicate,
		    pushes[i].ref, pushes[i].new, pushes[i].env,
		    conf->http.base_url);
	wake(home, msg);
	error = (int)np;
	if (wait_for) {
		int64_t *ids = xcalloc(np, sizeof(*ids));
		for (size_t i = 0; i < np; i++)
			ids[i] = res[i].id;
		follow_jobs(store, ids, np, conf->wait_timeout_ms,
		    conf->http.base_url, 1, &hs.say);
		free(ids);
	}
out:
	free(res);
	free(pushes);
	store_close(store);
	config_free(conf);
	free(why);
	free(key);
	free(conf_error);
	sbuf_release(&vars);
	who_release(&who);
	return error;
}

void hook_read_input(struct sbuf *in, int *truncated, int keep_fd)
{
	char chunk[65536];

	*truncated = 0;
	for (;;) {
		ssize_t n = read(0, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* all of it for the chained hook, whatever its size */
		if (keep_fd >= 0 && write_all(keep_fd, chunk, (size_t)n) < 0)
			fprintf(stderr, "runner: warning: cannot keep the hook "
			    "input for the chained hook: %s\n", strerror(errno));
		if (in->len + (size_t)n > HOOK_MAX_INPUT)
			*truncated = 1;	/* keep reading: git waits for us */
		else
			sbuf_add(in, chunk, (size_t)n);
	}
}

int hook_run_chained(const char *path, char **argv, int in_fd)
{
	struct child c = { .argv = (const char *const *)argv, .in = in_fd,
	    .out = 1, .err = 2 };
	char *const *env = NULL;
	extern char **environ;
	int rc;

	/* the chained hook gets git's environment (GIT_DIR, quarantine...) */
	env = environ;
	c.envp = env;
	argv[0] = (char *)path;
	if (in_fd >= 0)
		lseek(in_fd, 0, SEEK_SET);
	if (child_start(&c) < 0) {
		fprintf(stderr, "runner: warning: %s\n", error_last());
		return 126;
	}
	rc = child_finish(&c);
	return rc < 0 ? 1 : rc;
}
