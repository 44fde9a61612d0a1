/* 0110-sip: the SIP framer and parser on built messages, good and hostile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip.h"
#include "tap.h"

static struct sip_msg m;	/* big: never on the stack */
static struct sip_error err;
static struct sip_limits lim;

#define S(s)	(s), (sizeof(s) - 1)

static const char invite[] =
    "INVITE sip:bob@Biloxi.Example.COM:5061;transport=tls SIP/2.0\r\n"
    "Via: SIP/2.0/TLS edge.atlanta.example.com:5061"
    ";branch=z9hG4bK74bf9;received=192.0.2.10\r\n"
    "Via: SIP/2.0/TLS pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice L.\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com;transport=tls>\r\n"
    "User-Agent: Example/1.0\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 42\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 1 1 IN IP4 192.0.2.101\r\n"
    "s=-\r\n";

static const char response[] =
    "SIP/2.0 486 Busy Here\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    "From: <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "To: <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    "Call-ID: a84b4c76e66710\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

/* A small request, with a header line spliced in before Content-Length. */
static char *
req(const char *extra, const char *method, const char *cseq)
{
	static char buf[8192];

	snprintf(buf, sizeof buf,
	    "%s sip:bob@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP h.example.net;branch=z9hG4bKx\r\n"
	    "From: <sip:a@example.net>;tag=1\r\n"
	    "To: <sip:bob@example.com>\r\n"
	    "Call-ID: c1@h\r\n"
	    "CSeq: %s\r\n"
	    "%s"
	    "Content-Length: 0\r\n\r\n", method, cseq, extra);
	return buf;
}

static int
dgram(const char *buf, size_t len)
{
	return sip_parse_datagram(buf, len, &lim, &m, &err);
}

static int
dg(const char *s)
{
	return dgram(s, strlen(s));
}

static enum sip_frame_result
frame(const char *buf, size_t len, size_t *used)
{
	size_t scanned = 0;

	return sip_frame(buf, len, &lim, &scanned, used, &m, &err);
}

/*
 * Feed buf as a stream in pieces (a step of 0 means random sizes), the
 * way a reader appends to its buffer: MORE until the first whole message.
 */
static enum sip_frame_result
frame_chunked(const char *buf, size_t len, size_t step, size_t *used,
    int *early)
{
	size_t have = 0, scanned = 0;
	enum sip_frame_result r = SIP_FRAME_MORE;

	*early = 0;
	while (have < len) {
		have += step ? step : 1 + (size_t)rand() % 97;
		if (have > len)
			have = len;
		r = sip_frame(buf, have, &lim, &scanned, used, &m, &err);
		if (r != SIP_FRAME_MORE)
			break;
		if (*used != 0)
			(*early)++;
	}
	return r;
}

