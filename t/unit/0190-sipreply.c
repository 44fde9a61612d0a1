/* 0190-sipreply: the responses fedgate builds, read back by the parser; the Route check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip.h"
#include "sipreply.h"
#include "tap.h"

static struct sip_msg m, r;	/* big: never on the stack */
static char seen[1024];		/* the hosts local() was asked about */
static int local(const char *, void *);
static struct sip_error err;
static char out[SIP_REPLY_CAP(SIP_DEFAULT_MAX_MESSAGE)];
static char out2[SIP_REPLY_CAP(SIP_DEFAULT_MAX_MESSAGE)];

#define S(s)	(s), (sizeof(s) - 1)

/* Three Vias, one compact and one with two values; From folded; To
 * without a tag; a body that must not reach the reply. */
static const char invite[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TLS edge.example.net:5061;branch=z9hG4bKtop;"
    "received=192.0.2.1\r\n"
    "v: SIP/2.0/TLS proxy.example.net;branch=z9hG4bKmid\r\n"
    "Max-Forwards: 69\r\n"
    "VIA: SIP/2.0/TCP pc.example.net;branch=z9hG4bKlow ,\r\n"
    " SIP/2.0/TCP pc2.example.net;branch=z9hG4bKlower\r\n"
    "From: \"Alice\"\r\n\t<sip:alice@example.net>;tag=f00\r\n"
    "To: Bob <sip:bob@example.com>  \r\n"
    "Call-ID: cid-1@example.net\r\n"
    "CSeq: 7 INVITE\r\n"
    "Contact: <sip:alice@pc.example.net>\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "hello";

/* The same request, rebuilt with another Call-ID or To or method. */
static char *
mkreq(const char *method, const char *callid, const char *to,
    const char *cseq, const char *more)
{
	static char buf[4096];

	snprintf(buf, sizeof buf,
	    "%s sip:bob@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP h.example.net;branch=z9hG4bKx\r\n"
	    "From: <sip:a@example.net>;tag=1\r\n"
	    "To: %s\r\n"
	    "%s%s%s"
	    "CSeq: %s\r\n"
	    "%s"
	    "Content-Length: 0\r\n\r\n", method, to,
	    callid ? "Call-ID: " : "", callid ? callid : "",
	    callid ? "\r\n" : "", cseq, more ? more : "");
	return buf;
}

/* Frame one whole message into *msg. */
static enum sip_frame_result
frame(const char *buf, size_t len, struct sip_msg *msg, size_t *used)
{
	size_t scanned = 0;

	return sip_frame(buf, len, NULL, &scanned, used, msg, &err);
}

static enum sip_frame_result
frame_s(const char *s, struct sip_msg *msg)
{
	size_t used;

	return frame(s, strlen(s), msg, &used);
}

/* Whether buf[0..n) frames whole as a valid response with this code. */
static int
reply_ok(const char *buf, size_t n, int code)
{
	struct sip_limits lim;
	size_t scanned = 0, used = 0;

	sip_limits_default(&lim);
	if (lim.max_message < n + 1)
		lim.max_message = n + 1;
	return n > 0 && sip_frame(buf, n, &lim, &scanned, &used, &r, &err) ==
	    SIP_FRAME_MESSAGE && used == n && !r.is_request &&
	    r.status == code;
}

static int
same(struct fed_str a, struct fed_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static int
mem_is(struct fed_str s, const char *want)
{
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static unsigned
count_hdr(const struct sip_msg *msg, enum sip_hdr_id id)
{
	unsigned i, n = 0;

	for (i = 0; i < msg->nhdr; i++)
		n += msg->hdr[i].id == id;
	return n;
}

/* Every Via line of the reply equals the request's, in order. */
static int
same_vias(const struct sip_msg *a, const struct sip_msg *b)
{
	unsigned i = 0, j = 0;

	for (;;) {
		while (i < a->nhdr && a->hdr[i].id != SIP_H_VIA)
			i++;
		while (j < b->nhdr && b->hdr[j].id != SIP_H_VIA)
			j++;
		if (i == a->nhdr || j == b->nhdr)
			return i == a->nhdr && j == b->nhdr;
		if (!same(a->hdr[i].line, b->hdr[j].line))
			return 0;
		i++;
		j++;
	}
}

static int
is_hex16(struct fed_str s)
{
	size_t i;

	if (s.n != 16)
		return 0;
	for (i = 0; i < 16; i++)
		if (!((s.p[i] >= '0' && s.p[i] <= '9') ||
		    (s.p[i] >= 'a' && s.p[i] <= 'f')))
			return 0;
	return 1;
}

static void
test_invite(void)
{
	const struct sip_hdr *h, *rh;
	char tag[17], retx[sizeof invite];
	size_t n, n2, used;

	ok(frame(S(invite), &m, &used) == SIP_FRAME_MESSAGE &&
	    used == sizeof invite - 1, "INVITE frames");
	n = sip_reply_build(out, sizeof out, &m, 486, "Busy Here", NULL);
	ok(n > 0, "486 built (%zu bytes)", n);
	ok(n > 0 && memcmp(out, S("SIP/2.0 486 Busy Here\r\n")) == 0,
	    "status line");
	ok(reply_ok(out, n, 486), "the reply frames as a 486 response");
	is_mem(r.reason.p, r.reason.n, "Busy Here", "reason phrase");
	is_long(count_hdr(&r, SIP_H_VIA), 3, "three Via lines");
	ok(same_vias(&m, &r), "Via lines identical and in order");
	ok(same(r.via_branch, m.via_branch), "top Via branch kept");
	h = sip_hdr_find(&m, SIP_H_FROM);
	rh = sip_hdr_find(&r, SIP_H_FROM);
	ok(h && rh && same(h->line, rh->line), "folded From line as sent");
	ok(same(r.from_tag, m.from_tag), "From tag kept");
	ok(is_hex16(r.to_tag), "To tag added: 16 hex digits");
	snprintf(tag, sizeof tag, "%.*s", (int)r.to_tag.n, r.to_tag.p);
	rh = sip_hdr_find(&r, SIP_H_TO);
	ok(rh && rh->line.n == strlen("To: Bob <sip:bob@example.com>;tag=")
	    + 16 + 2 && memcmp(rh->line.p, S("To: Bob <sip:bob@example.com>"
	    ";tag=")) == 0, "To line: value, then the tag");
	ok(same(r.call_id, m.call_id), "Call-ID kept");
	ok(r.cseq == 7 && mem_is(r.cseq_method, "INVITE"), "CSeq kept");
	h = sip_hdr_find(&r, SIP_H_OTHER);
	ok(h && mem_is(h->name, "Server") && mem_is(h->value, "fedkit"),
	    "Server: fedkit");
	ok(r.content_length == 0 && r.body_len == 0, "Content-Length: 0");
	ok(memmem(out, n, "hello", 5) == NULL && memmem(out, n, "Contact",
	    7) == NULL && memmem(out, n, "Max-Forwards", 12) == NULL,
	    "nothing else of the request copied");

	n2 = sip_reply_build(out2, sizeof out2, &m, 486, "Busy Here", NULL);
	ok(n2 == n && memcmp(out, out2, n) == 0, "second call: same bytes");

	/* A retransmission, in another buffer. */
	memcpy(retx, invite, sizeof invite);
	ok(frame(retx, sizeof retx - 1, &m, &used) == SIP_FRAME_MESSAGE,
	    "retransmission frames");
	n2 = sip_reply_build(out2, sizeof out2, &m, 486, "Busy Here", NULL);
	ok(reply_ok(out2, n2, 486) && mem_is(r.to_tag, tag),
	    "retransmission: same To tag");
	n2 = sip_reply_build(out2, sizeof out2, &m, 403, NULL, NULL);
	ok(reply_ok(out2, n2, 403) && mem_is(r.to_tag, tag) &&
	    memcmp(out2, S("SIP/2.0 403 Forbidden\r\n")) == 0,
	    "another code, NULL phrase: standard phrase, same tag");

	/* Another Call-ID: another tag. */
	memcpy(retx, invite, sizeof invite);
	memcpy(strstr(retx, "cid-1"), "cid-2", 5);
	ok(frame(retx, sizeof retx - 1, &m, &used) == SIP_FRAME_MESSAGE,
	    "other Call-ID frames");
	n2 = sip_reply_build(out2, sizeof out2, &m, 486, "Busy Here", NULL);
	ok(reply_ok(out2, n2, 486) && is_hex16(r.to_tag) &&
	    !mem_is(r.to_tag, tag), "another Call-ID: another To tag");

	/* CANCEL of the same INVITE: same tag (RFC 3261 9.2). */
	memcpy(retx, invite, sizeof invite);
	memcpy(retx, "CANCEL", 6);
	memcpy(strstr(retx, "7 INVITE"), "7 CANCEL", 8);
	ok(frame(retx, sizeof retx - 1, &m, &used) == SIP_FRAME_MESSAGE,
	    "CANCEL of it frames");
	n2 = sip_reply_build(out2, sizeof out2, &m, 200, "OK", NULL);
	ok(reply_ok(out2, n2, 200) && mem_is(r.to_tag, tag),
	    "200 to the CANCEL: the INVITE's To tag");
}

static void
test_to_tag(void)
{
	const struct sip_hdr *rh;
	size_t n;
	char *q = mkreq("MESSAGE", "c1@h", "<sip:bob@example.com>;tag=abc ;x=1",
	    "1 MESSAGE", NULL);

	ok(frame_s(q, &m) == SIP_FRAME_MESSAGE, "MESSAGE with To tag frames");
	n = sip_reply_build(out, sizeof out, &m, 403, "Forbidden", NULL);
	ok(reply_ok(out, n, 403), "403 built and frames");
	rh = sip_hdr_find(&r, SIP_H_TO);
	ok(rh && mem_is(rh->line, "To: <sip:bob@example.com>;tag=abc ;x=1\r\n"),
	    "To line unchanged");
	ok(mem_is(r.to_tag, "abc"), "To tag kept");

	q = mkreq("MESSAGE", "c1@h", "<sip:bob@example.com>;tag", "1 MESSAGE",
	    NULL);
	ok(frame_s(q, &m) == SIP_FRAME_MESSAGE && m.to_tag.n == 0,
	    "To with a valueless tag parameter frames");
	ok(sip_reply_build(out, sizeof out, &m, 403, NULL, NULL) == 0,
	    "...no reply: an added tag would not be the one read back");

	q = mkreq("MESSAGE", "c1@h", "sip:bob@example.com;user=phone",
	    "1 MESSAGE", NULL);
	ok(frame_s(q, &m) == SIP_FRAME_MESSAGE, "addr-spec To frames");
	n = sip_reply_build(out, sizeof out, &m, 403, "Forbidden", NULL);
	ok(reply_ok(out, n, 403) && is_hex16(r.to_tag) &&
	    r.to_raw.n == strlen("sip:bob@example.com;user=phone;tag=") + 16 &&
	    memcmp(r.to_raw.p, S("sip:bob@example.com;user=phone;tag=")) == 0,
	    "addr-spec To: tag added as a header parameter");
	ok(same(r.to.host, m.to.host) && r.to.params.n == m.to.params.n,
	    "...the To URI as in the request");
}

static void
test_refusals(void)
{
	enum sip_frame_result fr;
	size_t n, need;
	char *q;

	q = mkreq("ACK", "c1@h", "<sip:bob@example.com>;tag=9", "1 ACK", NULL);
	ok(frame_s(q, &m) == SIP_FRAME_MESSAGE, "ACK frames");
	ok(sip_reply_build(out, sizeof out, &m, 400, NULL, NULL) == 0,
	    "ACK: never answered");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 ACK", NULL);
	fr = frame_s(q, &m);
	ok(fr == SIP_FRAME_MALFORMED, "INVITE with CSeq ACK: malformed (%s)",
	    err.reason);
	ok(sip_reply_build(out, sizeof out, &m, 400, NULL, NULL) == 0,
	    "CSeq method ACK: not answered either");
	q = mkreq("ACK", "c1@h", "<sip:bob@example.com>", "1 INVITE", NULL);
	ok(frame_s(q, &m) == SIP_FRAME_MALFORMED && sip_reply_build(out,
	    sizeof out, &m, 400, NULL, NULL) == 0,
	    "ACK with CSeq INVITE: not answered");

	q = mkreq("INVITE", NULL, "<sip:bob@example.com>", "1 INVITE", NULL);
	fr = frame_s(q, &m);
	ok(fr == SIP_FRAME_MALFORMED, "no Call-ID: malformed (%s)",
	    err.reason);
	ok(sip_reply_build(out, sizeof out, &m, 400, NULL, NULL) == 0,
	    "no Call-ID: no reply");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE", NULL);
	memcpy(strstr(q, "Via:"), "Vix:", 4);
	ok(frame_s(q, &m) == SIP_FRAME_MALFORMED && sip_reply_build(out,
	    sizeof out, &m, 400, NULL, NULL) == 0, "no Via: no reply");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE", NULL);
	memcpy(strstr(q, "CSeq:"), "CSeX:", 5);
	ok(frame_s(q, &m) == SIP_FRAME_MALFORMED && sip_reply_build(out,
	    sizeof out, &m, 400, NULL, NULL) == 0, "no CSeq: no reply");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE", NULL);
	memcpy(strstr(q, "From:"), "Frox:", 5);
	ok(frame_s(q, &m) == SIP_FRAME_MALFORMED && sip_reply_build(out,
	    sizeof out, &m, 400, NULL, NULL) == 0, "no From: no reply");

	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE", NULL);
	ok(frame_s(q, &m) == SIP_FRAME_MESSAGE, "plain INVITE frames");
	need = sip_reply_build(out, sizeof out, &m, 503, NULL,
	    "Retry-After: 5\r\n");
	ok(reply_ok(out, need, 503), "503 with Retry-After frames");
	ok(sip_reply_build(out, need - 1, &m, 503, NULL,
	    "Retry-After: 5\r\n") == 0, "cap one byte short: 0");
	ok(sip_reply_build(out, need, &m, 503, NULL, "Retry-After: 5\r\n") ==
	    need, "cap exactly enough: built");
	ok(sip_reply_build(out, 10, &m, 503, NULL, NULL) == 0, "cap 10: 0");
	ok(sip_reply_build(out, 0, &m, 503, NULL, NULL) == 0, "cap 0: 0");

	ok(sip_reply_build(out, sizeof out, &m, 400, "Bad\r\nX: y", NULL) ==
	    0, "CRLF in the phrase: 0");
	ok(sip_reply_build(out, sizeof out, &m, 99, NULL, NULL) == 0 &&
	    sip_reply_build(out, sizeof out, &m, 700, NULL, NULL) == 0,
	    "code out of range: 0");
	ok(sip_reply_build(out, sizeof out, &m, 503, NULL, "Retry-After: 5")
	    == 0, "extra without its CRLF: 0");
	ok(sip_reply_build(out, sizeof out, &m, 503, NULL,
	    "Content-Length: 3\r\n") == 0, "extra with a Content-Length: 0");
	ok(sip_reply_build(out, sizeof out, &m, 503, NULL,
	    "Retry-After: 5\r\n\r\nX: y\r\n") == 0,
	    "extra with an empty line: 0");
	ok((n = sip_reply_build(out, sizeof out, &m, 400, "", NULL)) > 0 &&
	    reply_ok(out, n, 400) && r.reason.n == 0, "empty phrase: fine");

	q = mkreq("OPTIONS", "c1@h", "<sip:bob@example.com>", "1 OPTIONS",
	    NULL);
	ok(sip_parse_datagram(q, strlen(q), NULL, &m, &err) == 0,
	    "OPTIONS datagram parses");
	m.is_request = 0;
	ok(sip_reply_build(out, sizeof out, &m, 200, NULL, NULL) == 0,
	    "not a request: 0");
	ok(frame_s("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
	    "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n"
	    "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", &r) ==
	    SIP_FRAME_MESSAGE && sip_reply_build(out, sizeof out, &r, 400,
	    NULL, NULL) == 0, "a response: no reply");
}

static void
test_malformed(void)
{
	enum sip_frame_result fr;
	size_t n;
	char *q;
	int rc;

	/* Malformed, but every copied header is sound: 400 goes out. */
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE",
	    "Date: Sat, 13 Nov 2010 23:29:00 PST\r\n");
	ok(frame_s(q, &m) == SIP_FRAME_MALFORMED, "Date not GMT: malformed");
	n = sip_reply_build(out, sizeof out, &m, 400, err.reason, NULL);
	ok(reply_ok(out, n, 400), "...but a 400 can be built, and frames");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE", NULL);
	memcpy(strstr(q, "SIP/2.0\r\n"), "SIP/7.0", 7);
	fr = frame_s(q, &m);
	ok(fr == SIP_FRAME_MALFORMED && err.code == 505, "SIP/7.0: 505 (%s)",
	    err.reason);
	n = sip_reply_build(out, sizeof out, &m, 505, NULL, NULL);
	ok(reply_ok(out, n, 505), "505 built and frames");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE",
	    "To: <sip:carol@example.com>\r\n");
	ok(frame_s(q, &m) == SIP_FRAME_MALFORMED, "two To headers: malformed");
	n = sip_reply_build(out, sizeof out, &m, 400, NULL, NULL);
	ok(reply_ok(out, n, 400) && count_hdr(&r, SIP_H_TO) == 1 &&
	    r.to.user.n == 3 && memcmp(r.to.user.p, "bob", 3) == 0,
	    "...400 with the first To only");

	/* hdr[] cut short: a Via may be missing, so no reply. */
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE",
	    "X-1: 1\r\nX-2: 2\r\nVia: SIP/2.0/UDP low.example.net\r\n");
	{
		struct sip_limits few;

		sip_limits_default(&few);
		few.max_headers = 7;
		rc = sip_parse_datagram(q, strlen(q), &few, &m, &err);
		ok(rc == -1 && err.code == 513 && m.nhdr == 7, "datagram with "
		    "too many lines: 513 (%s), 7 lines recorded", err.reason);
		ok(sip_reply_build(out, sizeof out, &m, 513, NULL, NULL) == 0,
		    "...no reply: the last Via was never seen");
		few.max_headers = 8;
		few.max_line = 40;
		ok(sip_parse_datagram(q, strlen(q), &few, &m, &err) == -1 &&
		    err.code == 513 && sip_reply_build(out, sizeof out, &m,
		    513, NULL, NULL) == 0, "line too long: 513, no reply");
	}
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE",
	    NULL);
	*strstr(q, "Content-Length") = '\0';
	strcat(q, "Via: SIP/2.0/UDP low.example.net");
	rc = sip_parse_datagram(q, strlen(q), NULL, &m, &err);
	ok(rc == -1, "datagram cut inside a Via line: refused (%s)",
	    err.reason);
	ok(sip_reply_build(out, sizeof out, &m, 400, NULL, NULL) == 0,
	    "...no reply: that Via would be lost");
	strcat(q, "\r\n");
	rc = sip_parse_datagram(q, strlen(q), NULL, &m, &err);
	ok(rc == -1, "datagram without the empty line: refused (%s)",
	    err.reason);
	n = sip_reply_build(out, sizeof out, &m, 400, NULL, NULL);
	ok(reply_ok(out, n, 400) && count_hdr(&r, SIP_H_VIA) == 2,
	    "...every line was read: 400 with both Vias");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE", NULL);
	*strstr(q, "Content-Length") = '\0';
	ok(frame_s(q, &m) == SIP_FRAME_MORE, "stream without the empty line: "
	    "MORE");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE", NULL);
	memcpy(strstr(q, "Content-Length: 0"), "Content-Length: x", 17);
	ok(frame_s(q, &m) == SIP_FRAME_ERROR && m.header_len > 0,
	    "stream framing error (bad Content-Length): the head was whole");
	n = sip_reply_build(out, sizeof out, &m, 400, NULL, NULL);
	ok(reply_ok(out, n, 400),
	    "...so it is answered 400 before the stream is given up");
	{
		/* A line over max_line: the head was not read whole, and
		 * no answer may be built from what was. */
		static char big[12000];
		size_t o;

		o = (size_t)snprintf(big, sizeof big, "INVITE sip:bob@example.com "
		    "SIP/2.0\r\nVia: SIP/2.0/UDP h.example;branch=z9hG4bK1\r\n"
		    "X-Long: ");
		memset(big + o, 'a', 9000);
		o += 9000;
		snprintf(big + o, sizeof big - o, "\r\nFrom: <sip:a@p.example>"
		    ";tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c@h\r\n"
		    "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
		ok(frame_s(big, &m) == SIP_FRAME_ERROR && m.header_len == 0 &&
		    sip_reply_build(out, sizeof out, &m, 513, NULL, NULL) == 0,
		    "a line over max_line: no whole head, no reply");
	}

	/* A copied header is the bad one: no reply. */
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE", NULL);
	memcpy(strstr(q, "SIP/2.0/UDP"), "SIP/2.0/U:P", 11);
	fr = frame_s(q, &m);
	ok(fr == SIP_FRAME_MALFORMED, "bad Via: malformed (%s)", err.reason);
	ok(sip_reply_build(out, sizeof out, &m, 400, NULL, NULL) == 0,
	    "bad Via: no reply");
	q = mkreq("INVITE", "c1 x@h", "<sip:bob@example.com>", "1 INVITE",
	    NULL);
	ok(frame_s(q, &m) == SIP_FRAME_MALFORMED && sip_reply_build(out,
	    sizeof out, &m, 400, NULL, NULL) == 0, "bad Call-ID: no reply");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com", "1 INVITE", NULL);
	ok(frame_s(q, &m) == SIP_FRAME_MALFORMED && sip_reply_build(out,
	    sizeof out, &m, 400, NULL, NULL) == 0, "bad To: no reply");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "x INVITE", NULL);
	ok(frame_s(q, &m) == SIP_FRAME_MALFORMED && sip_reply_build(out,
	    sizeof out, &m, 400, NULL, NULL) == 0, "bad CSeq: no reply");
	q = mkreq("INVITE", "c1@h", "<sip:bob@example.com>", "1 INVITE", NULL);
	memmove(strstr(q, "\r\nFrom:"), strstr(q, "\r\nFrom:") + 1,
	    strlen(strstr(q, "\r\nFrom:")));	/* "...;branch=z9hG4bKx\n" */
	fr = frame_s(q, &m);
	ok(fr == SIP_FRAME_MALFORMED, "bare LF after Via: malformed (%s)",
	    err.reason);
	ok(sip_reply_build(out, sizeof out, &m, 400, NULL, NULL) == 0,
	    "bare LF in a copied line: no reply");
}

