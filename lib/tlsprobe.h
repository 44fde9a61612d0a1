/* tlsprobe.h: open TLS to a partner's edge and judge its certificate (fedq --probe). */
#ifndef TLSPROBE_H
#define TLSPROBE_H

#include "dns.h"
#include "fed.h"

struct tls_probe;		/* the client context and its trust store */

struct tls_result {
	int connected;		/* TCP and the TLS handshake succeeded */
	int chain_ok;		/* the chain verifies against the store */
	int name_ok;		/* the certificate names the target */
	long days;		/* whole days until notAfter; < 0: expired */
	char chain_why[128];	/* OpenSSL's words when the chain fails */
	char error[256];	/* why there was no handshake */
	char addr[64];		/* the address probed */
};

/* A client context trusting ca_file, or the system store when NULL. */
int tls_probe_new(struct tls_probe **, const char *ca_file, struct fed_err *);
void tls_probe_free(struct tls_probe *);

/*
 * Connect to name:port at the first IPv4 and then the first IPv6 address
 * of addrs (no more: a target with many addresses costs no more time),
 * with SNI = name and TLS 1.2 at least, and fill *res.  One deadline,
 * timeout_ms from the call, bounds the connects and the handshake
 * together.  Never fails as a call: what went wrong is in res->error.
 */
void tls_probe_run(struct tls_probe *, const char *name, unsigned port,
    const struct dns_addr *addrs, size_t naddrs, int timeout_ms,
    struct tls_result *res);

/*
 * RFC 5922 7.1-7.2, exactly as fedgate judges a partner (tlsname.h): does
 * the certificate (an X509 *) name `host`?  The subjectAltName dNSNames
 * and `sip:host` URIs (no user part, no port) are compared, in any case,
 * the first TLS_NAMES_MAX distinct ones as fedgate keeps them; wildcards
 * never name a SIP domain; the subject CN never counts.
 */
int tls_cert_names(const void *x509, const char *host);

#endif
