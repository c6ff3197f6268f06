/*
 * The daemon's answers to the hooks of users who may not read the store
 * (ask.h): one child of the supervisor per connection to HOME/ask.sock,
 * `runner-worker answer HOME PARENT -1` with the connection on descriptor
 * 3. The client is whoever the home's group lets connect, so it is
 * trusted with nothing: its request is bounded in size and time (ask.h),
 * it must hand over a descriptor of the repository it asks about (the
 * same folder as the path it names, which its user owns, as the spool
 * asks of a push), and it only hears about the jobs of that repository.
 * A child that fails or is killed costs the supervisor nothing; the
 * supervisor bounds how many run and how long.
 *
 * Two questions: what became of a spooled push (the jobs it queued, or
 * why it is held), then with ci.wait the jobs as they run (follow.h);
 * and, for pre-receive, whether the release tags of a push may be taken
 * (the signature checked with runner.yml's signers, as tag_verify does,
 * on the tag object's bytes the hook sends, since the daemon cannot read
 * the push's quarantine).
 */
#include "worker.h"
#include "approval.h"
#include "ask.h"
#include "config.h"
#include "deploy.h"
#include "follow.h"
#include "hook.h"
#include "jobs.h"
#include "notebox.h"
#include "refmatch.h"
#include "run.h"
#include "spool.h"
#include "store.h"
#include "tagsig.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often the child looks whether the supervisor took the entry. */
#define TAKE_POLL_MS 20

struct request {
	char *repo;		/* proven by the descriptor */
	char *entry;		/* spool: the entry the hook wrote */
	int check, wait, notes;
	int seen;		/* the daemon sees that folder at that path */
	struct stat st;		/* that folder, as its descriptor shows it */
	struct sbuf updates;	/* "OLD NEW REF" lines */
	struct hook_update *u;
	size_t n;
};

struct answer {
	const char *home;
	struct ask_conn c;
	struct ucred peer;
	struct request rq;
	struct config *conf;
	struct store *st;
};

