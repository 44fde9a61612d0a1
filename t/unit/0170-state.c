/* 0170-state: partner state: bucket, URIs, responses, the file, sweeping. */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "tap.h"

/* 2026-11-21T22:40:33.123Z */
#define KNOWN_MS (INT64_C(1795300833) * 1000 + 123)

static char base[] = "/tmp/fedkit-state.XXXXXX";
static const struct state_params prm = { 60, 0 };
static int64_t T;	/* the real time: sweep compares file mtimes with it */

static int64_t
real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A path under base; the result lives until the 16th call after. */
static const char *
at(const char *name)
{
	static char buf[16][256];
	static int i;

	i = (i + 1) % 16;
	snprintf(buf[i], sizeof buf[i], "%s/%s", base, name);
	return buf[i];
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
	fclose(f);
}

/* The file's bytes as a string, or "(missing)". */
static char *
slurp(const char *path)
{
	size_t n;
	char *b = tap_slurp(path, &n), *s;

	if (b == NULL)
		return strdup("(missing)");
	s = malloc(n + 1);
	memcpy(s, b, n);
	s[n] = '\0';
	free(b);
	return s;
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static struct state *
open_state(const char *dir, const struct state_params *pp, int dry)
{
	struct fed_err e = { "" };
	struct state *s = NULL;

	if (state_open(&s, dir, pp, dry, &e) != 0)
		diag("state_open %s: %s", dir, e.msg);
	return s;
}

static void
close_state(struct state *s, int64_t now)
{
	struct fed_err e = { "" };

	if (state_close(s, now, &e) != 0)
		diag("state_close: %s", e.msg);
}

/* lock, fn-less: take and release the lock with the record's changes. */
static int
lock(struct state *s, struct state_partner *p, int64_t now)
{
	struct fed_err e = { "" };
	int rc = state_lock(s, p, now, &e);

	if (rc != 0)
		diag("state_lock: %s", e.msg);
	return rc;
}

static int
unlock(struct state *s, struct state_partner *p, int64_t now)
{
	struct fed_err e = { "" };
	int rc = state_unlock(s, p, now, &e);

	if (rc != 0)
		diag("state_unlock: %s", e.msg);
	return rc;
}

static struct state_partner *
get(struct state *s, const char *domain, int64_t now)
{
	struct fed_err e = { "" };
	struct state_partner *p = state_get(s, domain, now, &e);

	if (p == NULL)
		diag("state_get %s: %s", domain, e.msg);
	return p;
}

static void
test_bucket(void)
{
	struct state *s = open_state(at("none"), &prm, 1);
	struct state_partner *p = get(s, "bucket.example", KNOWN_MS);
	int64_t t0, b0;
	int n = 0, i;

	ok(p != NULL && p->bucket_ms == 0, "a new partner's bucket was never "
	    "used");
	ok(state_bucket_peek(p, KNOWN_MS, 20, 20) == 1, "and is full");
	for (i = 0; i < 25; i++)
		n += state_bucket_take(p, KNOWN_MS, 20, 20);
	is_long(n, 20, "a full bucket of 20 gives exactly 20 tokens at once");
	is_long((long)p->tokens_milli, 0, "then it is empty");
	t0 = p->tokens_milli;
	b0 = p->bucket_ms;
	ok(state_bucket_take(p, KNOWN_MS + 49, 20, 20) == 0 &&
	    p->tokens_milli == t0 && p->bucket_ms == b0,
	    "49 ms at 20/s is not a token, and a failed take changes nothing");
	ok(state_bucket_peek(p, KNOWN_MS + 50, 20, 20) == 1,
	    "50 ms at 20/s refills one token (peek)");
	ok(p->bucket_ms == b0, "peek changes nothing");
	ok(state_bucket_take(p, KNOWN_MS + 50, 20, 20) == 1 &&
	    state_bucket_take(p, KNOWN_MS + 50, 20, 20) == 0,
	    "50 ms after empty: exactly one take");
	for (n = 0, i = 0; i < 40; i++)
		n += state_bucket_take(p, KNOWN_MS + 1000000, 20, 20);
	is_long(n, 20, "a long pause refills up to the burst, no more");
	state_bucket_take(p, KNOWN_MS + 2000000, 20, 20);
	is_long((long)p->tokens_milli, 19000, "19 tokens saved");
	for (n = 0, i = 0; i < 5; i++)
		n += state_bucket_take(p, KNOWN_MS + 2000000, 20, 1);
	is_long(n, 1, "a smaller burst (suspicion) caps the saved tokens");
	for (n = 0, i = 0; i < 5; i++)
		n += state_bucket_take(p, KNOWN_MS + 3000000, 0, 3);
	is_long(n, 0, "rate 0 never refills");
	p->tokens_milli = 5000;
	p->bucket_ms = KNOWN_MS;
	for (n = 0, i = 0; i < 10; i++)
		n += state_bucket_take(p, KNOWN_MS - 60000, 20, 20);
	is_long(n, 5, "a clock that went back refills nothing");
	p->tokens_milli = 0;
	p->bucket_ms = 1;
	ok(state_bucket_peek(p, INT64_C(4000000000000000), UINT_MAX,
	    UINT_MAX) == 1, "huge rate, burst and pause do not overflow");
	ok(state_bucket_take(p, INT64_C(4000000000000000), UINT_MAX,
	    UINT_MAX) == 1 && p->tokens_milli ==
	    (int64_t)UINT_MAX * 1000 - 1000, "... and fill the bucket exactly");
	close_state(s, KNOWN_MS);
}

static void
test_uris(void)
{
	struct state *s = open_state(at("none"), &prm, 1);
	struct state_partner *p = get(s, "uris.example", KNOWN_MS), *q;
	char *k1, *k2;
	unsigned i, n;
	int rc = 0;

	is_long(state_uri_count(p), 0, "no URIs at first");
	is_long(state_uri_add(p, "alice@example.com", KNOWN_MS), 1,
	    "a new URI is added");
	ok(p->dirty, "which marks the record dirty");
	is_long(state_uri_add(p, "alice@example.com", KNOWN_MS + 5), 0,
	    "the same URI again is not");
	ok(state_uri_has(p, "alice@example.com") &&
	    !state_uri_has(p, "bob@example.com"), "has");
	is_long(state_uri_add(p, "bob@example.com", KNOWN_MS + 30000), 1,
	    "a second URI half a period later");
	is_long(state_uri_count(p), 2, "two URIs");
	state_expire(p, KNOWN_MS + 59999, &prm);
	is_long(state_uri_count(p), 2, "both within the report period");
	state_expire(p, KNOWN_MS + 60000, &prm);
	ok(state_uri_count(p) == 1 && !state_uri_has(p, "alice@example.com") &&
	    state_uri_has(p, "bob@example.com"),
	    "a URI first seen a whole period ago expires, not a later one");
	is_long(state_uri_add(p, "alice@example.com", KNOWN_MS + 60000), 1,
	    "an expired URI counts as new again");

	is_long(state_uri_add(p, "a b\t\x80" "c@example.com", KNOWN_MS), 1,
	    "a key with a space, a tab and a non-ASCII byte");
	ok(state_uri_has(p, "a b\t\x80" "c@example.com"),
	    "is found again");
	ok(state_uri_has(p, "a%20b%09%80c@example.com"),
	    "as its escaped form (one key, one token)");

	k1 = malloc(3001);
	k2 = malloc(3001);
	memset(k1, 'x', 3000);
	k1[3000] = '\0';
	memcpy(k2, k1, 3001);
	k2[2999] = 'y';
	n = state_uri_count(p);
	ok(state_uri_add(p, k1, KNOWN_MS + 60000) == 1 &&
	    state_uri_add(p, k2, KNOWN_MS + 60000) == 1 &&
	    state_uri_count(p) == n + 2,
	    "two long keys that differ only at the end stay distinct");
	ok(state_uri_has(p, k1) && state_uri_has(p, k2) &&
	    state_uri_add(p, k1, KNOWN_MS + 60000) == 0, "and are found");
	k2[2999] = '\x01';
	ok(state_uri_add(p, k2, KNOWN_MS + 60000) == 1,
	    "even when the tail needs escaping");
	free(k1);
	free(k2);

	q = get(s, "full.example", KNOWN_MS);
	for (i = 0; i < STATE_URIS_MAX && rc != -1; i++) {
		char k[64];

		snprintf(k, sizeof k, "user%u@example.com", i);
		rc = state_uri_add(q, k, KNOWN_MS);
	}
	is_long(state_uri_count(q), STATE_URIS_MAX,
	    "STATE_URIS_MAX distinct URIs are held");
	errno = 0;
	ok(state_uri_add(q, "one-more@example.com", KNOWN_MS) == -1 &&
	    errno == ENOSPC, "one more is refused with ENOSPC");
	ok(state_uri_add(q, "user7@example.com", KNOWN_MS) == 0 &&
	    state_uri_has(q, "user99999@example.com"),
	    "a held URI is still found");
	state_expire(q, KNOWN_MS + 60000, &prm);
	is_long(state_uri_count(q), 0, "and they all expire together");
	close_state(s, KNOWN_MS);
}

static void
test_responses(void)
{
	struct state *s = open_state(at("none"), &prm, 1);
	struct state_partner *p = get(s, "resp.example", KNOWN_MS);
	int64_t slot0 = KNOWN_MS / 5000 * 5000;	/* 60 s / 12 */
	unsigned okc, fail;
	int i;

	for (i = 0; i < 3; i++)
		state_response_add(p, KNOWN_MS, 1, &prm);
	for (i = 0; i < 2; i++)
		state_response_add(p, KNOWN_MS + 1, 0, &prm);
	state_responses(p, KNOWN_MS + 2, &prm, &okc, &fail);
	ok(okc == 3 && fail == 2, "pending responses count (%u, %u)", okc,
	    fail);
	ok(!p->dirty, "responses alone do not make the record dirty");
	state_response_add(p, slot0 + 5000, 0, &prm);
	state_responses(p, slot0 + 5000, &prm, &okc, &fail);
	ok(okc == 3 && fail == 3, "the next slot adds up (%u, %u)", okc, fail);
	state_responses(p, slot0 + 59999, &prm, &okc, &fail);
	ok(okc == 3 && fail == 3, "a slot counts for one period from its "
	    "start (%u, %u)", okc, fail);
	state_responses(p, slot0 + 60000, &prm, &okc, &fail);
	ok(okc == 0 && fail == 1, "then drops out (%u, %u)", okc, fail);
	state_response_add(p, slot0 + 60000, 1, &prm);
	state_responses(p, slot0 + 60000, &prm, &okc, &fail);
	ok(okc == 1 && fail == 1, "a new period reuses the slot (%u, %u)",
	    okc, fail);
	state_expire(p, slot0 + 65000 + 60000, &prm);
	state_responses(p, slot0, &prm, &okc, &fail);
	ok(okc == 0 && fail == 0, "expiry drops old slots (%u, %u)", okc,
	    fail);
	close_state(s, KNOWN_MS);
}

static void
test_peers(void)
{
	struct state *s = open_state(at("none"), &prm, 1);
	struct state_partner *p = get(s, "peers.example", KNOWN_MS);
	char name[32];
	unsigned i;
	int found1 = 0, founda = 0;

	is_long(state_peer_note(p, "192.0.2.1:5061", KNOWN_MS), 1,
	    "a new peer changes the record");
	is_long(state_peer_note(p, "192.0.2.1:5061", KNOWN_MS + 59999), 0,
	    "the same peer within a minute does not");
	is_long(state_peer_note(p, "192.0.2.1:5061", KNOWN_MS + 60000), 1,
	    "after a minute it does");
	ok(p->npeer == 1 && p->peer[0].first_ms == KNOWN_MS &&
	    p->peer[0].last_ms == KNOWN_MS + 60000, "first and last seen");
	for (i = 1; i < STATE_PEERS_MAX; i++) {
		snprintf(name, sizeof name, "p%u", i);
		state_peer_note(p, name, KNOWN_MS + i);
	}
	is_long(p->npeer, STATE_PEERS_MAX, "eight peers");
	state_peer_note(p, "p-new", KNOWN_MS + 70000);
	for (i = 0; i < p->npeer; i++) {
		found1 += strcmp(p->peer[i].name, "p1") == 0;
		founda += strcmp(p->peer[i].name, "192.0.2.1:5061") == 0;
	}
	ok(p->npeer == STATE_PEERS_MAX && !found1 && founda,
	    "a ninth evicts the least recently seen");
	ok(state_peer_note(p, NULL, KNOWN_MS) == 0 &&
	    state_peer_note(p, "", KNOWN_MS) == 0, "no peer: no change");
	state_peer_note(p, "odd peer\x01", KNOWN_MS + 80000);
	for (founda = 0, i = 0; i < p->npeer; i++)
		founda += strcmp(p->peer[i].name, "odd%20peer%01") == 0;
	ok(founda, "a peer name is stored as one token");
	close_state(s, KNOWN_MS);
}

static const char want_file[] =
    "fedkit-state 1\n"
    "partner\tcontoso.com\n"
    "changed\t2026-11-21T22:40:33.123Z\n"
    "bucket\t16.350\t2026-11-21T22:40:33.073Z\n"
    "watch\t2026-11-21T22:40:33.123Z\n"
    "suspicious\t2026-11-21T22:40:33.124Z\n"
    "responses\t2026-11-21T22:40:25.000Z\t0\t1\n"
    "responses\t2026-11-21T22:40:30.000Z\t2\t1\n"
    "peer\t192.0.2.7:5061\t2026-11-21T22:40:33.123Z\t"
    "2026-11-21T22:40:33.123Z\n"
    "uri\talice@example.com\t2026-11-21T22:40:33.123Z\n"
    "uri\tb%20b@example.com\t2026-11-21T22:40:33.123Z\n";

static void
test_file(void)
{
	char dir[256];
	struct state *s, *s2;
	struct state_partner *p, *q;
	struct stat st;
	char path[PATH_MAX], *text, *text2;
	unsigned okc, fail;
	int i;

	snprintf(dir, sizeof dir, "%s", at("st"));
	s = open_state(dir, &prm, 0);
	ok(s != NULL, "state_open creates the directory");
	ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0777) == 0750, "mode 0750");
	text = slurp(at("st/format"));
	is_str(text, "fedkit-state 1\n", "the format file");
	free(text);
	ok(exists(at("st/locks/00")) && exists(at("st/locks/ff")) &&
	    exists(at("st/partners")), "locks/00..ff and partners/");

	p = get(s, "Contoso.COM.", KNOWN_MS);
	ok(p != NULL && strcmp(p->domain, "contoso.com") == 0 &&
	    p->changed_ms == 0, "a partner without a file: normalized, empty");
	ok(lock(s, p, KNOWN_MS - 100) == 0, "lock");
	for (i = 0; i < 3; i++)
		state_bucket_take(p, KNOWN_MS - 100, 7, 20);
	state_bucket_take(p, KNOWN_MS - 50, 7, 20);
	p->watch_ms = KNOWN_MS;
	p->suspicious_ms = KNOWN_MS + 1;
	p->dirty = 1;
	state_peer_note(p, "192.0.2.7:5061", KNOWN_MS);
	state_uri_add(p, "alice@example.com", KNOWN_MS);
	state_uri_add(p, "b b@example.com", KNOWN_MS);
	state_response_add(p, KNOWN_MS, 1, &prm);
	state_response_add(p, KNOWN_MS, 1, &prm);
	state_response_add(p, KNOWN_MS, 0, &prm);
	state_response_add(p, KNOWN_MS - 5000, 0, &prm);
	ok(unlock(s, p, KNOWN_MS) == 0, "unlock writes");
	snprintf(path, sizeof path, "%s/partners/contoso.com", dir);
	text = slurp(path);
	is_str(text, want_file, "the file, byte for byte");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640,
	    "partner files are 0640");
	ok(!p->dirty && p->pend[(KNOWN_MS / 5000) % STATE_SLOTS].ok == 0 &&
	    p->slot[(KNOWN_MS / 5000) % STATE_SLOTS].ok == 2,
	    "clean after the write; pending responses moved to the slots");

	s2 = open_state(dir, &prm, 0);
	q = get(s2, "contoso.com", KNOWN_MS);
	ok(q != NULL && q->changed_ms == KNOWN_MS &&
	    q->tokens_milli == 16350 && q->bucket_ms == KNOWN_MS - 50 &&
	    q->watch_ms == KNOWN_MS && q->suspicious_ms == KNOWN_MS + 1,
	    "read back: times and tokens");
	state_responses(q, KNOWN_MS, &prm, &okc, &fail);
	ok(okc == 2 && fail == 2, "read back: responses (%u, %u)", okc, fail);
	ok(q->npeer == 1 && strcmp(q->peer[0].name, "192.0.2.7:5061") == 0 &&
	    q->peer[0].first_ms == KNOWN_MS, "read back: peers");
	ok(state_uri_count(q) == 2 && state_uri_has(q, "b b@example.com") &&
	    state_uri_has(q, "alice@example.com"), "read back: URIs");
	ok(lock(s2, q, KNOWN_MS) == 0, "lock in a second process");
	q->dirty = 1;
	ok(unlock(s2, q, KNOWN_MS) == 0, "rewrite unchanged");
	text2 = slurp(path);
	is_str(text2, text, "the round trip gives the same bytes");
	free(text2);
	free(text);
	close_state(s2, KNOWN_MS);
	close_state(s, KNOWN_MS);
}

