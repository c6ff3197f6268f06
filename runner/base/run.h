/*
 * The one way this project starts a child process (git's run-command is
 * the model): stages, environment commands, checks, chained hooks and
 * helper programs (ssh-keygen, gpg, bwrap) all go through child_start().
 * It owns the switch to another user, bubblewrap, resource limits, the
 * process group or session, descriptors (only 0, 1 and 2 survive the
 * exec, and those the caller names), signal dispositions, and reports a
 * failed exec as an error of the parent. The same code path runs in
 * sanitizer and release builds.
 */
#ifndef RUNNER_RUN_H
#define RUNNER_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sbuf;

#define BWRAP_PATH "/usr/bin/bwrap"

/* Resource limits of the child's processes (setrlimit); 0: inherited. */
struct run_limits {
	int64_t processes;	/* RLIMIT_NPROC (per user; not for root) */
	int64_t memory;		/* RLIMIT_AS, bytes of address space */
	int64_t file_size;	/* RLIMIT_FSIZE, bytes of one file */
	int64_t open_files;	/* RLIMIT_NOFILE */
};

/* A unix user to run as, resolved once (NSS is not cheap). */
struct run_user {
	char *name;
	uid_t uid;
	gid_t gid;
	gid_t *groups;		/* supplementary groups */
	int ngroups;
	char *home;
};

/* Look up `name` (or a numeric uid). ERR_NOTFOUND if there is none. */
int run_user_lookup(const char *name, struct run_user *out);
void run_user_release(struct run_user *u);
/* The owner of the file `st` describes, to run as: its user, or with no
 * name on this system its uid alone, with the file's group. */
struct stat;
void run_user_owner(const struct stat *st, struct run_user *out);

/*
 * A bubblewrap sandbox: the system read-only, a private /tmp and /dev,
 * each of `hide` replaced by an empty folder (or, for a file, by an empty
 * file), `ro` bound read-only and `rw` writable at the same paths, in that
 * order. No other user namespace can be made inside it.
 *
 * bwrap itself runs with PATH and LANG only: the child's environment is
 * set inside the sandbox (--clearenv, --setenv), its arguments read from a
 * descriptor, never the command line, so that nothing of it (a loader
 * variable, a secret) reaches a process outside or shows in ps.
 */
struct run_sandbox {
	const char *const *hide;	/* NULL-terminated, or NULL */
	const char *const *ro;
	const char *const *rw;
	int network;			/* keep the host's network */
	int pid_ns;			/* own pid namespace: all dies with it */
	/* with pid_ns: the namespace outlives the command while processes
	 * it left (services) remain in it, and ends when its init, reported
	 * on status_fd, is killed; without, it dies with its parent */
	int keep_ns;
	/* a descriptor bwrap writes its JSON status to (--json-status-fd):
	 * {"child-pid": N, ... "pid-namespace": N} when the sandbox is up,
	 * {"exit-code": N} when the command ended; 0: none */
	int status_fd;
	/* a seccomp filter, classic BPF (struct sock_filter[]), that bwrap
	 * loads last before it execs the child; NULL: none */
	const void *seccomp;
	size_t seccomp_len;
};

/* How many descriptors a child may keep besides 0, 1 and 2. */
#define CHILD_KEEP_MAX 4

struct child {
	const char *const *argv;	/* argv[0]: absolute, or found in PATH */
	const char *prog;		/* the program's file when argv[0] is
					 * only the name it shows; NULL: argv[0] */
	char *const *envp;		/* NULL: PATH and LANG only; with a
					 * sandbox, set inside it only */
	const char *cwd;		/* NULL: unchanged */
	int in, out, err;		/* -1: /dev/null (err -1 and out set:
					 * the same as out) */
	int setsid;			/* own session and process group */
	int pgroup;			/* own process group */
	int pdeathsig;			/* signal when the parent dies, or 0 */
	int ignore_sigpipe;		/* SIGPIPE stays ignored (the
					 * supervisor's children, as it) */
	const struct run_user *user;	/* switch to it (needs root), or NULL */
	const struct run_sandbox *sandbox;	/* run under bwrap, or NULL */
	const struct run_limits *limits;	/* or NULL */
	/* descriptors the child keeps: keep[i] becomes its descriptor 3 + i
	 * (a sandbox's own come after these); the caller still closes its
	 * copies */
	int keep[CHILD_KEEP_MAX];
	int nkeep;
	pid_t pid;			/* set by child_start */
};

