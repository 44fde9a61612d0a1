/* relayudp.c: socket mode over UDP: datagram by datagram, a stateless relay. */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"
#include "txn.h"

/* Our Via's branch: the RFC 3261 magic cookie, then "fg". */
#define VIA_MAGIC "z9hG4bKfg"
/* At most this many datagrams from one side per wake-up, so the other
 * side is never starved. */
#define DG_BATCH 64

struct dg {
	struct gate *g;
	const struct conf *c;
	const struct relay_opts *o;
	char *peer;		/* the gate's peer name, rewritten per datagram */
	size_t peercap;
	int ufd;
	char sentby[INET6_ADDRSTRLEN + 8];	/* our side of ufd */
	uint64_t key;		/* per process: our branches are ours */
	char *in, *out;
	size_t incap, outcap;
	struct sip_msg msg;
	struct gate_result res;
	struct txn_table *txn;	/* whose request each relayed one is */
	int warned_foreign;
	int64_t last_ms;	/* wall clock: the last datagram, either side */
	int64_t next_tick;	/* wall clock: the next tick is due */
};

/* The partner's address as the bytes our branch carries: family, port,
 * address. */
static size_t
addr_bytes(const struct sockaddr_storage *ss, unsigned char *b)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		b[0] = 4;
		memcpy(b + 1, &in->sin_port, 2);
		memcpy(b + 3, &in->sin_addr, 4);
		return 7;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		b[0] = 6;
		memcpy(b + 1, &in6->sin6_port, 2);
		memcpy(b + 3, &in6->sin6_addr, 16);
		return 19;
	}
	return 0;
}

static void
peer_name(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
		snprintf(buf, cap, "%s:%u", a, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a);
		snprintf(buf, cap, "[%s]:%u", a, ntohs(in6->sin6_port));
	} else
		snprintf(buf, cap, "-");
}

static void
hex(char *out, const unsigned char *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	while (n-- > 0) {
		*out++ = digits[*b >> 4];
		*out++ = digits[*b++ & 15];
	}
	*out = '\0';
}

/*
 * Our Via's branch for a request from `from`: it carries the partner's
 * address and a keyed hash of it (so only our own branches are
 * believed), then a hash of the partner's branch (so each of its
 * transactions has its own, RFC 3261 16.11).  Its length, 0 if none.
 */
static size_t
via_branch(struct dg *d, const struct sockaddr_storage *from, char *buf,
    size_t cap)
{
	unsigned char b[19];
	char hx[2 * sizeof b + 1];
	size_t n = addr_bytes(from, b);
	uint64_t mac, bh;
	int w;

	if (n == 0)
		return 0;
	hex(hx, b, n);
	mac = fed_fnv1a64(fed_fnv1a64(FED_FNV1A64_OFFSET, &d->key,
	    sizeof d->key), b, n);
	bh = fed_fnv1a64(mac, d->msg.via_branch.p, d->msg.via_branch.n);
	w = snprintf(buf, cap, VIA_MAGIC "%s.%016llx.%016llx", hx,
	    (unsigned long long)mac, (unsigned long long)bh);
	return w < 0 || (size_t)w >= cap ? 0 : (size_t)w;
}

/* Our Via line with that branch; its length, 0 if it does not fit. */
static size_t
via_line(struct dg *d, const char *branch, char *buf, size_t cap)
{
	int w;

	w = snprintf(buf, cap, "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n",
	    d->sentby, branch);
	return w < 0 || (size_t)w >= cap ? 0 : (size_t)w;
}

static int
unhex(const char *p, size_t n, unsigned char *b)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		hi = p[2 * i];
		lo = p[2 * i + 1];
		hi = hi >= '0' && hi <= '9' ? hi - '0' : hi >= 'a' && hi <= 'f' ?
		    hi - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' : lo >= 'a' && lo <= 'f' ?
		    lo - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/*
 * A response from our server: is its top Via ours?  Fills the partner's
 * address and says where our Via value ends within that header's value
 * (a server may have joined Vias on one line with commas).
 */
