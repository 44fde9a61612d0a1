/* score.c: fedstat's per-partner tally of the verdict log, states and score. */
#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "list.h"
#include "partner.h"
#include "policy.h"
#include "score.h"

static const char *const state_names[] = {
	[SCORE_OK] = "ok",
	[SCORE_NEAR] = "near",
	[SCORE_SUSPICIOUS] = "suspicious",
	[SCORE_WATCH] = "watch",
	[SCORE_BLOCKED] = "blocked",
};

const char *
score_state_name(enum score_state s)
{
	if ((unsigned)s > SCORE_BLOCKED)
		return "?";
	return state_names[s];
}

uint64_t
score_hash(const struct score *s, const char *p, size_t n)
{
	uint64_t h = fed_siphash(s->key, p, n);

	/* A key drawn per process keeps a log from crafting collisions
	 * (in the sets or the group index); 0 marks an empty slot. */
	return h != 0 ? h : 1;
}

/* ---- sets of hashes ---- */

static int
hset_grow(struct score_hset *s)
{
	uint32_t cap = s->cap ? s->cap * 2 : 16, i, j;
	uint64_t *v;

	if ((v = calloc(cap, sizeof *v)) == NULL)
		return -1;
	for (i = 0; i < s->cap; i++) {
		if (s->v[i] == 0)
			continue;
		for (j = (uint32_t)s->v[i] & (cap - 1); v[j] != 0;
		    j = (j + 1) & (cap - 1))
			;
		v[j] = s->v[i];
	}
	free(s->v);
	s->v = v;
	s->cap = cap;
	return 0;
}

/* 1 added, 0 already there, -1 out of memory. */
static int
hset_add(struct score_hset *s, uint64_t h)
{
	uint32_t j;

	/* gcc 12's analyzer drops hset_grow's store to s->v when s is in a
	 * group found at a variable index, and calls it leaked; it is not. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"	/* clang: no -Wanalyzer-* */
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
	if ((uint64_t)(s->n + 1) * 10 > (uint64_t)s->cap * 7 &&
	    hset_grow(s) != 0)
		return -1;
#pragma GCC diagnostic pop
	for (j = (uint32_t)h & (s->cap - 1); s->v[j] != 0;
	    j = (j + 1) & (s->cap - 1))
		if (s->v[j] == h)
			return 0;
	s->v[j] = h;
	s->n++;
	return 1;
}

/* ---- the tally ---- */

void
score_init(struct score *s, enum score_by by, const struct conf *c,
    struct listdb *allow, struct listdb *block, int64_t since_ms)
{
	memset(s, 0, sizeof *s);
	s->by = by;
	s->c = c;
	s->allow = allow;
	s->block = block;
	s->since_ms = since_ms;
	s->newest_ms = INT64_MIN;
	/* getrandom(2) does not fail for 16 bytes once the pool is ready;
	 * should it, the clock and the address still vary per process. */
	if (getrandom(s->key, sizeof s->key, 0) != (ssize_t)sizeof s->key) {
		s->key[0] = (uint64_t)(uintptr_t)s ^ 0x9e3779b97f4a7c15u;
		s->key[1] = (uint64_t)time(NULL) * 0xff51afd7ed558ccdu;
	}
}

static void
group_free(struct score_group *g)
{
	unsigned i;

	for (i = 0; i < g->npeer_names; i++)
		free(g->peer_name[i]);
	free(g->uris.v);
	free(g->peers.v);
	if (g->name != g->inl)
		free(g->name);
	free(g);
}

void
score_free(struct score *s)
{
	size_t i;

	for (i = 0; i < s->ng; i++)
		group_free(s->g[i]);
	free(s->g);
	free(s->tab);
	memset(s, 0, sizeof *s);
}

static void
tab_put(struct score *s, uint64_t h, uint32_t idx)
{
	uint32_t j;

	for (j = (uint32_t)h & (s->tabcap - 1); s->tab[j].idx != 0;
	    j = (j + 1) & (s->tabcap - 1))
		;
	s->tab[j].hash = h;
	s->tab[j].idx = idx;
}

