/* connflood: open many TCP connections at once, each sending one SIP request. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fed.h"

/*
 * The launcher tests need what sipp cannot give: a thousand connections
 * held open at the same time, from chosen source addresses (127.0.0.x,
 * all loopback), and bursts of connections that send nothing.  One
 * process, one poll loop, no threads; every wait is bounded by -t.
 */

#define MAX_CONNS	20000
#define MAX_MSGS	MAX_CONNS
#define RESP_MAX	8192	/* one response fits; more is a framing error here */

enum conn_state { C_IDLE, C_CONNECTING, C_SENDING, C_READING, C_ANSWERED, C_CLOSED, C_FAILED };

struct conn {
	int fd;
	enum conn_state state;
	const char *msg;	/* the request to send, msglen bytes */
	size_t msglen, sent;
	char resp[RESP_MAX];
	size_t resplen;
	int code;		/* the final response's status code */
};

static struct conn *conns;
static struct pollfd *pfds;

static _Noreturn void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: connflood [-H] [-n count] [-p in-flight] [-s source] [-S sources]\n"
	    "                 [-f message-file] [-t seconds] [-w seconds] host port\n"
	    "Opens count connections to host:port (IPv4), from the addresses\n"
	    "source, source+1, ... (sources of them, round robin; default\n"
	    "127.0.0.1 alone), at most in-flight at once still waiting for an\n"
	    "answer.  With -f, each sends the next request of message-file (SIP\n"
	    "messages framed by Content-Length, used in turn) and waits for its\n"
	    "final response; without, each connects and closes at once.  -H\n"
	    "holds every connection open once all are answered (or -t has\n"
	    "passed), until standard input ends or -w seconds more have passed\n"
	    "(default 60).  Prints one summary line first; -t bounds the time\n"
	    "to answers (default 30 s).\n");
	exit(code);
}

static unsigned long
num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0)
		fed_errx(FED_EXIT_USAGE, "bad number: %s", s);
	return v;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The value of a Content-Length (or compact l) header in [p, p+n), or 0. */
static size_t
content_length(const char *p, size_t n)
{
	const char *end = p + n, *line, *eol, *v;
	size_t len = 0;

	for (line = p; line < end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			break;
		if ((size_t)(eol - line) > 15 && strncasecmp(line, "Content-Length:", 15) == 0)
			v = line + 15;
		else if ((size_t)(eol - line) > 2 && strncasecmp(line, "l:", 2) == 0)
			v = line + 2;
		else
			continue;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		for (len = 0; v < eol && *v >= '0' && *v <= '9'; v++)
			len = len * 10 + (size_t)(*v - '0');
	}
	return len;
}

/* The length of the whole message at the start of [p, p+n), or 0 if cut short. */
static size_t
message_length(const char *p, size_t n)
{
	const char *hend;
	size_t head, body;

	hend = memmem(p, n, "\r\n\r\n", 4);
	if (hend == NULL)
		return 0;
	head = (size_t)(hend - p) + 4;
	body = content_length(p, head);
	return body > n - head ? 0 : head + body;
}

/* Split a file of SIP messages into msgs/lens, all inside *bufp. */
static size_t
read_messages(const char *path, const char **msgs, size_t *lens, char **bufp)
{
	FILE *fp;
	char *buf, *bigger;
	size_t cap = 1 << 20, len = 0, r, count = 0, m;

	if ((fp = fopen(path, "rb")) == NULL)
		fed_err(FED_EXIT_USAGE, "%s", path);
	if ((buf = malloc(cap)) == NULL)
		fed_err(FED_EXIT_SYS, "malloc");
	while ((r = fread(buf + len, 1, cap - len, fp)) > 0) {
		len += r;
		if (len < cap)
			continue;
		if ((bigger = realloc(buf, cap * 2)) == NULL)
			fed_err(FED_EXIT_SYS, "realloc");
		buf = bigger;
		cap *= 2;
	}
	if (ferror(fp))
		fed_err(FED_EXIT_SYS, "%s", path);
	fclose(fp);
	for (r = 0; r < len && count < MAX_MSGS; r += m) {
		while (r < len && (buf[r] == '\r' || buf[r] == '\n'))
			r++;
		if (r == len)
			break;
		if ((m = message_length(buf + r, len - r)) == 0)
			fed_errx(FED_EXIT_USAGE, "%s: message %zu is cut short", path, count + 1);
		msgs[count] = buf + r;
		lens[count++] = m;
	}
	if (count == 0)
		fed_errx(FED_EXIT_USAGE, "%s: no message", path);
	*bufp = buf;
	return count;
}

