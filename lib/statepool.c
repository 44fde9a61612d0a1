/* statepool.c: the partner state of an edge pool, in Redis, through hiredis. */
#include <sys/random.h>
#include <sys/time.h>

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"
#include "statepool.h"
#include "vlog.h"

/* The script, lib/pool.lua, made a C string at build time. */
static const char pool_script[] =
#include "pool_lua.h"
;

/* Every key under one hash tag: one node of a cluster holds them all, as
 * one script must see them. */
#define PREFIX "{fedkit}:"
#define HASHKEY_KEY PREFIX "hashkey"
#define POOL_RESP_SLOTS (2 * POOL_RESPONSES_MAX)

struct pool_resp {
	char domain[DOMAIN_MAX + 1];
	int64_t ms;
	unsigned ok, fail;
};

#define REQ_ARGS 10
struct pool_q {
	char now[24], uh[17], flags[3][2], max_uris[12], rate[12];
	char domain[DOMAIN_MAX + 1];
	char peer[VLOG_PEER_MAX + 1], peer_key[VLOG_PEER_MAX + 1];
	/* the answer, once asked */
	long long ans[8];
};

struct pool {
	struct state_params sp;
	char *addr, *password;
	int dry_run;
	redisContext *rc;
	char sha[41];
	uint64_t hashkey[2];
	/* down: since when, why, when to try again */
	int down;
	int64_t retry_ms, backoff_ms;
	char why[200];
	char news[400];
	int has_news;
	/* response counts waiting for the next tick */
	struct pool_resp *resp;
	unsigned nresp;
	uint16_t resp_index[POOL_RESP_SLOTS];	/* 1 + index in resp; 0: none */
	int64_t resp_ms;
	int64_t sweep_ms;
	/* pipe mode: a read's questions, asked in one call (pool_plan) */
	struct pool_q *plan;
	unsigned nplan, anext;
	int answering;		/* plan[anext..nplan) hold answers */
	unsigned long mismatches;
};

/*
 * A process serves connection after connection (the listener's workers)
 * and opens the state for each: its Redis connection is kept for the
 * next one rather than made again (a connect, AUTH, SCRIPT LOAD: three
 * round trips), and so is an outage, so that it is said once a process
 * and retried on the same schedule, not once a connection.  Never across
 * a fork: a child closes its parent's.
 */
static struct {
	pid_t pid;
	char *addr;
	redisContext *rc;
	char sha[41];
	uint64_t hashkey[2];
	int down;
	int64_t retry_ms, backoff_ms, sweep_ms;
	char why[200];
	char news[400];		/* said at a close, told at the next open */
	int has_news;
} parked;

static int64_t
mono_ms(void)
{
	return fed_now_ms();
}

int
pool_addr_check(const char *a, const char **why)
{
	const char *c;
	uint64_t port;

	if (a[0] == '/')
		return 0;
	if (a[0] == '[') {
		if ((c = strchr(a, ']')) == NULL || c[1] != ':') {
			*why = "expected [ADDRESS]:PORT";
			return -1;
		}
		c++;
	} else if ((c = strrchr(a, ':')) == NULL || c == a) {
		*why = "expected HOST:PORT or the path of a unix socket";
		return -1;
	} else if (memchr(a, ':', (size_t)(c - a)) != NULL) {
		*why = "an IPv6 address goes in brackets: [ADDRESS]:PORT";
		return -1;
	}
	if (a[0] == '[' && c == a + 2) {
		*why = "expected [ADDRESS]:PORT";
		return -1;
	}
	if (fed_parse_u64(c + 1, strlen(c + 1), 65535, &port) != 0 ||
	    port == 0) {
		*why = "the port must be 1-65535";
		return -1;
	}
	return 0;
}

static void
say(struct pool *p, const char *what, const char *then)
{
	snprintf(p->news, sizeof p->news, "redis %s: %s%s", p->addr, what,
	    then);
	p->has_news = 1;
}

const char *
pool_why(const struct pool *p)
{
	return p->why;
}

const char *
pool_news(struct pool *p)
{
	if (!p->has_news)
		return NULL;
	p->has_news = 0;
	return p->news;
}

/* Redis could not be asked: count the outage, say so once, try again
 * later. */
static void
went_down(struct pool *p, const char *why, int64_t now_ms)
{
	/* why may be the context's own errstr: copied before it goes */
	snprintf(p->why, sizeof p->why, "%s", why[0] != '\0' ? why :
	    "no reply");
	if (p->rc != NULL) {
		redisFree(p->rc);
		p->rc = NULL;
	}
	if (!p->down)
		say(p, p->why, p->sp.redis_refuse ? "; answering 503 "
		    "until it is back (redis_down = refuse)" :
		    "; deciding on this host's own store until it is back "
		    "(redis_down = local)");
	p->backoff_ms = !p->down ? POOL_RETRY_MIN_MS :
	    p->backoff_ms * 2 > POOL_RETRY_MAX_MS ? POOL_RETRY_MAX_MS :
	    p->backoff_ms * 2;
	p->retry_ms = now_ms + p->backoff_ms;
	p->down = 1;
}

