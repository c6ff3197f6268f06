/*
 * runner releases ENV: the releases of an environment, newest first, with
 * the one serving now marked.
 */
#include "cli.h"
#include "audit.h"
#include "envs.h"
#include "util.h"
#include "view.h"
#include "records.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner releases [--home DIR] [--repo REPO] [--json] ENV\n"
    "\n"
    "List the releases of ENV, newest first: release number (the\n"
    "deployment that made it), state, commit, branch or tag and build; '*'\n"
    "marks the one serving now. --repo names the repository when several\n"
    "have ENV: its name as 'runner status' shows it, or its path. --json prints {\"releases\":[...]} with each as\n"
    "'runner show --json' does, and \"serving\"; each release also has\n"
    "\"release_files\": intact, tampered (files changed since it was\n"
    "extracted: also shown as TAMPERED), missing or unknown; a release\n"
    "that needed approvals (runner.yml approvals) says who approved it\n"
    "(\"approvals\" in --json).\n";

int cmd_releases(int argc, char **argv)
{
	const char *repo = NULL;
	int json = 0;
	struct cli_session cs = { 0 };
	struct env_rec *e = NULL;
	struct job **v = NULL;
	struct sbuf out = SBUF_INIT;
	size_t n = 0;
	int rc;

	const struct opt opts[] = {
		OPT_STRING(0, "repo", &repo, "REPO",
		    "the repository (name or path), when more than one has "
		    "ENV"),
		OPT_BOOL(0, "json", &json, "print JSON"),
		OPT_END(),
	};

	if ((rc = cli_start_env(argc, argv, usage, opts, &repo, &cs, &e)) >= 0)
		goto out;
	rc = EXIT_FAIL;
	if (store_releases(cs.store, e->name, &v, &n) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	int64_t serving = e->current ? e->current->id : 0;
	struct json w;
	json_init(&w, &out);
	if (json) {
		json_obj(&w, NULL);
		json_string(&w, "environment", e->name);
		json_id(&w, "serving", serving);
		json_arr(&w, "releases");
	}
	for (size_t i = 0; i < n; i++) {
		const struct job *j = v[i];
		if (strcmp(j->repo, e->repo))
			continue;
		int changed;
		char *changed_first;
		const char *files = view_release_state(cs.store, j, &changed,
		    &changed_first);
		/* who approved a release that needed approvals */
		struct approval_rec *a = NULL;
		if (j->tag && store_approvals_get(cs.store, j->id, &a) < 0)
			error_clear();
		if (json) {
			/* the job's object, with what its files are now */
			json_obj(&w, NULL);
			json_job_members(&w, j);
			json_string(&w, "release_files", files);
			json_int(&w, "changed_files", changed);
			if (a)
				view_approvals_json(&w, "approvals", a);
			json_end(&w);
			approval_recs_free(a, a ? 1 : 0);
			free(changed_first);
			continue;
		}
		/* a release tag, else the branch its build was of */
		const char *from = j->tag ? j->tag : job_branch(j) ?
		    job_branch(j) : "-";
		sbuf_addf(&out, "%s #%-5lld %-11s %.7s %-10s build #%lld  ",
		    j->id == serving ? "*" : " ", (long long)j->id,
		    job_state_name(j->state), j->commit, from,
		    (long long)j->source_job);
		if (!strcmp(files, "tampered"))
			sbuf_addf(&out, "TAMPERED (%d changed) ", changed);
		else if (!strcmp(files, "missing"))
			sbuf_adds(&out, "TAMPERED (gone) ");
		if (j->subject)
			sbuf_add_display(&out, j->subject, strlen(j->subject));
		if (a) {
			sbuf_adds(&out, "  approved: ");
			sbuf_add_display(&out, a->names, strlen(a->names));
			sbuf_addf(&out, " (%lld of %lld)", (long long)a->have,
			    (long long)a->need);
		}
		sbuf_addch(&out, '\n');
		approval_recs_free(a, a ? 1 : 0);
		free(changed_first);
	}
	if (json) {
		json_end(&w);
		json_end(&w);
		sbuf_addch(&out, '\n');
	}
	fputs(out.buf, stdout);
	rc = EXIT_OK;
out:
	jobs_free(v, n);
	env_rec_free(e);
	sbuf_release(&out);
	cli_close(&cs);
	return rc;
}
