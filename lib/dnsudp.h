/* dnsudp.h: c-ares's UDP queries sent with one sendmmsg and read with recvmmsg. */
#ifndef DNSUDP_H
#define DNSUDP_H

#include <ares.h>

/* The batched sockets of one channel; TCP passes straight through. */
struct dnsudp;

struct dnsudp *dnsudp_new(void);
void dnsudp_free(struct dnsudp *);

/* Open, read and send the channel's sockets through this layer. */
void dnsudp_attach(struct dnsudp *, ares_channel);

/* Send every query queued since the last flush: before each poll, so
 * their timeouts run from when they left. */
void dnsudp_flush(struct dnsudp *);

#endif
