/* state.c: partner state in state_dir, shared by every fedgate process. */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "afile.h"
#include "state.h"
#include "vlog.h"

#define STATE_SHARDS	256
#define STATE_PIN_MAX	64	/* partner files kept open (see pin_set) */
#define STATE_CACHE_MAX	4096	/* records cached before idle ones are dropped */
#define STATE_RECHECK_MS 1000	/* state_get looks at the file this often */
#define STATE_FLUSH_MS	1000	/* pending responses are written this often */
#define STATE_SCAN_MS	100	/* state_flush_due looks at records this often */
#define STATE_PEER_MS	60000	/* a peer's last_ms is rewritten this often */
#define STATE_SWEEP_MAX	100000	/* directory entries one sweep looks at */
#define STATE_TMP_AGE_MS 60000	/* a stray temporary file of no partner */
#define STATE_TMP_SUFFIX 11	/* ".tmp.XXXXXX", as afile names them */
#define STATE_FILE_MODE	0640
#define STATE_DIR_MODE	0750
/* The largest partner file: every URI at its longest, and some. */
#define STATE_FILE_MAX	((size_t)STATE_URIS_MAX * (STATE_KEY_MAX + 32) + \
    (size_t)STATE_PEERS_MAX * (STATE_PEER_MAX + 64) + 65536)
/* Room for dir + "/partners/" + a domain + a temporary suffix. */
#define STATE_DIR_ROOM	300

#define FNV64_OFFSET	UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME	UINT64_C(0x100000001b3)
#define FNV32_OFFSET	UINT32_C(0x811c9dc5)
#define FNV32_PRIME	UINT32_C(0x01000193)

static const char state_hex[] = "0123456789ABCDEF";

/* One distinct URI; the set keeps them in first-seen order. */
struct state_uent {
	char *key;		/* escaped, NUL-terminated */
	uint64_t hash;
	int64_t first_ms;
};

struct state_uriset {
	struct state_uent *v;	/* first-seen order, as the file lists them */
	size_t n, cap;
	uint32_t *tab;		/* open addressing: index into v + 1; 0 free */
	size_t tabsz;		/* a power of two, more than twice n */
	int64_t oldest_ms;	/* the smallest first_ms: expiry is cheap */
};

/*
 * What state_get hands out is the first member, so the partner pointer
 * callers hold is also this record (C11 6.7.2.1p15).
 */
struct state_rec {
	struct state_partner p;
	uint64_t hash;
	int fd;			/* the file last read or written, or -1 */
	int pin;		/* its slot in state.pins, or -1 */
	int read;		/* the file (or its absence) was read once */
	int exists;		/* the partner has a file */
};

struct state {
	char *dir;
	struct state_params params;
	int dry_run;
	struct state_rec **tab;	/* open addressing by domain hash */
	size_t tabsz, n;
	int lockfd[STATE_SHARDS];
	unsigned lockcnt[STATE_SHARDS];	/* this process's holds of a shard */
	struct state_rec *pins[STATE_PIN_MAX];
	unsigned char pinref[STATE_PIN_MAX];
	unsigned hand;		/* the clock hand over pins */
	int64_t scan_ms;	/* state_flush_due's last look */
};

static uint64_t
fnv64(const char *s)
{
	uint64_t h = FNV64_OFFSET;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * FNV64_PRIME;
	return h;
}

/* The lock shard of a partner: any stable hash of the name will do, but
 * every process (and every version reading this format) must agree. */
static unsigned
state_shard(const char *domain)
{
	uint32_t h = FNV32_OFFSET;

	for (; *domain != '\0'; domain++)
		h = (h ^ (unsigned char)*domain) * FNV32_PRIME;
	return h & 0xff;
}

static int
needs_escape(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f;
}

static int64_t
mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int64_t
slot_width(const struct state_params *prm)
{
	int64_t w = (int64_t)prm->report_period * 1000 / STATE_SLOTS;

	return w < 1 ? 1 : w;
}

static unsigned
sat_add(unsigned a, unsigned b)
{
	return a > UINT_MAX - b ? UINT_MAX : a + b;
}

/* ---- URI keys and the URI set ---- */

/*
 * The stored form of a key (see state.h).  A key too long for the file
 * keeps its head and gets "#" and a hash of the whole escaped key as its
 * tail: cutting alone would merge keys that differ only at the end, and a
 * harvester could then try any number of long URIs as one.
 */
static size_t
state_key(const char *raw, char out[STATE_KEY_MAX])
{
	const unsigned char *c = (const unsigned char *)raw;
	const size_t cut = STATE_KEY_LONG - 17;	/* room for '#' + hash */
	uint64_t h = FNV64_OFFSET;
	size_t total = 0, o = 0, i, k;
	char e[3];

	for (i = 0; c[i] != '\0'; i++) {
		if (needs_escape(c[i])) {
			h = (h ^ '%') * FNV64_PRIME;
			h = (h ^ (unsigned char)state_hex[c[i] >> 4]) *
			    FNV64_PRIME;
			h = (h ^ (unsigned char)state_hex[c[i] & 0xf]) *
			    FNV64_PRIME;
			total += 3;
		} else {
			h = (h ^ c[i]) * FNV64_PRIME;
			total++;
		}
	}
	for (i = 0; c[i] != '\0'; i++) {
		if (needs_escape(c[i])) {
			e[0] = '%';
			e[1] = state_hex[c[i] >> 4];
			e[2] = state_hex[c[i] & 0xf];
			k = 3;
		} else {
			e[0] = (char)c[i];
			k = 1;
		}
		/* Never cut inside an escape. */
		if (total > STATE_KEY_LONG && o + k > cut)
			break;
		memcpy(out + o, e, k);
		o += k;
	}
	if (total > STATE_KEY_LONG) {
		out[o++] = '#';
		for (k = 0; k < 16; k++)
			out[o++] = state_hex[(h >> (60 - 4 * k)) & 0xf];
	}
	out[o] = '\0';
	return o;
}

static void
uriset_free(struct state_uriset *u)
{
	size_t i;

	if (u == NULL)
		return;
	for (i = 0; i < u->n; i++)
		free(u->v[i].key);
	free(u->v);
	free(u->tab);
	free(u);
}

static void
uriset_clear(struct state_uriset *u)
{
	size_t i;

	if (u == NULL)
		return;
	for (i = 0; i < u->n; i++)
		free(u->v[i].key);
	u->n = 0;
	if (u->tab != NULL)
		memset(u->tab, 0, u->tabsz * sizeof *u->tab);
}

/* The index of key in v, or (size_t)-1. */
static size_t
uriset_find(const struct state_uriset *u, const char *key, uint64_t h)
{
	size_t i, mask;

	if (u == NULL || u->tabsz == 0)
		return (size_t)-1;
	mask = u->tabsz - 1;
	for (i = (size_t)h & mask; u->tab[i] != 0; i = (i + 1) & mask) {
		const struct state_uent *e = &u->v[u->tab[i] - 1];

		if (e->hash == h && strcmp(e->key, key) == 0)
			return u->tab[i] - 1;
	}
	return (size_t)-1;
}

/* The table size for n keys: a power of two, more than twice n. */
static size_t
uriset_tabsz(size_t n)
{
	size_t sz = 16;

	while (sz < n * 2 + 2)
		sz *= 2;
	return sz;
}