static int responses_flush(struct pool *, int64_t);

#define POOL_STR_(x) #x
#define POOL_STR(x) POOL_STR_(x)

/* Why the connection failed, in the operator's words: hiredis says
 * EAGAIN's text for a reply that did not come in time. */
static const char *
conn_why(const redisContext *c)
{
	if (c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0)
		return "no reply within " POOL_STR(POOL_REPLY_MS) " ms";
	return c->errstr[0] != '\0' ? c->errstr : "no reply";
}

/* A connection that worked and was closed under us (Redis restarted,
 * an idle connection dropped): worth one fresh connection at once. */
static int
conn_stale(const redisContext *c)
{
	return c->err == REDIS_ERR_EOF || (c->err == REDIS_ERR_IO &&
	    (strcmp(c->errstr, strerror(ECONNRESET)) == 0 ||
	    strcmp(c->errstr, strerror(EPIPE)) == 0));
}

static redisReply *
command(struct pool *p, int64_t now_ms, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(p->rc, fmt, ap);
	va_end(ap);
	if (r == NULL) {
		went_down(p, conn_why(p->rc), now_ms);
		return NULL;
	}
	return r;
}

/* A set-up command's reply (NULL: the pool is down already): 0 if
 * Redis took it, else the pool down with Redis's words after `what`. */
static int
setup_step(struct pool *p, redisReply *r, const char *what, int64_t now_ms)
{
	char why[200];
	int rc = 0;

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof why, "%s%s", what, r->str);
		rc = -1;
	}
	freeReplyObject(r);
	if (rc != 0)
		went_down(p, why, now_ms);
	return rc;
}

/* The connection a previous state of this process parked (see parked),
 * taken back: 1 if there was one to the same address. */
static int
unpark(struct pool *p)
{
	if (parked.rc == NULL || parked.pid != getpid() ||
	    strcmp(parked.addr, p->addr) != 0)
		return 0;
	p->rc = parked.rc;
	memcpy(p->sha, parked.sha, sizeof p->sha);
	memcpy(p->hashkey, parked.hashkey, sizeof p->hashkey);
	parked.rc = NULL;
	return 1;
}

/* A connection to redis = ADDRESS (pool_addr_check took it), its
 * replies awaited POOL_REPLY_MS at most: 0, or -1 with the pool down. */
static int
redis_dial(struct pool *p, int64_t now_ms)
{
	struct timeval ct = { 0, POOL_CONNECT_MS * 1000 };
	struct timeval rt = { 0, POOL_REPLY_MS * 1000 };
	char host[256];
	const char *c;
	int n;

	if (p->addr[0] == '/')
		p->rc = redisConnectUnixWithTimeout(p->addr, ct);
	else {
		c = strrchr(p->addr, ':');
		n = (int)(c - p->addr);
		if (p->addr[0] == '[')
			snprintf(host, sizeof host, "%.*s", n - 2, p->addr + 1);
		else
			snprintf(host, sizeof host, "%.*s", n, p->addr);
		p->rc = redisConnectWithTimeout(host, atoi(c + 1), ct);
	}
	if (p->rc == NULL) {
		went_down(p, strerror(ENOMEM), now_ms);
		return -1;
	}
	if (p->rc->err) {
		went_down(p, p->rc->errstr, now_ms);
		return -1;
	}
	if (redisSetTimeout(p->rc, rt) != REDIS_OK) {
		went_down(p, "cannot set a timeout", now_ms);
		return -1;
	}
	return 0;
}

/* Authenticated, and lib/pool.lua loaded, its SHA1 kept for EVALSHA:
 * 0, or -1 with the pool down. */
