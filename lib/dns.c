/* dns.c: SRV, NAPTR and address lookups for many domains on one c-ares channel. */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>

#include "dns.h"
#include "dnsudp.h"

unsigned
dns_default_port(const char *service)
{
	if (strncmp(service, "_sips.", 6) == 0 ||
	    strstr(service, "._tls") != NULL || strstr(service, "tls.") != NULL)
		return 5061;
	return 5060;
}

const char *
dns_status_str(enum dns_status s)
{
	switch (s) {
	case DNS_OK: return "ok";
	case DNS_NXDOMAIN: return "no such domain";
	case DNS_NORECORD: return "no record";
	case DNS_SERVFAIL: return "server failure (SERVFAIL)";
	case DNS_REFUSED: return "query refused (REFUSED)";
	case DNS_TIMEOUT: return "timeout";
	case DNS_ERROR: return "error";
	}
	return "error";
}

/*
 * A job is one domain on its way through the stages (RFC 3263 with
 * --rfc3263, else SRV alone); a query is one question of a job in
 * flight.  Answers are decoded by dnswire.c; the queries leave and the
 * answers come in through dnsudp.c.
 */
enum stage { ST_NAPTR, ST_SRV, ST_FALLBACK, ST_EXIST, ST_ADDR };

struct naptr_use {
	uint16_t order, preference;
	unsigned port;
	char service[24];
	char name[DNS_NAME_MAX];
};

struct job {
	struct run *run;
	struct job *next;		/* on the done list */
	char domain[DNS_NAME_MAX];
	enum stage stage;
	int pending;
	int from_naptr;
	enum dns_status status;
	char why[DNS_NAME_MAX + 64];
	struct naptr_use *nap;		/* --rfc3263 only: kept small else */
	size_t nnap, inap;
	struct dns_target *t;		/* as many as the SRV answer holds */
	size_t nt;
};

struct query {
	struct job *job;
	int type;
	size_t idx;			/* target, for address queries */
	int depth;			/* CNAMEs re-asked so far */
	char name[DNS_NAME_MAX];
};

struct run {
	const struct dns_opts *o;
	ares_channel ch;
	struct pollfd *fds;
	size_t nfds, capfds;
	size_t inflight;		/* queries */
	size_t active;			/* jobs */
	struct job *done, **done_tail;
	struct dnsudp *udp;		/* batched UDP sends and reads */
	struct dns_answer *ans;		/* reused: an answer is big */
	int ans_busy;
	int nomem;
};

static void
sock_state(void *arg, ares_socket_t fd, int readable, int writable)
{
	struct run *r = arg;
	struct pollfd *p;
	size_t i;

	for (i = 0; i < r->nfds; i++)
		if (r->fds[i].fd == fd)
			break;
	if (!readable && !writable) {
		if (i < r->nfds)
			r->fds[i] = r->fds[--r->nfds];
		return;
	}
	if (i == r->nfds) {
		if (r->nfds == r->capfds) {
			size_t cap = r->capfds ? r->capfds * 2 : 8;

			if ((p = realloc(r->fds, cap * sizeof *p)) == NULL) {
				r->nomem = 1;
				return;
			}
			r->fds = p;
			r->capfds = cap;
		}
		r->fds[r->nfds++].fd = fd;
	}
	r->fds[i].events = (short)((readable ? POLLIN : 0) |
	    (writable ? POLLOUT : 0));
}

static enum dns_status
map_status(int st)
{
	switch (st) {
	case ARES_SUCCESS: return DNS_OK;
	case ARES_ENODATA: return DNS_NORECORD;
	case ARES_ENOTFOUND: return DNS_NXDOMAIN;
	case ARES_ESERVFAIL: return DNS_SERVFAIL;
	case ARES_EREFUSED: return DNS_REFUSED;
	case ARES_ETIMEOUT: return DNS_TIMEOUT;
	default: return DNS_ERROR;
	}
}

