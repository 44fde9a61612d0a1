/* list.c: allow and block lists (fedkit(7)): parse, validate, match. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "list.h"

#define LABEL_MAX	63
#define LIST_NUM_MAX	2147483647L	/* fits a long everywhere */

/* Byte classes: letters, digits and hyphen; control bytes (not tab). */
#define C_LDH	1
#define C_CTL	2
static const unsigned char cclass[256] = {
	2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * An error about the name in[0..n): `"NAME": problem`, NAME cut after
 * `show` bytes (fed_quote_prefix): the name may be the start of a line of
 * any file named as a list, and an invalid character shows no more of it
 * than up to that character.
 */
static void name_err(struct fed_err *, const char *, size_t, size_t,
    const char *, ...) __attribute__((format(printf, 5, 6)));

static void
name_err(struct fed_err *err, const char *in, size_t n, size_t show,
    const char *fmt, ...)
{
	char q[FED_QUOTE_MAX], m[sizeof err->msg];
	va_list ap;

	if (err == NULL)
		return;
	fed_quote_prefix(q, in, n, show);
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	fed_err_set(err, "%s: %s", q, m);
}

/*
 * The label in[label..i) of the name in[0..n): 1..LABEL_MAX octets, no
 * hyphen at either end.  0, or -1 with *err.
 */
static int
label_valid(const char *in, size_t n, size_t label, size_t i,
    struct fed_err *err)
{
	char ql[FED_QUOTE_MAX];

	if (i == label) {
		name_err(err, in, n, FED_QUOTE_LINE, "empty label (two dots "
		    "in a row)");
		return -1;
	}
	if (i - label > LABEL_MAX) {
		fed_quote_prefix(ql, in + label, i - label, FED_QUOTE_LINE);
		name_err(err, in, n, FED_QUOTE_LINE, "label %s is %zu "
		    "characters long (at most %d)", ql, i - label, LABEL_MAX);
		return -1;
	}
	if (in[label] == '-' || in[i - 1] == '-') {
		fed_quote_prefix(ql, in + label, i - label, FED_QUOTE_LINE);
		name_err(err, in, n, FED_QUOTE_LINE, "label %s %s with a "
		    "hyphen", ql, in[label] == '-' ? "starts" : "ends");
		return -1;
	}
	return 0;
}

/*
 * The labels of in[start..end), of the name in[0..n): letters, digits and
 * hyphens between the dots, each label_valid.  0, or -1 with *err.
 */
static int
labels_valid(const char *in, size_t n, size_t start, size_t end,
    struct fed_err *err)
{
	char ql[FED_QUOTE_MAX];
	size_t i, label = start;

	for (i = start; i <= end; i++) {
		if (i < end && in[i] != '.') {
			if (!(cclass[(unsigned char)in[i]] & C_LDH)) {
				fed_quote(ql, in + i, 1);
				name_err(err, in, n, i + 1, "invalid character "
				    "%s (a name has only letters, digits, "
				    "hyphens and dots)", ql);
				return -1;
			}
			continue;
		}
		/* A label ends at in[i]. */
		if (label_valid(in, n, label, i, err) == -1)
			return -1;
		label = i + 1;
	}
	return 0;
}

/*
 * Validate first, then write: out may be the same memory as in, or lie
 * before it (list_parse normalizes in place), as the copy runs forward.
 */
int
domain_normalize(const char *in, size_t n, int allow_suffix, char *out,
    size_t outsz, struct fed_err *err)
{
	size_t i, start = 0, end = n;

	if (n == 0) {
		fed_err_set(err, "empty name");
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)in[i] >= 0x80) {
			name_err(err, in, n, i + 1, "non-ASCII name: write "
			    "it in punycode (xn--...)");
			return -1;
		}
	if (in[0] == '.') {
		if (!allow_suffix) {
			name_err(err, in, n, FED_QUOTE_LINE, "a leading dot "
			    "(the .suffix form) is not allowed here");
			return -1;
		}
		start = 1;
	}
	/* One trailing dot is the root: "example.com." is example.com. */
	if (end > start && in[end - 1] == '.')
		end--;
	if (end == start) {
		name_err(err, in, n, FED_QUOTE_LINE, "empty name");
		return -1;
	}
	if (labels_valid(in, n, start, end, err) == -1)
		return -1;
	if (end - start > DOMAIN_MAX) {
		name_err(err, in, n, FED_QUOTE_LINE, "name is %zu characters "
		    "long (at most %d)", end - start, DOMAIN_MAX);
		return -1;
	}
	if (outsz < end + 1) {
		name_err(err, in, n, FED_QUOTE_LINE, "name too long for its "
		    "buffer");
		return -1;
	}
	for (i = 0; i < end; i++)
		out[i] = lower(in[i]);
	out[end] = '\0';
	return 0;
}

