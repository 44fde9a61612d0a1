/* 0170-state: the partner store through its API, on a clock of our own. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "state.h"
#include "tap.h"

/*
 * Every process opens a state_dir once at a time: closing any descriptor
 * of counters.mdb or its lock file would drop LMDB's locks, so the store's
 * files are only stat(2)ed here, never opened, and what must look at a
 * store from outside (dry run, another user) runs in a child.
 */

/* 2026-11-21T22:40:33.123Z: every time below is the engine's parameter. */
#define KNOWN_MS (INT64_C(1795300833) * 1000 + 123)
#define T0 KNOWN_MS
#define OWNER 4242

static char base[PATH_MAX];
static const struct state_params defaults = {
	.report_period = 60,	/* response and URI slots of 5 s */
	.max_partners = 1000,
	.max_new_partners = 1000,
	.suspect_min = 20,
	.suspect_share = 0.5,
	.suspicious_rate = 1,
};

/* A path under base; the result lives until the 16th call after. */
static const char *
at(const char *name)
{
	static char buf[16][PATH_MAX];
	static int i;

	i = (i + 1) % 16;
	if (snprintf(buf[i], sizeof buf[i], "%s/%s", base, name) >=
	    (int)sizeof buf[i])
		diag("path too long: %s/%s", base, name);
	return buf[i];
}

static struct state *
sopen(const char *dir, const struct state_params *sp, int dry)
{
	struct fed_err e = { "" };
	struct state *s = NULL;

	if (state_open(&s, dir, sp, dry, &e) != 0)
		diag("state_open %s: %s", dir, e.msg);
	return s;
}

static void
sclose(struct state *s)
{
	struct fed_err e = { "" };

	if (s != NULL && state_close(s, &e) != 0)
		diag("state_close: %s", e.msg);
}

/* The request a discovered partner's passing request puts to the state. */
struct ask {
	const char *peer, *peer_key;
	unsigned max_uris, rate;
	int watched;
	int stale;		/* the watch list was not read again lately */
	struct policy_facts f;
	struct policy_decision d;
};

static void
ask_init(struct ask *a, const char *peer, unsigned max_uris, unsigned rate)
{
	memset(a, 0, sizeof *a);
	a->peer = peer;
	a->max_uris = max_uris;
	a->rate = rate;
}

/* One state_decide; the reason, or -1 (with a diag) on an error. */
static int
decide(struct state *s, struct ask *a, const char *domain, const char *uri,
    int64_t now)
{
	struct fed_err e = { "" };
	struct state_req q;

	memset(&q, 0, sizeof q);
	q.domain = domain;
	q.peer = a->peer;
	q.peer_key = a->peer_key;
	q.uri = uri;
	q.discovered = 1;
	q.uris_limited = 1;
	q.max_uris = a->max_uris;
	q.rate = a->rate;
	q.watched = a->watched;
	q.list_read_ms = a->stale ? 0 : now;	/* a list read just now */
	memset(&a->f, 0, sizeof a->f);
	a->f.mode = FED_OPEN;
	a->f.ruri_local = 1;
	a->f.method_ok = 1;
	memset(&a->d, 0, sizeof a->d);
	if (s == NULL || state_decide(s, &q, now, &a->f, &a->d, &e) != 0) {
		diag("state_decide %s %s: %s", tap_esc(domain), uri, e.msg);
		return -1;
	}
	return (int)a->d.reason;
}

/* The reason's name, for messages; "error" for -1. */
static const char *
rn(int r)
{
	return r < 0 ? "error" : reason_name((enum reason)r);
}

static int
is_reason(int got, enum reason want, const char *what)
{
	return ok(got == (int)want, "%s: %s (got %s)", what, reason_name(want),
	    rn(got));
}

static int
respond(struct state *s, const char *domain, int64_t now, int success,
    int n)
{
	struct fed_err e = { "" };
	int i, rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		if ((rc = state_response(s, domain, now, success, &e)) != 0)
			diag("state_response: %s", e.msg);
	return rc;
}

/* 1 filled, 0 no state, -1 error; the domain buffer is static. */
static int
view(struct state *s, const char *domain, int64_t now, struct state_view *v)
{
	static char dom[DOMAIN_MAX + 1];
	struct fed_err e = { "" };
	int rc;

	memset(v, 0, sizeof *v);
	if (s == NULL)
		return -1;
	if ((rc = state_view(s, domain, now, v, dom, &e)) < 0)
		diag("state_view: %s", e.msg);
	return rc;
}

static unsigned long
count(struct state *s, int which)
{
	struct fed_err e = { "" };
	unsigned long p = 0, pe = 0, u = 0;

	if (s == NULL || state_count(s, &p, &pe, &u, &e) != 0) {
		diag("state_count: %s", e.msg);
		return ULONG_MAX;
	}
	return which == 0 ? p : which == 1 ? pe : u;
}
#define PARTNERS(s) count((s), 0)
#define PEERS(s) count((s), 1)
#define URIS(s) count((s), 2)

static int
has_state(struct state *s, const char *domain)
{
	struct state_view v;

	return view(s, domain, T0, &v) == 1;
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		diag("cannot write %s: %s", path, strerror(errno));
		return;
	}
	fputs(text, f);
	if (fclose(f) != 0)
		diag("cannot write %s: %s", path, strerror(errno));
}

/* Names in a directory, dot files aside; -1 if it cannot be read. */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Checks run in a child: the child fills res[] (1 passed) and the parent
 * reports them with the descriptions, so TAP numbering stays one stream.
 */
#define CHILD_MAX 32
typedef void child_fn(unsigned char *res, void *arg);

static void
in_child(child_fn *fn, void *arg, const char *const *desc, int n)
{
	unsigned char res[CHILD_MAX];
	int fds[2], i, status = -1;
	ssize_t got = -1;
	pid_t pid;

	memset(res, 0, sizeof res);
	fflush(stdout);
	if (pipe(fds) != 0 || (pid = fork()) < 0) {
		diag("fork: %s", strerror(errno));
	} else if (pid == 0) {
		close(fds[0]);
		fn(res, arg);
		fflush(stdout);
		if (write(fds[1], res, sizeof res) != (ssize_t)sizeof res)
			_exit(2);
		_exit(0);
	} else {
		close(fds[1]);
		got = read(fds[0], res, sizeof res);
		close(fds[0]);
		waitpid(pid, &status, 0);
	}
	if (got != (ssize_t)sizeof res || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		diag("the child failed (status %#x, read %zd)", status, got);
		memset(res, 0, sizeof res);
	}
	for (i = 0; i < n && i < CHILD_MAX; i++)
		ok(res[i], "%s", desc[i]);
}

