/*
 * Signed provenance (provenance.h): the key pair in the home, the
 * statement written with the JSON writer, the DSSE envelope signed with
 * libcrypto's ed25519 (EVP_DigestSign, no digest: ed25519 hashes the
 * message itself), and the envelope read back with the YAML tree (JSON is
 * YAML) to check it. Nothing here is cryptography written by hand.
 */
#include "provenance.h"
#include "audit.h"
#include "jobs.h"
#include "json.h"
#include "mask.h"
#include "sha256.h"
#include "util.h"
#include "ynode.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef RUNNER_VERSION
#define RUNNER_VERSION "dev"
#endif

struct prov_key {
	EVP_PKEY *pkey;
	char id[2 * SHA256_LEN + 1];
	char pub[2 * 32 + 1];
};

const char *prov_version(void)
{
	return RUNNER_VERSION;
}

static const char *at(const struct ynode *n, const char *path);

/* The key around `pkey` (taken), with its id; ERR_INVALID when it is no
 * ed25519 key. */
static int key_wrap(EVP_PKEY *pkey, const char *path, struct prov_key **out)
{
	unsigned char raw[32], md[SHA256_LEN];
	size_t rawlen = sizeof(raw);
	struct prov_key *k;

	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1 ||
	    rawlen != sizeof(raw)) {
		EVP_PKEY_free(pkey);
		return error_set(ERR_INVALID, "'%s' is not an ed25519 key", path);
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = pkey;
	hex_encode(raw, sizeof(raw), k->pub);
	sha256(raw, sizeof(raw), md);
	hex_encode(md, sizeof(md), k->id);
	*out = k;
	return 0;
}

void prov_key_free(struct prov_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *prov_key_id(const struct prov_key *k)
{
	return k->id;
}

const char *prov_key_public_hex(const struct prov_key *k)
{
	return k->pub;
}

/* Read `name` in the folder `dfd` without following a link: a regular
 * file of at most PROV_MAX_BYTES. */
static int read_at(int dfd, const char *name, const char *path,
    struct sbuf *out)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc;
	struct stat st;

	if (fd < 0)
		return error_set(errno == ENOENT ? ERR_NOTFOUND : -1,
		    "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(-1, "'%s' is not a regular file", path);
	}
	rc = read_fd(fd, path, PROV_MAX_BYTES, out);
	close(fd);
	return rc;
}

static int pem_of(EVP_PKEY *pkey, int private, struct sbuf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ok;

	if (!bio)
		return error_set(-1, "out of memory");
	ok = private ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) : PEM_write_bio_PUBKEY(bio, pkey);
	n = BIO_get_mem_data(bio, &data);
	if (ok == 1 && n > 0)
		sbuf_add(out, data, (size_t)n);
	BIO_free(bio);
	return ok == 1 ? 0 : error_set(-1, "cannot write a PEM key");
}

static EVP_PKEY *pem_read(const struct sbuf *pem, int private)
{
	BIO *bio = BIO_new_mem_buf(pem->buf, (int)pem->len);
	EVP_PKEY *pkey;

	if (!bio)
		return NULL;
	pkey = private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) :
	    PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return pkey;
}

/* Create `name` in `dfd` with `data`, mode `mode`, never through a link
 * nor over a file; owned by `uid` ((uid_t)-1: this process's user). */
