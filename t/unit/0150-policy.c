/* 0150-policy: policy_decide applies the rules of SPEC 1.5, in that order. */
#include <string.h>

#include "conf.h"
#include "policy.h"
#include "tap.h"

/* Rows are "a clean request, then these changes": a later designated
 * initializer overriding BASE is the point, not a slip. */
#pragma GCC diagnostic ignored "-Woverride-init"

/* A discovered partner's clean request: accepted. */
#define BASE .mode = FED_OPEN, .ruri_local = 1, .method_ok = 1, \
	.uris_limited = 1, .max_uris = 1000, .distinct_uris = 10, \
	.uri_new = 1, .rate_limited = 1, .token = 1

/* An allow-listed partner without limits of its own. */
#define ALLOWED .allowed = 1, .uris_limited = 0, .rate_limited = 0

#define A VERDICT_ACCEPT
#define L VERDICT_LIMIT
#define R VERDICT_REFUSE

static const struct row {
	const char *name;
	struct policy_facts f;
	enum verdict verdict;
	enum reason reason;
	int code;
	int watch_now;
} rows[] = {
	/* Each rule applies. */
	{ "clean discovered request", { BASE }, A, REASON_DISCOVERED, -1, 0 },
	{ "clean allow-listed request", { BASE, ALLOWED },
	    A, REASON_ALLOWLISTED, -1, 0 },
	{ "malformed: 400", { BASE, .malformed = 1, .malformed_code = 400 },
	    R, REASON_MALFORMED, 400, 0 },
	{ "malformed: the parser's 505",
	    { BASE, .malformed = 1, .malformed_code = 505 },
	    R, REASON_MALFORMED, 505, 0 },
	{ "malformed: the parser's 513",
	    { BASE, .malformed = 1, .malformed_code = 513 },
	    R, REASON_MALFORMED, 513, 0 },
	{ "malformed, no response possible: no code",
	    { BASE, .malformed = 1, .malformed_code = 0 },
	    R, REASON_MALFORMED, -1, 0 },
	{ "federation off", { BASE, .mode = FED_OFF },
	    R, REASON_FEDERATION_OFF, 403, 0 },
	{ "federation off refuses an allow-listed partner",
	    { BASE, ALLOWED, .mode = FED_OFF },
	    R, REASON_FEDERATION_OFF, 403, 0 },
	{ "spoof: From host is ours", { BASE, .from_local = 1 },
	    R, REASON_SPOOF, 403, 0 },
	{ "spoof: From host is an IP literal", { BASE, .from_not_domain = 1 },
	    R, REASON_SPOOF, 403, 0 },
	{ "not_local: no relaying", { BASE, .ruri_local = 0 },
	    R, REASON_NOT_LOCAL, 404, 0 },
	{ "blocked", { BASE, .blocked = 1 }, R, REASON_BLOCKED, 403, 0 },
	{ "method: REGISTER", { BASE, .method_ok = 0 },
	    R, REASON_METHOD, 405, 0 },
	{ "scanner", { BASE, .scanner = 1 }, R, REASON_SCANNER, 403, 0 },
	{ "not_allowed in allowlist mode",
	    { BASE, .mode = FED_ALLOWLIST, .allowed = 0 },
	    R, REASON_NOT_ALLOWED, 403, 0 },
	{ "unverified", { BASE, .verify_needed = 1, .verified = 0 },
	    R, REASON_UNVERIFIED, 403, 0 },
	{ "watched", { BASE, .watched = 1 }, R, REASON_WATCH, 403, 0 },
	{ "rate", { BASE, .token = 0 }, L, REASON_RATE, 503, 0 },
	{ "suspicious", { BASE, .token = 0, .suspicious = 1 },
	    L, REASON_SUSPICIOUS, 503, 0 },

	/* Block wins over allow in every mode. */
	{ "open: on both lists is blocked",
	    { BASE, ALLOWED, .blocked = 1 }, R, REASON_BLOCKED, 403, 0 },
	{ "allowlist: on both lists is blocked",
	    { BASE, ALLOWED, .mode = FED_ALLOWLIST, .blocked = 1 },
	    R, REASON_BLOCKED, 403, 0 },
	{ "off: on both lists is still refused",
	    { BASE, ALLOWED, .mode = FED_OFF, .blocked = 1 },
	    R, REASON_FEDERATION_OFF, 403, 0 },

	/* Allowlist mode. */
	{ "allowlist: listed partner accepted",
	    { BASE, ALLOWED, .mode = FED_ALLOWLIST },
	    A, REASON_ALLOWLISTED, -1, 0 },
	{ "allowlist: entry's own rate limits",
	    { BASE, ALLOWED, .mode = FED_ALLOWLIST, .rate_limited = 1,
	    .token = 0 }, L, REASON_RATE, 503, 0 },
	{ "allowlist: entry's own max_uris watches",
	    { BASE, ALLOWED, .mode = FED_ALLOWLIST, .uris_limited = 1,
	    .max_uris = 50, .distinct_uris = 50 }, R, REASON_WATCH, 403, 1 },
	{ "allowlist: listed but unverified",
	    { BASE, ALLOWED, .mode = FED_ALLOWLIST, .verify_needed = 1 },
	    R, REASON_UNVERIFIED, 403, 0 },
	{ "open: allow-listed, verified", { BASE, ALLOWED,
	    .verify_needed = 1, .verified = 1 }, A, REASON_ALLOWLISTED, -1, 0 },
	{ "no verification needed: unverified is fine",
	    { BASE, .verify_needed = 0, .verified = 0 },
	    A, REASON_DISCOVERED, -1, 0 },

	/* The watch boundary: at most max_uris distinct URIs accepted. */
	{ "999 distinct, a new one: accepted (the 1000th)",
	    { BASE, .distinct_uris = 999, .uri_new = 1 },
	    A, REASON_DISCOVERED, -1, 0 },
	{ "1000 distinct, a new one: watch, and it crosses",
	    { BASE, .distinct_uris = 1000, .uri_new = 1 },
	    R, REASON_WATCH, 403, 1 },
	{ "1000 distinct, a known one: accepted",
	    { BASE, .distinct_uris = 1000, .uri_new = 0 },
	    A, REASON_DISCOVERED, -1, 0 },
	{ "already watched, known URI: watch, not crossing again",
	    { BASE, .watched = 1, .distinct_uris = 1001, .uri_new = 0 },
	    R, REASON_WATCH, 403, 0 },
	{ "already watched, new URI: watch, not crossing again",
	    { BASE, .watched = 1, .distinct_uris = 1001, .uri_new = 1 },
	    R, REASON_WATCH, 403, 0 },
	{ "watched with few URIs (period rolled): still watch",
	    { BASE, .watched = 1, .distinct_uris = 0 },
	    R, REASON_WATCH, 403, 0 },
	{ "watch beats the bucket",
	    { BASE, .watched = 1, .token = 0, .suspicious = 1 },
	    R, REASON_WATCH, 403, 0 },
	{ "crossing beats the bucket",
	    { BASE, .distinct_uris = 1000, .token = 0 },
	    R, REASON_WATCH, 403, 1 },
	{ "max_uris 1: the second new URI crosses",
	    { BASE, .max_uris = 1, .distinct_uris = 1 },
	    R, REASON_WATCH, 403, 1 },

	/* Exemptions: no limit applies, none is enforced. */
	{ "no URI limit: 5000 distinct, new, accepted",
	    { BASE, ALLOWED, .distinct_uris = 5000 },
	    A, REASON_ALLOWLISTED, -1, 0 },
	{ "no URI limit: a watched partner is let in (allow-listing lifts)",
	    { BASE, ALLOWED, .watched = 1 }, A, REASON_ALLOWLISTED, -1, 0 },
	{ "no rate: no token, accepted", { BASE, ALLOWED, .token = 0 },
	    A, REASON_ALLOWLISTED, -1, 0 },
	{ "no rate: suspicious and no token, accepted",
	    { BASE, ALLOWED, .token = 0, .suspicious = 1 },
	    A, REASON_ALLOWLISTED, -1, 0 },
	{ "suspicious with a token: accepted",
	    { BASE, .suspicious = 1 }, A, REASON_DISCOVERED, -1, 0 },
	{ "entry's rate, suspicious: limited as suspicious",
	    { BASE, ALLOWED, .rate_limited = 1, .token = 0, .suspicious = 1 },
	    L, REASON_SUSPICIOUS, 503, 0 },

	/* ACK: judged alike, never answered. */
	{ "ACK accepted", { BASE, .is_ack = 1 }, A, REASON_DISCOVERED, -1, 0 },
	{ "ACK malformed", { BASE, .is_ack = 1, .malformed = 1,
	    .malformed_code = 400 }, R, REASON_MALFORMED, -1, 0 },
	{ "ACK blocked", { BASE, .is_ack = 1, .blocked = 1 },
	    R, REASON_BLOCKED, -1, 0 },
	{ "ACK not_local", { BASE, .is_ack = 1, .ruri_local = 0 },
	    R, REASON_NOT_LOCAL, -1, 0 },
	{ "ACK rate", { BASE, .is_ack = 1, .token = 0 },
	    L, REASON_RATE, -1, 0 },
	{ "ACK crossing max_uris still crosses",
	    { BASE, .is_ack = 1, .distinct_uris = 1000 },
	    R, REASON_WATCH, -1, 1 },
};

