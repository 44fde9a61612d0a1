/* serve.c: socket mode: what stdin is, one connection, or a listener's many. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "listener.h"
#include "proxyproto.h"
#include "relay.h"
#include "sandbox.h"
#include "serve.h"
#include "vlog.h"

int
serve_diagnostics(void)
{
	struct stat s0, s2;
	int fd;

	if (fstat(STDIN_FILENO, &s0) != 0 || !S_ISSOCK(s0.st_mode))
		return 0;
	if (fstat(STDERR_FILENO, &s2) != 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0 &&
		    fd != STDERR_FILENO) {
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
	} else if (s0.st_dev != s2.st_dev || s0.st_ino != s2.st_ino)
		return 0;
	fed_diag_syslog_open();
	fed_diag_set(fed_diag_syslog);
	return 1;
}

int
serve_stdin(enum serve_stdin *in, struct fed_err *err)
{
	struct stat st;
	socklen_t tl;
	int type = 0;

	*in = SERVE_PIPE;
	if (fstat(STDIN_FILENO, &st) != 0) {
		fed_err_set(err, "stdin: %s", strerror(errno));
		return FED_EXIT_SYS;
	}
	if (!S_ISSOCK(st.st_mode))
		return FED_EXIT_OK;
	tl = sizeof type;
	if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_TYPE, &type, &tl) != 0) {
		fed_err_set(err, "stdin: %s", strerror(errno));
		return FED_EXIT_SYS;
	}
	if (type == SOCK_DGRAM) {
		*in = SERVE_DGRAM;
		return FED_EXIT_OK;
	}
	if (type != SOCK_STREAM) {
		fed_err_set(err, "stdin: a socket that is neither TCP nor UDP");
		return FED_EXIT_USAGE;
	}
	*in = SERVE_STREAM;
	tl = sizeof type;
	if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &type,
	    &tl) == 0 && type)
		*in = SERVE_LISTENER;
	return FED_EXIT_OK;
}

/* A configuration with no file says so in the messages about it. */
static const char *
conf_name(const struct conf *c, const char *none)
{
	return c->path != NULL ? c->path : none;
}

int
serve_open(struct serve *s, struct conf *c, const struct gate_opts *o,
    const char *upstream, enum serve_stdin in, int diag_syslog,
    struct fed_err *err)
{
	int dgram = in == SERVE_DGRAM;

	memset(s, 0, sizeof *s);
	s->c = c;
	s->o = *o;
	s->o.bound_refusals = 1;
	s->o.replies = 1;
	s->upstream = upstream;
	s->in = in;
	s->diag_syslog = diag_syslog;
	if (upstream == NULL && c->upstream == NULL) {
		fed_err_set(err, "socket mode needs our internal server: -u "
		    "host:port or upstream = in %s", conf_name(c, "fed.conf"));
		return FED_EXIT_USAGE;
	}
	/* fedgate(8) SOCKET MODE: a network socket speaks TLS unless the
	 * operator says otherwise, explicitly. */
	if (c->tls != TLS_OFF && (dgram || c->tls_cert == NULL)) {
		fed_err_set(err, "%s: socket mode without TLS: %s",
		    conf_name(c, "no fed.conf (built-in defaults)"), dgram ?
		    "UDP cannot carry TLS; set tls = off to serve it" :
		    "set tls_cert, tls_key and tls_ca, or tls = off "
		    "to relay plain TCP");
		return FED_EXIT_USAGE;
	}
	if (c->tls != TLS_OFF && tls_srv_open(&s->tls, c, err) != 0)
		return FED_EXIT_USAGE;
	/* The listener's workers share one context: every CA is decoded
	 * once, here, not in each of them. */
	if (in == SERVE_LISTENER && s->tls != NULL &&
	    tls_srv_check(s->tls, err) != 0)
		return FED_EXIT_USAGE;
	/*
	 * fedkit(7) SECURITY: the TLS key was all that needed root.  As
	 * `user` from here on: the handshake, and every file fedgate opens
	 * or creates (log, lists, state, watch list), which are thus the
	 * user's own.  The listener too: it never holds root while it
	 * serves.
	 */
	if (sandbox_drop_user(c->user, NULL, NULL, err) < 0)
		return FED_EXIT_SYS;
	conf_watch_init(&s->cw, c, fed_now_ms());
	return FED_EXIT_OK;
}

