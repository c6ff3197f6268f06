/*
 * Actions on the web page (actions.c): retry, cancel, run with variables,
 * deploy, rollback, pause and resume, for the people runner.yml's
 * http: operators names, authenticated by the reverse proxy of
 * http: auth (auth.h). Without auth the page stays read-only. The
 * forms the pages show are page.h's actions_job(), actions_env() and
 * actions_queue().
 */
#ifndef RUNNER_ACTIONS_H
#define RUNNER_ACTIONS_H

#include <microhttpd.h>
#include <stddef.h>

/* A POST: an action, or 405 when the page is read-only. Called by
 * libmicrohttpd as its handler is, for the body in pieces. */
enum MHD_Result actions_post(struct MHD_Connection *c, const char *url,
    const char *upload, size_t *upload_size, void **con_cls);
/* libmicrohttpd's word that a request ended (MHD_OPTION_NOTIFY_COMPLETED):
 * what actions_post kept for it is freed. */
void actions_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe);

#endif
