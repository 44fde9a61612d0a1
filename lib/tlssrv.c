/* tlssrv.c: fedgate's TLS server side, with OpenSSL loaded at run time. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "list.h"
#include "tlsname.h"
#include "tlssrv.h"

#if OPENSSL_VERSION_MAJOR != 3
#error "tlssrv.c loads libssl.so.3: build against OpenSSL 3"
#endif
#define TLS_LIBSSL "libssl.so.3"

/*
 * Every OpenSSL function fedgate calls, looked up once by dlsym.  The
 * pointers have the functions' own types (from the headers), so the
 * compiler checks every call as if it were linked.  Macros of the API
 * (SSL_CTX_set_min_proto_version, sk_GENERAL_NAME_num ...) are written
 * out as the functions they stand for.
 */
#define TLS_FUNCS(X) \
	X(TLS_server_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_ctrl) \
	X(SSL_CTX_set_options) X(SSL_CTX_use_certificate_chain_file) \
	X(SSL_CTX_use_PrivateKey_file) X(SSL_CTX_check_private_key) \
	X(SSL_CTX_load_verify_locations) X(SSL_CTX_set_verify) \
	X(SSL_CTX_get_cert_store) X(SSL_new) X(SSL_free) X(SSL_set_fd) \
	X(SSL_accept) X(SSL_read) X(SSL_write) X(SSL_get_error) \
	X(SSL_pending) X(SSL_shutdown) X(SSL_get1_peer_certificate) \
	X(SSL_get_verify_result) X(X509_free) X(X509_get_ext_d2i) \
	X(GENERAL_NAMES_free) X(OPENSSL_sk_num) X(OPENSSL_sk_value) \
	X(ASN1_STRING_get0_data) X(ASN1_STRING_length) X(ERR_get_error) \
	X(ERR_error_string_n) X(ERR_clear_error) \
	X(X509_verify_cert_error_string) X(X509_STORE_add_lookup) \
	X(X509_LOOKUP_file) X(X509_load_crl_file) X(X509_STORE_set_flags)

#define TLS_PTR(f) static __typeof__(f) *p_##f;
TLS_FUNCS(TLS_PTR)
#undef TLS_PTR

static void *libssl;

struct tls_srv {
	SSL_CTX *ctx;
	SSL *ssl;
};

static int
tls_load(struct fed_err *err)
{
	const char *missing = NULL;

	if (libssl != NULL)
		return 0;
	if ((libssl = dlopen(TLS_LIBSSL, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fed_err_set(err, "TLS: cannot load OpenSSL: %s", dlerror());
		return -1;
	}
#define TLS_SYM(f) \
	if ((*(void **)&p_##f = dlsym(libssl, #f)) == NULL && missing == NULL) \
		missing = #f;
	TLS_FUNCS(TLS_SYM)
#undef TLS_SYM
	if (missing != NULL) {
		fed_err_set(err, "TLS: %s lacks %s", TLS_LIBSSL, missing);
		dlclose(libssl);
		libssl = NULL;
		return -1;
	}
	return 0;
}

/* The first queued OpenSSL error, or `fallback`. */
static const char *
tls_why(char *buf, size_t cap, const char *fallback)
{
	unsigned long e = p_ERR_get_error();

	if (e == 0)
		return fallback;
	p_ERR_error_string_n(e, buf, cap);
	p_ERR_clear_error();
	return buf;
}

int
tls_srv_open(struct tls_srv **tp, const struct conf *c, struct fed_err *err)
{
	struct tls_srv *t;
	char why[256];
	const char *file = NULL;

	*tp = NULL;
	if (c->tls_cert == NULL || c->tls_key == NULL || c->tls_ca == NULL) {
		fed_err_set(err, "TLS needs tls_cert, tls_key and tls_ca "
		    "(partners must present a certificate that verifies)");
		return -1;
	}
	if (tls_load(err) != 0)
		return -1;
	if ((t = calloc(1, sizeof *t)) == NULL) {
		fed_err_set(err, "out of memory");
		return -1;
	}
	if ((t->ctx = p_SSL_CTX_new(p_TLS_server_method())) == NULL)
		goto fail;
	if (p_SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
	    TLS1_2_VERSION, NULL) != 1)
		goto fail;
	/* Our buffers move as they drain; a write may go out in parts. */
	p_SSL_CTX_ctrl(t->ctx, SSL_CTRL_MODE, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
	p_SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	file = c->tls_cert;
	if (p_SSL_CTX_use_certificate_chain_file(t->ctx, c->tls_cert) != 1)
		goto fail;
	file = c->tls_key;
	if (p_SSL_CTX_use_PrivateKey_file(t->ctx, c->tls_key,
	    SSL_FILETYPE_PEM) != 1 || p_SSL_CTX_check_private_key(t->ctx) != 1)
		goto fail;
	file = c->tls_ca;
	if (p_SSL_CTX_load_verify_locations(t->ctx, c->tls_ca, NULL) != 1)
		goto fail;
	if (c->tls_crl != NULL) {
		X509_STORE *st = p_SSL_CTX_get_cert_store(t->ctx);
		X509_LOOKUP *lu = p_X509_STORE_add_lookup(st,
		    p_X509_LOOKUP_file());

		file = c->tls_crl;
		if (lu == NULL || p_X509_load_crl_file(lu, c->tls_crl,
		    X509_FILETYPE_PEM) < 1)
			goto fail;
		p_X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL);
	}
	p_SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	*tp = t;
	return 0;
fail:
	if (file != NULL)
		fed_err_set(err, "TLS: %s: %s", file, tls_why(why, sizeof why,
		    "unusable"));
	else
		fed_err_set(err, "TLS: %s", tls_why(why, sizeof why,
		    "cannot set up"));
	if (t->ctx != NULL)
		p_SSL_CTX_free(t->ctx);
	free(t);
	return -1;
}

int
tls_peer_has(const struct tls_peer *p, const char *name)
{
	unsigned i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->name[i], name) == 0)
			return 1;
	return 0;
}

/* One SAN value as a peer name, by the rule fedq --probe applies too
 * (tlsname.c, RFC 5922 7.1-7.2): a DNS name without wildcard, or the
 * host of a `sip:` URI without user part or port. */
static void
add_name(struct tls_peer *p, const char *v, size_t n, int uri)
{
	(void)tls_names_add(p->name, &p->n, v, n, uri);
}

static void
peer_names(X509 *cert, struct tls_peer *p)
{
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	int i, k;

	p->n = 0;
	gens = p_X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL)
		return;		/* no SAN: the CN is not used (RFC 5922 7.1) */
	k = p_OPENSSL_sk_num((const OPENSSL_STACK *)gens);
	for (i = 0; i < k; i++) {
		g = p_OPENSSL_sk_value((const OPENSSL_STACK *)gens, i);
		if (g->type == GEN_DNS)
			add_name(p, (const char *)p_ASN1_STRING_get0_data(
			    g->d.dNSName), (size_t)p_ASN1_STRING_length(
			    g->d.dNSName), 0);
		else if (g->type == GEN_URI)
			add_name(p, (const char *)p_ASN1_STRING_get0_data(
			    g->d.uniformResourceIdentifier),
			    (size_t)p_ASN1_STRING_length(
			    g->d.uniformResourceIdentifier), 1);
	}
	p_GENERAL_NAMES_free(gens);
}

