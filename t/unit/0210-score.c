/* 0210-score.c: fedstat's tally: counts, states, score, order, save and load. */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "score.h"
#include "tap.h"

static struct conf c;

static void
one(struct score *s, const char *line, int len)
{
	if (len < 0)
		len = (int)strlen(line);
	struct fed_err err;
	int oom;

	if (score_line(s, line, (size_t)len, &oom, &err) == NULL &&
	    err.msg[0] != '\0')
		diag("unexpected: %s: %s", line, err.msg);
}

/* Feed n lines built from a format with %d = index. */
#define feed(s, n, fmt) do {						\
	char line_[512];						\
	int i_;								\
									\
	for (i_ = 0; i_ < (n); i_++)					\
		one((s), line_, snprintf(line_, sizeof line_, fmt, i_));	\
} while (0)

static struct score_group *
find(struct score *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->ng; i++)
		if (strcmp(s->g[i]->name, name) == 0)
			return s->g[i];
	return NULL;
}

#define T "2026-11-22T00:00:00.000Z"
#define REQ(p, verdict, reason, code) T "\t1.2.3.4:5061\t" p "\tMESSAGE\tu%d@example.com\t" verdict "\t" reason "\t" code "\tc"
#define RESP(p, st) T "\t1.2.3.4:5061\t" p "\t" st "\t-\tobserve\tresponse\t-\tc%d"