/* ---- opening ---- */

static void
test_open(void)
{
	const char *dir = at("st");
	struct fed_err e = { "" };
	struct state *s;
	struct stat st;
	size_t len;
	char *text;

	s = sopen(dir, &defaults, 0);
	ok(s != NULL, "state_open makes a missing state_dir");
	ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0777) == 0750, "mode 0750");
	text = tap_slurp(at("st/format"), &len);
	ok(text != NULL && len == 15 && memcmp(text, "fedkit-state 2\n",
	    15) == 0, "format says \"fedkit-state 2\"");
	free(text);
	ok(stat(at("st/counters.mdb"), &st) == 0 && S_ISREG(st.st_mode) &&
	    stat(at("st/counters.mdb-lock"), &st) == 0 && S_ISREG(st.st_mode),
	    "counters.mdb and counters.mdb-lock are there");
	ok(PARTNERS(s) == 0 && PEERS(s) == 0 && URIS(s) == 0,
	    "a new store holds nothing");
	sclose(s);
	s = sopen(dir, &defaults, 0);
	ok(s != NULL, "and opens again");
	sclose(s);
	s = NULL;
	ok(state_open(&s, at("missing/st"), &defaults, 0, &e) == -1 &&
	    s == NULL && strstr(e.msg, "missing/st: No such file") != NULL,
	    "the parent must exist: %s", e.msg);
}

/* A counters.mdb of another store version, made with LMDB itself. */
static void
make_store_v3(unsigned char *res, void *arg)
{
	const char *path = arg;
	uint32_t ver = 3;
	unsigned char key[16] = { 0 };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;

	res[0] = mdb_env_create(&env) == 0 &&
	    mdb_env_set_maxdbs(env, 8) == 0 &&
	    mdb_env_open(env, path, MDB_NOSUBDIR, 0640) == 0 &&
	    mdb_txn_begin(env, NULL, 0, &txn) == 0 &&
	    mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi) == 0;
	if (!res[0])
		return;
	k.mv_data = "version";
	k.mv_size = 7;
	v.mv_data = &ver;
	v.mv_size = sizeof ver;
	res[0] = mdb_put(txn, dbi, &k, &v, 0) == 0;
	k.mv_data = "hashkey";
	v.mv_data = key;
	v.mv_size = sizeof key;
	res[0] &= mdb_put(txn, dbi, &k, &v, 0) == 0 &&
	    mdb_txn_commit(txn) == 0;
	mdb_env_close(env);
}

static void
test_format(void)
{
	static const char *const v3desc[] = { "(a store of version 3 made)" };
	struct fed_err e = { "" };
	struct state *s = NULL;
	char want[PATH_MAX + 100], path[PATH_MAX];
	int rc;

	mkdir(at("v1"), 0750);
	mkdir(at("v1/partners"), 0750);
	write_text(at("v1/format"), "fedkit-state 1\n");
	ok(state_open(&s, at("v1"), &defaults, 0, &e) == -1 && s == NULL,
	    "a state_dir of version 1 is refused");
	ok(strstr(e.msg, "state format version 1") != NULL &&
	    strstr(e.msg, "keeps version 2") != NULL,
	    "... naming the versions: %s", e.msg);
	snprintf(want, sizeof want, "move %s aside", at("v1"));
	ok(strstr(e.msg, want) != NULL && strstr(e.msg, "watch list") != NULL,
	    "... and saying what to do");
	ok(!exists(at("v1/counters.mdb")) && !exists(at("v1/counters.mdb-lock")),
	    "... and making no store in it");
	e.msg[0] = '\0';
	rc = state_open(&s, at("v1"), &defaults, 1, &e);
	ok(rc == -1 && strstr(e.msg, "version 1") != NULL,
	    "it is refused in dry-run mode too (state_open: %d%s%s)", rc,
	    e.msg[0] != '\0' ? ", " : "", e.msg);
	sclose(s);
	s = NULL;

	mkdir(at("v9"), 0750);
	write_text(at("v9/format"), "fedkit-state 9\n");
	ok(state_open(&s, at("v9"), &defaults, 0, &e) == -1 && s == NULL,
	    "a state_dir of version 9 is refused");
	snprintf(want, sizeof want, "%s/format: state format version 9, "
	    "this fedkit reads version 2", at("v9"));
	is_str(e.msg, want, "... naming version 9");
	e.msg[0] = '\0';
	rc = state_open(&s, at("v9"), &defaults, 1, &e);
	ok(rc == -1 && strstr(e.msg, "version 9") != NULL,
	    "... in dry-run mode too (state_open: %d%s%s)", rc,
	    e.msg[0] != '\0' ? ", " : "", e.msg);
	sclose(s);
	s = NULL;

	mkdir(at("vx"), 0750);
	write_text(at("vx/format"), "hello\n");
	ok(state_open(&s, at("vx"), &defaults, 0, &e) == -1 &&
	    strstr(e.msg, "not a fedkit state directory") != NULL,
	    "a format file of something else is refused: %s", e.msg);

	/* The store's own version, in its meta table. */
	mkdir(at("v3"), 0750);
	write_text(at("v3/format"), "fedkit-state 2\n");
	snprintf(path, sizeof path, "%s", at("v3/counters.mdb"));
	in_child(make_store_v3, path, v3desc, 1);
	ok(state_open(&s, at("v3"), &defaults, 0, &e) == -1 &&
	    strstr(e.msg, "store version 3, this fedkit reads version 2") !=
	    NULL, "a counters.mdb of store version 3 is refused: %s", e.msg);
}

/* ---- deciding ---- */