static int send_line(struct answer *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One line to the client; a newline inside is shown, never sent. */
static int send_line(struct answer *a, const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;
	int error;

	va_start(ap, fmt);
	sbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	for (char *p = sb.buf; (p = strchr(p, '\n')); )
		*p = ' ';
	sbuf_addch(&sb, '\n');
	error = ask_write(&a->c, sb.buf, sb.len, mono_ms() + ASK_SEND_MS);
	sbuf_release(&sb);
	return error;
}

static int say_line(struct say *s, const char *text)
{
	return send_line(s->arg, "say %s", text) < 0 ? -1 : 0;
}

static int say_gone(struct say *s)
{
	struct answer *a = s->arg;

	return ask_hung_up(&a->c);
}

/*
 * The repository the request names is the one whose descriptor came
 * with it: a folder opened for reading (not O_PATH: that needs no right
 * to read it), whose path as the kernel knows it is the one named (the
 * real path, as the hook names it in the spool and the store). That
 * needs no right of the daemon's on the folder: a repository the daemon
 * cannot read yet (a push held for it) is told apart too; where it can,
 * the folder at that path is the descriptor's. The kernel's path alone
 * proves nothing: a folder of another mount namespace (a user namespace
 * needs no privilege) has whatever path its own namespace gives it, a
 * repository's that was renamed or removed too. So the jobs of a folder
 * the daemon cannot see (rq.seen) are never told, only why its push is
 * held.
 */
static int prove_repo(struct answer *a, const char *path)
{
	struct stat mine, theirs;
	char proc[64], *held = xmalloc(PATH_MAX + 1);
	ssize_t n;
	int fl, error = 0;

	if (path[0] != '/') {
		error = error_set(ERR_INVALID, "the repository's path is not "
		    "absolute");
		goto out;
	}
	if (a->c.passed < 0) {
		error = error_set(ERR_INVALID, "no descriptor of the repository "
		    "came with the request");
		goto out;
	}
	if ((fl = fcntl(a->c.passed, F_GETFL)) < 0 || (fl & O_PATH) ||
	    fstat(a->c.passed, &theirs) < 0 || !S_ISDIR(theirs.st_mode)) {
		error = error_set(ERR_INVALID, "the descriptor is not a folder "
		    "opened for reading");
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", a->c.passed);
	n = readlink(proc, held, PATH_MAX);
	if (n > 0)
		held[n] = '\0';
	a->rq.seen = stat(path, &mine) == 0;
	if (n <= 0 || n >= PATH_MAX || strcmp(held, path) ||
	    (a->rq.seen && (mine.st_dev != theirs.st_dev ||
	    mine.st_ino != theirs.st_ino)))
		error = error_set(ERR_INVALID, "the descriptor is not repository "
		    "'%s'", path);
	/* reading a repository is not pushing to it: the spool queues a
	 * repository's pushes from its owner only (ingest_file), and only
	 * its owner hears of its jobs and their logs */
	else if (theirs.st_uid != a->peer.uid)
		error = error_set(ERR_INVALID, "repository '%s' is not user "
		    "%d's", path, (int)a->peer.uid);
	else
		a->rq.st = theirs;
out:
	free(held);
	return error;
}

/* Read the request's lines until "end" (ask.h), by `deadline`. */
static int read_request(struct answer *a, int64_t deadline)
{
	struct request *rq = &a->rq;
	char *line;
	size_t bad = 0;
	int error, first = 1;

	for (;;) {
		if ((error = ask_read_line(&a->c, deadline, -1, &line)) < 0)
			return error;
		if (first) {
			if (strcmp(line, ASK_HELLO))
				return error_set(ERR_INVALID, "not a request of "
				    "this runner ('%s' expected)", ASK_HELLO);
			first = 0;
		} else if (!strcmp(line, "end")) {
			break;
		} else if (!strncmp(line, "repo ", 5) && !rq->repo) {
			if ((error = prove_repo(a, line + 5)) < 0)
				return error;
			rq->repo = xstrdup(line + 5);
		} else if (!strncmp(line, "spool ", 6) && !rq->entry) {
			const char *e = line + 6;
			if (!spool_is_entry(e) || strchr(e, '/') ||
			    strlen(e) > NAME_MAX)
				return error_set(ERR_INVALID, "not a spool entry's "
				    "name");
			rq->entry = xstrdup(e);
		} else if (!strcmp(line, "check")) {
			rq->check = 1;
		} else if (!strcmp(line, "wait")) {
			rq->wait = 1;
		} else if (!strcmp(line, "notes")) {
			rq->notes = 1;
		} else if (!strncmp(line, "update ", 7)) {
			sbuf_addf(&rq->updates, "%s\n", line + 7);
		} else {
			return error_set(ERR_INVALID, "unknown request line");
		}
	}
	if (!rq->repo)
		return error_set(ERR_INVALID, "the request names no repository");
	if (!!rq->entry + rq->check + rq->notes != 1)
		return error_set(ERR_INVALID, "the request asks not one of: "
		    "about a spooled push, for a check, for the notes");
	hook_parse(rq->updates.buf, rq->updates.len, &rq->u, &rq->n, &bad);
	if (bad)
		return error_set(ERR_INVALID, "%zu malformed update%s", bad,
		    bad == 1 ? "" : "s");
	return 0;
}

/* Entry `name` of folder `dfd` (held/, refused/), or one the daemon
 * renamed "MS.NAME" there (a name taken already): its name, or NULL.
 * Caller frees. */
static char *find_entry(int dfd, const char *name)
{
	struct stat st;
	int dup_fd;
	DIR *d;
	struct dirent *de;
	char *found = NULL;
	size_t nl = strlen(name);

	if (dfd < 0)
		return NULL;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return xstrdup(name);
	if ((dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return NULL;
	if (!(d = fdopendir(dup_fd))) {
		close(dup_fd);
		return NULL;
	}
	while (!found && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > nl + 1 && de->d_name[l - nl - 1] == '.' &&
		    !strcmp(de->d_name + l - nl, name) &&
		    strspn(de->d_name, "0123456789") == l - nl - 1)
			found = xstrdup(de->d_name);
	}
	closedir(d);
	return found;
}

/* Does every update of entry `name` (in the daemon's own folder `dfd`)
 * name the repository `repo`? A client hears the reason of its own
 * repository's pushes only. */
static int entry_of(int dfd, const char *name, const char *repo)
{
	struct sbuf buf = SBUF_INIT;
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC), ours = 0;
	size_t at = 0, k = 0;

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size <= HOOK_MAX_INPUT &&
	    read_fd(fd, name, HOOK_MAX_INPUT, &buf) == 0) {
		ours = buf.len > 0;
		/* six fields a ref update, each ended by a NUL; the first is
		 * the repository */
		while (at < buf.len && ours) {
			const char *f = buf.buf + at;
			size_t l = strnlen(f, buf.len - at);
			if (k++ % 6 == 0 && strcmp(f, repo))
				ours = 0;
			at += l + 1;
		}
	}
	if (fd >= 0)
		close(fd);
	sbuf_release(&buf);
	return ours;
}

/* An entry the daemon could not queue: held (it will be, once the fix is
 * made) or refused. 1 when it was said, 0 when it is not there. */
static int say_not_queued(struct answer *a, int sfd, int held)
{
	int dfd = spool_own_dir(sfd, held ? SPOOL_HELD : SPOOL_REFUSED, 0);
	char *name = find_entry(dfd, a->rq.entry), *why = NULL, *fix = NULL;
	int said = 0;

	if (!name)
		goto out;
	said = 1;
	if (!entry_of(dfd, name, a->rq.repo)) {
		send_line(a, "error the spool entry is not this repository's");
		goto out;
	}
	if (spool_why_read(dfd, name, &why, &fix) < 0) {
		why = xstrdup("(its reason is being written)");
		fix = NULL;
	}
	if (held) {
		send_line(a, "say runner: NOTHING IS QUEUED YET for this push: "
		    "the runner cannot take it now: %s", why);
		send_line(a, "say runner: it waits in the runner's spool and is "
		    "queued by itself once that is fixed%s%s", fix && *fix ?
		    "; the fix, on the runner's host: " : "", fix ? fix : "");
	} else {
		send_line(a, "say runner: NOTHING WAS QUEUED for this push: the "
		    "runner refused it: %s", why);
	}
out:
	free(name);
	free(why);
	free(fix);
	if (dfd >= 0)
		close(dfd);
	return said;
}

/*
 * What became of spool entry rq.entry: once the supervisor took it (it
 * is gone from the spool: its jobs are in the store), the jobs its
 * updates queued, each found by the push that queued it (the store's
 * key of a push); with ci.wait, those jobs until they end. Held or
 * refused: why. Not taken within ASK_TAKE_MS: said so.
 */
static void answer_spool(struct answer *a)
{
	struct request *rq = &a->rq;
	char *dir = xasprintf("%s/%s", a->home, SPOOL_DIR);
	int sfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int64_t deadline = mono_ms() + ASK_TAKE_MS, *ids = NULL;
	const char *base = a->conf->http.base_url;
	struct say say = { say_line, say_gone, a };
	size_t nids = 0;
	struct stat st;

	if (sfd < 0) {
		send_line(a, "error cannot read the spool: %s", strerror(errno));
		goto out;
	}
	while (fstatat(sfd, rq->entry, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (mono_ms() >= deadline || ask_hung_up(&a->c)) {
			send_line(a, "say runner: the runner has not taken the push "
			    "yet (it is busy); it queues it as soon as it can");
			goto out;
		}
		poll(NULL, 0, TAKE_POLL_MS);
	}
	if (say_not_queued(a, sfd, 1) || say_not_queued(a, sfd, 0))
		goto out;
	if (!rq->seen) {
		send_line(a, "error the runner cannot see repository '%s', so it "
		    "tells nothing of its jobs", rq->repo);
		goto out;
	}
	if (store_open(a->home, a->conf->store, STORE_OPEN, &a->st) < 0) {
		send_line(a, "say runner: the runner took the push, but its "
		    "store cannot be read now: %s", error_last());
		goto out;
	}
	ids = xcalloc(rq->n ? rq->n : 1, sizeof(*ids));
	for (size_t i = 0; i < rq->n; i++) {
		const struct hook_update *u = &rq->u[i];
		struct push p = { .repo = rq->repo, .ref = u->ref, .old = u->old,
		    .new = u->new };
		int64_t id = store_push_job(a->st, &p);
		if (id < 0) {
			send_line(a, "say runner: the store cannot say which job "
			    "this push queued: %s", error_last());
			continue;
		}
		if (!id)
			continue;	/* runner.yml's triggers do not match it */
		ids[nids++] = id;
		follow_say_queued(&say, id, 0, u->ref, u->new, RELEASE_ENV, base);
	}
	if (!nids) {
		send_line(a, "say runner: no job for this push: runner.yml's "
		    "branches and release_tags for this repository match none "
		    "of its refs");
		goto out;
	}
	if (rq->wait) {
		send_line(a, "wait %lld", (long long)a->conf->wait_timeout_ms);
		follow_jobs(a->st, ids, nids, a->conf->wait_timeout_ms, base, 0,
		    &say);
	}
out:
	free(ids);
	free(dir);
	if (sfd >= 0)
		close(sfd);
}

/*
 * The git notes that wait for the client's repository (notebox.h), which
 * it writes as the repository's owner: "note COMMIT LENGTH" and the
 * text, each. The folder is named by the device and inode of the
 * descriptor that proved the repository the client's, whatever its path
 * shows the daemon (none wait for a repository it cannot see).
 */
static void answer_notes(struct answer *a)
{
	struct notebox_note *v = NULL;
	size_t n = 0;

	if (notebox_list_of(a->home, &a->rq.st, &v, &n) < 0) {
		send_line(a, "error %s", error_last());
		return;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i].text);
		if (ask_printf(&a->c, mono_ms() + ASK_SEND_MS, "note %s %zu\n",
		    v[i].commit, len) < 0 || ask_write(&a->c, v[i].text, len,
		    mono_ms() + ASK_SEND_MS) < 0)
			break;
	}
	notebox_notes_free(v, n);
}