/* What state_get says about a partner file with this text. */
static void
bad_file(const char *text, const char *want_tail, const char *what)
{
	char path[PATH_MAX], want[PATH_MAX + 200];
	struct state *s = open_state(at("st"), &prm, 1);
	struct fed_err e = { "" };
	struct state_partner *p;

	snprintf(path, sizeof path, "%s/partners/m.example", at("st"));
	write_text(path, text);
	p = state_get(s, "m.example", KNOWN_MS, &e);
	ok(p == NULL, "refused: %s", what);
	snprintf(want, sizeof want, "%s%s", path, want_tail);
	is_str(e.msg, want, "message for %s", what);
	close_state(s, KNOWN_MS);
	unlink(path);
}

static void
test_bad_files(void)
{
	char path[PATH_MAX], dir[256];
	struct state *s, *s2;
	struct fed_err e = { "" };
	struct state_partner *p;
	unsigned i;
	int fd, all = 1;

	bad_file("fedkit-state 2\npartner\tm.example\n",
	    ": state format version 2, this fedkit reads version 1",
	    "another version");
	bad_file("garbage\n",
	    ":1: not a fedkit state file (no \"fedkit-state 1\" line)",
	    "not a state file");
	bad_file("", ": empty, not a fedkit state file", "an empty file");
	bad_file("fedkit-state 1\npartner\tm.example", ":2: no newline at "
	    "the end: cut short?", "a cut file");
	bad_file("fedkit-state 1\npartner\tm.example\nbogus\tx\n",
	    ":3: unknown record \"bogus\"", "an unknown record");
	bad_file("fedkit-state 1\npartner\tother.example\n",
	    ":2: partner \"other.example\" in the file of m.example",
	    "another partner's file");
	bad_file("fedkit-state 1\n# comment\n\npartner\tm.example\n"
	    "bucket\t1.5\t2026-11-21T22:40:33.123Z\n",
	    ":5: bad token count \"1.5\" (want digits, a dot, three digits)",
	    "tokens not in fixed point (comments and blank lines skipped)");
	bad_file("fedkit-state 1\npartner\tm.example\nchanged\t2026-13-01\n",
	    ":3: bad time \"2026-13-01\" (want 2026-11-22T01:00:00.000Z)",
	    "a bad time");
	bad_file("fedkit-state 1\npartner\tm.example\nuri\ta b\t"
	    "2026-11-21T22:40:33.123Z\n", ":3: bad URI key \"a b\"",
	    "a key with a space");
	bad_file("fedkit-state 1\npartner\tm.example\nuri\ta\n",
	    ":3: uri: 2 fields, want 3", "a short line");
	bad_file("fedkit-state 1\npartner\tm.example\n"
	    "uri\ta\t2026-11-21T22:40:33.123Z\n"
	    "uri\ta\t2026-11-21T22:40:33.123Z\n",
	    ":4: a second line for the same URI", "a duplicate URI");
	bad_file("fedkit-state 1\npartner\tm.example\npartner\tm.example\n",
	    ":3: a second partner line", "a duplicate partner line");
	bad_file("fedkit-state 1\npartner\tm.example\nwatch\t\t1\n",
	    ":3: empty field 2", "an empty field");
	bad_file("fedkit-state 1\nchanged\t2026-11-21T22:40:33.123Z\n",
	    ": no partner line", "no partner line");

	/* A record that was read stays when its file turns bad. */
	s = open_state(at("st"), &prm, 0);
	s2 = open_state(at("st"), &prm, 0);
	p = get(s, "keep.example", KNOWN_MS);
	lock(s, p, KNOWN_MS);
	state_uri_add(p, "one@example.com", KNOWN_MS);
	unlock(s, p, KNOWN_MS);
	snprintf(path, sizeof path, "%s/partners/keep.example", at("st"));
	write_text(path, "fedkit-state 1\npartner\tkeep.example\n"
	    "uri\tx\t2026-11-21T22:40:33.123Z\nuri\ty\tnot-a-time\n");
	ok(state_lock(s, p, KNOWN_MS, &e) == -1 &&
	    strstr(e.msg, "partners/keep.example:4: bad time") != NULL,
	    "state_lock on a malformed file fails: %s", e.msg);
	ok(!p->locked && state_uri_count(p) == 1 &&
	    state_uri_has(p, "one@example.com"),
	    "and leaves the record as it was");
	for (i = 0; i < 256; i++) {
		snprintf(path, sizeof path, "%s/locks/%02x", at("st"), i);
		fd = open(path, O_RDONLY);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0)
			all = 0;
		if (fd >= 0)
			close(fd);
	}
	ok(all, "and releases the lock");
	ok(state_get(s2, "keep.example", KNOWN_MS, &e) == NULL,
	    "a fresh reader refuses it too");
	ok(state_clear(s2, "keep.example", KNOWN_MS, &e) == -1,
	    "and does not overwrite it: %s", e.msg);
	snprintf(path, sizeof path, "%s/partners/keep.example", at("st"));
	unlink(path);
	close_state(s2, KNOWN_MS);
	close_state(s, KNOWN_MS);

	snprintf(dir, sizeof dir, "%s", at("v9"));
	mkdir(dir, 0755);
	snprintf(path, sizeof path, "%s/format", dir);
	write_text(path, "fedkit-state 9\n");
	s = NULL;
	ok(state_open(&s, dir, &prm, 0, &e) == -1 && s == NULL,
	    "a state directory of another version is refused");
	snprintf(path, sizeof path, "%s/format: state format version 9, "
	    "this fedkit reads version 1", dir);
	is_str(e.msg, path, "with a message naming the versions");
	ok(state_open(&s, dir, &prm, 1, &e) == -1,
	    "also in dry-run mode");
	ok(state_open(&s, at("missing/st"), &prm, 0, &e) == -1 &&
	    strstr(e.msg, "missing/st: mkdir: No such file") != NULL,
	    "the parent must exist: %s", e.msg);
	s = open_state(at("st"), &prm, 1);
	ok(state_get(s, "bad..name", 0, &e) == NULL &&
	    strstr(e.msg, "partner domain") != NULL,
	    "an invalid domain is refused: %s", e.msg);
	close_state(s, 0);
}

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