static int
mem_is(struct fed_str s, const char *want)
{
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static void
test_request(void)
{
	const struct sip_hdr *h;
	char aor[256];

	ok(dgram(S(invite)) == 0, "INVITE parses");
	ok(m.is_request && m.method_id == SIP_M_INVITE, "request, INVITE");
	is_mem(m.method.p, m.method.n, "INVITE", "method");
	is_mem(m.ruri_raw.p, m.ruri_raw.n,
	    "sip:bob@Biloxi.Example.COM:5061;transport=tls", "ruri_raw");
	is_mem(m.ruri.scheme.p, m.ruri.scheme.n, "sip", "ruri scheme");
	is_mem(m.ruri.user.p, m.ruri.user.n, "bob", "ruri user");
	is_mem(m.ruri.host.p, m.ruri.host.n, "Biloxi.Example.COM", "ruri host");
	is_long(m.ruri.port, 5061, "ruri port");
	is_mem(m.ruri.params.p, m.ruri.params.n, "transport=tls", "params");
	ok(m.ruri.is_sip && !m.ruri.host_is_ip, "ruri is sip, not IP");
	is_long(sip_uri_aor(&m.ruri, aor, sizeof aor), 22, "aor length");
	is_str(aor, "bob@biloxi.example.com", "aor lowercases the host");
	is_mem(m.from_raw.p, m.from_raw.n, "\"Alice L.\" "
	    "<sip:alice@atlanta.example.com>;tag=9fxced76sl", "from_raw");
	is_mem(m.from.user.p, m.from.user.n, "alice", "From user");
	is_mem(m.from.host.p, m.from.host.n, "atlanta.example.com",
	    "From host");
	is_mem(m.from_tag.p, m.from_tag.n, "9fxced76sl", "From tag");
	is_mem(m.to.user.p, m.to.user.n, "bob", "To user");
	ok(m.to_tag.n == 0, "no To tag");
	is_mem(m.call_id.p, m.call_id.n,
	    "3848276298220188511@atlanta.example.com", "Call-ID");
	is_long(m.cseq, 314159, "CSeq number");
	is_mem(m.cseq_method.p, m.cseq_method.n, "INVITE", "CSeq method");
	is_mem(m.via_branch.p, m.via_branch.n, "z9hG4bK74bf9",
	    "top Via branch");
	is_mem(m.user_agent.p, m.user_agent.n, "Example/1.0", "User-Agent");
	is_long(m.content_length, 42, "Content-Length");
	is_long((long)m.body_len, 42, "body length");
	ok(m.body.p == invite + sizeof invite - 1 - 42, "body points into "
	    "the buffer");
	is_long((long)m.header_len, (long)(sizeof invite - 1 - 42),
	    "header_len");
	is_long(m.nhdr, 11, "11 headers");
	h = sip_hdr_find(&m, SIP_H_CONTACT);
	ok(h != NULL && mem_is(h->value,
	    "<sip:alice@pc33.atlanta.example.com;transport=tls>"), "Contact");
	ok(h != NULL && mem_is(h->name, "Contact") && h->line.n ==
	    strlen("Contact: <sip:alice@pc33.atlanta.example.com;"
	    "transport=tls>\r\n"), "Contact name and whole line");
	h = sip_hdr_find(&m, SIP_H_MAX_FORWARDS);
	ok(h != NULL && mem_is(h->value, "70"), "Max-Forwards found");
	ok(sip_hdr_find(&m, SIP_H_DATE) == NULL, "no Date");
	ok(err.reason == NULL && err.code == 0, "no error on success");
}

static void
test_response(void)
{
	ok(dgram(S(response)) == 0, "response parses");
	ok(!m.is_request && m.status == 486, "status 486");
	is_mem(m.reason.p, m.reason.n, "Busy Here", "reason phrase");
	is_mem(m.to_tag.p, m.to_tag.n, "a6c85cf", "To tag");
	is_mem(m.cseq_method.p, m.cseq_method.n, "MESSAGE",
	    "response CSeq method free");
	ok(m.method.n == 0 && m.method_id == SIP_M_OTHER, "no method");
	ok(dg("SIP/2.0 100 \r\nFrom: <sip:a@b>\r\nTo: <sip:c@d>\r\n"
	    "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n") == 0 && m.reason.n == 0,
	    "empty reason phrase");
	ok(dg("SIP/2.0 200 \xd0\x9e\xd0\x9a\r\nFrom: <sip:a@b>\r\n"
	    "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n") == 0,
	    "UTF-8 reason phrase");
}

static void
test_forms(void)
{
	const struct sip_hdr *h;
	const char *msg =
	    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
	    "v: SIP/2.0/UDP a.example.net;branch=z9hG4bK1 , "
	    "SIP/2.0/TCP b.example.net:5070;branch=z9hG4bK2\r\n"
	    "VIA: SIP/2.0/UDP c.example.net;branch=z9hG4bK3\r\n"
	    "f: sip:alice@example.net;tag=77\r\n"
	    "t:\r\n <sip:bob@example.com>\r\n"
	    "i: cid@example.net\r\n"
	    "cSeQ :  7\r\n\tMESSAGE\r\n"
	    "subject: hello\r\n  world\r\n"
	    "m: *\r\n"
	    "c: text/plain\r\n"
	    "L: 2\r\n"
	    "\r\nhi";

	ok(dg(msg) == 0, "compact forms, folding, any case: %s",
	    err.reason ? err.reason : "ok");
	is_mem(m.via_branch.p, m.via_branch.n, "z9hG4bK1",
	    "top Via branch from a Via list");
	is_mem(m.from_tag.p, m.from_tag.n, "77", "f: addr-spec tag");
	is_mem(m.to.host.p, m.to.host.n, "example.com", "folded t:");
	is_long(m.cseq, 7, "folded CSeq number");
	is_mem(m.cseq_method.p, m.cseq_method.n, "MESSAGE",
	    "folded CSeq method");
	h = sip_hdr_find(&m, SIP_H_SUBJECT);
	ok(h != NULL && mem_is(h->value, "hello\r\n  world"),
	    "folded value keeps its folding");
	ok(sip_hdr_find(&m, SIP_H_CONTENT_TYPE) != NULL, "c: is Content-Type");
	is_long(m.content_length, 2, "L: is Content-Length");
	h = sip_hdr_find(&m, SIP_H_VIA);
	ok(h != NULL && mem_is(h->name, "v"), "first Via is the compact one");
	ok(dg(req("Via: SIP/2.0/UDP x.example.org\r\n", "OPTIONS",
	    "1 OPTIONS")) == 0 && mem_is(m.via_branch, "z9hG4bKx"),
	    "second Via line does not replace the top branch");
	ok(dg(req("", "OPTIONS", "0001 OPTIONS")) == 0 && m.cseq == 1,
	    "CSeq leading zeros");
	ok(dg(req("Max-Forwards: 0070\r\n", "OPTIONS", "1 OPTIONS")) == 0,
	    "Max-Forwards leading zeros");
	ok(dg(req("Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n", "OPTIONS",
	    "1 OPTIONS")) == 0, "Date in GMT");
	ok(dg(req("X-Note: caf\xc3\xa9 \xe2\x98\x95\r\n", "OPTIONS",
	    "1 OPTIONS")) == 0, "UTF-8 in a value is fine");
	ok(dg(req("To-Be: \"quoted \\\x01 ctl\"\r\n", "OPTIONS",
	    "1 OPTIONS")) == 0, "control byte as a quoted-pair is fine");
	ok(dg(req("", "FOO.bar", "1 FOO.bar")) == 0 &&
	    m.method_id == SIP_M_OTHER, "extension method");
}

static void
test_keepalive(void)
{
	size_t used;

	ok(frame(S("\r\n\r\n"), &used) == SIP_FRAME_KEEPALIVE && used == 4,
	    "CRLFCRLF is a ping of 4");
	ok(frame(S("\r\n\r\nINVITE"), &used) == SIP_FRAME_KEEPALIVE &&
	    used == 4, "ping before a message");
	ok(frame(S("\r\nINVITE sip:"), &used) == SIP_FRAME_KEEPALIVE &&
	    used == 2, "CRLF then a message is a pong of 2");
	ok(frame(S("\r\n"), &used) == SIP_FRAME_MORE && used == 0,
	    "lone CRLF at the end: MORE");
	ok(frame(S("\r\n\r"), &used) == SIP_FRAME_MORE, "CRLFCR: MORE");
	ok(frame(S("\r"), &used) == SIP_FRAME_MORE, "CR: MORE");
	ok(frame("", 0, &used) == SIP_FRAME_MORE && used == 0,
	    "empty input: MORE");
	ok(dg("") == -1, "empty datagram refused");
	ok(dg("\r\n\r\n") == -1 && err.code == 0, "keep-alive datagram: "
	    "-1 with code 0");
}

static void
test_stream(void)
{
	static char two[4096];
	size_t used, used2, n, i, len = sizeof invite - 1;
	int early, allmore = 1;
	enum sip_frame_result r;

	r = frame(invite, len, &used);
	ok(r == SIP_FRAME_MESSAGE && used == len, "whole INVITE framed");
	r = frame_chunked(invite, len, 1, &used2, &early);
	ok(r == SIP_FRAME_MESSAGE && used2 == len && !early,
	    "one byte at a time: same result");
	is_mem(m.via_branch.p, m.via_branch.n, "z9hG4bK74bf9",
	    "fields after byte-wise feeding");
	srand(4475);
	for (i = 0; i < 50; i++) {
		r = frame_chunked(invite, len, 0, &used2, &early);
		if (r != SIP_FRAME_MESSAGE || used2 != len || early)
			break;
	}
	ok(i == 50, "random chunk sizes, 50 runs: same result");
	for (n = 0; n < len; n++)
		if (frame(invite, n, &used) != SIP_FRAME_MORE || used != 0) {
			allmore = 0;
			diag("prefix %zu: %s", n, err.reason);
		}
	ok(allmore, "every prefix of a message is MORE");
	for (n = 0; n < len; n++)
		(void)dgram(invite, n);
	ok(1, "every prefix as a datagram: no crash");

	n = 0;
	memcpy(two, invite, len);
	memcpy(two + len, response, sizeof response - 1);
	n = len + sizeof response - 1;
	r = frame(two, n, &used);
	ok(r == SIP_FRAME_MESSAGE && used == len, "first of two messages");
	r = frame(two + used, n - used, &used2);
	ok(r == SIP_FRAME_MESSAGE && used2 == sizeof response - 1 &&
	    m.status == 486, "second of two messages");
	r = frame_chunked(two, n, 0, &used2, &early);
	ok(r == SIP_FRAME_MESSAGE && used2 == len,
	    "two messages in random chunks: the first");
}

static void
test_framing_errors(void)
{
	static char big[200000];
	size_t used, n, i;
	struct sip_limits big_lim;
	char *p;

	p = req("", "OPTIONS", "1 OPTIONS");
	p[strlen(p) - strlen("Content-Length: 0\r\n\r\n")] = '\0';
	strcat(p, "\r\n");
	ok(frame(p, strlen(p), &used) == SIP_FRAME_ERROR &&
	    err.code == 400 && strcmp(err.reason, "Content-Length missing")
	    == 0, "stream without Content-Length: ERROR 400 (%s)",
	    err.reason);
	ok(dg(p) == 0, "datagram without Content-Length is fine");

	p = req("Content-Length: 10485760\r\n", "OPTIONS", "1 OPTIONS");
	/* drop the trailing "Content-Length: 0" so only the huge one is left */
	p[strlen(p) - strlen("Content-Length: 0\r\n\r\n")] = '\0';
	strcat(p, "\r\n");
	ok(frame(p, strlen(p), &used) == SIP_FRAME_ERROR && err.code == 513,
	    "10 MB Content-Length: ERROR 513 with only the head (%s)",
	    err.reason);
	ok(frame(S("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n"),
	    &used) == SIP_FRAME_ERROR && err.code == 400,
	    "negative Content-Length: ERROR (%s)", err.reason);
	ok(frame(S("OPTIONS sip:a@b SIP/2.0\r\nl: 1x\r\n\r\n"), &used) ==
	    SIP_FRAME_ERROR, "non-numeric Content-Length: ERROR (%s)",
	    err.reason);
	ok(frame(S("OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab"),
	    &used) == SIP_FRAME_ERROR, "conflicting Content-Length: ERROR "
	    "(%s)", err.reason);
	p = req("l: 0\r\n", "OPTIONS", "1 OPTIONS");
	ok(frame(p, strlen(p), &used) == SIP_FRAME_MALFORMED &&
	    used == strlen(p), "same Content-Length twice: MALFORMED (%s)",
	    err.reason);
	ok(frame(S("OPTIONS sip:a@b SIP/2.0\r\nl: 99999999999999999999999"
	    "\r\n\r\n"), &used) == SIP_FRAME_ERROR && err.code == 513,
	    "absurd Content-Length: ERROR 513");

	/* 10,000 header lines. */
	sip_limits_default(&big_lim);
	big_lim.max_message = sizeof big;
	n = (size_t)snprintf(big, sizeof big, "OPTIONS sip:a@b SIP/2.0\r\n");
	for (i = 0; i < 10000; i++) {
		memcpy(big + n, "X: y\r\n", 6);
		n += 6;
	}
	memcpy(big + n, "l: 0\r\n\r\n", 8);
	n += 8;
	{
		size_t sc = 0;

		ok(sip_frame(big, n, &big_lim, &sc, &used, &m, &err) ==
		    SIP_FRAME_ERROR && err.code == 513, "10,000 headers: "
		    "ERROR 513 (%s)", err.reason);
	}
	ok(sip_parse_datagram(big, n, &big_lim, &m, &err) == -1 &&
	    err.code == 513, "10,000 headers datagram: 513");
	ok(frame(big, n, &used) == SIP_FRAME_ERROR && err.code == 513,
	    "10,000 headers with default limits: ERROR 513 (%s)",
	    err.reason);

	/* Endless folding. */
	n = (size_t)snprintf(big, sizeof big,
	    "OPTIONS sip:a@b SIP/2.0\r\nSubject: a");
	while (n + 4 < sizeof big) {
		memcpy(big + n, "\r\n b", 4);
		n += 4;
	}
	ok(frame(big, 10000, &used) == SIP_FRAME_MORE,
	    "endless folding, not yet terminated: MORE");
	ok(frame(big, n, &used) == SIP_FRAME_ERROR && err.code == 513,
	    "endless folding past max_message: ERROR 513 (%s)", err.reason);
	memcpy(big + 20000, "\r\nl: 0\r\n\r\n", 10);
	ok(frame(big, n, &used) == SIP_FRAME_ERROR && err.code == 513 &&
	    strcmp(err.reason, "header line too long") == 0,
	    "folded line over max_line: ERROR 513 (%s)", err.reason);
	/* A head that never ends. */
	memset(big, 'a', sizeof big);
	ok(frame(big, 65535, &used) == SIP_FRAME_MORE, "64K-1 of junk: MORE");
	ok(frame(big, sizeof big, &used) == SIP_FRAME_ERROR &&
	    err.code == 513, "junk past max_message: ERROR 513");
	ok(dgram(big, sizeof big) == -1 && err.code == 513,
	    "oversized datagram: 513");
}

/* The message is well framed but wrong: MALFORMED, whole size skipped. */
static void
malformed(const char *msg, const char *what, const char *reason, int code)
{
	size_t used;
	enum sip_frame_result r = frame(msg, strlen(msg), &used);

	ok(r == SIP_FRAME_MALFORMED && used == strlen(msg) &&
	    err.reason != NULL && (reason == NULL ||
	    strcmp(err.reason, reason) == 0) && (code == 0 || err.code ==
	    code), "%s: MALFORMED, %s (%d)", what, err.reason ? err.reason :
	    "accepted", err.code);
}

static void
test_malformed(void)
{
	static char buf[512];

	{
		char *q = req("", "INVITE", "1 INVITE");
		size_t used, len = strlen(q);

		q[3] = '\0';
		ok(frame(q, len, &used) == SIP_FRAME_MALFORMED &&
		    used == len && strcmp(err.reason, "bad method") == 0,
		    "NUL in the method: MALFORMED (%s)", err.reason);
	}
	memcpy(buf, "OPTIONS sip:a\0b@example.com SIP/2.0\r\n", 38);
	strcpy(buf + 38, strchr(req("", "OPTIONS", "1 OPTIONS"), '\n') + 1);
	{
		size_t used, len = 38 + strlen(buf + 38);

		ok(frame(buf, len, &used) == SIP_FRAME_MALFORMED &&
		    used == len, "NUL in the Request-URI: MALFORMED (%s)",
		    err.reason);
	}
	memcpy(buf, req("X-A: 1\r\n", "OPTIONS", "1 OPTIONS"), 400);
	{
		char *x = strstr(buf, "X-A");
		size_t used, len = strlen(buf);

		x[1] = '\0';
		ok(frame(buf, len, &used) == SIP_FRAME_MALFORMED,
		    "NUL in a header name: MALFORMED (%s)", err.reason);
		x[1] = '-';
		x[5] = '\0';
		ok(frame(buf, len, &used) == SIP_FRAME_MALFORMED &&
		    strcmp(err.reason, "control character in a header value")
		    == 0, "NUL in a header value: MALFORMED");
	}
	malformed(req("X-B: a\x01" "b\r\n", "OPTIONS", "1 OPTIONS"),
	    "control byte in a value", "control character in a header value",
	    400);
	malformed(req("X-B: a\x7f\r\n", "OPTIONS", "1 OPTIONS"),
	    "DEL in a value", NULL, 400);
	malformed(req("X-B: a\rb\r\n", "OPTIONS", "1 OPTIONS"),
	    "bare CR in a value", NULL, 400);
	malformed(req("X-B: a\nb: c\r\n", "OPTIONS", "1 OPTIONS"),
	    "bare LF in the header section", NULL, 400);
	malformed(req("X-\xc3\xa9: a\r\n", "OPTIONS", "1 OPTIONS"),
	    "non-ASCII header name", "bad character in header name", 400);
	malformed(req("", "INVIT\xc3\x89", "1 INVIT\xc3\x89"),
	    "non-ASCII method", "bad method", 400);
	malformed(req("No colon here\r\n", "OPTIONS", "1 OPTIONS"),
	    "header without a colon", NULL, 400);
	malformed(req("NoColon\r\n", "OPTIONS", "1 OPTIONS"),
	    "bare name", "header line without a colon", 400);
	malformed(req("", "OPTIONS", "4294967296 OPTIONS"), "CSeq 2^32",
	    "CSeq number out of range", 400);
	ok(dg(req("", "OPTIONS", "4294967295 OPTIONS")) == 0 &&
	    m.cseq == 4294967295u, "CSeq 2^32-1 is fine");
	malformed(req("", "OPTIONS", "99999999999999999999999999 OPTIONS"),
	    "huge CSeq", "CSeq number out of range", 400);
	malformed(req("", "OPTIONS", "1 INVITE"), "CSeq method mismatch",
	    "CSeq method does not match the request method", 400);
	ok(m.call_id.n == 4 && m.cseq == 1 && m.via_branch.n > 0 &&
	    m.from_raw.n > 0, "MALFORMED keeps the fields found");
	malformed(req("", "OPTIONS", "1 options"), "CSeq method case",
	    NULL, 400);
	malformed(req("", "OPTIONS", "OPTIONS"), "CSeq without number",
	    "bad CSeq", 400);
	malformed(req("Max-Forwards: 256\r\n", "OPTIONS", "1 OPTIONS"),
	    "Max-Forwards 256", "Max-Forwards out of range", 400);
	malformed(req("Call-ID: other\r\n", "OPTIONS", "1 OPTIONS"),
	    "two Call-IDs", "more than one Call-ID header", 400);
	malformed(req("User-Agent: Mozilla/5.0\r\n"
	    "User-Agent: friendly-scanner\r\n", "OPTIONS", "1 OPTIONS"),
	    "two User-Agents hide a scanner", "more than one User-Agent header",
	    400);
	malformed(req("Date: Sat, 13 Nov 2010 23:29:00 EST\r\n", "OPTIONS",
	    "1 OPTIONS"), "Date not GMT", "Date not in GMT", 400);
	malformed(req("Contact: <sip:a@b>;;\r\n", "OPTIONS", "1 OPTIONS"),
	    "empty Contact parameter", "empty parameter in Contact", 400);
	malformed(req("Contact: <sip:a@b>,,<sip:c@d>\r\n", "OPTIONS",
	    "1 OPTIONS"), "empty Contact element", NULL, 400);
	malformed(req("Via: SIP/2.0/UDP a.b;;x\r\n", "OPTIONS", "1 OPTIONS"),
	    "empty Via parameter", "empty parameter in Via", 400);
	malformed(req("Via: SIP/2.0/UDP a.b,,SIP/2.0/UDP c.d\r\n", "OPTIONS",
	    "1 OPTIONS"), "empty Via element", "empty element in Via", 400);
	malformed(req("Via: SIP/2.0/UDP [2001:db8::1]:70000\r\n", "OPTIONS",
	    "1 OPTIONS"), "Via port 70000", NULL, 400);
	malformed(" sip:a@b SIP/2.0\r\nl: 0\r\n\r\n", "start line "
	    "beginning with SP", NULL, 400);
	malformed("OPTIONS sip:a@b SIP/3.0\r\nl: 0\r\n\r\n", "SIP/3.0", NULL,
	    505);
	malformed("SIP/3.0 200 OK\r\nl: 0\r\n\r\n", "response SIP/3.0", NULL,
	    505);
	malformed("SIP/2.0 099 Low\r\nl: 0\r\n\r\n", "status 099", NULL, 400);
	malformed("SIP/2.0 700 High\r\nl: 0\r\n\r\n", "status 700", NULL, 400);
	malformed("SIP/2.0 20 OK\r\nl: 0\r\n\r\n", "status 20", NULL, 400);
	malformed("SIP/2.0 2000 OK\r\nl: 0\r\n\r\n", "status 2000", NULL, 400);
	malformed("SIP/2.0 2x0 OK\r\nl: 0\r\n\r\n", "status 2x0", NULL, 400);
	malformed("SIP/2.0 200\r\nl: 0\r\n\r\n", "status without SP", NULL,
	    400);
	malformed("SIP/2.0 200 O\x01K\r\nl: 0\r\n\r\n", "control in reason",
	    NULL, 400);
	malformed("OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n", "no mandatory "
	    "headers", "missing Via header", 400);
	malformed("OPTIONS sip:2001:db8::10 SIP/2.0\r\nl: 0\r\n\r\n",
	    "IPv6 without brackets", NULL, 400);
	malformed(req("To: sip:x@y\r\n", "OPTIONS", "1 OPTIONS"), "two To",
	    "more than one To header", 400);
	malformed(req("", "OPTIONS sip:a@b", "1 OPTIONS"), "two spaces", NULL,
	    400);
	malformed("GARBAGE\r\nl: 0\r\n\r\n", "garbage start line",
	    "bad request line", 400);
	malformed("OPTIONS sip:a@b SIP/2.0\r\n folded\r\nl: 0\r\n\r\n",
	    "folding right after the start line",
	    "folded line without a header", 400);
	ok(dg(req("X-Fold: a\r\n\tb\r\n \r\n", "OPTIONS", "1 OPTIONS")) == 0,
	    "folding with HT and a blank continuation");
}

/* From/To/Contact grammar through one header. */
static void
test_addresses(void)
{
	static const struct {
		const char *to;
		int good;
	} cases[] = {
		{ "<sip:bob@example.com>", 1 },
		{ "Bob <sip:bob@example.com>;tag=x", 1 },
		{ "\"Bob \\\"B\\\"\" <sip:bob@example.com>", 1 },
		{ "bob<sip:bob@example.com>", 1 },
		{ "sip:bob@example.com;tag=1", 1 },
		{ "<tel:+15551234>", 1 },
		{ "isbn:2983792873", 1 },
		{ "<sip:bob@[2001:db8::1]:5060>", 1 },
		{ "<sips:b%40x@example.com>", 1 },
		{ "<sip:example.com>", 1 },
		{ "\"unterminated <sip:bob@example.com>", 0 },
		{ "< sip:bob@example.com>", 0 },
		{ "<sip:bob@example.com >", 0 },
		{ "Bob, Jr <sip:bob@example.com>", 0 },
		{ "sip:bob@example.com?subject=x", 0 },
		{ "<sip:bob@example.com", 0 },
		{ "<sip:bob@example.com>;", 0 },
		{ "<sip:bob@example.com> junk", 0 },
		{ "<sip:bob@ex ample.com>", 0 },
		{ "<sip:bob@example.com:99999>", 0 },
		{ "<sip:bob@-example.com>", 0 },
		{ "<sip:bob@example..com>", 0 },
		{ "<sip:bob@1.2.3.256>", 0 },
		{ "<sip:@example.com>", 0 },
		{ "<sip:bob%zz@example.com>", 0 },
		{ "<:nothing>", 0 },
		{ "<sip:>", 0 },
		{ "<sip:bob@example.com>,<sip:c@d>", 0 },
		{ "", 0 },
	};
	char extra[256];
	size_t i;
	int r;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(extra, sizeof extra, "X: y\r\n");
		/* Replace the message's To with the case. */
		char *p = req(extra, "OPTIONS", "1 OPTIONS"), *t, *e;

		t = strstr(p, "To: ") + 4;
		e = strstr(t, "\r\n");
		memmove(t + strlen(cases[i].to), e, strlen(e) + 1);
		memcpy(t, cases[i].to, strlen(cases[i].to));
		r = dg(p);
		ok((r == 0) == cases[i].good, "To: %s -> %s", cases[i].to,
		    r == 0 ? "ok" : err.reason);
	}
	ok(dg(req("Contact: *\r\n", "REGISTER", "1 REGISTER")) == 0,
	    "Contact: *");
	ok(dg(req("Contact: \"A\" <sip:a@b>;q=0.5, sip:c@d;expires=60\r\n",
	    "REGISTER", "1 REGISTER")) == 0, "Contact list");
	ok(dg(req("Contact: <sip:a@b?Route=%3Csip:c%3E>\r\n", "REGISTER",
	    "1 REGISTER")) == 0, "Contact with headers in < >");
	ok(dg(req("Contact: <sip:a@b>;x=\"unterminated\r\n", "REGISTER",
	    "1 REGISTER")) == -1, "Contact with an unterminated quote: %s",
	    err.reason);
}

