/* sip.h: streaming SIP framer and parser; every result a slice of the input. */
#ifndef SIP_H
#define SIP_H

#include "fed.h"

/* Limits on what a partner may send; conf.c fills them from fed.conf. */
struct sip_limits {
	size_t max_message;	/* whole message, headers and body (bytes) */
	size_t max_line;	/* one logical header line, folding included */
	unsigned max_headers;	/* header lines per message, <= SIP_HDR_MAX */
};
#define SIP_DEFAULT_MAX_MESSAGE	65536
#define SIP_DEFAULT_MAX_LINE	8192
#define SIP_DEFAULT_MAX_HEADERS	128
#define SIP_HDR_MAX		256	/* hard cap on max_headers */
void sip_limits_default(struct sip_limits *);

/* Headers the parser knows by name (long or compact form, any case). */
enum sip_hdr_id {
	SIP_H_OTHER = 0,
	SIP_H_VIA, SIP_H_FROM, SIP_H_TO, SIP_H_CALL_ID, SIP_H_CSEQ,
	SIP_H_CONTACT, SIP_H_CONTENT_LENGTH, SIP_H_CONTENT_TYPE,
	SIP_H_MAX_FORWARDS, SIP_H_USER_AGENT, SIP_H_DATE, SIP_H_FED_TRUST,
	SIP_H_RECORD_ROUTE, SIP_H_ROUTE, SIP_H_ALLOW, SIP_H_RETRY_AFTER,
	SIP_H_SUPPORTED, SIP_H_SUBJECT, SIP_H_CONTENT_ENCODING, SIP_H_EVENT,
	SIP_H_REFER_TO, SIP_H__COUNT
};

/* Methods by number; SIP_M_OTHER keeps the extension method's text. */
enum sip_method {
	SIP_M_OTHER = 0,
	SIP_M_INVITE, SIP_M_ACK, SIP_M_BYE, SIP_M_CANCEL, SIP_M_OPTIONS,
	SIP_M_MESSAGE, SIP_M_INFO, SIP_M_UPDATE, SIP_M_PRACK, SIP_M_REFER,
	SIP_M_SUBSCRIBE, SIP_M_NOTIFY, SIP_M_PUBLISH, SIP_M_REGISTER,
	SIP_M__COUNT
};
enum sip_method sip_method_id(struct fed_str);
const char *sip_method_name(enum sip_method);	/* NULL for SIP_M_OTHER */

/* One header line as received: name and value exclude the colon and the
 * surrounding whitespace; line spans name to the final CRLF inclusive. */
struct sip_hdr {
	enum sip_hdr_id id;
	struct fed_str name;
	struct fed_str value;	/* may contain folding (CRLF + SP/HT) */
	struct fed_str line;
};

/* A URI taken apart; for non-SIP schemes only scheme and opaque are set. */
struct sip_uri {
	struct fed_str scheme;	/* "sip", "sips", "tel", ... as written */
	struct fed_str user;	/* escaped, as written; n == 0 if none */
	struct fed_str host;	/* as written, IPv6 with its brackets */
	unsigned port;		/* 0 if none */
	struct fed_str params;	/* after the first ';', without it */
	struct fed_str headers;	/* after '?', without it */
	struct fed_str opaque;	/* everything after "scheme:" */
	int is_sip;		/* scheme is sip or sips */
	int host_is_ip;		/* host is an IPv4 or IPv6 literal */
};

/* A parsed message.  Every fed_str points into the caller's buffer. */
struct sip_msg {
	int is_request;
	/* request line */
	struct fed_str method;
	enum sip_method method_id;
	struct fed_str ruri_raw;
	struct sip_uri ruri;
	/* status line */
	int status;		/* 100..699 for responses, 0 for requests */
	struct fed_str reason;
	/* what policy needs */
	struct fed_str from_raw, to_raw;	/* whole first header value */
	struct sip_uri from, to;		/* their URIs */
	struct fed_str from_tag, to_tag;	/* n == 0 if absent */
	struct fed_str call_id;
	uint32_t cseq;
	struct fed_str cseq_method;
	struct fed_str via_branch;	/* top Via's branch, n == 0 if none */
	struct fed_str user_agent;
	long content_length;		/* -1 if absent */
	/* layout */
	size_t header_len;	/* start line + headers + empty line */
	size_t body_len;
	struct fed_str body;
	unsigned nhdr;
	struct sip_hdr hdr[SIP_HDR_MAX];
};

/* Why a message was rejected: a short fixed English phrase. */
struct sip_error {
	const char *reason;	/* e.g. "CSeq method does not match" */
	int code;		/* the SIP response to send: 400, 505, 513 */
};

