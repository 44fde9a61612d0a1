/* sipreply.h: the responses fedgate builds itself (RFC 3261 8.2.6). */
#ifndef SIPREPLY_H
#define SIPREPLY_H

#include <stddef.h>

#include "sip.h"

/*
 * Build `SIP/2.0 CODE PHRASE` for a request: every Via header as received
 * and in order (RFC 3261 8.2.6.2), From, To with a tag added when it has
 * none, Call-ID, CSeq, then `extra` (whole header lines with their CRLF,
 * e.g. "Retry-After: 5\r\n" or an Allow line; may be NULL; at most
 * SIP_REPLY_EXTRA_MAX bytes), a Server header and `Content-Length: 0`.
 * A NULL phrase means policy_code_phrase(code); a phrase may not hold
 * control bytes nor exceed 256 bytes.
 *
 * The added To tag is a hash of Call-ID, From tag, top Via branch and
 * CSeq number, so a retransmitted request gets the same tag (8.2.6.2 asks
 * that every response to one request carry the same one, 8.2.7 that a
 * stateless UAS make it so).
 *
 * req is what sip_frame (SIP_FRAME_MESSAGE or SIP_FRAME_MALFORMED) or
 * sip_parse_datagram filled, its buffer still in place; a malformed one
 * is fine.  The result is checked by parsing it back, so it is always a
 * valid response.
 *
 * Returns the length written (no NUL), or 0 when no response can be built:
 * the request lacks a Via, From, To, Call-ID or CSeq, it is an ACK (never
 * answered; the method or the CSeq method naming ACK is enough), a header
 * that must be copied is itself malformed, code is not 100..699, phrase
 * or extra break the rules above, or the result does not fit in cap.
 * SIP_REPLY_CAP(limits) is always enough for a request within those
 * limits.
 */
#define SIP_REPLY_EXTRA_MAX 1024
#define SIP_REPLY_CAP(max_message) ((max_message) + SIP_REPLY_EXTRA_MAX + 512)

size_t sip_reply_build(char *buf, size_t cap, const struct sip_msg *req,
    int code, const char *phrase, const char *extra);

/*
 * Would relaying this request send it somewhere other than our domain's
 * SIP service at its Request-URI host (fedkit(7), rule not_local)?  True
 * when the Request-URI, or any Route URI, carries a `maddr` parameter, a
 * port other than 5060 or 5061, a `transport` other than udp, tcp, tls,
 * sctp, ws or wss, or a parameter whose escaping is invalid or whose name
 * decodes to a control byte or white space, or URI headers (`?...`);
 * parameter names and values
 * are compared with their %HH escapes decoded (RFC 3261 19.1.4:
 * `m%61ddr` is maddr) and in any case.  True too when a Route header
 * names a URI whose host `is_local` does not accept (a partner may not
 * source-route through us to a third party).  Hosts are given to
 * is_local lowercased, without brackets or trailing dot.  A Route value
 * that does not parse (only the name-addr form `[display] <URI>
 * *(;param)` of RFC 3261 25.1 does), a non-SIP Route URI, and more than
 * 64 Route values in all count as foreign.  Whether the Request-URI host
 * itself is local is the caller's question.
 */
int sip_request_reroutes(const struct sip_msg *,
    int (*is_local)(const char *host, void *arg), void *arg);

#endif
