/* 0102-fed-parse.c: fed.c's unsigned decimal parser, tab splitter, file
 * identity and size-limit message. */
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fed.h"
#include "tap.h"

/* fed_parse_u64 on a C string: its return, and the value when 0. */
static int
parse(const char *s, uint64_t max, uint64_t *v)
{
	*v = 12345;	/* left as it is on -1 */
	return fed_parse_u64(s, strlen(s), max, v);
}

static void
test_parse_u64(void)
{
	static const struct {
		const char *in;
		uint64_t max;
	} bad[] = {
		{ "", UINT64_MAX },
		{ "-1", UINT64_MAX },
		{ "+1", UINT64_MAX },
		{ " 1", UINT64_MAX },
		{ "1 ", UINT64_MAX },
		{ "1x", UINT64_MAX },
		{ "0x10", UINT64_MAX },
		{ "1.5", UINT64_MAX },
		{ "/", UINT64_MAX },	/* '0' - 1 */
		{ ":", UINT64_MAX },	/* '9' + 1 */
		{ "\xb1", UINT64_MAX },	/* a high byte is no digit */
		{ "18446744073709551616", UINT64_MAX },
		{ "99999999999999999999", UINT64_MAX },
		{ "65536", 65535 },
		{ "70000", 65535 },
		{ "100000", 65535 },
		{ "9", 5 },		/* a digit above a small max */
		{ "1", 0 },
		{ "10", 9 },
	};
	uint64_t v;
	size_t i;

	is_long(parse("0", UINT64_MAX, &v), 0, "parse_u64: 0");
	is_long((long)v, 0, "... is 0");
	is_long(parse("007", 10, &v), 0, "parse_u64: leading zeros pass");
	is_long((long)v, 7, "... 007 is 7");
	is_long(parse("65535", 65535, &v), 0, "parse_u64: max itself");
	is_long((long)v, 65535, "... is 65535");
	is_long(parse("5", 5, &v), 0, "parse_u64: a one-digit max");
	is_long((long)v, 5, "... is 5");
	is_long(parse("0", 0, &v), 0, "parse_u64: 0 under max 0");
	ok(parse("18446744073709551615", UINT64_MAX, &v) == 0 &&
	    v == UINT64_MAX, "parse_u64: 2^64 - 1 under UINT64_MAX");
	ok(fed_parse_u64("123456", 3, 999, &v) == 0 && v == 123,
	    "parse_u64: only the slice is read");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		is_long(parse(bad[i].in, bad[i].max, &v), -1,
		    "parse_u64: \"%s\" under %llu refused",
		    tap_esc(bad[i].in), (unsigned long long)bad[i].max);
		is_long((long)v, 12345, "... and the value untouched");
	}
}

/* The fields of s split with room for max, joined by '|' for comparing. */
static const char *
split(const char *s, size_t max, size_t *nf)
{
	static char out[256];
	struct fed_str f[8];
	size_t i, o = 0;

	memset(f, 0, sizeof f);
	*nf = fed_split_tabs(s, strlen(s), f, max);
	out[0] = '\0';
	for (i = 0; i < max && i < *nf; i++) {
		if (i > 0)
			out[o++] = '|';
		memcpy(out + o, f[i].p, f[i].n);
		o += f[i].n;
		out[o] = '\0';
	}
	return out;
}

static void
test_split_tabs(void)
{
	static const struct {
		const char *in;
		size_t max, nf;
		const char *fields;
	} cases[] = {
		{ "", 4, 1, "" },
		{ "a", 4, 1, "a" },
		{ "a\tb\tc", 4, 3, "a|b|c" },
		{ "a\t\tc", 4, 3, "a||c" },
		{ "\t", 4, 2, "|" },
		{ "a\t", 4, 2, "a|" },
		{ "\ta", 4, 2, "|a" },
		{ "a b\tc d", 4, 2, "a b|c d" },
		{ "a\tb\tc\td", 4, 4, "a|b|c|d" },
		{ "a\tb\tc\td\te\tf", 4, 6, "a|b|c|d" },	/* counted */
		{ "a\tb\tc", 1, 3, "a" },
		{ "a\tb", 0, 2, "" },
	};
	const char *got;
	size_t i, nf;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = split(cases[i].in, cases[i].max, &nf);
		is_long((long)nf, (long)cases[i].nf, "split_tabs \"%s\" "
		    "(room for %zu): %zu fields", tap_esc(cases[i].in),
		    cases[i].max, cases[i].nf);
		is_str(got, cases[i].fields, "... the first ones stored");
	}
}

/* fed_ident_path: a file, none, one that cannot be told; a rewrite is
 * another identity. */
static void
test_ident_path(void)
{
	struct fed_ident a, b;
	char dir[4096], f[4200], under[4300];
	FILE *fp;

	if (tap_tmpdir(dir, sizeof dir, "0102") == NULL) {
		ok(0, "a scratch directory: %s", strerror(errno));
		return;
	}
	snprintf(f, sizeof f, "%s/file", dir);
	snprintf(under, sizeof under, "%s/file/x", dir);
	fed_ident_path(&a, f);
	is_long(a.exists, 0, "ident of a missing file: exists 0");
	fp = fopen(f, "w");
	ok(fp != NULL && fputs("one\n", fp) >= 0 && fclose(fp) == 0,
	    "a file written");
	fed_ident_path(&a, f);
	is_long(a.exists, 1, "ident of a file: exists 1");
	ok(a.size == 4, "... with its size");
	fed_ident_path(&b, f);
	ok(fed_ident_same(&a, &b), "the same file twice: the same identity");
	fp = fopen(f, "a");
	ok(fp != NULL && fputs("two\n", fp) >= 0 && fclose(fp) == 0,
	    "the file grown");
	fed_ident_path(&b, f);
	ok(!fed_ident_same(&a, &b), "grown: another identity");
	fed_ident_path(&b, under);
	is_long(b.exists, -1, "a path through a file (ENOTDIR): exists -1");
	ok(!fed_ident_same(&a, &b), "... not the file's identity");
	unlink(f);
	rmdir(dir);
}

/* fed_err_too_big: the limit in the largest unit that says it exactly. */
static void
test_too_big(void)
{
	static const struct {
		size_t limit;
		const char *want;
	} cases[] = {
		{ 1 << 20, "f: larger than 1 MiB" },
		{ (size_t)256 << 20, "f: larger than 256 MiB" },
		{ 65536, "f: larger than 64 KiB" },
		{ 1536, "f: larger than 1536 bytes" },
		{ 1024, "f: larger than 1 KiB" },
		{ 1000, "f: larger than 1000 bytes" },
		{ 4294967295u, "f: larger than 4294967295 bytes" },
		{ (size_t)1 << 40, "f: larger than 1024 GiB" },
	};
	struct fed_err e;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fed_err_too_big(&e, "f", cases[i].limit);
		is_str(e.msg, cases[i].want, "too big, limit %zu", cases[i].limit);
	}
}

int
main(void)
{
	test_parse_u64();
	test_split_tabs();
	test_ident_path();
	test_too_big();
	return done_testing();
}
