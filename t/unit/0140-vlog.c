/* 0140-vlog: the verdict log line, formatted, escaped, cut and parsed. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "vlog.h"

#define S(lit) ((struct fed_str){ (lit), sizeof(lit) - 1 })

/* 2026-11-21T22:40:33.123Z */
#define KNOWN_MS (INT64_C(1795300833) * 1000 + 123)

static int
count_tabs(const char *p, size_t n)
{
	int t = 0;

	while (n-- > 0)
		t += *p++ == '\t';
	return t;
}

static int
str_is(struct fed_str s, const char *want)
{
	return s.n == strlen(want) && (s.n == 0 || memcmp(s.p, want, s.n) == 0);
}

static void
test_known_line(void)
{
	struct vlog_rec r = {
		.time_ms = KNOWN_MS,
		.peer = S("192.0.2.7:5061"),
		.partner = S("contoso.com"),
		.method = S("INVITE"),
		.uri = S("alice@example.org"),
		.verdict = VERDICT_LIMIT,
		.reason = REASON_RATE,
		.code = 503,
		.callid = S("a84b4c76e66710@pc33"),
	}, p;
	static const char want[] = "2026-11-21T22:40:33.123Z\t192.0.2.7:5061\t"
	    "contoso.com\tINVITE\talice@example.org\tlimit\trate\t503\t"
	    "a84b4c76e66710@pc33\n";
	char buf[VLOG_LINE_MAX];
	size_t n = vlog_format(buf, &r);
	struct fed_err err = { "" };

	is_mem(buf, n, want, "known line, exact bytes");
	ok(vlog_parse(buf, n, &p, &err) == 0, "known line parses");
	ok(p.time_ms == KNOWN_MS && str_is(p.peer, "192.0.2.7:5061") &&
	    str_is(p.partner, "contoso.com") && str_is(p.method, "INVITE") &&
	    str_is(p.uri, "alice@example.org") && p.verdict == VERDICT_LIMIT &&
	    p.reason == REASON_RATE && p.code == 503 &&
	    str_is(p.callid, "a84b4c76e66710@pc33"), "known line, every field");
	ok(vlog_parse(buf, n - 1, &p, &err) == 0, "parses without its newline");

	memset(&r, 0, sizeof r);
	r.time_ms = 0;
	r.verdict = VERDICT_REFUSE;
	r.reason = REASON_MALFORMED;
	r.code = -1;
	n = vlog_format(buf, &r);
	is_mem(buf, n, "1970-01-01T00:00:00.000Z\t-\t-\t-\t-\trefuse\t"
	    "malformed\t-\t-\n", "empty fields are written -");
	ok(vlog_parse(buf, n, &p, &err) == 0 && p.peer.n == 0 &&
	    p.partner.n == 0 && p.method.n == 0 && p.uri.n == 0 &&
	    p.callid.n == 0 && p.code == -1, "- reads back as n == 0");

	/* Accepted while our server is down: fedgate answered 503. */
	r.verdict = VERDICT_ACCEPT;
	r.reason = REASON_DISCOVERED;
	r.code = 503;
	n = vlog_format(buf, &r);
	ok(vlog_parse(buf, n, &p, &err) == 0 && p.verdict == VERDICT_ACCEPT &&
	    p.code == 503, "accept discovered 503 (our server down) reads back");
}

static void
test_every_reason(void)
{
	int i, good = 1;

	for (i = 0; i < REASON__COUNT; i++) {
		struct vlog_rec r = {
			.time_ms = KNOWN_MS + i,
			.peer = S("edge.contoso.com"),
			.partner = S("contoso.com"),
			.method = S("MESSAGE"),
			.uri = S("bob@example.org"),
			.reason = (enum reason)i,
			.callid = S("x"),
		}, p;
		char buf[VLOG_LINE_MAX];
		size_t n;
		struct fed_err err = { "" };

		r.verdict = reason_verdict(r.reason);
		r.code = r.verdict == VERDICT_LIMIT ? 503 :
		    r.verdict == VERDICT_REFUSE ? 403 : -1;
		n = vlog_format(buf, &r);
		if (vlog_parse(buf, n, &p, &err) < 0 || p.verdict != r.verdict ||
		    p.reason != r.reason || p.code != r.code ||
		    p.time_ms != r.time_ms) {
			good = 0;
			diag("  %s: %s", reason_name(r.reason), err.msg);
		}
	}
	ok(good, "every verdict and reason round-trips");
}

