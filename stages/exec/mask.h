/*
 * Masking secret values in stage output as it streams into the log: each
 * value, its base64 forms (at the three byte alignments it can have inside
 * a longer base64 text) and its URL-encoded forms become "***", also when
 * a value is split across reads.
 */
#ifndef RUNNER_MASK_H
#define RUNNER_MASK_H

#include <stddef.h>

struct sbuf;
struct masker;

/* Values shorter than this are too common to mask (documented). */
#define MASK_MIN_LEN 4
#define MASK_TEXT "***"

/* A masker for `n` values (NULL if none is long enough to mask). */
struct masker *masker_new(const char *const *values, size_t n);
/* Pass `len` bytes through: masked output is appended to `out`; the tail
 * that could be the start of a value is held back. */
void masker_feed(struct masker *m, const char *in, size_t len,
    struct sbuf *out);
/* The held-back tail, at the end of the stream. */
void masker_flush(struct masker *m, struct sbuf *out);
void masker_free(struct masker *m);

#endif
