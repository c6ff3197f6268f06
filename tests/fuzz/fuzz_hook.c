/* libFuzzer: the post-receive input parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "hook.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hook_update *u = NULL;
	size_t n = 0, bad = 0;

	hook_parse((const char *)data, size, &u, &n, &bad);
	for (size_t i = 0; i < n; i++)
		hook_zero_id(u[i].new);
	hook_updates_free(u, n);
	return 0;
}
