/* sip.c: streaming SIP framer and header parser; every result is a slice of the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "sip.h"

/*
 * Character classes, RFC 3261 section 25.  One table lookup per byte keeps
 * the grammar checks cheap; the sets are:
 *   C_TOKEN   token: alphanum - . ! % * _ + ` ' ~
 *   C_USER    URI user: unreserved / user-unreserved (& = + $ , ; ? /)
 *   C_PASS    URI password: unreserved & = + $ ,
 *   C_PARAM   URI parameters: unreserved [ ] / : & + $ = ; %
 *   C_UHDR    URI headers: unreserved [ ] / ? : + $ = & % and '@', which
 *             real clients send unescaped in Replaces and the like
 *   C_HOST    host names and IPv4: alphanum - .
 *   C_WORD    Call-ID word: token chars ( ) < > : \ " / [ ] ? { }
 *   C_HEX     hex digits
 *   C_GVAL    gen-value without quotes: token chars and [ ] : (host)
 *   C_SCHEME  URI scheme after its first letter: alphanum + - .
 *   C_UFAST   C_USER but '?': the bytes of a plain user@ prefix
 * (unreserved = alphanum - _ . ! ~ * ' ( ).)
 */
enum {
	C_TOKEN = 1 << 0, C_USER = 1 << 1, C_PASS = 1 << 2, C_PARAM = 1 << 3,
	C_UHDR = 1 << 4, C_HOST = 1 << 5, C_WORD = 1 << 6, C_HEX = 1 << 7,
	C_GVAL = 1 << 8, C_SCHEME = 1 << 9, C_UFAST = 1 << 10
};

