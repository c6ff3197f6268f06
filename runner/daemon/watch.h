/*
 * What tells the supervisor that work may have come without a datagram
 * (a hook whose user may not write to the socket, a datagram lost), and
 * that a reserve was used: the store's files and the spool written, a
 * reserve removed. inotify says so as it happens, so that an idle
 * supervisor sleeps until then; where inotify cannot watch (no instance
 * left for the user, a folder gone), the supervisor looks each second.
 *
 * Either way only what writers do counts: a write, a file renamed in, a
 * size or a modification time. Never a change time: SQLite's unix VFS,
 * opening the store as root, gives its WAL and shm files back to the
 * store's owner (fchown) on every open, so that any reader, the
 * supervisor's own look included, would look like work.
 */
#ifndef RUNNER_WATCH_H
#define RUNNER_WATCH_H

#include <stdint.h>

enum watch_what {
	WATCH_STORE = 1,	/* the store (runner.db or its WAL) was written */
	WATCH_SPOOL = 2,	/* a push was spooled */
	WATCH_RESERVE = 4,	/* a reserve of the home was removed */
};

struct watch {
	int fd;			/* inotify, or -1: look each second */
	uint64_t store, spool;	/* what watch_changed() saw last */
};

/* Watch the store and the spool of `home`. Never fails: w->fd < 0 when
 * inotify cannot, and the caller looks each second. */
void watch_init(struct watch *w, const char *home);

/* The WATCH_* bits that the events waiting on w->fd say (all of them
 * after the kernel's queue overflowed); 0 with none. A watched folder
 * that went away ends the watch (w->fd < 0 from then on). */
int watch_read(struct watch *w);

/* WATCH_STORE and WATCH_SPOOL for what changed since the last call, by
 * size and modification time: the look each second without inotify. */
int watch_changed(struct watch *w, const char *home);

void watch_release(struct watch *w);

#endif