/* Rebuild the table for v[0..n) with sz slots (the same size: in place). */
static int
uriset_rehash(struct state_uriset *u, size_t sz)
{
	size_t i, j, mask;
	uint32_t *t;

	if (sz != u->tabsz) {
		if ((t = calloc(sz, sizeof *t)) == NULL)
			return -1;
		free(u->tab);
		u->tab = t;
		u->tabsz = sz;
	} else
		memset(u->tab, 0, sz * sizeof *u->tab);
	mask = u->tabsz - 1;
	for (i = 0; i < u->n; i++) {
		for (j = (size_t)u->v[i].hash & mask; u->tab[j] != 0;
		    j = (j + 1) & mask)
			;
		u->tab[j] = (uint32_t)(i + 1);
	}
	return 0;
}

/* Add an escaped key known to be absent. */
static int
uriset_insert(struct state_uriset *u, const char *key, size_t len,
    uint64_t h, int64_t first_ms)
{
	struct state_uent *nv;
	size_t i, mask;
	char *k;

	if (u->n >= STATE_URIS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	if (u->n == u->cap) {
		size_t ncap = u->cap == 0 ? 16 : u->cap * 2;

		if ((nv = realloc(u->v, ncap * sizeof *nv)) == NULL)
			return -1;
		u->v = nv;
		u->cap = ncap;
	}
	if ((u->n + 1) * 2 + 2 > u->tabsz &&
	    uriset_rehash(u, uriset_tabsz(u->n + 1)) != 0)
		return -1;
	if ((k = malloc(len + 1)) == NULL)
		return -1;
	memcpy(k, key, len);
	k[len] = '\0';
	mask = u->tabsz - 1;
	for (i = (size_t)h & mask; u->tab[i] != 0; i = (i + 1) & mask)
		;
	u->v[u->n].key = k;
	u->v[u->n].hash = h;
	u->v[u->n].first_ms = first_ms;
	u->tab[i] = (uint32_t)(++u->n);
	if (u->n == 1 || first_ms < u->oldest_ms)
		u->oldest_ms = first_ms;
	return 0;
}

/* Drop keys first seen at or before cutoff, keeping the order. */
static void
uriset_expire(struct state_uriset *u, int64_t cutoff)
{
	size_t i, o = 0;
	int64_t oldest = INT64_MAX;

	if (u == NULL || u->n == 0 || u->oldest_ms > cutoff)
		return;
	for (i = 0; i < u->n; i++) {
		if (u->v[i].first_ms <= cutoff) {
			free(u->v[i].key);
			continue;
		}
		if (u->v[i].first_ms < oldest)
			oldest = u->v[i].first_ms;
		u->v[o++] = u->v[i];
	}
	u->n = o;
	u->oldest_ms = oldest;
	/* A smaller table if memory allows, else the old one in place
	 * (which cannot fail: it is large enough for fewer keys). */
	if (uriset_rehash(u, uriset_tabsz(u->n)) != 0)
		(void)uriset_rehash(u, u->tabsz);
}

/* ---- the record ---- */

static void
partner_init(struct state_partner *p, const char *domain)
{
	memset(p, 0, sizeof *p);
	snprintf(p->domain, sizeof p->domain, "%s", domain);
}

static int
has_pending(const struct state_partner *p)
{
	size_t i;

	for (i = 0; i < STATE_SLOTS; i++)
		if (p->pend[i].ok != 0 || p->pend[i].fail != 0)
			return 1;
	return 0;
}

/*
 * Put one slot's counts into a ring (the file's or the pending one):
 * the same start adds up, a newer start replaces, an older one is
 * dropped because its place already holds a later period.
 */
static void
slot_merge(struct state_slot *t, const struct state_slot *add)
{
	if (add->ok == 0 && add->fail == 0)
		return;
	if (t->start_ms == add->start_ms) {
		t->ok = sat_add(t->ok, add->ok);
		t->fail = sat_add(t->fail, add->fail);
	} else if (add->start_ms > t->start_ms)
		*t = *add;
}

void
state_expire(struct state_partner *p, int64_t now_ms,
    const struct state_params *prm)
{
	int64_t cutoff = now_ms - (int64_t)prm->report_period * 1000;
	size_t i;

	uriset_expire(p->uris, cutoff);
	for (i = 0; i < STATE_SLOTS; i++) {
		if (p->slot[i].start_ms <= cutoff)
			memset(&p->slot[i], 0, sizeof p->slot[i]);
		if (p->pend[i].start_ms <= cutoff)
			memset(&p->pend[i], 0, sizeof p->pend[i]);
	}
	if (p->watch_ms != 0 && prm->watch_expire > 0 &&
	    p->watch_ms <= now_ms - (int64_t)prm->watch_expire * 1000)
		p->watch_ms = 0;
}

int
state_uri_has(const struct state_partner *p, const char *key)
{
	char k[STATE_KEY_MAX];

	state_key(key, k);
	return uriset_find(p->uris, k, fnv64(k)) != (size_t)-1;
}

unsigned
state_uri_count(const struct state_partner *p)
{
	return p->uris == NULL ? 0 : (unsigned)p->uris->n;
}

int
state_uri_add(struct state_partner *p, const char *key, int64_t now_ms)
{
	char k[STATE_KEY_MAX];
	size_t len = state_key(key, k);
	uint64_t h = fnv64(k);

	if (uriset_find(p->uris, k, h) != (size_t)-1)
		return 0;
	if (p->uris == NULL && (p->uris = calloc(1, sizeof *p->uris)) == NULL)
		return -1;
	if (uriset_insert(p->uris, k, len, h, now_ms) != 0)
		return -1;
	p->dirty = 1;
	return 1;
}

/* The bucket refilled up to now, in milli-tokens, capped at burst. */
static int64_t
bucket_level(const struct state_partner *p, int64_t now_ms, unsigned rate,
    unsigned burst)
{
	int64_t cap = (int64_t)burst * 1000, t, el, need;

	if (p->bucket_ms == 0)
		return cap;
	t = p->tokens_milli < 0 ? 0 : p->tokens_milli;
	if (t > cap)
		t = cap;	/* a lower burst (suspicion) caps saved tokens */
	el = now_ms - p->bucket_ms;	/* negative if the clock went back */
	if (el > 0 && rate > 0 && t < cap) {
		need = cap - t;
		/* Compared first, so that el * rate cannot overflow. */
		if (el > need / rate)
			t = cap;
		else
			t += el * rate;
	}
	return t;
}

int
state_bucket_peek(const struct state_partner *p, int64_t now_ms,
    unsigned rate, unsigned burst)
{
	return bucket_level(p, now_ms, rate, burst) >= 1000;
}

int
state_bucket_take(struct state_partner *p, int64_t now_ms, unsigned rate,
    unsigned burst)
{
	int64_t t = bucket_level(p, now_ms, rate, burst);

	/* A refused take changes nothing: the record stays clean. */
	if (t < 1000)
		return 0;
	p->tokens_milli = t - 1000;
	/* Set even if the clock went back: one burst too many then, rather
	 * than a bucket that stays empty until the clock catches up. */
	p->bucket_ms = now_ms != 0 ? now_ms : 1;
	p->dirty = 1;
	return 1;
}

void
state_response_add(struct state_partner *p, int64_t now_ms, int success,
    const struct state_params *prm)
{
	int64_t w = slot_width(prm), start;
	struct state_slot *q;

	if (now_ms < 0)
		return;
	start = now_ms / w * w;
	q = &p->pend[(now_ms / w) % STATE_SLOTS];
	if (q->start_ms > start && (q->ok != 0 || q->fail != 0))
		return;		/* the clock went back a whole period */
	if (q->start_ms != start) {
		q->start_ms = start;
		q->ok = q->fail = 0;
	}
	if (success)
		q->ok = sat_add(q->ok, 1);
	else
		q->fail = sat_add(q->fail, 1);
}

void
state_responses(const struct state_partner *p, int64_t now_ms,
    const struct state_params *prm, unsigned *ok, unsigned *fail)
{
	int64_t cutoff = now_ms - (int64_t)prm->report_period * 1000;
	size_t i;

	*ok = *fail = 0;
	for (i = 0; i < STATE_SLOTS; i++) {
		if (p->slot[i].start_ms > cutoff) {
			*ok = sat_add(*ok, p->slot[i].ok);
			*fail = sat_add(*fail, p->slot[i].fail);
		}
		if (p->pend[i].start_ms > cutoff) {
			*ok = sat_add(*ok, p->pend[i].ok);
			*fail = sat_add(*fail, p->pend[i].fail);
		}
	}
}

/* A peer name as one token of at most STATE_PEER_MAX - 1 bytes. */
static void
peer_escape(const char *in, char out[STATE_PEER_MAX])
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	for (; *s != '\0'; s++) {
		if (!needs_escape(*s)) {
			if (o + 1 > STATE_PEER_MAX - 1)
				break;
			out[o++] = (char)*s;
			continue;
		}
		if (o + 3 > STATE_PEER_MAX - 1)
			break;
		out[o++] = '%';
		out[o++] = state_hex[*s >> 4];
		out[o++] = state_hex[*s & 0xf];
	}
	out[o] = '\0';
}