/* Format a record whose uri is (v, n) and return the uri field as
 * written, NUL-terminated in out. */
static const char *
uri_field(const char *v, size_t n, char *out, size_t outsz)
{
	struct vlog_rec r = {
		.time_ms = KNOWN_MS,
		.uri = { v, n },
		.verdict = VERDICT_ACCEPT,
		.reason = REASON_DISCOVERED,
		.code = -1,
	};
	char buf[VLOG_LINE_MAX];
	size_t len = vlog_format(buf, &r);
	struct vlog_rec p;
	struct fed_err err = { "" };

	if (vlog_parse(buf, len, &p, &err) < 0) {
		diag("  parse: %s", err.msg);
		return "(unparsable)";
	}
	return fed_str_copy(out, outsz, p.uri);
}

static void
test_escaping(void)
{
	static const struct {
		const char *name, *raw;
		size_t n;
		const char *want;
	} cases[] = {
		{ "tab", "a\tb", 3, "a\\tb" },
		{ "newline", "a\nb", 3, "a\\nb" },
		{ "CR", "a\rb", 3, "a\\rb" },
		{ "NUL", "a\0b", 3, "a\\x00b" },
		{ "backslash", "a\\b", 3, "a\\\\b" },
		{ "ESC and DEL", "\033[2J\177", 5, "\\x1b[2J\\x7f" },
		{ "lone -", "-", 1, "\\x2d" },
		{ "- inside", "-a-", 3, "-a-" },
		{ "--", "--", 2, "--" },
		{ "non-ASCII (UTF-8 e acute)", "caf\xc3\xa9", 5, "caf\\xc3\\xa9" },
		{ "byte 0xff", "\xff", 1, "\\xff" },
		{ "an escape look-alike", "\\x41", 4, "\\\\x41" },
		{ "space and printables", "a b~!", 5, "a b~!" },
	};
	char out[256], un[256];
	size_t i, n;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *got = uri_field(cases[i].raw, cases[i].n, out,
		    sizeof out);

		is_str(got, cases[i].want, "escape %s", cases[i].name);
		n = vlog_unescape((struct fed_str){ out, strlen(out) }, un,
		    sizeof un);
		ok(n == cases[i].n && memcmp(un, cases[i].raw, n) == 0,
		    "unescape %s", cases[i].name);
	}
	n = vlog_unescape(S("ab\\x2dcd"), un, 3);
	ok(n == 5 && memcmp(un, "ab-", 3) == 0,
	    "unescape into a short buffer: cut, full length returned");
}

