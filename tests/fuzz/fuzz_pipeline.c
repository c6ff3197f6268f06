/* libFuzzer: the pipeline parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pipeline *pl = NULL;

	if (pipeline_parse(".runner.yml", (const char *)data, size, &pl) == 0) {
		struct sbuf sb = SBUF_INIT;
		pipeline_dump(pl, 1000, &sb);
		sbuf_release(&sb);
		pipeline_free(pl);
	}
	error_clear();
	return 0;
}
