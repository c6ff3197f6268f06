/*
 * Signed provenance of artifacts: the server's ed25519 key, the in-toto
 * Statement v1 with its SLSA Provenance v1 predicate that says how a
 * build made its artifact, the DSSE envelope that signs it, and the
 * checks of an envelope against a key, the artifact's bytes and the job
 * recorded in the store (docs/provenance.md).
 */
#ifndef RUNNER_PROVENANCE_H
#define RUNNER_PROVENANCE_H

#include <stddef.h>
#include <stdint.h>

struct sbuf;

/* In the home: the private key (PEM PKCS#8, 0600, the runner's user's
 * alone) and its public half (PEM SubjectPublicKeyInfo) to publish. */
#define PROV_KEY_FILE "provenance.key"
#define PROV_PUB_FILE "provenance.pub"
/* Beside the artifact: its envelope, one JSON line (in-toto's bundle). */
#define PROV_SUFFIX ".intoto.jsonl"
#define PROV_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define PROV_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define PROV_PREDICATE_TYPE "https://slsa.dev/provenance/v1"
/* What the buildDefinition means: documented at that address. */
#define PROV_BUILD_TYPE "https://runner.invalid/provenance/build/v1"
/* An envelope is a few kilobytes; a bigger one is not ours. */
#define PROV_MAX_BYTES (1024 * 1024)

struct prov_key;

/*
 * Make the home's key pair when there is none: the private key created
 * with O_EXCL, never through a link, 0600 and (as root) given to the
 * home's owner; the public file (re)written from it when missing. *made
 * (may be NULL) says whether a key was made.
 */
int prov_key_make(const char *home, int *made);
/* The home's private key, for signing (ERR_NOTFOUND: none yet). */
int prov_key_load(const char *home, struct prov_key **out);
/* A public key from a PEM file (provenance.pub, or one given), or from
 * PEM text (`name` for messages). */
int prov_pub_load(const char *path, struct prov_key **out);
int prov_pub_parse(const char *pem, const char *name, struct prov_key **out);
/* Its public half in PEM, appended to `out`. */
int prov_key_public_pem(const struct prov_key *k, struct sbuf *out);
/*
 * The key that may have signed `envelope`: the home's own
 * (HOME/provenance.pub) when the envelope names it, else the one a host
 * of the same store recorded under that id (audit.h). ERR_INVALID when
 * it names a key neither knows.
 */
struct store;
int prov_trusted_key(struct store *s, const char *home, const char *envelope,
    size_t len, struct prov_key **out);
void prov_key_free(struct prov_key *k);
/* The key's id: the hex sha256 of its 32 raw public bytes. */
const char *prov_key_id(const struct prov_key *k);
/* Its 32 raw public bytes in hex, as securesystemslib's keyval. */
const char *prov_key_public_hex(const struct prov_key *k);

/* What a build's statement records. */
struct prov_build {
	const char *name, *sha256;	/* the subject: the artifact */
	const char *repo, *ref, *commit;
	const char *pipeline_file, *pipeline_sha256;
	const char *variables;		/* "NAME=VALUE\n"..., or NULL */
	const char *const *secrets;	/* values never written */
	size_t nsecrets;
	const char *host;
	int64_t job, started_ms, finished_ms;
	const char *const *log_names;	/* the stages' logs and digests */
	const char *const *log_sha256;
	size_t nlogs;
};

/* The runner's version, as the statement records it. */
const char *prov_version(void);

/* Append the in-toto Statement v1 of `b` (JSON) to `out`. */
void prov_statement(const struct prov_build *b, struct sbuf *out);
/* DSSE's pre-authentication encoding of `body` of type `type`:
 * "DSSEv1 LEN(type) type LEN(body) body". */
void prov_pae(const char *type, const char *body, size_t len,
    struct sbuf *out);
/* Sign `payload` (a statement) and append its DSSE envelope, one line
 * of JSON without its newline, to `out`. */
int prov_sign(const struct prov_key *k, const char *payload, size_t len,
    struct sbuf *out);

/* What an envelope says and which of its checks held. */
struct prov_facts {
	int signature;		/* 1: verified with the key */
	char *keyid;		/* the signature's keyid */
	char *name, *sha256;	/* the subject */
	char *repo, *ref, *commit, *host, *version, *finished;
	int64_t job;
};
/*
 * Check `envelope` (`len` bytes) with key `k` and read its statement
 * into *f. Returns 0 when the signature verifies and the statement has
 * the shape written here; else ERR_INVALID with the reason, *f holding
 * what could be read. Release *f with prov_facts_release(). With `k`
 * NULL, only reads what it says (nothing is verified).
 */
int prov_open(const struct prov_key *k, const char *envelope, size_t len,
    struct prov_facts *f);
void prov_facts_release(struct prov_facts *f);

/*
 * The whole check of a deployment and `runner verify`: the signature,
 * the subject's digest against `sha256` (the artifact's bytes), the
 * commit and repository against the store's job. Each check is a line
 * of `report` ("signature: verified ..." / "commit: MISMATCH ...").
 * Returns 0 when all hold, else ERR_INVALID with the first that failed.
 */
int prov_check(const struct prov_key *k, const char *envelope, size_t len,
    const char *sha256, const char *repo, const char *commit,
    struct sbuf *report);

/*
 * What a deployment checks before it extracts the artifact of `build`,
 * at `local` on this host: the store's envelope, and the file beside the
 * artifact when it says something else, each signed by a key the store
 * trusts (prov_trusted_key), naming the recorded sha256 (which the
 * extraction checks the bytes against), the build's commit and
 * repository. Each check is a line of `report`. Returns 0 verified
 * (*verdict "verified: build #N, sha256 ..., key ..."), 1 when the build
 * has none (*verdict "none: ..."), ERR_INVALID with the reason when a
 * copy does not verify, or another negative code when the store failed.
 * The caller frees *verdict.
 */
struct job;
int prov_check_build(struct store *s, const char *home, const struct job *build,
    const char *local, struct sbuf *report, char **verdict);

/* The artifact's envelope file beside `artifact`. Caller frees. */
char *prov_path(const char *artifact);

#endif
