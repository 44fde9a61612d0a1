/* staterec.h: one partner's counters as arithmetic, apart from any store. */
#ifndef STATEREC_H
#define STATEREC_H

#include <stddef.h>
#include <stdint.h>

/*
 * The fixed part of a partner's record, as the local store keeps it (in
 * host byte order: the store never leaves the machine) and as a Redis
 * script would hold it in a hash.  Nothing here knows where it is kept.
 *
 * The bucket is GCRA (the generic cell rate algorithm): one number, the
 * theoretical arrival time `tat_us`, stands for the whole token bucket.
 * With emission interval T = 1/rate and tolerance tau = (burst - 1) * T, a
 * request conforms when tat - now <= tau, and taking it moves tat to
 * max(tat, now) + T.  tat 0 is a bucket never used: full.
 */
#define STATEREC_SLOTS 12	/* response counts: report_period / 12 each */
#define STATEREC_PEERS 4	/* edges a partner was seen from, newest kept */
#define STATEREC_PEER_MAX 255	/* a peer name as stored, cut beyond */

struct staterec_slot {
	uint32_t n;		/* slot number: start_ms / slot length */
	uint32_t ok, fail;
};

struct staterec {
	uint32_t version;	/* STATEREC_VERSION */
	uint32_t nuris;		/* distinct URIs held for it */
	int64_t tat_us;		/* GCRA; 0: full */
	uint32_t rate;		/* the rate tat_us was kept at; 0: none yet */
	uint32_t npeer;
	int64_t last_ms;	/* last request or response */
	int64_t uri_oldest_ms;	/* first-seen time of its oldest URI */
	int64_t suspicious_ms;	/* suspicious since; 0: not */
	int64_t watch_ms;	/* watched since (this store's mark); 0: not */
	struct staterec_slot slot[STATEREC_SLOTS];
};
#define STATEREC_VERSION 2

struct staterec_peer {
	int64_t last_ms;
	char name[STATEREC_PEER_MAX + 1];
};

/* A record that was never written: an empty, full-bucket partner. */
void staterec_init(struct staterec *);

/* Would a request conform now (a token is there)?  rate 0: always. */
int staterec_bucket_peek(const struct staterec *, int64_t now_ms,
    unsigned rate, unsigned burst);
/* Spend the token a conforming request takes. */
void staterec_bucket_take(struct staterec *, int64_t now_ms, unsigned rate,
    unsigned burst);
/* The rate in force changed (suspicion began or ended), or the clock went
 * back: keep the bucket at the rate in force from now on, tokens capped
 * at its burst (none, after a clock step).  1 if the record changed. */
int staterec_bucket_rate(struct staterec *, int64_t now_ms, unsigned rate,
    unsigned burst);
/* Tokens in the bucket now, in thousandths (for listing). */
int64_t staterec_bucket_tokens(const struct staterec *, int64_t now_ms,
    unsigned rate, unsigned burst);

/* Count a final response of our server's; slot length period_s / 12. */
void staterec_response_add(struct staterec *, int64_t now_ms,
    unsigned period_s, int success);
/* Successes and failures within the report period. */
void staterec_responses(const struct staterec *, int64_t now_ms,
    unsigned period_s, unsigned *ok, unsigned *fail);

/*
 * The record as stored: the fields before `slot`, a byte counting the
 * slots in use, those slots, then the peers.  staterec_encode returns
 * the length (0 if cap is short: STATEREC_BYTES_MAX is enough);
 * staterec_decode 0, -1 malformed, -2 another STATEREC_VERSION.
 */
#define STATEREC_BYTES_MAX (sizeof(struct staterec) + 1 + STATEREC_PEERS_BYTES)
size_t staterec_encode(const struct staterec *, const struct staterec_peer *,
    unsigned npe, unsigned char *out, size_t cap);
int staterec_decode(const unsigned char *, size_t, struct staterec *,
    struct staterec_peer *, unsigned *npe);

/*
 * Peers: stored after the fixed part as up to STATEREC_PEERS entries of
 * {int64 last_ms, uint8 len, name}.  staterec_peer_note updates the list
 * in `peers` (the decoded form) and says whether anything changed that is
 * worth a write (a new peer, or last_ms older than a minute).
 */
unsigned staterec_peers_decode(const unsigned char *, size_t,
    struct staterec_peer out[STATEREC_PEERS]);
size_t staterec_peers_encode(const struct staterec_peer *, unsigned n,
    unsigned char *out, size_t cap);
int staterec_peer_note(struct staterec_peer *, unsigned *n, const char *peer,
    int64_t now_ms);
#define STATEREC_PEERS_BYTES (STATEREC_PEERS * (8 + 1 + STATEREC_PEER_MAX))

#endif