void
serve_close(struct serve *s)
{
	tls_srv_close(s->tls);
	s->tls = NULL;
}

/*
 * The connection's identity: the address getpeername gives (what inetd,
 * systemd and tcpserver all hand us), else tcpserver's variables.
 */
static void
socket_peer(int fd, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	const char *proto, *ip, *port;
	char var[64];

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    proxy_addr_format(&ss, buf, cap) == 0)
		return;
	if ((proto = getenv("PROTO")) != NULL && strlen(proto) < 16) {
		snprintf(var, sizeof var, "%sREMOTEIP", proto);
		ip = getenv(var);
		snprintf(var, sizeof var, "%sREMOTEPORT", proto);
		port = getenv(var);
		if (ip != NULL && port != NULL && strlen(ip) < 64 &&
		    strlen(port) < 8) {
			snprintf(buf, cap, strchr(ip, ':') ? "[%s]:%s" :
			    "%s:%s", ip, port);
			return;
		}
	}
	snprintf(buf, cap, "-");
}

/*
 * The peer of a stream connection: its address, unless a listed load
 * balancer sends the partner's own first, in the clear, before TLS
 * (fedgate(8) Behind a load balancer).  -1 (said) when the balancer's
 * header is bad.
 */
static int
stream_peer(const struct conf *c, int in, char *peer, size_t cap)
{
	struct sockaddr_storage from, partner;
	socklen_t fl = sizeof from;
	struct fed_err err;

	socket_peer(in, peer, cap);
	if (!c->proxy_protocol || getpeername(in, (struct sockaddr *)&from,
	    &fl) != 0 || !conf_proxy_trusted(c, &from))
		return 0;
	if (proxy_header_read(in, c->message_timeout * 1000, &partner,
	    &err) != 0) {
		fed_warnx("%s: %s", peer, err.msg);
		return -1;
	}
	/* A header naming no partner (the balancer's health check) leaves
	 * the balancer as the peer. */
	(void)proxy_addr_format(&partner, peer, cap);
	return 0;
}

/*
 * TLS: the peer is who its certificate says (RFC 5922), verified before
 * a byte of SIP is read: peer becomes its first name, names[] the others.
 * -1 (said) when the handshake fails.
 */
static int
tls_peer(struct serve *s, int in, char *peer, size_t cap, struct tls_peer *tp,
    const char **names, struct gate_opts *o)
{
	struct fed_err err;
	unsigned i;

	if (tls_srv_accept(s->tls, in, s->c->message_timeout * 1000, tp,
	    &err) != 0) {
		tls_srv_end(s->tls);
		fed_warnx("%s: %s", peer, err.msg);
		return -1;
	}
	snprintf(peer, cap, "%s", tp->name[0]);
	for (i = 1; i < tp->n; i++)
		names[i - 1] = tp->name[i];
	o->peer_names = names;
	o->npeer_names = tp->n - 1;
	o->tls = 1;
	return 0;
}

/* The gate's part of a connection, its peer known: open the log and the
 * gate, relay, close.  *fatal as serve_connection's. */