static void
test_extra(void)
{
	const struct sip_hdr *h;
	size_t n;
	char *q = mkreq("SUBSCRIBE", "c1@h", "<sip:bob@example.com>",
	    "1 SUBSCRIBE", NULL);

	ok(frame_s(q, &m) == SIP_FRAME_MESSAGE, "SUBSCRIBE frames");
	n = sip_reply_build(out, sizeof out, &m, 405, NULL,
	    "Allow: INVITE, ACK, CANCEL, BYE, MESSAGE\r\nRetry-After: 30\r\n");
	ok(reply_ok(out, n, 405), "405 with extra lines frames");
	h = sip_hdr_find(&r, SIP_H_ALLOW);
	ok(h && mem_is(h->value, "INVITE, ACK, CANCEL, BYE, MESSAGE"),
	    "Allow line present");
	h = sip_hdr_find(&r, SIP_H_RETRY_AFTER);
	ok(h && mem_is(h->value, "30"), "Retry-After line present");
	ok(memcmp(out, S("SIP/2.0 405 Method Not Allowed\r\n")) == 0,
	    "405 phrase from policy");
	ok(n >= 37 && memcmp(out + n - 37, S("Server: fedkit\r\n"
	    "Content-Length: 0\r\n\r\n")) == 0,
	    "ends with Server and Content-Length");
}

