/* fuzz_dns.c: libFuzzer target: DNS answers through dns_parse, for every
 * record type fedq asks, checking what a successful parse promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "dns.h"
#include "list.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* A name holds what name_decode lets through, and fits in 253 octets. */
static void
check_name(const char *s)
{
	size_t n = strnlen(s, DNS_NAME_MAX);

	CHECK(n <= DNS_NAME_LEN_MAX && n <= DOMAIN_MAX);
	for (; *s != '\0'; s++)
		CHECK((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '_' || *s == '*' || *s == '.');
}

/*
 * An SRV target as fedq uses it: only through the edge cache's rule
 * (domain_normalize, as edges.c reads the cache).  What that rule lets
 * through must be a name the cache's reader takes back unchanged:
 * letters, digits and hyphens in labels of 1 to 63 that neither start
 * nor end with a hyphen, at most 253 octets, already lowercase.
 */
static void
check_target(const char *s)
{
	char out[DOMAIN_MAX + 2];
	size_t n = strlen(s), i, label = 0;

	check_name(s);
	if (domain_normalize(s, n, 0, out, sizeof out, NULL) != 0)
		return;		/* fedq skips it, with a warning */
	CHECK(strcmp(out, s) == 0);
	CHECK(n > 0 && n <= DOMAIN_MAX);
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			CHECK((s[i] >= 'a' && s[i] <= 'z') ||
			    (s[i] >= '0' && s[i] <= '9') || s[i] == '-');
			continue;
		}
		CHECK(i > label && i - label <= 63);
		CHECK(s[label] != '-' && s[i - 1] != '-');
		label = i + 1;
	}
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
				check_target(r->u.srv.target);
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
