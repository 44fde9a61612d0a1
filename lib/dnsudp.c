/* dnsudp.c: c-ares's UDP queries sent with one sendmmsg and read with recvmmsg. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ares.h>

#include "dnsudp.h"

/*
 * c-ares 1.18 sends each query with one send(2) and reads each answer
 * with one recvfrom(2): two system calls a lookup, which for thousands of
 * lookups cost more than everything else fedq does.  Through c-ares's
 * socket-function hooks, UDP sends are queued and leave with one
 * sendmmsg(2) before each poll, and answers are read up to DNSUDP_SLOTS at
 * a time with recvmmsg(2) and handed to c-ares one by one.  TCP (answers
 * too big for UDP) passes straight through.  A datagram the kernel
 * refuses to queue is dropped, as the network could: c-ares retries it
 * after its timeout.
 */

#define DNSUDP_MAX_FDS 16	/* UDP sockets batched: one per server */
#define DNSUDP_SLOTS 32		/* answers read per recvmmsg */
#define DNSUDP_SLOT_SIZE 4096	/* EDNS asks for 1232 at most */
#define DNSUDP_QUEUE 256	/* queries queued per socket before a flush */
#define DNSUDP_QUERY_MAX 512	/* a query: name, header, question, OPT */

struct dnsudp_fd {
	int fd;			/* -1: free */
	int pending_errno;	/* an error a send saw, for the next read */
	/* sends */
	size_t nq;
	unsigned short qlen[DNSUDP_QUEUE];
	unsigned char *qbuf;	/* DNSUDP_QUEUE * DNSUDP_QUERY_MAX */
	/* reads */
	size_t nr, ir;
	unsigned rlen[DNSUDP_SLOTS];
	unsigned char rtrunc[DNSUDP_SLOTS];	/* MSG_TRUNC: cut short */
	struct sockaddr_storage rfrom[DNSUDP_SLOTS];
	socklen_t rfromlen[DNSUDP_SLOTS];
	unsigned char *rbuf;	/* DNSUDP_SLOTS * DNSUDP_SLOT_SIZE */
};

struct dnsudp {
	struct dnsudp_fd f[DNSUDP_MAX_FDS];
};

static struct dnsudp_fd *
dnsudp_find(struct dnsudp *b, int fd)
{
	size_t i;

	for (i = 0; i < DNSUDP_MAX_FDS; i++)
		if (b->f[i].fd == fd)
			return &b->f[i];
	return NULL;
}

static ares_socket_t
dnsudp_socket(int domain, int type, int proto, void *arg)
{
	struct dnsudp *b = arg;
	struct dnsudp_fd *f;
	int fd, on = 1, rbuf = 4 << 20, sbuf = 1 << 20;

	/* With its socket functions replaced, c-ares leaves the socket as
	 * it gets it: make it non-blocking here, and give a UDP socket room
	 * for a burst of answers (a drop costs a timeout) and of queries. */
	fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return ARES_SOCKET_BAD;
	if (type == SOCK_STREAM)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	if (type != SOCK_DGRAM)
		return fd;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rbuf, sizeof rbuf);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sbuf, sizeof sbuf);
	/* Only UDP sockets are batched; a full table just means plain I/O. */
	if ((f = dnsudp_find(b, -1)) == NULL)
		return fd;
	/* gcc 12's analyzer loses stores into an element at a variable
	 * index (the table's free slot) and calls these leaked; they stay
	 * with the slot for its next socket, and dnsudp_free frees them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"	/* clang: no -Wanalyzer-* */
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
	if (f->qbuf == NULL)
		f->qbuf = malloc((size_t)DNSUDP_QUEUE * DNSUDP_QUERY_MAX);
	if (f->rbuf == NULL)
		f->rbuf = malloc((size_t)DNSUDP_SLOTS * DNSUDP_SLOT_SIZE);
	if (f->qbuf != NULL && f->rbuf != NULL) {
		f->fd = fd;
		f->nq = f->nr = f->ir = 0;
		f->pending_errno = 0;
	}
	return fd;
#pragma GCC diagnostic pop
}

static int
dnsudp_close(ares_socket_t fd, void *arg)
{
	struct dnsudp_fd *f = dnsudp_find(arg, fd);

	if (f != NULL)
		f->fd = -1;	/* what is queued goes with it */
	return close(fd);
}

static int
dnsudp_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len,
    void *arg)
{
	(void)arg;
	return connect(fd, sa, len);
}

