/*
 * install-hook: a tiny /bin/sh post-receive that remembers the home and
 * the hook binary, and still warns (and runs a chained hook) when the
 * binary has gone away. Run as root, it writes into a hooks folder of
 * another user as that user.
 */
#include "install.h"
#include "hook.h"
#include "run.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void add_quoted(struct sbuf *sb, const char *s)
{
	sbuf_addch(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			sbuf_adds(sb, "'\\''");
		else
			sbuf_addch(sb, *s);
	}
	sbuf_addch(sb, '\'');
}

static int is_ours(const char *path, const char *marker)
{
	struct sbuf buf = SBUF_INIT;
	int ours = read_file(path, 64 * 1024, &buf) == 0 &&
	    strstr(buf.buf, marker) != NULL;

	sbuf_release(&buf);
	return ours;
}

static int check_bare(const char *repo)
{
	struct stat st;
	char *p;
	int ok;

	if (stat(repo, &st) < 0)
		return error_set(ERR_NOTFOUND, "'%s': %s", repo, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return error_set(ERR_INVALID, "'%s' is not a directory", repo);
	p = xasprintf("%s/.git", repo);
	ok = access(p, F_OK) != 0;
	free(p);
	if (!ok)
		return error_set(ERR_INVALID, "'%s' is not a bare repository (it "
		    "has a work tree; install into the bare repository that "
		    "people push to, like 'git init --bare'", repo);
	p = xasprintf("%s/objects", repo);
	ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	p = xasprintf("%s/HEAD", repo);
	ok = ok && access(p, F_OK) == 0;
	free(p);
	if (!ok)
		return error_set(ERR_INVALID, "'%s' is not a git repository (no "
		    "HEAD or objects)", repo);
	return 0;
}

/* Is `path` a folder (not a link) of user `uid`? */
static int dir_of(const char *path, uid_t uid)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid;
}

/* The common hooks folder that `repo`'s update hook links into, by the
 * link's form alone (HOME/.gitolite/hooks/common/update); else NULL. */
static char *gitolite_link(const char *repo)
{
	static const char tail[] = "/.gitolite/hooks/common/update";
	char *link = xasprintf("%s/hooks/update", repo);
	char target[4096];
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	size_t tl = sizeof(tail) - 1;

	free(link);
	if (n <= 0 || (size_t)n <= tl)
		return NULL;
	target[n] = '\0';
	if (target[0] != '/' || strcmp(target + n - tl, tail))
		return NULL;
	return xstrndup(target, (size_t)n - strlen("/update"));
}

char *install_gitolite_hooks(const char *repo, uid_t *owner)
{
	char *common = gitolite_link(repo), *base, *gl_home;
	struct stat rs;

	if (!common)
		return NULL;
	/*
	 * The link is the repository's owner's to make, and so is the
	 * folder it names: root acts on it only as gitolite's, where
	 * gitolite's user is that owner. Its common hooks, its .gitolite and
	 * the home above it (where gitolite reads .gitolite.rc, perl that it
	 * runs) are folders of the repository's owner, who is not root;
	 * anything else is a plain repository whose owner made a link.
	 */
	base = xstrndup(common, strlen(common) - strlen("/hooks/common"));
	gl_home = xstrndup(base, (size_t)(strrchr(base, '/') - base));
	if (lstat(repo, &rs) < 0 || rs.st_uid == 0 || !*gl_home ||
	    !dir_of(common, rs.st_uid) || !dir_of(base, rs.st_uid) ||
	    !dir_of(gl_home, rs.st_uid)) {
		free(common);
		common = NULL;
	} else if (owner) {
		*owner = rs.st_uid;
	}
	free(base);
	free(gl_home);
	return common;
}

struct hook_args {
	const char *hooks, *home, *prog, *name;
	int chained;
};

