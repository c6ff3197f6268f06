/*
 * runner-sink: the receiving end of notifications in the end-to-end tests.
 *
 *   runner-sink http DIR [--codes 500,500,200] [--retry-after S] [--port P]
 *   runner-sink smtp DIR [--port P]
 *
 * Listens on 127.0.0.1 (port P, or one the kernel picks), writes the port
 * to DIR/port, and stores what arrives: for HTTP request N, DIR/N.head
 * (request line and headers) and DIR/N.body; for SMTP message N, DIR/N.mail
 * (envelope lines, a blank line, then the message with dot-stuffing
 * undone). Each file appears whole (written, then renamed); a sink started
 * again on the same DIR numbers on from the files there. HTTP requests
 * are answered with the listed status codes in turn, the last repeating.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *dir;
static int seq;

static void die(const char *what)
{
	fprintf(stderr, "runner-sink: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Write DIR/NAME whole: into a temporary file, then rename. */
static void save(const char *name, const char *a, size_t alen,
    const char *b, size_t blen)
{
	char tmp[4096], path[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(tmp, "w")))
		die(tmp);
	fwrite(a, 1, alen, f);
	if (b)
		fwrite(b, 1, blen, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		die(path);
}

static int listen_on(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	char buf[32];

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((unsigned short)port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(fd, 16) < 0)
		die("listen");
	getsockname(fd, (struct sockaddr *)&sa, &len);
	snprintf(buf, sizeof(buf), "%d\n", ntohs(sa.sin_port));
	save("port", buf, strlen(buf), NULL, 0);
	return fd;
}

struct conn {
	int fd;
	char buf[1 << 20];
	size_t len;
};

/* Read until `len` bytes are buffered; 0 at end of stream. */
static int fill(struct conn *c, size_t want)
{
	while (c->len < want) {
		ssize_t n;
		if (c->len == sizeof(c->buf))
			return 0;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		c->len += (size_t)n;
	}
	return 1;
}