/* A request as large as the default limits allow: its reply fits the cap. */
static void
test_big(void)
{
	char *big = malloc(SIP_DEFAULT_MAX_MESSAGE), *rep, pad[8200];
	char extra[SIP_REPLY_EXTRA_MAX + 1], phrase[257];
	size_t o = 0, n, used, cap = SIP_REPLY_CAP(SIP_DEFAULT_MAX_MESSAGE);
	enum sip_frame_result fr;
	int i;

	if (big == NULL || (rep = malloc(cap)) == NULL) {
		ok(0, "out of memory");
		free(big);
		return;
	}
	memset(pad, 'a', sizeof pad);
	o += (size_t)sprintf(big + o, "INVITE sip:b@example.com SIP/2.0\r\n");
	/* Seven Vias of nearly max_line each. */
	for (i = 0; i < 7; i++)
		o += (size_t)sprintf(big + o, "Via: SIP/2.0/TCP h%d.example.net"
		    ";branch=z9hG4bK%d;x=%.*s\r\n", i, i, 8100, pad);
	o += (size_t)sprintf(big + o, "From: <sip:a@example.net;p=%.*s>"
	    ";tag=1\r\nTo: <sip:b@example.com;p=%.*s>\r\nCall-ID: %.*s\r\n"
	    "CSeq: 1 INVITE\r\n", 2750, pad, 2750, pad, 2750, pad);
	n = SIP_DEFAULT_MAX_MESSAGE - o - strlen("Content-Length: 00000\r\n"
	    "\r\n");
	o += (size_t)sprintf(big + o, "Content-Length: %05zu\r\n\r\n", n);
	memset(big + o, 'b', n);
	o += n;
	ok(o == SIP_DEFAULT_MAX_MESSAGE, "request of exactly %d bytes",
	    SIP_DEFAULT_MAX_MESSAGE);
	fr = frame(big, o, &m, &used);
	ok(fr == SIP_FRAME_MESSAGE && used == o, "it frames");
	/* The largest phrase and extra there may be. */
	memset(phrase, 'P', 256);
	phrase[256] = '\0';
	memcpy(extra, "X-Pad: ", 7);
	memset(extra + 7, 'e', SIP_REPLY_EXTRA_MAX - 9);
	memcpy(extra + SIP_REPLY_EXTRA_MAX - 2, "\r\n", 3);
	n = sip_reply_build(rep, cap, &m, 500, phrase, extra);
	ok(n > 0 && n <= cap, "reply fits SIP_REPLY_CAP (%zu <= %zu)", n,
	    cap);
	ok(reply_ok(rep, n, 500) && count_hdr(&r, SIP_H_VIA) == 7 &&
	    same_vias(&m, &r), "big reply frames, seven Vias");
	free(big);
	free(rep);
}

