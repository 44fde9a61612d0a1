/* dnsorder.h: the order a client tries SRV targets in (RFC 2782). */
#ifndef DNSORDER_H
#define DNSORDER_H

#include <stddef.h>

struct dns_target;	/* dns.h */

/*
 * RFC 2782 order: priority ascending; within a priority, weighted random
 * selection (weight-0 targets first in the running sum, so they are chosen
 * rarely).  `sorted`: priority, weight descending, name, port instead.
 */
void dns_order(struct dns_target *, size_t n, int sorted);

#endif
