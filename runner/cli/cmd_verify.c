/*
 * runner verify JOB|ARTIFACT [--key PUB]: check the signed provenance of
 * a build's artifact (docs/provenance.md) and say what matched and what
 * did not.
 */
#include "artifact.h"
#include "audit.h"
#include "cli.h"
#include "jobs.h"
#include "provenance.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner verify [--home DIR] [--key PUB] JOB|ARTIFACT\n"
    "\n"
    "Check the signed provenance of the artifact of build JOB (a\n"
    "deployment: of the build it deployed), or of the artifact file\n"
    "ARTIFACT, whose provenance is ARTIFACT.intoto.jsonl beside it: its\n"
    "DSSE signature with the home's key (provenance.pub, or one a host of\n"
    "the store recorded) or the PEM public key PUB; its subject's sha256\n"
    "against the artifact's bytes; its commit and repository against the\n"
    "build the store recorded. Prints a line for each check.\n"
    "\n"
    "Exit codes: 0 verified, 1 a check failed (or there is no\n"
    "provenance), 2 usage.\n";

/* Check one envelope copy; prints its report. 0 verified. */
static int check_copy(struct cli_session *cs, const char *key_path,
    const char *which, const struct sbuf *env, const char *sha,
    const struct job *b)
{
	struct prov_key *key = NULL;
	struct sbuf report = SBUF_INIT;
	int rc;

	printf("provenance of build #%lld (%s):\n", (long long)b->id, which);
	rc = key_path ? prov_pub_load(key_path, &key) :
	    prov_trusted_key(cs->store, cs->home, env->buf, env->len, &key);
	if (rc == 0)
		rc = prov_check(key, env->buf, env->len, sha, b->repo, b->commit,
		    &report);
	else
		sbuf_addf(&report, "%-12s MISMATCH: %s\n", "key", error_last());
	fputs(report.buf, stdout);
	if (rc < 0)
		printf("NOT VERIFIED: %s\n", error_last());
	sbuf_release(&report);
	prov_key_free(key);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	const char *home_opt = NULL, *key_path = NULL, *arg;
	struct cli_session cs = { 0 };
	struct sbuf store_env = SBUF_INIT, file_env = SBUF_INIT;
	struct job *j = NULL, *b = NULL;
	char *local = NULL, *beside = NULL, sha[65];
	int64_t id;
	int rc, bad = 0, copies = 0;

	const struct opt opts[] = {
		OPT_STRING('k', "key", &key_path, "PUB",
		    "verify with this PEM public key, not the home's"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
		return rc;
	if (optind != argc - 1)
		return cli_usage(usage);
	arg = argv[optind];
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	if ((id = cli_job_id(arg)) > 0) {
		if (store_job_get(cs.store, id, &j) < 0) {
			cli_error("%s", error_last());
			goto out;
		}
		if (j->kind == KIND_DEPLOY && (!j->source_job ||
		    store_job_get(cs.store, j->source_job, &b) < 0)) {
			cli_error("deployment #%lld: its build is gone%s%s",
			    (long long)id, j->source_job ? ": " : "",
			    j->source_job ? error_last() : "");
			goto out;
		}
		if (!b) {
			b = j;
			j = NULL;
		}
		if (!b->nartifacts) {
			cli_error("build #%lld has no artifact (%s)",
			    (long long)b->id, job_state_name(b->state));
			goto out;
		}
		const struct artifact_rec *a = &b->artifacts[0];
		if (artifact_local(cs.store, cs.home, b->id, a->path, a->sha256,
		    &local) < 0) {
			cli_error("%s", error_last());
			goto out;
		}
	} else {
		/* a file: which build it is, its provenance says */
		struct prov_facts f;
		local = xstrdup(arg);
		beside = prov_path(local);
		if (read_file(beside, PROV_MAX_BYTES, &file_env) < 0) {
			cli_error("'%s' is no job number, and %s", arg,
			    error_last());
			goto out;
		}
		prov_open(NULL, file_env.buf, file_env.len, &f);
		error_clear();
		id = f.job;
		prov_facts_release(&f);
		if (id <= 0 || store_job_get(cs.store, id, &b) < 0) {
			cli_error("'%s': its provenance names no build of this "
			    "store", beside);
			goto out;
		}
	}
	if (sha256_file(local, sha) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	printf("artifact %s: sha256 %s\n", local, sha);
	if (!beside)
		beside = prov_path(local);
	if (store_artifact_provenance(cs.store, b->id, &store_env) > 0) {
		copies++;
		bad |= check_copy(&cs, key_path, "the store's", &store_env, sha,
		    b) < 0;
	}
	error_clear();
	/* the file beside it (read already when it was named) */
	if (file_env.len ||
	    read_file(beside, PROV_MAX_BYTES, &file_env) == 0) {
		while (file_env.len && file_env.buf[file_env.len - 1] == '\n')
			sbuf_truncate(&file_env, file_env.len - 1);
		if (!copies || strcmp(file_env.buf, store_env.buf)) {
			copies++;
			bad |= check_copy(&cs, key_path, beside, &file_env, sha,
			    b) < 0;
		}
	}
	error_clear();
	if (!copies) {
		printf("NOT VERIFIED: build #%lld has no provenance (made before "
		    "the runner signed its builds)\n", (long long)b->id);
		goto out;
	}
	if (bad)
		goto out;
	printf("provenance verified\n");
	rc = EXIT_OK;
out:
	job_free(j);
	job_free(b);
	free(local);
	free(beside);
	sbuf_release(&store_env);
	sbuf_release(&file_env);
	cli_close(&cs);
	return rc;
}