/* A reason on one line. */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

struct tag_asked {
	const struct hook_update *u;
	char *release;		/* an approval tag: of this release */
	char *type;		/* as the hook sent it; NULL: not sent */
	long long size;		/* -1: larger than ASK_OBJECT_MAX */
	struct sbuf bytes;
};

/* Read the objects the hook sends ("object OID TYPE SIZE" and the
 * bytes, then "end") for the tags of `t`. */
static int read_objects(struct answer *a, struct tag_asked *t, size_t n)
{
	int64_t deadline = mono_ms() + 2 * ASK_REQUEST_MS;
	size_t left = ASK_OBJECTS_MAX;
	char *line;
	int error;

	for (;;) {
		char oid[65], type[16];
		long long size;
		size_t i;

		if ((error = ask_read_line(&a->c, deadline, -1, &line)) < 0)
			return error;
		if (!strcmp(line, "end"))
			return 0;
		if (sscanf(line, "object %64s %15s %lld", oid, type, &size) != 3 ||
		    size < -1 || size > ASK_OBJECT_MAX)
			return error_set(ERR_INVALID, "not an object line");
		if (size > (long long)left)
			return error_set(ERR_INVALID, "tag objects of more than %d "
			    "bytes in all", ASK_OBJECTS_MAX);
		if (size > 0)
			left -= (size_t)size;
		for (i = 0; i < n; i++)
			if (!t[i].type && !strcmp(t[i].u->new, oid))
				break;
		if (i == n)
			return error_set(ERR_INVALID, "an object that was not asked "
			    "for");
		t[i].type = xstrdup(type);
		t[i].size = size;
		if (size > 0 && (error = ask_read_bytes(&a->c, (size_t)size,
		    deadline, &t[i].bytes)) < 0)
			return error;
	}
}

