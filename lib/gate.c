/* gate.c: gather the facts about one message, let policy decide, keep state. */
#include <sys/stat.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "edges.h"
#include "gate.h"
#include "listdb.h"
#include "partner.h"
#include "sipreply.h"
#include "state.h"
#include "watchlist.h"

#define LOGBUF_FLUSH	65536	/* flush buffered log lines beyond this */
#define LCACHE_SETS	1024	/* partners whose list answers are cached: */
#define LCACHE_WAYS	4	/* 4,096 in sets of 4, least recent out */

/* One partner's list answers, valid while `gen` is the lists' generation. */
struct lcache {
	uint32_t gen;
	uint32_t used;		/* a clock for least-recently-used */
	char domain[DOMAIN_MAX + 1];
	int blocked, allowed;
	long rate, max_uris;	/* the allow entry's, LIST_UNSET if none */
	char edge[DOMAIN_MAX + 1];
};

struct gate {
	const struct conf *c;
	struct gate_opts o;
	struct listdb allow, block;
	struct edges edges;
	int edges_loaded;
	struct state *st;
	struct state_params sp;
	struct watchlist wl;
	uint32_t gen;		/* bumped whenever a list is reloaded */
	struct lcache *lc;	/* LCACHE_SETS x WAYS, allocated on first use */
	uint32_t lclock;
	int warned_both;
	int warned_edges;
	int upstream_down;	/* accepted requests get 503 from us */
	int64_t refusal_tat;	/* the connection's refusal bucket (GCRA) */
	unsigned refusals;
	int flood_logged;	/* UDP: the flood line of this burst is out */
	char peerbuf[VLOG_PEER_MAX];	/* gate_set_peer's copy */
	char *logbuf;
	size_t loglen;
	int logbuffered;
	char *reply;
	size_t replycap;
	char allow_hdr[SIP_REPLY_EXTRA_MAX];
	int planning;		/* gate_plan: ask nothing, change nothing */
	struct gate_result plan_res;
};

static void
build_allow_header(struct gate *g)
{
	size_t i, n = 0, cap = sizeof g->allow_hdr;
	int w;

	w = snprintf(g->allow_hdr, cap, "Allow: ");
	n = (size_t)w;
	for (i = 0; i < g->c->methods.n && n < cap; i++) {
		w = snprintf(g->allow_hdr + n, cap - n, "%s%s", i ? ", " : "",
		    g->c->methods.v[i]);
		if (w < 0 || (size_t)w >= cap - n)
			break;
		n += (size_t)w;
	}
	if (n + 3 > cap)
		n = cap - 3;
	memcpy(g->allow_hdr + n, "\r\n", 3);
}

/* A pool's Redis went down or came back: said once, on stderr (the
 * journal), as a list that cannot be read is. */
static void
state_say_news(struct gate *g)
{
	const char *m = state_news(g->st);

	if (m != NULL)
		fed_warnx("%s", m);
}

void
gate_state_params(struct state_params *sp, const struct conf *c)
{
	memset(sp, 0, sizeof *sp);
	sp->watch_expire = c->watch_expire;
	sp->redis = c->redis;
	sp->redis_password = c->redis_password;
	sp->redis_refuse = c->redis_down_refuse;
	sp->report_period = c->report_period;
	sp->max_partners = c->max_partners;
	sp->max_new_partners = c->max_new_partners;
	sp->suspect_min = c->suspect_min_responses;
	sp->suspect_share = c->suspect_fail_share;
	sp->suspicious_rate = c->suspicious_rate;
}

/*
 * The watch list file (fedkit(7)): a missing one is empty; one with bad
 * lines is used without them, as the block list would be, with a word on
 * the diagnostics sink: a bad hand edit must not take federation down.
 */
static int
watch_open(struct gate *g, struct fed_err *err)
{
	char *derived = NULL;
	const char *path = g->c->watch_list;
	int rc;

	if (path == NULL &&
	    (path = derived = fed_concat(g->c->state_dir, "/watch")) == NULL) {
		fed_err_set(err, "watch list: %s", strerror(ENOMEM));
		return -1;
	}
	rc = watchlist_open(&g->wl, path, err);
	free(derived);
	if (rc == WATCHLIST_BADLINES) {
		fed_warnx("%s (line skipped)", err->msg);
		rc = 0;
	}
	return rc < 0 ? -1 : 0;
}

/*
 * A list fedgate runs on with something wrong (fedkit(7) List index: a text
 * changed since `fedlist index`, a bad line, no index): said once per
 * process and change, on the diagnostics sink (syslog under inetd).
 */
static void
list_warn(struct listdb *db)
{
	const char *w = listdb_warning(db);

	if (w != NULL)
		fed_warnx("%s", w);
}

int
gate_open(struct gate **gp, const struct conf *c, const struct gate_opts *o,
    struct fed_err *err)
{
	struct gate *g;

