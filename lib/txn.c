/* txn.c: which partner each request fedgate relayed to our server came from. */
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn.h"

#define NIL		UINT32_MAX
#define MAGIC		"z9hG4bK"	/* RFC 3261 8.1.1.7 */
#define GROW_FIRST	16

/* A transaction key as kept: its first TXN_KEY_MAX bytes, its length and
 * a hash of all of it, which stands for the rest of a longer one. */
struct key {
	uint64_t h;
	size_t len;
	unsigned char b[TXN_KEY_MAX];
};

struct txn {
	struct key k;
	uint64_t seq;		/* order of recording: the older answers first */
	int64_t t;		/* recorded, or refreshed by a provisional */
	uint32_t next;		/* hash chain, or the free list */
	uint32_t older, newer;	/* the age list */
	char partner[DOMAIN_MAX + 1];
};

struct txn_table {
	struct txn *e;
	uint32_t cap, max, n;
	uint32_t *bucket;
	uint32_t nbucket;	/* a power of two */
	uint32_t oldest, newest, free;
	uint64_t seed[2], seq;
	int64_t ttl;
};

/* Add n bytes to the key: kept while there is room, and hashed, each
 * part chained into the last through the table's SipHash key. */
static void
kput(const struct txn_table *t, struct key *k, const void *p, size_t n)
{
	uint64_t sk[2];

	if (k->len < TXN_KEY_MAX)
		memcpy(k->b + k->len, p, n < TXN_KEY_MAX - k->len ? n :
		    TXN_KEY_MAX - k->len);
	k->len += n;
	sk[0] = t->seed[0] ^ k->h;
	sk[1] = t->seed[1] ^ n;
	k->h = fed_siphash(sk, p, n);
}

/*
 * The transaction key of m (RFC 3261 17.2.3).  The hash is keyed
 * (SipHash under a secret of the table's), so a partner cannot choose
 * branches that share a chain.
 * Two keys with the same hash, length and first TXN_KEY_MAX bytes are
 * taken for the same: that needs two long keys whose 64-bit hashes
 * collide, and then mixes up only two transactions this one table
 * recorded, both from the same connection (or, over UDP, with our
 * branches, the same sender), whose partners that sender speaks for.
 */
static void
key_of(const struct txn_table *t, const struct sip_msg *m,
    struct fed_str branch, struct key *k)
{
	char num[16];
	int n;

	memset(k, 0, sizeof *k);
	if (branch.n == 0)
		branch = m->via_branch;
	if (branch.n >= sizeof MAGIC - 1 &&
	    memcmp(branch.p, MAGIC, sizeof MAGIC - 1) == 0) {
		kput(t, k, "b", 1);
		kput(t, k, branch.p, branch.n);
	} else {
		n = snprintf(num, sizeof num, "%lu", (unsigned long)m->cseq);
		kput(t, k, "c", 1);
		kput(t, k, m->call_id.p, m->call_id.n);
		kput(t, k, "", 1);
		kput(t, k, num, (size_t)n);
	}
	kput(t, k, "", 1);
	kput(t, k, m->cseq_method.p, m->cseq_method.n);
}

static int
key_eq(const struct key *a, const struct key *b)
{
	return a->h == b->h && a->len == b->len && memcmp(a->b, b->b,
	    a->len < TXN_KEY_MAX ? a->len : TXN_KEY_MAX) == 0;
}

static uint32_t
slot(const struct txn_table *t, uint64_t h)
{
	return (uint32_t)(h ^ h >> 32) & (t->nbucket - 1);
}

struct txn_table *
txn_new(unsigned max, int64_t ttl_ms)
{
	struct txn_table *t;
	uint32_t i;

	if (max == 0 || max > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	t->max = max;
	t->ttl = ttl_ms;
	t->oldest = t->newest = t->free = NIL;
	for (t->nbucket = 1; t->nbucket < max; t->nbucket *= 2)
		;
	if ((t->bucket = calloc(t->nbucket, sizeof *t->bucket)) == NULL) {
		free(t);
		return NULL;
	}
	for (i = 0; i < t->nbucket; i++)
		t->bucket[i] = NIL;
	/* 16 bytes from getrandom(2) do not fail once the pool is ready;
	 * should they, the table still works, only its chains are then
	 * predictable. */
	if (getrandom(t->seed, sizeof t->seed, GRND_NONBLOCK) !=
	    (ssize_t)sizeof t->seed) {
		t->seed[0] = (uint64_t)(uintptr_t)t ^ (uint64_t)ttl_ms;
		t->seed[1] = (uint64_t)(uintptr_t)&t;
	}
	return t;
}

void
txn_free(struct txn_table *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t->bucket);
	free(t);
}

