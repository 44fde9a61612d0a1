/* relay.c: socket mode: one partner connection relayed to our server. */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"
#include "txn.h"

#define READ_CHUNK 65536
/* A side whose output holds this many bytes is not read from until it
 * drains: the peer that does not read cannot make us buffer more. */
#define OUT_HIGH(c) (4 * (c)->limits.max_message)
/* After the partner closed, how long our server may take to answer what
 * it still has (its responses can no longer be delivered anyway when the
 * partner closed both ways; a half-closed partner still reads them). */
#define DRAIN_MS(c) ((int64_t)(c)->upstream_timeout * 1000)

struct side {
	const char *name;	/* for messages: "partner", "upstream" */
	int rfd, wfd;
	struct fed_buf in;	/* read, not yet framed */
	size_t scanned;		/* the framer's memo for `in` */
	struct fed_buf out;	/* to write to this side */
	int eof;		/* nothing more will be read */
	int broken;		/* a write failed: the side is gone */
	int64_t last_ms;	/* last message (not ping) read */
	int64_t first_ms;	/* monotonic: when the partial message at the
				 * start of `in` began to count (0: none) */
	int drained;		/* the last read emptied the socket */
	struct tls_srv *tls;	/* NULL: plain */
	short rd_wants;		/* what to poll for before reading again */
	short wr_wants;		/* ... before writing again (TLS: either) */
};

struct relay {
	struct gate *g;
	const struct conf *c;
	const struct relay_opts *o;
	struct side p, u;
	int up_down;		/* our server cannot be reached */
	int stop;		/* stop reading the partner: flush and end */
	int hostile;		/* ... and do not wait for our server: the
				 * partner broke the rules (slowloris, an
				 * unframeable stream) */
	unsigned pending;	/* requests relayed, not finally answered */
	struct txn_table *txn;	/* whose request each relayed one is */
	int rc;
	struct fed_err err;
	struct sip_msg msg;
	struct gate_result res;
	char *scratch;		/* a relayed request, rewritten */
	size_t scratchcap;
	size_t incap;		/* a side's input: a message and a read */
	int64_t next_tick;	/* wall clock: the next tick is due */
	int64_t drain_until;	/* wall clock: the end's deadline (0: none) */
};

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

#define HOST_MAX 256	/* relay_connect's host, with its NUL */
#define PORT_MAX 16	/* ... and port */

/* HOST:PORT or [IPv6]:PORT into host and port; -1 if it is neither. */
static int
split_hostport(const char *hostport, char host[HOST_MAX], char port[PORT_MAX])
{
	const char *colon, *h = hostport;
	size_t hl;

	if (*h == '[') {
		const char *rb = strchr(h, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - h - 1);
		h++;
		colon = rb + 1;
	} else {
		if ((colon = strrchr(h, ':')) == NULL)
			return -1;
		hl = (size_t)(colon - h);
	}
	if (hl == 0 || hl >= HOST_MAX || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= PORT_MAX)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, PORT_MAX, "%s", colon + 1);
	return 0;
}

/* A non-blocking socket connected to a within timeout_ms, or -1 with
 * errno (ETIMEDOUT when the time ran out). */
static int
connect_within(const struct addrinfo *a, unsigned timeout_ms)
{
	struct pollfd pfd;
	socklen_t sl;
	int fd, rc, soerr = 0;

	fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, a->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			rc = poll(&pfd, 1, (int)timeout_ms);
		while (rc < 0 && errno == EINTR);
		sl = sizeof soerr;
		if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &sl) == 0 && soerr == 0)
			return fd;
		errno = rc == 0 ? ETIMEDOUT : soerr ? soerr : errno;
	}
	soerr = errno;
	close(fd);
	errno = soerr;
	return -1;
}

int
relay_connect(const char *hostport, int socktype, unsigned timeout_ms,
    struct fed_err *err)
{
	char host[HOST_MAX], port[PORT_MAX];
	struct addrinfo hints, *ai = NULL, *a;
	int fd = -1, rc, one = 1;