static int
script_load(struct pool *p, int64_t now_ms)
{
	redisReply *r;
	char why[160];

	if (p->password != NULL && p->password[0] != '\0' &&
	    setup_step(p, command(p, now_ms, "AUTH %s", p->password), "AUTH: ",
	    now_ms) != 0)
		return -1;
	/* Asked first: Redis reads no long argument from a client that
	 * has not authenticated, so SCRIPT LOAD would not say NOAUTH. */
	if (setup_step(p, command(p, now_ms, "PING"), "", now_ms) != 0)
		return -1;
	if ((r = command(p, now_ms, "SCRIPT LOAD %s", pool_script)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		snprintf(why, sizeof why, "SCRIPT LOAD: %s",
		    r->type == REDIS_REPLY_ERROR ? r->str : "odd reply");
		freeReplyObject(r);
		went_down(p, why, now_ms);
		return -1;
	}
	memcpy(p->sha, r->str, 40);
	p->sha[40] = '\0';
	freeReplyObject(r);
	return 0;
}

/* The SipHash key of URI hashes, the same on every host: the first
 * process of the pool draws it (SET NX), all read it.  0, or -1 with the
 * pool down. */
static int
hashkey_share(struct pool *p, int64_t now_ms)
{
	redisReply *r;
	char hex[33], part[17];
	unsigned char rnd[16];
	size_t i;

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		went_down(p, "getrandom failed", now_ms);
		return -1;
	}
	for (i = 0; i < sizeof rnd; i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	if ((r = command(p, now_ms, "SET %s %s NX", HASHKEY_KEY, hex)) == NULL)
		return -1;
	freeReplyObject(r);
	if ((r = command(p, now_ms, "GET %s", HASHKEY_KEY)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING || r->len != 32) {
		freeReplyObject(r);
		went_down(p, HASHKEY_KEY " is not 32 hex digits", now_ms);
		return -1;
	}
	memcpy(hex, r->str, 32);
	hex[32] = '\0';
	freeReplyObject(r);
	for (i = 0; i < 2; i++) {
		memcpy(part, hex + 16 * i, 16);
		part[16] = '\0';
		p->hashkey[i] = strtoull(part, NULL, 16);
	}
	return 0;
}

/* Connect, authenticate, load the script, read (or draw) the URI hash
 * key: 0, or -1 with the pool down. */
static int
connect_pool(struct pool *p, int64_t now_ms)
{
	if (unpark(p))
		return 0;
	if (redis_dial(p, now_ms) != 0 || script_load(p, now_ms) != 0)
		return -1;
	return hashkey_share(p, now_ms);
}

int
pool_up(struct pool *p, int64_t now_ms)
{
	if (p->rc != NULL)
		return 1;
	if (p->down && now_ms < p->retry_ms && now_ms >= p->retry_ms -
	    POOL_RETRY_MAX_MS)
		return 0;
	/* Back only once the pool has answered (run_argv): a Redis that
	 * takes connections but cannot decide (OOM, LOADING) is still down. */
	return connect_pool(p, now_ms) == 0;
}

int
pool_open(struct pool **pp, const struct state_params *sp, int dry_run,
    int64_t now_ms, struct fed_err *err)
{
	struct pool *p;

	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->addr = strdup(sp->redis)) == NULL ||
	    (sp->redis_password != NULL &&
	    (p->password = strdup(sp->redis_password)) == NULL) ||
	    (p->resp = calloc(POOL_RESPONSES_MAX, sizeof *p->resp)) == NULL ||
	    (p->plan = calloc(POOL_PLAN_MAX, sizeof *p->plan)) == NULL) {
		if (p != NULL) {
			free(p->resp);
			free(p->addr);
			free(p->password);
		}
		free(p);
		fed_err_set(err, "pool: %s", strerror(ENOMEM));
		return -1;
	}
	p->sp = *sp;
	p->dry_run = dry_run;
	p->resp_ms = now_ms;
	if (parked.pid == getpid() && parked.addr != NULL &&
	    strcmp(parked.addr, p->addr) == 0) {
		p->down = parked.down;
		p->retry_ms = parked.retry_ms;
		p->backoff_ms = parked.backoff_ms;
		p->sweep_ms = parked.sweep_ms;
		memcpy(p->why, parked.why, sizeof p->why);
		memcpy(p->news, parked.news, sizeof p->news);
		p->has_news = parked.has_news;
	}
	(void)pool_up(p, now_ms);
	*pp = p;
	return 0;
}

void
pool_set_params(struct pool *p, const struct state_params *sp)
{
	const char *a = p->sp.redis, *pw = p->sp.redis_password;

	p->sp = *sp;
	p->sp.redis = a;	/* the connection stays as it was opened */
	p->sp.redis_password = pw;
}

void
pool_close(struct pool *p)
{
	if (p == NULL)
		return;
	/* Only what is owed: no sweep for a connection that ends (a
	 * balancer's health check makes one every few seconds). */
	(void)responses_flush(p, mono_ms());
	if (parked.rc != NULL)
		redisFree(parked.rc);
	free(parked.addr);
	parked.pid = getpid();
	parked.addr = p->addr;
	parked.rc = p->rc;
	memcpy(parked.sha, p->sha, sizeof parked.sha);
	memcpy(parked.hashkey, p->hashkey, sizeof parked.hashkey);
	parked.down = p->down;
	parked.retry_ms = p->retry_ms;
	parked.backoff_ms = p->backoff_ms;
	parked.sweep_ms = p->sweep_ms;
	memcpy(parked.why, p->why, sizeof parked.why);
	memcpy(parked.news, p->news, sizeof parked.news);
	parked.has_news = p->has_news;
	free(p->password);
	free(p->resp);
	free(p->plan);
	free(p);
}

/* EVALSHA, tried again on a fresh connection once when Redis closed the
 * one we had, and after loading the script again when Redis lost it
 * (NOSCRIPT): the reply, or NULL with the pool down. */
