/* listener.c: accept, fork one child per connection, reap, bounded. */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "listener.h"

/* Connections taken from the backlog per wake-up, so a burst neither
 * starves the workers' news nor the tick. */
#define ACCEPT_BATCH	64
/* How long a full descriptor table or memory pauses accepting. */
#define PAUSE_MS	100
#define WARN_EVERY_MS	10000
/* A worker idle this long is ended, unless it is one of the last spares:
 * a burst's workers do not stay for ever, the next connection still finds
 * one ready. */
#define WORKER_IDLE_MS	10000
#define WORKER_SPARE	4

struct worker {
	pid_t pid;
	int chan;		/* the listener's end of the socket pair */
	int busy;		/* serving a connection */
	int64_t idle_since;
	struct sockaddr_storage from;	/* the connection's source, if busy */
};

struct workers {
	struct worker *v;
	size_t n, cap;
	size_t busy;
};

static volatile sig_atomic_t got_stop, got_child;

static void
on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
}

static void
on_child(int sig)
{
	(void)sig;
	got_child = 1;
}

void
listener_set_limits(struct listener *l, unsigned max_connections,
    unsigned max_per_source, unsigned per_process)
{
	l->max_connections = max_connections > 0 ? max_connections : 1;
	l->max_per_source = max_per_source > 0 ? max_per_source : 1;
	l->per_process = per_process > 0 ? per_process : 1;
}

static int
same_source(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 1;	/* AF_UNIX and the like: one source */
}

static size_t
from_source(const struct workers *ws, const struct sockaddr_storage *from)
{
	size_t i, k = 0;

	for (i = 0; i < ws->n; i++)
		k += ws->v[i].busy && same_source(&ws->v[i].from, from);
	return k;
}

/* The worker is gone or told to go: its connection (if any) no longer
 * counts, its channel is closed.  Its pid is reaped by reap(). */
static void
worker_drop(struct workers *ws, size_t i)
{
	if (ws->v[i].busy)
		ws->busy--;
	close(ws->v[i].chan);
	ws->v[i] = ws->v[--ws->n];
}

/* Collect the children that ended, a bounded number a turn.  A worker
 * still listed (its channel not yet seen closed) is dropped. */
static void
reap(struct workers *ws)
{
	size_t i, left = 4096;
	pid_t pid;

	got_child = 0;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		if (left-- == 0) {
			got_child = 1;	/* the rest on the next turn */
			break;
		}
		for (i = 0; i < ws->n; i++)
			if (ws->v[i].pid == pid) {
				worker_drop(ws, i);
				break;
			}
	}
}

struct sigsave {
	sigset_t mask;
	struct sigaction term, intr, chld;
};

static void
signals_restore(const struct sigsave *s)
{
	sigaction(SIGTERM, &s->term, NULL);
	sigaction(SIGINT, &s->intr, NULL);
	sigaction(SIGCHLD, &s->chld, NULL);
	sigprocmask(SIG_SETMASK, &s->mask, NULL);
}

/* A message of the channel: one byte, and room for one descriptor. */
struct chan_msg {
	struct msghdr m;
	struct iovec iov;
	char byte;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
};

static void
chan_msg_init(struct chan_msg *c, char byte)
{
	memset(c, 0, sizeof *c);
	c->byte = byte;
	c->iov.iov_base = &c->byte;
	c->iov.iov_len = 1;
	c->m.msg_iov = &c->iov;
	c->m.msg_iovlen = 1;
	c->m.msg_control = c->u.buf;
	c->m.msg_controllen = sizeof c->u.buf;
}

/* The next connection the listener passes, or -1 when it says there is
 * none (its end closed: stop, or too many idle workers). */