/*
 * Random damage to a good request: a byte replaced by one of the bytes
 * the grammar turns on, one deleted, one doubled.  Whatever the parser
 * makes of it, a reply built must frame as a valid response.
 */
static void
test_mutations(void)
{
	static const char hot[] = "\r\n \t,;:<>\"\\@=?[]/.x0";
	size_t len = sizeof invite - 1, n, k, used;
	int i, j, built = 0, bad = 0;
	enum sip_frame_result fr;
	char *cp;

	srand(190);
	for (i = 0; i < 20000; i++) {
		if ((cp = malloc(len + 8)) == NULL)
			break;
		memcpy(cp, invite, len);
		n = len;
		for (j = 0; j < 1 + rand() % 3; j++) {
			k = (size_t)rand() % n;
			switch (rand() % 3) {
			case 0:
				cp[k] = hot[rand() % (int)(sizeof hot - 1)];
				break;
			case 1:
				memmove(cp + k, cp + k + 1, n - k - 1);
				n--;
				break;
			default:
				memmove(cp + k + 1, cp + k, n - k);
				n++;
				break;
			}
		}
		fr = frame(cp, n, &m, &used);
		if (fr == SIP_FRAME_MESSAGE || fr == SIP_FRAME_MALFORMED) {
			size_t rn = sip_reply_build(out, sizeof out, &m, 400,
			    NULL, NULL);

			if (rn > 0) {
				built++;
				if (!reply_ok(out, rn, 400))
					bad++;
			}
			(void)sip_request_reroutes(&m, local, NULL);
		}
		free(cp);
	}
	ok(built > 1000, "replies to damaged requests built (%d)", built);
	is_long(bad, 0, "every one frames as a valid response");
}

