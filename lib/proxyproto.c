/* proxyproto.c: the PROXY protocol header, v1 and v2 (haproxy's spec). */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proxyproto.h"

#define V1_MAX		107	/* "PROXY TCP6 " + two full IPv6 + ports + CRLF */
#define V2_FIXED	16

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* A port of 1 to 5 digits, at most 65535, no leading zero but "0". */
static int
port_parse(const char *p, size_t n, uint16_t *port)
{
	uint64_t v;

	if (n > 5 || (n > 1 && p[0] == '0') ||
	    fed_parse_u64(p, n, 65535, &v) == -1)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/*
 * The end of the v1 line within V1_MAX bytes: 1 with *len its length
 * (CRLF included), 0 when more must be read, -1 when there is none.
 */
static int
v1_line_end(const char *p, size_t n, size_t *len, struct fed_err *err)
{
	const char *e = memchr(p, '\n', n < V1_MAX ? n : V1_MAX);

	if (e == NULL) {
		if (n >= V1_MAX) {
			fed_err_set(err, "PROXY v1 header: no end within %d "
			    "bytes", V1_MAX);
			return -1;
		}
		return 0;
	}
	if (e == p || e[-1] != '\r') {
		fed_err_set(err, "PROXY v1 header: a line not ended by CRLF");
		return -1;
	}
	*len = (size_t)(e - p) + 1;
	return 1;
}

/*
 * The fields of p..end, separated by single spaces, up to six and up to
 * an empty one: how many; *rest is where the split stopped.
 */
static size_t
v1_fields(const char *p, const char *end, struct fed_str f[6],
    const char **rest)
{
	size_t k = 0;

	while (p < end && k < 6) {
		f[k].p = p;
		while (p < end && *p != ' ')
			p++;
		f[k].n = (size_t)(p - f[k].p);
		if (f[k].n == 0)
			break;
		k++;
		if (p < end)
			p++;
	}
	*rest = p;
	return k;
}

/* An address of family af, as inet_pton reads it, into b. */
static int
v1_address(int af, struct fed_str f, unsigned char b[sizeof(struct in6_addr)],
    struct fed_err *err)
{
	char a[INET6_ADDRSTRLEN + 1];

	if (f.n > INET6_ADDRSTRLEN - 1) {
		fed_err_set(err, "PROXY v1 header: a bad address");
		return -1;
	}
	memcpy(a, f.p, f.n);
	a[f.n] = '\0';
	if (inet_pton(af, a, b) != 1) {
		fed_err_set(err, "PROXY v1 header: a bad address");
		return -1;
	}
	return 0;
}

/* The source address b, of family af, into src (its port comes last). */
static void
set_source_address(struct sockaddr_storage *src, int af,
    const unsigned char b[sizeof(struct in6_addr)])
{
	if (af == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)src;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, b, sizeof in->sin_addr);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)src;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, b, sizeof in6->sin6_addr);
	}
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY UNKNOWN ...\r\n". */
static int
v1_parse(const unsigned char *buf, size_t n, struct sockaddr_storage *src,
    struct fed_err *err)
{
	const char *p = (const char *)buf, *rest;
	struct fed_str f[6];
	unsigned char b[sizeof(struct in6_addr)];
	size_t len = 0, k;
	int af, rc;
	uint16_t sport, dport;

	if ((rc = v1_line_end(p, n, &len, err)) <= 0)
		return rc;
	memset(src, 0, sizeof *src);
	src->ss_family = AF_UNSPEC;
	k = v1_fields(p, p + len - 2, f, &rest);
	if (k < 2 || !fed_str_eq(f[0], "PROXY")) {
		fed_err_set(err, "PROXY v1 header: malformed");
		return -1;
	}
	if (fed_str_eq(f[1], "UNKNOWN"))
		return (int)len;	/* the rest is to be ignored */
	if (fed_str_eq(f[1], "TCP4"))
		af = AF_INET;
	else if (fed_str_eq(f[1], "TCP6"))
		af = AF_INET6;
	else {
		fed_err_set(err, "PROXY v1 header: an unknown protocol");
		return -1;
	}
	if (k != 6 || rest != p + len - 2) {
		fed_err_set(err, "PROXY v1 header: malformed");
		return -1;
	}
	if (v1_address(af, f[2], b, err) != 0)
		return -1;
	set_source_address(src, af, b);
	if (v1_address(af, f[3], b, err) != 0)
		return -1;
	if (port_parse(f[4].p, f[4].n, &sport) != 0 ||
	    port_parse(f[5].p, f[5].n, &dport) != 0) {
		memset(src, 0, sizeof *src);
		src->ss_family = AF_UNSPEC;
		fed_err_set(err, "PROXY v1 header: a bad port");
		return -1;
	}
	if (af == AF_INET)
		((struct sockaddr_in *)src)->sin_port = htons(sport);
	else
		((struct sockaddr_in6 *)src)->sin6_port = htons(sport);
	return (int)len;
}

/*
 * The source address of a PROXY command's header buf (len bytes) of
 * family and protocol fam into src: len, or -1.
 */
static int
v2_source(const unsigned char *buf, size_t len, int fam,
    struct sockaddr_storage *src, struct fed_err *err)
{
	switch (fam) {
	case 0x11: {		/* TCP over IPv4 */
		struct sockaddr_in *in = (struct sockaddr_in *)src;

		if (len < V2_FIXED + 12)
			break;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, buf + V2_FIXED, 4);
		memcpy(&in->sin_port, buf + V2_FIXED + 8, 2);
		return (int)len;
	}
	case 0x21: {		/* TCP over IPv6 */
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)src;