static void job_fail(struct job *, enum dns_status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
job_fail(struct job *j, enum dns_status st, const char *fmt, ...)
{
	va_list ap;

	if (j->status != DNS_OK)
		return;		/* the first failure is the one told */
	j->status = st;
	va_start(ap, fmt);
	vsnprintf(j->why, sizeof j->why, fmt, ap);
	va_end(ap);
}

static void query_cb(void *, int, int, unsigned char *, int);

static void
job_free(struct job *j)
{
	free(j->t);
	free(j->nap);
	free(j);
}

/* One reason to wait fewer: at none, the job is done. */
static void
release(struct job *j)
{
	struct run *r = j->run;

	if (--j->pending > 0)
		return;
	j->next = NULL;
	*r->done_tail = j;
	r->done_tail = &j->next;
}

static int
ask(struct job *j, const char *name, int type, size_t idx, int depth)
{
	struct query *q;
	size_t n;

	if ((q = malloc(sizeof *q)) == NULL) {
		j->run->nomem = 1;
		job_fail(j, DNS_ERROR, "out of memory");
		return -1;
	}
	q->job = j;
	q->type = type;
	q->idx = idx;
	q->depth = depth;
	n = strlen(name);
	if (n >= sizeof q->name)
		n = sizeof q->name - 1;
	memcpy(q->name, name, n);
	q->name[n] = '\0';
	j->pending++;
	j->run->inflight++;
	ares_query(j->run->ch, q->name, 1 /* C_IN */, type, query_cb, q);
	return 0;
}

/* service.domain: both checked by the caller to fit together. */
static void
srv_name(char *out, const char *service, const char *domain)
{
	size_t a = strlen(service), b = strlen(domain);

	if (a + 1 + b >= DNS_NAME_MAX)
		b = DNS_NAME_MAX - 2 - a;
	memcpy(out, service, a);
	out[a] = '.';
	memcpy(out + a + 1, domain, b);
	out[a + 1 + b] = '\0';
}

static void
ask_srv(struct job *j, const char *name)
{
	j->stage = ST_SRV;
	ask(j, name, DNS_T_SRV, 0, 0);
}

/* Is the status one to report at once (the server failed us)? */
static int
hard_failure(enum dns_status s)
{
	return s != DNS_OK && s != DNS_NORECORD && s != DNS_NXDOMAIN;
}

static void
fail_hard(struct job *j, enum dns_status s, int ares_st, const char *name)
{
	if (s == DNS_ERROR)
		job_fail(j, s, "%s: %s", name, ares_strerror(ares_st));
	else
		job_fail(j, s, "%s", dns_status_str(s));
}

static int
cmp_naptr(const void *pa, const void *pb)
{
	const struct naptr_use *a = pa, *b = pb;

	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	return (a->preference > b->preference) - (a->preference < b->preference);
}

static void
on_naptr(struct job *j, const struct dns_answer *a)
{
	static const struct { const char *svc, *srv; unsigned port; } known[] = {
		{ "SIPS+D2T", "_sips._tcp", 5061 },
		{ "SIP+D2T", "_sip._tcp", 5060 },
		{ "SIP+D2U", "_sip._udp", 5060 },
	};
	size_t i, k;

	/* gcc 12's analyzer, entering query_cb with a query it knows
	 * nothing of, may drop this store into the query's job and call the
	 * list leaked; job_free frees it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"	/* clang: no -Wanalyzer-* */
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
	if (a->n > 0 && j->nap == NULL &&
	    (j->nap = calloc(DNS_MAX_NAPTR, sizeof *j->nap)) == NULL) {
		j->run->nomem = 1;
		job_fail(j, DNS_ERROR, "out of memory");
		return;
	}
#pragma GCC diagnostic pop
	for (i = 0; i < a->n && j->nnap < DNS_MAX_NAPTR; i++) {
		const struct dns_rr *r = &a->rr[i];

		if (strcasecmp(r->u.naptr.flags, "s") != 0 ||
		    r->u.naptr.replacement[0] == '\0')
			continue;
		for (k = 0; k < sizeof known / sizeof known[0]; k++)
			if (strcasecmp(r->u.naptr.service, known[k].svc) == 0)
				break;
		if (k == sizeof known / sizeof known[0])
			continue;
		j->nap[j->nnap].order = r->u.naptr.order;
		j->nap[j->nnap].preference = r->u.naptr.preference;
		j->nap[j->nnap].port = known[k].port;
		snprintf(j->nap[j->nnap].service, sizeof j->nap[0].service,
		    "%s", known[k].srv);
		memcpy(j->nap[j->nnap].name, r->u.naptr.replacement,
		    DNS_NAME_MAX);
		j->nnap++;
	}
	qsort(j->nap, j->nnap, sizeof j->nap[0], cmp_naptr);
}

static void
start_addrs(struct job *j)
{
	size_t i;

	j->stage = ST_ADDR;
	for (i = 0; i < j->nt; i++) {
		ask(j, j->t[i].name, DNS_T_A, i, 0);
		ask(j, j->t[i].name, DNS_T_AAAA, i, 0);
	}
}

static int
cmp_srv_rr(const void *pa, const void *pb)
{
	const struct dns_rr *a = pa, *b = pb;

	if (a->u.srv.priority != b->u.srv.priority)
		return a->u.srv.priority < b->u.srv.priority ? -1 : 1;
	return (a->u.srv.weight < b->u.srv.weight) -
	    (a->u.srv.weight > b->u.srv.weight);
}

/* The SRV answer: every target but "." (RFC 2782: no service here). */
static int
on_srv(struct job *j, struct dns_answer *a)
{
	size_t i, cap = a->n;

	/* More than we keep: keep the ones a client would try first. */
	if (cap > DNS_MAX_TARGETS) {
		qsort(a->rr, a->n, sizeof a->rr[0], cmp_srv_rr);
		cap = DNS_MAX_TARGETS;
	}
	free(j->t);
	j->nt = 0;
	if (cap == 0 || (j->t = malloc(cap * sizeof *j->t)) == NULL) {
		j->t = NULL;
		if (cap > 0) {
			j->run->nomem = 1;
			job_fail(j, DNS_ERROR, "out of memory");
		}
		return -1;
	}
	for (i = 0; i < a->n && j->nt < cap; i++) {
		const struct dns_rr *r = &a->rr[i];
		struct dns_target *t = &j->t[j->nt];

		if (r->u.srv.target[0] == '\0' || r->u.srv.port == 0)
			continue;
		memset(t, 0, sizeof *t);
		t->priority = r->u.srv.priority;
		t->weight = r->u.srv.weight;
		t->port = r->u.srv.port;
		t->ttl = r->ttl < a->cname_ttl ? r->ttl : a->cname_ttl;
		t->addr_status = DNS_NORECORD;
		memcpy(t->name, r->u.srv.target, sizeof t->name);
		j->nt++;
	}
	return j->nt > 0 ? 0 : -1;
}

static void
no_srv(struct job *j)
{
	const struct dns_opts *o = j->run->o;

	if (j->from_naptr && ++j->inap < j->nnap) {
		ask_srv(j, j->nap[j->inap].name);
		return;
	}
	if (o->rfc3263) {
		/* RFC 3263 4.2: no SRV, so the domain's own addresses on
		 * the transport's default port. */
		struct dns_target *t;

		free(j->t);
		if ((j->t = t = calloc(1, sizeof *t)) == NULL) {
			j->nt = 0;
			j->run->nomem = 1;
			job_fail(j, DNS_ERROR, "out of memory");
			return;
		}
		memcpy(t->name, j->domain, sizeof t->name);
		t->port = dns_default_port(j->from_naptr ?
		    j->nap[0].service : o->service);
		if (j->from_naptr)
			t->port = j->nap[0].port;
		t->ttl = UINT32_MAX;
		t->addr_status = DNS_NORECORD;
		j->nt = 1;
		j->stage = ST_FALLBACK;
		ask(j, j->domain, DNS_T_A, 0, 0);
		ask(j, j->domain, DNS_T_AAAA, 0, 0);
		return;
	}
	/* Tell "no such domain" from "no such record": ask for the domain. */
	j->stage = ST_EXIST;
	ask(j, j->domain, DNS_T_SOA, 0, 0);
}

static void
on_addr(struct job *j, struct query *q, enum dns_status s,
    const struct dns_answer *a)
{
	struct dns_target *t = &j->t[q->idx];
	size_t i;

	if (s == DNS_OK && a->n == 0 && a->name[0] != '\0' &&
	    !dns_name_eq(a->name, q->name) && q->depth < 8) {
		/* A CNAME out of the server's data: ask for its end. */
		if (a->cname_ttl < t->ttl)
			t->ttl = a->cname_ttl;
		ask(j, a->name, q->type, q->idx, q->depth + 1);
		return;
	}
	if (s == DNS_OK) {
		if (a->n > 0)
			t->addr_status = DNS_OK;
		for (i = 0; i < a->n; i++) {
			const struct dns_rr *r = &a->rr[i];
			uint32_t ttl = r->ttl < a->cname_ttl ? r->ttl :
			    a->cname_ttl;

			if (t->naddr < DNS_MAX_ADDRS)
				t->addr[t->naddr++] = r->u.addr;
			if (ttl < t->ttl)
				t->ttl = ttl;
		}
	} else if (t->addr_status != DNS_OK && (s > t->addr_status))
		t->addr_status = s;
	/* A lookup that failed (not "no such record"): that family's
	 * addresses are unknown, whatever the other family answered.  The
	 * first failure of each family is kept (a CNAME's end may fail too). */
	if (hard_failure(s)) {
		enum dns_status *fail = q->type == DNS_T_A ? &t->a_fail :
		    &t->aaaa_fail;

		if (*fail == DNS_OK)
			*fail = s;
	}
}

/* The NAPTR query is done: its SIP services, else the configured one. */
static void
naptr_done(struct job *j, const struct query *q, enum dns_status s,
    int ares_st, const struct dns_answer *a)
{
	if (s == DNS_OK)
		on_naptr(j, a);
	if (j->status != DNS_OK) {
		;	/* out of memory, said */
	} else if (s == DNS_NXDOMAIN) {
		job_fail(j, s, "no such domain");
	} else if (hard_failure(s)) {
		fail_hard(j, s, ares_st, q->name);
	} else if (j->nnap > 0) {
		j->from_naptr = 1;
		ask_srv(j, j->nap[0].name);
	} else {
		char name[DNS_NAME_MAX];

		srv_name(name, j->run->o->service, j->domain);
		ask_srv(j, name);
	}
}

/* The SRV query is done: the targets' addresses, or what else to ask. */
static void
srv_done(struct job *j, const struct query *q, enum dns_status s,
    int ares_st, struct dns_answer *a)
{
	if (hard_failure(s))
		fail_hard(j, s, ares_st, q->name);
	else if (s == DNS_OK && on_srv(j, a) == 0)
		start_addrs(j);
	else
		no_srv(j);
}

/* The SOA query is done: no such domain, or no such record. */
static void
soa_done(struct job *j, const struct query *q, enum dns_status s,
    int ares_st)
{
	if (s == DNS_NXDOMAIN)
		job_fail(j, s, "no such domain");
	else if (hard_failure(s))
		fail_hard(j, s, ares_st, q->name);
	else
		job_fail(j, DNS_NORECORD, "no %s record", j->run->o->service);
}

/* An A or AAAA query is done; the last of a fallback with no address
 * at all fails the domain. */
static void
addr_done(struct job *j, struct query *q, enum dns_status s,
    const struct dns_answer *a)
{
	enum dns_status fs;

	on_addr(j, q, s, a);
	/* 1: this query, the last one. */
	if (j->pending != 1 || j->stage != ST_FALLBACK || j->t[0].naddr != 0)
		return;
	fs = j->t[0].addr_status;
	if (fs == DNS_NXDOMAIN)
		job_fail(j, fs, "no such domain");
	else if (fs == DNS_NORECORD)
		job_fail(j, fs, "no NAPTR, SRV or address record");
	else
		job_fail(j, fs, "%s", dns_status_str(fs));
}

/* A callback can nest (c-ares may fail a new query at once), so the
 * shared answer buffer is lent out once at a time; NULL: out of memory. */
static struct dns_answer *
answer_lend(struct run *r)
{
	if (!r->ans_busy && r->ans != NULL) {
		r->ans_busy = 1;
		return r->ans;
	}
	return malloc(sizeof *r->ans);
}

static void
answer_return(struct run *r, struct dns_answer *a)
{
	if (a == r->ans)
		r->ans_busy = 0;
	else
		free(a);
}

static void
query_cb(void *arg, int st, int timeouts, unsigned char *buf, int len)
{
	struct query *q = arg;
	struct job *j = q->job;
	struct run *r = j->run;
	enum dns_status s = map_status(st);
	struct dns_answer *a = NULL;

	(void)timeouts;
	r->inflight--;
	if (st == ARES_EDESTRUCTION) {
		/* The channel is going away after an error: nobody will
		 * report this job. */
		free(q);
		if (--j->pending == 0)
			job_free(j);
		return;
	}
	if (s == DNS_OK) {
		if ((a = answer_lend(r)) == NULL) {
			r->nomem = 1;
			job_fail(j, DNS_ERROR, "out of memory");
			goto out;
		}
		if (dns_parse(buf, (size_t)len, q->name, q->type, a) != 0) {
			job_fail(j, DNS_ERROR, "%s: malformed answer", q->name);
			goto out;
		}
	}
	switch (q->type) {
	case DNS_T_NAPTR:
		naptr_done(j, q, s, st, a);
		break;
	case DNS_T_SRV:
		srv_done(j, q, s, st, a);
		break;
	case DNS_T_SOA:
		soa_done(j, q, s, st);
		break;
	case DNS_T_A:
	case DNS_T_AAAA:
		addr_done(j, q, s, a);
		break;
	}
out:
	answer_return(r, a);
	free(q);
	/* This query counted until now, so a query that c-ares answers at
	 * once from inside ask() cannot finish the job under our feet. */
	release(j);
}

static int
start_job(struct run *r, const char *domain)
{
	struct job *j;
	char name[DNS_NAME_MAX];
	size_t n = strlen(domain);
	int fits = n < sizeof j->domain && strlen(r->o->service) + 1 + n <
	    DNS_NAME_MAX;

	if ((j = calloc(1, sizeof *j)) == NULL)
		return -1;
	j->run = r;
	memcpy(j->domain, domain, fits ? n : 0);
	j->status = DNS_OK;
	j->pending = 1;		/* held while the first query starts */
	r->active++;
	if (!fits) {
		job_fail(j, DNS_ERROR, "name too long");
	} else if (r->o->rfc3263) {
		j->stage = ST_NAPTR;
		ask(j, domain, DNS_T_NAPTR, 0, 0);
	} else {
		srv_name(name, r->o->service, j->domain);
		ask_srv(j, name);
	}
	release(j);
	return 0;
}

/* IPv4 before IPv6, then by value: the same order whichever answer
 * arrived first. */
static int
cmp_addr(const void *pa, const void *pb)
{
	const struct dns_addr *a = pa, *b = pb;

	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	return memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16);
}