static int
tab_grow(struct score *s)
{
	uint32_t cap = s->tabcap ? s->tabcap * 2 : 1024, i;
	struct score_slot *t;

	if ((t = calloc(cap, sizeof *t)) == NULL)
		return -1;
	free(s->tab);
	s->tab = t;
	s->tabcap = cap;
	for (i = 0; i < s->ng; i++)
		tab_put(s, s->g[i]->hash, i + 1);
	return 0;
}

/* The group named name[0..n) ("-" when n is 0), created if new; NULL
 * when out of memory, or (*full set) when SCORE_GROUPS_MAX are there. */
static struct score_group *
group_get(struct score *s, const char *name, size_t n, int *full)
{
	struct score_group *g, **ng;
	uint64_t h;
	uint32_t j;

	if (n == 0) {
		name = "-";
		n = 1;
	}
	h = fed_siphash(s->key, name, n);
	if (s->tabcap != 0)
		for (j = (uint32_t)h & (s->tabcap - 1); s->tab[j].idx != 0;
		    j = (j + 1) & (s->tabcap - 1)) {
			if (s->tab[j].hash != h)
				continue;
			g = s->g[s->tab[j].idx - 1];
			if (g->namelen == n && memcmp(g->name, name, n) == 0)
				return g;
		}
	if (s->ng >= SCORE_GROUPS_MAX) {
		*full = 1;
		return NULL;
	}
	if ((uint64_t)(s->ng + 1) * 2 > s->tabcap &&
	    (s->ng >= UINT32_MAX / 4 || tab_grow(s) != 0))
		return NULL;
	if (s->ng == s->gcap) {
		size_t cap = s->gcap ? s->gcap * 2 : 256;

		if ((ng = realloc(s->g, cap * sizeof *ng)) == NULL)
			return NULL;
		s->g = ng;
		s->gcap = cap;
	}
	/* Aligned so that a lookup's compare touches one cache line. */
	if ((g = aligned_alloc(64, (sizeof *g + 63) / 64 * 64)) == NULL)
		return NULL;
	memset(g, 0, sizeof *g);
	if (n < sizeof g->inl) {
		memcpy(g->inl, name, n);
		g->name = g->inl;
	} else if ((g->name = fed_strdup_n(name, n)) == NULL) {
		free(g);
		return NULL;
	}
	g->namelen = n;
	g->hash = h;
	g->allow_max_uris = LIST_UNSET;
	s->g[s->ng++] = g;
	tab_put(s, h, (uint32_t)s->ng);
	return g;
}

/* Note a peer (or, by peer, a partner) the group was seen with. */
static int
group_peer(const struct score *s, struct score_group *g, struct fed_str p)
{
	uint64_t h;
	int r;

	if (p.n == 0)
		return 0;
	/* The common case, as before: compared, not hashed. */
	if (p.n == g->last_peer_n && memcmp(p.p, g->last_peer_s, p.n) == 0)
		return 0;
	h = fed_siphash(s->key, p.p, p.n);
	if (h == g->last_peer)
		return 0;
	g->last_peer = h;
	if (p.n <= sizeof g->last_peer_s) {
		memcpy(g->last_peer_s, p.p, p.n);
		g->last_peer_n = (unsigned char)p.n;
	} else {
		g->last_peer_n = 0;
	}
	if (g->peers.n >= SCORE_PEERS_COUNT_MAX)
		return 0;
	if ((r = hset_add(&g->peers, h)) < 0)
		return -1;
	if (r == 1 && g->npeer_names < SCORE_PEER_NAMES) {
		if ((g->peer_name[g->npeer_names] = fed_strdup_n(p.p,
		    p.n)) == NULL)
			return -1;
		g->npeer_names++;
	}
	return 0;
}

static int
status_code(struct fed_str m)
{
	if (m.n != 3 || m.p[0] < '1' || m.p[0] > '6' || m.p[1] < '0' ||
	    m.p[1] > '9' || m.p[2] < '0' || m.p[2] > '9')
		return -1;
	return (m.p[0] - '0') * 100 + (m.p[1] - '0') * 10 + (m.p[2] - '0');
}

static void group_list(struct score *, struct score_group *);

static int64_t
slot_width(const struct score *s)
{
	int64_t w = (int64_t)s->c->report_period * 1000 / SCORE_SLOTS;

	return w > 0 ? w : 1;
}

