/* fedq.c: find partner edges through DNS SRV and fill the edge cache. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ares.h>
#include <openssl/crypto.h>

#include "conf.h"
#include "dns.h"
#include "dnsorder.h"
#include "edges.h"
#include "fed.h"
#include "list.h"
#include "tlsprobe.h"

#define DEFAULT_SERVICE "_sipfederationtls._tcp"
#define DEFAULT_PARALLEL 64
#define DEFAULT_TIMEOUT_MS 2000
#define PROBE_TIMEOUT_MS 5000
#define LINE_MAX_IN 1023	/* 1022 bytes and the NUL */

static _Noreturn void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: fedq [-hV] [-c file] [-t service] [-s addr[:port]] [-P n] [-T ms]\n"
	    "            [-w file] [--sorted] [--json] [--rfc3263] [--probe] [--ca file]\n"
	    "            domain... | -\n"
	    "  -c file       configuration (default $FEDKIT_CONF, "
	    CONF_DEFAULT_PATH ")\n"
	    "  -t service    SRV service (default " DEFAULT_SERVICE ")\n"
	    "  -s addr[:port]  DNS server(s), comma-separated (default: the system's)\n"
	    "  -P n          start a domain only while fewer queries are in flight\n"
	    "                (default %d)\n"
	    "  -T ms         first timeout of a query; c-ares doubles it on each of 3 tries\n"
	    "                (default %d)\n"
	    "  -w file       merge the edges found into the edge cache file\n"
	    "  --sorted      stable order: priority, weight descending, target\n"
	    "  --json        one JSON object a line\n"
	    "  --rfc3263     NAPTR, then SRV, then A/AAAA on the default port\n"
	    "  --probe       open TLS to each target: chain, name, days left\n"
	    "  --ca file     trust these CAs for --probe (default tls_ca, else the system's)\n"
	    "  -h, --help    this help\n"
	    "  -V, --version the version, with c-ares's and OpenSSL's\n",
	    DEFAULT_PARALLEL, DEFAULT_TIMEOUT_MS);
	exit(code);
}

struct fedq {
	char **args;			/* domains on the command line */
	int nargs, iarg;
	int in_stdin;			/* reading `-` now */
	unsigned long lineno;
	int bad_input, failed, probe_failed;
	const char *service;
	int sorted, json, probe;
	const char *cache;
	struct tls_probe *tp;
	struct edge *edges;		/* for -w */
	size_t nedges, capedges;
	int64_t now_ms;
	int nomem;
};

/* Normalize one domain; 0, or -1 after saying why (`where` names it). */
static int
take_domain(struct fedq *q, const char *p, size_t n, const char *where,
    char *buf, size_t bufsz)
{
	struct fed_err e;

	if (domain_normalize(p, n, 0, buf, bufsz, &e) != 0) {
		fed_warnx("%s: %s", where, e.msg);
		return -1;
	}
	/* The SRV name is service.domain and must fit 253 octets. */
	if (strlen(q->service) + 1 + strlen(buf) > DOMAIN_MAX) {
		fed_warnx("%s: %s: too long with %s in front (253 octets at "
		    "most)", where, buf, q->service);
		return -1;
	}
	return 0;
}

/*
 * One line of stdin into line (without its newline): its length, or -1 at
 * the end.  A line that does not fit is read to its end and cut (*over),
 * and a NUL byte in it is noted (*nul), so neither can pass for a name.
 */
static long
read_line(char *line, size_t sz, int *over, int *nul)
{
	size_t n = 0;
	int c;

	*over = *nul = 0;
	while ((c = getc_unlocked(stdin)) != EOF && c != '\n') {
		if (c == '\0')
			*nul = 1;
		if (n + 1 < sz)
			line[n++] = (char)c;
		else
			*over = 1;
	}
	line[n] = '\0';
	if (c == EOF && n == 0 && !*over && !*nul)
		return -1;
	return (long)n;
}

/* Next domain on stdin: 1 with a domain, 0 at the end. */
static int
next_stdin(struct fedq *q, char *buf, size_t bufsz)
{
	char line[LINE_MAX_IN], where[64];
	int over, nul;
	long len;
	size_t n;
	char *p;

	while ((len = read_line(line, sizeof line, &over, &nul)) >= 0) {
		q->lineno++;
		snprintf(where, sizeof where, "stdin:%lu", q->lineno);
		if (over || nul) {
			fed_warnx("%s: %s", where, over ? "line longer than "
			    "1022 bytes" : "a NUL byte in the line");
			q->bad_input = 1;
			continue;
		}
		p = line;
		while (isspace((unsigned char)*p))
			p++;
		n = strlen(p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == 0 || *p == '#')
			continue;
		if (take_domain(q, p, n, where, buf, bufsz) != 0) {
			q->bad_input = 1;
			continue;
		}
		return 1;
	}
	if (ferror(stdin)) {
		fed_warn("stdin");
		q->bad_input = 1;
	}
	return 0;
}