static void
test_decide(void)
{
	struct state *s = sopen(at("d"), &defaults, 0);
	struct state_view v;
	struct ask a;
	int64_t t = T0, tw;
	int r;

	ask_init(&a, "192.0.2.1:5061", 3, 20);
	r = decide(s, &a, "a.example", "alice@example.com", t);
	is_reason(r, REASON_DISCOVERED, "a new partner's first request");
	ok(a.d.verdict == VERDICT_ACCEPT && a.d.code == -1 && !a.d.watch_now,
	    "... accepted, nothing sent, no watch");
	ok(a.f.uri_new == 1 && a.f.distinct_uris == 0 && a.f.token == 1 &&
	    a.f.watched == 0 && a.f.new_refused == 0 && a.f.suspicious == 0 &&
	    a.f.rate_limited == 1 && a.f.uris_limited == 1 &&
	    a.f.max_uris == 3, "... with the state facts filled");
	ok(view(s, "a.example", t, &v) == 1 && v.rec.nuris == 1 &&
	    v.rec.last_ms == t && v.rec.watch_ms == 0 &&
	    v.rec.suspicious_ms == 0 && v.npeer == 1 &&
	    strcmp(v.peer[0].name, "192.0.2.1:5061") == 0 &&
	    strcmp(v.domain, "a.example") == 0,
	    "state_view: one URI, last seen now, its peer");
	ok(PARTNERS(s) == 1 && PEERS(s) == 1 && URIS(s) == 1,
	    "state_count: 1 partner, 1 peer, 1 URI");

	r = decide(s, &a, "a.example", "alice@example.com", t + 1);
	ok(r == REASON_DISCOVERED && a.f.uri_new == 0 &&
	    a.f.distinct_uris == 1, "the same URI again is not new");
	decide(s, &a, "a.example", "bob@example.com", t + 2);
	r = decide(s, &a, "a.example", "carol@example.com", t + 3);
	ok(r == REASON_DISCOVERED && a.f.distinct_uris == 2 &&
	    view(s, "a.example", t, &v) == 1 && v.rec.nuris == 3,
	    "max_uris (3) distinct URIs are accepted");
	tw = t + 4;
	r = decide(s, &a, "a.example", "dave@example.com", tw);
	ok(r == REASON_WATCH && a.d.watch_now == 1 && a.d.code == 403 &&
	    a.f.uri_new == 1 && a.f.distinct_uris == 3,
	    "the request that would cross max_uris: watch, watch_now, 403");
	ok(view(s, "a.example", t, &v) == 1 && v.rec.watch_ms == tw &&
	    v.rec.nuris == 4 && URIS(s) == 0,
	    "the mark is kept with the count it was watched at; its URIs go");
	r = decide(s, &a, "a.example", "eve@example.com", tw + 1);
	ok(r == REASON_WATCH && !a.d.watch_now,
	    "a further new URI: watch, not watch_now again");
	r = decide(s, &a, "a.example", "alice@example.com", tw + 2);
	ok(r == REASON_WATCH && !a.d.watch_now && URIS(s) == 0,
	    "a known URI: watch too; nothing more is stored");
	r = decide(s, &a, "a.example", "alice@example.com",
	    tw + STATE_WATCH_SETTLE_MS - 1);
	is_reason(r, REASON_WATCH, "not on the watch list file yet, within "
	    "the settling time: the mark refuses");
	a.watched = 1;
	r = decide(s, &a, "a.example", "alice@example.com",
	    tw + STATE_WATCH_SETTLE_MS);
	is_reason(r, REASON_WATCH, "on the watch list file: refused");
	a.watched = 0;
	a.stale = 1;
	r = decide(s, &a, "a.example", "zed@example.com",
	    tw + STATE_WATCH_SETTLE_MS + 1);
	is_reason(r, REASON_WATCH, "off a list not read since: the mark "
	    "still refuses (a stale list vouches for nothing)");
	a.stale = 0;
	r = decide(s, &a, "a.example", "zed@example.com",
	    tw + STATE_WATCH_SETTLE_MS + 1);
	ok(r == REASON_DISCOVERED && a.f.distinct_uris == 0,
	    "off the list after the settling time: it starts again from 0");
	ok(view(s, "a.example", t, &v) == 1 && v.rec.watch_ms == 0 &&
	    v.rec.nuris == 1 && URIS(s) == 1, "the mark is gone");

	/* A partner on the watch list file without state gets none. */
	a.watched = 1;
	r = decide(s, &a, "listed.example", "x@example.com", t + 10);
	ok(r == REASON_WATCH && !a.d.watch_now &&
	    !has_state(s, "listed.example") && PARTNERS(s) == 1,
	    "a watched partner without state: refused, nothing kept");
	a.watched = 0;

	/* max_uris 0: the first URI crosses it. */
	ask_init(&a, "192.0.2.1:5061", 0, 20);
	r = decide(s, &a, "zero.example", "x@example.com", t + 20);
	ok(r == REASON_WATCH && a.d.watch_now && has_state(s, "zero.example"),
	    "max_uris 0: the first request watches a new partner");
	sclose(s);
}

static void
test_bucket(void)
{
	struct state *s = sopen(at("b"), &defaults, 0);
	struct state_view v;
	char uri[64];
	struct ask a;
	int i, n, r;

	ask_init(&a, "192.0.2.1:5061", 100, 5);
	for (n = 0, i = 0; i < 5; i++) {
		snprintf(uri, sizeof uri, "u%d@example.com", i);
		n += decide(s, &a, "b.example", uri, T0) == REASON_DISCOVERED;
	}
	is_long(n, 5, "rate 5: a new partner's full bucket takes 5 at once");
	r = decide(s, &a, "b.example", "u5@example.com", T0);
	ok(r == REASON_RATE && a.d.verdict == VERDICT_LIMIT &&
	    a.d.code == 503 && a.f.token == 0, "the 6th: limit, rate, 503");
	ok(view(s, "b.example", T0, &v) == 1 && v.rec.nuris == 6,
	    "a limited request's new URI is counted all the same");
	r = decide(s, &a, "b.example", "u0@example.com", T0 + 199);
	is_reason(r, REASON_RATE, "199 ms later at 5/s: still none");
	r = decide(s, &a, "b.example", "u0@example.com", T0 + 200);
	is_reason(r, REASON_DISCOVERED, "200 ms later: one token");
	r = decide(s, &a, "b.example", "u0@example.com", T0 + 200);
	is_reason(r, REASON_RATE, "only one");

	/* The wall clock steps back an hour (an NTP fix, a VM restore). */
	r = decide(s, &a, "b.example", "u0@example.com", T0 - 3600000);
	diag("clock back an hour: %s", rn(r));
	r = decide(s, &a, "b.example", "u0@example.com", T0 - 3600000 + 1000);
	is_reason(r, REASON_DISCOVERED, "a second after the clock stepped "
	    "back an hour the partner is served again, not an hour later");

	/* rate 0: no bucket. */
	ask_init(&a, "192.0.2.1:5061", 100, 0);
	for (n = 0, i = 0; i < 50; i++)
		n += decide(s, &a, "free.example", "u@example.com", T0) ==
		    REASON_DISCOVERED;
	ok(n == 50 && a.f.rate_limited == 0, "rate 0: never limited");
	sclose(s);
}

