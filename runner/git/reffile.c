/*
 * A repository's refs read from its files, no link followed (reffile.h):
 * the schedules' ref of another user's repository, the tags a checkout
 * copies into a workspace.
 */
#include "reffile.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int reffile_open_below(int dir, const char *name, int last)
{
	char *copy = xstrdup(name), *save = NULL, *part, *next;
	int fd = dup(dir);

	for (part = strtok_r(copy, "/", &save); part && fd >= 0; part = next) {
		next = strtok_r(NULL, "/", &save);
		int sub = openat(fd, part, O_CLOEXEC | O_NOFOLLOW | (next ?
		    O_PATH | O_DIRECTORY : last));
		int saved = errno;
		close(fd);
		fd = sub;
		errno = saved;
	}
	free(copy);
	return fd;
}

int reffile_read(int dir, const char *name, size_t max, struct sbuf *out)
{
	int fd = reffile_open_below(dir, name, O_RDONLY | O_NONBLOCK |
	    O_NOCTTY);
	int error;
	struct stat st;

	if (fd < 0)
		error = error_set(errno == ENOENT ? ERR_NOTFOUND : -1,
		    "cannot read %s without following a link: %s", name,
		    strerror(errno));
	else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1)
		error = error_set(-1, "%s is not a file of one name", name);
	else
		error = read_fd(fd, name, max, out);
	if (fd >= 0)
		close(fd);
	return error;
}

size_t reffile_hex_id(const char *s, char end)
{
	size_t n = strspn(s, "0123456789abcdef");

	return (n == 40 || n == 64) && (!s[n] || s[n] == end) ? n : 0;
}
