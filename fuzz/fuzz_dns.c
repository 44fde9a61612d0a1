/* fuzz_dns.c: libFuzzer target: DNS answers through dns_parse, for every
 * record type fedq asks, checking what a successful parse promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* A name holds what name_decode lets through, and fits. */
static void
check_name(const char *s)
{
	size_t n = strnlen(s, DNS_NAME_MAX);

	CHECK(n < 256);
	for (; *s != '\0'; s++)
		CHECK((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '_' || *s == '*' || *s == '.');
}

/* The question's name, uncompressed labels only: the name a real client
 * would have asked (else a fixed one, so the chain code still runs). */
static void
question(const uint8_t *m, size_t len, char *out)
{
	size_t off = 12, o = 0;

	strcpy(out, "fab.test");
	while (off < len && m[off] != 0 && m[off] < 64) {
		size_t c = m[off];

		if (off + 1 + c > len || o + c + 2 > 250) {
			strcpy(out, "fab.test");
			return;
		}
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, m + off + 1, c);
		o += c;
		off += 1 + c;
	}
	out[o] = '\0';
	/* fedq only ever asks for names it has checked. */
	for (off = 0; off < o; off++)
		if (!((out[off] >= 'a' && out[off] <= 'z') ||
		    (out[off] >= '0' && out[off] <= '9') || out[off] == '-' ||
		    out[off] == '_' || out[off] == '.'))
			break;
	if (o == 0 || off < o)
		strcpy(out, "fab.test");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_SRV,
	    DNS_T_NAPTR, DNS_T_SOA };
	static struct dns_answer a;
	char qname[256];
	size_t t, i;

	question(data, size, qname);
	for (t = 0; t < sizeof types / sizeof types[0]; t++) {
		if (dns_parse(data, size, qname, types[t], &a) != 0) {
			CHECK(a.n == 0);
			continue;
		}
		CHECK(a.n <= DNS_MAX_RRS);
		CHECK(a.rcode >= 0 && a.rcode <= 15);
		check_name(a.name);
		for (i = 0; i < a.n; i++) {
			const struct dns_rr *r = &a.rr[i];

			CHECK(r->type == types[t]);
			CHECK(r->ttl <= 0x7fffffffu);
			switch (r->type) {
			case DNS_T_A:
				CHECK(r->u.addr.family == AF_INET);
				break;
			case DNS_T_AAAA:
				CHECK(r->u.addr.family == AF_INET6);
				break;
			case DNS_T_SRV:
				check_name(r->u.srv.target);
				break;
			case DNS_T_NAPTR:
				check_name(r->u.naptr.replacement);
				CHECK(strnlen(r->u.naptr.flags, 16) < 16);
				CHECK(strnlen(r->u.naptr.service, 32) < 32);
				break;
			}
		}
	}
	return 0;
}
