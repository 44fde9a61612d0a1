/* sipreply.c: the responses fedgate builds itself, and the relay check. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"
#include "sipreply.h"

/*
 * A phrase longer than this is refused, so that SIP_REPLY_CAP holds: the
 * copied lines are a part of the request (at most max_message), extra is
 * at most SIP_REPLY_EXTRA_MAX, and the rest (status line, To tag, Server,
 * Content-Length, empty line) is 72 bytes beside the phrase: well inside
 * the 512 bytes of slack.
 */
#define PHRASE_MAX	256

/* Route values looked at per request: a longer list counts as foreign. */
#define ROUTE_MAX	64

/* Bytes of output, and whether they all fit. */
struct out {
	char *p;
	size_t cap, n;
	int full;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->n) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void
put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A number as 8 bytes, least significant first: the same tag whatever
 * the byte order of the machine that makes it. */
static uint64_t
fnv_u64(uint64_t h, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++, v >>= 8)
		b[i] = (unsigned char)(v & 0xff);
	return fed_fnv1a64(h, b, sizeof b);
}

/* A field with its length first, so "ab"+"c" and "a"+"bc" differ. */
static uint64_t
fnv_str(uint64_t h, struct fed_str s)
{
	h = fnv_u64(h, s.n);
	return s.n > 0 ? fed_fnv1a64(h, s.p, s.n) : h;
}

/*
 * The To tag for a request that has none: 16 hex digits of a hash of
 * what identifies the request's transaction.  RFC 3261 8.2.7 asks a
 * stateless UAS to make the same tag for the same request, so a
 * retransmission (or a second fedgate process, after a reconnect) gets
 * the same one; the CSeq method is left out so that the 200 to a CANCEL
 * carries the tag of the INVITE's response, as 9.2 asks.
 */
static void
to_tag(const struct sip_msg *m, char tag[16])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = FED_FNV1A64_OFFSET;
	int i;

	h = fnv_str(h, m->call_id);
	h = fnv_str(h, m->from_tag);
	h = fnv_str(h, m->via_branch);
	h = fnv_u64(h, m->cseq);
	for (i = 15; i >= 0; i--, h >>= 4)
		tag[i] = hex[h & 15];
}

static int
ends_crlf(struct fed_str s)
{
	return s.n >= 2 && s.p[s.n - 2] == '\r' && s.p[s.n - 1] == '\n';
}

/*
 * The first header with this id, if its value is the one the parser
 * recorded in `want` (the parser records the first such header, so this
 * only fails when msg was not filled by the parser as expected: then we
 * cannot be sure which header the recorded facts came from).
 */
static const struct sip_hdr *
first_hdr(const struct sip_msg *m, enum sip_hdr_id id, struct fed_str want)
{
	const struct sip_hdr *h = sip_hdr_find(m, id);

	if (h == NULL || h->value.p != want.p || h->value.n != want.n ||
	    !ends_crlf(h->line))
		return NULL;
	return h;
}

/*
 * Whether the reply reads back as the response we meant (this code, this
 * To tag), through the very parser a partner's messages go through.  On the malformed path
 * the header we copy may be the bad one (a Via that does not parse, a
 * Call-ID with a space, a bare LF): rather than repeat the parser's
 * grammar here, the result is checked whole, and a reply that would
 * itself be malformed is never sent.
 */
static int
reply_parses(const char *buf, size_t n, int code, struct fed_str tag)
{
	struct sip_msg r;	/* ~15 KiB: fine on a non-recursive path */
	struct sip_limits lim;
	struct sip_error err;
	size_t scanned = 0, used = 0;

	lim.max_message = n;
	lim.max_line = n;
	lim.max_headers = SIP_HDR_MAX;
	return sip_frame(buf, n, &lim, &scanned, &used, &r, &err) ==
	    SIP_FRAME_MESSAGE && used == n && !r.is_request &&
	    r.status == code && r.body_len == 0 && r.to_tag.n == tag.n &&
	    memcmp(r.to_tag.p, tag.p, tag.n) == 0;
}

/* The caller's phrase and extra lines: short, no control byte that could
 * end the status line, whole CRLF-ended header lines. */
static int
reply_args_ok(const char *phrase, size_t plen, const char *extra, size_t elen)
{
	size_t i;

	if (plen > PHRASE_MAX)
		return 0;
	for (i = 0; i < plen; i++)
		if ((unsigned char)phrase[i] < 0x20 || phrase[i] == 0x7f)
			return 0;
	return elen <= SIP_REPLY_EXTRA_MAX &&
	    (elen == 0 || ends_crlf((struct fed_str){ extra, elen }));
}