/* Send what is queued on one socket. */
static void
dnsudp_flush_fd(struct dnsudp_fd *f)
{
	struct mmsghdr mm[DNSUDP_QUEUE];
	struct iovec iov[DNSUDP_QUEUE];
	size_t i, off = 0;
	int n, tries = 0;

	for (i = 0; i < f->nq; i++) {
		iov[i].iov_base = f->qbuf + i * DNSUDP_QUERY_MAX;
		iov[i].iov_len = f->qlen[i];
		memset(&mm[i], 0, sizeof mm[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (off < f->nq) {
		n = sendmmsg(f->fd, mm + off, (unsigned)(f->nq - off), 0);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    tries++ < 10) {
			struct pollfd p = { f->fd, POLLOUT, 0 };

			(void)poll(&p, 1, 10);
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			/* Refused by a dead server, say: tell c-ares at its
			 * next read, as a plain send would have (it then
			 * retries the socket's queries), and send the rest
			 * of the batch, which are not at fault. */
			f->pending_errno = errno;
			off++;
			continue;
		}
		break;	/* still full after 10 waits: dropped, retried */
	}
	f->nq = 0;
}

void
dnsudp_flush(struct dnsudp *b)
{
	size_t i;

	for (i = 0; i < DNSUDP_MAX_FDS; i++)
		if (b->f[i].fd >= 0 && b->f[i].nq > 0)
			dnsudp_flush_fd(&b->f[i]);
}

static ares_ssize_t
dnsudp_sendv(ares_socket_t fd, const struct iovec *iov, int iovcnt, void *arg)
{
	struct dnsudp_fd *f = dnsudp_find(arg, fd);
	size_t len = 0, i;
	unsigned char *dst;

	for (i = 0; i < (size_t)iovcnt; i++)
		len += iov[i].iov_len;
	if (f == NULL || len > DNSUDP_QUERY_MAX)
		return writev(fd, iov, iovcnt);
	if (f->nq == DNSUDP_QUEUE)
		dnsudp_flush_fd(f);
	dst = f->qbuf + f->nq * DNSUDP_QUERY_MAX;
	for (i = 0; i < (size_t)iovcnt; i++) {
		memcpy(dst, iov[i].iov_base, iov[i].iov_len);
		dst += iov[i].iov_len;
	}
	f->qlen[f->nq++] = (unsigned short)len;
	return (ares_ssize_t)len;
}

static ares_ssize_t
dnsudp_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags,
    struct sockaddr *from, ares_socklen_t *fromlen, void *arg)
{
	struct dnsudp_fd *f = dnsudp_find(arg, fd);
	struct mmsghdr mm[DNSUDP_SLOTS];
	struct iovec iov[DNSUDP_SLOTS];
	size_t i, n;
	int got;

	if (f == NULL)
		return recvfrom(fd, buf, len, flags, from, fromlen);
	if (f->ir == f->nr) {
		if (f->pending_errno != 0) {
			errno = f->pending_errno;
			f->pending_errno = 0;
			return -1;
		}
		for (i = 0; i < DNSUDP_SLOTS; i++) {
			iov[i].iov_base = f->rbuf + i * DNSUDP_SLOT_SIZE;
			iov[i].iov_len = DNSUDP_SLOT_SIZE;
			memset(&mm[i], 0, sizeof mm[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_name = &f->rfrom[i];
			mm[i].msg_hdr.msg_namelen = sizeof f->rfrom[i];
		}
		got = recvmmsg(fd, mm, DNSUDP_SLOTS, MSG_DONTWAIT, NULL);
		if (got <= 0)
			return got;	/* errno set: EAGAIN ends c-ares's loop */
		for (i = 0; i < (size_t)got; i++) {
			f->rlen[i] = mm[i].msg_len;
			f->rtrunc[i] = (mm[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 ||
			    mm[i].msg_len > DNSUDP_SLOT_SIZE;
			if (f->rlen[i] > DNSUDP_SLOT_SIZE)
				f->rlen[i] = DNSUDP_SLOT_SIZE;
			f->rfromlen[i] = mm[i].msg_hdr.msg_namelen;
		}
		f->nr = (size_t)got;
		f->ir = 0;
	}
	i = f->ir++;
	n = f->rlen[i] < len ? f->rlen[i] : len;
	memcpy(buf, f->rbuf + i * DNSUDP_SLOT_SIZE, n);
	/* A datagram longer than the slot (or than c-ares's buffer) was
	 * cut: never pass it on as if whole.  Mark it truncated (TC), so
	 * c-ares asks again over TCP, as for an answer the server cut. */
	if ((f->rtrunc[i] || f->rlen[i] > len) && n >= 4)
		((unsigned char *)buf)[2] |= 0x02;
	if (from != NULL && fromlen != NULL) {
		socklen_t fl = f->rfromlen[i] < *fromlen ? f->rfromlen[i] :
		    *fromlen;

		memcpy(from, &f->rfrom[i], fl);
		*fromlen = f->rfromlen[i];
	}
	return (ares_ssize_t)n;
}

static const struct ares_socket_functions dnsudp_funcs = {
	dnsudp_socket, dnsudp_close, dnsudp_connect, dnsudp_recvfrom,
	dnsudp_sendv
};

struct dnsudp *
dnsudp_new(void)
{
	struct dnsudp *b = calloc(1, sizeof *b);
	size_t i;

	for (i = 0; b != NULL && i < DNSUDP_MAX_FDS; i++)
		b->f[i].fd = -1;
	return b;
}

void
dnsudp_free(struct dnsudp *b)
{
	size_t i;

	for (i = 0; b != NULL && i < DNSUDP_MAX_FDS; i++) {
		free(b->f[i].qbuf);
		free(b->f[i].rbuf);
	}
	free(b);
}

void
dnsudp_attach(struct dnsudp *b, ares_channel ch)
{
	ares_set_socket_functions(ch, &dnsudp_funcs, b);
}
