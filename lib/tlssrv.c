/* tlssrv.c: fedgate's TLS server side, with OpenSSL loaded at run time. */
#include <sys/stat.h>

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
#include <openssl/pem.h>
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
	X(SSL_CTX_load_verify_locations) X(SSL_CTX_set_verify) X(SSL_CTX_set_verify_depth) \
	X(SSL_CTX_get_cert_store) X(SSL_new) X(SSL_free) X(SSL_set_fd) \
	X(SSL_accept) X(SSL_read) X(SSL_write) X(SSL_get_error) \
	X(SSL_pending) X(SSL_shutdown) X(SSL_get1_peer_certificate) \
	X(SSL_get_verify_result) X(X509_free) X(X509_get_ext_d2i) \
	X(GENERAL_NAMES_free) X(OPENSSL_sk_num) X(OPENSSL_sk_value) \
	X(ASN1_STRING_get0_data) X(ASN1_STRING_length) X(ERR_get_error) \
	X(ERR_error_string_n) X(ERR_clear_error) \
	X(X509_verify_cert_error_string) X(X509_STORE_add_lookup) \
	X(X509_STORE_set_flags) X(OPENSSL_init_ssl) \
	X(X509_LOOKUP_meth_new) X(X509_LOOKUP_meth_free) \
	X(X509_LOOKUP_meth_set_get_by_subject) X(X509_LOOKUP_set_method_data) \
	X(X509_LOOKUP_get_method_data) X(X509_LOOKUP_get_store) \
	X(X509_STORE_add_cert) X(X509_STORE_add_crl) X(X509_STORE_get0_objects) \
	X(X509_OBJECT_retrieve_by_subject) X(X509_OBJECT_get0_X509) \
	X(X509_OBJECT_get0_X509_CRL) X(X509_OBJECT_set1_X509) \
	X(X509_OBJECT_set1_X509_CRL) X(X509_CRL_free) X(d2i_X509) \
	X(d2i_X509_AUX) X(d2i_X509_CRL) X(d2i_X509_NAME) X(X509_NAME_cmp) \
	X(X509_NAME_free) X(ASN1_get_object) X(PEM_read_bio) X(BIO_new_file) \
	X(BIO_free) X(CRYPTO_free) X(SSL_CTX_get0_certificate) \
	X(X509_get0_notBefore) X(X509_get0_notAfter) X(ASN1_TIME_to_tm)

/*
 * The error strings of the libraries fedgate's messages come from,
 * loaded one library at a time by functions OpenSSL 3 keeps in its ABI
 * but deprecates (hence their own list, typed here): see tls_why.
 */
#define TLS_STRINGS(X) \
	X(ERR_load_ERR_strings) X(ERR_load_SSL_strings) \
	X(ERR_load_X509_strings) X(ERR_load_X509V3_strings) \
	X(ERR_load_PEM_strings) X(ERR_load_ASN1_strings) \
	X(ERR_load_EVP_strings) X(ERR_load_BIO_strings) \
	X(ERR_load_RSA_strings) X(ERR_load_EC_strings)

#define TLS_PTR(f) static __typeof__(f) *p_##f;
TLS_FUNCS(TLS_PTR)
#undef TLS_PTR
#define TLS_PTR(f) static int (*p_##f)(void);
TLS_STRINGS(TLS_PTR)
#undef TLS_PTR

static void *libssl;

/* What a partner's certificate chain may be (OpenSSL's defaults: 100 KB,
 * 100 certificates deep): a real one is a few KB, 2 or 3 deep. */
#define TLS_MAX_CHAIN	(32 * 1024)
#define TLS_MAX_DEPTH	10

/*
 * The certificates and CRLs of tls_ca (a file) and tls_crl, read lazily.
 * OpenSSL's own file lookup decodes every certificate of the file when
 * the context is built, public key included: 0.2 ms each, 31 ms per
 * process for the 144 of Debian's CA bundle, paid again by every
 * connection (one process each).  A handshake needs one or two of them.
 * So the open only splits the PEM blocks and decodes each one's subject
 * name (the CRL's issuer); a certificate or CRL is decoded when chain
 * building first asks for its name (the lookup below), and then cached
 * in the store as OpenSSL's lookups do.
 */