int
state_peer_note(struct state_partner *p, const char *peer, int64_t now_ms)
{
	char name[STATE_PEER_MAX];
	unsigned i, victim;

	if (peer == NULL || *peer == '\0')
		return 0;
	peer_escape(peer, name);
	for (i = 0; i < p->npeer; i++) {
		if (strcmp(p->peer[i].name, name) != 0)
			continue;
		/* Rewriting the file for every message would only say
		 * "still here"; once a minute is enough for that. */
		if (now_ms - p->peer[i].last_ms < STATE_PEER_MS)
			return 0;
		p->peer[i].last_ms = now_ms;
		p->dirty = 1;
		return 1;
	}
	if (p->npeer < STATE_PEERS_MAX)
		victim = p->npeer++;
	else
		for (victim = 0, i = 1; i < p->npeer; i++)
			if (p->peer[i].last_ms < p->peer[victim].last_ms)
				victim = i;
	memcpy(p->peer[victim].name, name, sizeof name);
	p->peer[victim].first_ms = p->peer[victim].last_ms = now_ms;
	p->dirty = 1;
	return 1;
}

/* ---- reading a partner file ---- */

__attribute__((format(printf, 4, 5)))
static void
line_err(struct fed_err *err, const char *path, unsigned line,
    const char *fmt, ...)
{
	char m[sizeof err->msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	fed_err_set(err, "%s:%u: %s", path, line, m);
}

/* "fedkit-state N": 0 with *ver, or -1 if the line is not that. */
static int
parse_version(const char *p, size_t n, long *ver)
{
	static const char magic[] = "fedkit-state ";
	size_t m = sizeof magic - 1, i;
	long v = 0;

	if (n <= m || memcmp(p, magic, m) != 0 || n - m > 9)
		return -1;
	for (i = m; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*ver = v;
	return 0;
}

static int
token_ok(const char *p, size_t n, size_t max)
{
	size_t i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (needs_escape((unsigned char)p[i]))
			return 0;
	return 1;
}

static int
parse_uint(const char *p, size_t n, unsigned *out)
{
	unsigned long long v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v > UINT_MAX)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* "17.350": exactly three decimals, read as fixed point, never a float. */
static int
parse_milli(const char *p, size_t n, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	for (i = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		if (i == 15)
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	if (i == 0 || n != i + 4 || p[i] != '.')
		return -1;
	for (i++; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

#define NFIELD 6

struct state_line {
	const char *f[NFIELD];
	size_t n[NFIELD];
	size_t nf;
};

static int
field_is(const struct state_line *l, size_t i, const char *s)
{
	return l->n[i] == strlen(s) && memcmp(l->f[i], s, l->n[i]) == 0;
}

static int
parse_time_field(const struct state_line *l, size_t i, int64_t *ms,
    const char *path, unsigned line, struct fed_err *err)
{
	char q[FED_QUOTE_MAX];

	if (vlog_time_parse(l->f[i], l->n[i], ms) == 0)
		return 0;
	fed_quote(q, l->f[i], l->n[i]);
	line_err(err, path, line, "bad time %s (want 2026-11-22T01:00:00.000Z)",
	    q);
	return -1;
}

/*
 * Parse a partner file into p (initialized by the caller, uris freed by
 * the caller whatever the result).  Response slots are re-aligned to the
 * current report_period, so changing it never makes a file unreadable.
 */
static int
state_parse(const char *path, const char *buf, size_t len, const char *domain,
    const struct state_params *prm, struct state_partner *p,
    struct fed_err *err)
{
	const char *q = buf, *end = buf + len, *nl, *s, *e;
	int seen_partner = 0, seen_changed = 0, seen_bucket = 0;
	int seen_watch = 0, seen_susp = 0;
	int64_t w = slot_width(prm), ms, ms2;
	char qt[FED_QUOTE_MAX];
	struct state_line l;
	unsigned line = 0, a, b, i;
	size_t n;
	long ver;

	for (; q < end; q = nl + 1) {
		line++;
		if ((nl = memchr(q, '\n', (size_t)(end - q))) == NULL) {
			line_err(err, path, line, "no newline at the end: cut "
			    "short?");
			return -1;
		}
		n = (size_t)(nl - q);
		if (n > 0 && q[n - 1] == '\r')
			n--;
		if (line == 1) {
			if (parse_version(q, n, &ver) != 0) {
				line_err(err, path, line, "not a fedkit state "
				    "file (no \"fedkit-state %d\" line)",
				    STATE_VERSION);
				return -1;
			}
			if (ver != STATE_VERSION) {
				fed_err_set(err, "%s: state format version %ld, "
				    "this fedkit reads version %d", path, ver,
				    STATE_VERSION);
				return -1;
			}
			continue;
		}
		if (n == 0 || q[0] == '#')
			continue;
		memset(&l, 0, sizeof l);
		for (s = q, e = q + n; ; s++) {
			const char *t = memchr(s, '\t', (size_t)(e - s));

			if (l.nf == NFIELD) {
				line_err(err, path, line, "too many fields");
				return -1;
			}
			l.f[l.nf] = s;
			l.n[l.nf] = (size_t)((t != NULL ? t : e) - s);
			if (l.n[l.nf] == 0) {
				line_err(err, path, line, "empty field %zu",
				    l.nf + 1);
				return -1;
			}
			l.nf++;
			if (t == NULL)
				break;
			s = t;
		}
#define WANT(k) do { if (l.nf != (k)) { \
		line_err(err, path, line, "%.*s: %zu fields, want %d", \
		    (int)l.n[0], l.f[0], l.nf, (k)); return -1; } } while (0)
#define ONCE(flag) do { if (flag) { \
		line_err(err, path, line, "a second %.*s line", \
		    (int)l.n[0], l.f[0]); return -1; } (flag) = 1; } while (0)
		if (field_is(&l, 0, "partner")) {
			WANT(2);
			ONCE(seen_partner);
			if (!field_is(&l, 1, domain)) {
				fed_quote(qt, l.f[1], l.n[1]);
				line_err(err, path, line, "partner %s in the "
				    "file of %s", qt, domain);
				return -1;
			}
		} else if (field_is(&l, 0, "changed")) {
			WANT(2);
			ONCE(seen_changed);
			if (parse_time_field(&l, 1, &p->changed_ms, path, line,
			    err) != 0)
				return -1;
		} else if (field_is(&l, 0, "bucket")) {
			WANT(3);
			ONCE(seen_bucket);
			if (parse_milli(l.f[1], l.n[1], &p->tokens_milli) != 0) {
				fed_quote(qt, l.f[1], l.n[1]);
				line_err(err, path, line, "bad token count %s "
				    "(want digits, a dot, three digits)", qt);
				return -1;
			}
			if (parse_time_field(&l, 2, &p->bucket_ms, path, line,
			    err) != 0)
				return -1;
		} else if (field_is(&l, 0, "watch")) {
			WANT(2);
			ONCE(seen_watch);
			if (parse_time_field(&l, 1, &p->watch_ms, path, line,
			    err) != 0)
				return -1;
		} else if (field_is(&l, 0, "suspicious")) {
			WANT(2);
			ONCE(seen_susp);
			if (parse_time_field(&l, 1, &p->suspicious_ms, path,
			    line, err) != 0)
				return -1;
		} else if (field_is(&l, 0, "responses")) {
			struct state_slot sl;

			WANT(4);
			if (parse_time_field(&l, 1, &ms, path, line, err) != 0)
				return -1;
			if (parse_uint(l.f[2], l.n[2], &a) != 0 ||
			    parse_uint(l.f[3], l.n[3], &b) != 0) {
				line_err(err, path, line, "bad response count");
				return -1;
			}
			if (ms < 0)
				continue;
			sl.start_ms = ms / w * w;
			sl.ok = a;
			sl.fail = b;
			slot_merge(&p->slot[(ms / w) % STATE_SLOTS], &sl);
		} else if (field_is(&l, 0, "peer")) {
			WANT(4);
			if (!token_ok(l.f[1], l.n[1], STATE_PEER_MAX - 1)) {
				fed_quote(qt, l.f[1], l.n[1]);
				line_err(err, path, line, "bad peer name %s", qt);
				return -1;
			}
			if (p->npeer == STATE_PEERS_MAX) {
				line_err(err, path, line, "more than %d peers",
				    STATE_PEERS_MAX);
				return -1;
			}
			if (parse_time_field(&l, 2, &ms, path, line, err) != 0 ||
			    parse_time_field(&l, 3, &ms2, path, line, err) != 0)
				return -1;
			for (i = 0; i < p->npeer; i++)
				if (field_is(&l, 1, p->peer[i].name)) {
					line_err(err, path, line, "a second "
					    "line for the same peer");
					return -1;
				}
			memcpy(p->peer[p->npeer].name, l.f[1], l.n[1]);
			p->peer[p->npeer].name[l.n[1]] = '\0';
			p->peer[p->npeer].first_ms = ms;
			p->peer[p->npeer].last_ms = ms2;
			p->npeer++;
		} else if (field_is(&l, 0, "uri")) {
			char k[STATE_KEY_MAX];
			uint64_t h;

			WANT(3);
			if (!token_ok(l.f[1], l.n[1], STATE_KEY_MAX - 1)) {
				fed_quote(qt, l.f[1], l.n[1]);
				line_err(err, path, line, "bad URI key %s", qt);
				return -1;
			}
			if (parse_time_field(&l, 2, &ms, path, line, err) != 0)
				return -1;
			memcpy(k, l.f[1], l.n[1]);
			k[l.n[1]] = '\0';
			h = fnv64(k);
			if (p->uris == NULL &&
			    (p->uris = calloc(1, sizeof *p->uris)) == NULL) {
				fed_err_set(err, "%s: %s", path, strerror(errno));
				return -1;
			}
			if (uriset_find(p->uris, k, h) != (size_t)-1) {
				line_err(err, path, line, "a second line for "
				    "the same URI");
				return -1;
			}
			if (uriset_insert(p->uris, k, l.n[1], h, ms) != 0) {
				if (errno == ENOSPC)
					line_err(err, path, line, "more than "
					    "%d URIs", STATE_URIS_MAX);
				else
					fed_err_set(err, "%s: %s", path,
					    strerror(errno));
				return -1;
			}
		} else {
			fed_quote(qt, l.f[0], l.n[0]);
			line_err(err, path, line, "unknown record %s", qt);
			return -1;
		}
#undef WANT
#undef ONCE
	}
	if (line == 0) {
		fed_err_set(err, "%s: empty, not a fedkit state file", path);
		return -1;
	}
	if (!seen_partner) {
		fed_err_set(err, "%s: no partner line", path);
		return -1;
	}
	return 0;
}

/* Read an open file whole; the caller frees *bufp. */
static int
read_fd(int fd, const char *path, char **bufp, size_t *lenp,
    struct fed_err *err)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t r;

	for (;;) {
		if (len == cap) {
			if (len > STATE_FILE_MAX) {
				fed_err_set(err, "%s: larger than %zu bytes",
				    path, (size_t)STATE_FILE_MAX);
				free(buf);
				return -1;
			}
			cap = cap == 0 ? 16384 : cap * 2;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				fed_err_set(err, "%s: %s", path,
				    strerror(errno));
				free(buf);
				return -1;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fed_err_set(err, "%s: read: %s", path, strerror(errno));
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

/*
 * Read and parse a partner file into p (initialized by the caller).
 * Returns 1 and the open descriptor in *fdp (with its stat in *st) when
 * the file was read, 0 when there is no file, -1 on error.
 */
static int
state_read(const char *path, const char *domain,
    const struct state_params *prm, struct state_partner *p, int *fdp,
    struct stat *st, struct fed_err *err)
{
	char *buf;
	size_t len;
	int fd;

	*fdp = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		fed_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) != 0) {
		fed_err_set(err, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (read_fd(fd, path, &buf, &len, err) != 0) {
		close(fd);
		return -1;
	}
	if (state_parse(path, buf, len, domain, prm, p, err) != 0) {
		free(buf);
		close(fd);
		return -1;
	}
	free(buf);
	*fdp = fd;
	return 1;
}

/* ---- the cache ---- */

static int
partner_path(const struct state *s, const char *domain, char *buf,
    size_t bufsz)
{
	int n = snprintf(buf, bufsz, "%s/partners/%s", s->dir, domain);

	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

static void
pin_drop(struct state *s, struct state_rec *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (r->pin >= 0) {
		s->pins[r->pin] = NULL;
		r->pin = -1;
	}
}

/*
 * Keep the file a record was read from (or written as) open.  While it
 * is open its inode cannot be freed, so no later file can get the same
 * inode number, and an unchanged (dev, ino) then proves the record
 * current: without this, a file replaced twice within the timestamp
 * granularity can come back with the old inode number, size and mtime,
 * and an update would be lost.  Only STATE_PIN_MAX files are kept open
 * (the clock algorithm picks whom to close); an unpinned record is
 * simply re-read whenever it is locked.
 */
static void
pin_set(struct state *s, struct state_rec *r, int fd)
{
	struct state_rec *v;
	unsigned i;

	if (r->pin >= 0) {
		if (r->fd >= 0)
			close(r->fd);
		r->fd = fd;
		s->pinref[r->pin] = 1;
		return;
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	for (i = 0; i < 2 * STATE_PIN_MAX + 1; i++) {
		unsigned h = s->hand;

		s->hand = (s->hand + 1) % STATE_PIN_MAX;
		if (s->pins[h] != NULL && s->pinref[h]) {
			s->pinref[h] = 0;
			continue;
		}
		if ((v = s->pins[h]) != NULL) {
			close(v->fd);
			v->fd = -1;
			v->pin = -1;
		}
		s->pins[h] = r;
		s->pinref[h] = 1;
		r->pin = (int)h;
		r->fd = fd;
		return;
	}
	close(fd);	/* not reached: the hand frees a slot in one turn */
}

static void
set_identity(struct state_partner *p, const struct stat *st)
{
	if (st == NULL) {
		p->dev = 0;
		p->ino = 0;
		p->size = 0;
		p->mtime_ns = 0;
		return;
	}
	p->dev = st->st_dev;
	p->ino = st->st_ino;
	p->size = st->st_size;
	p->mtime_ns = mtime_ns(st);
}

/*
 * (Re)read a record's file.  On success the record becomes the file's
 * contents; what is this process's alone (pending responses, lock,
 * bookkeeping) is kept.  On failure the record is left as it was.
 */
static int
state_load(struct state *s, struct state_rec *r, struct fed_err *err)
{
	char path[PATH_MAX];
	struct state_partner np;
	struct stat st;
	int rc, fd;

	if (partner_path(s, r->p.domain, path, sizeof path) != 0) {
		fed_err_set(err, "%s: partner file name too long", s->dir);
		return -1;
	}
	partner_init(&np, r->p.domain);
	rc = state_read(path, r->p.domain, &s->params, &np, &fd, &st, err);
	if (rc < 0) {
		uriset_free(np.uris);
		return -1;
	}
	memcpy(np.pend, r->p.pend, sizeof np.pend);
	np.locked = r->p.locked;
	np.checked_ms = r->p.checked_ms;
	np.flushed_ms = r->p.flushed_ms;
	set_identity(&np, rc == 1 ? &st : NULL);
	uriset_free(r->p.uris);
	r->p = np;
	r->exists = rc == 1;
	r->read = 1;
	if (rc == 1 && !s->dry_run)
		pin_set(s, r, fd);
	else {
		if (fd >= 0)
			close(fd);
		pin_drop(s, r);
	}
	return 0;
}

/*
 * Is the record what its file holds?  `exact` (under the lock) trusts an
 * unchanged identity only for a pinned file (see pin_set); outside the
 * lock, staleness is allowed and a stat is enough.  1 yes, 0 no, -1 error.
 */
static int
state_current(struct state *s, struct state_rec *r, int exact,
    struct fed_err *err)
{
	char path[PATH_MAX];
	struct stat st;

	if (partner_path(s, r->p.domain, path, sizeof path) != 0) {
		fed_err_set(err, "%s: partner file name too long", s->dir);
		return -1;
	}
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return !r->exists;
		fed_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!r->exists || (exact && r->fd < 0))
		return 0;
	return st.st_dev == r->p.dev && st.st_ino == r->p.ino &&
	    st.st_size == r->p.size && mtime_ns(&st) == r->p.mtime_ns;
}

static struct state_rec *
rec_find(const struct state *s, const char *domain, uint64_t h)
{
	size_t i, mask;

	if (s->tabsz == 0)
		return NULL;
	mask = s->tabsz - 1;
	for (i = (size_t)h & mask; s->tab[i] != NULL; i = (i + 1) & mask)
		if (s->tab[i]->hash == h &&
		    strcmp(s->tab[i]->p.domain, domain) == 0)
			return s->tab[i];
	return NULL;
}

static struct state_rec *
rec_new(struct state *s, const char *domain, uint64_t h)
{
	struct state_rec *r, **nt;
	size_t i, j, sz, mask;

	if ((s->n + 1) * 2 > s->tabsz) {
		sz = s->tabsz == 0 ? 16 : s->tabsz * 2;
		if ((nt = calloc(sz, sizeof *nt)) == NULL)
			return NULL;
		for (i = 0; i < s->tabsz; i++) {
			if (s->tab[i] == NULL)
				continue;
			for (j = (size_t)s->tab[i]->hash & (sz - 1);
			    nt[j] != NULL; j = (j + 1) & (sz - 1))
				;
			nt[j] = s->tab[i];
		}
		free(s->tab);
		s->tab = nt;
		s->tabsz = sz;
	}
	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	partner_init(&r->p, domain);
	r->hash = h;
	r->fd = -1;
	r->pin = -1;
	mask = s->tabsz - 1;
	for (i = (size_t)h & mask; s->tab[i] != NULL; i = (i + 1) & mask)
		;
	s->tab[i] = r;
	s->n++;
	return r;
}

static void
rec_free(struct state *s, struct state_rec *r)
{
	pin_drop(s, r);
	uriset_free(r->p.uris);
	free(r);
}

/* ---- locks ---- */

/* Take a shard's lock; with `nb`, 1 if another process holds it. */
static int
shard_lock_how(struct state *s, unsigned shard, int nb, struct fed_err *err)
{
	char path[PATH_MAX];
	int fd;

	/* flock belongs to the open file: a second hold in this process
	 * must not be released by the first one's unlock. */
	if (s->lockcnt[shard] > 0) {
		s->lockcnt[shard]++;
		return 0;
	}
	if (s->lockfd[shard] < 0) {
		snprintf(path, sizeof path, "%s/locks/%02x", s->dir, shard);
		/* Read-only: flock needs no write access, and a lock file
		 * made by fedgate can be taken by fedlist's user. */
		fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0) {
			fed_err_set(err, "%s: %s", path, strerror(errno));
			return -1;
		}
		s->lockfd[shard] = fd;
	}
	while (flock(s->lockfd[shard], LOCK_EX | (nb ? LOCK_NB : 0)) != 0) {
		if (errno == EINTR)
			continue;
		if (nb && errno == EWOULDBLOCK)
			return 1;
		fed_err_set(err, "%s/locks/%02x: lock: %s", s->dir, shard,
		    strerror(errno));
		return -1;
	}
	s->lockcnt[shard] = 1;
	return 0;
}

static int
shard_lock(struct state *s, unsigned shard, struct fed_err *err)
{
	return shard_lock_how(s, shard, 0, err);
}

static void
shard_unlock(struct state *s, unsigned shard)
{
	if (s->lockcnt[shard] > 0 && --s->lockcnt[shard] == 0)
		(void)flock(s->lockfd[shard], LOCK_UN);
}

/* ---- the format file and state_open ---- */

/* 1 present and right, 0 missing, -1 error (another version...). */
static int
format_check(const char *dir, struct fed_err *err)
{
	char path[PATH_MAX], *buf, *nl;
	size_t len;
	long ver;
	int rc;

	snprintf(path, sizeof path, "%s/format", dir);
	if (afile_read(path, 4096, &buf, &len, err) != 0)
		return errno == ENOENT ? 0 : -1;
	nl = memchr(buf, '\n', len);
	if (parse_version(buf, nl != NULL ? (size_t)(nl - buf) : len,
	    &ver) != 0) {
		fed_err_set(err, "%s: not a fedkit state format file", path);
		rc = -1;
	} else if (ver != STATE_VERSION) {
		fed_err_set(err, "%s: state format version %ld, this fedkit "
		    "reads version %d", path, ver, STATE_VERSION);
		rc = -1;
	} else
		rc = 1;
	free(buf);
	return rc;
}

static int
make_dir(const char *path, struct fed_err *err)
{
	if (mkdir(path, STATE_DIR_MODE) == 0 || errno == EEXIST)
		return 0;
	fed_err_set(err, "%s: mkdir: %s", path, strerror(errno));
	return -1;
}

/* A new directory: every lock file, then the format file last, so its
 * presence says the layout is complete. */
static int
state_create(const char *dir, struct fed_err *err)
{
	char path[PATH_MAX];
	struct afile af;
	unsigned i;
	int fd;

	for (i = 0; i < STATE_SHARDS; i++) {
		snprintf(path, sizeof path, "%s/locks/%02x", dir, i);
		if ((fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC,
		    0644)) < 0) {
			fed_err_set(err, "%s: %s", path, strerror(errno));
			return -1;
		}
		close(fd);
	}
	snprintf(path, sizeof path, "%s/format", dir);
	/* Two first processes may both write it: the same bytes, renamed
	 * atomically, so neither reader can see a partial file. */
	if (afile_begin_held(&af, path, STATE_FILE_MODE, err) != 0)
		return -1;
	fprintf(af.fp, "fedkit-state %d\n", STATE_VERSION);
	return afile_commit(&af, err);
}

int
state_open(struct state **sp, const char *dir,
    const struct state_params *prm, int dry_run, struct fed_err *err)
{
	char path[PATH_MAX];
	struct state *s;
	int rc;
	size_t i;

	*sp = NULL;
	if (prm->report_period == 0) {
		fed_err_set(err, "state: report_period must be at least one "
		    "second");
		return -1;
	}
	if (strlen(dir) + STATE_DIR_ROOM >= PATH_MAX) {
		fed_err_set(err, "%s: state directory name too long", dir);
		return -1;
	}
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->dir = strdup(dir)) == NULL) {
		fed_err_set(err, "%s: %s", dir, strerror(errno));
		free(s);
		return -1;
	}
	s->params = *prm;
	s->dry_run = dry_run;
	for (i = 0; i < STATE_SHARDS; i++)
		s->lockfd[i] = -1;
	if (!dry_run && make_dir(dir, err) != 0)
		goto fail;
	if ((rc = format_check(dir, err)) < 0)
		goto fail;
	if (!dry_run) {
		snprintf(path, sizeof path, "%s/locks", dir);
		if (make_dir(path, err) != 0)
			goto fail;
		snprintf(path, sizeof path, "%s/partners", dir);
		if (make_dir(path, err) != 0)
			goto fail;
		if (rc == 0 && state_create(dir, err) != 0)
			goto fail;
	}
	*sp = s;
	return 0;
fail:
	free(s->dir);
	free(s);
	return -1;
}

