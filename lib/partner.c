/* partner.c: the limits a partner is held to and the state they put it in, decided once. */
#include <string.h>

#include "partner.h"
#include "policy.h"
#include "state.h"

struct partner_limits
partner_limits(const struct conf *c, int allowed, long rate, long max_uris)
{
	struct partner_limits l;

	memset(&l, 0, sizeof l);
	if (!allowed) {
		l.rate = c->discovered_rate;
		l.max_uris = c->max_uris;
		l.uris_limited = 1;
		l.discovered = 1;
		return l;
	}
	if (rate > 0)
		l.rate = (unsigned)rate;
	if (max_uris >= 0) {
		l.max_uris = (unsigned)max_uris;
		l.uris_limited = 1;
	}
	return l;
}

struct partner_status
partner_status(const struct conf *c, const struct partner_limits *l,
    int marked, int counted, unsigned long uris, unsigned ok, unsigned fail)
{
	struct partner_status ps;

	ps.watched = policy_watch_holds(marked, l->discovered,
	    l->uris_limited, counted, uris, l->max_uris);
	ps.suspicious = l->discovered && policy_suspicious(ok, fail,
	    c->suspect_min_responses, c->suspect_fail_share);
	ps.near = !ps.watched && l->uris_limited &&
	    policy_near(uris, l->max_uris);
	return ps;
}

int
partner_store_watch(const struct conf *c, int64_t watch_ms, int watch_kept,
    int64_t now_ms)
{
	if (watch_ms == 0)
		return 0;
	if (watch_kept)
		return c->watch_expire == 0 ||
		    now_ms - watch_ms < (int64_t)c->watch_expire * 1000;
	return now_ms - watch_ms < STATE_WATCH_SETTLE_MS;
}
