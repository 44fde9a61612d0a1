/* fedgate.c: the SIP federation filter: options, pipe mode, socket mode. */
#include <sys/socket.h>
#include <sys/stat.h>

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
#include "pipe.h"
#include "relay.h"
#include "sandbox.h"
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
	    "  -c file       configuration (default $FEDKIT_CONF, "
	    CONF_DEFAULT_PATH ")\n"
	    "  -n            dry run: decide and log, change no state\n"
	    "  -p, --peer name\n"
	    "                the connection's identity (pipe mode)\n"
	    "  -r, --replies file\n"
	    "                write the responses fedgate builds to file (pipe mode)\n"
	    "  -u host:port  our internal SIP server (socket mode)\n"
	    "  -h            this help;  -V  version\n");
	exit(code);
}

/* fed.conf is checked again from the loops, about once a second. */
static struct gate *tick_gate;

static void
conf_tick(void *arg, int64_t now)
{
	conf_watch_check(arg, tick_gate, now);
}

/*
 * The connection's identity: the address getpeername gives (what inetd,
 * systemd and tcpserver all hand us), else tcpserver's variables.
 */
static void
socket_peer(char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char a[INET6_ADDRSTRLEN];
	const char *proto, *ip, *port;
	char var[64];

	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
			snprintf(buf, cap, "%s:%u", a, ntohs(in->sin_port));
			return;
		}
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a);
			snprintf(buf, cap, "[%s]:%u", a, ntohs(in6->sin6_port));
			return;
		}
	}
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

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "peer", required_argument, NULL, 'p' },
		{ "replies", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf_path = NULL, *replies = NULL, *upstream = NULL;
	struct gate_opts o = { .log_fd = -1 };
	struct conf_watch cw;
	struct pipe_opts po;
	struct fed_err err;
	struct conf c;
	struct gate *g;
	struct stat st;
	char peer[TLS_NAME_MAX];
	struct tls_srv *tls = NULL;
	struct tls_peer tpeer;
	const char *names[TLS_NAMES_MAX];
	unsigned i;
	int ch, rc, replies_fd = -1, sock = 0, dgram = 0;

	fed_progname = "fedgate";
	/* Before anything can complain, even about the options. */
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISSOCK(st.st_mode))
		socket_diagnostics();
	if (diag_syslog)
		opterr = 0;	/* getopt would print on the connection */
	while ((ch = getopt_long(argc, argv, "c:hnp:r:u:V", longopts,
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
		if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &type,
		    &tl) == 0 && type)
			fed_errx(FED_EXIT_USAGE, "stdin is a listening socket: "
			    "run one fedgate per connection (inetd nowait, "
			    "systemd Accept=yes)");
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
	if (replies != NULL && (replies_fd = open(replies,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		fed_err(FED_EXIT_SYS, "%s", replies);
	o.replies = replies_fd >= 0 || sock;
	if (sock) {
		if (upstream == NULL)
			upstream = c.upstream;
		if (upstream == NULL)
			fed_errx(FED_EXIT_USAGE, "socket mode needs our internal "
			    "server: -u host:port or upstream = in %s",
			    c.path != NULL ? c.path : "fed.conf");
		/* SPEC 1.4: a network socket speaks TLS unless the operator
		 * says otherwise, explicitly. */
		if (dgram)
			snprintf(peer, sizeof peer, "-");
		else
			socket_peer(peer, sizeof peer);
		o.peer = peer;
		if (c.tls != TLS_OFF && (dgram || c.tls_cert == NULL))
			fed_errx(FED_EXIT_USAGE, "%s: socket mode without TLS: "
			    "%s", c.path != NULL ? c.path :
			    "no fed.conf (built-in defaults)", dgram ?
			    "UDP cannot carry TLS; set tls = off to serve it" :
			    "set tls_cert, tls_key and tls_ca, or tls = off "
			    "to relay plain TCP");
		if (c.tls != TLS_OFF && tls_srv_open(&tls, &c, &err) != 0)
			fed_errx(FED_EXIT_USAGE, "%s", err.msg);
		/*
		 * fedkit(7) SECURITY: the TLS key was all that needed root.
		 * As `user` from here on: the handshake, and every file
		 * fedgate opens or creates (log, lists, state, watch list),
		 * which are thus the user's own.
		 */
		if (sandbox_drop_user(c.user, NULL, NULL, &err) < 0)
			fed_errx(FED_EXIT_SYS, "%s", err.msg);
	}
	if ((o.log_fd = vlog_open(c.verdict_log)) < 0)
		fed_err(FED_EXIT_SYS, "%s", c.verdict_log);
	if (sock) {
		if (tls != NULL) {
			/* The peer is who its certificate says (RFC 5922),
			 * verified before a byte of SIP is read. */
			if (tls_srv_accept(tls, STDIN_FILENO,
			    c.message_timeout * 1000, &tpeer, &err) != 0)
				fed_errx(FED_EXIT_USAGE, "%s: %s", peer,
				    err.msg);
			snprintf(peer, sizeof peer, "%s", tpeer.name[0]);
			for (i = 1; i < tpeer.n; i++)
				names[i - 1] = tpeer.name[i];
			o.peer_names = names;
			o.npeer_names = tpeer.n - 1;
			o.tls = 1;
		}
	}
	if (gate_open(&g, &c, &o, &err) != 0)
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	conf_watch_init(&cw, &c, fed_now_ms());
	tick_gate = g;
	/* Confined from the first SIP byte on (fedkit(7) SECURITY). */
	if (sock && c.seccomp && sandbox_confine(&err) != 0)
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	if (sock) {
		struct relay_opts ro;

		memset(&ro, 0, sizeof ro);
		ro.in_fd = STDIN_FILENO;
		ro.out_fd = STDOUT_FILENO;
		ro.upstream = upstream;
		ro.peer = o.peer;
		ro.tls = tls;
		ro.tick = conf_tick;
		ro.tick_arg = &cw;
		if (dgram)
			rc = relay_datagrams(g, &c, &ro, peer, sizeof peer,
			    &err);
		else
			rc = relay_stream(g, &c, &ro, &err);
		if (rc != FED_EXIT_OK)
			fed_warnx("%s: %s", o.peer, err.msg);
	} else {
		memset(&po, 0, sizeof po);
		po.in_fd = STDIN_FILENO;
		po.out_fd = STDOUT_FILENO;
		po.replies_fd = replies_fd;
		po.in_name = "stdin";
		po.tick = conf_tick;
		po.tick_arg = &cw;
		if ((rc = pipe_run(g, &c, &po, &err)) != FED_EXIT_OK)
			fed_warnx("%s", err.msg);
	}
	tls_srv_close(tls);
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
