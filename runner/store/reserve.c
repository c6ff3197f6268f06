/*
 * The home's reserves (reserve.h). Each is a file of preallocated blocks:
 * removing it gives them back to the file system at once, whoever fills
 * it. They are made from the folder's descriptor, new (O_EXCL) and never
 * through a link: the spool's folder is written by the hook's group too,
 * and a name planted there is removed, never followed.
 */
#include "reserve.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const struct {
	const char *dir;	/* below the home; NULL: the home */
	const char *name;
	int64_t bytes;
} reserves[] = {
	[RESERVE_HOME] = { NULL, RESERVE_HOME_NAME, RESERVE_HOME_BYTES },
	/* hooks/hook.h's SPOOL_DIR, a layer above */
	[RESERVE_SPOOL] = { "spool", RESERVE_SPOOL_NAME,
	    RESERVE_SPOOL_BYTES },
};

static char *reserve_path(const char *home, enum reserve which)
{
	return reserves[which].dir ? xasprintf("%s/%s/%s", home,
	    reserves[which].dir, reserves[which].name) : xasprintf("%s/%s",
	    home, reserves[which].name);
}

int64_t disk_free(const char *path)
{
	struct statvfs vfs;

	if (statvfs(path, &vfs) < 0)
		return -1;
	return (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
}

int reserve_release(const char *home, enum reserve which)
{
	char *path = reserve_path(home, which);
	int released = unlink(path) == 0;

	free(path);
	return released;
}

int reserve_present(const char *home, enum reserve which)
{
	char *path = reserve_path(home, which);
	struct stat st;
	int present = lstat(path, &st) == 0 && S_ISREG(st.st_mode);

	free(path);
	return present;
}

/* Give `fd` `bytes` of blocks: fallocate, or zeros where the file system
 * cannot preallocate. */
static int fill(int fd, int64_t bytes)
{
	static const char zeros[65536];

	if (fallocate(fd, 0, 0, bytes) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -1;
	for (int64_t at = 0; at < bytes; at += (int64_t)sizeof(zeros))
		if (write_all(fd, zeros, sizeof(zeros)) < 0)
			return -1;
	return fsync(fd);
}

/* Make reserve `which` in the folder `dfd` (at `dir`) if it is missing
 * and there is room: 1 made, 0 not needed or no room yet (*missing set). */
static int make_one(int dfd, const char *dir, enum reserve which,
    int *missing)
{
	const char *name = reserves[which].name;
	int64_t bytes = reserves[which].bytes, room;
	struct stat st;
	int fd, e;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISREG(st.st_mode) && st.st_nlink == 1 &&
		    (int64_t)st.st_blocks * 512 >= bytes)
			return 0;
		*missing = 1;
		/* half made, or something else put at its name: removed
		 * (a link itself, never what it names) and made again */
		if (unlinkat(dfd, name, 0) < 0)
			return error_set(-1, "cannot remove '%s/%s' to make the "
			    "reserve again: %s", dir, name, strerror(errno));
	}
	*missing = 1;
	if ((room = disk_free(dir)) < 0 || room < 2 * bytes)
		return 0;
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == ENOSPC || errno == EEXIST ? 0 : error_set(-1,
		    "cannot make the reserve '%s/%s': %s", dir, name,
		    strerror(errno));
	if (fill(fd, bytes) < 0) {
		e = errno;
		close(fd);
		unlinkat(dfd, name, 0);
		return e == ENOSPC ? 0 : error_set(-1, "cannot make the reserve "
		    "'%s/%s': %s", dir, name, strerror(e));
	}
	*missing = 0;
	close(fd);
	return 1;
}

int reserve_keep(const char *home, int *missing)
{
	int made = 0, error = 0;

	*missing = 0;
	for (int i = 0; i < (int)(sizeof(reserves) / sizeof(*reserves)); i++) {
		char *dir = reserves[i].dir ? xasprintf("%s/%s", home,
		    reserves[i].dir) : xstrdup(home);
		int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC), rc;
		if (dfd < 0) {
			free(dir);
			continue;	/* no spool (yet): nothing to keep */
		}
		int gone = 0;
		rc = make_one(dfd, dir, (enum reserve)i, &gone);
		*missing += gone;
		if (rc > 0)
			made++;
		else if (rc < 0 && !error)
			error = rc;
		close(dfd);
		free(dir);
	}
	return error < 0 ? error : made;
}