static int
via_ours(struct dg *d, const struct sip_hdr *h, struct sockaddr_storage *to,
    size_t *vend)
{
	const char *v = h->value.p, *e = v + h->value.n, *br, *p;
	unsigned char b[19], m[8];
	size_t n, i;
	uint64_t mac;

	br = memmem(v, h->value.n, ";branch=" VIA_MAGIC,
	    sizeof ";branch=" VIA_MAGIC - 1);
	if (br == NULL)
		return -1;
	p = br + sizeof ";branch=" VIA_MAGIC - 1;
	/* hex(family, port, address) "." hex(mac): 16 digits, no more
	 * read than the value holds (the datagram has no NUL). */
	if (e - p < 2 || p[0] != '0')
		return -1;
	n = p[1] == '4' ? 7 : p[1] == '6' ? 19 : 0;
	if (n == 0 || e - p < (ptrdiff_t)(2 * n + 17) || p[2 * n] != '.')
		return -1;
	if (unhex(p, n, b) != 0 || unhex(p + 2 * n + 1, 8, m) != 0)
		return -1;
	for (mac = 0, i = 0; i < 8; i++)
		mac = mac << 8 | m[i];
	if (mac != fed_fnv1a64(fed_fnv1a64(FED_FNV1A64_OFFSET, &d->key,
	    sizeof d->key), b, n))
		return -1;
	memset(to, 0, sizeof *to);
	if (b[0] == 4) {
		struct sockaddr_in *in = (void *)to;

		in->sin_family = AF_INET;
		memcpy(&in->sin_port, b + 1, 2);
		memcpy(&in->sin_addr, b + 3, 4);
	} else {
		struct sockaddr_in6 *in6 = (void *)to;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_port, b + 1, 2);
		memcpy(&in6->sin6_addr, b + 3, 16);
	}
	p = memchr(br, ',', (size_t)(e - br));
	*vend = p == NULL ? h->value.n : (size_t)(p - v);
	return 0;
}

static socklen_t
sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

static int
flush_log(struct dg *d, struct fed_err *err)
{
	return gate_log_flush(d->g, err);
}

static int
from_partner(struct dg *d, size_t n, const struct sockaddr_storage *from,
    int64_t now, struct fed_err *err)
{
	struct sip_error se;
	char ins[1024], br[128];
	size_t insn, tn, len, outn, brn;
	int bad, rc;

	peer_name(from, d->peer, d->peercap);
	gate_set_peer(d->g, d->peer);
	bad = sip_parse_datagram(d->in, n, &d->c->limits, &d->msg, &se) != 0;
	if (bad && se.code == 0)
		return 0;		/* a keep-alive */
	/* A response from a partner never counts, and one that answers
	 * nothing we sent is refused and dropped (fedkit(7)). */
	if (!bad && !d->msg.is_request)
		rc = gate_response(d->g, &d->msg, GATE_FROM_PARTNER, NULL, now,
		    &d->res, err);
	else
		rc = gate_message(d->g, &d->msg, bad ? &se : NULL, now,
		    &d->res, err);
	if (rc != 0 || flush_log(d, err) != 0)
		return -1;
	switch (d->res.d.verdict) {
	case VERDICT_ACCEPT:
		if ((brn = via_branch(d, from, br, sizeof br)) == 0 ||
		    (insn = via_line(d, br, ins, sizeof ins)) == 0)
			return 0;
		tn = relay_trust_line(ins + insn, sizeof ins - insn, &d->res,
		    relay_verified(d->c, 0), d->peer);
		len = d->msg.header_len + d->msg.body_len;
		outn = tn == 0 ? 0 : relay_rewrite(d->out, d->outcap, d->in,
		    len, &d->msg, ins, insn + tn);
		if (outn == 0)
			break;
		/* Our server answers with our branch on top: that is the
		 * key its response is counted by, for this partner. */
		if (d->msg.method_id != SIP_M_ACK && txn_add(d->txn, &d->msg,
		    (struct fed_str){ br, brn }, d->res.partner,
		    fed_mono_ms()) != 0) {
			fed_err_set(err, "out of memory");
			return -1;
		}
		if (send(d->ufd, d->out, outn, 0) < 0 && errno != EAGAIN)
			fed_warn("upstream: send");
		break;
	case VERDICT_OBSERVE:
		/* A partner's answer to one of our requests. */
		if (send(d->ufd, d->in, n, 0) < 0 && errno != EAGAIN)
			fed_warn("upstream: send");
		break;
	default:
		if (d->res.reply_len > 0 && sendto(d->o->in_fd, d->res.reply,
		    d->res.reply_len, MSG_DONTWAIT, (const struct sockaddr *)from,
		    sa_len(from)) < 0)
			fed_warn("%s: send", d->peer);
		break;
	}
	return 0;
}