static void
aor_is(const char *uri, const char *aor, const char *domain)
{
	struct sip_uri u;
	struct sip_error e;
	char buf[256];
	int n;

	if (sip_uri_parse((struct fed_str){ uri, strlen(uri) }, &u, &e) < 0) {
		ok(0, "%s parses: %s", uri, e.reason);
		return;
	}
	n = sip_uri_aor(&u, buf, sizeof buf);
	ok(n >= 0 && (size_t)n == strlen(aor) && memcmp(buf, aor, n) == 0,
	    "aor(%s) = %s", uri, aor);
	if (n >= 0 && strcmp(buf, aor) != 0)
		diag("  got '%.*s'", n, buf);
	n = sip_uri_domain(&u, buf, sizeof buf);
	ok(n >= 0 && strcmp(buf, domain) == 0, "domain(%s) = %s", uri,
	    domain);
}

static void
test_aor(void)
{
	struct sip_uri u;
	struct sip_error e;
	char small[8], buf[64];

	aor_is("sip:Bob@Example.COM", "Bob@example.com", "example.com");
	aor_is("sip:%41lice@example.com", "Alice@example.com", "example.com");
	aor_is("sip:null-%00-null@example.com", "null-%00-null@example.com",
	    "example.com");
	aor_is("sip:a%2fb%3a@example.com", "a/b%3A@example.com",
	    "example.com");
	aor_is("sip:%7e%25%20@example.com", "~%25%20@example.com",
	    "example.com");
	aor_is("sip:user;par=u%40example.net@example.com",
	    "user;par=u%40example.net@example.com", "example.com");
	aor_is("sips:bob:secret@example.com:5061;transport=tls?subject=hi",
	    "bob@example.com", "example.com");
	aor_is("sip:bob@[2001:DB8::1]:5060", "bob@[2001:db8::1]",
	    "2001:db8::1");
	aor_is("sip:[2001:db8::10]", "[2001:db8::10]", "2001:db8::10");
	aor_is("sip:example.com.;lr", "example.com", "example.com");
	aor_is("sip:192.0.2.1:5060", "192.0.2.1", "192.0.2.1");
	aor_is("SIP:+1555@gw.Example.net;user=phone", "+1555@gw.example.net",
	    "gw.example.net");
	ok(sip_uri_parse((struct fed_str){ "sip:a@example.com", 17 }, &u,
	    &e) == 0 && sip_uri_aor(&u, small, sizeof small) == -1,
	    "aor that does not fit: -1");
	ok(sip_uri_parse((struct fed_str){ "tel:+1555", 9 }, &u, &e) == 0 &&
	    !u.is_sip && sip_uri_aor(&u, buf, sizeof buf) == -1 &&
	    sip_uri_domain(&u, buf, sizeof buf) == -1 &&
	    mem_is(u.opaque, "+1555"), "tel: URI: opaque, no aor");
	ok(sip_uri_parse((struct fed_str){ "sip:h?x=a@b", 11 }, &u, &e) ==
	    0 && u.user.n == 0 && mem_is(u.host, "h") &&
	    mem_is(u.headers, "x=a@b"), "unescaped @ in URI headers");
	ok(sip_uri_parse((struct fed_str){ "sip:a?b@h", 9 }, &u, &e) ==
	    0 && mem_is(u.user, "a?b") == 0 && mem_is(u.host, "a"),
	    "sip:a?b@h reads as host a with headers");
	ok(sip_uri_parse((struct fed_str){ "sip:a!?b@h", 10 }, &u, &e) ==
	    0 && mem_is(u.user, "a!?b") && mem_is(u.host, "h"),
	    "'?' in a user part that is no host");
	ok(sip_uri_parse((struct fed_str){ "sip:a@b:0", 9 }, &u, &e) == 0,
	    "port 0 parses");
	ok(sip_uri_parse((struct fed_str){ "sip:a@b:65536", 13 }, &u,
	    &e) == -1 && e.reason != NULL, "port 65536 refused, saying why");
	ok(sip_uri_parse((struct fed_str){ "sip:[::ffff:192.0.2.1]", 22 },
	    &u, &e) == 0 && u.host_is_ip, "IPv4-mapped IPv6");
	ok(sip_uri_parse((struct fed_str){ "sip:a@1.2.3", 11 }, &u, &e) ==
	    -1, "1.2.3 is no host");
}