/* Count a response in its slot of the report_period ring (a slot holds
 * one width of time; an older line than its slot holds is not counted
 * there: it is out of the window anyway). */
static void
win_put(struct score_group *g, int64_t w, int64_t t, uint32_t ok,
    uint32_t fail)
{
	int64_t start = t >= 0 ? t / w * w : -((-t + w - 1) / w) * w;
	uint64_t k = (uint64_t)(start / w) % SCORE_SLOTS;
	struct score_slot_resp *sl = &g->win[k];

	if (start > sl->start_ms || (sl->ok == 0 && sl->fail == 0)) {
		sl->start_ms = start;
		sl->ok = sl->fail = 0;
	} else if (start < sl->start_ms) {
		return;
	}
	sl->ok = sl->ok + ok < sl->ok ? UINT32_MAX : sl->ok + ok;
	sl->fail = sl->fail + fail < sl->fail ? UINT32_MAX : sl->fail + fail;
}

static void
win_add(struct score *s, struct score_group *g, int64_t t, uint32_t ok,
    uint32_t fail)
{
	win_put(g, slot_width(s), t, ok, fail);
}

/* The responses within report_period of the newest line read: the
 * slots that start after it began, as state.c counts. */
static void
win_sum(const struct score *s, const struct score_group *g, unsigned *ok,
    unsigned *fail)
{
	int64_t cutoff = s->newest_ms - (int64_t)s->c->report_period * 1000;
	uint64_t o = 0, f = 0;
	int i;

	for (i = 0; i < SCORE_SLOTS; i++)
		if ((g->win[i].ok != 0 || g->win[i].fail != 0) &&
		    g->win[i].start_ms > cutoff) {
			o += g->win[i].ok;
			f += g->win[i].fail;
		}
	*ok = o > UINT32_MAX ? UINT32_MAX : (unsigned)o;
	*fail = f > UINT32_MAX ? UINT32_MAX : (unsigned)f;
}

/* How many URI hashes a group keeps: twice its limit, at most
 * SCORE_URIS_MAX; past that only the state matters. */
static uint32_t
uri_cap(struct score *s, struct score_group *g)
{
	unsigned long limit;

	if (!g->listed)
		group_list(s, g);
	limit = score_uri_limit(s, g);
	if (limit == 0 || limit >= SCORE_URIS_MAX / 2)
		return SCORE_URIS_MAX;
	return (uint32_t)limit * 2;
}

/* The verdict of one line into its group's counts and windows. */
static void
count_verdict(struct score *s, struct score_group *g,
    const struct vlog_rec *r)
{
	int code;

	switch (r->verdict) {
	case VERDICT_ACCEPT:
		g->accepted++;
		g->allowlisted_last = r->reason == REASON_ALLOWLISTED;
		break;
	case VERDICT_LIMIT:
		g->limited++;
		if (r->reason == REASON_SUSPICIOUS) {
			g->l_suspicious++;
			if (r->time_ms > g->l_suspicious_ms)
				g->l_suspicious_ms = r->time_ms;
		}
		break;
	case VERDICT_REFUSE:
		g->refused++;
		g->r_watch += r->reason == REASON_WATCH;
		g->r_blocked += r->reason == REASON_BLOCKED;
		break;
	case VERDICT_OBSERVE:
		code = status_code(r->method);
		if (code >= 200 && code <= 299) {
			g->ok++;
			win_add(s, g, r->time_ms, 1, 0);
		} else if (code >= 300 && s->c->failure_code[code]) {
			g->fail++;
			win_add(s, g, r->time_ms, 0, 1);
		}
		break;
	}
}

/*
 * The line's request URI (of a request, up to the group's cap) and its
 * other side (the partner of a peer's group, the peer of a partner's)
 * into the group's sets: -1 when memory ran out.
 */
static int
remember_uri_and_peer(struct score *s, struct score_group *g,
    const struct vlog_rec *r)
{
	if (r->verdict != VERDICT_OBSERVE && r->uri.n > 0 && !g->uris_capped) {
		if (g->uris.n >= uri_cap(s, g))
			g->uris_capped = 1;
		else if (hset_add(&g->uris, fed_siphash(s->key, r->uri.p,
		    r->uri.n)) < 0)
			return -1;
	}
	return group_peer(s, g, s->by == SCORE_BY_PEER ? r->partner :
	    r->peer) != 0 ? -1 : 0;
}