/* ---- sip_request_reroutes ---- */

/* Local: example.com and its subdomains, and one IPv6 address. */
static int
local(const char *host, void *arg)
{
	size_t n = strlen(host), o = strlen(seen);

	(void)arg;
	/* Recorded as "host|", if it fits (no snprintf: GCC's
	 * -Wformat-truncation misfires on it under -fsanitize). */
	if (o + n + 2 <= sizeof seen) {
		memcpy(seen + o, host, n);
		memcpy(seen + o + n, "|", 2);
	}
	return strcmp(host, "example.com") == 0 || (n > 12 &&
	    strcmp(host + n - 12, ".example.com") == 0) ||
	    strcmp(host, "2001:db8::1") == 0;
}

static int
reroutes(const char *ruri, const char *routes)
{
	static char buf[16384];
	size_t used;

	snprintf(buf, sizeof buf,
	    "MESSAGE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS h.example.net;branch=z9hG4bKx\r\n"
	    "%s"
	    "From: <sip:a@example.net>;tag=1\r\n"
	    "To: <sip:bob@example.com>\r\n"
	    "Call-ID: c1@h\r\n"
	    "CSeq: 1 MESSAGE\r\n"
	    "Content-Length: 0\r\n\r\n", ruri, routes);
	seen[0] = '\0';
	if (frame(buf, strlen(buf), &m, &used) != SIP_FRAME_MESSAGE) {
		diag("does not frame: %s", err.reason);
		return -1;
	}
	return sip_request_reroutes(&m, local, NULL);
}

