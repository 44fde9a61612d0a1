/* 0100-conf.c: fed.conf: defaults, every key, errors, resolution, helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

static struct fed_str
S(const char *s)
{
	return (struct fed_str){ s, strlen(s) };
}

/* Defaults, then `text` as file "fed.conf"; 0 or -1, *c to be freed. */
static int
parse(struct conf *c, const char *text, struct fed_err *e)
{
	conf_defaults(c);
	return conf_parse(c, "fed.conf", text, strlen(text), e);
}

/* Text that must fail with exactly `want`; the struct must free cleanly. */
static void
bad(const char *text, const char *want)
{
	struct conf c;
	struct fed_err e = { "" };

	ok(parse(&c, text, &e) == -1, "refused: %s", tap_esc(text));
	is_str(e.msg, want, "message for %s", tap_esc(text));
	conf_free(&c);
}

static void
test_defaults(void)
{
	struct conf c;
	int i, n = 0;

	conf_defaults(&c);
	ok(c.path == NULL, "no path");
	is_long((long)c.local_domains.n, 0, "local_domains: none");
	is_long(c.federation, FED_OPEN, "federation = open");
	is_long(c.discovered_rate, 20, "discovered_rate = 20");
	is_long(c.max_uris, 1000, "max_uris = 1000");
	is_long(c.report_period, 3600, "report_period = 60m");
	for (i = 0; i < 700; i++)
		n += c.failure_code[i];
	ok(n == 6 && c.failure_code[403] && c.failure_code[404] &&
	    c.failure_code[410] && c.failure_code[484] &&
	    c.failure_code[485] && c.failure_code[604],
	    "failure_codes = 403,404,410,484,485,604");
	is_long(c.suspect_min_responses, 20, "suspect_min_responses = 20");
	ok(c.suspect_fail_share == 0.5, "suspect_fail_share = 0.5");
	is_long(c.suspicious_rate, 1, "suspicious_rate = 1");
	is_long(c.watch_expire, 0, "watch_expire = 0");
	is_long((long)c.methods.n, 13, "13 methods");
	is_str(c.methods.v[0], "INVITE", "first method");
	is_str(c.methods.v[12], "PUBLISH", "last method");
	is_long((long)c.refuse_user_agents.n, 5, "5 scanners");
	is_str(c.refuse_user_agents.v[0], "friendly-scanner", "first UA");
	is_str(c.refuse_user_agents.v[4], "pplsip", "last UA");
	is_long(c.verify, VERIFY_AUTO, "verify = auto");
	is_long(c.tls, TLS_ON, "tls = on");
	ok(!c.tls_cert && !c.tls_key && !c.tls_ca && !c.tls_crl, "no TLS files");
	is_str(c.allow_list, "/etc/fedkit/allow", "allow_list");
	is_str(c.block_list, "/etc/fedkit/block", "block_list");
	is_str(c.edge_cache, "/var/lib/fedkit/edges", "edge_cache");
	is_str(c.state_dir, "/var/lib/fedkit", "state_dir");
	is_str(c.verdict_log, "/var/log/fedkit/verdicts.log", "verdict_log");
	ok(c.upstream == NULL, "no upstream");
	is_long((long)c.limits.max_message, SIP_DEFAULT_MAX_MESSAGE,
	    "max_message");
	is_long((long)c.limits.max_line, SIP_DEFAULT_MAX_LINE, "max_line");
	is_long(c.limits.max_headers, SIP_DEFAULT_MAX_HEADERS, "max_headers");
	is_long(c.message_timeout, 10, "message_timeout = 10s");
	is_long(c.idle_timeout, 300, "idle_timeout = 300s");
	is_long(c.upstream_timeout, 5, "upstream_timeout = 5s");
	is_long(c.max_connections, 512, "max_connections = 512");
	is_long(c.max_connections_per_source, 32,
	    "max_connections_per_source = 32");
	is_long(c.connections_per_process, 100, "connections_per_process = 100");
	is_str(c.user, "fedkit", "user = fedkit");
	is_long(c.seccomp, 1, "seccomp = on");
	conf_free(&c);
	conf_free(&c);
	ok(1, "conf_free twice is harmless");
}

