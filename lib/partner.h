/* partner.h: the limits a partner is held to and the state they put it in, decided once. */
#ifndef PARTNER_H
#define PARTNER_H

#include <stdint.h>

#include "conf.h"

/*
 * The limits that apply to a partner (fedkit(7) Order of decision): a
 * discovered partner has fed.conf's discovered_rate and max_uris and is
 * judged by its responses; an allow-listed one only its entry's own
 * rate= and max_uris=, if any.
 */
struct partner_limits {
	unsigned rate;		/* requests a second; 0: none */
	unsigned max_uris;	/* distinct URIs, when uris_limited */
	int uris_limited;
	int discovered;		/* not allow-listed */
};

/* allowed: by an allow entry (and not blocked), whose rate= and
 * max_uris= (LIST_UNSET, LIST_UNLIMITED or a number) are given. */
struct partner_limits partner_limits(const struct conf *, int allowed,
    long rate, long max_uris);

/* What a partner is, as fedgate would judge it now. */
struct partner_status {
	int watched;		/* refused as watched */
	int suspicious;		/* limited to suspicious_rate */
	int near;		/* not watched, at 80% of max_uris */
};

/*
 * The state of a partner held to *l, marked watched (by the watch list or
 * the store), with uris distinct URIs (counted 0: the store has no record
 * of it) and ok and fail responses within report_period.  Under an allow entry's own max_uris a watch holds only
 * while the partner is over that limit, so raising the limit lifts it;
 * an allow-listed partner is never suspicious.
 */
struct partner_status partner_status(const struct conf *,
    const struct partner_limits *l, int marked, int counted,
    unsigned long uris, unsigned ok, unsigned fail);

/*
 * Does the store's mark of a watch begun at watch_ms (0: none) hold at
 * now_ms?  A pool's watch is the store's own (watch_kept), held until
 * watch_expire; the local store's mark only bridges the seconds before
 * the watch list file is read again (fedkit(7) Watch list, POOL).
 */
int partner_store_watch(const struct conf *, int64_t watch_ms,
    int watch_kept, int64_t now_ms);

#endif
