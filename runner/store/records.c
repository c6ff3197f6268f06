/*
 * The JSON shapes of the store's records, kept in one place so that
 * `status`, `show` and the notifications print the same object for a job.
 */
#include "records.h"
#include "json.h"
#include "store.h"
#include "util.h"

#include <string.h>

static void json_ms(struct sbuf *sb, int64_t v)
{
	if (v)
		sbuf_addf(sb, "%lld", (long long)v);
	else
		sbuf_adds(sb, "null");
}

void json_job(struct sbuf *sb, const struct job *j)
{
	sbuf_addf(sb, "{\"id\":%lld,\"kind\":", (long long)j->id);
	json_str(sb, j->kind);
	sbuf_adds(sb, ",\"repo\":");
	json_str(sb, j->repo);
	sbuf_adds(sb, ",\"ref\":");
	json_str(sb, j->ref);
	sbuf_adds(sb, ",\"commit\":");
	json_str(sb, j->commit);
	sbuf_adds(sb, ",\"subject\":");
	json_str(sb, j->subject);
	sbuf_adds(sb, ",\"state\":");
	json_str(sb, j->state);
	sbuf_adds(sb, ",\"error\":");
	json_str(sb, j->error);
	sbuf_addf(sb, ",\"attempt\":%d,\"retry_of\":", j->attempt);
	json_ms(sb, j->retry_of);
	sbuf_adds(sb, ",\"created_ms\":");
	json_ms(sb, j->created_ms);
	sbuf_adds(sb, ",\"started_ms\":");
	json_ms(sb, j->started_ms);
	sbuf_adds(sb, ",\"finished_ms\":");
	json_ms(sb, j->finished_ms);
	sbuf_adds(sb, ",\"stages\":[");
	for (size_t i = 0; i < j->nstages; i++) {
		const struct stage_rec *s = &j->stages[i];
		sbuf_adds(sb, i ? ",{\"name\":" : "{\"name\":");
		json_str(sb, s->name);
		sbuf_adds(sb, ",\"state\":");
		json_str(sb, s->state);
		sbuf_adds(sb, ",\"exit_code\":");
		if (s->exit_code >= 0)
			sbuf_addf(sb, "%d", s->exit_code);
		else
			sbuf_adds(sb, "null");
		sbuf_adds(sb, ",\"duration_ms\":");
		if (s->started_ms)
			sbuf_addf(sb, "%lld", (long long)((s->finished_ms ?
			    s->finished_ms : now_ms()) - s->started_ms));
		else
			sbuf_adds(sb, "null");
		sbuf_adds(sb, ",\"error\":");
		json_str(sb, s->error);
		sbuf_adds(sb, ",\"log\":");
		json_str(sb, s->log_path);
		sbuf_addch(sb, '}');
	}
	sbuf_adds(sb, "],\"artifacts\":[");
	for (size_t i = 0; i < j->nartifacts; i++) {
		const struct artifact_rec *a = &j->artifacts[i];
		sbuf_adds(sb, i ? ",{\"path\":" : "{\"path\":");
		json_str(sb, a->path);
		sbuf_addf(sb, ",\"size\":%lld,\"files\":%lld,\"sha256\":",
		    (long long)a->size, (long long)a->files);
		json_str(sb, a->sha256);
		sbuf_addch(sb, '}');
	}
	sbuf_adds(sb, "]");
	if (j->kind && !strcmp(j->kind, "deploy")) {
		sbuf_adds(sb, ",\"env\":");
		json_str(sb, j->env);
		sbuf_adds(sb, ",\"tag\":");
		json_str(sb, j->tag);
		sbuf_adds(sb, ",\"tag_object\":");
		json_str(sb, j->tag_object);
		sbuf_adds(sb, ",\"job\":");
		json_ms(sb, j->source_job);
		sbuf_adds(sb, ",\"previous_release\":");
		json_ms(sb, j->previous);
		sbuf_adds(sb, ",\"release_dir\":");
		json_str(sb, j->release_dir);
		sbuf_adds(sb, ",\"forced_by\":");
		json_str(sb, j->forced_by);
		sbuf_adds(sb, ",\"notes\":");
		json_str(sb, j->notes);
		sbuf_adds(sb, ",\"verify\":");
		/* figures are JSON the runner wrote itself */
		sbuf_adds(sb, j->figures ? j->figures : "null");
		sbuf_adds(sb, ",\"checks\":");
		json_checks(sb, j);
	}
	sbuf_addch(sb, '}');
}

void json_checks(struct sbuf *sb, const struct job *j)
{
	sbuf_addch(sb, '[');
	for (size_t i = 0; i < j->nchecks; i++) {
		const struct check_rec *c = &j->checks[i];
		sbuf_adds(sb, i ? ",{\"name\":" : "{\"name\":");
		json_str(sb, c->name);
		sbuf_addf(sb, ",\"status\":%d,\"latency_ms\":%lld,\"ok\":%s,"
		    "\"error\":", c->status, (long long)c->latency_ms,
		    c->ok ? "true" : "false");
		json_str(sb, c->error);
		sbuf_addch(sb, '}');
	}
	sbuf_addch(sb, ']');
}

void json_notification(struct sbuf *sb, const struct notification *x)
{
	sbuf_addf(sb, "{\"id\":%lld,\"event_id\":%lld,\"job\":%lld,"
	    "\"target\":", (long long)x->id, (long long)x->event_id,
	    (long long)x->job_id);
	json_str(sb, x->target);
	sbuf_adds(sb, ",\"service\":");
	json_str(sb, x->service);
	sbuf_adds(sb, ",\"event\":");
	json_str(sb, x->event);
	sbuf_adds(sb, ",\"action\":");
	json_str(sb, x->action);
	sbuf_adds(sb, ",\"state\":");
	json_str(sb, x->state);
	sbuf_addf(sb, ",\"attempts\":%d,\"status\":", x->attempts);
	if (x->status)
		sbuf_addf(sb, "%d", x->status);
	else
		sbuf_adds(sb, "null");
	sbuf_adds(sb, ",\"error\":");
	json_str(sb, x->error);
	sbuf_adds(sb, ",\"created_ms\":");
	json_ms(sb, x->created_ms);
	sbuf_adds(sb, ",\"next_ms\":");
	json_ms(sb, strcmp(x->state, "pending") ? 0 : x->next_ms);
	sbuf_adds(sb, ",\"done_ms\":");
	json_ms(sb, x->done_ms);
	sbuf_addch(sb, '}');
}
