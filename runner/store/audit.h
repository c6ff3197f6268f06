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

#include <stdint.h>

struct store;
struct job;
struct sbuf;

/* Record `signer` (tagsig.h's tag_info.signer: principal or user id,
 * and the key) as the signer of release job `id`'s tag. */
int store_job_signer(struct store *s, int64_t id, const char *signer);

/* Who caused job `j`, for people ("bob (gitolite, as gitolite3)", see
 * who_describe); nothing for a job older than the audit trail. */
void job_who_describe(struct sbuf *sb, const struct job *j);

#endif
