/* fuzz_conf.c: libFuzzer target: fed.conf text through conf_parse and the
 * lookups on its result, checking what a successful parse promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "list.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A promise broken: crash so the fuzzer keeps the input. */
#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void
invariants(const struct conf *c)
{
	char out[DOMAIN_MAX + 2];
	struct fed_err e;
	size_t i;

	CHECK(c->federation == FED_OPEN || c->federation == FED_ALLOWLIST ||
	    c->federation == FED_OFF);
	CHECK(c->discovered_rate >= 1 && c->suspicious_rate >= 1);
	CHECK(c->max_uris >= 1 && c->suspect_min_responses >= 1);
	CHECK(c->report_period >= 1 && c->message_timeout >= 1 &&
	    c->idle_timeout >= 1 && c->upstream_timeout >= 1);
	CHECK(c->suspect_fail_share > 0 && c->suspect_fail_share <= 1);
	CHECK(c->limits.max_message >= 1024 &&
	    c->limits.max_message <= 16 << 20);
	CHECK(c->limits.max_line >= 256 &&
	    c->limits.max_line <= c->limits.max_message);
	CHECK(c->limits.max_headers >= 1 &&
	    c->limits.max_headers <= SIP_HDR_MAX);
	CHECK(c->methods.n >= 1);
	CHECK(c->allow_list && c->block_list && c->edge_cache &&
	    c->state_dir && c->verdict_log);
	/* A stored domain is already normal: normalizing changes nothing. */
	for (i = 0; i < c->local_domains.n; i++) {
		const char *d = c->local_domains.v[i];

		CHECK(domain_normalize(d, strlen(d), 1, out, sizeof out,
		    &e) == 0);
		CHECK(strcmp(out, d) == 0);
		CHECK(conf_is_local(c, d[0] == '.' ? d + 1 : d));
	}
	for (i = 0; i < c->methods.n; i++)
		CHECK(conf_method_allowed(c, (struct fed_str){ c->methods.v[i],
		    strlen(c->methods.v[i]) }));
	for (i = 0; i < c->refuse_user_agents.n; i++)
		CHECK(conf_ua_refused(c, (struct fed_str){
		    c->refuse_user_agents.v[i],
		    strlen(c->refuse_user_agents.v[i]) }));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	char word[80];
	struct conf c;
	struct fed_err e;
	unsigned secs;
	size_t n = size < sizeof word - 1 ? size : sizeof word - 1;

	conf_defaults(&c);
	e.msg[0] = '\0';
	if (conf_parse(&c, "fuzz.conf", p, size, &e) == 0) {
		invariants(&c);
		/* The input itself as a name, a method and a User-Agent. */
		memcpy(word, p, n);
		word[n] = '\0';
		(void)conf_is_local(&c, word);
		(void)conf_method_allowed(&c, (struct fed_str){ p, size });
		(void)conf_ua_refused(&c, (struct fed_str){ p, size });
	} else
		CHECK(e.msg[0] != '\0' && memchr(e.msg, '\0', sizeof e.msg));
	conf_free(&c);

	memcpy(word, p, n);
	word[n] = '\0';
	if (conf_parse_duration(word, &secs) == 0)
		CHECK(word[0] >= '0' && word[0] <= '9');
	(void)conf_suggest_key(word);
	return 0;
}
