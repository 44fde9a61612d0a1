/* gate.h: fedgate's judgment of one message, shared with `fedlist check`. */
#ifndef GATE_H
#define GATE_H

#include <stdint.h>

#include "conf.h"
#include "fed.h"
#include "list.h"
#include "policy.h"
#include "sip.h"
#include "vlog.h"

struct gate_opts {
	const char *peer;	/* the connection's identity, NULL if none */
	int tls;		/* peer is a verified TLS name (verify=auto: srv) */
	int dry_run;		/* -n: state changes live in memory only */
	int log_fd;		/* verdict log, -1 for none */
	int replies;		/* the caller sends the responses fedgate
				 * builds; 0: build one only to learn
				 * whether it can be (a malformed request) */
	/* TLS: every name of the peer's certificate (RFC 5922), `peer`
	 * being the first; verification accepts any of them */
	const char *const *peer_names;
	unsigned npeer_names;
	/* fedkit(7) SECURITY: this is one partner connection, cut when
	 * its requests keep being refused or limited (conf max_refusals);
	 * 0: no bound (pipe mode) */
	int bound_refusals;
};

/*
 * What was decided about one message, with everything the caller needs to
 * act on it: the decision, the log line (its string fields point into
 * this struct or into the message), and the response fedgate sends
 * itself, if any.
 */
struct gate_result {
	struct policy_decision d;
	const char *rule;	/* which rule decided, for `fedlist check` */
	struct vlog_rec rec;
	char partner[DOMAIN_MAX + 2];
	char uri[VLOG_URI_MAX + 1];
	char method[8];		/* a response's status code */
	char *reply;		/* the response to send, reply_len bytes */
	size_t reply_len;	/* 0: nothing to send */
	/* refused `flood`: unanswered, the caller closes the connection
	 * (refusals counts this connection's refusals and limits) */
	int close;
	unsigned refusals;
};

struct gate;

/* Open lists, edge cache, state and log as the configuration says.  The
 * gate keeps a pointer to conf, which must outlive it. */
int gate_open(struct gate **, const struct conf *, const struct gate_opts *,
    struct fed_err *);

/* Flush state (pending response counts) and sweep old partners if due. */
int gate_close(struct gate *, struct fed_err *);

/*
 * Judge a message the framer returned.  `err` is the framer's complaint
 * for a malformed message (NULL for a good one).  Requests are decided
 * (fedkit(7) Order of decision), responses observed (our server's
 * answers to the partner).  The verdict log line is written at once, or
 * kept for gate_log_flush after gate_log_buffer(g, 1).  Returns 0, or -1
 * on a system error (state directory, log) with *ferr set: the caller
 * should stop.
 */
int gate_message(struct gate *, const struct sip_msg *, const struct sip_error *,
    int64_t now_ms, struct gate_result *, struct fed_err *ferr);

/*
 * Where a response came from, which decides whether it counts towards
 * the partner's suspicion (fedkit(7): only our server's answers count).
 *   GATE_CAPTURE      pipe mode: a capture replayed, every response is our
 *                     server's and counts for its From partner (what
 *                     gate_message does with a response);
 *   GATE_FROM_SERVER  socket mode: our server's answer to the request of
 *                     `partner`, the partner the caller recorded for that
 *                     transaction when it relayed the request (NULL: none
 *                     recorded: logged, not counted);
 *   GATE_FROM_PARTNER socket mode: the partner's answer to our own request:
 *                     logged, never counted.  One whose From is not one of
 *                     our local_domains answers nothing we sent: it is
 *                     logged `refuse spoof` and the caller must drop it
 *                     (res->d.verdict is VERDICT_REFUSE).
 */
enum gate_side { GATE_CAPTURE, GATE_FROM_SERVER, GATE_FROM_PARTNER };

int gate_response(struct gate *, const struct sip_msg *, enum gate_side,
    const char *partner, int64_t now_ms, struct gate_result *,
    struct fed_err *);

/*
 * An unframeable stream: log one `refuse malformed` line for what could
 * not be read (no partner, no Call-ID, code `-`).  Why is the caller's to
 * say, on its diagnostic with the byte or the peer: the verdict log has no
 * field for it (fedkit(7) Verdict log).
 */
