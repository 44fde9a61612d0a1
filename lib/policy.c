/* policy.c: the decision as a pure function of facts, in fedkit(7)'s order. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf.h"
#include "policy.h"

static const char *const verdict_names[] = {
	[VERDICT_ACCEPT] = "accept",
	[VERDICT_LIMIT] = "limit",
	[VERDICT_REFUSE] = "refuse",
	[VERDICT_OBSERVE] = "observe",
};
#define VERDICT__COUNT (sizeof verdict_names / sizeof verdict_names[0])

static const char *const reason_names[REASON__COUNT] = {
	[REASON_ALLOWLISTED] = "allowlisted",
	[REASON_DISCOVERED] = "discovered",
	[REASON_RATE] = "rate",
	[REASON_SUSPICIOUS] = "suspicious",
	[REASON_POOL_DOWN] = "pool_down",
	[REASON_WATCH] = "watch",
	[REASON_NEW_PARTNERS] = "new_partners",
	[REASON_FLOOD] = "flood",
	[REASON_BLOCKED] = "blocked",
	[REASON_NOT_ALLOWED] = "not_allowed",
	[REASON_UNVERIFIED] = "unverified",
	[REASON_MALFORMED] = "malformed",
	[REASON_METHOD] = "method",
	[REASON_SCANNER] = "scanner",
	[REASON_SPOOF] = "spoof",
	[REASON_NOT_LOCAL] = "not_local",
	[REASON_FEDERATION_OFF] = "federation_off",
	[REASON_RESPONSE] = "response",
};

const char *
verdict_name(enum verdict v)
{
	if ((unsigned)v >= VERDICT__COUNT)
		return "?";
	return verdict_names[v];
}

const char *
reason_name(enum reason r)
{
	if ((unsigned)r >= REASON__COUNT)
		return "?";
	return reason_names[r];
}

enum verdict
reason_verdict(enum reason r)
{
	switch (r) {
	case REASON_ALLOWLISTED:
	case REASON_DISCOVERED:
		return VERDICT_ACCEPT;
	case REASON_RATE:
	case REASON_SUSPICIOUS:
	case REASON_POOL_DOWN:
		return VERDICT_LIMIT;
	case REASON_RESPONSE:
		return VERDICT_OBSERVE;
	default:
		return VERDICT_REFUSE;
	}
}

static int
name_eq(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(s, name, n) == 0;
}

int
verdict_from_name(const char *s, size_t n, enum verdict *v)
{
	size_t i;

	for (i = 0; i < VERDICT__COUNT; i++)
		if (name_eq(s, n, verdict_names[i])) {
			*v = (enum verdict)i;
			return 0;
		}
	return -1;
}

int
reason_from_name(const char *s, size_t n, enum reason *r)
{
	size_t i;

	for (i = 0; i < REASON__COUNT; i++)
		if (name_eq(s, n, reason_names[i])) {
			*r = (enum reason)i;
			return 0;
		}
	return -1;
}

static struct policy_decision
decided(enum verdict v, enum reason r, int code)
{
	struct policy_decision d;

	d.verdict = v;
	d.reason = r;
	d.code = code;
	d.watch_now = 0;
	return d;
}

/*
 * The rules, first match wins.  Every rule is one test of the facts, so
 * the order here is the whole of fedkit(7) Order of decision and `fedlist check` prints the
 * same reason fedgate logs.
 */
