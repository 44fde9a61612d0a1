/* state.h: partner state shared by every fedgate process (fedkit(7), STATE). */
#ifndef STATE_H
#define STATE_H

#include <sys/types.h>

#include <stdint.h>

#include "fed.h"
#include "list.h"

/*
 * Layout of state_dir (defined here and in fedkit(7) only):
 *
 *   format          "fedkit-state 1\n": the version of everything below
 *   partners/NAME   one plain-text file per partner domain NAME
 *   locks/00..ff    flock(2) shards; a partner's shard is the low byte of
 *                   the 32-bit FNV-1a hash of NAME, in lower-case hex.
 *                   Lock files are never removed, so a partner file can be
 *                   removed safely under its shard lock.  Every change to
 *                   partners/NAME (and its NAME.tmp.XXXXXX) is made
 *                   holding NAME's shard lock.
 *   sweep           stamp: its mtime is the last state_sweep
 *
 * A partner file (one record a line, fields separated by one tab, shown
 * aligned here; written whole through afile; blank and `#` lines are
 * skipped when read, never written):
 *
 *   fedkit-state 1
 *   partner   contoso.com
 *   changed   2026-11-22T01:00:00.000Z
 *   bucket    17.350  2026-11-22T01:00:00.000Z       tokens, as of then
 *   watch     2026-11-22T01:00:00.000Z               only when watched
 *   suspicious 2026-11-22T01:00:00.000Z              only when suspicious
 *   responses 2026-11-22T00:55:00.000Z  12  3        slot start, 2xx, failures
 *   peer      192.0.2.7:5061  FIRST  LAST            edges it came from
 *   uri       alice@example.com  FIRST               distinct target URIs
 *
 * Times are RFC 3339 UTC with milliseconds, as in the verdict log.
 * Tokens are written with exactly three decimals and read as fixed point.
 * Records are written in the order shown (read in any order); responses
 * by slot start, URIs in the order first seen.  Peer names and URI keys are
 * single tokens: bytes up to 0x20, 0x7f and above are written %HH.  A
 * file whose first line names another version is refused: "PATH: state
 * format version 2, this fedkit reads version 1".  A malformed line is an
 * error "PATH:LINE: problem"; nothing is rewritten from a file that could
 * not be read.
 */
#define STATE_VERSION 1
#define STATE_SLOTS 12		/* response counts: report_period / 12 each */
#define STATE_PEERS_MAX 8	/* the most recently seen are kept */
#define STATE_URIS_MAX 100000	/* hard cap whatever max_uris says */
#define STATE_KEY_MAX 1100	/* a stored URI key, NUL included */
/*
 * Keys longer than this are stored as their first bytes, '#' and a
 * 64-bit hash of the whole key: every rewrite of a partner file copies
 * its URIs, so a harvester sending 1,000-byte URIs must not make it
 * 1 MB (each distinct URI still counts once; the log keeps it whole).
 */
#define STATE_KEY_LONG 127
#define STATE_PEER_MAX 257	/* as VLOG_PEER_MAX, NUL included */

struct state_params {
	unsigned report_period;	/* seconds: URIs, responses, expiry */
	unsigned watch_expire;	/* seconds; 0 means until cleared */
};

struct state_slot {
	int64_t start_ms;	/* aligned: multiple of report_period/12 */
	unsigned ok, fail;
};

struct state_peer {
	char name[STATE_PEER_MAX];
	int64_t first_ms, last_ms;
};

struct state_uriset;		/* a hash set of keys with first-seen times */

/*
 * One partner as this process knows it.  Between state_lock and
 * state_unlock it is exactly the file's contents plus this process's
 * changes; outside, it may be stale, but stale only in the safe direction
 * for the fast path: other processes take tokens, add URIs and set
 * watches, so a stale copy never shows fewer tokens, more URIs or less
 * watch than the truth, and a request it already refuses (no token, too
 * many URIs) the truth refuses too, perhaps for another reason (watch
 * rather than rate); letting one through needs the lock.  Operators'
 * clears and other processes' response counts (suspicion) are seen
 * within a second.
 *
 * Records come from state_get and belong to the state: change them
 * (tokens, URIs, peers, watch, suspicion) only between state_lock and
 * state_unlock, because the lock reloads the file and drops changes made
 * before it.  Responses (state_response_add) may be added at any time.
 * In dry-run mode every change may be made anywhere.
 */
struct state_partner {
	char domain[DOMAIN_MAX + 1];
	int64_t changed_ms;	/* last written; 0: no file */
	int64_t tokens_milli;	/* bucket content in thousandths */
	int64_t bucket_ms;	/* as of this time; 0: never used (full) */
	int64_t watch_ms;	/* on the watch list since; 0: not */
	int64_t suspicious_ms;	/* suspicious since; 0: not */
	struct state_slot slot[STATE_SLOTS];
	struct state_slot pend[STATE_SLOTS];	/* responses not yet written */
	unsigned npeer;
	struct state_peer peer[STATE_PEERS_MAX];
	struct state_uriset *uris;
	/* bookkeeping of the cache; not part of the file */
	int dirty;		/* changed since read: write at unlock */
	int durable;		/* ... and the change must outlive a power
				 * loss (a watch begins or ends): the write
				 * also syncs the directory */
	int locked;
	int64_t checked_ms;	/* when the file's identity was last checked */
	int64_t flushed_ms;	/* when pending responses were last written */
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
};