static void
test_dry_run(void)
{
	char dir[256];
	struct state *s;
	struct state_partner *p;
	struct fed_err e = { "" };
	char path[PATH_MAX], *before, *after;
	int rc = 0, n;

	snprintf(dir, sizeof dir, "%s", at("dry"));
	s = open_state(dir, &prm, 1);
	ok(s != NULL, "dry run on a missing directory");
	p = get(s, "dry.example", T);
	rc |= p == NULL;
	rc |= state_lock(s, p, T, &e);
	state_uri_add(p, "a@example.com", T);
	state_bucket_take(p, T, 20, 20);
	state_response_add(p, T, 1, &prm);
	rc |= state_unlock(s, p, T, &e);
	rc |= state_flush_due(s, T + 5000, &e);
	rc |= state_sweep(s, T + 5000, &e);
	rc |= state_clear(s, "other.example", T, &e);
	p = get(s, "dry.example", T + 5000);
	ok(rc == 0 && p != NULL && state_uri_count(p) == 1 &&
	    p->tokens_milli == 19000, "every call works, in memory");
	rc = state_close(s, T + 6000, &e);
	ok(rc == 0 && !exists(dir), "and nothing was created");

	/* An existing directory is read, never written. */
	snprintf(path, sizeof path, "%s/partners/contoso.com", at("st"));
	before = slurp(path);
	n = count_entries(at("st/partners"));
	s = open_state(at("st"), &prm, 1);
	p = get(s, "contoso.com", KNOWN_MS);
	ok(p != NULL && state_uri_count(p) == 2, "dry run reads the file");
	lock(s, p, KNOWN_MS);
	state_uri_add(p, "new@example.com", KNOWN_MS);
	p->watch_ms = 0;
	p->dirty = 1;
	unlock(s, p, KNOWN_MS);
	state_response_add(p, KNOWN_MS, 1, &prm);
	state_flush_due(s, KNOWN_MS + 5000, &e);
	state_sweep(s, T + 1000000, &e);
	state_close(s, T + 6000, &e);
	after = slurp(path);
	is_str(after, before, "and leaves it as it was");
	is_long(count_entries(at("st/partners")), n, "no file appeared");
	ok(!exists(at("st/sweep")), "not even the sweep stamp");
	free(before);
	free(after);
}

