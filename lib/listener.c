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
 * starves the reaping nor the tick. */
#define ACCEPT_BATCH	64
/* How long a full descriptor table or memory pauses accepting. */
#define PAUSE_MS	100
#define WARN_EVERY_MS	10000

struct child {
	pid_t pid;
	struct sockaddr_storage from;
};

struct children {
	struct child *v;
	size_t n, cap;
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
    unsigned max_per_source)
{
	l->max_connections = max_connections > 0 ? max_connections : 1;
	l->max_per_source = max_per_source > 0 ? max_per_source : 1;
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
from_source(const struct children *cs, const struct sockaddr_storage *from)
{
	size_t i, k = 0;

	for (i = 0; i < cs->n; i++)
		k += same_source(&cs->v[i].from, from);
	return k;
}

/* Collect every child that ended; bounded by the children there are. */
static void
reap(struct children *cs)
{
	size_t i, left = cs->n + 1;
	pid_t pid;

	got_child = 0;
	while (left-- > 0 && (pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		for (i = 0; i < cs->n; i++)
			if (cs->v[i].pid == pid) {
				cs->v[i] = cs->v[--cs->n];
				break;
			}
	}
}

static int
children_add(struct children *cs, pid_t pid,
    const struct sockaddr_storage *from)
{
	struct child *nv;
	size_t cap;

	if (cs->n == cs->cap) {
		cap = cs->cap > 0 ? cs->cap * 2 : 16;
		if ((nv = reallocarray(cs->v, cap, sizeof *nv)) == NULL)
			return -1;
		cs->v = nv;
		cs->cap = cap;
	}
	cs->v[cs->n].pid = pid;
	cs->v[cs->n].from = *from;
	cs->n++;
	return 0;
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

/* In the child: the connection on 0 and 1, as inetd would hand it. */
static _Noreturn void
child_run(struct listener *l, int conn, const struct sigsave *s)
{
	int rc;

	signals_restore(s);
	close(l->fd);
	if ((conn != STDIN_FILENO && dup2(conn, STDIN_FILENO) < 0) ||
	    (conn != STDOUT_FILENO && dup2(conn, STDOUT_FILENO) < 0))
		_exit(FED_EXIT_SYS);
	if (conn > STDOUT_FILENO)
		close(conn);
	rc = l->serve(l->serve_arg);
	/*
	 * The connection is served and every file closed by `serve`: the
	 * exit handlers (OpenSSL's, the dynamic libraries' destructors)
	 * would only free, page by copied page, what the listener set up
	 * once.  Out without them; stdio is all that needs flushing.
	 */
	fflush(NULL);
	_exit(rc);
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

/* Take one connection; 1 if one was taken or refused, 0 when the backlog
 * is empty, -1 with errno when accepting must pause or stop. */
static int
accept_one(struct listener *l, struct children *cs, struct refusals *r,
    const struct sigsave *s)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	pid_t pid;
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
	if (cs->n >= l->max_connections) {
		close(conn);
		l->refused_total++;
		r->total++;
		return 1;
	}
	if (from_source(cs, &from) >= l->max_per_source) {
		close(conn);
		l->refused_source++;
		r->source++;
		return 1;
	}
	if (children_add(cs, 0, &from) != 0) {
		close(conn);
		l->fork_failed++;
		r->other++;
		return 1;
	}
	if ((pid = fork()) < 0) {
		cs->n--;
		close(conn);
		l->fork_failed++;
		r->other++;
		return 1;
	}
	if (pid == 0)
		child_run(l, conn, s);
	cs->v[cs->n - 1].pid = pid;
	close(conn);
	l->accepted++;
	return 1;
}

int
listener_run(struct listener *l, struct fed_err *err)
{
	struct children cs = { NULL, 0, 0 };
	struct refusals r = { 0, 0, 0, 0 };
	struct sigsave saved;
	struct sigaction sa;
	struct timespec ts;
	struct pollfd pfd;
	sigset_t block, wait_mask;
	int64_t now, next_tick, paused_until = 0;
	int fl, i, rc = 0, n;

	if ((fl = fcntl(l->fd, F_GETFL)) < 0 ||
	    fcntl(l->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		fed_err_set(err, "listener: socket: %s", strerror(errno));
		return -1;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &saved.mask);
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, &saved.term);
	sigaction(SIGINT, &sa, &saved.intr);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, &saved.chld);
	/* Signals arrive only inside ppoll: no wake-up is lost between a
	 * check of the flags and the wait. */
	wait_mask = saved.mask;
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGCHLD);

	got_stop = got_child = 0;
	next_tick = fed_mono_ms() + 1000;
	while (!got_stop) {
		reap(&cs);
		now = fed_mono_ms();
		if (now >= next_tick) {
			if (l->tick != NULL)
				l->tick(l->tick_arg, fed_now_ms());
			refusals_say(&r, l, now, 0);
			next_tick = now + 1000;
		}
		pfd.fd = now < paused_until ? -1 : l->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		n = (int)(next_tick - now);
		if (pfd.fd < 0 && paused_until - now < n)
			n = (int)(paused_until - now);
		ts.tv_sec = n / 1000;
		ts.tv_nsec = (long)(n % 1000) * 1000000;
		if (ppoll(&pfd, 1, &ts, &wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			fed_err_set(err, "listener: poll: %s", strerror(errno));
			rc = -1;
			break;
		}
		if (pfd.revents & (POLLERR | POLLNVAL)) {
			fed_err_set(err, "listener: the listening socket failed");
			rc = -1;
			break;
		}
		if (!(pfd.revents & POLLIN))
			continue;
		reap(&cs);
		for (i = 0; i < ACCEPT_BATCH && !got_stop; i++) {
			int k = accept_one(l, &cs, &r, &saved);

			if (k == 1)
				continue;
			if (k < 0) {
				if (errno == EMFILE || errno == ENFILE ||
				    errno == ENOBUFS || errno == ENOMEM) {
					r.other++;
					paused_until = fed_mono_ms() + PAUSE_MS;
				} else {
					fed_err_set(err, "listener: accept: %s",
					    strerror(errno));
					rc = -1;
					got_stop = 1;
				}
			}
			break;
		}
	}
	close(l->fd);
	l->fd = -1;
	reap(&cs);
	refusals_say(&r, l, fed_mono_ms(), 1);
	free(cs.v);
	signals_restore(&saved);
	return rc;
}
