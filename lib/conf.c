/* conf.c: fed.conf(5): built-in defaults, the parser, and the lookups on it. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "statepool.h"
#include "list.h"

#define MESSAGE_MIN	1024
#define MESSAGE_MAX	((size_t)16 << 20)
#define LINE_MIN	256
#define SUGGEST_MAX	64	/* longer keys are not typos of ours */
#define UA_PATTERN_MAX	256	/* a refuse_user_agents item */

static const char *const default_methods[] = {
	"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "MESSAGE", "INFO",
	"UPDATE", "PRACK", "REFER", "SUBSCRIBE", "NOTIFY", "PUBLISH"
};
static const char *const default_uas[] = {
	"friendly-scanner", "sipvicious", "sipcli", "VaxSIPUserAgent", "pplsip"
};
static const int default_failures[] = { 403, 404, 410, 484, 485, 604 };

/* Value kinds; each names its parser below. */
enum ktype {
	K_DOMAINS,		/* local_domains */
	K_FEDERATION, K_VERIFY, K_TLS,
	K_RATE,			/* unsigned, >= 1 */
	K_COUNT,		/* unsigned, >= 1 */
	K_PERIOD,		/* duration, >= 1 s */
	K_DURATION,		/* duration, 0 allowed */
	K_CODES,		/* failure_codes */
	K_SHARE,		/* 0 < x <= 1 */
	K_METHODS, K_UAS,
	K_PATH,			/* a path, required */
	K_OPTPATH,		/* a path, or empty for none */
	K_UPSTREAM,
	K_MESSAGE, K_LINE, K_HEADERS,
	K_USER,			/* a user name (getpwnam) */
	K_SECCOMP,		/* on, off */
	K_PROXY,		/* proxy_protocol: on, off */
	K_NETS,			/* ADDR[/BITS] ... */
	K_REDIS,		/* HOST:PORT, /socket, or empty for none */
	K_SECRET,		/* any word, or empty for none */
	K_REDIS_DOWN		/* local, refuse */
};

struct key {
	const char *name;
	enum ktype type;
	size_t off;
};

#define OFF(f) offsetof(struct conf, f)
static const struct key keys[] = {
	{ "local_domains", K_DOMAINS, OFF(local_domains) },
	{ "federation", K_FEDERATION, OFF(federation) },
	{ "discovered_rate", K_RATE, OFF(discovered_rate) },
	{ "max_uris", K_COUNT, OFF(max_uris) },
	{ "report_period", K_PERIOD, OFF(report_period) },
	{ "failure_codes", K_CODES, OFF(failure_code) },
	{ "suspect_min_responses", K_COUNT, OFF(suspect_min_responses) },
	{ "suspect_fail_share", K_SHARE, OFF(suspect_fail_share) },
	{ "suspicious_rate", K_RATE, OFF(suspicious_rate) },
	{ "watch_expire", K_DURATION, OFF(watch_expire) },
	{ "max_partners", K_COUNT, OFF(max_partners) },
	{ "max_new_partners", K_COUNT, OFF(max_new_partners) },
	{ "max_refusals", K_COUNT, OFF(max_refusals) },
	{ "methods", K_METHODS, OFF(methods) },
	{ "refuse_user_agents", K_UAS, OFF(refuse_user_agents) },
	{ "verify", K_VERIFY, OFF(verify) },
	{ "tls", K_TLS, OFF(tls) },
	{ "tls_cert", K_OPTPATH, OFF(tls_cert) },
	{ "tls_key", K_OPTPATH, OFF(tls_key) },
	{ "tls_ca", K_OPTPATH, OFF(tls_ca) },
	{ "tls_crl", K_OPTPATH, OFF(tls_crl) },
	{ "allow_list", K_PATH, OFF(allow_list) },
	{ "block_list", K_PATH, OFF(block_list) },
	{ "edge_cache", K_PATH, OFF(edge_cache) },
	{ "state_dir", K_PATH, OFF(state_dir) },
	{ "watch_list", K_PATH, OFF(watch_list) },
	{ "verdict_log", K_PATH, OFF(verdict_log) },
	{ "upstream", K_UPSTREAM, OFF(upstream) },
	{ "max_message", K_MESSAGE, OFF(limits.max_message) },
	{ "max_line", K_LINE, OFF(limits.max_line) },
	{ "max_headers", K_HEADERS, OFF(limits.max_headers) },
	{ "message_timeout", K_PERIOD, OFF(message_timeout) },
	{ "idle_timeout", K_PERIOD, OFF(idle_timeout) },
	{ "upstream_timeout", K_PERIOD, OFF(upstream_timeout) },
	{ "max_connections", K_COUNT, OFF(max_connections) },
	{ "max_connections_per_source", K_COUNT,
	    OFF(max_connections_per_source) },
	{ "connections_per_process", K_COUNT, OFF(connections_per_process) },
	{ "user", K_USER, OFF(user) },
	{ "seccomp", K_SECCOMP, OFF(seccomp) },
	{ "proxy_protocol", K_PROXY, OFF(proxy_protocol) },
	{ "proxy_from", K_NETS, OFF(proxy_from) },
	{ "redis", K_REDIS, OFF(redis) },
	{ "redis_password", K_SECRET, OFF(redis_password) },
	{ "redis_down", K_REDIS_DOWN, OFF(redis_down_refuse) },
};
#define NKEYS (sizeof keys / sizeof keys[0])