/*
 * The rules as switches, in SPEC 1.5 order: every pair of them turned on
 * together must be decided by the earlier one.
 */
static const struct rule {
	enum reason reason;
	int code;
} rules[] = {
	{ REASON_MALFORMED, 400 },
	{ REASON_FEDERATION_OFF, 403 },
	{ REASON_SPOOF, 403 },
	{ REASON_NOT_LOCAL, 404 },
	{ REASON_BLOCKED, 403 },
	{ REASON_METHOD, 405 },
	{ REASON_SCANNER, 403 },
	{ REASON_NOT_ALLOWED, 403 },
	{ REASON_UNVERIFIED, 403 },
	{ REASON_WATCH, 403 },
	{ REASON_SUSPICIOUS, 503 },
	{ REASON_RATE, 503 },
};
#define NRULES (sizeof rules / sizeof rules[0])

/* Turn rule i on in f. */
static void
set_rule(struct policy_facts *f, size_t i)
{
	switch (rules[i].reason) {
	case REASON_MALFORMED:
		f->malformed = 1;
		f->malformed_code = 400;
		break;
	case REASON_FEDERATION_OFF:
		f->mode = FED_OFF;
		break;
	case REASON_SPOOF:
		f->from_local = 1;
		break;
	case REASON_NOT_LOCAL:
		f->ruri_local = 0;
		break;
	case REASON_BLOCKED:
		f->blocked = 1;
		break;
	case REASON_METHOD:
		f->method_ok = 0;
		break;
	case REASON_SCANNER:
		f->scanner = 1;
		break;
	case REASON_NOT_ALLOWED:
		if (f->mode != FED_OFF)	/* off is stronger, keep it */
			f->mode = FED_ALLOWLIST;
		f->allowed = 0;
		break;
	case REASON_UNVERIFIED:
		f->verify_needed = 1;
		f->verified = 0;
		break;
	case REASON_WATCH:
		f->watched = 1;
		break;
	case REASON_SUSPICIOUS:
		f->suspicious = 1;
		f->token = 0;
		break;
	case REASON_RATE:
		f->token = 0;
		break;
	default:
		break;
	}
}

