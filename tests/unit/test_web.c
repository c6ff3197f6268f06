/* Unit tests of the web page's rendering (page.c): escaping, ANSI colours
 * across chunks of a live log, badges. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "page.h"
#include "find.h"
#include "util.h"

/* `in` rendered in chunks of `step` bytes, as a live log arrives. */
static char *render(const char *in, size_t step)
{
	struct ansi a = ANSI_INIT;
	struct sbuf out = SBUF_INIT;
	size_t len = strlen(in);

	for (size_t i = 0; i < len; i += step)
		ansi_html(&a, in + i, len - i < step ? len - i : step, &out);
	return sbuf_detach(&out);
}

static void test_escaping(void **state)
{
	struct sbuf sb = SBUF_INIT;

	(void)state;
	html(&sb, "<script>alert('x')</script> & \"q\"");
	assert_string_equal(sb.buf, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script"
	    "&gt; &amp; &quot;q&quot;");
	sbuf_reset(&sb);
	/* a subject whose right-to-left override would show "txt.exe" as
	 * "exe.txt"; other non-ASCII text stays as it is */
	html(&sb, "caf\xc3\xa9 \xe2\x80\xaetxt.exe\xe2\x81\xa6");
	assert_string_equal(sb.buf, "caf\xc3\xa9 \\u{202e}txt.exe\\u{2066}");
	sbuf_reset(&sb);
	url_param(&sb, "a/zlib&b=1 x'<");
	assert_string_equal(sb.buf, "a/zlib%26b%3D1%20x%27%3C");
	sbuf_release(&sb);
}

static void test_ansi_colours(void **state)
{
	const char *in = "plain \033[1;31mred bold\033[0m <b>\r\n"
	    "\033[32mgreen\033[39m done \033[2Kcleared\n";
	const char *want = "plain <span class='b f1'>red bold</span> &lt;b&gt;"
	    "\n<span class=' f2'>green</span> done cleared\n";

	(void)state;
	/* whole, and cut anywhere (inside escapes too): the same */
	for (size_t step = 1; step <= strlen(in); step++) {
		char *got = render(in, step);
		/* a chunk closes its spans and the next reopens them */
		struct sbuf norm = SBUF_INIT;
		for (const char *p = got; *p; p++) {
			if (!strncmp(p, "</span><span class='b f1'>", 26)) {
				p += 25;
				continue;
			}
			if (!strncmp(p, "</span><span class=' f2'>", 25)) {
				p += 24;
				continue;
			}
			sbuf_addch(&norm, *p);
		}
		if (strcmp(norm.buf, want))
			fail_msg("step %zu: %s", step, got);
		sbuf_release(&norm);
		free(got);
	}
}

static void test_badge(void **state)
{
	struct sbuf sb = SBUF_INIT;

	(void)state;
	badge_svg(&sb, "develop", "passed");
	assert_non_null(strstr(sb.buf, "<svg xmlns='http://www.w3.org/2000/svg'"));
	assert_non_null(strstr(sb.buf, "<title>develop: passed</title>"));
	assert_non_null(strstr(sb.buf, "#2e7d32"));
	sbuf_reset(&sb);
	badge_svg(&sb, "a<b", "failed");
	assert_null(strstr(sb.buf, "a<b"));
	assert_non_null(strstr(sb.buf, "#c62828"));
	sbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_ansi_colours),
		cmocka_unit_test(test_badge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
