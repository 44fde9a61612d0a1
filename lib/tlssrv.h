/* tlssrv.h: fedgate's TLS server side (fedgate(8) TLS): handshake, I/O. */
#ifndef TLSSRV_H
#define TLSSRV_H

#include <sys/types.h>

#include "conf.h"
#include "fed.h"
#include "tlsname.h"

/*
 * OpenSSL is loaded with dlopen(3) when TLS is configured, not linked:
 * loading libssl and libcrypto costs every process about a millisecond of
 * CPU and 1.7 MB of pages at start (bench/gate), which pipe mode and
 * plain connections (one process each under inetd) need not pay.  The
 * shared libraries are still the system's, so a security update of
 * OpenSSL applies to fedgate as to everything else.
 */


struct tls_srv;

/* The partner's certificate names (RFC 5922): every SAN dNSName, and the
 * host of every `sip:` URI SAN (no user part), lowercased, in order. */
struct tls_peer {
	unsigned n;
	char name[TLS_NAMES_MAX][TLS_NAME_MAX];
};

/*
 * Load OpenSSL and build the server context from tls_cert, tls_key,
 * tls_ca (required: partners must present a certificate that verifies)
 * and tls_crl (optional; then every certificate in the chain is checked
 * against it).  TLS 1.2 at least.  tls_ca is a PEM file or a directory
 * hashed by `openssl rehash`; either way a CA certificate or CRL is
 * decoded only when a handshake needs it (a bundle of 144 costs the
 * open a few hundred microseconds, not 31 ms): the open reads the files
 * and each block's name, so a missing file or a block that is no
 * certificate fails here, one that decodes badly at the handshake (it
 * then fails to verify).
 */
int tls_srv_open(struct tls_srv **, const struct conf *, struct fed_err *);

/* Decode every CA certificate and CRL now, what the open left for the
 * handshakes: for a configuration check (fedgate -t). */
int tls_srv_check(struct tls_srv *, struct fed_err *);

/* The validity of our own certificate (tls_cert's first), in seconds
 * since the epoch: for fedgate -t, which warns before it expires. */
int tls_srv_cert_dates(const struct tls_srv *, int64_t *not_before,
    int64_t *not_after, struct fed_err *);

/*
 * Handshake on the connected socket fd (made non-blocking), within
 * timeout_ms.  On success the peer's names are in *peer (at least one:
 * a certificate naming nothing usable fails).  -1 with *err: no
 * certificate, one that does not verify (expired, untrusted, revoked),
 * plaintext or garbage instead of TLS, a timeout.
 */
int tls_srv_accept(struct tls_srv *, int fd, unsigned timeout_ms,
    struct tls_peer *, struct fed_err *);

/*
 * Non-blocking I/O on the established connection.  Both return bytes
 * moved, 0 at the end of the connection (read) or when it is gone, or -1
 * with errno EAGAIN: then *wants is POLLIN or POLLOUT, what to poll the
 * socket for before trying again (TLS may need to write to read and read
 * to write).  tls_srv_pending: bytes already decrypted, that poll will
 * not announce.
 */
ssize_t tls_srv_read(struct tls_srv *, void *buf, size_t n, short *wants);
ssize_t tls_srv_write(struct tls_srv *, const void *buf, size_t n,
    short *wants);
size_t tls_srv_pending(const struct tls_srv *);

/* End the connection: send close_notify (without waiting for the
 * peer's) and free what it held; the context stays for the next
 * tls_srv_accept.  Also after a failed tls_srv_accept. */
void tls_srv_end(struct tls_srv *);

/* tls_srv_end, and free the context. */
void tls_srv_close(struct tls_srv *);

/* Is `name` (lowercased) among the peer's? */
int tls_peer_has(const struct tls_peer *, const char *name);

#endif