		if (len < V2_FIXED + 36)
			break;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, buf + V2_FIXED, 16);
		memcpy(&in6->sin6_port, buf + V2_FIXED + 32, 2);
		return (int)len;
	}
	case 0x00:		/* UNSPEC: nothing to say */
		return (int)len;
	default:
		fed_err_set(err, "PROXY v2 header: not a TCP connection "
		    "(family and protocol 0x%02x)", fam);
		return -1;
	}
	fed_err_set(err, "PROXY v2 header: addresses cut short");
	return -1;
}

static int
v2_parse(const unsigned char *buf, size_t n, struct sockaddr_storage *src,
    struct fed_err *err)
{
	size_t len;
	int cmd, fam;

	if (n < V2_FIXED)
		return 0;
	if ((buf[12] & 0xf0) != 0x20) {
		fed_err_set(err, "PROXY v2 header: version %d", buf[12] >> 4);
		return -1;
	}
	cmd = buf[12] & 0x0f;
	fam = buf[13];
	len = V2_FIXED + ((size_t)buf[14] << 8 | buf[15]);
	if (cmd > 1) {
		fed_err_set(err, "PROXY v2 header: an unknown command");
		return -1;
	}
	if (len > PROXY_HEADER_MAX) {
		fed_err_set(err, "PROXY v2 header: %zu bytes, over %d", len,
		    PROXY_HEADER_MAX);
		return -1;
	}
	if (n < len)
		return 0;
	memset(src, 0, sizeof *src);
	src->ss_family = AF_UNSPEC;
	if (cmd == 0)		/* LOCAL: the balancer itself */
		return (int)len;
	return v2_source(buf, len, fam, src, err);
}

int
proxy_header_parse(const unsigned char *buf, size_t n,
    struct sockaddr_storage *src, struct fed_err *err)
{
	if (n >= sizeof v2_sig && memcmp(buf, v2_sig, sizeof v2_sig) == 0)
		return v2_parse(buf, n, src, err);
	if (n >= 6 && memcmp(buf, "PROXY ", 6) == 0)
		return v1_parse(buf, n, src, err);
	/* The start of either: read more. */
	if (n < sizeof v2_sig && memcmp(buf, v2_sig, n) == 0)
		return 0;
	if (n < 6 && memcmp(buf, "PROXY ", n) == 0)
		return 0;
	fed_err_set(err, "no PROXY protocol header (a balancer must send "
	    "one: haproxy send-proxy or send-proxy-v2)");
	return -1;
}

int
proxy_addr_format(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
		snprintf(buf, cap, "%s:%u", a, ntohs(in->sin_port));
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a);
		snprintf(buf, cap, "[%s]:%u", a, ntohs(in6->sin6_port));
		return 0;
	}
	return -1;
}

/*
 * Wait up to left ms for more of the header on fd.  With part of one
 * peeked (partial), POLLIN stays true while its bytes wait, so look only
 * for the end of the connection, and back off a little.
 */
static int
wait_for_more(int fd, int partial, int64_t left, struct fed_err *err)
{
	struct pollfd pfd = { .fd = fd };

	if (partial) {
		pfd.events = POLLRDHUP;
		if (poll(&pfd, 1, left < 5 ? (int)left : 5) > 0 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			fed_err_set(err, "PROXY header: the connection closed");
			return -1;
		}
		return 0;
	}
	pfd.events = POLLIN | POLLRDHUP;
	if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
		fed_err_set(err, "PROXY header: poll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Read the len bytes of the header peeked, and nothing after them. */
static int
consume_header(int fd, unsigned char *buf, int len, struct fed_err *err)
{
	ssize_t took;

	do
		took = recv(fd, buf, (size_t)len, 0);
	while (took < 0 && errno == EINTR);
	if (took != len) {
		fed_err_set(err, "PROXY header: %s", took < 0 ?
		    strerror(errno) : "read short");
		return -1;
	}
	return 0;
}

int
proxy_header_read(int fd, unsigned timeout_ms, struct sockaddr_storage *src,
    struct fed_err *err)
{
	unsigned char buf[PROXY_HEADER_MAX];
	int64_t deadline = fed_mono_ms() + timeout_ms, left;
	ssize_t got;
	size_t seen = 0;
	int len;

	/*
	 * Peek, never read past the header: what follows belongs to TLS or
	 * the SIP framer.  A peek that shows nothing new waits for more.
	 * Bounded: at most PROXY_HEADER_MAX bytes, and the deadline.
	 */
	for (;;) {
		got = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
		if (got == 0) {
			fed_err_set(err, "PROXY header: the connection closed");
			return -1;
		}
		if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			fed_err_set(err, "PROXY header: %s", strerror(errno));
			return -1;
		}
		if (got > 0 && (size_t)got > seen) {
			seen = (size_t)got;
			if ((len = proxy_header_parse(buf, seen, src, err)) < 0)
				return -1;
			if (len > 0)
				break;
			if (seen == sizeof buf) {
				fed_err_set(err, "PROXY header: over %d bytes",
				    PROXY_HEADER_MAX);
				return -1;
			}
		}
		if ((left = deadline - fed_mono_ms()) <= 0) {
			fed_err_set(err, "PROXY header: not complete within "
			    "%u ms", timeout_ms);
			return -1;
		}
		if (wait_for_more(fd, got > 0, left, err) == -1)
			return -1;
	}
	return consume_header(fd, buf, len, err);
}