static void
test_every_key(void)
{
	struct conf c;
	struct fed_err e = { "" };
	int i, n = 0;
	const char *text =
	    "# a full configuration\n"
	    "local_domains = Example.COM, .corp.example.net.\n"
	    "federation=allowlist\n"
	    "discovered_rate =5\n"
	    "max_uris= 200\n"
	    "report_period = 2h   # two hours\n"
	    "failure_codes = 404 480,486\n"
	    "suspect_min_responses = 7\n"
	    "suspect_fail_share = .75\n"
	    "suspicious_rate = 2\n"
	    "watch_expire = 1d\n"
	    "methods = MESSAGE, OPTIONS x-Custom.1\n"
	    "refuse_user_agents = scanner, Bad-UA\n"
	    "verify = srv\n"
	    "tls = off\n"
	    "tls_cert = /etc/fedkit/cert.pem\n"
	    "tls_key = /etc/fedkit/key with space.pem\n"
	    "tls_ca = /etc/ssl/ca#1.pem\n"
	    "tls_crl = /etc/ssl/crl.pem\n"
	    "allow_list = ./allow\n"
	    "block_list = /srv/block\n"
	    "edge_cache = /srv/edges\n"
	    "state_dir = /srv/state\n"
	    "verdict_log = /srv/verdicts.log\n"
	    "upstream = [::1]:5070\n"
	    "max_message = 128k\n"
	    "max_line = 4096\n"
	    "max_headers = 256\n"
	    "message_timeout = 30s\n"
	    "idle_timeout = 10m\n"
	    "upstream_timeout = 3\n"
	    "max_connections = 64\n"
	    "max_connections_per_source = 4\n"
	    "connections_per_process = 1\n";

	if (!ok(parse(&c, text, &e) == 0, "every key parsed")) {
		diag("%s", e.msg);
		conf_free(&c);
		return;
	}
	is_long((long)c.local_domains.n, 2, "two local domains");
	is_str(c.local_domains.v[0], "example.com", "normalized");
	is_str(c.local_domains.v[1], ".corp.example.net", "suffix form");
	is_long(c.federation, FED_ALLOWLIST, "federation");
	is_long(c.discovered_rate, 5, "discovered_rate");
	is_long(c.max_uris, 200, "max_uris");
	is_long(c.report_period, 7200, "report_period 2h");
	for (i = 0; i < 700; i++)
		n += c.failure_code[i];
	ok(n == 3 && c.failure_code[404] && c.failure_code[480] &&
	    c.failure_code[486] && !c.failure_code[403], "failure_codes");
	is_long(c.suspect_min_responses, 7, "suspect_min_responses");
	ok(c.suspect_fail_share == 0.75, "suspect_fail_share .75");
	is_long(c.suspicious_rate, 2, "suspicious_rate");
	is_long(c.watch_expire, 86400, "watch_expire 1d");
	is_long((long)c.methods.n, 3, "three methods");
	is_str(c.methods.v[2], "x-Custom.1", "extension method kept as is");
	is_long((long)c.refuse_user_agents.n, 2, "two UAs");
	is_long(c.verify, VERIFY_SRV, "verify");
	is_long(c.tls, TLS_OFF, "tls");
	is_str(c.tls_cert, "/etc/fedkit/cert.pem", "tls_cert");
	is_str(c.tls_key, "/etc/fedkit/key with space.pem", "inner spaces");
	is_str(c.tls_ca, "/etc/ssl/ca#1.pem", "# inside a value is kept");
	is_str(c.tls_crl, "/etc/ssl/crl.pem", "tls_crl");
	is_str(c.allow_list, "./allow", "allow_list");
	is_str(c.block_list, "/srv/block", "block_list");
	is_str(c.edge_cache, "/srv/edges", "edge_cache");
	is_str(c.state_dir, "/srv/state", "state_dir");
	is_str(c.verdict_log, "/srv/verdicts.log", "verdict_log");
	is_str(c.upstream, "[::1]:5070", "upstream");
	is_long((long)c.limits.max_message, 131072, "max_message 128k");
	is_long((long)c.limits.max_line, 4096, "max_line");
	is_long(c.limits.max_headers, 256, "max_headers");
	is_long(c.message_timeout, 30, "message_timeout");
	is_long(c.idle_timeout, 600, "idle_timeout");
	is_long(c.upstream_timeout, 3, "upstream_timeout");
	is_long(c.max_connections, 64, "max_connections");
	is_long(c.max_connections_per_source, 4, "max_connections_per_source");
	is_long(c.connections_per_process, 1, "connections_per_process");
	conf_free(&c);
	ok(parse(&c, "user = _fed-kit.2\nseccomp = off\n", &e) == 0,
	    "user and seccomp: %s", e.msg);
	is_str(c.user, "_fed-kit.2", "user: letters, digits, _ - .");
	is_long(c.seccomp, 0, "seccomp = off");
	conf_free(&c);

	/* Values that clear, and the other spellings. */
	ok(parse(&c, "tls_cert = /a\nupstream = sip.example.com:5061\n"
	    "refuse_user_agents =\nverify = none\nfederation = off\n"
	    "max_message = 16384K\nmax_line = 1k\n", &e) == 0,
	    "second configuration: %s", e.msg);
	is_long((long)c.refuse_user_agents.n, 0, "refuse_user_agents empty");
	is_long(c.verify, VERIFY_NONE, "verify none");
	is_long(c.federation, FED_OFF, "federation off");
	is_long((long)c.limits.max_message, 16 << 20, "16384K = 16 MiB");
	is_long((long)c.limits.max_line, 1024, "max_line 1k");
	conf_free(&c);
	ok(parse(&c, "upstream = 127.0.0.1:5060\nupstream_timeout = 1\n"
	    "tls_crl =\nverify = auto\nmax_message = 1024\nmax_line = 256\n",
	    &e) == 0 && c.tls_crl == NULL && c.verify == VERIFY_AUTO &&
	    strcmp(c.upstream, "127.0.0.1:5060") == 0,
	    "IPv4 upstream, empty tls_crl, verify auto, minimum sizes");
	conf_free(&c);
}

