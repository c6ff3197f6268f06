/*
 * A job described for a notification, the same in every format: a line
 * of summary, the details (stages, who pushed, the release), and the
 * tail of the failing stage's log.
 */
#include "notify.h"
#include "notify_int.h"
#include "jobs.h"
#include "audit.h"
#include "outbox.h"
#include "util.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const struct stage_rec *notify_failing_stage(const struct job *j)
{
	for (size_t i = 0; i < j->nstages; i++)
		if (j->stages[i].state == STEP_FAILED ||
		    j->stages[i].state == STEP_TIMED_OUT)
			return &j->stages[i];
	return NULL;
}

static int64_t duration_ms(const struct job *j)
{
	return j->started_ms && j->finished_ms > j->started_ms ?
	    j->finished_ms - j->started_ms : 0;
}

void notify_add_display(struct sbuf *sb, const char *s)
{
	if (s)
		sbuf_add_display(sb, s, strlen(s));
}

/*
 * One line saying what happened, for every service:
 * "store-erp develop 1a2b3c4: job #12 failed at stage 'unit' after 4s".
 * Text from the repository (names, subjects, errors) is shown escaped.
 */
void notify_summary(struct sbuf *sb, const char *kind, const struct job *j)
{
	const struct stage_rec *fs = notify_failing_stage(j);
	int deploy = j->kind == KIND_DEPLOY;

	if (!strcmp(kind, "test")) {
		sbuf_adds(sb, "test notification from runner");
		return;
	}
	repo_name_add(sb, j->repo);
	sbuf_addch(sb, ' ');
	notify_add_display(sb, deploy ? j->env : ref_short_name(j->ref));
	if (j->commit && *j->commit)
		sbuf_addf(sb, " %.7s", j->commit);
	if (deploy && j->tag) {
		sbuf_adds(sb, " (");
		notify_add_display(sb, j->tag);
		sbuf_addch(sb, ')');
	}
	sbuf_addf(sb, ": %s #%lld ", deploy ? "deployment" : "job",
	    (long long)j->id);
	if (!strcmp(kind, "job_passed") || !strcmp(kind, "job_fixed")) {
		sbuf_adds(sb, "passed in ");
		format_duration(sb, duration_ms(j));
		if (!strcmp(kind, "job_fixed"))
			sbuf_adds(sb, " (fixed)");
	} else if (!strcmp(kind, "job_failed")) {
		sbuf_adds(sb, "failed");
		if (fs) {
			sbuf_adds(sb, " at stage '");
			notify_add_display(sb, fs->name);
			sbuf_addch(sb, '\'');
		}
		sbuf_adds(sb, " after ");
		format_duration(sb, duration_ms(j));
	} else if (!strcmp(kind, "deployed")) {
		sbuf_adds(sb, "is healthy");
	} else if (!strcmp(kind, "approval_needed")) {
		sbuf_adds(sb, "is held");
		if (j->error) {
			sbuf_adds(sb, ": ");
			notify_add_display(sb, j->error);
		}
	} else {
		sbuf_adds(sb, !strcmp(kind, "job_error") ? "could not run" :
		    !strcmp(kind, "rejected") ? "was rejected" :
		    !strcmp(kind, "rolled_back") ? "failed and was rolled back" :
		    "failed");
		if (j->error) {
			sbuf_adds(sb, ": ");
			notify_add_display(sb, j->error);
		}
	}
}

/* "key: value" lines naming everything a reader needs to act. */
void notify_details(struct sbuf *sb, const struct job *j, const char *nl,
    const char *base)
{
	const struct stage_rec *fs = notify_failing_stage(j);

	sbuf_adds(sb, "repository: ");
	notify_add_display(sb, j->repo);
	sbuf_addf(sb, "%sref: ", nl);
	notify_add_display(sb, j->ref);
	sbuf_addf(sb, "%scommit: %s%s", nl, j->commit ? j->commit : "", nl);
	if (j->subject) {
		sbuf_adds(sb, "subject: ");
		notify_add_display(sb, j->subject);
		sbuf_adds(sb, nl);
	}
	sbuf_addf(sb, "%s: #%lld, %s", j->kind == KIND_DEPLOY ? "deployment" :
	    "job", (long long)j->id, job_state_name(j->state));
	if (j->env) {
		sbuf_adds(sb, " (environment ");
		notify_add_display(sb, j->env);
		sbuf_addch(sb, ')');
	}
	sbuf_adds(sb, nl);
	if (j->pushed_by || j->pushed_as) {
		sbuf_adds(sb, "by: ");
		job_who_describe(sb, j);
		sbuf_adds(sb, nl);
	}
	if (j->signer) {
		sbuf_adds(sb, "signed by: ");
		notify_add_display(sb, j->signer);
		sbuf_adds(sb, nl);
	}
	if (j->kind == KIND_DEPLOY && job_provenance_describe(sb, j))
		sbuf_adds(sb, nl);
	if (base) {
		sbuf_adds(sb, "page: ");
		notify_add_display(sb, base);
		sbuf_addf(sb, "/job/%lld%s", (long long)j->id, nl);
	}
	if (fs) {
		sbuf_adds(sb, "failing stage: ");
		notify_add_display(sb, fs->name);
		if (fs->exit_code >= 0)
			sbuf_addf(sb, " (exit code %d)", fs->exit_code);
		sbuf_adds(sb, nl);
	}
	sbuf_adds(sb, "duration: ");
	format_duration(sb, duration_ms(j));
	sbuf_adds(sb, nl);
	if (j->error) {
		sbuf_adds(sb, "error: ");
		notify_add_display(sb, j->error);
		sbuf_adds(sb, nl);
	}
}

/* The last LOG_TAIL_LINES lines of `path`, each ended by `nl`. */
void notify_log_tail(struct sbuf *sb, const char *path, const char *nl)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;
	off_t from;

	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return;
	}
	from = st.st_size > LOG_TAIL_BYTES ? st.st_size - LOG_TAIL_BYTES : 0;
	buf = xmalloc(LOG_TAIL_BYTES + 1);
	n = pread(fd, buf, LOG_TAIL_BYTES, from);
	close(fd);
	if (n <= 0) {
		free(buf);
		return;
	}
	buf[n] = '\0';
	size_t end = (size_t)n, start;
	if (end && buf[end - 1] == '\n')
		end--;
	start = end;
	for (int lines = 0; start > 0; start--)
		if (buf[start - 1] == '\n' && ++lines == LOG_TAIL_LINES)
			break;
	for (size_t p = start; p < end; ) {
		size_t len = strcspn(buf + p, "\n");
		if (p + len > end)
			len = end - p;
		/* SMTP allows 998 bytes a line */
		sbuf_add_display(sb, buf + p, len > 900 ? 900 : len);
		sbuf_adds(sb, nl);
		p += len + 1;
	}
	free(buf);
}
