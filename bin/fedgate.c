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
#include "gate.h"
#include "relay.h"
#include "sip.h"
#include "vlog.h"

#define READ_CHUNK 65536

static _Noreturn void
usage(int code)
{
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

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Bytes to pass on, gathered per chunk of input so that the log lines
 * describing them are written first. */
struct outbuf {
	char *p;
	size_t n, cap;
};

static int
out_add(struct outbuf *o, const char *p, size_t n)
{
	char *np;
	size_t cap;

	if (o->n + n > o->cap) {
		cap = o->cap ? o->cap : READ_CHUNK;
		while (cap < o->n + n)
			cap *= 2;
		if ((np = realloc(o->p, cap)) == NULL)
			return -1;
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->n, p, n);
	o->n += n;
	return 0;
}

/*
 * fed.conf is re-read when it changes (checked at most once a second), so
 * an operator can change a rate or the methods without a restart.  A bad
 * edit, or one that moves a file, keeps the running configuration.
 */
struct conf_watch {
	struct conf *c;
	const char *arg;	/* -c, or NULL */
	struct fed_ident id;
	int64_t checked_ms;
};

static void
conf_recheck(struct conf_watch *w, struct gate *g, int64_t now)
{
	struct fed_err err;
	struct conf fresh;
	struct fed_ident id;
	struct stat st;

	if (w->c->path == NULL || now - w->checked_ms < 1000)
		return;
	w->checked_ms = now;
	if (stat(w->c->path, &st) != 0)
		return;
	fed_ident_of(&id, &st);
	if (fed_ident_same(&id, &w->id))
		return;
	w->id = id;
	if (conf_load(&fresh, w->c->path, &err) != 0) {
		fed_warnx("%s (keeping the running configuration)", err.msg);
		conf_free(&fresh);
		return;
	}
	if (fresh.local_domains.n == 0) {
		fed_warnx("%s: local_domains is not set (keeping the running "
		    "configuration)", w->c->path);
		conf_free(&fresh);
		return;
	}
	if (gate_conf_compatible(w->c, &fresh, &err) != 0) {
		fed_warnx("%s: %s (keeping the running configuration)",
		    w->c->path, err.msg);
		conf_free(&fresh);
		return;
	}
	/* The gate holds a pointer to *w->c: replace the contents. */
	conf_free(w->c);
	*w->c = fresh;
	gate_conf_changed(g);
}

struct pipe_run {
	struct gate *g;
	struct conf_watch *cw;
	const struct conf *c;
	int replies_fd;
	struct outbuf out;
	struct outbuf replies;
	struct sip_msg msg;
	struct gate_result res;
};

static void
flush_out(struct pipe_run *r)
{
	struct fed_err err;

	/* The log first (gate_log_flush commits the state batch before
	 * it): whatever the other outputs hold, a decision is kept and on
	 * record before its effects are. */
	if (gate_log_flush(r->g, &err) != 0)
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	if (r->replies.n > 0 && write_all(r->replies_fd, r->replies.p,
	    r->replies.n) != 0)
		fed_err(FED_EXIT_SYS, "replies");
	r->replies.n = 0;
	if (r->out.n > 0 && write_all(STDOUT_FILENO, r->out.p, r->out.n) != 0)
		fed_err(FED_EXIT_SYS, "stdout");
	r->out.n = 0;
}

/* A system error in the middle of a chunk: what was decided before it is
 * logged and passed on, then fedgate stops. */
static _Noreturn void
pipe_fail(struct pipe_run *r, const char *msg)
{
	char copy[sizeof ((struct fed_err *)0)->msg];

	snprintf(copy, sizeof copy, "%s", msg);
	flush_out(r);
	fed_errx(FED_EXIT_SYS, "%s", copy);
}

/* Decide every whole message at the start of buf; returns bytes used, or
 * -1 after an unframeable stream has been logged. */
static long
pipe_chunk(struct pipe_run *r, const char *buf, size_t len, size_t *scanned,
    size_t consumed, int64_t now)
{
	struct sip_error se;
	struct fed_err err;
	size_t off = 0, used;
	enum sip_frame_result fr;

	for (;;) {
		used = 0;
		fr = sip_frame(buf + off, len - off, &r->c->limits, scanned,
		    &used, &r->msg, &se);
		switch (fr) {
		case SIP_FRAME_MORE:
			return (long)off;
		case SIP_FRAME_KEEPALIVE:
			if (out_add(&r->out, buf + off, used) != 0)
				pipe_fail(r, "output buffer: out of memory");
			break;
		case SIP_FRAME_MESSAGE:
		case SIP_FRAME_MALFORMED:
			if (gate_message(r->g, &r->msg,
			    fr == SIP_FRAME_MALFORMED ? &se : NULL, now, &r->res,
			    &err) != 0)
				pipe_fail(r, err.msg);
			if ((r->res.d.verdict == VERDICT_ACCEPT ||
			    r->res.d.verdict == VERDICT_OBSERVE) &&
			    out_add(&r->out, buf + off, used) != 0)
				pipe_fail(r, "output buffer: out of memory");
			if (r->res.reply_len > 0 && r->replies_fd >= 0 &&
			    out_add(&r->replies, r->res.reply,
			    r->res.reply_len) != 0)
				pipe_fail(r, "replies buffer: out of memory");
			break;
		case SIP_FRAME_ERROR:
			if (gate_unframeable(r->g, &se, now, &err) != 0)
				pipe_fail(r, err.msg);
			flush_out(r);
			fed_warnx("stdin: byte %zu: %s; the rest of the stream "
			    "cannot be read", consumed + off, se.reason);
			return -1;
		}
		off += used;
	}
}

static int
run_pipe(struct gate *g, struct conf_watch *cw, int replies_fd)
{
	const struct conf *c = cw->c;
	struct pipe_run *r;
	struct fed_err err;
	size_t cap, len = 0, scanned = 0, consumed = 0;
	char *buf;
	ssize_t n;
	long used;
	int64_t now;
	int eof = 0, rc = FED_EXIT_OK;

	/* Room for one whole message of the largest size plus a read. */
	cap = c->limits.max_message + READ_CHUNK;
	if ((buf = malloc(cap)) == NULL || (r = calloc(1, sizeof *r)) == NULL)
		fed_err(FED_EXIT_SYS, "memory");
	r->g = g;
	r->cw = cw;
	r->c = c;
	r->replies_fd = replies_fd;
	gate_log_buffer(g, 1);
	if (gate_batch(g, 1, &err) != 0)
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	while (!eof) {
		if (len == cap)		/* the framer refuses long before */
			fed_errx(FED_EXIT_SYS, "stdin: internal error: buffer full");
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fed_err(FED_EXIT_SYS, "stdin");
		}
		if (n == 0)
			eof = 1;
		len += (size_t)n;
		now = gate_now_ms();
		conf_recheck(r->cw, g, now);
		if (gate_tick(g, now, &err) != 0)
			fed_errx(FED_EXIT_SYS, "%s", err.msg);
		used = pipe_chunk(r, buf, len, &scanned, consumed, now);
		if (used < 0) {
			rc = FED_EXIT_USAGE;
			break;
		}
		flush_out(r);
		if (used > 0) {
			memmove(buf, buf + used, len - (size_t)used);
			len -= (size_t)used;
			consumed += (size_t)used;
			scanned = 0;
		}
		/* A lone CRLF keep-alive ends many captures: the framer
		 * waits for a second one that never comes. */
		if (eof && ((len == 2 && memcmp(buf, "\r\n", 2) == 0) ||
		    (len == 1 && buf[0] == '\n'))) {
			if (write_all(STDOUT_FILENO, buf, len) != 0)
				fed_err(FED_EXIT_SYS, "stdout");
			len = 0;
		}
		if (eof && len > 0) {
			struct sip_error se = { "message cut short at end of "
			    "input", 400 };

			if (gate_unframeable(g, &se, now, &err) != 0 ||
			    gate_log_flush(g, &err) != 0)
				fed_errx(FED_EXIT_SYS, "%s", err.msg);
			fed_warnx("stdin: byte %zu: %s", consumed, se.reason);
			rc = FED_EXIT_USAGE;
			break;
		}
	}
	free(r->out.p);
	free(r->replies.p);
	free(r);
	free(buf);
	return rc;
}

