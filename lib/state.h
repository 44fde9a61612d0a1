/* state.h: partner state shared by every fedgate process (fedkit(7), STATE). */
#ifndef STATE_H
#define STATE_H

#include <stdint.h>

#include "fed.h"
#include "list.h"
#include "policy.h"
#include "staterec.h"

/*
 * Layout of state_dir (defined here and in fedkit(7) only):
 *
 *   format              "fedkit-state 2\n": the version of what follows
 *   format.lock         afile's lock, taken when `format` is first written
 *   counters.mdb        the hot counters: an LMDB environment (one file,
 *   counters.mdb-lock   MDB_NOSUBDIR) shared by every process
 *   watch               the watch list (plain text, lib/watchlist.h),
 *                       unless fed.conf's watch_list puts it elsewhere
 *
 * LMDB sub-databases of counters.mdb:
 *
 *   meta      "version" -> uint32 2; "hashkey" -> 16 random bytes (the
 *             SipHash key of URI hashes, drawn when the store is made)
 *   partners  DOMAIN -> struct staterec, then its peers (staterec.h)
 *   uris      DOMAIN -> dup-sorted 16-byte {SipHash(URI) big-endian,
 *             first-seen ms}: the distinct URIs, 16 bytes each whatever
 *             their length
 *   idle      {last-seen s, big-endian uint64} DOMAIN -> "": partners by
 *             age, for the sweep and for max_partners (oldest first)
 *   held      the same for partners watched or suspicious: swept when
 *             idle for report_period, never dropped to make room
 *   peers     PEER -> {window start ms, new partners in it, last ms}
 *   peeridle  {last-seen s} PEER -> "": the same for peers
 *
 * Domains are keys, never file names, so every legal domain (253 octets)
 * works.  A state_dir whose format names another version (version 1 kept
 * a file per partner) is refused with what to do.
 *
 * Durability: every decision is one LMDB write transaction committed
 * without fsync (MDB_NOSYNC | MDB_WRITEMAP): a kill -9 of any process at
 * any moment loses nothing and corrupts nothing (LMDB's copy-on-write
 * pages and robust lock), and the store is flushed to disk at most a
 * second after a change (state_tick; a process that exits starts the
 * write-back without waiting for it), so a power loss costs about the
 * last second of counters.  XXX: with MDB_NOSYNC LMDB does not promise
 * a readable store after an operating-system crash between flushes;
 * the watch list, the one thing whose loss would matter, is a file of
 * its own, written and synced whole.  Where losing a change would matter -- a watch
 * starts (the watch list file, fsynced), suspicion starts or ends, an
 * operator's clear -- the store is flushed before the call returns.
 */
#define STATE_VERSION 2
#define STATE_URIS_MAX 100000	/* hard cap whatever max_uris says */
#define STATE_MAP_BYTES (4ULL << 30)	/* address space, not disk */

struct state_params {
	unsigned report_period;	/* seconds: URIs, responses, expiry */
	unsigned max_partners;	/* partners kept at most */
	unsigned max_new_partners;	/* per peer per report_period */
	unsigned suspect_min;	/* suspect_min_responses */
	double suspect_share;	/* suspect_fail_share */
	unsigned suspicious_rate;
	unsigned watch_expire;	/* seconds, 0: never (the pool's watches) */
	/* fedkit(7) POOL: with `redis` set the state is the pool's, in
	 * Redis, and this host's own store is the fallback */
	const char *redis;	/* NULL or empty: the local store only */
	const char *redis_password;
	int redis_refuse;	/* redis_down = refuse: 503 while it is down */
	int pool_only;		/* with redis: make no local store (a tool
				 * run by an operator, fedlist watch clear) */
};

/*
 * One request's question to the state (fedkit(7) 1.5 from `watch` on):
 * everything the engine needs, so that a decision is one call, one
 * transaction here and one script in a shared store.
 */
struct state_req {
	const char *domain;	/* normalized partner domain */
	const char *peer;	/* the connection's identity, NULL: none */
	const char *peer_key;	/* what max_new_partners counts by (the
				 * peer's host); NULL: peer; both NULL (pipe
				 * mode without --peer): not counted */
	const char *uri;	/* the distinct-URI key (AOR) */
	int discovered;		/* suspicion and the new-partner cap apply */
	int uris_limited;
	unsigned max_uris;
	unsigned rate;		/* 0: no bucket */
	int watched;		/* on the watch list file */
	int64_t list_read_ms;	/* when the caller last read the watch list
				 * file whole: a watch mark is lifted only on
				 * the word of a list read after the mark was
				 * set (and written), never of a stale one */
};

struct state;