static redisReply *
evalsha(struct pool *p, int64_t now_ms, int ac, const char **av)
{
	redisReply *r = NULL, *l;
	int again, fresh = 0;

	for (again = 0; again < 3; again++) {
		/* hiredis takes the lengths from strlen with NULL */
		r = redisCommandArgv(p->rc, ac, av, NULL);
		if (r == NULL && conn_stale(p->rc) && !fresh) {
			/* Redis restarted since the last call: one new
			 * connection now, not an outage (a failed connect
			 * is one, and says so) */
			redisFree(p->rc);
			p->rc = NULL;
			fresh = 1;
			if (connect_pool(p, now_ms) != 0)
				break;
			continue;
		}
		if (r == NULL) {
			went_down(p, conn_why(p->rc), now_ms);
			break;
		}
		/* Redis restarted (or SCRIPT FLUSH): load it again. */
		if (r->type == REDIS_REPLY_ERROR &&
		    strncmp(r->str, "NOSCRIPT", 8) == 0 && again < 2) {
			freeReplyObject(r);
			r = NULL;
			if ((l = command(p, now_ms, "SCRIPT LOAD %s",
			    pool_script)) == NULL)
				break;
			freeReplyObject(l);
			continue;
		}
		break;
	}
	return r;
}

/* Run the script: the command and its arguments after the SHA. */
static redisReply *
run_argv(struct pool *p, int64_t now_ms, int argc, const char **argv)
{
	const char **av;
	redisReply *r;
	int i;

	if ((av = calloc((size_t)argc + 3, sizeof *av)) == NULL)
		return NULL;
	av[0] = "EVALSHA";
	av[1] = p->sha;
	av[2] = "0";
	for (i = 0; i < argc; i++)
		av[i + 3] = argv[i];
	r = evalsha(p, now_ms, argc + 3, av);
	free(av);
	/*
	 * Any other error reply (OOM under maxmemory, BUSY, READONLY on a
	 * replica, LOADING after a restart) is Redis unable to decide:
	 * down, as configured, with its words as the reason.  The script
	 * is declared (#!lua) so that Redis refuses it whole, before any
	 * write, rather than stopping it half-way.
	 */
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		char why[200];

		snprintf(why, sizeof why, "%s", r->str);
		freeReplyObject(r);
		r = NULL;
		went_down(p, why, now_ms);
	} else if (r != NULL && p->down) {
		say(p, "back", "; deciding on the pool again");
		p->down = 0;
	}
	return r;
}


static long long
int_at(const redisReply *r, size_t i)
{
	if (i >= r->elements)
		return 0;
	if (r->element[i]->type == REDIS_REPLY_INTEGER)
		return r->element[i]->integer;
	if (r->element[i]->type == REDIS_REPLY_STRING)
		return strtoll(r->element[i]->str, NULL, 10);
	return 0;
}

/* A script error (a bug, or a store of another layout): -1 with *err,
 * the pool kept (Redis answered). */
static int
script_error(struct fed_err *err, redisReply *r, const char *what)
{
	fed_err_set(err, "pool: %s: %s", what, r->type == REDIS_REPLY_ERROR ?
	    r->str : "unexpected reply");
	freeReplyObject(r);
	return -1;
}

/* The configuration's 7 arguments, as the script reads them. */
#define CONF_ARGS 7
struct conf_args {
	char num[CONF_ARGS][24];
};

static void
conf_args(const struct pool *p, struct conf_args *ca, const char **av)
{
	long long v[CONF_ARGS];
	int i;

	v[0] = p->sp.report_period;
	v[1] = p->sp.max_partners;
	v[2] = p->sp.max_new_partners;
	v[3] = p->sp.suspect_min;
	v[4] = (long long)(p->sp.suspect_share * 1000000.0 + 0.5);
	v[5] = p->sp.suspicious_rate;
	v[6] = p->sp.watch_expire;
	for (i = 0; i < CONF_ARGS; i++) {
		snprintf(ca->num[i], sizeof ca->num[i], "%lld", v[i]);
		av[i] = ca->num[i];
	}
}

/*
 * One request's 10 arguments.  The URI goes as a keyed hash (SipHash
 * under the pool's key, 64 bits in hex): 16 bytes whatever its length,
 * and a partner cannot choose URIs that collide.
 */

static void
req_fill(const struct pool *p, struct pool_q *e, const struct state_req *q,
    int64_t now_ms)
{
	const char *pk = q->peer_key != NULL ? q->peer_key : q->peer;

	snprintf(e->now, sizeof e->now, "%lld", (long long)now_ms);
	e->uh[0] = '\0';
	if (q->uris_limited && q->uri != NULL)
		snprintf(e->uh, sizeof e->uh, "%016llx", (unsigned long long)
		    fed_siphash(p->hashkey, q->uri, strlen(q->uri)));
	snprintf(e->domain, sizeof e->domain, "%s", q->domain);
	e->flags[0][0] = q->discovered ? '1' : '0';
	e->flags[1][0] = q->uris_limited ? '1' : '0';
	e->flags[2][0] = q->watched ? '1' : '0';
	e->flags[0][1] = e->flags[1][1] = e->flags[2][1] = '\0';
	snprintf(e->max_uris, sizeof e->max_uris, "%u", q->max_uris);
	snprintf(e->rate, sizeof e->rate, "%u", q->rate);
	snprintf(e->peer, sizeof e->peer, "%s", q->peer != NULL ? q->peer :
	    "");
	snprintf(e->peer_key, sizeof e->peer_key, "%s", pk != NULL ? pk : "");
}

