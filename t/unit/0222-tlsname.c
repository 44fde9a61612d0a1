/* 0222-tlsname: the RFC 5922 name rule fedgate and fedq --probe share: dNSName, sip: URI, no user, no port, no wildcard. */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "tlsname.h"

/* The name a SAN value gives, or "" for none. */
static const char *
san(const char *v, int uri)
{
	static char out[TLS_NAME_MAX];

	if (tls_name_from_san(v, strlen(v), uri, out) != 0)
		return "";
	return out;
}

int
main(void)
{
	char names[TLS_NAMES_MAX][TLS_NAME_MAX], long_name[300];
	unsigned n = 0, i;
	char buf[32];

	is_str(san("sip.Fab.Test", 0), "sip.fab.test", "a dNSName, lowercased");
	is_str(san("sip.fab.test.", 0), "sip.fab.test", "... a trailing dot dropped");
	is_str(san("*.fab.test", 0), "", "a wildcard dNSName names nothing (7.2)");
	is_str(san("sip*.fab.test", 0), "", "... nor a partial wildcard");
	is_str(san("edge_1.fab.test", 0), "", "an underscore is no domain");
	is_str(san("-a.fab.test", 0), "", "a label starting with a hyphen");
	is_str(san("", 0), "", "an empty dNSName");
	is_str(san("sip:sip.fab.test", 1), "sip.fab.test", "a sip: URI: its host (7.1)");
	is_str(san("SIP:Sip.Fab.Test;transport=tls", 1), "sip.fab.test",
	    "... scheme in any case, parameters ignored");
	is_str(san("sip:user@sip.fab.test", 1), "", "a sip: URI with a user part is refused");
	is_str(san("sip:sip.fab.test:5061", 1), "", "a sip: URI with a port is refused");
	is_str(san("sips:sip.fab.test", 1), "", "a sips: URI is not the form 7.1 names");
	is_str(san("https://sip.fab.test/", 1), "", "an https URI names nothing");
	is_str(san("sip:", 1), "", "sip: and nothing");
	is_str(san("sip:*.fab.test", 1), "", "a wildcard in a URI");
	is_str(san("sip.fab.test", 1), "", "a dNSName's text as a URI names nothing");
	ok(tls_name_from_san("sip.fab.test\0.evil.test", 24, 0, names[0]) != 0 &&
	    tls_name_from_san("sip.fab.test\0", 13, 0, names[0]) != 0,
	    "an embedded NUL is never a name");
	memset(long_name, 'a', sizeof long_name);
	for (i = 63; i < sizeof long_name; i += 64)
		long_name[i] = '.';
	long_name[253] = '\0';
	ok(tls_name_from_san(long_name, 253, 0, names[0]) == 0,
	    "a 253-octet name fits");
	long_name[253] = 'a';
	ok(tls_name_from_san(long_name, 254, 0, names[0]) != 0,
	    "a 254-octet one does not");

	/* The list fedgate keeps: in order, each once, at most 16. */
	ok(tls_names_add(names, &n, "A.test", 6, 0) == 1 &&
	    tls_names_add(names, &n, "sip:a.test", 10, 1) == 0 &&
	    tls_names_add(names, &n, "*.test", 6, 0) == 0 && n == 1,
	    "a name twice (DNS and URI) is kept once; a wildcard not at all");
	for (i = 0; i < 20; i++) {
		snprintf(buf, sizeof buf, "n%u.test", i);
		(void)tls_names_add(names, &n, buf, strlen(buf), 0);
	}
	ok(n == TLS_NAMES_MAX && strcmp(names[0], "a.test") == 0 &&
	    strcmp(names[1], "n0.test") == 0 &&
	    strcmp(names[15], "n14.test") == 0,
	    "at most %d names, the first ones (%u)", TLS_NAMES_MAX, n);
	return done_testing();
}
