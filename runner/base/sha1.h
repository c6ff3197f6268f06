/*
 * SHA-1, for the one file the checkout writes that git checks by it: the
 * index's trailer. Not for anything that must resist a forger.
 */
#ifndef RUNNER_SHA1_H
#define RUNNER_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

struct sha1 {
	uint32_t h[5];
	uint64_t len;		/* bytes fed so far */
	unsigned char buf[64];
};

void sha1_init(struct sha1 *c);
void sha1_update(struct sha1 *c, const void *data, size_t len);
/* The digest of all that was fed, into `out`. */
void sha1_final(struct sha1 *c, unsigned char out[SHA1_LEN]);

#endif
