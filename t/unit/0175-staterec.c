/* 0175-staterec: one partner's counters as arithmetic: GCRA, slots, peers. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "staterec.h"
#include "tap.h"

/* 2026-11-21T22:40:33.123Z */
#define KNOWN_MS (INT64_C(1795300833) * 1000 + 123)

/* Takes at one instant until the bucket refuses (at most `max`). */
static int
drain(struct staterec *r, int64_t now, unsigned rate, int max)
{
	int n = 0;

	while (n < max && staterec_bucket_peek(r, now, rate, rate)) {
		staterec_bucket_take(r, now, rate, rate);
		n++;
	}
	return n;
}

static void
test_init(void)
{
	struct staterec r, zero;

	memset(&r, 0xa5, sizeof r);
	staterec_init(&r);
	memset(&zero, 0, sizeof zero);
	zero.version = STATEREC_VERSION;
	ok(memcmp(&r, &zero, sizeof r) == 0 && r.version == STATEREC_VERSION,
	    "init: version set, every counter zero");
	ok(r.tat_us == 0 && staterec_bucket_peek(&r, KNOWN_MS, 20, 20),
	    "a bucket never used is full");
}

static void
test_gcra(void)
{
	struct staterec r, before;
	int64_t t = KNOWN_MS;
	int i, n;

	staterec_init(&r);
	is_long((long)staterec_bucket_tokens(&r, t, 20, 20), 20000,
	    "a fresh bucket of 20 holds 20.000 tokens");
	is_long(drain(&r, t, 20, 100), 20,
	    "a fresh bucket of 20 allows exactly 20 at once");
	is_long((long)staterec_bucket_tokens(&r, t, 20, 20), 0,
	    "then it is empty");
	before = r;
	ok(!staterec_bucket_peek(&r, t + 49, 20, 20),
	    "49 ms later at 20/s: no token yet");
	ok(memcmp(&r, &before, sizeof r) == 0, "peek changes nothing");
	ok(staterec_bucket_peek(&r, t + 50, 20, 20),
	    "50 ms later (1/rate): one token");
	is_long(drain(&r, t + 50, 20, 100), 1, "... exactly one");
	for (n = 0, i = 1; i <= 20; i++)
		n += drain(&r, t + 50 + 50 * i, 20, 100);
	is_long(n, 20, "then one per 50 ms, twenty times in a second");
	is_long(drain(&r, t + 3600000, 20, 100), 20,
	    "a long pause refills up to the burst, no more");
	staterec_bucket_take(&r, t + 7200000, 20, 20);
	is_long((long)staterec_bucket_tokens(&r, t + 7200000, 20, 20), 19000,
	    "one taken from a full bucket leaves 19.000");
	ok(r.rate == 20, "the record keeps the rate its time is at");

	/* A partner turns suspicious: 20/s becomes 1/s, burst 1. */
	ok(staterec_bucket_peek(&r, t + 7200000, 1, 1),
	    "20 -> 1: saved tokens are kept...");
	is_long((long)staterec_bucket_tokens(&r, t + 7200000, 1, 1), 1000,
	    "... capped to the new burst: 1.000");
	is_long(drain(&r, t + 7200000, 1, 100), 1,
	    "so exactly one request passes at once");
	ok(r.rate == 1, "the record moves to the new rate");
	ok(!staterec_bucket_peek(&r, t + 7200999, 1, 1) &&
	    staterec_bucket_peek(&r, t + 7201000, 1, 1),
	    "the next a second later (1/rate), not before");
	/* ... and back: what was left at 1/s carries over, no more. */
	is_long((long)staterec_bucket_tokens(&r, t + 7200000, 20, 20), 0,
	    "1 -> 20 on an empty bucket: still empty");
	ok(drain(&r, t + 7201000, 20, 100) >= 1,
	    "and refills again (a token a second later at most)");

	/* An empty bucket at 20/s turned to 1/s does not lose its refill. */
	staterec_init(&r);
	drain(&r, t, 20, 100);
	ok(!staterec_bucket_peek(&r, t, 1, 1),
	    "20 -> 1 on an empty bucket: no token");
	ok(staterec_bucket_peek(&r, t + 50, 1, 1),
	    "a token's worth of time at 20/s is a token at 1/s (capped)");

	/* The wall clock steps back an hour. */
	staterec_init(&r);
	drain(&r, t, 20, 100);
	ok(!staterec_bucket_peek(&r, t - 3600000, 20, 20),
	    "clock back an hour: the bucket is taken as empty...");
	ok(staterec_bucket_rate(&r, t - 3600000, 20, 20) == 1,
	    "... which the store keeps (state.c does at every decision)");
	ok(staterec_bucket_peek(&r, t - 3600000 + 1000, 20, 20),
	    "... and a second later it has a token: not refused for an hour");
	if (!staterec_bucket_peek(&r, t - 60000, 20, 20))
		diag("59 minutes after the step it still has none");
	staterec_init(&r);
	is_long(drain(&r, t - 3600000, 20, 100), 20,
	    "a fresh bucket is full whatever the clock says");

	/* rate 0: no bucket. */
	staterec_init(&r);
	before = r;
	ok(staterec_bucket_peek(&r, t, 0, 0), "rate 0: always a token");
	staterec_bucket_take(&r, t, 0, 0);
	ok(memcmp(&r, &before, sizeof r) == 0, "and a take changes nothing");
	is_long((long)staterec_bucket_tokens(&r, t, 0, 0), 0,
	    "tokens of no bucket: 0");

	/* A burst other than the rate. */
	staterec_init(&r);
	is_long(drain(&r, t, 5, 100), 5, "burst 5 at rate 5: 5 at once");
	staterec_init(&r);
	n = 0;
	while (n < 100 && staterec_bucket_peek(&r, t, 10, 3)) {
		staterec_bucket_take(&r, t, 10, 3);
		n++;
	}
	is_long(n, 3, "burst 3 at rate 10: 3 at once");

	/* Rates whose interval is not a whole number of microseconds. */
	staterec_init(&r);
	is_long(drain(&r, t, 3, 100), 3, "rate 3: 3 at once");
	is_long((long)staterec_bucket_tokens(&r, t + 1000, 3, 3), 3000,
	    "and 3.000 a second later");
	staterec_init(&r);
	is_long(drain(&r, t, 7, 100), 7, "rate 7: 7 at once");
	for (n = 0, i = 1; i <= 1000; i++)
		n += drain(&r, t + i, 7, 100);
	ok(n >= 6 && n <= 7, "and 7 in the next second, give or take "
	    "rounding (%d)", n);

	/* Huge numbers stay in range. */
	staterec_init(&r);
	ok(staterec_bucket_peek(&r, INT64_C(4000000000000), UINT_MAX,
	    UINT_MAX), "rate and burst UINT_MAX, a far clock: a token");
	staterec_bucket_take(&r, INT64_C(4000000000000), UINT_MAX, UINT_MAX);
	ok(staterec_bucket_tokens(&r, INT64_C(4000000000000), UINT_MAX,
	    UINT_MAX) == ((int64_t)UINT_MAX - 1) * 1000,
	    "... and one taken leaves UINT_MAX - 1");
	staterec_init(&r);
	is_long(drain(&r, t, 2000000, 3), 3,
	    "a rate above a million a second does not divide by zero");
}