static void
test_suspicion(void)
{
	struct state *s = sopen(at("s"), &defaults, 0);
	struct state_view v;
	struct fed_err e = { "" };
	struct ask a;
	int64_t t = T0;
	int r;

	ok(state_response(s, "nobody.example", t, 0, &e) == 0 &&
	    PARTNERS(s) == 0 && !has_state(s, "nobody.example"),
	    "a response for a partner without state creates nothing");
	ask_init(&a, "192.0.2.1:5061", 100, 20);
	decide(s, &a, "s.example", "a@example.com", t);
	respond(s, "s.example", t + 1, 0, 19);
	ok(view(s, "s.example", t + 1, &v) == 1 && v.fail == 19 && v.ok == 0 &&
	    v.rec.suspicious_ms == 0,
	    "19 failures: fewer than suspect_min, not suspicious");
	respond(s, "s.example", t + 2, 0, 1);
	ok(view(s, "s.example", t + 2, &v) == 1 && v.fail == 20 &&
	    v.rec.suspicious_ms == t + 2, "the 20th failure: suspicious");
	r = decide(s, &a, "s.example", "a@example.com", t + 3);
	ok(r == REASON_DISCOVERED && a.f.suspicious == 1,
	    "a suspicious partner's saved tokens are capped to 1, not 0");
	r = decide(s, &a, "s.example", "a@example.com", t + 4);
	ok(r == REASON_SUSPICIOUS && a.d.verdict == VERDICT_LIMIT &&
	    a.d.code == 503, "then: limit, suspicious, 503");
	r = decide(s, &a, "s.example", "a@example.com", t + 1003);
	is_reason(r, REASON_DISCOVERED, "a second later (suspicious_rate 1)");
	respond(s, "s.example", t + 1004, 1, 20);
	ok(view(s, "s.example", t + 1004, &v) == 1 && v.ok == 20 &&
	    v.rec.suspicious_ms == t + 2,
	    "20 successes to 20 failures: a share of 0.5, still suspicious");
	respond(s, "s.example", t + 1005, 1, 1);
	ok(view(s, "s.example", t + 1005, &v) == 1 && v.ok == 21 &&
	    v.rec.suspicious_ms == 0, "the 21st success: no longer");
	r = decide(s, &a, "s.example", "a@example.com", t + 1006);
	ok(a.f.suspicious == 0 && a.f.rate_limited == 1,
	    "and decided so: its bucket is at 20/s again (%s)", rn(r));
	/* 3 ms after its last token at 1/s it had 0.003 of one; 54 ms at
	 * 20/s more make a whole token. */
	r = decide(s, &a, "s.example", "a@example.com", t + 1060);
	is_reason(r, REASON_DISCOVERED, "54 ms later it has a token: the "
	    "bucket refills at 20/s once suspicion has ended");
	r = decide(s, &a, "s.example", "a@example.com", t + 2010);
	is_reason(r, REASON_DISCOVERED, "a second later it surely has");

	/* Suspicion that ages out is ended by the next request. */
	decide(s, &a, "t.example", "a@example.com", t);
	respond(s, "t.example", t, 0, 20);
	ok(view(s, "t.example", t, &v) == 1 && v.rec.suspicious_ms != 0,
	    "another partner turns suspicious");
	r = decide(s, &a, "t.example", "a@example.com", t + 65000);
	ok(r == REASON_DISCOVERED && a.f.suspicious == 0 &&
	    view(s, "t.example", t + 65000, &v) == 1 && v.fail == 0 &&
	    v.rec.suspicious_ms == 0,
	    "a report period later its failures are gone and so is suspicion");
	sclose(s);
}

static void
test_expiry(void)
{
	struct state *s = sopen(at("x"), &defaults, 0);	/* 60 s, slots 5 s */
	struct state_view v;
	struct ask a;
	int r;

	ask_init(&a, "192.0.2.1:5061", 100, 0);
	decide(s, &a, "x.example", "a@example.com", T0);
	decide(s, &a, "x.example", "b@example.com", T0);
	decide(s, &a, "x.example", "c@example.com", T0 + 30000);
	r = decide(s, &a, "x.example", "d@example.com", T0 + 65000);
	ok(r == REASON_DISCOVERED && a.f.distinct_uris == 3,
	    "a period and a slot after the first URIs they still count");
	r = decide(s, &a, "x.example", "e@example.com", T0 + 65001);
	ok(r == REASON_DISCOVERED && a.f.distinct_uris == 2,
	    "a millisecond later the two first seen a period ago are gone "
	    "(%u left)", a.f.distinct_uris);
	ok(view(s, "x.example", T0 + 65001, &v) == 1 && v.rec.nuris == 3 &&
	    URIS(s) == 3, "the record and the store agree: 3 URIs");
	r = decide(s, &a, "x.example", "a@example.com", T0 + 65002);
	ok(r == REASON_DISCOVERED && a.f.uri_new == 1,
	    "an expired URI is new again");
	r = decide(s, &a, "x.example", "c@example.com", T0 + 65003);
	ok(a.f.uri_new == 0 && a.f.distinct_uris == 4,
	    "one first seen within the period is not");
	sclose(s);
}

