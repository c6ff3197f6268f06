/*
 * The hook's questions to the daemon (ask.h): the socket, and reading
 * and writing its lines with a deadline, on both ends. Nothing here
 * blocks past the deadline its caller gives, and nothing read is held
 * past the bounds of ask.h.
 */
#include "ask.h"
#include "notebox.h"
#include "util.h"
#include "wake.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int socket_path(const char *home, struct sockaddr_un *sa)
{
	return home_socket_path(home, ASK_SOCKET, sa);
}

int ask_bind(const char *home)
{
	/* the hook's group may connect, nobody else */
	return home_socket_bind(home, ASK_SOCKET, SOCK_STREAM, 0660);
}

void ask_unbind(const char *home, int fd)
{
	home_socket_unbind(home, ASK_SOCKET, fd);
}

void ask_init(struct ask_conn *c, int fd, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->passed = -1;
	c->max = max;
}

void ask_close(struct ask_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->passed >= 0)
		close(c->passed);
	free(c->buf);
	ask_init(c, -1, 0);
}

/* Wait for `events` on the connection until `deadline`; 0 when it may
 * go on. With watch >= 0, ASK_GONE once that descriptor's reader left. */
static int await(struct ask_conn *c, short events, int64_t deadline,
    int watch)
{
	for (;;) {
		struct pollfd p[2] = { { c->fd, events, 0 }, { watch, 0, 0 } };
		int64_t left = deadline - mono_ms();
		int n;

		if (left <= 0)
			return error_set(ERR_TIMEOUT, "no answer in time");
		n = poll(p, watch >= 0 ? 2 : 1, left > 1000 ? 1000 : (int)left);
		if (n < 0 && errno != EINTR)
			return error_set(-1, "poll: %s", strerror(errno));
		if (watch >= 0 && (p[1].revents & (POLLERR | POLLHUP)))
			return error_set(ASK_GONE, "the push's output was closed");
		if (n > 0 && p[0].revents)
			return 0;
	}
}

int ask_write(struct ask_conn *c, const void *buf, size_t len,
    int64_t deadline)
{
	const char *p = buf;
	int error;

	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((error = await(c, POLLOUT, deadline, -1)) < 0)
				return error;
			continue;
		}
		if (n < 0)
			return error_set(-1, "cannot send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ask_printf(struct ask_conn *c, int64_t deadline, const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;
	int error;

	va_start(ap, fmt);
	sbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	error = ask_write(c, sb.buf, sb.len, deadline);
	sbuf_release(&sb);
	return error;
}

/* Read what is there (at least a byte, or the end), keeping the first
 * descriptor that comes with it. */
static int fill(struct ask_conn *c, int64_t deadline, int watch)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov;
	struct msghdr mh;
	ssize_t n;
	int error;

	if (c->skip) {
		memmove(c->buf, c->buf + c->skip, c->len - c->skip);
		c->len -= c->skip;
		c->skip = 0;
	}
	if (c->cap - c->len < 8192) {
		c->cap = c->len + 65536;
		c->buf = xrealloc(c->buf, c->cap + 1);
	}
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = c->buf + c->len;
		iov.iov_len = c->cap - c->len;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((error = await(c, POLLIN, deadline, watch)) < 0)
				return error;
			continue;
		}
		break;
	}
	if (n < 0)
		return error_set(-1, "cannot read: %s", strerror(errno));
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
	    cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (c->passed < 0)
				c->passed = fd;
			else
				close(fd);	/* one is all a request has */
		}
	}
	if (n == 0)
		return error_set(-1, "the connection was closed");
	c->len += (size_t)n;
	c->total += (size_t)n;
	if (c->max && c->total > c->max)
		return error_set(ERR_INVALID, "more than %zu bytes", c->max);
	return 0;
}

int ask_read_line(struct ask_conn *c, int64_t deadline, int watch,
    char **line)
{
	int error;

	for (;;) {
		char *nl = c->len > c->skip ? memchr(c->buf + c->skip, '\n',
		    c->len - c->skip) : NULL;
		if (nl && (size_t)(nl - (c->buf + c->skip)) > ASK_LINE_MAX)
			return error_set(ERR_INVALID, "a line longer than %d bytes",
			    ASK_LINE_MAX);
		if (nl) {
			*nl = '\0';
			*line = c->buf + c->skip;
			c->skip = (size_t)(nl - c->buf) + 1;
			return 0;
		}
		if (c->len - c->skip > ASK_LINE_MAX)
			return error_set(ERR_INVALID, "a line longer than %d bytes",
			    ASK_LINE_MAX);
		if ((error = fill(c, deadline, watch)) < 0)
			return error;
	}
}

int ask_read_bytes(struct ask_conn *c, size_t n, int64_t deadline,
    struct sbuf *out)
{
	int error;

	while (n) {
		size_t have = c->len - c->skip, take = have < n ? have : n;
		if (take) {
			sbuf_add(out, c->buf + c->skip, take);
			c->skip += take;
			n -= take;
			continue;
		}
		if ((error = fill(c, deadline, -1)) < 0)
			return error;
	}
	return 0;
}