static int
worker_next(int chan)
{
	struct chan_msg c;
	struct cmsghdr *cm;
	ssize_t r;
	int fd;

	do {
		chan_msg_init(&c, 0);
		r = recvmsg(chan, &c.m, MSG_CMSG_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	if (r <= 0 || (c.m.msg_flags & MSG_CTRUNC) ||
	    (cm = CMSG_FIRSTHDR(&c.m)) == NULL ||
	    cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}

/* Pass a connection to an idle worker: 0, or -1 if the worker is gone. */
static int
worker_pass(int chan, int conn)
{
	struct chan_msg c;
	struct cmsghdr *cm;
	ssize_t r;

	chan_msg_init(&c, 'c');
	cm = CMSG_FIRSTHDR(&c.m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &conn, sizeof conn);
	while ((r = sendmsg(chan, &c.m, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 &&
	    errno == EINTR)
		;
	return r == 1 ? 0 : -1;
}

/*
 * In the worker: serve connections until per_process are served, the
 * listener has no more for it, or `serve` says none can be.  Nothing of the listener's stays open
 * here: not the listening socket, not another worker's channel.
 */
static _Noreturn void
worker_run(struct listener *l, const struct workers *ws, int conn, int chan,
    int other_end, const struct sigsave *s)
{
	unsigned served;
	size_t i;
	int status;

	signals_restore(s);
	close(l->fd);
	close(other_end);
	for (i = 0; i < ws->n; i++)
		close(ws->v[i].chan);
	for (served = 1;; served++) {
		status = l->serve(l->serve_arg, conn);
		close(conn);
		if (status != 0 || served >= l->per_process)
			break;
		/* Ready for the next one. */
		if (send(chan, "r", 1, MSG_NOSIGNAL) != 1 ||
		    (conn = worker_next(chan)) < 0)
			break;
	}
	/*
	 * Every connection is served and every file closed by `serve`: the
	 * exit handlers (OpenSSL's, the dynamic libraries' destructors)
	 * would only free, page by copied page, what the listener set up
	 * once.  Out without them; stdio is all that needs flushing.
	 */
	fflush(NULL);
	_exit(status);
}

/* One refused connection, said at most once every WARN_EVERY_MS. */
struct refusals {
	uint64_t total, source, other;
	int64_t said_ms;
};

static void
refusals_say(struct refusals *r, const struct listener *l, int64_t now,
    int force)
{
	if (r->total + r->source + r->other == 0 ||
	    (!force && now - r->said_ms < WARN_EVERY_MS))
		return;
	if (r->total > 0)
		fed_warnx("listener: %llu connection%s refused: "
		    "max_connections (%u) at once", (unsigned long long)r->total,
		    r->total == 1 ? "" : "s", l->max_connections);
	if (r->source > 0)
		fed_warnx("listener: %llu connection%s refused: "
		    "max_connections_per_source (%u) from one address",
		    (unsigned long long)r->source, r->source == 1 ? "" : "s",
		    l->max_per_source);
	if (r->other > 0)
		fed_warnx("listener: %llu connection%s closed unserved: "
		    "out of processes, descriptors or memory",
		    (unsigned long long)r->other, r->other == 1 ? "" : "s");
	r->total = r->source = r->other = 0;
	r->said_ms = now;
}

/* A new worker for `conn`: 0, or -1 (out of processes or memory). */
static int
worker_start(struct listener *l, struct workers *ws, int conn,
    const struct sockaddr_storage *from, const struct sigsave *s)
{
	struct worker *nv;
	size_t cap;
	pid_t pid;
	int sp[2];

	if (ws->n == ws->cap) {
		cap = ws->cap > 0 ? ws->cap * 2 : 16;
		if ((nv = reallocarray(ws->v, cap, sizeof *nv)) == NULL)
			return -1;
		ws->v = nv;
		ws->cap = cap;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0)
		worker_run(l, ws, conn, sp[1], sp[0], s);
	close(sp[1]);
	l->forked++;
	ws->v[ws->n].pid = pid;
	ws->v[ws->n].chan = sp[0];
	ws->v[ws->n].busy = 1;
	ws->v[ws->n].idle_since = 0;
	ws->v[ws->n].from = *from;
	ws->n++;
	ws->busy++;
	return 0;
}

/* The idle worker that finished last (its pages are the warmest), or -1. */
static ssize_t
worker_idle(const struct workers *ws)
{
	ssize_t best = -1;
	size_t i;

	for (i = 0; i < ws->n; i++)
		if (!ws->v[i].busy && (best < 0 ||
		    ws->v[i].idle_since > ws->v[best].idle_since))
			best = (ssize_t)i;
	return best;
}

/* Take one connection; 1 if one was taken or refused, 0 when the backlog
 * is empty, -1 with errno when accepting must pause or stop. */
static int
accept_one(struct listener *l, struct workers *ws, struct refusals *r,
    const struct sigsave *s)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	ssize_t w;
	int conn;

	memset(&from, 0, sizeof from);
	if ((conn = accept4(l->fd, (struct sockaddr *)&from, &fl,
	    SOCK_CLOEXEC)) < 0) {
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return 0;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case EPERM:	/* a firewall said no */
		case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN:
		case ENONET: case EHOSTUNREACH: case EOPNOTSUPP:
		case ENETUNREACH:
			return 1;	/* that connection only (accept(2)) */
		default:
			return -1;
		}
	}
	if (ws->busy >= l->max_connections) {
		close(conn);
		l->refused_total++;
		r->total++;
		return 1;
	}
	if ((l->unlimited_source == NULL ||
	    !l->unlimited_source(l->unlimited_arg, &from)) &&
	    from_source(ws, &from) >= l->max_per_source) {
		close(conn);
		l->refused_source++;
		r->source++;
		return 1;
	}
	/* An idle worker if one takes it, else a new one. */
	while ((w = worker_idle(ws)) >= 0) {
		if (worker_pass(ws->v[w].chan, conn) == 0) {
			ws->v[w].busy = 1;
			ws->v[w].from = from;
			ws->busy++;
			close(conn);
			l->accepted++;
			return 1;
		}
		worker_drop(ws, (size_t)w);	/* it died while idle */
	}
	if (worker_start(l, ws, conn, &from, s) != 0) {
		close(conn);
		l->fork_failed++;
		r->other++;
		return 1;
	}
	close(conn);
	l->accepted++;
	return 1;
}

/* A worker said it is ready, or its channel closed (it exited). */
static void
worker_news(struct workers *ws, size_t i, int64_t now)
{
	char buf[16];
	ssize_t k;

	k = recv(ws->v[i].chan, buf, sizeof buf, MSG_DONTWAIT);
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (k <= 0) {
		worker_drop(ws, i);
		return;
	}
	if (ws->v[i].busy) {
		ws->v[i].busy = 0;
		ws->busy--;
	}
	ws->v[i].idle_since = now;
}

/* End the workers idle too long beyond the spares, and any idle one over
 * max_connections (the limit was lowered). */
static void
workers_trim(struct workers *ws, const struct listener *l, int64_t now)
{
	size_t i = 0, idle = ws->n - ws->busy;

	while (i < ws->n) {
		if (!ws->v[i].busy && (ws->n > l->max_connections ||
		    (idle > WORKER_SPARE &&
		    now - ws->v[i].idle_since >= WORKER_IDLE_MS))) {
			worker_drop(ws, i);
			idle--;
			continue;
		}
		i++;
	}
}

/*
 * SIGTERM, SIGINT and SIGCHLD are blocked but while ppoll waits (with
 * *wait_mask), so no wake-up is lost between a check of the flags and the
 * wait.  *saved holds what to restore.
 */
static void
signals_catch(struct sigsave *saved, sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &saved->mask);
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, &saved->term);
	sigaction(SIGINT, &sa, &saved->intr);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, &saved->chld);
	*wait_mask = saved->mask;
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
	sigdelset(wait_mask, SIGCHLD);
}

