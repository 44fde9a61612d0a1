/* genlog.c: a deterministic verdict log generator for fedstat's tests and bench. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fed.h"
#include "vlog.h"

/*
 * genlog [-n lines] [-p partners] [-u uris] [-i first] [-s seed]
 *        [-t start-ms] [-d step-ms] [-w lines-per-write]
 *
 * Line i (from `first`) is from partner p<k>.example (k drawn from the
 * seeded generator, below `partners`) through peer 192.0.2.<k % 250>:5061:
 *   60%  accept discovered   uri u<j>@example.com
 *   10%  limit rate    503   uri u<j>@example.com
 *    5%  refuse watch  403   uri u<j>@example.com
 *   25%  observe response, status 200 or 404 (even odds), uri -
 * where j is drawn below `uris`, or is i itself with -u 0 (every request
 * to a URI of its own).  The Call-ID is c<i>, so every line is unique.
 * Times start at start-ms (default 2026-11-22T00:00:00.000Z) and step by
 * step-ms.  The same arguments always give the same bytes.  -w writes
 * that many lines per write(2) (default: buffered), as fedgate batches.
 */

static uint64_t rng;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned long long
num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] < '0' || s[0] > '9')
		fed_errx(FED_EXIT_USAGE, "%s: bad number \"%s\"", what, s);
	return v;
}

static void
put(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fed_err(FED_EXIT_SYS, "write");
		p += w;
		n -= (size_t)w;
	}
}

int
main(int argc, char *argv[])
{
	unsigned long long lines = 1000, partners = 10, uris = 100, first = 0;
	unsigned long long seed = 1, per_write = 0, i, k, j, x;
	int64_t start = INT64_C(1795305600000), step = 1;
	char partner[32], peer[32], uri[48], callid[32], method[8];
	char *buf;
	size_t len = 0, cap = (size_t)1 << 20, inbatch = 0;
	struct vlog_rec r;
	int ch;

	fed_progname = "genlog";
	while ((ch = getopt(argc, argv, "d:i:n:p:s:t:u:w:")) != -1) {
		switch (ch) {
		case 'd': step = (int64_t)num(optarg, "-d"); break;
		case 'i': first = num(optarg, "-i"); break;
		case 'n': lines = num(optarg, "-n"); break;
		case 'p': partners = num(optarg, "-p"); break;
		case 's': seed = num(optarg, "-s"); break;
		case 't': start = (int64_t)num(optarg, "-t"); break;
		case 'u': uris = num(optarg, "-u"); break;
		case 'w': per_write = num(optarg, "-w"); break;
		default:
			fprintf(stderr, "usage: genlog [-n lines] [-p partners] "
			    "[-u uris] [-i first] [-s seed] [-t start-ms] "
			    "[-d step-ms] [-w lines-per-write]\n");
			return FED_EXIT_USAGE;
		}
	}
	if (partners == 0)
		fed_errx(FED_EXIT_USAGE, "-p: at least 1");
	if ((buf = malloc(cap + VLOG_LINE_MAX)) == NULL)
		fed_err(FED_EXIT_SYS, "memory");
	rng = seed * 0x9e3779b97f4a7c15u + 1;
	for (i = 0; i < first; i++) {	/* the same stream from any first */
		next();
		next();
		next();
	}
	for (i = first; i < first + lines; i++) {
		memset(&r, 0, sizeof r);
		/* Three draws a line, whatever the options, so that -i
		 * continues the stream of an earlier run exactly. */
		k = next() % partners;
		j = next();
		j = uris == 0 ? i : j % uris;
		x = next() % 100;
		snprintf(partner, sizeof partner, "p%llu.example", k);
		snprintf(peer, sizeof peer, "192.0.2.%llu:5061", k % 250);
		snprintf(uri, sizeof uri, "u%llu@example.com", j);
		snprintf(callid, sizeof callid, "c%llu", i);
		r.time_ms = start + (int64_t)i * step;
		r.peer = (struct fed_str){ peer, strlen(peer) };
		r.partner = (struct fed_str){ partner, strlen(partner) };
		r.uri = (struct fed_str){ uri, strlen(uri) };
		r.callid = (struct fed_str){ callid, strlen(callid) };
		r.method = (struct fed_str){ "MESSAGE", 7 };
		r.code = -1;
		if (x < 60) {
			r.verdict = VERDICT_ACCEPT;
			r.reason = REASON_DISCOVERED;
		} else if (x < 70) {
			r.verdict = VERDICT_LIMIT;
			r.reason = REASON_RATE;
			r.code = 503;
		} else if (x < 75) {
			r.verdict = VERDICT_REFUSE;
			r.reason = REASON_WATCH;
			r.code = 403;
		} else {
			r.verdict = VERDICT_OBSERVE;
			r.reason = REASON_RESPONSE;
			snprintf(method, sizeof method, "%s", x % 2 ? "200" : "404");
			r.method = (struct fed_str){ method, 3 };
			r.uri = FED_STR_NULL;
		}
		len += vlog_format(buf + len, &r);
		inbatch++;
		if (len >= cap || (per_write != 0 && inbatch >= per_write)) {
			put(STDOUT_FILENO, buf, len);
			len = inbatch = 0;
		}
	}
	put(STDOUT_FILENO, buf, len);
	free(buf);
	return 0;
}