/* May this request be answered at all? */
static int
answerable(const struct sip_msg *req)
{
	const struct sip_hdr *last;
	const char *end;

	/*
	 * Never answer an ACK (RFC 3261 17.2.1).  On the malformed path the
	 * request line may not have given a method, or a different one
	 * from CSeq: either naming ACK is enough to stay silent.  A CSeq
	 * method is required, which also means the CSeq number (hashed
	 * into the tag) was read.
	 */
	if (!req->is_request || req->method_id == SIP_M_ACK ||
	    req->cseq_method.n == 0 || (req->cseq_method.n == 3 &&
	    memcmp(req->cseq_method.p, "ACK", 3) == 0))
		return 0;
	/*
	 * Only a head the parser walked to its end.  After a framing error
	 * (a line too long, too many lines) hdr[] stops short and
	 * header_len stays 0, and a datagram cut inside a line loses that
	 * line: either could hide a Via.  So the last line recorded must end
	 * where the head does: before its empty line, or at the end of a
	 * datagram that has none.
	 */
	if (req->nhdr == 0 || req->nhdr > SIP_HDR_MAX ||
	    req->header_len < 2 || req->body.p == NULL)
		return 0;
	last = &req->hdr[req->nhdr - 1];
	end = last->line.p + last->line.n;
	return end <= req->body.p && (req->body.p - end == 0 ||
	    req->body.p - end == 2);
}

/*
 * Each Via line is copied as received, name and folding included,
 * rather than rebuilt as "Via: value": 8.2.6.2 wants the values equal to
 * the request's, and the client matches its transaction on the top Via's
 * exact branch and sent-by (17.1.3), so the bytes it sent are the safest
 * thing to give back.  Several Vias in one line stay one line; the order
 * is the request's.  How many lines, or 0 if none or one is cut.
 */
static unsigned
put_vias(struct out *o, const struct sip_msg *req)
{
	unsigned nvia = 0;
	size_t i;

	for (i = 0; i < req->nhdr; i++) {
		const struct sip_hdr *h = &req->hdr[i];

		if (h->id != SIP_H_VIA)
			continue;
		if (!ends_crlf(h->line))
			return 0;
		put(o, h->line.p, h->line.n);
		nvia++;
	}
	return nvia;
}

/* The To line, with our tag when the request had none; the tag the reply
 * carries.  tag holds a made one. */
static struct fed_str
put_to(struct out *o, const struct sip_msg *req, const struct sip_hdr *to,
    char tag[16])
{
	if (req->to_tag.n > 0) {
		put(o, to->line.p, to->line.n);
		return req->to_tag;
	}
	/* The line up to the value's end (trailing LWS dropped), the tag
	 * as a last header parameter, then CRLF. */
	to_tag(req, tag);
	put(o, to->line.p, (size_t)(to->value.p + to->value.n - to->line.p));
	put_str(o, ";tag=");
	put(o, tag, 16);
	put_str(o, "\r\n");
	return (struct fed_str){ tag, 16 };
}

size_t
sip_reply_build(char *buf, size_t cap, const struct sip_msg *req, int code,
    const char *phrase, const char *extra)
{
	const struct sip_hdr *from, *to, *cid, *cseq;
	struct out o = { buf, cap, 0, 0 };
	struct fed_str want_tag;
	char tag[16], st[4];
	size_t plen, elen;

	if (buf == NULL || req == NULL || code < 100 || code > 699)
		return 0;
	if (phrase == NULL)
		phrase = policy_code_phrase(code);
	plen = strlen(phrase);
	elen = extra != NULL ? strlen(extra) : 0;
	if (!reply_args_ok(phrase, plen, extra, elen) || !answerable(req))
		return 0;
	from = first_hdr(req, SIP_H_FROM, req->from_raw);
	to = first_hdr(req, SIP_H_TO, req->to_raw);
	cid = first_hdr(req, SIP_H_CALL_ID, req->call_id);
	cseq = sip_hdr_find(req, SIP_H_CSEQ);
	if (from == NULL || to == NULL || cid == NULL || cseq == NULL ||
	    !ends_crlf(cseq->line))
		return 0;

	st[0] = (char)('0' + code / 100);
	st[1] = (char)('0' + code / 10 % 10);
	st[2] = (char)('0' + code % 10);
	st[3] = ' ';
	put_str(&o, "SIP/2.0 ");
	put(&o, st, 4);
	put(&o, phrase, plen);
	put_str(&o, "\r\n");
	if (put_vias(&o, req) == 0)
		return 0;
	put(&o, from->line.p, from->line.n);
	want_tag = put_to(&o, req, to, tag);
	put(&o, cid->line.p, cid->line.n);
	put(&o, cseq->line.p, cseq->line.n);
	if (elen > 0)
		put(&o, extra, elen);
	put_str(&o, "Server: fedkit\r\nContent-Length: 0\r\n\r\n");
	if (o.full || !reply_parses(buf, o.n, code, want_tag))
		return 0;
	return o.n;
}

/* ---- Route ---- */

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *
skip_ws(const char *p, const char *e)
{
	while (p < e && is_ws(*p))
		p++;
	return p;
}

/* RFC 3261 token characters, for an unquoted display name. */
static int
is_token(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("-.!%*_+`'~", c));
}

/* p at '"': the byte after the closing quote, or NULL if unterminated. */

/*
 * One route-param = name-addr *( SEMI rr-param ) (RFC 3261 25.1): only
 * the < > form, as the grammar says, so there is never a doubt whether a
 * ";maddr" belongs to the URI or to the header.  *uri gets what is in
 * < >.  Returns the ',' or e after it, or NULL if it does not parse.
 */