static void
req_args(const struct pool_q *e, const char **av)
{
	av[0] = e->now;
	av[1] = e->domain;
	av[2] = e->uh;
	av[3] = e->flags[0];
	av[4] = e->flags[1];
	av[5] = e->max_uris;
	av[6] = e->rate;
	av[7] = e->flags[2];
	av[8] = e->peer;
	av[9] = e->peer_key;
}

/* The script's 8 numbers for one request, or -1 if it said something
 * else. */
static int
answer_of(const redisReply *r, long long ans[8])
{
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 8)
		return -1;
	for (i = 0; i < 8; i++)
		ans[i] = int_at(r, i);
	return 0;
}

static void
facts_of(const struct pool *p, const struct state_req *q,
    const long long ans[8], struct policy_facts *f, int *watch_now,
    int *uri_cap)
{
	f->uris_limited = q->uris_limited;
	f->max_uris = q->max_uris;
	f->watched = ans[0] != 0;
	f->distinct_uris = (unsigned)ans[1];
	f->uri_new = ans[2] != 0;
	f->suspicious = ans[3] != 0;
	f->token = ans[4] != 0;
	f->new_refused = ans[5] != 0;
	f->rate_limited = (f->suspicious ? p->sp.suspicious_rate : q->rate) > 0;
	*watch_now = ans[6] != 0;
	*uri_cap = ans[7] != 0;
}

/* Was this request asked already, in the read's one call (pool_plan)?
 * The questions come back in the order they were planned; any other
 * question drops the rest of the answers (asked directly from then on). */
static const struct pool_q *
planned(struct pool *p, const struct state_req *q, int64_t now_ms)
{
	struct pool_q *e;
	struct pool_q probe;

	if (!p->answering || p->anext >= p->nplan)
		return NULL;
	e = &p->plan[p->anext];
	memset(&probe, 0, sizeof probe);
	req_fill(p, &probe, q, now_ms);
	if (strcmp(e->domain, probe.domain) != 0 ||
	    strcmp(e->uh, probe.uh) != 0 || strcmp(e->now, probe.now) != 0 ||
	    strcmp(e->peer_key, probe.peer_key) != 0 ||
	    memcmp(e->flags, probe.flags, sizeof e->flags) != 0) {
		/* Never seen: the two passes over a read ask alike.  Said,
		 * for the decisions planned and asked again count twice. */
		if (p->mismatches++ == 0)
			say(p, "internal error", ": a read's planned decisions "
			    "differ from the asked ones; the rest are asked one "
			    "by one (please report)");
		p->nplan = p->anext = 0;
		p->answering = 0;
		return NULL;
	}
	p->anext++;
	return e;
}

int
pool_decide(struct pool *p, const struct state_req *q, int64_t now_ms,
    struct policy_facts *f, int *watch_now, int *uri_cap,
    struct fed_err *err)
{
	const char *av[2 + CONF_ARGS + REQ_ARGS];
	const struct pool_q *pe;
	struct conf_args ca;
	struct pool_q e;
	long long ans[8];
	redisReply *r;

	if ((pe = planned(p, q, now_ms)) != NULL) {
		facts_of(p, q, pe->ans, f, watch_now, uri_cap);
		return 0;
	}
	if (!pool_up(p, now_ms))
		return POOL_DOWN;
	av[0] = "decide";
	av[1] = PREFIX;
	conf_args(p, &ca, av + 2);
	memset(&e, 0, sizeof e);
	req_fill(p, &e, q, now_ms);
	req_args(&e, av + 2 + CONF_ARGS);
	if ((r = run_argv(p, now_ms, 2 + CONF_ARGS + REQ_ARGS, av)) == NULL)
		return POOL_DOWN;
	if (answer_of(r, ans) != 0)
		return script_error(err, r, q->domain);
	freeReplyObject(r);
	facts_of(p, q, ans, f, watch_now, uri_cap);
	return 0;
}

int
pool_plan(struct pool *p, const struct state_req *q, int64_t now_ms)
{
	if (p->answering) {		/* a new read: the old answers go */
		p->nplan = p->anext = 0;
		p->answering = 0;
	}
	if (p->nplan == POOL_PLAN_MAX || p->rc == NULL)
		return 0;		/* the rest asked one by one */
	req_fill(p, &p->plan[p->nplan++], q, now_ms);
	return 0;
}

