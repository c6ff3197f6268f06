/*
 * Manifest lines: "TYPE DIGEST MODE SIZE CTIME PATH", TYPE f (file) or l
 * (link), DIGEST and PATH with bytes below 0x21, '%' and 0x7f written as
 * %XX so that any file name stays on one line.
 */
#include "manifest.h"
#include "util.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_escaped(struct sbuf *m, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p == '%' || *p == 0x7f)
			sbuf_addf(m, "%%%02X", *p);
		else
			sbuf_addch(m, (char)*p);
	}
}

static char *unescape(const char *s, size_t n)
{
	struct sbuf sb = SBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%2x", &v) == 1) {
			sbuf_addch(&sb, (char)v);
			i += 2;
		} else {
			sbuf_addch(&sb, s[i]);
		}
	}
	return sbuf_detach(&sb);
}

void manifest_add(struct sbuf *m, const char *rel, const struct stat *st,
    const char *digest)
{
	sbuf_addf(m, "%c ", S_ISLNK(st->st_mode) ? 'l' : 'f');
	add_escaped(m, digest);
	sbuf_addf(m, " %o %lld %lld.%09ld ", (unsigned)(st->st_mode & 07777),
	    (long long)st->st_size, (long long)st->st_ctim.tv_sec,
	    st->st_ctim.tv_nsec);
	add_escaped(m, rel);
	sbuf_addch(m, '\n');
}

size_t manifest_count(const char *manifest)
{
	size_t n = 0;

	for (const char *p = manifest; p && *p; p++)
		n += *p == '\n';
	return n;
}

static size_t tree_entries;

static int count_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	(void)st;
	tree_entries += flag == FTW_F || flag == FTW_SL || flag == FTW_SLN;
	return 0;
}

int manifest_check(const char *dir, const char *manifest, char **first)
{
	size_t listed = 0;
	int changed = 0;
	struct stat st;

	*first = NULL;
	if (lstat(dir, &st) < 0)
		return error_set(errno == ENOENT ? ERR_NOTFOUND : -1,
		    "cannot read '%s': %s", dir, strerror(errno));
	for (const char *line = manifest; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char type, *path = NULL, *full;
		unsigned mode;
		long long size, sec;
		long nsec;
		int used = 0;
		char *copy = xstrndup(line, len);

		listed++;
		if (sscanf(copy, "%c %*s %o %lld %lld.%ld %n", &type, &mode,
		    &size, &sec, &nsec, &used) < 5 || !used) {
			changed++;
		} else {
			path = unescape(copy + used, strlen(copy + used));
			full = xasprintf("%s/%s", dir, path);
			if (lstat(full, &st) < 0 ||
			    (type == 'l') != !!S_ISLNK(st.st_mode) ||
			    (unsigned)(st.st_mode & 07777) != mode ||
			    st.st_size != size || st.st_ctim.tv_sec != sec ||
			    st.st_ctim.tv_nsec != nsec) {
				if (!changed++)
					*first = xstrdup(path);
			}
			free(full);
		}
		free(path);
		free(copy);
		line += len + (nl != NULL);
	}
	tree_entries = 0;
	if (nftw(dir, count_one, 16, FTW_PHYS) < 0)
		return error_set(-1, "cannot read '%s': %s", dir, strerror(errno));
	if (tree_entries > listed) {
		if (!changed)
			*first = xstrdup("(a file that was not in the release)");
		changed += (int)(tree_entries - listed);
	}
	return changed;
}
