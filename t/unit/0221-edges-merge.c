/* 0221-edges-merge: edges_merge writes what edges_load reads: replace, keep, expire, dedupe; bad lines skipped, never written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edges.h"
#include "tap.h"
#include "vlog.h"

/* What edges_merge told about bad lines. */
static char warned[4][300];
static size_t nwarned;

static void
warn(void *arg, const char *msg)
{
	(void)arg;
	if (nwarned < 4)
		snprintf(warned[nwarned], sizeof warned[0], "%s", msg);
	nwarned++;
}

static void
read_text(const char *path, char *buf, size_t sz)
{
	FILE *f = fopen(path, "r");
	size_t n = f != NULL ? fread(buf, 1, sz - 1, f) : 0;

	buf[n] = '\0';
	if (f != NULL)
		fclose(f);
}

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
	char dir[200], path[256], buf[4096], when[32];
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
	int rc;

	memset(&ed, 0, sizeof ed);
	if (tap_tmpdir(dir, sizeof dir, "fedkit-edges") == NULL) {
		perror("scratch directory");
		return 1;
	}
	snprintf(path, sizeof path, "%s/edges", dir);
	fresh[0].expires_ms = now + 300000;
	fresh[1].expires_ms = now + 600000;
	fresh[2].expires_ms = now + 60000;
	ok(edges_merge(path, fresh, 3, now, warn, NULL, &e) == 0, "merge into a missing cache");
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
	ok(edges_merge(path, fresh, 1, now + 120000, warn, NULL, &e) == 0,
	    "a second merge");
	ok(edges_load(&ed, path, &e) == 0 && ed.n == 1 &&
	    strcmp(ed.v[0].domain, "fab.test") == 0 && ed.v[0].addrs == NULL,
	    "the expired domain is gone; the fresh line replaced the old one");
	edges_free(&ed);

	/* A cache with bad lines: the reader skips them, naming the first,
	 * and keeps the others; the writer drops them, telling each. */
	vlog_time_format(when, now + 3600000);
	snprintf(buf, sizeof buf,
	    "keep.test sip.keep.test 5061 %s\n"
	    "fab.test sip.fab.test 5061 never\n"
	    "evil.test edge_1.evil.test 5061 %s\n"
	    "other.test sip.other.test 5061 %s 192.0.2.5\n", when, when, when);
	write_text(path, buf);
	rc = edges_load(&ed, path, &e);
	ok(rc == -1 && ed.n == 2 &&
	    edges_match(&ed, "other.test", "192.0.2.5", now) &&
	    edges_match(&ed, "keep.test", "sip.keep.test", now) &&
	    !edges_match(&ed, "evil.test", "edge_1.evil.test", now),
	    "edges_load skips bad lines and keeps the good ones (%zu)", ed.n);
	ok(strstr(e.msg, "edges:2: bad expiry time") != NULL &&
	    strstr(e.msg, "2 bad lines") != NULL,
	    "... one message, naming the first bad line and the count (%s)",
	    e.msg);
	edges_free(&ed);
	nwarned = 0;
	e.msg[0] = '\0';
	ok(edges_merge(path, fresh, 1, now, warn, NULL, &e) == 0,
	    "a cache with bad lines is rewritten");
	ok(nwarned == 2 && strstr(warned[0], "edges:2: bad expiry") != NULL &&
	    strstr(warned[1], "edges:3: ") != NULL &&
	    strstr(warned[1], "\"edge_...\": invalid character") != NULL,
	    "... each bad line told, with file and line (%zu: %s | %s)",
	    nwarned, warned[0], warned[1]);
	read_text(path, buf, sizeof buf);
	ok(strstr(buf, "never") == NULL && strstr(buf, "evil") == NULL &&
	    strstr(buf, "keep.test\tsip.keep.test\t5061\t") != NULL &&
	    strstr(buf, "other.test\tsip.other.test\t5061\t") != NULL &&
	    strstr(buf, "fab.test\tsip1.fab.test\t5061\t") != NULL,
	    "... without them, the good lines and the fresh one kept");
	rc = edges_load(&ed, path, &e);
	ok(rc == 0 && ed.n == 3,
	    "... and it reads back clean (%zu lines)", ed.n);
	edges_free(&ed);

	/* A fresh line the reader would refuse is never written, and does
	 * not displace its domain's old lines. */
	{
		struct edge bad[2] = {
			{ "other.test", "edge_1.evil.test", 5061,
			    now + 60000, NULL },
			{ "keep.test", "-bad.keep.test", 5061, now + 60000,
			    NULL },
		};

		nwarned = 0;
		rc = edges_merge(path, bad, 2, now, warn, NULL, &e);
		ok(rc == 0 && nwarned == 2 && strstr(warned[0], "edge_1.evil.test") !=
		    NULL, "fresh targets that are not domains are refused "
		    "(%zu: %s)", nwarned, warned[0]);
		read_text(path, buf, sizeof buf);
		ok(strstr(buf, "evil") == NULL && strstr(buf, "-bad") == NULL &&
		    strstr(buf, "other.test\tsip.other.test\t") != NULL &&
		    strstr(buf, "keep.test\tsip.keep.test\t") != NULL,
		    "... not written; those domains keep their old lines");
	}
	/* A .suffix domain (an allow-list form) is no cache line. */
	write_text(path, ".fab.test sip.fab.test 5061 2030-01-01T00:00:00.000Z\n");
	ok(edges_load(&ed, path, &e) == -1 && ed.n == 0 &&
	    strstr(e.msg, "edges:1: ") != NULL,
	    "a .suffix domain line is skipped (%s)", e.msg);
	edges_free(&ed);
	ok(edges_merge("/nonexistent-dir/edges", fresh, 1, now, warn, NULL, &e) == -1 &&
	    e.msg[0] != '\0', "an unwritable place is an error (%s)", e.msg);

	unlink(path);
	snprintf(path, sizeof path, "%s/edges.lock", dir);
	unlink(path);
	rmdir(dir);
	return done_testing();
}