static void
test_reroutes(void)
{
	char many[8192];
	size_t o;
	int i;

	is_long(reroutes("sip:bob@example.com", ""), 0, "no Route, no maddr");
	is_long(reroutes("sip:bob@example.com;transport=tls", ""), 0,
	    "other URI parameters");
	is_long(reroutes("sip:bob@example.com;maddr=192.0.2.9", ""), 1,
	    "maddr in the Request-URI");
	is_long(reroutes("sip:bob@example.com;lr;MAddr=evil.example.org", ""),
	    1, "MAddr, any case, not first");
	is_long(reroutes("sip:bob@example.com;maddrx=1;xmaddr=2", ""), 0,
	    "maddrx and xmaddr are other parameters");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:edge.example.com;"
	    "lr>\r\n"), 0, "local Route");
	is_str(seen, "edge.example.com|", "is_local got the bare host");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:evil.example.org;"
	    "lr>\r\n"), 1, "foreign Route");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:edge.example.com;"
	    "lr>,\r\n <sip:evil.example.org;lr>\r\n"), 1,
	    "mixed list, folded");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:a.example.com;lr>"
	    "\r\nRoute: <sip:b.example.com;lr>, <sip:c.example.com>\r\n"), 0,
	    "two Route headers, all local");
	is_str(seen, "a.example.com|b.example.com|c.example.com|",
	    "every value seen, in order");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:a.example.com;lr>"
	    "\r\nRoute: <sip:evil.example.org;lr>\r\n"), 1,
	    "second Route header foreign");
	is_long(reroutes("sip:bob@example.com", "Route: \"Edge, Inc\" "
	    "<sip:u@EDGE.Example.COM.:5061;lr>;x=\"a,b\"\r\n"), 0,
	    "quoted display name and parameter with commas; case, dot, port");
	is_str(seen, "edge.example.com|", "host lowercased, no trailing dot");
	is_long(reroutes("sip:bob@example.com", "Route: Edge Proxy "
	    "<sip:edge.example.com;lr>\r\n"), 0, "token display name");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:[2001:DB8::1];lr>"
	    "\r\n"), 0, "local IPv6 host");
	is_str(seen, "2001:db8::1|", "IPv6 without brackets, lowercased");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:[2001:db8::2];lr>"
	    "\r\n"), 1, "foreign IPv6 host");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:edge.example.com;"
	    "lr;maddr=192.0.2.66>\r\n"), 1, "local Route with maddr");
	is_long(reroutes("sip:bob@example.com", "Route: sip:edge.example.com;"
	    "lr\r\n"), 1, "Route without < >: unparseable");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:edge.example.com;"
	    "lr\r\n"), 1, "unterminated < >");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:edge..example.com>"
	    "\r\n"), 1, "bad host");
	is_long(reroutes("sip:bob@example.com", "Route: <tel:+15551234>\r\n"),
	    1, "non-SIP URI");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:a.example.com>,"
	    "\r\n"), 1, "empty value after a comma");
	is_long(reroutes("sip:bob@example.com", "Route:\r\n"), 1,
	    "empty Route");
	is_long(reroutes("sip:bob@example.com", "Route: \"Edge <sip:x.example."
	    "com>\r\n"), 1, "unterminated quote");
	is_long(reroutes("sip:bob@example.com", "Route: <sip:a.example.com> "
	    "junk\r\n"), 1, "junk after the URI");
	for (i = 64; i <= 65; i++) {
		int k;

		o = (size_t)snprintf(many, sizeof many, "Route: ");
		for (k = 0; k < i; k++)
			o += (size_t)snprintf(many + o, sizeof many - o,
			    "%s<sip:h%d.example.com;lr>", k ? "," : "", k);
		snprintf(many + o, sizeof many - o, "\r\n");
		is_long(reroutes("sip:bob@example.com", many), i > 64,
		    "%d local Route values: %s", i, i > 64 ? "too many" :
		    "fine");
	}
}