static void
strv_free(struct conf_strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

static int
strv_add(struct conf_strv *sv, const char *p, size_t n)
{
	char **nv, *s;

	if ((s = fed_strdup_n(p, n)) == NULL)
		return -1;
	if ((nv = reallocarray(sv->v, sv->n + 1, sizeof *nv)) == NULL) {
		free(s);
		return -1;
	}
	sv->v = nv;
	sv->v[sv->n++] = s;
	return 0;
}

/*
 * The defaults are a handful of small strings: if they cannot be
 * allocated the process cannot do anything useful, and conf_defaults has
 * no way to say so, so it stops here rather than run on half a policy.
 */
static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

void
conf_defaults(struct conf *c)
{
	size_t i;

	memset(c, 0, sizeof *c);
	c->federation = FED_OPEN;
	c->discovered_rate = 20;
	c->max_uris = 1000;
	c->report_period = 3600;
	for (i = 0; i < sizeof default_failures / sizeof default_failures[0];
	    i++)
		c->failure_code[default_failures[i]] = 1;
	c->suspect_min_responses = 20;
	c->suspect_fail_share = 0.5;
	c->suspicious_rate = 1;
	c->watch_expire = 0;
	c->max_partners = 100000;
	c->max_new_partners = 1000;
	c->max_refusals = 100;
	for (i = 0; i < sizeof default_methods / sizeof default_methods[0];
	    i++)
		if (strv_add(&c->methods, default_methods[i],
		    strlen(default_methods[i])) == -1)
			abort();
	for (i = 0; i < sizeof default_uas / sizeof default_uas[0]; i++)
		if (strv_add(&c->refuse_user_agents, default_uas[i],
		    strlen(default_uas[i])) == -1)
			abort();
	c->verify = VERIFY_AUTO;
	c->tls = TLS_ON;
	c->allow_list = xstrdup("/etc/fedkit/allow");
	c->block_list = xstrdup("/etc/fedkit/block");
	c->edge_cache = xstrdup("/var/lib/fedkit/edges");
	c->state_dir = xstrdup("/var/lib/fedkit");
	c->verdict_log = xstrdup("/var/log/fedkit/verdicts.log");
	/* The SIP_DEFAULT_* numbers, as sip_limits_default() sets them. */
	c->limits.max_message = SIP_DEFAULT_MAX_MESSAGE;
	c->limits.max_line = SIP_DEFAULT_MAX_LINE;
	c->limits.max_headers = SIP_DEFAULT_MAX_HEADERS;
	c->message_timeout = 10;
	c->idle_timeout = 300;
	c->upstream_timeout = 5;
	c->max_connections = 512;
	c->max_connections_per_source = 32;
	c->connections_per_process = 100;
	c->user = xstrdup(CONF_DEFAULT_USER);
	c->seccomp = 1;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	strv_free(&c->local_domains);
	strv_free(&c->methods);
	strv_free(&c->refuse_user_agents);
	strv_free(&c->proxy_from);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca);
	free(c->tls_crl);
	free(c->allow_list);
	free(c->block_list);
	free(c->edge_cache);
	free(c->state_dir);
	free(c->redis);
	free(c->redis_password);
	free(c->watch_list);
	free(c->verdict_log);
	free(c->upstream);
	free(c->user);
	memset(c, 0, sizeof *c);
}

/* Digits only, no sign, no junk; at most max.  0 or -1. */
static int
parse_uint(const char *p, size_t n, unsigned long max, unsigned long *out)
{
	uint64_t v;

	if (fed_parse_u64(p, n, max, &v) == -1)
		return -1;
	*out = (unsigned long)v;	/* v <= max */
	return 0;
}

static int
duration(const char *p, size_t n, unsigned *seconds)
{
	unsigned long v, mult = 1;

	if (n > 0) {
		switch (p[n - 1]) {
		case 's': mult = 1; n--; break;
		case 'm': mult = 60; n--; break;
		case 'h': mult = 3600; n--; break;
		case 'd': mult = 86400; n--; break;
		}
	}
	if (parse_uint(p, n, UINT_MAX, &v) == -1 || v > UINT_MAX / mult)
		return -1;
	*seconds = (unsigned)(v * mult);
	return 0;
}

int
conf_parse_duration(const char *s, unsigned *seconds)
{
	return duration(s, strlen(s), seconds);
}