/* ---- URI parameters and their escapes (RFC 3261 19.1.4) ---- */

static struct fed_str
str(const char *s)
{
	return (struct fed_str){ s, strlen(s) };
}

/* s decoded with sip_unescape_next into buf, NUL-terminated; -1 at the
 * first invalid escape, else the length. */
static int
unescape(const char *s, char *buf, size_t sz)
{
	size_t pos = 0, n = 0;
	int c;

	while ((c = sip_unescape_next(str(s), &pos)) >= 0 && n + 1 < sz)
		buf[n++] = (char)c;
	buf[n] = '\0';
	return c == SIP_UNESCAPE_BAD ? -1 : (int)n;
}

static void
test_unescape(void)
{
	char buf[64];
	size_t pos;

	ok(unescape("m%61ddr", buf, sizeof buf) == 5 &&
	    strcmp(buf, "maddr") == 0, "m%%61ddr decodes to maddr");
	ok(unescape("%6D%41%64DR", buf, sizeof buf) == 5 &&
	    strcmp(buf, "mAdDR") == 0, "hex digits in either case");
	ok(unescape("a%00b", buf, sizeof buf) == 3 && buf[1] == '\0' &&
	    buf[2] == 'b', "%%00 is a NUL byte, and decoding goes on");
	ok(unescape("%ff", buf, sizeof buf) == 1 &&
	    (unsigned char)buf[0] == 0xff, "%%ff is byte 255");
	ok(unescape("", buf, sizeof buf) == 0, "empty: nothing");
	ok(unescape("%G1", buf, sizeof buf) == -1, "%%G1 is invalid");
	ok(unescape("%1G", buf, sizeof buf) == -1, "%%1G is invalid");
	ok(unescape("ab%6", buf, sizeof buf) == -1 && strcmp(buf, "ab") == 0,
	    "a truncated %%6 is invalid, after the bytes before it");
	ok(unescape("%", buf, sizeof buf) == -1, "a lone %% is invalid");
	pos = 0;
	ok(sip_unescape_next((struct fed_str){ "%6", 2 }, &pos) ==
	    SIP_UNESCAPE_BAD && pos == 0, "an invalid escape does not move");
	pos = 3;
	ok(sip_unescape_next((struct fed_str){ "abc", 3 }, &pos) ==
	    SIP_UNESCAPE_END && pos == 3, "at the end: END");
	/* The slice ends before the escape is whole: never read past it. */
	pos = 0;
	ok(sip_unescape_next((struct fed_str){ "%61", 2 }, &pos) ==
	    SIP_UNESCAPE_BAD, "an escape cut by the slice's end is invalid");

	ok(sip_unescaped_caseeq(str("maddr"), "maddr") == 1, "maddr");
	ok(sip_unescaped_caseeq(str("MADDR"), "maddr") == 1, "MADDR");
	ok(sip_unescaped_caseeq(str("m%61ddr"), "maddr") == 1, "m%%61ddr");
	ok(sip_unescaped_caseeq(str("%6Daddr"), "maddr") == 1, "%%6Daddr");
	ok(sip_unescaped_caseeq(str("%4d%41%44%44%52"), "maddr") == 1,
	    "%%4d%%41%%44%%44%%52: all escaped, upper case");
	ok(sip_unescaped_caseeq(str("maddrx"), "maddr") == 0, "maddrx");
	ok(sip_unescaped_caseeq(str("madd"), "maddr") == 0, "madd");
	ok(sip_unescaped_caseeq(str("maddr%00"), "maddr") == 0,
	    "maddr%%00 is not maddr");
	ok(sip_unescaped_caseeq(str("m%00addr"), "maddr") == 0,
	    "m%%00addr is not maddr");
	ok(sip_unescaped_caseeq(str(""), "") == 1 &&
	    sip_unescaped_caseeq(str(""), "a") == 0, "empty strings");
	ok(sip_unescaped_caseeq(str("t%63p"), "tcp") == 1, "t%%63p is tcp");
	ok(sip_unescaped_caseeq(str("x%2Ddb"), "x-db") == 1,
	    "x%%2Ddb is x-db");
	ok(sip_unescaped_caseeq(str("%5B"), "{") == 0,
	    "only letters fold: [ is not {");
	ok(sip_unescaped_caseeq(str("maddr%G1"), "maddr") ==
	    SIP_UNESCAPE_BAD, "an invalid escape after a match: BAD");
	ok(sip_unescaped_caseeq(str("x%6"), "maddr") == SIP_UNESCAPE_BAD,
	    "an invalid escape after a difference: BAD");
}

