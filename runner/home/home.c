/*
 * Modes of the home, checked and set in one table. The home itself is
 * searchable by everyone (the hook's user and the build user pass through
 * it) but listable by no one else; setgid, so that what the hook's user
 * adds to the spool belongs to the hook's group.
 */
#include "home.h"
#include "config.h"
#include "run.h"
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
#include <time.h>
#include <unistd.h>

struct item {
	const char *name;	/* "" for the home itself */
	mode_t mode;
	int dir;
	int group;		/* the hook's group owns it */
};

static const struct item items[] = {
	{ "", 02711, 1, 1 },
	{ "runner.yml", 0600, 0, 0 },
	{ CONFIG_KEPT_FILE, 0600, 0, 0 },
	{ "runner.db", 0600, 0, 0 },
	{ "runner.db-wal", 0600, 0, 0 },
	{ "runner.db-shm", 0600, 0, 0 },
	{ "runner.pid", 0600, 0, 0 },
	{ "runner.sock", 0620, 0, 1 },
	/* signs provenance (docs/provenance.md): the runner's alone; its
	 * public half is published */
	{ "provenance.key", 0600, 0, 0 },
	{ "provenance.pub", 0644, 0, 0 },
	{ "spool", 02730, 1, 1 },
	{ "notes", 0700, 1, 0 },
	{ "logs", 0700, 1, 0 },
	{ "artifacts", 0700, 1, 0 },
	{ "tmp", 0700, 1, 0 },
	{ "work", 0711, 1, 0 },
	{ "releases", 0711, 1, 0 },
	{ "state", 0711, 1, 0 },
	{ "backups", 0711, 1, 0 },
};

int home_prepare(const char *home, gid_t gid)
{
	int hfd, error;

	if ((error = mkdir_p(home, 0700)) < 0)
		return error;
	/* Each item from the home's descriptor and never through a link:
	 * root running this on a home another user owns (the daemon's own
	 * user) must not be led elsewhere by a link that user put there. */
	if ((hfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return error_set(-1, "cannot open '%s': %s", home,
		    strerror(errno));
	for (size_t i = 0; i < sizeof(items) / sizeof(*items) && !error; i++) {
		const struct item *it = &items[i];
		const char *name = *it->name ? it->name : ".";
		char *p = *it->name ? xasprintf("%s/%s", home, it->name) :
		    xstrdup(home);
		struct stat st;
		int fd;

		if (it->dir && mkdirat(hfd, name, 0700) < 0 && errno != EEXIST)
			error = error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
			    "cannot create directory '%s': %s", p, strerror(errno));
		/* a link is left as it is (home_audit does not follow it) */
		else if ((fd = openat(hfd, name, O_PATH | O_NOFOLLOW |
		    O_CLOEXEC)) >= 0) {
			if (fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode)) {
				if (it->group && gid != (gid_t)-1 &&
				    st.st_gid != gid && fchownat(fd, "", (uid_t)-1,
				    gid, AT_EMPTY_PATH) < 0)
					error = error_set(-1, "cannot give '%s' to "
					    "group %d: %s", p, (int)gid,
					    strerror(errno));
				else if (chmod_fd(fd, it->mode) < 0)
					error = error_set(-1, "cannot set the mode of "
					    "'%s': %s", p, strerror(errno));
			}
			close(fd);
		}
		free(p);
	}
	close(hfd);
	return error;
}

/* The name of uid `uid`, or its number. Caller frees. */
void home_prune_pools(const char *home, int workers)
{
	char *dir = xasprintf("%s/%s", home, HOME_POOL_DIR);
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char *end;
		long n = strtol(de->d_name, &end, 10);
		if (de->d_name[0] != '.' && (*end || n < 0 || n >= workers) &&
		    rm_rf_at(dirfd(d), de->d_name) < 0)
			log_line("warning: cannot remove '%s/%s': %s", dir,
			    de->d_name, strerror(errno));
	}
	if (d)
		closedir(d);
	free(dir);
}

static char *user_name(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	return pw ? xstrdup(pw->pw_name) : xasprintf("%d", (int)uid);
}

