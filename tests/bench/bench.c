/*
 * runner-bench: times the runner's own code paths for tests/bench/run,
 * each against nothing but itself (the driver measures the baselines).
 *   runner-bench checkout REPO COMMIT DEST    libgit2 checkout as a job does
 *   runner-bench archive ROOT OUT GLOB...     artifacts as a stage does
 *   runner-bench stage LOG SCRIPT             a stage's output into its log
 * Each prints the elapsed milliseconds of that work alone.
 */
#include "artifact.h"
#include "checkout.h"
#include "stage.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: runner-bench checkout REPO COMMIT DEST\n"
	    "       runner-bench archive ROOT OUT GLOB...\n"
	    "       runner-bench stage LOG SCRIPT\n");
	return 2;
}

int main(int argc, char **argv)
{
	int64_t t0;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "checkout") && argc == 5) {
		struct source *src;
		checkout_global_init();		/* as a worker does */
		t0 = mono_ms();
		if (source_open(argv[2], argv[3], &src) < 0 ||
		    source_checkout(src, argv[4]) < 0) {
			fprintf(stderr, "runner-bench: %s\n", error_last());
			return 1;
		}
		source_free(src);
	} else if (!strcmp(argv[1], "archive") && argc >= 5) {
		struct artifact_writer *w;
		char sha[65];
		int64_t size, files;
		size_t matched;
		t0 = mono_ms();
		if (artifact_open(argv[3], &w) < 0 ||
		    artifact_add(w, argv[2], argv + 4, (size_t)(argc - 4),
		    &matched) < 0 || artifact_close(w, sha, &size, &files) < 0) {
			fprintf(stderr, "runner-bench: %s\n", error_last());
			return 1;
		}
	} else if (!strcmp(argv[1], "stage") && argc == 4) {
		static char *envp[] = { "PATH=/usr/bin:/bin", NULL };
		struct stage_result r;
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
		struct stage_spec spec = {
			.script = argv[3], .cwd = ".", .envp = envp, .log_fd = fd,
			.kill_grace_ms = 1000, .event_fd = -1,
		};
		t0 = mono_ms();
		if (fd < 0 || stage_run(&spec, &r) < 0 || r.exit_code) {
			fprintf(stderr, "runner-bench: stage failed\n");
			return 1;
		}
		close(fd);
	} else {
		return usage();
	}
	printf("%lld\n", (long long)(mono_ms() - t0));
	return 0;
}