unsigned
txn_count(const struct txn_table *t)
{
	return t->n;
}

static void
age_unlink(struct txn_table *t, uint32_t i)
{
	struct txn *x = &t->e[i];

	if (x->older != NIL)
		t->e[x->older].newer = x->newer;
	else
		t->oldest = x->newer;
	if (x->newer != NIL)
		t->e[x->newer].older = x->older;
	else
		t->newest = x->older;
}

static void
age_push(struct txn_table *t, uint32_t i)
{
	struct txn *x = &t->e[i];

	x->newer = NIL;
	x->older = t->newest;
	if (t->newest != NIL)
		t->e[t->newest].newer = i;
	else
		t->oldest = i;
	t->newest = i;
}

/* Take entry i out of its chain and the age list; the caller frees it
 * or reuses it. */
static void
unlink_one(struct txn_table *t, uint32_t i)
{
	uint32_t *pp = &t->bucket[slot(t, t->e[i].k.h)];

	while (*pp != i)
		pp = &t->e[*pp].next;
	*pp = t->e[i].next;
	age_unlink(t, i);
	t->n--;
}

static void
release(struct txn_table *t, uint32_t i)
{
	unlink_one(t, i);
	t->e[i].next = t->free;
	t->free = i;
}

static void
expire(struct txn_table *t, int64_t now)
{
	while (t->oldest != NIL && now - t->e[t->oldest].t >= t->ttl)
		release(t, t->oldest);
}

/* A free entry: from the free list, by growing, or the oldest held. */
static int
take(struct txn_table *t, uint32_t *ip)
{
	struct txn *ne;
	uint32_t cap, i;

	if (t->free == NIL && t->cap < t->max) {
		cap = t->cap == 0 ? GROW_FIRST : t->cap * 2;
		if (cap > t->max)
			cap = t->max;
		if ((ne = realloc(t->e, cap * sizeof *ne)) == NULL)
			return -1;
		t->e = ne;
		for (i = cap; i > t->cap; i--) {
			t->e[i - 1].next = t->free;
			t->free = i - 1;
		}
		t->cap = cap;
	}
	if (t->free != NIL) {
		*ip = t->free;
		t->free = t->e[*ip].next;
		return 0;
	}
	/* Full: the oldest transaction is the likeliest never to be
	 * answered. */
	*ip = t->oldest;
	unlink_one(t, *ip);
	return 0;
}

static void
refresh(struct txn_table *t, uint32_t i, int64_t now)
{
	t->e[i].t = now;
	age_unlink(t, i);
	age_push(t, i);
}

int
txn_add(struct txn_table *t, const struct sip_msg *m, struct fed_str branch,
    const char *partner, int64_t now)
{
	struct key k;
	struct txn *x;
	uint32_t i, b;

	expire(t, now);
	key_of(t, m, branch, &k);
	b = slot(t, k.h);
	for (i = t->bucket[b]; i != NIL; i = t->e[i].next)
		if (key_eq(&t->e[i].k, &k) &&
		    strcmp(t->e[i].partner, partner) == 0) {
			refresh(t, i, now);
			return 0;
		}
	if (take(t, &i) != 0)
		return -1;
	x = &t->e[i];
	x->k = k;
	x->seq = t->seq++;
	x->t = now;
	snprintf(x->partner, sizeof x->partner, "%s", partner);
	x->next = t->bucket[b];
	t->bucket[b] = i;
	age_push(t, i);
	t->n++;
	return 0;
}

int
txn_answer(struct txn_table *t, const struct sip_msg *m, int64_t now,
    char *buf, size_t cap)
{
	struct key k;
	uint32_t i, best = NIL;

	expire(t, now);
	key_of(t, m, FED_STR_NULL, &k);
	for (i = t->bucket[slot(t, k.h)]; i != NIL; i = t->e[i].next)
		if (key_eq(&t->e[i].k, &k) &&
		    (best == NIL || t->e[i].seq < t->e[best].seq))
			best = i;
	if (best == NIL)
		return 0;
	snprintf(buf, cap, "%s", t->e[best].partner);
	if (m->status >= 200)
		release(t, best);
	else
		refresh(t, best, now);
	return 1;
}
