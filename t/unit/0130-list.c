/* 0130-list.c: allow/block lists: validation, options, lookup, scale. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "list.h"
#include "tap.h"

/* Parse text as file "allow" (or "block" without options). */
static int
parse(struct list *l, const char *text, int opts, struct fed_err *e)
{
	return list_parse(l, opts ? "allow" : "block", text, strlen(text),
	    opts, e);
}

/* A list that must fail with exactly `want`. */
static void
bad(const char *text, int opts, const char *want)
{
	struct list l;
	struct fed_err e = { "" };
	int rc = parse(&l, text, opts, &e);

	ok(rc == -1, "refused: %s", want);
	is_str(e.msg, want, "message for %s", tap_esc(text));
	ok(l.n == 0 && l.v == NULL && l.arena == NULL, "left empty");
	list_free(&l);
}

/* domain_normalize on one name: the result, or "ERR: message". */
static const char *
norm(const char *in, int suffix)
{
	static char out[DOMAIN_MAX + 64 + 2];
	struct fed_err e;

	if (domain_normalize(in, strlen(in), suffix, out, DOMAIN_MAX + 2,
	    &e) == -1)
		snprintf(out, sizeof out, "ERR: %.*s", DOMAIN_MAX, e.msg);
	return out;
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
test_normalize(void)
{
	char *l63 = repeat('a', 63), *l64 = repeat('a', 64), name[400];

	is_str(norm("Example.COM", 0), "example.com", "lowercased");
	is_str(norm("example.com.", 0), "example.com", "trailing dot dropped");
	is_str(norm(".Example.com.", 1), ".example.com", "suffix form kept");
	is_str(norm("localhost", 0), "localhost", "one label");
	is_str(norm("xn--bcher-kva.example", 0), "xn--bcher-kva.example",
	    "punycode");
	is_str(norm("3com.com", 0), "3com.com", "label starting with a digit");
	is_str(norm("", 0), "ERR: empty name", "empty");
	is_str(norm(".", 1), "ERR: \".\": empty name", "just a dot");
	is_str(norm("a..b", 0),
	    "ERR: \"a..b\": empty label (two dots in a row)", "a..b");
	is_str(norm("..a", 1),
	    "ERR: \"..a\": empty label (two dots in a row)", "..a suffix");
	is_str(norm("a.b..", 0),
	    "ERR: \"a.b..\": empty label (two dots in a row)", "two trailing");
	is_str(norm(".a.com", 0), "ERR: \".a.com\": a leading dot (the "
	    ".suffix form) is not allowed here", "suffix refused");
	is_str(norm("b\xc3\xbc" "cher.example", 0), "ERR: \"b\\xc3...\": "
	    "non-ASCII name: write it in punycode (xn--...)", "non-ASCII");
	is_str(norm("exa_mple.com", 0), "ERR: \"exa_...\": invalid "
	    "character \"_\" (a name has only letters, digits, hyphens and "
	    "dots)", "underscore");
	is_str(norm("a b", 0), "ERR: \"a ...\": invalid character \" \" (a "
	    "name has only letters, digits, hyphens and dots)", "space");
	is_str(norm("-a.com", 0),
	    "ERR: \"-a.com\": label \"-a\" starts with a hyphen", "-a");
	is_str(norm("a-.com", 0),
	    "ERR: \"a-.com\": label \"a-\" ends with a hyphen", "a-");
	is_str(norm("a.-", 0),
	    "ERR: \"a.-\": label \"-\" starts with a hyphen", "lone hyphen");

	snprintf(name, sizeof name, "%s.com", l63);
	is_str(norm(name, 0), name, "63-character label");
	snprintf(name, sizeof name, "%s.com", l64);
	ok(strstr(norm(name, 0), "is 64 characters long (at most 63)") != NULL,
	    "64-character label: %s", norm(name, 0));
	/* 63+1+63+1+63+1+61 = 253, then 254. */
	snprintf(name, sizeof name, "%s.%s.%s.%.61s", l63, l63, l63, l63);
	is_long((long)strlen(norm(name, 0)), 253, "253-character name");
	snprintf(name, sizeof name, "%s.%s.%s.%.61s.", l63, l63, l63, l63);
	is_long((long)strlen(norm(name, 0)), 253, "253 and a trailing dot");
	snprintf(name, sizeof name, ".%s.%s.%s.%.61s", l63, l63, l63, l63);
	is_long((long)strlen(norm(name, 1)), 254, ".suffix of 253");
	snprintf(name, sizeof name, "%s.%s.%s.%.62s", l63, l63, l63, l63);
	ok(strstr(norm(name, 0), "name is 254 characters long (at most 253)")
	    != NULL, "254-character name refused");
	free(l63);
	free(l64);

	ok(domain_match("contoso.com", "contoso.com"), "exact matches");
	ok(!domain_match("contoso.com", "a.contoso.com"), "exact: no subs");
	ok(domain_match(".contoso.com", "contoso.com"), ".suffix: itself");
	ok(domain_match(".contoso.com", "a.b.contoso.com"), ".suffix: subs");
	ok(!domain_match(".contoso.com", "xcontoso.com"), "label boundary");
	ok(!domain_match(".contoso.com", "com"), "shorter never");
	ok(domain_match(".COM", "a.com"), "case-insensitive");
}

static void
test_parse(void)
{
	struct list l;
	struct fed_err e = { "" };
	const struct list_entry *x;
	const char *text =
	    "\xef\xbb\xbf# partners\n"
	    "\n"
	    "   \t\n"
	    "Contoso.COM.  edge=SIP.Contoso.com rate=50 # big one\n"
	    ".fabrikam.com\tmax_uris=unlimited\trate=unlimited\r\n"
	    "  tailspin.example max_uris=5000\n"
	    "# the end\n"
	    "last.example";		/* no final newline */

	if (!ok(parse(&l, text, 1, &e) == 0, "a list with every form")) {
		diag("%s", e.msg);
		return;
	}
	is_long((long)l.n, 4, "four entries");
	is_str(l.path, "allow", "the name kept for messages");
	x = list_lookup(&l, "contoso.com");
	if (ok(x != NULL, "contoso.com found")) {
		is_str(x->name, "contoso.com", "name normalized");
		is_str(x->edge, "sip.contoso.com", "edge normalized");
		is_long(x->rate, 50, "rate");
		is_long(x->max_uris, LIST_UNSET, "max_uris unset");
		is_long(x->line, 4, "line number");
	}
	x = list_lookup(&l, "im.fabrikam.com");
	if (ok(x != NULL, "subdomain of .fabrikam.com found")) {
		is_str(x->name, ".fabrikam.com", "the suffix entry");
		ok(x->edge == NULL, "no edge");
		is_long(x->rate, LIST_UNLIMITED, "rate=unlimited");
		is_long(x->max_uris, LIST_UNLIMITED, "max_uris=unlimited");
		is_long(x->line, 5, "CRLF line counted");
	}
	x = list_lookup(&l, "tailspin.example");
	ok(x != NULL && x->max_uris == 5000 && x->rate == LIST_UNSET,
	    "max_uris=5000");
	ok(list_lookup(&l, "last.example") != NULL, "last line, no newline");
	list_free(&l);

	ok(parse(&l, "", 1, &e) == 0 && l.n == 0, "empty text");
	ok(list_lookup(&l, "a.com") == NULL, "nothing in an empty list");
	list_free(&l);
	ok(parse(&l, "a.com\r\n.b.com\r\n", 0, &e) == 0 && l.n == 2,
	    "block list, CRLF");
	list_free(&l);
	ok(parse(&l, "a.com # rate=5 is only a comment\n", 0, &e) == 0,
	    "options in a comment are comments");
	list_free(&l);
}

static void
test_errors(void)
{
	char big[300], want[400];

	bad("ok.com\nexa_mple.com\n", 1, "allow:2: \"exa_...\": invalid "
	    "character \"_\" (a name has only letters, digits, hyphens and "
	    "dots)");
	bad("a..b\n", 1, "allow:1: \"a..b\": empty label (two dots in a row)");
	bad("m\xc3\xbcller.de\n", 1, "allow:1: \"m\\xc3...\": "
	    "non-ASCII name: write it in punycode (xn--...)");
	bad("a.com\n\nb.com\nA.com.\n", 1,
	    "allow:4: a.com is listed twice (first on line 1)");
	bad(".a.com\nb.com\n.A.COM\nb.com\n", 0,
	    "block:3: .a.com is listed twice (first on line 1)");
	bad("a.com rate=5\n", 0,
	    "block:1: option \"rate=5\": the block list takes no options");
	bad("a.com edge=x.com\n", 0,
	    "block:1: option \"edge=x.com\": the block list takes no options");
	bad("a.com speed=5\n", 1, "allow:1: unknown option \"speed=5\" (the "
	    "options are edge=, rate=, max_uris=)");
	bad("a.com b.com\n", 1, "allow:1: unexpected \"b.com\": one domain a "
	    "line, then options edge=, rate=, max_uris=");
	bad("a.com rate=0\n", 1, "allow:1: \"rate=0\": the rate must be a "
	    "whole number from 1 to 2147483647 or \"unlimited\"");
	bad("a.com rate=-1\n", 1, "allow:1: \"rate=-1\": the rate must be a "
	    "whole number from 1 to 2147483647 or \"unlimited\"");
	bad("a.com rate=5x\n", 1, "allow:1: \"rate=5x\": the rate must be a "
	    "whole number from 1 to 2147483647 or \"unlimited\"");
	bad("a.com rate=2147483648\n", 1, "allow:1: \"rate=2147483648\": the "
	    "rate must be a whole number from 1 to 2147483647 or "
	    "\"unlimited\"");
	bad("a.com rate=\n", 1, "allow:1: \"rate=\": the rate must be a "
	    "whole number from 1 to 2147483647 or \"unlimited\"");
	bad("a.com max_uris=lots\n", 1, "allow:1: \"max_uris=lots\": max_uris "
	    "must be a whole number from 1 to 2147483647 or \"unlimited\"");
	bad("a.com rate=1 rate=2\n", 1, "allow:1: rate= given twice");
	bad("a.com edge=.x.com\n", 1, "allow:1: edge=: \".x.com\": a leading "
	    "dot (the .suffix form) is not allowed here");
	bad("a.com edge=\n", 1, "allow:1: edge=: empty name");
	bad("a.com\n\x1b[2Jb.com\n", 1,
	    "allow:2: control character \\x1b in line");
	bad("a.com#x\n", 1, "allow:1: \"a.com#...\": invalid character \"#\" (a "
	    "name has only letters, digits, hyphens and dots)");
	bad(".\n", 1, "allow:1: \".\": empty name");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[100] = '.';
	big[200] = '.';
	snprintf(want, sizeof want, "allow:1: \"%.40s...\": label \"%.40s..."
	    "\" is 100 characters long (at most 63)", big, big);
	bad(big, 1, want);
}

/* The NUL test above goes through strlen: redo it with the real length. */
static void
test_nul(void)
{
	struct list l;
	struct fed_err e = { "" };
	static const char text[] = "a.com\nb\0.com\n";

	ok(list_parse(&l, "allow", text, sizeof text - 1, 1, &e) == -1,
	    "NUL inside a line refused");
	is_str(e.msg, "allow:2: control character \\x00 in line", "names it");
	list_free(&l);
}

static void
test_lookup(void)
{
	struct list l;
	struct fed_err e;
	const struct list_entry *x;

	if (!ok(parse(&l, ".example.com\n.b.c.example.com rate=7\n"
	    "a.b.c.example.com rate=9\nexample.org\n.org.uk\n", 1, &e) == 0,
	    "lookup list"))
		return;
	x = list_lookup(&l, "a.b.c.example.com");
	ok(x && strcmp(x->name, "a.b.c.example.com") == 0, "exact wins");
	x = list_lookup(&l, "z.a.b.c.example.com");
	ok(x && strcmp(x->name, ".b.c.example.com") == 0,
	    "longest suffix under an exact entry");
	x = list_lookup(&l, "b.c.example.com");
	ok(x && strcmp(x->name, ".b.c.example.com") == 0,
	    ".suffix matches the domain itself");
	x = list_lookup(&l, "c.example.com");
	ok(x && strcmp(x->name, ".example.com") == 0, "shorter suffix");
	x = list_lookup(&l, "example.com");
	ok(x && strcmp(x->name, ".example.com") == 0, "the suffix's own name");
	x = list_lookup(&l, "EXAMPLE.Org.");
	ok(x && strcmp(x->name, "example.org") == 0, "case and trailing dot");
	ok(list_lookup(&l, "www.example.org") == NULL, "exact: no subdomain");
	ok(list_lookup(&l, "xexample.com") == NULL, "label boundary");
	ok(list_lookup(&l, "com") == NULL, "parent of a suffix: no");
	ok(list_lookup(&l, "a.b.org.uk") != NULL, "two-label suffix");
	ok(list_lookup(&l, "") == NULL, "empty name");
	ok(list_lookup(&l, ".") == NULL, "root");
	list_free(&l);
}

static void
test_load(void)
{
	char dir[200], path[256];
	struct list l;
	struct fed_err e = { "" };
	FILE *f;

	if (!ok(tap_tmpdir(dir, sizeof dir, "fedkit-0130") != NULL,
	    "scratch directory"))
		return;
	snprintf(path, sizeof path, "%s/allow", dir);
	ok(list_load(&l, path, 1, &e) == 0 && l.n == 0,
	    "missing file: empty list");
	is_str(l.path, path, "path kept");
	list_free(&l);
	f = fopen(path, "w");
	fputs("# test\n.contoso.com edge=edge.contoso.com\nfabrikam.com\n", f);
	fclose(f);
	ok(list_load(&l, path, 1, &e) == 0 && l.n == 2, "file loaded");
	ok(list_lookup(&l, "sip.contoso.com") != NULL, "lookup after load");
	list_free(&l);
	ok(list_load(&l, path, 0, &e) == -1, "options refused on block");
	ok(strncmp(e.msg, path, strlen(path)) == 0 &&
	    strstr(e.msg, ":2: option") != NULL, "path:line: %s", e.msg);
	list_free(&l);
	ok(list_load(&l, dir, 1, &e) == -1, "a directory is an error");
	ok(strstr(e.msg, ": Is a directory") != NULL, "%s", e.msg);
	list_free(&l);
	unlink(path);
	rmdir(dir);
}

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A million entries, in a scrambled order, one of ten a .suffix entry. */
static void
test_million(void)
{
	enum { N = 1000000 };
	size_t cap = (size_t)N * 40, len = 0, i, bad_hits = 0;
	char *text = malloc(cap), name[64];
	struct list l;
	struct fed_err e;
	double t0, t1, t2, c0, c1;

	for (i = 0; i < N; i++) {
		size_t k = (i * 7919) % N;	/* 7919 is prime: a permutation */

		len += (size_t)snprintf(text + len, cap - len,
		    "%sp%zu.example%zu.com%s\n", k % 10 ? "" : ".", k, k % 97,
		    k % 3 ? "" : " rate=30");
	}
	t0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	if (!ok(list_parse(&l, "million", text, len, 1, &e) == 0,
	    "1,000,000-entry list parsed")) {
		diag("%s", e.msg);
		free(text);
		return;
	}
	t1 = clock_s(CLOCK_MONOTONIC);
	c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	is_long((long)l.n, N, "every entry");
	for (i = 0; i < N; i += 7) {
		const struct list_entry *x;

		snprintf(name, sizeof name, "%sp%zu.example%zu.com",
		    i % 10 ? "" : "sub.", i, i % 97);
		x = list_lookup(&l, name);
		if (x == NULL || strcmp(x->name + (i % 10 ? 0 : 1),
		    name + (i % 10 ? 0 : 4)) != 0 ||
		    x->rate != (i % 3 ? LIST_UNSET : 30))
			bad_hits++;
		snprintf(name, sizeof name, "sub.p%zu.example%zu.com", i,
		    i % 97 + 1);
		if (list_lookup(&l, name) != NULL)
			bad_hits++;
	}
	t2 = clock_s(CLOCK_MONOTONIC);
	is_long((long)bad_hits, 0, "lookups in the big list");
	diag("1M-entry list (%zu bytes): parse %.3f s (%.3f s CPU), "
	    "%d lookups %.3f s", len, t1 - t0, c1 - c0, 2 * ((N + 6) / 7),
	    t2 - t1);
	list_free(&l);
	free(text);
}

int
main(void)
{
	test_normalize();
	test_parse();
	test_errors();
	test_nul();
	test_lookup();
	test_load();
	test_million();
	return done_testing();
}