/* Why the object of `t` as sent cannot be judged, or NULL. */
static char *unsent(const struct tag_asked *t)
{
	const char *name = t->u->ref + 10;

	if (!t->type)
		return xstrdup("the hook did not send the tag object");
	if (!strcmp(t->type, "missing"))
		return xasprintf("tag '%s': object %s not found", name, t->u->new);
	if (t->size < 0)
		return xasprintf("tag '%s': the tag object is larger than %d "
		    "bytes, or than what is left of the %d bytes all the tag "
		    "objects of a push may have", name, ASK_OBJECT_MAX,
		    ASK_OBJECTS_MAX);
	return NULL;
}

/* A release tag's commit, read in a child as the repository's owner. */
struct owner_read {
	const char *repo, *release;
	char hex[72];
};

static int owner_read_fn(void *p)
{
	struct owner_read *o = p;
	char *commit = NULL;
	int error;

	/* a FIFO where a ref was holds nobody for long, nor after the
	 * answer is gone */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(2 * ASK_REQUEST_MS / 1000);
	error = approval_release_commit(o->repo, NULL, o->release, NULL, NULL,
	    &commit);
	if (error == 0)
		snprintf(o->hex, sizeof(o->hex), "%s", commit);
	free(commit);
	return error;
}

/*
 * The commit of release tag `release` in the client's repository, as
 * approval_release_commit() reads it. The repository is the client's
 * (prove_repo), and so is what it holds: a ref that is a link to a file
 * of root's, objects borrowed through its alternates from a repository of
 * root's, an include.path. A root daemon reads it as that user, so that
 * the refusal's commit tells the client nothing its own rights do not.
 */