/* The hook written, as whoever owns the hooks folder (install_as). */
static int write_hook(void *arg)
{
	struct hook_args *a = arg;
	struct sbuf script = SBUF_INIT, marker = SBUF_INIT;
	char *path = NULL, *chain = NULL;
	int pre = !strcmp(a->name, "pre-receive");
	int error;

	a->chained = 0;
	path = xasprintf("%s/%s", a->hooks, a->name);
	chain = xasprintf("%s/%s.chained", a->hooks, a->name);
	sbuf_addf(&marker, "# runner %s hook", a->name);
	if ((error = mkdir_p(a->hooks, 0755)) < 0)
		goto out;
	if (access(path, F_OK) == 0 && !is_ours(path, marker.buf)) {
		if (access(chain, F_OK) == 0) {
			error = error_set(ERR_INVALID, "'%s' exists and so does "
			    "'%s': move one away first", path, chain);
			goto out;
		}
		if (rename(path, chain) < 0) {
			error = error_set(-1, "cannot keep '%s' as '%s': %s", path,
			    chain, strerror(errno));
			goto out;
		}
	}
	a->chained = access(chain, F_OK) == 0;

	sbuf_addf(&script, "#!/bin/sh\n%s: %s\n", marker.buf, pre ?
	    "refuses release tags that would not deploy." :
	    "queues CI jobs for pushed branches.");
	sbuf_addf(&script, "# Written by 'runner install-hook'; run it again to "
	    "update. A hook that\n# was here before is kept as %s.chained and "
	    "still runs.\n", a->name);
	sbuf_adds(&script, "RUNNER_HOME=");
	add_quoted(&script, a->home);
	sbuf_adds(&script, "\nRUNNER_HOOK=");
	add_quoted(&script, a->prog);
	sbuf_addf(&script,
	    "\nif [ -x \"$RUNNER_HOOK\" ]; then\n"
	    "\texec \"$RUNNER_HOOK\" %s \"$RUNNER_HOME\" \"$0.chained\" \"$@\"\n"
	    "fi\n"
	    "echo \"runner: warning: $RUNNER_HOOK is missing; %s (run 'runner "
	    "install-hook' again)\" >&2\n"
	    "if [ -x \"$0.chained\" ]; then\n"
	    "\texec \"$0.chained\" \"$@\"\n"
	    "fi\n"
	    "exit 0\n", a->name, pre ? "release tags not checked" :
	    "nothing queued");
	/* written by the folder's owner (see install_as), so it is
	 * that user's file with no chown */
	error = write_file_atomic(path, script.buf, script.len, 0755);
out:
	sbuf_release(&script);
	sbuf_release(&marker);
	free(path);
	free(chain);
	return error;
}

/*
 * Run fn(arg) in a child that has become `uid`, with that user's own
 * groups (not the folder's: a folder left in root's group must not lend
 * it); its result and message come back to this process, and so does the
 * int at `out` (fn's output, copied back). For root writing into a
 * folder another user owns: a link planted there, or the folder swapped
 * for one, can lead that user's writes only where that user could write
 * anyway.
 */
static int as_user(uid_t uid, int (*fn)(void *), void *arg, int *out)
{
	struct run_user u = { 0 };
	char id[32];
	int rc;

	snprintf(id, sizeof(id), "%d", (int)uid);
	if (run_user_lookup(id, &u) < 0)
		return error_set(-1, "cannot write as uid %d, the folder's owner: "
		    "%s", (int)uid, error_last());
	rc = run_as_user_into(&u, fn, arg, out, sizeof(*out));
	run_user_release(&u);
	return rc;
}

/* Write hook `name` into `hooks` as user `as` (a child that has become
 * it, when this is root and `as` is not). */
static int install_as(const char *hooks, uid_t as, const char *home,
    const char *prog, const char *name, int *chained)
{
	struct hook_args a = { hooks, home, prog, name, 0 };
	int error;

	if (geteuid() == 0 && as != 0)
		error = as_user(as, write_hook, &a, &a.chained);
	else
		error = write_hook(&a);
	*chained = a.chained;
	return error;
}

int install_hook_into(const char *hooks, uid_t owner, const char *home,
    const char *prog, const char *name, int *chained)
{
	*chained = 0;
	if (owner == 0)
		return error_set(ERR_INVALID, "'%s' is root's: gitolite's common "
		    "hooks are written as gitolite's own user", hooks);
	return install_as(hooks, owner, home, prog, name, chained);
}

/* Whom root writes a repository's hooks folder as: a folder (or, when it
 * is missing or a link, the folder it is in) that another user owns is
 * written as that user, who could plant links there and can lead those
 * writes nowhere it could not write itself; and the hook is its file. */
static uid_t hooks_owner(const char *hooks)
{
	char *parent = xstrndup(hooks, strrchr(hooks, '/') ?
	    (size_t)(strrchr(hooks, '/') - hooks) : 0);
	struct stat st;
	uid_t uid = 0;

	if ((lstat(hooks, &st) == 0 && st.st_uid != 0) || (*parent &&
	    lstat(parent, &st) == 0 && st.st_uid != 0))
		uid = st.st_uid;
	free(parent);
	return uid;
}

int install_hook(const char *repo, const char *home, const char *prog,
    const char *name, int *chained)
{
	char *hooks;
	int error;

	*chained = 0;
	if ((error = check_bare(repo)) < 0)
		return error;
	hooks = xasprintf("%s/hooks", repo);
	error = install_as(hooks, hooks_owner(hooks), home, prog, name,
	    chained);
	free(hooks);
	return error;
}