struct score_group *
score_line(struct score *s, const char *line, size_t n, int *oom,
    struct fed_err *err)
{
	struct vlog_rec r;
	struct score_group *g;
	int full = 0;

	*oom = 0;
	s->lines++;
	if (vlog_parse(line, n, &r, err) != 0) {
		s->malformed++;
		return NULL;
	}
	if (r.time_ms < s->since_ms) {
		s->skipped++;
		err->msg[0] = '\0';
		return NULL;
	}
	s->line_ms = r.time_ms;
	if (r.time_ms > s->newest_ms)
		s->newest_ms = r.time_ms;
	if ((g = s->by == SCORE_BY_PEER ? group_get(s, r.peer.p, r.peer.n,
	    &full) : group_get(s, r.partner.p, r.partner.n, &full)) == NULL) {
		if (!full)
			goto oom;
		/* Counted as malformed: reported, never fatal. */
		s->malformed++;
		fed_err_set(err, "more than %u %s: line not counted",
		    SCORE_GROUPS_MAX, s->by == SCORE_BY_PEER ? "peers" :
		    "partners");
		return NULL;
	}
	g->messages++;
	if (g->first_ms == 0 || r.time_ms < g->first_ms)
		g->first_ms = r.time_ms;
	if (r.time_ms > g->last_ms)
		g->last_ms = r.time_ms;
	count_verdict(s, g, &r);
	if (remember_uri_and_peer(s, g, &r) != 0)
		goto oom;
	return g;
oom:
	*oom = 1;
	fed_err_set(err, "tally: %s", strerror(ENOMEM));
	return NULL;
}

/* ---- states and score ---- */

static void
group_list(struct score *s, struct score_group *g)
{
	struct list_entry e;
	char scratch[LISTDB_SCRATCH], dom[DOMAIN_MAX + 2];

	g->listed = 1;
	g->on_block = g->on_allow = 0;
	g->allow_max_uris = LIST_UNSET;
	/* Peers are no domains; the log's partner field is one unless it
	 * is `-` or escaped junk, which no list can name. */
	if (s->by != SCORE_BY_PARTNER ||
	    domain_normalize(g->name, g->namelen, 0, dom, sizeof dom, NULL) != 0)
		return;
	if (s->block != NULL)
		g->on_block = listdb_lookup(s->block, dom, &e, scratch,
		    sizeof scratch) == 1;
	if (s->allow != NULL && listdb_lookup(s->allow, dom, &e, scratch,
	    sizeof scratch) == 1) {
		g->on_allow = 1;
		g->allow_max_uris = e.max_uris;
	}
}

void
score_relist(struct score *s)
{
	size_t i;

	for (i = 0; i < s->ng; i++)
		s->g[i]->listed = 0;
}

int
score_allowlisted(const struct score *s, const struct score_group *g)
{
	/* The log's word only when the lists could not be read: an old
	 * `accept allowlisted` line must not outlive the entry. */
	if (s->allow == NULL && s->block == NULL)
		return g->allowlisted_last;
	return g->on_allow && !g->on_block;
}

/* The limits fedgate holds the group's partner to: an allow-listed one
 * to its entry's own max_uris only. */
static struct partner_limits
group_limits(const struct score *s, const struct score_group *g)
{
	return partner_limits(s->c, score_allowlisted(s, g), LIST_UNSET,
	    g->allow_max_uris);
}

unsigned long
score_uri_limit(const struct score *s, const struct score_group *g)
{
	struct partner_limits l = group_limits(s, g);

	return l.uris_limited ? l.max_uris : 0;
}

double
score_fail_share(const struct score_group *g)
{
	if (g->ok + g->fail == 0)
		return -1;
	return (double)g->fail / (double)(g->ok + g->fail);
}