/* ---- lock, write, unlock ---- */

/*
 * A stream with a new From domain in every message must not grow the
 * cache without bound: past STATE_CACHE_MAX records, write every pending
 * response count and drop every record not locked.  The files keep all
 * that matters; a dropped record is read again when its partner returns.
 * A dry run keeps its records (they are its only copy of its changes).
 */
static int
cache_trim(struct state *s, int64_t now_ms, struct fed_err *err)
{
	/* state_lock and state_unlock are declared in state.h */
	struct state_rec *r, **keep;
	struct fed_err e2;
	size_t i, j, mask;

	if (s->dry_run)
		return 0;
	for (i = 0; i < s->tabsz; i++) {
		if ((r = s->tab[i]) == NULL || r->p.locked ||
		    !has_pending(&r->p))
			continue;
		if (state_lock(s, &r->p, now_ms, &e2) != 0 ||
		    state_unlock(s, &r->p, now_ms, &e2) != 0) {
			*err = e2;
			return -1;
		}
	}
	if ((keep = calloc(s->tabsz, sizeof *keep)) == NULL) {
		fed_err_set(err, "state cache: %s", strerror(errno));
		return -1;
	}
	mask = s->tabsz - 1;
	s->n = 0;
	for (i = 0; i < s->tabsz; i++) {
		if ((r = s->tab[i]) == NULL)
			continue;
		if (!r->p.locked && !has_pending(&r->p)) {
			rec_free(s, r);
			continue;
		}
		for (j = (size_t)r->hash & mask; keep[j] != NULL;
		    j = (j + 1) & mask)
			;
		keep[j] = r;
		s->n++;
	}
	free(s->tab);
	s->tab = keep;
	return 0;
}