struct tls_ca_obj {
	unsigned char *der;	/* the PEM block's DER (OpenSSL-allocated) */
	long len;
	X509_NAME *name;	/* subject (certificate), issuer (CRL) */
	X509_LOOKUP_TYPE type;	/* X509_LU_X509 or X509_LU_CRL */
	int aux;		/* "TRUSTED CERTIFICATE": trust settings follow */
	int loaded;		/* decoded into the store (or found broken) */
	int from;		/* 0: tls_ca, 1: tls_crl */
};

struct tls_ca {
	struct tls_ca_obj *o;
	size_t n, cap;
	char *file[2];		/* tls_ca and tls_crl, for messages */
};

struct tls_srv {
	SSL_CTX *ctx;
	SSL *ssl;
	X509_LOOKUP_METHOD *lazy;	/* outlives ctx: its store uses it */
	struct tls_ca ca;
};

/* The whole DER element at *p (header and content) of at most `max`
 * bytes: its length, and *p moved past it; -1 if it is not there. */
static long
der_skip(const unsigned char **p, long max, int *tag, int *cls)
{
	const unsigned char *q = *p;
	long len;
	int r;

	/* DER only: an indefinite length (0x01) is BER. */
	if (max <= 0 || ((r = p_ASN1_get_object(&q, &len, tag, cls, max)) &
	    0x81))
		return -1;
	if (len < 0 || len > max - (q - *p))
		return -1;
	len += q - *p;
	*p += len;
	return len;
}

/* Step into the SEQUENCE at *p: *p at its content, *max its length. */
static int
der_enter(const unsigned char **p, long *max)
{
	const unsigned char *q = *p;
	long len;
	int tag, cls;

	if (*max <= 0 || (p_ASN1_get_object(&q, &len, &tag, &cls, *max) &
	    0x81) || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL ||
	    len < 0 || len > *max - (q - *p))
		return -1;
	*p = q;
	*max = len;
	return 0;
}

/*
 * The Name a certificate is filed under (its subject: RFC 5280 4.1,
 * after version, serialNumber, signature, issuer, validity) or a CRL
 * (its issuer: 5.1, after version and signature), decoded alone: no
 * key, no extensions.  NULL if the DER is not shaped so.
 */
static X509_NAME *
der_name(const unsigned char *der, long len, X509_LOOKUP_TYPE type)
{
	const unsigned char *p = der, *start;
	long max = len, n;
	int tag, cls, skip;

	if (der_enter(&p, &max) != 0 || der_enter(&p, &max) != 0)
		return NULL;	/* Certificate, then tbsCertificate */
	start = p;
	if ((n = der_skip(&p, max, &tag, &cls)) < 0)
		return NULL;
	/* Optional version: [0] in a certificate, an INTEGER in a CRL. */
	if (type == X509_LU_X509 ? cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0 :
	    cls == V_ASN1_UNIVERSAL && tag == V_ASN1_INTEGER) {
		max -= n;
		start = p;
		if ((n = der_skip(&p, max, &tag, &cls)) < 0)
			return NULL;
	}
	/* Past serialNumber, signature, issuer, validity to subject; or
	 * past signature to issuer. */
	for (skip = type == X509_LU_X509 ? 4 : 1; skip > 0; skip--) {
		max -= n;
		start = p;
		if ((n = der_skip(&p, max, &tag, &cls)) < 0)
			return NULL;
	}
	if (tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL)
		return NULL;
	return p_d2i_X509_NAME(NULL, &start, n);
}

/*
 * Read the blocks of `file` into ca: certificates and CRLs from tls_ca
 * (from = 0: what OpenSSL's file lookup takes from it too), CRLs only
 * from tls_crl (1: no certificate becomes trusted by being there).  -1
 * if the file cannot be read or a block is not what its label says, or
 * if there is no certificate in tls_ca, no CRL in tls_crl.
 */