/* Start connection i: socket, bind to its source, non-blocking connect. */
static void
start(struct conn *c, struct in_addr src, const struct sockaddr_in *dst)
{
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		fed_err(FED_EXIT_SYS, "socket");
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr = src;
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1)
		fed_err(FED_EXIT_SYS, "bind %s", inet_ntoa(src));
	c->fd = fd;
	if (connect(fd, (const struct sockaddr *)dst, sizeof *dst) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		c->fd = -1;
		c->state = C_FAILED;
		return;
	}
	c->state = C_CONNECTING;
}

/* Read what the peer sent; a final response answers the request. */
static void
on_readable(struct conn *c)
{
	ssize_t r;
	size_t m;
	int code;

	r = read(c->fd, c->resp + c->resplen, sizeof c->resp - c->resplen);
	if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR)) {
		c->state = C_CLOSED;	/* closed (or reset) before an answer */
		return;
	}
	if (r == -1)
		return;
	c->resplen += (size_t)r;
	while ((m = message_length(c->resp, c->resplen)) > 0) {
		code = 0;
		if (m > 12 && memcmp(c->resp, "SIP/2.0 ", 8) == 0)
			code = atoi(c->resp + 8);
		memmove(c->resp, c->resp + m, c->resplen - m);
		c->resplen -= m;
		if (code >= 200) {
			c->code = code;
			c->state = C_ANSWERED;
			return;
		}
	}
	if (c->resplen == sizeof c->resp)
		c->state = C_FAILED;	/* no response this long */
}

