/*
 * runner-schema-doc: the reference tables of runner.yml and .runner.yml,
 * in markdown, generated from the schema tables the validator reads
 * (schema.h). tests/docs.sh checks that the docs hold them as printed;
 * `tests/docs.sh --write` puts them there.
 */
#include "config.h"
#include "pipeline.h"
#include "schema.h"
#include "util.h"

#include <stdio.h>

int main(void)
{
	struct sbuf out = SBUF_INIT;

	schema_doc(&config_schema, "runner.yml", &out);
	sbuf_addch(&out, '\n');
	schema_doc(&pipeline_schema, ".runner.yml", &out);
	fwrite(out.buf, 1, out.len, stdout);
	sbuf_release(&out);
	return 0;
}
