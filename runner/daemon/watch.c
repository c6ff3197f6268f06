/*
 * The supervisor's watch on the home (watch.h): inotify on the home
 * folder (the store's files, the store's reserve) and on spool/ (pushes
 * renamed in, the spool's reserve). Events are filtered by name, since
 * both folders hold more: a reader of the store creates and removes an
 * empty WAL and writes the shm, which is no work; only a write to
 * runner.db or its WAL is.
 */
#include "watch.h"
#include "reserve.h"
#include "spool.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* A reserve's name in the home or the spool: removed, or something
 * renamed over it. */
#define RESERVE_EVENTS (IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

void watch_init(struct watch *w, const char *home)
{
	char *spool = xasprintf("%s/%s", home, SPOOL_DIR);

	w->store = w->spool = 0;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	/* the home is the runner's own, spool/ a folder of it: neither
	 * name can be swapped for a link by another user */
	if (w->fd >= 0 && (inotify_add_watch(w->fd, home, IN_MODIFY |
	    RESERVE_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW) < 0 ||
	    inotify_add_watch(w->fd, spool, IN_CREATE | RESERVE_EVENTS |
	    IN_ONLYDIR | IN_DONT_FOLLOW) < 0)) {
		log_line("warning: cannot watch '%s' (%s): looking for work "
		    "each second instead", home, strerror(errno));
		close(w->fd);
		w->fd = -1;
	}
	free(spool);
}

/* What one event says. */
static int what(const struct inotify_event *ev)
{
	const char *name = ev->len ? ev->name : "";

	if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_UNMOUNT))
		return WATCH_STORE | WATCH_SPOOL | WATCH_RESERVE;
	if ((ev->mask & RESERVE_EVENTS) && (!strcmp(name, RESERVE_HOME_NAME) ||
	    !strcmp(name, RESERVE_SPOOL_NAME)))
		return WATCH_RESERVE;
	if ((ev->mask & (IN_MODIFY | IN_MOVED_TO)) &&
	    (!strcmp(name, STORE_FILE) || !strcmp(name, STORE_FILE "-wal")))
		return WATCH_STORE;
	if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && spool_is_entry(name))
		return WATCH_SPOOL;
	return 0;
}

int watch_read(struct watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int bits = 0, gone = 0;
	ssize_t n;

	while (w->fd >= 0 && (n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; ) {
			const struct inotify_event *ev = (const void *)p;
			bits |= what(ev);
			gone |= (ev->mask & IN_IGNORED) != 0;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (gone) {
		log_line("warning: a watched folder of the home went away: "
		    "looking for work each second from now on");
		watch_release(w);
	}
	return bits;
}

/* A number that changes when `path` is written, 0 if it is not there
 * or empty (a reader makes an empty WAL and removes it). */
static uint64_t stamp(const char *home, const char *name)
{
	char *path = xasprintf("%s/%s", home, name);
	struct stat sb;
	uint64_t v = 0;

	if (stat(path, &sb) == 0 && (sb.st_size > 0 || S_ISDIR(sb.st_mode)))
		v = (uint64_t)sb.st_mtim.tv_sec * 1000000000u +
		    (uint64_t)sb.st_mtim.tv_nsec + (uint64_t)sb.st_size;
	free(path);
	return v;
}

int watch_changed(struct watch *w, const char *home)
{
	uint64_t store = stamp(home, STORE_FILE) ^
	    stamp(home, STORE_FILE "-wal") * 3, spool = stamp(home, SPOOL_DIR);
	int bits = (store != w->store ? WATCH_STORE : 0) |
	    (spool != w->spool ? WATCH_SPOOL : 0);

	w->store = store;
	w->spool = spool;
	return bits;
}

void watch_release(struct watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