/* fed.conf is checked again from the relay loop, about once a second. */
static struct gate *tick_gate;

static void
socket_tick(void *arg, int64_t now)
{
	conf_recheck(arg, tick_gate, now);
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
 * SPEC 2: in socket mode no diagnostic may reach the connection, and
 * under inetd fd 2 is the connection too.  Diagnostics go to syslog when
 * fd 2 is the socket (or closed); a separate stderr (systemd's journal,
 * a terminal, a test's file) keeps them.
 */
static void
socket_diagnostics(void)
{
	struct stat s0, s2;

	if (fstat(STDERR_FILENO, &s2) != 0 || (fstat(STDIN_FILENO, &s0) == 0 &&
	    s0.st_dev == s2.st_dev && s0.st_ino == s2.st_ino))
		fed_use_syslog();
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
	struct gate_opts o = { NULL, 0, 0, -1, 0, NULL, 0 };
	struct conf_watch cw;
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

		socket_diagnostics();
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
	if ((o.log_fd = vlog_open(c.verdict_log)) < 0)
		fed_err(FED_EXIT_SYS, "%s", c.verdict_log);
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
		if (c.tls != TLS_OFF) {
			/* The peer is who its certificate says (RFC 5922),
			 * verified before a byte of SIP is read. */
			if (tls_srv_open(&tls, &c, &err) != 0)
				fed_errx(FED_EXIT_USAGE, "%s", err.msg);
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
	cw.c = &c;
	cw.arg = conf_path;
	cw.checked_ms = gate_now_ms();
	memset(&cw.id, 0, sizeof cw.id);
	if (c.path != NULL && stat(c.path, &st) == 0)
		fed_ident_of(&cw.id, &st);
	if (sock) {
		struct relay_opts ro;

		memset(&ro, 0, sizeof ro);
		ro.in_fd = STDIN_FILENO;
		ro.out_fd = STDOUT_FILENO;
		ro.upstream = upstream;
		ro.peer = o.peer;
		ro.tls = tls;
		ro.tick = socket_tick;
		ro.tick_arg = &cw;
		tick_gate = g;
		if (dgram)
			rc = relay_datagrams(g, &c, &ro, peer, sizeof peer,
			    &err);
		else
			rc = relay_stream(g, &c, &ro, &err);
		if (rc != FED_EXIT_OK)
			fed_warnx("%s: %s", o.peer, err.msg);
	} else
		rc = run_pipe(g, &cw, replies_fd);
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