static int
next_domain(void *arg, char *buf, size_t bufsz)
{
	struct fedq *q = arg;

	for (;;) {
		if (q->in_stdin) {
			if (next_stdin(q, buf, bufsz))
				return 1;
			q->in_stdin = 0;
		}
		if (q->iarg == q->nargs)
			return 0;
		if (strcmp(q->args[q->iarg], "-") == 0) {
			q->iarg++;
			q->in_stdin = 1;
			continue;
		}
		const char *a = q->args[q->iarg++];
		if (take_domain(q, a, strlen(a), a, buf, bufsz) == 0)
			return 1;
		q->bad_input = 1;
	}
}

static void
add_edge(struct fedq *q, const char *domain, const struct dns_target *t,
    const char *addrs)
{
	struct edge *e;

	if (q->nedges == q->capedges) {
		size_t cap = q->capedges ? q->capedges * 2 : 64;

		if ((e = realloc(q->edges, cap * sizeof *e)) == NULL) {
			q->nomem = 1;
			return;
		}
		q->edges = e;
		q->capedges = cap;
	}
	e = &q->edges[q->nedges];
	memset(e, 0, sizeof *e);
	/* gcc 12's analyzer loses stores at a variable index of a buffer
	 * grown on the same path and calls these leaked; main frees them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"	/* clang: no -Wanalyzer-* */
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
	e->domain = strdup(domain);
	e->target = strdup(t->name);
	e->addrs = addrs[0] != '\0' ? strdup(addrs) : NULL;
	e->port = t->port;
	e->expires_ms = q->now_ms + (int64_t)t->ttl * 1000;
	q->nedges++;
	if (e->domain == NULL || e->target == NULL ||
	    (addrs[0] != '\0' && e->addrs == NULL))
		q->nomem = 1;
#pragma GCC diagnostic pop
}

static void
print_target(struct fedq *q, const char *domain, const struct dns_target *t,
    const char *addrs, const struct tls_result *pr)
{
	size_t i;

	if (!q->json) {
		printf("%s\t%u\t%u\t%u\t%s\t%lu\t%s", domain, t->priority,
		    t->weight, t->port, t->name, (unsigned long)t->ttl,
		    addrs[0] != '\0' ? addrs : "-");
		if (pr != NULL && pr->connected)
			printf("\t%s\t%s\t%ld\t%s", pr->chain_ok ? "ok" : "fail",
			    pr->name_ok ? "ok" : "fail", pr->days,
			    pr->chain_ok ? "-" : pr->chain_why);
		else if (pr != NULL)
			printf("\t-\t-\t-\t%s", pr->error);
		putchar('\n');
		return;
	}
	/* Names passed domain_normalize (letters, digits, '-', '.'):
	 * nothing in them needs escaping in JSON. */
	printf("{\"domain\":\"%s\",\"priority\":%u,\"weight\":%u,\"port\":%u,"
	    "\"target\":\"%s\",\"ttl\":%lu,\"addresses\":[", domain,
	    t->priority, t->weight, t->port, t->name, (unsigned long)t->ttl);
	for (i = 0; i < t->naddr; i++) {
		char a[64];

		dns_addr_str(&t->addr[i], a, sizeof a);
		printf("%s\"%s\"", i ? "," : "", a);
	}
	putchar(']');
	if (pr != NULL) {
		const char *s = pr->connected ? (pr->chain_ok ? "" :
		    pr->chain_why) : pr->error;

		printf(",\"connected\":%s", pr->connected ? "true" : "false");
		if (pr->connected)
			printf(",\"chain_ok\":%s,\"name_ok\":%s,\"days\":%ld",
			    pr->chain_ok ? "true" : "false",
			    pr->name_ok ? "true" : "false", pr->days);
		/* OpenSSL's and strerror's words: plain ASCII, but quote
		 * the two characters JSON cares about. */
		fputs(",\"error\":\"", stdout);
		for (; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				putchar('\\');
			if ((unsigned char)*s >= 0x20)
				putchar(*s);
		}
		putchar('"');
	}
	fputs("}\n", stdout);
}

/*
 * Keep the targets the edge cache can hold: a name that is not a domain
 * by domain_normalize (an '_' or '*' in it, a label that starts or ends
 * with '-' ...) is said and dropped, so it is neither printed, probed nor
 * cached.  The number of targets left.
 */
