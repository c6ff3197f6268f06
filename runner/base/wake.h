/*
 * The wake-up protocol: a datagram on HOME/runner.sock tells the daemon
 * that there is something to look at. It carries one word, never data;
 * the store and the spool hold the work, so a datagram lost (no daemon, a
 * full queue) loses nothing: the daemon finds the work within a second.
 */
#ifndef RUNNER_WAKE_H
#define RUNNER_WAKE_H

#include <sys/types.h>

#define SOCKET_FILE "runner.sock"

struct sockaddr_un;
/* The address of the socket `file` in `home`; -1 if it is too long. */
int home_socket_path(const char *home, const char *file,
    struct sockaddr_un *sa);
/* Bind the socket `file` of `home` (SOCK_DGRAM, or SOCK_STREAM and
 * listening; non-blocking, close-on-exec), the home's group its group and
 * `mode` its mode; returns the descriptor, or -1 with error_set(). */
int home_socket_bind(const char *home, const char *file, int type,
    mode_t mode);
/* Remove the socket file and close `fd`. */
void home_socket_unbind(const char *home, const char *file, int fd);

/* What a datagram asks the daemon to do. */
enum wake_what {
	WAKE_NONE = 0,
	WAKE_JOBS = 1,		/* "wake": new jobs (or spooled pushes) */
	WAKE_CANCEL = 2,	/* "cancel": a job was asked to stop */
	WAKE_NOTIFY = 4,	/* "notify": events to route and deliver */
	/* "soon": a hook is about to queue a job: a worker should be up by
	 * then (its program started, its store open); a daemon that does
	 * not know the word takes it for "wake" */
	WAKE_SOON = 8,
};

/* Send a wake-up to the daemon of `home`. Returns 0, also when the daemon
 * is down (it finds the work when it starts), or the errno of a datagram
 * that could not be sent (the socket refuses this user). */
int wake_send(const char *home, enum wake_what what);

/* Bind HOME/runner.sock (non-blocking, close-on-exec; the home's group
 * may send); returns the descriptor, or -1 with error_set(). */
int wake_bind(const char *home);
/* Read every datagram waiting on `fd`: the WAKE_* bits they asked for. */
int wake_recv(int fd);
/* Remove the socket file of `home` and close `fd`. */
void wake_unbind(const char *home, int fd);

#endif
