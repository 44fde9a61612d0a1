/* pipe.h: pipe mode: decide a stream of SIP messages read from a file. */
#ifndef PIPE_H
#define PIPE_H

#include <stdint.h>

#include "conf.h"
#include "confwatch.h"
#include "fed.h"
#include "gate.h"

/*
 * fedgate with a file or a pipe on stdin (fedgate(8) Pipe mode): every
 * message read from in_fd is decided and logged; the accepted requests
 * and the observed responses go to out_fd exactly as read, CRLF
 * keep-alives too; the responses fedgate builds for refusals go to
 * replies_fd (-1: nowhere).  Each read's decisions are logged (and the
 * state they changed committed) before the bytes they pass on are
 * written.  A well-framed malformed message is logged and reading goes
 * on; only a stream that cannot be framed any more ends it.
 */
struct pipe_opts {
	int in_fd, out_fd, replies_fd;
	const char *in_name;	/* for diagnostics: "stdin" */
	/* called after each read (fedgate re-reads fed.conf there) */
	void (*tick)(void *arg, int64_t now_ms);
	void *tick_arg;
};

/*
 * Returns FED_EXIT_OK once every message of the input is decided,
 * FED_EXIT_USAGE when the stream could not be framed (what came before is
 * decided and written), FED_EXIT_SYS on a system error; *err says why for
 * any but FED_EXIT_OK.
 */
int pipe_run(struct gate *, const struct conf *, const struct pipe_opts *,
    struct fed_err *);

/*
 * Pipe mode as fedgate runs it: stdin decided onto stdout, the responses
 * fedgate builds written to the file `replies` (NULL: nowhere), fed.conf
 * and the verdict log followed while it runs (conf_watch_tick).
 */
struct pipe_session {
	struct gate *g;
	struct conf_watch cw;	/* c, replaced in place when fed.conf changes */
	int log_fd, replies_fd;
	const char *replies;
};

/* Create the replies file, open the verdict log and the gate with the
 * options o.  0, or -1 with *err (nothing is left open). */
int pipe_open(struct pipe_session *, struct conf *c, const struct gate_opts *o,
    const char *replies, struct fed_err *);

/* Decide stdin (pipe_run), then close what pipe_open opened.  What goes
 * wrong is said as it happens; returns the exit status. */
int pipe_serve(struct pipe_session *);

#endif
