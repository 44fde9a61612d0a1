/* listener.h: fedgate on a listening socket: accept, fork, reap, bounded. */
#ifndef LISTENER_H
#define LISTENER_H

#include <stdint.h>

#include "fed.h"

/*
 * fedkit(7), fedgate(8) Listener mode: a process that set up once what
 * every connection needs (the configuration, the TLS context with every
 * CA decoded) accepts connections and forks one child per connection,
 * without exec, so the set-up is shared copy-on-write instead of paid
 * per connection.  The child runs `serve` with the connection on fds 0
 * and 1, the listening socket closed and the signals as they were, and
 * exits with what it returns: exactly what one fedgate per connection
 * does from the handshake on.
 *
 * The listener refuses (closes unanswered) a connection over
 * max_connections children at once in all, or over max_per_source from
 * the connection's source address, and says so at most once every 10 s.
 */
struct listener {
	int fd;				/* the listening stream socket */
	unsigned max_connections;	/* >= 1 */
	unsigned max_per_source;	/* >= 1 */
	int (*serve)(void *arg);	/* in the child: an exit status */
	void *serve_arg;
	/* About once a second in the listener, with the wall clock: re-read
	 * limits and the like (listener_set_limits).  May be NULL. */
	void (*tick)(void *arg, int64_t now_ms);
	void *tick_arg;
	/* What happened, for the caller and the tests. */
	uint64_t accepted, refused_total, refused_source, fork_failed;
};

/* Change the limits of a running listener (from its tick). */
void listener_set_limits(struct listener *, unsigned max_connections,
    unsigned max_per_source);

/*
 * Serve until SIGTERM or SIGINT: then stop accepting, close the socket and return 0 at once; children
 * finish their connections on their own, as they would under inetd.
 * Returns -1 with *err if the socket fails for good (no longer a
 * listening socket); a full file descriptor table or no memory is waited
 * out, not an error.  In a child it never returns.
 */
int listener_run(struct listener *, struct fed_err *);

#endif
