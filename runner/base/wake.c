/*
 * The wake-up protocol (wake.h): both ends, so that the words and the
 * socket's place are written once.
 */
#include "wake.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const struct {
	enum wake_what what;
	const char *word;
} words[] = {
	{ WAKE_JOBS, "wake" },
	{ WAKE_CANCEL, "cancel" },
	{ WAKE_NOTIFY, "notify" },
	{ WAKE_SOON, "soon" },
};

int home_socket_path(const char *home, const char *file,
    struct sockaddr_un *sa)
{
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", home,
	    file);

	sa->sun_family = AF_UNIX;
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -1 : 0;
}

static int socket_path(const char *home, struct sockaddr_un *sa)
{
	return home_socket_path(home, SOCKET_FILE, sa);
}

int wake_send(const char *home, enum wake_what what)
{
	struct sockaddr_un sa;
	const char *word = "wake";
	int fd, e = 0;

	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
		if (words[i].what == what)
			word = words[i].word;
	if (socket_path(home, &sa) < 0)
		return 0;	/* the daemon could not have bound it either */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errno;
	if (sendto(fd, word, strlen(word), 0, (struct sockaddr *)&sa,
	    sizeof(sa)) < 0)
		e = errno;
	close(fd);
	/* no daemon, or one that is not reading: it finds the work itself */
	return e == ENOENT || e == ECONNREFUSED || e == EAGAIN ? 0 : e;
}

int home_socket_bind(const char *home, const char *file, int type,
    mode_t mode)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	if (home_socket_path(home, file, &sa) < 0)
		return error_set(ERR_INVALID, "home '%s' is too long for a unix "
		    "socket path (at most %zu bytes)", home,
		    sizeof(sa.sun_path) - strlen(file) - 2);
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return error_set(-1, "cannot bind '%s': %s", sa.sun_path,
		    strerror(e));
	}
	/* made closed to the group (the daemon's umask 027), opened to the
	 * home's group now, as far as `mode` says */
	if (stat(home, &st) == 0)
		(void)!chown(sa.sun_path, (uid_t)-1, st.st_gid);
	chmod(sa.sun_path, mode);
	return fd;
}

void home_socket_unbind(const char *home, const char *file, int fd)
{
	struct sockaddr_un sa;

	if (home_socket_path(home, file, &sa) == 0)
		unlink(sa.sun_path);
	close(fd);
}

int wake_bind(const char *home)
{
	/* the hook's group may send wake-ups, nothing more */
	return home_socket_bind(home, SOCKET_FILE, SOCK_DGRAM, 0620);
}

int wake_recv(int fd)
{
	char buf[64];
	int got = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) >= 0) {
		enum wake_what what = WAKE_JOBS;	/* any other word */
		buf[n] = '\0';
		for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
			if (!strcmp(buf, words[i].word))
				what = words[i].what;
		got |= what;
	}
	return got;
}

void wake_unbind(const char *home, int fd)
{
	home_socket_unbind(home, SOCKET_FILE, fd);
}
