/*
 * The home's reserves: files of space set aside on the home's file system
 * so that what must be written when a build filled it still can be. The
 * store's reserve (RESERVE_HOME, in the home) is released when SQLite
 * says the disk is full, so that an enqueue, a cancel or the failure of
 * the job that filled the disk is recorded; the spool's (RESERVE_SPOOL,
 * in spool/, which the hook's group may write) when the hook cannot
 * write its entry. The daemon makes them again once there is room.
 */
#ifndef RUNNER_RESERVE_H
#define RUNNER_RESERVE_H

#include <stdint.h>

enum reserve {
	RESERVE_HOME,		/* HOME/reserve, for the store */
	RESERVE_SPOOL,		/* HOME/spool/.reserve, for the hook */
};

/* Their names and sizes. */
#define RESERVE_HOME_NAME "reserve"
#define RESERVE_SPOOL_NAME ".reserve"
#define RESERVE_HOME_BYTES ((int64_t)4 << 20)
#define RESERVE_SPOOL_BYTES ((int64_t)1 << 20)

/*
 * Release reserve `which` of `home`: 1 if one was there and is gone (a
 * write that failed for want of space may now be tried again), 0 if
 * there was none or this user may not remove it. It prints nothing:
 * the hook's output is the pusher's.
 */
int reserve_release(const char *home, enum reserve which);

/* Is reserve `which` of `home` there? */
int reserve_present(const char *home, enum reserve which);

/*
 * Make the reserves of `home` that are missing, when its file system has
 * room for each and as much again besides. Returns how many it made, or
 * a negative code (the message says why) when one could not be made;
 * *missing is how many are still missing (no room for them yet, or an
 * error): the caller looks again later.
 */
int reserve_keep(const char *home, int *missing);

/* Bytes free on the file system of `path` for an unprivileged writer;
 * -1 if it cannot be asked. */
int64_t disk_free(const char *path);

#endif