/* Write a partner with one URI at `now` (its "changed" time). */
static void
put(struct state *s, const char *domain, int64_t now, int watch)
{
	struct state_partner *p = get(s, domain, now);

	if (p == NULL || lock(s, p, now) != 0)
		return;
	state_uri_add(p, "x@example.com", now);
	if (watch)
		p->watch_ms = now;
	p->dirty = 1;
	unlock(s, p, now);
}

static void
test_sweep(void)
{
	struct state_params wp = { 60, 60 };
	char dir[256];
	struct state *s, *s2;
	struct state_partner *p;
	struct fed_err e = { "" };
	struct timespec old[2];
	char path[PATH_MAX];
	int64_t now = T + 120000;

	snprintf(dir, sizeof dir, "%s", at("sw"));
	s = open_state(dir, &prm, 0);
	put(s, "old.example", T, 0);
	put(s, "watched.example", T, 1);
	put(s, "recent.example", now - 1000, 0);
	put(s, "mail.tmp.global", now - 1000, 0);
	write_text(at("sw/partners/old.example.tmp.Ab12Cd"), "half");
	write_text(at("sw/partners/old.example.tmp.ab12cd"), "half");
	write_text(at("sw/partners/recent.example.tmp.Ab12Cd"), "half");
	write_text(at("sw/partners/x_y.tmp.abcdef"), "stray, old");
	write_text(at("sw/partners/y_z.tmp.abcdef"), "stray, new");
	/* Files' times are real ones; the sweep's now is two minutes on. */
	old[0].tv_sec = old[1].tv_sec = (time_t)(T / 1000 - 120);
	old[0].tv_nsec = old[1].tv_nsec = 0;
	utimensat(AT_FDCWD, at("sw/partners/x_y.tmp.abcdef"), old, 0);
	old[0].tv_sec = old[1].tv_sec = (time_t)(now / 1000 - 1);
	utimensat(AT_FDCWD, at("sw/partners/y_z.tmp.abcdef"), old, 0);

	ok(state_sweep(s, now, &e) == 0, "sweep: %s", e.msg);
	ok(!exists(at("sw/partners/old.example")),
	    "a partner unchanged for a period is removed");
	ok(exists(at("sw/partners/watched.example")),
	    "a watched one is kept");
	ok(exists(at("sw/partners/recent.example")),
	    "a recently changed one is kept");
	ok(!exists(at("sw/partners/old.example.tmp.Ab12Cd")) &&
	    !exists(at("sw/partners/recent.example.tmp.Ab12Cd")),
	    "a dead writer's temporary files are removed at once");
	ok(!exists(at("sw/partners/old.example.tmp.ab12cd")),
	    "also one whose name is a domain name too");
	ok(exists(at("sw/partners/mail.tmp.global")),
	    "but not a partner whose name looks like a temporary file's");
	ok(!exists(at("sw/partners/x_y.tmp.abcdef")) &&
	    exists(at("sw/partners/y_z.tmp.abcdef")),
	    "a stray one only when a minute old");
	ok(exists(at("sw/sweep")), "the stamp is there");

	p = get(s, "old.example", now);
	ok(p != NULL && state_uri_count(p) == 0 && p->changed_ms == 0,
	    "a cached record sees the removal");

	put(s, "old2.example", T, 0);
	ok(state_sweep(s, now + 4999, &e) == 0 &&
	    exists(at("sw/partners/old2.example")),
	    "within report_period/12 of the last sweep, no sweep");
	ok(state_sweep(s, now + 5000, &e) == 0 &&
	    !exists(at("sw/partners/old2.example")),
	    "after it, a sweep");

	s2 = open_state(dir, &wp, 0);
	ok(state_sweep(s2, now + 10000, &e) == 0 &&
	    !exists(at("sw/partners/watched.example")) &&
	    exists(at("sw/partners/recent.example")),
	    "with watch_expire, an expired watch is removed too");
	close_state(s2, now);
	snprintf(path, sizeof path, "%s/partners/recent.example", dir);
	ok(state_sweep(s, now + 1000000, &e) == 0 && !exists(path) &&
	    !exists(at("sw/partners/mail.tmp.global")),
	    "everything goes in the end");
	close_state(s, now);
}

