/*
 * libFuzzer: artifact extraction of arbitrary bytes. Whatever the archive
 * says, nothing may be written outside the destination: the target aborts
 * if anything appears beside it.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "artifact.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

/* Once "dest" is removed, the root must be empty again. */
static void check_outside(void)
{
	DIR *d = opendir(root);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			fprintf(stderr, "extraction wrote '%s' outside its "
			    "destination\n", e->d_name);
			abort();
		}
	if (d)
		closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], *dest;
	int fd;

	if (!*root) {
		strcpy(root, "/tmp/runner-fuzz-XXXXXX");
		if (!mkdtemp(root))
			abort();
	}
	fd = memfd_create("archive", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	dest = xasprintf("%s/dest", root);
	artifact_extract(path, dest, NULL);
	rm_rf(dest);
	check_outside();
	close(fd);
	free(dest);
	error_clear();
	return 0;
}