static int create_at(int dfd, const char *name, const char *path,
    const struct sbuf *data, mode_t mode, uid_t uid, gid_t gid)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);

	if (fd < 0)
		return error_set(errno == EEXIST ? ERR_INVALID : -1,
		    "cannot create '%s': %s", path, strerror(errno));
	if ((uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) ||
	    fchmod(fd, mode) < 0 || write_all(fd, data->buf, data->len) < 0 ||
	    fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlinkat(dfd, name, 0);
		return error_set(e == ENOSPC ? ERR_NOSPACE : -1, "cannot write "
		    "'%s': %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

int prov_key_make(const char *home, int *made)
{
	char *kpath = xasprintf("%s/%s", home, PROV_KEY_FILE);
	char *ppath = xasprintf("%s/%s", home, PROV_PUB_FILE);
	struct sbuf pem = SBUF_INIT, pub = SBUF_INIT;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *kctx = NULL;
	struct stat hs;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int hfd, rc;

	if (made)
		*made = 0;
	if ((hfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fstat(hfd, &hs) < 0) {
		rc = error_set(-1, "cannot open '%s': %s", home, strerror(errno));
		goto out;
	}
	/* root making the key of a daemon that runs as the home's owner
	 * gives it to that user, who alone may read it */
	if (geteuid() == 0 && hs.st_uid != 0) {
		uid = hs.st_uid;
		gid = hs.st_gid;
	}
	rc = read_at(hfd, PROV_KEY_FILE, kpath, &pem);
	if (rc == ERR_NOTFOUND) {
		error_clear();
		sbuf_reset(&pem);
		if (!(kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) ||
		    EVP_PKEY_keygen_init(kctx) != 1 ||
		    EVP_PKEY_keygen(kctx, &pkey) != 1) {
			rc = error_set(-1, "cannot make an ed25519 key");
			goto out;
		}
		if ((rc = pem_of(pkey, 1, &pem)) < 0)
			goto out;
		rc = create_at(hfd, PROV_KEY_FILE, kpath, &pem, 0600, uid, gid);
		/* another process made it meanwhile: that one is the key */
		if (rc == ERR_INVALID) {
			error_clear();
			EVP_PKEY_free(pkey);
			pkey = NULL;
			sbuf_reset(&pem);
			rc = read_at(hfd, PROV_KEY_FILE, kpath, &pem);
		} else if (rc == 0 && made) {
			*made = 1;
		}
	}
	if (rc < 0)
		goto out;
	if (!pkey && !(pkey = pem_read(&pem, 1))) {
		rc = error_set(ERR_INVALID, "'%s' holds no private key in PEM",
		    kpath);
		goto out;
	}
	if (faccessat(hfd, PROV_PUB_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		goto out;
	if ((rc = pem_of(pkey, 0, &pub)) == 0) {
		rc = create_at(hfd, PROV_PUB_FILE, ppath, &pub, 0644, uid, gid);
		if (rc == ERR_INVALID) {	/* made meanwhile */
			error_clear();
			rc = 0;
		}
	}
out:
	if (hfd >= 0)
		close(hfd);
	EVP_PKEY_CTX_free(kctx);
	EVP_PKEY_free(pkey);
	OPENSSL_cleanse(pem.buf, pem.len);
	sbuf_release(&pem);
	sbuf_release(&pub);
	free(kpath);
	free(ppath);
	return rc;
}

int prov_key_load(const char *home, struct prov_key **out)
{
	char *kpath = xasprintf("%s/%s", home, PROV_KEY_FILE);
	struct sbuf pem = SBUF_INIT;
	EVP_PKEY *pkey = NULL;
	int hfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	*out = NULL;
	if (hfd < 0)
		rc = error_set(-1, "cannot open '%s': %s", home, strerror(errno));
	else if ((rc = read_at(hfd, PROV_KEY_FILE, kpath, &pem)) == 0 &&
	    !(pkey = pem_read(&pem, 1)))
		rc = error_set(ERR_INVALID, "'%s' holds no private key in PEM",
		    kpath);
	if (rc == 0)
		rc = key_wrap(pkey, kpath, out);
	if (hfd >= 0)
		close(hfd);
	OPENSSL_cleanse(pem.buf, pem.len);
	sbuf_release(&pem);
	free(kpath);
	return rc;
}

int prov_pub_parse(const char *pem, const char *name, struct prov_key **out)
{
	struct sbuf sb = SBUF_INIT;
	EVP_PKEY *pkey;
	int rc;

	*out = NULL;
	sbuf_adds(&sb, pem);
	if (!(pkey = pem_read(&sb, 0)))
		rc = error_set(ERR_INVALID, "'%s' holds no public key in PEM "
		    "(-----BEGIN PUBLIC KEY-----)", name);
	else
		rc = key_wrap(pkey, name, out);
	sbuf_release(&sb);
	return rc;
}

int prov_pub_load(const char *path, struct prov_key **out)
{
	struct sbuf pem = SBUF_INIT;
	int rc;

	*out = NULL;
	if ((rc = read_file(path, PROV_MAX_BYTES, &pem)) == 0)
		rc = prov_pub_parse(pem.buf, path, out);
	sbuf_release(&pem);
	return rc;
}

int prov_key_public_pem(const struct prov_key *k, struct sbuf *out)
{
	return pem_of(k->pkey, 0, out);
}

int prov_trusted_key(struct store *s, const char *home, const char *envelope,
    size_t len, struct prov_key **out)
{
	struct ynode *env = NULL;
	const struct ynode *sigs;
	const char *id = NULL;
	struct sbuf pem = SBUF_INIT;
	char *pub = xasprintf("%s/%s", home, PROV_PUB_FILE), *host = NULL;
	int rc;

	*out = NULL;
	if (ynode_parse("envelope", envelope, len, &env) == 0 && env &&
	    env->type == YNODE_MAP && (sigs = ynode_get(env, "signatures")) &&
	    sigs->type == YNODE_SEQ && sigs->n)
		id = at(sigs->items[0], "keyid");
	error_clear();
	if (!id) {
		rc = error_set(ERR_INVALID, "the envelope names no signing key "
		    "(signatures[0].keyid)");
		goto out;
	}
	if ((rc = prov_pub_load(pub, out)) == 0 && !strcmp((*out)->id, id))
		goto out;
	prov_key_free(*out);
	*out = NULL;
	error_clear();
	if ((rc = store_prov_key_get(s, id, &pem, &host)) < 0)
		goto out;
	if (rc == 0) {
		rc = error_set(ERR_INVALID, "the envelope was signed by key %s, "
		    "which is neither this home's (%s) nor one a host of this "
		    "store recorded", id, pub);
		goto out;
	}
	if ((rc = prov_pub_parse(pem.buf, host, out)) == 0 &&
	    strcmp((*out)->id, id)) {
		prov_key_free(*out);
		*out = NULL;
		rc = error_set(ERR_INVALID, "the store's key %s is another key",
		    id);
	}
out:
	ynode_free(env);
	sbuf_release(&pem);
	free(pub);
	free(host);
	return rc;
}

static void rfc3339(struct json *w, const char *key, int64_t ms)
{
	char buf[40];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_string(w, key, buf);
}

static void digest(struct json *w, const char *key, const char *alg,
    const char *value)
{
	json_obj(w, key);
	json_string(w, alg, value);
	json_end(w);
}

/* The variables as given, each value with the secrets' values masked
 * (a variable never carries a secret into the statement). */
static void variables(struct json *w, const struct prov_build *b)
{
	struct masker *m = masker_new(b->secrets, b->nsecrets);
	const char *p = b->variables;

	json_obj(w, "variables");
	while (p && *p) {
		const char *nl = strchr(p, '\n'), *eq;
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, len);
		p += len + (nl != NULL);
		if (!(eq = strchr(line, '='))) {
			free(line);
			continue;
		}
		line[eq - line] = '\0';
		struct sbuf v = SBUF_INIT;
		if (m) {
			masker_feed(m, eq + 1, strlen(eq + 1), &v);
			masker_flush(m, &v);
		} else {
			sbuf_adds(&v, eq + 1);
		}
		json_string(w, line, v.buf);
		sbuf_release(&v);
		free(line);
	}
	json_end(w);
	masker_free(m);
}

void prov_statement(const struct prov_build *b, struct sbuf *out)
{
	struct json w;
	char *uri = xasprintf("git+file://%s@%s", b->repo, b->ref);
	char *builder = xasprintf("https://runner.invalid/builder/%s", b->host);

	json_init(&w, out);
	json_obj(&w, NULL);
	json_string(&w, "_type", PROV_STATEMENT_TYPE);
	json_arr(&w, "subject");
	json_obj(&w, NULL);
	json_string(&w, "name", b->name);
	digest(&w, "digest", "sha256", b->sha256);
	json_end(&w);
	json_end(&w);
	json_string(&w, "predicateType", PROV_PREDICATE_TYPE);
	json_obj(&w, "predicate");

	json_obj(&w, "buildDefinition");
	json_string(&w, "buildType", PROV_BUILD_TYPE);
	json_obj(&w, "externalParameters");
	json_string(&w, "repository", b->repo);
	json_string(&w, "ref", b->ref);
	json_string(&w, "commit", b->commit);
	json_obj(&w, "pipeline");
	json_string(&w, "path", b->pipeline_file);
	digest(&w, "digest", "sha256", b->pipeline_sha256);
	json_end(&w);
	variables(&w, b);
	json_end(&w);
	json_obj(&w, "internalParameters");
	json_string(&w, "host", b->host);
	json_end(&w);
	json_arr(&w, "resolvedDependencies");
	json_obj(&w, NULL);
	json_string(&w, "uri", uri);
	digest(&w, "digest", "gitCommit", b->commit);
	json_end(&w);
	json_end(&w);
	json_end(&w);

	json_obj(&w, "runDetails");
	json_obj(&w, "builder");
	json_string(&w, "id", builder);
	json_obj(&w, "version");
	json_string(&w, "runner", prov_version());
	json_end(&w);
	json_end(&w);
	json_obj(&w, "metadata");
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)b->job);
	json_string(&w, "invocationId", id);
	rfc3339(&w, "startedOn", b->started_ms);
	rfc3339(&w, "finishedOn", b->finished_ms);
	json_end(&w);
	json_arr(&w, "byproducts");
	for (size_t i = 0; i < b->nlogs; i++) {
		json_obj(&w, NULL);
		json_string(&w, "name", b->log_names[i]);
		json_string(&w, "mediaType", "text/plain");
		digest(&w, "digest", "sha256", b->log_sha256[i]);
		json_end(&w);
	}
	json_end(&w);
	json_end(&w);

	json_end(&w);
	json_end(&w);
	free(uri);
	free(builder);
}

void prov_pae(const char *type, const char *body, size_t len,
    struct sbuf *out)
{
	sbuf_addf(out, "DSSEv1 %zu %s %zu ", strlen(type), type, len);
	sbuf_add(out, body, len);
}

int prov_sign(const struct prov_key *k, const char *payload, size_t len,
    struct sbuf *out)
{
	struct sbuf pae = SBUF_INIT, b64 = SBUF_INIT;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	struct json w;
	int rc = 0;

	prov_pae(PROV_PAYLOAD_TYPE, payload, len, &pae);
	if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)pae.buf,
	    pae.len) != 1) {
		rc = error_set(-1, "cannot sign the provenance");
		goto out;
	}
	json_init(&w, out);
	json_obj(&w, NULL);
	json_string(&w, "payloadType", PROV_PAYLOAD_TYPE);
	base64_add(&b64, (const unsigned char *)payload, len, 0);
	json_string(&w, "payload", b64.buf);
	json_arr(&w, "signatures");
	json_obj(&w, NULL);
	json_string(&w, "keyid", k->id);
	sbuf_reset(&b64);
	base64_add(&b64, sig, siglen, 0);
	json_string(&w, "sig", b64.buf);
	json_end(&w);
	json_end(&w);
	json_end(&w);
