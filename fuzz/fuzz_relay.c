/* fuzz_relay.c: libFuzzer target: socket mode's TCP relay (relay_stream)
 * with both sides hostile: the partner and our own server. */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"
#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * An input is the knob bytes (scratch.h), then what the partner sends,
 * then UPSTREAM_MARK and what our server sends (nothing if the mark is
 * missing).  Relay knobs, byte 2: bit 2 message_timeout = 0 (every
 * partial message is late: the slowloris path); bit 3 the partner reads
 * nothing (its reading side shut: writing to it fails); bit 4 our server
 * resets the connection once it has said its bytes.
 *
 * Everything happens in this one thread, with no wait but the relay's
 * own: the partner is a socketpair written whole (then shut for
 * writing) before relay_stream starts; our server is a listening socket
 * on 127.0.0.1 port 0, made once, whose connection is accepted from the
 * relay's first tick (called before its first poll, once relay_connect
 * has returned) and given all its bytes at once, then shut for writing
 * too.  So the first poll sees both sides' bytes, the partner's requests
 * are relayed (and their transactions recorded) before our server's
 * responses are read, and each side's end follows at once: an execution
 * takes a few poll rounds, never a timeout.
 */
#define UPSTREAM_MARK "\n@@upstream@@\n"
#define KNOB_MSG_TIMEOUT_0 0x04
#define KNOB_PARTNER_DEAF 0x08
#define KNOB_SERVER_RESET 0x10

static int listen_fd = -1;	/* our server */
static int dead_fd = -1;	/* bound, not listening: connection refused */
static char up_addr[64], dead_addr[64];

struct server {
	const char *bytes;	/* what our server says */
	size_t len;
	int down;		/* not listening: the relay's connect fails */
	int reset;		/* close with a reset once the bytes are out */
	int fired;		/* the first tick came */
	int fd;			/* the accepted connection, -1 if none */
};

static int
loopback_socket(int do_listen, char *addr, size_t cap)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	int fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    (do_listen && listen(fd, 64) != 0) ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
		perror("fuzz_relay: loopback socket");
		abort();
	}
	snprintf(addr, cap, "127.0.0.1:%u", ntohs(sin.sin_port));
	return fd;
}

static void
init(void)
{
	scratch_init();
	listen_fd = loopback_socket(1, up_addr, sizeof up_addr);
	dead_fd = loopback_socket(0, dead_addr, sizeof dead_addr);
}