static void
test_clear(void)
{
	struct state *s = open_state(at("st"), &prm, 0), *s2;
	struct state_partner *p, *q;
	struct fed_err e = { "" };
	unsigned okc, fail;

	p = get(s, "c.example", T);
	lock(s, p, T);
	p->watch_ms = T;
	p->suspicious_ms = T;
	p->dirty = 1;
	state_uri_add(p, "a@example.com", T);
	state_bucket_take(p, T, 20, 20);
	state_response_add(p, T, 0, &prm);
	unlock(s, p, T);
	state_response_add(p, T, 0, &prm);	/* still pending */
	s2 = open_state(at("st"), &prm, 0);
	ok(state_clear(s2, "c.example", T + 10, &e) == 0, "clear: %s", e.msg);
	close_state(s2, T);
	s2 = open_state(at("st"), &prm, 0);
	q = get(s2, "c.example", T + 20);
	state_responses(q, T + 20, &prm, &okc, &fail);
	ok(q != NULL && q->watch_ms == 0 && q->suspicious_ms == 0 &&
	    state_uri_count(q) == 0 && okc == 0 && fail == 0,
	    "no watch, no suspicion, no URIs, no responses");
	ok(q != NULL && q->tokens_milli == 19000, "the bucket is kept");
	close_state(s2, T);
	p = get(s, "c.example", T + 2000);
	ok(p->watch_ms == 0 && state_uri_count(p) == 0,
	    "another process sees the clear within a second");
	state_clear(s, "c.example", T + 2000, &e);
	ok(state_clear(s, "never.example", T, &e) == 0 &&
	    !exists(at("st/partners/never.example")),
	    "clearing a partner without a file writes none");
	close_state(s, T);
}

