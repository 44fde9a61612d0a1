/* proxyproto.h: the PROXY protocol header a load balancer sends first. */
#ifndef PROXYPROTO_H
#define PROXYPROTO_H

#include <sys/socket.h>

#include <stddef.h>

#include "fed.h"

/*
 * haproxy's PROXY protocol, versions 1 (text, `send-proxy`) and 2 (binary,
 * `send-proxy-v2`): behind a load balancer the connection's peer is the
 * balancer, and the partner's own address comes first on the connection,
 * before TLS (fedkit(7) POOL).  Only the TCP forms name a partner; the
 * balancer speaking for itself (v2 LOCAL, v1 UNKNOWN: its health checks)
 * names none.
 *
 * A v1 header is at most 107 bytes; a v2 one 16 bytes and its addresses,
 * plus TLVs, which are skipped: at most PROXY_HEADER_MAX in all.
 */
#define PROXY_HEADER_MAX	1024

/*
 * Parse the header at the start of buf[0, n).  Returns its length (> 0)
 * with *src the partner's address and port, or ss_family AF_UNSPEC when
 * it names none; 0 when buf holds only the start of a header (read more);
 * -1 with *err when it is no header, or a malformed or over-long one.
 */
int proxy_header_parse(const unsigned char *buf, size_t n,
    struct sockaddr_storage *src, struct fed_err *);

/*
 * Read the header from the socket fd within timeout_ms, consuming exactly
 * its bytes (what follows is TLS or SIP, untouched).  0 with *src as
 * above, or -1 with *err: no header, a bad one, the connection closed,
 * the time out.
 */
int proxy_header_read(int fd, unsigned timeout_ms,
    struct sockaddr_storage *src, struct fed_err *);

/* "ADDR:PORT" or "[ADDR]:PORT" (the peer as fedgate logs it) of an
 * AF_INET or AF_INET6 address into buf; -1 for another family. */
int proxy_addr_format(const struct sockaddr_storage *, char *buf,
    size_t cap);

#endif
