/* txn.h: which partner each request fedgate relayed to our server came from. */
#ifndef TXN_H
#define TXN_H

#include <stdint.h>

#include "fed.h"
#include "list.h"
#include "sip.h"

/*
 * Only our server's answers count towards a partner's suspicion, and
 * they count for the partner whose request they answer, not for the From
 * that partner chose (fedkit(7)).  So when fedgate relays a partner's
 * request it records the transaction with the partner the gate judged,
 * and looks our server's response up by the same key.
 *
 * The key is RFC 3261 17.2.3's: the top Via's branch with the CSeq
 * method (a CANCEL is its own transaction), or, for a branch without the
 * magic cookie (RFC 2543 peers), Call-ID, CSeq number and method.  A key
 * longer than TXN_KEY_MAX bytes is kept as a hash and its first bytes:
 * a hostile 10 KB branch costs no more than a short one.
 *
 * The table is bounded: at most `max` transactions (past it the oldest
 * is forgotten), each forgotten `ttl_ms` after it was recorded or last
 * got a provisional response (Timer C, RFC 3261 16.6, is refreshed the
 * same way); a final response ends it, so a retransmitted final response
 * finds nothing and is not counted twice.
 */
#define TXN_KEY_MAX	128
#define TXN_TTL_MS	(64 * 500)	/* 64*T1: RFC 3261 timers B and F */
#define TXN_MAX		4096

struct txn_table;

/* A new empty table; NULL with errno set (max is 0 or over 2^24, or out
 * of memory).  Memory grows with the transactions held, about 430 bytes
 * each, up to `max` of them: 1.7 MB at TXN_MAX. */
struct txn_table *txn_new(unsigned max, int64_t ttl_ms);
void txn_free(struct txn_table *);

/*
 * Record the transaction of request m (relayed to our server at now_ms,
 * a monotonic clock) as `partner`'s.  `branch`, when its length is not
 * zero, stands for m's top Via branch: over UDP our server sees (and
 * answers with) fedgate's own Via on top.  A request whose transaction is
 * already held for the same partner (a retransmission) only refreshes
 * it.  0, or -1 when out of memory (nothing recorded).
 */
int txn_add(struct txn_table *, const struct sip_msg *m, struct fed_str branch,
    const char *partner, int64_t now_ms);

/*
 * Our server's response m: whose request does it answer?  Copies the
 * partner into buf (cap bytes, DOMAIN_MAX + 1 is enough) and returns 1,
 * or returns 0 when no transaction is held for it (never recorded,
 * expired, or already ended).  A final response (>= 200) ends the
 * transaction; a provisional one keeps it for another ttl.  When two
 * held transactions share a key (a partner reusing a branch), the older
 * is answered first, as our server answers over one connection.
 */
int txn_answer(struct txn_table *, const struct sip_msg *m, int64_t now_ms,
    char *buf, size_t cap);

/* How many transactions the table holds now. */
unsigned txn_count(const struct txn_table *);

#endif
