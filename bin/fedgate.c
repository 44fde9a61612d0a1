/* fedgate.c: the SIP federation filter: options, pipe mode, socket mode. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fed.h"
#include "confwatch.h"
#include "gate.h"
#include "listener.h"
#include "pipe.h"
#include "proxyproto.h"
#include "relay.h"
#include "sandbox.h"
#include "selfcheck.h"
#include "sip.h"
#include "vlog.h"

/* Diagnostics go to syslog: stderr is the partner's connection. */
static int diag_syslog;

static _Noreturn void
usage(int code)
{
	if (code != 0 && diag_syslog)
		fed_errx(code, "usage: bad options or arguments (fedgate -h)");
	fprintf(code == 0 ? stdout : stderr,
	    "usage: fedgate [-hnV] [-c file] [-p name] [-r file] [-u host:port]\n"
	    "       fedgate -t [-c file] [-u host:port]\n"
	    "  -c file       configuration (default $FEDKIT_CONF, "
	    CONF_DEFAULT_PATH ")\n"
	    "  -n            dry run: decide and log, change no state\n"
	    "  -p, --peer name\n"
	    "                the connection's identity (pipe mode)\n"
	    "  -r, --replies file\n"
	    "                write the responses fedgate builds to file (pipe mode)\n"
	    "  -t            check fed.conf, the lists, TLS and the upstream, then exit\n"
	    "  -u host:port  our internal SIP server (socket mode)\n"
	    "  -h            this help\n"
	    "  -V, --version the version\n");
	exit(code);
}

/* fedgate -t: each finding on stderr as it comes (fedgate(8)). */
static void
check_tell(void *arg, enum selfcheck_kind kind, const char *msg)
{
	(void)arg;
	if (kind == SELFCHECK_WARNING)
		fed_warnx("warning: %s", msg);
	else
		fed_warnx("%s", msg);
}