static void
test_syntax(void)
{
	struct conf c;
	struct fed_err e = { "" };
	static const char nul[] = "max_uris = 10\nmax_uris\0= 5\n";

	ok(parse(&c, "", &e) == 0, "empty file");
	conf_free(&c);
	ok(parse(&c, "\n\n  # indented comment\n\t\n", &e) == 0,
	    "only comments and blanks");
	conf_free(&c);
	ok(parse(&c, "max_uris = 10\r\nidle_timeout = 1m\r\n", &e) == 0 &&
	    c.max_uris == 10 && c.idle_timeout == 60, "CRLF accepted");
	conf_free(&c);
	ok(parse(&c, "max_uris = 10", &e) == 0 && c.max_uris == 10,
	    "no final newline");
	conf_free(&c);
	ok(parse(&c, "\xef\xbb\xbfmax_uris = 10\n", &e) == 0 &&
	    c.max_uris == 10, "byte order mark skipped");
	conf_free(&c);
	ok(parse(&c, "  max_uris\t=\t10\t# tab\n", &e) == 0 &&
	    c.max_uris == 10, "tabs and a trailing comment");
	conf_free(&c);
	ok(parse(&c, "methods = INVITE,ACK , BYE\t,,OPTIONS\n", &e) == 0 &&
	    c.methods.n == 4, "commas and spaces mixed");
	conf_free(&c);

	conf_defaults(&c);
	ok(conf_parse(&c, "fed.conf", nul, sizeof nul - 1, &e) == -1 &&
	    strcmp(e.msg, "fed.conf:2: control character \\x00 in line") == 0,
	    "NUL byte in a line: %s", e.msg);
	conf_free(&c);
}