/* ---- bounds ---- */

static void
test_bounds(void)
{
	struct state_params sp = defaults;
	struct state *s;
	struct ask a;
	char dom[64];
	int i, n, r;

	sp.max_partners = 3;
	s = sopen(at("m1"), &sp, 0);
	ask_init(&a, "192.0.2.1:5061", 100, 20);
	decide(s, &a, "a.example", "u@example.com", T0);
	decide(s, &a, "b.example", "u@example.com", T0 + 1000);
	decide(s, &a, "c.example", "u@example.com", T0 + 2000);
	r = decide(s, &a, "d.example", "u@example.com", T0 + 3000);
	ok(r == REASON_DISCOVERED && PARTNERS(s) == 3 &&
	    !has_state(s, "a.example") && has_state(s, "b.example"),
	    "max_partners 3: a 4th takes the place of the longest idle");
	decide(s, &a, "b.example", "u@example.com", T0 + 4000);
	r = decide(s, &a, "e.example", "u@example.com", T0 + 5000);
	ok(r == REASON_DISCOVERED && PARTNERS(s) == 3 &&
	    has_state(s, "b.example") && !has_state(s, "c.example"),
	    "a request makes a partner young again");
	sclose(s);

	/* Watched and suspicious partners are never the ones dropped. */
	s = sopen(at("m2"), &sp, 0);
	ask_init(&a, "192.0.2.1:5061", 0, 20);
	decide(s, &a, "w.example", "u@example.com", T0);
	ask_init(&a, "192.0.2.1:5061", 100, 20);
	decide(s, &a, "s.example", "u@example.com", T0 + 1000);
	respond(s, "s.example", T0 + 1000, 0, 20);
	decide(s, &a, "p.example", "u@example.com", T0 + 2000);
	r = decide(s, &a, "n1.example", "u@example.com", T0 + 3000);
	ok(r == REASON_DISCOVERED && !has_state(s, "p.example") &&
	    has_state(s, "w.example") && has_state(s, "s.example"),
	    "the oldest watched and suspicious partners stay, the next goes");
	r = decide(s, &a, "n2.example", "u@example.com", T0 + 4000);
	ok(r == REASON_DISCOVERED && !has_state(s, "n1.example") &&
	    has_state(s, "w.example") && has_state(s, "s.example") &&
	    PARTNERS(s) == 3, "and again");
	sclose(s);

	/* All of them watched or suspicious: a new partner is refused. */
	sp.max_partners = 2;
	s = sopen(at("m3"), &sp, 0);
	ask_init(&a, "192.0.2.1:5061", 0, 20);
	decide(s, &a, "w.example", "u@example.com", T0);
	ask_init(&a, "192.0.2.1:5061", 100, 20);
	decide(s, &a, "s.example", "u@example.com", T0 + 1000);
	respond(s, "s.example", T0 + 1000, 0, 20);
	r = decide(s, &a, "new.example", "u@example.com", T0 + 2000);
	ok(r == REASON_NEW_PARTNERS && a.f.new_refused == 1 &&
	    a.d.verdict == VERDICT_REFUSE && a.d.code == 403,
	    "every partner watched or suspicious: new_partners, 403");
	ok(PARTNERS(s) == 2 && !has_state(s, "new.example"),
	    "and nothing kept for it");
	r = decide(s, &a, "s.example", "u@example.com", T0 + 3000);
	ok(r != REASON_NEW_PARTNERS && r >= 0,
	    "a partner with state is decided as before (%s)", rn(r));
	{
		struct fed_err e = { "" };

		ok(state_clear(s, "w.example", T0 + 4000, &e) == 1,
		    "an operator clears one");
	}
	r = decide(s, &a, "new.example", "u@example.com", T0 + 5000);
	is_reason(r, REASON_DISCOVERED, "then the new partner has room");
	sclose(s);

	/*
	 * A peer whose new partners were refused for want of room has
	 * introduced none: it keeps its max_new_partners for when there is.
	 */
	sp.max_partners = 1;
	sp.max_new_partners = 2;
	s = sopen(at("m5"), &sp, 0);
	ask_init(&a, "192.0.2.7:5061", 0, 20);
	decide(s, &a, "w.example", "u@example.com", T0);
	ask_init(&a, "192.0.2.8:5061", 100, 20);
	n = decide(s, &a, "x.example", "u@example.com", T0 + 1000) ==
	    REASON_NEW_PARTNERS;
	n += decide(s, &a, "y.example", "u@example.com", T0 + 1001) ==
	    REASON_NEW_PARTNERS;
	ok(n == 2, "max_partners 1, held by a watched partner: two new ones "
	    "from another peer are refused");
	{
		struct fed_err e = { "" };

		state_clear(s, "w.example", T0 + 2000, &e);
	}
	r = decide(s, &a, "z.example", "u@example.com", T0 + 3000);
	is_reason(r, REASON_DISCOVERED, "once there is room that peer may "
	    "bring a new partner: the refused ones did not count against it");
	sclose(s);
	sp.max_new_partners = defaults.max_new_partners;

	/*
	 * More watched partners than the eviction looks at: 70 watched
	 * ones are the longest idle, 30 plain ones could go.
	 */
	sp.max_partners = 100;
	s = sopen(at("m4"), &sp, 0);
	ask_init(&a, "192.0.2.1:5061", 0, 20);
	for (n = 0, i = 0; i < 70; i++) {
		snprintf(dom, sizeof dom, "w%d.example", i);
		n += decide(s, &a, dom, "u@example.com", T0) == REASON_WATCH;
	}
	ask_init(&a, "192.0.2.1:5061", 100, 20);
	for (i = 0; i < 30; i++) {
		snprintf(dom, sizeof dom, "p%d.example", i);
		n += decide(s, &a, dom, "u@example.com", T0 + 1000) ==
		    REASON_DISCOVERED;
	}
	ok(n == 100 && PARTNERS(s) == 100,
	    "100 partners: 70 watched, then 30 plain");
	r = decide(s, &a, "new.example", "u@example.com", T0 + 2000);
	is_reason(r, REASON_DISCOVERED, "a new partner takes a plain one's "
	    "place though 70 watched ones are older");
	sclose(s);
}