static void add_issue(struct home_issue **v, size_t *n, char *problem,
    char *fix)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n].problem = problem;
	(*v)[*n].fix = fix;
	(*n)++;
}

/*
 * Judge `path` for the runner's user `owner` (the home's owner, whoever
 * runs this): no mode bits past `allowed` (`narrow` is the chmod that
 * takes them away: "go-w", or NULL for the mode itself); with
 * `owner_only`, the runner's user's or root's alone.
 */
static void audit_file(const char *path, mode_t allowed, const char *narrow,
    int owner_only, uid_t owner, struct home_issue **v, size_t *n)
{
	struct sbuf fix = SBUF_INIT;
	struct stat st;
	mode_t extra;

	if (lstat(path, &st) < 0)
		return;
	extra = st.st_mode & 07777 & ~allowed;
	/* setgid and search bits of our own folders are not "wider" */
	extra &= ~(mode_t)02000;
	if (extra & 0777) {
		if (narrow)
			sbuf_addf(&fix, "chmod %s ", narrow);
		else
			sbuf_addf(&fix, "chmod %04o ", (unsigned)allowed);
		sbuf_add_shell(&fix, path);
		add_issue(v, n, xasprintf("'%s' is mode %04o, wider than %04o",
		    path, (unsigned)(st.st_mode & 07777), (unsigned)allowed),
		    sbuf_detach(&fix));
	}
	if (owner_only && st.st_uid != 0 && st.st_uid != owner) {
		char *name = user_name(owner);
		sbuf_addf(&fix, "chown %s ", name);
		sbuf_add_shell(&fix, path);
		add_issue(v, n, xasprintf("'%s' belongs to uid %d, not to the "
		    "runner's user '%s' or root: whoever that is decides what it "
		    "trusts", path, (int)st.st_uid, name), sbuf_detach(&fix));
		free(name);
	}
	sbuf_release(&fix);
}

void home_audit(const char *home, const struct config *conf,
    struct home_issue **v, size_t *n)
{
	struct stat hs;
	/* the runner's user owns the home: judged for it, also when root
	 * (or anyone else) asks */
	uid_t owner = stat(home, &hs) == 0 ? hs.st_uid : geteuid();

	for (size_t i = 0; i < sizeof(items) / sizeof(*items); i++) {
		const struct item *it = &items[i];
		char *p = *it->name ? xasprintf("%s/%s", home, it->name) :
		    xstrdup(home);
		audit_file(p, it->mode, NULL, 0, owner, v, n);
		free(p);
	}
	/* who may sign releases must be decided by the runner's user alone */
	for (size_t i = 0; conf && i < conf->nrepos; i++) {
		if (conf->repos[i].allowed_signers)
			audit_file(conf->repos[i].allowed_signers, 0755, "go-w", 1,
			    owner, v, n);
		if (conf->repos[i].gpg_keyring)
			audit_file(conf->repos[i].gpg_keyring, 0755, "go-w", 1,
			    owner, v, n);
	}
	for (size_t i = 0; conf && i < conf->nsecrets; i++)
		if (conf->secrets[i].file)
			audit_file(conf->secrets[i].file, 0600, "go-rwx", 1, owner,
			    v, n);
}

size_t home_audit_each(const char *home, const struct config *conf,
    void (*fn)(const struct home_issue *issue, void *arg), void *arg)
{
	struct home_issue *v = NULL;
	size_t n = 0;

	home_audit(home, conf, &v, &n);
	for (size_t i = 0; i < n; i++)
		fn(&v[i], arg);
	home_issues_free(v, n);
	return n;
}

void home_issues_free(struct home_issue *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].problem);
		free(v[i].fix);
	}
	free(v);
}

char *home_useradd_command(const char *name, const char *comment)
{
	return xasprintf("useradd --system --user-group --no-create-home "
	    "--home-dir /nonexistent --shell /usr/sbin/nologin --comment '%s' "
	    "%s", comment, name);
}

