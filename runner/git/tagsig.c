/*
 * Tag verification. libgit2 reads the raw tag object; the signature is
 * the trailing armored block, the signed payload everything before it, as
 * git itself splits them. ssh-keygen -Y and gpg do the cryptography, with
 * the server's allowed signers file and keyring only (gpg runs with a
 * fresh home, so the runner user's own keys are never consulted).
 */
#include "tagsig.h"
#include "config.h"
#include "gitlib.h"
#include "run.h"
#include "sha256.h"
#include "util.h"
#include "who.h"

#include <errno.h>
#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SSH_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define PGP_BEGIN "-----BEGIN PGP SIGNATURE-----"

int tag_time(const char *repo, const char *tag_oid, int64_t *out)
{
	git_repository *r = NULL;
	git_tag *tag = NULL;
	git_oid oid;
	int error = 0;

	*out = 0;
	gitlib_init();
	if (git_repository_open_bare(&r, repo) < 0 ||
	    git_oid_fromstr(&oid, tag_oid) < 0 ||
	    git_tag_lookup(&tag, r, &oid) < 0)
		error = error_set(ERR_NOTFOUND, "tag object %s is not in '%s'",
		    tag_oid, repo);
	else if (git_tag_tagger(tag))
		*out = (int64_t)git_tag_tagger(tag)->when.time;
	git_tag_free(tag);
	git_repository_free(r);
	return error;
}

void tag_info_release(struct tag_info *t)
{
	free(t->commit);
	free(t->message);
	free(t->signer);
	free(t->key);
	free(t->kind);
	memset(t, 0, sizeof(*t));
}

char *tag_info_signer(const struct tag_info *t)
{
	char *who = who_clean_text(t->signer, 200);
	char *key = who_clean_text(t->key, 100);
	char *text = xasprintf("%s (%s key %s)", who ? who : "?",
	    t->kind && !strcmp(t->kind, "gpg") ? "OpenPGP" : "ssh",
	    key ? key : "?");

	free(who);
	free(key);
	return text;
}

/* A big-endian ssh string at *p of the `left` bytes: its length, or -1. */
static long ssh_string(const unsigned char **p, size_t *left,
    const unsigned char **out)
{
	size_t n;

	if (*left < 4)
		return -1;
	n = (size_t)(*p)[0] << 24 | (size_t)(*p)[1] << 16 |
	    (size_t)(*p)[2] << 8 | (*p)[3];
	if (n > *left - 4)
		return -1;
	*out = *p + 4;
	*p += 4 + n;
	*left -= 4 + n;
	return (long)n;
}

/* The key's fields after a certificate's nonce, by the plain key's
 * type (PROTOCOL.certkeys): what the certificate certifies. */
static const struct {
	const char *type;
	int fields;
} cert_keys[] = {
	{ "ssh-ed25519", 1 },
	{ "ssh-rsa", 2 },			/* e, n */
	{ "ssh-dss", 4 },			/* p, q, g, y */
	{ "ecdsa-sha2-nistp256", 2 },		/* curve, point */
	{ "ecdsa-sha2-nistp384", 2 },
	{ "ecdsa-sha2-nistp521", 2 },
	{ "sk-ssh-ed25519@openssh.com", 2 },	/* key, application */
	{ "sk-ecdsa-sha2-nistp256@openssh.com", 3 },
};

#define CERT_MARK "-cert-v01"
#define CERT_MARK_LEN (sizeof(CERT_MARK) - 1)

static void ssh_put_string(struct sbuf *b, const unsigned char *s, size_t n)
{
	unsigned char len[4] = { (unsigned char)(n >> 24),
	    (unsigned char)(n >> 16), (unsigned char)(n >> 8),
	    (unsigned char)n };

	sbuf_add(b, len, 4);
	sbuf_add(b, s, n);
}

/*
 * The plain key of an OpenSSH certificate's blob (`key`, `klen` bytes)
 * into `out`: its type without "-cert-v01", and the certified key's
 * fields. 0 when it is one; else -1 (`out` untouched), as for a plain
 * key, which is its own.
 */
static int ssh_cert_plain(const unsigned char *key, size_t klen,
    struct sbuf *out)
{
	const unsigned char *p = key, *type, *f;
	size_t left = klen;
	long tlen, n;
	struct sbuf b = SBUF_INIT;
	char *plain = NULL, *cert;
	int fields = -1, error = -1;