/*
 * Framing a byte stream (TCP, TLS, a pipe).  sip_frame looks at buf[0..len)
 * and says what its beginning holds:
 *   SIP_FRAME_MORE      not enough bytes yet (*used is 0);
 *   SIP_FRAME_KEEPALIVE a CRLF or CRLFCRLF keep-alive of *used bytes;
 *   SIP_FRAME_MESSAGE   one whole message of *used bytes, parsed into *msg
 *                       (or, when the return is SIP_FRAME_MALFORMED, a
 *                       message that is well framed but invalid: *err says
 *                       why, *used says how many bytes to skip);
 *   SIP_FRAME_ERROR     unframeable: the rest of the stream cannot be read
 *                       (no or bad Content-Length, oversized); *err says why.
 *                       When the head itself was read whole (a missing or
 *                       bad Content-Length, a body over max_message),
 *                       msg->header_len is non-zero and *msg is filled as
 *                       for SIP_FRAME_MALFORMED, with an empty body at
 *                       the head's end: it can still be answered;
 *                       otherwise header_len is 0.
 * It never reads past len and keeps no state: the caller keeps the buffer
 * and calls again with more bytes.  `scanned` lets the caller skip what an
 * earlier SIP_FRAME_MORE already searched (pass 0 the first time; the
 * framer updates it).  Treat it as opaque: after SIP_FRAME_MORE pass it
 * back unchanged with the same buffer start; it is 0 after any other
 * result, and must be reset to 0 whenever the buffer start moves.
 * A NULL limits pointer means the defaults.
 */
enum sip_frame_result {
	SIP_FRAME_MORE, SIP_FRAME_KEEPALIVE, SIP_FRAME_MESSAGE,
	SIP_FRAME_MALFORMED, SIP_FRAME_ERROR
};
enum sip_frame_result sip_frame(const char *buf, size_t len,
    const struct sip_limits *, size_t *scanned, size_t *used,
    struct sip_msg *msg, struct sip_error *err);

/*
 * A whole UDP datagram is one message: without Content-Length the body
 * runs to its end; bytes beyond Content-Length are ignored (RFC 3261
 * 18.3).  Returns 0, or -1 with *err set (a keep-alive is -1 with code 0).
 */
int sip_parse_datagram(const char *buf, size_t len, const struct sip_limits *,
    struct sip_msg *msg, struct sip_error *err);

/* Parse a URI (the slice must hold only the URI).  0 or -1 with *err. */
int sip_uri_parse(struct fed_str, struct sip_uri *, struct sip_error *err);

/*
 * The URI's address of record as policy keys it: `user@host`, the host
 * lowercased, the user's escapes of characters that need none decoded and
 * the rest written %HH in upper case (so equal URIs give equal keys, RFC
 * 3261 19.1.4), parameters and headers dropped, a trailing dot of the
 * host dropped, IPv6 kept in brackets.  No user: just `host`.  Writes a
 * NUL-terminated string; returns its length, or -1 if it does not fit or
 * the URI is not SIP.  (%00 stays "%00": a key is never cut at a NUL.)
 */
int sip_uri_aor(const struct sip_uri *, char *buf, size_t bufsz);

/* The host lowercased, without brackets, trailing dot dropped; -1 as above. */
int sip_uri_domain(const struct sip_uri *, char *buf, size_t bufsz);

/*
 * URI parameters one at a time: *rest starts as a URI's params and moves
 * past each parameter taken.  name and value are slices as written, still
 * escaped (value.n == 0 and has_value 0 for a bare `lr`).  Returns 1 with
 * *param filled, 0 when none is left, -1 when the parameter's name or
 * value holds an invalid escape (a '%' not followed by two hex digits:
 * `%G1`, a truncated `%6`), which sip_uri_parse never lets through.
 */
struct sip_uri_param {
	struct fed_str name, value;
	int has_value;
};
int sip_uri_param_next(struct fed_str *rest, struct sip_uri_param *param);

/*
 * The next byte of s with %HH escapes decoded (RFC 3261 19.1.4: an
 * escaped character is the character itself): *pos starts at 0 and moves
 * past the byte or the escape.  Returns the byte (0..255; an escaped NUL
 * is 0), SIP_UNESCAPE_END at the end of s, or SIP_UNESCAPE_BAD at an
 * invalid escape.
 */
#define SIP_UNESCAPE_END	(-1)
#define SIP_UNESCAPE_BAD	(-2)
int sip_unescape_next(struct fed_str s, size_t *pos);

/*
 * Whether s, its escapes decoded, equals the lower-case ASCII string
 * `lower`, ignoring the case of letters (`m%61ddr`, `%4DADDR` and `MADDR`
 * are all `maddr`).  1 or 0; SIP_UNESCAPE_BAD if s holds an invalid
 * escape.
 */
int sip_unescaped_caseeq(struct fed_str s, const char *lower);

/* Given p at an opening '"', the byte after its closing quote (a
 * backslash escapes the next byte); NULL if the string does not end
 * before e. */
const char *sip_skip_quoted(const char *p, const char *e);

/* First header with this id, or NULL. */
const struct sip_hdr *sip_hdr_find(const struct sip_msg *, enum sip_hdr_id);

#endif