static int
ca_read(struct tls_ca *ca, const char *file, int from)
{
	X509_LOOKUP_TYPE want = from ? X509_LU_CRL : X509_LU_X509;
	BIO *bio;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long len;
	int wanted = 0, rc = -1;

	if ((bio = p_BIO_new_file(file, "r")) == NULL)
		return -1;
	while (p_PEM_read_bio(bio, &name, &header, &der, &len) == 1) {
		struct tls_ca_obj o = { der, len, NULL, X509_LU_X509, 0, 0,
		    from };

		if (strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
			o.aux = 1;
		else if (strcmp(name, PEM_STRING_X509_CRL) == 0)
			o.type = X509_LU_CRL;
		else if (strcmp(name, PEM_STRING_X509) != 0 &&
		    strcmp(name, PEM_STRING_X509_OLD) != 0)
			o.type = X509_LU_NONE;	/* a key, parameters ... */
		p_CRYPTO_free(name, OPENSSL_FILE, OPENSSL_LINE);
		p_CRYPTO_free(header, OPENSSL_FILE, OPENSSL_LINE);
		name = header = NULL;
		if (from && o.type != X509_LU_CRL)
			o.type = X509_LU_NONE;
		if (o.type == X509_LU_NONE) {
			p_CRYPTO_free(der, OPENSSL_FILE, OPENSSL_LINE);
			continue;
		}
		if ((o.name = der_name(der, len, o.type)) == NULL)
			goto done;	/* a block that is no certificate */
		if (ca->n == ca->cap) {
			size_t cap = ca->cap ? ca->cap * 2 : 16;
			struct tls_ca_obj *n = realloc(ca->o, cap * sizeof *n);

			if (n == NULL) {
				p_X509_NAME_free(o.name);
				goto done;
			}
			ca->o = n;
			ca->cap = cap;
		}
		ca->o[ca->n++] = o;
		der = NULL;
		if (o.type == want)
			wanted = 1;
	}
	/* The end of the file is "no start line": the error to forget. */
	p_ERR_clear_error();
	if (wanted && (ca->file[from] = strdup(file)) != NULL)
		rc = 0;
done:
	p_CRYPTO_free(der, OPENSSL_FILE, OPENSSL_LINE);
	p_BIO_free(bio);
	return rc;
}

/* Decode one object into the store.  -1 if it does not decode. */
static int
ca_load(X509_STORE *st, struct tls_ca_obj *o)
{
	const unsigned char *p = o->der;
	int ok = 0;

	o->loaded = 1;
	if (o->type == X509_LU_CRL) {
		X509_CRL *crl = p_d2i_X509_CRL(NULL, &p, o->len);

		if (crl != NULL) {
			ok = p_X509_STORE_add_crl(st, crl);
			p_X509_CRL_free(crl);
		}
	} else {
		X509 *x = o->aux ? p_d2i_X509_AUX(NULL, &p, o->len) :
		    p_d2i_X509(NULL, &p, o->len);

		if (x != NULL) {
			ok = p_X509_STORE_add_cert(st, x);
			p_X509_free(x);
		}
	}
	return ok ? 0 : -1;
}

/*
 * The lookup chain building calls for an issuer's certificate or CRL
 * by name: decode the objects filed under that name (all of them: a
 * renewed CA keeps its name) into the store, and answer from it.  An
 * object that does not decode is left out, so the chain fails to verify
 * (closed, never open).  As OpenSSL's own by_store lookup does, `ret`
 * gets the store's object without a reference of its own: the caller
 * (X509_STORE_CTX_get_by_subject) takes one.
 */
static int
ca_by_subject(X509_LOOKUP *lu, X509_LOOKUP_TYPE type, const X509_NAME *name,
    X509_OBJECT *ret)
{
	struct tls_ca *ca = p_X509_LOOKUP_get_method_data(lu);
	X509_STORE *st = p_X509_LOOKUP_get_store(lu);
	X509_OBJECT *obj;
	size_t i;
	int found = 0;

	if (ca == NULL || st == NULL)
		return 0;
	for (i = 0; i < ca->n; i++) {
		struct tls_ca_obj *o = &ca->o[i];

		if (o->type != type || p_X509_NAME_cmp(o->name, name) != 0)
			continue;
		found = 1;
		if (!o->loaded)
			(void)ca_load(st, o);
	}
	if (!found || (obj = p_X509_OBJECT_retrieve_by_subject(
	    p_X509_STORE_get0_objects(st), type, name)) == NULL)
		return 0;
	if (type == X509_LU_X509) {
		X509 *x = p_X509_OBJECT_get0_X509(obj);

		if (!p_X509_OBJECT_set1_X509(ret, x))
			return 0;
		p_X509_free(x);
	} else {
		X509_CRL *crl = p_X509_OBJECT_get0_X509_CRL(obj);

		if (!p_X509_OBJECT_set1_X509_CRL(ret, crl))
			return 0;
		p_X509_CRL_free(crl);
	}
	return 1;
}

static void
ca_free(struct tls_ca *ca)
{
	size_t i;

	for (i = 0; i < ca->n; i++) {
		p_X509_NAME_free(ca->o[i].name);
		p_CRYPTO_free(ca->o[i].der, OPENSSL_FILE, OPENSSL_LINE);
	}
	free(ca->o);
	free(ca->file[0]);
	free(ca->file[1]);
	memset(ca, 0, sizeof *ca);
}

static int
tls_load(struct fed_err *err)
{
	const char *missing = NULL;
	int conf;

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
	TLS_STRINGS(TLS_SYM)
#undef TLS_SYM
	if (missing != NULL) {
		fed_err_set(err, "TLS: %s lacks %s", TLS_LIBSSL, missing);
		dlclose(libssl);
		libssl = NULL;
		return -1;
	}
	/*
	 * What OpenSSL does at start is paid by every connection (one
	 * process each), so it does only what a handshake needs.  The
	 * system's openssl.cnf is not read: fedgate's TLS is all set here
	 * from fed.conf, and parsing it costs about 1.5 ms and 40 page
	 * faults (on Debian it sets nothing for a server); an operator who
	 * wants one applied names it in OPENSSL_CONF.  The error strings
	 * (20 page faults of tables) are loaded when there is an error to
	 * tell (tls_why).  Nothing is freed at exit: the process ends with
	 * its connection and its memory goes back whole.
	 */
	conf = getenv("OPENSSL_CONF") != NULL;
	if (p_OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT |
	    OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS | (conf ?
	    OPENSSL_INIT_LOAD_CONFIG : OPENSSL_INIT_NO_LOAD_CONFIG),
	    NULL) != 1) {
		fed_err_set(err, "TLS: OpenSSL does not start%s", conf ?
		    " (is OPENSSL_CONF a readable configuration?)" : "");
		return -1;
	}
	return 0;
}

