/* statew.c: test driver for lib/state: many processes on one state_dir.
 *   statew [-p PERIOD] DIR addurls DOMAIN PREFIX N
 *                 N times: lock, add URI PREFIX-I@example.com, unlock
 *   statew [-p PERIOD] DIR fill DOMAIN PREFIX N
 *                 add N URIs under one lock (one write)
 *   statew [-p PERIOD] DIR take DOMAIN N RATE BURST
 *                 N times: lock, take a token, unlock; prints tokens taken
 *   statew [-p PERIOD] DIR respond DOMAIN OK FAIL
 *                 note responses, written by state_close; prints the totals
 *   statew [-p PERIOD] DIR check DOMAIN
 *                 read the partner file; prints "uris N"; exit 1 if bad
 *   statew [-p PERIOD] DIR sweep
 *   statew [-p PERIOD] DIR walk
 *                 prints "DOMAIN URIS OK FAIL" for every partner
 * Exit 0, 1 on a state error (message on stderr), 2 on usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

static struct state_params prm = { 3600, 0 };

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: statew [-p PERIOD] DIR "
	    "addurls|fill|take|respond|check|sweep|walk ...\n");
	exit(2);
}

static _Noreturn void
fail(const struct fed_err *e)
{
	fprintf(stderr, "statew: %s\n", e->msg);
	exit(1);
}

static int
print_partner(const struct state_partner *p, void *arg)
{
	unsigned ok, fl;

	(void)arg;
	state_responses(p, now_ms(), &prm, &ok, &fl);
	printf("%s %u %u %u\n", p->domain, state_uri_count(p), ok, fl);
	return 0;
}

/* Add URIs PREFIX-0.. PREFIX-(N-1), under one lock per `per` of them. */
static void
add_urls(struct state *s, const char *domain, const char *prefix, long n,
    long per)
{
	struct state_partner *p;
	struct fed_err e;
	char key[256];
	long i = 0, j;
	int64_t t;

	while (i < n) {
		t = now_ms();
		if ((p = state_get(s, domain, t, &e)) == NULL ||
		    state_lock(s, p, t, &e) != 0)
			fail(&e);
		for (j = 0; j < per && i < n; j++, i++) {
			snprintf(key, sizeof key, "%s-%ld@example.com", prefix,
			    i);
			if (state_uri_add(p, key, t) < 0) {
				perror("statew: state_uri_add");
				exit(1);
			}
		}
		if (state_unlock(s, p, t, &e) != 0)
			fail(&e);
	}
}

int
main(int argc, char *argv[])
{
	struct state *s;
	struct state_partner *p;
	struct fed_err e;
	const char *dir, *cmd;
	long n, i, taken = 0;
	unsigned ok, fl;
	int c, rc = 0;

	while ((c = getopt(argc, argv, "p:")) != -1) {
		if (c != 'p')
			usage();
		prm.report_period = (unsigned)atol(optarg);
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	dir = argv[0];
	cmd = argv[1];
	if (state_open(&s, dir, &prm, 0, &e) != 0)
		fail(&e);
	if (strcmp(cmd, "addurls") == 0 && argc == 5)
		add_urls(s, argv[2], argv[3], atol(argv[4]), 1);
	else if (strcmp(cmd, "fill") == 0 && argc == 5) {
		n = atol(argv[4]);
		add_urls(s, argv[2], argv[3], n, n);
	}
	else if (strcmp(cmd, "take") == 0 && argc == 6) {
		unsigned rate = (unsigned)atol(argv[4]);
		unsigned burst = (unsigned)atol(argv[5]);

		n = atol(argv[3]);
		for (i = 0; i < n; i++) {
			int64_t t = now_ms();

			if ((p = state_get(s, argv[2], t, &e)) == NULL)
				fail(&e);
			/* The fast path: an empty bucket needs no lock. */
			if (!state_bucket_peek(p, t, rate, burst))
				continue;
			if (state_lock(s, p, t, &e) != 0)
				fail(&e);
			taken += state_bucket_take(p, t, rate, burst);
			if (state_unlock(s, p, t, &e) != 0)
				fail(&e);
		}
		printf("%ld\n", taken);
	} else if (strcmp(cmd, "respond") == 0 && argc == 5) {
		int64_t t = now_ms();

		if ((p = state_get(s, argv[2], t, &e)) == NULL)
			fail(&e);
		for (n = atol(argv[3]), i = 0; i < n; i++)
			state_response_add(p, t, 1, &prm);
		for (n = atol(argv[4]), i = 0; i < n; i++)
			state_response_add(p, t, 0, &prm);
		state_responses(p, t, &prm, &ok, &fl);
		printf("%u %u\n", ok, fl);
	} else if (strcmp(cmd, "check") == 0 && argc == 3) {
		if ((p = state_get(s, argv[2], now_ms(), &e)) == NULL)
			fail(&e);
		printf("uris %u\n", state_uri_count(p));
	} else if (strcmp(cmd, "sweep") == 0 && argc == 2) {
		if (state_sweep(s, now_ms(), &e) != 0)
			fail(&e);
	} else if (strcmp(cmd, "walk") == 0 && argc == 2) {
		if (state_walk(s, now_ms(), print_partner, NULL, &e) != 0) {
			fprintf(stderr, "statew: %s\n", e.msg);
			rc = 1;
		}
	} else
		usage();
	if (state_close(s, now_ms(), &e) != 0)
		fail(&e);
	return rc;
}
