/* 0220-dns: dns_parse on hand-made answers (CNAME chains, compression, hostile shapes) and RFC 2782 order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dnsorder.h"
#include "dnswire.h"
#include "tap.h"

/* A message under construction. */
struct msg {
	unsigned char b[1024];
	size_t n;
};

static void
put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
put16(struct msg *m, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	put(m, b, 2);
}

static void
put32(struct msg *m, unsigned long v)
{
	put16(m, (unsigned)(v >> 16));
	put16(m, (unsigned)(v & 0xffff));
}

static void
name(struct msg *m, const char *s)
{
	while (*s != '\0') {
		size_t l = strcspn(s, ".");
		unsigned char c = (unsigned char)l;

		put(m, &c, 1);
		put(m, s, l);
		s += l;
		if (*s == '.')
			s++;
	}
	put(m, "", 1);
}

static void
header(struct msg *m, unsigned flags, unsigned an, const char *q, unsigned qt)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
	name(m, q);
	put16(m, qt);
	put16(m, 1);
}

static void
rr(struct msg *m, const char *owner, unsigned type, unsigned long ttl,
    const void *rdata, size_t rdlen)
{
	if (owner == NULL)
		put16(m, 0xc00c);	/* the question's name */
	else
		name(m, owner);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, (unsigned)rdlen);
	put(m, rdata, rdlen);
}

static size_t
srv_rdata(unsigned char *out, unsigned prio, unsigned w, unsigned port,
    const char *target)
{
	struct msg m = { .n = 0 };

	put16(&m, prio);
	put16(&m, w);
	put16(&m, port);
	name(&m, target);
	memcpy(out, m.b, m.n);
	return m.n;
}

static struct dns_answer a;