static void
check(const char *name, const struct policy_facts *f, enum verdict v,
    enum reason r, int code, int watch_now)
{
	struct policy_decision d = policy_decide(f);
	int good = d.verdict == v && d.reason == r && d.code == code &&
	    d.watch_now == watch_now;

	ok(good, "%s: %s %s %d%s", name, verdict_name(v), reason_name(r), code,
	    watch_now ? " (watch now)" : "");
	if (!good)
		diag("  got %s %s %d watch_now=%d", verdict_name(d.verdict),
		    reason_name(d.reason), d.code, d.watch_now);
}

static void
test_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
		check(rows[i].name, &rows[i].f, rows[i].verdict, rows[i].reason,
		    rows[i].code, rows[i].watch_now);
}

static void
test_order(void)
{
	const struct policy_facts base = { BASE };
	struct policy_facts f;
	char name[128];
	size_t i, j;
	int all_good = 1;

	/* Adjacent pairs, each a test of its own, so a swap is named. */
	for (i = 0; i + 1 < NRULES; i++) {
		f = base;
		set_rule(&f, i);
		set_rule(&f, i + 1);
		snprintf(name, sizeof name, "order: %s before %s",
		    reason_name(rules[i].reason),
		    reason_name(rules[i + 1].reason));
		check(name, &f, reason_verdict(rules[i].reason),
		    rules[i].reason, rules[i].code, 0);
	}
	/* Every pair, and every pair as an ACK. */
	for (i = 0; i < NRULES; i++)
		for (j = i + 1; j < NRULES; j++) {
			struct policy_decision d;

			f = base;
			set_rule(&f, j);
			set_rule(&f, i);
			d = policy_decide(&f);
			if (d.reason != rules[i].reason || d.code != rules[i].code)
				all_good = 0, diag("  %s with %s gave %s",
				    reason_name(rules[i].reason),
				    reason_name(rules[j].reason),
				    reason_name(d.reason));
			f.is_ack = 1;
			d = policy_decide(&f);
			if (d.reason != rules[i].reason || d.code != -1)
				all_good = 0, diag("  ACK: %s with %s gave %s %d",
				    reason_name(rules[i].reason),
				    reason_name(rules[j].reason),
				    reason_name(d.reason), d.code);
		}
	ok(all_good, "order: of every two rules the earlier wins (and ACKs "
	    "get no code)");

	/* Everything at once: malformed. */
	f = base;
	for (i = 0; i < NRULES; i++)
		set_rule(&f, i);
	check("all rules at once", &f, VERDICT_REFUSE, REASON_MALFORMED, 400,
	    0);
}

