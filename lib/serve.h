/* serve.h: socket mode: what stdin is, one connection, or a listener's many. */
#ifndef SERVE_H
#define SERVE_H

#include "conf.h"
#include "confwatch.h"
#include "fed.h"
#include "gate.h"
#include "tlssrv.h"

/*
 * fedgate(8) DIAGNOSTICS: in socket mode no diagnostic may reach the
 * connection, and under inetd fd 2 is the connection too.  When stdin is
 * a socket and fd 2 is that socket (or closed), diagnostics go to syslog
 * from here on; a separate stderr (systemd's journal, a terminal, a
 * test's file) keeps them.  A closed fd 2 is filled with /dev/null first,
 * so no file fedgate opens later (the verdict log) can become fd 2.
 * Called first, before anything can complain.  Returns 1 when
 * diagnostics go to syslog (then nothing may print on stdout or stderr
 * either), else 0.
 */
int serve_diagnostics(void);

/* What fedgate was given on stdin (fedgate(8)). */
enum serve_stdin {
	SERVE_PIPE,		/* a file or a pipe: pipe mode (pipe.h) */
	SERVE_STREAM,		/* a TCP connection: inetd nowait, systemd
				 * Accept=yes, tcpserver */
	SERVE_DGRAM,		/* a bound UDP socket: inetd dgram wait */
	SERVE_LISTENER		/* a listening TCP socket: inetd wait, systemd
				 * Accept=no (fedgate(8) Listener mode) */
};

/* What stdin is: FED_EXIT_OK, or an exit status with *err (not a
 * descriptor, a socket that is neither TCP nor UDP). */
int serve_stdin(enum serve_stdin *, struct fed_err *);

/* What every connection of socket mode needs, set up once. */
struct serve {
	struct conf *c;
	struct gate_opts o;		/* the options, peer not yet known */
	struct tls_srv *tls;		/* NULL: plain TCP or UDP */
	const char *upstream;		/* -u, else NULL: fed.conf's */
	enum serve_stdin in;
	int diag_syslog;		/* serve_diagnostics said 1 */
	struct conf_watch cw;		/* follows fed.conf from the start */
	int confined;			/* the seccomp filter is in */
};

/*
 * Set up socket mode on stdin of kind `in` (not SERVE_PIPE) with the
 * loaded configuration c (kept, replaced in place when fed.conf changes)
 * and the options o: our server must be known (upstream, else fed.conf's),
 * a TCP socket speaks TLS unless fed.conf says tls = off, the TLS context
 * is built (for a listener with every CA decoded, once for all its
 * workers), and root is given up for fed.conf's user (fedkit(7)
 * SECURITY: the TLS key was all that needed it).  Returns FED_EXIT_OK,
 * or an exit status with *err; serve_close undoes it either way.
 */
int serve_open(struct serve *, struct conf *c, const struct gate_opts *o,
    const char *upstream, enum serve_stdin in, int diag_syslog,
    struct fed_err *);

/*
 * Serve stdin: one connection (fds 0 and 1) or, as a listener, every
 * connection accepted on it, each in a worker.  A connection that fails
 * (its handshake, our server, the partner) is said as a warning and ends
 * with its status; what would fail every connection (the verdict log,
 * the state, the sandbox) is said as an error and ends the process
 * serving it, a worker or this one.  Returns the exit status.
 */
int serve_run(struct serve *);

void serve_close(struct serve *);

#endif
