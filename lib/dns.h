/* dns.h: partner edge discovery on one c-ares channel: SRV, NAPTR, A/AAAA. */
#ifndef DNS_H
#define DNS_H

#include <stddef.h>
#include <stdint.h>

#include "dnswire.h"
#include "fed.h"

#define DNS_MAX_TARGETS 32	/* SRV targets kept per domain */
#define DNS_MAX_ADDRS 16	/* addresses kept per target */
#define DNS_MAX_NAPTR 8		/* usable NAPTR records followed per domain */

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

/* Default port of a service: 5061 for TLS (_sips, _tls, ...tls), else 5060. */
unsigned dns_default_port(const char *service);

/* "no such domain", "timeout" ...: the words for a status. */
const char *dns_status_str(enum dns_status);

#endif