static void
test_names(void)
{
	static const struct {
		int code;
		const char *phrase;
	} phrases[] = {
		{ 400, "Bad Request" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 503, "Service Unavailable" }, { 505, "Version Not Supported" },
		{ 513, "Message Too Large" }, { 599, "Server Failure" },
		{ 42, "Unknown" },
	};
	int good = 1, i;
	enum verdict v;
	enum reason r;

	for (i = 0; i < 4; i++) {
		const char *n = verdict_name((enum verdict)i);

		good &= verdict_from_name(n, strlen(n), &v) == 0 &&
		    v == (enum verdict)i;
	}
	ok(good, "verdict names round-trip");
	good = 1;
	for (i = 0; i < REASON__COUNT; i++) {
		const char *n = reason_name((enum reason)i);

		good &= reason_from_name(n, strlen(n), &r) == 0 &&
		    r == (enum reason)i;
	}
	ok(good, "reason names round-trip");
	ok(verdict_from_name("acept", 5, &v) < 0 &&
	    reason_from_name("rat", 3, &r) < 0 &&
	    reason_from_name("rate\0", 5, &r) < 0 &&
	    verdict_from_name("ACCEPT", 6, &v) < 0, "unknown names refused");
	is_str(reason_name(REASON_NOT_LOCAL), "not_local", "reason not_local");
	is_str(reason_name(REASON_FEDERATION_OFF), "federation_off",
	    "reason federation_off");
	ok(reason_verdict(REASON_SUSPICIOUS) == VERDICT_LIMIT &&
	    reason_verdict(REASON_DISCOVERED) == VERDICT_ACCEPT &&
	    reason_verdict(REASON_SPOOF) == VERDICT_REFUSE &&
	    reason_verdict(REASON_RESPONSE) == VERDICT_OBSERVE,
	    "reason_verdict");
	for (i = 0; i < (int)(sizeof phrases / sizeof phrases[0]); i++)
		is_str(policy_code_phrase(phrases[i].code), phrases[i].phrase,
		    "phrase of %d", phrases[i].code);
}

/* The thresholds fedgate and fedstat share. */
static void
test_thresholds(void)
{
	ok(!policy_suspicious(0, 19, 20, 0.5), "19 failures are too few");
	ok(policy_suspicious(0, 20, 20, 0.5), "20 failures are enough");
	ok(policy_suspicious(10, 10, 20, 0.5), "a share of exactly 0.5");
	ok(!policy_suspicious(11, 9, 20, 0.5), "a share of 0.45");
	ok(policy_suspicious(193, 7, 20, 0.035), "7 of 200 at 0.035");
	ok(!policy_suspicious(194, 6, 20, 0.035), "6 of 200 at 0.035");
	ok(!policy_suspicious(0, 0, 0, 0.5), "no responses at all");
	ok(!policy_near(799, 1000), "799 of 1000 is not near");
	ok(policy_near(800, 1000), "800 of 1000 is near");
	ok(policy_near(16, 20), "16 of 20 is near");
	ok(!policy_near(15, 20), "15 of 20 is not near");
	ok(!policy_near(5, 0), "no limit is never near");
}

int
main(void)
{
	test_thresholds();
	test_rows();
	test_order();
	test_names();
	return done_testing();
}