int
pool_plan_run(struct pool *p, int64_t now_ms, struct fed_err *err)
{
	const char **av;
	struct conf_args ca;
	char count[12];
	redisReply *r;
	unsigned i, n = p->nplan;
	int argc = 3 + CONF_ARGS + (int)n * REQ_ARGS, rc = 0;

	p->anext = 0;
	p->answering = 0;
	if (n == 0)
		return 0;
	p->nplan = 0;			/* no answers until they are in */
	if (!pool_up(p, now_ms))
		return 0;
	if ((av = calloc((size_t)argc + 3, sizeof *av)) == NULL)
		return 0;		/* asked one by one */
	snprintf(count, sizeof count, "%u", n);
	av[0] = "decide_many";
	av[1] = PREFIX;
	av[2] = count;
	conf_args(p, &ca, av + 3);
	for (i = 0; i < n; i++)
		req_args(&p->plan[i], av + 3 + CONF_ARGS + i * REQ_ARGS);
	r = run_argv(p, now_ms, argc, av);
	free(av);
	if (r == NULL)
		return 0;		/* down: said; decided as configured */
	if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
		return script_error(err, r, "decide_many");
	for (i = 0; i < n; i++)
		if (answer_of(r->element[i], p->plan[i].ans) != 0) {
			rc = script_error(err, r, "decide_many");
			r = NULL;
			break;
		}
	if (r != NULL) {
		freeReplyObject(r);
		p->nplan = n;
		p->answering = 1;
	}
	return rc;
}

/* The slot of a partner's waiting counts: open addressing over
 * POOL_RESP_SLOTS (twice POOL_RESPONSES_MAX, so probes stay short). */
static uint16_t *
resp_slot(struct pool *p, const char *domain, int *found)
{
	uint64_t h = fed_siphash(p->hashkey, domain, strlen(domain));
	unsigned k = (unsigned)(h % POOL_RESP_SLOTS);

	for (;; k = (k + 1) % POOL_RESP_SLOTS) {
		uint16_t v = p->resp_index[k];

		if (v == 0 || strcmp(p->resp[v - 1].domain, domain) == 0) {
			*found = v != 0;
			return &p->resp_index[k];
		}
	}
}

int
pool_response(struct pool *p, const char *domain, int64_t now_ms,
    int success)
{
	struct pool_resp *e;
	uint16_t *slot;
	int found;

	if (p->dry_run || strlen(domain) > DOMAIN_MAX)
		return 0;
	if (p->nresp == POOL_RESPONSES_MAX && pool_tick(p, now_ms, 1) != 0)
		return POOL_DOWN;	/* full, and Redis cannot take them */
	slot = resp_slot(p, domain, &found);
	if (found)
		e = &p->resp[*slot - 1];
	else {
		e = &p->resp[p->nresp++];
		*slot = (uint16_t)p->nresp;
		snprintf(e->domain, sizeof e->domain, "%s", domain);
		e->ok = e->fail = 0;
	}
	e->ms = now_ms;
	if (success)
		e->ok++;
	else
		e->fail++;
	return 0;
}

/* The waiting response counts, in one call. */
static int
responses_send(struct pool *p, int64_t now_ms)
{
	char head[3][24];
	char (*num)[3][24];
	const char **av;
	redisReply *r;
	unsigned i;
	int n = 0, rc = 0;

	av = calloc((size_t)p->nresp * 4 + 5, sizeof *av);
	num = calloc(p->nresp, sizeof *num);
	if (av == NULL || num == NULL) {
		free(av);
		free(num);
		return 0;		/* they wait for the next tick */
	}
	av[n++] = "respond";
	av[n++] = PREFIX;
	snprintf(head[0], sizeof head[0], "%u", p->sp.report_period);
	snprintf(head[1], sizeof head[1], "%u", p->sp.suspect_min);
	snprintf(head[2], sizeof head[2], "%lld", (long long)
	    (p->sp.suspect_share * 1000000.0 + 0.5));
	av[n++] = head[0];
	av[n++] = head[1];
	av[n++] = head[2];
	for (i = 0; i < p->nresp; i++) {
		snprintf(num[i][0], sizeof num[i][0], "%lld",
		    (long long)p->resp[i].ms);
		snprintf(num[i][1], sizeof num[i][1], "%u", p->resp[i].ok);
		snprintf(num[i][2], sizeof num[i][2], "%u", p->resp[i].fail);
		av[n++] = p->resp[i].domain;
		av[n++] = num[i][0];
		av[n++] = num[i][1];
		av[n++] = num[i][2];
	}
	if ((r = run_argv(p, now_ms, n, av)) == NULL)
		rc = POOL_DOWN;		/* they wait: a second's worth */
	else {
		freeReplyObject(r);
		p->nresp = 0;
		memset(p->resp_index, 0, sizeof p->resp_index);
	}
	free(av);
	free(num);
	return rc;
}