/* Our server's side: accept the relay's connection and say everything. */
static void
server_tick(void *arg, int64_t now)
{
	struct server *s = arg;
	struct pollfd pfd = { listen_fd, POLLIN, 0 };
	size_t off = 0;
	ssize_t n;

	(void)now;
	if (s->fired)
		return;
	s->fired = 1;
	if (s->down)
		return;
	/* relay_connect has returned: on loopback the connection is in the
	 * queue already; the wait is only a bound. */
	if (poll(&pfd, 1, 1000) != 1 ||
	    (s->fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) < 0)
		return;
	while (off < s->len) {
		n = write(s->fd, s->bytes + off, s->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (s->reset) {
		struct linger lg = { 1, 0 };

		(void)setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(s->fd);
		s->fd = -1;
		return;
	}
	(void)shutdown(s->fd, SHUT_WR);
}

/* Read a non-blocking descriptor to its end (the relay has closed its
 * side, so all it sent is there). */
static size_t
drain(int fd, char *buf, size_t cap)
{
	size_t have = 0;
	char sink[4096];
	ssize_t n;

	for (;;) {
		if (have < cap)
			n = read(fd, buf + have, cap - have);
		else
			n = read(fd, sink, sizeof sink);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (have < cap)
			have += (size_t)n;
	}
	return have;
}

/*
 * What our server received: whole messages only (a partner cannot
 * smuggle bytes past the framer), and every request with exactly one
 * Fed-Trust, ours, first after the start line (one from outside is
 * removed: SPEC 1.3 says a partner cannot forge it).
 */
static void
check_upstream(const char *buf, size_t len, const struct conf *c)
{
	static struct sip_msg m;
	struct sip_limits lim = c->limits;
	struct sip_error se;
	enum sip_frame_result fr;
	size_t off = 0, scanned, used;
	unsigned i, trust;

	/* Room for our Fed-Trust line on top of what the partner may send. */
	lim.max_message += 1024;
	lim.max_headers += 1;
	if (lim.max_line < 1024)
		lim.max_line = 1024;
	while (off < len) {
		scanned = used = 0;
		fr = sip_frame(buf + off, len - off, &lim, &scanned, &used, &m,
		    &se);
		if (fr != SIP_FRAME_MESSAGE) {
			fprintf(stderr, "fuzz_relay: our server got %s at "
			    "byte %zu: %s\n", fr == SIP_FRAME_MORE ?
			    "half a message" : "an unframeable stream", off,
			    se.reason ? se.reason : "-");
			abort();
		}
		if (m.is_request) {
			for (i = trust = 0; i < m.nhdr; i++)
				if (m.hdr[i].id == SIP_H_FED_TRUST)
					trust++;
			CHECK(trust == 1 && m.nhdr > 0 &&
			    m.hdr[0].id == SIP_H_FED_TRUST);
			CHECK(m.hdr[0].value.n > 7 &&
			    memcmp(m.hdr[0].value.p, "source=", 7) == 0);
		}
		off += used;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char got[1 << 18];
	struct knobs k;
	struct conf c;
	struct relay_opts ro;
	struct server srv = { NULL, 0, 0, 0, 0, -1 };
	struct gate *g;
	struct fed_err e;
	const char *partner = (const char *)data, *mark;
	size_t plen, glen, off;
	off_t logmark;
	uint64_t statesum;
	ssize_t n;
	int sp[2], fd;

	if (listen_fd < 0)
		init();
	k = scratch_knobs(&data, &size);
	partner = (const char *)data;
	plen = size;
	mark = size ? memmem(data, size, UPSTREAM_MARK,
	    sizeof UPSTREAM_MARK - 1) : NULL;
	if (mark != NULL) {
		plen = (size_t)(mark - partner);
		srv.bytes = mark + sizeof UPSTREAM_MARK - 1;
		srv.len = size - plen - (sizeof UPSTREAM_MARK - 1);
	}

	/* The relay's copy, with this input's timeouts, tiny (the gate has
	 * the same configuration but for them, which it does not read). */
	c = *scratch_conf_of(k);
	c.message_timeout = k.k2 & KNOB_MSG_TIMEOUT_0 ? 0 : 1;
	c.idle_timeout = 1;
	c.upstream_timeout = 1;

	/* Non-blocking: what does not fit in the socket is not sent (a
	 * replayed file may be large), and the reads below end. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sp) == 0);
	for (off = 0; off < plen; off += (size_t)n)
		if ((n = write(sp[1], partner + off, plen - off)) <= 0)
			break;
	CHECK(shutdown(sp[1], k.k2 & KNOB_PARTNER_DEAF ? SHUT_RDWR :
	    SHUT_WR) == 0);

	logmark = scratch_log_mark();
	srv.down = (k.k1 & KNOB_OWN) != 0;
	srv.reset = (k.k2 & KNOB_SERVER_RESET) != 0;
	/* A dry run changes nothing under state_dir (SPEC 2, -n), from
	 * gate_open (when the gate is fresh) to gate_close. */
	statesum = (k.k1 & KNOB_DRY) && (k.k2 & KNOB_FRESH_GATE) ?
	    scratch_state_sum() : 0;
	g = scratch_gate(k, 1, srv.down, 1);
	if ((k.k1 & KNOB_DRY) && !(k.k2 & KNOB_FRESH_GATE))
		statesum = scratch_state_sum();
	memset(&ro, 0, sizeof ro);
	ro.in_fd = ro.out_fd = sp[0];
	ro.upstream = srv.down ? dead_addr : up_addr;
	ro.peer = scratch_peers[KNOB_PEER(k.k2)];
	ro.tick = server_tick;
	ro.tick_arg = &srv;
	(void)relay_stream(g, &c, &ro, &e);
	scratch_gate_done(g, k);
	if (k.k1 & KNOB_DRY)
		CHECK(scratch_state_sum() == statesum);
	scratch_log_check(logmark);

	if (srv.fd >= 0) {
		glen = drain(srv.fd, got, sizeof got);
		CHECK(glen < sizeof got);
		check_upstream(got, glen, &c);
		close(srv.fd);
	}
	(void)drain(sp[1], got, 0);
	close(sp[0]);
	close(sp[1]);
	/* A connection the relay made but no tick took (it ended first). */
	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) >= 0)
		close(fd);
	return 0;
}