int
domain_match(const char *pattern, const char *domain)
{
	size_t pl, dl;

	if (pattern[0] != '.')
		return strcasecmp(pattern, domain) == 0;
	pattern++;
	pl = strlen(pattern);
	dl = strlen(domain);
	if (pl == 0 || dl < pl)
		return 0;
	if (dl == pl)
		return strcasecmp(pattern, domain) == 0;
	return domain[dl - pl - 1] == '.' &&
	    strcasecmp(domain + dl - pl, pattern) == 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

/*
 * Sorting a million names with qsort and strcmp takes most of a second, so
 * the entries are sorted by their first eight bytes with a radix sort
 * (a few linear passes), and only runs that share those bytes are left to
 * qsort.  The order is entry_cmp's: name, then line.
 */
struct skey {
	uint64_t k;
	const struct list_entry *e;
};

static int
skey_cmp(const void *a, const void *b)
{
	return entry_cmp(((const struct skey *)a)->e,
	    ((const struct skey *)b)->e);
}

/* Each entry's key: the first eight bytes of its name, NUL-padded, as a
 * big-endian number, so keys order as the names' prefixes do. */
static void
skeys_fill(struct skey *s, const struct list *l)
{
	size_t i, j;

	for (i = 0; i < l->n; i++) {
		const unsigned char *p = (const unsigned char *)l->v[i].name;
		uint64_t k = 0;

		for (j = 0; j < 8; j++) {
			k = k << 8 | p[0];
			if (p[0] != '\0')
				p++;
		}
		s[i].k = k;
		s[i].e = &l->v[i];
	}
}

/*
 * Sort s[0..n) by key, least significant byte first, through tmp (as
 * large); a pass whose byte is the same everywhere is skipped.  Returns
 * whichever of the two arrays holds the result; the other is scratch.
 */
static struct skey *
skeys_radix(struct skey *s, struct skey *tmp, size_t n)
{
	struct skey *sw;
	size_t i, count[256];
	unsigned pass;

	for (pass = 0; pass < 8; pass++) {
		unsigned shift = pass * 8;
		size_t sum = 0;

		memset(count, 0, sizeof count);
		for (i = 0; i < n; i++)
			count[(s[i].k >> shift) & 0xff]++;
		if (count[(s[0].k >> shift) & 0xff] == n)
			continue;	/* this byte is the same everywhere */
		for (i = 0; i < 256; i++) {
			size_t c = count[i];

			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)	/* stable: keeps earlier passes */
			tmp[count[(s[i].k >> shift) & 0xff]++] = s[i];
		sw = s;
		s = tmp;
		tmp = sw;
	}
	return s;
}

static int
sort_entries(struct list *l)
{
	struct skey *s, *tmp, *sorted;
	struct list_entry *w;
	size_t i, j, n = l->n;

	for (i = 1; i < n; i++)
		if (entry_cmp(&l->v[i - 1], &l->v[i]) > 0)
			break;
	if (i >= n)
		return 0;	/* already sorted, as fedlist often writes */
	s = reallocarray(NULL, n, sizeof *s);
	tmp = reallocarray(NULL, n, sizeof *tmp);
	w = reallocarray(NULL, n, sizeof *w);
	if (s == NULL || tmp == NULL || w == NULL) {
		free(s);
		free(tmp);
		free(w);
		return -1;
	}
	skeys_fill(s, l);
	sorted = skeys_radix(s, tmp, n);
	/* Names sharing their first eight bytes: qsort each such run. */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && sorted[j].k == sorted[i].k; j++)
			;
		if (j - i > 1)
			qsort(sorted + i, j - i, sizeof *sorted, skey_cmp);
	}
	for (i = 0; i < n; i++)
		w[i] = *sorted[i].e;
	free(s);
	free(tmp);
	free(l->v);
	l->v = w;
	return 0;
}

