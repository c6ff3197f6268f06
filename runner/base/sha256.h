/*
 * SHA-256 and base64 for the hook, which links no crypto library: it names
 * the ssh key a push came with as ssh-keygen does, "SHA256:" and the
 * unpadded base64 of the digest of the key blob. The digest is libcrypto's,
 * loaded when first needed.
 */
#ifndef RUNNER_SHA256_H
#define RUNNER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

/* The digest of `len` bytes at `data` into `out`; -1 when libcrypto
 * cannot be loaded. */
int sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);

/* The same digest as 64 hex digits and a NUL; -1 (and "") as sha256(). */
int sha256_hex(const void *data, size_t len, char out[2 * SHA256_LEN + 1]);

/* HMAC-SHA256 (RFC 2104) of `len` bytes at `msg` with a key of at most
 * 64 bytes; -1 when libcrypto cannot be loaded or the key is longer. */
int hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
    unsigned char out[SHA256_LEN]);

struct sbuf;
/* Append the base64 of `len` bytes (RFC 4648), with '=' padding unless
 * `unpadded`. */
void base64_add(struct sbuf *sb, const unsigned char *data, size_t len,
    int unpadded);
/* Decode the base64 text `s` of `len` bytes (padding optional) and
 * append its bytes to `out`; -1 (nothing appended) if it is not base64. */
int base64_decode(const char *s, size_t len, struct sbuf *out);

#endif
