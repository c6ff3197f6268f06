/*
 * Inside runner/model, shared by the files of runner.yml's schema
 * (config_schema.c, config_repos.c, config_notify.c, config_web.c): where a field's
 * value goes, and the tables and readers the top level names.
 */
#ifndef RUNNER_CONFIG_INT_H
#define RUNNER_CONFIG_INT_H

#include "schema.h"

#define FIELD(type, m) .off = offsetof(type, m)
#define COUNT(type, m) .count_off = offsetof(type, m)

/* config_repos.c */
extern const struct schema repo_schema, grant_schema, secret_schema;
sread_fn read_secrets;
/* config_notify.c */
extern const struct schema notify_schema;
sread_fn read_notify;
void free_notify(void *elem);
/* config_web.c: http: auth and operators, and their checks against the
 * rest of runner.yml */
extern const struct schema http_auth_schema, web_operator_schema;
struct config;
int config_web_check(const struct sread *r, const struct ynode *map,
    const struct config *c);

#endif