struct state_partner *
state_get(struct state *s, const char *domain, int64_t now_ms,
    struct fed_err *err)
{
	char name[DOMAIN_MAX + 2];
	struct fed_err e2;
	struct state_rec *r;
	uint64_t h;
	int cur;

	if (domain_normalize(domain, strlen(domain), 0, name, sizeof name,
	    &e2) != 0) {
		fed_err_set(err, "partner domain: %s", e2.msg);
		return NULL;
	}
	h = fnv64(name);
	if ((r = rec_find(s, name, h)) == NULL && s->n >= STATE_CACHE_MAX &&
	    cache_trim(s, now_ms, err) != 0)
		return NULL;
	if (r == NULL && (r = rec_new(s, name, h)) == NULL) {
		fed_err_set(err, "%s: %s", name, strerror(errno));
		return NULL;
	}
	if (!r->read) {
		if (state_load(s, r, err) != 0)
			return NULL;
		r->p.checked_ms = now_ms;
	} else if (!s->dry_run && !r->p.locked &&
	    (now_ms - r->p.checked_ms >= STATE_RECHECK_MS ||
	    now_ms < r->p.checked_ms)) {
		/* A dry run never re-reads: its changes live in the record. */
		if ((cur = state_current(s, r, 0, err)) < 0)
			return NULL;
		if (cur == 0 && state_load(s, r, err) != 0)
			return NULL;
		r->p.checked_ms = now_ms;
	}
	state_expire(&r->p, now_ms, &s->params);
	return &r->p;
}