/* rate= and max_uris=: 1..LIST_NUM_MAX or "unlimited"; digits only. */
static int
parse_limit(const char *p, size_t n, long *out)
{
	uint64_t v;

	if (n == 9 && memcmp(p, "unlimited", 9) == 0) {
		*out = LIST_UNLIMITED;
		return 0;
	}
	if (fed_parse_u64(p, n, LIST_NUM_MAX, &v) == -1 || v < 1)
		return -1;
	*out = (long)v;
	return 0;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The token [p, te) quoted into q, for a message. */
static const char *
token(char q[FED_QUOTE_MAX], const char *p, const char *te)
{
	fed_quote_prefix(q, p, (size_t)(te - p), FED_QUOTE_LINE);
	return q;
}

/* edge=: the value [v, te) normalized into the arena at *a. */
static int
option_edge(const char *v, const char *te, char *arena, size_t *a,
    struct list_entry *ent, struct fed_err *err)
{
	if (domain_normalize(v, (size_t)(te - v), 0, arena + *a,
	    DOMAIN_MAX + 2, err) == -1) {
		char m[sizeof err->msg];

		memcpy(m, err->msg, sizeof m);
		fed_err_set(err, "edge=: %s", m);
		return -1;
	}
	ent->edge = arena + *a;
	*a += strlen(ent->edge) + 1;
	return 0;
}

/* rate= or max_uris= (the token [p, te), its '=' at eq) into *out;
 * `what` names the limit in the message. */
static int
option_limit(const char *p, const char *eq, const char *te, long *out,
    const char *what, struct fed_err *err)
{
	char q[FED_QUOTE_MAX];

	if (parse_limit(eq + 1, (size_t)(te - eq - 1), out) == -1) {
		fed_err_set(err, "%s: %s must be a whole number from 1 to %ld "
		    "or \"unlimited\"", token(q, p, te), what, LIST_NUM_MAX);
		return -1;
	}
	return 0;
}

/* Options a line has given so far: each may come once. */
enum { OPT_EDGE = 1, OPT_RATE = 2, OPT_MAX_URIS = 4 };

/*
 * One option, the token [p, te) whose '=' is at eq, into *ent (edge=
 * into the arena at *a); *seen says which were given before.  0, or -1
 * with *err.
 */
static int
parse_option(const char *p, const char *eq, const char *te, char *arena,
    size_t *a, struct list_entry *ent, unsigned *seen, struct fed_err *err)
{
	static const struct {
		const char *key;
		unsigned bit;
	} keys[] = {
		{ "edge", OPT_EDGE },
		{ "rate", OPT_RATE },
		{ "max_uris", OPT_MAX_URIS },
	};
	char q[FED_QUOTE_MAX];
	size_t i, klen = (size_t)(eq - p);

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strlen(keys[i].key) == klen &&
		    memcmp(p, keys[i].key, klen) == 0)
			break;
	if (i == sizeof keys / sizeof keys[0]) {
		fed_err_set(err, "unknown option %s (the options are edge=, "
		    "rate=, max_uris=)", token(q, p, te));
		return -1;
	}
	if (*seen & keys[i].bit) {
		fed_err_set(err, "%s= given twice", keys[i].key);
		return -1;
	}
	*seen |= keys[i].bit;
	switch (keys[i].bit) {
	case OPT_EDGE:
		return option_edge(eq + 1, te, arena, a, ent, err);
	case OPT_RATE:
		return option_limit(p, eq, te, &ent->rate, "the rate", err);
	default:
		return option_limit(p, eq, te, &ent->max_uris, "max_uris",
		    err);
	}
}

/*
 * The options of a line, [p, e) after its name, up to a '#': edge= into
 * the arena at *a, rate= and max_uris= (LIST_UNSET when not given, as the
 * caller set them).  0, or -1 with *err (without file and line).
 */
static int
parse_options(const char *p, const char *e, char *arena, size_t *a,
    int options_allowed, struct list_entry *ent, struct fed_err *err)
{
	char q[FED_QUOTE_MAX];
	const char *te, *eq;
	unsigned seen = 0;

	for (; p < e; p = te) {
		while (p < e && is_blank(*p))
			p++;
		if (p == e || *p == '#')
			break;
		for (te = p; te < e && !is_blank(*te); te++)
			;
		if ((eq = memchr(p, '=', (size_t)(te - p))) == NULL) {
			fed_err_set(err, "unexpected %s: one domain a line, "
			    "then options edge=, rate=, max_uris=",
			    token(q, p, te));
			return -1;
		}
		if (!options_allowed) {
			fed_err_set(err, "option %s: the block list takes "
			    "no options", token(q, p, te));
			return -1;
		}
		if (parse_option(p, eq, te, arena, a, ent, &seen, err) == -1)
			return -1;
	}
	return 0;
}