/* The single-quoted value of "NAME=" in a hook script; NULL if absent. */
static char *script_value(const char *script, const char *name)
{
	struct sbuf sb = SBUF_INIT;
	const char *p = script;
	size_t n = strlen(name);

	while (p && strncmp(p, name, n))
		if ((p = strchr(p, '\n')))
			p++;
	if (!p || p[n] != '=' || p[n + 1] != '\'')
		return NULL;
	/* 'a'\''b' is a'b */
	for (p += n + 2; *p && *p != '\n'; p++) {
		if (!strncmp(p, "'\\''", 4)) {
			sbuf_addch(&sb, '\'');
			p += 3;
		} else if (*p == '\'') {
			break;
		} else {
			sbuf_addch(&sb, *p);
		}
	}
	return sbuf_detach(&sb);
}

int install_check(const char *repo, const char *home, const char *name,
    char **problem, char **fix)
{
	char *gl = NULL, *hooks = NULL, *path = NULL, *chain = NULL;
	char *in_home = NULL, *prog = NULL, *real_in = NULL, *real_home = NULL;
	struct sbuf buf = SBUF_INIT, marker = SBUF_INIT;
	struct stat st;

	*problem = *fix = NULL;
	if (check_bare(repo) < 0) {
		*problem = xstrdup(error_last());
		*fix = xstrdup("correct its path in runner.yml 'repos', or "
		    "create it with 'git init --bare'");
		return 1;
	}
	gl = install_gitolite_hooks(repo, NULL);
	if (!gl && (gl = gitolite_link(repo)) && (lstat(gl, &st) == 0 ||
	    errno != EACCES)) {
		/* not gitolite's; or this user may not tell (below) */
		free(gl);
		gl = NULL;
	}
	hooks = gl ? xstrdup(gl) : xasprintf("%s/hooks", repo);
	path = xasprintf("%s/%s", hooks, name);
	chain = xasprintf("%s.chained", path);
	sbuf_addf(&marker, "# runner %s hook", name);
	if (stat(path, &st) < 0 && errno == EACCES) {
		/* gitolite's .gitolite is 0700: the daemon's own user may not
		 * look, and need not (the hook runs as gitolite's user) */
		struct passwd *pw = getpwuid(geteuid());
		*problem = xasprintf("not checked: user '%s' may not look into "
		    "%s%s (run 'runner doctor' as root to check its hook)", pw ?
		    pw->pw_name : "?", hooks, gl ? " (gitolite's common hooks)" :
		    "");
		free(gl);
		free(hooks);
		free(path);
		free(chain);
		sbuf_release(&marker);
		return 2;
	}
	if (stat(path, &st) < 0 || read_file(path, 64 * 1024, &buf) < 0 ||
	    !strstr(buf.buf, marker.buf)) {
		*problem = xasprintf("no runner %s hook in %s%s", name, hooks,
		    gl ? " (gitolite's common hooks)" : "");
	} else if (!(st.st_mode & S_IXUSR)) {
		*problem = xasprintf("'%s' is not executable", path);
	} else if (!(in_home = script_value(buf.buf, "RUNNER_HOME")) ||
	    !(real_home = realpath(home, NULL)) ||
	    !(real_in = realpath(in_home, NULL)) || strcmp(real_in, real_home)) {
		*problem = xasprintf("'%s' queues into '%s', not this home",
		    path, in_home ? in_home : "(nothing)");
	} else if (!(prog = script_value(buf.buf, "RUNNER_HOOK")) ||
	    access(prog, X_OK) < 0) {
		*problem = xasprintf("'%s' runs '%s', which is missing: pushes "
		    "queue nothing", path, prog ? prog : "(nothing)");
	} else if (access(chain, F_OK) == 0 && access(chain, X_OK) < 0) {
		*problem = xasprintf("the chained hook '%s' is not executable: "
		    "it does not run", chain);
		struct stat hs;
		struct passwd *pw;
		sbuf_reset(&buf);
		/* the folder is its owner's, who may have put a link there
		 * (to a file of root's): root pastes this (also what another
		 * user's doctor says root runs), so the chmod is the owner's,
		 * and reaches nothing the owner could not */
		int known = lstat(hooks, &hs) == 0;
		if (!known || (hs.st_uid != 0 && (geteuid() == 0 ||
		    hs.st_uid != geteuid()))) {
			if (known && (pw = getpwuid(hs.st_uid)))
				sbuf_addf(&buf, "runuser -u %s -- ", pw->pw_name);
			else
				sbuf_adds(&buf, "as the repository's owner: ");
		}
		sbuf_adds(&buf, "chmod +x ");
		sbuf_add_shell(&buf, chain);
		*fix = xstrdup(buf.buf);
	}
	if (*problem && !*fix) {
		sbuf_reset(&buf);
		sbuf_adds(&buf, "runner install-hook --home ");
		sbuf_add_shell(&buf, home);
		sbuf_addch(&buf, ' ');
		sbuf_add_shell(&buf, repo);
		*fix = xstrdup(buf.buf);
	}
	sbuf_release(&buf);
	sbuf_release(&marker);
	free(gl);
	free(hooks);
	free(path);
	free(chain);
	free(in_home);
	free(prog);
	free(real_in);
	free(real_home);
	return *problem != NULL;
}