int
state_lock(struct state *s, struct state_partner *p, int64_t now_ms,
    struct fed_err *err)
{
	struct state_rec *r = (struct state_rec *)p;
	unsigned shard;
	int cur;

	if (p->locked) {
		fed_err_set(err, "%s: partner state locked twice", p->domain);
		return -1;
	}
	if (s->dry_run) {
		p->locked = 1;
		return 0;
	}
	shard = state_shard(p->domain);
	if (shard_lock(s, shard, err) != 0)
		return -1;
	if ((cur = state_current(s, r, 1, err)) < 0 ||
	    (cur == 0 && state_load(s, r, err) != 0)) {
		shard_unlock(s, shard);
		return -1;
	}
	p->locked = 1;
	p->checked_ms = now_ms;
	state_expire(p, now_ms, &s->params);
	return 0;
}

static void
write_time(FILE *fp, int64_t ms)
{
	char t[VLOG_TIME_LEN + 1];

	vlog_time_format(t, ms);
	fputs(t, fp);
}

static void
state_print(FILE *fp, const struct state_partner *p)
{
	const struct state_slot *sl[STATE_SLOTS], *x;
	size_t i, j, n = 0;
	int64_t t;

	fprintf(fp, "fedkit-state %d\npartner\t%s\nchanged\t", STATE_VERSION,
	    p->domain);
	write_time(fp, p->changed_ms);
	if (p->bucket_ms != 0) {
		t = p->tokens_milli < 0 ? 0 : p->tokens_milli;
		fprintf(fp, "\nbucket\t%lld.%03lld\t", (long long)(t / 1000),
		    (long long)(t % 1000));
		write_time(fp, p->bucket_ms);
	}
	if (p->watch_ms != 0) {
		fputs("\nwatch\t", fp);
		write_time(fp, p->watch_ms);
	}
	if (p->suspicious_ms != 0) {
		fputs("\nsuspicious\t", fp);
		write_time(fp, p->suspicious_ms);
	}
	for (i = 0; i < STATE_SLOTS; i++) {
		if (p->slot[i].ok == 0 && p->slot[i].fail == 0)
			continue;
		/* By start, for the reader's eye: twelve, insertion sort. */
		for (j = n++; j > 0 && sl[j - 1]->start_ms > p->slot[i].start_ms;
		    j--)
			sl[j] = sl[j - 1];
		sl[j] = &p->slot[i];
	}
	for (i = 0; i < n; i++) {
		x = sl[i];
		fputs("\nresponses\t", fp);
		write_time(fp, x->start_ms);
		fprintf(fp, "\t%u\t%u", x->ok, x->fail);
	}
	for (i = 0; i < p->npeer; i++) {
		fprintf(fp, "\npeer\t%s\t", p->peer[i].name);
		write_time(fp, p->peer[i].first_ms);
		fputc('\t', fp);
		write_time(fp, p->peer[i].last_ms);
	}
	for (i = 0; p->uris != NULL && i < p->uris->n; i++) {
		fprintf(fp, "\nuri\t%s\t", p->uris->v[i].key);
		write_time(fp, p->uris->v[i].first_ms);
	}
	fputc('\n', fp);
}