/* The first queued OpenSSL error, or `fallback`. */
static const char *
tls_why(char *buf, size_t cap, const char *fallback)
{
	static int strings;
	unsigned long e = p_ERR_get_error();

	if (e == 0)
		return fallback;
	/* Loaded now, not at start (tls_load). */
	if (!strings) {
		strings = 1;
#define TLS_LOAD(f) (void)p_##f();
		TLS_STRINGS(TLS_LOAD)
#undef TLS_LOAD
	}
	p_ERR_error_string_n(e, buf, cap);
	p_ERR_clear_error();
	return buf;
}

/* tls_ca, tls_crl: a directory goes to OpenSSL's hashed-directory lookup
 * (lazy already: `openssl rehash` names each file by its subject), a
 * file to the lazy lookup above. */
static int
trust_setup(struct tls_srv *t, const struct conf *c, const char **file)
{
	X509_STORE *st = p_SSL_CTX_get_cert_store(t->ctx);
	X509_LOOKUP *lu;
	struct stat sb;

	*file = c->tls_ca;
	if (stat(c->tls_ca, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		if (p_SSL_CTX_load_verify_locations(t->ctx, NULL,
		    c->tls_ca) != 1)
			return -1;
	} else if (ca_read(&t->ca, c->tls_ca, 0) != 0)
		return -1;
	if (c->tls_crl != NULL) {
		*file = c->tls_crl;
		if (ca_read(&t->ca, c->tls_crl, 1) != 0)
			return -1;
	}
	if (t->ca.n > 0) {
		*file = NULL;
		if ((t->lazy = p_X509_LOOKUP_meth_new("fedkit lazy file")) ==
		    NULL || !p_X509_LOOKUP_meth_set_get_by_subject(t->lazy,
		    ca_by_subject) || (lu = p_X509_STORE_add_lookup(st,
		    t->lazy)) == NULL || !p_X509_LOOKUP_set_method_data(lu,
		    &t->ca))
			return -1;
	}
	if (c->tls_crl != NULL)
		p_X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL);
	return 0;
}

