/*
 * A disk that fails its writes, for t0614-disk-fails-sync: preloaded
 * (LD_PRELOAD) into the daemon, fsync and fdatasync fail with EIO once
 * the file RUNNER_FAILSYNC names exists, as the kernel reports a write
 * it could not make to the disk. Until then they are the system's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* The system's `name` on fd, or EIO once the file exists. */
static int sync_or_fail(const char *name, int fd)
{
	const char *f = getenv("RUNNER_FAILSYNC");
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, name);

	if ((f && access(f, F_OK) == 0) || !real) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int fdatasync(int fd)
{
	return sync_or_fail("fdatasync", fd);
}

int fsync(int fd)
{
	return sync_or_fail("fsync", fd);
}