static void
test_processes(void)
{
	struct state *a = open_state(at("st"), &prm, 0);
	struct state *b = open_state(at("st"), &prm, 0);
	struct state_partner *pa, *pb;
	int i;

	pa = get(a, "x.example", T);
	pb = get(b, "x.example", T);
	lock(b, pb, T);
	state_uri_add(pb, "u1@example.com", T);
	unlock(b, pb, T);
	pa = get(a, "x.example", T + 10);
	is_long(state_uri_count(pa), 0, "outside the lock, a copy may be stale "
	    "for a second");
	lock(a, pa, T + 10);
	is_long(state_uri_count(pa), 1, "the lock brings it up to date");
	state_uri_add(pa, "u2@example.com", T + 10);
	unlock(a, pa, T + 10);
	lock(b, pb, T + 20);
	is_long(state_uri_count(pb), 2, "and the other process sees both");
	unlock(b, pb, T + 20);

	/* Rewrites of the same size, many times, while a holds an old copy:
	 * the identity check must still see each one. */
	for (i = 0; i < 10; i++) {
		lock(b, pb, T + 100 + i);
		state_bucket_take(pb, T + 100, 0, 20);
		unlock(b, pb, T + 100 + i);
	}
	lock(a, pa, T + 200);
	is_long((long)pa->tokens_milli, 10000,
	    "same-size rewrites are all seen");
	state_bucket_take(pa, T + 200, 0, 20);
	unlock(a, pa, T + 200);
	pb = get(b, "x.example", T + 1200);
	is_long((long)pb->tokens_milli, 9000,
	    "state_get re-reads a changed file after a second");
	close_state(a, T);
	close_state(b, T);
}