void
score_eval(struct score *s, struct score_group *g)
{
	const struct conf *c = s->c;
	struct partner_limits l;
	struct partner_status ps;
	unsigned long limit;
	unsigned ok, fail;
	double share;
	int judged, recent;

	if (!g->listed)
		group_list(s, g);
	/* fedgate judges by the responses of the last report_period; the
	 * log, not the store, says who is watched. */
	win_sum(s, g, &ok, &fail);
	l = group_limits(s, g);
	ps = partner_status(c, &l, 0, 1, g->uris.n, ok, fail);
	limit = l.uris_limited ? l.max_uris : 0;
	/* fedgate judges only discovered partners by their responses. */
	judged = l.discovered;
	/* fedgate keeps a partner suspicious only while its failure share is
	 * high within report_period: a `limit suspicious` line counts while
	 * it is within report_period of the newest line read. */
	recent = g->l_suspicious > 0 && g->l_suspicious_ms > s->newest_ms -
	    (int64_t)c->report_period * 1000;
	if (g->r_blocked > 0 || g->on_block)
		g->state = SCORE_BLOCKED;
	else if (g->r_watch > 0)
		g->state = SCORE_WATCH;
	else if (recent || ps.suspicious)
		g->state = SCORE_SUSPICIOUS;
	else if (ps.near || (judged && policy_suspicious(
	    ok, fail, c->suspect_min_responses * POLICY_NEAR_PERCENT / 100,
	    c->suspect_fail_share * POLICY_NEAR_PERCENT / 100)))
		g->state = SCORE_NEAR;
	else
		g->state = SCORE_OK;
	share = score_fail_share(g);
	g->score = (double)g->refused + (double)g->limited / 2 +
	    (share > 0 ? (double)g->fail * share : 0) +
	    (limit > 0 ? 100.0 * g->uris.n / (double)limit : 0);
}

static int
cmp_group(const void *a, const void *b)
{
	const struct score_group *x = *(struct score_group *const *)a;
	const struct score_group *y = *(struct score_group *const *)b;
	size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
	int r;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if ((r = memcmp(x->name, y->name, n)) != 0)
		return r;
	return x->namelen < y->namelen ? -1 : x->namelen > y->namelen;
}

void
score_sort(struct score *s)
{
	size_t i;

	for (i = 0; i < s->ng; i++)
		score_eval(s, s->g[i]);
	if (s->ng > 1)
		qsort(s->g, s->ng, sizeof *s->g, cmp_group);
	/* The order changed: rebuild the index. */
	if (s->tabcap != 0) {
		memset(s->tab, 0, s->tabcap * sizeof *s->tab);
		for (i = 0; i < s->ng; i++)
			tab_put(s, s->g[i]->hash, (uint32_t)i + 1);
	}
}

/* ---- saving and loading the tally (fedstat --resume) ---- */

int
score_save(const struct score *s, FILE *fp)
{
	const struct score_group *g;
	size_t i;
	uint32_t j;
	unsigned k;

	fprintf(fp, "key\t%016" PRIx64 "%016" PRIx64 "\n", s->key[0], s->key[1]);
	fprintf(fp, "lines\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRId64
	    "\n", s->lines, s->skipped, s->malformed, s->newest_ms);
	for (i = 0; i < s->ng; i++) {
		g = s->g[i];
		fprintf(fp, "group\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		    "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%"
		    PRIu64 "\t%" PRIu64 "\t%d\t%d\t%" PRId64 "\t%" PRId64 "\t%"
		    PRId64 "\n",
		    g->name, g->messages, g->accepted, g->limited, g->refused,
		    g->ok, g->fail, g->r_watch, g->r_blocked, g->l_suspicious,
		    g->allowlisted_last, g->uris_capped, g->first_ms,
		    g->last_ms, g->l_suspicious_ms);
		for (k = 0; k < SCORE_SLOTS; k++)
			if (g->win[k].ok != 0 || g->win[k].fail != 0)
				fprintf(fp, "win\t%" PRId64 "\t%" PRIu32 "\t%"
				    PRIu32 "\n", g->win[k].start_ms,
				    g->win[k].ok, g->win[k].fail);
		for (k = 0; k < g->npeer_names; k++)
			fprintf(fp, "peername\t%s\n", g->peer_name[k]);
		for (j = 0; j < g->peers.cap; j++)
			if (g->peers.v[j] != 0)
				fprintf(fp, "peer\t%016" PRIx64 "\n",
				    g->peers.v[j]);
		for (j = 0; j < g->uris.cap; j++)
			if (g->uris.v[j] != 0)
				fprintf(fp, "uri\t%016" PRIx64 "\n", g->uris.v[j]);
	}
	return ferror(fp) ? -1 : 0;
}

