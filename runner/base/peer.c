/*
 * Who is at the other end of a TCP connection (peer.h): the client's
 * socket in /proc/net/tcp{,6}, its owner, and the processes holding it.
 */
#include "peer.h"
#include "util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <linux/sock_diag.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An address as the kernel's table prints it: 4 or 16 bytes. */
struct taddr {
	int v6;
	unsigned char a[16];
	unsigned port;
	int any;		/* a wildcard: only the port counts */
};

static int to_taddr(const struct sockaddr *sa, struct taddr *t)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0xff, 0xff };

	memset(t, 0, sizeof(*t));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;
		memcpy(t->a, &s->sin_addr, 4);
		t->port = ntohs(s->sin_port);
		t->any = s->sin_addr.s_addr == htonl(INADDR_ANY);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;
		t->port = ntohs(s->sin6_port);
		if (!memcmp(s->sin6_addr.s6_addr, mapped, 12)) {
			/* an IPv4 client of a dual-stack socket: its own
			 * socket is in the IPv4 table */
			memcpy(t->a, s->sin6_addr.s6_addr + 12, 4);
			t->any = !memcmp(t->a, "\0\0\0\0", 4);
			return 0;
		}
		t->v6 = 1;
		memcpy(t->a, s->sin6_addr.s6_addr, 16);
		t->any = IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr);
		return 0;
	}
	return -1;
}

/* The table's hex (32-bit words in this machine's byte order) as bytes. */
static int parse_hex(const char *hex, unsigned char *out, size_t n)
{
	if (strlen(hex) != n * 2)
		return -1;
	for (size_t w = 0; w < n / 4; w++) {
		char word[9];
		uint32_t v;
		memcpy(word, hex + w * 8, 8);
		word[8] = '\0';
		v = (uint32_t)strtoul(word, NULL, 16);
		memcpy(out + w * 4, &v, 4);
	}
	return 0;
}

/* The client socket's owner and inode: 1 found, 0 not in this table. */
static int find_socket(const struct taddr *peer, const struct taddr *local,
    uid_t *uid, unsigned long *inode)
{
	size_t alen = peer->v6 ? 16 : 4;
	FILE *f = fopen(peer->v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "re");
	char line[512];
	int found = 0;

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) {	/* the header */
		fclose(f);
		return 0;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		char lh[33], rh[33];
		unsigned lp, rp, st, u;
		unsigned long ino;
		unsigned char la[16], ra[16];

		if (sscanf(line, " %*d: %32[0-9A-Fa-f]:%x %32[0-9A-Fa-f]:%x %x "
		    "%*x:%*x %*x:%*x %*x %u %*d %lu", lh, &lp, rh, &rp, &st, &u,
		    &ino) != 7 || st == 0x0A /* LISTEN */)
			continue;
		if (parse_hex(lh, la, alen) < 0 || parse_hex(rh, ra, alen) < 0)
			continue;
		if (lp != peer->port || memcmp(la, peer->a, alen) ||
		    rp != local->port || (!local->any && memcmp(ra, local->a,
		    alen)))
			continue;
		*uid = (uid_t)u;
		*inode = ino;
		found = 1;
	}
	fclose(f);
	return found;
}

/*
 * The same through the kernel's socket diagnostics: one exact lookup of
 * the client's socket by its four-tuple, instead of reading the whole
 * table (whose text the kernel makes by walking every hash bucket).
 * Needs our address, so not for a wildcard listener: 1 found, 0 not
 * there, -1 the kernel cannot say (then the table is read).
 */
static int diag_socket(const struct taddr *peer, const struct taddr *local,
    uid_t *uid, unsigned long *inode)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	union {
		struct nlmsghdr nlh;
		char buf[1024];
	} ans;
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	int fd, found = -1;
	ssize_t n;

	if (local->any)
		return -1;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = peer->v6 ? AF_INET6 : AF_INET;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	/* the client's socket: its source is the peer, its destination us */
	req.r.id.idiag_sport = htons((uint16_t)peer->port);
	req.r.id.idiag_dport = htons((uint16_t)local->port);
	memcpy(req.r.id.idiag_src, peer->a, peer->v6 ? 16 : 4);
	memcpy(req.r.id.idiag_dst, local->a, peer->v6 ? 16 : 4);
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) < 0)
		return -1;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&to,
	    sizeof(to)) == (ssize_t)sizeof(req) &&
	    (n = recv(fd, &ans, sizeof(ans), 0)) > 0 &&
	    NLMSG_OK(&ans.nlh, (size_t)n)) {
		if (ans.nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
		    ans.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(struct
		    inet_diag_msg))) {
			const struct inet_diag_msg *m = NLMSG_DATA(&ans.nlh);
			*uid = (uid_t)m->idiag_uid;
			*inode = m->idiag_inode;
			found = 1;
		} else if (ans.nlh.nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(&ans.nlh);
			found = e->error == -ENOENT ? 0 : -1;
		}
	}
	close(fd);
	return found;
}

