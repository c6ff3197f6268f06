/*
 * The post-receive path. It does the least work that makes a push durable:
 * parse, match, one INSERT transaction, one datagram; on PostgreSQL, with
 * the daemon serving, one spool file the daemon queues on its connection
 * and answers (hand_to_daemon). Everything else (checkout, reading the
 * pipeline) waits for the daemon. What goes between the hook and the
 * daemon is handover.c's; the daemon's reading of the spool, ingest.c's.
 */
#include "hook.h"
#include "hook_int.h"
#include "approval.h"
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

int hook_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int hook_valid_ref(const char *r, size_t n)
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
		    (size_t)(sp2 - sp1 - 1) != hl || !hook_is_hex(p, hl) ||
		    !hook_is_hex(sp1 + 1, hl) || !hook_valid_ref(sp2 + 1,
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
void hook_variables_allowed(const struct config *conf, const char *repo,
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
int hook_spool(const char *home, const struct push *p, size_t n,
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
 * Does approval tag `u` (RELEASE+approved.NAME, approval.h) queue its
 * release's deployment again? When production needs approvals, and
 * RELEASE is a release tag that this push neither pushes itself nor had
 * approved by an earlier tag of it (its deployment counts them all). The
 * deployment verifies everything; this only spares the queue pushes that
 * cannot matter.
 */
static int approval_deploys(const struct config *conf,
    const struct hook_update *u, const struct hook_update *all, size_t n,
    const struct push *queued, size_t nq, struct ref_matcher *tags,
    FILE *msg)
{
	const struct env_grant *g = config_env(conf, RELEASE_ENV);
	const char *name = u->ref + 10, *m = strstr(name, APPROVAL_MARK);
	size_t len = (size_t)(m - name);
	char *release;
	int yes;

	if (!g || g->approvals <= 1 || !len || !m[strlen(APPROVAL_MARK)])
		return 0;
	release = xstrndup(name, len);
	yes = ref_matcher_match(tags, release, msg);
	for (size_t i = 0; yes && i < n; i++)
		yes = !(!strncmp(all[i].ref, "refs/tags/", 10) &&
		    !strcmp(all[i].ref + 10, release) && !hook_zero_id(all[i].new));
	for (size_t i = 0; yes && i < nq; i++)
		yes = !(queued[i].tag && !strncmp(queued[i].tag, name, len +
		    strlen(APPROVAL_MARK)));
	free(release);
	return yes;
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
		    strstr(u->ref + 10, APPROVAL_MARK)) {
			/* an approval is never a release itself */
			if (approval_deploys(conf, u, updates, n, out, np, &tags,
			    msg))
				out[np++] = (struct push){ repo, u->ref, u->old,
				    u->new, RELEASE_ENV, u->ref + 10, NULL, NULL,
				    NULL };
		} else if (!strncmp(u->ref, "refs/tags/", 10) &&
		    ref_matcher_match(&tags, u->ref + 10, msg))
			out[np++] = (struct push){ repo, u->ref, u->old, u->new,
			    RELEASE_ENV, u->ref + 10, NULL, NULL, NULL };
	}
out:
	ref_matcher_release(&branches);
	ref_matcher_release(&tags);
	return np;
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
	    rs.st_uid == geteuid() && hook_daemon_serving(home);
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
		error = hook_hand_over(home, repo, updates, n, vars.len ? vars.buf :
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
	hook_variables_allowed(conf, repo, &vars, msg, "runner: warning: ");
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
	struct hook_say hs = { { hook_file_line, hook_file_gone, NULL }, msg,
	    { .n = 0 } };
	hs.say.arg = &hs;
	if (wait_for) {
		/* a closed output (the push interrupted) is an error to see,
		 * not a signal to die of */
		signal(SIGPIPE, SIG_IGN);
		hook_lineage_init(&hs.lineage);
	}
	if (through_daemon &&
	    hook_hand_to_daemon(home, url, conf, pushes, np, wait_for, &hs) > 0) {
		error = (int)np;
		goto out;
	}
	res = xcalloc(np, sizeof(*res));
	if ((error = store_open(home, url, STORE_ENQUEUE, &store)) == 0) {
		store_busy_timeout(store, HOOK_STORE_WAIT_MS);
		/* With no daemon to checkpoint it, the WAL would grow with
		 * every push, and each hook would read all of it again when it
		 * opens the store: keep it short. */
		if (!hook_daemon_serving(home))
			store_wal_limit(store, HOOK_WAL_PAGES);
		error = store_enqueue(store, pushes, np, res);
		/* a full disk: the store's reserve was released for this */
		if (error == ERR_NOSPACE)
			error = store_enqueue(store, pushes, np, res);
	}
	if (error < 0) {
		char *why = xstrdup(error_last());
		int spooled = hook_spool(home, pushes, np, 1, NULL);
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
			hook_lost_push(home, msg);
		}
		free(why);
		if (spooled == 0)
			hook_wake(home, msg);
		goto out;
	}
	for (size_t i = 0; i < np; i++)
		follow_say_queued(&hs.say, res[i].id, res[i].duplicate,
		    pushes[i].ref, pushes[i].new, pushes[i].env,
		    conf->http.base_url);
	hook_wake(home, msg);
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
