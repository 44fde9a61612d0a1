/* dns.h: partner edge discovery on one c-ares channel: SRV, NAPTR, A/AAAA. */
#ifndef DNS_H
#define DNS_H

#include <stddef.h>
#include <stdint.h>

#include "fed.h"

#define DNS_NAME_MAX 256	/* a presentation name with its NUL */
#define DNS_NAME_LEN_MAX 253	/* the longest name dns_parse passes */
#define DNS_MAX_TARGETS 32	/* SRV targets kept per domain */
#define DNS_MAX_ADDRS 16	/* addresses kept per target */
#define DNS_MAX_RRS 64		/* records of the asked type kept per answer */
#define DNS_MAX_NAPTR 8		/* usable NAPTR records followed per domain */

enum dns_type { DNS_T_A = 1, DNS_T_CNAME = 5, DNS_T_SOA = 6, DNS_T_AAAA = 28,
    DNS_T_SRV = 33, DNS_T_NAPTR = 35 };

/* How a lookup ended; the front end words each one differently. */
enum dns_status {
	DNS_OK,
	DNS_NXDOMAIN,		/* the domain itself does not exist */
	DNS_NORECORD,		/* it exists, but has no record of the kind */
	DNS_SERVFAIL,
	DNS_REFUSED,
	DNS_TIMEOUT,
	DNS_ERROR		/* anything else: see the result's text */
};

struct dns_addr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char a[16];
};

struct dns_target {
	unsigned priority, weight, port;
	uint32_t ttl;		/* min of the SRV's and the addresses' TTLs */
	char name[DNS_NAME_MAX];	/* lowercase, no trailing dot */
	size_t naddr;
	struct dns_addr addr[DNS_MAX_ADDRS];
	enum dns_status addr_status;	/* worst of the A and AAAA lookups */
	/* How the A and the AAAA lookup failed (a timeout, SERVFAIL,
	 * REFUSED ...), or DNS_OK when it answered, with addresses or
	 * without.  A failed family leaves the addresses incomplete; what
	 * that costs the target is the front end's to decide. */
	enum dns_status a_fail, aaaa_fail;
};

struct dns_result {
	const char *domain;
	enum dns_status status;
	char why[DNS_NAME_MAX + 64];	/* e.g. "no _sip._tcp record" */
	struct dns_target *t;
	size_t nt;
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

struct dns_opts {
	const char *service;	/* "_sipfederationtls._tcp" */
	int rfc3263;		/* NAPTR, then SRV, then A/AAAA */
	unsigned parallel;	/* queries in flight */
	const char *servers;	/* "ADDR[:PORT],..." or NULL: the system's */
	int timeout_ms;		/* first try; c-ares doubles it per retry */
	int tries;
};

/*
 * Where the domains come from: write the next one (already normalized)
 * into buf and return 1, or return 0 at the end.  Called only when there
 * is room for another lookup, so input is read as the lookups need it.
 */
typedef int (*dns_next_fn)(void *arg, char *buf, size_t bufsz);
/* A domain is done: called from the loop, never from inside c-ares. */
typedef void (*dns_done_fn)(void *arg, const struct dns_result *);

/* Resolve every domain next() gives; 0, -1 for a resolver error, or -2
 * when o->servers is not a list of addresses. */
int dns_run(const struct dns_opts *, dns_next_fn, dns_done_fn, void *arg,
    struct fed_err *);

/*
 * RFC 2782 order: priority ascending; within a priority, weighted random
 * selection (weight-0 targets first in the running sum, so they are chosen
 * rarely).  `sorted`: priority, weight descending, name, port instead.
 */
void dns_order(struct dns_target *, size_t n, int sorted);

/* Default port of a service: 5061 for TLS (_sips, _tls, ...tls), else 5060. */
unsigned dns_default_port(const char *service);

/* "no such domain", "timeout" ...: the words for a status. */
const char *dns_status_str(enum dns_status);

/* An address in presentation form (IPv6 without brackets). */
void dns_addr_str(const struct dns_addr *, char *buf, size_t bufsz);

#endif