static int in_list(uid_t u, const uid_t *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] == u)
			return 1;
	return 0;
}

/* Does process `pid` hold socket `want` ("socket:[N]")? */
static int holds(const char *pid, const char *want)
{
	char path[300], link[64];
	struct dirent *e;
	DIR *d;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	if (!(d = opendir(path)))
		return 0;
	while (!found && (e = readdir(d))) {
		ssize_t n;
		if (e->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = !strcmp(link, want);
		}
	}
	closedir(d);
	return found;
}

static int user_ns(const char *pid, char *out, size_t len)
{
	char path[300];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/ns/user", pid);
	if ((n = readlink(path, out, len - 1)) <= 0)
		return -1;
	out[n] = '\0';
	return 0;
}

static int by_pid_desc(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * The holder of socket `inode`, owned by `uid`, among that user's
 * processes, the newest first (a client is usually one of them), for at
 * most `budget_ms` (0: no bound); 0 when none was found. The first holder
 * found is the one: a socket made in a sandbox and handed to a process
 * outside would need a process outside to take it.
 */
static pid_t find_holder(uid_t uid, unsigned long inode, int64_t budget_ms)
{
	char want[64];
	struct dirent *e;
	DIR *d;
	long *pids = NULL;
	size_t n = 0, cap = 0;
	pid_t found = 0;
	int64_t until = mono_ms() + budget_ms;

	if (!(d = opendir("/proc")))
		return 0;
	while ((e = readdir(d))) {
		char path[300];
		struct stat st;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s", e->d_name);
		/* a process that is not dumpable shows as root's: a client
		 * of ours hidden so is not found, and refused */
		if (stat(path, &st) < 0 || st.st_uid != uid)
			continue;
		if (n == cap)
			pids = xrealloc(pids, (cap = cap ? 2 * cap : 256) *
			    sizeof(*pids));
		pids[n++] = atol(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(pids, n, sizeof(*pids), by_pid_desc);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	for (size_t i = 0; i < n && !found; i++) {
		char pid[32];
		if (budget_ms && mono_ms() >= until)
			break;
		snprintf(pid, sizeof(pid), "%ld", pids[i]);
		if (holds(pid, want))
			found = (pid_t)pids[i];
	}
	free(pids);
	return found;
}

/*
 * Is socket `inode`, owned by `uid`, held by a process in another user
 * namespace than ours? 1 yes, or no holder found; 0 held in ours.
 */
static int held_elsewhere(uid_t uid, unsigned long inode)
{
	char self[64], ns[64], pid[32];
	pid_t holder;

	if (user_ns("self", self, sizeof(self)) < 0 ||
	    !(holder = find_holder(uid, inode, 0)))
		return 1;
	snprintf(pid, sizeof(pid), "%d", (int)holder);
	return user_ns(pid, ns, sizeof(ns)) < 0 || strcmp(ns, self);
}

int peer_is_code(const struct sockaddr *peer, const struct sockaddr *local,
    const struct peer_policy *p, uid_t *uid)
{
	struct taddr pa, la;
	unsigned long inode = 0;
	uid_t u;
	int rc;

	*uid = (uid_t)-1;
	if (to_taddr(peer, &pa) < 0 || to_taddr(local, &la) < 0)
		return 0;
	if (la.v6 != pa.v6 && !la.any)
		return 0;
	rc = diag_socket(&pa, &la, &u, &inode);
	if (rc < 0)
		rc = find_socket(&pa, &la, &u, &inode);
	if (!rc)
		return 0;	/* another machine's */
	*uid = u;
	if (in_list(u, p->code_uids, p->ncode))
		return 1;
	if (in_list(u, p->own_uids, p->nown))
		return held_elsewhere(u, inode);
	return 0;
}

/* Is the kernel's address `a` a wildcard: all zeros, or (in the IPv6
 * table) the v4-mapped 0.0.0.0, which takes IPv4 connections to any
 * address of a dual-stack socket? */
static int is_any(const unsigned char *a, size_t n)
{
	static const unsigned char mapped_any[16] = { 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0xff, 0xff, 0, 0, 0, 0 };

	for (size_t i = 0; i < n; i++)
		if (a[i])
			return n == 16 && !memcmp(a, mapped_any, 16);
	return 1;
}

/* The inode of pid `pid`'s pid namespace, as /proc names it ("1234"). */
static int ns_of(const char *pid, uint64_t *inode)
{
	char path[300], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/ns/pid", pid);
	if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
		return -1;
	link[n] = '\0';
	if (strncmp(link, "pid:[", 5))
		return -1;
	*inode = strtoull(link + 5, NULL, 10);
	return 0;
}

pid_t peer_ns_holder(uint64_t pidns, unsigned long inode)
{
	char want[64];
	struct dirent *e;
	DIR *d;
	pid_t found = 0;

	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if (!(d = opendir("/proc")))
		return 0;
	while (!found && (e = readdir(d))) {
		uint64_t ns;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if (ns_of(e->d_name, &ns) == 0 && ns == pidns &&
		    holds(e->d_name, want))
			found = (pid_t)atol(e->d_name);
	}
	closedir(d);
	return found;
}

pid_t peer_holder(uid_t uid, unsigned long inode, int64_t budget_ms)
{
	return find_holder(uid, inode, budget_ms > 0 ? budget_ms : 1);
}

/* Is address `sa` one of this machine's: loopback, a wildcard, or one
 * of `ifs`? */
static int addr_local(const struct sockaddr *sa, const struct ifaddrs *ifs)
{
	struct taddr t;

	if (to_taddr(sa, &t) < 0)
		return 0;
	if (t.any || (!t.v6 && t.a[0] == 127) || (t.v6 &&
	    IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)t.a)))
		return 1;
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		struct taddr o;
		if (!i->ifa_addr || to_taddr(i->ifa_addr, &o) < 0)
			continue;
		if (o.v6 == t.v6 && !memcmp(o.a, t.a, t.v6 ? 16 : 4))
			return 1;
	}
	return 0;
}