static void
test_new_partners(void)
{
	struct state_params sp = defaults;
	struct state *s;
	char longpeer[601];
	struct ask a;
	int r;

	sp.max_new_partners = 2;
	s = sopen(at("n"), &sp, 0);
	ask_init(&a, "192.0.2.1:5061", 100, 20);
	decide(s, &a, "a.example", "u@example.com", T0);
	r = decide(s, &a, "b.example", "u@example.com", T0 + 30000);
	is_reason(r, REASON_DISCOVERED, "max_new_partners 2: the 2nd new "
	    "domain from a peer");
	r = decide(s, &a, "c.example", "u@example.com", T0 + 30001);
	ok(r == REASON_NEW_PARTNERS && a.f.new_refused == 1 &&
	    a.d.code == 403, "the 3rd: new_partners, 403");
	ok(!has_state(s, "c.example") && PARTNERS(s) == 2,
	    "and it gets no state");
	r = decide(s, &a, "a.example", "v@example.com", T0 + 30002);
	is_reason(r, REASON_DISCOVERED, "a partner the peer brought before "
	    "is decided as usual");
	a.peer = "192.0.2.2:5061";
	r = decide(s, &a, "c.example", "u@example.com", T0 + 30003);
	is_reason(r, REASON_DISCOVERED, "another peer may bring a new one");
	a.peer = "192.0.2.1:5061";
	r = decide(s, &a, "d.example", "u@example.com", T0 + 59999);
	is_reason(r, REASON_NEW_PARTNERS, "the first peer, just before a "
	    "report period has passed: still refused");
	r = decide(s, &a, "d.example", "u@example.com", T0 + 60000);
	is_reason(r, REASON_DISCOVERED, "a report period after its first: "
	    "it may again");

	/* peer_key, not the peer, is what is counted. */
	a.peer = "192.0.2.3:5061";
	a.peer_key = "192.0.2.3";
	decide(s, &a, "e.example", "u@example.com", T0);
	decide(s, &a, "f.example", "u@example.com", T0);
	a.peer = "192.0.2.3:5062";
	r = decide(s, &a, "g.example", "u@example.com", T0);
	is_reason(r, REASON_NEW_PARTNERS, "two ports of one host share "
	    "their peer_key's count");
	a.peer_key = NULL;
	r = decide(s, &a, "g.example", "u@example.com", T0);
	is_reason(r, REASON_DISCOVERED, "without a peer_key the peer counts");

	/* No peer at all (pipe mode without --peer): nobody to count by,
	 * so only max_partners bounds the state. */
	a.peer = NULL;
	decide(s, &a, "h.example", "u@example.com", T0);
	decide(s, &a, "i.example", "u@example.com", T0);
	r = decide(s, &a, "j.example", "u@example.com", T0);
	is_reason(r, REASON_DISCOVERED, "requests without a peer are not "
	    "counted by max_new_partners");

	/* A peer name longer than any key LMDB takes. */
	memset(longpeer, 'p', 600);
	longpeer[600] = '\0';
	a.peer = longpeer;
	r = decide(s, &a, "k.example", "u@example.com", T0);
	is_reason(r, REASON_DISCOVERED, "a 600-octet peer brings a new "
	    "partner");
	r = decide(s, &a, "l.example", "u@example.com", T0);
	is_reason(r, REASON_DISCOVERED, "and a 2nd");
	r = decide(s, &a, "m.example", "u@example.com", T0);
	is_reason(r, REASON_NEW_PARTNERS, "but not a 3rd: a long peer is "
	    "capped too");
	sclose(s);
}

/* ---- domains, walking, clearing ---- */

struct seen {
	char names[4][DOMAIN_MAX + 1];
	unsigned ok[4], fail[4];
	int n, stop;
};

static int
walk_fn(const struct state_view *v, void *arg)
{
	struct seen *w = arg;

	if (w->n < 4) {
		snprintf(w->names[w->n], sizeof w->names[0], "%s", v->domain);
		w->ok[w->n] = v->ok;
		w->fail[w->n] = v->fail;
	}
	w->n++;
	return w->stop;
}

static void
test_domains(void)
{
	struct state *s = sopen(at("l"), &defaults, 0);
	char d253[DOMAIN_MAX + 1], d254[DOMAIN_MAX + 2];
	struct fed_err e = { "" };
	struct state_view v;
	struct seen w;
	struct ask a;
	int r;

	/* 63.63.63.61: 253 octets, the longest legal name. */
	memset(d253, 'a', DOMAIN_MAX);
	d253[63] = d253[127] = d253[191] = '.';
	d253[DOMAIN_MAX] = '\0';
	memcpy(d254, d253, DOMAIN_MAX);
	d254[DOMAIN_MAX] = 'b';
	d254[DOMAIN_MAX + 1] = '\0';
	ask_init(&a, "192.0.2.1:5061", 100, 20);
	r = decide(s, &a, d253, "u@example.com", T0);
	is_reason(r, REASON_DISCOVERED, "a 253-octet domain is decided");
	respond(s, d253, T0 + 1, 1, 2);
	respond(s, d253, T0 + 1, 0, 1);
	ok(view(s, d253, T0 + 1, &v) == 1 && strcmp(v.domain, d253) == 0 &&
	    v.rec.nuris == 1 && v.ok == 2 && v.fail == 1,
	    "its state is kept whole");
	memset(&w, 0, sizeof w);
	ok(state_walk(s, T0 + 1, walk_fn, &w, &e) == 0 && w.n == 1 &&
	    strcmp(w.names[0], d253) == 0 && w.ok[0] == 2 && w.fail[0] == 1,
	    "walk lists it");
	ok(state_clear(s, d253, T0 + 2, &e) == 1 && !has_state(s, d253) &&
	    PARTNERS(s) == 0 && URIS(s) == 0, "clear removes it");

	e.msg[0] = '\0';
	{
		struct state_req q;
		struct policy_facts f;
		struct policy_decision d;

		memset(&q, 0, sizeof q);
		memset(&f, 0, sizeof f);
		q.domain = d254;
		q.uri = "u@example.com";
		q.discovered = q.uris_limited = 1;
		q.max_uris = 100;
		f.ruri_local = f.method_ok = 1;
		ok(state_decide(s, &q, T0, &f, &d, &e) == -1 &&
		    strstr(e.msg, "longer than 253") != NULL,
		    "a 254-octet domain is an error: %s", e.msg);
	}
	ok(state_response(s, d254, T0, 0, &e) == 0 &&
	    state_clear(s, d254, T0, &e) == 0 && view(s, d254, T0, &v) == 0 &&
	    PARTNERS(s) == 0, "response, clear and view of it: nothing");

	/* The walk: name order, and a callback may stop it. */
	decide(s, &a, "c.example", "u@example.com", T0);
	decide(s, &a, "a.example", "u@example.com", T0);
	decide(s, &a, "b.example", "u@example.com", T0);
	memset(&w, 0, sizeof w);
	ok(state_walk(s, T0, walk_fn, &w, &e) == 0 && w.n == 3 &&
	    strcmp(w.names[0], "a.example") == 0 &&
	    strcmp(w.names[1], "b.example") == 0 &&
	    strcmp(w.names[2], "c.example") == 0, "walk goes in name order");
	memset(&w, 0, sizeof w);
	w.stop = 1;
	ok(state_walk(s, T0, walk_fn, &w, &e) == 0 && w.n == 1,
	    "a non-zero return stops it");
	ok(state_clear(s, "b.example", T0, &e) == 1 &&
	    state_clear(s, "b.example", T0, &e) == 0,
	    "clear: 1 if it had state, then 0");
	sclose(s);
}