/* A caller's scratch too small for a line's names: a bug, said. */
static int
scratch_short(const char *fn, size_t scratchsz, struct fed_err *err)
{
	if (scratchsz >= LIST_LINE_SCRATCH)
		return 0;
	fed_err_set(err, "%s: scratch of %zu bytes, needs %d", fn, scratchsz,
	    LIST_LINE_SCRATCH);
	return 1;
}

int
list_check_controls(const char *p, size_t n, struct fed_err *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cclass[(unsigned char)p[i]] & C_CTL) {
			fed_err_set(err, "control character \\x%02x in line",
			    (unsigned char)p[i]);
			return -1;
		}
	return 0;
}

int
list_parse_options(const char *p, size_t n, int options_allowed,
    struct list_entry *e, char *scratch, size_t scratchsz,
    struct fed_err *err)
{
	size_t a = 0;

	memset(e, 0, sizeof *e);
	e->rate = e->max_uris = LIST_UNSET;
	if (scratch_short("list_parse_options", scratchsz, err))
		return -1;
	return parse_options(p, p + n, scratch, &a, options_allowed, e, err);
}

/*
 * Parse one line [p, e) into *ent, writing the names into the arena at *a.
 * For list_parse the arena is the buffer being parsed: every name written
 * is no longer than its token, and its NUL lands at most on the separator
 * after it, which has been read already.  For list_parse_line it is the
 * caller's scratch, which is why the line itself is const here.  Returns 1
 * for an entry, 0 for a blank or comment line, -1 with *err (without file
 * and line) for a bad line.
 */
static int
parse_line(const char *p, const char *e, char *arena, size_t *a,
    int options_allowed, struct list_entry *ent, struct fed_err *err)
{
	const char *te;

	if (e > p && e[-1] == '\r')
		e--;		/* CRLF line endings */
	if (list_check_controls(p, (size_t)(e - p), err) != 0)
		return -1;
	while (p < e && is_blank(*p))
		p++;
	if (p == e || *p == '#')
		return 0;

	for (te = p; te < e && !is_blank(*te); te++)
		;
	if (domain_normalize(p, (size_t)(te - p), 1, arena + *a,
	    DOMAIN_MAX + 2, err) == -1)
		return -1;
	ent->name = arena + *a;
	*a += strlen(ent->name) + 1;
	ent->edge = NULL;
	ent->rate = ent->max_uris = LIST_UNSET;

	/* The name's NUL may have landed on the blank after it: skip it. */
	if (parse_options(te < e ? te + 1 : e, e, arena, a, options_allowed,
	    ent, err) != 0)
		return -1;
	return 1;
}

/*
 * A salvage parse (list_load_fd_salvage) skips bad lines and keeps count;
 * a strict one (sv NULL) fails at the first.
 */
struct salvage {
	size_t n;		/* bad lines and later duplicates skipped */
	unsigned line;		/* the first of them, by line number */
	struct fed_err *first;	/* "NAME:LINE: problem" for it */
};

static void
salvage_note(struct salvage *sv, unsigned line, const char *msg)
{
	sv->n++;
	if (sv->line != 0 && sv->line < line)
		return;
	sv->line = line;
	memcpy(sv->first->msg, msg, sizeof sv->first->msg);
}

/*
 * The most entries [p, end) can hold: one a line, the last line perhaps
 * without its newline.
 */
static size_t
count_lines(const char *p, const char *end)
{
	const char *nl;
	size_t lines = 1;

	for (nl = p; nl < end && (nl = memchr(nl, '\n', (size_t)(end - nl)));
	    nl++)
		lines++;
	return lines;
}

/*
 * Room for one more entry in l->v (*cap allocated).  The array starts at
 * the line count or 64 K entries, whichever is less, so a file of blank
 * lines costs no memory, and doubles up to it (large reallocs are mremap,
 * no copy).  0, or -1 with *err.
 */
