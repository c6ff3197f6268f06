/*
 * The JSON shapes of the store's records, kept in one place so that
 * `status`, `show`, `releases` and the notifications print the same
 * object for a job.
 */
#include "records.h"
#include "json.h"
#include "envs.h"
#include "outbox.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void json_job(struct json *w, const char *key, const struct job *j)
{
	json_obj(w, key);
	json_job_members(w, j);
	json_end(w);
}

void json_job_members(struct json *w, const struct job *j)
{
	char *repo_name = j->repo ? repo_short_name(j->repo) : NULL;

	json_int(w, "id", j->id);
	json_string(w, "kind", job_kind_name(j->kind));
	json_string(w, "repo", j->repo);
	json_string(w, "repo_name", repo_name);
	free(repo_name);
	json_string(w, "ref", j->ref);
	json_string(w, "branch", job_branch(j));
	json_string(w, "commit", j->commit);
	json_string(w, "subject", j->subject);
	json_string(w, "state", job_state_name(j->state));
	json_string(w, "error", j->error);
	json_int(w, "attempt", j->attempt);
	json_string(w, "host", j->host);
	json_csv(w, "needs", j->needs);
	json_id(w, "retry_of", j->retry_of);
	json_string(w, "requested_by", j->requested_by);
	/* who caused it (who.h): the unix user the kernel reported, and
	 * the name, way and key the transport claimed beside it */
	json_string(w, "pushed_by", j->pushed_by);
	json_string(w, "pushed_via", j->pushed_via);
	json_string(w, "pushed_as", j->pushed_as);
	json_string(w, "pushed_key", j->pushed_key);
	json_string(w, "canceled_by", j->canceled_by);
	json_obj(w, "variables");
	for (const char *v = j->variables, *nl; v && *v; v = nl + 1) {
		const char *eq = strchr(v, '=');
		nl = strchr(v, '\n');
		if (!nl)
			nl = v + strlen(v) - 1;
		if (eq && eq < nl) {
			char *name = xstrndup(v, (size_t)(eq - v));
			char *val = xstrndup(eq + 1, (size_t)(nl - eq - 1) +
			    (*nl != '\n'));
			json_string(w, name, val);
			free(name);
			free(val);
		}
	}
	json_end(w);
	json_string(w, "phase", j->state == JOB_RUNNING ? j->phase : NULL);
	json_id(w, "created_ms", j->created_ms);
	json_id(w, "started_ms", j->started_ms);
	json_id(w, "finished_ms", j->finished_ms);
	json_arr(w, "stages");
	for (size_t i = 0; i < j->nstages; i++) {
		const struct stage_rec *s = &j->stages[i];
		json_obj(w, NULL);
		json_string(w, "name", s->name);
		json_string(w, "state", step_state_name(s->state));
		if (s->exit_code >= 0)
			json_int(w, "exit_code", s->exit_code);
		else
			json_null(w, "exit_code");
		if (s->started_ms)
			json_int(w, "duration_ms", (s->finished_ms ?
			    s->finished_ms : now_ms()) - s->started_ms);
		else
			json_null(w, "duration_ms");
		json_string(w, "error", s->error);
		json_string(w, "log", s->log_path);
		json_end(w);
	}
	json_end(w);
	json_arr(w, "artifacts");
	for (size_t i = 0; i < j->nartifacts; i++) {
		const struct artifact_rec *a = &j->artifacts[i];
		json_obj(w, NULL);
		json_string(w, "path", a->path);
		json_int(w, "size", a->size);
		json_int(w, "files", a->files);
		json_string(w, "sha256", a->sha256);
		json_bool(w, "provenance", a->provenance);
		json_end(w);
	}
	json_end(w);
	if (j->kind == KIND_DEPLOY) {
		json_string(w, "env", j->env);
		json_string(w, "tag", j->tag);
		json_string(w, "tag_object", j->tag_object);
		json_string(w, "signer", j->signer);
		json_string(w, "provenance", j->provenance);
		json_id(w, "job", j->source_job);
		json_id(w, "previous_release", j->previous);
		json_string(w, "release_dir", j->release_dir);
		json_string(w, "forced_by", j->forced_by);
		json_string(w, "notes", j->notes);
		/* figures are JSON the runner wrote itself */
		json_raw(w, "verify", j->figures);
		json_checks(w, "checks", j);
	}
}

void json_checks(struct json *w, const char *key, const struct job *j)
{
	json_arr(w, key);
	for (size_t i = 0; i < j->nchecks; i++) {
		const struct check_rec *c = &j->checks[i];
		json_obj(w, NULL);
		json_string(w, "name", c->name);
		json_int(w, "status", c->status);
		json_int(w, "latency_ms", c->latency_ms);
		json_bool(w, "ok", c->ok);
		json_string(w, "error", c->error);
		/* a failed http check: the start of the body it got */
		json_string(w, "body", c->body);
		json_end(w);
	}
	json_end(w);
}

void json_notification(struct json *w, const char *key,
    const struct notification *x)
{
	json_obj(w, key);
	json_int(w, "id", x->id);
	json_int(w, "event_id", x->event_id);
	json_int(w, "job", x->job_id);
	json_string(w, "target", x->target);
	json_string(w, "service", x->service);
	json_string(w, "event", x->event);
	json_string(w, "action", x->action);
	json_string(w, "state", notif_state_name(x->state));
	json_int(w, "attempts", x->attempts);
	json_id(w, "status", x->status);
	json_string(w, "error", x->error);
	json_id(w, "created_ms", x->created_ms);
	json_id(w, "next_ms", x->state == NOTIF_PENDING ? x->next_ms : 0);
	json_id(w, "done_ms", x->done_ms);
	json_end(w);
}