/* The offset just past `delim` in the buffer, reading more as needed. */
static size_t find(struct conn *c, const char *delim)
{
	size_t dl = strlen(delim);

	for (size_t from = 0;;) {
		for (size_t i = from; i + dl <= c->len; i++)
			if (!memcmp(c->buf + i, delim, dl))
				return i + dl;
		from = c->len >= dl ? c->len - dl + 1 : 0;
		if (!fill(c, c->len + 1))
			return 0;
	}
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

static void say(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void serve_http(int lfd, const char *codes, int retry_after)
{
	static struct conn c;

	for (;;) {
		c.fd = accept(lfd, NULL, NULL);
		c.len = 0;
		if (c.fd < 0)
			continue;
		size_t hend = find(&c, "\r\n\r\n");
		if (!hend) {
			close(c.fd);
			continue;
		}
		size_t clen = 0;
		for (char *p = c.buf; p < c.buf + hend; p = strstr(p, "\n") + 1) {
			if (!strncasecmp(p, "Content-Length:", 15))
				clen = strtoul(p + 15, NULL, 10);
			if (!strstr(p, "\n"))
				break;
		}
		fill(&c, hend + clen);
		seq++;
		char name[64];
		snprintf(name, sizeof(name), "%d.head", seq);
		save(name, c.buf, hend, NULL, 0);
		snprintf(name, sizeof(name), "%d.body", seq);
		save(name, c.buf + hend, c.len - hend < clen ? c.len - hend :
		    clen, NULL, 0);

		/* the seq-th code of the list, the last one repeating */
		const char *p = codes;
		for (int i = 1; i < seq && strchr(p, ','); i++)
			p = strchr(p, ',') + 1;
		int code = atoi(p);
		char resp[256];
		snprintf(resp, sizeof(resp), "HTTP/1.1 %d Sink\r\n"
		    "Content-Type: text/plain\r\nContent-Length: %d\r\n"
		    "Connection: close\r\n", code, code < 300 ? 2 : 11);
		say(c.fd, resp);
		if (retry_after >= 0 && (code == 429 || code == 503)) {
			snprintf(resp, sizeof(resp), "Retry-After: %d\r\n",
			    retry_after);
			say(c.fd, resp);
		}
		say(c.fd, code < 300 ? "\r\nok" : "\r\nsink error\n");
		close(c.fd);
	}
}

static void serve_smtp(int lfd)
{
	static struct conn c;
	static char env[65536];

	for (;;) {
		size_t elen = 0;

		c.fd = accept(lfd, NULL, NULL);
		c.len = 0;
		if (c.fd < 0)
			continue;
		say(c.fd, "220 sink ESMTP\r\n");
		for (;;) {
			size_t end = find(&c, "\r\n");
			if (!end)
				break;
			char line[1024];
			size_t n = end - 2 < sizeof(line) - 1 ? end - 2 :
			    sizeof(line) - 1;
			memcpy(line, c.buf, n);
			line[n] = '\0';
			consume(&c, end);
			if (!strncasecmp(line, "EHLO", 4)) {
				say(c.fd, "250-sink\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n");
			} else if (!strncasecmp(line, "HELO", 4) ||
			    !strncasecmp(line, "NOOP", 4)) {
				say(c.fd, "250 ok\r\n");
			} else if (!strncasecmp(line, "RSET", 4)) {
				elen = 0;
				say(c.fd, "250 ok\r\n");
			} else if (!strncasecmp(line, "MAIL FROM:", 10) ||
			    !strncasecmp(line, "RCPT TO:", 8)) {
				elen += (size_t)snprintf(env + elen, sizeof(env) -
				    elen, "%s\n", line);
				say(c.fd, "250 ok\r\n");
			} else if (!strncasecmp(line, "DATA", 4)) {
				say(c.fd, "354 go ahead\r\n");
				size_t dend = find(&c, "\r\n.\r\n");
				if (!dend)
					break;
				/* undo dot-stuffing: a line's leading ".." is "." */
				char *out = malloc(dend);
				size_t w = 0;
				if (!out)
					die("malloc");
				for (size_t i = 0; i < dend - 3; i++) {
					if (c.buf[i] == '.' && (i == 0 ||
					    (i >= 2 && c.buf[i - 1] == '\n' &&
					    c.buf[i - 2] == '\r')))
						continue;
					out[w++] = c.buf[i];
				}
				seq++;
				char name[64];
				snprintf(name, sizeof(name), "%d.mail", seq);
				env[elen] = '\n';
				save(name, env, elen + 1, out, w);
				free(out);
				consume(&c, dend);
				elen = 0;
				say(c.fd, "250 queued\r\n");
			} else if (!strncasecmp(line, "QUIT", 4)) {
				say(c.fd, "221 bye\r\n");
				break;
			} else {
				say(c.fd, "502 not implemented\r\n");
			}
		}
		close(c.fd);
	}
}

/* Number on from what an earlier sink left in DIR. */
static int last_seq(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int max = 0;

	if (!d)
		die(dir);
	while ((e = readdir(d)))
		if (atoi(e->d_name) > max)
			max = atoi(e->d_name);
	closedir(d);
	return max;
}

int main(int argc, char **argv)
{
	const char *codes = "200";
	int port = 0, retry_after = -1;

	if (argc < 3 || (strcmp(argv[1], "http") && strcmp(argv[1], "smtp"))) {
		fprintf(stderr, "usage: runner-sink http|smtp DIR [--codes LIST] "
		    "[--retry-after S] [--port P]\n");
		return 2;
	}
	dir = argv[2];
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--codes"))
			codes = argv[i + 1];
		else if (!strcmp(argv[i], "--retry-after"))
			retry_after = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
	}
	seq = last_seq();
	int fd = listen_on(port);
	if (!strcmp(argv[1], "http"))
		serve_http(fd, codes, retry_after);
	else
		serve_smtp(fd);
	return 0;
}