	*gp = NULL;
	if ((g = calloc(1, sizeof *g)) == NULL) {
		fed_err_set(err, "gate: %s", strerror(errno));
		return -1;
	}
	g->c = c;
	g->o = *o;
	gate_state_params(&g->sp, c);
	g->replycap = SIP_REPLY_CAP(c->limits.max_message);
	if ((g->reply = malloc(g->replycap)) == NULL) {
		fed_err_set(err, "response buffer: %s", strerror(errno));
		goto fail;
	}
	build_allow_header(g);
	/* A list never stops the gate: listdb_open fails only for memory. */
	if (listdb_open(&g->block, c->block_list, 0, err) != 0)
		goto fail;
	list_warn(&g->block);
	if (listdb_open(&g->allow, c->allow_list, 1, err) != 0)
		goto fail;
	list_warn(&g->allow);
	if (state_open(&g->st, c->state_dir, &g->sp, o->dry_run, err) != 0)
		goto fail;
	if (state_warning(g->st) != NULL)
		fed_warnx("%s", state_warning(g->st));
	state_say_news(g);
	if (watch_open(g, err) != 0)
		goto fail;
	*gp = g;
	return 0;
fail:
	watchlist_close(&g->wl);
	state_close(g->st, NULL);
	listdb_close(&g->block);
	listdb_close(&g->allow);
	free(g->reply);
	free(g);
	return -1;
}

int
gate_close(struct gate *g, struct fed_err *err)
{
	int64_t now = fed_now_ms();
	int rc = 0;

	if (g == NULL)
		return 0;
	if (gate_log_flush(g, err) != 0)
		rc = -1;
	if (g->st != NULL) {
		if (rc == 0 && state_tick(g->st, now, err) != 0)
			rc = -1;
		state_say_news(g);
		if (state_close(g->st, rc == 0 ? err : NULL) != 0)
			rc = -1;
	}
	watchlist_close(&g->wl);
	listdb_close(&g->block);
	listdb_close(&g->allow);
	if (g->edges_loaded)
		edges_free(&g->edges);
	free(g->lc);
	free(g->logbuf);
	free(g->reply);
	free(g);
	return rc;
}

static int
same_path(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int
gate_conf_compatible(const struct conf *old, const struct conf *new,
    struct fed_err *err)
{
	static const struct {
		const char *key;
		size_t off;
	} paths[] = {
		{ "allow_list", offsetof(struct conf, allow_list) },
		{ "block_list", offsetof(struct conf, block_list) },
		{ "edge_cache", offsetof(struct conf, edge_cache) },
		{ "state_dir", offsetof(struct conf, state_dir) },
		{ "watch_list", offsetof(struct conf, watch_list) },
		{ "verdict_log", offsetof(struct conf, verdict_log) },
		{ "redis", offsetof(struct conf, redis) },
		{ "redis_password", offsetof(struct conf, redis_password) },
	};
	size_t i;

	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		const char *a = *(char *const *)((const char *)old + paths[i].off);
		const char *b = *(char *const *)((const char *)new + paths[i].off);

		if (!same_path(a, b)) {
			fed_err_set(err, "%s changed: restart fedgate to use it",
			    paths[i].key);
			return -1;
		}
	}
	if (old->report_period != new->report_period ||
	    old->watch_expire != new->watch_expire ||
	    old->limits.max_message != new->limits.max_message) {
		fed_err_set(err, "report_period, watch_expire or max_message "
		    "changed: restart fedgate to use them");
		return -1;
	}
	return 0;
}

void
gate_conf_changed(struct gate *g)
{
	build_allow_header(g);
	/* The limits the store applies follow fed.conf too (report_period
	 * needs a restart: gate_conf_compatible says so). */
	gate_state_params(&g->sp, g->c);
	state_set_params(g->st, &g->sp);
	g->gen++;		/* local_domains may name other partners now */
}

int
gate_tick(struct gate *g, int64_t now_ms, struct fed_err *err)
{
	int a, b;

	/* A bad edit keeps the old list in force; say so, once a second at
	 * most, but do not stop the gate for it. */
	b = listdb_refresh(&g->block, now_ms, err);
	if (b < 0)
		fed_warnx("%s (keeping the previous block list)", err->msg);
	list_warn(&g->block);
	a = listdb_refresh(&g->allow, now_ms, err);
	if (a < 0)
		fed_warnx("%s (keeping the previous allow list)", err->msg);
	list_warn(&g->allow);
	if (a > 0 || b > 0)
		g->gen++;
	/* The message says what was kept: the previous cache (unreadable)
	 * or the good lines of the new one (bad lines skipped). */
	if (g->edges_loaded && edges_refresh(&g->edges, now_ms, err) < 0)
		fed_warnx("%s", err->msg);
	a = watchlist_refresh(&g->wl, now_ms, err);
	if (a < 0)
		fed_warnx("%s (keeping the previous watch list)", err->msg);
	else if (a == WATCHLIST_BADLINES)
		fed_warnx("%s (line skipped)", err->msg);
	a = state_tick(g->st, now_ms, err);
	state_say_news(g);
	return a;
}

int
gate_batch(struct gate *g, int on, struct fed_err *err)
{
	return state_batch(g->st, on, err);
}