static void
finish_done(struct run *r, dns_done_fn done, void *arg)
{
	struct dns_result res;
	struct job *j;
	size_t i;

	while ((j = r->done) != NULL) {
		r->done = j->next;
		if (r->done == NULL)
			r->done_tail = &r->done;
		for (i = 0; j->status == DNS_OK && i < j->nt; i++)
			qsort(j->t[i].addr, j->t[i].naddr, sizeof j->t[i].addr[0],
			    cmp_addr);
		res.domain = j->domain;
		res.status = j->status;
		memcpy(res.why, j->why, sizeof res.why);
		res.t = j->status == DNS_OK ? j->t : NULL;
		res.nt = j->status == DNS_OK ? j->nt : 0;
		done(arg, &res);
		r->active--;
		job_free(j);
	}
}

/* What c-ares is told: the caller's timeout and tries, our poll set. */
static void
channel_options(struct run *r, struct ares_options *ao, int *optmask)
{
	memset(ao, 0, sizeof *ao);
	ao->sock_state_cb = sock_state;
	ao->sock_state_cb_data = r;
	ao->timeout = r->o->timeout_ms;
	ao->tries = r->o->tries;
	/*
	 * STAYOPEN: keep the one UDP socket between bursts.  NOCHECKRESP:
	 * hand SERVFAIL and REFUSED answers to us as such; without it
	 * c-ares retries them as dead servers and ends with "could not
	 * contact DNS servers", which tells the operator less.
	 */
	ao->flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH | ARES_FLAG_STAYOPEN |
	    ARES_FLAG_NOCHECKRESP;
	ao->ednspsz = 1232;	/* the DNS flag day size: no fragments */
	/* The socket buffers are set in dnsudp.c. */
	*optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ;
}

