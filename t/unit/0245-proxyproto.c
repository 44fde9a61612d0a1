/* 0245-proxyproto.c: the PROXY protocol header (v1, v2) and proxy_from. */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "proxyproto.h"
#include "tap.h"

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* "ADDR:PORT" or "[ADDR]:PORT" of a parsed source, "-" for none. */
static const char *
src_str(const struct sockaddr_storage *ss)
{
	static char buf[80];
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
		snprintf(buf, sizeof buf, "%s:%u", a, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a);
		snprintf(buf, sizeof buf, "[%s]:%u", a, ntohs(in6->sin6_port));
	} else
		snprintf(buf, sizeof buf, "-");
	return buf;
}

static void
v1(const char *text, int want_len, const char *want_src)
{
	struct sockaddr_storage ss;
	struct fed_err e = { "" };
	int r = proxy_header_parse((const unsigned char *)text, strlen(text),
	    &ss, &e);

	if (want_len > 0)
		ok(r == want_len && strcmp(src_str(&ss), want_src) == 0,
		    "v1 %s: %d bytes, %s (%d, %s %s)", tap_esc(text), want_len,
		    want_src, r, r > 0 ? src_str(&ss) : "", e.msg);
	else
		ok(r == want_len, "v1 %s: %s (%d: %s)", tap_esc(text),
		    want_len == 0 ? "needs more" : "refused", r, e.msg);
}

/* A v2 header: command, family, the address block, extra TLV bytes. */
static size_t
v2(unsigned char *buf, int cmd, int fam, const unsigned char *addr,
    size_t alen, size_t tlv)
{
	size_t len = alen + tlv;

	memcpy(buf, sig, 12);
	buf[12] = (unsigned char)(0x20 | cmd);
	buf[13] = (unsigned char)fam;
	buf[14] = (unsigned char)(len >> 8);
	buf[15] = (unsigned char)len;
	memcpy(buf + 16, addr, alen);
	memset(buf + 16 + alen, 0x04, tlv);	/* TLV bytes: skipped */
	return 16 + len;
}