static void
test_errors(void)
{
	char *big;
	size_t n = 100 * 1024;

	bad("federation = open\nmax_uris = 5\ndiscoverd_rate = 5\n",
	    "fed.conf:3: unknown key \"discoverd_rate\" (did you mean "
	    "\"discovered_rate\"?)");
	bad("Max_Uris = 5\n", "fed.conf:1: unknown key \"Max_Uris\" (did you "
	    "mean \"max_uris\"?)");
	bad("upstream_timout = 5\n", "fed.conf:1: unknown key "
	    "\"upstream_timout\" (did you mean \"upstream_timeout\"?)");
	bad("colour = blue\n", "fed.conf:1: unknown key \"colour\"");
	bad("\n\nmax_uris = 5\n\nmax_uris = 6\n",
	    "fed.conf:5: max_uris is given twice (first on line 3)");
	bad("max_uris 5\n", "fed.conf:1: expected \"key = value\", got "
	    "\"max_uris 5\"");
	/* fed.conf(5) may be pointed at any file: a line of /etc/shadow
	 * shows its user name, never its hash (fedkit(7) SECURITY). */
	bad("root:$6$riGp/58WAm.dX3a5$IDnOdcdbWB2dC4/DSDC6Lc1mxLpQ2yMK/Ye9FZ"
	    "1wUVl4nuYV.d8fNYvvDbzDZST6IaXqA2h9Uz0.T1SaQ6dDwx:19000:0:99999"
	    ":7:::\n", "fed.conf:1: expected \"key = value\", got "
	    "\"root:...\"");
	bad("local_domains = root:$6$riGp/58WAm.dX3a5$IDnOdcdbWB2dC4/DSDC6\n",
	    "fed.conf:1: local_domains: \"root:...\": invalid character "
	    "\":\" (a name has only letters, digits, hyphens and dots)");
	bad("verify = $6$riGp/58WAm.dX3a5$IDnOdcdbWB2dC4/DSDC6Lc1mxLpQ2yMK/Ye9"
	    "\n", "fed.conf:1: verify: \"$6$riGp/58WAm.dX3a5$IDnOdcdbWB2dC4/D"
	    "SDC6...\" is not one of srv, none, auto");
	bad("max_uris 5\x1b[2J\n", "fed.conf:1: control character \\x1b in "
	    "line");
	bad("user = -x\n", "fed.conf:1: user: \"-x\" is not a user name (1 to "
	    "32 letters, digits, _ . -, not starting with -)");
	bad("user = 1000\n", "fed.conf:1: user: \"1000\" is not a user name (1 "
	    "to 32 letters, digits, _ . -, not starting with -)");
	bad("user = a b\n", "fed.conf:1: user: \"a b\" is not a user name (1 "
	    "to 32 letters, digits, _ . -, not starting with -)");
	bad("user =\n", "fed.conf:1: user: \"\" is not a user name (1 to 32 "
	    "letters, digits, _ . -, not starting with -)");
	bad("seccomp = maybe\n", "fed.conf:1: seccomp: \"maybe\" is not one "
	    "of on, off");
	bad("= 5\n", "fed.conf:1: no key before \"=\"");
	bad("discovered_rate = 0\n", "fed.conf:1: discovered_rate: \"0\" is "
	    "not a rate of at least 1");
	bad("suspicious_rate = -1\n", "fed.conf:1: suspicious_rate: \"-1\" is "
	    "not a rate of at least 1");
	bad("discovered_rate = 4294967296\n", "fed.conf:1: discovered_rate: "
	    "\"4294967296\" is not a rate of at least 1");
	bad("discovered_rate = +5\n", "fed.conf:1: discovered_rate: \"+5\" is "
	    "not a rate of at least 1");
	bad("max_uris = 10 20\n", "fed.conf:1: max_uris: \"10 20\" is not a "
	    "whole number of at least 1");
	bad("max_uris =\n", "fed.conf:1: max_uris: \"\" is not a whole number "
	    "of at least 1");
	bad("report_period = 0\n", "fed.conf:1: report_period: \"0\" is not a "
	    "duration of at least 1s (30s, 60m, 1h, 1d, or seconds)");
	bad("watch_expire = 1w\n", "fed.conf:1: watch_expire: \"1w\" is not a "
	    "duration (30s, 60m, 1h, 1d, or seconds)");
	bad("watch_expire = 99999999999\n", "fed.conf:1: watch_expire: "
	    "\"99999999999\" is not a duration (30s, 60m, 1h, 1d, or "
	    "seconds)");
	bad("idle_timeout = 50000d\n", "fed.conf:1: idle_timeout: \"50000d\" "
	    "is not a duration of at least 1s (30s, 60m, 1h, 1d, or "
	    "seconds)");
	bad("suspect_fail_share = 0\n", "fed.conf:1: suspect_fail_share: "
	    "\"0\" is not a share above 0 and at most 1 (such as 0.5)");
	bad("suspect_fail_share = 1.01\n", "fed.conf:1: suspect_fail_share: "
	    "\"1.01\" is not a share above 0 and at most 1 (such as 0.5)");
	bad("suspect_fail_share = 1e-1\n", "fed.conf:1: suspect_fail_share: "
	    "\"1e-1\" is not a share above 0 and at most 1 (such as 0.5)");
	bad("federation = closed\n", "fed.conf:1: federation: \"closed\" is "
	    "not one of open, allowlist, off");
	bad("verify = yes\n", "fed.conf:1: verify: \"yes\" is not one of srv, "
	    "none, auto");
	bad("tls = OFF\n", "fed.conf:1: tls: \"OFF\" is not one of on, off");
	bad("failure_codes = 404, 700\n", "fed.conf:1: failure_codes: \"700\" "
	    "is not a final non-2xx SIP response code (300 to 699)");
	bad("failure_codes = 404, 200\n", "fed.conf:1: failure_codes: \"200\" "
	    "is not a final non-2xx SIP response code (300 to 699)");
	bad("failure_codes = ,\n", "fed.conf:1: failure_codes: the list is "
	    "empty");
	bad("methods = INVITE, RE GISTER, B@D\n", "fed.conf:1: methods: "
	    "\"B@D\" is not a SIP method name (a token, RFC 3261)");
	bad("methods =\n", "fed.conf:1: methods: the list is empty");
	bad("local_domains = a.com, b..com\n", "fed.conf:1: local_domains: "
	    "\"b..com\": empty label (two dots in a row)");
	bad("local_domains = m\xc3\xbcller.de\n", "fed.conf:1: local_domains: "
	    "\"m\\xc3...\": non-ASCII name: write it in punycode "
	    "(xn--...)");
	bad("local_domains = \n", "fed.conf:1: local_domains: the list is "
	    "empty");
	bad("allow_list =\n", "fed.conf:1: allow_list: a path is needed");
	bad("upstream = ::1:5060\n", "fed.conf:1: upstream: \"::1:5060\" is "
	    "not HOST:PORT: write an IPv6 address in brackets: [addr]:port");
	bad("upstream = [::1]\n", "fed.conf:1: upstream: \"[::1]\" is not "
	    "HOST:PORT: no \":PORT\" after the address");
	bad("upstream = [zz]:5\n", "fed.conf:1: upstream: \"[zz]:5\" is not "
	    "HOST:PORT: bad IPv6 address");
	bad("upstream = sip.example.com\n", "fed.conf:1: upstream: "
	    "\"sip.example.com\" is not HOST:PORT: no \":PORT\"");
	bad("upstream = host:0\n", "fed.conf:1: upstream: \"host:0\" is not "
	    "HOST:PORT: the port is not a number from 1 to 65535");
	bad("upstream = host:65536\n", "fed.conf:1: upstream: \"host:65536\" "
	    "is not HOST:PORT: the port is not a number from 1 to 65535");
	bad("upstream = :5060\n", "fed.conf:1: upstream: \":5060\" is not "
	    "HOST:PORT: no host before \":\"");
	bad("upstream = bad_host:5060\n", "fed.conf:1: upstream: "
	    "\"bad_host:5060\" is not HOST:PORT: \"bad_...\": invalid "
	    "character \"_\" (a name has only letters, digits, hyphens and "
	    "dots)");
	bad("max_message = 1023\n", "fed.conf:1: max_message: \"1023\" is "
	    "not a size from 1024 to 16777216 bytes (k: x1024, M: x1048576)");
	bad("max_message = 17M\n", "fed.conf:1: max_message: \"17M\" is not "
	    "a size from 1024 to 16777216 bytes (k: x1024, M: x1048576)");
	bad("max_message = 16777217\n", "fed.conf:1: max_message: "
	    "\"16777217\" is not a size from 1024 to 16777216 bytes (k: x1024, "
	    "M: x1048576)");
	bad("max_line = 255\n", "fed.conf:1: max_line: \"255\" is not a size "
	    "from 256 to 16777216 bytes (k: x1024, M: x1048576)");
	bad("max_headers = 0\n", "fed.conf:1: max_headers: \"0\" is not a "
	    "number from 1 to 256");
	bad("max_headers = 257\n", "fed.conf:1: max_headers: \"257\" is not a "
	    "number from 1 to 256");
	bad("max_line = 2k\nmax_message = 1k\n", "fed.conf:2: max_line (2048) "
	    "is larger than max_message (1024)");
	bad("max_uris = 5\n\x1b[31mred\n",
	    "fed.conf:2: control character \\x1b in line");

	/* A 100 KB line: refused, the message cut short. */
	big = malloc(n + 32);
	memcpy(big, "refuse_user_agents = ", 21);
	memset(big + 21, 'x', n);
	big[21 + n] = '\0';
	{
		struct conf c;
		struct fed_err e;

		ok(parse(&c, big, &e) == -1 && strlen(e.msg) < 250,
		    "a 100 KB value: refused, short message");
		is_str(e.msg, "fed.conf:1: refuse_user_agents: \"xxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxx...\" is longer than 256 "
		    "characters", "says why (a prefix of 40)");
		conf_free(&c);
		memset(big + 21 + 256, ' ', n - 256);
		ok(parse(&c, big, &e) == 0 && c.refuse_user_agents.n == 1 &&
		    strlen(c.refuse_user_agents.v[0]) == 256,
		    "a 256-character UA pattern and 100 KB of blanks");
		conf_free(&c);
		memset(big + 21 + 256, 'x', n - 256);
		big[5] = '@';
		ok(parse(&c, big, &e) == -1 && strlen(e.msg) < 200,
		    "a 100 KB unknown key: short message");
		is_str(e.msg, "fed.conf:1: unknown key \"refus@...\" "
		    "(did you mean \"refuse_user_agents\"?)", "suggested");
		conf_free(&c);
		memset(big, 'k', n);
		memcpy(big + n, " = 1", 5);
		ok(parse(&c, big, &e) == -1 && strlen(e.msg) < 200 &&
		    strstr(e.msg, "...\"") != NULL, "a 100 KB key: %.60s",
		    e.msg);
		conf_free(&c);
	}
	free(big);
}