static struct policy_decision
decide(const struct policy_facts *f)
{
	struct policy_decision d;

	if (f->malformed)	/* 0: no response could be built, close */
		return decided(VERDICT_REFUSE, REASON_MALFORMED,
		    f->malformed_code > 0 ? f->malformed_code : -1);
	if (f->mode == FED_OFF)
		return decided(VERDICT_REFUSE, REASON_FEDERATION_OFF, 403);
	if (f->from_local || f->from_not_domain)
		return decided(VERDICT_REFUSE, REASON_SPOOF, 403);
	if (!f->ruri_local)
		return decided(VERDICT_REFUSE, REASON_NOT_LOCAL, 404);
	if (f->blocked)		/* before any allow-list test: block wins */
		return decided(VERDICT_REFUSE, REASON_BLOCKED, 403);
	if (!f->method_ok)
		return decided(VERDICT_REFUSE, REASON_METHOD, 405);
	if (f->scanner)
		return decided(VERDICT_REFUSE, REASON_SCANNER, 403);
	if (f->mode == FED_ALLOWLIST && !f->allowed)
		return decided(VERDICT_REFUSE, REASON_NOT_ALLOWED, 403);
	if (f->verify_needed && !f->verified)
		return decided(VERDICT_REFUSE, REASON_UNVERIFIED, 403);
	/* Bounded state (fedkit(7)): a partner that cannot be given state
	 * cannot be limited, so it is not let in. */
	if (f->new_refused)
		return decided(VERDICT_REFUSE, REASON_NEW_PARTNERS, 403);

	/*
	 * The watch list is the consequence of the distinct-URI limit, so it
	 * applies only while a limit applies: allow-listing a partner lifts
	 * its watch (fedkit(7) THE RULES) unless its entry sets max_uris= of its own.
	 * A watched partner whose entry does set one stays refused until an
	 * operator clears it; the caller, which knows under which limit the
	 * partner was watched, may clear `watched` when the limit changes.
	 * The request whose new URI would take the count past max_uris is
	 * itself refused, so at most max_uris distinct URIs are accepted.
	 */
	if (f->uris_limited) {
		if (f->watched)
			return decided(VERDICT_REFUSE, REASON_WATCH, 403);
		if (f->uri_new && f->distinct_uris >= f->max_uris) {
			d = decided(VERDICT_REFUSE, REASON_WATCH, 403);
			d.watch_now = 1;
			return d;
		}
	}

	/* A partner without a rate (allow-listed) is not limited, even if
	 * its responses look suspicious: allow-listing exempts from all three
	 * safeguards. */
	if (f->rate_limited && !f->token)
		return decided(VERDICT_LIMIT,
		    f->suspicious ? REASON_SUSPICIOUS : REASON_RATE, 503);

	return decided(VERDICT_ACCEPT,
	    f->allowed ? REASON_ALLOWLISTED : REASON_DISCOVERED, -1);
}

struct policy_decision
policy_decide(const struct policy_facts *f)
{
	struct policy_decision d = decide(f);

	if (f->is_ack)		/* judged alike, never answered */
		d.code = -1;
	return d;
}

static const struct {
	int code;
	const char *phrase;
} phrases[] = {
	{ 100, "Trying" },
	{ 180, "Ringing" },
	{ 183, "Session Progress" },
	{ 200, "OK" },
	{ 202, "Accepted" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 410, "Gone" },
	{ 413, "Request Entity Too Large" },
	{ 414, "Request-URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 416, "Unsupported URI Scheme" },
	{ 420, "Bad Extension" },
	{ 480, "Temporarily Unavailable" },
	{ 481, "Call/Transaction Does Not Exist" },
	{ 482, "Loop Detected" },
	{ 483, "Too Many Hops" },
	{ 484, "Address Incomplete" },
	{ 485, "Ambiguous" },
	{ 486, "Busy Here" },
	{ 487, "Request Terminated" },
	{ 488, "Not Acceptable Here" },
	{ 500, "Server Internal Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Server Time-out" },
	{ 505, "Version Not Supported" },
	{ 513, "Message Too Large" },
	{ 600, "Busy Everywhere" },
	{ 603, "Decline" },
	{ 604, "Does Not Exist Anywhere" },
	{ 606, "Not Acceptable" },
};

const char *
policy_code_phrase(int code)
{
	/* RFC 3261 8.1.3.2: an unknown code is read as its class's x00, so a
	 * generic phrase of the class is as good as any. */
	static const char *const class_phrase[] = {
		"Provisional", "Success", "Redirection", "Request Failure",
		"Server Failure", "Global Failure",
	};
	size_t i;

	for (i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
		if (phrases[i].code == code)
			return phrases[i].phrase;
	if (code >= 100 && code <= 699)
		return class_phrase[code / 100 - 1];
	return "Unknown";
}

int
policy_suspicious(unsigned ok, unsigned fail, unsigned min, double share)
{
	uint64_t milli;

	if ((uint64_t)ok + fail < min || (uint64_t)ok + fail == 0)
		return 0;
	/* In millionths and integers: 7 failures of 200 are exactly a share
	 * of 0.035, which doubles would put a hair above 7. */
	milli = (uint64_t)(share * 1000000.0 + 0.5);
	return (uint64_t)fail * 1000000u >= milli * ((uint64_t)ok + fail);
}

int
policy_near(unsigned long count, unsigned long limit)
{
	if (limit == 0)
		return 0;
	return (unsigned long long)count * 100u >=
	    (unsigned long long)limit * POLICY_NEAR_PERCENT;
}

int
policy_watch_holds(int marked, int discovered, int uris_limited,
    int counted, unsigned long uris, unsigned long max_uris)
{
	return marked && (discovered || (uris_limited && (!counted ||
	    uris >= max_uris)));
}