static int
from_upstream(struct dg *d, size_t n, int64_t now, struct fed_err *err)
{
	struct sockaddr_storage to;
	struct sip_error se;
	const struct sip_hdr *h;
	char partner[DOMAIN_MAX + 1];
	size_t vend, o, k;
	const char *rest;
	int known;

	if (sip_parse_datagram(d->in, n, NULL, &d->msg, &se) != 0 ||
	    d->msg.is_request || (h = sip_hdr_find(&d->msg, SIP_H_VIA)) == NULL ||
	    via_ours(d, h, &to, &vend) != 0) {
		/* Our server's requests to partners do not come through a
		 * datagram fedgate: it has no partner to send them to. */
		if (!d->warned_foreign) {
			fed_warnx("upstream: a datagram that is not a response "
			    "to a request we relayed: dropped (said once)");
			d->warned_foreign = 1;
		}
		return 0;
	}
	peer_name(&to, d->peer, d->peercap);
	gate_set_peer(d->g, d->peer);
	/* Counted for the partner whose request it answers (our branch
	 * on top is the key), never for the From it carries. */
	known = txn_answer(d->txn, &d->msg, fed_mono_ms(), partner,
	    sizeof partner);
	if (gate_response(d->g, &d->msg, GATE_FROM_SERVER, known ? partner :
	    NULL, now, &d->res, err) != 0 || flush_log(d, err) != 0)
		return -1;
	/* Our Via off: the partner sees its own on top again. */
	o = (size_t)(h->line.p - d->in);
	memcpy(d->out, d->in, o);
	if (vend < h->value.n) {
		rest = h->value.p + vend + 1;
		while (rest < h->value.p + h->value.n &&
		    (*rest == ' ' || *rest == '\t'))
			rest++;
		k = (size_t)(h->value.p + h->value.n - rest);
		memcpy(d->out + o, "Via: ", 5);
		memcpy(d->out + o + 5, rest, k);
		memcpy(d->out + o + 5 + k, "\r\n", 2);
		o += 7 + k;
	}
	k = n - (size_t)(h->line.p + h->line.n - d->in);
	memcpy(d->out + o, h->line.p + h->line.n, k);
	o += k;
	if (sendto(d->o->in_fd, d->out, o, MSG_DONTWAIT,
	    (const struct sockaddr *)&to, sa_len(&to)) < 0)
		fed_warn("%s: send", d->peer);
	return 0;
}

/* Our side of the socket to our server, as our Via's sent-by. */
static int
our_sentby(struct dg *d, struct fed_err *err)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char a[INET6_ADDRSTRLEN];

	if (getsockname(d->ufd, (struct sockaddr *)&ss, &sl) != 0) {
		fed_err_set(err, "upstream: getsockname: %s", strerror(errno));
		return -1;
	}
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a,
		    sizeof a);
		snprintf(d->sentby, sizeof d->sentby, "[%s]:%u", a,
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a,
		    sizeof a);
		snprintf(d->sentby, sizeof d->sentby, "%s:%u", a,
		    ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
	return 0;
}

/* The buffers, the per-process key of our branches, the socket to our
 * server.  -1 with *err. */
static int
dg_open(struct dg *d, const struct conf *c, const struct relay_opts *o,
    struct fed_err *err)
{
	d->incap = c->limits.max_message + 1;
	d->outcap = c->limits.max_message + 2048;
	if ((d->in = malloc(d->incap)) == NULL ||
	    (d->out = malloc(d->outcap)) == NULL ||
	    (d->txn = txn_new(TXN_MAX, TXN_TTL_MS)) == NULL) {
		fed_err_set(err, "out of memory");
		return -1;
	}
	if (getrandom(&d->key, sizeof d->key, 0) != (ssize_t)sizeof d->key) {
		fed_err_set(err, "getrandom: %s", strerror(errno));
		return -1;
	}
	if ((d->ufd = relay_connect(o->upstream, SOCK_DGRAM,
	    c->upstream_timeout * 1000, err)) < 0)
		return -1;
	return our_sentby(d, err);
}

