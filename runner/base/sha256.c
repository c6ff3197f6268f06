/*
 * SHA-256 and HMAC-SHA256 (libcrypto's, loaded on demand) and base64 (RFC 4648) for the
 * programs that link no crypto library (the hook, the CLI): only to name
 * an ssh key by its fingerprint.
 */
#include "sha256.h"
#include "util.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * libcrypto's SHA-256, loaded when a digest is first needed: the hook and
 * the CLI start thousands of times a day and need it only for a push that
 * came with an ssh key, so they do not link it (pg.c loads libpq the same
 * way). The worker links libcrypto anyway; this finds the same copy.
 */
typedef const void *(*md_fn)(void);
typedef int (*digest_fn)(const void *, size_t, unsigned char *,
    unsigned int *, const void *, void *);
typedef unsigned char *(*hmac_fn)(const void *, const void *, int,
    const unsigned char *, size_t, unsigned char *, unsigned int *);
static md_fn evp_sha256;
static digest_fn evp_digest;
static hmac_fn hmac;

static void load_crypto(void)
{
	void *lib = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);

	if (!lib)
		return;
	evp_sha256 = (md_fn)dlsym(lib, "EVP_sha256");
	if (evp_sha256) {
		evp_digest = (digest_fn)dlsym(lib, "EVP_Digest");
		hmac = (hmac_fn)dlsym(lib, "HMAC");
	}
}

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

int sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
	unsigned int n = 0;

	pthread_once(&crypto_once, load_crypto);
	if (!evp_digest || !evp_digest(data, len, out, &n, evp_sha256(),
	    NULL) || n != SHA256_LEN)
		return -1;
	return 0;
}

int sha256_hex(const void *data, size_t len, char out[2 * SHA256_LEN + 1])
{
	unsigned char md[SHA256_LEN];

	out[0] = '\0';
	if (sha256(data, len, md) < 0)
		return -1;
	hex_encode(md, SHA256_LEN, out);
	return 0;
}

int hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
    unsigned char out[SHA256_LEN])
{
	unsigned int n = 0;

	/* a key of at most one SHA-256 block, as the web page's secret */
	if (keylen > 64)
		return -1;
	pthread_once(&crypto_once, load_crypto);
	if (!hmac || !hmac(evp_sha256(), key, (int)keylen, msg, len, out,
	    &n) || n != SHA256_LEN)
		return -1;
	return 0;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_add(struct sbuf *sb, const unsigned char *d, size_t len,
    int unpadded)
{
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		if (n > 1)
			v |= (uint32_t)d[i + 1] << 8;
		if (n > 2)
			v |= d[i + 2];
		sbuf_addch(sb, b64[v >> 18 & 63]);
		sbuf_addch(sb, b64[v >> 12 & 63]);
		if (n > 1)
			sbuf_addch(sb, b64[v >> 6 & 63]);
		else if (!unpadded)
			sbuf_addch(sb, '=');
		if (n > 2)
			sbuf_addch(sb, b64[v & 63]);
		else if (!unpadded)
			sbuf_addch(sb, '=');
	}
}

int base64_decode(const char *s, size_t len, struct sbuf *out)
{
	size_t start = out->len, nbits = 0;
	uint32_t acc = 0;

	while (len && s[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		const char *at = s[i] ? strchr(b64, s[i]) : NULL;
		if (!at) {
			sbuf_truncate(out, start);
			return -1;
		}
		acc = acc << 6 | (uint32_t)(at - b64);
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			sbuf_addch(out, (char)(acc >> nbits & 0xff));
		}
	}
	/* what is left over must be padding bits: one base64 character
	 * alone carries no byte */
	if (nbits >= 6) {
		sbuf_truncate(out, start);
		return -1;
	}
	return 0;
}