static size_t
usable_targets(const char *domain, struct dns_target *t, size_t n)
{
	char name[DOMAIN_MAX + 2];
	struct fed_err e;
	size_t i, k;

	for (i = 0, k = 0; i < n; i++) {
		if (domain_normalize(t[i].name, strlen(t[i].name), 0, name,
		    sizeof name, &e) != 0) {
			/* name_decode let only [a-z0-9*_.-] through: safe
			 * to print as it is. */
			fed_warnx("%s: target skipped: %s", domain, e.msg);
			continue;
		}
		if (k != i)
			memcpy(&t[k], &t[i], sizeof t[k]);
		memcpy(t[k].name, name, strlen(name) + 1);
		k++;
	}
	return k;
}

/* How the target's A lookup failed, else its AAAA lookup, else DNS_OK. */
static enum dns_status
addr_failure(const struct dns_target *t)
{
	return t->a_fail != DNS_OK ? t->a_fail : t->aaaa_fail;
}

static void
done_domain(void *arg, const struct dns_result *r)
{
	struct fedq *q = arg;
	struct dns_target *t = r->t;
	char addrs[DNS_MAX_ADDRS * 48], a[64];
	struct tls_result pr;
	size_t i, k, o, nt;
	int addr_failed = 0;

	if (r->status != DNS_OK) {
		fed_warnx("%s: %s", r->domain, r->why);
		q->failed = 1;
		return;
	}
	if ((nt = usable_targets(r->domain, t, r->nt)) == 0) {
		fed_warnx("%s: no usable target (every one was skipped)",
		    r->domain);
		q->failed = 1;
		return;
	}
	/* A failed address lookup (a timeout, SERVFAIL ...) that leaves a
	 * target without any address fails the domain, which with -w keeps
	 * the lines the cache had rather than get a line with none.  (A
	 * family whose lookup failed brought no address, so both failing
	 * is one case of this.) */
	for (i = 0; i < nt; i++)
		if (addr_failure(&t[i]) != DNS_OK && t[i].naddr == 0) {
			fed_warnx("%s: %s: addresses: %s", r->domain,
			    t[i].name, dns_status_str(addr_failure(&t[i])));
			addr_failed = 1;
		}
	if (addr_failed) {
		q->failed = 1;
		return;
	}
	/* One family failed and the other gave addresses: the target is
	 * kept with those, said but not a failure (fedq(1) EXIT STATUS).  A
	 * partner whose DNS refuses AAAA queries, as a dnsmasq without an
	 * upstream does, must not become unreachable over IPv4. */
	for (i = 0; i < nt; i++)
		if (addr_failure(&t[i]) != DNS_OK)
			fed_warnx("%s: %s: %s: %s; kept with its %s addresses",
			    r->domain, t[i].name, t[i].a_fail != DNS_OK ?
			    "A" : "AAAA", dns_status_str(addr_failure(&t[i])),
			    t[i].a_fail != DNS_OK ? "AAAA" : "A");
	dns_order(t, nt, q->sorted);
	for (i = 0; i < nt; i++) {
		/* 16 addresses of at most 46 bytes and a comma fit. */
		for (k = 0, o = 0; k < t[i].naddr; k++) {
			size_t an;

			dns_addr_str(&t[i].addr[k], a, sizeof a);
			an = strlen(a);
			if (k > 0)
				addrs[o++] = ',';
			memcpy(addrs + o, a, an);
			o += an;
		}
		addrs[o] = '\0';
		if (q->probe) {
			tls_probe_run(q->tp, t[i].name, t[i].port, t[i].addr,
			    t[i].naddr, PROBE_TIMEOUT_MS, &pr);
			if (!pr.connected || !pr.chain_ok || !pr.name_ok ||
			    pr.days < 0)
				q->probe_failed = 1;
		}
		print_target(q, r->domain, &t[i], addrs,
		    q->probe ? &pr : NULL);
		if (q->cache != NULL)
			add_edge(q, r->domain, &t[i], addrs);
	}
	if (q->probe)
		fflush(stdout);
}

/* A bad line of the old cache, dropped as the cache is rewritten. */
static void
cache_warn(void *arg, const char *msg)
{
	(void)arg;
	fed_warnx("%s (dropped)", msg);
}

/* A service name: `_name._proto`, labels of letters, digits, '-', '_'. */
static int
valid_service(const char *s)
{
	size_t n = strlen(s), i, dots = 0;

	if (n < 4 || n > 63 || s[0] != '_' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] != '_')
				return 0;
			dots++;
		} else if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return 0;
	}
	return dots == 1;
}

static unsigned long
number(const char *opt, const char *s, unsigned long lo, unsigned long hi)
{
	uint64_t v;

	if (fed_parse_u64(s, strlen(s), hi, &v) != 0 || v < lo)
		fed_errx(FED_EXIT_USAGE, "%s %s: a number from %lu to %lu",
		    opt, s, lo, hi);
	return (unsigned long)v;
}

