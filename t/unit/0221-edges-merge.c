/* 0221-edges-merge: edges_merge writes what edges_load reads: replace, keep, expire, dedupe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edges.h"
#include "tap.h"
#include "vlog.h"

static void
write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (f != NULL) {
		fputs(s, f);
		fclose(f);
	}
}

int
main(void)
{
	char dir[] = "/tmp/fedkit-edges.XXXXXX", path[256], buf[4096], when[32];
	int64_t now = 1790000000000;	/* 2026-09-21 */
	struct fed_err e = { "" };
	struct edges ed;
	struct edge fresh[3] = {
		{ "fab.test", "sip1.fab.test", 5061, 0, "192.0.2.1,2001:db8::1" },
		{ "fab.test", "sip1.fab.test", 5061, 0, "192.0.2.9" },
		{ "alias.test", "edge.alias.test", 5061, 0, NULL },
	};
	FILE *f;
	size_t n;

	memset(&ed, 0, sizeof ed);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/edges", dir);
	fresh[0].expires_ms = now + 300000;
	fresh[1].expires_ms = now + 600000;
	fresh[2].expires_ms = now + 60000;
	ok(edges_merge(path, fresh, 3, now, &e) == 0, "merge into a missing cache");
	f = fopen(path, "r");
	n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[n] = '\0';
	if (f != NULL)
		fclose(f);
	vlog_time_format(when, now + 600000);
	ok(strstr(buf, "alias.test\tedge.alias.test\t5061\t") != NULL &&
	    strstr(buf, "alias.test") < strstr(buf, "fab.test"),
	    "lines sorted by domain; no addresses, no fifth field");
	ok(strstr(buf, "192.0.2.1,") == NULL && strstr(buf, when) != NULL &&
	    strstr(buf, "\t192.0.2.9\n") != NULL,
	    "the same domain, target and port twice: the later one, once");
	n = edges_load(&ed, path, &e) == 0 ? ed.n : 0;
	ok(n == 2, "edges_load reads it back (%zu lines)", n);
	ok(edges_match(&ed, "fab.test", "sip1.fab.test", now) &&
	    edges_match(&ed, "fab.test", "192.0.2.9:5061", now) &&
	    !edges_match(&ed, "fab.test", "sip1.fab.test", now + 600000),
	    "... and matches by name and address until it expires");
	edges_free(&ed);

	/* Merging again: alias.test expired, fab.test replaced. */
	fresh[0].addrs = NULL;
	ok(edges_merge(path, fresh, 1, now + 120000, &e) == 0,
	    "a second merge");
	ok(edges_load(&ed, path, &e) == 0 && ed.n == 1 &&
	    strcmp(ed.v[0].domain, "fab.test") == 0 && ed.v[0].addrs == NULL,
	    "the expired domain is gone; the fresh line replaced the old one");
	edges_free(&ed);

	/* A bad cache is not rewritten. */
	write_text(path, "fab.test sip.fab.test 5061 never\n");
	ok(edges_merge(path, fresh, 1, now, &e) == -1 &&
	    strstr(e.msg, "edges:1: bad expiry time") != NULL,
	    "a cache that does not parse is an error naming its line (%s)", e.msg);
	f = fopen(path, "r");
	n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[n] = '\0';
	if (f != NULL)
		fclose(f);
	ok(strcmp(buf, "fab.test sip.fab.test 5061 never\n") == 0,
	    "... and left as it was");
	ok(edges_merge("/nonexistent-dir/edges", fresh, 1, now, &e) == -1 &&
	    e.msg[0] != '\0', "an unwritable place is an error (%s)", e.msg);

	unlink(path);
	snprintf(path, sizeof path, "%s/edges.lock", dir);
	unlink(path);
	rmdir(dir);
	return done_testing();
}
