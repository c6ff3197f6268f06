/*
 * runner-doc: documents generated from the tables the runner itself
 * reads, so that they cannot drift from it.
 *   runner-doc                 the reference tables of runner.yml and
 *                              .runner.yml in markdown (tests/docs.sh
 *                              checks docs/ holds them as printed)
 *   runner-doc man5 NAME VERSION
 *                              runner.yml(5) or runner-pipeline(5)
 *   runner-doc sample          the commented runner.yml `runner init`
 *                              writes (installed under share/doc)
 * runner(1) is made from the commands' own --help by runner.1.sh.
 */
#include "config.h"
#include "pipeline.h"
#include "schema.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static int man5(const char *name, const char *version, struct sbuf *out)
{
	int cfg = !strcmp(name, "runner.yml");

	if (!cfg && strcmp(name, "runner-pipeline"))
		return -1;
	sbuf_addf(out, ".TH %s 5 \"\" \"runner %s\" \"runner manual\"\n",
	    cfg ? "RUNNER.YML" : "RUNNER-PIPELINE", version);
	sbuf_adds(out, ".SH NAME\n");
	if (cfg)
		sbuf_adds(out, "runner.yml \\- configuration of the runner "
		    "daemon\n.SH SYNOPSIS\n.I HOME\\fB/runner.yml\\fR\n"
		    ".SH DESCRIPTION\nThe daemon's own configuration, in its "
		    "home (\\fBrunner init\\fR writes a commented one; the "
		    "daemon reads it again when it changes, and on SIGHUP). "
		    "Nothing in it comes from a repository: what repositories "
		    "may do, their secrets, the users that run their code and "
		    "what an environment's commands may use are decided here. "
		    "\\fBrunner doctor\\fR "
		    "checks it; an error names the file, line and key.\n"
		    "Durations are numbers with ms, s, m, h or d (\\fB90s\\fR, "
		    "\\fB30d\\fR); sizes numbers with K, M or G.\n"
		    ".SH KEYS\n");
	else
		sbuf_adds(out, "runner-pipeline \\- the pipeline of a "
		    "repository, .runner.yml\n.SH SYNOPSIS\n"
		    ".B .runner.yml\nat the top of the pushed commit\n"
		    ".SH DESCRIPTION\nThe stages a push runs, their artifacts, "
		    "and the environments a passed build deploys to, read from "
		    "the pushed commit itself. It is untrusted: it can only "
		    "narrow what runner.yml(5) allows. \\fBrunner check\\fR "
		    "validates it; an error names the file, line, column and "
		    "key.\n.SH KEYS\n");
	schema_man(cfg ? &config_schema : &pipeline_schema, cfg ?
	    "runner.yml" : ".runner.yml", out);
	sbuf_addf(out, ".SH SEE ALSO\n.BR runner (1), %s\n.PP\nThe "
	    "documentation under share/doc/runner: configuration.md, "
	    "pipeline.md, notify.md, operations.md.\n", cfg ?
	    ".BR runner-pipeline (5)" : ".BR runner.yml (5)");
	return 0;
}

int main(int argc, char **argv)
{
	struct sbuf out = SBUF_INIT;

	if (argc == 4 && !strcmp(argv[1], "man5")) {
		if (man5(argv[2], argv[3], &out) < 0) {
			fprintf(stderr, "runner-doc: no man page '%s'\n", argv[2]);
			return 2;
		}
	} else if (argc == 2 && !strcmp(argv[1], "sample")) {
		config_sample(&out);
	} else if (argc == 1) {
		schema_doc(&config_schema, "runner.yml", &out);
		sbuf_addch(&out, '\n');
		schema_doc(&pipeline_schema, ".runner.yml", &out);
	} else {
		fprintf(stderr, "usage: runner-doc [man5 NAME VERSION | "
		    "sample]\n");
		return 2;
	}
	fwrite(out.buf, 1, out.len, stdout);
	sbuf_release(&out);
	return 0;
}