int
main(void)
{
	struct msg m;
	unsigned char rd[300], v4[4] = { 192, 0, 2, 1 };
	struct dns_target t[4];
	size_t n, i, k;
	char s[64];
	int zero_first = 0;

	/* SRV, two targets, TTLs kept. */
	header(&m, 0x8180, 2, "_sip._tcp.fab.test", DNS_T_SRV);
	n = srv_rdata(rd, 10, 60, 5061, "Sip1.Fab.Test");
	rr(&m, NULL, DNS_T_SRV, 300, rd, n);
	n = srv_rdata(rd, 20, 0, 5062, "backup.other.test");
	rr(&m, NULL, DNS_T_SRV, 120, rd, n);
	ok(dns_parse(m.b, m.n, "_sip._tcp.fab.test", DNS_T_SRV, &a) == 0 &&
	    a.n == 2, "an SRV answer with two records parses");
	ok(strcmp(a.rr[0].u.srv.target, "sip1.fab.test") == 0 &&
	    a.rr[0].u.srv.priority == 10 && a.rr[0].u.srv.weight == 60 &&
	    a.rr[0].u.srv.port == 5061 && a.rr[0].ttl == 300,
	    "... target lowercased, priority, weight, port, TTL");
	ok(a.rr[1].ttl == 120 && a.rr[1].u.srv.weight == 0, "... the second too");
	ok(dns_parse(m.b, m.n, "_SIP._tcp.fab.test.", DNS_T_SRV, &a) == 0 &&
	    a.n == 2, "... asked in capitals with a trailing dot");
	ok(dns_parse(m.b, m.n, "_sip._tcp.fab.test", DNS_T_A, &a) == 0 &&
	    a.n == 0, "... and no A records in it");

	/* Every truncation of a good message is refused or yields less. */
	for (k = 0, i = 0; i < m.n; i++)
		if (dns_parse(m.b, i, "_sip._tcp.fab.test", DNS_T_SRV, &a) == 0 &&
		    a.n > 0)
			k++;
	ok(k == 0, "no truncation of it parses with records (%zu did)", k);

	/* A CNAME chain: a -> b -> c, then the A record of c. */
	header(&m, 0x8180, 3, "a.test", DNS_T_A);
	{
		struct msg r = { .n = 0 };

		name(&r, "b.test");
		rr(&m, NULL, DNS_T_CNAME, 50, r.b, r.n);
		r.n = 0;
		name(&r, "c.test");
		rr(&m, "b.test", DNS_T_CNAME, 40, r.b, r.n);
	}
	rr(&m, "c.test", DNS_T_A, 90, v4, 4);
	ok(dns_parse(m.b, m.n, "a.test", DNS_T_A, &a) == 0 && a.n == 1 &&
	    strcmp(a.name, "c.test") == 0 && a.cname_ttl == 40,
	    "a CNAME chain is followed to its end (TTL the least link)");
	dns_addr_str(&a.rr[0].u.addr, s, sizeof s);
	ok(strcmp(s, "192.0.2.1") == 0, "... to its address (%s)", s);
	/* A record owned by a name off the chain is not ours. */
	header(&m, 0x8180, 1, "a.test", DNS_T_A);
	rr(&m, "evil.test", DNS_T_A, 90, v4, 4);
	ok(dns_parse(m.b, m.n, "a.test", DNS_T_A, &a) == 0 && a.n == 0,
	    "an address owned by another name is ignored");
	/* A CNAME loop ends. */
	header(&m, 0x8180, 2, "a.test", DNS_T_A);
	{
		struct msg r = { .n = 0 };

		name(&r, "b.test");
		rr(&m, NULL, DNS_T_CNAME, 50, r.b, r.n);
		r.n = 0;
		name(&r, "a.test");
		rr(&m, "b.test", DNS_T_CNAME, 50, r.b, r.n);
	}
	ok(dns_parse(m.b, m.n, "a.test", DNS_T_A, &a) == 0 && a.n == 0,
	    "a CNAME loop ends with no records");

	/* Hostile compression: a pointer to itself, a pointer forwards. */
	header(&m, 0x8180, 1, "a.test", DNS_T_A);
	i = m.n;
	put16(&m, (unsigned)(0xc000 | i));
	put16(&m, DNS_T_A); put16(&m, 1); put32(&m, 5); put16(&m, 4);
	put(&m, v4, 4);
	ok(dns_parse(m.b, m.n, "a.test", DNS_T_A, &a) == -1,
	    "a compression pointer to itself is refused");
	m.b[i + 1] = (unsigned char)(i + 2);
	ok(dns_parse(m.b, m.n, "a.test", DNS_T_A, &a) == -1,
	    "a compression pointer forwards is refused");
	/* A bad A length, a non-response, a name with a space. */
	header(&m, 0x8180, 1, "a.test", DNS_T_A);
	rr(&m, NULL, DNS_T_A, 5, v4, 3);
	ok(dns_parse(m.b, m.n, "a.test", DNS_T_A, &a) == -1,
	    "an A record of 3 bytes is refused");
	header(&m, 0x0100, 0, "a.test", DNS_T_A);
	ok(dns_parse(m.b, m.n, "a.test", DNS_T_A, &a) == -1,
	    "a query (QR clear) is not an answer");
	header(&m, 0x8180, 1, "a.test", DNS_T_SRV);
	n = srv_rdata(rd, 1, 1, 5061, "bad name.test");
	rr(&m, NULL, DNS_T_SRV, 5, rd, n);
	ok(dns_parse(m.b, m.n, "a.test", DNS_T_SRV, &a) == -1,
	    "a target name with a space is refused");
	/* Names end at 253 octets (255 on the wire), as the cache's. */
	{
		char big[300];
		unsigned char rd2[600];
		size_t d;

		memset(big, 'a', sizeof big);
		for (d = 63; d < 253; d += 64)
			big[d] = '.';
		big[253] = '\0';		/* 63.63.63.61: 253 octets */
		header(&m, 0x8180, 1, "a.test", DNS_T_SRV);
		n = srv_rdata(rd2, 1, 1, 5061, big);
		rr(&m, NULL, DNS_T_SRV, 5, rd2, n);
		ok(dns_parse(m.b, m.n, "a.test", DNS_T_SRV, &a) == 0 &&
		    a.n == 1 && strlen(a.rr[0].u.srv.target) == 253,
		    "a 253-octet target is taken");
		big[253] = 'a';
		big[254] = '\0';		/* 254 octets */
		header(&m, 0x8180, 1, "a.test", DNS_T_SRV);
		n = srv_rdata(rd2, 1, 1, 5061, big);
		rr(&m, NULL, DNS_T_SRV, 5, rd2, n);
		ok(dns_parse(m.b, m.n, "a.test", DNS_T_SRV, &a) == -1,
		    "a 254-octet target is refused");
	}
	/* '_' passes the parser (owner names need it); fedq then drops such
	 * a target by the cache's rule (t/0400). */
	header(&m, 0x8180, 1, "a.test", DNS_T_SRV);
	n = srv_rdata(rd, 1, 1, 5061, "edge_1.evil.test");
	rr(&m, NULL, DNS_T_SRV, 5, rd, n);
	ok(dns_parse(m.b, m.n, "a.test", DNS_T_SRV, &a) == 0 && a.n == 1 &&
	    strcmp(a.rr[0].u.srv.target, "edge_1.evil.test") == 0,
	    "an SRV target with '_' parses (the front end judges it)");
	/* A TTL with its top bit set is 0 (RFC 2181 8). */
	header(&m, 0x8183, 1, "a.test", DNS_T_A);
	rr(&m, NULL, DNS_T_A, 0x80000000ul, v4, 4);
	ok(dns_parse(m.b, m.n, "a.test", DNS_T_A, &a) == 0 && a.n == 1 &&
	    a.rr[0].ttl == 0 && a.rcode == 3,
	    "a TTL over 2^31 - 1 reads as 0; the rcode is kept");

	/* NAPTR. */
	header(&m, 0x8180, 1, "nap.test", DNS_T_NAPTR);
	{
		struct msg r = { .n = 0 };

		put16(&r, 10);
		put16(&r, 50);
		put(&r, "\001s\010SIPS+D2T\000", 12);
		name(&r, "_sips._tcp.nap.test");
		rr(&m, NULL, DNS_T_NAPTR, 60, r.b, r.n);
	}
	ok(dns_parse(m.b, m.n, "nap.test", DNS_T_NAPTR, &a) == 0 && a.n == 1 &&
	    a.rr[0].u.naptr.order == 10 && a.rr[0].u.naptr.preference == 50 &&
	    strcmp(a.rr[0].u.naptr.flags, "s") == 0 &&
	    strcmp(a.rr[0].u.naptr.service, "SIPS+D2T") == 0 &&
	    strcmp(a.rr[0].u.naptr.replacement, "_sips._tcp.nap.test") == 0,
	    "a NAPTR record: order, preference, flags, service, replacement");

	/* RFC 2782 order. */
	memset(t, 0, sizeof t);
	strcpy(t[0].name, "b"); t[0].priority = 20; t[0].weight = 5;
	strcpy(t[1].name, "a"); t[1].priority = 10; t[1].weight = 10;
	strcpy(t[2].name, "c"); t[2].priority = 10; t[2].weight = 90;
	strcpy(t[3].name, "d"); t[3].priority = 10; t[3].weight = 90;
	dns_order(t, 4, 1);
	ok(strcmp(t[0].name, "c") == 0 && strcmp(t[1].name, "d") == 0 &&
	    strcmp(t[2].name, "a") == 0 && strcmp(t[3].name, "b") == 0,
	    "--sorted: priority, weight descending, then name");
	for (i = 0, k = 0; i < 1000; i++) {
		dns_order(t, 4, 0);
		if (strcmp(t[3].name, "b") != 0 || t[0].priority != 10)
			k++;
	}
	ok(k == 0, "random order keeps priorities apart (%zu wrong of 1,000)", k);
	/* Weight 0 beside weight 0 only: each equally likely. */
	memset(t, 0, 2 * sizeof t[0]);
	strcpy(t[0].name, "x");
	strcpy(t[1].name, "y");
	for (i = 0; i < 2000; i++) {
		dns_order(t, 2, 0);
		zero_first += strcmp(t[0].name, "x") == 0;
	}
	/* Binomial(2000, 1/2): sd 22; 5 sd. */
	ok(zero_first > 888 && zero_first < 1112,
	    "two weight-0 targets are each first about half the time (%d of 2,000)",
	    zero_first);

	ok(dns_default_port("_sipfederationtls._tcp") == 5061 &&
	    dns_default_port("_sips._tcp") == 5061 &&
	    dns_default_port("_sip._tls") == 5061 &&
	    dns_default_port("_sip._tcp") == 5060 &&
	    dns_default_port("_sip._udp") == 5060,
	    "default ports: 5061 for TLS services, 5060 else");
	return done_testing();
}
