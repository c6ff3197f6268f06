/*
 * Small pieces every module uses: the error slot, allocation that never
 * returns NULL, a growable string buffer, time, durations and file helpers.
 */
#ifndef RUNNER_UTIL_H
#define RUNNER_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Return codes: 0 ok, a negative code on failure. */
#define ERR_GENERIC  (-1)
#define ERR_NOTFOUND (-2)
#define ERR_INVALID  (-3)
#define ERR_TIMEOUT  (-4)
#define ERR_NOSPACE  (-5)
#define ERR_BUSY     (-6)
#define ERR_LEASE    (-7)	/* a job this process no longer holds */

/* Record a message for the failure being returned; returns `code`.
 * A macro, so that the compiler (and gcc -fanalyzer) sees the code
 * returned, which is evaluated first (before errno can change). */
#define error_set(code, ...) __extension__ ({ int error_code_ = (code); \
	error_record(__VA_ARGS__); error_code_; })
void error_record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last message set in this process ("" if none). */
const char *error_last(void);
void error_clear(void);

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
/* Room for element `n` of array `p` of `size`-byte elements whose room
 * is *cap: the capacity doubles, so that appending N elements copies
 * O(N) bytes whatever the allocator (one realloc per element is
 * quadratic where realloc always moves, as under AddressSanitizer). */
void *xgrow(void *p, size_t n, size_t *cap, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn, format(printf, 1, 2)))
void fatal(const char *fmt, ...);

/* A growable buffer; `buf` is never NULL and always NUL-terminated. */
struct sbuf {
	char *buf;
	size_t len;
	size_t alloc;
};
extern char sbuf_empty[];
#define SBUF_INIT { sbuf_empty, 0, 0 }