/* A Call-ID of 100 KB of everything a hostile partner could send. */
static void
test_hostile(void)
{
	size_t big = 100 * 1024, i, n, un_n;
	char *cid = malloc(big), *un = malloc(big);
	char buf[VLOG_LINE_MAX];
	struct vlog_rec r = {
		.time_ms = KNOWN_MS,
		.verdict = VERDICT_REFUSE,
		.reason = REASON_FEDERATION_OFF,
		.code = 403,
	}, p;
	struct fed_err err = { "" };
	int k;

	if (cid == NULL || un == NULL) {
		ok(0, "malloc");
		return;
	}
	for (i = 0; i < big; i++)	/* 1 to 4 output bytes, misaligned */
		cid[i] = "a\001\t\\\n\xe9-b\r\0"[i % 10];
	r.callid = (struct fed_str){ cid, big };
	n = vlog_format(buf, &r);
	ok(n <= VLOG_LINE_MAX, "100 KB Call-ID: line of %zu bytes fits", n);
	ok(n > 0 && buf[n - 1] == '\n' && memchr(buf, '\n', n) == buf + n - 1,
	    "100 KB Call-ID: one newline, at the end");
	is_long(count_tabs(buf, n), 8, "100 KB Call-ID: 9 fields");
	ok(vlog_parse(buf, n, &p, &err) == 0, "100 KB Call-ID: parses (%s)",
	    err.msg);
	ok(p.callid.n <= VLOG_CALLID_MAX && p.callid.n > VLOG_CALLID_MAX - 4,
	    "Call-ID cut to %zu bytes (cap %d)", p.callid.n, VLOG_CALLID_MAX);
	un_n = vlog_unescape(p.callid, un, big);
	ok(un_n > 0 && un_n < big && memcmp(un, cid, un_n) == 0,
	    "the cut Call-ID is a prefix of the real one, no escape cut");

	/* Every partner field hostile at once, at several offsets. */
	for (k = 0; k < 4; k++) {
		r.peer = (struct fed_str){ cid + k, big - k };
		r.partner = (struct fed_str){ cid + k + 1, big - k - 1 };
		r.method = (struct fed_str){ cid + k + 2, big - k - 2 };
		r.uri = (struct fed_str){ cid + k + 3, big - k - 3 };
		r.callid = (struct fed_str){ cid + k + 4, big - k - 4 };
		n = vlog_format(buf, &r);
		ok(n <= VLOG_LINE_MAX && count_tabs(buf, n) == 8 &&
		    vlog_parse(buf, n, &p, &err) == 0,
		    "all five fields hostile (offset %d): %zu bytes, parses", k,
		    n);
	}
	free(cid);
	free(un);
}