int
tls_srv_accept(struct tls_srv *t, int fd, unsigned timeout_ms,
    struct tls_peer *peer, struct fed_err *err)
{
	struct pollfd pfd;
	char why[256];
	int64_t deadline = fed_mono_ms() + timeout_ms, left;
	X509 *cert;
	long vr;
	int rc, e, fl;

	peer->n = 0;
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		fed_err_set(err, "TLS: %s", strerror(errno));
		return -1;
	}
	if ((t->ssl = p_SSL_new(t->ctx)) == NULL ||
	    p_SSL_set_fd(t->ssl, fd) != 1) {
		fed_err_set(err, "TLS: %s", tls_why(why, sizeof why,
		    "cannot start"));
		return -1;
	}
	for (;;) {
		p_ERR_clear_error();
		if ((rc = p_SSL_accept(t->ssl)) == 1)
			break;
		e = p_SSL_get_error(t->ssl, rc);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			vr = p_SSL_get_verify_result(t->ssl);
			if (vr != X509_V_OK)
				fed_err_set(err, "TLS handshake: the partner's "
				    "certificate: %s",
				    p_X509_verify_cert_error_string(vr));
			else
				fed_err_set(err, "TLS handshake: %s", tls_why(why,
				    sizeof why, e == SSL_ERROR_SYSCALL ||
				    e == SSL_ERROR_ZERO_RETURN ?
				    "the partner closed the connection" :
				    "failed"));
			return -1;
		}
		if ((left = deadline - fed_mono_ms()) <= 0) {
			fed_err_set(err, "TLS handshake: not complete within "
			    "%u ms", timeout_ms);
			return -1;
		}
		pfd.fd = fd;
		pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			fed_err_set(err, "TLS handshake: poll: %s",
			    strerror(errno));
			return -1;
		}
	}
	if ((cert = p_SSL_get1_peer_certificate(t->ssl)) == NULL) {
		fed_err_set(err, "TLS: the partner presented no certificate");
		return -1;
	}
	peer_names(cert, peer);
	p_X509_free(cert);
	if (peer->n == 0) {
		fed_err_set(err, "TLS: the partner's certificate names no "
		    "domain (a subjectAltName dNSName or sip: URI, RFC 5922)");
		return -1;
	}
	return 0;
}

static ssize_t
io_result(struct tls_srv *t, int rc, short *wants)
{
	switch (p_SSL_get_error(t->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		*wants = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*wants = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (errno == EAGAIN || errno == EINTR) {
			*wants = POLLIN;
			errno = EAGAIN;
			return -1;
		}
		/* FALLTHROUGH */
	default:
		p_ERR_clear_error();
		return 0;	/* closed, or broken: the end either way */
	}
}

ssize_t
tls_srv_read(struct tls_srv *t, void *buf, size_t n, short *wants)
{
	int rc;

	p_ERR_clear_error();
	rc = p_SSL_read(t->ssl, buf, n > 1 << 30 ? 1 << 30 : (int)n);
	return rc > 0 ? rc : io_result(t, rc, wants);
}

ssize_t
tls_srv_write(struct tls_srv *t, const void *buf, size_t n, short *wants)
{
	int rc;

	p_ERR_clear_error();
	rc = p_SSL_write(t->ssl, buf, n > 1 << 30 ? 1 << 30 : (int)n);
	return rc > 0 ? rc : io_result(t, rc, wants);
}

size_t
tls_srv_pending(const struct tls_srv *t)
{
	int n = t->ssl != NULL ? p_SSL_pending(t->ssl) : 0;

	return n > 0 ? (size_t)n : 0;
}

void
tls_srv_close(struct tls_srv *t)
{
	if (t == NULL)
		return;
	if (t->ssl != NULL) {
		(void)p_SSL_shutdown(t->ssl);
		p_SSL_free(t->ssl);
	}
	p_SSL_CTX_free(t->ctx);
	free(t);
}