int peer_host_local(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct ifaddrs *ifs = NULL;
	int local = 1;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	if (getifaddrs(&ifs) < 0)
		ifs = NULL;
	for (ai = res; ai && local; ai = ai->ai_next)
		local = addr_local(ai->ai_addr, ifs);
	if (ifs)
		freeifaddrs(ifs);
	freeaddrinfo(res);
	return local;
}

int peer_listeners(const char *host, unsigned port, struct listener *out,
    size_t max)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct taddr want[16];
	size_t nwant = 0, n = 0;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	for (ai = res; ai && nwant < 16; ai = ai->ai_next)
		if (to_taddr(ai->ai_addr, &want[nwant]) == 0)
			nwant++;
	freeaddrinfo(res);
	for (int v6 = 0; v6 < 2; v6++) {
		FILE *f = fopen(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "re");
		size_t alen = v6 ? 16 : 4;
		char line[512];

		if (!f)
			continue;
		if (!fgets(line, sizeof(line), f)) {
			fclose(f);
			continue;
		}
		while (fgets(line, sizeof(line), f)) {
			char lh[33];
			unsigned lp, st, u;
			unsigned long ino;
			unsigned char la[16];
			int match;

			if (sscanf(line, " %*d: %32[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x "
			    "%x %*x:%*x %*x:%*x %*x %u %*d %lu", lh, &lp, &st, &u,
			    &ino) != 5 || st != 0x0A /* LISTEN */ || lp != port)
				continue;
			if (parse_hex(lh, la, alen) < 0)
				continue;
			match = is_any(la, alen);
			for (size_t i = 0; !match && i < nwant; i++) {
				const struct taddr *w = &want[i];
				if (w->v6 == v6)
					match = !memcmp(w->a, la, alen);
				else if (v6 && !w->v6)
					/* a v4 address as a v6 socket sees it */
					match = is_any(la, 10) && la[10] == 0xff &&
					    la[11] == 0xff && !memcmp(la + 12, w->a, 4);
			}
			if (!match)
				continue;
			if (n++ >= max)
				continue;	/* counted, not kept */
			struct listener *l = &out[n - 1];
			char a[INET6_ADDRSTRLEN];
			inet_ntop(v6 ? AF_INET6 : AF_INET, la, a, sizeof(a));
			snprintf(l->addr, sizeof(l->addr), v6 ? "[%s]:%u" : "%s:%u",
			    a, port);
			l->uid = (uid_t)u;
			l->inode = ino;
		}
		fclose(f);
	}
	return (int)n;
}

int proc_started(pid_t pid, int64_t *ticks)
{
	char path[64];
	struct sbuf buf = SBUF_INIT;
	const char *p;
	int field = 2, rc = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, 4096, &buf) == 0 && (p = strrchr(buf.buf, ')'))) {
		/* after "pid (comm)": state is field 3, starttime field 22 */
		for (p++; *p && field < 22; p++)
			if (*p == ' ')
				field++;
		if (field == 22 && *p >= '0' && *p <= '9') {
			*ticks = strtoll(p, NULL, 10);
			rc = 0;
		}
	}
	sbuf_release(&buf);
	return rc;
}

int proc_pidns(pid_t pid, uint64_t *inode)
{
	char name[32];

	snprintf(name, sizeof(name), "%d", (int)pid);
	return ns_of(name, inode);
}
