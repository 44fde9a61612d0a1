/* statew.c: test driver for lib/state: many processes on one state_dir.
 *
 *   statew [options] DIR decide DOMAINS PEER PREFIX N RATE MAXURIS
 *        For each of LOOPS passes, each domain of DOMAINS (a comma
 *        separated list) and I = 0..N-1: one state_decide of a request
 *        to PREFIX-I@example.com, with every fact before the state step
 *        passing (open federation, a local Request-URI, an allowed
 *        method) and a discovered partner with RATE and MAXURIS.  PEER
 *        `-' is none.  Prints, in this order, "REASON COUNT" for every
 *        reason that occurred, "watch_now N", "decided N", "first_ms T",
 *        "last_ms T" (the first and last clock given to state_decide),
 *        and with -c "held_max N" (the most partners state_count saw
 *        after a decision).  With -v, first a line "DOMAIN I REASON" for
 *        every decision (" watch_now" appended when set).
 *   statew [options] DIR respond DOMAINS OK FAIL
 *        OK successes then FAIL failures for each domain.
 *   statew [options] DIR clear DOMAINS      prints "cleared N"
 *   statew [options] DIR walk
 *        "DOMAIN NURIS OK FAIL WATCH SUSPICIOUS" for every partner, the
 *        last two 0 or 1.
 *   statew [options] DIR view DOMAIN
 *        the walk line, then "peer NAME" for each peer; "none" if the
 *        partner has no state.
 *   statew [options] DIR count              "partners N peers N uris N"
 *   statew [options] DIR tick               one state_tick
 *
 * Options: -p PERIOD (report_period, s; 3600), -P MAX_PARTNERS (100000),
 * -N MAX_NEW (per peer; 100000), -m SUSPECT_MIN (20), -n (dry run),
 * -l LOOPS (1), -T MS (stop deciding after MS milliseconds), -t MS (add
 * MS to the clock: the engine's time is a parameter, so tests need not
 * sleep), -K KEY (peer_key; default PEER), -w (the partner is on the
 * watch list file), -c, -v.
 *
 * Every loop is bounded: N * LOOPS * domains decisions at most, and
 * -T bounds the time.  Exit 0, 1 on a state error (message on stderr),
 * 2 on usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "state.h"

static struct state_params prm = {
	.report_period = 3600,
	.max_partners = 100000,
	.max_new_partners = 100000,
	.suspect_min = 20,
	.suspect_share = 0.5,
	.suspicious_rate = 1,
};
static int64_t offset_ms;
static long loops = 1, time_limit_ms = -1;
static int dry_run, on_watch_list, track_held, verbose;
static const char *key_opt;

static int64_t
now_ms(void)
{
	return fed_now_ms() + offset_ms;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: statew [-cnvw] [-K key] [-l loops] "
	    "[-m min] [-N max_new] [-p period] [-P max_partners] [-T ms] "
	    "[-t ms] dir decide|respond|clear|walk|view|count|tick ...\n");
	exit(2);
}

static _Noreturn void
fail(const struct fed_err *e)
{
	fprintf(stderr, "statew: %s\n", e->msg);
	exit(1);
}

/* A non-negative number, or usage. */
static long
num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		usage();
	return v;
}

/* Split a comma-separated list in place; the count of names. */
static size_t
split(char *list, char ***out)
{
	size_t n = 1, i = 0;
	char *p, **v;

	for (p = list; *p != '\0'; p++)
		n += *p == ',';
	if ((v = calloc(n, sizeof *v)) == NULL) {
		perror("statew");
		exit(1);
	}
	for (p = strtok(list, ","); p != NULL && i < n; p = strtok(NULL, ","))
		v[i++] = p;
	*out = v;
	return i;
}

static void
print_view(const struct state_view *v)
{
	printf("%s %u %u %u %d %d\n", v->domain, (unsigned)v->rec.nuris,
	    v->ok, v->fail, v->rec.watch_ms != 0, v->rec.suspicious_ms != 0);
}

static int
walk_fn(const struct state_view *v, void *arg)
{
	(void)arg;
	print_view(v);
	return 0;
}