/* ---- upkeep ---- */

static void
test_tick(void)
{
	struct state *s = sopen(at("k"), &defaults, 0);
	struct fed_err e = { "" };
	int64_t sec_b, due_b;
	struct ask a;

	ask_init(&a, "192.0.2.1:5061", 100, 20);
	decide(s, &a, "a.example", "u@example.com", T0);
	ask_init(&a, "192.0.2.2:5061", 100, 20);
	decide(s, &a, "b.example", "u@example.com", T0 + 30000);
	ok(state_tick(s, T0 + 30000, &e) == 0 && PARTNERS(s) == 2 &&
	    PEERS(s) == 2, "tick: nothing is idle yet");
	ok(state_tick(s, T0 + 62000, &e) == 0 && PARTNERS(s) == 1 &&
	    !has_state(s, "a.example") && PEERS(s) == 1,
	    "a partner and a peer idle for a report period are swept");
	/* b's idle entry is due when the cutoff passes its second. */
	sec_b = (T0 + 30000) / 1000;
	due_b = (sec_b + 1) * 1000 + 60000;
	ok(state_tick(s, due_b - 1, &e) == 0 && has_state(s, "b.example"),
	    "not a millisecond early");
	ok(state_tick(s, due_b + 1, &e) == 0 && has_state(s, "b.example"),
	    "a tick less than a second after the last does nothing");
	ok(state_tick(s, due_b + 999, &e) == 0 && !has_state(s, "b.example") &&
	    PARTNERS(s) == 0 && PEERS(s) == 0, "a second later it sweeps");
	sclose(s);
}

static void
test_uris_max(void)
{
	struct state *s = sopen(at("u"), &defaults, 0);
	char uri[64];
	struct ask a;
	long i, n;
	int r = -1;

	ask_init(&a, "192.0.2.1:5061", 2 * STATE_URIS_MAX, 0);
	for (n = 0, i = 0; i < STATE_URIS_MAX; i++) {
		snprintf(uri, sizeof uri, "user%ld@example.com", i);
		if ((r = decide(s, &a, "big.example", uri, T0)) < 0)
			break;
		n += r == REASON_DISCOVERED;
	}
	is_long(n, STATE_URIS_MAX, "STATE_URIS_MAX distinct URIs are taken");
	r = decide(s, &a, "big.example", "one-more@example.com", T0);
	ok(r == REASON_WATCH && a.d.watch_now,
	    "one more is refused (watch) whatever max_uris says");
	ok(URIS(s) == 0, "and its URIs go");
	sclose(s);
}

/* ---- dry run ---- */

struct dry {
	const char *dir, *tmp;
};

static void
dry_missing(unsigned char *res, void *arg)
{
	const struct dry *dr = arg;
	struct state *s;
	struct ask a;
	int i = 0;

	setenv("TMPDIR", dr->tmp, 1);
	s = sopen(dr->dir, &defaults, 1);
	res[i++] = s != NULL;
	ask_init(&a, "192.0.2.1:5061", 1, 20);
	res[i++] = decide(s, &a, "a.example", "u@example.com", T0) ==
	    REASON_DISCOVERED;
	res[i++] = decide(s, &a, "a.example", "v@example.com", T0) ==
	    REASON_WATCH && a.d.watch_now;
	res[i++] = count_entries(dr->tmp) == 1;
	sclose(s);
}

static void
dry_existing(unsigned char *res, void *arg)
{
	const struct dry *dr = arg;
	struct state_view v;
	struct state *s;
	struct ask a;
	int i = 0;

	setenv("TMPDIR", dr->tmp, 1);
	s = sopen(dr->dir, &defaults, 1);
	res[i++] = s != NULL;
	res[i++] = view(s, "big.example", T0, &v) == 1 && v.rec.nuris == 999;
	ask_init(&a, "192.0.2.1:5061", 1000, 20);
	res[i++] = decide(s, &a, "big.example", "u5@example.com", T0 + 1) ==
	    REASON_DISCOVERED && a.f.uri_new == 0 && a.f.distinct_uris == 999;
	res[i++] = decide(s, &a, "big.example", "new1@example.com",
	    T0 + 2) == REASON_DISCOVERED && a.f.uri_new == 1;
	res[i++] = decide(s, &a, "big.example", "new2@example.com",
	    T0 + 3) == REASON_WATCH && a.d.watch_now &&
	    a.f.distinct_uris == 1000;
	respond(s, "big.example", T0 + 4, 0, 30);
	res[i++] = decide(s, &a, "other.example", "u@example.com", T0 + 5) ==
	    REASON_DISCOVERED;
	res[i++] = view(s, "big.example", T0 + 6, &v) == 1 &&
	    v.rec.nuris == 999 && v.rec.watch_ms == 0 && v.fail == 0 &&
	    PARTNERS(s) == 1;
	sclose(s);
	res[i++] = count_entries(dr->tmp) == 0;
}