static void
test_durations(void)
{
	unsigned s = 7;

	ok(conf_parse_duration("30s", &s) == 0 && s == 30, "30s");
	ok(conf_parse_duration("60m", &s) == 0 && s == 3600, "60m");
	ok(conf_parse_duration("1h", &s) == 0 && s == 3600, "1h");
	ok(conf_parse_duration("1d", &s) == 0 && s == 86400, "1d");
	ok(conf_parse_duration("45", &s) == 0 && s == 45, "bare seconds");
	ok(conf_parse_duration("0", &s) == 0 && s == 0, "zero");
	ok(conf_parse_duration("4294967295", &s) == 0 && s == 4294967295u,
	    "UINT_MAX seconds");
	ok(conf_parse_duration("4294967296", &s) == -1, "overflow");
	ok(conf_parse_duration("49711d", &s) == -1, "overflow by unit");
	ok(conf_parse_duration("49710d", &s) == 0, "largest whole days");
	ok(conf_parse_duration("", &s) == -1, "empty");
	ok(conf_parse_duration("s", &s) == -1, "unit alone");
	ok(conf_parse_duration("-1s", &s) == -1, "sign");
	ok(conf_parse_duration("1 s", &s) == -1, "inner space");
	ok(conf_parse_duration("1h30m", &s) == -1, "no compound");
	ok(conf_parse_duration("1H", &s) == -1, "units are lower case");
}