	if (split_hostport(hostport, host, port) == -1) {
		fed_err_set(err, "upstream %s: not HOST:PORT", hostport);
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		fed_err_set(err, "upstream %s: %s", hostport, gai_strerror(rc));
		return -1;
	}
	/* Each address in turn, each with the whole timeout. */
	for (a = ai; a != NULL && fd < 0; a = a->ai_next)
		fd = connect_within(a, timeout_ms);
	if (fd < 0) {
		fed_err_set(err, "upstream %s: connect: %s", hostport,
		    strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	/* Messages go out whole, one write each: no reason to wait. */
	if (socktype == SOCK_STREAM)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof one);
	return fd;
}

size_t
relay_fed_trust(char *buf, size_t cap, const struct gate_result *res,
    int verified, const char *peer)
{
	char qpeer[300];
	size_t i, o = 0;
	int n;

	/* The peer is an address, a certificate name or a tcpserver
	 * variable: quote it, and drop what a quoted-string cannot hold. */
	if (peer == NULL)
		peer = "-";
	for (i = 0; peer[i] != '\0' && o < sizeof qpeer - 1; i++)
		if ((unsigned char)peer[i] > 0x20 &&
		    (unsigned char)peer[i] < 0x7f && peer[i] != '"' &&
		    peer[i] != '\\')
			qpeer[o++] = peer[i];
	qpeer[o] = '\0';
	n = snprintf(buf, cap, "source=%s; verified=%s; partner=%s; "
	    "peer=\"%s\"", res->d.reason == REASON_ALLOWLISTED ?
	    "allowlisted" : "discovered", verified ? "yes" : "no",
	    res->partner, qpeer);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t
relay_rewrite(char *out, size_t cap, const char *msg, size_t len,
    const struct sip_msg *m, const char *insert, size_t insertlen)
{
	const char *eol = memchr(msg, '\n', len), *from;
	size_t o, n;
	unsigned i;

	if (eol == NULL)
		return 0;
	n = (size_t)(eol + 1 - msg);
	if (n + insertlen > cap)
		return 0;
	memcpy(out, msg, n);
	o = n;
	memcpy(out + o, insert, insertlen);
	o += insertlen;
	/* Copy the rest in runs between the Fed-Trust lines it skips. */
	from = eol + 1;
	for (i = 0; i < m->nhdr; i++) {
		const struct sip_hdr *h = &m->hdr[i];

		if (h->id != SIP_H_FED_TRUST)
			continue;
		n = (size_t)(h->line.p - from);
		if (o + n > cap)
			return 0;
		memcpy(out + o, from, n);
		o += n;
		from = h->line.p + h->line.n;
	}
	n = (size_t)(msg + len - from);
	if (o + n > cap)
		return 0;
	memcpy(out + o, from, n);
	return o + n;
}

size_t
relay_trust_line(char *buf, size_t cap, const struct gate_result *res, int verified,
    const char *peer)
{
	static const char name[] = "Fed-Trust: ";
	size_t n;

	if (cap < sizeof name + 2)
		return 0;
	memcpy(buf, name, sizeof name - 1);
	n = relay_fed_trust(buf + sizeof name - 1, cap - (sizeof name - 1) - 2,
	    res, verified, peer);
	if (n == 0)
		return 0;
	n += sizeof name - 1;
	memcpy(buf + n, "\r\n", 2);
	return n + 2;
}

int
relay_verified(const struct conf *c, int tls)
{
	/* verify = auto is srv with TLS (fedgate(8) Verifying partners), none
	 * without. */
	return c->verify == VERIFY_SRV || (c->verify == VERIFY_AUTO && tls);
}

static void
fail(struct relay *r, int rc, const char *what)
{
	if (r->rc == FED_EXIT_OK) {
		r->rc = rc;
		fed_err_set(&r->err, "%s", what);
	}
	r->stop = 1;
	if (rc == FED_EXIT_USAGE)
		r->hostile = 1;
}

static int
relay_request(struct relay *r, const char *msg, size_t len)
{
	char trust[512];
	size_t tn, n;

	tn = relay_trust_line(trust, sizeof trust, &r->res,
	    relay_verified(r->c, r->o->tls != NULL), r->o->peer);
	n = relay_rewrite(r->scratch, r->scratchcap, msg, len, &r->msg, trust,
	    tn);
	if (tn == 0 || n == 0)		/* cannot happen: room is reserved */
		return -1;
	if (r->msg.method_id != SIP_M_ACK) {
		/* Our server's answer will count for the partner judged
		 * here, whatever From it carries (fedkit(7)). */
		if (txn_add(r->txn, &r->msg, FED_STR_NULL, r->res.partner,
		    fed_mono_ms()) != 0)
			return -1;
		r->pending++;
	}
	return fed_buf_add(&r->u.out, r->scratch, n);
}

/* The rest of the partner's stream cannot be read: answer if we can (the
 * framer knows 400 or 513: a request whose head is whole is judged
 * malformed, which builds the answer) and close. */
static void
partner_unframeable(struct relay *r, const struct sip_error *se, int64_t now)
{
	int judged = r->msg.header_len > 0 && r->msg.is_request;
	struct fed_err ferr;
	char m[200];

	if ((judged ? gate_message(r->g, &r->msg, se, now, &r->res, &ferr) :
	    gate_unframeable(r->g, now, &ferr)) != 0) {
		fail(r, FED_EXIT_SYS, ferr.msg);
		return;
	}
	if (judged && r->res.reply_len > 0 &&
	    fed_buf_add(&r->p.out, r->res.reply, r->res.reply_len) != 0)
		fail(r, FED_EXIT_SYS, "out of memory");
	snprintf(m, sizeof m, "partner: %s; closing", se->reason);
	fail(r, FED_EXIT_USAGE, m);
}

/*
 * One message of the partner's (msg[0..len)), framed: judged, then
 * relayed, answered, or the connection closed.  0: frame on; 1: this
 * message was the last (the partner's refusals are over max_refusals);
 * -1: stop at once (a system error).
 */
static int
partner_message(struct relay *r, enum sip_frame_result fr,
    const struct sip_error *se, const char *msg, size_t len, int64_t now)
{
	struct fed_err ferr;
	int rc;

	/*
	 * A response from this side is the partner's answer to our server's
	 * request: it never counts, and one that answers nothing we sent is
	 * refused and dropped (fedkit(7)).  gate_message would count it as a
	 * capture's.
	 */
	if (fr == SIP_FRAME_MESSAGE && !r->msg.is_request)
		rc = gate_response(r->g, &r->msg, GATE_FROM_PARTNER, NULL, now,
		    &r->res, &ferr);
	else
		rc = gate_message(r->g, &r->msg, fr == SIP_FRAME_MALFORMED ?
		    se : NULL, now, &r->res, &ferr);
	if (rc != 0) {
		fail(r, FED_EXIT_SYS, ferr.msg);
		return -1;
	}
	/* A message, not a ping, keeps the connection from idle_timeout
	 * (fedkit(7) SECURITY: keep-alive squatters). */
	r->p.last_ms = now;
	if (r->res.close) {
		char m[200];

		snprintf(m, sizeof m, "partner: %u requests refused or "
		    "limited, more than max_refusals (%u) allows; closing",
		    r->res.refusals, r->c->max_refusals);
		fail(r, FED_EXIT_USAGE, m);
		return 1;
	}
	if (r->res.d.verdict == VERDICT_ACCEPT && !r->up_down) {
		if (relay_request(r, msg, len) != 0)
			fail(r, FED_EXIT_SYS, "out of memory");
	} else if (r->res.d.verdict == VERDICT_OBSERVE) {
		/* The partner's answer to our own request. */
		if (!r->up_down && fed_buf_add(&r->u.out, msg, len) != 0)
			fail(r, FED_EXIT_SYS, "out of memory");
	} else if (r->res.reply_len > 0) {
		if (fed_buf_add(&r->p.out, r->res.reply, r->res.reply_len) != 0)
			fail(r, FED_EXIT_SYS, "out of memory");
	} else if (r->res.d.reason == REASON_MALFORMED &&
	    r->msg.is_request && r->msg.method_id != SIP_M_ACK) {
		/* A malformed request that cannot be answered closes the
		 * connection (fedgate(8) SOCKET MODE). */
		fail(r, FED_EXIT_USAGE, "partner: malformed request that "
		    "cannot be answered; closing");
	}
	return 0;
}

/* Frame and judge what the partner sent. */
static void
from_partner(struct relay *r, int64_t now)
{
	struct side *s = &r->p;
	struct sip_error se;
	enum sip_frame_result fr;
	size_t off = 0, used;
	int rc;

	while (!r->stop && off < s->in.n) {
		used = 0;
		fr = sip_frame(s->in.p + off, s->in.n - off, &r->c->limits,
		    &s->scanned, &used, &r->msg, &se);
		if (fr == SIP_FRAME_MORE)
			break;
		if (fr == SIP_FRAME_KEEPALIVE) {
			/* RFC 5626 4.4.1: a ping (CRLFCRLF) gets a pong. */
			if (used == 4 && fed_buf_add(&s->out, "\r\n", 2) != 0)
				fail(r, FED_EXIT_SYS, "out of memory");
		} else if (fr == SIP_FRAME_ERROR) {
			partner_unframeable(r, &se, now);
			return;
		} else if ((rc = partner_message(r, fr, &se, s->in.p + off,
		    used, now)) != 0) {
			if (rc < 0)
				return;
			off += used;
			break;
		}
		off += used;
	}
	if (off > 0) {
		fed_buf_drop(&s->in, off);
		s->scanned = 0;
	}
	/*
	 * The partial message left (if any) has message_timeout from now:
	 * a new one when whole messages went before it, so a busy stream
	 * whose every read ends mid-message is never cut, and counted
	 * from after their judging, which is our time, not the partner's.
	 */
	if (s->in.n == 0)
		s->first_ms = 0;
	else if (off > 0 || s->first_ms == 0)
		s->first_ms = fed_mono_ms();
}

/* Frame what our server sent: responses are counted for the partner
 * whose request they answer, everything passes. */
static void
from_upstream(struct relay *r, int64_t now)
{
	struct side *s = &r->u;
	struct sip_error se;
	struct fed_err ferr;
	enum sip_frame_result fr;
	char partner[DOMAIN_MAX + 1];
	size_t off = 0, used;
	int known;

	while (off < s->in.n) {
		used = 0;
		fr = sip_frame(s->in.p + off, s->in.n - off, NULL,
		    &s->scanned, &used, &r->msg, &se);
		if (fr == SIP_FRAME_MORE)
			break;
		if (fr == SIP_FRAME_ERROR) {
			char m[200];

			snprintf(m, sizeof m, "upstream: %s; closing",
			    se.reason);
			fail(r, FED_EXIT_SYS, m);
			s->eof = 1;
			return;
		}
		/* Our server's final responses feed the counts of the
		 * partner whose request they answer (none recorded: logged
		 * only); its own requests to the partner are not judged. */
		if (fr == SIP_FRAME_MESSAGE && !r->msg.is_request) {
			known = txn_answer(r->txn, &r->msg, fed_mono_ms(),
			    partner, sizeof partner);
			if (gate_response(r->g, &r->msg, GATE_FROM_SERVER,
			    known ? partner : NULL, now, &r->res,
			    &ferr) != 0) {
				fail(r, FED_EXIT_SYS, ferr.msg);
				return;
			}
			if (r->msg.status >= 200 && r->pending > 0)
				r->pending--;
		}
		if (fed_buf_add(&r->p.out, s->in.p + off, used) != 0) {
			fail(r, FED_EXIT_SYS, "out of memory");
			return;
		}
		off += used;
	}
	if (off > 0) {
		fed_buf_drop(&s->in, off);
		s->scanned = 0;
	}
}

/* Read what is there (with TLS, until nothing more is decrypted or the
 * buffer is full); returns bytes read, 0 at EOF or on an error (which
 * ends the side) or when nothing was there.  s->drained says whether
 * the socket was left empty. */
static size_t
side_read(struct relay *r, struct side *s, size_t cap)
{
	size_t got = 0, room;
	ssize_t n;

	if (s->in.cap < cap) {
		char *np = realloc(s->in.p, cap);

		if (np == NULL) {
			fail(r, FED_EXIT_SYS, "out of memory");
			return 0;
		}
		s->in.p = np;
		s->in.cap = cap;
	}
	s->drained = 0;
	while (s->in.n < s->in.cap) {
		room = s->in.cap - s->in.n;
		s->rd_wants = POLLIN;
		if (s->tls != NULL)
			n = tls_srv_read(s->tls, s->in.p + s->in.n, room,
			    &s->rd_wants);
		else
			n = read(s->rfd, s->in.p + s->in.n, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* TLS that must write before it can read has
			 * not shown the socket empty. */
			s->drained = s->rd_wants == POLLIN;
			break;
		}
		if (n <= 0) {
			s->eof = 1;
			break;
		}
		s->in.n += (size_t)n;
		got += (size_t)n;
		if (s->tls == NULL) {
			/* A stream socket's read returns all it holds, up
			 * to room: a short read emptied it.  Poll says when
			 * there is more. */
			s->drained = (size_t)n < room;
			break;
		}
	}
	if (s->in.n == s->in.cap && got == 0)	/* the framer refuses long before */
		fail(r, FED_EXIT_SYS, "internal error: input buffer full");
	return got;
}

static void
side_write(struct side *s)
{
	ssize_t n;

	while (s->out.n > 0 && !s->broken) {
		s->wr_wants = POLLOUT;
		if (s->tls != NULL)
			n = tls_srv_write(s->tls, s->out.p, s->out.n,
			    &s->wr_wants);
		else
			n = write(s->wfd, s->out.p, s->out.n);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			s->broken = 1;
			s->out.n = 0;
			return;
		}
		fed_buf_drop(&s->out, (size_t)n);
	}
}

/*
 * Slowloris: a message must arrive whole within message_timeout.  It is
 * judged only when the partner is to blame: its socket was just seen
 * empty (a read emptied it, or poll watched it and it stayed silent) or
 * it does not read what we send it.  While fedgate itself is late
 * (stopped, busy judging, or not reading the partner because our server
 * does not keep up) the partner's bytes wait in its socket and count
 * against nobody; a message whose bytes are all in our buffer is never
 * judged here, as from_partner has taken it already.
 */
static void
slow_check(struct relay *r, int64_t now)
{
	struct fed_err ferr;

	if (r->stop || r->p.first_ms == 0 || fed_mono_ms() - r->p.first_ms <
	    (int64_t)r->c->message_timeout * 1000)
		return;
	if (gate_unframeable(r->g, now, &ferr) != 0)
		fail(r, FED_EXIT_SYS, ferr.msg);
	else
		fail(r, FED_EXIT_USAGE, "partner: a message took longer than "
		    "message_timeout; closing");
}

static int
timeout_left(int64_t deadline, int64_t now)
{
	int64_t d = deadline - now;

	return d <= 0 ? 0 : d > 1000 ? 1000 : (int)d;
}

/* Where each side sits in the poll set (-1: not in it). */
struct poll_slots {
	int n;
	int partner;		/* reading the partner, and writing it when it
				 * is the same descriptor */
	int upstream;
};

/* Set up one connection: our server is connected (or known down), the
 * gate's log buffered and its state batched per read.  NULL: no memory. */
static struct relay *
relay_new(struct gate *g, const struct conf *c, const struct relay_opts *o)
{
	struct relay *r;
	struct fed_err ferr;

	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	r->g = g;
	r->c = c;
	r->o = o;
	r->incap = c->limits.max_message + READ_CHUNK;
	r->p.name = "partner";
	r->p.rfd = o->in_fd;
	r->p.wfd = o->tls != NULL ? o->in_fd : o->out_fd;
	r->p.tls = o->tls;
	r->p.rd_wants = r->u.rd_wants = POLLIN;
	r->p.wr_wants = r->u.wr_wants = POLLOUT;
	r->u.name = "upstream";
	r->u.rfd = r->u.wfd = -1;
	r->scratchcap = c->limits.max_message + 1024;
	if ((r->scratch = malloc(r->scratchcap)) == NULL ||
	    (r->txn = txn_new(TXN_MAX, TXN_TTL_MS)) == NULL) {
		free(r->scratch);
		free(r);
		return NULL;
	}
	r->p.last_ms = fed_now_ms();
	(void)set_nonblock(o->in_fd);
	(void)set_nonblock(o->out_fd);
	r->u.rfd = r->u.wfd = relay_connect(o->upstream, SOCK_STREAM,
	    c->upstream_timeout * 1000, &ferr);
	if (r->u.rfd < 0) {
		/* Every request that would have gone there is answered 503
		 * (with what the partner sent in this first read), then the
		 * connection ends: the partner retries after Retry-After. */
		r->up_down = 1;
		r->u.eof = 1;
		r->rc = FED_EXIT_SYS;
		r->err = ferr;
		gate_set_upstream_down(g);
	}
	gate_log_buffer(g, 1);
	/* The decisions of one read share one state transaction, committed
	 * by gate_log_flush before anything they decided is sent. */
	if (gate_batch(g, 1, &ferr) != 0) {
		r->rc = FED_EXIT_SYS;
		r->err = ferr;
	}
	return r;
}

static void
relay_free(struct relay *r)
{
	if (r->u.rfd >= 0)
		close(r->u.rfd);
	fed_buf_free(&r->p.in);
	fed_buf_free(&r->p.out);
	fed_buf_free(&r->u.in);
	fed_buf_free(&r->u.out);
	free(r->scratch);
	txn_free(r->txn);
	free(r);
}

/* The caller's tick and the gate's, about once a second; a connection
 * may not sit idle for idle_timeout (the slowloris deadline is
 * slow_check's). */
static void
deadlines(struct relay *r, int64_t now)
{
	struct fed_err ferr;

	if (now >= r->next_tick) {
		if (r->o->tick != NULL)
			r->o->tick(r->o->tick_arg, now);
		if (gate_tick(r->g, now, &ferr) != 0)
			fail(r, FED_EXIT_SYS, ferr.msg);
		r->next_tick = now + 1000;
	}
	if (!r->stop && r->p.first_ms == 0 && now - r->p.last_ms >=
	    (int64_t)r->c->idle_timeout * 1000)
		fail(r, FED_EXIT_OK, "idle");
}

/* The log first, then what it describes, to both sides.  -1: the end
 * (the log failed: nothing undecided goes out; the partner is gone). */
static int
write_out(struct relay *r)
{
	struct fed_err ferr;

	if (gate_log_flush(r->g, &ferr) != 0) {
		fail(r, FED_EXIT_SYS, ferr.msg);
		return -1;
	}
	side_write(&r->u);
	side_write(&r->p);
	if (r->u.broken && !r->up_down) {
		r->up_down = 1;
		gate_set_upstream_down(r->g);
		r->u.eof = 1;
		fail(r, FED_EXIT_SYS, "upstream: connection lost");
	}
	return r->p.broken ? -1 : 0;
}

/*
 * The end: the partner is done (closed, or we stopped it) and everything
 * for our server is written; then our server's last answers are relayed
 * until it closes or upstream_timeout passes.  Or our server closed and
 * nothing more can be relayed.  1: end now.
 */
static int
ended(struct relay *r, int64_t now)
{
	const struct conf *c = r->c;
	int partner_done = r->p.eof || r->stop;

	if (r->hostile || (partner_done && r->pending == 0 &&
	    r->u.out.n == 0)) {
		/* Nothing is owed the partner but what is buffered for it:
		 * write that (for a second at most), then close. */
		if (r->drain_until == 0)
			r->drain_until = now + 1000;
		if (r->p.out.n == 0 || now >= r->drain_until)
			return 1;
	} else if (partner_done && (r->u.out.n == 0 || r->u.broken ||
	    r->up_down)) {
		if (r->drain_until == 0) {
			r->drain_until = now + DRAIN_MS(c);
			if (!r->up_down && r->u.wfd >= 0)
				(void)shutdown(r->u.wfd, SHUT_WR);
		}
		if ((r->u.eof || now >= r->drain_until) && r->p.out.n == 0)
			return 1;
		if (now >= r->drain_until + DRAIN_MS(c))
			return 1;	/* the partner does not read */
	}
	return r->u.eof && !r->up_down && r->u.in.n == 0 &&
	    r->p.out.n == 0 && !r->p.eof;
}

/* What to wait for: the partner is read while neither output is over
 * OUT_HIGH (a side that does not read stops the other's reading), our
 * server while the partner's output has room. */
static void
poll_set(struct relay *r, struct pollfd *pfd, struct poll_slots *ps)
{
	const struct conf *c = r->c;

	ps->n = 0;
	ps->partner = ps->upstream = -1;
	if (!r->p.eof && !r->stop && r->p.out.n < OUT_HIGH(c) &&
	    r->u.out.n < OUT_HIGH(c)) {
		ps->partner = ps->n;
		pfd[ps->n].fd = r->p.rfd;
		pfd[ps->n++].events = r->p.rd_wants;
	}
	if (r->p.out.n > 0) {
		if (ps->partner >= 0 && r->p.wfd == r->p.rfd)
			pfd[ps->partner].events |= r->p.wr_wants;
		else {
			pfd[ps->n].fd = r->p.wfd;
			pfd[ps->n++].events = r->p.wr_wants;
		}
	}
	if (!r->up_down && (!r->u.eof || r->u.out.n > 0)) {
		ps->upstream = ps->n;
		pfd[ps->n].fd = r->u.rfd;
		pfd[ps->n].events = 0;
		if (!r->u.eof && r->p.out.n < OUT_HIGH(c))
			pfd[ps->n].events |= POLLIN;
		if (r->u.out.n > 0)
			pfd[ps->n].events |= POLLOUT;
		ps->n++;
	}
}

/* How long poll may wait: until the next tick, the partial message's
 * message_timeout, or the end of the drain, whichever comes first. */
static int
poll_wait(struct relay *r, const struct poll_slots *ps, int64_t now)
{
	int wait = timeout_left(r->next_tick, now);

	if (ps->partner >= 0 && r->p.first_ms != 0) {
		int64_t mono = fed_mono_ms(), due = r->p.first_ms +
		    (int64_t)r->c->message_timeout * 1000;

		if (timeout_left(due, mono) < wait)
			wait = timeout_left(due, mono);
	}
	if (r->drain_until != 0 && timeout_left(r->drain_until, now) < wait)
		wait = timeout_left(r->drain_until, now);
	/* TLS may hold decrypted bytes poll cannot see. */
	if (ps->partner >= 0 && r->p.tls != NULL &&
	    tls_srv_pending(r->p.tls) > 0)
		wait = 0;
	if (ps->n == 0 && wait == 0)
		wait = 10;
	return wait;
}

/* The partner's socket is ready (or TLS holds bytes): read, frame and
 * judge; a stream cut short logs its half message. */
static void
partner_ready(struct relay *r, int64_t now)
{
	struct fed_err ferr;

	if (side_read(r, &r->p, r->incap) > 0 || r->p.in.n > 0)
		from_partner(r, now);
	if (r->p.eof && r->p.in.n > 0 && !r->stop) {
		/* Cut short: half a message never arrives. */
		if (gate_unframeable(r->g, now, &ferr) != 0)
			fail(r, FED_EXIT_SYS, ferr.msg);
		r->p.in.n = 0;
	} else if (!r->p.eof && r->p.drained)
		slow_check(r, now);
	if (r->up_down && r->rc == FED_EXIT_SYS)
		r->stop = 1;
}

/* What poll found, side by side. */
static void
dispatch(struct relay *r, const struct pollfd *pfd,
    const struct poll_slots *ps, int64_t now)
{
	int ip = ps->partner, iu = ps->upstream;

	if (ip >= 0 && ((pfd[ip].revents & (POLLIN | POLLOUT | POLLHUP |
	    POLLERR)) || (r->p.tls != NULL && tls_srv_pending(r->p.tls) > 0)))
		partner_ready(r, now);
	else if (ip >= 0 && r->p.rd_wants == POLLIN)
		slow_check(r, now);	/* poll found it silent */
	if (iu >= 0 && (pfd[iu].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    !r->u.eof && side_read(r, &r->u, r->incap) > 0)
		from_upstream(r, now);
}

int
relay_stream(struct gate *g, const struct conf *c, const struct relay_opts *o,
    struct fed_err *err)
{
	struct relay *r;
	struct pollfd pfd[3];
	struct poll_slots ps;
	struct fed_err ferr;
	int64_t now;
	int rc;

	if ((r = relay_new(g, c, o)) == NULL) {
		fed_err_set(err, "out of memory");
		return FED_EXIT_SYS;
	}
	for (;;) {
		now = fed_now_ms();
		deadlines(r, now);
		if (write_out(r) != 0 || ended(r, now))
			break;
		/* A partner that does not read what we send it is not read
		 * either: its half message is its own doing. */
		if (!r->p.eof && r->p.out.n >= OUT_HIGH(c))
			slow_check(r, now);
		poll_set(r, pfd, &ps);
		rc = poll(pfd, (nfds_t)ps.n, poll_wait(r, &ps, now));
		if (rc < 0 && errno != EINTR) {
			fail(r, FED_EXIT_SYS, "poll failed");
			break;
		}
		if (rc >= 0)
			dispatch(r, pfd, &ps, fed_now_ms());
	}
	/* What was decided is on record even when the end was abrupt. */
	if (gate_log_flush(g, &ferr) != 0 && r->rc == FED_EXIT_OK) {
		r->rc = FED_EXIT_SYS;
		r->err = ferr;
	}
	/* Under inetd fd 2 is the connection too: closing 0 and 1 at exit
	 * would not end it. */
	(void)shutdown(o->in_fd, SHUT_RDWR);
	rc = r->rc;
	if (rc != FED_EXIT_OK)
		*err = r->err;
	relay_free(r);
	return rc;
}
