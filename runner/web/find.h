/*
 * Finding things on the web page (find.c): the filters of the overview
 * and of a repository's or branch's history, read from the query
 * (r repository, b branch, s state, p person: the pusher as the audit
 * records it; before: keyset paging by job id), each checked, a bad one
 * refused with a message that names it; the links that keep them, and
 * the form that sets them.
 */
#ifndef RUNNER_FIND_H
#define RUNNER_FIND_H

#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct job;
struct job_query;
struct sbuf;
struct store;

enum find_page { FIND_OVERVIEW, FIND_REPO, FIND_BRANCH };

struct find {
	enum find_page page;
	const char *r, *b, *s, *p;	/* as given; NULL: none (nor empty) */
	char *repo;		/* r's path in the store */
	char *ref;		/* b as a ref: refs/heads/b */
	int64_t before;		/* 0: the newest */
};

/* Reads and checks page `page`'s query into *f. ERR_INVALID (400) for a
 * parameter the page does not take or a value it cannot be, ERR_NOTFOUND
 * for a repository the store does not know; the message names the
 * parameter. find_release() frees *f in any case. */
int find_parse(struct MHD_Connection *c, struct store *st,
    enum find_page page, struct find *f);
void find_release(struct find *f);
/* f as a query of the store (q's strings are f's). */
void find_query(const struct find *f, struct job_query *q);
/* Does job j pass f's filters (all but `before`)? */
int find_match(const struct find *f, const struct job *j);
/* Any filter set (not counting the page's own r and b)? */
int find_any(const struct find *f);
/* The page's URL with f's filters and `before` (0: none), escaped for an
 * HTML attribute. */
void find_url(struct sbuf *sb, const struct find *f, int64_t before);
/* The form that sets the filters (the repositories to choose from read
 * from `st`). */
void find_form(struct sbuf *sb, struct store *st, const struct find *f);
/* The links under a page of `n` jobs (`v`, newest first) when `limit`
 * were asked for: older ones, and the newest again. */
void find_pager(struct sbuf *sb, const struct find *f, struct job *const *v,
    size_t n, int limit);

/* A query parameter escaped for a URL. */
void url_param(struct sbuf *sb, const char *s);

#endif