static void
test_v1(void)
{
	char big[200];

	v1("PROXY TCP4 192.0.2.7 198.51.100.1 40000 5061\r\n", 46,
	    "192.0.2.7:40000");
	v1("PROXY TCP6 2001:db8::7 2001:db8::1 65535 5061\r\nTLS", 47,
	    "[2001:db8::7]:65535");
	v1("PROXY UNKNOWN\r\n", 15, "-");
	v1("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 35, "-");
	v1("PROXY TCP4 192.0.2.7 198.51.100.1 40000 50", 0, "");
	v1("PROX", 0, "");
	v1("P", 0, "");
	v1("PROXY TCP4 192.0.2.7 198.51.100.1 40000 5061\n", -1, "");
	v1("PROXY TCP4 192.0.2.777 198.51.100.1 40000 5061\r\n", -1, "");
	v1("PROXY TCP4 2001:db8::7 198.51.100.1 40000 5061\r\n", -1, "");
	v1("PROXY TCP4 192.0.2.7 198.51.100.1 65536 5061\r\n", -1, "");
	v1("PROXY TCP4 192.0.2.7 198.51.100.1 040 5061\r\n", -1, "");
	v1("PROXY TCP4 192.0.2.7  198.51.100.1 40 5061\r\n", -1, "");
	v1("PROXY TCP4 192.0.2.7 198.51.100.1 40 5061 x\r\n", -1, "");
	v1("PROXY UDP4 192.0.2.7 198.51.100.1 40 5061\r\n", -1, "");
	v1("INVITE sip:bob@example.com SIP/2.0\r\n", -1, "");
	v1("\x16\x03\x01\x02\x00", -1, "");
	memset(big, 'x', sizeof big - 1);
	memcpy(big, "PROXY TCP4 ", 11);
	big[sizeof big - 1] = '\0';
	v1(big, -1, "");
}

static void
test_v2(void)
{
	unsigned char buf[2048], a4[12] = { 192, 0, 2, 7, 198, 51, 100, 1,
	    0x9c, 0x40, 0x13, 0xc5 }, a6[36];
	struct sockaddr_storage ss;
	struct fed_err e = { "" };
	size_t n;
	int r;

	n = v2(buf, 1, 0x11, a4, sizeof a4, 0);
	r = proxy_header_parse(buf, n, &ss, &e);
	ok(r == 28 && strcmp(src_str(&ss), "192.0.2.7:40000") == 0,
	    "v2 TCP over IPv4: 28 bytes, 192.0.2.7:40000 (%d %s)", r,
	    src_str(&ss));
	memset(a6, 0, sizeof a6);
	a6[0] = 0x20, a6[1] = 0x01, a6[2] = 0x0d, a6[3] = 0xb8, a6[15] = 7;
	a6[32] = 0x13, a6[33] = 0xc4;
	n = v2(buf, 1, 0x21, a6, sizeof a6, 40);
	r = proxy_header_parse(buf, n, &ss, &e);
	ok(r == 16 + 36 + 40 && strcmp(src_str(&ss), "[2001:db8::7]:5060") == 0,
	    "v2 TCP over IPv6 with TLVs: 92 bytes, [2001:db8::7]:5060 (%d %s)",
	    r, src_str(&ss));
	r = proxy_header_parse(buf, n - 1, &ss, &e);
	ok(r == 0, "v2 one byte short: needs more (%d)", r);
	r = proxy_header_parse(buf, 10, &ss, &e);
	ok(r == 0, "v2 signature only begun: needs more (%d)", r);
	n = v2(buf, 0, 0x00, a4, 0, 0);
	r = proxy_header_parse(buf, n, &ss, &e);
	ok(r == 16 && ss.ss_family == AF_UNSPEC,
	    "v2 LOCAL (a health check): 16 bytes, no partner (%d)", r);
	n = v2(buf, 1, 0x00, a4, 0, 0);
	r = proxy_header_parse(buf, n, &ss, &e);
	ok(r == 16 && ss.ss_family == AF_UNSPEC, "v2 PROXY UNSPEC: no partner");
	n = v2(buf, 1, 0x12, a4, sizeof a4, 0);
	ok(proxy_header_parse(buf, n, &ss, &e) == -1,
	    "v2 UDP over IPv4: refused (%s)", e.msg);
	n = v2(buf, 1, 0x11, a4, 8, 0);
	ok(proxy_header_parse(buf, n, &ss, &e) == -1,
	    "v2 addresses cut short: refused (%s)", e.msg);
	n = v2(buf, 2, 0x11, a4, sizeof a4, 0);
	ok(proxy_header_parse(buf, n, &ss, &e) == -1,
	    "v2 unknown command: refused (%s)", e.msg);
	n = v2(buf, 1, 0x11, a4, sizeof a4, 0);
	buf[12] = 0x31;
	ok(proxy_header_parse(buf, n, &ss, &e) == -1,
	    "v2 version 3: refused (%s)", e.msg);
	(void)v2(buf, 1, 0x11, a4, sizeof a4, PROXY_HEADER_MAX);
	ok(proxy_header_parse(buf, 16, &ss, &e) == -1,
	    "v2 announcing more than %d bytes: refused at once (%s)",
	    PROXY_HEADER_MAX, e.msg);
}

/* proxy_header_read takes the header and not a byte more, even when it
 * comes in pieces; the deadline and a close end it. */
static void
test_read(void)
{
	static const char hdr[] = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 5061\r\n";
	struct sockaddr_storage ss;
	struct fed_err e = { "" };
	char rest[16];
	ssize_t n;
	pid_t pid;
	int sv[2], st, r;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		ok(0, "socketpair");
		return;
	}
	if ((pid = fork()) == 0) {
		close(sv[0]);
		if (write(sv[1], hdr, 20) != 20)
			_exit(1);
		usleep(50000);
		if (write(sv[1], hdr + 20, sizeof hdr - 21) !=
		    (ssize_t)sizeof hdr - 21 || write(sv[1], "HELLO", 5) != 5)
			_exit(1);
		usleep(200000);
		_exit(0);
	}
	close(sv[1]);
	r = proxy_header_read(sv[0], 2000, &ss, &e);
	ok(r == 0 && strcmp(src_str(&ss), "192.0.2.7:40000") == 0,
	    "read in two pieces: 192.0.2.7:40000 (%d %s)", r, e.msg);
	n = read(sv[0], rest, sizeof rest);
	ok(n == 5 && memcmp(rest, "HELLO", 5) == 0,
	    "the bytes after the header are left for TLS or SIP (%zd)", n);
	waitpid(pid, &st, 0);
	close(sv[0]);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		ok(0, "socketpair");
		return;
	}
	if (write(sv[1], hdr, 20) != 20)
		ok(0, "write");
	r = proxy_header_read(sv[0], 100, &ss, &e);
	ok(r == -1 && strstr(e.msg, "within 100 ms") != NULL,
	    "a header never finished: cut at the deadline (%s)", e.msg);
	close(sv[1]);
	r = proxy_header_read(sv[0], 1000, &ss, &e);
	ok(r == -1 && strstr(e.msg, "closed") != NULL,
	    "a close before the end: said (%s)", e.msg);
	close(sv[0]);
}