	if ((tlen = ssh_string(&p, &left, &type)) <= 0)
		goto out;
	plain = xstrndup((const char *)type, (size_t)tlen);
	if (strlen(plain) != (size_t)tlen ||
	    !(cert = strstr(plain, CERT_MARK)))
		goto out;
	/* "ssh-ed25519-cert-v01@openssh.com": "ssh-ed25519"; "sk-ssh-
	 * ed25519-cert-v01@openssh.com": "sk-ssh-ed25519@openssh.com" */
	memmove(cert, cert + CERT_MARK_LEN, strlen(cert + CERT_MARK_LEN) + 1);
	if (!strncmp(plain, "ssh-", 4) || !strncmp(plain, "ecdsa-", 6))
		plain[strcspn(plain, "@")] = '\0';
	for (size_t i = 0; i < sizeof(cert_keys) / sizeof(*cert_keys); i++)
		if (!strcmp(plain, cert_keys[i].type))
			fields = cert_keys[i].fields;
	if (fields < 0 || ssh_string(&p, &left, &f) < 0)	/* the nonce */
		goto out;
	ssh_put_string(&b, (const unsigned char *)plain, strlen(plain));
	for (int i = 0; i < fields; i++) {
		if ((n = ssh_string(&p, &left, &f)) < 0)
			goto out;
		ssh_put_string(&b, f, (size_t)n);
	}
	sbuf_add(out, b.buf, b.len);
	error = 0;
out:
	sbuf_release(&b);
	free(plain);
	return error;
}

/*
 * The fingerprint of the key in an SSH signature (the armored SSHSIG
 * blob: magic, version, the public key, ...), as ssh-keygen -l prints
 * it: of a certificate, the certified key's, so that one key counts
 * once whichever of its certificates signed; NULL if it cannot be read.
 */
static char *ssh_sig_key(const char *armor, size_t len)
{
	struct sbuf b64 = SBUF_INIT, blob = SBUF_INIT, fp = SBUF_INIT;
	struct sbuf plain = SBUF_INIT;
	const unsigned char *p, *key;
	unsigned char md[SHA256_LEN];
	size_t left;
	long klen;
	char *out = NULL;

	for (const char *l = armor; l < armor + len; ) {
		const char *nl = memchr(l, '\n', (size_t)(armor + len - l));
		size_t ll = nl ? (size_t)(nl - l) : (size_t)(armor + len - l);
		if (ll && *l != '-')
			sbuf_add(&b64, l, ll - (l[ll - 1] == '\r'));
		l += ll + 1;
	}
	if (base64_decode(b64.buf, b64.len, &blob) < 0 || blob.len < 10 ||
	    memcmp(blob.buf, "SSHSIG", 6))
		goto out;
	p = (const unsigned char *)blob.buf + 10;	/* and the version */
	left = blob.len - 10;
	if ((klen = ssh_string(&p, &left, &key)) <= 0)
		goto out;
	if (ssh_cert_plain(key, (size_t)klen, &plain) == 0) {
		key = (const unsigned char *)plain.buf;
		klen = (long)plain.len;
	}
	if (sha256(key, (size_t)klen, md) < 0)
		goto out;
	sbuf_adds(&fp, "SHA256:");
	base64_add(&fp, md, sizeof(md), 1);
	out = sbuf_detach(&fp);
out:
	sbuf_release(&b64);
	sbuf_release(&blob);
	sbuf_release(&fp);
	sbuf_release(&plain);
	return out;
}