static int release_commit(struct answer *a, const char *release, char **out)
{
	struct owner_read o = { a->rq.repo, release, "" };
	struct run_user u = { 0 };
	int error;

	*out = NULL;
	if (geteuid() != 0 || a->rq.st.st_uid == 0)
		return approval_release_commit(a->rq.repo, NULL, release, NULL,
		    NULL, out);
	run_user_owner(&a->rq.st, &u);
	error = run_as_user_into(&u, owner_read_fn, &o, o.hex, sizeof(o.hex));
	run_user_release(&u);
	if (error == 0)
		*out = xstrdup(o.hex);
	return error;
}

/*
 * Why approval tag t must be refused, or NULL, as cmd_pre_receive.c's
 * check_approval judges it: the release tag's commit is the one of the
 * release tag in this push (among the `n` of `all`), else the
 * repository's, when the daemon sees the repository (else the
 * deployment checks it). Caller frees.
 */
static char *judge_approval(struct answer *a, const struct repo_conf *rc,
    struct tag_asked *t, struct tag_asked *all, size_t n, const char *tmp)
{
	const char *name = t->u->ref + 10;
	struct tag_info ti, rel;
	char *why, *commit = NULL;
	int error = 0;

	if ((why = unsent(t)))
		return why;
	if (tag_verify_raw(name, t->u->new, t->type, t->bytes.buf,
	    t->bytes.len, rc, tmp, &ti) < 0)
		return xasprintf("approval %s", error_last());
	for (size_t i = 0; i < n; i++) {
		if (all[i].release || strcmp(all[i].u->ref + 10, t->release))
			continue;
		if ((why = unsent(&all[i])) == NULL && tag_verify_raw(
		    t->release, all[i].u->new, all[i].type, all[i].bytes.buf,
		    all[i].bytes.len, rc, tmp, &rel) == 0) {
			commit = rel.commit;
			rel.commit = NULL;
			tag_info_release(&rel);
		} else {
			free(why);
			why = xasprintf("approval tag '%s': release tag '%s' of this "
			    "push is refused", name, t->release);
		}
		error = 1;
		break;
	}
	if (!error && a->rq.seen) {
		error = release_commit(a, t->release, &commit);
		if (error < 0 && error != ERR_NOTFOUND) {
			/* the deployment counts it again */
			error_clear();
			tag_info_release(&ti);
			return NULL;
		}
		error = 1;
	}
	if (!why && error)
		why = approval_refusal(name, t->release, &ti, commit);
	tag_info_release(&ti);
	free(commit);
	return why;
}

/* Why release tag t must be refused, or NULL: as the pre-receive hook of
 * the runner's own user judges it (cmd_pre_receive.c). Caller frees. */
static char *judge_tag(struct answer *a, const struct repo_conf *rc,
    struct tag_asked *t, struct tag_asked *all, size_t n)
{
	const char *name = t->u->ref + 10;
	char *tmp = xasprintf("%s/tmp", a->home), *why = NULL;
	struct tag_info ti;
	int64_t build;

	if (t->release)
		why = judge_approval(a, rc, t, all, n, tmp);
	else if (strstr(name, APPROVAL_MARK))
		why = xstrdup("a release tag's name may not hold '" APPROVAL_MARK
		    "', which names approvals (RELEASE" APPROVAL_MARK "NAME)");
	else if ((why = unsent(t)))
		;
	else if (tag_verify_raw(name, t->u->new, t->type, t->bytes.buf,
	    t->bytes.len, rc, tmp, &ti) < 0)
		why = xstrdup(error_last());
	else {
		const struct release_tag rt = { name, t->u->new, ti.commit,
		    ti.tagged_at, a->rq.repo };
		/* the builds of a folder the daemon cannot see are not told
		 * (prove_repo): the deployment checks them */
		if (a->rq.seen && (a->st ||
		    store_open(a->home, a->conf->store, STORE_OPEN,
		    &a->st) == 0))
			why = release_refusal(a->st, rc, a->rq.repo, RELEASE_ENV,
			    &rt, 0, &build, NULL);
		else if (a->rq.seen)
			a->st = NULL;	/* the deployment checks the build */
		tag_info_release(&ti);
	}
	free(tmp);
	return why;
}

/*
 * pre-receive: which of the push's tags are release tags of this
 * repository (runner.yml), their objects asked for, each judged, and
 * "refuse REF REASON" or "accept REF" said for each.
 */