static void
trusted(const char *from, const char *addr, int want)
{
	struct conf c;
	struct fed_err e = { "" };
	struct sockaddr_storage ss;
	char text[256];

	memset(&ss, 0, sizeof ss);
	if (strchr(addr, ':') != NULL) {
		ss.ss_family = AF_INET6;
		inet_pton(AF_INET6, addr,
		    &((struct sockaddr_in6 *)&ss)->sin6_addr);
	} else {
		ss.ss_family = AF_INET;
		inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr);
	}
	snprintf(text, sizeof text, "proxy_protocol = on\nproxy_from = %s\n",
	    from);
	conf_defaults(&c);
	if (conf_parse(&c, "t", text, strlen(text), &e) != 0) {
		ok(0, "proxy_from = %s parses: %s", from, e.msg);
		conf_free(&c);
		return;
	}
	ok(conf_proxy_trusted(&c, &ss) == want, "%s %s one of proxy_from = %s",
	    addr, want ? "is" : "is not", from);
	c.proxy_protocol = 0;
	if (want)
		ok(conf_proxy_trusted(&c, &ss) == 0,
		    "... and is not trusted with proxy_protocol off");
	conf_free(&c);
}

static void
bad_from(const char *from)
{
	struct conf c;
	struct fed_err e = { "" };
	char text[256];

	snprintf(text, sizeof text, "proxy_from = %s\n", from);
	conf_defaults(&c);
	ok(conf_parse(&c, "t", text, strlen(text), &e) == -1 &&
	    strstr(e.msg, "t:1:") != NULL, "proxy_from = %s refused: %s", from,
	    e.msg);
	conf_free(&c);
}

int
main(void)
{
	test_v1();
	test_v2();
	test_read();
	trusted("127.0.0.1", "127.0.0.1", 1);
	trusted("127.0.0.1", "127.0.0.2", 0);
	trusted("10.0.0.0/8 ::1", "10.200.3.4", 1);
	trusted("10.0.0.0/8 ::1", "11.0.0.1", 0);
	trusted("10.0.0.0/8, ::1", "::1", 1);
	trusted("192.168.4.0/22", "192.168.7.255", 1);
	trusted("192.168.4.0/22", "192.168.8.0", 0);
	trusted("2001:db8::/33", "2001:db8:7fff::1", 1);
	trusted("2001:db8::/33", "2001:db8:8000::1", 0);
	trusted("192.0.2.7", "::ffff:192.0.2.7", 1);
	trusted("0.0.0.0/0", "203.0.113.9", 1);
	bad_from("192.0.2.7/33");
	bad_from("2001:db8::/129");
	bad_from("example.com");
	bad_from("192.0.2.7/");
	bad_from("/8");
	return done_testing();
}