/* Where the signature starts: the last line that begins an armor block. */
static const char *find_signature(const char *buf, size_t len,
    const char **kind)
{
	const char *found = NULL;

	for (const char *p = buf; p < buf + len; ) {
		const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
		if (ll >= strlen(SSH_BEGIN) && !strncmp(p, SSH_BEGIN,
		    strlen(SSH_BEGIN))) {
			found = p;
			*kind = "ssh";
		} else if (ll >= strlen(PGP_BEGIN) && !strncmp(p, PGP_BEGIN,
		    strlen(PGP_BEGIN))) {
			found = p;
			*kind = "gpg";
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return found;
}

static int first_line(const struct sbuf *sb, struct sbuf *out)
{
	size_t n = strcspn(sb->buf, "\n");

	sbuf_add(out, sb->buf, n);
	return 0;
}

static int verify_ssh(const char *allowed, const char *payload, size_t plen,
    const char *sig, size_t siglen, const char *sigfile,
    struct tag_info *out)
{
	struct sbuf o = SBUF_INIT, e = SBUF_INIT, why = SBUF_INIT;
	int rc, error;

	if (!allowed)
		return error_set(ERR_INVALID, "SSH-signed tag, but no "
		    "allowed_signers is configured for this repository");
	const char *find[] = { "ssh-keygen", "-Y", "find-principals", "-f",
	    allowed, "-s", sigfile, NULL };
	rc = run_helper(find, NULL, 0, &o, &e, 10000);
	if (rc < 0) {
		error = rc;
		goto out;
	}
	if (rc != 0 || !o.len) {
		error = error_set(ERR_INVALID, "signature is not by an allowed "
		    "signer (unknown key, or one whose validity has ended)");
		goto out;
	}
	o.buf[strcspn(o.buf, "\n")] = '\0';
	char *principal = xstrdup(o.buf);
	sbuf_reset(&o);
	sbuf_reset(&e);
	const char *verify[] = { "ssh-keygen", "-Y", "verify", "-f", allowed,
	    "-I", principal, "-n", "git", "-s", sigfile, NULL };
	rc = run_helper(verify, payload, plen, &o, &e, 10000);
	if (rc != 0) {
		first_line(e.len ? &e : &o, &why);
		error = rc < 0 ? rc : error_set(ERR_INVALID, "bad SSH signature "
		    "by '%s': %s", principal, why.len ? why.buf :
		    "verification failed");
		free(principal);
		goto out;
	}
	out->signer = principal;
	out->key = ssh_sig_key(sig, siglen);
	error = 0;
out:
	sbuf_release(&o);
	sbuf_release(&e);
	sbuf_release(&why);
	return error;
}

/*
 * gpg's status line KEYWORD in `out` (--status-fd): what follows
 * "[GNUPG:] KEYWORD " at the start of a line, or NULL. Only at a line's
 * start: a user id, which its key's owner chose, is printed inside the
 * GOODSIG line and may quote another line's words.
 */
static const char *gpg_status(const char *out, const char *keyword)
{
	size_t n = strlen(keyword);

	for (const char *l = out; l && *l; l = strchr(l, '\n'), l = l ? l + 1 :
	    NULL) {
		if (strncmp(l, "[GNUPG:] ", 9) || strncmp(l + 9, keyword, n))
			continue;
		if (l[9 + n] == ' ')
			return l + 10 + n;
		if (l[9 + n] == '\n' || !l[9 + n])
			return l + 9 + n;
	}
	return NULL;
}

/*
 * The key of a VALIDSIG line (after "VALIDSIG "): its tenth field, the
 * primary key's fingerprint, so that the subkeys of one certificate are
 * one key (an approver counts once, whichever subkey signed); the
 * signing (sub)key's fingerprint, the first field, when gpg gives no
 * primary.
 */
static char *validsig_key(const char *v)
{
	const char *f = v, *line_end = v + strcspn(v, "\n");
	size_t n;

	for (int i = 0; i < 9 && f < line_end; i++) {
		f += strcspn(f, " \n");
		f += *f == ' ';
	}
	n = f < line_end ? strcspn(f, " \n") : 0;

	if (n >= 40 && strspn(f, "0123456789ABCDEFabcdef") == n)
		return xstrndup(f, n);
	return xstrndup(v, strcspn(v, " \n"));
}

static int verify_gpg(const char *keyring, const char *payload, size_t plen,
    const char *sigfile, const char *tmpdir, struct tag_info *out)
{
	struct sbuf o = SBUF_INIT, e = SBUF_INIT;
	char *home = NULL;
	int rc, error;

	if (!keyring)
		return error_set(ERR_INVALID, "OpenPGP-signed tag, but no "
		    "gpg_keyring is configured for this repository");
	if (access(keyring, R_OK) != 0)
		return error_set(ERR_INVALID, "cannot read gpg_keyring '%s': %s",
		    keyring, strerror(errno));
	home = xasprintf("%s/gnupg.XXXXXX", tmpdir);
	if (!mkdtemp(home)) {
		/* home is xasprintf's, never NULL: gcc with -fsanitize sees a
		 * NULL through error_set's statement expression */
#if defined(__GNUC__) && !defined(__clang__)	/* clang has no such warning */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-overflow"
#endif
		error = error_set(-1, "cannot create '%s': %s", home,
		    strerror(errno));
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
		goto out;
	}
	const char *argv[] = { "gpg", "--batch", "--no-tty", "--homedir", home,
	    "--no-default-keyring", "--keyring", keyring,
	    "--trust-model", "always", "--no-auto-key-retrieve",
	    "--status-fd", "1", "--verify", sigfile, "-", NULL };
	rc = run_helper(argv, payload, plen, &o, &e, 20000);
	if (rc < 0) {
		error = rc;
		goto out;
	}
	if (gpg_status(o.buf, "EXPKEYSIG"))
		error = error_set(ERR_INVALID, "signed by an expired OpenPGP key");
	else if (gpg_status(o.buf, "REVKEYSIG"))
		error = error_set(ERR_INVALID, "signed by a revoked OpenPGP key");
	else if (gpg_status(o.buf, "NO_PUBKEY") ||
	    gpg_status(o.buf, "ERRSIG"))
		error = error_set(ERR_INVALID, "signature is not by a trusted "
		    "key (unknown OpenPGP key)");
	else if (gpg_status(o.buf, "BADSIG"))
		error = error_set(ERR_INVALID, "bad OpenPGP signature");
	else if (rc != 0 || !gpg_status(o.buf, "GOODSIG") ||
	    !gpg_status(o.buf, "VALIDSIG"))
		error = error_set(ERR_INVALID, "OpenPGP signature did not verify");
	else {
		const char *v = gpg_status(o.buf, "VALIDSIG");
		const char *g = gpg_status(o.buf, "GOODSIG");
		out->key = validsig_key(v);
		/* GOODSIG KEYID USER-ID: the keyring's name for the key */
		g += strcspn(g, " \n");
		out->signer = *g == ' ' ? xstrndup(g + 1, strcspn(g + 1, "\n")) :
		    xstrdup(out->key);
		error = 0;
	}
out:
	if (home) {
		rm_rf(home);
		free(home);
	}
	sbuf_release(&o);
	sbuf_release(&e);
	return error;
}

int tag_object_read(const char *repo, const char *quarantine,
    const char *oid_hex, size_t max, char **type, struct sbuf *out)
{
	git_repository *r = NULL;
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	git_oid oid;
	int error = 0;

	*type = NULL;
	if ((error = gitlib_open_pushed(repo, quarantine, &r, &odb)) < 0)
		goto out;
	if (git_oid_fromstr(&oid, oid_hex) < 0 ||
	    git_odb_read(&obj, odb, &oid) < 0) {
		error = error_set(ERR_NOTFOUND, "object %s not found", oid_hex);
		goto out;
	}
	*type = xstrdup(git_object_type2string(git_odb_object_type(obj)));
	if (git_odb_object_size(obj) > max) {
		error = error_set(ERR_INVALID, "object %s is larger than %zu "
		    "bytes", oid_hex, max);
		goto out;
	}
	sbuf_add(out, git_odb_object_data(obj), git_odb_object_size(obj));
out:
	git_odb_object_free(obj);
	git_odb_free(odb);
	git_repository_free(r);
	return error;
}

int tag_verify(const char *repo, const char *quarantine, const char *name,
    const char *tag_oid, const struct repo_conf *rc, const char *tmpdir,
    struct tag_info *out)
{
	struct sbuf raw = SBUF_INIT;
	char *type = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	error = tag_object_read(repo, quarantine, tag_oid, (size_t)-1, &type,
	    &raw);
	if (error == ERR_NOTFOUND)
		error = error_set(ERR_INVALID, "tag '%s': object %s not found",
		    name, tag_oid);
	if (error == 0)
		error = tag_verify_raw(name, tag_oid, type, raw.buf, raw.len, rc,
		    tmpdir, out);
	free(type);
	sbuf_release(&raw);
	return error;
}

int tag_verify_raw(const char *name, const char *tag_oid, const char *type,
    const char *data, size_t len, const struct repo_conf *rc,
    const char *tmpdir, struct tag_info *out)
{
	git_repository *r = NULL;
	git_odb *odb = NULL;
	git_odb_backend *mem = NULL;
	git_tag *tag = NULL;
	git_oid oid, want;
	const char *kind = NULL, *sig;
	char *sigfile = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	gitlib_init();
	if (strcmp(type, "tag")) {
		error = error_set(ERR_INVALID, "'%s' is a lightweight tag: a "
		    "release needs an annotated, signed tag", name);
		goto out;
	}
	/* the object as its bytes say, in memory: its id is computed from
	 * them, so bytes sent by another process are the pushed object or
	 * nothing */
	if (git_odb_new(&odb) < 0 || git_mempack_new(&mem) < 0 ||
	    git_odb_add_backend(odb, mem, 1) < 0) {
		if (mem)	/* not the database's: it refused it */
			mem->free(mem);
		error = error_set(-1, "cannot make an object database: %s",
		    git_error_last() ? git_error_last()->message : "?");
		goto out;
	}
	if (git_oid_fromstr(&want, tag_oid) < 0 ||
	    git_odb_write(&oid, odb, data, len, GIT_OBJECT_TAG) < 0 ||
	    git_oid_cmp(&oid, &want)) {
		error = error_set(ERR_INVALID, "tag '%s': the object's bytes are "
		    "not object %s", name, tag_oid);
		goto out;
	}
	if (git_repository_wrap_odb(&r, odb) < 0 ||
	    git_tag_lookup(&tag, r, &oid) < 0) {
		error = error_set(ERR_INVALID, "tag '%s': cannot parse the tag "
		    "object", name);
		goto out;
	}
	if (strcmp(git_tag_name(tag), name)) {
		error = error_set(ERR_INVALID, "the tag object is named '%s' but "
		    "was pushed as '%s'", git_tag_name(tag), name);
		goto out;
	}
	if (git_tag_target_type(tag) != GIT_OBJECT_COMMIT) {
		error = error_set(ERR_INVALID, "tag '%s' points at a %s, not a "
		    "commit", name, git_object_type2string(
		    git_tag_target_type(tag)));
		goto out;
	}
	if (!(sig = find_signature(data, len, &kind))) {
		error = error_set(ERR_INVALID, "tag '%s' is not signed", name);
		goto out;
	}
	sigfile = xasprintf("%s/tagsig.%d", tmpdir, (int)getpid());
	if ((error = write_file_atomic(sigfile, sig, (size_t)(data + len - sig),
	    0600)) < 0)
		goto out;
	size_t plen = (size_t)(sig - data);
	if (!strcmp(kind, "ssh"))
		error = verify_ssh(rc->allowed_signers, data, plen, sig,
		    (size_t)(data + len - sig), sigfile, out);
	else
		error = verify_gpg(rc->gpg_keyring, data, plen, sigfile, tmpdir,
		    out);
	if (error < 0) {
		if (error == ERR_INVALID) {
			char *why = xstrdup(error_last());
			error = error_set(ERR_INVALID, "tag '%s': %s", name, why);
			free(why);
		}
		goto out;
	}
	out->kind = xstrdup(kind);
	out->commit = xstrdup(git_oid_tostr_s(git_tag_target_id(tag)));
	out->tagged_at = git_tag_tagger(tag) ?
	    (int64_t)git_tag_tagger(tag)->when.time : 0;
	const char *msg = git_tag_message(tag);
	const char *msig = msg ? find_signature(msg, strlen(msg), &kind) : NULL;
	out->message = msg ? xstrndup(msg, msig ? (size_t)(msig - msg) :
	    strlen(msg)) : xstrdup("");
	while (*out->message && out->message[strlen(out->message) - 1] == '\n')
		out->message[strlen(out->message) - 1] = '\0';
	error = 0;
out:
	if (sigfile) {
		unlink(sigfile);
		free(sigfile);
	}
	if (error < 0)
		tag_info_release(out);
	git_tag_free(tag);
	git_repository_free(r);
	git_odb_free(odb);
	return error;
}

int release_notes(const char *repo, const char *from, const char *to,
    int max, struct sbuf *out)
{
	git_repository *r = NULL;
	git_revwalk *walk = NULL;
	git_oid oid;
	int n = 0, error = 0;

	gitlib_init();
	if (git_repository_open_bare(&r, repo) < 0 ||
	    git_revwalk_new(&walk, r) < 0 || git_oid_fromstr(&oid, to) < 0 ||
	    git_revwalk_push(walk, &oid) < 0) {
		error = error_set(-1, "cannot walk the history of '%s'", repo);
		goto out;
	}
	git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
	if (from && git_oid_fromstr(&oid, from) == 0)
		git_revwalk_hide(walk, &oid);
	while (n < max && git_revwalk_next(&oid, walk) == 0) {
		git_commit *c = NULL;
		if (git_commit_lookup(&c, r, &oid) < 0)
			continue;
		sbuf_addf(out, "- %s (%.7s)\n", git_commit_summary(c) ?
		    git_commit_summary(c) : "", git_oid_tostr_s(&oid));
		git_commit_free(c);
		n++;
	}
out:
	git_revwalk_free(walk);
	git_repository_free(r);
	return error;
}