struct state;

/*
 * Open state_dir: create it (0750, parent must exist), `format`, `locks/`
 * and `partners/` if missing; refuse a directory whose format file names
 * another version.  In dry-run mode nothing is created, locked or
 * written: existing partner files are read if present, and every change
 * lives in memory only.
 */
int state_open(struct state **, const char *dir, const struct state_params *,
    int dry_run, struct fed_err *);

/* Write pending response counts (taking locks) and free everything. */
int state_close(struct state *, int64_t now_ms, struct fed_err *);

/*
 * The cached record for a partner (normalized domain), read from its file
 * the first time and again when the file changed, checked at most once a
 * second (now_ms).  Never NULL on success: a partner without a file gets
 * an empty record.  Expired parts are dropped (state_expire).
 */
struct state_partner *state_get(struct state *, const char *domain,
    int64_t now_ms, struct fed_err *);

/* Take the partner's shard lock and bring the record up to date with its
 * file.  If the file cannot be read the lock is released, the record is
 * left as it was and -1 returned.  Dry run: a no-op. */
int state_lock(struct state *, struct state_partner *, int64_t now_ms,
    struct fed_err *);

/* Write the record if it changed or has pending responses, then unlock.
 * On a write error the lock is still released and -1 returned. */
int state_unlock(struct state *, struct state_partner *, int64_t now_ms,
    struct fed_err *);

/* Write pending responses of every record whose last flush is older than
 * a second; cheap when there is nothing to do.  Call once per message. */
int state_flush_due(struct state *, int64_t now_ms, struct fed_err *);

/* Drop URIs first seen, and response slots started, more than
 * report_period ago; end a watch older than watch_expire (if set). */
void state_expire(struct state_partner *, int64_t now_ms,
    const struct state_params *);

/*
 * Distinct URIs.  Keys are AORs as sip_uri_aor writes them; bytes that
 * could break the file (controls, space, non-ASCII) are stored %HH.  A key
 * longer than STATE_KEY_LONG once escaped is stored cut, with a hash of
 * the whole key in place of its tail, so long keys stay distinct.
 * state_uri_add: 1 added, 0 already there, -1 with errno ENOSPC when
 * STATE_URIS_MAX keys are held, ENOMEM when out of memory.
 */
int state_uri_has(const struct state_partner *, const char *key);
unsigned state_uri_count(const struct state_partner *);
int state_uri_add(struct state_partner *, const char *key, int64_t now_ms);

/*
 * The token bucket: `rate` tokens a second up to `burst`; a record that
 * was never used is full.  Taking refills up to now first, then spends one
 * token if there is one: 1 taken, 0 none.  state_bucket_peek says whether
 * a take would succeed, changing nothing.
 */
int state_bucket_peek(const struct state_partner *, int64_t now_ms,
    unsigned rate, unsigned burst);
int state_bucket_take(struct state_partner *, int64_t now_ms, unsigned rate,
    unsigned burst);

/* A final response from our server to this partner: success (2xx) or
 * failure (a failure_code).  Kept pending, written within a second. */
void state_response_add(struct state_partner *, int64_t now_ms, int success,
    const struct state_params *);
int state_response(struct state *, const char *domain, int64_t now_ms,
    int success, struct fed_err *);
/* Successes and failures within the report period, pending included. */
void state_responses(const struct state_partner *, int64_t now_ms,
    const struct state_params *, unsigned *ok, unsigned *fail);

/* Note the peer the partner was seen from; 1 if that changed the record
 * (a new peer, or last_ms older than a minute), 0 if not. */
int state_peer_note(struct state_partner *, const char *peer, int64_t now_ms);

/* What `fedlist watch clear` does: no watch, no suspicion, no URIs, no
 * responses.  Takes the lock and writes. */
int state_clear(struct state *, const char *domain, int64_t now_ms,
    struct fed_err *);

/* Every partner with a file, read fresh, in name order, for `fedlist
 * watch ls` and fedstat; the callback's non-zero return stops the walk.
 * A file that cannot be read is skipped and the walk goes on; it then
 * returns -1 with *err naming the first such file. */
int state_walk(struct state *, int64_t now_ms,
    int (*fn)(const struct state_partner *, void *), void *arg,
    struct fed_err *);

/*
 * Remove partner files that hold nothing of value any more (no watch,
 * nothing changed within report_period) and temporary files left by
 * killed writers (removed under the partner's shard lock, which no writer
 * then holds).  Runs at most once per report_period/12 (at least a
 * second) per state directory (the mtime of a `sweep` stamp file records
 * the last run; its flock lets only one process sweep), so any process
 * may call it at exit.  Looks at most 100000 directory entries a run.
 * Dry run: a no-op.
 */
int state_sweep(struct state *, int64_t now_ms, struct fed_err *);

#endif