static int
serve_relay(struct serve *s, int in, int out, struct gate_opts *o, char *peer,
    size_t peercap, const char *upstream, int *fatal)
{
	const struct conf *c = s->c;
	struct relay_opts ro;
	struct fed_err err;
	struct gate *g;
	int rc;

	/* The log is opened per connection: a rotated log is left at once. */
	if ((o->log_fd = vlog_open(c->verdict_log)) < 0) {
		fed_diag(LOG_ERR, "%s: %s", c->verdict_log, strerror(errno));
		*fatal = 1;
		return FED_EXIT_SYS;
	}
	if (gate_open(&g, c, o, &err) != 0) {
		fed_diag(LOG_ERR, "%s", err.msg);
		close(o->log_fd);
		*fatal = 1;
		return FED_EXIT_SYS;
	}
	/* Confined from the first SIP byte on (fedkit(7) SECURITY), once: a
	 * worker's next connection needs nothing the filter forbids. */
	if (c->seccomp && !s->confined) {
		if (sandbox_confine(&err) != 0) {
			fed_diag(LOG_ERR, "%s", err.msg);
			(void)gate_close(g, &err);
			close(o->log_fd);
			*fatal = 1;
			return FED_EXIT_SYS;
		}
		s->confined = 1;
	}
	s->cw.g = g;
	s->cw.log_fd = o->log_fd;
	ro = (struct relay_opts){
		.in_fd = in,
		.out_fd = out,
		.upstream = upstream,
		.peer = o->peer,
		.tls = s->tls,
		.tick = conf_watch_tick,
		.tick_arg = &s->cw,
	};
	if (s->in == SERVE_DGRAM)
		rc = relay_datagrams(g, c, &ro, peer, peercap, &err);
	else
		rc = relay_stream(g, c, &ro, &err);
	if (rc != FED_EXIT_OK)
		fed_warnx("%s: %s", o->peer, err.msg);
	tls_srv_end(s->tls);
	s->cw.g = NULL;
	s->cw.log_fd = -1;
	if (gate_close(g, &err) != 0) {
		fed_warnx("%s", err.msg);
		if (rc == FED_EXIT_OK)
			rc = FED_EXIT_SYS;
	}
	close(o->log_fd);
	return rc;
}

/*
 * One connection (read from `in`, written to `out`: fds 0 and 1 under
 * inetd, one descriptor in a listener's worker), from the peer's name on:
 * what fedgate run by inetd (nowait) or systemd (Accept=yes) does, and
 * what a worker of the listener does for each connection it is given
 * (fedgate(8) Listener mode).  Runs as `user` already.  Returns the
 * connection's exit status; *fatal is set when what failed would fail
 * every connection (the log, the state, the sandbox).
 */
static int
serve_connection(struct serve *s, int in, int out, int *fatal)
{
	struct conf *c = s->c;
	struct gate_opts o = s->o;
	const char *names[TLS_NAMES_MAX];
	const char *upstream;
	char peer[TLS_NAME_MAX];
	struct tls_peer tpeer;
	int64_t now = fed_now_ms();

	*fatal = 0;
	if (s->in == SERVE_DGRAM)
		snprintf(peer, sizeof peer, "-");
	else if (stream_peer(c, in, peer, sizeof peer) != 0)
		return FED_EXIT_USAGE;
	o.peer = peer;
	/* A worker's fed.conf may have changed since its last connection:
	 * each starts with the file as it is now. */
	s->cw.checked_ms = now - 1000;
	conf_watch_check(&s->cw, NULL, now);
	if ((upstream = s->upstream) == NULL && (upstream = c->upstream) ==
	    NULL) {
		fed_diag(LOG_ERR, "socket mode needs our internal server: -u "
		    "host:port or upstream = in %s", conf_name(c, "fed.conf"));
		*fatal = 1;
		return FED_EXIT_USAGE;
	}
	if (s->tls != NULL && tls_peer(s, in, peer, sizeof peer, &tpeer, names,
	    &o) != 0)
		return FED_EXIT_USAGE;
	return serve_relay(s, in, out, &o, peer, sizeof peer, upstream, fatal);
}

/* A listener's worker: one connection on one descriptor; the worker ends
 * when no connection can be served any more. */
static int
serve_worker(void *arg, int conn)
{
	int fatal, rc;

	rc = serve_connection(arg, conn, conn, &fatal);
	return fatal ? rc : 0;
}

/* The listener's per-source limit does not count a load balancer's
 * connections: each carries a partner of its own (fedgate(8) Behind a
 * load balancer). */
static int
from_balancer(void *arg, const struct sockaddr_storage *ss)
{
	struct serve *s = arg;

	return conf_proxy_trusted(s->c, ss);
}

/* The files the listener's TLS context was built from: a change needs a
 * restart (the context is not rebuilt while children share it). */
#define TLS_FILES 4
struct tls_files {
	int tls;
	char *path[TLS_FILES];
	struct fed_ident id[TLS_FILES];
};

