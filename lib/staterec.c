/* staterec.c: GCRA bucket, response slots and peers of one partner record. */
#include <stddef.h>
#include <string.h>

#include "staterec.h"

void
staterec_init(struct staterec *r)
{
	memset(r, 0, sizeof *r);
	r->version = STATEREC_VERSION;
}

/* How far ahead of our clock another process's may be: processes read
 * the time before they wait for the store. */
#define STEP_SLACK_US	1000000

/* The emission interval in microseconds; a rate above a million a second
 * is as good as none, and 0 would divide by nothing later. */
static int64_t
interval_us(unsigned rate)
{
	int64_t t = 1000000 / (int64_t)(rate ? rate : 1);

	return t > 0 ? t : 1;
}

/*
 * The theoretical arrival time as if the bucket had always been kept at
 * `rate`: a partner that turns suspicious keeps the tokens it had, capped
 * at the new burst (fedkit(7)), and one whose clock stepped back (tat far
 * ahead of now) is taken as empty, not as refused for the length of the
 * step.
 */
static int64_t
tat_at(const struct staterec *r, int64_t now_us, unsigned rate, unsigned burst)
{
	int64_t t = interval_us(rate), tau = (int64_t)(burst ? burst - 1 : 0) * t;
	int64_t tat = r->tat_us;

	if (tat == 0)
		return now_us;		/* never used: full */
	if (r->rate != 0 && r->rate != rate) {
		int64_t to = interval_us(r->rate);
		int64_t tauo = (int64_t)(r->rate - 1) * to;
		double credit = (double)(now_us + tauo + to -
		    (tat > now_us ? tat : now_us));
		double cn = credit / (double)to * (double)t;

		if (cn < 0)
			cn = 0;
		if (cn > (double)(tau + t))
			cn = (double)(tau + t);
		tat = now_us + tau + t - (int64_t)cn;
	}
	if (tat < now_us)
		tat = now_us;
	/* Beyond an empty bucket only a clock gone back can put it (or,
	 * by a little, another process whose `now` was read a moment after
	 * ours: STEP_SLACK_US): empty then, refilling from now
	 * (staterec_bucket_rate keeps that), not refused for the length of
	 * the step. */
	if (tat > now_us + tau + t + STEP_SLACK_US)
		tat = now_us + tau + t;
	return tat;
}

int
staterec_bucket_peek(const struct staterec *r, int64_t now_ms, unsigned rate,
    unsigned burst)
{
	int64_t now = now_ms * 1000, t = interval_us(rate);

	if (rate == 0)
		return 1;
	return tat_at(r, now, rate, burst) - now <=
	    (int64_t)(burst ? burst - 1 : 0) * t;
}

void
staterec_bucket_take(struct staterec *r, int64_t now_ms, unsigned rate,
    unsigned burst)
{
	int64_t now = now_ms * 1000;

	if (rate == 0)
		return;
	r->tat_us = tat_at(r, now, rate, burst) + interval_us(rate);
	r->rate = rate;
}

int
staterec_bucket_rate(struct staterec *r, int64_t now_ms, unsigned rate,
    unsigned burst)
{
	int64_t now = now_ms * 1000, t = interval_us(rate);
	int64_t tau = (int64_t)(burst ? burst - 1 : 0) * t;

	if (rate == 0 || r->tat_us == 0 ||
	    (r->rate == rate && r->tat_us <= now + tau + t + STEP_SLACK_US))
		return 0;
	r->tat_us = tat_at(r, now, rate, burst);
	r->rate = rate;
	return 1;
}

int64_t
staterec_bucket_tokens(const struct staterec *r, int64_t now_ms,
    unsigned rate, unsigned burst)
{
	int64_t now = now_ms * 1000, t = interval_us(rate);
	int64_t tau = (int64_t)(burst ? burst - 1 : 0) * t;

	if (rate == 0)
		return 0;
	return (now + tau + t - tat_at(r, now, rate, burst)) * 1000 / t;
}

static int64_t
slot_ms(unsigned period_s)
{
	int64_t len = (int64_t)period_s * 1000 / STATEREC_SLOTS;

	return len > 0 ? len : 1;
}

void
staterec_response_add(struct staterec *r, int64_t now_ms, unsigned period_s,
    int success)
{
	uint32_t n = (uint32_t)(now_ms / slot_ms(period_s));
	struct staterec_slot *s = &r->slot[0];
	size_t i;

	/* Slot numbers are kept modulo 2^32 (with a period of a few
	 * seconds they wrap within the epoch): ages are differences. */
	for (i = 0; i < STATEREC_SLOTS; i++) {
		if (r->slot[i].n == n && (r->slot[i].ok || r->slot[i].fail)) {
			s = &r->slot[i];
			goto count;
		}
		if (r->slot[i].ok == 0 && r->slot[i].fail == 0)
			s = &r->slot[i];	/* an empty one first */
		else if ((s->ok || s->fail) &&
		    (uint32_t)(n - r->slot[i].n) > (uint32_t)(n - s->n))
			s = &r->slot[i];	/* else the oldest goes */
	}
	s->n = n;
	s->ok = s->fail = 0;
count:
	/* Saturate: the share is what matters, not the last count. */
	if (success && s->ok < UINT32_MAX)
		s->ok++;
	else if (!success && s->fail < UINT32_MAX)
		s->fail++;
}