/* The caller's tick and the gate's, about once a second. */
static int
dg_tick(struct dg *d, int64_t now, struct fed_err *err)
{
	if (now < d->next_tick)
		return 0;
	if (d->o->tick != NULL)
		d->o->tick(d->o->tick_arg, now);
	d->next_tick = now + 1000;
	return gate_tick(d->g, now, err);
}

/* The partner's socket is readable: up to DG_BATCH datagrams, each judged
 * on its own.  -1 on a system error. */
static int
partner_datagrams(struct dg *d, int64_t now, struct fed_err *err)
{
	struct sockaddr_storage from;
	socklen_t sl;
	ssize_t n;
	int i;

	for (i = 0; i < DG_BATCH; i++) {
		sl = sizeof from;
		n = recvfrom(d->o->in_fd, d->in, d->incap, MSG_DONTWAIT |
		    MSG_TRUNC, (struct sockaddr *)&from, &sl);
		if (n < 0)
			break;
		d->last_ms = now;
		/* Cut to incap: the parser then says "too large". */
		if (from_partner(d, (size_t)n < d->incap ? (size_t)n :
		    d->incap, &from, now, err) != 0)
			return -1;
	}
	return 0;
}

/* Our server's socket is readable (or has an error to say): up to
 * DG_BATCH datagrams, sent on to the partners they answer.  -1 on a
 * system error. */
static int
upstream_datagrams(struct dg *d, int64_t now, struct fed_err *err)
{
	ssize_t n;
	int i;

	for (i = 0; i < DG_BATCH; i++) {
		n = recv(d->ufd, d->in, d->incap, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ECONNREFUSED)
				fed_warnx("upstream %s: nobody listens",
				    d->o->upstream);
			break;
		}
		d->last_ms = now;
		if ((size_t)n < d->incap &&
		    from_upstream(d, (size_t)n, now, err) != 0)
			return -1;
	}
	return 0;
}

int
relay_datagrams(struct gate *g, const struct conf *c,
    const struct relay_opts *o, char *peerbuf, size_t peercap,
    struct fed_err *err)
{
	struct pollfd pfd[2];
	int64_t now;
	int rc = FED_EXIT_OK;
	struct dg *d;

	if ((d = calloc(1, sizeof *d)) == NULL) {
		fed_err_set(err, "out of memory");
		return FED_EXIT_SYS;
	}
	d->g = g;
	d->c = c;
	d->o = o;
	d->peer = peerbuf;
	d->peercap = peercap;
	if (dg_open(d, c, o, err) != 0) {
		rc = FED_EXIT_SYS;
		goto done;
	}
	gate_log_buffer(g, 1);
	d->last_ms = fed_now_ms();
	for (;;) {
		now = fed_now_ms();
		if (dg_tick(d, now, err) != 0) {
			rc = FED_EXIT_SYS;
			break;
		}
		/* inetd `wait` starts us again at the next datagram. */
		if (now - d->last_ms >= (int64_t)c->idle_timeout * 1000)
			break;
		pfd[0].fd = o->in_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = d->ufd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, 1000) < 0 && errno != EINTR) {
			fed_err_set(err, "poll: %s", strerror(errno));
			rc = FED_EXIT_SYS;
			break;
		}
		now = fed_now_ms();
		if (((pfd[0].revents & POLLIN) &&
		    partner_datagrams(d, now, err) != 0) ||
		    ((pfd[1].revents & (POLLIN | POLLERR)) &&
		    upstream_datagrams(d, now, err) != 0)) {
			rc = FED_EXIT_SYS;
			break;
		}
	}
done:
	if (gate_log_flush(g, err) != 0 && rc == FED_EXIT_OK)
		rc = FED_EXIT_SYS;
	if (d->ufd > 0)
		close(d->ufd);
	free(d->in);
	free(d->out);
	txn_free(d->txn);
	free(d);
	return rc;
}