/* Write the record (lock held), pending responses merged in. */
static int
state_write(struct state *s, struct state_rec *r, int64_t now_ms,
    struct fed_err *err)
{
	struct state_partner *p = &r->p;
	struct state_slot oslot[STATE_SLOTS];
	char path[PATH_MAX];
	struct afile af;
	struct stat st;
	int64_t ochanged = p->changed_ms;
	size_t i;
	int fd;

	if (partner_path(s, p->domain, path, sizeof path) != 0) {
		fed_err_set(err, "%s: partner file name too long", s->dir);
		return -1;
	}
	state_expire(p, now_ms, &s->params);
	/* Merged for writing only: kept pending until the write succeeds. */
	memcpy(oslot, p->slot, sizeof oslot);
	for (i = 0; i < STATE_SLOTS; i++)
		slot_merge(&p->slot[i], &p->pend[i]);
	p->changed_ms = now_ms;
	if (afile_begin_held(&af, path, STATE_FILE_MODE, err) != 0)
		goto fail;
	/*
	 * The file itself is synced before the rename, so no crash leaves
	 * a partner file empty or cut.  The directory is synced only when
	 * the change must outlive a power loss (a watch starts): for a
	 * bucket or a URI, an older whole file after a power cut is
	 * harmless, and skipping that fsync doubles the rate of new
	 * partners a process can take.
	 */
	af.no_dirsync = !p->durable;
	state_print(af.fp, p);
	/* The temporary file becomes the partner file: a second descriptor
	 * on it pins the new inode (see pin_set) and gives its identity. */
	if ((fd = fcntl(fileno(af.fp), F_DUPFD_CLOEXEC, 0)) < 0) {
		fed_err_set(err, "%s: %s", af.tmp, strerror(errno));
		afile_abort(&af);
		goto fail;
	}
	if (afile_commit(&af, err) != 0) {
		close(fd);
		goto fail;
	}
	memset(p->pend, 0, sizeof p->pend);
	p->dirty = 0;
	p->durable = 0;
	p->flushed_ms = now_ms;
	r->exists = 1;
	if (fstat(fd, &st) != 0) {
		/* Written, but of unknown identity: the next lock re-reads. */
		close(fd);
		pin_drop(s, r);
		set_identity(p, NULL);
		return 0;
	}
	set_identity(p, &st);
	pin_set(s, r, fd);
	return 0;
fail:
	memcpy(p->slot, oslot, sizeof oslot);
	p->changed_ms = ochanged;
	return -1;
}

int
state_unlock(struct state *s, struct state_partner *p, int64_t now_ms,
    struct fed_err *err)
{
	struct state_rec *r = (struct state_rec *)p;
	int rc = 0;

	if (!p->locked) {
		fed_err_set(err, "%s: partner state unlocked but not locked",
		    p->domain);
		return -1;
	}
	p->locked = 0;
	if (s->dry_run)
		return 0;
	if (p->dirty || has_pending(p))
		rc = state_write(s, r, now_ms, err);
	shard_unlock(s, state_shard(p->domain));
	return rc;
}

int
state_flush_due(struct state *s, int64_t now_ms, struct fed_err *err)
{
	struct state_rec *r;
	struct fed_err e2;
	size_t i;
	int rc = 0;

	if (s->dry_run || s->n == 0)
		return 0;
	/* Called once per message: a look at every record now and then is
	 * enough to keep "within a second". */
	if (now_ms >= s->scan_ms && now_ms - s->scan_ms < STATE_SCAN_MS)
		return 0;
	s->scan_ms = now_ms;
	for (i = 0; i < s->tabsz; i++) {
		if ((r = s->tab[i]) == NULL || r->p.locked ||
		    !has_pending(&r->p) ||
		    (now_ms - r->p.flushed_ms < STATE_FLUSH_MS &&
		    now_ms >= r->p.flushed_ms))
			continue;
		if (state_lock(s, &r->p, now_ms, &e2) != 0 ||
		    state_unlock(s, &r->p, now_ms, &e2) != 0) {
			if (rc == 0)
				*err = e2;
			rc = -1;
		}
	}
	return rc;
}

int
state_close(struct state *s, int64_t now_ms, struct fed_err *err)
{
	struct state_rec *r;
	struct fed_err e2;
	size_t i;
	int rc = 0;

	if (s == NULL)
		return 0;
	for (i = 0; i < s->tabsz; i++) {
		if ((r = s->tab[i]) == NULL)
			continue;
		if (!s->dry_run && (r->p.locked || has_pending(&r->p))) {
			if ((!r->p.locked &&
			    state_lock(s, &r->p, now_ms, &e2) != 0) ||
			    state_unlock(s, &r->p, now_ms, &e2) != 0) {
				if (rc == 0)
					*err = e2;
				rc = -1;
			}
		}
		rec_free(s, r);
	}
	for (i = 0; i < STATE_SHARDS; i++)
		if (s->lockfd[i] >= 0)
			close(s->lockfd[i]);
	free(s->tab);
	free(s->dir);
	free(s);
	return rc;
}

int
state_clear(struct state *s, const char *domain, int64_t now_ms,
    struct fed_err *err)
{
	struct state_partner *p;

	if ((p = state_get(s, domain, now_ms, err)) == NULL ||
	    state_lock(s, p, now_ms, err) != 0)
		return -1;
	p->watch_ms = 0;
	p->suspicious_ms = 0;
	uriset_clear(p->uris);
	memset(p->slot, 0, sizeof p->slot);
	memset(p->pend, 0, sizeof p->pend);
	/* A partner without a file has nothing to clear on disk. */
	if (((struct state_rec *)p)->exists)
		p->dirty = p->durable = 1;
	return state_unlock(s, p, now_ms, err);
}

/* ---- walking and sweeping the directory ---- */

/* A partner file's name: a normalized domain, nothing else. */
static int
is_partner_name(const char *name)
{
	char norm[DOMAIN_MAX + 2];
	struct fed_err e;

	return name[0] != '.' &&
	    domain_normalize(name, strlen(name), 0, norm, sizeof norm,
	    &e) == 0 && strcmp(norm, name) == 0;
}

/*
 * A writer's temporary file, NAME.tmp.XXXXXX as afile names it.  Such a
 * name can also be a partner's: mkstemp's six characters are often all
 * lower case or digits, and "mail.tmp.global" is a fine domain.  Only the
 * contents tell them apart, so such a name is read before it is judged.
 */
