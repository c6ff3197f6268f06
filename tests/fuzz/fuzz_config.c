/* libFuzzer: the runner.yml parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;

	/* {file: PATH} secrets read files: not this fuzzer's business */
	if (memmem(data, size, "file:", 5) || memmem(data, size, "file\":", 6) ||
	    memmem(data, size, "file':", 6))
		return 0;
	if (config_parse("runner.yml", (const char *)data, size, &c) == 0) {
		config_repo(c, "/srv/git/app.git");
		config_notify(c, "team");
		config_free(c);
	}
	error_clear();
	return 0;
}