void sbuf_init(struct sbuf *sb);
void sbuf_release(struct sbuf *sb);
void sbuf_grow(struct sbuf *sb, size_t extra);
void sbuf_add(struct sbuf *sb, const void *data, size_t n);
void sbuf_adds(struct sbuf *sb, const char *s);
void sbuf_addch(struct sbuf *sb, char c);
void sbuf_addf(struct sbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sbuf_vaddf(struct sbuf *sb, const char *fmt, va_list ap);
void sbuf_reset(struct sbuf *sb);
/* Shorten to `len` bytes (no-op if not longer). */
void sbuf_truncate(struct sbuf *sb, size_t len);
/* Free the N strings of V, then V. */
void strv_free_n(char **v, size_t n);

/* Hand the string to the caller, who frees it; the buffer is reset. */
char *sbuf_detach(struct sbuf *sb);

int64_t now_ms(void);      /* wall clock, ms since the epoch */
int64_t mono_ms(void);     /* monotonic clock, ms */
/* The earlier of two deadlines, where 0 means none. */
int64_t deadline_min(int64_t a, int64_t b);

/* Call fn(line, arg) on each line of `text`, each '\n' made a '\0' in
 * place; a last line without '\n' is a line too, an empty text none. */
void each_line(char *text, void (*fn)(char *line, void *arg), void *arg);

/* True if `url` is SCHEME://SOMETHING with SCHEME one of the words of
 * `schemes`: runner.yml's check, in every process that reads it. The
 * parts of a URL are libcurl's to read (curl_url()), where it is loaded:
 * the processes that deliver or check (notify.c, check.c), never the
 * hook, the supervisor or the CLI for this. */
int url_scheme_in(const char *url, const char *schemes);

/* True if `word` is one of the space-separated words of `list`. */
int word_in(const char *list, const char *word);
/* "90", "90s", "500ms", "10m", "2h" into milliseconds. */
int parse_duration(const char *s, int64_t *out_ms);
/* "512", "64K", "512M", "2G" (also "KiB", "MB"...: powers of 1024) into
 * bytes. */
int parse_size(const char *s, int64_t *out);
/* "1h2m3s"-style rendering of a duration, into `sb`. */
void format_duration(struct sbuf *sb, int64_t ms);
/* A size as runner.yml writes one: "64M", "2G", or "1.5G" when it is not
 * a whole number of units; bytes below 1K. */
void format_size(struct sbuf *sb, int64_t bytes);

/* "512 B", "1.5 KB", "12.3 MB" (units of 1024). */
void format_bytes(struct sbuf *sb, int64_t n);
int mkdir_p(const char *path, mode_t mode);
/* Remove a tree without following symlinks; a missing path is ok. */
int rm_rf(const char *path);
/* The same for entry `name` of the folder `dirfd`, walked by
 * descriptors: 0, or -1 with errno (no message). */
int rm_rf_at(int dirfd, const char *name);
/*
 * The bytes the tree at folder `path` takes on disk (its blocks), in
 * *out: walked by descriptors, no link followed and no other file system
 * entered, stopping once past `stop` (0: never). ERR_INVALID when it is
 * deeper than 256 folders (then it cannot be measured).
 */
int disk_usage(const char *path, int64_t stop, int64_t *out);
/* Read at most `max` bytes of a file; ERR_INVALID if it is larger. A
 * FIFO does not block it. */
int read_file(const char *path, size_t max, struct sbuf *out);
/* The same from the open descriptor `fd`, `path` naming it in messages. */
int read_fd(int fd, const char *path, size_t max, struct sbuf *out);
/*
 * Write via a temporary file and rename, so readers never see half: the
 * folder opened once (its last component never a link), the temporary
 * made there under a random name with O_EXCL|O_NOFOLLOW, the file and the
 * folder synced. As root, a folder that another user owns is refused
 * (ERR_INVALID): write such a file as that user.
 */
int write_file_atomic(const char *path, const char *data, size_t len,
    mode_t mode);
/* write_file_atomic(), synced (the file and its folder) only if `sync`:
 * a caller that syncs it later, or never needs to. */
int write_file_renamed(const char *path, const char *data, size_t len,
    mode_t mode, int sync);
/* fchmod(), also for an O_PATH descriptor (through /proc/self/fd). */
int chmod_fd(int fd, mode_t mode);

/*
 * Walk the tree `name` (relative to `dirfd`; AT_FDCWD for a path whose
 * folders above are trusted) by descriptors: each folder is opened with
 * O_NOFOLLOW|O_DIRECTORY from its parent's descriptor, anything else is
 * held by an O_PATH|O_NOFOLLOW descriptor, so a link is never followed,
 * and nothing on another file system (a mount point) is walked into.
 * `fn` gets each entry's descriptor, its fstat and its path (for
 * messages), children before their folder, the top last. The first
 * error (of the walk or of `fn`, which sets its message) stops it.
 */
struct stat;
typedef int (*tree_fn)(int fd, const struct stat *st, const char *path,
    void *arg);
int tree_walk_at(int dirfd, const char *name, tree_fn fn, void *arg);
/*
 * Give the tree `name` to uid:gid with tree_walk_at: a link changes owner
 * itself, never its target; a regular file with more than one link is
 * refused (its other name may be anywhere). Children first, so the new
 * owner can change nothing in a folder while it is walked. Returns 0 or
 * -1 with a message naming the path.
 */
int chown_tree_at(int dirfd, const char *name, uid_t uid, gid_t gid);
/* Write all of `len` bytes, retrying on EINTR and short writes. */
int write_all(int fd, const void *data, size_t len);

/* Edit distance, for "did you mean" hints. */
size_t levenshtein(const char *a, const char *b);

/* Length (1..4) of the valid UTF-8 character at `s`, its code point in
 * *cp; 0 if the bytes are not valid UTF-8. */
size_t utf8_char_len(const unsigned char *s, size_t left, unsigned *cp);

/* Is `cp` one of Unicode's formatting characters that reorder or hide
 * the text around it (bidi overrides and isolates, zero-width marks)?
 * Text a push controls shows them escaped, so that what is read is what
 * is there. */
int utf8_reorders(unsigned cp);

/* The `n` bytes at `d` as 2n lowercase hex digits and a NUL at `out`. */
void hex_encode(const unsigned char *d, size_t n, char *out);

/* `s` as one single-quoted word of the shell ('a'\''b' for a'b), for
 * the commands that messages print as a fix. */
void sbuf_add_shell(struct sbuf *sb, const char *s);

/*
 * Append `s` for display on a terminal: control characters, escape
 * sequences and invalid UTF-8 come out as visible \x.. escapes, and the
 * characters that reorder or hide text (utf8_reorders) as \u{....}.
 */
void sbuf_add_display(struct sbuf *sb, const char *s, size_t len);

/*
 * Repositories' short names. The store records each one's name when it
 * first sees the repository (store/repos.h) and never changes it; this
 * process keeps the names it was told of with repo_names_set() (the
 * store's repos.h loads them all). repo_short_name() (caller frees) is
 * the recorded name, or for a repository not recorded yet the name it
 * would get now: the shortest path suffix (the last component without
 * ".git", then with the components before it) that no recorded name
 * takes, else the whole path. repo_name_add() adds it to `sb` shown
 * escaped. repo_names_reset() forgets them all (tests).
 */
void repo_names_set(const char *path, const char *name);
void repo_names_reset(void);
char *repo_short_name(const char *repo);
void repo_name_add(struct sbuf *sb, const char *repo);
/* The last `k` components of `path` without a trailing ".git"
 * ("/srv/a/b.git" with k = 2 is "a/b"), or NULL if it has fewer; caller
 * frees. */
char *repo_path_suffix(const char *path, int k);
/* Is `label` a host label: lowercase letters, digits, '.', '_' and '-',
 * starting with a letter or digit, at most 64? */
int label_valid(const char *label);
/* The last path component without ".git" ("/srv/zlib.git": "zlib"). */
char *repo_base_name(const char *repo);
/* The branch or tag name of a ref. */
const char *ref_short_name(const char *ref);

/* A line on the daemon's log (stderr): "TIME runner[PID]: MSG"; when
 * stderr is systemd's journal, "<LEVEL>runner[PID]: MSG" instead, the
 * level 4 for a MSG starting "warning:", 3 for "error:" or "cannot ", else
 * 6 (journald adds the time). */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Point stderr (the log) at file `path` again, or at $RUNNER_LOG_FILE
 * when `path` is NULL (nothing when neither is set): after logrotate. */
int log_reopen(const char *path);

#endif