static const uint16_t cls[256] = {
	['!'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_WORD | C_GVAL | C_UFAST,
	['"'] = C_WORD,
	['$'] = C_USER | C_PASS | C_PARAM | C_UHDR | C_UFAST,
	['%'] = C_TOKEN | C_PARAM | C_UHDR | C_WORD | C_GVAL,
	['&'] = C_USER | C_PASS | C_PARAM | C_UHDR | C_UFAST,
	['\''] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_WORD | C_GVAL | C_UFAST,
	['('] = C_USER | C_PASS | C_PARAM | C_UHDR | C_WORD | C_UFAST,
	[')'] = C_USER | C_PASS | C_PARAM | C_UHDR | C_WORD | C_UFAST,
	['*'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_WORD | C_GVAL | C_UFAST,
	['+'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	[','] = C_USER | C_PASS | C_UFAST,
	['-'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['.'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['/'] = C_USER | C_PARAM | C_UHDR | C_WORD | C_UFAST,
	['0'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['1'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['2'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['3'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['4'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['5'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['6'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['7'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['8'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['9'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	[':'] = C_PARAM | C_UHDR | C_WORD | C_GVAL,
	[';'] = C_USER | C_PARAM | C_UFAST,
	['<'] = C_WORD,
	['='] = C_USER | C_PASS | C_PARAM | C_UHDR | C_UFAST,
	['>'] = C_WORD,
	['?'] = C_USER | C_UHDR | C_WORD,
	['@'] = C_UHDR,
	['A'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['B'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['C'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['D'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['E'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['F'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['G'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['H'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['I'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['J'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['K'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['L'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['M'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['N'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['O'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['P'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['Q'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['R'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['S'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['T'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['U'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['V'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['W'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['X'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['Y'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['Z'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['['] = C_PARAM | C_UHDR | C_WORD | C_GVAL,
	['\\'] = C_WORD,
	[']'] = C_PARAM | C_UHDR | C_WORD | C_GVAL,
	['_'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_WORD | C_GVAL | C_UFAST,
	['`'] = C_TOKEN | C_WORD | C_GVAL,
	['a'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['b'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['c'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['d'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['e'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['f'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_HEX | C_GVAL | C_SCHEME | C_UFAST,
	['g'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['h'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['i'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['j'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['k'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['l'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['m'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['n'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['o'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['p'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['q'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['r'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['s'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['t'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['u'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['v'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['w'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['x'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['y'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['z'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_HOST | C_WORD | C_GVAL | C_SCHEME | C_UFAST,
	['{'] = C_WORD,
	['}'] = C_WORD,
	['~'] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_UHDR | C_WORD | C_GVAL | C_UFAST,
};

#define IS(c, k)	((cls[(unsigned char)(c)] & (k)) != 0)
#define IS_WSP(c)	((c) == ' ' || (c) == '\t')
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c)	((((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z'))

/* Bits for the headers that may appear once, and the mandatory ones. */
enum {
	SEEN_VIA = 1 << 0, SEEN_FROM = 1 << 1, SEEN_TO = 1 << 2,
	SEEN_CALL_ID = 1 << 3, SEEN_CSEQ = 1 << 4, SEEN_MAX_FORWARDS = 1 << 5,
	SEEN_CONTENT_LENGTH = 1 << 6, SEEN_UA = 1 << 7
};

/* What one parse of a message head collects beside the sip_msg itself. */
struct head {
	struct sip_msg *m;
	const char *reason;	/* the first reason the message is malformed */
	int code;
	const char *fatal;	/* a framing error: the stream cannot go on */
	int fatal_code;
	unsigned seen;
	long cl;		/* Content-Length, -1 if absent */
	const char *cl_bad;	/* why Content-Length cannot frame */
};

/* Record why the message is malformed; the first reason wins. */
static void
bad(struct head *h, const char *why, int code)
{
	if (h->reason == NULL) {
		h->reason = why;
		h->code = code;
	}
}

static struct fed_str
mkstr(const char *p, const char *e)
{
	struct fed_str s = { p, (size_t)(e - p) };

	return s;
}

/*
 * Skip linear white space.  Inside a header value CR and LF only occur as
 * folding (anything else was already reported as malformed), so every
 * CR, LF, SP and HT can be skipped alike.
 */
static const char *
skip_lws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

static int
is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline const char *
skip_class(const char *p, const char *e, unsigned k)
{
	/*
	 * Unrolled: this loop is hot (names, tokens).  bench/parse measures
	 * the parser alone at 1.2M msg/s on the quiet 2-core machine (0.8M
	 * under load).  By perf, parse_head and what is inlined into it take
	 * ~45%, parse_host ~10%, sip_uri_parse ~6%, parse_params ~6%: the
	 * next steps, if needed, are SSE2 scans for long values (Call-ID,
	 * branch), lighter per-header dispatch, and parsing From/To/Contact
	 * URIs only as far as policy needs them.
	 */
	for (; e - p >= 4; p += 4) {
		if (!IS(p[0], k))
			return p;
		if (!IS(p[1], k))
			return p + 1;
		if (!IS(p[2], k))
			return p + 2;
		if (!IS(p[3], k))
			return p + 3;
	}
	while (p < e && IS(*p, k))
		p++;
	return p;
}

/* p at '"': the byte after the closing quote, or NULL if unterminated. */
const char *
sip_skip_quoted(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\') {
			if (++p == e)
				return NULL;
		} else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Lower-case compare of token bytes with a lower-case name. */
static int
name_is(const char *p, const char *lower, size_t n)
{
	size_t i;

	/* Token bytes | 0x20 only fold A-Z onto a-z: see the table above. */
	for (i = 0; i < n; i++)
		if ((p[i] | 0x20) != lower[i])
			return 0;
	return 1;
}

static int
str_caseis_n(struct fed_str s, const char *lower, size_t n)
{
	return s.n == n && name_is(s.p, lower, n);
}

/* A literal's length is known at compile time: no strlen per call. */
#define str_caseis(s, lit)	str_caseis_n((s), (lit), sizeof(lit) - 1)

void
sip_limits_default(struct sip_limits *l)
{
	l->max_message = SIP_DEFAULT_MAX_MESSAGE;
	l->max_line = SIP_DEFAULT_MAX_LINE;
	l->max_headers = SIP_DEFAULT_MAX_HEADERS;
}

/* Method names, indexed by enum sip_method. */
static const char *const method_names[SIP_M__COUNT] = {
	NULL, "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "MESSAGE", "INFO",
	"UPDATE", "PRACK", "REFER", "SUBSCRIBE", "NOTIFY", "PUBLISH",
	"REGISTER"
};

enum sip_method
sip_method_id(struct fed_str s)
{
	int i;

	/* Methods are case-sensitive (RFC 3261 7.1): a plain compare. */
	if (s.n < 3 || s.n > 9)
		return SIP_M_OTHER;
	for (i = 1; i < SIP_M__COUNT; i++)
		if (method_names[i][0] == s.p[0] && fed_str_eq(s,
		    method_names[i]))
			return (enum sip_method)i;
	return SIP_M_OTHER;
}

const char *
sip_method_name(enum sip_method m)
{
	if ((int)m <= 0 || m >= SIP_M__COUNT)
		return NULL;
	return method_names[m];
}

const struct sip_hdr *
sip_hdr_find(const struct sip_msg *m, enum sip_hdr_id id)
{
	unsigned i;

	for (i = 0; i < m->nhdr; i++)
		if (m->hdr[i].id == id)
			return &m->hdr[i];
	return NULL;
}

/*
 * name_is() for n <= 16 when 16 bytes at p may be read: two word compares.
 * `lower` is the name zero-padded to 17 bytes.
 */
static int
name_is16(const char *p, const char *lower, size_t n)
{
	static const unsigned char ff[32] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};
	const uint64_t f = 0x2020202020202020ULL;
	uint64_t a, b, la, lb, ma, mb;

	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	memcpy(&la, lower, 8);
	memcpy(&lb, lower + 8, 8);
	memcpy(&ma, ff + 16 - n, 8);	/* 0xff on the name's n bytes */
	memcpy(&mb, ff + 24 - n, 8);
	return (((a | f) & ma) ^ la) == 0 && (((b | f) & mb) ^ lb) == 0;
}

/*
 * Header names by length, then first letter, then a folded compare: one
 * switch instead of a chain of strcasecmp.  Compact forms are RFC 3261
 * 7.3.3 and the later RFCs' (o Event, r Refer-To, k Supported).  `wide`
 * says 16 bytes at p may be read.
 */
static enum sip_hdr_id
hdr_id(const char *p, size_t n, int wide)
{
#define H(s, id) if (wide ? name_is16(p, (const char [17]){ s }, n) : \
    name_is(p, s, sizeof s - 1)) return id
	switch (n) {
	case 1:
		switch (p[0] | 0x20) {
		case 'v': return SIP_H_VIA;
		case 'f': return SIP_H_FROM;
		case 't': return SIP_H_TO;
		case 'i': return SIP_H_CALL_ID;
		case 'm': return SIP_H_CONTACT;
		case 'l': return SIP_H_CONTENT_LENGTH;
		case 'c': return SIP_H_CONTENT_TYPE;
		case 'e': return SIP_H_CONTENT_ENCODING;
		case 's': return SIP_H_SUBJECT;
		case 'k': return SIP_H_SUPPORTED;
		case 'o': return SIP_H_EVENT;
		case 'r': return SIP_H_REFER_TO;
		}
		break;
	case 2:
		H("to", SIP_H_TO);
		break;
	case 3:
		H("via", SIP_H_VIA);
		break;
	case 4:
		switch (p[0] | 0x20) {
		case 'c': H("cseq", SIP_H_CSEQ); break;
		case 'f': H("from", SIP_H_FROM); break;
		case 'd': H("date", SIP_H_DATE); break;
		}
		break;
	case 5:
		switch (p[0] | 0x20) {
		case 'r': H("route", SIP_H_ROUTE); break;
		case 'a': H("allow", SIP_H_ALLOW); break;
		case 'e': H("event", SIP_H_EVENT); break;
		}
		break;
	case 7:
		switch (p[0] | 0x20) {
		case 'c':
			H("call-id", SIP_H_CALL_ID);
			H("contact", SIP_H_CONTACT);
			break;
		case 's': H("subject", SIP_H_SUBJECT); break;
		}
		break;
	case 8:
		H("refer-to", SIP_H_REFER_TO);
		break;
	case 9:
		switch (p[0] | 0x20) {
		case 'f': H("fed-trust", SIP_H_FED_TRUST); break;
		case 's': H("supported", SIP_H_SUPPORTED); break;
		}
		break;
	case 10:
		H("user-agent", SIP_H_USER_AGENT);
		break;
	case 11:
		H("retry-after", SIP_H_RETRY_AFTER);
		break;
	case 12:
		switch (p[0] | 0x20) {
		case 'c': H("content-type", SIP_H_CONTENT_TYPE); break;
		case 'm': H("max-forwards", SIP_H_MAX_FORWARDS); break;
		case 'r': H("record-route", SIP_H_RECORD_ROUTE); break;
		}
		break;
	case 14:
		H("content-length", SIP_H_CONTENT_LENGTH);
		break;
	case 16:
		H("content-encoding", SIP_H_CONTENT_ENCODING);
		break;
	}
	return SIP_H_OTHER;
#undef H
}

/* ---- hosts and URIs ---- */

/* A dotted IPv4 address: four decimal parts of at most 255. */
static int
is_ipv4(const char *p, const char *e)
{
	int parts = 0, digits, v;

	for (;;) {
		for (digits = 0, v = 0; p < e && IS_DIGIT(*p); p++, digits++)
			if (digits < 3)
				v = v * 10 + (*p - '0');
		if (digits == 0 || digits > 3 || v > 255)
			return 0;
		parts++;
		if (p == e)
			return parts == 4;
		if (*p != '.' || parts == 4)
			return 0;
		p++;
	}
}

/*
 * Host name bytes for parse_host(); 0 for any other byte.  A '.' or '-'
 * after a '.' (or at the start), and a '.' after a '-', are the faults:
 * the high nibble of a byte's entry holds the kinds that may not follow.
 */
enum {
	H_DOT = 1 | (1 | 2) << 4, H_DASH = 2 | 1 << 4, H_DIGIT = 4,
	H_ALPHA = 8
};
static const unsigned char hostc[256] = {
	['-'] = H_DASH, ['.'] = H_DOT, ['0'] = H_DIGIT, ['1'] = H_DIGIT,
	['2'] = H_DIGIT, ['3'] = H_DIGIT, ['4'] = H_DIGIT, ['5'] = H_DIGIT,
	['6'] = H_DIGIT, ['7'] = H_DIGIT, ['8'] = H_DIGIT, ['9'] = H_DIGIT,
	['A'] = H_ALPHA, ['B'] = H_ALPHA, ['C'] = H_ALPHA, ['D'] = H_ALPHA,
	['E'] = H_ALPHA, ['F'] = H_ALPHA, ['G'] = H_ALPHA, ['H'] = H_ALPHA,
	['I'] = H_ALPHA, ['J'] = H_ALPHA, ['K'] = H_ALPHA, ['L'] = H_ALPHA,
	['M'] = H_ALPHA, ['N'] = H_ALPHA, ['O'] = H_ALPHA, ['P'] = H_ALPHA,
	['Q'] = H_ALPHA, ['R'] = H_ALPHA, ['S'] = H_ALPHA, ['T'] = H_ALPHA,
	['U'] = H_ALPHA, ['V'] = H_ALPHA, ['W'] = H_ALPHA, ['X'] = H_ALPHA,
	['Y'] = H_ALPHA, ['Z'] = H_ALPHA, ['a'] = H_ALPHA, ['b'] = H_ALPHA,
	['c'] = H_ALPHA, ['d'] = H_ALPHA, ['e'] = H_ALPHA, ['f'] = H_ALPHA,
	['g'] = H_ALPHA, ['h'] = H_ALPHA, ['i'] = H_ALPHA, ['j'] = H_ALPHA,
	['k'] = H_ALPHA, ['l'] = H_ALPHA, ['m'] = H_ALPHA, ['n'] = H_ALPHA,
	['o'] = H_ALPHA, ['p'] = H_ALPHA, ['q'] = H_ALPHA, ['r'] = H_ALPHA,
	['s'] = H_ALPHA, ['t'] = H_ALPHA, ['u'] = H_ALPHA, ['v'] = H_ALPHA,
	['w'] = H_ALPHA, ['x'] = H_ALPHA, ['y'] = H_ALPHA, ['z'] = H_ALPHA
};

/*
 * host = hostname / IPv4address / IPv6reference.  Returns the end of the
 * host, or NULL.  Inside brackets only hex digits, ':' and '.' are checked
 * (RFC 5118 4.10: the 3-colon form the RFC 3261 ABNF allows must pass).
 */
static const char *
parse_host(const char *p, const char *e, int *is_ip)
{
	const char *q, *top;
	int colons = 0;
	unsigned b, prev = H_DOT, badseq = 0;

	*is_ip = 0;
	if (p < e && *p == '[') {
		for (q = p + 1; q < e && (IS(*q, C_HEX) || *q == ':' ||
		    *q == '.'); q++)
			colons += *q == ':';
		if (q == e || *q != ']' || colons < 2)
			return NULL;
		*is_ip = 1;
		return q + 1;
	}
	/*
	 * One branch-free pass: labels of alphanum and inner '-', a
	 * trailing dot.  Each byte is checked against the one before it
	 * (the start counts as a '.'), no test on the way but the end.
	 */
	for (q = p; q < e && (b = hostc[(unsigned char)*q]) != 0; q++) {
		badseq |= b & (prev >> 4);
		prev = b;
	}
	if (q == p || (badseq & 15) || prev == H_DASH)
		return NULL;
	/* toplabel = ALPHA *( alphanum / "-" ): "1.2.3" is no host name. */
	top = q;
	if (top[-1] == '.')
		top--;			/* the trailing dot */
	while (top > p && top[-1] != '.')
		top--;
	if (IS_ALPHA(*top))
		return q;
	/* Digits and dots only: an IPv4 address, or nothing. */
	for (top = p; top < q && hostc[(unsigned char)*top] != H_ALPHA &&
	    hostc[(unsigned char)*top] != H_DASH; top++)
		;
	if (top < q || !is_ipv4(p, q))
		return NULL;
	*is_ip = 1;
	return q;
}

/* A port: 1..5 digits, at most 65535.  Returns its end or NULL. */
static const char *
parse_port(const char *p, const char *e, unsigned *port)
{
	const char *s = p;
	unsigned long v = 0;

	for (; p < e && IS_DIGIT(*p); p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return NULL;
	}
	if (p == s)
		return NULL;
	if (port != NULL)
		*port = (unsigned)v;
	return p;
}

/* Bytes of class k or %HH escapes; returns 0 if another byte occurs. */
static int
all_escaped(const char *p, const char *e, unsigned k)
{
	for (; p < e; p++) {
		if (IS(*p, k))
			continue;
		if (*p != '%' || e - p < 3 || !IS(p[1], C_HEX) ||
		    !IS(p[2], C_HEX))
			return 0;
		p += 2;
	}
	return 1;
}

/* Whether every '%' in [p, e) starts a %HH escape. */
static int
escapes_ok(const char *p, const char *e)
{
	while (p < e && (p = memchr(p, '%', (size_t)(e - p))) != NULL) {
		if (e - p < 3 || !IS(p[1], C_HEX) || !IS(p[2], C_HEX))
			return 0;
		p += 3;
	}
	return 1;
}

/* hostport [;params] [?headers] of a SIP URI; the end reached, or NULL. */
static const char *
parse_hostpart(const char *p, const char *e, struct sip_uri *u,
    const char **why)
{
	const char *q;

	q = parse_host(p, e, &u->host_is_ip);
	if (q == NULL) {
		*why = "bad host in URI";
		return NULL;
	}
	u->host = mkstr(p, q);
	p = q;
	if (p < e && *p == ':') {
		p = parse_port(p + 1, e, &u->port);
		if (p == NULL) {
			*why = "bad port in URI";
			return NULL;
		}
	}
	if (p < e && *p == ';') {
		q = skip_class(p + 1, e, C_PARAM);
		/*
		 * An escaped character is the character (RFC 3261
		 * 19.1.4), so `m%61ddr` is maddr: the relay checks decode
		 * parameters, and one whose escaping cannot be decoded
		 * (`%G1`, `%6` at the end) must not reach them, nor a
		 * server that would read it some other way (fedkit(7)).
		 */
		if (!escapes_ok(p + 1, q)) {
			*why = "bad escape in URI parameter";
			return NULL;
		}
		u->params = mkstr(p + 1, q);
		p = q;
	}
	if (p < e && *p == '?') {
		q = skip_class(p + 1, e, C_UHDR);
		u->headers = mkstr(p + 1, q);
		p = q;
	}
	return p;
}

static int
uri_fail(struct sip_error *err, const char *why)
{
	if (err != NULL) {
		err->reason = why;
		err->code = 400;
	}
	return -1;
}

int
sip_uri_parse(struct fed_str s, struct sip_uri *u, struct sip_error *err)
{
	const char *p = s.p, *e = s.p + s.n, *q, *at, *ques, *ui = NULL;
	const char *why = NULL;
	struct sip_uri tmp;
	/* cppcheck-suppress unassignedVariable ; static, so all zero */
	static const struct sip_uri zero_uri;
	int sip;

	*u = zero_uri;		/* a copy, not a memset: no rep stos */
	if (s.n == 0 || !IS_ALPHA(*p))
		return uri_fail(err, "bad URI scheme");
	if (e - p >= 4 && (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' &&
	    (p[2] | 0x20) == 'p' && (p[3] == ':' || (e - p >= 5 &&
	    (p[3] | 0x20) == 's' && p[4] == ':'))) {
		q = p[3] == ':' ? p + 3 : p + 4;	/* sip: or sips: */
		sip = 1;
	} else {
		q = skip_class(p + 1, e, C_SCHEME);
		if (q == e || *q != ':')
			return uri_fail(err, "bad URI scheme");
		sip = str_caseis(mkstr(p, q), "sip") ||
		    str_caseis(mkstr(p, q), "sips");
	}
	u->scheme = mkstr(p, q);
	u->opaque = mkstr(q + 1, e);
	if (u->opaque.n == 0)
		return uri_fail(err, "empty URI");
	if (!sip) {
		/* Any scheme is taken (RFC 4475 unkscm, novelsc, unksm2),
		 * if it holds no white space, control, quote or < >. */
		for (q = u->opaque.p; q < e; q++) {
			unsigned char c = (unsigned char)*q;

			if (c <= ' ' || c >= 0x7f || c == '<' || c == '>' ||
			    c == '"')
				return uri_fail(err, "bad character in URI");
		}
		return 0;
	}
	/* From here every byte is checked against the SIP URI grammar. */

	u->is_sip = 1;
	p = u->opaque.p;
	/*
	 * The common user@host: user bytes with no '?', ':' or '%' up to the
	 * '@' need none of the care below (the first '@', no '?' before it,
	 * no password, nothing escaped).
	 */
	for (q = p; q < e && IS(*q, C_UFAST); q++)
		;
	if (q < e && *q == '@' && q > p) {
		u->user = mkstr(p, q);
		p = q + 1;
		goto hostpart;
	}
	/*
	 * The userinfo ends at an '@'.  The user part may hold '?' and ';'
	 * (RFC 4475 intmeth, semiuri), but '@' can only be escaped there,
	 * so the first '@' ends it, unless a '?' comes first and what
	 * precedes the '?' is a whole hostport: then the '@' belongs to
	 * unescaped URI headers (sip:host?Replaces=a@b), which are common.
	 */
	at = memchr(p, '@', (size_t)(e - p));
	if (at != NULL) {
		ques = memchr(p, '?', (size_t)(at - p));
		ui = at;
		if (ques != NULL) {
			memset(&tmp, 0, sizeof tmp);
			if (parse_hostpart(p, ques, &tmp, &why) == ques)
				ui = NULL;
		}
	}
	if (ui != NULL) {
		const char *colon = memchr(p, ':', (size_t)(ui - p));
		const char *ue = colon != NULL ? colon : ui;

		if (ue == p || !all_escaped(p, ue, C_USER))
			return uri_fail(err, "bad user part in URI");
		if (colon != NULL && !all_escaped(colon + 1, ui, C_PASS))
			return uri_fail(err, "bad password in URI");
		u->user = mkstr(p, ue);
		p = ui + 1;
	}
hostpart:
	q = parse_hostpart(p, e, u, &why);
	if (q == NULL)
		return uri_fail(err, why);
	if (q != e)
		return uri_fail(err, "bad character in URI");
	return 0;
}

static const char hexdig[] = "0123456789ABCDEF";

static int
hexval(char c)
{
	return IS_DIGIT(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* The host lowercased, without a trailing dot; brackets kept or not. */
static int
put_host(const struct sip_uri *u, char *buf, size_t sz, size_t o,
    int brackets)
{
	const char *p = u->host.p, *e = p + u->host.n;

	if (e > p && e[-1] == '.')
		e--;
	if (!brackets && e - p >= 2 && *p == '[' && e[-1] == ']') {
		p++;
		e--;
	}
	if (e == p)
		return -1;
	for (; p < e; p++) {
		if (o + 1 >= sz)
			return -1;
		buf[o++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p | 0x20) : *p;
	}
	buf[o] = '\0';
	return (int)o;
}

int
sip_uri_aor(const struct sip_uri *u, char *buf, size_t sz)
{
	const char *p, *e;
	size_t o = 0;

	if (!u->is_sip || u->host.n == 0 || sz == 0 || sz > INT32_MAX)
		return -1;
	p = e = u->user.p;
	if (u->user.n > 0)
		e = p + u->user.n;
	for (; p < e; p++) {
		if (o + 4 >= sz)
			return -1;
		if (*p == '%' && e - p >= 3 && IS(p[1], C_HEX) &&
		    IS(p[2], C_HEX)) {
			int d = hexval(p[1]) << 4 | hexval(p[2]);

			/* Decode what needs no escape; keep the rest
			 * escaped (even %00: never cut a key at NUL). */
			if (IS(d, C_USER))
				buf[o++] = (char)d;
			else {
				buf[o++] = '%';
				buf[o++] = hexdig[d >> 4];
				buf[o++] = hexdig[d & 15];
			}
			p += 2;
		} else
			buf[o++] = *p;
	}
	if (u->user.n > 0)
		buf[o++] = '@';
	return put_host(u, buf, sz, o, 1);
}

int
sip_uri_domain(const struct sip_uri *u, char *buf, size_t sz)
{
	if (!u->is_sip || u->host.n == 0 || sz == 0 || sz > INT32_MAX)
		return -1;
	return put_host(u, buf, sz, 0, 0);
}

int
sip_uri_param_next(struct fed_str *rest, struct sip_uri_param *param)
{
	const char *p = rest->p, *e, *n, *eq = NULL;

	if (rest->n == 0)
		return 0;	/* p may be NULL: no arithmetic on it */
	e = p + rest->n;
	for (n = p; p < e && *p != ';'; p++)
		if (*p == '=' && eq == NULL)
			eq = p;
	param->name = mkstr(n, eq != NULL ? eq : p);
	param->has_value = eq != NULL;
	param->value = eq != NULL ? mkstr(eq + 1, p) : mkstr(p, p);
	/* Past the ';', so that the rest is the next parameter. */
	*rest = p < e ? mkstr(p + 1, e) : mkstr(e, e);
	if (!escapes_ok(param->name.p, param->name.p + param->name.n) ||
	    !escapes_ok(param->value.p, param->value.p + param->value.n))
		return -1;
	return 1;
}

int
sip_unescape_next(struct fed_str s, size_t *pos)
{
	size_t i = *pos;
	int c;

	if (i >= s.n)
		return SIP_UNESCAPE_END;
	if (s.p[i] != '%') {
		*pos = i + 1;
		return (unsigned char)s.p[i];
	}
	if (s.n - i < 3 || !IS(s.p[i + 1], C_HEX) || !IS(s.p[i + 2], C_HEX))
		return SIP_UNESCAPE_BAD;
	c = hexval(s.p[i + 1]) << 4 | hexval(s.p[i + 2]);
	*pos = i + 3;
	return c;
}

int
sip_unescaped_caseeq(struct fed_str s, const char *lower)
{
	size_t pos = 0;
	int c, eq = 1;

	/* The whole of s is decoded even after a difference, so that an
	 * invalid escape is always reported. */
	for (;;) {
		c = sip_unescape_next(s, &pos);
		if (c == SIP_UNESCAPE_BAD)
			return SIP_UNESCAPE_BAD;
		if (c == SIP_UNESCAPE_END)
			return eq && *lower == '\0';
		if (*lower == '\0')
			eq = 0;
		else {
			if (c >= 'A' && c <= 'Z')
				c |= 0x20;
			if (c != (unsigned char)*lower)
				eq = 0;
			lower++;
		}
	}
}

/* ---- header values (RFC 3261 section 25) ---- */

/* Reasons by header, so the phrase names the header at fault. */
enum { R_JUNK, R_EMPTYPARAM, R_QUOTE, R_EMPTY, R_DISPLAY, R_NOGT,
    R_SPACE, R_QMARK, R__N };
static const char *const r_from[R__N] = {
	"junk after the URI in From", "empty parameter in From",
	"unterminated quoted string in From", "empty From",
	"bad display name in From", "missing '>' in From",
	"white space inside < > in From",
	"From URI with headers not in < >"
};
static const char *const r_to[R__N] = {
	"junk after the URI in To", "empty parameter in To",
	"unterminated quoted string in To", "empty To",
	"bad display name in To", "missing '>' in To",
	"white space inside < > in To",
	"To URI with headers not in < >"
};
static const char *const r_contact[R__N] = {
	"junk after the URI in Contact", "empty parameter in Contact",
	"unterminated quoted string in Contact", "empty element in Contact",
	"bad display name in Contact", "missing '>' in Contact",
	"white space inside < > in Contact",
	"Contact URI with headers not in < >"
};
static const char *const r_via[R__N] = {
	"junk in Via", "empty parameter in Via",
	"unterminated quoted string in Via", "empty element in Via",
	NULL, NULL, NULL, NULL
};

/*
 * Parameters after a URI or a Via sent-by: *( SEMI name [EQUAL value] ),
 * value a token, host or quoted string.  Stops at ',' or e.  *val gets the
 * value of the first parameter named `want` (branch, tag).
 */
static const char *
parse_params(const char *p, const char *e, const char *want, size_t wantn,
    struct fed_str *val, const char **why, const char *const *r)
{
	const char *n, *ne, *q, *v, *ve;

	for (;;) {
		p = skip_lws(p, e);
		if (p == e || *p == ',')
			return p;
		if (*p != ';') {
			*why = r[R_JUNK];
			return NULL;
		}
		p = skip_lws(p + 1, e);
		n = p;
		p = ne = skip_class(p, e, C_TOKEN);
		if (ne == n) {
			*why = r[R_EMPTYPARAM];
			return NULL;
		}
		v = ve = ne;
		q = skip_lws(p, e);
		if (q < e && *q == '=') {
			v = skip_lws(q + 1, e);
			if (v < e && *v == '"') {
				ve = sip_skip_quoted(v, e);
				if (ve == NULL) {
					*why = r[R_QUOTE];
					return NULL;
				}
			} else {
				ve = skip_class(v, e, C_GVAL);
				if (ve == v) {
					*why = r[R_EMPTYPARAM];
					return NULL;
				}
			}
			p = ve;
		}
		if (val != NULL && val->p == NULL &&
		    str_caseis_n(mkstr(n, ne), want, wantn))
			*val = mkstr(v, ve);
	}
}

/*
 * ( name-addr / addr-spec ) *( SEMI param ), RFC 3261 20.10: a URI with
 * ',', '?' or ';' must be in < >, so an addr-spec ends at the first of
 * them.  Returns the end (',' or e) or NULL with *why.
 */
static const char *
parse_addr(const char *p, const char *e, const char *const *r,
    struct sip_uri *uri, struct fed_str *tag, const char **why)
{
	const char *q, *u, *ue;
	struct sip_error ue_err;
	struct sip_uri tmp;

	if (uri == NULL)
		uri = &tmp;
	p = skip_lws(p, e);
	if (p == e || *p == ',') {
		*why = r[R_EMPTY];
		return NULL;
	}
	if (*p == '"') {
		p = sip_skip_quoted(p, e);
		if (p == NULL) {
			*why = r[R_QUOTE];
			return NULL;
		}
		p = skip_lws(p, e);
		if (p == e || *p != '<') {
			*why = r[R_DISPLAY];
			return NULL;
		}
	} else if (*p != '<') {
		q = skip_class(p, e, C_TOKEN);
		if (q == e || *q != ':') {
			/* Not a scheme: a display name of tokens and LWS,
			 * up to '<' (RFC 4475 lwsdisp has none before it;
			 * baddn's ',' is no token char). */
			while (q < e) {
				q = skip_lws(q, e);
				if (q < e && *q == '<')
					break;
				u = q;
				q = skip_class(q, e, C_TOKEN);
				if (q == u)
					break;
			}
			if (q == e || *q != '<') {
				*why = r[R_DISPLAY];
				return NULL;
			}
			p = q;
		}
	}
	if (*p == '<') {
		u = p + 1;
		ue = memchr(u, '>', (size_t)(e - u));
		if (ue == NULL) {
			*why = r[R_NOGT];
			return NULL;
		}
		/* RFC 4475 badaspec: nothing between < > and the URI. */
		if (ue == u || is_lws(*u) || is_lws(ue[-1])) {
			*why = r[R_SPACE];
			return NULL;
		}
		p = ue + 1;
	} else {
		u = p;
		while (p < e && *p != ';' && *p != ',' && !is_lws(*p))
			p++;
		ue = p;
		/* RFC 4475 regbadct: headers need the < > form. */
		if (memchr(u, '?', (size_t)(ue - u)) != NULL) {
			*why = r[R_QMARK];
			return NULL;
		}
	}
	if (sip_uri_parse(mkstr(u, ue), uri, &ue_err) < 0) {
		*why = ue_err.reason;
		return NULL;
	}
	return parse_params(p, e, "tag", 3, tag, why, r);
}

/* From or To: exactly one address. */
static const char *
check_fromto(const char *p, const char *e, const char *const *r,
    struct sip_uri *uri, struct fed_str *tag)
{
	const char *why = NULL;

	p = parse_addr(p, e, r, uri, tag, &why);
	if (p == NULL)
		return why;
	if (p != e)
		return r[R_JUNK];
	return NULL;
}

/* Contact: "*" or a comma list of addresses (RFC 4475 badinv01). */
static const char *
check_contact(const char *p, const char *e)
{
	const char *why = NULL;

	if (e - p == 1 && *p == '*')
		return NULL;
	for (;;) {
		p = parse_addr(p, e, r_contact, NULL, NULL, &why);
		if (p == NULL)
			return why;
		if (p == e)
			return NULL;
		p++;		/* the ',' */
	}
}

/*
 * Via: comma list of `SIP / 2.0 / transport LWS sent-by *(SEMI param)`,
 * with SWS allowed around every separator (RFC 4475 wsinv).  *branch gets
 * the first element's branch.
 */
static const char *
check_via(const char *p, const char *e, struct fed_str *branch)
{
	const char *q, *n, *why = NULL;
	struct fed_str part[3];
	int i, ip;

	for (;;) {
		p = skip_lws(p, e);
		if (p == e || *p == ',')
			return r_via[R_EMPTY];
		if (e - p >= 8 && (p[0] | 0x20) == 's' &&
		    (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'p' &&
		    memcmp(p + 3, "/2.0/", 5) == 0) {
			/* The usual SIP/2.0/transport, without any LWS
			 * inside: only the transport token to walk. */
			n = skip_lws(p + 8, e);
			p = skip_class(n, e, C_TOKEN);
			if (p == n)
				return "bad Via protocol";
			goto sent_by;
		}
		for (i = 0; i < 3; i++) {
			if (i > 0) {
				if (p == e || *p != '/')
					return "bad Via protocol";
				p = skip_lws(p + 1, e);
			}
			n = p;
			p = skip_class(p, e, C_TOKEN);
			if (p == n)
				return "bad Via protocol";
			part[i] = mkstr(n, p);
			q = skip_lws(p, e);
			if (i < 2)
				p = q;
		}
		if (!str_caseis(part[0], "sip") || !fed_str_eq(part[1], "2.0"))
			return "bad Via protocol version";
sent_by:
		q = skip_lws(p, e);
		if (q == p)
			return "bad Via sent-by";
		p = parse_host(q, e, &ip);
		if (p == NULL)
			return "bad Via sent-by";
		q = skip_lws(p, e);
		if (q < e && *q == ':') {
			p = parse_port(skip_lws(q + 1, e), e, NULL);
			if (p == NULL)
				return "bad Via sent-by port";
		}
		p = parse_params(p, e, "branch", 6, branch, &why, r_via);
		if (p == NULL)
			return why;
		if (p == e)
			return NULL;
		p++;
		branch = NULL;	/* only the top Via's */
	}
}

/* Call-ID = word [ "@" word ]. */
static int
check_callid(const char *p, const char *e)
{
	const char *q = skip_class(p, e, C_WORD);

	if (q == p)
		return 0;
	if (q < e && *q == '@') {
		p = q + 1;
		q = skip_class(p, e, C_WORD);
		if (q == p)
			return 0;
	}
	return q == e;
}

/* Digits to a value, saturating at cap+1: leading zeros are fine. */
static const char *
parse_num(const char *p, const char *e, unsigned long long cap,
    unsigned long long *v)
{
	const char *s = p;

	*v = 0;
	for (; p < e && IS_DIGIT(*p); p++) {
		*v = *v * 10 + (unsigned long long)(*p - '0');
		if (*v > cap)
			*v = cap + 1;
	}
	return p == s ? NULL : p;
}

/* ---- the message head ---- */

/* Content-Length values above this saturate: any of them is too big. */
#define CL_CAP	0x7ffffffeUL

/*
 * Whether s..e holds a byte below 0x20 or DEL, eight bytes at a time (the
 * "has less than" and "has zero byte" tricks).  HT, and the CR LF of
 * folding, also hit: then ctl_ok() walks the value exactly.  A value
 * without any of them, the common case, costs one pass of word compares.
 */
static int
has_ctl(const char *s, const char *e)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;
	uint64_t w, acc = 0;

	for (; e - s >= 8; s += 8) {
		memcpy(&w, s, 8);
		acc |= ((w - ones * 0x20) & ~w & highs) |
		    (((w ^ (ones * 0x7f)) - ones) & ~(w ^ (ones * 0x7f)) &
		    highs);
	}
	for (; s < e; s++)
		acc |= (unsigned char)*s < 0x20 || *s == 0x7f;
	return acc != 0;
}

/*
 * The first byte in p..e below 0x20 or DEL (CR, LF and HT included), or e.
 * The head's line walk: one pass finds each line's end and tells whether
 * the line holds any other control byte, so the common line is read once.
 */
static const char *
find_ctl(const char *p, const char *e)
{
#if defined(__SSE2__) && defined(__GNUC__)
	const __m128i lo = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);

	/* 32 bytes a turn: most header lines end within two. */
	for (; e - p >= 32; p += 32) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i y = _mm_loadu_si128((const __m128i *)(const void *)
		    (p + 16));
		__m128i c = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, lo),
		    x), _mm_cmpeq_epi8(x, del));
		__m128i d = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(y, lo),
		    y), _mm_cmpeq_epi8(y, del));
		unsigned mask = (unsigned)_mm_movemask_epi8(c) |
		    (unsigned)_mm_movemask_epi8(d) << 16;

		if (mask != 0)
			return p + __builtin_ctz(mask);
	}
	for (; e - p >= 16; p += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i c = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, lo),
		    x), _mm_cmpeq_epi8(x, del));
		unsigned mask = (unsigned)_mm_movemask_epi8(c);

		if (mask != 0)
			return p + __builtin_ctz(mask);
	}
#else
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;
	uint64_t w;

	for (; e - p >= 8; p += 8) {
		memcpy(&w, p, 8);
		if ((((w - ones * 0x20) & ~w & highs) |
		    (((w ^ (ones * 0x7f)) - ones) & ~(w ^ (ones * 0x7f)) &
		    highs)) != 0)
			break;
	}
#endif
	for (; p < e; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return p;
	return e;
}

/*
 * The exact rule: CR only in CRLF + WSP folding, no bare LF, other control
 * bytes only as a quoted-pair inside a quoted string (RFC 4475 intmeth has
 * raw NUL, BEL and DEL escaped so).
 */
static int
ctl_ok(const char *p, const char *e)
{
	int inq = 0;

	for (; p < e; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\r') {
			if (e - p >= 3 && p[1] == '\n' && IS_WSP(p[2])) {
				p += 2;
				continue;
			}
			return 0;
		}
		if (c == '\n')
			return 0;
		if (inq && c == '\\') {
			if (e - p < 2 || p[1] == '\r' || p[1] == '\n')
				return 0;
			p++;
		} else if (c == '"')
			inq = !inq;
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* Request-Line or Status-Line, p..e without its CRLF. */
static void
parse_start(struct head *h, const char *p, const char *e)
{
	struct sip_msg *m = h->m;
	const char *sp, *u, *last;
	struct sip_error ue;
	int code;

	if (e - p >= 4 && memcmp(p, "SIP/", 4) == 0) {
		/* SIP/2.0 SP 3DIGIT SP Reason-Phrase */
		sp = memchr(p, ' ', (size_t)(e - p));
		if (sp == NULL || sp - p != 7 || memcmp(p, "SIP/2.0", 7) != 0) {
			bad(h, "unsupported SIP version", 505);
			return;
		}
		u = sp + 1;
		if (e - u < 4 || !IS_DIGIT(u[0]) || !IS_DIGIT(u[1]) ||
		    !IS_DIGIT(u[2]) || u[3] != ' ') {
			bad(h, "bad status code", 400);
			return;
		}
		code = (u[0] - '0') * 100 + (u[1] - '0') * 10 + (u[2] - '0');
		if (code < 100 || code > 699) {
			bad(h, "status code out of range", 400);
			return;
		}
		m->status = code;
		m->reason = mkstr(u + 4, e);
		/* UTF-8 is fine in a reason phrase (RFC 4475 unreason). */
		if (has_ctl(u + 4, e) && !ctl_ok(u + 4, e))
			bad(h, "control character in the reason phrase", 400);
		return;
	}

	m->is_request = 1;
	sp = memchr(p, ' ', (size_t)(e - p));
	if (sp == NULL || sp == p) {
		bad(h, "bad request line", 400);
		return;
	}
	m->method = mkstr(p, sp);
	m->method_id = sip_method_id(m->method);
	if (skip_class(p, sp, C_TOKEN) != sp) {
		bad(h, "bad method", 400);
		return;
	}
	/* Exactly single spaces (RFC 4475 lwsstart, trws). */
	u = sp + 1;
	if (u == e || IS_WSP(*u)) {
		bad(h, "extra white space in the request line", 400);
		return;
	}
	if (IS_WSP(e[-1])) {
		bad(h, "trailing white space in the request line", 400);
		return;
	}
	last = memrchr(u, ' ', (size_t)(e - u));
	if (last == NULL) {
		bad(h, "bad request line", 400);
		return;
	}
	if (e - last - 1 != 7 || memcmp(last + 1, "SIP/2.0", 7) != 0) {
		if (e - last - 1 >= 4 && name_is(last + 1, "sip/", 4))
			bad(h, "unsupported SIP version", 505);
		else
			bad(h, "bad request line", 400);
		return;
	}
	m->ruri_raw = mkstr(u, last);
	/*
	 * A URI that parses holds no SP, HT or '<' (no URI grammar takes
	 * them), so those are only looked for when it fails: the reasons
	 * for them come first, and the URI then stays unset.
	 */
	if (sip_uri_parse(m->ruri_raw, &m->ruri, &ue) < 0) {
		if (memchr(u, ' ', (size_t)(last - u)) != NULL ||
		    memchr(u, '\t', (size_t)(last - u)) != NULL) {
			memset(&m->ruri, 0, sizeof m->ruri);
			bad(h, "white space in the Request-URI", 400);
		} else if (memchr(u, '<', (size_t)(last - u)) != NULL) {
			memset(&m->ruri, 0, sizeof m->ruri);
			bad(h, "Request-URI in < >", 400);
		} else
			bad(h, ue.reason, 400);
		return;
	}
	/* RFC 4475 escruri: never let a Request-URI carry headers. */
	if (m->ruri.is_sip && m->ruri.headers.p != NULL)
		bad(h, "headers in the Request-URI", 400);
}

/*
 * The headers that may appear only once: their bit in h->seen, and what
 * a second one makes the message.  Content-Length is not here: a second
 * one with another value cannot frame (content_length()).
 */
static const struct {
	unsigned bit;
	const char *twice;
} once[SIP_H__COUNT] = {
	[SIP_H_FROM] = { SEEN_FROM, "more than one From header" },
	[SIP_H_TO] = { SEEN_TO, "more than one To header" },
	[SIP_H_CALL_ID] = { SEEN_CALL_ID, "more than one Call-ID header" },
	[SIP_H_CSEQ] = { SEEN_CSEQ, "more than one CSeq header" },
	[SIP_H_MAX_FORWARDS] = { SEEN_MAX_FORWARDS,
	    "more than one Max-Forwards header" },
	/* Not a comma-list header, so never repeated (RFC 3261 7.3.1); a
	 * second one could hide a scanner's name from the User-Agent rule
	 * behind an innocent first one. */
	[SIP_H_USER_AGENT] = { SEEN_UA, "more than one User-Agent header" },
};

/* CSeq = 1*DIGIT LWS Method; a request's is its own method.  NULL, or
 * why not. */
static const char *
cseq(struct sip_msg *m, const char *vs, const char *ve)
{
	const char *q, *t;
	unsigned long long v;

	q = parse_num(vs, ve, 0xffffffffULL, &v);
	if (q == NULL || (t = skip_lws(q, ve)) == q)
		return "bad CSeq";
	if (v > 0xffffffffULL)
		return "CSeq number out of range";
	m->cseq = (uint32_t)v;
	q = skip_class(t, ve, C_TOKEN);
	if (q == t || q != ve)
		return "bad CSeq method";
	m->cseq_method = mkstr(t, q);
	if (m->is_request && m->method.n > 0 &&
	    (m->method.n != m->cseq_method.n ||
	    memcmp(m->method.p, t, m->method.n) != 0))
		return "CSeq method does not match the request method";
	return NULL;
}

/* Max-Forwards = 1*DIGIT, at most 255.  NULL, or why not. */
static const char *
max_forwards(const char *vs, const char *ve)
{
	unsigned long long v;
	const char *q = parse_num(vs, ve, 255, &v);

	if (q == NULL || q != ve)
		return "bad Max-Forwards";
	return v > 255 ? "Max-Forwards out of range" : NULL;
}

/*
 * Content-Length = 1*DIGIT.  A value that cannot frame the body (bad,
 * negative, or another than the first one's) is h->cl_bad: the stream
 * cannot go on.  The same value twice only makes the message malformed:
 * that is the reason returned, else NULL.
 */
static const char *
content_length(struct head *h, const char *vs, const char *ve)
{
	unsigned long long v;
	const char *q = parse_num(vs, ve, CL_CAP, &v);

	if (q == NULL || q != ve) {
		if (h->cl_bad == NULL)
			h->cl_bad = (vs < ve && *vs == '-') ?
			    "negative Content-Length" : "bad Content-Length";
		return NULL;
	}
	if (h->seen & SEEN_CONTENT_LENGTH) {
		if ((long)v == h->cl)
			return "more than one Content-Length header";
		if (h->cl_bad == NULL)
			h->cl_bad = "conflicting Content-Length headers";
		return NULL;
	}
	h->seen |= SEEN_CONTENT_LENGTH;
	h->cl = h->m->content_length = (long)v;
	return NULL;
}

/* Validate and extract one header value; h records what is wrong. */
static void
header(struct head *h, struct sip_hdr *hd)
{
	struct sip_msg *m = h->m;
	const char *vs = hd->value.p, *ve = vs + hd->value.n;
	const char *why = NULL;

	if (once[hd->id].bit != 0) {
		if (h->seen & once[hd->id].bit) {
			bad(h, once[hd->id].twice, 400);
			return;
		}
		h->seen |= once[hd->id].bit;
	}
	switch (hd->id) {
	case SIP_H_VIA:
		why = check_via(vs, ve, (h->seen & SEEN_VIA) ? NULL :
		    &m->via_branch);
		h->seen |= SEEN_VIA;
		break;
	case SIP_H_FROM:
		m->from_raw = hd->value;
		why = check_fromto(vs, ve, r_from, &m->from, &m->from_tag);
		break;
	case SIP_H_TO:
		m->to_raw = hd->value;
		why = check_fromto(vs, ve, r_to, &m->to, &m->to_tag);
		break;
	case SIP_H_CALL_ID:
		m->call_id = hd->value;
		if (!check_callid(vs, ve))
			why = "bad Call-ID";
		break;
	case SIP_H_CSEQ:
		why = cseq(m, vs, ve);
		break;
	case SIP_H_MAX_FORWARDS:
		why = max_forwards(vs, ve);
		break;
	case SIP_H_CONTENT_LENGTH:
		why = content_length(h, vs, ve);
		break;
	case SIP_H_DATE:
		/* RFC 3261 20.17: rfc1123-date, always GMT (baddate). */
		if (ve - vs < 3 || memcmp(ve - 3, "GMT", 3) != 0)
			why = "Date not in GMT";
		break;
	case SIP_H_CONTACT:
		why = check_contact(vs, ve);
		break;
	case SIP_H_USER_AGENT:
		m->user_agent = hd->value;
		break;
	default:
		break;
	}
	if (why != NULL)
		bad(h, why, 400);
}

/*
 * One logical header line ls..le (le after its LF).  `ctl` says whether a
 * control byte occurs before the line's final (CR)LF.
 */
static void
header_line(struct head *h, const char *ls, const char *le, int ctl)
{
	struct sip_msg *m = h->m;
	struct sip_hdr *hd = &m->hdr[m->nhdr++];
	const char *ee, *ne, *c, *vs, *ve;
	enum sip_hdr_id id;

	ee = le - 1;			/* at the LF */
	if (ee > ls && ee[-1] == '\r')
		ee--;
	ne = NULL;
	id = SIP_H_OTHER;
#if defined(__SSE2__) && defined(__GNUC__)
	/*
	 * A name known by the first ':', SP or HT of a 16-byte line start is
	 * all token bytes and ends there: no byte-by-byte walk.  Not with
	 * a control byte in the line: CR | 0x20 is '-'.
	 */
	if (!ctl && ee - ls >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)ls);
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(':')),
		    _mm_cmpeq_epi8(x, _mm_set1_epi8(' '))),
		    _mm_cmpeq_epi8(x, _mm_set1_epi8('\t'))));

		if (mask != 0) {
			size_t n = (size_t)__builtin_ctz(mask);

			id = hdr_id(ls, n, 1);
			if (id != SIP_H_OTHER)
				ne = ls + n;
		}
	}
#endif
	if (ne == NULL) {
		for (ne = ls; ne < ee && IS(*ne, C_TOKEN); ne++)
			;		/* names are short: no call */
		id = hdr_id(ls, (size_t)(ne - ls), 0);
	}
	hd->id = SIP_H_OTHER;
	hd->name = mkstr(ls, ne);
	hd->value = mkstr(ee, ee);
	hd->line = mkstr(ls, le);
	if (ne == ls) {
		bad(h, IS_WSP(*ls) ? "folded line without a header" :
		    "bad header name", 400);
		return;
	}
	/* HCOLON = *( SP / HTAB ) ":" SWS (RFC 4475 wsinv). */
	for (c = ne; c < ee && IS_WSP(*c); c++)
		;
	if (c == ee || *c != ':') {
		bad(h, c == ne && c < ee ? "bad character in header name" :
		    "header line without a colon", 400);
		return;
	}
	c++;
	if (ctl && has_ctl(c, ee) && !ctl_ok(c, ee))
		bad(h, "control character in a header value", 400);
	vs = skip_lws(c, ee);
	for (ve = ee; ve > vs && is_lws(ve[-1]); ve--)
		;
	hd->value = mkstr(vs, ve);
	hd->id = id;
	if (hd->id != SIP_H_OTHER)
		header(h, hd);
}

static void
head_fatal(struct head *h, const char *why)
{
	h->fatal = why;
	h->fatal_code = 513;
}

/*
 * The start line and the header lines from buf up to the empty line that
 * ends them, looked for before limit: finding the end and parsing are one
 * pass, so a message already whole in the buffer (the common case) is read
 * once.  Returns the empty line, or NULL if there is none before limit, or
 * on a framing error (h->fatal: a line over max_line, too many lines).
 * Other faults only mark the message malformed, and the walk goes on so
 * that Content-Length is still found.  `final` says no byte follows limit
 * (a datagram), so a last line without the empty line is still parsed.
 */
static const char *
parse_head(struct head *h, const char *buf, const char *limit,
    const struct sip_limits *lim, int final)
{
	struct sip_msg *m = h->m;
	const char *p, *q, *nl, *ls;
	int ctl;
	unsigned maxh = lim->max_headers < SIP_HDR_MAX ? lim->max_headers :
	    SIP_HDR_MAX;

	nl = memchr(buf, '\n', (size_t)(limit - buf));
	if (nl == NULL)
		return NULL;
	if ((size_t)(nl - buf) > lim->max_line) {
		head_fatal(h, "start line too long");
		return NULL;
	}
	if (nl == buf || nl[-1] != '\r') {
		bad(h, "bare LF in the start line", 400);
		parse_start(h, buf, nl);
	} else
		parse_start(h, buf, nl - 1);
	for (p = nl + 1; ; ) {
		/* p follows an LF.  CRLF CRLF ends the head, as memmem
		 * would find it (a bare LF before the CRLF does not). */
		if (limit - p < 2)
			break;
		if (p[0] == '\r' && p[1] == '\n' && p[-1] == '\n' &&
		    p - buf >= 2 && p[-2] == '\r')
			return p;
		ls = p;
		ctl = 0;
		for (;;) {
			/* The next LF; any other control byte on the way
			 * (HT, a lone CR ...) sets ctl. */
			q = find_ctl(p, limit);
			if (q == limit)
				return NULL;
			if (*q == '\r' && limit - q >= 2 && q[1] == '\n')
				nl = q + 1;
			else if (*q == '\n') {
				nl = q;
				bad(h, "bare LF in the header section", 400);
			} else {
				ctl = 1;
				p = q + 1;
				continue;
			}
			p = nl + 1;
			if ((size_t)(p - ls) > lim->max_line) {
				head_fatal(h, "header line too long");
				return NULL;
			}
			if (p == limit && !final)
				return NULL;	/* folded or not? */
			if (p < limit && IS_WSP(*p)) {
				ctl = 1;
				continue;	/* folding */
			}
			break;
		}
		if (m->nhdr >= maxh) {
			head_fatal(h, "too many header lines");
			return NULL;
		}
		header_line(h, ls, p, ctl);
	}
	return NULL;
}

/* What a whole head must have. */
static void
head_done(struct head *h)
{
	if (h->m->is_request && !(h->seen & SEEN_VIA))
		bad(h, "missing Via header", 400);
	/* Responses need no Via here: whoever routes them checks it. */
	if (!(h->seen & SEEN_FROM))
		bad(h, "missing From header", 400);
	if (!(h->seen & SEEN_TO))
		bad(h, "missing To header", 400);
	if (!(h->seen & SEEN_CALL_ID))
		bad(h, "missing Call-ID header", 400);
	if (!(h->seen & SEEN_CSEQ))
		bad(h, "missing CSeq header", 400);
}

/* ---- framing ---- */

/*
 * *scanned with this bit set means "the head is complete and the whole
 * message needs the rest of the value in bytes": while the body trickles
 * in, the head is not parsed again on every call.
 */
#define NEED_FLAG	((size_t)1 << (sizeof(size_t) * 8 - 1))

static const struct sip_limits default_limits = {
	SIP_DEFAULT_MAX_MESSAGE, SIP_DEFAULT_MAX_LINE, SIP_DEFAULT_MAX_HEADERS
};

static void
msg_reset(struct sip_msg *m)
{
	/* The fixed fields only: hdr[] is big and nhdr bounds it. */
	memset(m, 0, offsetof(struct sip_msg, hdr));
	m->content_length = -1;
}

static void
head_init(struct head *h, struct sip_msg *m)
{
	memset(h, 0, sizeof *h);
	h->m = m;
	h->cl = -1;
}

static void
set_err(struct sip_error *err, const char *reason, int code)
{
	err->reason = reason;
	err->code = code;
}

enum sip_frame_result
sip_frame(const char *buf, size_t len, const struct sip_limits *lim,
    size_t *scanned, size_t *used, struct sip_msg *msg,
    struct sip_error *err)
{
	struct head h;
	const char *end, *limit;
	size_t s = *scanned, from, room, hlen;

	if (lim == NULL)
		lim = &default_limits;
	*used = 0;
	set_err(err, NULL, 0);
	if (len == 0)
		return SIP_FRAME_MORE;
	/* RFC 5626 3.5.1: CRLFCRLF is a ping, a lone CRLF its pong. */
	if (buf[0] == '\r') {
		if (len == 1)
			return SIP_FRAME_MORE;
		if (buf[1] == '\n') {
			if (len == 2 || (len == 3 && buf[2] == '\r'))
				return SIP_FRAME_MORE;
			*scanned = 0;
			*used = (buf[2] == '\r' && buf[3] == '\n') ? 4 : 2;
			return SIP_FRAME_KEEPALIVE;
		}
	}
	if (s & NEED_FLAG) {
		if (len < (s & ~NEED_FLAG))
			return SIP_FRAME_MORE;
		s = 0;
	}
	if (s > len)
		s = 0;
	/* Only a head that ends within max_message counts. */
	room = len < lim->max_message ? len : lim->max_message;
	limit = buf + room;
	if (s > 0) {
		/* An earlier call parsed up to here in vain: search on
		 * cheaply, and parse once the end is there. */
		from = s > 3 ? s - 3 : 0;
		end = from < room ? memmem(buf + from, room - from,
		    "\r\n\r\n", 4) : NULL;
		if (end == NULL)
			goto more;
		limit = end + 4;
	}
	msg_reset(msg);
	head_init(&h, msg);
	end = parse_head(&h, buf, limit, lim, 0);
	if (end == NULL) {
		/* A line too long or too many lines only count once the
		 * head is whole, so chunking never changes the verdict. */
		if (h.fatal != NULL && memmem(buf, room, "\r\n\r\n", 4)) {
			*scanned = 0;
			set_err(err, h.fatal, h.fatal_code);
			return SIP_FRAME_ERROR;
		}
		goto more;
	}
	head_done(&h);
	hlen = (size_t)(end - buf) + 2;
	*scanned = 0;
	/* Without a length the stream is lost (RFC 3261 18.3).  The head
	 * is whole, though: header_len says so, and the caller may answer
	 * it before it closes. */
	if (h.cl_bad != NULL) {
		msg->header_len = hlen;
		msg->body = mkstr(buf + hlen, buf + hlen);
		set_err(err, h.cl_bad, 400);
		return SIP_FRAME_ERROR;
	}
	if (h.cl < 0) {
		msg->header_len = hlen;
		msg->body = mkstr(buf + hlen, buf + hlen);
		set_err(err, "Content-Length missing", 400);
		return SIP_FRAME_ERROR;
	}
	/* Refuse now: never make the caller buffer a huge body. */
	if ((size_t)h.cl > lim->max_message - hlen) {
		msg->header_len = hlen;
		msg->body = mkstr(buf + hlen, buf + hlen);
		set_err(err, "message too large", 513);
		return SIP_FRAME_ERROR;
	}
	if (len - hlen < (size_t)h.cl) {
		*scanned = (hlen + (size_t)h.cl) | NEED_FLAG;
		return SIP_FRAME_MORE;
	}
	msg->header_len = hlen;
	msg->body_len = (size_t)h.cl;
	msg->body = mkstr(buf + hlen, buf + hlen + h.cl);
	*used = hlen + (size_t)h.cl;
	if (h.reason != NULL) {
		set_err(err, h.reason, h.code);
		return SIP_FRAME_MALFORMED;
	}
	return SIP_FRAME_MESSAGE;

more:
	if (len >= lim->max_message) {
		*scanned = 0;
		set_err(err, "header section too large", 513);
		return SIP_FRAME_ERROR;
	}
	*scanned = room;
	return SIP_FRAME_MORE;
}

static int
dgram_fail(struct sip_error *err, const char *reason, int code)
{
	set_err(err, reason, code);
	return -1;
}

int
sip_parse_datagram(const char *buf, size_t len, const struct sip_limits *lim,
    struct sip_msg *msg, struct sip_error *err)
{
	struct head h;
	const char *end;
	size_t hlen, rest;

	if (lim == NULL)
		lim = &default_limits;
	msg_reset(msg);
	set_err(err, NULL, 0);
	if (len > lim->max_message)
		return dgram_fail(err, "message too large", 513);
	if ((len == 2 && memcmp(buf, "\r\n", 2) == 0) ||
	    (len == 4 && memcmp(buf, "\r\n\r\n", 4) == 0))
		return dgram_fail(err, "keep-alive", 0);
	head_init(&h, msg);
	end = parse_head(&h, buf, buf + len, lim, 1);
	if (h.fatal != NULL)
		return dgram_fail(err, h.fatal, h.fatal_code);
	head_done(&h);
	/* No empty line (RFC 4475 baddn): the lines there are were
	 * parsed, so the reason names the worst fault. */
	hlen = end != NULL ? (size_t)(end - buf) + 2 : len;
	rest = len - hlen;
	msg->header_len = hlen;
	if (h.cl_bad == NULL && h.cl >= 0 && (size_t)h.cl <= rest)
		rest = (size_t)h.cl;	/* octets beyond it are ignored */
	msg->body_len = rest;
	msg->body = mkstr(buf + hlen, buf + hlen + rest);
	if (h.reason != NULL)
		return dgram_fail(err, h.reason, h.code);
	if (end == NULL)
		return dgram_fail(err, "header section not terminated", 400);
	if (h.cl_bad != NULL)
		return dgram_fail(err, h.cl_bad, 400);
	if (h.cl >= 0 && (size_t)h.cl > rest)
		return dgram_fail(err, "Content-Length larger than the datagram",
		    400);
	return 0;
}
