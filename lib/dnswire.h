/* dnswire.h: decoding DNS answers off the wire, bounded and safe on any input. */
#ifndef DNSWIRE_H
#define DNSWIRE_H

#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 256	/* a presentation name with its NUL */
#define DNS_NAME_LEN_MAX 253	/* the longest name dns_parse passes */
#define DNS_MAX_RRS 64		/* records of the asked type kept per answer */

enum dns_type { DNS_T_A = 1, DNS_T_CNAME = 5, DNS_T_SOA = 6, DNS_T_AAAA = 28,
    DNS_T_SRV = 33, DNS_T_NAPTR = 35 };

struct dns_addr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char a[16];
};

/* One decoded record of the asked type (after following CNAMEs). */
struct dns_rr {
	uint16_t type;
	uint32_t ttl;
	union {
		struct {
			uint16_t priority, weight, port;
			char target[DNS_NAME_MAX];
		} srv;
		struct {
			uint16_t order, preference;
			char flags[16], service[32];
			char replacement[DNS_NAME_MAX];
		} naptr;
		struct dns_addr addr;
	} u;
};

struct dns_answer {
	int rcode;
	size_t n;			/* records in rr[] */
	size_t dropped;			/* of the type, beyond DNS_MAX_RRS */
	char name[DNS_NAME_MAX];	/* where the CNAME chain ends */
	uint32_t cname_ttl;		/* min TTL along the chain */
	struct dns_rr rr[DNS_MAX_RRS];
};

/*
 * Decode an answer (a whole DNS message) to a question for `qname` of
 * `qtype`: follow the CNAME chain from qname through the answer section
 * (at most 16 links, no loops) and keep the records of qtype owned by the
 * name where it ends.  Bounded and safe on any input: compression
 * pointers must point backwards, names stay within 253 octets and hold
 * only letters, digits, '-', '_' and '*' (owner names such as
 * _sip._tcp.example.com need the '_'; an SRV target must still pass the
 * edge cache's rule, domain_normalize, before fedq uses it).  0, or -1 for a message that is
 * not a well-formed answer.
 */
int dns_parse(const unsigned char *msg, size_t len, const char *qname,
    int qtype, struct dns_answer *);

/* Equal names, whatever their case and trailing dot. */
int dns_name_eq(const char *, const char *);

/* An address in presentation form (IPv6 without brackets). */
void dns_addr_str(const struct dns_addr *, char *buf, size_t bufsz);

#endif