static const char *
route_param(const char *p, const char *e, struct fed_str *uri)
{
	const char *u;

	p = skip_ws(p, e);
	if (p < e && *p == '"') {
		if ((p = sip_skip_quoted(p, e)) == NULL)
			return NULL;
		p = skip_ws(p, e);
	} else
		while (p < e && (is_token(*p) || is_ws(*p)))
			p++;
	if (p == e || *p != '<')
		return NULL;
	u = p + 1;
	/* No URI holds a '>', so the first one closes it. */
	if ((p = memchr(u, '>', (size_t)(e - u))) == NULL)
		return NULL;
	uri->p = u;
	uri->n = (size_t)(p - u);
	for (p++;;) {
		p = skip_ws(p, e);
		if (p == e || *p == ',')
			return p;
		if (*p != ';')
			return NULL;
		/* A parameter: a quoted value may hold ',' or ';'. */
		for (p++; p < e && *p != ';' && *p != ','; )
			if (*p == '"') {
				if ((p = sip_skip_quoted(p, e)) == NULL)
					return NULL;
			} else
				p++;
	}
}

/*
 * Transports a request to our domain may name (RFC 3261 19.1.1, RFC 4168
 * sctp, RFC 7118 ws and wss): any other (`x-db`) is no way to reach our
 * SIP service.
 */
static const char *const sip_transports[] = {
	"udp", "tcp", "tls", "sctp", "ws", "wss"
};

/* Whether a parameter name, its escapes decoded, is all visible ASCII
 * (or empty, as in a stray ";;", which names nothing): a server that
 * stops at an escaped NUL or space might read `maddr%00x` as maddr. */
static int
name_is_visible(struct fed_str name)
{
	size_t pos = 0;
	int c;

	while ((c = sip_unescape_next(name, &pos)) != SIP_UNESCAPE_END)
		if (c <= ' ' || c >= 0x7f)	/* SIP_UNESCAPE_BAD too */
			return 0;
	return 1;
}

static int
transport_known(const struct sip_uri_param *prm)
{
	size_t i;

	for (i = 0; i < sizeof sip_transports / sizeof *sip_transports; i++)
		if (sip_unescaped_caseeq(prm->value, sip_transports[i]) == 1)
			return 1;
	return 0;
}

/*
 * Whether a SIP URI of one of our hosts still leads somewhere else than
 * our domain's SIP service (fedkit(7), rule not_local): a maddr
 * parameter (RFC 3261 19.1.1, RFC 3263 4.1: the request goes to that
 * address, whatever the host); a port other than the SIP ports 5060 and
 * 5061, or a transport that is not a SIP transport, either of which
 * addresses a host's other service (an internal database, say) rather
 * than our federation service; a parameter whose escaping is invalid or
 * whose name decodes to a control byte or white space; URI headers.
 * Parameters are compared with their escapes decoded (RFC 3261 19.1.4),
 * in any case, every occurrence of one (a server may take the first or
 * the last).
 */
static int
uri_leaves(const struct sip_uri *u)
{
	struct fed_str rest = u->params;
	struct sip_uri_param prm;
	int r;

	if (u->port != 0 && u->port != 5060 && u->port != 5061)
		return 1;
	/* Headers have no business in a Route (the parser already
	 * refuses them in a Request-URI): some server might build a
	 * request from them (RFC 3261 19.1.5). */
	if (u->headers.p != NULL)
		return 1;
	while ((r = sip_uri_param_next(&rest, &prm)) != 0) {
		if (r < 0 || !name_is_visible(prm.name))
			return 1;
		if (sip_unescaped_caseeq(prm.name, "maddr") == 1)
			return 1;
		if (sip_unescaped_caseeq(prm.name, "transport") == 1 &&
		    !transport_known(&prm))
			return 1;
	}
	return 0;
}

int
sip_request_reroutes(const struct sip_msg *m,
    int (*is_local)(const char *host, void *arg), void *arg)
{
	char host[256];
	struct fed_str s;
	struct sip_uri u;
	const char *p, *e;
	unsigned i, n = 0;

	if (m->ruri.is_sip && uri_leaves(&m->ruri))
		return 1;
	for (i = 0; i < m->nhdr && i < SIP_HDR_MAX; i++) {
		if (m->hdr[i].id != SIP_H_ROUTE)
			continue;
		p = m->hdr[i].value.p;
		e = p + m->hdr[i].value.n;
		for (;;) {
			if (++n > ROUTE_MAX)
				return 1;
			if ((p = route_param(p, e, &s)) == NULL)
				return 1;
			/* A local host with maddr, another port or
			 * transport still leaves us. */
			if (sip_uri_parse(s, &u, NULL) < 0 || !u.is_sip ||
			    uri_leaves(&u) ||
			    sip_uri_domain(&u, host, sizeof host) < 0 ||
			    !is_local(host, arg))
				return 1;
			if (p == e)
				break;
			p++;		/* the ',' */
		}
	}
	return 0;
}