static void
test_parse_errors(void)
{
	static const struct {
		const char *name, *line, *msg;
	} cases[] = {
		{ "8 fields",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\n", "8 fields, want 9" },
		{ "10 fields",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\tx\n", "10 fields, want 9" },
		{ "an empty line", "\n", "1 field, want 9" },
		{ "an empty field",
		    "2026-11-21T22:40:33.123Z\t\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", "field 2 (peer): empty (want a value or -)" },
		{ "month 13",
		    "2026-13-21T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", "field 1 (time): bad time "
		    "\"2026-13-21T22:40:33.123Z\" (want YYYY-MM-DDTHH:MM:SS.mmmZ)" },
		{ "February 30",
		    "2024-02-30T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "February 29 of 2025",
		    "2025-02-29T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "February 29 of 2100",
		    "2100-02-29T00:00:00.000Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "missing Z",
		    "2026-11-21T22:40:33.123\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "an offset instead of Z",
		    "2026-11-21T22:40:33.123+00:00\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "no milliseconds",
		    "2026-11-21T22:40:33Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "lower-case t",
		    "2026-11-21t22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "hour 24",
		    "2026-11-21T24:00:00.000Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "second 60",
		    "2026-11-21T23:59:60.000Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "day 00",
		    "2026-11-00T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "a sign in the year",
		    "+026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
		{ "unknown verdict",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\tacept\t"
		    "discovered\t-\tc\n",
		    "field 6 (verdict): unknown verdict \"acept\"" },
		{ "unknown reason",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "found\t-\tc\n", "field 7 (reason): unknown reason \"found\"" },
		{ "reason of another verdict",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "rate\t-\tc\n", "field 7 (reason): reason \"rate\" does not "
		    "go with verdict \"accept\"" },
		{ "refuse with response",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\trefuse\t"
		    "response\t403\tc\n", NULL },
		{ "code 99",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\trefuse\t"
		    "blocked\t099\tc\n", "field 8 (code): bad code \"099\" "
		    "(want - or 100 to 699)" },
		{ "code 700",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\trefuse\t"
		    "blocked\t700\tc\n", NULL },
		{ "code 40",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\trefuse\t"
		    "blocked\t40\tc\n", NULL },
		{ "code 4O3",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\trefuse\t"
		    "blocked\t4O3\tc\n", NULL },
		{ "code 4031",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\trefuse\t"
		    "blocked\t4031\tc\n", NULL },
		{ "accept with a code",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t200\tc\n", "field 8 (code): an accept line has "
		    "no code of its own (want -, or 503 when our server is "
		    "down)" },
		{ "terminal control bytes in the verdict",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\taccept\x1b[2J\t"
		    "discovered\t-\tc\n", "field 6 (verdict): raw byte 0x1b "
		    "(must be escaped)" },
		{ "observe with a code",
		    "2026-11-21T22:40:33.123Z\tp\td\t200\t-\tobserve\t"
		    "response\t503\tc\n", "field 8 (code): an observe line has "
		    "no code of its own (want -)" },
		{ "a raw CR",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\r\n", "field 9 (callid): raw byte 0x0d "
		    "(must be escaped)" },
		{ "a raw newline inside",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\naccept\t"
		    "discovered\t-\tc\n", "field 5 (uri): raw byte 0x0a "
		    "(must be escaped)" },
		{ "a raw non-ASCII byte",
		    "2026-11-21T22:40:33.123Z\tp\tcaf\xc3\xa9\tINVITE\tu\t"
		    "accept\tdiscovered\t-\tc\n", "field 3 (partner): raw byte "
		    "0xc3 (must be escaped)" },
		{ "a bad escape",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\\q\taccept\t"
		    "discovered\t-\tc\n", "field 5 (uri): bad escape at byte 2" },
		{ "a cut \\x escape",
		    "2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\\x4\n", NULL },
		{ "a trailing backslash",
		    "2026-11-21T22:40:33.123Z\tp\td\\\tINVITE\tu\taccept\t"
		    "discovered\t-\tc\n", NULL },
	};
	size_t i;
	struct vlog_rec p;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fed_err err = { "" };
		int rc = vlog_parse(cases[i].line, strlen(cases[i].line), &p,
		    &err);

		if (cases[i].msg != NULL)
			ok(rc == -1 && strcmp(err.msg, cases[i].msg) == 0,
			    "refused: %s", cases[i].name);
		else
			ok(rc == -1 && err.msg[0] != '\0', "refused: %s",
			    cases[i].name);
		if (rc == 0 || (cases[i].msg != NULL &&
		    strcmp(err.msg, cases[i].msg) != 0))
			diag("  got rc %d \"%s\"", rc, err.msg);
	}
	/* And the good neighbours of those bad ones. */
	{
		static const char *good[] = {
			"2024-02-29T22:40:33.123Z\tp\td\tINVITE\tu\taccept\t"
			    "discovered\t-\tc\n",
			"2000-02-29T00:00:00.000Z\tp\td\t404\tu\tobserve\t"
			    "response\t-\tc",
			"2026-11-21T22:40:33.123Z\tp\td\tACK\tu\trefuse\t"
			    "blocked\t-\tc\n",
			"2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\trefuse\t"
			    "malformed\t699\tc\n",
			"2026-11-21T22:40:33.123Z\tp\td\tINVITE\tu\trefuse\t"
			    "malformed\t100\tc\\x4A\n",
		};
		struct fed_err err = { "" };
		int all = 1;

		for (i = 0; i < sizeof good / sizeof good[0]; i++)
			if (vlog_parse(good[i], strlen(good[i]), &p, &err) < 0)
				all = 0, diag("  %s", err.msg);
		ok(all, "good lines next to the bad ones parse");
	}
}

/* Every byte value at every offset of a word: refused iff it is raw. */
static void
test_raw_bytes(void)
{
	char line[256];
	struct vlog_rec p;
	int b, pos, good = 1;

	for (b = 0; b < 256; b++) {
		if (b == '\t' || b == '\\')
			continue;
		for (pos = 0; pos < 24; pos++) {
			int n, rc, raw = b < 0x20 || b >= 0x7f;

			n = snprintf(line, sizeof line, "2026-11-21T22:40:33.123Z"
			    "\tp\td\tINVITE\t%s\taccept\tdiscovered\t-\tc\n",
			    "abcdefghijklmnopqrstuvwx");
			line[24 + 1 + 2 + 2 + 7 + pos] = (char)b;
			rc = vlog_parse(line, (size_t)n, &p, NULL);
			if ((rc != 0) != raw) {
				if (good)
					diag("  byte 0x%02x at %d: rc %d", b, pos,
					    rc);
				good = 0;
			}
		}
	}
	ok(good, "every byte value at every offset: raw ones refused");
}

static void
test_time(void)
{
	static const struct {
		int64_t ms;
		const char *s;
	} known[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ -1, "1969-12-31T23:59:59.999Z" },
		{ INT64_C(951782400000), "2000-02-29T00:00:00.000Z" },
		{ INT64_C(1709208000000) + 1, "2024-02-29T12:00:00.001Z" },
		{ INT64_C(4107542400000), "2100-03-01T00:00:00.000Z" },
		{ KNOWN_MS, "2026-11-21T22:40:33.123Z" },
		{ INT64_C(253402300799999), "9999-12-31T23:59:59.999Z" },
	};
	char buf[96];
	int64_t ms, x;
	size_t i;
	int good = 1, n = 0;
	uint64_t lcg = 42;

	for (i = 0; i < sizeof known / sizeof known[0]; i++) {
		vlog_time_format(buf, known[i].ms);
		is_str(buf, known[i].s, "format %lld", (long long)known[i].ms);
		ok(vlog_time_parse(known[i].s, strlen(known[i].s), &ms) == 0 &&
		    ms == known[i].ms, "parse %s", known[i].s);
	}
	vlog_time_format(buf, INT64_C(1) << 60);
	is_str(buf, "9999-12-31T23:59:59.999Z", "far future clamped");

	/* Every day from 1969 to 2404 (all of Feb 29 and the 100/400 rules),
	 * at an odd time of day, and random instants across the range. */
	for (x = -400 * 86400000LL; x < 158600 * 86400000LL; x +=
	    86400000LL + 1001, n++) {
		size_t len = vlog_time_format(buf, x);

		if (len != VLOG_TIME_LEN || vlog_time_parse(buf, len, &ms) < 0 ||
		    ms != x) {
			if (good)
				diag("  %lld -> %s", (long long)x, buf);
			good = 0;
		}
	}
	for (i = 0; i < 200000; i++, n++) {
		lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
		x = (int64_t)(lcg >> 11) % INT64_C(253402300800000);
		vlog_time_format(buf, x);
		if (vlog_time_parse(buf, VLOG_TIME_LEN, &ms) < 0 || ms != x) {
			if (good)
				diag("  %lld -> %s", (long long)x, buf);
			good = 0;
		}
	}
	ok(good, "format then parse gives the same instant, %d values", n);

	/* Parse against gmtime_r, independently of the formatter. */
	good = 1;
	for (i = 0; i < 20000; i++) {
		struct tm tm;
		time_t t;

		lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
		t = (time_t)((lcg >> 11) % UINT64_C(253402300800));
		gmtime_r(&t, &tm);
		snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.000Z",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		if (vlog_time_parse(buf, strlen(buf), &ms) < 0 ||
		    ms != (int64_t)t * 1000)
			good = 0;
	}
	ok(good, "parse agrees with gmtime_r");
}

static void
test_dash(void)
{
	struct vlog_rec r = {
		.time_ms = KNOWN_MS,
		.partner = S("-"),
		.verdict = VERDICT_OBSERVE,
		.reason = REASON_RESPONSE,
		.method = S("200"),
		.code = -1,
	}, p;
	char buf[VLOG_LINE_MAX], un[8];
	size_t n = vlog_format(buf, &r);
	struct fed_err err = { "" };

	ok(vlog_parse(buf, n, &p, &err) == 0 && p.peer.n == 0 &&
	    str_is(p.partner, "\\x2d") &&
	    vlog_unescape(p.partner, un, sizeof un) == 1 && un[0] == '-',
	    "a value - and no value stay distinct");
}

static void
test_write(void)
{
	char dir[200], path[256];
	int fd, wfd;
	struct vlog_rec r = {
		.time_ms = KNOWN_MS,
		.partner = S("contoso.com"),
		.verdict = VERDICT_ACCEPT,
		.reason = REASON_DISCOVERED,
		.code = -1,
	};
	struct stat st;
	char *data;
	size_t len = 0;
	mode_t old;

	if (tap_tmpdir(dir, sizeof dir, "fedkit-0140") == NULL) {
		ok(0, "scratch directory: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof path, "%s/log", dir);
	old = umask(022);
	wfd = vlog_open(path);
	umask(old);
	ok(wfd >= 0, "vlog_open creates the log");
	ok(fstat(wfd, &st) == 0 && (st.st_mode & 0777) == 0640,
	    "created 0640");
	ok((fcntl(wfd, F_GETFD) & FD_CLOEXEC) &&
	    (fcntl(wfd, F_GETFL) & O_APPEND), "O_APPEND and close-on-exec");
	ok(vlog_write(wfd, &r) == 0 && vlog_write(wfd, &r) == 0,
	    "two lines written");
	close(wfd);
	data = tap_slurp(path, &len);
	{
		char buf[VLOG_LINE_MAX];
		size_t n = vlog_format(buf, &r);

		ok(data != NULL && len == 2 * n && memcmp(data, buf, n) == 0 &&
		    memcmp(data + n, buf, n) == 0, "the log holds both lines");
	}
	free(data);
	unlink(path);
	errno = 0;
	ok(vlog_write(wfd, &r) == -1 && errno == EBADF,
	    "a write error is returned with errno");

	/* A planted link is never followed, to a file or to none. */
	{
		char victim[sizeof path + 8];

		snprintf(victim, sizeof victim, "%s.victim", path);
		ok(symlink(victim, path) == 0, "a symlink planted as the log");
		errno = 0;
		ok(vlog_open(path) < 0 && errno == ELOOP &&
		    access(victim, F_OK) != 0,
		    "vlog_open refuses it and creates nothing through it");
		fd = open(victim, O_WRONLY | O_CREAT, 0600);
		close(fd);
		errno = 0;
		ok(vlog_open(path) < 0 && errno == ELOOP,
		    "nor opens the file it points to");
		unlink(path);
		unlink(victim);
	}
	rmdir(dir);
}

static double
parse_rate(const char *line, size_t n, int count, int *bad)
{
	struct vlog_rec p;
	struct timespec a, b;
	double secs;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < count; i++)
		*bad += vlog_parse(line, n, &p, NULL) != 0;
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	return count / (secs > 0 ? secs : 1e-9);
}

/* Not a pass/fail test of speed (sanitizers slow it down): the rate is
 * shown for fedstat's sake, which must read 1,000,000 lines/s. */
static void
speed(void)
{
	static const char line[] = "2026-11-21T22:40:33.123Z\t192.0.2.7:5061\t"
	    "contoso.com\tINVITE\talice@example.org\tlimit\trate\t503\t"
	    "a84b4c76e66710@pc33\\x00\\t\n";
	char big[VLOG_LINE_MAX];
	struct vlog_rec r = {
		.time_ms = KNOWN_MS,
		.verdict = VERDICT_ACCEPT,
		.reason = REASON_DISCOVERED,
		.code = -1,
	};
	char cid[1500];
	size_t i, n;
	int bad = 0;
	double short_rate, long_rate;

	for (i = 0; i < sizeof cid; i++)
		cid[i] = (char)('a' + i % 26);
	r.callid = (struct fed_str){ cid, sizeof cid };
	r.uri = (struct fed_str){ cid, 300 };
	n = vlog_format(big, &r);
	short_rate = parse_rate(line, sizeof line - 1, 500000, &bad);
	long_rate = parse_rate(big, n, 100000, &bad);
	ok(bad == 0, "600000 parses");
	diag("vlog_parse: %.0f lines/s of %zu bytes, %.0f lines/s of %zu "
	    "bytes", short_rate, sizeof line - 1, long_rate, n);
}

int
main(void)
{
	test_known_line();
	test_every_reason();
	test_escaping();
	test_hostile();
	test_parse_errors();
	test_raw_bytes();
	test_time();
	test_dash();
	test_write();
	speed();
	return done_testing();
}