static void
test_slots(void)
{
	const unsigned per = 60;	/* slots of 5 s */
	int64_t s0 = KNOWN_MS / 5000 * 5000;
	struct staterec r;
	unsigned okc, fail;
	int i;

	staterec_init(&r);
	staterec_responses(&r, KNOWN_MS, per, &okc, &fail);
	ok(okc == 0 && fail == 0, "no responses at first");
	for (i = 0; i < 3; i++)
		staterec_response_add(&r, KNOWN_MS, per, 1);
	for (i = 0; i < 2; i++)
		staterec_response_add(&r, KNOWN_MS + 1, per, 0);
	staterec_responses(&r, KNOWN_MS + 2, per, &okc, &fail);
	ok(okc == 3 && fail == 2, "one slot: 3 successes, 2 failures "
	    "(%u, %u)", okc, fail);
	staterec_response_add(&r, s0 + 5000, per, 0);
	staterec_responses(&r, s0 + 5000, per, &okc, &fail);
	ok(okc == 3 && fail == 3, "the next slot adds up (%u, %u)", okc,
	    fail);
	staterec_responses(&r, s0 + 59999, per, &okc, &fail);
	ok(okc == 3 && fail == 3, "a slot counts until a period after its "
	    "start (%u, %u)", okc, fail);
	staterec_responses(&r, s0 + 60000, per, &okc, &fail);
	ok(okc == 0 && fail == 1, "then it drops out (%u, %u)", okc, fail);
	staterec_responses(&r, s0 + 65000, per, &okc, &fail);
	ok(okc == 0 && fail == 0, "and so does the next (%u, %u)", okc, fail);
	staterec_responses(&r, s0 - 1, per, &okc, &fail);
	ok(okc == 0 && fail == 0, "slots after `now' do not count "
	    "(%u, %u)", okc, fail);

	/* Thirteen slots in a row: twelve are kept, the oldest goes. */
	staterec_init(&r);
	for (i = 0; i < 13; i++)
		staterec_response_add(&r, s0 + 5000 * i, per, i % 2);
	staterec_responses(&r, s0 + 5000 * 12, per, &okc, &fail);
	ok(okc == 6 && fail == 6, "13 slots in a row: the last 12 count "
	    "(%u, %u)", okc, fail);
	staterec_response_add(&r, s0 + 5000 * 12, per, 1);
	staterec_responses(&r, s0 + 5000 * 12, per, &okc, &fail);
	ok(okc == 7 && fail == 6, "the current slot is found again, not "
	    "replaced (%u, %u)", okc, fail);
	staterec_response_add(&r, s0 + 5000 * 40, per, 0);
	staterec_responses(&r, s0 + 5000 * 40, per, &okc, &fail);
	ok(okc == 0 && fail == 1, "after a long pause only the new one "
	    "counts (%u, %u)", okc, fail);

	/* Saturation. */
	staterec_init(&r);
	staterec_response_add(&r, KNOWN_MS, per, 1);
	staterec_response_add(&r, KNOWN_MS, per, 0);
	for (i = 0; i < STATEREC_SLOTS; i++)
		if (r.slot[i].ok != 0) {
			r.slot[i].ok = UINT32_MAX - 1;
			r.slot[i].fail = UINT32_MAX;
		}
	staterec_response_add(&r, KNOWN_MS, per, 1);
	staterec_response_add(&r, KNOWN_MS, per, 1);
	staterec_response_add(&r, KNOWN_MS, per, 0);
	staterec_responses(&r, KNOWN_MS, per, &okc, &fail);
	ok(okc == UINT32_MAX && fail == UINT32_MAX,
	    "a slot's counts saturate, they do not wrap (%u, %u)", okc, fail);
	for (i = 0; i < STATEREC_SLOTS; i++) {
		r.slot[i].n = (uint32_t)(KNOWN_MS / 5000) - (uint32_t)i;
		r.slot[i].ok = UINT32_MAX;
		r.slot[i].fail = 7;
	}
	staterec_responses(&r, KNOWN_MS, per, &okc, &fail);
	ok(okc == UINT32_MAX && fail == 7 * STATEREC_SLOTS,
	    "the sum of twelve full slots saturates too (%u, %u)", okc, fail);

	/* A period shorter than twelve milliseconds does not divide by 0. */
	staterec_init(&r);
	staterec_response_add(&r, KNOWN_MS, 0, 1);
	staterec_responses(&r, KNOWN_MS, 0, &okc, &fail);
	ok(okc == 1 && fail == 0, "report_period 0: still counted "
	    "(%u, %u)", okc, fail);

	/* report_period 1s: slots of 83 ms, whose numbers pass 2^32 in
	 * this epoch; counting goes on across the wrap. */
	{
		int64_t t0 = ((int64_t)UINT32_MAX - 1) * 83;

		staterec_init(&r);
		staterec_response_add(&r, t0, 1, 1);
		staterec_response_add(&r, t0 + 3 * 83, 1, 0);
		staterec_responses(&r, t0 + 4 * 83, 1, &okc, &fail);
		ok(okc == 1 && fail == 1, "slot numbers wrapping past 2^32: "
		    "both still counted (%u, %u)", okc, fail);
		staterec_responses(&r, t0 + 20 * 83, 1, &okc, &fail);
		ok(okc == 0 && fail == 0, "... and both gone a period later "
		    "(%u, %u)", okc, fail);
	}
}