static int
check_config(const char *conf_path, const char *upstream)
{
	struct selfcheck_opts so = { conf_path, upstream, check_tell, NULL };
	struct selfcheck_result r;

	if (selfcheck_run(&so, &r) > 0) {
		fed_warnx("%s: configuration test failed: %u problem%s",
		    r.conf, r.problems, r.problems == 1 ? "" : "s");
		return FED_EXIT_USAGE;
	}
	if (r.warnings > 0)
		fed_warnx("%s: configuration OK, %u warning%s", r.conf,
		    r.warnings, r.warnings == 1 ? "" : "s");
	else
		fed_warnx("%s: configuration OK", r.conf);
	return FED_EXIT_OK;
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
 * fedkit(7) DIAGNOSTICS: in socket mode no diagnostic may reach the
 * connection, and under inetd fd 2 is the connection too.  Diagnostics go
 * to syslog when fd 2 is the socket (or closed); a separate stderr
 * (systemd's journal, a terminal, a test's file) keeps them.  A closed
 * fd 2 is filled with /dev/null first, so no file fedgate opens later
 * (the verdict log) can become fd 2.
 */
static void
socket_diagnostics(void)
{
	struct stat s0, s2;
	int fd;

	if (fstat(STDERR_FILENO, &s2) != 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0 &&
		    fd != STDERR_FILENO) {
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
	} else if (fstat(STDIN_FILENO, &s0) != 0 || s0.st_dev != s2.st_dev ||
	    s0.st_ino != s2.st_ino)
		return;
	fed_diag_syslog_open();
	fed_diag_set(fed_diag_syslog);
	diag_syslog = 1;
}

/* What every connection of socket mode needs, set up once. */
struct sock_setup {
	struct conf *c;
	struct gate_opts o;		/* the options, peer not yet known */
	struct tls_srv *tls;		/* NULL: plain TCP or UDP */
	const char *upstream;		/* -u, else NULL: fed.conf's */
	int dgram;
	struct conf_watch cw;		/* follows fed.conf from the start */
	int confined;			/* the seccomp filter is in */
};

/*
 * One connection (read from `in`, written to `out`: fds 0 and 1 under
 * inetd, one descriptor in a listener's worker), from the peer's name on:
 * what fedgate run by inetd (nowait) or systemd (Accept=yes) does, and
 * what a worker of the listener does for each connection it is given
 * (fedgate(8) Listener mode).  Runs as `user` already.  A connection that
 * fails (its handshake, our server) is said and its status returned; what
 * would fail every connection (the log, the state) ends the process.
 */
static int
serve_connection(struct sock_setup *s, int in, int out)
{
	struct conf *c = s->c;
	struct gate_opts o = s->o;
	const char *names[TLS_NAMES_MAX];
	const char *upstream;
	char peer[TLS_NAME_MAX];
	struct tls_peer tpeer;
	struct relay_opts ro;
	struct fed_err err;
	struct gate *g;
	int64_t now = fed_now_ms();
	unsigned i;
	int rc;

	if (s->dgram)
		snprintf(peer, sizeof peer, "-");
	else
		socket_peer(in, peer, sizeof peer);
	o.peer = peer;
	/* Behind a load balancer the partner's own address comes first, in
	 * the clear, before TLS (fedkit(7) POOL); only a listed balancer is
	 * believed. */
	if (!s->dgram && c->proxy_protocol) {
		struct sockaddr_storage from, partner;
		socklen_t fl = sizeof from;

		if (getpeername(in, (struct sockaddr *)&from, &fl) == 0 &&
		    conf_proxy_trusted(c, &from)) {
			if (proxy_header_read(in, c->message_timeout * 1000,
			    &partner, &err) != 0) {
				fed_warnx("%s: %s", peer, err.msg);
				return FED_EXIT_USAGE;
			}
			/* A header naming no partner (the balancer's
			 * health check) leaves the balancer as the peer. */
			(void)proxy_addr_format(&partner, peer, sizeof peer);
		}
	}
	/* A worker's fed.conf may have changed since its last connection:
	 * each starts with the file as it is now. */
	s->cw.checked_ms = now - 1000;
	conf_watch_check(&s->cw, NULL, now);
	if ((upstream = s->upstream) == NULL && (upstream = c->upstream) == NULL)
		fed_errx(FED_EXIT_USAGE, "socket mode needs our internal "
		    "server: -u host:port or upstream = in %s",
		    c->path != NULL ? c->path : "fed.conf");
	if (s->tls != NULL) {
		/* The peer is who its certificate says (RFC 5922), verified
		 * before a byte of SIP is read. */
		if (tls_srv_accept(s->tls, in, c->message_timeout * 1000,
		    &tpeer, &err) != 0) {
			tls_srv_end(s->tls);
			fed_warnx("%s: %s", peer, err.msg);
			return FED_EXIT_USAGE;
		}
		snprintf(peer, sizeof peer, "%s", tpeer.name[0]);
		for (i = 1; i < tpeer.n; i++)
			names[i - 1] = tpeer.name[i];
		o.peer_names = names;
		o.npeer_names = tpeer.n - 1;
		o.tls = 1;
	}
	/* The log is opened per connection: a rotated log is left at once. */
	if ((o.log_fd = vlog_open(c->verdict_log)) < 0)
		fed_err(FED_EXIT_SYS, "%s", c->verdict_log);
	if (gate_open(&g, c, &o, &err) != 0)
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	s->cw.g = g;
	s->cw.log_fd = o.log_fd;
	/* Confined from the first SIP byte on (fedkit(7) SECURITY), once:
	 * a worker's next connection needs nothing the filter forbids. */
	if (c->seccomp && !s->confined) {
		if (sandbox_confine(&err) != 0)
			fed_errx(FED_EXIT_SYS, "%s", err.msg);
		s->confined = 1;
	}
	memset(&ro, 0, sizeof ro);
	ro.in_fd = in;
	ro.out_fd = out;
	ro.upstream = upstream;
	ro.peer = o.peer;
	ro.tls = s->tls;
	ro.tick = conf_watch_tick;
	ro.tick_arg = &s->cw;
	if (s->dgram)
		rc = relay_datagrams(g, c, &ro, peer, sizeof peer, &err);
	else
		rc = relay_stream(g, c, &ro, &err);
	if (rc != FED_EXIT_OK)
		fed_warnx("%s: %s", o.peer, err.msg);
	tls_srv_end(s->tls);
	s->cw.g = NULL;
	s->cw.log_fd = -1;
	if (gate_close(g, &err) != 0) {
		fed_warnx("%s", err.msg);
		if (rc == FED_EXIT_OK)
			rc = FED_EXIT_SYS;
	}
	close(o.log_fd);
	return rc;
}

/* The listener's per-source limit does not count a load balancer's
 * connections: each carries a partner of its own (fedkit(7) POOL). */
static int
from_balancer(void *arg, const struct sockaddr_storage *ss)
{
	struct sock_setup *s = arg;

	return conf_proxy_trusted(s->c, ss);
}

/* A listener's worker: one connection on one descriptor. */
static void
serve_worker(void *arg, int conn)
{
	(void)serve_connection(arg, conn, conn);
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
 * done (and root given up) by the caller; here the socket leaves fds 0
 * and 1, which each child gets its connection on.
 */
static int
run_listener(struct sock_setup *s)
{
	struct listener l;
	struct listen_tick t;
	struct fed_err err;
	int fd, null;

	if ((fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)) < 0)
		fed_err(FED_EXIT_SYS, "stdin");
	if ((null = open("/dev/null", O_RDWR)) < 0)
		fed_err(FED_EXIT_SYS, "/dev/null");
	/* Under inetd fd 2 is the listening socket too (diagnostics then go
	 * to syslog): no child may hold it. */
	if (dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    (diag_syslog && dup2(null, STDERR_FILENO) < 0))
		fed_err(FED_EXIT_SYS, "/dev/null");
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
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	}
	tls_files_free(&t.files);
	return FED_EXIT_OK;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "peer", required_argument, NULL, 'p' },
		{ "replies", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf_path = NULL, *replies = NULL, *upstream = NULL;
	struct gate_opts o = { .log_fd = -1 };
	struct sock_setup ss;
	struct conf_watch cw;
	struct pipe_opts po;
	struct fed_err err;
	struct conf c;
	struct gate *g;
	struct stat st;
	struct tls_srv *tls = NULL;
	int ch, rc, replies_fd = -1, sock = 0, dgram = 0, listening = 0;
	int check = 0;

	fed_progname = "fedgate";
	/* Before anything can complain, even about the options. */
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISSOCK(st.st_mode))
		socket_diagnostics();
	if (diag_syslog)
		opterr = 0;	/* getopt would print on the connection */
	while ((ch = getopt_long(argc, argv, "c:hnp:r:tu:V", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case 'p':
			o.peer = optarg;
			break;
		case 'r':
			replies = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'u':
			upstream = optarg;
			break;
		case 'V':
			printf("fedgate %s\n", FEDKIT_VERSION);
			return FED_EXIT_OK;
		case 'h':
			usage(FED_EXIT_OK);
		default:
			usage(FED_EXIT_USAGE);
		}
	}
	if (optind != argc)
		usage(FED_EXIT_USAGE);
	if (check) {
		if (o.dry_run || o.peer != NULL || replies != NULL)
			usage(FED_EXIT_USAGE);
		return check_config(conf_path, upstream);
	}
	if (o.peer != NULL && (o.peer[0] == '\0' || strlen(o.peer) >= 256))
		fed_errx(FED_EXIT_USAGE, "--peer: a name of 1 to 255 bytes");

	if (fstat(STDIN_FILENO, &st) != 0)
		fed_err(FED_EXIT_SYS, "stdin");
	if (S_ISSOCK(st.st_mode)) {
		int type = 0;
		socklen_t tl = sizeof type;

		if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_TYPE, &type,
		    &tl) != 0)
			fed_err(FED_EXIT_SYS, "stdin");
		if (type == SOCK_DGRAM)
			dgram = 1;
		else if (type != SOCK_STREAM)
			fed_errx(FED_EXIT_USAGE, "stdin: a socket that is "
			    "neither TCP nor UDP");
		tl = sizeof type;
		/* inetd wait, systemd Accept=no: fedgate(8) Listener mode. */
		if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &type,
		    &tl) == 0 && type)
			listening = 1;
		if (o.peer != NULL || replies != NULL || o.dry_run)
			fed_errx(FED_EXIT_USAGE, "--peer, --replies and -n are "
			    "for pipe mode (stdin is a socket)");
		sock = 1;
		o.bound_refusals = 1;
	}

	if (conf_load(&c, conf_path, &err) != 0) {
		conf_free(&c);
		fed_errx(FED_EXIT_USAGE, "%s", err.msg);
	}
	if (c.local_domains.n == 0)
		fed_errx(FED_EXIT_USAGE, "%s: local_domains is not set: fedgate "
		    "needs our own SIP domains to tell partners from us",
		    c.path != NULL ? c.path : "no fed.conf (built-in defaults)");
	/* A closed reader must not kill us in the middle of a log write. */
	signal(SIGPIPE, SIG_IGN);
	if (sock) {
		if (upstream == NULL && c.upstream == NULL)
			fed_errx(FED_EXIT_USAGE, "socket mode needs our internal "
			    "server: -u host:port or upstream = in %s",
			    c.path != NULL ? c.path : "fed.conf");
		/* SPEC 1.4: a network socket speaks TLS unless the operator
		 * says otherwise, explicitly. */
		if (c.tls != TLS_OFF && (dgram || c.tls_cert == NULL))
			fed_errx(FED_EXIT_USAGE, "%s: socket mode without TLS: "
			    "%s", c.path != NULL ? c.path :
			    "no fed.conf (built-in defaults)", dgram ?
			    "UDP cannot carry TLS; set tls = off to serve it" :
			    "set tls_cert, tls_key and tls_ca, or tls = off "
			    "to relay plain TCP");
		if (c.tls != TLS_OFF && tls_srv_open(&tls, &c, &err) != 0)
			fed_errx(FED_EXIT_USAGE, "%s", err.msg);
		/* The listener's children share one context: every CA is
		 * decoded once, here, not in each child. */
		if (listening && tls != NULL && tls_srv_check(tls, &err) != 0)
			fed_errx(FED_EXIT_USAGE, "%s", err.msg);
		/*
		 * fedkit(7) SECURITY: the TLS key was all that needed root.
		 * As `user` from here on: the handshake, and every file
		 * fedgate opens or creates (log, lists, state, watch list),
		 * which are thus the user's own.  The listener too: it
		 * never holds root while it serves.
		 */
		if (sandbox_drop_user(c.user, NULL, NULL, &err) < 0)
			fed_errx(FED_EXIT_SYS, "%s", err.msg);
		o.replies = 1;
		memset(&ss, 0, sizeof ss);
		ss.c = &c;
		ss.o = o;
		ss.tls = tls;
		ss.upstream = upstream;
		ss.dgram = dgram;
		conf_watch_init(&ss.cw, &c, fed_now_ms());
		rc = listening ? run_listener(&ss) :
		    serve_connection(&ss, STDIN_FILENO, STDOUT_FILENO);
		tls_srv_close(ss.tls);
		conf_free(&c);
		return rc;
	}

	if (replies != NULL && (replies_fd = open(replies,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		fed_err(FED_EXIT_SYS, "%s", replies);
	o.replies = replies_fd >= 0;
	if ((o.log_fd = vlog_open(c.verdict_log)) < 0)
		fed_err(FED_EXIT_SYS, "%s", c.verdict_log);
	if (gate_open(&g, &c, &o, &err) != 0)
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	conf_watch_init(&cw, &c, fed_now_ms());
	cw.g = g;
	cw.log_fd = o.log_fd;
	memset(&po, 0, sizeof po);
	po.in_fd = STDIN_FILENO;
	po.out_fd = STDOUT_FILENO;
	po.replies_fd = replies_fd;
	po.in_name = "stdin";
	po.tick = conf_watch_tick;
	po.tick_arg = &cw;
	if ((rc = pipe_run(g, &c, &po, &err)) != FED_EXIT_OK)
		fed_warnx("%s", err.msg);
	if (gate_close(g, &err) != 0) {
		fed_warnx("%s", err.msg);
		if (rc == FED_EXIT_OK)
			rc = FED_EXIT_SYS;
	}
	if (replies_fd >= 0 && close(replies_fd) != 0)
		fed_err(FED_EXIT_SYS, "%s", replies);
	close(o.log_fd);
	conf_free(&c);
	return rc;
}
