/*
 * Who is at the other end of a TCP connection made on this machine.
 *
 * A build with the network shares the machine's network namespace, so
 * whatever listens on 127.0.0.1 is a connect() away from repository code.
 * A server that must not answer it (the web page) asks peer_is_code()
 * about every connection it accepts.
 */
#ifndef RUNNER_PEER_H
#define RUNNER_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * What the server knows about the users repository code runs as:
 * `code_uids` only ever run it (the build and release users), and
 * processes of `own_uids` run it inside a user namespace of their own
 * (bubblewrap's), never in ours.
 */
struct peer_policy {
	const uid_t *code_uids;
	size_t ncode;
	const uid_t *own_uids;
	size_t nown;
};

/*
 * The connection from `peer` to our `local` address (its port; the
 * address too unless it is a wildcard): 1 when the client socket is this
 * machine's and belongs to repository code: to one of the code users, or
 * to a process of one of our users that is in another user namespace
 * than ours (or that cannot be told, being gone). 0 when it is someone
 * else's or the client is on another machine. *uid is the client
 * socket's owner when it is this machine's, else (uid_t)-1.
 */
int peer_is_code(const struct sockaddr *peer, const struct sockaddr *local,
    const struct peer_policy *p, uid_t *uid);

/*
 * What listens on TCP `port` of this machine where a connection to
 * `host` (a name or address of this machine) may arrive: sockets bound
 * to one of host's addresses or to a wildcard address (a v4-mapped one
 * too), each with its owner. Fills at most `max`; returns how many there
 * are (maybe more than `max`), or -1 when the name does not resolve.
 */
struct listener {
	uid_t uid;
	unsigned long inode;
	char addr[64];		/* as it is bound: 0.0.0.0:8443, [::1]:8443 */
};
int peer_listeners(const char *host, unsigned port, struct listener *out,
    size_t max);

/* A process in pid namespace `pidns` that holds socket `inode`, or 0:
 * only that namespace's processes are looked into. */
pid_t peer_ns_holder(uint64_t pidns, unsigned long inode);
/* A process of `uid` that holds socket `inode`, the newest first, looked
 * for for at most `budget_ms`; 0 when none was found in that time. */
pid_t peer_holder(uid_t uid, unsigned long inode, int64_t budget_ms);

/* Is `host` this machine: does every address it resolves to belong to
 * it (loopback, a wildcard, or an address of one of its interfaces)? 1
 * yes, 0 no, -1 it does not resolve. */
int peer_host_local(const char *host);

/*
 * A process's identity beyond its pid, which the kernel hands out again:
 * its start time (clock ticks after boot) and the inode of the pid
 * namespace it is in. 0, or -1 when it is gone (or, for the namespace,
 * cannot be read).
 */
int proc_started(pid_t pid, int64_t *ticks);
int proc_pidns(pid_t pid, uint64_t *inode);

#endif