static void
test_dry_run(void)
{
	static const char *const missing_desc[] = {
		"dry run on a missing state_dir opens",
		"... decides a new partner",
		"... and watches it at its max_uris",
		"... in a private store under TMPDIR",
	};
	static const char *const existing_desc[] = {
		"dry run on an existing store opens",
		"... and sees a partner's 999 URIs",
		"... one of them is not new",
		"... one new URI is accepted (the 1000th)",
		"... a second new one crosses max_uris",
		"... a new partner is decided",
		"... the real store is what it lists: unchanged",
		"... and the private store is gone at close",
	};
	struct state *s;
	struct stat st0, st1, fs0, fs1;
	struct state_view v;
	struct dry dr;
	char uri[64];
	struct ask a;
	int i, n;

	mkdir(at("drytmp"), 0700);
	dr.dir = at("dry-none");
	dr.tmp = at("drytmp");
	in_child(dry_missing, &dr, missing_desc, 4);
	ok(!exists(at("dry-none")) && count_entries(at("drytmp")) == 0,
	    "... and creates nothing, and leaves nothing behind");

	s = sopen(at("dr"), &defaults, 0);
	ask_init(&a, "192.0.2.1:5061", 1000, 0);
	for (n = 0, i = 0; i < 999; i++) {
		snprintf(uri, sizeof uri, "u%d@example.com", i);
		n += decide(s, &a, "big.example", uri, T0) ==
		    REASON_DISCOVERED;
	}
	is_long(n, 999, "a partner with 999 URIs");
	sclose(s);
	ok(stat(at("dr/counters.mdb"), &st0) == 0 &&
	    stat(at("dr/format"), &fs0) == 0, "(stat the store)");
	usleep(20000);	/* so that any write would show in the mtime */
	dr.dir = at("dr");
	in_child(dry_existing, &dr, existing_desc, 8);
	ok(stat(at("dr/counters.mdb"), &st1) == 0 &&
	    st1.st_mtim.tv_sec == st0.st_mtim.tv_sec &&
	    st1.st_mtim.tv_nsec == st0.st_mtim.tv_nsec &&
	    st1.st_size == st0.st_size, "counters.mdb was not written");
	ok(stat(at("dr/format"), &fs1) == 0 &&
	    fs1.st_mtim.tv_nsec == fs0.st_mtim.tv_nsec &&
	    fs1.st_ino == fs0.st_ino, "nor format");
	s = sopen(at("dr"), &defaults, 0);
	ok(view(s, "big.example", T0, &v) == 1 && v.rec.nuris == 999 &&
	    v.rec.watch_ms == 0 && v.fail == 0 && PARTNERS(s) == 1 &&
	    URIS(s) == 999, "the real store still holds 999 URIs, no watch, "
	    "no response, one partner");
	sclose(s);
}

/* ---- ownership ---- */

static void
as_owner(unsigned char *res, void *arg)
{
	const char *dir = arg;
	struct state *s = NULL;
	struct fed_err e = { "" };
	struct ask a;
	int i = 0;

	res[i++] = setgroups(0, NULL) == 0 && setgid(OWNER) == 0 &&
	    setuid(OWNER) == 0 && geteuid() == OWNER;
	if (!res[0])
		return;
	if (state_open(&s, dir, &defaults, 0, &e) != 0)
		printf("# as uid %d: %s\n", OWNER, e.msg);
	res[i++] = s != NULL;
	ask_init(&a, "192.0.2.1:5061", 100, 20);
	res[i++] = decide(s, &a, "owned.example", "u@example.com", T0) ==
	    REASON_DISCOVERED;
	res[i++] = s != NULL && state_close(s, &e) == 0;
	fflush(stdout);
}

static int
owned(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return 0;
	if (st.st_uid != OWNER || st.st_gid != OWNER)
		diag("%s: %d:%d", path, (int)st.st_uid, (int)st.st_gid);
	return st.st_uid == OWNER && st.st_gid == OWNER;
}

static void
test_owner(void)
{
	static const char *const desc[] = {
		"a child drops to uid and gid 4242",
		"... opens the state_dir",
		"... decides",
		"... and closes it",
	};
	const char *dir = at("own");
	struct state *s;

	if (geteuid() != 0) {
		ok(0, "ownership: needs root (CI runs as root); uid %d",
		    (int)geteuid());
		return;
	}
	ok(chmod(base, 0711) == 0 && mkdir(dir, 0750) == 0 &&
	    chown(dir, OWNER, OWNER) == 0, "a state_dir owned by 4242:4242");
	s = sopen(dir, &defaults, 0);
	ok(s != NULL, "root opens it, making the store");
	sclose(s);
	ok(owned(at("own/counters.mdb")), "counters.mdb is 4242's");
	ok(owned(at("own/counters.mdb-lock")), "counters.mdb-lock is 4242's");
	ok(owned(at("own/format")), "format is 4242's");
	in_child(as_owner, (void *)dir, desc, 4);
	s = sopen(dir, &defaults, 0);
	ok(has_state(s, "owned.example"), "root sees what 4242 decided");
	sclose(s);
}

int
main(void)
{
	char cmd[PATH_MAX + 16];

	umask(022);
	if (tap_tmpdir(base, sizeof base, "fedkit-state") == NULL) {
		printf("not ok 1 - mkdtemp %s: %s\n1..1\n", base,
		    strerror(errno));
		return 1;
	}
	test_open();
	test_format();
	test_decide();
	test_bucket();
	test_suspicion();
	test_expiry();
	test_bounds();
	test_new_partners();
	test_domains();
	test_tick();
	test_dry_run();
	test_owner();
	test_uris_max();
	if (tap_failed == 0) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
		if (system(cmd) != 0)
			diag("could not remove %s", base);
	} else
		diag("kept %s", base);
	return done_testing();
}