/*
 * Run groupadd/useradd. Another one running at the same moment holds the
 * lock on /etc/passwd and makes it fail at once: try again for a while,
 * and count it done when the name exists afterwards.
 */
static int add(const char *const *argv, int (*done)(const char *),
    const char *name)
{
	struct sbuf err = SBUF_INIT;
	int rc = -1;

	for (int i = 0; i < 50 && !done(name); i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		sbuf_reset(&err);
		rc = run_helper(argv, NULL, 0, NULL, &err, 30000);
		if (rc == 0 || done(name))
			break;
		nanosleep(&ts, NULL);
	}
	if (!done(name)) {
		struct sbuf cmd = SBUF_INIT;
		for (const char *const *a = argv; *a; a++)
			sbuf_addf(&cmd, "%s%s", a == argv ? "" : " ", *a);
		while (err.len && err.buf[err.len - 1] == '\n')
			sbuf_truncate(&err, err.len - 1);
		rc = error_set(-1, "'%s' failed: %s (run it as root, then "
		    "'runner init' again)", cmd.buf, err.len ? err.buf :
		    error_last());
		sbuf_release(&cmd);
	} else {
		rc = 0;
	}
	sbuf_release(&err);
	return rc;
}

static int group_exists(const char *name)
{
	return getgrnam(name) != NULL;
}

static int user_exists(const char *name)
{
	return getpwnam(name) != NULL;
}

/* Create user `name` unless it exists, its passwd entry saying
 * `comment`; a line saying so, and why it is there, appended to `out`. */
static int add_user(const char *name, const char *comment, const char *why,
    struct sbuf *out)
{
	const char *uadd[] = { "useradd", "--system", "--user-group",
	    "--no-create-home", "--home-dir", "/nonexistent", "--shell",
	    "/usr/sbin/nologin", "--comment", comment, name, NULL };
	int error;

	if (user_exists(name))
		return 0;
	if ((error = add(uadd, user_exists, name)) < 0)
		return error;
	sbuf_addf(out, "created user '%s' (%s)\n", name, why);
	return 0;
}

int home_users(const char *build_user, const char *release_user,
    int workers, gid_t *gid, struct sbuf *out)
{
	const char *gadd[] = { "groupadd", "--system", HOOK_GROUP, NULL };
	struct group *g;
	int error = 0;

	if (!group_exists(HOOK_GROUP)) {
		if ((error = add(gadd, group_exists, HOOK_GROUP)) < 0)
			goto out;
		sbuf_addf(out, "created group '%s' (the hooks of other users "
		    "queue pushes through it)\n", HOOK_GROUP);
	}
	if ((error = add_user(build_user, BUILD_USER_COMMENT, "runs the "
	    "commands of environments "
	    "without a user of their own, like staging", out)) < 0 ||
	    (error = home_worker_users(build_user, workers, out)) < 0 ||
	    (error = add_user(release_user, RELEASE_USER_COMMENT, "runs the "
	    "commands of "
	    "environments that need a signed tag", out)) < 0)
		goto out;
	g = getgrnam(HOOK_GROUP);
	*gid = g ? g->gr_gid : (gid_t)-1;
out:
	return error;
}

char *home_worker_user(const char *build_user, int slot)
{
	return xasprintf("%s-%d", build_user, slot);
}

int home_worker_users(const char *build_user, int workers, struct sbuf *out)
{
	int error = 0;

	for (int i = 0; i < workers && !error; i++) {
		char *name = home_worker_user(build_user, i);
		char *why = xasprintf("runs the build stages of worker %d", i);
		error = add_user(name, BUILD_USER_COMMENT, why, out);
		free(why);
		free(name);
	}
	return error;
}

int home_worker_lookup(const char *build_user, int slot, struct run_user *out)
{
	struct run_user base = { 0 };
	char *name = home_worker_user(build_user, slot);
	int error;

	if ((error = run_user_lookup(name, out)) < 0 ||
	    (error = run_user_lookup(build_user, &base)) < 0) {
		run_user_release(out);
		goto out;
	}
	for (int i = 0; i < base.ngroups; i++) {
		gid_t g = base.groups[i];
		int have = g == base.gid;	/* its own group stays its own */
		for (int k = 0; k < out->ngroups && !have; k++)
			have = out->groups[k] == g;
		if (have)
			continue;
		out->groups = xrealloc(out->groups, (size_t)(out->ngroups + 1) *
		    sizeof(*out->groups));
		out->groups[out->ngroups++] = g;
	}
out:
	run_user_release(&base);
	free(name);
	return error;
}

