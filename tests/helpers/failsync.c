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

static int failing(void)
{
	const char *f = getenv("RUNNER_FAILSYNC");

	return f && access(f, F_OK) == 0;
}

int fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");

	if (failing() || !real) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	if (failing() || !real) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}