/*
 * Escaped parameters, ports and transports (fedkit(7), not_local): each
 * Request-URI is tried alone and as a Route to a local host, where the
 * same rule holds.
 */
static void
leaves_is(const char *uri, int want, const char *why)
{
	char route[512];

	is_long(reroutes(uri, ""), want, "Request-URI %s: %s", uri, why);
	snprintf(route, sizeof route, "Route: <%s;lr>\r\n", uri);
	is_long(reroutes("sip:bob@example.com", route), want,
	    "Route <%s;lr>: %s", uri, why);
}

static void
test_relay_uri(void)
{
	leaves_is("sip:bob@example.com;m%61ddr=evil.example.org", 1,
	    "m%61ddr is maddr");
	leaves_is("sip:bob@example.com;%6Daddr=evil.example.org", 1,
	    "%6Daddr is maddr");
	leaves_is("sip:bob@example.com;%6daddr=evil.example.org", 1,
	    "%6daddr is maddr");
	leaves_is("sip:bob@example.com;MADDR=evil.example.org", 1,
	    "MADDR is maddr");
	leaves_is("sip:bob@example.com;%4D%41%44%44%52=x", 1,
	    "all escaped, upper case");
	leaves_is("sip:bob@example.com;maddr=%65vil.example.org", 1,
	    "escaped value");
	leaves_is("sip:bob@example.com;maddr", 1, "maddr without a value");
	leaves_is("sip:bob@example.com;maddr%00x=1", 1,
	    "a name decoding to a NUL");
	leaves_is("sip:bob@example.com;x%20y=1", 1,
	    "a name decoding to a space");
	leaves_is("sip:bob@example.com;m%61ddrx=1", 0,
	    "m%61ddrx is another parameter");
	leaves_is("sip:bob@example.com;x=m%61ddr", 0,
	    "maddr as a value is no maddr");
	leaves_is("sip:bob@example.com;;x", 0, "a stray ;; names nothing");

	leaves_is("sip:x@db01.example.com", 0, "no port");
	leaves_is("sip:x@db01.example.com:5060", 0, "port 5060");
	leaves_is("sip:x@db01.example.com:5061", 0, "port 5061");
	leaves_is("sip:x@db01.example.com:5432", 1, "port 5432");
	leaves_is("sip:x@db01.example.com:5062", 1, "port 5062");
	leaves_is("sip:x@db01.example.com:1", 1, "port 1");
	leaves_is("sip:x@db01.example.com:05060", 0,
	    "05060 is port 5060");
	leaves_is("sips:x@db01.example.com:5061;transport=tcp", 0,
	    "sips on 5061");

	leaves_is("sip:x@db01.example.com;transport=udp", 0, "udp");
	leaves_is("sip:x@db01.example.com;transport=tcp", 0, "tcp");
	leaves_is("sip:x@db01.example.com;transport=TLS", 0, "TLS");
	leaves_is("sip:x@db01.example.com;transport=Sctp", 0, "Sctp");
	leaves_is("sip:x@db01.example.com;transport=ws", 0, "ws");
	leaves_is("sip:x@db01.example.com;transport=WSS", 0, "WSS");
	leaves_is("sip:x@db01.example.com;transport=t%63p", 0,
	    "t%63p is tcp");
	leaves_is("sip:x@db01.example.com;tr%61nsport=tcp", 0,
	    "tr%61nsport=tcp is transport=tcp");
	leaves_is("sip:x@db01.example.com;transport=x-db", 1, "x-db");
	leaves_is("sip:x@db01.example.com;transport=x%2Ddb", 1,
	    "x%2Ddb is x-db");
	leaves_is("sip:x@db01.example.com;tr%61nsport=x-db", 1,
	    "tr%61nsport=x-db");
	leaves_is("sip:x@db01.example.com;TRANSPORT=x-db", 1,
	    "TRANSPORT=x-db");
	leaves_is("sip:x@db01.example.com;transport", 1,
	    "transport without a value");
	leaves_is("sip:x@db01.example.com;transport=", 1,
	    "transport with an empty value");
	leaves_is("sip:x@db01.example.com;transport=tcp%00", 1,
	    "tcp%00 is not tcp");
	leaves_is("sip:x@db01.example.com;transport=tcp;transport=x-db", 1,
	    "a second transport counts too");
	leaves_is("sip:x@db01.example.com:5432;transport=tcp", 1,
	    "the reported case: port 5432, transport=tcp");
	leaves_is("sip:x@db01.example.com;transportx=x-db", 0,
	    "transportx is another parameter");

	/* The parser never lets a bad escape through; a Route is not
	 * parsed with the message, so the check meets it there. */
	is_long(reroutes("sip:bob@example.com",
	    "Route: <sip:edge.example.com;lr;maddr=%G1>\r\n"), 1,
	    "Route with %%G1: foreign");
	is_long(reroutes("sip:bob@example.com",
	    "Route: <sip:edge.example.com;lr;m%6>\r\n"), 1,
	    "Route with a truncated escape: foreign");
	is_long(reroutes("sip:bob@example.com",
	    "Route: <sip:edge.example.com;lr?Route=%3Csip:evil.example.org"
	    "%3E>\r\n"), 1, "Route with URI headers: foreign");
	is_long(reroutes("sip:bob@example.com;maddr=%G1", ""), -1,
	    "Request-URI with %%G1 does not even frame as a message");
}