/* The parameters of uri, each as "name=value" or "name", joined by '|';
 * "!" where sip_uri_param_next says -1. */
static const char *
params_of(const char *params)
{
	static char out[256];
	struct fed_str rest = str(params);
	struct sip_uri_param prm;
	size_t o = 0;
	int r, k = 0;

	out[0] = '\0';
	while ((r = sip_uri_param_next(&rest, &prm)) != 0 && k++ < 16) {
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%.*s%s%.*s",
		    o ? "|" : "", r < 0 ? 1 : (int)prm.name.n,
		    r < 0 ? "!" : prm.name.p, prm.has_value ? "=" : "",
		    (int)prm.value.n, prm.value.p);
		if (o >= sizeof out)
			break;
	}
	return out;
}

static void
test_uri_params(void)
{
	struct sip_uri u;
	struct sip_error e;
	struct fed_str rest = FED_STR_NULL;
	struct sip_uri_param prm;

	is_str(params_of("lr;transport=tcp;m%61ddr=a%2eb"),
	    "lr|transport=tcp|m%61ddr=a%2eb", "names and values as written");
	is_str(params_of("a=;b"), "a=|b", "an empty value is still a value");
	is_str(params_of("a=1;x=%G1;b"), "a=1|!=%G1|b",
	    "a bad escape in a value: -1, and the rest still walks");
	is_str(params_of("%6"), "!", "a truncated escape in a name: -1");
	is_str(params_of("a=b=c"), "a=b=c", "the first '=' ends the name");
	ok(sip_uri_param_next(&rest, &prm) == 0, "no parameters: 0");

	ok(sip_uri_parse(str("sip:bob@example.com;m%61ddr=evil.com"), &u,
	    &e) == 0 && mem_is(u.params, "m%61ddr=evil.com"),
	    "a valid escape in a parameter parses, kept as written");
	ok(sip_uri_parse(str("sip:bob@example.com;maddr=%G1"), &u, &e) ==
	    -1 && strcmp(e.reason, "bad escape in URI parameter") == 0,
	    "%%G1 in a parameter value: the URI does not parse, saying why");
	ok(sip_uri_parse(str("sip:bob@example.com;m%6"), &u, &e) == -1,
	    "a truncated escape at the end of the URI does not parse");
	ok(sip_uri_parse(str("sip:bob@example.com;m%6;lr"), &u, &e) == -1,
	    "a truncated escape before another parameter does not parse");
	ok(sip_uri_parse(str("sip:bob@example.com;%;lr"), &u, &e) == -1,
	    "a lone %% does not parse");
	ok(sip_uri_parse(str("sip:bob@example.com;x=%2g"), &u, &e) == -1,
	    "%%2g does not parse");
	ok(sip_uri_parse(str("sip:bob@example.com;x=%2f?h=%G1"), &u, &e) == 0,
	    "URI headers are not parameters (the Request-URI refuses them)");
	{
		static char msg[1024];
		size_t used;
		const char *q;

		snprintf(msg, sizeof msg, "MESSAGE sip:bob@example.com;"
		    "maddr=%%6 SIP/2.0\r\n%s", strstr(req("", "MESSAGE",
		    "1 MESSAGE"), "\r\n") + 2);
		malformed(msg, "Request-URI with a truncated escape",
		    "bad escape in URI parameter", 400);
		malformed(req("Contact: <sip:a@h.example.net;x=%zz>\r\n",
		    "MESSAGE", "1 MESSAGE"), "Contact with %zz",
		    "bad escape in URI parameter", 400);
		q = req("Contact: <sip:a@h.example.net;m%61ddr=x>\r\n",
		    "MESSAGE", "1 MESSAGE");
		ok(frame(q, strlen(q), &used) == SIP_FRAME_MESSAGE,
		    "Contact with a valid escape: a message");
	}
}