static void
test_peers(void)
{
	struct staterec_peer pe[STATEREC_PEERS], back[STATEREC_PEERS];
	unsigned char buf[STATEREC_PEERS_BYTES];
	char name[301], cut[STATEREC_PEER_MAX + 1];
	unsigned n = 0, i, m;
	size_t len, l1;
	int found_old, found_new, same;

	memset(pe, 0, sizeof pe);
	is_long(staterec_peer_note(pe, &n, "192.0.2.1:5061", KNOWN_MS), 1,
	    "a new peer is worth a write");
	ok(n == 1 && strcmp(pe[0].name, "192.0.2.1:5061") == 0 &&
	    pe[0].last_ms == KNOWN_MS, "and is stored");
	is_long(staterec_peer_note(pe, &n, "192.0.2.1:5061",
	    KNOWN_MS + 59999), 0, "the same peer within a minute is not");
	ok(pe[0].last_ms == KNOWN_MS, "... and changes nothing");
	is_long(staterec_peer_note(pe, &n, "192.0.2.1:5061",
	    KNOWN_MS + 60000), 1, "a minute later it is");
	ok(n == 1 && pe[0].last_ms == KNOWN_MS + 60000, "last seen moves");
	staterec_peer_note(pe, &n, "edge2.example.net", KNOWN_MS + 1);
	staterec_peer_note(pe, &n, "[2001:db8::1]:5061", KNOWN_MS + 2);
	staterec_peer_note(pe, &n, "edge4", KNOWN_MS + 3);
	is_long(n, STATEREC_PEERS, "four peers");
	staterec_peer_note(pe, &n, "edge5", KNOWN_MS + 70000);
	for (found_old = found_new = 0, i = 0; i < n; i++) {
		found_old += strcmp(pe[i].name, "edge2.example.net") == 0;
		found_new += strcmp(pe[i].name, "edge5") == 0;
	}
	ok(n == STATEREC_PEERS && !found_old && found_new,
	    "a fifth replaces the least recently seen; the newest 4 kept");
	for (found_old = 0, i = 0; i < n; i++)
		found_old += strcmp(pe[i].name, "192.0.2.1:5061") == 0;
	ok(found_old, "the first peer, seen again later, is kept");

	/* Encoding round trip. */
	pe[1].last_ms = -5;	/* whatever the clock said */
	len = staterec_peers_encode(pe, n, buf, sizeof buf);
	for (l1 = 0, i = 0; i < n; i++)
		l1 += 9 + strlen(pe[i].name);
	is_long((long)len, (long)l1, "encoded: 8 + 1 + name bytes each");
	memset(back, 0x5a, sizeof back);
	m = staterec_peers_decode(buf, len, back);
	for (same = m == n, i = 0; same && i < n; i++)
		same = strcmp(back[i].name, pe[i].name) == 0 &&
		    back[i].last_ms == pe[i].last_ms;
	ok(same, "decode(encode(x)) == x, order and times kept");
	is_long(staterec_peers_decode(buf, len - 1, back), n - 1,
	    "a value cut short keeps the whole entries");
	is_long(staterec_peers_decode(buf, 8, back), 0,
	    "less than one entry header: none");
	is_long(staterec_peers_decode(buf, 0, back), 0, "nothing: none");
	is_long((long)staterec_peers_encode(pe, n, buf, 9 +
	    strlen(pe[0].name) + 3), (long)(9 + strlen(pe[0].name)),
	    "encode into a short buffer stops at a whole entry");
	buf[8] = 200;		/* a length beyond the value */
	is_long(staterec_peers_decode(buf, 9 + strlen(pe[0].name), back), 0,
	    "a length beyond the value is not read");

	/* A name longer than 255 octets is cut, consistently. */
	memset(pe, 0, sizeof pe);
	n = 0;
	memset(name, 'x', 300);
	name[300] = '\0';
	memset(cut, 'x', STATEREC_PEER_MAX);
	cut[STATEREC_PEER_MAX] = '\0';
	staterec_peer_note(pe, &n, name, KNOWN_MS);
	ok(n == 1 && strlen(pe[0].name) == STATEREC_PEER_MAX &&
	    strcmp(pe[0].name, cut) == 0, "a 300-octet peer is cut to 255");
	is_long(staterec_peer_note(pe, &n, name, KNOWN_MS + 1), 0,
	    "and is the same peer when seen again");
	for (i = 1; i < STATEREC_PEERS; i++) {
		memset(name, 'a' + (int)i, 300);
		staterec_peer_note(pe, &n, name, KNOWN_MS + i);
	}
	len = staterec_peers_encode(pe, n, buf, sizeof buf);
	is_long((long)len, STATEREC_PEERS_BYTES,
	    "four peers of 255 fill STATEREC_PEERS_BYTES exactly");
	m = staterec_peers_decode(buf, len, back);
	ok(m == STATEREC_PEERS && strcmp(back[0].name, cut) == 0 &&
	    strlen(back[3].name) == STATEREC_PEER_MAX,
	    "and decode whole");
	is_long(staterec_peer_note(pe, &n, "", KNOWN_MS), 1,
	    "an empty name is a peer like another (no crash)");
}

int
main(void)
{
	test_init();
	test_gcra();
	test_slots();
	test_peers();
	return done_testing();
}
