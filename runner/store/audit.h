/*
 * The audit trail in the store: who caused each job (who.h: the unix
 * user the kernel reported, and what the transport claimed for it) and
 * the key that signed a release's tag. Jobs get theirs when they are
 * queued (store_enqueue, store_deploy_enqueue, store_retry: struct
 * push's and struct deploy_req's `who`); a deployment a build queues by
 * itself gets its build's.
 */
#ifndef RUNNER_AUDIT_H
#define RUNNER_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct job;
struct sbuf;

/* Record `signer` (tagsig.h's tag_info.signer: principal or user id,
 * and the key) as the signer of release job `id`'s tag. */
int store_job_signer(struct store *s, int64_t id, const char *signer);

/*
 * The approvals a release needed (runner.yml `approvals:`), as its
 * deployment counted them: `have` distinct keys of `need`, their short
 * names ("alice, bob") and who each is, one a line (the key's
 * fingerprint with it). A deployment held for want of them has have <
 * need; that release is pending.
 */
struct approval_rec {
	int64_t job_id;
	char *repo, *env, *tag;
	int64_t have, need;
	char *names, *approvers;
	int64_t created_ms;
};
/* Record (or count again) the approvals of deployment a->job_id. */
int store_approvals_set(struct store *s, const struct approval_rec *a);
/* Those of deployment `job_id` into *out (NULL: none recorded; caller
 * frees with approval_recs_free(*out, 1)). */
int store_approvals_get(struct store *s, int64_t job_id,
    struct approval_rec **out);
/* The releases waiting for approvals, oldest first. */
int store_approvals_pending(struct store *s, struct approval_rec **out,
    size_t *n);
void approval_recs_free(struct approval_rec *v, size_t n);
/* "1 of 2 approvals: alice; 1 more needed", for people. */
void approval_describe(struct sbuf *sb, const struct approval_rec *a);
/* Deployment `id`, queued by an approval tag, deploys release tag `tag`
 * (tag object `object`): its ref, tag and object become the release's. */
int store_job_as_release(struct store *s, int64_t id, const char *tag,
    const char *object);

/* The signed provenance (provenance.h) of build `id`'s artifact,
 * appended to `out`: 1, or 0 when it has none (built before the runner
 * signed its builds). */
int store_artifact_provenance(struct store *s, int64_t id, struct sbuf *out);
/* Record what deployment `id` found when it checked the provenance of
 * the artifact it deploys (shown by show, the page, notifications). */
int store_job_provenance(struct store *s, int64_t id, const char *verdict);

/* Record the public key (PEM) with id `keyid` with which host `host`
 * signs provenance; once, the first time. */
int store_prov_key_add(struct store *s, const char *keyid, const char *host,
    const char *pem);
/* The public key `keyid` a host recorded, appended to `pem` (and its
 * host into *host, the caller's to free, when asked): 1, or 0 if none. */
int store_prov_key_get(struct store *s, const char *keyid, struct sbuf *pem,
    char **host);

/*
 * What is known of job `j`'s provenance, for people: a deployment's
 * check ("provenance verified: build #3, sha256 ..., key ...", "provenance
 * missing: ...", "provenance refused: ..."), a build's signed artifact
 * ("provenance signed"); nothing for a job older than the feature. 1 if
 * it appended something.
 */
int job_provenance_describe(struct sbuf *sb, const struct job *j);

/* Who caused job `j`, for people ("bob (gitolite, as gitolite3)", see
 * who_describe); nothing for a job older than the audit trail. */
void job_who_describe(struct sbuf *sb, const struct job *j);

#endif
