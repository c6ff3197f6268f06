/*
 * Who caused a job (who.h): the kernel's unix user, the transport's
 * claims beside it, every string cleaned before it is kept.
 */
#include "who.h"
#include "sha256.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SSH_USER_AUTH lists the methods of one login: a few lines. */
#define AUTH_INFO_MAX (64 * 1024)

void who_release(struct who *w)
{
	free(w->by);
	free(w->via);
	free(w->key);
	free(w->as);
	*w = (struct who)WHO_INIT;
}

char *who_clean(const char *s)
{
	struct sbuf sb = SBUF_INIT;

	if (!s || !*s)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s;
	    *p && sb.len < WHO_NAME_MAX; p++) {
		unsigned char c = *p;
		int ok = c > 0x20 && c < 0x7f && !strchr("()[]{}<>,;:\"'`\\", c);
		/* one '?' for a whole UTF-8 character */
		if (c >= 0x80) {
			unsigned cp;
			size_t n = utf8_char_len(p, strlen((const char *)p), &cp);
			if (n > 1)
				p += n - 1;
		}
		sbuf_addch(&sb, ok ? (char)c : '?');
	}
	return sbuf_detach(&sb);
}

char *who_clean_text(const char *s, size_t max)
{
	struct sbuf sb = SBUF_INIT;
	const unsigned char *p = (const unsigned char *)s;
	size_t len = s ? strlen(s) : 0;

	if (!len)
		return NULL;
	for (size_t i = 0; i < len; ) {
		unsigned cp = 0;
		size_t n = utf8_char_len(p + i, len - i, &cp);
		int bad = n == 0 || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0) || utf8_reorders(cp);
		if (sb.len + (bad ? 1 : n) > max)
			break;
		if (bad)
			sbuf_addch(&sb, '?');
		else
			sbuf_add(&sb, p + i, n);
		i += n ? n : 1;
	}
	return sbuf_detach(&sb);
}

char *who_user_name(uid_t uid)
{
	const struct passwd *pw = getpwuid(uid);
	char *name = pw ? who_clean(pw->pw_name) : NULL;

	return name ? name : xasprintf("uid %lu", (unsigned long)uid);
}

char *who_key_fingerprint(const char *line)
{
	struct sbuf blob = SBUF_INIT, out = SBUF_INIT;
	unsigned char md[SHA256_LEN];
	size_t tlen = strcspn(line, " \t\r\n"), blen;
	const char *b = line + tlen;
	char *fp = NULL;

	b += strspn(b, " \t");
	blen = strcspn(b, " \t\r\n");
	if (!tlen || tlen > 64 || !blen || blen > 16384 ||
	    base64_decode(b, blen, &blob) < 0)
		goto out;
	/* the blob begins with the key's type, as an ssh string */
	if (blob.len < 4 + tlen || (size_t)((unsigned char)blob.buf[0] << 24 |
	    (unsigned char)blob.buf[1] << 16 | (unsigned char)blob.buf[2] << 8 |
	    (unsigned char)blob.buf[3]) != tlen || memcmp(blob.buf + 4, line,
	    tlen))
		goto out;
	if (sha256(blob.buf, blob.len, md) < 0)
		goto out;
	sbuf_adds(&out, "SHA256:");
	base64_add(&out, md, sizeof(md), 1);
	fp = sbuf_detach(&out);
out:
	sbuf_release(&blob);
	sbuf_release(&out);
	return fp;
}

int who_key_valid(const char *s)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789+/";

	/* 32 bytes are 43 characters of unpadded base64 */
	return s && !strncmp(s, "SHA256:", 7) && strlen(s + 7) == 43 &&
	    strspn(s + 7, b64) == 43;
}

/*
 * The key of the first "publickey TYPE BASE64" line of the file that
 * SSH_USER_AUTH names: sshd writes it, owned by the user it let in; a
 * link, another user's file or anything but a regular file is not read.
 */
static char *auth_info_key(const char *path, uid_t uid)
{
	struct sbuf sb = SBUF_INIT;
	struct stat st;
	char *key = NULL;
	int fd;

	if (!path || *path != '/')
		return NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == uid &&
	    st.st_size <= AUTH_INFO_MAX &&
	    read_fd(fd, path, AUTH_INFO_MAX, &sb) == 0)
		for (char *p = sb.buf, *nl; *p && !key; p = nl + 1) {
			nl = p + strcspn(p, "\n");
			int end = !*nl;
			*nl = '\0';
			if (!strncmp(p, "publickey ", 10))
				key = who_key_fingerprint(p + 10);
			if (end)
				break;
		}
	close(fd);
	sbuf_release(&sb);
	return key;
}

