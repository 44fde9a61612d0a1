/* fuzz_sip.c: libFuzzer target for the SIP framer, datagram parser and URI keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sip_msg msg;	/* big: keep it off the stack */

/* Abort on a broken promise, so the fuzzer reports it as a crash. */
#define CHECK(c)	do { if (!(c)) abort(); } while (0)

/* Every slice of a parsed message lies inside buf[0..len). */
static void
in_buf(struct fed_str s, const char *buf, size_t len)
{
	if (s.n == 0)
		return;
	CHECK(s.p >= buf && s.p + s.n <= buf + len);
}

static void
check_uri(const struct sip_uri *u, const char *buf, size_t len)
{
	char out[1024];
	int n;

	in_buf(u->scheme, buf, len);
	in_buf(u->user, buf, len);
	in_buf(u->host, buf, len);
	in_buf(u->params, buf, len);
	in_buf(u->headers, buf, len);
	in_buf(u->opaque, buf, len);
	CHECK(u->port <= 65535);
	n = sip_uri_aor(u, out, sizeof out);
	CHECK(n < (int)sizeof out);
	if (n >= 0)
		CHECK(out[n] == '\0');
	n = sip_uri_domain(u, out, sizeof out);
	CHECK(n < (int)sizeof out);
	/* A tiny buffer must fail cleanly, never overflow. */
	(void)sip_uri_aor(u, out, 3);
	(void)sip_uri_domain(u, out, 1);
}

static void
check_msg(const struct sip_msg *m, const char *buf, size_t len)
{
	unsigned i;

	CHECK(m->nhdr <= SIP_HDR_MAX);
	in_buf(m->method, buf, len);
	in_buf(m->ruri_raw, buf, len);
	in_buf(m->reason, buf, len);
	in_buf(m->from_raw, buf, len);
	in_buf(m->to_raw, buf, len);
	in_buf(m->from_tag, buf, len);
	in_buf(m->to_tag, buf, len);
	in_buf(m->call_id, buf, len);
	in_buf(m->cseq_method, buf, len);
	in_buf(m->via_branch, buf, len);
	in_buf(m->user_agent, buf, len);
	in_buf(m->body, buf, len);
	check_uri(&m->ruri, buf, len);
	check_uri(&m->from, buf, len);
	check_uri(&m->to, buf, len);
	for (i = 0; i < m->nhdr; i++) {
		in_buf(m->hdr[i].name, buf, len);
		in_buf(m->hdr[i].value, buf, len);
		in_buf(m->hdr[i].line, buf, len);
	}
	(void)sip_hdr_find(m, SIP_H_CONTACT);
}

/*
 * Frame buf as a stream, handing it over in two pieces split at cut (the
 * bytes before are all the framer may see at first), and return how many
 * bytes were consumed before it stopped.
 */
static size_t
stream(const char *buf, size_t len, size_t cut,
    const struct sip_limits *lim)
{
	size_t off = 0, scanned = 0, used, have;
	enum sip_frame_result r;
	struct sip_error err;
	int rounds = 0;

	while (off < len && rounds++ < 10000) {
		have = off < cut ? cut - off : len - off;
		r = sip_frame(buf + off, have, lim, &scanned, &used, &msg,
		    &err);
		CHECK(used <= have);
		switch (r) {
		case SIP_FRAME_MORE:
			CHECK(used == 0);
			if (off + have >= len)
				return off;
			cut = len;	/* the rest arrives */
			continue;
		case SIP_FRAME_KEEPALIVE:
			CHECK(used == 2 || used == 4);
			break;
		case SIP_FRAME_MESSAGE:
		case SIP_FRAME_MALFORMED:
			CHECK(used > 0);
			CHECK((r == SIP_FRAME_MALFORMED) == (err.reason != NULL));
			CHECK(msg.header_len + msg.body_len == used);
			check_msg(&msg, buf + off, used);
			break;
		case SIP_FRAME_ERROR:
			CHECK(err.reason != NULL && err.code >= 400);
			return off;
		}
		off += used;
		scanned = 0;
	}
	return off;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf;
	struct sip_limits lim, small;
	struct sip_error err;
	struct sip_uri u;
	char *copy;
	size_t cut, a, b;

	/* An exact-size copy, so ASan sees any read past the end. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	buf = copy;
	sip_limits_default(&lim);
	small.max_message = 512;
	small.max_line = 64;
	small.max_headers = 8;

	if (sip_parse_datagram(buf, size, &lim, &msg, &err) == 0) {
		CHECK(err.reason == NULL);
		check_msg(&msg, buf, size);
	} else {
		CHECK(err.reason != NULL);
		check_msg(&msg, buf, size);
	}
	(void)sip_parse_datagram(buf, size, &small, &msg, &err);

	/* The stream, whole and split at a point the data picks. */
	cut = size ? (size_t)data[0] * 7 % (size + 1) : 0;
	a = stream(buf, size, size, &lim);
	b = stream(buf, size, cut, &lim);
	CHECK(a == b);		/* chunking never changes the framing */
	(void)stream(buf, size, cut, &small);

	if (sip_uri_parse((struct fed_str){ buf, size }, &u, &err) == 0)
		check_uri(&u, buf, size);
	free(copy);
	return 0;
}