/* ---- the verdict log ---- */

void
gate_log_buffer(struct gate *g, int on)
{
	g->logbuffered = on;
}

int
gate_log_flush(struct gate *g, struct fed_err *err)
{
	ssize_t w;

	/* The store is always ahead of the log that reports it; lines of
	 * decisions the store lost are dropped with them. */
	if (state_batch_commit(g->st, err) != 0) {
		g->loglen = 0;
		return -1;
	}
	if (g->loglen == 0)
		return 0;
	/* One write(2) of whole lines: an O_APPEND write to a regular file
	 * is not interleaved with other processes' writes. */
	do
		w = write(g->o.log_fd, g->logbuf, g->loglen);
	while (w < 0 && errno == EINTR);
	if (w < 0 || (size_t)w != g->loglen) {
		fed_err_set(err, "verdict log: write: %s",
		    w < 0 ? strerror(errno) : "short write");
		g->loglen = 0;
		return -1;
	}
	g->loglen = 0;
	return 0;
}

static int
log_line(struct gate *g, const struct vlog_rec *r, struct fed_err *err)
{
	if (g->o.log_fd < 0)
		return 0;
	if (!g->logbuffered) {
		if (vlog_write(g->o.log_fd, r) != 0) {
			fed_err_set(err, "verdict log: write: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (g->logbuf == NULL &&
	    (g->logbuf = malloc(LOGBUF_FLUSH + VLOG_LINE_MAX)) == NULL) {
		fed_err_set(err, "verdict log: %s", strerror(errno));
		return -1;
	}
	g->loglen += vlog_format(g->logbuf + g->loglen, r);
	if (g->loglen >= LOGBUF_FLUSH)
		return gate_log_flush(g, err);
	return 0;
}

/* ---- facts ---- */

static void
warn_both(struct gate *g, const char *domain)
{
	if (g->warned_both)
		return;
	g->warned_both = 1;
	fed_warnx("%s is on both the allow list (%s) and the block "
	    "list (%s); treating it as blocked", domain,
	    g->c->allow_list, g->c->block_list);
}

/* The peer's host name, normalized, as list_facts looks it up. */
static int
peer_host(const struct gate *g, char *out, size_t outsz)
{
	const char *colon;
	size_t n;

	if (g->o.peer == NULL)
		return 0;
	colon = strrchr(g->o.peer, ':');
	n = colon != NULL && strchr(g->o.peer, ':') == colon ?
	    (size_t)(colon - g->o.peer) : strlen(g->o.peer);
	return n < outsz && domain_normalize(g->o.peer, n, 0, out, outsz,
	    NULL) == 0;
}

/* Is the peer's own name on the allow list?  Fills *e from its entry. */
static int
peer_allowed(struct gate *g, struct list_entry *e, char *scratch,
    size_t scratchsz)
{
	char host[DOMAIN_MAX + 2];

	return peer_host(g, host, sizeof host) &&
	    listdb_lookup(&g->allow, host, e, scratch, scratchsz) == 1;
}

/*
 * The partner's list answers.  The allow list is asked for the domain and,
 * failing that, for the peer's name: an entry may name the partner's edge
 * (fedkit(7) Allow and block lists: "or partner edge FQDNs").
 */
static const struct lcache *
list_facts(struct gate *g, const char *domain)
{
	struct list_entry e;
	char scratch[LISTDB_SCRATCH];
	struct lcache *lc;
	struct lcache *set;
	size_t w;
	int by_domain;

	/* calloc'd pages are touched only as partners arrive, so a process
	 * serving one partner pays for one entry, not the table. */
	if (g->lc == NULL && (g->lc = calloc(LCACHE_SETS * LCACHE_WAYS,
	    sizeof *g->lc)) == NULL)
		return NULL;
	set = &g->lc[(fed_fnv1a64(FED_FNV1A64_OFFSET, domain, strlen(domain)) %
	    LCACHE_SETS) * LCACHE_WAYS];
	lc = &set[0];
	for (w = 0; w < LCACHE_WAYS; w++) {
		if (set[w].gen == g->gen + 1 &&
		    strcmp(set[w].domain, domain) == 0) {
			set[w].used = ++g->lclock;
			return &set[w];
		}
		if (set[w].gen != g->gen + 1 || set[w].used < lc->used)
			lc = &set[w];	/* stale, or older than the pick */
		if (set[w].gen != g->gen + 1)
			break;
	}
	memset(lc, 0, sizeof *lc);
	lc->used = ++g->lclock;
	snprintf(lc->domain, sizeof lc->domain, "%s", domain);
	lc->gen = g->gen + 1;	/* 0 stays "never filled" */
	lc->rate = lc->max_uris = LIST_UNSET;
	/* A lookup error (-1) cannot happen with this scratch size; should
	 * it, both fail closed: blocked, and not allowed. */
	lc->blocked = listdb_lookup(&g->block, domain, &e, scratch,
	    sizeof scratch) != 0;
	by_domain = listdb_lookup(&g->allow, domain, &e, scratch,
	    sizeof scratch) == 1;
	if (!by_domain && !peer_allowed(g, &e, scratch, sizeof scratch))
		return lc;
	if (lc->blocked) {
		if (by_domain)
			warn_both(g, domain);
		return lc;
	}
	lc->allowed = 1;
	lc->rate = e.rate;
	lc->max_uris = e.max_uris;
	if (e.edge != NULL)
		snprintf(lc->edge, sizeof lc->edge, "%s", e.edge);
	return lc;
}

static int
verify_mode(const struct gate *g)
{
	if (g->c->verify == VERIFY_AUTO)
		return g->o.tls ? VERIFY_SRV : VERIFY_NONE;
	return (int)g->c->verify;
}

/* Does any of the peer's other certificate names match the edge cache
 * for domain (or, with `edge`, that pinned edge)? */
static int
peer_names_any(struct gate *g, const char *domain, int64_t now,
    const char *edge)
{
	unsigned i;

	for (i = 0; i < g->o.npeer_names; i++) {
		if (edge != NULL ? edges_peer_is(g->o.peer_names[i], edge) :
		    edges_match(&g->edges, domain, g->o.peer_names[i], now))
			return 1;
	}
	return 0;
}

static int
verified_by_srv(struct gate *g, const char *domain, int64_t now)
{
	struct fed_err err;

	if (!g->edges_loaded) {
		/* A cache that does not parse counts as empty (unverifiable
		 * is unverified), and is read again once it changes. */
		if (edges_load(&g->edges, g->c->edge_cache, &err) != 0)
			fed_warnx("%s", err.msg);
		g->edges_loaded = 1;
		g->edges.checked_ms = now;
	}
	if (!g->edges.exists && !g->warned_edges) {
		g->warned_edges = 1;
		fed_warnx("%s: no edge cache (write it with fedq -w); "
		    "every partner is unverified", g->c->edge_cache);
	}
	if (edges_match(&g->edges, domain, g->o.peer, now))
		return 1;
	return peer_names_any(g, domain, now, NULL);
}

static int
is_local_cb(const char *host, void *arg)
{
	return conf_is_local(arg, host);
}

/*
 * What max_new_partners counts by: the peer's host, without the port a
 * reconnection changes ("[2001:db8::1]:5061", "192.0.2.7:5061", or a TLS
 * name as it is).
 */
static const char *
peer_key(const struct gate *g, char *buf, size_t bufsz)
{
	const char *p = g->o.peer, *e;
	size_t n;

	if (p == NULL)
		return NULL;
	if (p[0] == '[' && (e = strchr(p, ']')) != NULL)
		n = (size_t)(e - p - 1), p++;
	else if ((e = strchr(p, ':')) != NULL && strchr(e + 1, ':') == NULL)
		n = (size_t)(e - p);
	else
		n = strlen(p);
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

/*
 * The state step (fedkit(7) 1.5 from `watch` on): one call to the store,
 * which decides by policy_decide and keeps what the decision changes in
 * the same transaction.  A new watch is then written to the watch list
 * file, durably, before the refusal goes out.
 */
static int
judge_state(struct gate *g, const char *domain, const struct partner_limits *l,
    const char *key, int64_t now, struct policy_facts *f,
    struct policy_decision *d, struct fed_err *err)
{
	struct state_req q;
	char pk[VLOG_PEER_MAX];

	memset(&q, 0, sizeof q);
	q.domain = domain;
	q.peer = g->o.peer;
	q.peer_key = peer_key(g, pk, sizeof pk);
	q.uri = key;
	q.discovered = l->discovered;
	q.uris_limited = l->uris_limited;
	q.max_uris = l->max_uris;
	q.rate = l->rate;
	q.watched = watchlist_lookup(&g->wl, domain, now, g->c->watch_expire,
	    NULL);
	/* A list that could not be read again vouches for nothing new;
	 * nor does one with bad lines: the line of a watched partner may be
	 * among them, and a bad hand edit must lift no watch. */
	q.list_read_ms = g->wl.bad_ms == 0 && g->wl.t.nbad == 0 ?
	    g->wl.checked_ms : 0;
	if (g->planning)
		return state_plan(g->st, &q, now);
	if (state_decide(g->st, &q, now, f, d, err) != 0)
		return -1;
	state_say_news(g);
	/* The batch is committed first: the file's fsync must not hold
	 * every other process's decisions (the store's write lock).  A
	 * pool keeps its watches itself, where every host sees them. */
	if (d->watch_now && !g->o.dry_run && !state_watch_kept(g->st) &&
	    (state_batch_commit(g->st, err) != 0 ||
	    watchlist_add(&g->wl, domain, now, "max_uris", err) != 0))
		return -1;
	return 0;
}

/* ---- one message ---- */

static void
rec_init(struct gate *g, struct gate_result *res, int64_t now)
{
	memset(&res->rec, 0, sizeof res->rec);
	res->rec.time_ms = now;
	if (g->o.peer != NULL) {
		res->rec.peer.p = g->o.peer;
		res->rec.peer.n = strlen(g->o.peer);
	}
	res->rec.code = -1;
	res->partner[0] = res->uri[0] = '\0';
	res->reply_len = 0;
	res->reply = g->reply;
	res->rule = "";
	res->close = 0;
}

/*
 * One more refusal for this connection: may it be answered?  A bucket of
 * max_refusals refilled over 10 s (one theoretical arrival time, as in
 * staterec.c), on the monotonic clock.  Whatever a partner sends, its
 * connection writes at most that many refusal lines at once and then one
 * every 10 s / max_refusals: the log cannot be flooded through it.
 */
#define REFUSAL_WINDOW_MS 10000

static int
refusal_take(struct gate *g)
{
	int64_t now = fed_mono_ms(), step, tat;
	unsigned n = g->c->max_refusals;

	g->refusals++;
	if (!g->o.bound_refusals || n == 0)
		return 1;
	step = REFUSAL_WINDOW_MS / n > 0 ? REFUSAL_WINDOW_MS / n : 1;
	tat = g->refusal_tat > now ? g->refusal_tat : now;
	if (tat - now > (int64_t)(n - 1) * step)
		return 0;
	g->refusal_tat = tat + step;
	g->flood_logged = 0;
	return 1;
}

/* The partner a URI names (From, as a rule): a normalized domain, or
 * NULL.  The log's partner field gets the host lowercased even when it is
 * no domain. */
static const char *
uri_partner(const struct sip_uri *u, char *dom, size_t domsz,
    struct gate_result *res)
{
	char host[DOMAIN_MAX + 2];
	int n;

	if (!u->is_sip || u->host.n == 0)
		return NULL;
	n = sip_uri_domain(u, host, sizeof host);
	if (n <= 0)
		return NULL;
	memcpy(res->partner, host, (size_t)n + 1);	/* n < sizeof host */
	res->rec.partner.p = res->partner;
	res->rec.partner.n = (size_t)n;
	if (u->host_is_ip ||
	    domain_normalize(host, (size_t)n, 0, dom, domsz, NULL) != 0)
		return NULL;
	return dom;
}

/* The key the distinct-URI count uses: the Request-URI's user@host, or
 * the To URI's when the Request-URI has no user part (fedgate(8) Distinct URIs
 * and the watch list). */
static int
uri_key(const struct sip_msg *m, char *buf, size_t bufsz)
{
	const struct sip_uri *u = m->ruri.user.n == 0 && m->to.is_sip &&
	    m->to.user.n > 0 ? &m->to : &m->ruri;

	if (!u->is_sip)
		return -1;
	return sip_uri_aor(u, buf, bufsz);
}

static void
make_reply(struct gate *g, const struct sip_msg *m, struct gate_result *res)
{
	const char *extra = NULL;

	if (res->d.code <= 0)
		return;
	/* A well-formed request always has what a response copies (the
	 * parser demands Via, From, To, Call-ID and CSeq): build it only
	 * for a caller that sends it. */
	if (!g->o.replies && res->d.reason != REASON_MALFORMED)
		return;
	if (res->d.code == 503)
		extra = res->d.verdict == VERDICT_ACCEPT ?
		    "Retry-After: 30\r\n" : "Retry-After: 1\r\n";
	else if (res->d.code == 405)
		extra = g->allow_hdr;
	res->reply_len = sip_reply_build(g->reply, g->replycap, m, res->d.code,
	    policy_code_phrase(res->d.code), extra);
	/* No response could be built: the log says `-` (fedkit(7) Verdict log). */
	if (res->reply_len == 0)
		res->d.code = -1;
}

static int
finish(struct gate *g, const struct sip_msg *m, struct gate_result *res,
    struct fed_err *err)
{
	res->rec.verdict = res->d.verdict;
	res->rec.reason = res->d.reason;
	/* Accepted, but there is nobody to pass it to: the partner hears
	 * 503 from us (never for an ACK, which nothing answers). */
	if (res->d.verdict == VERDICT_ACCEPT && g->upstream_down &&
	    !(m->method_id == SIP_M_ACK))
		res->d.code = 503;
	if ((res->d.verdict == VERDICT_REFUSE ||
	    res->d.verdict == VERDICT_LIMIT) && !res->d.watch_now &&
	    !refusal_take(g)) {
		/* Unanswered: the connection closes (fedkit(7) SECURITY).
		 * UDP has no connection to close, and one process serves
		 * every source: past the bound its refusals are dropped,
		 * unanswered and unlogged, until the bucket has room again,
		 * after one `flood` line a burst. */
		res->d.verdict = VERDICT_REFUSE;
		res->d.reason = REASON_FLOOD;
		res->d.code = -1;
		res->d.watch_now = 0;
		res->rec.verdict = res->d.verdict;
		res->rec.reason = res->d.reason;
		res->rec.code = -1;
		res->close = 1;
		res->refusals = g->refusals;
		if (g->flood_logged)
			return 0;
		g->flood_logged = 1;
	}
	if (res->d.verdict != VERDICT_OBSERVE && !res->close)
		make_reply(g, m, res);
	res->rec.code = res->d.code;
	if (res->rule[0] == '\0')
		res->rule = reason_name(res->d.reason);
	return log_line(g, &res->rec, err);
}

static int
judge_malformed(struct gate *g, const struct sip_msg *m,
    const struct sip_error *se, struct gate_result *res, struct fed_err *err)
{
	struct policy_facts f;
	char dom[DOMAIN_MAX + 2];

	memset(&f, 0, sizeof f);
	f.malformed = 1;
	f.malformed_code = m->is_request ? se->code : 0;
	f.is_ack = m->is_request && m->method_id == SIP_M_ACK;
	(void)uri_partner(&m->from, dom, sizeof dom, res);
	if (m->is_request)
		res->rec.method = m->method;
	res->rec.callid = m->call_id;
	res->d = policy_decide(&f);
	res->rule = se->reason != NULL ? se->reason : "malformed";
	return finish(g, m, res, err);
}

static int
observe(struct gate *g, const struct sip_msg *m, enum gate_side side,
    const char *partner, int64_t now, struct gate_result *res,
    struct fed_err *err)
{
	char dom[DOMAIN_MAX + 2];
	const char *domain = uri_partner(&m->from, dom, sizeof dom, res);
	const struct lcache *lc;
	int success, failure, ours;

	snprintf(res->method, sizeof res->method, "%d", m->status);
	res->rec.method.p = res->method;
	res->rec.method.n = strlen(res->method);
	res->rec.callid = m->call_id;
	res->d.verdict = VERDICT_OBSERVE;
	res->d.reason = REASON_RESPONSE;
	res->d.code = -1;
	res->d.watch_now = 0;
	/* A response to one of our own requests (From is ours) is the
	 * partner's answer: the partner is then the To domain.  It is
	 * logged, but only our server's answers count for suspicion. */
	ours = domain != NULL && conf_is_local(g->c, domain);
	if (ours && side != GATE_FROM_SERVER) {
		(void)uri_partner(&m->to, dom, sizeof dom, res);
		return finish(g, m, res, err);
	}
	if (side == GATE_FROM_PARTNER) {
		/* It answers nothing we sent: a forgery (fedkit(7)). */
		res->d.verdict = VERDICT_REFUSE;
		res->d.reason = REASON_SPOOF;
		res->rule = "a response from the partner's side to a request "
		    "that is not ours";
		return finish(g, m, res, err);
	}
	if (side == GATE_FROM_SERVER) {
		/* Counted for the partner whose request it answers, never
		 * for a From the partner chose. */
		domain = partner;
		if (domain != NULL) {
			snprintf(res->partner, sizeof res->partner, "%s",
			    domain);
			res->rec.partner.p = res->partner;
			res->rec.partner.n = strlen(res->partner);
		} else {
			res->partner[0] = '\0';
			res->rec.partner = FED_STR_NULL;
		}
	}
	success = m->status >= 200 && m->status < 300;
	failure = m->status >= 300 && m->status < 700 &&
	    g->c->failure_code[m->status];
	/* Only discovered partners are judged by their responses, and only
	 * those with state already: a response alone never creates a
	 * partner, or answers about made-up domains would fill the store. */
	if (domain != NULL && (success || failure) &&
	    g->c->federation == FED_OPEN &&
	    (lc = list_facts(g, domain)) != NULL && !lc->allowed &&
	    !lc->blocked &&
	    state_response(g->st, domain, now, success, err) != 0)
		return -1;
	return finish(g, m, res, err);
}

int
gate_response(struct gate *g, const struct sip_msg *m, enum gate_side side,
    const char *partner, int64_t now_ms, struct gate_result *res,
    struct fed_err *err)
{
	rec_init(g, res, now_ms);
	return observe(g, m, side, partner, now_ms, res, err);
}

/* The request's target: is it ours (and not rerouted elsewhere), and its
 * key for the distinct-URI count, or why there is none. */
static void
target_facts(struct gate *g, const struct sip_msg *m, struct policy_facts *f,
    struct gate_result *res)
{
	char rhost[DOMAIN_MAX + 2];
	int n;

	n = m->ruri.is_sip ? sip_uri_domain(&m->ruri, rhost, sizeof rhost) : -1;
	f->ruri_local = n > 0 && conf_is_local(g->c, rhost) &&
	    !sip_request_reroutes(m, is_local_cb, (void *)g->c);
	if (!m->ruri.is_sip) {
		/* tel: and the like name no user of ours (RFC 3261 21.4.17) */
		f->malformed = 1;
		f->malformed_code = 416;
		res->rule = "Request-URI is not a SIP URI";
	} else if (uri_key(m, res->uri, sizeof res->uri) < 0) {
		/* Longer than any log field: no key to count, so no way
		 * to apply the distinct-URI limit. */
		f->malformed = 1;
		f->malformed_code = 414;
		res->rule = m->ruri.user.n == 0 ? "To URI too long" :
		    "Request-URI too long";
	} else {
		res->rec.uri.p = res->uri;
		res->rec.uri.n = strlen(res->uri);
	}
}

/* Must the partner prove its name, and has it: an allow entry's edge=
 * is the proof where one is pinned; else `verify = srv` asks DNS later. */
static void
verify_facts(struct gate *g, const struct lcache *lc, const char *domain,
    int64_t now, struct policy_facts *f)
{
	if (lc->allowed && lc->edge[0] != '\0') {
		f->verify_needed = 1;
		f->verified = edges_peer_is(g->o.peer, lc->edge) ||
		    peer_names_any(g, domain, now, lc->edge);
	} else if (verify_mode(g) == VERIFY_SRV) {
		f->verify_needed = 1;
	}
}

static int
judge_request(struct gate *g, const struct sip_msg *m, int64_t now,
    struct gate_result *res, struct fed_err *err)
{
	struct policy_facts f;
	char dom[DOMAIN_MAX + 2];
	const char *domain;
	const struct lcache *lc = NULL;
	struct partner_limits l;

	memset(&f, 0, sizeof f);
	res->rec.method = m->method;
	res->rec.callid = m->call_id;
	f.mode = (int)g->c->federation;
	f.is_ack = m->method_id == SIP_M_ACK;
	domain = uri_partner(&m->from, dom, sizeof dom, res);
	if (domain == NULL)
		f.from_not_domain = 1;
	else
		f.from_local = conf_is_local(g->c, domain);
	target_facts(g, m, &f, res);
	if (domain != NULL && !f.malformed) {
		if ((lc = list_facts(g, domain)) == NULL) {
			fed_err_set(err, "list cache: %s", strerror(ENOMEM));
			return -1;
		}
		f.blocked = lc->blocked;
		f.allowed = lc->allowed;
	}
	f.method_ok = conf_method_allowed(g->c, m->method);
	f.scanner = m->user_agent.n > 0 && conf_ua_refused(g->c, m->user_agent);
	if (lc != NULL)
		verify_facts(g, lc, domain, now, &f);
	/* Decide without state first: most refusals need none.  Without
	 * list facts (no From domain, or malformed) the request is refused
	 * here: verification and limits are for a named partner. */
	res->d = policy_decide(&f);
	if (lc == NULL)
		return g->planning ? 0 : finish(g, m, res, err);
	if (res->d.reason == REASON_UNVERIFIED && !f.verified &&
	    !(lc->allowed && lc->edge[0] != '\0')) {
		f.verified = verified_by_srv(g, domain, now);
		res->d = policy_decide(&f);
	}
	if (res->d.verdict == VERDICT_ACCEPT) {
		l = partner_limits(g->c, lc->allowed, lc->rate, lc->max_uris);
		if (l.rate > 0 || l.uris_limited) {
			if (judge_state(g, domain, &l, res->uri, now, &f, &res->d,
			    err) != 0)
				return -1;
		}
	}
	return g->planning ? 0 : finish(g, m, res, err);
}

int
gate_plans(const struct gate *g)
{
	return state_plans(g->st);
}

int
gate_ticks_idle(const struct gate *g)
{
	return state_pooled(g->st);
}

int
gate_plan(struct gate *g, const struct sip_msg *m, int64_t now_ms,
    struct fed_err *err)
{
	int rc;

	if (!m->is_request)
		return 0;
	rec_init(g, &g->plan_res, now_ms);
	g->planning = 1;
	rc = judge_request(g, m, now_ms, &g->plan_res, err);
	g->planning = 0;
	return rc;
}

int
gate_plan_run(struct gate *g, int64_t now_ms, struct fed_err *err)
{
	int rc = state_plan_run(g->st, now_ms, err);

	state_say_news(g);
	return rc;
}

int
gate_message(struct gate *g, const struct sip_msg *m,
    const struct sip_error *se, int64_t now_ms, struct gate_result *res,
    struct fed_err *err)
{
	rec_init(g, res, now_ms);
	if (se != NULL)
		return judge_malformed(g, m, se, res, err);
	if (!m->is_request)
		return observe(g, m, GATE_CAPTURE, NULL, now_ms, res, err);
	return judge_request(g, m, now_ms, res, err);
}

int
gate_unframeable(struct gate *g, int64_t now_ms, struct fed_err *err)
{
	struct gate_result res;

	rec_init(g, &res, now_ms);
	res.d.verdict = VERDICT_REFUSE;
	res.d.reason = REASON_MALFORMED;
	res.d.code = -1;
	res.d.watch_now = 0;
	res.rec.verdict = res.d.verdict;
	res.rec.reason = res.d.reason;
	return log_line(g, &res.rec, err);
}

/* ---- fedlist check ---- */

/* Only what a URI may hold without breaking the request around it. */
int
gate_check_arg_ok(const char *s)
{
	if (strlen(s) > 512)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    *s == '<' || *s == '>' || *s == '"')
			return 0;
	return 1;
}

static const char *
check_method(const struct conf *c)
{
	struct fed_str m = { "MESSAGE", 7 };
	size_t i;

	if (conf_method_allowed(c, m))
		return "MESSAGE";
	for (i = 0; i < c->methods.n; i++)
		if (strcmp(c->methods.v[i], "ACK") != 0)
			return c->methods.v[i];
	return "MESSAGE";	/* nothing is allowed: refused as `method` */
}

/* The request `fedlist check FROM` stands for, in chk->msg: its length,
 * or -1 with *err. */
static int
check_request(struct gate *g, const char *from, struct gate_check *chk,
    struct fed_err *err)
{
	const char *local, *method, *scheme = "";
	char q[FED_QUOTE_MAX];
	int n;

	if (conf_check_local_domains(g->c, err) != 0)
		return -1;
	local = g->c->local_domains.v[0];
	if (local[0] == '.')
		local++;
	if (!gate_check_arg_ok(from)) {
		fed_quote(q, from, strlen(from));
		fed_err_set(err, "%s: not a domain or a SIP URI", q);
		return -1;
	}
	/* A bare domain is a partner's user; a URI is taken as written. */
	if (strncasecmp(from, "sip:", 4) != 0 &&
	    strncasecmp(from, "sips:", 5) != 0)
		scheme = "sip:check@";
	method = check_method(g->c);
	n = snprintf(chk->msg, sizeof chk->msg,
	    "%s sip:postmaster@%s SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS fedlist.invalid;branch=z9hG4bK-fedlist-check\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <%s%s>;tag=fedlist-check\r\n"
	    "To: <sip:postmaster@%s>\r\n"
	    "Call-ID: fedlist-check\r\n"
	    "CSeq: 1 %s\r\n"
	    "Content-Length: 0\r\n\r\n",
	    method, local, scheme, from, local, method);
	if (n < 0 || (size_t)n >= sizeof chk->msg) {
		fed_err_set(err, "check: request too long");
		return -1;
	}
	return n;
}

/* Which list entry decided, by the lookup list_facts made: by the
 * partner's domain, else by its edge's name. */
static void
check_entry(struct gate *g, struct gate_check *chk)
{
	struct list_entry e;
	char scratch[LISTDB_SCRATCH], dom[DOMAIN_MAX + 2];

	if (chk->res.partner[0] == '\0' ||
	    domain_normalize(chk->res.partner, strlen(chk->res.partner), 0,
	    dom, sizeof dom, NULL) != 0)
		return;
	if (chk->res.d.reason == REASON_BLOCKED &&
	    listdb_lookup(&g->block, dom, &e, scratch, sizeof scratch) == 1) {
		chk->list = "block";
		chk->path = g->c->block_list;
	} else if (chk->res.d.reason != REASON_BLOCKED &&
	    (listdb_lookup(&g->allow, dom, &e, scratch, sizeof scratch) == 1 ||
	    (peer_host(g, dom, sizeof dom) &&
	    listdb_lookup(&g->allow, dom, &e, scratch, sizeof scratch) == 1))) {
		chk->list = "allow";
		chk->path = g->c->allow_list;
	} else
		return;
	snprintf(chk->entry, sizeof chk->entry, "%s", e.name);
}

int
gate_check(struct gate *g, const char *from, int64_t now_ms,
    struct gate_check *chk, struct fed_err *err)
{
	struct sip_msg *m;
	struct sip_error se;
	size_t scanned = 0, used = 0;
	enum sip_frame_result fr;
	int n, rc;

	memset(chk, 0, sizeof *chk);
	if ((n = check_request(g, from, chk, err)) < 0)
		return -1;
	if ((m = malloc(sizeof *m)) == NULL) {
		fed_err_set(err, "check: %s", strerror(errno));
		return -1;
	}
	fr = sip_frame(chk->msg, (size_t)n, &g->c->limits, &scanned, &used, m,
	    &se);
	if (fr != SIP_FRAME_MESSAGE && fr != SIP_FRAME_MALFORMED) {
		fed_err_set(err, "check: the request cannot be framed: %s",
		    fr == SIP_FRAME_ERROR ? se.reason : "incomplete");
		free(m);
		return -1;
	}
	rc = gate_message(g, m, fr == SIP_FRAME_MALFORMED ? &se : NULL,
	    now_ms, &chk->res, err);
	free(m);
	if (rc != 0)
		return -1;
	check_entry(g, chk);
	return 0;
}

void
gate_set_peer(struct gate *g, const char *peer)
{
	struct list_entry e;
	char scratch[LISTDB_SCRATCH];
	int was;

	if (g->o.peer != NULL && strcmp(g->o.peer, peer) == 0)
		return;
	was = peer_allowed(g, &e, scratch, sizeof scratch);
	snprintf(g->peerbuf, sizeof g->peerbuf, "%s", peer);
	g->o.peer = g->peerbuf;
	/* Cached list answers depend on the peer only through its own name
	 * being allow-listed: drop them when that was or is so, not at every
	 * new sender (UDP changes peer at nearly every datagram). */
	if (was || peer_allowed(g, &e, scratch, sizeof scratch))
		g->gen++;
}

void
gate_set_upstream_down(struct gate *g)
{
	g->upstream_down = 1;
}