static int
entries_grow(struct list *l, size_t *cap, size_t lines, const char *name,
    struct fed_err *err)
{
	struct list_entry *nv;
	size_t ncap = *cap == 0 ? 65536 : *cap * 2;

	if (ncap > lines)
		ncap = lines;
	if ((nv = reallocarray(l->v, ncap, sizeof *nv)) == NULL) {
		fed_err_set(err, "%s: %s", name, strerror(ENOMEM));
		return -1;
	}
	l->v = nv;
	*cap = ncap;
	return 0;
}

/* A salvage parse keeps each name's first line (the sort put it first)
 * and notes the later ones as bad lines. */
static void
drop_duplicates(struct list *l, const char *name, struct salvage *sv,
    struct fed_err *err)
{
	size_t i, w = 0;

	for (i = 0; i < l->n; i++) {
		if (w > 0 && strcmp(l->v[w - 1].name, l->v[i].name) == 0) {
			fed_err_set(err, "%s:%u: %s is listed twice (first on "
			    "line %u)", name, l->v[i].line, l->v[i].name,
			    l->v[w - 1].line);
			salvage_note(sv, l->v[i].line, err->msg);
			continue;
		}
		l->v[w++] = l->v[i];
	}
	l->n = w;
}

/* A strict parse fails on the duplicate met first in the file, naming
 * its original: 0, or -1 with *err. */
static int
refuse_duplicates(const struct list *l, const char *name,
    struct fed_err *err)
{
	size_t i, first, dup = 0;

	for (i = 1; i < l->n; i++)
		if (strcmp(l->v[i - 1].name, l->v[i].name) == 0 &&
		    (dup == 0 || l->v[i].line < l->v[dup].line))
			dup = i;
	if (dup == 0)
		return 0;
	for (first = dup; first > 0 &&
	    strcmp(l->v[first - 1].name, l->v[dup].name) == 0; first--)
		;
	fed_err_set(err, "%s:%u: %s is listed twice (first on line %u)",
	    name, l->v[dup].line, l->v[dup].name, l->v[first].line);
	return -1;
}

/*
 * Parse buf[0..len), which the list owns from now on and whose names it
 * rewrites in place: buf must have room for one more byte (buf[len]).
 * Strict (sv NULL) or salvage, as struct salvage says.
 */
static int
parse_owned(struct list *l, const char *name, char *buf, size_t len,
    int options_allowed, struct salvage *sv, struct fed_err *err)
{
	struct fed_err e;
	char *p = buf, *end = buf + len, *nl;
	size_t a = 0, cap = 0, lines;
	unsigned lineno = 0;
	int r;

	l->arena = buf;
	buf[len] = '\0';
	/* A UTF-8 byte order mark, as some editors write, is no content. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		p += 3, a = 3;
	lines = count_lines(p, end);
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		lineno++;
		if (l->n == cap && entries_grow(l, &cap, lines, name, err) ==
		    -1)
			return -1;
		r = parse_line(p, nl, buf, &a, options_allowed, &l->v[l->n],
		    &e);
		if (r == -1) {
			fed_err_set(err, "%s:%u: %s", name, lineno, e.msg);
			if (sv == NULL)
				return -1;
			salvage_note(sv, lineno, err->msg);
			continue;
		}
		if (r == 1) {
			l->v[l->n].line = lineno;
			l->v[l->n++].off = (size_t)(p - buf);
		}
	}
	if (sort_entries(l) == -1) {
		fed_err_set(err, "%s: %s", name, strerror(ENOMEM));
		return -1;
	}
	if (sv != NULL) {
		drop_duplicates(l, name, sv, err);
		return 0;
	}
	return refuse_duplicates(l, name, err);
}

int
list_parse(struct list *l, const char *name, const char *buf, size_t len,
    int options_allowed, struct fed_err *err)
{
	char *copy;

	memset(l, 0, sizeof *l);
	if (name == NULL)
		name = "list";
	if (len > LIST_FILE_MAX) {
		fed_err_too_big(err, name, LIST_FILE_MAX);
		return -1;
	}
	if ((l->path = strdup(name)) == NULL ||
	    (copy = malloc(len + 1)) == NULL) {
		fed_err_set(err, "%s: %s", name, strerror(ENOMEM));
		list_free(l);
		return -1;
	}
	if (len > 0)
		memcpy(copy, buf, len);
	if (parse_owned(l, name, copy, len, options_allowed, NULL, err) ==
	    -1) {
		list_free(l);
		return -1;
	}
	return 0;
}

int
list_parse_line(const char *line, size_t n, int options_allowed,
    struct list_entry *e, char *scratch, size_t scratchsz,
    struct fed_err *err)
{
	size_t a = 0;
	int r;

	memset(e, 0, sizeof *e);
	if (scratch_short("list_parse_line", scratchsz, err))
		return -1;
	r = parse_line(line, line + n, scratch, &a, options_allowed, e, err);
	if (r != 1)
		memset(e, 0, sizeof *e);
	return r;
}

int
list_load(struct list *l, const char *path, int options_allowed,
    struct fed_err *err)
{
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		memset(l, 0, sizeof *l);
		if ((l->path = strdup(path)) == NULL) {
			fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
			return -1;
		}
		if (errno == ENOENT)
			return 0;	/* no list yet: nobody listed */
		fed_err_set(err, "%s: %s", path, strerror(errno));
		list_free(l);
		return -1;
	}
	rc = list_load_fd(l, fd, path, options_allowed, err);
	close(fd);
	return rc;
}