static gid_t member_gid;

static int is_member_of(const char *name)
{
	struct passwd *pw = getpwnam(name);
	gid_t groups[256];
	int n = 256;

	if (!pw || getgrouplist(name, pw->pw_gid, groups, &n) < 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (groups[i] == member_gid)
			return 1;
	return 0;
}

int home_granted(const char *home, const char *repo, char **problem)
{
	struct stat rs, hs;
	struct passwd *pw;
	struct group *gr;

	*problem = NULL;
	if (stat(repo, &rs) < 0 || stat(home, &hs) < 0)
		return error_set(-1, "cannot read '%s' or '%s': %s", repo, home,
		    strerror(errno));
	if (rs.st_uid == hs.st_uid || rs.st_uid == 0)
		return 1;
	gr = getgrgid(hs.st_gid);
	if (!(pw = getpwuid(rs.st_uid))) {
		*problem = xasprintf("'%s' belongs to uid %d, which has no name: "
		    "its hook may not queue pushes", repo, (int)rs.st_uid);
		return 0;
	}
	member_gid = hs.st_gid;
	if (is_member_of(pw->pw_name))
		return 1;
	*problem = xasprintf("its hook runs as '%s', who is not in group '%s': "
	    "its pushes queue nothing (install-hook as root adds it; then "
	    "restart what runs git as '%s': fcgiwrap or the web server, a new "
	    "ssh session is enough)", pw->pw_name, gr ? gr->gr_name : "?",
	    pw->pw_name);
	return 0;
}

int home_grant(const char *home, const char *repo, struct sbuf *out)
{
	struct stat rs, hs;
	struct passwd *pw;
	struct group *gr;
	char *name = NULL, *gname = NULL;
	int error = 0;

	if (stat(repo, &rs) < 0 || stat(home, &hs) < 0)
		return error_set(-1, "cannot read '%s' or '%s': %s", repo, home,
		    strerror(errno));
	/* the runner's own user and root write the store themselves */
	if (rs.st_uid == hs.st_uid || rs.st_uid == 0)
		return 0;
	if (!(pw = getpwuid(rs.st_uid)))
		return error_set(-1, "'%s' belongs to uid %d, which has no name: "
		    "its hook cannot be granted anything", repo, (int)rs.st_uid);
	name = xstrdup(pw->pw_name);
	gr = getgrgid(hs.st_gid);
	gname = gr ? xstrdup(gr->gr_name) : xasprintf("%d", (int)hs.st_gid);
	member_gid = hs.st_gid;
	if (is_member_of(name)) {
		sbuf_addf(out, "user '%s' (who owns '%s' and runs its hooks) "
		    "queues pushes through %s/spool: it is in group '%s'\n", name,
		    repo, home, gname);
		goto out;
	}
	if (geteuid() != 0) {
		error = error_set(-1, "user '%s' owns '%s' and runs its hooks, "
		    "but may not queue pushes; as root, run: usermod -a -G %s %s",
		    name, repo, gname, name);
		goto out;
	}
	const char *argv[] = { "usermod", "-a", "-G", gname, name, NULL };
	if ((error = add(argv, is_member_of, name)) < 0)
		goto out;
	sbuf_addf(out, "granted user '%s' (who owns '%s' and runs its hooks) "
	    "what its hook needs: it is now in group '%s', which may add "
	    "pushes to %s/spool and wake the daemon; the store and runner.yml "
	    "stay the runner's alone (a server already running as '%s', like "
	    "sshd's sessions or a web server, sees the group from its next "
	    "start)\n", name, repo, gname, home, name);
out:
	free(name);
	free(gname);
	return error;
}