out:
	EVP_MD_CTX_free(md);
	sbuf_release(&pae);
	sbuf_release(&b64);
	return rc;
}

/* The scalar at path `a.b.c` of `n` (NULL: none, or not a string). */
static const char *at(const struct ynode *n, const char *path)
{
	char *copy = xstrdup(path), *save = NULL;

	for (char *k = strtok_r(copy, ".", &save); k && n;
	    k = strtok_r(NULL, ".", &save))
		n = n->type == YNODE_MAP ? ynode_get(n, k) : NULL;
	free(copy);
	return n && n->type == YNODE_SCALAR ? n->value : NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Base64 as DSSE allows it: standard or URL-safe alphabet. */
static int b64_any(const char *s, struct sbuf *out)
{
	char *t = xstrdup(s);
	int rc;

	for (char *p = t; *p; p++)
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	rc = base64_decode(t, strlen(t), out);
	free(t);
	return rc;
}

int prov_open(const struct prov_key *k, const char *envelope, size_t len,
    struct prov_facts *f)
{
	struct ynode *env = NULL, *st = NULL;
	struct sbuf payload = SBUF_INIT, pae = SBUF_INIT, sig = SBUF_INIT;
	const struct ynode *sigs, *subj;
	const char *type, *p, *s;
	EVP_MD_CTX *md = NULL;
	int rc;

	memset(f, 0, sizeof(*f));
	if (len > PROV_MAX_BYTES) {
		rc = error_set(ERR_INVALID, "the envelope is larger than %d bytes",
		    PROV_MAX_BYTES);
		goto out;
	}
	if ((rc = ynode_parse("envelope", envelope, len, &env)) < 0 ||
	    !env || env->type != YNODE_MAP) {
		rc = error_set(ERR_INVALID, "the envelope is not a DSSE envelope "
		    "(a JSON object)%s%s", rc < 0 ? ": " : "", rc < 0 ?
		    error_last() : "");
		goto out;
	}
	type = at(env, "payloadType");
	if (!type || strcmp(type, PROV_PAYLOAD_TYPE)) {
		rc = error_set(ERR_INVALID, "the envelope's payloadType is '%s', "
		    "not '%s'", type ? type : "(none)", PROV_PAYLOAD_TYPE);
		goto out;
	}
	if (!(p = at(env, "payload")) || b64_any(p, &payload) < 0) {
		rc = error_set(ERR_INVALID, "the envelope's payload is not base64");
		goto out;
	}
	/* one signature of ours; any that verifies with the key is enough */
	sigs = ynode_get(env, "signatures");
	if (!sigs || sigs->type != YNODE_SEQ || !sigs->n) {
		rc = error_set(ERR_INVALID, "the envelope has no signatures");
		goto out;
	}
	prov_pae(type, payload.buf, payload.len, &pae);
	for (size_t i = 0; k && i < sigs->n && !f->signature; i++) {
		sbuf_reset(&sig);
		if (!(s = at(sigs->items[i], "sig")) || b64_any(s, &sig) < 0)
			continue;
		EVP_MD_CTX_free(md);
		md = EVP_MD_CTX_new();
		if (md && EVP_DigestVerifyInit(md, NULL, NULL, NULL,
		    k->pkey) == 1 && EVP_DigestVerify(md,
		    (const unsigned char *)sig.buf, sig.len,
		    (const unsigned char *)pae.buf, pae.len) == 1) {
			f->signature = 1;
			f->keyid = dup_or_null(at(sigs->items[i], "keyid"));
		}
	}
	/* what it says is read even when unsigned, to say what it claims */
	if (ynode_parse("statement", payload.buf, payload.len, &st) < 0 ||
	    !st || st->type != YNODE_MAP) {
		error_clear();
		rc = error_set(ERR_INVALID, "the payload is not an in-toto "
		    "statement (a JSON object)");
		goto out;
	}
	subj = ynode_get(st, "subject");
	if (subj && subj->type == YNODE_SEQ && subj->n == 1) {
		f->name = dup_or_null(at(subj->items[0], "name"));
		f->sha256 = dup_or_null(at(subj->items[0], "digest.sha256"));
	}
	f->repo = dup_or_null(at(st, "predicate.buildDefinition."
	    "externalParameters.repository"));
	f->ref = dup_or_null(at(st, "predicate.buildDefinition."
	    "externalParameters.ref"));
	f->commit = dup_or_null(at(st, "predicate.buildDefinition."
	    "externalParameters.commit"));
	f->host = dup_or_null(at(st, "predicate.buildDefinition."
	    "internalParameters.host"));
	f->version = dup_or_null(at(st, "predicate.runDetails.builder."
	    "version.runner"));
	f->finished = dup_or_null(at(st, "predicate.runDetails.metadata."
	    "finishedOn"));
	if ((s = at(st, "predicate.runDetails.metadata.invocationId")))
		f->job = strtoll(s, NULL, 10);
	if (k && !f->signature) {
		rc = error_set(ERR_INVALID, "the signature does not verify with "
		    "key %s: the envelope was not signed by it, or was changed "
		    "since", k->id);
		goto out;
	}
	if (!(s = at(st, "_type")) || strcmp(s, PROV_STATEMENT_TYPE)) {
		rc = error_set(ERR_INVALID, "the statement's _type is not '%s'",
		    PROV_STATEMENT_TYPE);
		goto out;
	}
	if (!(s = at(st, "predicateType")) || strcmp(s, PROV_PREDICATE_TYPE)) {
		rc = error_set(ERR_INVALID, "the statement's predicateType is "
		    "not '%s'", PROV_PREDICATE_TYPE);
		goto out;
	}
	if (!f->sha256) {
		rc = error_set(ERR_INVALID, "the statement has not one subject "
		    "with a sha256 digest");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	ynode_free(env);
	ynode_free(st);
	sbuf_release(&payload);
	sbuf_release(&pae);
	sbuf_release(&sig);
	return rc;
}

void prov_facts_release(struct prov_facts *f)
{
	free(f->keyid);
	free(f->name);
	free(f->sha256);
	free(f->repo);
	free(f->ref);
	free(f->commit);
	free(f->host);
	free(f->version);
	free(f->finished);
	memset(f, 0, sizeof(*f));
}

/* One line of the report: `what` held (the provenance says `got`, and
 * `whose` is `want`) or not; the first that did not is the error. */
static void line(struct sbuf *r, const char *what, const char *got,
    const char *want, const char *whose, int *bad)
{
	int ok = got && want && !strcmp(got, want);

	if (ok)
		sbuf_addf(r, "%-12s verified: %s (%s)\n", what, got, whose);
	else
		sbuf_addf(r, "%-12s MISMATCH: the provenance says %s, %s is %s\n",
		    what, got ? got : "nothing", whose, want ? want : "unknown");
	if (!ok && !*bad) {
		*bad = 1;
		error_set(ERR_INVALID, "the provenance's %s (%s) is not %s (%s)", what,
		    got ? got : "(none)", whose, want ? want : "(none)");
	}
}

int prov_check(const struct prov_key *k, const char *envelope, size_t len,
    const char *sha256, const char *repo, const char *commit,
    struct sbuf *report)
{
	struct prov_facts f;
	int rc = prov_open(k, envelope, len, &f), bad = 0;

	if (rc < 0 && !f.signature) {
		sbuf_addf(report, "%-12s MISMATCH: %s\n", "signature",
		    error_last());
		prov_facts_release(&f);
		return rc;
	}
	sbuf_addf(report, "%-12s verified: ed25519 key %s\n", "signature",
	    k->id);
	if (rc < 0) {
		sbuf_addf(report, "%-12s MISMATCH: %s\n", "statement",
		    error_last());
		prov_facts_release(&f);
		return rc;
	}
	line(report, "subject", f.sha256, sha256, "the artifact's sha256",
	    &bad);
	line(report, "commit", f.commit, commit,
	    "the job's commit in the store", &bad);
	line(report, "repository", f.repo, repo,
	    "the job's repository in the store", &bad);
	sbuf_addf(report, "%-12s job #%lld on %s, runner %s, finished %s\n",
	    "built by", (long long)f.job, f.host ? f.host : "?", f.version ?
	    f.version : "?", f.finished ? f.finished : "?");
	prov_facts_release(&f);
	return bad ? ERR_INVALID : 0;
}

int prov_check_build(struct store *s, const char *home, const struct job *build,
    const char *local, struct sbuf *report, char **verdict)
{
	const struct artifact_rec *a = &build->artifacts[0];
	struct sbuf store_env = SBUF_INIT, file_env = SBUF_INIT;
	char *beside = prov_path(local);
	const struct sbuf *copies[2];
	size_t ncopies = 0;
	int rc;

	*verdict = NULL;
	if ((rc = store_artifact_provenance(s, build->id, &store_env)) < 0)
		goto out;
	if (rc > 0)
		copies[ncopies++] = &store_env;
	if (read_file(beside, PROV_MAX_BYTES, &file_env) == 0) {
		while (file_env.len && file_env.buf[file_env.len - 1] == '\n')
			sbuf_truncate(&file_env, file_env.len - 1);
		/* empty: written just before a crash (the store's copy is
		 * the durable one) */
		if (file_env.len && (!ncopies || strcmp(file_env.buf,
		    store_env.buf)))
			copies[ncopies++] = &file_env;
	}
	error_clear();
	rc = 0;
	if (!ncopies) {
		*verdict = xasprintf("none: build #%lld was made before the runner "
		    "signed its builds", (long long)build->id);
		rc = 1;
	}
	for (size_t i = 0; i < ncopies && rc == 0; i++) {
		const struct sbuf *env = copies[i];
		const char *which = env == &store_env ? "the store's" : beside;
		struct prov_key *key = NULL;
		sbuf_addf(report, "provenance of build #%lld (%s):\n",
		    (long long)build->id, which);
		if (prov_trusted_key(s, home, env->buf, env->len, &key) < 0 ||
		    prov_check(key, env->buf, env->len, a->sha256, build->repo,
		    build->commit, report) < 0) {
			rc = error_set(ERR_INVALID, "provenance (%s) does not verify: "
			    "%s", which, error_last());
			sbuf_addf(report, "refused: %s\n", error_last());
		} else if (!*verdict) {
			*verdict = xasprintf("verified: build #%lld, sha256 %s, key %s",
			    (long long)build->id, a->sha256, prov_key_id(key));
		}
		prov_key_free(key);
	}
	if (rc == 0)
		sbuf_adds(report, "provenance verified\n");
	if (rc == ERR_INVALID) {
		free(*verdict);
		*verdict = NULL;
	}
out:
	sbuf_release(&store_env);
	sbuf_release(&file_env);
	free(beside);
	return rc;
}

char *prov_path(const char *artifact)
{
	return xasprintf("%s%s", artifact, PROV_SUFFIX);
}