void who_from_env(struct who *w, uid_t uid)
{
	char *gl = who_clean(getenv("GL_USER"));
	char *http = who_clean(getenv("REMOTE_USER"));

	*w = (struct who)WHO_INIT;
	w->as = who_user_name(uid);
	w->key = auth_info_key(getenv("SSH_USER_AUTH"), uid);
	if (gl) {
		w->via = xstrdup(WHO_GITOLITE);
		w->by = gl;
		gl = NULL;
	} else if (http) {
		w->via = xstrdup(WHO_HTTP);
		w->by = http;
		http = NULL;
	} else {
		w->via = xstrdup(w->key || getenv("SSH_CONNECTION") ||
		    getenv("SSH_CLIENT") ? WHO_SSH : WHO_UNIX);
		w->by = xstrdup(w->as);
	}
	free(gl);
	free(http);
}

void who_cli(struct who *w, const char *by)
{
	*w = (struct who)WHO_INIT;
	w->as = who_user_name(getuid());
	w->via = xstrdup(WHO_CLI);
	w->by = who_clean(by);
	if (!w->by)
		w->by = xstrdup(w->as);
}

void who_encode(const struct who *w, struct sbuf *out)
{
	if (w->via)
		sbuf_addf(out, "via=%s\n", w->via);
	if (w->by)
		sbuf_addf(out, "by=%s\n", w->by);
	if (w->key)
		sbuf_addf(out, "key=%s\n", w->key);
}

void who_decode(const char *s, uid_t owner, struct who *out)
{
	char *via = NULL, *by = NULL, *key = NULL;

	*out = (struct who)WHO_INIT;
	for (const char *p = s ? s : "", *nl; *p; p = *nl ? nl + 1 : nl) {
		nl = p + strcspn(p, "\n");
		char *line = xstrndup(p, (size_t)(nl - p));
		char **to = !strncmp(line, "via=", 4) ? &via :
		    !strncmp(line, "by=", 3) ? &by :
		    !strncmp(line, "key=", 4) ? &key : NULL;
		/* a key is taken only as a fingerprint (who_key_valid) */
		if (to && !*to)
			*to = to == &key ? xstrdup(line + 4) :
			    who_clean(strchr(line, '=') + 1);
		free(line);
	}
	out->as = who_user_name(owner);
	if (key && who_key_valid(key)) {
		out->key = key;
		key = NULL;
	}
	if (via && by && (!strcmp(via, WHO_GITOLITE) ||
	    !strcmp(via, WHO_HTTP))) {
		out->via = xstrdup(via);
		out->by = by;
		by = NULL;
	} else {
		/* the rest is the owner's own name: no one else's can be
		 * claimed, nor "by hand" or a schedule */
		out->via = xstrdup(via && !strcmp(via, WHO_SSH) ? WHO_SSH :
		    WHO_UNIX);
		out->by = xstrdup(out->as);
	}
	free(via);
	free(by);
	free(key);
}

void who_describe(struct sbuf *sb, const char *by, const char *via,
    const char *key, const char *as)
{
	const char *name = by ? by : as;
	const char *label = !via || !strcmp(via, WHO_UNIX) ? NULL :
	    !strcmp(via, WHO_CLI) ? "by hand" : via;
	const char *sep = " (";

	if (!name)
		return;
	sbuf_add_display(sb, name, strlen(name));
	if (label) {
		sbuf_adds(sb, sep);
		sbuf_add_display(sb, label, strlen(label));
		sep = ", ";
	}
	if (as && strcmp(as, name)) {
		sbuf_adds(sb, sep);
		sbuf_adds(sb, "as ");
		sbuf_add_display(sb, as, strlen(as));
		sep = ", ";
	}
	if (key) {
		sbuf_adds(sb, sep);
		sbuf_adds(sb, "key ");
		sbuf_add_display(sb, key, strlen(key));
		sep = ", ";
	}
	if (strcmp(sep, " ("))
		sbuf_addch(sb, ')');
}
