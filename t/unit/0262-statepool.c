/* 0262-statepool: the pool's Redis script decides as the local store does. */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "state.h"
#include "tap.h"

/*
 * lib/pool.lua repeats state.c's decide_in in Lua (Redis runs a script,
 * not C), so the two are run here side by side on the same requests, on
 * a clock of our own, and every decision and fact must agree: a change to
 * one that is not made to the other fails here.  A real redis-server on
 * 127.0.0.1, started and stopped by this test.
 */

#define T0 (INT64_C(1795300833) * 1000 + 123)

static char base[PATH_MAX];
static pid_t redis_pid;
static char redis_addr[64];

static void
redis_stop(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
		redis_pid = 0;
	}
}

/* redis-server on a port of our own; 0 once it answers. */
static int
redis_start(int port)
{
	char p[16], cmd[128];
	int i;

	snprintf(p, sizeof p, "%d", port);
	if ((redis_pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("redis-server", "redis-server", "--port", p, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no", (char *)NULL);
		_exit(127);
	}
	if (redis_pid < 0)
		return -1;
	snprintf(cmd, sizeof cmd, "redis-cli -p %d ping >/dev/null 2>&1", port);
	for (i = 0; i < 100; i++) {	/* 5 s at most */
		if (system(cmd) == 0)
			return 0;
		usleep(50000);
	}
	return -1;
}

static struct state_params params = {
	.report_period = 60,
	.max_partners = 100000,
	.max_new_partners = 100000,
	.suspect_min = 6,
	.suspect_share = 0.5,
	.suspicious_rate = 1,
};

static int jumps = 1;		/* the clock jumps past report_period */
static unsigned discovered_max_uris = 35;

static struct state *
sopen(const char *name, const char *redis)
{
	struct fed_err e = { "" };
	struct state_params sp = params;
	struct state *s = NULL;
	char dir[PATH_MAX + 32];

	snprintf(dir, sizeof dir, "%s/%s", base, name);
	sp.redis = redis;
	if (state_open(&s, dir, &sp, 0, &e) != 0)
		diag("state_open %s: %s", dir, e.msg);
	return s;
}

/* A small deterministic generator: the same run every time. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned
pick(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

#define NDOM 6
static const char *const domains[NDOM] = {
	"a.example", "b.example", "c.example", "d.example", "e.example",
	"f.example",
};
static const char *const peers[3] = { "10.0.0.1:5061", "10.0.0.2:5061",
	"edge.c.example" };

/* What one engine said about one request. */
struct said {
	struct policy_facts f;
	struct policy_decision d;
};

static int
ask(struct state *s, const struct state_req *q, int64_t now, struct said *o)
{
	struct fed_err e = { "" };

	memset(o, 0, sizeof *o);
	o->f.mode = FED_OPEN;
	o->f.ruri_local = 1;
	o->f.method_ok = 1;
	o->f.allowed = !q->discovered;
	if (state_decide(s, q, now, &o->f, &o->d, &e) != 0) {
		diag("state_decide %s: %s", q->domain, e.msg);
		return -1;
	}
	return 0;
}

static int
same(const struct said *a, const struct said *b)
{
	return a->d.verdict == b->d.verdict && a->d.reason == b->d.reason &&
	    a->d.code == b->d.code && a->d.watch_now == b->d.watch_now &&
	    a->f.watched == b->f.watched &&
	    a->f.distinct_uris == b->f.distinct_uris &&
	    a->f.uri_new == b->f.uri_new && a->f.token == b->f.token &&
	    a->f.suspicious == b->f.suspicious &&
	    a->f.new_refused == b->f.new_refused;
}

static void
show(const char *who, const struct said *s)
{
	diag("  %s: %s %s %d watch_now=%d | watched=%d uris=%u new=%d "
	    "token=%d susp=%d new_refused=%d", who, verdict_name(s->d.verdict),
	    reason_name(s->d.reason), s->d.code, s->d.watch_now,
	    s->f.watched, s->f.distinct_uris, s->f.uri_new, s->f.token,
	    s->f.suspicious, s->f.new_refused);
}

/*
 * One run of `n` steps: requests (discovered or allow-listed with their
 * own limits, from three peers, over a few dozen URIs), responses, clears
 * and the clock moving by up to 0.4 s, now and then by minutes.  The
 * local store's watch list file is played by `watched` (what gate.c does
 * with watch_now); the pool keeps its own.  Returns the steps that agreed.
 */
static unsigned
run(struct state *lo, struct state *po, unsigned n, unsigned *decisions,
    unsigned *kinds)
{
	int watched[NDOM] = { 0 };
	int64_t now = T0;
	unsigned i, agreed = 0;
	struct fed_err e = { "" };

	for (i = 0; i < n; i++) {
		unsigned k = pick(100), dn = pick(NDOM);
		const char *dom = domains[dn];
		char uri[64];
		struct state_req q;
		struct said a, b;

		now += pick(120);
		if (k < 2 && jumps)
			now += 61000 + pick(60000);	/* past report_period */
		if (k < 25) {
			/* responses: a second apart, so the pool's batch
			 * (sent at most a second late) is in before the next
			 * request, as the local store's are at once */
			int ok = pick(3) == 0;
			int r1 = state_response(lo, dom, now, ok, &e);
			int r2 = state_response(po, dom, now, ok, &e);

			now += 1001;
			if (r1 != 0 || r2 != 0 || state_tick(lo, now, &e) != 0 ||
			    state_tick(po, now, &e) != 0)
				diag("response/tick: %s", e.msg);
			agreed++;
			continue;
		}
		if (k < 27) {
			int c1 = state_clear(lo, dom, now, &e);
			int c2 = state_clear(po, dom, now, &e);

			/* The pool's watch is its own; the local one is the
			 * file's (fedlist clears both) */
			c1 = c1 == 1 || watched[dn];
			watched[dn] = 0;
			if (c1 != c2) {
				diag("step %u: clear %s: local %d, pool %d", i,
				    dom, c1, c2);
				continue;
			}
			agreed++;
			continue;
		}
		memset(&q, 0, sizeof q);
		q.domain = dom;
		q.peer = peers[pick(3)];
		snprintf(uri, sizeof uri, "u%u@example.com", pick(40));
		q.uri = uri;
		/* a.example and b.example are allow-listed with their own
		 * limits; the others are discovered */
		q.discovered = dn >= 2;
		q.uris_limited = 1;
		q.max_uris = dn == 0 ? 12 : dn == 1 ? 15 : discovered_max_uris;
		q.rate = dn == 1 ? 4 : 3;
		q.list_read_ms = now;
		q.watched = watched[dn];
		if (ask(lo, &q, now, &a) != 0)
			break;
		q.watched = 0;
		if (ask(po, &q, now, &b) != 0)
			break;
		if (a.d.watch_now)
			watched[dn] = 1;
		(*decisions)++;
		kinds[a.d.reason]++;
		if (same(&a, &b)) {
			agreed++;
			continue;
		}
		diag("step %u: %s %s at +%lld ms: the engines disagree", i,
		    dom, uri, (long long)(now - T0));
		show("local", &a);
		show("pool ", &b);
		break;
	}
	return agreed;
}

int
main(void)
{
	struct state *lo, *po;
	unsigned agreed, decisions = 0, kinds[REASON__COUNT] = { 0 };
	int port = 20000 + (int)(getpid() % 4000) * 3 + 2;
	char cmd[PATH_MAX + 16];

	if (tap_tmpdir(base, sizeof base, "fedkit-0262") == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	if (redis_start(port) != 0) {
		printf("Bail out! redis-server on 127.0.0.1:%d did not start "
		    "(is the redis-server package installed?)\n", port);
		redis_stop();
		return 1;
	}
	snprintf(redis_addr, sizeof redis_addr, "127.0.0.1:%d", port);

	lo = sopen("local", NULL);
	po = sopen("pool", redis_addr);
	ok(lo != NULL && po != NULL, "a local store and a pool on %s",
	    redis_addr);
	if (lo != NULL && po != NULL) {
		agreed = run(lo, po, 4000, &decisions, kinds);
		ok(agreed == 4000, "4000 steps (%u decisions): the pool's "
		    "script and the local store agree on every one (%u did)",
		    decisions, agreed);
		/* The run must have reached every state step, or agreeing
		 * would say little. */
		ok(kinds[REASON_DISCOVERED] > 0 && kinds[REASON_ALLOWLISTED] > 0,
		    "... accepting discovered (%u) and allow-listed (%u)",
		    kinds[REASON_DISCOVERED], kinds[REASON_ALLOWLISTED]);
		ok(kinds[REASON_RATE] > 0, "... limiting by rate (%u)",
		    kinds[REASON_RATE]);
		ok(kinds[REASON_SUSPICIOUS] > 0, "... by suspicion (%u)",
		    kinds[REASON_SUSPICIOUS]);
		ok(kinds[REASON_WATCH] > 0, "... and refusing watched (%u)",
		    kinds[REASON_WATCH]);
	}
	if (lo != NULL)
		state_close(lo, NULL);
	if (po != NULL)
		state_close(po, NULL);

	/* Bounded state: three partners kept at most, two new ones a peer
	 * per report_period; no jumps of the clock, so that no sweep (the
	 * local store's every tick, the pool's every 10 s) tells them
	 * apart. */
	snprintf(cmd, sizeof cmd, "redis-cli -p %d flushall >/dev/null", port);
	if (system(cmd) != 0)
		diag("flushall failed");
	params.max_partners = 3;
	params.max_new_partners = 2;
	jumps = 0;
	memset(kinds, 0, sizeof kinds);
	decisions = 0;
	lo = sopen("local2", NULL);
	po = sopen("pool2", redis_addr);
	if (lo != NULL && po != NULL) {
		agreed = run(lo, po, 3000, &decisions, kinds);
		ok(agreed == 3000, "max_partners 3, max_new_partners 2: 3000 "
		    "steps (%u decisions) agree (%u did)", decisions, agreed);
		ok(kinds[REASON_NEW_PARTNERS] > 0 && kinds[REASON_DISCOVERED] > 0,
		    "... refusing new partners (%u) and accepting (%u)",
		    kinds[REASON_NEW_PARTNERS], kinds[REASON_DISCOVERED]);
	} else
		ok(0, "the second pair of stores opens");
	if (lo != NULL)
		state_close(lo, NULL);
	if (po != NULL)
		state_close(po, NULL);
	redis_stop();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		diag("could not remove %s", base);
	return done_testing();
}