int
main(int argc, char *argv[])
{
	const char **msgs = NULL, *file = NULL, *source = "127.0.0.1";
	char *msgbuf = NULL;
	size_t *lens = NULL, nmsgs = 0;
	unsigned long n = 1, sources = 1, inflight = 100, i, started = 0;
	unsigned long open_now, count[C_FAILED + 1] = { 0 }, codes[700] = { 0 };
	double limit = 30, hold_limit = 60, deadline, t0;
	struct sockaddr_in dst;
	struct in_addr src0, src;
	struct rlimit rl;
	int ch, hold = 0, left, k, err;
	socklen_t errlen;
	char buf[256];

	fed_progname = "connflood";
	while ((ch = getopt(argc, argv, "f:hHn:p:s:S:t:w:")) != -1) {
		switch (ch) {
		case 'f': file = optarg; break;
		case 'H': hold = 1; break;
		case 'n': n = num(optarg); break;
		case 'p': inflight = num(optarg); break;
		case 's': source = optarg; break;
		case 'S': sources = num(optarg); break;
		case 't': limit = (double)num(optarg); break;
		case 'w': hold_limit = (double)num(optarg); break;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage(2);
	if (n == 0 || n > MAX_CONNS || sources == 0 || sources > 250 || inflight == 0)
		fed_errx(FED_EXIT_USAGE, "count 1..%d, sources 1..250, in-flight >= 1", MAX_CONNS);
	memset(&dst, 0, sizeof dst);
	dst.sin_family = AF_INET;
	dst.sin_port = htons((unsigned short)num(argv[1]));
	if (inet_pton(AF_INET, argv[0], &dst.sin_addr) != 1)
		fed_errx(FED_EXIT_USAGE, "not an IPv4 address: %s", argv[0]);
	if (inet_pton(AF_INET, source, &src0) != 1)
		fed_errx(FED_EXIT_USAGE, "not an IPv4 address: %s", source);
	if (file != NULL) {
		if ((msgs = calloc(MAX_MSGS, sizeof *msgs)) == NULL ||
		    (lens = calloc(MAX_MSGS, sizeof *lens)) == NULL)
			fed_err(FED_EXIT_SYS, "calloc");
		nmsgs = read_messages(file, msgs, lens, &msgbuf);
	}
	/* Every connection is a descriptor: take the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 16)
		fed_errx(FED_EXIT_SYS, "%lu connections need more descriptors than %llu",
		    n, (unsigned long long)rl.rlim_cur);
	if ((conns = calloc(n, sizeof *conns)) == NULL ||
	    (pfds = calloc(n + 1, sizeof *pfds)) == NULL)
		fed_err(FED_EXIT_SYS, "calloc");
	for (i = 0; i < n; i++) {
		conns[i].fd = -1;
		if (file != NULL) {
			conns[i].msg = msgs[i % nmsgs];
			conns[i].msglen = lens[i % nmsgs];
		}
	}

	t0 = now();
	deadline = t0 + limit;
	for (;;) {
		/* Start more while fewer than inflight are waiting. */
		for (open_now = 0, i = 0; i < started; i++)
			if (conns[i].state == C_CONNECTING || conns[i].state == C_SENDING ||
			    conns[i].state == C_READING)
				open_now++;
		while (started < n && open_now < inflight) {
			src = src0;
			src.s_addr = htonl(ntohl(src0.s_addr) + (uint32_t)(started % sources));
			start(&conns[started++], src, &dst);
			open_now++;
		}
		if (open_now == 0 && started == n)
			break;
		left = (int)((deadline - now()) * 1000);
		if (left <= 0)
			break;
		for (i = 0; i < started; i++) {
			pfds[i].fd = -1;
			pfds[i].events = 0;
			switch (conns[i].state) {
			case C_CONNECTING:
			case C_SENDING:
				pfds[i].fd = conns[i].fd;
				pfds[i].events = POLLOUT;
				break;
			case C_READING:
				pfds[i].fd = conns[i].fd;
				pfds[i].events = POLLIN;
				break;
			default:
				break;
			}
		}
		if ((k = poll(pfds, (nfds_t)started, left > 100 ? 100 : left)) == -1) {
			if (errno == EINTR)
				continue;
			fed_err(FED_EXIT_SYS, "poll");
		}
		for (i = 0; i < started && k > 0; i++) {
			struct conn *c = &conns[i];
			ssize_t w;

			if (pfds[i].revents == 0)
				continue;
			k--;
			if (c->state == C_CONNECTING) {
				errlen = sizeof err;
				if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == -1 || err != 0) {
					c->state = C_FAILED;
					continue;
				}
				if (c->msg == NULL) {
					/* An empty connection: it is answered by being accepted. */
					close(c->fd);
					c->fd = -1;
					c->state = C_ANSWERED;
					continue;
				}
				c->state = C_SENDING;
			}
			if (c->state == C_SENDING) {
				w = write(c->fd, c->msg + c->sent, c->msglen - c->sent);
				if (w == -1 && errno != EAGAIN && errno != EINTR) {
					c->state = C_CLOSED;
					continue;
				}
				if (w > 0 && (c->sent += (size_t)w) == c->msglen)
					c->state = C_READING;
				continue;
			}
			if (c->state == C_READING)
				on_readable(c);
		}
	}
	for (i = 0; i < n; i++) {
		count[conns[i].state == C_IDLE ? C_FAILED : conns[i].state]++;
		if (conns[i].state == C_ANSWERED && conns[i].code > 0 && conns[i].code < 700)
			codes[conns[i].code]++;
	}
	/*
	 * connections: asked for; answered: got a final response (or, empty,
	 * were accepted); closed: the peer closed or reset before an answer;
	 * failed: connect failed, or nothing came before -t; seconds: from the
 * first connection to the last answer.
	 */
	printf("connections %lu answered %lu closed %lu failed %lu seconds %.2f",
	    n, count[C_ANSWERED], count[C_CLOSED],
	    count[C_FAILED] + count[C_CONNECTING] + count[C_SENDING] + count[C_READING],
	    now() - t0);
	for (i = 0; i < 700; i++)
		if (codes[i] > 0)
			printf(" %lu:%lu", i, codes[i]);
	printf("\n");
	if (fflush(stdout) != 0)
		fed_err(FED_EXIT_SYS, "stdout");
	if (hold) {
		/* Hold until standard input ends (or -w seconds pass). */
		deadline = now() + hold_limit;
		pfds[0].fd = 0;
		pfds[0].events = POLLIN;
		while ((left = (int)((deadline - now()) * 1000)) > 0) {
			if (poll(pfds, 1, left) == -1 && errno != EINTR)
				fed_err(FED_EXIT_SYS, "poll");
			if ((pfds[0].revents & (POLLIN | POLLHUP)) != 0 &&
			    read(0, buf, sizeof buf) <= 0)
				break;
		}
	}
	for (i = 0; i < n; i++)
		if (conns[i].fd != -1)
			close(conns[i].fd);
	free(conns);
	free(pfds);
	free(msgs);
	free(lens);
	free(msgbuf);
	return 0;
}
