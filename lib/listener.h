/* listener.h: fedgate on a listening socket: accept, fork, reap, bounded. */
#ifndef LISTENER_H
#define LISTENER_H

#include <stdint.h>

#include "fed.h"

/*
 * fedkit(7), fedgate(8) Listener mode: a process that set up once what
 * every connection needs (the configuration, the TLS context with every
 * CA decoded) accepts connections and hands each to a worker: a child
 * forked without exec, so the set-up is shared copy-on-write instead of
 * paid per connection.  A worker serves one connection at a time and,
 * once it is done, asks for the next one (passed over a socket pair,
 * SCM_RIGHTS), up to per_process connections; then it exits and a fresh
 * one is forked when needed.  A fork costs more than the handshake it
 * serves (its page faults copy what the set-up touched): a worker that
 * lives for many connections pays it once, as Kamailio's and Apache's
 * pre-forked workers do.  per_process = 1 is one process per
 * connection: nothing one partner's connection left in memory is ever
 * seen by another's.
 *
 * A worker runs `serve` with the connection's descriptor, the listening
 * socket and the other workers' channels closed and the signals as they
 * were.  Workers idle for WORKER_IDLE_MS are ended, a few spare aside.
 *
 * The listener refuses (closes unanswered) a connection over
 * max_connections served at once in all, or over max_per_source from the
 * connection's source address, and says so at most once every 10 s.
 */
struct listener {
	int fd;				/* the listening stream socket */
	unsigned max_connections;	/* >= 1 */
	unsigned max_per_source;	/* >= 1 */
	unsigned per_process;		/* connections a worker serves, >= 1 */
	/* In a worker: serve one connection (the descriptor is the
	 * worker's to keep open or close; the listener closes it after).
	 * 0: ready for the next one; else no connection can be served any
	 * more (said by serve): the worker ends with that exit status. */
	int (*serve)(void *arg, int conn);
	void *serve_arg;
	/* About once a second in the listener, with the wall clock: re-read
	 * limits and the like (listener_set_limits).  May be NULL. */
	void (*tick)(void *arg, int64_t now_ms);
	void *tick_arg;
	/* A source max_per_source does not apply to (a load balancer, whose
	 * connections carry many partners'), or NULL. */
	int (*unlimited_source)(void *arg, const struct sockaddr_storage *);
	void *unlimited_arg;
	/* What happened, for the caller and the tests. */
	uint64_t accepted, refused_total, refused_source, fork_failed, forked;
};

/* Change the limits of a running listener (from its tick). */
void listener_set_limits(struct listener *, unsigned max_connections,
    unsigned max_per_source, unsigned per_process);

/*
 * Serve until SIGTERM or SIGINT: then stop accepting, close the socket
 * and return 0 at once; workers finish the connection they serve on their
 * own, as they would under inetd, and idle ones end.
 * Returns -1 with *err if the socket fails for good (no longer a
 * listening socket); a full file descriptor table or no memory is waited
 * out, not an error.  In a child it never returns.
 */
int listener_run(struct listener *, struct fed_err *);

#endif
