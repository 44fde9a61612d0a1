/* relay.h: socket mode: one partner connection relayed to our server. */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "fed.h"
#include "gate.h"
#include "sip.h"
#include "tlssrv.h"

/*
 * fedgate under inetd (nowait), systemd (Accept=yes) or tcpserver: fd 0
 * and fd 1 are the partner's connection.  fedgate opens one connection of
 * its own to our internal server (-u HOST:PORT) and relays:
 *
 *   partner -> server   requests fedgate accepts, with Fed-Trust (fedgate(8)
 *                       Verifying partners); responses to our own requests, as they are
 *                       and never counted (one whose From is not ours
 *                       answers nothing we sent: refused and dropped)
 *   partner <- fedgate  the responses to requests it refuses or limits
 *   partner <- server   everything: our responses (counted for suspicion,
 *                       for the partner whose request each answers: see
 *                       txn.h) and our own requests to the partner
 *
 * Bytes are relayed message by message, never half a message: a partner
 * cannot smuggle bytes past the framer.  Every buffer is bounded (a side
 * that does not read its output stops the other side's reading: when our
 * server falls behind, the partner waits, it is not cut), every wait has
 * a deadline (conf: message_timeout, idle_timeout, upstream_timeout).
 * message_timeout counts the partner's slowness only: a message that
 * waits in the socket while fedgate is busy or held back is not late.
 */

struct relay_opts {
	int in_fd, out_fd;	/* the partner connection (0 and 1) */
	const char *upstream;	/* HOST:PORT of our internal server */
	const char *peer;	/* the connection's identity, for Fed-Trust */
	struct tls_srv *tls;	/* the partner speaks TLS (handshake done) */
	/* called about once a second and after each read: fedgate checks
	 * fed.conf there */
	void (*tick)(void *arg, int64_t now_ms);
	void *tick_arg;
};

/*
 * Relay one stream connection until either side closes it, a deadline
 * passes, or the partner's stream cannot be framed any more.  Returns an
 * exit status: FED_EXIT_OK when the connection ended normally (whatever
 * the verdicts), FED_EXIT_USAGE after an unframeable stream or a
 * deadline, FED_EXIT_SYS when our server could not be reached (every
 * request it would have got was answered 503) or on a system error; *err
 * says why for any but FED_EXIT_OK.
 */
int relay_stream(struct gate *, const struct conf *, const struct relay_opts *,
    struct fed_err *);

/*
 * Connect to HOST:PORT (a name or an address; IPv6 as [addr]:port) with
 * a timeout.  socktype is SOCK_STREAM or SOCK_DGRAM.  Returns the
 * connected non-blocking descriptor, or -1 with *err set.
 */
int relay_connect(const char *hostport, int socktype, unsigned timeout_ms,
    struct fed_err *);

/*
 * The Fed-Trust header's value for a relayed request (fedgate(8)
 * Verifying partners):
 * `source=allowlisted|discovered; verified=yes|no; partner=DOMAIN;
 * peer="NAME"`.  Returns its length, or 0 if it does not fit.
 */
size_t relay_fed_trust(char *buf, size_t cap, const struct gate_result *,
    int verified, const char *peer);

/* "Fed-Trust: VALUE\r\n"; its length, 0 if it does not fit. */
size_t relay_trust_line(char *buf, size_t cap, const struct gate_result *,
    int verified, const char *peer);

/* Was a request the gate accepted verified (fedgate(8) Verifying partners)?  With verification
 * on, fedgate accepts nobody unverified. */
int relay_verified(const struct conf *, int tls);

/*
 * UDP (inetd `dgram wait`): fd 0 is the bound datagram socket.  Each
 * datagram is judged on its own; accepted requests go to our server with
 * our Via on top (its branch names the partner's address, so our
 * server's responses come back to us and are sent on to that partner, as
 * a stateless proxy does, RFC 3261 16.11), refusals are sent back to the
 * sender.  Our server's responses count for the partner each request
 * came from (a table per process, keyed by our branch); a response from
 * a partner whose From is not ours is refused and dropped.  Ends after
 * idle_timeout without a datagram.  Returns an exit status as
 * relay_stream does.
 */
int relay_datagrams(struct gate *, const struct conf *,
    const struct relay_opts *, char *peerbuf, size_t peercap,
    struct fed_err *);

/*
 * Write the message (bytes msg[0..len) that sip_frame parsed into m) to
 * out as relayed: every Fed-Trust header that came with it removed, and
 * `insert` (whole header lines, each ending in CRLF: our Fed-Trust, and
 * in UDP our Via) put right after the start line.  Returns the length
 * written, or 0 if it does not fit in cap.
 */
size_t relay_rewrite(char *out, size_t cap, const char *msg, size_t len,
    const struct sip_msg *m, const char *insert, size_t insertlen);

#endif