int ask_hung_up(const struct ask_conn *c)
{
	struct pollfd p = { c->fd, POLLRDHUP, 0 };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR |
	    POLLRDHUP));
}

int ask_connect(const char *home, const char *repo, struct ask_conn *c)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct stat st;
	struct sbuf hello = SBUF_INIT;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh;
	struct iovec iov;
	int fd, rfd = -1, error = 0;
	ssize_t n;

	ask_init(c, -1, 0);
	if (strchr(repo, '\n'))
		return error_set(ERR_INVALID, "the repository's path has a "
		    "newline");
	if (socket_path(home, &sa) < 0 || stat(home, &st) < 0)
		return error_set(ERR_NOTFOUND, "no daemon serves '%s'", home);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return error_set(-1, "socket: %s", strerror(errno));
	c->fd = fd;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		error = e == ENOENT || e == ECONNREFUSED ?
		    error_set(ERR_NOTFOUND, "the daemon is not running") :
		    e == EAGAIN ? error_set(ERR_BUSY, "the daemon is busy") :
		    error_set(-1, "cannot connect to '%s': %s", sa.sun_path,
		    strerror(e));
		goto out;
	}
	/* whoever answers must be the runner: the home's owner, or root */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    (cred.uid != 0 && cred.uid != st.st_uid)) {
		error = error_set(-1, "'%s' is not the runner's socket",
		    sa.sun_path);
		goto out;
	}
	rfd = open(repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) {
		error = error_set(-1, "cannot open '%s': %s", repo,
		    strerror(errno));
		goto out;
	}
	sbuf_addf(&hello, "%s\nrepo %s\n", ASK_HELLO, repo);
	memset(&mh, 0, sizeof(mh));
	memset(cbuf, 0, sizeof(cbuf));
	iov.iov_base = hello.buf;
	iov.iov_len = hello.len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &rfd, sizeof(int));
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		error = error_set(-1, "cannot send to '%s': %s", sa.sun_path,
		    strerror(errno));
		goto out;
	}
	if ((size_t)n < hello.len)
		error = ask_write(c, hello.buf + n, hello.len - (size_t)n,
		    mono_ms() + ASK_REQUEST_MS);
out:
	if (rfd >= 0)
		close(rfd);
	sbuf_release(&hello);
	if (error < 0)
		ask_close(c);
	return error;
}

int ask_notes(const char *home, const char *repo, struct notebox_note **out,
    size_t *n)
{
	struct notebox_note *v = NULL;
	struct ask_conn c;
	int64_t deadline = mono_ms() + 2 * ASK_REQUEST_MS;
	size_t k = 0, cap = 0;
	char *line;
	int error;

	*out = NULL;
	*n = 0;
	if ((error = ask_connect(home, repo, &c)) < 0)
		return error;
	if ((error = ask_write(&c, "notes\nend\n", 10, mono_ms() +
	    ASK_REQUEST_MS)) < 0)
		goto out;
	for (;;) {
		char commit[65], *end;
		unsigned long long len;
		struct sbuf text = SBUF_INIT;

		if ((error = ask_read_line(&c, deadline, -1, &line)) < 0)
			goto out;
		if (!strcmp(line, "done"))
			break;
		if (!strcmp(line, "busy")) {
			error = error_set(ERR_BUSY, "the runner's daemon is busy");
			goto out;
		}
		if (!strncmp(line, "error ", 6)) {
			error = error_set(-1, "%s", line + 6);
			goto out;
		}
		/* "note COMMIT LENGTH", bounded as the notebox is */
		if (strncmp(line, "note ", 5) || k == NOTEBOX_MAX ||
		    strcspn(line + 5, " ") >= sizeof(commit) ||
		    !(end = strchr(line + 5, ' '))) {
			error = error_set(ERR_INVALID, "the runner's daemon sent "
			    "what is not a note");
			goto out;
		}
		memcpy(commit, line + 5, (size_t)(end - (line + 5)));
		commit[end - (line + 5)] = '\0';
		len = strtoull(end + 1, &end, 10);
		if (*end || len > NOTEBOX_MAX_TEXT || !notebox_commit_name(commit)) {
			error = error_set(ERR_INVALID, "the runner's daemon sent "
			    "what is not a note");
			goto out;
		}
		if ((error = ask_read_bytes(&c, (size_t)len, deadline,
		    &text)) < 0 || memchr(text.buf, '\0', text.len)) {
			sbuf_release(&text);
			if (!error)
				error = error_set(ERR_INVALID, "the runner's daemon "
				    "sent a note with a NUL");
			goto out;
		}
		v = xgrow(v, k + 1, &cap, sizeof(*v));
		memset(&v[k], 0, sizeof(v[k]));
		memcpy(v[k].commit, commit, strlen(commit) + 1);
		v[k].text = sbuf_detach(&text);
		k++;
	}
	*out = v;
	*n = k;
	v = NULL;
	k = 0;
out:
	notebox_notes_free(v, k);
	ask_close(&c);
	return error;
}