/*
 * Open (creating if missing: 0750 directory, parent must exist) state_dir.
 * In dry-run mode nothing under it is created or changed: the engine runs
 * on a private store in a temporary directory, and a partner is copied
 * from the real store (if any) the first time it is asked for.  Reading
 * the real store takes a reader slot in counters.mdb-lock, LMDB's own
 * lock table (its mtime moves), as every reader's does.
 */
int state_open(struct state **, const char *dir, const struct state_params *,
    int dry_run, struct fed_err *);
int state_close(struct state *, struct fed_err *);

/* fed.conf changed under a running process: the new limits from now on
 * (a changed report_period needs a restart). */
void state_set_params(struct state *, const struct state_params *);

/* A store that could not be read (an operating-system crash between
 * flushes) is moved aside at open and counting starts again: this says
 * so, for the caller to pass on once; NULL if nothing happened. */
const char *state_warning(const struct state *);

/* A pool's Redis went down or came back since the last call: what to
 * say, once; NULL if nothing changed. */
const char *state_news(struct state *);

/* Did the last state_decide keep its watch itself (a pool's watch,
 * seen by every host at once)?  If not, a watch_now is the caller's to
 * write to the watch list file. */
int state_watch_kept(const struct state *);

/*
 * Decide the state step of one request: fill f's state facts (watched,
 * distinct_uris, uri_new, suspicious, rate_limited, token, new_refused),
 * let policy_decide order them, and keep what the decision changes (the
 * URI counted, the token spent, the watch mark, suspicion, the peer), all
 * in one transaction.  *d is the decision.  d->watch_now asks the caller
 * to add the partner to the watch list file; the store keeps a watch mark
 * of its own for STATE_WATCH_SETTLE_MS so that processes that have not
 * yet re-read that file refuse too.
 */
#define STATE_WATCH_SETTLE_MS 5000
int state_decide(struct state *, const struct state_req *, int64_t now_ms,
    struct policy_facts *f, struct policy_decision *d, struct fed_err *);

/*
 * Batching (pipe mode): between state_batch(st, 1) and state_batch(st, 0)
 * decisions and responses share one write transaction, committed at the
 * end or every STATE_BATCH_MAX of them, so a read's worth of messages
 * costs one commit.  The caller ends the batch before it writes the log
 * lines and output that report those decisions: the store is always
 * ahead of the log.  The other processes wait for the store meanwhile,
 * so a batch is short.  After an error the batch's decisions are lost.
 */
#define STATE_BATCH_MAX 256
int state_batch(struct state *, int on, struct fed_err *);
int state_batch_commit(struct state *, struct fed_err *);

/*
 * Pipe mode with a pool: the messages of one read are judged twice, first
 * to plan their state questions (state_plan, in order, changing nothing),
 * then, after state_plan_run has asked them all in one call, for real:
 * state_decide answers from the plan.  state_plans says whether it is
 * worth it (a pool, batching on); the local store needs no plan.
 */
int state_plans(const struct state *);
/* Is there a pool (fedkit(7) POOL), up or down? */
int state_pooled(const struct state *);
int state_plan(struct state *, const struct state_req *, int64_t now_ms);
int state_plan_run(struct state *, int64_t now_ms, struct fed_err *);

/* A final response of our server's to a request of this partner's:
 * counted only if the partner has state (a response never creates one). */
int state_response(struct state *, const char *domain, int64_t now_ms,
    int success, struct fed_err *);

/* What `fedlist watch clear` does: the partner's counters go (no URIs,
 * no responses, no suspicion, no watch mark); flushed before it returns.
 * 1 if it had state, 0 if not. */
int state_clear(struct state *, const char *domain, int64_t now_ms,
    struct fed_err *);

/* One partner as listed (`fedlist watch ls`, fedstat). */
struct state_view {
	const char *domain;
	struct staterec rec;
	unsigned npeer;
	struct staterec_peer peer[STATEREC_PEERS];
	unsigned ok, fail;	/* responses within the report period */
	int watch_kept;		/* the store keeps the watch (a pool's):
				 * rec.watch_ms is a watch, not a mark */
};

/* Every partner with state, in name order, read in one snapshot; the
 * callback's non-zero return stops the walk. */
int state_walk(struct state *, int64_t now_ms,
    int (*fn)(const struct state_view *, void *), void *arg,
    struct fed_err *);
/* One partner (0 if it has no state, 1 if *v was filled). */
int state_view(struct state *, const char *domain, int64_t now_ms,
    struct state_view *, char *dombuf, struct fed_err *);

/*
 * Once a second at most: flush the store to disk if it changed, and
 * remove partners and peers idle for report_period (a bounded number a
 * call).  Cheap when nothing is due.
 */
int state_tick(struct state *, int64_t now_ms, struct fed_err *);

/* Partners and peers held (for tests and benches). */
int state_count(struct state *, unsigned long *partners, unsigned long *peers,
    unsigned long *uris, struct fed_err *);

#endif
