/*
 * Inside hooks/, shared by hook.c (the post-receive path), handover.c
 * (the hook and the daemon) and ingest.c (the spool read by the daemon).
 */
#ifndef RUNNER_HOOK_INT_H
#define RUNNER_HOOK_INT_H

#include "follow.h"

#include <stdio.h>
#include <sys/types.h>

struct config;
struct hook_update;
struct who;
struct push;
struct sbuf;

/*
 * The processes that started this hook, up to LINEAGE_MAX: git
 * receive-pack and whatever started it (sshd's session, a shell, git
 * push itself). A pusher who hangs up ends that session, but git keeps
 * the hook's output open (it stops reading it), so the hook learns of it
 * by the process that started receive-pack going away.
 */
#define LINEAGE_MAX 4

struct lineage {
	pid_t pid[LINEAGE_MAX], ppid[LINEAGE_MAX];
	int n;
};

/* The lines for the hook's own output (the push's). */
struct hook_say {
	struct say say;
	FILE *msg;
	struct lineage lineage;
};

/* hook.c */
int hook_spool(const char *home, const struct push *p, size_t n,
    int sync, char **entry);
int hook_valid_ref(const char *r, size_t n);
int hook_is_hex(const char *s, size_t n);
void hook_variables_allowed(const struct config *conf, const char *repo,
    struct sbuf *vars, FILE *msg, const char *prefix);

/* handover.c */
void hook_wake(const char *home, FILE *msg);
void hook_lost_push(const char *home, FILE *msg);
int hook_hand_over(const char *home, const char *repo,
    const struct hook_update *updates, size_t n, const char *vars,
    const struct who *who, int wait, FILE *msg);
int hook_hand_to_daemon(const char *home, const char *url,
    const struct config *conf, const struct push *p, size_t np,
    int wait_for, struct hook_say *hs);
int hook_daemon_serving(const char *home);
int hook_file_line(struct say *s, const char *text);
int hook_file_gone(struct say *s);
void hook_lineage_init(struct lineage *l);

#endif
