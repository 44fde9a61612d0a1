/* score.c: fedstat's per-partner tally of the verdict log, states and score. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"
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

/*
 * A fast 64-bit hash of a short string: eight bytes a step, each mixed by
 * a multiply, and a final avalanche (MurmurHash3's fmix64).  The sets key
 * on it alone, so it must spread well; it need not resist an attacker,
 * who could only make two of their own URIs count once.
 */
static uint64_t
hash64(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ (n * 0xff51afd7ed558ccdu), w;

	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x87c37b91114253d5u;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0x87c37b91114253d5u;
		h ^= h >> 29;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53u;
	h ^= h >> 33;
	return h != 0 ? h : 1;	/* 0 marks an empty slot */
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

	if ((uint64_t)(s->n + 1) * 10 > (uint64_t)s->cap * 7 &&
	    hset_grow(s) != 0)
		return -1;
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

/* The group named name[0..n) ("-" when n is 0), created if new. */
static struct score_group *
group_get(struct score *s, const char *name, size_t n)
{
	struct score_group *g, **ng;
	uint64_t h;
	uint32_t j;

	if (n == 0) {
		name = "-";
		n = 1;
	}
	h = hash64(name, n);
	if (s->tabcap != 0)
		for (j = (uint32_t)h & (s->tabcap - 1); s->tab[j].idx != 0;
		    j = (j + 1) & (s->tabcap - 1)) {
			if (s->tab[j].hash != h)
				continue;
			g = s->g[s->tab[j].idx - 1];
			if (g->namelen == n && memcmp(g->name, name, n) == 0)
				return g;
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
group_peer(struct score_group *g, struct fed_str p)
{
	uint64_t h;
	int r;

	if (p.n == 0)
		return 0;
	h = hash64(p.p, p.n);
	if (h == g->last_peer)		/* the common case: as before */
		return 0;
	g->last_peer = h;
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

struct score_group *
score_line(struct score *s, const char *line, size_t n, int *oom,
    struct fed_err *err)
{
	struct vlog_rec r;
	struct score_group *g;
	int code;

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
	if ((g = s->by == SCORE_BY_PEER ? group_get(s, r.peer.p, r.peer.n) :
	    group_get(s, r.partner.p, r.partner.n)) == NULL)
		goto oom;
	g->messages++;
	if (g->first_ms == 0 || r.time_ms < g->first_ms)
		g->first_ms = r.time_ms;
	if (r.time_ms > g->last_ms)
		g->last_ms = r.time_ms;
	switch (r.verdict) {
	case VERDICT_ACCEPT:
		g->accepted++;
		g->allowlisted_last = r.reason == REASON_ALLOWLISTED;
		break;
	case VERDICT_LIMIT:
		g->limited++;
		g->l_suspicious += r.reason == REASON_SUSPICIOUS;
		break;
	case VERDICT_REFUSE:
		g->refused++;
		g->r_watch += r.reason == REASON_WATCH;
		g->r_blocked += r.reason == REASON_BLOCKED;
		break;
	case VERDICT_OBSERVE:
		code = status_code(r.method);
		if (code >= 200 && code <= 299)
			g->ok++;
		else if (code >= 300 && s->c->failure_code[code])
			g->fail++;
		break;
	}
	if (r.verdict != VERDICT_OBSERVE && r.uri.n > 0 && !g->uris_capped) {
		if (g->uris.n >= SCORE_URIS_MAX)
			g->uris_capped = 1;
		else if (hset_add(&g->uris, hash64(r.uri.p, r.uri.n)) < 0)
			goto oom;
	}
	if (group_peer(g, s->by == SCORE_BY_PEER ? r.partner : r.peer) != 0)
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

static int
allowlisted(const struct score_group *g)
{
	return (g->on_allow || g->allowlisted_last) && !g->on_block;
}

unsigned long
score_uri_limit(const struct score *s, const struct score_group *g)
{
	if (!allowlisted(g))
		return s->c->max_uris;
	/* An allow-listed partner is held to its entry's own limit only. */
	return g->allow_max_uris >= 0 ? (unsigned long)g->allow_max_uris : 0;
}

double
score_fail_share(const struct score_group *g)
{
	if (g->ok + g->fail == 0)
		return -1;
	return (double)g->fail / (double)(g->ok + g->fail);
}

static unsigned
clamp_u(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (unsigned)v;
}

void
score_eval(struct score *s, struct score_group *g)
{
	const struct conf *c = s->c;
	unsigned long limit;
	unsigned ok = clamp_u(g->ok), fail = clamp_u(g->fail);
	double share;
	int judged;

	if (!g->listed)
		group_list(s, g);
	limit = score_uri_limit(s, g);
	/* fedgate judges only discovered partners by their responses. */
	judged = !allowlisted(g);
	if (g->r_blocked > 0 || g->on_block)
		g->state = SCORE_BLOCKED;
	else if (g->r_watch > 0)
		g->state = SCORE_WATCH;
	else if (g->l_suspicious > 0 || (judged && policy_suspicious(ok, fail,
	    c->suspect_min_responses, c->suspect_fail_share)))
		g->state = SCORE_SUSPICIOUS;
	else if (policy_near(g->uris.n, limit) || (judged && policy_suspicious(
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

	fprintf(fp, "lines\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n",
	    s->lines, s->skipped, s->malformed);
	for (i = 0; i < s->ng; i++) {
		g = s->g[i];
		fprintf(fp, "group\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		    "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%"
		    PRIu64 "\t%" PRIu64 "\t%d\t%d\t%" PRId64 "\t%" PRId64 "\n",
		    g->name, g->messages, g->accepted, g->limited, g->refused,
		    g->ok, g->fail, g->r_watch, g->r_blocked, g->l_suspicious,
		    g->allowlisted_last, g->uris_capped, g->first_ms,
		    g->last_ms);
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

/* Split a saved line at tabs into at most max fields. */
static int
split(const char *line, size_t n, struct fed_str *f, int max)
{
	int nf = 0;
	size_t start = 0;

	for (;;) {
		const char *tab = memchr(line + start, '\t', n - start);
		size_t end = tab != NULL ? (size_t)(tab - line) : n;

		if (nf == max)
			return -1;
		f[nf++] = (struct fed_str){ line + start, end - start };
		if (tab == NULL)
			return nf;
		start = end + 1;
	}
}

static int
num_u64(struct fed_str f, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (f.n == 0 || f.n > 19)
		return -1;
	for (i = 0; i < f.n; i++) {
		if (f.p[i] < '0' || f.p[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(f.p[i] - '0');
	}
	*v = x;
	return 0;
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
	*v = neg ? -(int64_t)x : (int64_t)x;
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

int
score_load_line(struct score *s, const char *line, size_t n,
    struct fed_err *err)
{
	struct fed_str f[16];
	struct score_group *g;
	uint64_t u[9], h, flag[2];
	int nf, i;

	if ((nf = split(line, n, f, 16)) < 1)
		goto bad;
	if (fed_str_eq(f[0], "lines")) {
		if (nf != 4 || num_u64(f[1], &s->lines) || num_u64(f[2],
		    &s->skipped) || num_u64(f[3], &s->malformed))
			goto bad;
		return 0;
	}
	if (fed_str_eq(f[0], "group")) {
		if (nf != 15 || f[1].n == 0)
			goto bad;
		for (i = 0; i < 9; i++)
			if (num_u64(f[2 + i], &u[i]) != 0)
				goto bad;
		if (num_u64(f[11], &flag[0]) || num_u64(f[12], &flag[1]) ||
		    flag[0] > 1 || flag[1] > 1)
			goto bad;
		if ((g = group_get(s, f[1].p, f[1].n)) == NULL)
			goto oom;
		if (g->messages != 0) {
			fed_err_set(err, "group saved twice");
			return -1;
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
		if (num_i64(f[13], &g->first_ms) || num_i64(f[14], &g->last_ms))
			goto bad;
		return 0;
	}
	/* The other records belong to the group before them. */
	if (s->ng == 0 || nf != 2)
		goto bad;
	g = s->g[s->ng - 1];
	if (fed_str_eq(f[0], "peername")) {
		if (g->npeer_names >= SCORE_PEER_NAMES || f[1].n == 0)
			goto bad;
		if ((g->peer_name[g->npeer_names] = fed_strdup_n(f[1].p,
		    f[1].n)) == NULL)
			goto oom;
		g->npeer_names++;
		return 0;
	}
	if (fed_str_eq(f[0], "peer") || fed_str_eq(f[0], "uri")) {
		struct score_hset *set = f[0].p[0] == 'p' ? &g->peers : &g->uris;

		if (hex_u64(f[1], &h) != 0)
			goto bad;
		if (set->n >= (set == &g->uris ? SCORE_URIS_MAX :
		    SCORE_PEERS_COUNT_MAX))
			goto bad;
		if (hset_add(set, h) < 0)
			goto oom;
		return 0;
	}
bad:
	fed_err_set(err, "not a saved tally line");
	return -1;
oom:
	fed_err_set(err, "%s", strerror(ENOMEM));
	return -1;
}