/* At most 19 digits, as the saved tallies have always been read. */
static int
num_u64(struct fed_str f, uint64_t *v)
{
	if (f.n > 19)
		return -1;
	return fed_parse_u64(f.p, f.n, UINT64_MAX, v);
}

static int
num_i64(struct fed_str f, int64_t *v)
{
	uint64_t x;
	int neg = f.n > 0 && f.p[0] == '-';

	if (neg) {
		f.p++;
		f.n--;
	}
	if (num_u64(f, &x) != 0)
		return -1;
	/* Range first: -(int64_t)x overflows for 2^63, the cast above it. */
	if (!neg && x > (uint64_t)INT64_MAX)
		return -1;
	if (neg && x > (uint64_t)INT64_MAX + 1)
		return -1;
	if (neg)
		*v = x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x;
	else
		*v = (int64_t)x;
	return 0;
}

/* A name as vlog_parse takes a field: printable ASCII (no tab), every
 * backslash starting a valid escape, not too long. */
static int
valid_name(struct fed_str f)
{
	size_t i;

	if (f.n == 0 || f.n > VLOG_LINE_MAX)
		return -1;
	for (i = 0; i < f.n; i++) {
		unsigned char c = (unsigned char)f.p[i];

		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '\\')
			continue;
		if (i + 1 < f.n && (f.p[i + 1] == '\\' || f.p[i + 1] == 't' ||
		    f.p[i + 1] == 'n' || f.p[i + 1] == 'r')) {
			i++;
			continue;
		}
		if (i + 3 < f.n && f.p[i + 1] == 'x' &&
		    isxdigit((unsigned char)f.p[i + 2]) &&
		    isxdigit((unsigned char)f.p[i + 3])) {
			i += 3;
			continue;
		}
		return -1;
	}
	return 0;
}

