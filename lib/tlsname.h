/* tlsname.h: the RFC 5922 rule for the names a SIP certificate gives its holder. */
#ifndef TLSNAME_H
#define TLSNAME_H

#include <stddef.h>

/* The same values as tlssrv.h (a redefinition must be identical). */
#define TLS_NAMES_MAX 16	/* peer names kept from a certificate */
#define TLS_NAME_MAX 254	/* a DNS name and its NUL */

/*
 * One subjectAltName value (not NUL-terminated, n bytes) as a SIP domain,
 * by RFC 5922 7.1-7.2: a dNSName (is_uri 0) as it is; a URI (is_uri 1)
 * only of the form `sip:host` or `sip:host;params`, with no user part and
 * no port.  A wildcard never names a SIP domain; the name must pass
 * domain_normalize (letters, digits, hyphens, at most 253 octets, an
 * embedded NUL never).  The subject CN is never a name (fedgate and
 * fedq --probe alike).  0 with the name lowercased, without a trailing
 * dot, in out; -1 when the value names no domain.
 */
int tls_name_from_san(const char *v, size_t n, int is_uri,
    char out[TLS_NAME_MAX]);

/*
 * Add the name of one SAN value to a certificate's list of names, as
 * fedgate keeps them: in order, each once, at most TLS_NAMES_MAX (the
 * later ones are ignored).  1 if added, else 0.
 */
int tls_names_add(char names[][TLS_NAME_MAX], unsigned *n, const char *v,
    size_t len, int is_uri);

#endif
