/* Unit tests of provenance.c: DSSE's pre-authentication encoding, the
 * key pair in a home, the envelope signed and checked, edits refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provenance.h"
#include "sha256.h"
#include "util.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define COMMIT "0123456789012345678901234567890123456789"

/* The example of DSSE's protocol.md. */
static void test_pae(void **state)
{
	struct sbuf sb = SBUF_INIT;

	(void)state;
	prov_pae("http://example.com/HelloWorld", "hello world", 11, &sb);
	assert_string_equal(sb.buf,
	    "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
	sbuf_reset(&sb);
	prov_pae("", "", 0, &sb);
	assert_string_equal(sb.buf, "DSSEv1 0  0 ");
	sbuf_release(&sb);
}

static char *home;

static int setup(void **state)
{
	char tmpl[] = "/tmp/test_provenance.XXXXXX";

	(void)state;
	home = xstrdup(mkdtemp(tmpl));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(home);
	free(home);
	return 0;
}

/* A signed envelope of a build of COMMIT whose artifact has SHA_A. */
static void envelope(struct sbuf *out, const char *variables)
{
	struct prov_key *k = NULL;
	struct sbuf st = SBUF_INIT;
	const char *secrets[] = { "hunter2-s3cret" };
	const char *names[] = { "unit" }, *shas[] = { SHA_B };
	struct prov_build b = {
		.name = "7.tar.zst", .sha256 = SHA_A, .repo = "/srv/app.git",
		.ref = "refs/heads/main", .commit = COMMIT,
		.pipeline_file = ".runner.yml", .pipeline_sha256 = SHA_B,
		.variables = variables, .secrets = secrets, .nsecrets = 1,
		.host = "ci1", .job = 7, .started_ms = 1000, .finished_ms = 2000,
		.log_names = names, .log_sha256 = shas, .nlogs = 1,
	};

	assert_int_equal(prov_key_make(home, NULL), 0);
	assert_int_equal(prov_key_load(home, &k), 0);
	prov_statement(&b, &st);
	assert_int_equal(prov_sign(k, st.buf, st.len, out), 0);
	prov_key_free(k);
	sbuf_release(&st);
}

static void test_key_pair(void **state)
{
	char *key = xasprintf("%s/%s", home, PROV_KEY_FILE);
	char *pub = xasprintf("%s/%s", home, PROV_PUB_FILE);
	struct prov_key *k = NULL, *p = NULL;
	struct stat st;
	int made = 0;

	(void)state;
	assert_int_equal(prov_key_load(home, &k), ERR_NOTFOUND);
	error_clear();
	assert_int_equal(prov_key_make(home, &made), 0);
	assert_int_equal(made, 1);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* made once: a second call keeps it */
	assert_int_equal(prov_key_make(home, &made), 0);
	assert_int_equal(made, 0);
	assert_int_equal(prov_key_load(home, &k), 0);
	assert_int_equal(prov_pub_load(pub, &p), 0);
	assert_string_equal(prov_key_id(k), prov_key_id(p));
	assert_int_equal(strlen(prov_key_public_hex(p)), 64);
	/* a link in the key's place is not followed */
	prov_key_free(k);
	unlink(key);
	assert_int_equal(symlink(pub, key), 0);
	assert_true(prov_key_load(home, &k) < 0);
	error_clear();
	assert_true(prov_key_make(home, NULL) < 0);
	error_clear();
	unlink(key);
	unlink(pub);
	prov_key_free(p);
	free(key);
	free(pub);
}

static void test_envelope(void **state)
{
	char *pub = xasprintf("%s/%s", home, PROV_PUB_FILE);
	struct sbuf env = SBUF_INIT, report = SBUF_INIT, st = SBUF_INIT;
	struct prov_key *p = NULL;
	struct prov_facts f;

	(void)state;
	envelope(&env, "GREETING=hello\nTOKEN=xhunter2-s3crety\n");
	assert_int_equal(prov_pub_load(pub, &p), 0);
	assert_non_null(strstr(env.buf, "{\"payloadType\":\""
	    "application/vnd.in-toto+json\",\"payload\":\""));
	assert_non_null(strstr(env.buf, "\"signatures\":[{\"keyid\":\""));
	assert_int_equal(prov_open(p, env.buf, env.len, &f), 0);
	assert_true(f.signature);
	assert_string_equal(f.keyid, prov_key_id(p));
	assert_string_equal(f.sha256, SHA_A);
	assert_string_equal(f.commit, COMMIT);
	assert_string_equal(f.repo, "/srv/app.git");
	assert_string_equal(f.host, "ci1");
	assert_int_equal(f.job, 7);
	prov_facts_release(&f);
	assert_int_equal(prov_check(p, env.buf, env.len, SHA_A, "/srv/app.git",
	    COMMIT, &report), 0);
	assert_non_null(strstr(report.buf, "subject      verified"));

	/* the statement: variables as given, a secret's value never */
	const char *b64 = strstr(env.buf, "\"payload\":\"") + 11;
	assert_int_equal(base64_decode(b64, (size_t)(strchr(b64, '"') - b64),
	    &st), 0);
	assert_non_null(strstr(st.buf, "\"_type\":"
	    "\"https://in-toto.io/Statement/v1\",\"subject\":[{\"name\":"
	    "\"7.tar.zst\",\"digest\":{\"sha256\":\"" SHA_A "\"}}],"
	    "\"predicateType\":\"https://slsa.dev/provenance/v1\""));
	assert_non_null(strstr(st.buf, "\"variables\":{\"GREETING\":\"hello\","
	    "\"TOKEN\":\"x***y\"}"));
	assert_null(strstr(st.buf, "hunter2"));
	assert_non_null(strstr(st.buf, "\"startedOn\":\"1970-01-01T00:00:01Z\""));
	assert_non_null(strstr(st.buf, "\"byproducts\":[{\"name\":\"unit\""));

	/* another artifact, commit or repository: refused, saying which */
	sbuf_reset(&report);
	assert_int_equal(prov_check(p, env.buf, env.len, SHA_B, "/srv/app.git",
	    COMMIT, &report), ERR_INVALID);
	assert_non_null(strstr(report.buf, "subject      MISMATCH"));
	assert_non_null(strstr(error_last(), "subject (" SHA_A ") is not"));
	sbuf_reset(&report);
	assert_int_equal(prov_check(p, env.buf, env.len, SHA_A, "/srv/other.git",
	    COMMIT, &report), ERR_INVALID);
	assert_non_null(strstr(report.buf, "repository   MISMATCH"));

	/* one byte of the payload changed: the signature fails */
	char *edited = xstrdup(env.buf);
	char *at = strstr(edited, "\"payload\":\"") + 20;
	*at = *at == 'A' ? 'B' : 'A';
	sbuf_reset(&report);
	assert_int_equal(prov_check(p, edited, strlen(edited), SHA_A,
	    "/srv/app.git", COMMIT, &report), ERR_INVALID);
	assert_non_null(strstr(report.buf, "signature    MISMATCH"));
	free(edited);
	/* not an envelope at all */
	assert_int_equal(prov_open(p, "[1,2]", 5, &f), ERR_INVALID);
	prov_facts_release(&f);
	error_clear();

	prov_key_free(p);
	sbuf_release(&env);
	sbuf_release(&report);
	sbuf_release(&st);
	free(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pae),
		cmocka_unit_test(test_key_pair),
		cmocka_unit_test(test_envelope),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