static void answer_check(struct answer *a)
{
	const struct repo_conf *rc = config_repo(a->conf, a->rq.repo);
	struct ref_matcher tags = { 0 };
	struct tag_asked *t = xcalloc(a->rq.n ? a->rq.n : 1, sizeof(*t));
	size_t n = 0;

	if (ref_matcher_init(&tags, rc->release_tags, NULL) < 0) {
		send_line(a, "error %s", error_last());
		goto out;
	}
	for (size_t i = 0; i < a->rq.n; i++) {
		const struct hook_update *u = &a->rq.u[i];
		char *release = NULL;
		if (strncmp(u->ref, "refs/tags/", 10) || hook_zero_id(u->new))
			continue;
		/* release tags, and approvals of them */
		if (approval_name(u->ref + 10, &release) ?
		    ref_matcher_match(&tags, release, NULL) :
		    ref_matcher_match(&tags, u->ref + 10, NULL)) {
			t[n].u = u;
			t[n].release = release;
			t[n++].bytes = (struct sbuf)SBUF_INIT;
		} else {
			free(release);
		}
	}
	if (n > ASK_TAGS_MAX) {
		for (size_t i = 0; i < n; i++)
			send_line(a, "refuse %s more than %d release tags in one "
			    "push: push them a few at a time", t[i].u->ref,
			    ASK_TAGS_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (send_line(a, "need %s", t[i].u->new) < 0)
			goto out;
	if (send_line(a, "send") < 0)
		goto out;
	if (read_objects(a, t, n) < 0) {
		struct sbuf said = SBUF_INIT;
		sbuf_add_display(&said, error_last(), strlen(error_last()));
		log_line("warning: ask: the hook of uid %d (pid %d) sent no "
		    "objects: %s", (int)a->peer.uid, (int)a->peer.pid, said.buf);
		sbuf_release(&said);
		send_line(a, "error %s", error_last());
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char *why = judge_tag(a, rc, &t[i], t, n);
		if (why) {
			one_line(why);
			send_line(a, "refuse %s %s", t[i].u->ref, why);
		} else {
			send_line(a, "accept %s", t[i].u->ref);
		}
		free(why);
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(t[i].type);
		free(t[i].release);
		sbuf_release(&t[i].bytes);
	}
	free(t);
	ref_matcher_release(&tags);
}

/* The answer is all sent: what the client sent that was not read is
 * read and dropped, so that closing does not reset the connection and
 * lose the client the answer's last lines (a unix socket closed with
 * bytes unread). */
static void let_go(int fd)
{
	char buf[4096];
	size_t dropped = 0;
	ssize_t n;

	shutdown(fd, SHUT_WR);
	while (dropped < ASK_REQUEST_MAX &&
	    (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		dropped += (size_t)n;
}

int answer_main(const char *home, int fd, pid_t parent, int slot)
{
	struct answer a = { .home = home, .rq = { .updates = SBUF_INIT } };
	socklen_t cl = sizeof(a.peer);
	char *why = NULL;
	int error;

	(void)slot;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		return 1;
	/* a client that went away is an error to see, not a signal */
	signal(SIGPIPE, SIG_IGN);
	ask_init(&a.c, fd, ASK_REQUEST_MAX);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &a.peer, &cl) < 0)
		memset(&a.peer, 0xff, sizeof(a.peer));
	if ((error = read_request(&a, mono_ms() + ASK_REQUEST_MS)) < 0) {
		/* said once to the daemon's log: who asked, and what was wrong
		 * (the client's own words shown as text) */
		struct sbuf said = SBUF_INIT;
		sbuf_add_display(&said, error_last(), strlen(error_last()));
		log_line("warning: ask: refused a request of uid %d (pid %d): %s",
		    (int)a.peer.uid, (int)a.peer.pid, said.buf);
		sbuf_release(&said);
		send_line(&a, "error %s", error_last());
		goto out;
	}
	a.c.max = 0;	/* the objects are bounded each (read_objects) */
	if (config_load_kept(home, &a.conf, &why) < 0) {
		send_line(&a, "error the runner's configuration cannot be read: "
		    "%s", error_last());
		goto out;
	}
	if (a.rq.check)
		answer_check(&a);
	else if (a.rq.notes)
		answer_notes(&a);
	else
		answer_spool(&a);
out:
	send_line(&a, "done");
	let_go(a.c.fd);
	hook_updates_free(a.rq.u, a.rq.n);
	sbuf_release(&a.rq.updates);
	free(a.rq.repo);
	free(a.rq.entry);
	free(why);
	store_close(a.st);
	config_free(a.conf);
	ask_close(&a.c);
	error_clear();
	return 0;
}