/*
 * The identity check against inode reuse: the file a reader holds is
 * replaced twice with the same size, and the second replacement gets the
 * mtime of the first (as within one timestamp tick).  File systems reuse
 * a freed inode number at once, so only a reader that keeps its file open
 * can tell the new file from the one it read.
 */
static void
test_inode_reuse(void)
{
	struct state *a = open_state(at("st"), &prm, 0);
	struct state *b = open_state(at("st"), &prm, 0);
	struct state_partner *pa, *pb;
	struct timespec ts[2];
	struct stat st;
	int64_t m;
	int i;

	pb = get(b, "aba.example", T);
	lock(b, pb, T);
	state_bucket_take(pb, T, 0, 20);
	unlock(b, pb, T);
	pa = get(a, "aba.example", T);
	m = pa->mtime_ns;
	for (i = 0; i < 2; i++) {
		lock(b, pb, T);
		state_bucket_take(pb, T, 0, 20);
		unlock(b, pb, T);
	}
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(m / 1000000000);
	ts[0].tv_nsec = ts[1].tv_nsec = (long)(m % 1000000000);
	utimensat(AT_FDCWD, at("st/partners/aba.example"), ts, 0);
	if (stat(at("st/partners/aba.example"), &st) == 0)
		diag("inode %s after two rewrites", st.st_ino == pa->ino ?
		    "reused" : "not reused");
	lock(a, pa, T);
	is_long((long)pa->tokens_milli, 17000,
	    "a reader sees a rewrite that got its file's inode, size and mtime");
	unlock(a, pa, T);
	close_state(a, T);
	close_state(b, T);
}

