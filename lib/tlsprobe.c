/* tlsprobe.c: TCP and TLS to an edge with bounded waits; chain, name and expiry. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "list.h"
#include "tlsname.h"
#include "tlsprobe.h"

struct tls_probe {
	SSL_CTX *ctx;
};

int
tls_probe_new(struct tls_probe **out, const char *ca_file,
    struct fed_err *err)
{
	struct tls_probe *p;

	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		fed_err_set(err, "TLS context: out of memory");
		free(p);
		return -1;
	}
	SSL_CTX_set_min_proto_version(p->ctx, TLS1_2_VERSION);
	/* We verify, but report rather than refuse: the handshake goes on
	 * so the certificate can be judged whatever its chain. */
	SSL_CTX_set_verify(p->ctx, SSL_VERIFY_NONE, NULL);
	if (ca_file != NULL ? SSL_CTX_load_verify_locations(p->ctx, ca_file,
	    NULL) != 1 : SSL_CTX_set_default_verify_paths(p->ctx) != 1) {
		unsigned long e = ERR_get_error();

		fed_err_set(err, "%s: %s", ca_file != NULL ? ca_file :
		    "system trust store", e ? ERR_reason_error_string(e) :
		    "cannot load");
		tls_probe_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void
tls_probe_free(struct tls_probe *p)
{
	if (p == NULL)
		return;
	SSL_CTX_free(p->ctx);
	free(p);
}

static long
ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

static int
wait_fd(int fd, short ev, const struct timespec *deadline)
{
	struct pollfd p = { fd, ev, 0 };
	long ms;
	int n;

	for (;;) {
		if ((ms = ms_left(deadline)) <= 0)
			return 0;
		n = poll(&p, 1, (int)ms);
		if (n < 0 && errno == EINTR)
			continue;
		return n;
	}
}

static int
connect_one(const struct dns_addr *a, unsigned port,
    const struct timespec *deadline, char *why, size_t whysz)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, e = 0;
	socklen_t el = sizeof e;

	memset(&ss, 0, sizeof ss);
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		memcpy(&s4->sin_addr, a->a, 4);
		sl = sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		memcpy(&s6->sin6_addr, a->a, 16);
		sl = sizeof *s6;
	}
	if ((fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		snprintf(why, whysz, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		if (errno != EINPROGRESS) {
			snprintf(why, whysz, "connect: %s", strerror(errno));
			close(fd);
			return -1;
		}
		if (wait_fd(fd, POLLOUT, deadline) <= 0) {
			snprintf(why, whysz, "connect: timeout");
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e) {
			snprintf(why, whysz, "connect: %s", strerror(e ? e :
			    errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

int
tls_cert_names(const void *x509, const char *host)
{
	X509 *x = (X509 *)x509;
	GENERAL_NAMES *gens;
	char names[TLS_NAMES_MAX][TLS_NAME_MAX], want[TLS_NAME_MAX];
	unsigned n = 0, k;
	int i;

	if (domain_normalize(host, strlen(host), 0, want, sizeof want,
	    NULL) != 0)
		return 0;
	/* The names fedgate would take from this certificate (tlssrv.c),
	 * by the same rule and with the same limit; never the CN. */
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *v;

		if (g->type == GEN_DNS)
			v = g->d.dNSName;
		else if (g->type == GEN_URI)
			v = g->d.uniformResourceIdentifier;
		else
			continue;
		(void)tls_names_add(names, &n,
		    (const char *)ASN1_STRING_get0_data(v),
		    (size_t)ASN1_STRING_length(v), g->type == GEN_URI);
	}
	GENERAL_NAMES_free(gens);
	for (k = 0; k < n; k++)
		if (strcmp(names[k], want) == 0)
			return 1;
	return 0;
}

static void
ssl_why(char *buf, size_t bufsz, const char *what, SSL *ssl, int rc)
{
	unsigned long e = ERR_get_error();
	int se = SSL_get_error(ssl, rc);

	if (e != 0)
		snprintf(buf, bufsz, "%s: %s", what, ERR_reason_error_string(e));
	else if (se == SSL_ERROR_SYSCALL && errno != 0)
		snprintf(buf, bufsz, "%s: %s", what, strerror(errno));
	else
		snprintf(buf, bufsz, "%s: connection closed", what);
	ERR_clear_error();
}

static void
handshake(struct tls_probe *p, int fd, const char *name,
    const struct timespec *deadline, struct tls_result *res)
{
	SSL *ssl;
	X509 *cert = NULL;
	int rc, day = 0, sec = 0;
	long verr;

	if ((ssl = SSL_new(p->ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_tlsext_host_name(ssl, name) != 1) {
		snprintf(res->error, sizeof res->error, "TLS: out of memory");
		SSL_free(ssl);
		return;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_connect(ssl)) == 1)
			break;
		switch (SSL_get_error(ssl, rc)) {
		case SSL_ERROR_WANT_READ:
			if (wait_fd(fd, POLLIN, deadline) > 0)
				continue;
			snprintf(res->error, sizeof res->error,
			    "TLS handshake: timeout");
			goto out;
		case SSL_ERROR_WANT_WRITE:
			if (wait_fd(fd, POLLOUT, deadline) > 0)
				continue;
			snprintf(res->error, sizeof res->error,
			    "TLS handshake: timeout");
			goto out;
		default:
			ssl_why(res->error, sizeof res->error, "TLS handshake",
			    ssl, rc);
			goto out;
		}
	}
	if ((cert = SSL_get1_peer_certificate(ssl)) == NULL) {
		snprintf(res->error, sizeof res->error, "TLS: no certificate");
		goto out;
	}
	res->connected = 1;
	verr = SSL_get_verify_result(ssl);
	res->chain_ok = verr == X509_V_OK;
	if (!res->chain_ok)
		snprintf(res->chain_why, sizeof res->chain_why, "%s",
		    X509_verify_cert_error_string(verr));
	res->name_ok = tls_cert_names(cert, name);
	if (ASN1_TIME_diff(&day, &sec, NULL, X509_get0_notAfter(cert)) == 1)
		res->days = day - (day == 0 && sec < 0 ? 1 : 0);
	(void)SSL_shutdown(ssl);
out:
	X509_free(cert);
	SSL_free(ssl);
}

void
tls_probe_run(struct tls_probe *p, const char *name, unsigned port,
    const struct dns_addr *addrs, size_t naddrs, int timeout_ms,
    struct tls_result *res)
{
	struct timespec deadline;
	const struct dns_addr *try[2];
	size_t i, ntry = 0;
	int fd = -1, have4 = 0, have6 = 0;

	memset(res, 0, sizeof *res);
	if (naddrs == 0) {
		snprintf(res->error, sizeof res->error, "no address");
		return;
	}
	/* At most the first IPv4 and the first IPv6 address, all within one
	 * deadline: connecting, and the handshake, take at most timeout_ms
	 * per target however many addresses it has. */
	for (i = 0; i < naddrs && ntry < 2; i++) {
		if (addrs[i].family == AF_INET && !have4) {
			have4 = 1;
			try[ntry++] = &addrs[i];
		} else if (addrs[i].family == AF_INET6 && !have6) {
			have6 = 1;
			try[ntry++] = &addrs[i];
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	for (i = 0; i < ntry && fd < 0; i++) {
		dns_addr_str(try[i], res->addr, sizeof res->addr);
		fd = connect_one(try[i], port, &deadline, res->error,
		    sizeof res->error);
	}
	if (fd < 0) {
		if (ntry == 0)
			snprintf(res->error, sizeof res->error, "no address");
		return;
	}
	res->error[0] = '\0';
	handshake(p, fd, name, &deadline, res);
	close(fd);
}