/* Look the domains up, print them, fill the cache: the exit code. */
static int
lookup(struct fedq *q, const struct dns_opts *o)
{
	struct fed_err err;
	int rc;

	q->now_ms = fed_now_ms();
	if ((rc = dns_run(o, next_domain, done_domain, q, &err)) != 0) {
		fed_warnx("%s", err.msg);
		rc = rc == -2 ? FED_EXIT_USAGE : FED_EXIT_SYS;
	}
	if (q->nomem) {
		fed_warnx("out of memory");
		rc = FED_EXIT_SYS;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fed_warn("stdout");
		rc = FED_EXIT_SYS;
	}
	/* The cache gets what was found even when some domains failed:
	 * a failed domain keeps its old lines until they expire. */
	if (rc == FED_EXIT_OK && q->cache != NULL &&
	    edges_merge(q->cache, q->edges, q->nedges, fed_now_ms(), cache_warn,
	    NULL, &err) != 0) {
		fed_warnx("%s", err.msg);
		rc = FED_EXIT_SYS;
	}
	if (rc == FED_EXIT_OK && q->bad_input)
		rc = FED_EXIT_USAGE;
	else if (rc == FED_EXIT_OK && (q->failed || q->probe_failed))
		rc = FED_EXIT_NO;
	return rc;
}

static void
fedq_free(struct fedq *q)
{
	edge_array_free(q->edges, q->nedges);
	tls_probe_free(q->tp);
}

static int
version(void)
{
	printf("fedq %s\n", FEDKIT_VERSION);
	printf("c-ares %s, %s\n", ares_version(NULL),
	    OpenSSL_version(OPENSSL_VERSION));
	return FED_EXIT_OK;
}

enum { OPT_SORTED = 256, OPT_JSON, OPT_RFC3263, OPT_PROBE, OPT_CA };

static const struct option longopts[] = {
	{ "sorted", no_argument, NULL, OPT_SORTED },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "rfc3263", no_argument, NULL, OPT_RFC3263 },
	{ "probe", no_argument, NULL, OPT_PROBE },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char *argv[])
{
	struct dns_opts o = {
		.service = DEFAULT_SERVICE,
		.rfc3263 = 0,
		.parallel = DEFAULT_PARALLEL,
		.servers = NULL,
		.timeout_ms = DEFAULT_TIMEOUT_MS,
		.tries = 3,
	};
	const char *conf_path = NULL, *ca = NULL;
	struct fedq q;
	struct fed_err err;
	struct conf c;
	int ch, rc;

	fed_progname = "fedq";
	/* A reader that goes away (fedq ... | head), or a TLS peer that
	 * closes under --probe, is an error to report, not a signal. */
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&q, 0, sizeof q);
	while ((ch = getopt_long(argc, argv, "c:hP:s:t:T:Vw:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; break;
		case 't': o.service = optarg; break;
		case 's': o.servers = optarg; break;
		case 'P':
			o.parallel = (unsigned)number("-P", optarg, 1, 10000);
			break;
		case 'T':
			o.timeout_ms = (int)number("-T", optarg, 10, 60000);
			break;
		case 'w': q.cache = optarg; break;
		case OPT_SORTED: q.sorted = 1; break;
		case OPT_JSON: q.json = 1; break;
		case OPT_RFC3263: o.rfc3263 = 1; break;
		case OPT_PROBE: q.probe = 1; break;
		case OPT_CA: ca = optarg; break;
		case 'V': return version();
		case 'h': usage(FED_EXIT_OK);
		default: usage(FED_EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage(FED_EXIT_USAGE);
	if (!valid_service(o.service))
		fed_errx(FED_EXIT_USAGE, "-t %s: a service is `_name._proto`, "
		    "as _sipfederationtls._tcp or _sip._udp", o.service);
	if (ca != NULL && !q.probe)
		fed_errx(FED_EXIT_USAGE, "--ca is for --probe");
	if (o.servers != NULL && o.servers[0] == '\0')
		fed_errx(FED_EXIT_USAGE, "-s: an address is needed");

	if (conf_load(&c, conf_path, &err) != 0) {
		conf_free(&c);
		fed_errx(FED_EXIT_USAGE, "%s", err.msg);
	}
	if (q.probe && tls_probe_new(&q.tp, ca != NULL ? ca : c.tls_ca,
	    &err) != 0) {
		conf_free(&c);
		fed_errx(FED_EXIT_USAGE, "%s", err.msg);
	}
	q.args = argv;
	q.nargs = argc;
	q.service = o.service;
	rc = lookup(&q, &o);
	fedq_free(&q);
	conf_free(&c);
	return rc;
}