void
staterec_responses(const struct staterec *r, int64_t now_ms,
    unsigned period_s, unsigned *ok, unsigned *fail)
{
	uint32_t n = (uint32_t)(now_ms / slot_ms(period_s));
	uint64_t o = 0, f = 0;
	size_t i;

	for (i = 0; i < STATEREC_SLOTS; i++)
		if ((uint32_t)(n - r->slot[i].n) < STATEREC_SLOTS) {
			o += r->slot[i].ok;
			f += r->slot[i].fail;
		}
	*ok = o > UINT32_MAX ? UINT32_MAX : (unsigned)o;
	*fail = f > UINT32_MAX ? UINT32_MAX : (unsigned)f;
}

unsigned
staterec_peers_decode(const unsigned char *p, size_t len,
    struct staterec_peer out[STATEREC_PEERS])
{
	unsigned n = 0;
	size_t l;

	while (n < STATEREC_PEERS && len >= 9) {
		memcpy(&out[n].last_ms, p, 8);
		l = p[8];
		if (len - 9 < l)
			break;		/* cut short: keep what is whole */
		memcpy(out[n].name, p + 9, l);
		out[n].name[l] = '\0';
		p += 9 + l;
		len -= 9 + l;
		n++;
	}
	return n;
}

size_t
staterec_peers_encode(const struct staterec_peer *pe, unsigned n,
    unsigned char *out, size_t cap)
{
	size_t off = 0, l;
	unsigned i;

	for (i = 0; i < n; i++) {
		l = strlen(pe[i].name);
		if (off + 9 + l > cap)
			break;
		memcpy(out + off, &pe[i].last_ms, 8);
		out[off + 8] = (unsigned char)l;
		memcpy(out + off + 9, pe[i].name, l);
		off += 9 + l;
	}
	return off;
}

int
staterec_peer_note(struct staterec_peer *pe, unsigned *n, const char *peer,
    int64_t now_ms)
{
	char name[STATEREC_PEER_MAX + 1];
	unsigned i, old = 0;
	size_t l = strlen(peer);

	if (l > STATEREC_PEER_MAX)
		l = STATEREC_PEER_MAX;
	memcpy(name, peer, l);
	name[l] = '\0';
	for (i = 0; i < *n; i++) {
		if (strcmp(pe[i].name, name) == 0) {
			if (now_ms - pe[i].last_ms < 60000)
				return 0;
			pe[i].last_ms = now_ms;
			return 1;
		}
		if (pe[i].last_ms < pe[old].last_ms)
			old = i;
	}
	if (*n < STATEREC_PEERS)
		old = (*n)++;
	memcpy(pe[old].name, name, l + 1);
	pe[old].last_ms = now_ms;
	return 1;
}

/*
 * The stored form: the fixed fields, then only the response slots in use
 * (most partners have one or two of twelve), then the peers.  The unused
 * slots would be three quarters of a typical record.
 */
#define HEAD_BYTES	offsetof(struct staterec, slot)

size_t
staterec_encode(const struct staterec *r, const struct staterec_peer *pe,
    unsigned npe, unsigned char *out, size_t cap)
{
	size_t off = HEAD_BYTES + 1, i;
	unsigned n = 0;

	if (cap < off + sizeof r->slot)
		return 0;
	memcpy(out, r, HEAD_BYTES);
	for (i = 0; i < STATEREC_SLOTS; i++) {
		if (r->slot[i].ok == 0 && r->slot[i].fail == 0)
			continue;
		memcpy(out + off, &r->slot[i], sizeof r->slot[i]);
		off += sizeof r->slot[i];
		n++;
	}
	out[HEAD_BYTES] = (unsigned char)n;
	return off + staterec_peers_encode(pe, npe, out + off, cap - off);
}

int
staterec_decode(const unsigned char *p, size_t len, struct staterec *r,
    struct staterec_peer *pe, unsigned *npe)
{
	size_t off = HEAD_BYTES + 1, i, n;

	if (len < off)
		return -1;
	memset(r, 0, sizeof *r);
	memcpy(r, p, HEAD_BYTES);
	if (r->version != STATEREC_VERSION)
		return -2;
	n = p[HEAD_BYTES];
	if (n > STATEREC_SLOTS || len - off < n * sizeof r->slot[0])
		return -1;
	for (i = 0; i < n; i++, off += sizeof r->slot[0])
		memcpy(&r->slot[i], p + off, sizeof r->slot[0]);
	*npe = staterec_peers_decode(p + off, len - off, pe);
	return 0;
}
