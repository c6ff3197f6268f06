/*
 * The web page: a read-only HTTP server of its own process (runner-web),
 * which the daemon starts when runner.yml says http: listen.
 *   /                       the overview (what runner status shows)
 *   /job/ID                 a job; /job/ID/log/N a stage's log (its end,
 *                           followed live while it runs: /events, SSE;
 *                           /raw the whole file); /job/ID/artifact
 *   /repo?r=R  /branch?r=R&b=B  /env?r=R&e=E   history, environments
 *   /badge.svg?r=R&b=B | &e=E    badges
 *   /api/status  /api/job/ID     the JSON of status --json, show --json
 *   /metrics                     Prometheus text format
 */
#ifndef RUNNER_WEB_H
#define RUNNER_WEB_H

struct config;

/* Serve `home` on `listen` (HOST:PORT) until SIGTERM or SIGINT, to anyone
 * but repository code (the users of `conf`, runner.yml as the caller
 * loaded it, which the page loads again when the file changes; peer.h). */
int web_serve(const char *home, const struct config *conf,
    const char *listen);

#endif