static int
is_tmp_name(const char *name, size_t len)
{
	return len > STATE_TMP_SUFFIX &&
	    memcmp(name + len - STATE_TMP_SUFFIX, ".tmp.", 5) == 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
state_walk(struct state *s, int64_t now_ms,
    int (*fn)(const struct state_partner *, void *), void *arg,
    struct fed_err *err)
{
	char pdir[PATH_MAX], path[PATH_MAX], **names = NULL, **nn;
	struct state_partner p;
	struct fed_err e2;
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0, i;
	int rc = 0, bad = 0, got, fd;
	DIR *d;

	snprintf(pdir, sizeof pdir, "%s/partners", s->dir);
	if ((d = opendir(pdir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		fed_err_set(err, "%s: %s", pdir, strerror(errno));
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!is_partner_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nn = realloc(names, cap * sizeof *nn)) == NULL)
				goto nomem;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto nomem;
		n++;
	}
	if (errno != 0) {
		fed_err_set(err, "%s: %s", pdir, strerror(errno));
		rc = -1;
		goto out;
	}
	if (n > 0)
		qsort(names, n, sizeof *names, name_cmp);
	for (i = 0; i < n; i++) {
		if (partner_path(s, names[i], path, sizeof path) != 0)
			continue;	/* not reached: state_open checked */
		partner_init(&p, names[i]);
		got = state_read(path, names[i], &s->params, &p, &fd, &st, &e2);
		if (fd >= 0)
			close(fd);
		/* A temporary file that looks like a partner's is none. */
		if (got < 0 && !bad &&
		    !is_tmp_name(names[i], strlen(names[i]))) {
			*err = e2;
			bad = 1;
		}
		if (got == 1) {
			state_expire(&p, now_ms, &s->params);
			got = fn(&p, arg);
		} else
			got = 0;	/* removed meanwhile, or unreadable */
		uriset_free(p.uris);
		if (got != 0)
			break;
	}
	rc = bad ? -1 : 0;
	goto out;
nomem:
	fed_err_set(err, "%s: %s", pdir, strerror(errno));
	rc = -1;
out:
	closedir(d);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/*
 * Remove a temporary file of partner `name`.  Writers make them only
 * under the partner's shard lock, so once we hold it the file is a dead
 * writer's.  With `nb` the lock is not waited for (the caller holds
 * another): a busy writer's file is left for the next sweep.
 */
static void
sweep_tmp_of(struct state *s, const char *path, const char *name, int nb)
{
	unsigned shard = state_shard(name);
	struct fed_err e2;

	if (shard_lock_how(s, shard, nb, &e2) != 0)
		return;
	(void)unlink(path);
	shard_unlock(s, shard);
}

/*
 * A name that ends like a temporary file (see is_tmp_name).  When the
 * part before ".tmp." is no partner name, nobody's lock covers the file
 * and only its age says its writer is gone.
 */
static void
sweep_tmp(struct state *s, const char *fname, size_t len, int64_t now_ms)
{
	char path[PATH_MAX], name[DOMAIN_MAX + 2];
	struct stat st;
	size_t nl = len - STATE_TMP_SUFFIX;

	if (partner_path(s, fname, path, sizeof path) != 0)
		return;
	if (nl <= DOMAIN_MAX) {
		memcpy(name, fname, nl);
		name[nl] = '\0';
		if (is_partner_name(name)) {
			sweep_tmp_of(s, path, name, 0);
			return;
		}
	}
	if (lstat(path, &st) == 0 &&
	    mtime_ns(&st) / 1000000 <= now_ms - STATE_TMP_AGE_MS)
		(void)unlink(path);
}

/*
 * Remove one partner's file if it holds nothing of value: re-read under
 * its shard lock, so a writer that just changed it keeps it.  A file that
 * cannot be read stays for the operator to see, unless its name is also
 * a temporary file's: then that is what it is.
 */
static void
sweep_partner(struct state *s, const char *name, size_t len,
    int64_t cutoff, int64_t now_ms)
{
	char path[PATH_MAX], prefix[DOMAIN_MAX + 2];
	struct state_partner p;
	struct state_rec *r;
	struct fed_err e2;
	struct stat st;
	unsigned shard = state_shard(name);
	int fd, got;

	/* Our own record being changed right now: leave it be. */
	if ((r = rec_find(s, name, fnv64(name))) != NULL && r->p.locked)
		return;
	if (partner_path(s, name, path, sizeof path) != 0 ||
	    shard_lock(s, shard, &e2) != 0)
		return;
	partner_init(&p, name);
	got = state_read(path, name, &s->params, &p, &fd, &st, &e2);
	if (fd >= 0)
		close(fd);
	if (got == 1) {
		state_expire(&p, now_ms, &s->params);
		if (p.changed_ms <= cutoff && p.watch_ms == 0)
			(void)unlink(path);
	} else if (got < 0 && is_tmp_name(name, len)) {
		/* Holding this name's lock, no partner file can be renamed
		 * here meanwhile; the writer's lock is only tried, because
		 * waiting for a second lock could deadlock. */
		memcpy(prefix, name, len - STATE_TMP_SUFFIX);
		prefix[len - STATE_TMP_SUFFIX] = '\0';
		if (is_partner_name(prefix))
			sweep_tmp_of(s, path, prefix, 1);
	}
	uriset_free(p.uris);
	shard_unlock(s, shard);
}

int
state_sweep(struct state *s, int64_t now_ms, struct fed_err *err)
{
	char path[PATH_MAX];
	struct timespec ts[2];
	struct dirent *de;
	struct stat st;
	int64_t every, cutoff, m;
	unsigned period = s->params.report_period;
	size_t seen = 0, len;
	int fd, existed;
	DIR *d;

	if (s->dry_run)
		return 0;
	every = (int64_t)(period / 12 > 0 ? period / 12 : 1) * 1000;
	snprintf(path, sizeof path, "%s/sweep", s->dir);
	/* The cheap test every caller makes; a future stamp means the clock
	 * went back, and then sweeping once more does no harm. */
	if ((existed = stat(path, &st) == 0) &&
	    (m = mtime_ns(&st) / 1000000) <= now_ms && now_ms - m < every)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		fed_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		if (errno == EWOULDBLOCK)
			return 0;	/* another process is sweeping */
		fed_err_set(err, "%s: lock: %s", path, strerror(errno));
		return -1;
	}
	/* Someone may have finished a sweep between our stat and flock.
	 * (A stamp we just created has the mtime of now: no sweep yet.) */
	if (existed) {
		if (fstat(fd, &st) != 0) {
			fed_err_set(err, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if ((m = mtime_ns(&st) / 1000000) <= now_ms &&
		    now_ms - m < every) {
			close(fd);
			return 0;
		}
	}
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(now_ms / 1000);
	ts[0].tv_nsec = ts[1].tv_nsec = (long)(now_ms % 1000) * 1000000;
	if (futimens(fd, ts) != 0) {
		/* A stamp of another user (fedlist run as root): only its
		 * owner may set its times.  Remove it, so that the next
		 * sweeper makes its own, and sweep now. */
		if ((errno != EPERM && errno != EACCES) || unlink(path) != 0) {
			fed_err_set(err, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
	}
	snprintf(path, sizeof path, "%s/partners", s->dir);
	if ((d = opendir(path)) == NULL) {
		close(fd);
		if (errno == ENOENT)
			return 0;
		fed_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	cutoff = now_ms - (int64_t)period * 1000;
	while (seen++ < STATE_SWEEP_MAX && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		len = strlen(de->d_name);
		if (!is_partner_name(de->d_name)) {
			if (is_tmp_name(de->d_name, len))
				sweep_tmp(s, de->d_name, len, now_ms);
			continue;
		}
		/* Changed recently, by its mtime: no need to read it (but a
		 * name that may be a temporary file's must be read now). */
		if (partner_path(s, de->d_name, path, sizeof path) != 0 ||
		    lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
		    (mtime_ns(&st) / 1000000 > cutoff &&
		    !is_tmp_name(de->d_name, len)))
			continue;
		sweep_partner(s, de->d_name, len, cutoff, now_ms);
	}
	closedir(d);
	close(fd);
	return 0;
}

int
state_response(struct state *st, const char *domain, int64_t now_ms,
    int success, struct fed_err *err)
{
	struct state_partner *p;

	if ((p = state_get(st, domain, now_ms, err)) == NULL)
		return -1;
	if (p->changed_ms != 0 || p->bucket_ms != 0)
		state_response_add(p, now_ms, success, &st->params);
	return 0;
}