static void
test_suggest(void)
{
	is_str(conf_suggest_key("discoverd_rate"), "discovered_rate", "typo");
	is_str(conf_suggest_key("idle_timout"), "idle_timeout", "typo 2");
	is_str(conf_suggest_key("methds"), "methods", "dropped letter");
	ok(conf_suggest_key("colour") == NULL, "nothing close");
	ok(conf_suggest_key("x") == NULL, "one letter");
	ok(conf_suggest_key("") == NULL, "empty");
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static void
test_load(void)
{
	char dir[200], a[256], b[256], missing[256];
	struct conf c;
	struct fed_err e = { "" };

	if (!ok(tap_tmpdir(dir, sizeof dir, "fedkit-0100") != NULL,
	    "scratch directory"))
		return;
	snprintf(a, sizeof a, "%s/a.conf", dir);
	snprintf(b, sizeof b, "%s/b.conf", dir);
	snprintf(missing, sizeof missing, "%s/missing.conf", dir);
	write_file(a, "max_uris = 111\n");
	write_file(b, "max_uris = 222\n# ...\nmax_uris = 3\n");

	setenv("FEDKIT_CONF", b, 1);
	ok(conf_load(&c, a, &e) == 0 && c.max_uris == 111,
	    "-c wins over FEDKIT_CONF");
	is_str(c.path, a, "path recorded");
	conf_free(&c);
	ok(conf_load(&c, NULL, &e) == -1, "FEDKIT_CONF used without -c");
	{
		char want[320];

		snprintf(want, sizeof want, "%s:3: max_uris is given twice "
		    "(first on line 1)", b);
		is_str(e.msg, want, "errors name the file from FEDKIT_CONF");
	}
	conf_free(&c);
	write_file(b, "max_uris = 222\n");
	ok(conf_load(&c, NULL, &e) == 0 && c.max_uris == 222 &&
	    strcmp(c.path, b) == 0, "FEDKIT_CONF loaded");
	conf_free(&c);

	snprintf(missing, sizeof missing, "%s/missing.conf", dir);
	setenv("FEDKIT_CONF", missing, 1);
	ok(conf_load(&c, NULL, &e) == -1, "missing FEDKIT_CONF file: error");
	{
		char want[320];

		snprintf(want, sizeof want, "%s: No such file or directory",
		    missing);
		is_str(e.msg, want, "says which file");
	}
	conf_free(&c);
	ok(conf_load(&c, missing, &e) == -1, "missing -c file: error");
	conf_free(&c);
	ok(conf_load(&c, dir, &e) == -1 && strstr(e.msg, "Is a directory"),
	    "a directory: %s", e.msg);
	conf_free(&c);

	setenv("FEDKIT_CONF", "", 1);
	if (access(CONF_DEFAULT_PATH, F_OK) == -1) {
		ok(conf_load(&c, NULL, &e) == 0 && c.path == NULL &&
		    c.max_uris == 1000, "empty FEDKIT_CONF, no %s: defaults",
		    CONF_DEFAULT_PATH);
		conf_free(&c);
		unsetenv("FEDKIT_CONF");
		ok(conf_load(&c, NULL, &e) == 0 && c.path == NULL,
		    "no FEDKIT_CONF, no %s: defaults", CONF_DEFAULT_PATH);
		conf_free(&c);
	} else {
		unsetenv("FEDKIT_CONF");
		conf_load(&c, NULL, &e);
		ok(c.path != NULL && strcmp(c.path, CONF_DEFAULT_PATH) == 0,
		    "%s exists here and is read", CONF_DEFAULT_PATH);
		conf_free(&c);
	}

	/* Over 1 MiB: refused. */
	{
		FILE *f = fopen(a, "w");
		size_t i;

		for (i = 0; i < 70000; i++)
			fputs("# padding line\n", f);
		fclose(f);
		ok(conf_load(&c, a, &e) == -1 &&
		    strstr(e.msg, "larger than 1 MiB") != NULL,
		    "a file over 1 MiB: %s", e.msg);
		conf_free(&c);
	}
	unlink(a);
	unlink(b);
	rmdir(dir);
}

static void
test_helpers(void)
{
	struct conf c;
	struct fed_err e;

	ok(parse(&c, "local_domains = example.com .corp.example.net\n",
	    &e) == 0, "local domains");
	ok(conf_is_local(&c, "example.com"), "exact local");
	ok(!conf_is_local(&c, "www.example.com"), "exact: not a subdomain");
	ok(conf_is_local(&c, "corp.example.net"), ".suffix: itself");
	ok(conf_is_local(&c, "eu.corp.example.net"), ".suffix: subdomain");
	ok(!conf_is_local(&c, "xcorp.example.net"), "label boundary");
	ok(!conf_is_local(&c, "example.org"), "other domain");

	ok(conf_method_allowed(&c, S("INVITE")), "INVITE allowed");
	ok(conf_method_allowed(&c, S("PUBLISH")), "PUBLISH allowed");
	ok(!conf_method_allowed(&c, S("REGISTER")), "REGISTER refused");
	ok(!conf_method_allowed(&c, S("invite")), "methods are case-sensitive");
	ok(conf_method_allowed(&c, (struct fed_str){ "INVITEX", 6 }),
	    "slice, not C string");
	ok(!conf_method_allowed(&c, (struct fed_str){ "INVITE", 5 }),
	    "prefix is not the method");

	ok(conf_ua_refused(&c, S("friendly-scanner")), "exact UA");
	ok(conf_ua_refused(&c, S("Mozilla SIPVicious/0.3")), "any case, inside");
	ok(conf_ua_refused(&c, S("x VAXSIPUSERAGENT/3.1")), "VaxSIPUserAgent");
	ok(!conf_ua_refused(&c, S("Lync 2013")), "ordinary UA");
	ok(!conf_ua_refused(&c, S("")), "empty UA");
	/* The slice ends before the match: no reading past it. */
	ok(!conf_ua_refused(&c, (struct fed_str){ "pplsip", 5 }),
	    "slice bounds respected");
	{
		char *ua = malloc(6);

		memcpy(ua, "sipcl", 5);	/* not NUL-terminated */
		ua[5] = 'i';
		ok(!conf_ua_refused(&c, (struct fed_str){ ua, 5 }),
		    "unterminated slice");
		ok(conf_ua_refused(&c, (struct fed_str){ ua, 6 }),
		    "unterminated slice, match at its end");
		free(ua);
	}
	conf_free(&c);
}

static int
strv_eq(const struct conf_strv *a, const struct conf_strv *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static int
str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * share/fed.conf shows every key commented out at its default: with the
 * `#` taken off each `#key =` line it must parse (no key unknown or
 * doubled), hold all 30 keys, and change nothing but local_domains.
 */
static void
test_share(void)
{
	struct conf d, c;
	struct fed_err e = { "" };
	char *text, *out, *line;
	size_t len, o = 0, keys = 0;

	if ((text = tap_slurp("share/fed.conf", &len)) == NULL) {
		ok(0, "share/fed.conf is readable (run from the top "
		    "directory, as make test does)");
		return;
	}
	out = malloc(len + 1);
	for (line = text; line < text + len;) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		size_t n = nl ? (size_t)(nl - line) + 1 :
		    (size_t)(text + len - line);

		if (n > 1 && line[0] == '#' && line[1] >= 'a' &&
		    line[1] <= 'z' && strchr(line, '=') < line + n) {
			line++, n--, keys++;
		}
		memcpy(out + o, line, n);
		o += n;
		line += n;
	}
	conf_defaults(&d);
	conf_defaults(&c);
	ok(conf_parse(&c, "share/fed.conf", out, o, &e) == 0,
	    "share/fed.conf uncommented parses: %s", e.msg);
	is_long((long)keys, 44, "every key is there");
	ok(c.local_domains.n == 1 &&
	    strcmp(c.local_domains.v[0], "example.com") == 0,
	    "local_domains example");
	ok(c.federation == d.federation &&
	    c.discovered_rate == d.discovered_rate &&
	    c.max_uris == d.max_uris && c.report_period == d.report_period &&
	    memcmp(c.failure_code, d.failure_code, sizeof d.failure_code) == 0 &&
	    c.suspect_min_responses == d.suspect_min_responses &&
	    c.suspect_fail_share == d.suspect_fail_share &&
	    c.suspicious_rate == d.suspicious_rate &&
	    c.watch_expire == d.watch_expire &&
	    c.max_partners == d.max_partners &&
	    c.max_new_partners == d.max_new_partners &&
	    strv_eq(&c.methods, &d.methods) &&
	    strv_eq(&c.refuse_user_agents, &d.refuse_user_agents) &&
	    c.verify == d.verify && c.tls == d.tls &&
	    str_eq(c.tls_cert, d.tls_cert) && str_eq(c.tls_key, d.tls_key) &&
	    str_eq(c.tls_ca, d.tls_ca) && str_eq(c.tls_crl, d.tls_crl) &&
	    str_eq(c.allow_list, d.allow_list) &&
	    str_eq(c.block_list, d.block_list) &&
	    str_eq(c.edge_cache, d.edge_cache) &&
	    str_eq(c.state_dir, d.state_dir) &&
	    str_eq(c.verdict_log, d.verdict_log) &&
	    str_eq(c.upstream, d.upstream) &&
	    c.limits.max_message == d.limits.max_message &&
	    c.limits.max_line == d.limits.max_line &&
	    c.limits.max_headers == d.limits.max_headers &&
	    c.message_timeout == d.message_timeout &&
	    c.idle_timeout == d.idle_timeout &&
	    c.upstream_timeout == d.upstream_timeout &&
	    str_eq(c.user, d.user) && c.seccomp == d.seccomp,
	    "every value shown is the built-in default");
	conf_free(&c);
	conf_free(&d);
	free(out);
	free(text);
}

int
main(void)
{
	test_defaults();
	test_every_key();
	test_syntax();
	test_errors();
	test_durations();
	test_suggest();
	test_load();
	test_helpers();
	test_share();
	return done_testing();
}