/* The script's short commands: cmd pre now report_period [domain].
 * NULL if Redis could not be asked. */
static redisReply *
run_short(struct pool *p, int64_t now_ms, const char *cmd,
    const char *domain)
{
	char a[24], b[24];
	const char *av[5];

	if (!pool_up(p, now_ms))
		return NULL;
	snprintf(a, sizeof a, "%lld", (long long)now_ms);
	snprintf(b, sizeof b, "%u", p->sp.report_period);
	av[0] = cmd;
	av[1] = PREFIX;
	av[2] = a;
	av[3] = b;
	av[4] = domain;
	return run_argv(p, now_ms, domain != NULL ? 5 : 4, av);
}

/* The response counts, if any wait. */
static int
responses_flush(struct pool *p, int64_t now_ms)
{
	if (p->nresp == 0)
		return 0;
	if (!pool_up(p, now_ms))
		return POOL_DOWN;	/* the counts wait: a second's worth */
	return responses_send(p, now_ms);
}

int
pool_tick(struct pool *p, int64_t now_ms, int force)
{
	redisReply *r;

	if (!force && now_ms - p->resp_ms < 1000 && now_ms >= p->resp_ms)
		return 0;
	p->resp_ms = now_ms;
	if (responses_flush(p, now_ms) != 0)
		return POOL_DOWN;
	/* The sweep is the process's, not the connection's: every 10 s
	 * whatever the connections (parked.sweep_ms). */
	if (p->dry_run || (now_ms - p->sweep_ms < 10000 &&
	    now_ms >= p->sweep_ms) || !pool_up(p, now_ms))
		return 0;
	p->sweep_ms = now_ms;
	if ((r = run_short(p, now_ms, "sweep", NULL)) == NULL)
		return POOL_DOWN;
	freeReplyObject(r);
	return 0;
}

int
pool_clear(struct pool *p, const char *domain, int64_t now_ms)
{
	redisReply *r;
	int had;

	if ((r = run_short(p, now_ms, "clear", domain)) == NULL)
		return POOL_DOWN;
	had = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	freeReplyObject(r);
	return had ? 2 : 0;	/* 2: had state (POOL_DOWN is 1) */
}

/* The record that opens a view's and a pull's reply: {found, t, r, n,
 * s, l, o, watch since}; 0 if it is not that. */
static int
record_of(const redisReply *r, struct staterec *rec)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 8)
		return 0;
	staterec_init(rec);
	rec->tat_us = int_at(r, 1);
	rec->rate = (uint32_t)int_at(r, 2);
	rec->nuris = (uint32_t)int_at(r, 3);
	rec->suspicious_ms = int_at(r, 4);
	rec->last_ms = int_at(r, 5);
	rec->uri_oldest_ms = int_at(r, 6);
	rec->watch_ms = int_at(r, 7);
	return 1;
}

/* A partner's newest peers: {name, ms, ...}. */
static unsigned
peers_of(const redisReply *a, struct staterec_peer pe[STATEREC_PEERS])
{
	unsigned n = 0;
	size_t i;

	for (i = 0; a != NULL && i + 1 < a->elements && n < STATEREC_PEERS;
	    i += 2)
		if (a->element[i]->type == REDIS_REPLY_STRING) {
			snprintf(pe[n].name, sizeof pe[0].name, "%s",
			    a->element[i]->str);
			pe[n++].last_ms = int_at(a, i + 1);
		}
	return n;
}

static const redisReply *array_at(const redisReply *, size_t);

/* A view's reply: the record, then ok, fail, {peer, ms, ...}. */
static int
view_of(const redisReply *r, struct state_view *v)
{
	memset(v, 0, sizeof *v);
	if (int_at(r, 0) != 1 && int_at(r, 7) == 0)
		return 0;	/* no state, no watch */
	if (!record_of(r, &v->rec) || r->elements != 11)
		return 0;
	v->ok = (unsigned)int_at(r, 8);
	v->fail = (unsigned)int_at(r, 9);
	v->watch_kept = 1;
	v->npeer = peers_of(array_at(r, 10), v->peer);
	v->rec.npeer = v->npeer;
	return 1;
}

int
pool_view(struct pool *p, const char *domain, int64_t now_ms,
    struct state_view *v, char *dombuf, struct fed_err *err)
{
	redisReply *r;
	int found;

	(void)err;
	if ((r = run_short(p, now_ms, "view", domain)) == NULL)
		return -POOL_DOWN;
	if ((found = view_of(r, v)) != 0) {
		snprintf(dombuf, DOMAIN_MAX + 1, "%s", domain);
		v->domain = dombuf;
	}
	freeReplyObject(r);
	return found;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
pool_walk(struct pool *p, int64_t now_ms,
    int (*fn)(const struct state_view *, void *), void *arg,
    struct fed_err *err)
{
	const char *av[2] = { "names", PREFIX };
	struct state_view v;
	char dom[DOMAIN_MAX + 1];
	redisReply *r;
	char **names = NULL;
	size_t i, n = 0;
	int rc = 0;