int
main(void)
{
	struct score s, s2;
	struct score_group *g;
	struct fed_err err;
	int oom;
	char *buf;
	size_t len, i;
	FILE *fp;

	conf_defaults(&c);
	score_init(&s, SCORE_BY_PARTNER, &c, NULL, NULL, INT64_MIN);

	/* counts */
	feed(&s, 10, REQ("count.example", "accept", "discovered", "-"));
	feed(&s, 4, REQ("count.example", "limit", "rate", "503"));
	feed(&s, 2, REQ("count.example", "refuse", "method", "405"));
	feed(&s, 3, RESP("count.example", "200"));
	feed(&s, 1, RESP("count.example", "404"));
	feed(&s, 1, RESP("count.example", "486"));	/* neither */
	g = find(&s, "count.example");
	ok(g != NULL, "a group per partner");
	is_long((long)g->messages, 21, "messages: every line");
	is_long((long)g->accepted, 10, "accepted");
	is_long((long)g->limited, 4, "limited");
	is_long((long)g->refused, 2, "refused");
	is_long((long)g->uris.n, 10, "distinct URIs over every request line");
	is_long((long)g->ok, 3, "2xx");
	is_long((long)g->fail, 1, "failures: failure_codes only");
	score_eval(&s, g);
	is_str(score_state_name(g->state), "ok", "state ok");
	/* refused 2 + limited 4/2 + fail 1 x share 0.25 + 100 x 10/1000 */
	ok(g->score > 5.249 && g->score < 5.251, "score by the formula (%.3f)",
	    g->score);

	/* near: 800 distinct URIs of max_uris 1000 (80%) */
	feed(&s, 799, REQ("near.example", "accept", "discovered", "-"));
	g = find(&s, "near.example");
	score_eval(&s, g);
	is_str(score_state_name(g->state), "ok", "799 URIs of 1000: ok");
	feed(&s, 800, REQ("near.example", "accept", "discovered", "-"));
	score_eval(&s, g);
	is_str(score_state_name(g->state), "near", "800 URIs of 1000: near");

	/* near by responses: 80% of both thresholds (16 responses, 0.4) */
	feed(&s, 9, RESP("nfail.example", "200"));
	feed(&s, 6, RESP("nfail.example", "404"));
	g = find(&s, "nfail.example");
	score_eval(&s, g);
	is_str(score_state_name(g->state), "ok", "15 responses, 6 failures: ok");
	feed(&s, 1, RESP("nfail.example", "404"));
	score_eval(&s, g);
	is_str(score_state_name(g->state), "near",
	    "16 responses, 7 failures (0.44): near");

	/* suspicious by responses, as fedgate's policy_suspicious */
	feed(&s, 10, RESP("susp.example", "200"));
	feed(&s, 10, RESP("susp.example", "404"));
	g = find(&s, "susp.example");
	score_eval(&s, g);
	is_str(score_state_name(g->state), "suspicious",
	    "20 responses, half failures: suspicious");
	/* ... and by a `limit suspicious` line alone */
	feed(&s, 1, REQ("lsusp.example", "limit", "suspicious", "503"));
	g = find(&s, "lsusp.example");
	score_eval(&s, g);
	is_str(score_state_name(g->state), "suspicious",
	    "a limit suspicious line: suspicious");

	/* ... while it is within report_period of the newest line */
	one(&s, "2026-11-22T01:00:01.000Z\t-\tlater.example\tMESSAGE\t"
	    "a@example.com\taccept\tdiscovered\t-\tc", -1);
	g = find(&s, "lsusp.example");
	score_eval(&s, g);
	is_str(score_state_name(g->state), "ok",
	    "a limit suspicious line older than report_period: ok");
	/* (a watch stays: fedgate keeps it until cleared) */
	g = find(&s, "susp.example");
	score_eval(&s, g);
	ok(g->state == SCORE_OK && g->fail == 10 && g->ok == 10,
	    "responses older than report_period: not suspicious, still counted");
	feed(&s, 10, "2026-11-22T01:00:01.000Z\t1.2.3.4:5061\tsusp.example\t"
	    "404\t-\tobserve\tresponse\t-\tc%d");
	feed(&s, 10, "2026-11-22T01:00:01.000Z\t1.2.3.4:5061\tsusp.example\t"
	    "200\t-\tobserve\tresponse\t-\tc%d");
	score_eval(&s, g);
	is_str(score_state_name(g->state), "suspicious",
	    "... 20 recent ones, half failures: suspicious again");

	/* URI hashes are kept up to twice the limit */
	feed(&s, 2100, REQ("cap.example", "refuse", "not_local", "404"));
	g = find(&s, "cap.example");
	ok(g->uris.n == 2000 && g->uris_capped, "URIs stored up to 2 x "
	    "max_uris, then capped (%u)", g->uris.n);

	/* allow-listed: responses do not judge it, no URI limit */
	feed(&s, 900, REQ("big.example", "accept", "allowlisted", "-"));
	feed(&s, 30, RESP("big.example", "404"));
	g = find(&s, "big.example");
	score_eval(&s, g);
	is_str(score_state_name(g->state), "ok",
	    "allow-listed: 900 URIs and 30 failures are ok");
	is_long((long)score_uri_limit(&s, g), 0, "... no URI limit applies");

	/* watch and blocked, highest wins */
	feed(&s, 1, REQ("w.example", "refuse", "watch", "403"));
	feed(&s, 30, RESP("w.example", "404"));
	g = find(&s, "w.example");
	score_eval(&s, g);
	is_str(score_state_name(g->state), "watch", "refuse watch: watch");
	feed(&s, 1, REQ("w.example", "refuse", "blocked", "403"));
	score_eval(&s, g);
	is_str(score_state_name(g->state), "blocked", "blocked beats watch");

	/* malformed lines are counted, never tallied */
	{
		const char *bad = "2026-11-22T00:00:00.000Z\tx\ty";

		ok(score_line(&s, bad, strlen(bad), &oom, &err) == NULL &&
		    err.msg[0] != '\0' && !oom, "a malformed line: NULL, why");
		is_long((long)s.malformed, 1, "... counted");
	}

	/* --since skips older lines, without an error */
	score_init(&s2, SCORE_BY_PEER, &c, NULL, NULL, INT64_MAX);
	feed(&s2, 3, REQ("old.example", "accept", "discovered", "-"));
	is_long((long)s2.ng, 0, "--since: older lines are not counted");
	is_long((long)s2.skipped, 3, "... but skipped");
	score_free(&s2);

	/* order: score descending, then name */
	score_sort(&s);
	for (i = 1; i < s.ng; i++)
		if (s.g[i - 1]->score < s.g[i]->score ||
		    (s.g[i - 1]->score == s.g[i]->score &&
		    strcmp(s.g[i - 1]->name, s.g[i]->name) > 0))
			break;
	is_long((long)i, (long)s.ng, "sorted by score, then name");
	ok(find(&s, "count.example") != NULL, "lookup works after the sort");
	feed(&s, 1, REQ("count.example", "accept", "discovered", "-"));
	is_long((long)find(&s, "count.example")->messages, 22,
	    "... and counts into the same group");

	/* save and load: the same tally */
	fp = open_memstream(&buf, &len);
	ok(score_save(&s, fp) == 0, "score_save");
	fclose(fp);
	score_init(&s2, SCORE_BY_PARTNER, &c, NULL, NULL, INT64_MIN);
	{
		char *p = buf, *nl;
		int bad = 0;

		while ((nl = strchr(p, '\n')) != NULL) {
			if (score_load_line(&s2, p, (size_t)(nl - p), &err) != 0) {
				diag("%s", err.msg);
				bad++;
			}
			p = nl + 1;
		}
		is_long(bad, 0, "every saved line loads");
	}
	is_long((long)s2.ng, (long)s.ng, "as many groups");
	g = find(&s2, "near.example");
	ok(g != NULL && g->uris.n == 800 && g->messages == 1599,
	    "a group's counts and URI set survive");
	feed(&s2, 5, REQ("near.example", "accept", "discovered", "-"));
	is_long((long)g->uris.n, 800, "... URIs seen before are not new");
	ok(score_load_line(&s2, "uri\tzz", 6, &err) == -1,
	    "a bad saved line is refused");
	ok(s2.key[0] == s.key[0] && s2.key[1] == s.key[1],
	    "the hash key is saved and loaded");
	{
		struct score s3;

		score_init(&s3, SCORE_BY_PARTNER, &c, NULL, NULL, INT64_MIN);
		ok(s3.key[0] != s.key[0] && score_hash(&s3, "a@b", 3) !=
		    score_hash(&s, "a@b", 3), "each tally draws its own key");
		/* SipHash-2-4's reference vector: key 00..0f, input 00..0e */
		{
			char in[15];
			int k;

			for (k = 0; k < 15; k++)
				in[k] = (char)k;
			s3.key[0] = UINT64_C(0x0706050403020100);
			s3.key[1] = UINT64_C(0x0f0e0d0c0b0a0908);
			ok(score_hash(&s3, in, 15) == UINT64_C(0xa129ca6149be45e5),
			    "the hash is SipHash-2-4 (reference vector)");
		}
		score_free(&s3);
	}
	/* saved numbers and names are checked before use */
#define GRP(name, first) "group\t" name "\t1\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t" first "\t0\t0"
	{
		static const struct {
			const char *line;
			int want;
			const char *what;
		} cases[] = {
			{ GRP("i1.example", "-9223372036854775808"), 0,
			    "INT64_MIN loads" },
			{ GRP("i2.example", "9223372036854775807"), 0,
			    "INT64_MAX loads" },
			{ GRP("i3.example", "9223372036854775808"), -1,
			    "INT64_MAX + 1 is refused" },
			{ GRP("i4.example", "-9223372036854775809"), -1,
			    "INT64_MIN - 1 is refused" },
			{ GRP("i5.example", "99999999999999999999"), -1,
			    "20 digits are refused" },
			{ GRP("a\x01" "b", "0"), -1, "a raw control byte in a name" },
			{ GRP("a\\qb", "0"), -1, "a bad escape in a name" },
			{ GRP("a\xe9" "b", "0"), -1, "a byte >= 0x80 in a name" },
			{ GRP("a\\x2db", "0"), 0, "an escape as logged" },
			{ "peername\tp\x7f" "q", -1, "DEL in a peer name" },
			{ "peername\tp q:1", 0, "a peer name as logged" },
		};
		size_t k;

		for (k = 0; k < sizeof cases / sizeof cases[0]; k++)
			is_long(score_load_line(&s2, cases[k].line,
			    strlen(cases[k].line), &err), cases[k].want,
			    "%s", cases[k].what);
		g = find(&s2, "i1.example");
		ok(g != NULL && g->first_ms == INT64_MIN, "... as INT64_MIN");
	}
	free(buf);
	score_free(&s2);
	score_free(&s);
	conf_free(&c);
	return done_testing();
}
