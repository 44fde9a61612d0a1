/* 0213-partner.c: the limits a partner is held to and the state they put it in. */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "list.h"
#include "partner.h"
#include "state.h"
#include "tap.h"

int
main(void)
{
	struct partner_limits l;
	struct partner_status ps;
	struct conf c;

	conf_defaults(&c);
	c.discovered_rate = 20;
	c.max_uris = 100;
	c.suspect_min_responses = 20;
	c.suspect_fail_share = 0.5;
	c.watch_expire = 0;

	/* A discovered partner: fed.conf's limits, judged by responses. */
	l = partner_limits(&c, 0, LIST_UNSET, LIST_UNSET);
	ok(l.discovered && l.uris_limited && l.rate == 20 &&
	    l.max_uris == 100, "discovered: discovered_rate and max_uris");
	ps = partner_status(&c, &l, 1, 1, 0, 0, 0);
	ok(ps.watched && !ps.near, "discovered, marked: watched at any count");
	ps = partner_status(&c, &l, 0, 1, 79, 0, 0);
	ok(!ps.watched && !ps.near && !ps.suspicious, "79 of 100: nothing");
	ps = partner_status(&c, &l, 0, 1, 80, 0, 0);
	ok(ps.near, "80 of 100: near");
	ps = partner_status(&c, &l, 0, 1, 0, 10, 10);
	ok(ps.suspicious, "10 failures of 20: suspicious");
	ps = partner_status(&c, &l, 0, 1, 0, 10, 9);
	ok(!ps.suspicious, "19 responses: too few to judge");

	/* An allow entry with its own max_uris: watched only while over. */
	l = partner_limits(&c, 1, 5, 10);
	ok(!l.discovered && l.uris_limited && l.rate == 5 && l.max_uris == 10,
	    "allow entry: its own rate= and max_uris=");
	ps = partner_status(&c, &l, 1, 1, 9, 0, 0);
	ok(!ps.watched && ps.near, "marked, 9 of its 10: not watched, near");
	ps = partner_status(&c, &l, 1, 1, 10, 0, 0);
	ok(ps.watched && !ps.near, "marked, 10 of its 10: watched");
	ps = partner_status(&c, &l, 1, 0, 0, 0, 0);
	ok(ps.watched, "marked, no record to count by: watched, as fedgate "
	    "refuses it");
	ps = partner_status(&c, &l, 0, 0, 0, 0, 0);
	ok(!ps.watched && !ps.near, "not marked, no record: nothing");
	ps = partner_status(&c, &l, 0, 1, 0, 0, 100);
	ok(!ps.suspicious, "allow-listed: never suspicious");

	/* An unlimited (or unset) allow entry: no limit, never watched. */
	l = partner_limits(&c, 1, LIST_UNLIMITED, LIST_UNLIMITED);
	ok(!l.uris_limited && l.rate == 0 && l.max_uris == 0,
	    "allow entry, unlimited: no limit");
	ps = partner_status(&c, &l, 1, 1, 100000, 0, 0);
	ok(!ps.watched && !ps.near && !ps.suspicious,
	    "unlimited allow entry, marked: neither watched nor near");
	l = partner_limits(&c, 1, LIST_UNSET, LIST_UNSET);
	ok(!l.uris_limited && l.rate == 0, "allow entry, no options: no limit");

	/* An allow entry's max_uris=0 is a limit: every new URI is over. */
	l = partner_limits(&c, 1, LIST_UNSET, 0);
	ps = partner_status(&c, &l, 1, 1, 0, 0, 0);
	ok(l.uris_limited && ps.watched, "max_uris=0, marked: watched");

	/* The store's mark of a watch. */
	ok(!partner_store_watch(&c, 0, 0, 1000000), "no mark: no watch");
	ok(partner_store_watch(&c, 1000000, 0,
	    1000000 + STATE_WATCH_SETTLE_MS - 1), "local mark: settling");
	ok(!partner_store_watch(&c, 1000000, 0,
	    1000000 + STATE_WATCH_SETTLE_MS), "local mark: settled");
	ok(partner_store_watch(&c, 1000000, 1, 1000000 + 86400000),
	    "pool's watch, watch_expire 0: held");
	c.watch_expire = 60;
	ok(partner_store_watch(&c, 1000000, 1, 1000000 + 59999),
	    "pool's watch: held within watch_expire");
	ok(!partner_store_watch(&c, 1000000, 1, 1000000 + 60000),
	    "pool's watch: lifted after watch_expire");
	conf_free(&c);
	return done_testing();
}