int gate_unframeable(struct gate *, int64_t now_ms, struct fed_err *);

/*
 * Collect log lines in memory instead of writing each at once; they are
 * written by gate_log_flush in one write(2) of whole lines, so appenders
 * never tear each other's lines.  The pipe-mode loop flushes before it
 * writes the accepted bytes they describe.
 */
void gate_log_buffer(struct gate *, int on);
int gate_log_flush(struct gate *, struct fed_err *);

/*
 * Pipe mode: decide the messages of one read in one state transaction
 * (state_batch) from gate_batch(g, 1, ...) on; gate_log_flush commits
 * the batch before it writes the lines that report it, so the store is
 * always ahead of the log.  gate_batch(g, 0, ...) commits and stops.
 */
int gate_batch(struct gate *, int on, struct fed_err *);

/*
 * Pipe mode with an edge pool (fedkit(7) POOL): the state questions of a
 * read's messages are asked in one call.  When gate_plans says so, the
 * caller passes each request of the read to gate_plan first (in order;
 * nothing is logged, answered or changed), then calls gate_plan_run, then
 * judges the same messages with gate_message as always.
 */
int gate_plans(const struct gate *);
int gate_plan(struct gate *, const struct sip_msg *, int64_t now_ms,
    struct fed_err *);
int gate_plan_run(struct gate *, int64_t now_ms, struct fed_err *);
/* Does the gate need gate_tick while no message comes (a pool's response
 * counts, sent at most a second late; its outage said when it starts)? */
int gate_ticks_idle(const struct gate *);

/* Reload the lists, the edge cache and the watch list at most once a
 * second.  fed.conf is not its business: the caller's tick re-reads it
 * (confwatch.h) and tells the gate with gate_conf_changed. */
int gate_tick(struct gate *, int64_t now_ms, struct fed_err *);

/*
 * The configuration changed under the gate (the caller replaced the
 * struct it passed to gate_open with a newly loaded one): take up the
 * new numbers, lists of methods and user agents.  Files cannot move
 * under a running gate: -1 if a path differs from `old`'s (the caller
 * keeps the old configuration and says a restart is needed).
 */
int gate_conf_compatible(const struct conf *old, const struct conf *new,
    struct fed_err *);
void gate_conf_changed(struct gate *);

/*
 * `fedlist check`: what the gate decides for a request from a partner,
 * by the very code that decides real ones.  A synthetic request (MESSAGE,
 * or the first method of `methods` if MESSAGE is not one, to
 * postmaster@ the first of local_domains) from `from` (a domain, or a SIP
 * URI naming the partner) is framed, parsed and judged by gate_message.
 * Open the gate with dry_run set and log_fd -1: nothing is written.
 * Afterwards `list` names the list whose entry matched the partner
 * ("block" when it was blocked, else "allow" if allow-listed, else NULL)
 * and `entry` that entry's name.  0, or -1 with *err (no local_domains,
 * an argument that cannot be put in a request, a state error).
 */
struct gate_check {
	struct gate_result res;
	const char *list;		/* "allow", "block" or NULL */
	const char *path;		/* that list's file */
	char entry[LIST_LINE_SCRATCH];	/* the matching entry's name */
	char msg[1024];			/* the request; res points into it */
};

int gate_check(struct gate *, const char *from, int64_t now_ms,
    struct gate_check *, struct fed_err *);

/* Can gate_check take `from`: at most 512 bytes, none of which would
 * break the request around it?  1 or 0. */
int gate_check_arg_ok(const char *from);

/*
 * UDP: each datagram has its own sender.  The peer string is copied;
 * list answers that depended on the old peer are dropped.
 */
void gate_set_peer(struct gate *, const char *peer);

/*
 * Our internal server cannot be reached (socket mode): from now on a
 * request the rules accept is still logged `accept`, with code 503, and
 * answered `503 Service Unavailable` with Retry-After by fedgate itself.
 */
void gate_set_upstream_down(struct gate *);

/* The partner state's parameters as fed.conf sets them (every tool
 * opens the state the way fedgate does). */
struct state_params;
void gate_state_params(struct state_params *, const struct conf *);

#endif