/* ---- the torture corpora ---- */

/*
 * Every corpus message, and every prefix of it, parsed as a datagram and
 * framed as a stream, then answered: nothing may crash or read outside
 * (each copy is malloc'd to its exact size, for ASan), and any reply
 * built must frame as a valid response.
 */
static void
answer(const char *tag, const struct sip_msg *msg, int *built, int *bad)
{
	size_t n = sip_reply_build(out, sizeof out, msg, 400, NULL, NULL);

	if (n == 0)
		return;
	(*built)++;
	if (!reply_ok(out, n, 400)) {
		(*bad)++;
		diag("%s: reply does not frame: %s", tag, err.reason);
	}
}

static void
run_dir(const char *shared, const char *dir, int *files, int *built,
    int *bad)
{
	char path[4096], line[1024], tag[300];
	struct sip_limits lim;
	size_t len, k, used, scanned;
	enum sip_frame_result fr;
	FILE *idx;

	sip_limits_default(&lim);
	snprintf(path, sizeof path, "%s/corpus/%s/INDEX.tsv", shared, dir);
	if ((idx = fopen(path, "r")) == NULL) {
		ok(0, "corpus index %s: %s (set FEDKIT_SHARED)", path,
		    strerror(errno));
		return;
	}
	while (fgets(line, sizeof line, idx) != NULL) {
		char *name = strtok(line, "\t"), *buf, *cp;

		if (name == NULL || strcmp(name, "name") == 0)
			continue;
		snprintf(path, sizeof path, "%s/corpus/%s/%s.sip", shared, dir,
		    name);
		snprintf(tag, sizeof tag, "%s/%s", dir, name);
		if ((buf = tap_slurp(path, &len)) == NULL) {
			ok(0, "%s: cannot read %s", tag, path);
			continue;
		}
		(*files)++;
		for (k = len; k > 0; k--) {
			if ((cp = malloc(k)) == NULL)
				break;
			memcpy(cp, buf, k);
			(void)sip_parse_datagram(cp, k, &lim, &m, &err);
			answer(tag, &m, built, bad);
			scanned = 0;
			fr = sip_frame(cp, k, &lim, &scanned, &used, &m, &err);
			if (fr == SIP_FRAME_MESSAGE ||
			    fr == SIP_FRAME_MALFORMED)
				answer(tag, &m, built, bad);
			(void)sip_request_reroutes(&m, local, NULL);
			free(cp);
		}
		free(buf);
	}
	fclose(idx);
}

static void
test_corpus(void)
{
	const char *shared = getenv("FEDKIT_SHARED");
	int files = 0, built = 0, bad = 0;

	if (shared == NULL || *shared == '\0')
		shared = "../shared";
	run_dir(shared, "rfc4475", &files, &built, &bad);
	run_dir(shared, "rfc5118", &files, &built, &bad);
	is_long(files, 61, "all 61 corpus messages read");
	ok(built > 100, "replies built for corpus messages and prefixes (%d)",
	    built);
	is_long(bad, 0, "every reply built frames as a valid response");
}

int
main(void)
{
	test_invite();
	test_to_tag();
	test_refusals();
	test_malformed();
	test_extra();
	test_big();
	test_reroutes();
	test_relay_uri();
	test_mutations();
	test_corpus();
	return done_testing();
}
