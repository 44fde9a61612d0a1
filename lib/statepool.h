/* statepool.h: the partner state of an edge pool, in Redis (fedkit(7) POOL). */
#ifndef STATEPOOL_H
#define STATEPOOL_H

#include <stdint.h>

#include "fed.h"
#include "policy.h"
#include "staterec.h"

struct state_params;
struct state_req;
struct state_view;

/*
 * fed.conf's `redis`: HOST:PORT, [V6ADDR]:PORT, or the path of a unix
 * socket (starting with /).  Checked when fed.conf is read; 0 or -1 with
 * *why.
 */
int pool_addr_check(const char *, const char **why);

/*
 * Redis is reached with these bounds: a process waits at most
 * POOL_CONNECT_MS to connect and POOL_REPLY_MS for a reply before it
 * takes Redis for down; it then tries again after POOL_RETRY_MIN_MS,
 * doubling up to POOL_RETRY_MAX_MS.
 */
#define POOL_CONNECT_MS 200
#define POOL_REPLY_MS 500
#define POOL_RETRY_MIN_MS 250
#define POOL_RETRY_MAX_MS 8000
/* Response counts wait at most a second, this many partners at most. */
#define POOL_RESPONSES_MAX 4096

struct pool;

/* Never fails because Redis is down (the pool starts down and says why);
 * -1 only when memory is short. */
int pool_open(struct pool **, const struct state_params *, int dry_run,
    int64_t now_ms, struct fed_err *);
void pool_close(struct pool *);
void pool_set_params(struct pool *, const struct state_params *);

/*
 * Is the pool there now?  Reconnects when a retry is due.  1 or 0.  When
 * it goes down or comes back, pool_news says so once.
 */
int pool_up(struct pool *, int64_t now_ms);
const char *pool_news(struct pool *);
/* Why it is down (the last failure). */
const char *pool_why(const struct pool *);

/*
 * The state step of one request, as state_decide: fills f's state facts
 * and says whether this request starts a watch and whether it ran into
 * STATE_URIS_MAX.  0; POOL_DOWN when Redis could not be asked (nothing
 * was changed, or the change is Redis's to keep); -1 with *err when its
 * answer makes no sense.
 */
#define POOL_DOWN 1
int pool_decide(struct pool *, const struct state_req *, int64_t now_ms,
    struct policy_facts *f, int *watch_now, int *uri_cap, struct fed_err *);

/*
 * Pipe mode: the state questions of the messages one read brought in are
 * planned first (pool_plan, in order), asked in one call (pool_plan_run),
 * and pool_decide then answers each from what came back, as long as the
 * questions come in the same order (any other drops the plan).  At most
 * POOL_PLAN_MAX a read; the rest are asked one by one.
 */
#define POOL_PLAN_MAX 256
int pool_plan(struct pool *, const struct state_req *, int64_t now_ms);
int pool_plan_run(struct pool *, int64_t now_ms, struct fed_err *);

/* A response, counted at the next pool_tick (a second at most). */
int pool_response(struct pool *, const char *domain, int64_t now_ms,
    int success);

/* Send the response counts if due (or `force`), sweep the indexes. */
int pool_tick(struct pool *, int64_t now_ms, int force);

/* As state_clear, state_walk, state_view; POOL_DOWN if Redis cannot
 * be asked (-POOL_DOWN from pool_view). */
int pool_clear(struct pool *, const char *domain, int64_t now_ms);
int pool_walk(struct pool *, int64_t now_ms,
    int (*fn)(const struct state_view *, void *), void *arg,
    struct fed_err *);
int pool_view(struct pool *, const char *domain, int64_t now_ms,
    struct state_view *, char *dombuf, struct fed_err *);

/*
 * A dry run (fedgate -n, fedlist check) decides on a private store of its
 * own: a partner is pulled from the pool into it the first time it is
 * asked for.  Its URIs come as the pool's keyed hashes (pool_hashkey).
 */
struct pool_pulled {
	int found;		/* the partner has state (or a watch) */
	struct staterec rec;	/* watch_ms: the pool's watch, if any */
	struct staterec_peer peer[STATEREC_PEERS];
	unsigned npeer;
	int64_t peer_window_ms;	/* the peer's count of new partners */
	unsigned peer_count;
	size_t nuris;
	uint64_t *uri_hash;
	int64_t *uri_ms;
};
int pool_pull(struct pool *, const char *domain, const char *peer_key,
    int64_t now_ms, struct pool_pulled *, struct fed_err *);
void pool_pulled_free(struct pool_pulled *);
const uint64_t *pool_hashkey(const struct pool *);

#endif
