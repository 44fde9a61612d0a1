/* fuzz_proxy.c: libFuzzer target: the PROXY protocol header a load
 * balancer sends first, parsed from memory and read from a socket. */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A promise broken: crash so the fuzzer keeps the input. */
#define CHECK(x) do { if (!(x)) abort(); } while (0)

/*
 * The parse never claims more than it was given nor more than
 * PROXY_HEADER_MAX, names a partner only as IPv4 or IPv6, and a header
 * it accepts parses the same with any bytes after it.  Reading the same
 * bytes from a socket (written whole, then shut) takes exactly the
 * header and leaves the rest; a header never finished ends in an error
 * at the close, not a wait.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage a, b;
	struct fed_err e;
	unsigned char rest[8192];
	char peer[64];
	ssize_t got;
	int n, m, sv[2], r;

	if (size > 4096)
		return 0;
	n = proxy_header_parse(data, size, &a, &e);
	CHECK(n >= -1 && n <= (int)size && n <= PROXY_HEADER_MAX);
	if (n > 0) {
		CHECK(a.ss_family == AF_UNSPEC || a.ss_family == AF_INET ||
		    a.ss_family == AF_INET6);
		CHECK((proxy_addr_format(&a, peer, sizeof peer) == 0) ==
		    (a.ss_family != AF_UNSPEC));
		m = proxy_header_parse(data, (size_t)n, &b, &e);
		CHECK(m == n && a.ss_family == b.ss_family);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	if (size > 0 && write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	r = proxy_header_read(sv[0], 1000, &b, &e);
	CHECK(r == (n > 0 ? 0 : -1));
	if (r == 0) {
		got = read(sv[0], rest, sizeof rest);
		CHECK(got == (ssize_t)(size - (size_t)n));
		CHECK(got == 0 || memcmp(rest, data + n, (size_t)got) == 0);
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}