	if (!pool_up(p, now_ms))
		return POOL_DOWN;
	if ((r = run_argv(p, now_ms, 2, av)) == NULL)
		return POOL_DOWN;
	if (r->type != REDIS_REPLY_ARRAY)
		return script_error(err, r, "names");
	if (r->elements > 0 &&
	    (names = calloc(r->elements, sizeof *names)) == NULL) {
		freeReplyObject(r);
		fed_err_set(err, "pool: %s", strerror(ENOMEM));
		return -1;
	}
	for (i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    r->element[i]->len <= DOMAIN_MAX)
			names[n++] = r->element[i]->str;
	if (n > 0)
		qsort(names, n, sizeof *names, name_cmp);
	for (i = 0; i < n && rc == 0; i++) {
		int found;

		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;	/* in an index and watched */
		found = pool_view(p, names[i], now_ms, &v, dom, err);
		if (found < 0) {
			rc = POOL_DOWN;
			break;
		}
		if (found && fn(&v, arg) != 0)
			break;
	}
	free(names);
	freeReplyObject(r);
	return rc;
}

const uint64_t *
pool_hashkey(const struct pool *p)
{
	return p->hashkey;
}

void
pool_pulled_free(struct pool_pulled *pp)
{
	free(pp->uri_hash);
	free(pp->uri_ms);
	pp->uri_hash = NULL;
	pp->uri_ms = NULL;
	pp->nuris = 0;
}

/* The pairs of an array reply (name or number, then a number). */
static const redisReply *
array_at(const redisReply *r, size_t i)
{
	if (i >= r->elements || r->element[i]->type != REDIS_REPLY_ARRAY)
		return NULL;
	return r->element[i];
}

/* A pulled partner's URIs, pairs of hash (hex) and first time in ur:
 * 0, or -1 with err said and pp freed. */
static int
pulled_uris(struct pool_pulled *pp, const redisReply *ur,
    struct fed_err *err)
{
	size_t i, n = ur->elements / 2;

	if (n == 0)
		return 0;
	if ((pp->uri_hash = calloc(n, sizeof *pp->uri_hash)) == NULL ||
	    (pp->uri_ms = calloc(n, sizeof *pp->uri_ms)) == NULL) {
		pool_pulled_free(pp);
		fed_err_set(err, "pool: %s", strerror(ENOMEM));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ur->element[2 * i]->type != REDIS_REPLY_STRING)
			continue;
		pp->uri_hash[pp->nuris] = strtoull(ur->element[2 * i]->str,
		    NULL, 16);
		pp->uri_ms[pp->nuris++] = int_at(ur, 2 * i + 1);
	}
	return 0;
}

int
pool_pull(struct pool *p, const char *domain, const char *peer_key,
    int64_t now_ms, struct pool_pulled *pp, struct fed_err *err)
{
	char a[24], b[24], w[24];
	const char *av[7];
	const redisReply *sl, *ur, *pe, *nq;
	redisReply *r;
	size_t i;
	int rc;

	memset(pp, 0, sizeof *pp);
	staterec_init(&pp->rec);
	if (!pool_up(p, now_ms))
		return POOL_DOWN;
	snprintf(a, sizeof a, "%lld", (long long)now_ms);
	snprintf(b, sizeof b, "%u", p->sp.report_period);
	snprintf(w, sizeof w, "%u", p->sp.watch_expire);
	av[0] = "pull";
	av[1] = PREFIX;
	av[2] = a;
	av[3] = b;
	av[4] = domain;
	av[5] = peer_key != NULL ? peer_key : "";
	av[6] = w;
	if ((r = run_argv(p, now_ms, 7, av)) == NULL)
		return POOL_DOWN;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 12 ||
	    (sl = array_at(r, 8)) == NULL || (ur = array_at(r, 9)) == NULL ||
	    (pe = array_at(r, 10)) == NULL || (nq = array_at(r, 11)) == NULL)
		return script_error(err, r, domain);
	pp->found = int_at(r, 0) != 0;
	(void)record_of(r, &pp->rec);
	for (i = 0; i + 2 < sl->elements && i / 3 < STATEREC_SLOTS; i += 3) {
		pp->rec.slot[i / 3].n = (uint32_t)int_at(sl, i);
		pp->rec.slot[i / 3].ok = (uint32_t)int_at(sl, i + 1);
		pp->rec.slot[i / 3].fail = (uint32_t)int_at(sl, i + 2);
	}
	pp->npeer = peers_of(pe, pp->peer);
	pp->rec.npeer = pp->npeer;
	pp->peer_window_ms = int_at(nq, 0);
	pp->peer_count = (unsigned)int_at(nq, 1);
	rc = pulled_uris(pp, ur, err);
	freeReplyObject(r);
	return rc;
}