static void
tls_files_of(const struct conf *c, struct tls_files *f)
{
	const char *p[TLS_FILES] = { c->tls_cert, c->tls_key, c->tls_ca,
	    c->tls_crl };
	struct stat st;
	unsigned i;

	f->tls = c->tls;
	for (i = 0; i < TLS_FILES; i++) {
		f->path[i] = p[i] != NULL ? strdup(p[i]) : NULL;
		memset(&f->id[i], 0, sizeof f->id[i]);
		if (p[i] != NULL && stat(p[i], &st) == 0)
			fed_ident_of(&f->id[i], &st);
	}
}

static void
tls_files_free(struct tls_files *f)
{
	unsigned i;

	for (i = 0; i < TLS_FILES; i++)
		free(f->path[i]);
}

static int
tls_files_same(const struct tls_files *a, const struct tls_files *b)
{
	unsigned i;

	if (a->tls != b->tls)
		return 0;
	for (i = 0; i < TLS_FILES; i++) {
		if ((a->path[i] == NULL) != (b->path[i] == NULL) ||
		    (a->path[i] != NULL && strcmp(a->path[i], b->path[i]) != 0))
			return 0;
		if (!fed_ident_same(&a->id[i], &b->id[i]))
			return 0;
	}
	return 1;
}

struct listen_tick {
	struct conf_watch *cw;		/* the workers' own, as forked */
	struct listener *l;
	struct tls_files files;		/* as last seen */
};

/* Once a second in the listener: fed.conf's limits apply at once; a
 * changed TLS setting or file is said once, as it needs a restart. */
static void
listen_tick(void *arg, int64_t now)
{
	struct listen_tick *t = arg;
	struct conf *c = t->cw->c;
	struct tls_files f;

	conf_watch_check(t->cw, NULL, now);
	listener_set_limits(t->l, c->max_connections,
	    c->max_connections_per_source, c->connections_per_process);
	tls_files_of(c, &f);
	if (tls_files_same(&f, &t->files)) {
		tls_files_free(&f);
		return;
	}
	fed_warnx("listener: the TLS settings or files changed (tls, "
	    "tls_cert, tls_key, tls_ca, tls_crl): restart fedgate to use "
	    "them; connections go on with those it started with");
	tls_files_free(&t->files);
	t->files = f;
}

/*
 * fedgate(8) Listener mode: stdin is a listening socket.  The set-up is
 * done (and root given up) by serve_open; here the socket leaves fds 0
 * and 1, which each worker gets its connection on.
 */
static int
serve_listener(struct serve *s)
{
	struct listener l;
	struct listen_tick t;
	struct fed_err err;
	int fd, null;

	if ((fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)) < 0) {
		fed_diag(LOG_ERR, "stdin: %s", strerror(errno));
		return FED_EXIT_SYS;
	}
	/* Under inetd fd 2 is the listening socket too (diagnostics then go
	 * to syslog): no worker may hold it. */
	if ((null = open("/dev/null", O_RDWR)) < 0 ||
	    dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    (s->diag_syslog && dup2(null, STDERR_FILENO) < 0)) {
		fed_diag(LOG_ERR, "/dev/null: %s", strerror(errno));
		if (null > STDERR_FILENO)
			close(null);
		close(fd);
		return FED_EXIT_SYS;
	}
	if (null > STDERR_FILENO)
		close(null);
	memset(&l, 0, sizeof l);
	l.fd = fd;
	listener_set_limits(&l, s->c->max_connections,
	    s->c->max_connections_per_source, s->c->connections_per_process);
	l.serve = serve_worker;
	l.serve_arg = s;
	l.unlimited_source = from_balancer;
	l.unlimited_arg = s;
	memset(&t, 0, sizeof t);
	t.cw = &s->cw;
	t.l = &l;
	tls_files_of(s->c, &t.files);
	l.tick = listen_tick;
	l.tick_arg = &t;
	if (listener_run(&l, &err) != 0) {
		tls_files_free(&t.files);
		fed_diag(LOG_ERR, "%s", err.msg);
		return FED_EXIT_SYS;
	}
	tls_files_free(&t.files);
	return FED_EXIT_OK;
}

int
serve_run(struct serve *s)
{
	int fatal;

	if (s->in == SERVE_LISTENER)
		return serve_listener(s);
	return serve_connection(s, STDIN_FILENO, STDOUT_FILENO, &fatal);
}