/*
 * The poll set: the listening socket (-1 while accepting is paused), then
 * every worker's channel.  Its size, or 0 if out of memory.
 */
static size_t
poll_set(struct pollfd **pfd, size_t *pcap, const struct workers *ws,
    int listen_fd)
{
	struct pollfd *np;
	size_t i;

	if (ws->n + 1 > *pcap) {
		if ((np = reallocarray(*pfd, ws->cap + 1, sizeof *np)) == NULL)
			return 0;
		*pfd = np;
		*pcap = ws->cap + 1;
	}
	(*pfd)[0] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
	for (i = 0; i < ws->n; i++)
		(*pfd)[i + 1] = (struct pollfd){ .fd = ws->v[i].chan,
		    .events = POLLIN };
	return ws->n + 1;
}

/*
 * Take up to ACCEPT_BATCH waiting connections.  Out of descriptors or
 * memory pauses accepting for PAUSE_MS (counted as a refusal) rather
 * than spinning on a socket that stays readable.  0, or -1 with *err.
 */
static int
accept_batch(struct listener *l, struct workers *ws, struct refusals *r,
    const struct sigsave *saved, int64_t *paused_until, struct fed_err *err)
{
	int k, took;

	for (k = 0; k < ACCEPT_BATCH && !got_stop; k++) {
		if ((took = accept_one(l, ws, r, saved)) == 1)
			continue;
		if (took == 0)
			return 0;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			r->other++;
			*paused_until = fed_mono_ms() + PAUSE_MS;
			return 0;
		}
		fed_err_set(err, "listener: accept: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Once a second: the caller's tick, the refusals said, idle workers
 * ended. */
static void
listener_tick(struct listener *l, struct workers *ws, struct refusals *r,
    int64_t now)
{
	if (l->tick != NULL)
		l->tick(l->tick_arg, fed_now_ms());
	refusals_say(r, l, now, 0);
	workers_trim(ws, l, now);
}

/* ppoll for at most ms milliseconds, the signals let in meanwhile. */
static int
wait_until(struct pollfd *pfd, size_t npfd, int64_t ms,
    const sigset_t *wait_mask)
{
	struct timespec ts;

	if (ms < 0)
		ms = 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	return ppoll(pfd, npfd, &ts, wait_mask);
}

/* What the workers whose channels polled ready say.  Backwards, as
 * worker_drop moves the last worker into the dropped one's place. */
static void
workers_news(struct workers *ws, const struct pollfd *pfd, size_t npfd,
    int64_t now)
{
	size_t i;

	for (i = npfd - 1; i >= 1; i--)
		if (pfd[i].revents != 0 && i - 1 < ws->n &&
		    ws->v[i - 1].chan == pfd[i].fd)
			worker_news(ws, i - 1, now);
}

int
listener_run(struct listener *l, struct fed_err *err)
{
	struct workers ws = { NULL, 0, 0, 0 };
	struct refusals r = { 0, 0, 0, 0 };
	struct pollfd *pfd = NULL;
	struct sigsave saved;
	sigset_t wait_mask;
	int64_t now, next_tick, wake, paused_until = 0;
	size_t npfd, pcap = 0;
	int fl, rc = 0;

	if ((fl = fcntl(l->fd, F_GETFL)) < 0 ||
	    fcntl(l->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		fed_err_set(err, "listener: socket: %s", strerror(errno));
		return -1;
	}
	signals_catch(&saved, &wait_mask);
	got_stop = got_child = 0;
	next_tick = fed_mono_ms() + 1000;
	while (!got_stop) {
		if (got_child)
			reap(&ws);
		now = fed_mono_ms();
		if (now >= next_tick) {
			listener_tick(l, &ws, &r, now);
			next_tick = now + 1000;
		}
		npfd = poll_set(&pfd, &pcap, &ws,
		    now < paused_until ? -1 : l->fd);
		if (npfd == 0) {
			fed_err_set(err, "listener: %s", strerror(errno));
			rc = -1;
			break;
		}
		wake = pfd[0].fd < 0 && paused_until < next_tick ?
		    paused_until : next_tick;
		if (wait_until(pfd, npfd, wake - now, &wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			fed_err_set(err, "listener: poll: %s", strerror(errno));
			rc = -1;
			break;
		}
		if (pfd[0].revents & (POLLERR | POLLNVAL)) {
			fed_err_set(err, "listener: the listening socket failed");
			rc = -1;
			break;
		}
		/* Workers' news first: a worker just freed takes the next
		 * connection. */
		workers_news(&ws, pfd, npfd, fed_mono_ms());
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (got_child)
			reap(&ws);
		if (accept_batch(l, &ws, &r, &saved, &paused_until, err) != 0) {
			rc = -1;
			break;
		}
	}
	close(l->fd);
	l->fd = -1;
	/* Idle workers end on their channel's close; busy ones after their
	 * connection. */
	while (ws.n > 0)
		worker_drop(&ws, ws.n - 1);
	reap(&ws);
	refusals_say(&r, l, fed_mono_ms(), 1);
	free(ws.v);
	free(pfd);
	signals_restore(&saved);
	return rc;
}