static int
load_fd(struct list *l, int fd, const char *path, int options_allowed,
    struct salvage *sv, struct fed_err *err)
{
	char *buf;
	size_t len;

	memset(l, 0, sizeof *l);
	if ((l->path = strdup(path)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		return -1;
	}
	if (fed_read_fd(fd, path, LIST_FILE_MAX, &buf, &len, err) == -1) {
		list_free(l);
		return -1;
	}
	if (parse_owned(l, path, buf, len, options_allowed, sv, err) == -1) {
		list_free(l);	/* frees buf, now the arena */
		return -1;
	}
	return 0;
}

int
list_load_fd(struct list *l, int fd, const char *path, int options_allowed,
    struct fed_err *err)
{
	return load_fd(l, fd, path, options_allowed, NULL, err);
}

int
list_load_fd_salvage(struct list *l, int fd, const char *path,
    int options_allowed, size_t *nbad, struct fed_err *bad,
    struct fed_err *err)
{
	struct salvage sv = { 0, 0, bad };

	*nbad = 0;
	if (load_fd(l, fd, path, options_allowed, &sv, err) == -1)
		return -1;
	*nbad = sv.n;
	return 0;
}

int
list_check_fd(int fd, const char *path, int options_allowed, size_t *nbad,
    struct fed_err *bad, struct fed_err *err)
{
	struct list_entry ent;
	struct fed_err e;
	char scratch[LIST_LINE_SCRATCH], *buf, *p, *end, *nl;
	size_t len, a;
	unsigned lineno = 0;

	*nbad = 0;
	if (fed_read_fd(fd, path, LIST_FILE_MAX, &buf, &len, err) == -1)
		return -1;
	p = buf;
	end = buf + len;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		lineno++;
		a = 0;
		if (parse_line(p, nl, scratch, &a, options_allowed, &ent, &e) ==
		    -1 && (*nbad)++ == 0)
			fed_err_set(bad, "%s:%u: %s", path, lineno, e.msg);
	}
	free(buf);
	return 0;
}

static const struct list_entry *
find(const struct list *l, const char *name)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, l->v[mid].name);

		if (c == 0)
			return &l->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct list_entry *
list_lookup(const struct list *l, const char *domain)
{
	char buf[DOMAIN_MAX + 3];
	const struct list_entry *e;
	size_t n, i;

	if (l == NULL || l->n == 0 || domain == NULL)
		return NULL;
	n = strnlen(domain, DOMAIN_MAX + 2);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n > DOMAIN_MAX)
		return NULL;	/* no entry is that long */
	buf[0] = '.';
	for (i = 0; i < n; i++)
		buf[i + 1] = lower(domain[i]);
	buf[n + 1] = '\0';
	if ((e = find(l, buf + 1)) != NULL)
		return e;
	/* .a.b.example.com, then .b.example.com, ...: longest first. */
	for (i = 0; i <= n; i++)
		if (buf[i] == '.' && (e = find(l, buf + i)) != NULL)
			return e;
	return NULL;
}

void
list_free(struct list *l)
{
	if (l == NULL)
		return;
	free(l->path);
	free(l->v);
	free(l->arena);
	memset(l, 0, sizeof *l);
}