/*
 * Start the child. Returns 0, or a negative code with a message naming
 * the program when it could not be started (fork, user switch, limits or
 * exec failed); then nothing is left running.
 */
int child_start(struct child *c);
/* Wait for it to end; returns its exit code as a shell reports it (128 +
 * signal). */
int child_finish(struct child *c);

/*
 * Run `c` to its end with `in` on its stdin, stdout and stderr captured
 * (bounded) into `out` and `err` (either may be NULL). A child still
 * running after `timeout_ms` is killed with its process group, also one
 * that closed its outputs and goes on (stopped, say). Returns the
 * exit code, ERR_TIMEOUT, or a negative code if it could not start
 * (ERR_NOTFOUND: no such program).
 */
int child_capture(struct child *c, const char *in, size_t inlen,
    struct sbuf *out, struct sbuf *err, int64_t timeout_ms);

/*
 * Run a helper program (ssh-keygen, gpg) as child_capture() does, with a
 * clean environment (PATH and LANG only).
 */
int run_helper(const char *const argv[], const char *in, size_t inlen,
    struct sbuf *out, struct sbuf *err, int64_t timeout_ms);

/*
 * Run `fn(arg)` in a child process that has become `u` (its groups, gid
 * and uid; needs root) and return what it returned, with its message when
 * negative: to judge something as another user would (doctor run as root
 * for a daemon that runs as its own user). Whatever else fn changes dies
 * with the child.
 */
int run_as_user(const struct run_user *u, int (*fn)(void *), void *arg);
/* The same, and what fn() left in the `len` bytes at `out` (in the
 * child's memory) copied back into them. */
int run_as_user_into(const struct run_user *u, int (*fn)(void *), void *arg,
    void *out, size_t len);

/* May `u` reach `path` (search every folder on the way) and, with
 * `read`, read it? */
int run_user_can_reach(const struct run_user *u, const char *path, int read);

/*
 * The object id ref `ref` ("refs/heads/develop") of bare repository
 * `repo` holds, into `hex` (room for 65), as git reads it (`git
 * show-ref --verify`: that ref exactly, loose, packed or reftable,
 * whatever the repository's git writes); for the supervisor, which has
 * no libgit2. git runs as `as`
 * (needs root; NULL: as we are): as root, the repository's owner, so
 * that its configuration and refs (a link to a file of root's, an
 * include.path) are read with the owner's rights alone. ERR_NOTFOUND if
 * there is no such ref; ERR_TIMEOUT after GIT_REF_TIMEOUT_MS (a FIFO
 * where a ref was).
 */
#define GIT_REF_TIMEOUT_MS 5000
int git_ref_read(const char *repo, const char *ref,
    const struct run_user *as, char *hex);

/* Can this user make a bubblewrap sandbox here? 0, or -1 with why. */
int run_sandbox_works(const struct run_user *user);

/*
 * The program beside `runner` that links libgit2, libcurl and libarchive
 * (as git's git-remote-http alone links libcurl): the daemon's workers
 * and notifier, and the commands that need those libraries. `runner`
 * itself stays small, so that status, show, log and the supervisor start
 * fast.
 */
#define WORKER_PROGRAM "runner-worker"
/* The web page's program (libmicrohttpd), started when runner.yml says
 * http: listen. */
#define WEB_PROGRAM "runner-web"

/* The path of helper program `name`: beside the running program (the
 * build tree), else in libexecdir/runner as installed (RUNNER_HELPER_DIR,
 * relative to the program's folder); when it is in neither, the path
 * beside it, for the message. Caller frees; NULL if /proc/self/exe cannot
 * be read. */
char *run_sibling(const char *name);

/*
 * Build stages carry RUN_OWNER_VAR=WORKSPACE in their environment, and
 * so does whatever they start. SIGKILL every process (but this one) whose
 * value starts with `prefix`: what is left of stages of a daemon that was
 * killed, even those that left their process group. Returns how many.
 */
#define RUN_OWNER_VAR "RUNNER_OWNER"
int run_kill_leftovers(const char *prefix);

#endif
