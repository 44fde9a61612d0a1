/* confwatch.h: a running fedgate follows fed.conf and a rotated log. */
#ifndef CONFWATCH_H
#define CONFWATCH_H

#include <stdint.h>

#include "conf.h"
#include "fed.h"
#include "gate.h"

/*
 * fed.conf is re-read when it changes (checked at most once a second), so
 * an operator can change a rate or the methods without a restart.  A bad
 * edit, one that drops local_domains, or one that moves a file the gate
 * holds open keeps the running configuration, with a diagnostic.  With no
 * gate (NULL: fedgate's listener, which holds no file of the gate's) only
 * the configuration is replaced.
 */
struct conf_watch {
	struct conf *c;		/* the gate's configuration, replaced in place */
	struct fed_ident id;
	int64_t checked_ms;
	/* What conf_watch_tick looks after: the running gate (NULL: none)
	 * and its verdict log (-1: none). */
	struct gate *g;
	int log_fd;
	int log_said;		/* a failed follow was said */
};

void conf_watch_init(struct conf_watch *, struct conf *, int64_t now_ms);
void conf_watch_check(struct conf_watch *, struct gate *, int64_t now_ms);

/*
 * The loops' tick (pipe_opts, relay_opts: arg is the conf_watch): fed.conf
 * is checked again for w->g, about once a second, and the verdict log
 * w->log_fd followed across a rotation (a connection can outlive many);
 * a log that cannot be followed is said once until it can again.
 */
void conf_watch_tick(void *arg, int64_t now_ms);

#endif