static void
srv_free(struct tls_srv *t)
{
	if (t->ssl != NULL)
		p_SSL_free(t->ssl);
	if (t->ctx != NULL)
		p_SSL_CTX_free(t->ctx);
	if (t->lazy != NULL)
		p_X509_LOOKUP_meth_free(t->lazy);
	ca_free(&t->ca);
	free(t);
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
	/*
	 * One process serves one connection, so a session it could resume
	 * would die with it: no session cache and no tickets (a ticket
	 * would cost every handshake an encryption, a MAC and a message,
	 * under a key no other process knows).  No renegotiation: one
	 * handshake per connection bounds the CPU a partner can make us
	 * spend.
	 */
	p_SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_TICKET);
	p_SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_SESS_CACHE_MODE,
	    SSL_SESS_CACHE_OFF, NULL);
	/* What a partner can make us hold during a handshake: a chain of
	 * at most 32 KB (OpenSSL's default, 100 KB), 10 deep (100). */
	p_SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MAX_CERT_LIST, TLS_MAX_CHAIN,
	    NULL);
	file = c->tls_cert;
	if (p_SSL_CTX_use_certificate_chain_file(t->ctx, c->tls_cert) != 1)
		goto fail;
	file = c->tls_key;
	if (p_SSL_CTX_use_PrivateKey_file(t->ctx, c->tls_key,
	    SSL_FILETYPE_PEM) != 1 || p_SSL_CTX_check_private_key(t->ctx) != 1)
		goto fail;
	if (trust_setup(t, c, &file) != 0)
		goto fail;
	p_SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	p_SSL_CTX_set_verify_depth(t->ctx, TLS_MAX_DEPTH);
	*tp = t;
	return 0;
fail:
	if (file != NULL)
		fed_err_set(err, "TLS: %s: %s", file, tls_why(why, sizeof why,
		    "unusable (no certificate, or not PEM)"));
	else
		fed_err_set(err, "TLS: %s", tls_why(why, sizeof why,
		    "cannot set up"));
	srv_free(t);
	return -1;
}

int
tls_srv_check(struct tls_srv *t, struct fed_err *err)
{
	X509_STORE *st = p_SSL_CTX_get_cert_store(t->ctx);
	char why[256];
	size_t i, k[2] = { 0, 0 };

	for (i = 0; i < t->ca.n; i++) {
		struct tls_ca_obj *o = &t->ca.o[i];
		int crl = o->type == X509_LU_CRL;

		k[crl]++;
		if (!o->loaded && ca_load(st, o) != 0) {
			fed_err_set(err, "TLS: %s: %s %zu: %s",
			    t->ca.file[o->from], crl ? "CRL" : "certificate",
			    k[crl], tls_why(why, sizeof why, "does not decode"));
			return -1;
		}
	}
	return 0;
}

int
tls_srv_cert_dates(const struct tls_srv *t, int64_t *not_before,
    int64_t *not_after, struct fed_err *err)
{
	X509 *x = p_SSL_CTX_get0_certificate(t->ctx);
	struct tm b, a;

	memset(&b, 0, sizeof b);
	memset(&a, 0, sizeof a);
	if (x == NULL || p_ASN1_TIME_to_tm(p_X509_get0_notBefore(x), &b) != 1 ||
	    p_ASN1_TIME_to_tm(p_X509_get0_notAfter(x), &a) != 1) {
		fed_err_set(err, "TLS: the certificate's validity does not "
		    "decode");
		return -1;
	}
	*not_before = (int64_t)timegm(&b);
	*not_after = (int64_t)timegm(&a);
	return 0;
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
	tls_srv_end(t);		/* a connection not ended by the caller */
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
tls_srv_end(struct tls_srv *t)
{
	if (t == NULL || t->ssl == NULL)
		return;
	(void)p_SSL_shutdown(t->ssl);
	p_SSL_free(t->ssl);
	t->ssl = NULL;
	p_ERR_clear_error();
}

void
tls_srv_close(struct tls_srv *t)
{
	if (t == NULL)
		return;
	tls_srv_end(t);
	srv_free(t);
}