static void
test_methods(void)
{
	int i;

	for (i = 1; i < SIP_M__COUNT; i++) {
		const char *n = sip_method_name((enum sip_method)i);

		if (n == NULL || sip_method_id((struct fed_str){ n,
		    strlen(n) }) != (enum sip_method)i)
			break;
	}
	ok(i == SIP_M__COUNT, "every method name maps back to its id");
	ok(sip_method_id((struct fed_str){ "invite", 6 }) == SIP_M_OTHER,
	    "methods are case-sensitive");
	ok(sip_method_name(SIP_M_OTHER) == NULL, "no name for OTHER");
	ok(sip_method_id((struct fed_str){ "RE%47IST%45R", 12 }) ==
	    SIP_M_OTHER, "escaped REGISTER is not REGISTER");
}

int
main(void)
{
	sip_limits_default(&lim);
	ok(lim.max_message == SIP_DEFAULT_MAX_MESSAGE &&
	    lim.max_line == SIP_DEFAULT_MAX_LINE &&
	    lim.max_headers == SIP_DEFAULT_MAX_HEADERS, "default limits");
	test_request();
	test_response();
	test_forms();
	test_keepalive();
	test_stream();
	test_framing_errors();
	test_malformed();
	test_addresses();
	test_aor();
	test_unescape();
	test_uri_params();
	test_methods();
	return done_testing();
}