static void
decide(struct state *s, char **dom, size_t ndom, const char *peer,
    const char *prefix, long n, unsigned rate, unsigned max_uris)
{
	unsigned long count[REASON__COUNT] = { 0 }, held_max = 0;
	unsigned long p, pe, u, watch_now = 0, decided = 0;
	struct policy_facts f;
	struct policy_decision d;
	struct state_req q;
	struct fed_err e;
	char uri[300];
	int64_t t = 0, first = 0, start = fed_mono_ms();
	long pass, i;
	size_t j;
	int r;

	for (pass = 0; pass < loops; pass++)
		for (j = 0; j < ndom; j++)
			for (i = 0; i < n; i++) {
				if (time_limit_ms >= 0 &&
				    fed_mono_ms() - start >= time_limit_ms)
					goto out;
				snprintf(uri, sizeof uri, "%s-%ld@example.com",
				    prefix, i);
				memset(&q, 0, sizeof q);
				q.domain = dom[j];
				q.peer = peer;
				q.peer_key = key_opt;
				q.uri = uri;
				q.discovered = 1;
				q.uris_limited = 1;
				q.max_uris = max_uris;
				q.rate = rate;
				q.watched = on_watch_list;
				q.list_read_ms = t;
				memset(&f, 0, sizeof f);
				f.mode = FED_OPEN;
				f.ruri_local = 1;
				f.method_ok = 1;
				t = now_ms();
				if (decided == 0)
					first = t;
				if (state_decide(s, &q, t, &f, &d, &e) != 0)
					fail(&e);
				decided++;
				count[d.reason]++;
				watch_now += d.watch_now != 0;
				if (verbose)
					printf("%s %ld %s%s\n", dom[j], i,
					    reason_name(d.reason),
					    d.watch_now ? " watch_now" : "");
				if (track_held) {
					if (state_count(s, &p, &pe, &u,
					    &e) != 0)
						fail(&e);
					if (p > held_max)
						held_max = p;
				}
			}
out:
	for (r = 0; r < REASON__COUNT; r++)
		if (count[r] != 0)
			printf("%s %lu\n", reason_name((enum reason)r),
			    count[r]);
	printf("watch_now %lu\ndecided %lu\n", watch_now, decided);
	printf("first_ms %lld\nlast_ms %lld\n", (long long)first,
	    (long long)t);
	if (track_held)
		printf("held_max %lu\n", held_max);
}

int
main(int argc, char *argv[])
{
	struct state *s;
	struct state_view v;
	struct fed_err e;
	char dombuf[DOMAIN_MAX + 1], **dom = NULL;
	const char *dir, *cmd, *peer;
	unsigned long p, pe, u;
	size_t ndom = 0, j;
	long i, n;
	int c, r;

	while ((c = getopt(argc, argv, "cK:l:m:nN:p:P:T:t:vw")) != -1)
		switch (c) {
		case 'c': track_held = 1; break;
		case 'K': key_opt = optarg; break;
		case 'l': loops = num(optarg); break;
		case 'm': prm.suspect_min = (unsigned)num(optarg); break;
		case 'n': dry_run = 1; break;
		case 'N': prm.max_new_partners = (unsigned)num(optarg); break;
		case 'p': prm.report_period = (unsigned)num(optarg); break;
		case 'P': prm.max_partners = (unsigned)num(optarg); break;
		case 'T': time_limit_ms = num(optarg); break;
		case 't': offset_ms = num(optarg); break;
		case 'v': verbose = 1; break;
		case 'w': on_watch_list = 1; break;
		default: usage();
		}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	dir = argv[0];
	cmd = argv[1];
	if (argc >= 3)
		ndom = split(argv[2], &dom);
	if (!(strcmp(cmd, "decide") == 0 && argc == 8) &&
	    !(strcmp(cmd, "respond") == 0 && argc == 5) &&
	    !(strcmp(cmd, "clear") == 0 && argc == 3) &&
	    !(strcmp(cmd, "view") == 0 && argc == 3) &&
	    !((strcmp(cmd, "walk") == 0 || strcmp(cmd, "count") == 0 ||
	    strcmp(cmd, "tick") == 0) && argc == 2))
		usage();
	if (state_open(&s, dir, &prm, dry_run, &e) != 0)
		fail(&e);
	if (strcmp(cmd, "decide") == 0) {
		peer = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
		decide(s, dom, ndom, peer, argv[4], num(argv[5]),
		    (unsigned)num(argv[6]), (unsigned)num(argv[7]));
	} else if (strcmp(cmd, "respond") == 0) {
		for (j = 0; j < ndom; j++)
			for (r = 1; r >= 0; r--)
				for (n = num(argv[r ? 3 : 4]), i = 0; i < n;
				    i++)
					if (state_response(s, dom[j], now_ms(),
					    r, &e) != 0)
						fail(&e);
	} else if (strcmp(cmd, "clear") == 0) {
		for (n = 0, j = 0; j < ndom; j++) {
			if ((r = state_clear(s, dom[j], now_ms(), &e)) < 0)
				fail(&e);
			n += r;
		}
		printf("cleared %ld\n", n);
	} else if (strcmp(cmd, "walk") == 0) {
		if (state_walk(s, now_ms(), walk_fn, NULL, &e) != 0)
			fail(&e);
	} else if (strcmp(cmd, "view") == 0) {
		if ((r = state_view(s, argv[2], now_ms(), &v, dombuf,
		    &e)) < 0)
			fail(&e);
		if (r == 0)
			puts("none");
		else {
			print_view(&v);
			for (j = 0; j < v.npeer; j++)
				printf("peer %s\n", v.peer[j].name);
		}
	} else if (strcmp(cmd, "count") == 0) {
		if (state_count(s, &p, &pe, &u, &e) != 0)
			fail(&e);
		printf("partners %lu peers %lu uris %lu\n", p, pe, u);
	} else if (state_tick(s, now_ms(), &e) != 0)
		fail(&e);
	free(dom);
	if (fflush(stdout) != 0) {
		perror("statew: stdout");
		return 1;
	}
	if (state_close(s, &e) != 0)
		fail(&e);
	return 0;
}