static void
test_flush(void)
{
	struct state *s = open_state(at("st"), &prm, 0), *r;
	struct state_partner *p, *q;
	struct fed_err e = { "" };
	unsigned okc = 0, fail = 0;

	p = get(s, "f.example", T);
	state_response_add(p, T, 1, &prm);
	ok(state_flush_due(s, T, &e) == 0 && exists(at("st/partners/f.example")),
	    "the first response is written at once");
	state_response_add(p, T + 10, 1, &prm);
	state_flush_due(s, T + 10, &e);
	state_flush_due(s, T + 500, &e);
	r = open_state(at("st"), &prm, 0);
	q = get(r, "f.example", T + 500);
	state_responses(q, T + 500, &prm, &okc, &fail);
	is_long(okc, 1, "the next waits for the second to pass");
	close_state(r, T);
	state_flush_due(s, T + 1000, &e);
	r = open_state(at("st"), &prm, 0);
	q = get(r, "f.example", T + 1000);
	state_responses(q, T + 1000, &prm, &okc, &fail);
	is_long(okc, 2, "then it is written");
	close_state(r, T);
	state_responses(p, T + 1000, &prm, &okc, &fail);
	is_long(okc, 2, "and counted once in the writer");
	state_responses(p, T / 5000 * 5000 + 59999, &prm, &okc, &fail);
	is_long(okc, 2, "a written slot counts until a period after its start");
	state_responses(p, T / 5000 * 5000 + 60000, &prm, &okc, &fail);
	is_long(okc, 0, "and not from then on");
	state_response_add(p, T + 1100, 0, &prm);
	close_state(s, T + 1100);
	r = open_state(at("st"), &prm, 0);
	q = get(r, "f.example", T + 1100);
	state_responses(q, T + 1100, &prm, &okc, &fail);
	ok(okc == 2 && fail == 1, "state_close writes what is pending");
	close_state(r, T);
}

/* A process whose clock is behind flushes a slot that another process
 * has meanwhile reused for the next period: the older counts are dropped. */
static void
test_merge(void)
{
	struct state *a = open_state(at("st"), &prm, 0);
	struct state *b = open_state(at("st"), &prm, 0);
	struct state_partner *pa, *pb;
	unsigned okc, fail;

	pa = get(a, "merge.example", T);
	state_response_add(pa, T, 1, &prm);
	pb = get(b, "merge.example", T + 60000);
	state_response_add(pb, T + 60000, 0, &prm);
	lock(b, pb, T + 60000);
	unlock(b, pb, T + 60000);
	lock(a, pa, T + 1);
	unlock(a, pa, T + 1);
	close_state(a, T + 1);
	close_state(b, T + 60000);
	b = open_state(at("st"), &prm, 0);
	pb = get(b, "merge.example", T + 60001);
	state_responses(pb, T + 60001, &prm, &okc, &fail);
	ok(okc == 0 && fail == 1, "older pending counts never replace a newer "
	    "slot (%u, %u)", okc, fail);
	close_state(b, T + 60001);
}

struct seen {
	char names[8][DOMAIN_MAX + 16];
	int n, stop;
};

static int
walk_fn(const struct state_partner *p, void *arg)
{
	struct seen *w = arg;

	if (w->n < 8)
		snprintf(w->names[w->n++], sizeof w->names[0], "%s:%u", p->domain,
		    state_uri_count(p));
	return w->stop;
}

static void
test_walk(void)
{
	struct state *s = open_state(at("wk"), &prm, 0);
	struct seen w;
	struct fed_err e = { "" };
	int rc;

	put(s, "b.example", T, 0);
	put(s, "a.example", T, 0);
	put(s, "mail.tmp.global", T, 0);
	write_text(at("wk/partners/bad.example"), "fedkit-state 1\n");
	write_text(at("wk/partners/a.example.tmp.XXyyZZ"), "half");
	write_text(at("wk/partners/a.example.tmp.xxyyzz"), "half");
	write_text(at("wk/partners/README"), "not a partner");
	memset(&w, 0, sizeof w);
	rc = state_walk(s, T, walk_fn, &w, &e);
	ok(w.n == 3 && strcmp(w.names[0], "a.example:1") == 0 &&
	    strcmp(w.names[1], "b.example:1") == 0 &&
	    strcmp(w.names[2], "mail.tmp.global:1") == 0,
	    "walk: every readable partner, in name order, no temporary file");
	ok(rc == -1 && strstr(e.msg, "partners/bad.example: no partner line") !=
	    NULL, "then fails naming the bad file: %s", e.msg);
	memset(&w, 0, sizeof w);
	w.stop = 1;
	rc = state_walk(s, T, walk_fn, &w, &e);
	ok(rc == 0 && w.n == 1, "a non-zero return stops the walk");
	close_state(s, T);
}

int
main(void)
{
	umask(022);
	if (mkdtemp(base) == NULL)
		return 1;
	T = real_now();
	test_bucket();
	test_uris();
	test_responses();
	test_peers();
	test_file();
	test_bad_files();
	test_dry_run();
	test_sweep();
	test_clear();
	test_processes();
	test_inode_reuse();
	test_flush();
	test_merge();
	test_walk();
	if (tap_failed == 0) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
		if (system(cmd) != 0)
			diag("could not remove %s", base);
	} else
		diag("kept %s", base);
	return done_testing();
}