static int
hex_u64(struct fed_str f, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (f.n != 16)
		return -1;
	for (i = 0; i < 16; i++) {
		char ch = f.p[i];

		if (ch >= '0' && ch <= '9')
			x = x << 4 | (uint64_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			x = x << 4 | (uint64_t)(ch - 'a' + 10);
		else
			return -1;
	}
	*v = x;
	return x != 0 ? 0 : -1;
}

/*
 * How one saved record loaded: the line is no tally line, memory ran
 * out, or the loader said why itself.
 */
enum load_rc { LOAD_OK, LOAD_BAD, LOAD_OOM, LOAD_SAID };

/* "key": before any group, the sets hold hashes under it. */
static enum load_rc
load_key(struct score *s, const struct fed_str *f, size_t nf)
{
	struct fed_str half;

	if (nf != 2 || f[1].n != 32 || s->ng != 0)
		return LOAD_BAD;
	half.p = f[1].p;
	half.n = 16;
	if (hex_u64(half, &s->key[0]) != 0)
		return LOAD_BAD;
	half.p += 16;
	return hex_u64(half, &s->key[1]) != 0 ? LOAD_BAD : LOAD_OK;
}

/* "lines": what was read of the log, and its newest time. */
static enum load_rc
load_lines(struct score *s, const struct fed_str *f, size_t nf)
{
	if (nf != 5 || num_u64(f[1], &s->lines) || num_u64(f[2],
	    &s->skipped) || num_u64(f[3], &s->malformed) ||
	    num_i64(f[4], &s->newest_ms))
		return LOAD_BAD;
	return LOAD_OK;
}

/* "group": its counts, flags and times; the records after it are its. */
static enum load_rc
load_group(struct score *s, const struct fed_str *f, size_t nf,
    struct fed_err *err)
{
	struct score_group *g;
	uint64_t u[9], flag[2];
	int i, full = 0;

	if (nf != 16 || valid_name(f[1]) != 0)
		return LOAD_BAD;
	for (i = 0; i < 9; i++)
		if (num_u64(f[2 + i], &u[i]) != 0)
			return LOAD_BAD;
	if (num_u64(f[11], &flag[0]) || num_u64(f[12], &flag[1]) ||
	    flag[0] > 1 || flag[1] > 1)
		return LOAD_BAD;
	if ((g = group_get(s, f[1].p, f[1].n, &full)) == NULL) {
		if (!full)
			return LOAD_OOM;
		fed_err_set(err, "more than %u groups", SCORE_GROUPS_MAX);
		errno = EINVAL;
		return LOAD_SAID;
	}
	if (g->messages != 0) {
		fed_err_set(err, "group saved twice");
		return LOAD_SAID;
	}
	g->messages = u[0];
	g->accepted = u[1];
	g->limited = u[2];
	g->refused = u[3];
	g->ok = u[4];
	g->fail = u[5];
	g->r_watch = u[6];
	g->r_blocked = u[7];
	g->l_suspicious = u[8];
	g->allowlisted_last = (int)flag[0];
	g->uris_capped = (int)flag[1];
	if (num_i64(f[13], &g->first_ms) || num_i64(f[14], &g->last_ms) ||
	    num_i64(f[15], &g->l_suspicious_ms))
		return LOAD_BAD;
	return LOAD_OK;
}

/* "win": one window of the group's, re-aligned to the report_period. */
static enum load_rc
load_win(struct score *s, struct score_group *g, const struct fed_str *f,
    size_t nf)
{
	uint64_t u[2];
	int64_t start;

	if (nf != 4 || num_i64(f[1], &start) || num_u64(f[2], &u[0]) ||
	    num_u64(f[3], &u[1]) || u[0] > UINT32_MAX || u[1] > UINT32_MAX)
		return LOAD_BAD;
	win_add(s, g, start, (uint32_t)u[0], (uint32_t)u[1]);
	return LOAD_OK;
}

/* "peername", "peer", "uri": one name or hash of the group's. */
static enum load_rc
load_member(struct score_group *g, const struct fed_str *f)
{
	struct score_hset *set;
	uint64_t h;

	if (fed_str_eq(f[0], "peername")) {
		if (g->npeer_names >= SCORE_PEER_NAMES || valid_name(f[1]) != 0)
			return LOAD_BAD;
		if ((g->peer_name[g->npeer_names] = fed_strdup_n(f[1].p,
		    f[1].n)) == NULL)
			return LOAD_OOM;
		g->npeer_names++;
		return LOAD_OK;
	}
	if (!fed_str_eq(f[0], "peer") && !fed_str_eq(f[0], "uri"))
		return LOAD_BAD;
	set = f[0].p[0] == 'p' ? &g->peers : &g->uris;
	if (hex_u64(f[1], &h) != 0)
		return LOAD_BAD;
	if (set->n >= (set == &g->uris ? SCORE_URIS_MAX :
	    SCORE_PEERS_COUNT_MAX))
		return LOAD_BAD;
	return hset_add(set, h) < 0 ? LOAD_OOM : LOAD_OK;
}

/* One record of the saved tally, by its first field. */
static enum load_rc
load_record(struct score *s, const struct fed_str *f, size_t nf,
    struct fed_err *err)
{
	struct score_group *g;

	if (fed_str_eq(f[0], "key"))
		return load_key(s, f, nf);
	if (fed_str_eq(f[0], "lines"))
		return load_lines(s, f, nf);
	if (fed_str_eq(f[0], "group"))
		return load_group(s, f, nf, err);
	/* The other records belong to the group before them. */
	if (s->ng == 0)
		return LOAD_BAD;
	g = s->g[s->ng - 1];
	if (fed_str_eq(f[0], "win"))
		return load_win(s, g, f, nf);
	return nf != 2 ? LOAD_BAD : load_member(g, f);
}

int
score_load_line(struct score *s, const char *line, size_t n,
    struct fed_err *err)
{
	struct fed_str f[17];
	size_t nf = fed_split_tabs(line, n, f, 17);
	enum load_rc rc = nf > 17 ? LOAD_BAD : load_record(s, f, nf, err);

	if (rc == LOAD_BAD) {
		fed_err_set(err, "not a saved tally line");
		errno = EINVAL;
	} else if (rc == LOAD_OOM) {
		fed_err_set(err, "%s", strerror(ENOMEM));
		errno = ENOMEM;
	}
	return rc == LOAD_OK ? 0 : -1;
}