/*
 * A decimal 0 < x <= 1: digits, optionally '.' and digits; no sign, no
 * exponent, and no locale (strtod would read "0,5" in some).  The digits
 * are gathered as an integer and divided once, so "0.75" is exactly 0.75.
 */
static int
parse_share(const char *p, size_t n, double *out)
{
	unsigned long long mant = 0;
	double scale = 1, v;
	size_t i = 0, digits = 0, used = 0;
	int frac = 0;

	for (; i < n; i++) {
		if (p[i] == '.' && !frac) {
			frac = 1;
			continue;
		}
		if (p[i] < '0' || p[i] > '9')
			return -1;
		digits++;
		if (mant == 0 && p[i] == '0') {
			if (frac)
				scale *= 10;
			continue;	/* leading zeros carry nothing */
		}
		if (used++ >= 17)
			continue;	/* beyond double precision */
		mant = mant * 10 + (unsigned)(p[i] - '0');
		if (frac)
			scale *= 10;
	}
	if (digits == 0)
		return -1;
	v = (double)mant / scale;
	if (!(v > 0) || v > 1)
		return -1;
	*out = v;
	return 0;
}

/* An RFC 3261 token: a method name. */
static int
is_token(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-.!%*_+`'~", c) != NULL))
			return 0;
	}
	return 1;
}

/* "[IPv6]:": the address checked, *colon at the ':' after the ']'. */
static int
check_bracketed_host(const char *p, size_t n, const char **colon,
    struct fed_err *err)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *rb = memchr(p, ']', n), *h = p + 1;
	size_t hn;
	struct in6_addr a6;

	if (rb == NULL) {
		fed_err_set(err, "no \"]\" after the IPv6 address");
		return -1;
	}
	hn = (size_t)(rb - h);
	if (hn == 0 || hn >= sizeof addr) {
		fed_err_set(err, "bad IPv6 address");
		return -1;
	}
	memcpy(addr, h, hn);
	addr[hn] = '\0';
	if (inet_pton(AF_INET6, addr, &a6) != 1) {
		fed_err_set(err, "bad IPv6 address");
		return -1;
	}
	*colon = rb + 1;
	if (*colon == p + n || **colon != ':') {
		fed_err_set(err, "no \":PORT\" after the address");
		return -1;
	}
	return 0;
}

/* "IPv4:" or "domain:": the host checked, *colon at its ':'. */
static int
check_plain_host(const char *p, size_t n, const char **colon,
    struct fed_err *err)
{
	char host[DOMAIN_MAX + 2], addr[INET6_ADDRSTRLEN + 1];
	size_t hn;
	struct in_addr a4;

	if ((*colon = memchr(p, ':', n)) == NULL) {
		fed_err_set(err, "no \":PORT\"");
		return -1;
	}
	if (memchr(*colon + 1, ':', n - (size_t)(*colon + 1 - p))) {
		fed_err_set(err, "write an IPv6 address in brackets: "
		    "[addr]:port");
		return -1;
	}
	hn = (size_t)(*colon - p);
	if (hn > 0 && hn < sizeof addr) {
		memcpy(addr, p, hn);
		addr[hn] = '\0';
	} else
		addr[0] = '\0';
	if (hn == 0 || (inet_pton(AF_INET, addr, &a4) != 1 &&
	    domain_normalize(p, hn, 0, host, sizeof host, err) == -1)) {
		if (hn == 0)
			fed_err_set(err, "no host before \":\"");
		return -1;
	}
	return 0;
}

/* HOST:PORT, HOST a name or IPv4 address, or [IPv6]:PORT. */
static int
check_upstream(const char *p, size_t n, struct fed_err *err)
{
	const char *colon;
	unsigned long port;

	if ((n > 0 && p[0] == '[' ? check_bracketed_host(p, n, &colon, err) :
	    check_plain_host(p, n, &colon, err)) == -1)
		return -1;
	if (parse_uint(colon + 1, n - (size_t)(colon + 1 - p), 65535,
	    &port) == -1 || port == 0) {
		fed_err_set(err, "the port is not a number from 1 to 65535");
		return -1;
	}
	return 0;
}

/* Split a list value on commas and blanks, calling f for each item. */
static int
each_item(const char *p, size_t n, void *arg,
    int (*f)(void *, const char *, size_t))
{
	size_t i = 0, j;

	for (;;) {
		while (i < n && (p[i] == ',' || p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == n)
			return 0;
		for (j = i; j < n && p[j] != ',' && p[j] != ' ' &&
		    p[j] != '\t'; j++)
			;
		if (f(arg, p + i, j - i) == -1)
			return -1;
		i = j;
	}
}

/* An address with a prefix length: one of proxy_from. */
struct net {
	int af;
	unsigned char addr[16];
	unsigned bits;
};

static int
net_parse(const char *p, size_t n, struct net *net)
{
	char a[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(p, '/', n);
	size_t al = slash != NULL ? (size_t)(slash - p) : n;
	unsigned long bits;

	if (al == 0 || al >= sizeof a)
		return -1;
	memcpy(a, p, al);
	a[al] = '\0';
	memset(net, 0, sizeof *net);
	if (inet_pton(AF_INET, a, net->addr) == 1)
		net->af = AF_INET;
	else if (inet_pton(AF_INET6, a, net->addr) == 1)
		net->af = AF_INET6;
	else
		return -1;
	net->bits = net->af == AF_INET ? 32 : 128;
	if (slash != NULL) {
		if (parse_uint(slash + 1, n - al - 1, net->bits, &bits) == -1)
			return -1;
		net->bits = (unsigned)bits;
	}
	return 0;
}

static int
net_has(const struct net *net, int af, const unsigned char *addr)
{
	unsigned full = net->bits / 8, rest = net->bits % 8;

	if (net->af != af || memcmp(net->addr, addr, full) != 0)
		return 0;
	return rest == 0 || ((net->addr[full] ^ addr[full]) &
	    (0xff00 >> rest)) == 0;
}

int
conf_proxy_trusted(const struct conf *c, const struct sockaddr_storage *ss)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	const unsigned char *addr;
	struct net net;
	size_t i;
	int af = ss->ss_family;

	if (!c->proxy_protocol)
		return 0;
	if (af == AF_INET)
		addr = (const unsigned char *)
		    &((const struct sockaddr_in *)ss)->sin_addr;
	else if (af == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
		if (memcmp(addr, mapped, sizeof mapped) == 0) {
			af = AF_INET;
			addr += sizeof mapped;
		}
	} else
		return 0;
	for (i = 0; i < c->proxy_from.n; i++)
		if (net_parse(c->proxy_from.v[i], strlen(c->proxy_from.v[i]),
		    &net) == 0 && net_has(&net, af, addr))
			return 1;
	return 0;
}

/* The state of one list value being parsed. */
struct item_ctx {
	enum ktype type;
	struct conf_strv sv;
	unsigned char codes[700];
	struct fed_err *err;
};

static int
one_item(void *arg, const char *p, size_t n)
{
	struct item_ctx *x = arg;
	char q[FED_QUOTE_MAX], dom[DOMAIN_MAX + 2];
	unsigned long code;

	fed_quote_prefix(q, p, n, FED_QUOTE_LINE);
	switch (x->type) {
	case K_DOMAINS:
		if (domain_normalize(p, n, 1, dom, sizeof dom, x->err) == -1)
			return -1;
		p = dom;
		n = strlen(dom);
		break;
	case K_CODES:
		/* A success (2xx) or a provisional response can never be a
		 * failure: it would count on both sides of the share. */
		if (parse_uint(p, n, 999, &code) == -1 || code < 300 ||
		    code > 699) {
			fed_err_set(x->err, "%s is not a final non-2xx SIP "
			    "response code (300 to 699)", q);
			return -1;
		}
		x->codes[code] = 1;
		return 0;
	case K_NETS: {
		struct net net;

		if (net_parse(p, n, &net) != 0) {
			fed_err_set(x->err, "%s is not an address or a network "
			    "(192.0.2.7, 10.0.0.0/8, 2001:db8::/32)", q);
			return -1;
		}
		break;
	}
	case K_METHODS:
		if (!is_token(p, n)) {
			fed_err_set(x->err, "%s is not a SIP method name "
			    "(a token, RFC 3261)", q);
			return -1;
		}
		break;
	default:
		/* K_UAS: any text without separators, kept short so that
		 * matching stays cheap (max_line x this, per pattern). */
		if (n > UA_PATTERN_MAX) {
			fed_err_set(x->err, "%s is longer than %d characters",
			    q, UA_PATTERN_MAX);
			return -1;
		}
		break;
	}
	if (strv_add(&x->sv, p, n) == -1) {
		fed_err_set(x->err, "%s", strerror(ENOMEM));
		return -1;
	}
	return 0;
}

#define FIELD(c, k, t) ((t *)(void *)((char *)(c) + (k)->off))

/* A user name as useradd(8) takes one, portably: [A-Za-z0-9_.-], not
 * starting with '-', not all digits (which would read as a uid). */
static int
is_user_name(const char *p, size_t n)
{
	size_t i, digits = 0;

	if (n == 0 || n > CONF_USER_MAX || p[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			digits++;
		else if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') || p[i] == '_' ||
		    p[i] == '.' || p[i] == '-'))
			return 0;
	}
	return digits < n;
}

/* The index of the value among `words` ("open, allowlist, off"), or -1
 * with an error listing them. */
static int
keyword(const char *p, size_t n, const char *words, const char *q,
    struct fed_err *err)
{
	const char *w = words, *e;
	int i;

	for (i = 0; *w != '\0'; i++) {
		e = strchr(w, ',');
		if (e == NULL)
			e = w + strlen(w);
		if ((size_t)(e - w) == n && memcmp(w, p, n) == 0)
			return i;
		w = *e == ',' ? e + 2 : e;
	}
	fed_err_set(err, "%s is not one of %s", q, words);
	return -1;
}

/*
 * The value setters, one per group of kinds: each sets k's field from the
 * value [p, p + n), quoted in q for its message, or is -1 with *err
 * (without FILE:LINE) and leaves the field as it was.
 */

/* federation, verify, tls, seccomp, proxy_protocol, redis_down: one of
 * a few words. */
static int
set_choice(struct conf *c, const struct key *k, const char *p, size_t n,
    const char *q, struct fed_err *err)
{
	static const enum conf_federation v_fed[] = { FED_OPEN,
	    FED_ALLOWLIST, FED_OFF };
	static const enum conf_verify v_ver[] = { VERIFY_SRV, VERIFY_NONE,
	    VERIFY_AUTO };
	static const enum conf_tls v_tls[] = { TLS_ON, TLS_OFF };
	int i;

	switch (k->type) {
	case K_FEDERATION:
		if ((i = keyword(p, n, "open, allowlist, off", q, err)) >= 0)
			c->federation = v_fed[i];
		break;
	case K_VERIFY:
		if ((i = keyword(p, n, "srv, none, auto", q, err)) >= 0)
			c->verify = v_ver[i];
		break;
	case K_TLS:
		if ((i = keyword(p, n, "on, off", q, err)) >= 0)
			c->tls = v_tls[i];
		break;
	case K_SECCOMP:
		if ((i = keyword(p, n, "on, off", q, err)) >= 0)
			c->seccomp = i == 0;
		break;
	case K_PROXY:
		if ((i = keyword(p, n, "on, off", q, err)) >= 0)
			c->proxy_protocol = i == 0;
		break;
	default:	/* K_REDIS_DOWN */
		if ((i = keyword(p, n, "local, refuse", q, err)) >= 0)
			c->redis_down_refuse = i == 1;
		break;
	}
	return i < 0 ? -1 : 0;
}

/* The rates, counts, durations, max_headers and the share. */
static int
set_number(struct conf *c, const struct key *k, const char *p, size_t n,
    const char *q, struct fed_err *err)
{
	unsigned long v;
	unsigned d;
	double share;

	switch (k->type) {
	case K_RATE:
	case K_COUNT:
		if (parse_uint(p, n, UINT_MAX, &v) == -1 || v < 1) {
			fed_err_set(err, "%s is not %s of at least 1", q,
			    k->type == K_RATE ? "a rate" : "a whole number");
			return -1;
		}
		*FIELD(c, k, unsigned) = (unsigned)v;
		return 0;
	case K_HEADERS:
		if (parse_uint(p, n, SIP_HDR_MAX, &v) == -1 || v < 1) {
			fed_err_set(err, "%s is not a number from 1 to %d", q,
			    SIP_HDR_MAX);
			return -1;
		}
		c->limits.max_headers = (unsigned)v;
		return 0;
	case K_SHARE:
		if (parse_share(p, n, &share) == -1) {
			fed_err_set(err, "%s is not a share above 0 and at "
			    "most 1 (such as 0.5)", q);
			return -1;
		}
		c->suspect_fail_share = share;
		return 0;
	default:	/* K_PERIOD, K_DURATION */
		if (duration(p, n, &d) == -1 ||
		    (k->type == K_PERIOD && d == 0)) {
			fed_err_set(err, "%s is not a duration%s (30s, 60m, "
			    "1h, 1d, or seconds)", q,
			    k->type == K_PERIOD ? " of at least 1s" : "");
			return -1;
		}
		*FIELD(c, k, unsigned) = d;
		return 0;
	}
}

/* max_message, max_line: bytes, or k and M for x1024 and x1048576. */
static int
set_size(struct conf *c, const struct key *k, const char *p, size_t n,
    const char *q, struct fed_err *err)
{
	size_t lo = k->type == K_MESSAGE ? MESSAGE_MIN : LINE_MIN;
	unsigned long mult = 1, v;

	if (n > 0 && (p[n - 1] == 'k' || p[n - 1] == 'K'))
		mult = 1024, n--;
	else if (n > 0 && (p[n - 1] == 'm' || p[n - 1] == 'M'))
		mult = 1024 * 1024, n--;
	if (parse_uint(p, n, MESSAGE_MAX, &v) == -1 ||
	    v > MESSAGE_MAX / mult || v * mult < lo) {
		fed_err_set(err, "%s is not a size from %zu to %zu "
		    "bytes (k: x1024, M: x1048576)", q, lo, MESSAGE_MAX);
		return -1;
	}
	*FIELD(c, k, size_t) = v * mult;
	return 0;
}

/* redis: HOST:PORT or /socket, as the pool takes it (empty: none). */
static int
check_redis(const char *p, size_t n, const char *q, struct fed_err *err)
{
	char a[300];
	const char *why;

	if (n >= sizeof a) {
		fed_err_set(err, "%s is too long", q);
		return -1;
	}
	memcpy(a, p, n);
	a[n] = '\0';
	if (n > 0 && pool_addr_check(a, &why) != 0) {
		fed_err_set(err, "%s: %s", q, why);
		return -1;
	}
	return 0;
}

/* The paths, user, upstream, redis and redis_password: checked by kind,
 * then kept as text; an empty value is no value, where none is allowed. */
static int
set_string(struct conf *c, const struct key *k, const char *p, size_t n,
    const char *q, struct fed_err *err)
{
	char *s, m[sizeof err->msg];

	switch (k->type) {
	case K_USER:
		if (!is_user_name(p, n)) {
			fed_err_set(err, "%s is not a user name (1 to %d "
			    "letters, digits, _ . -, not starting with -)", q,
			    CONF_USER_MAX);
			return -1;
		}
		break;
	case K_PATH:
		if (n == 0) {
			fed_err_set(err, "a path is needed");
			return -1;
		}
		break;
	case K_UPSTREAM:
		if (n > 0 && check_upstream(p, n, err) == -1) {
			memcpy(m, err->msg, sizeof m);
			fed_err_set(err, "%s is not HOST:PORT: %s", q, m);
			return -1;
		}
		break;
	case K_REDIS:
		if (check_redis(p, n, q, err) == -1)
			return -1;
		break;
	default:	/* K_SECRET, K_OPTPATH */
		break;
	}
	if (n == 0 && k->type != K_USER && k->type != K_PATH) {
		free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = NULL;
		return 0;
	}
	if ((s = fed_strdup_n(p, n)) == NULL) {
		fed_err_set(err, "%s", strerror(ENOMEM));
		return -1;
	}
	free(*FIELD(c, k, char *));
	*FIELD(c, k, char *) = s;
	return 0;
}

/* local_domains, failure_codes, methods, refuse_user_agents, proxy_from:
 * the list is built aside and swapped in only when whole. */
static int
set_list(struct conf *c, const struct key *k, const char *p, size_t n,
    struct fed_err *err)
{
	struct item_ctx x;

	memset(&x, 0, sizeof x);
	x.type = k->type;
	x.err = err;
	if (each_item(p, n, &x, one_item) == -1) {
		strv_free(&x.sv);
		return -1;
	}
	if (k->type == K_CODES) {
		if (memchr(x.codes, 1, sizeof x.codes) == NULL) {
			fed_err_set(err, "the list is empty");
			return -1;
		}
		memcpy(c->failure_code, x.codes, sizeof x.codes);
		return 0;
	}
	if (x.sv.n == 0 && k->type != K_UAS && k->type != K_NETS) {
		fed_err_set(err, "the list is empty");
		return -1;
	}
	strv_free(FIELD(c, k, struct conf_strv));
	*FIELD(c, k, struct conf_strv) = x.sv;
	return 0;
}

/* Set one key from its value [p, p + n); -1 with *err (without FILE:LINE).
 * The switch names every kind, so a new one without a setter does not
 * compile (-Wswitch). */
static int
set_key(struct conf *c, const struct key *k, const char *p, size_t n,
    struct fed_err *err)
{
	char q[FED_QUOTE_MAX];

	fed_quote_prefix(q, p, n, FED_QUOTE_LINE);
	switch (k->type) {
	case K_FEDERATION:
	case K_VERIFY:
	case K_TLS:
	case K_SECCOMP:
	case K_PROXY:
	case K_REDIS_DOWN:
		return set_choice(c, k, p, n, q, err);
	case K_RATE:
	case K_COUNT:
	case K_HEADERS:
	case K_SHARE:
	case K_PERIOD:
	case K_DURATION:
		return set_number(c, k, p, n, q, err);
	case K_MESSAGE:
	case K_LINE:
		return set_size(c, k, p, n, q, err);
	case K_USER:
	case K_PATH:
	case K_UPSTREAM:
	case K_REDIS:
	case K_SECRET:
	case K_OPTPATH:
		return set_string(c, k, p, n, q, err);
	case K_DOMAINS:
	case K_CODES:
	case K_METHODS:
	case K_UAS:
	case K_NETS:
		break;
	}
	return set_list(c, k, p, n, err);
}

/* Levenshtein distance of two short strings (both <= SUGGEST_MAX). */
static size_t
distance(const char *a, const char *b)
{
	size_t row[SUGGEST_MAX + 1], i, j, la = strlen(a), lb = strlen(b);

	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

const char *
conf_suggest_key(const char *key)
{
	size_t len = strnlen(key, SUGGEST_MAX + 1), i, d, best = SIZE_MAX;
	size_t limit = len / 3 > 2 ? len / 3 : 2;
	const char *pick = NULL;

	if (len == 0 || len > SUGGEST_MAX)
		return NULL;
	for (i = 0; i < NKEYS; i++) {
		size_t kl = strlen(keys[i].name);

		/* The distance is at least the difference in length. */
		if ((kl > len ? kl - len : len - kl) > limit)
			continue;
		d = distance(key, keys[i].name);
		if (d < best) {
			best = d;
			pick = keys[i].name;
		}
	}
	/* Close, and not a rewrite of the whole word. */
	return best <= limit && best < len ? pick : NULL;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Quote the start of a line that is no fed.conf line (fed_quote_prefix):
 * up to and including the first byte that can be neither in a key nor
 * between words, at most FED_QUOTE_LINE bytes.  fed.conf may name any
 * file (-c, $FEDKIT_CONF): of a line of /etc/shadow this shows the user
 * name, never the hash; of `max_uris 5`, all of it.
 */
static void
quote_line_start(char q[FED_QUOTE_MAX], const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < FED_QUOTE_LINE; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '_' ||
		    p[i] == '-' || p[i] == '.' || is_blank(p[i])))
			break;
	fed_quote_prefix(q, p, n, i < n && i < FED_QUOTE_LINE ? i + 1 : i);
}

/* fed.conf(5): a control character in a line stops the tool. */
static int
check_control_chars(const char *name, unsigned lineno, const char *p,
    const char *e, struct fed_err *err)
{
	for (; p < e; p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			fed_err_set(err, "%s:%u: control character \\x%02x in "
			    "line", name, lineno, ch);
			return -1;
		}
	}
	return 0;
}

/* One "key = value" line, its blanks and any comment after the value. */
struct conf_line {
	const char *key, *key_end, *value, *value_end;
};

/* Split a line that is neither blank nor a comment at its '='. */
static int
split_key_value(const char *name, unsigned lineno, const char *p,
    const char *e, struct conf_line *l, struct fed_err *err)
{
	const char *t;

	for (l->key_end = p; l->key_end < e && *l->key_end != '=' &&
	    !is_blank(*l->key_end); l->key_end++)
		;
	l->key = p;
	for (t = l->key_end; t < e && is_blank(*t); t++)
		;
	if (t == e || *t != '=') {
		char q[FED_QUOTE_MAX];

		quote_line_start(q, p, (size_t)(e - p));
		fed_err_set(err, "%s:%u: expected \"key = value\", got %s",
		    name, lineno, q);
		return -1;
	}
	if (l->key_end == l->key) {
		fed_err_set(err, "%s:%u: no key before \"=\"", name, lineno);
		return -1;
	}
	/* The value: up to a '#' at its start or after a blank. */
	for (l->value = t + 1; l->value < e && is_blank(*l->value);
	    l->value++)
		;
	for (l->value_end = l->value; l->value_end < e; l->value_end++)
		if (*l->value_end == '#' && (l->value_end == l->value ||
		    is_blank(l->value_end[-1])))
			break;
	while (l->value_end > l->value && is_blank(l->value_end[-1]))
		l->value_end--;
	return 0;
}

/* The index in keys[] of the key kp..ke, or -1 with a suggestion. */
static int
find_key(const char *name, unsigned lineno, const char *kp, const char *ke,
    struct fed_err *err)
{
	char q[FED_QUOTE_MAX], k[SUGGEST_MAX + 1];
	const char *s = NULL;
	size_t i, n = (size_t)(ke - kp);

	for (i = 0; i < NKEYS; i++)
		if (strlen(keys[i].name) == n &&
		    memcmp(keys[i].name, kp, n) == 0)
			return (int)i;
	quote_line_start(q, kp, n);
	if (n <= SUGGEST_MAX) {
		memcpy(k, kp, n);
		k[n] = '\0';
		s = conf_suggest_key(k);
	}
	if (s != NULL)
		fed_err_set(err, "%s:%u: unknown key %s (did you mean "
		    "\"%s\"?)", name, lineno, q, s);
	else
		fed_err_set(err, "%s:%u: unknown key %s", name, lineno, q);
	return -1;
}

/*
 * One line p..e (its newline and any CR gone): a blank line, a comment,
 * or a key given once.  seen[] holds the line each key was given on.
 */
static int
parse_line(struct conf *c, const char *name, unsigned lineno, const char *p,
    const char *e, unsigned seen[NKEYS], struct fed_err *err)
{
	struct conf_line l;
	struct fed_err why;
	int i;

	if (check_control_chars(name, lineno, p, e, err) == -1)
		return -1;
	while (p < e && is_blank(*p))
		p++;
	if (p == e || *p == '#')
		return 0;
	if (split_key_value(name, lineno, p, e, &l, err) == -1 ||
	    (i = find_key(name, lineno, l.key, l.key_end, err)) == -1)
		return -1;
	if (seen[i] != 0) {
		fed_err_set(err, "%s:%u: %s is given twice (first on line %u)",
		    name, lineno, keys[i].name, seen[i]);
		return -1;
	}
	seen[i] = lineno;
	if (set_key(c, &keys[i], l.value, (size_t)(l.value_end - l.value),
	    &why) == -1) {
		fed_err_set(err, "%s:%u: %s: %s", name, lineno, keys[i].name,
		    why.msg);
		return -1;
	}
	return 0;
}

/* Keys that bound each other: report on the later of the two. */
static int
check_bounding_keys(const struct conf *c, const char *name,
    const unsigned seen[NKEYS], struct fed_err *err)
{
	unsigned lm = 0, ll = 0;
	size_t i;

	if (c->limits.max_line <= c->limits.max_message)
		return 0;
	for (i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, "max_message") == 0)
			lm = seen[i];
		if (strcmp(keys[i].name, "max_line") == 0)
			ll = seen[i];
	}
	fed_err_set(err, "%s:%u: max_line (%zu) is larger than max_message "
	    "(%zu)", name, lm > ll ? lm : ll, c->limits.max_line,
	    c->limits.max_message);
	return -1;
}

int
conf_parse(struct conf *c, const char *name, const char *buf, size_t len,
    struct fed_err *err)
{
	unsigned seen[NKEYS] = { 0 }, lineno = 0;
	const char *p = buf, *end = buf + len, *nl, *e;

	if (name == NULL)
		name = "fed.conf";
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		p += 3;		/* a byte order mark from some editor */
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		e = nl;
		lineno++;
		if (e > p && e[-1] == '\r')
			e--;	/* CRLF line endings */
		if (parse_line(c, name, lineno, p, e, seen, err) == -1)
			return -1;
	}
	return check_bounding_keys(c, name, seen, err);
}

/*
 * Defaults that follow other keys: the watch list lives in state_dir
 * unless placed elsewhere, because fedgate writes it, and fedgate's user
 * must not be able to write the directory of the allow and block lists.
 */
static int
derive(struct conf *c, struct fed_err *err)
{
	if (c->proxy_protocol && c->proxy_from.n == 0) {
		fed_err_set(err, "%s: proxy_protocol = on needs proxy_from, "
		    "the load balancers' addresses", c->path != NULL ?
		    c->path : "fed.conf");
		return -1;
	}
	if (c->watch_list == NULL &&
	    (c->watch_list = fed_concat(c->state_dir, "/watch")) == NULL) {
		fed_err_set(err, "watch_list: %s", strerror(ENOMEM));
		return -1;
	}
	return 0;
}

int
conf_load(struct conf *c, const char *path, struct fed_err *err)
{
	const char *env = getenv("FEDKIT_CONF");
	char *buf;
	size_t len;
	int rc;

	conf_defaults(c);
	if (path == NULL && env != NULL && env[0] != '\0')
		path = env;
	if (path == NULL) {
		if (access(CONF_DEFAULT_PATH, F_OK) == -1 && errno == ENOENT)
			return derive(c, err);	/* built-in defaults */
		path = CONF_DEFAULT_PATH;
	}
	if (path[0] == '\0') {
		fed_err_set(err, "empty configuration file name");
		return -1;
	}
	if ((c->path = strdup(path)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		return -1;
	}
	if (fed_read_file(path, CONF_FILE_MAX, &buf, &len, err) == -1)
		return -1;
	rc = conf_parse(c, path, buf, len, err);
	free(buf);
	return rc == 0 ? derive(c, err) : rc;
}

int
conf_check_local_domains(const struct conf *c, struct fed_err *err)
{
	if (c->local_domains.n > 0)
		return 0;
	/* fedkit(7): fedgate tells a partner from us by our own domains. */
	fed_err_set(err, "%s: local_domains is not set: fedgate needs our own "
	    "SIP domains to tell partners from us", c->path != NULL ? c->path :
	    "no fed.conf (built-in defaults)");
	return -1;
}

int
conf_is_local(const struct conf *c, const char *domain)
{
	size_t i;

	for (i = 0; i < c->local_domains.n; i++)
		if (domain_match(c->local_domains.v[i], domain))
			return 1;
	return 0;
}

int
conf_method_allowed(const struct conf *c, struct fed_str method)
{
	size_t i;

	for (i = 0; i < c->methods.n; i++)
		if (fed_str_eq(method, c->methods.v[i]))
			return 1;
	return 0;
}

static char
lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

int
conf_ua_refused(const struct conf *c, struct fed_str ua)
{
	size_t i, j, k, n;

	for (i = 0; i < c->refuse_user_agents.n; i++) {
		const char *pat = c->refuse_user_agents.v[i];

		n = strlen(pat);
		if (n == 0 || n > ua.n)
			continue;
		for (j = 0; j + n <= ua.n; j++) {
			for (k = 0; k < n; k++)
				if (lower(ua.p[j + k]) != lower(pat[k]))
					break;
			if (k == n)
				return 1;
		}
	}
	return 0;
}
