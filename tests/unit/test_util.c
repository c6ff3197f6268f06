/* Unit tests of util.c: sbuf, durations, levenshtein, display escaping,
 * files written and trees given away without following links. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "peer.h"
#include "sha1.h"
#include "sha256.h"
#include "who.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void test_sbuf(void **state)
{
	struct sbuf sb = SBUF_INIT;

	(void)state;
	assert_string_equal(sb.buf, "");
	for (int i = 0; i < 1000; i++)
		sbuf_addf(&sb, "%d,", i);
	assert_int_equal(sb.len, strlen(sb.buf));
	assert_memory_equal(sb.buf, "0,1,2,", 6);
	char *s = sbuf_detach(&sb);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.len, 0);
	free(s);
	s = sbuf_detach(&sb);	/* detaching an empty buffer gives a string */
	assert_string_equal(s, "");
	free(s);
}

static void test_duration(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(parse_duration("90", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(parse_duration("10m", &ms), 0);
	assert_int_equal(ms, 600000);
	assert_int_equal(parse_duration("1h30m", &ms), 0);
	assert_int_equal(ms, 5400000);
	assert_int_equal(parse_duration("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(parse_duration("10x", &ms), ERR_INVALID);
	assert_non_null(strstr(error_last(), "'10x'"));
	assert_int_equal(parse_duration("", &ms), ERR_INVALID);
	assert_int_equal(parse_duration("-1s", &ms), ERR_INVALID);
	/* terms that add up past what ms can hold (a pushed timeout:) */
	struct sbuf many = SBUF_INIT;
	for (int i = 0; i < 200; i++)
		sbuf_adds(&many, "1000000000d");
	assert_int_equal(parse_duration(many.buf, &ms), ERR_INVALID);
	assert_non_null(strstr(error_last(), "too long"));
	sbuf_release(&many);
}

static void count_line(char *line, void *arg)
{
	struct sbuf *sb = arg;

	sbuf_addf(sb, "[%s]", line);
}

/* each_line: a last line without a newline is a line too */
static void test_each_line(void **state)
{
	char a[] = "one\ntwo", b[] = "one\n\nthree\n", c[] = "";
	struct sbuf sb = SBUF_INIT;

	(void)state;
	each_line(a, count_line, &sb);
	assert_string_equal(sb.buf, "[one][two]");
	sbuf_reset(&sb);
	each_line(b, count_line, &sb);
	assert_string_equal(sb.buf, "[one][][three]");
	sbuf_reset(&sb);
	each_line(c, count_line, &sb);
	each_line(NULL, count_line, &sb);
	assert_string_equal(sb.buf, "");
	sbuf_release(&sb);
}

static void test_format_duration(void **state)
{
	struct sbuf sb = SBUF_INIT;

	(void)state;
	format_duration(&sb, 12);
	assert_string_equal(sb.buf, "12ms");
	sbuf_reset(&sb);
	format_duration(&sb, 12345);
	assert_string_equal(sb.buf, "12.3s");
	sbuf_reset(&sb);
	format_duration(&sb, 125000);
	assert_string_equal(sb.buf, "2m05s");
	sbuf_release(&sb);
}

static void test_levenshtein(void **state)
{
	(void)state;
	assert_int_equal(levenshtein("timeout", "timout"), 1);
	assert_int_equal(levenshtein("", "abc"), 3);
	assert_int_equal(levenshtein("same", "same"), 0);
}

static void test_display(void **state)
{
	struct sbuf sb = SBUF_INIT;
	const char in[] = "ok \033]0;title\a \xff caf\xc3\xa9 \xc2\x9b";

	(void)state;
	sbuf_add_display(&sb, in, sizeof(in) - 1);
	assert_string_equal(sb.buf,
	    "ok \\x1b]0;title\\x07 \\xff caf\xc3\xa9 \\xc2\\x9b");
	sbuf_reset(&sb);
	sbuf_add_display(&sb, "a\xe2\x80\xae" "b\xef\xbb\xbf", 8);
	assert_string_equal(sb.buf, "a\\u{202e}b\\u{feff}");
	sbuf_release(&sb);
}

static void test_files(void **state)
{
	char dir[] = "/tmp/runner-test-XXXXXX";
	struct sbuf sb = SBUF_INIT;

	(void)state;
	assert_non_null(mkdtemp(dir));
	char *deep = xasprintf("%s/a/b/c", dir);
	assert_int_equal(mkdir_p(deep, 0755), 0);
	char *f = xasprintf("%s/file", deep);
	assert_int_equal(write_file_atomic(f, "hello", 5, 0644), 0);
	assert_int_equal(read_file(f, 100, &sb), 0);
	assert_string_equal(sb.buf, "hello");
	sbuf_reset(&sb);
	assert_int_equal(read_file(f, 3, &sb), ERR_INVALID);
	char *link = xasprintf("%s/a/link", dir);
	assert_int_equal(symlink("/etc", link), 0);
	assert_int_equal(rm_rf(dir), 0);
	assert_int_not_equal(access(dir, F_OK), 0);
	assert_int_equal(access("/etc/passwd", F_OK), 0);	/* not followed */
	free(deep);
	free(f);
	free(link);
	sbuf_release(&sb);
}

/* A link planted at the name is replaced, never written through; the
 * temporary is made beside it and gone afterwards. */
static void test_write_atomic_link(void **state)
{
	char dir[] = "/tmp/runner-test-XXXXXX";
	struct sbuf sb = SBUF_INIT;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	char *victim = xasprintf("%s/victim", dir);
	char *f = xasprintf("%s/file", dir);
	assert_int_equal(write_file_atomic(victim, "keep", 4, 0600), 0);
	assert_int_equal(symlink(victim, f), 0);
	assert_int_equal(write_file_atomic(f, "new", 3, 0640), 0);
	assert_int_equal(lstat(f, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(read_file(victim, 100, &sb), 0);
	assert_string_equal(sb.buf, "keep");
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* the folder holds the two names and nothing left over */
	char *ls = xasprintf("test $(ls -A %s | wc -l) = 2", dir);
	assert_int_equal(system(ls), 0);
	/* the folder itself is not followed either */
	char *ldir = xasprintf("%s/ldir", dir), *through;
	assert_int_equal(symlink(dir, ldir), 0);
	through = xasprintf("%s/x", ldir);
	assert_int_not_equal(write_file_atomic(through, "x", 1, 0644), 0);
	/* a FIFO does not block a reader */
	char *fifo = xasprintf("%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	sbuf_reset(&sb);
	assert_int_equal(read_file(fifo, 100, &sb), 0);
	assert_int_equal(sb.len, 0);
	assert_int_equal(rm_rf(dir), 0);
	free(victim);
	free(f);
	free(ls);
	free(ldir);
	free(through);
	free(fifo);
	sbuf_release(&sb);
}

/* The order tree_walk_at reports entries in: children first. */
static int note_path(int fd, const struct stat *st, const char *path,
    void *arg)
{
	(void)fd;
	sbuf_addf(arg, "%s%s;", strrchr(path, '/') + 1,
	    S_ISDIR(st->st_mode) ? "/" : "");
	return 0;
}

/* chown_tree_at gives a tree away by descriptors: every file and folder,
 * a link itself but never what it points at, and no file with a second
 * name elsewhere. */
static void test_chown_tree(void **state)
{
	char dir[] = "/tmp/runner-test-XXXXXX";
	const uid_t uid = 4242;
	const gid_t gid = 4343;
	struct sbuf sb = SBUF_INIT;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	char *tree = xasprintf("%s/tree", dir);
	char *deep = xasprintf("%s/a/b", tree);
	char *file = xasprintf("%s/file", deep);
	char *outside = xasprintf("%s/outside", dir);
	char *lnk = xasprintf("%s/a/link", tree);
	assert_int_equal(mkdir_p(deep, 0755), 0);
	assert_int_equal(write_file_atomic(file, "x", 1, 0644), 0);
	assert_int_equal(write_file_atomic(outside, "o", 1, 0644), 0);
	assert_int_equal(symlink(outside, lnk), 0);

	/* children before their folder, the top last */
	assert_int_equal(tree_walk_at(AT_FDCWD, tree, note_path, &sb), 0);
	assert_non_null(strstr(sb.buf, "file;b/;"));
	assert_int_equal(strcmp(sb.buf + sb.len - strlen("a/;tree/;"),
	    "a/;tree/;"), 0);
	assert_non_null(strstr(sb.buf, "link;"));

	if (geteuid() != 0) {
		assert_int_equal(rm_rf(dir), 0);
		free(tree);
		free(deep);
		free(file);
		free(outside);
		free(lnk);
		sbuf_release(&sb);
		skip();
		return;		/* skip() leaves by longjmp */
	}
	assert_int_equal(chown_tree_at(AT_FDCWD, tree, uid, gid), 0);
	const char *const given[] = { tree, deep, file, lnk };
	for (size_t i = 0; i < sizeof(given) / sizeof(*given); i++) {
		assert_int_equal(lstat(given[i], &st), 0);
		assert_int_equal(st.st_uid, uid);
		assert_int_equal(st.st_gid, gid);
	}
	/* what the link points at keeps its owner */
	assert_int_equal(lstat(outside, &st), 0);
	assert_int_equal(st.st_uid, 0);

	/* a file with a second name elsewhere is refused, by name, and the
	 * walk stops there: its folder is not given */
	char *second = xasprintf("%s/a/b/second", tree);
	assert_int_equal(lchown(deep, 0, 0), 0);
	assert_int_equal(lchown(file, 0, 0), 0);
	assert_int_equal(link(outside, second), 0);
	assert_int_equal(chown_tree_at(AT_FDCWD, tree, uid, gid), -1);
	assert_non_null(strstr(error_last(), "/a/b/second' has 2 links"));
	assert_int_equal(stat(outside, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(lstat(deep, &st), 0);
	assert_int_equal(st.st_uid, 0);

	/* a link as the top is given itself, not followed */
	assert_int_equal(unlink(second), 0);
	assert_int_equal(chown_tree_at(AT_FDCWD, lnk, 0, 0), 0);
	assert_int_equal(lstat(lnk, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(chown_tree_at(AT_FDCWD, lnk, uid, gid), 0);
	assert_int_equal(lstat(lnk, &st), 0);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(lstat(outside, &st), 0);
	assert_int_equal(st.st_uid, 0);

	assert_int_equal(rm_rf(dir), 0);
	free(tree);
	free(deep);
	free(file);
	free(outside);
	free(lnk);
	free(second);
	sbuf_release(&sb);
}

/* A repository's name is the one recorded; one not recorded yet gets the
 * shortest path suffix no recorded name takes. */
static void test_repo_names(void **state)
{
	char *name;

	(void)state;
	repo_names_reset();
	name = repo_short_name("/srv/a/zlib.git");
	assert_string_equal(name, "zlib");	/* alone: its last name */
	free(name);
	repo_names_set("/srv/a/zlib.git", "zlib");
	repo_names_set("/srv/b/zlib.git", "b/zlib");
	repo_names_set("/srv/b/zlib.git", "b/zlib");	/* told twice */
	static const struct { const char *path, *name; } cases[] = {
		{ "/srv/a/zlib.git", "zlib" },		/* recorded first */
		{ "/srv/b/zlib.git", "b/zlib" },
		{ "/srv/x/b/zlib.git", "x/b/zlib" },	/* not recorded */
		{ "/srv/c/zlib.git", "c/zlib" },
		{ "/srv/git/cjson.git", "cjson" },
		{ "/srv/git/app/", "app" },
		{ "/zlib.git", "/zlib.git" },	/* no suffix left: its path */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		name = repo_short_name(cases[i].path);
		assert_string_equal(name, cases[i].name);
		free(name);
	}
	name = repo_path_suffix("/srv/b/zlib.git", 2);
	assert_string_equal(name, "b/zlib");
	free(name);
	assert_null(repo_path_suffix("/srv/b/zlib.git", 4));
	repo_names_reset();
}

static void test_labels_and_base_names(void **state)
{
	(void)state;
	assert_true(label_valid("arm64"));
	assert_true(label_valid("x86_64.linux-5"));
	assert_false(label_valid(""));
	assert_false(label_valid("Big"));
	assert_false(label_valid("-x"));
	assert_false(label_valid("a b"));
	assert_false(label_valid("a,b"));
	char *b = repo_base_name("/srv/git/zlib.git");
	assert_string_equal(b, "zlib");
	free(b);
	b = repo_base_name("/srv/git/app/");
	assert_string_equal(b, "app");
	free(b);
}

/* A connection to ourselves, looked up as the web page looks up its
 * clients: by the kernel's exact lookup, and with a wildcard listener by
 * the table. */
static void test_peer(void **state)
{
	(void)state;
	for (int wildcard = 0; wildcard < 2; wildcard++) {
		int l = socket(AF_INET, SOCK_STREAM, 0), c, s;
		struct sockaddr_in a = { .sin_family = AF_INET }, p, local;
		socklen_t n = sizeof(a);
		uid_t me = geteuid(), u, other = me + 1;
		struct peer_policy own = { NULL, 0, &me, 1 };
		struct peer_policy code = { &me, 1, NULL, 0 };
		struct peer_policy none = { &other, 1, NULL, 0 };

		a.sin_addr.s_addr = htonl(wildcard ? INADDR_ANY : INADDR_LOOPBACK);
		assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(listen(l, 1), 0);
		assert_int_equal(getsockname(l, (struct sockaddr *)&a, &n), 0);
		local = a;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		c = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
		n = sizeof(p);
		assert_true((s = accept(l, (struct sockaddr *)&p, &n)) >= 0);
		/* our own uid, held by us in our namespace: answered */
		assert_int_equal(peer_is_code((struct sockaddr *)&p,
		    (struct sockaddr *)&local, &own, &u), 0);
		assert_int_equal(u, me);
		/* a code user's: refused */
		assert_int_equal(peer_is_code((struct sockaddr *)&p,
		    (struct sockaddr *)&local, &code, &u), 1);
		/* another user's: answered */
		assert_int_equal(peer_is_code((struct sockaddr *)&p,
		    (struct sockaddr *)&local, &none, &u), 0);
		/* a port nobody on this machine uses: another machine */
		p.sin_port = htons(1);
		assert_int_equal(peer_is_code((struct sockaddr *)&p,
		    (struct sockaddr *)&local, &code, &u), 0);
		assert_int_equal(u, (uid_t)-1);
		close(s);
		close(c);
		close(l);
	}
}

static void hex(struct sbuf *sb, const unsigned char *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sbuf_addf(sb, "%02x", d[i]);
}

/* FIPS 180-4's vectors through the loaded libcrypto, and base64 both ways. */
static void test_sha256(void **state)
{
	unsigned char md[SHA256_LEN];
	struct sbuf sb = SBUF_INIT;
	char *a = xmalloc(1000000);

	(void)state;
	assert_int_equal(sha256("abc", 3, md), 0);
	hex(&sb, md, sizeof(md));
	assert_string_equal(sb.buf, "ba7816bf8f01cfea414140de5dae2223b00361a3"
	    "96177a9cb410ff61f20015ad");
	sbuf_reset(&sb);
	assert_int_equal(sha256("", 0, md), 0);
	hex(&sb, md, sizeof(md));
	assert_string_equal(sb.buf, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4"
	    "649b934ca495991b7852b855");
	sbuf_reset(&sb);
	assert_int_equal(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, md), 0);
	hex(&sb, md, sizeof(md));
	assert_string_equal(sb.buf, "248d6a61d20638b8e5c026930c3e6039a33ce459"
	    "64ff2167f6ecedd419db06c1");
	sbuf_reset(&sb);
	memset(a, 'a', 1000000);
	assert_int_equal(sha256(a, 1000000, md), 0);
	hex(&sb, md, sizeof(md));
	assert_string_equal(sb.buf, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48"
	    "a497200e046d39ccc7112cd0");
	free(a);
	sbuf_reset(&sb);

	base64_add(&sb, (const unsigned char *)"foob", 4, 0);
	assert_string_equal(sb.buf, "Zm9vYg==");
	sbuf_reset(&sb);
	base64_add(&sb, (const unsigned char *)"foob", 4, 1);
	assert_string_equal(sb.buf, "Zm9vYg");
	sbuf_reset(&sb);
	assert_int_equal(base64_decode("Zm9vYmE=", 8, &sb), 0);
	assert_string_equal(sb.buf, "fooba");
	sbuf_reset(&sb);
	assert_int_equal(base64_decode("Zm9v!mE=", 8, &sb), -1);
	assert_int_equal(sb.len, 0);
	assert_int_equal(base64_decode("Zm9vY", 5, &sb), -1);
	sbuf_release(&sb);
}

/*
 * Names are cleaned so that none passes for the words around it; ssh
 * keys are named as ssh-keygen -l names them; a spool entry's claims are
 * believed only as its owner's.
 */
static void test_who(void **state)
{
	struct who w;
	struct sbuf sb = SBUF_INIT;
	char *s;

	(void)state;
	s = who_clean("bob (gitolite, as git)\033[2J");
	assert_string_equal(s, "bob??gitolite??as?git???2J");
	free(s);
	s = who_clean("caf\xc3\xa9");
	assert_string_equal(s, "caf?");
	free(s);
	assert_null(who_clean(""));
	assert_null(who_clean(NULL));
	char longer[300];
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	s = who_clean(longer);
	assert_int_equal(strlen(s), WHO_NAME_MAX);
	free(s);
	s = who_clean_text("Alice <a@b>\n\xe2\x80\xae" "evil", 100);
	assert_string_equal(s, "Alice <a@b>??evil");
	free(s);

	s = who_key_fingerprint("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDntCjEUWo"
	    "YavUaNUvMYn9trmO/urmrFlM72rjiniQpn x");
	assert_string_equal(s, "SHA256:WTZff5bH+REWz+UwUF+x6qP2jc0GhTi06Ax7pN"
	    "tM3zU");
	assert_true(who_key_valid(s));
	free(s);
	/* the blob names another type: not a key */
	assert_null(who_key_fingerprint("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIDntCjE"
	    "UWoYavUaNUvMYn9trmO/urmrFlM72rjiniQpn"));
	assert_null(who_key_fingerprint("ssh-ed25519 !!"));
	assert_false(who_key_valid("SHA256:short"));

	/* an entry's claims: a gitolite name stays a claim beside the
	 * owner's name; "by hand" or another unix name cannot be claimed */
	who_decode("via=gitolite\nby=bob\nkey=SHA256:WTZff5bH+REWz+UwUF+x6qP2jc0G"
	    "hTi06Ax7pNtM3zU\n", 0, &w);
	assert_string_equal(w.via, "gitolite");
	assert_string_equal(w.by, "bob");
	assert_non_null(w.key);
	assert_string_equal(w.as, "root");
	who_describe(&sb, w.by, w.via, w.key, w.as);
	assert_string_equal(sb.buf, "bob (gitolite, as root, key SHA256:WTZff5bH"
	    "+REWz+UwUF+x6qP2jc0GhTi06Ax7pNtM3zU)");
	who_release(&w);
	who_decode("via=cli\nby=bob\nkey=forged\n", 0, &w);
	assert_string_equal(w.via, "unix");
	assert_string_equal(w.by, "root");
	assert_null(w.key);
	sbuf_reset(&sb);
	who_describe(&sb, w.by, w.via, w.key, w.as);
	assert_string_equal(sb.buf, "root");
	who_release(&w);
	who_decode("via=ssh\nby=bob\n", 0, &w);
	assert_string_equal(w.by, "root");
	assert_string_equal(w.via, "ssh");
	who_release(&w);
	/* an old entry: its owner's push */
	who_decode("", 0, &w);
	assert_string_equal(w.by, "root");
	assert_string_equal(w.via, "unix");
	who_release(&w);

	/* the hook: GL_USER first, then REMOTE_USER, else the unix user */
	setenv("GL_USER", "bob", 1);
	setenv("REMOTE_USER", "carol", 1);
	who_from_env(&w, 0);
	assert_string_equal(w.by, "bob");
	assert_string_equal(w.via, "gitolite");
	assert_string_equal(w.as, "root");
	sbuf_reset(&sb);
	who_encode(&w, &sb);
	assert_string_equal(sb.buf, "via=gitolite\nby=bob\n");
	who_release(&w);
	unsetenv("GL_USER");
	who_from_env(&w, 0);
	assert_string_equal(w.by, "carol");
	assert_string_equal(w.via, "http");
	who_release(&w);
	unsetenv("REMOTE_USER");
	unsetenv("SSH_CONNECTION");
	unsetenv("SSH_CLIENT");
	unsetenv("SSH_USER_AUTH");
	who_from_env(&w, 0);
	assert_string_equal(w.by, "root");
	assert_string_equal(w.via, "unix");
	who_release(&w);

	/* the key of sshd's file, when it is the pusher's own */
	char path[] = "/tmp/runner-who-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char info[] = "password\npublickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE"
	    "5AAAAIDntCjEUWoYavUaNUvMYn9trmO/urmrFlM72rjiniQpn\n";
	assert_int_equal(write_all(fd, info, sizeof(info) - 1), 0);
	close(fd);
	setenv("SSH_USER_AUTH", path, 1);
	who_from_env(&w, getuid());
	assert_string_equal(w.via, "ssh");
	assert_string_equal(w.key, "SHA256:WTZff5bH+REWz+UwUF+x6qP2jc0GhTi06Ax7"
	    "pNtM3zU");
	who_release(&w);
	/* another user's file is not believed */
	who_from_env(&w, getuid() + 1);
	assert_null(w.key);
	who_release(&w);
	unsetenv("SSH_USER_AUTH");
	unlink(path);
	sbuf_release(&sb);
}

/* SHA-1 against FIPS 180's examples, fed whole and in pieces that cross
 * the 64-byte blocks. */
static void test_sha1(void **state)
{
	static const struct { const char *in; size_t reps; const char *hex; }
	    cases[] = {
		{ "", 1, "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
		{ "abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
		    "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
		{ "a", 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f" },
		{ "0123456701234567012345670123456701234567012345670123456701234567",
		    10, "dea356a2cddd90c7a7ecedc5ebb563934f460452" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		unsigned char sum[SHA1_LEN];
		char hex[2 * SHA1_LEN + 1];
		struct sha1 c;
		sha1_init(&c);
		for (size_t r = 0; r < cases[i].reps; r++) {
			/* in two uneven pieces */
			size_t n = strlen(cases[i].in), half = n / 3;
			sha1_update(&c, cases[i].in, half);
			sha1_update(&c, cases[i].in + half, n - half);
		}
		sha1_final(&c, sum);
		for (int k = 0; k < SHA1_LEN; k++)
			snprintf(hex + 2 * k, 3, "%02x", sum[k]);
		assert_string_equal(hex, cases[i].hex);
	}
}

/* RFC 4231's test cases 1 and 2: the forms' tokens (runner/web/auth.c) */
static void test_hmac_sha256(void **state)
{
	unsigned char key[20], mac[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];

	(void)state;
	memset(key, 0x0b, sizeof(key));
	assert_int_equal(hmac_sha256(key, sizeof(key), "Hi There", 8, mac), 0);
	for (int i = 0; i < SHA256_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
	assert_int_equal(hmac_sha256("Jefe", 4, "what do ya want for nothing?",
	    28, mac), 0);
	for (int i = 0; i < SHA256_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	/* a key longer than a block is not taken */
	assert_int_equal(hmac_sha256(hex, 65, "x", 1, mac), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sbuf),
		cmocka_unit_test(test_sha1),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_each_line),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_levenshtein),
		cmocka_unit_test(test_display),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_write_atomic_link),
		cmocka_unit_test(test_chown_tree),
		cmocka_unit_test(test_repo_names),
		cmocka_unit_test(test_labels_and_base_names),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hmac_sha256),
		cmocka_unit_test(test_who),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
