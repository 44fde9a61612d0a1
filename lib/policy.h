/* policy.h: the decision as a pure function of facts (fedkit(7) Order of decision). */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>

enum verdict { VERDICT_ACCEPT, VERDICT_LIMIT, VERDICT_REFUSE, VERDICT_OBSERVE };

/* Grouped by verdict in the order fedkit(7) Verdict log lists them; names as in the log. */
enum reason {
	REASON_ALLOWLISTED, REASON_DISCOVERED,		/* accept */
	REASON_RATE, REASON_SUSPICIOUS,			/* limit, 503 */
	REASON_POOL_DOWN,	/* limit: the pool's Redis is down and
				 * redis_down = refuse (fedkit(7) POOL) */
	REASON_WATCH, REASON_NEW_PARTNERS, REASON_BLOCKED, REASON_NOT_ALLOWED,
	REASON_UNVERIFIED,
	REASON_MALFORMED, REASON_METHOD, REASON_SCANNER, REASON_SPOOF,
	REASON_NOT_LOCAL, REASON_FEDERATION_OFF,
	REASON_FLOOD,		/* refuse: a connection refused too often */
	REASON_RESPONSE,				/* observe */
	REASON__COUNT
};

const char *verdict_name(enum verdict);
const char *reason_name(enum reason);
int verdict_from_name(const char *, size_t, enum verdict *);
int reason_from_name(const char *, size_t, enum reason *);
/* The verdict a reason belongs to (fedkit(7) Verdict log): rate -> limit, ... */
enum verdict reason_verdict(enum reason);

/*
 * What the caller found out about one request and its partner.  The
 * caller looks things up (lists, state, edge cache); policy_decide only
 * orders the rules, so fedgate and `fedlist check` decide alike.
 */
struct policy_facts {
	int malformed;		/* the parser rejected it */
	int malformed_code;	/* the parser's response code (400, 505...);
				 * 0 when no response can be built */
	int is_ack;		/* never answered */
	int mode;		/* enum conf_federation */
	int from_local;		/* From host is one of our local_domains */
	int from_not_domain;	/* From host is an IP literal or missing */
	int ruri_local;		/* Request-URI host is one of local_domains */
	int blocked;		/* on the block list (or on both lists) */
	int allowed;		/* on the allow list (and not blocked) */
	int method_ok;		/* method is in `methods` */
	int scanner;		/* User-Agent matches refuse_user_agents */
	int verify_needed;	/* verification applies to this partner */
	int verified;		/* ... and it succeeded */
	/* distinct URIs: does a limit apply, and does this request cross it? */
	int new_refused;	/* a new partner the state cannot take: its
				 * peer brought max_new_partners already, or
				 * max_partners are kept and none can go */
	int uris_limited;	/* a max_uris applies (discovered, or entry's) */
	int watched;		/* on the watch list; counts only while
				 * uris_limited (allow-listing lifts it) */
	unsigned distinct_uris;	/* distinct URIs so far, this one excluded */
	int uri_new;		/* this request's URI is not among them */
	unsigned max_uris;
	/* the bucket */
	int rate_limited;	/* a rate applies (discovered, or entry's) */
	int suspicious;		/* the partner is suspicious */
	int token;		/* the bucket has a token for this request */
};

struct policy_decision {
	enum verdict verdict;
	enum reason reason;
	int code;		/* response fedgate sends itself, -1 for none */
	int watch_now;		/* this request puts the partner on the watch list */
};

struct policy_decision policy_decide(const struct policy_facts *);

/*
 * Is a partner with `ok` successes and `fail` failures (within the report
 * period) suspicious?  At least `min` of them, and fail / (ok + fail) at
 * least `share` (fedkit(7) THE RULES).  fedgate decides with it and fedstat scores
 * with it, so both agree to the last response.
 */
int policy_suspicious(unsigned ok, unsigned fail, unsigned min, double share);

/*
 * Is `count` near `limit`: at least 80% of it (fedkit(7) THE RULES, shown to the
 * operator so a big legitimate partner can be allow-listed in time)?
 * A limit of 0 is never near.
 */
#define POLICY_NEAR_PERCENT 80
int policy_near(unsigned long count, unsigned long limit);

/* The reason phrase for a code fedgate sends ("Service Unavailable"). */
const char *policy_code_phrase(int code);

/*
 * Does a partner's watch mark (the watch list's, or the store's) refuse
 * it, with `uris` distinct URIs counted?  A discovered partner's always;
 * under an allow entry's own max_uris only while the partner is at or
 * over that limit, so raising the limit lifts the watch, or while the
 * store has no count for it (counted 0: a hand-made mark, a lost store)
 * to weigh the mark by; without a URI limit never, the watch being that
 * limit's consequence (fedkit(7) THE RULES).  fedgate decides with it
 * (state.c) and `fedlist watch ls` and fedstat show it (partner.c), so
 * all three agree.
 */
int policy_watch_holds(int marked, int discovered, int uris_limited,
    int counted, unsigned long uris, unsigned long max_uris);

#endif