static void run_close(struct run *);

/*
 * The channel and what the loop keeps beside it.  0, -1, or -2 when
 * o->servers is not a list of addresses; on an error, nothing is left
 * to close.
 */
static int
run_open(struct run *r, const struct dns_opts *o, struct fed_err *err)
{
	struct ares_options ao;
	int st, optmask;

	memset(r, 0, sizeof *r);
	r->o = o;
	r->done_tail = &r->done;
	if ((r->ans = malloc(sizeof *r->ans)) == NULL ||
	    (r->udp = dnsudp_new()) == NULL) {
		free(r->ans);
		fed_err_set(err, "%s", strerror(ENOMEM));
		return -1;
	}
	if ((st = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		fed_err_set(err, "c-ares: %s", ares_strerror(st));
		free(r->ans);
		dnsudp_free(r->udp);
		return -1;
	}
	channel_options(r, &ao, &optmask);
	if ((st = ares_init_options(&r->ch, &ao, optmask)) != ARES_SUCCESS) {
		fed_err_set(err, "c-ares: %s", ares_strerror(st));
		ares_library_cleanup();
		free(r->ans);
		dnsudp_free(r->udp);
		return -1;
	}
	dnsudp_attach(r->udp, r->ch);
	if (o->servers != NULL && (st = ares_set_servers_ports_csv(r->ch,
	    o->servers)) != ARES_SUCCESS) {
		fed_err_set(err, "-s %s: %s", o->servers, ares_strerror(st));
		run_close(r);
		return -2;
	}
	return 0;
}

static void
run_close(struct run *r)
{
	struct job *j;

	ares_destroy(r->ch);	/* EDESTRUCTION for any query left */
	/* Jobs cut short by an error are on the done list or pending;
	 * a pending one's queries were just destroyed. */
	while ((j = r->done) != NULL) {
		r->done = j->next;
		job_free(j);
	}
	free(r->fds);
	free(r->ans);
	dnsudp_free(r->udp);
	ares_library_cleanup();
}

/* How long poll may wait: until c-ares's next timeout, else a second. */
static int
run_deadline_ms(struct run *r)
{
	struct timeval tvbuf, *tv;

	tv = ares_timeout(r->ch, NULL, &tvbuf);
	return tv == NULL ? 1000 : (int)(tv->tv_sec * 1000 +
	    (tv->tv_usec + 999) / 1000);
}

/* Hand c-ares the sockets poll found ready; with none, its timeouts. */
static void
run_dispatch(struct run *r, const struct pollfd *ready, size_t nready)
{
	size_t i;

	for (i = 0; i < nready; i++)
		ares_process_fd(r->ch, (ready[i].revents &
		    (POLLIN | POLLERR | POLLHUP)) ? ready[i].fd :
		    ARES_SOCKET_BAD, (ready[i].revents & POLLOUT) ?
		    ready[i].fd : ARES_SOCKET_BAD);
	/* Timeouts are handled by a call with no socket. */
	if (nready == 0)
		ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

/* Wait for an answer or the next timeout, and let c-ares see to it. */
static int
run_wait(struct run *r, struct fed_err *err)
{
	struct pollfd ready[64];
	size_t i, nready = 0;
	int n;

	n = poll(r->fds, (nfds_t)r->nfds, run_deadline_ms(r));
	if (n < 0 && errno != EINTR) {
		fed_err_set(err, "poll: %s", strerror(errno));
		return -1;
	}
	/* c-ares changes r->fds from inside ares_process_fd: work from a
	 * copy of what poll found. */
	for (i = 0; n > 0 && i < r->nfds && nready < 64; i++)
		if (r->fds[i].revents != 0)
			ready[nready++] = r->fds[i];
	run_dispatch(r, ready, nready);
	return 0;
}

int
dns_run(const struct dns_opts *o, dns_next_fn next, dns_done_fn done,
    void *arg, struct fed_err *err)
{
	struct run r;
	char domain[DNS_NAME_MAX];
	int eof = 0, rc;

	if ((rc = run_open(&r, o, err)) != 0)
		return rc;
	rc = -1;
	for (;;) {
		/* Room for more: read input only as lookups need it. */
		while (!eof && r.inflight < o->parallel && !r.nomem) {
			if (next(arg, domain, sizeof domain) == 0) {
				eof = 1;
				break;
			}
			if (start_job(&r, domain) != 0)
				r.nomem = 1;
		}
		/* Queries leave before the front end may take its time over
		 * a result (--probe): their timeouts run from now. */
		dnsudp_flush(r.udp);
		finish_done(&r, done, arg);
		if (r.nomem) {
			fed_err_set(err, "%s", strerror(ENOMEM));
			break;
		}
		if (r.active == 0 && eof) {
			rc = 0;
			break;
		}
		if (r.active == 0)
			continue;
		dnsudp_flush(r.udp);
		if (run_wait(&r, err) != 0)
			break;
	}
	run_close(&r);
	return rc;
}
