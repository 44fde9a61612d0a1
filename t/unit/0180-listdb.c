/* 0180-listdb.c: lists searched through their index answer as parsed ones. */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "listdb.h"
#include "tap.h"

static char dir[200];

/* A path in the scratch directory, the same pointer for the same name
 * until the end of the test. */
static char *paths[64];

static const char *
path_of(const char *name)
{
	char buf[256];
	size_t i;

	snprintf(buf, sizeof buf, "%s/%s", dir, name);
	for (i = 0; i < 64 && paths[i] != NULL; i++)
		if (strcmp(paths[i], buf) == 0)
			return paths[i];
	if (i == 64 || (paths[i] = strdup(buf)) == NULL)
		abort();
	return paths[i];
}

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
write_str(const char *path, const char *text)
{
	write_file(path, text, strlen(text));
}

/* Replace path atomically, as fedlist does (a new inode). */
static void
replace_str(const char *path, const char *text)
{
	char tmp[300];

	snprintf(tmp, sizeof tmp, "%s.new", path);
	write_str(tmp, text);
	if (rename(tmp, path) != 0) {
		perror(tmp);
		exit(1);
	}
}

static int
index_it(const char *path, int opts)
{
	struct fed_err e;

	if (list_index_write(path, opts, 0, &e) != 0) {
		diag("list_index_write: %s", e.msg);
		return -1;
	}
	return 0;
}

static int
open_db(struct listdb *db, const char *path, int opts)
{
	struct fed_err e;

	if (listdb_open(db, path, opts, &e) == -1) {
		diag("listdb_open: %s", e.msg);
		return -1;
	}
	return 0;
}

/* "name edge rate max_uris" of a lookup, or "-" for no match. */
static const char *
answer(const struct listdb *db, const char *domain)
{
	static char out[4][600];
	static int k;
	char scratch[LISTDB_SCRATCH];
	struct list_entry e;

	k = (k + 1) % 4;
	if (listdb_lookup(db, domain, &e, scratch, sizeof scratch) != 1)
		snprintf(out[k], sizeof out[k], "-");
	else
		snprintf(out[k], sizeof out[k], "%s %s %ld %ld", e.name,
		    e.edge ? e.edge : "-", e.rate, e.max_uris);
	return out[k];
}

static const char *
ref_answer(const struct list *l, const char *domain)
{
	static char out[600];
	const struct list_entry *x = list_lookup(l, domain);

	if (x == NULL)
		snprintf(out, sizeof out, "-");
	else
		snprintf(out, sizeof out, "%s %s %ld %ld", x->name,
		    x->edge ? x->edge : "-", x->rate, x->max_uris);
	return out;
}

/* splitmix64, so every run tests the same lists. */
static uint64_t rs = 0x180;

static uint64_t
rnd(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * A random name from a small pool of labels, so that names nest: many an
 * exact entry lies under a suffix entry, under another suffix entry.
 */
static void
random_name(char *out, size_t sz, unsigned maxdepth)
{
	static const char *const label[] = { "a", "b", "c", "x1", "mail",
	    "sip", "corp", "edge-2", "eu", "us", "im", "w3", "k9z", "lync",
	    "fed", "q" };
	static const char *const tld[] = { "com", "org", "net", "co.uk",
	    "example" };
	unsigned depth = (unsigned)(rnd() % maxdepth) + 1, i;
	size_t o = 0;

	out[0] = '\0';
	for (i = 0; i < depth; i++)
		o += (size_t)snprintf(out + o, sz - o, "%s.",
		    label[rnd() % (sizeof label / sizeof *label)]);
	snprintf(out + o, sz - o, "%s", tld[rnd() % 5]);
}

/* Some bytes in upper case, as a hand edit may leave them. */
static void
scramble_case(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z' && rnd() % 3 == 0)
			*s = (char)(*s - 'a' + 'A');
}

/* A set of normalized names, to keep the generated list free of
 * duplicates (list_parse refuses them). */
#define SETSZ 65536
static char *set[SETSZ];

static int
set_add(const char *name)
{
	uint64_t h = 1469598103934665603ULL;
	const char *p;
	size_t i;

	for (p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (i = h % SETSZ; set[i] != NULL; i = (i + 1) % SETSZ)
		if (strcmp(set[i], name) == 0)
			return 0;
	set[i] = strdup(name);
	return 1;
}

static void
set_clear(void)
{
	size_t i;

	for (i = 0; i < SETSZ; i++) {
		free(set[i]);
		set[i] = NULL;
	}
}

/*
 * A list of n entries with every form a hand edit may have: case,
 * trailing dots, blanks and tabs before and between fields, CRLF,
 * comments, blank lines, options (allow list), long blank runs.
 */
static char *
random_list(size_t n, int opts, size_t *lenp)
{
	size_t cap = n * 160 + 8192, len = 0, made = 0;
	char *t = malloc(cap), name[128], norm[132];

	len += (size_t)snprintf(t + len, cap - len, "# generated\n\n");
	while (made < n) {
		int suffix = rnd() % 3 == 0;

		random_name(name, sizeof name, 4);
		snprintf(norm, sizeof norm, "%s%s", suffix ? "." : "", name);
		if (!set_add(norm))
			continue;
		made++;
		scramble_case(name);
		if (rnd() % 8 == 0)
			len += (size_t)snprintf(t + len, cap - len,
			    "%s", rnd() % 2 ? "  " : "\t");
		len += (size_t)snprintf(t + len, cap - len, "%s%s%s",
		    suffix ? "." : "", name, rnd() % 5 == 0 ? "." : "");
		if (rnd() % 200 == 0) {
			/* A long run of blanks: the line is read past the
			 * lookup's buffer, which must still see the option. */
			memset(t + len, ' ', 1500);
			len += 1500;
			if (opts)
				len += (size_t)snprintf(t + len, cap - len,
				    "rate=3");
		} else if (opts) {
			if (rnd() % 3 == 0)
				len += (size_t)snprintf(t + len, cap - len,
				    " rate=%u", (unsigned)(rnd() % 100 + 1));
			if (rnd() % 4 == 0)
				len += (size_t)snprintf(t + len, cap - len,
				    "\tmax_uris=%s", rnd() % 2 ? "unlimited" :
				    "77");
			if (rnd() % 5 == 0)
				len += (size_t)snprintf(t + len, cap - len,
				    " edge=Edge.%s", name);
		}
		if (rnd() % 6 == 0)
			len += (size_t)snprintf(t + len, cap - len,
			    " # note %zu", made);
		len += (size_t)snprintf(t + len, cap - len, "%s",
		    rnd() % 7 == 0 ? "\r\n" : "\n");
		if (rnd() % 20 == 0)
			len += (size_t)snprintf(t + len, cap - len,
			    "# a comment line\n   \n");
	}
	set_clear();
	*lenp = len;
	return t;
}

static void
test_parse_line(void)
{
	static const char text[] = "\xef\xbb\xbf" "b.com\n# c\n  .A.com. rate=5\n";
	static const char line[] = "  Contoso.COM. edge=SIP.Contoso.com "
	    "rate=50 max_uris=unlimited # x";
	char scratch[LISTDB_SCRATCH], small[16];
	struct list l;
	struct list_entry e;
	struct fed_err err;
	size_t i;
	int bad = 0;

	if (!ok(list_parse(&l, "t", text, sizeof text - 1, 1, &err) == 0,
	    "a list with a BOM"))
		return;
	for (i = 0; i < l.n; i++) {
		const char *p = text + l.v[i].off;

		while (*p == ' ')
			p++;
		if (strncasecmp(p, l.v[i].name, strlen(l.v[i].name)) != 0)
			bad++;
	}
	is_long((long)l.v[0].off, 13, ".a.com: off is its line's start");
	is_long((long)l.v[1].off, 3, "b.com: off is after the BOM");
	is_long((long)bad, 0, "every off points at its entry");
	list_free(&l);

	is_long(list_parse_line(line, sizeof line - 1, 1, &e, scratch,
	    sizeof scratch, &err), 1, "list_parse_line: an entry");
	is_str(e.name, "contoso.com", "name normalized into scratch");
	ok(e.name >= scratch && e.name < scratch + sizeof scratch,
	    "name in scratch");
	is_str(e.edge, "sip.contoso.com", "edge normalized");
	ok(e.rate == 50 && e.max_uris == LIST_UNLIMITED && e.line == 0 &&
	    e.off == 0, "options");
	is_long(list_parse_line("   # c", 6, 1, &e, scratch, sizeof scratch,
	    &err), 0, "a comment line");
	is_long(list_parse_line("a.com rate=5", 12, 0, &e, scratch,
	    sizeof scratch, &err), -1, "options refused on a block list");
	is_str(err.msg, "option \"rate=5\": the block list takes no options",
	    "the message");
	is_long(list_parse_line("a.com", 5, 0, &e, small, sizeof small,
	    &err), -1, "a scratch too small is refused");
	is_long(listdb_lookup(NULL, "a.com", &e, small, sizeof small), -1,
	    "listdb_lookup: a scratch too small is refused");
}

/* Indexed, parsed through listdb, and list_lookup: the same answers. */
static void
test_equivalence(int opts)
{
	const char *path = path_of(opts ? "allow" : "block");
	char scratch[LISTDB_SCRATCH], q[300];
	struct listdb ix, px;
	struct list ref;
	struct fed_err e;
	struct list_entry ent;
	size_t len, i, diff = 0, diffp = 0, hits = 0, offbad = 0;
	char *text = random_list(4000, opts, &len);
	const char *a, *b, *c;

	write_file(path, text, len);
	free(text);
	if (!ok(list_load(&ref, path, opts, &e) == 0, "%s: the random list "
	    "parses", opts ? "allow" : "block")) {
		diag("%s", e.msg);
		return;
	}
	ok(index_it(path, opts) == 0, "index built");
	if (open_db(&ix, path, opts) == -1)
		return;
	ok(ix.indexed && ix.exists, "opened through the index");
	is_long((long)listdb_count(&ix), (long)ref.n, "count");
	rename(path_of(opts ? "allow.idx" : "block.idx"),
	    path_of("moved.idx"));
	if (open_db(&px, path, opts) == -1)
		return;
	ok(!px.indexed && px.exists, "without the index: parsed");
	rename(path_of("moved.idx"), path_of(opts ? "allow.idx" :
	    "block.idx"));

	for (i = 0; i < 20000; i++) {
		switch (i % 4) {
		case 0:		/* a random name, often listed or under one */
			random_name(q, sizeof q, 6);
			break;
		case 1: {	/* an entry's own name */
			const char *nm = ref.v[rnd() % ref.n].name;

			snprintf(q, sizeof q, "%s", nm[0] == '.' ? nm + 1 : nm);
			break;
		}
		case 2: {	/* under an entry */
			const char *nm = ref.v[rnd() % ref.n].name;

			snprintf(q, sizeof q, "zz%s%s", nm[0] == '.' ? "" : ".",
			    nm);
			break;
		}
		default:	/* a parent of an entry, or a near miss */
			random_name(q, sizeof q, 2);
			if (rnd() % 2)
				q[strlen(q) - 1] = 'x';
			break;
		}
		if (rnd() % 4 == 0)
			scramble_case(q);
		if (rnd() % 10 == 0)
			strcat(q, ".");
		a = answer(&ix, q);
		b = answer(&px, q);
		c = ref_answer(&ref, q);
		if (strcmp(a, c) != 0 && diff++ < 5)
			diag("indexed %s: %s, list_lookup: %s", q, a, c);
		if (strcmp(b, c) != 0 && diffp++ < 5)
			diag("parsed %s: %s, list_lookup: %s", q, b, c);
		if (strcmp(c, "-") != 0) {
			const struct list_entry *x = list_lookup(&ref, q);

			hits++;
			if (listdb_lookup(&ix, q, &ent, scratch,
			    sizeof scratch) != 1 || ent.off != x->off)
				offbad++;
		}
	}
	is_long((long)diff, 0, "indexed == list_lookup over 20000 queries "
	    "(%zu hits)", hits);
	ok(hits > 5000 && hits < 19500, "both hits and misses (%zu hits)",
	    hits);
	is_long((long)diffp, 0, "parsed == list_lookup");
	is_long((long)offbad, 0, "the indexed entry's line is list_parse's");
	listdb_close(&ix);
	listdb_close(&px);
	list_free(&ref);
}

static void
test_suffixes(void)
{
	const char *path = path_of("sfx");
	struct listdb db;

	write_str(path, ".example.com\n.b.c.example.com rate=7\n"
	    "a.b.c.example.com rate=9\nexample.org\n.org.uk\n");
	if (index_it(path, 1) == -1 || open_db(&db, path, 1) == -1)
		return;
	ok(db.indexed, "indexed");
	is_str(answer(&db, "a.b.c.example.com"), "a.b.c.example.com - 9 -1",
	    "exact wins");
	is_str(answer(&db, "z.a.b.c.example.com"), ".b.c.example.com - 7 -1",
	    "longest suffix under an exact entry");
	is_str(answer(&db, "b.c.example.com"), ".b.c.example.com - 7 -1",
	    ".suffix matches the domain itself");
	is_str(answer(&db, "c.example.com"), ".example.com - -1 -1",
	    "shorter suffix");
	is_str(answer(&db, "EXAMPLE.Org."), "example.org - -1 -1",
	    "case and trailing dot");
	is_str(answer(&db, "www.example.org"), "-", "exact: no subdomain");
	is_str(answer(&db, "xexample.com"), "-", "label boundary");
	is_str(answer(&db, "com"), "-", "parent of a suffix: no");
	is_str(answer(&db, "a.b.org.uk"), ".org.uk - -1 -1",
	    "two-label suffix");
	is_str(answer(&db, ""), "-", "empty name");
	is_str(answer(&db, "."), "-", "root");
	listdb_close(&db);
}

/* A hand-edited text in upper case, indexed afresh. */
static void
test_upper_case(void)
{
	const char *path = path_of("upper");
	struct listdb db;
	struct list ref;
	struct fed_err e;
	static const char *const q[] = { "contoso.com", "CONTOSO.COM.",
	    "im.fabrikam.com", "fabrikam.com", "mixed.example",
	    "x.mixed.example", "tail.example", "TAIL.example", "absent.com" };
	size_t i;

	write_str(path, "# Hand edited\r\n"
	    "Contoso.COM.\r\n"
	    "\t.FABRIKAM.Com  rate=unlimited\r\n"
	    "  MiXeD.Example\tedge=EDGE.Mixed.Example rate=5 # Big\r\n"
	    "TAIL.EXAMPLE.");	/* no final newline */
	if (index_it(path, 1) == -1 || open_db(&db, path, 1) == -1 ||
	    list_load(&ref, path, 1, &e) == -1)
		return;
	ok(db.indexed, "upper-case text: indexed");
	is_str(answer(&db, "contoso.com"), "contoso.com - -1 -1",
	    "Contoso.COM. found");
	is_str(answer(&db, "sip.fabrikam.com"), ".fabrikam.com - -2 -1",
	    ".FABRIKAM.Com found, options parsed");
	is_str(answer(&db, "mixed.example"), "mixed.example "
	    "edge.mixed.example 5 -1", "edge lowercased from the line");
	is_str(answer(&db, "tail.example"), "tail.example - -1 -1",
	    "last line, trailing dot, no newline");
	for (i = 0; i < sizeof q / sizeof *q; i++)
		is_str(answer(&db, q[i]), ref_answer(&ref, q[i]),
		    "%s as list_lookup", q[i]);
	listdb_close(&db);
	list_free(&ref);
}

/* Lines longer than the lookup's buffer: blanks, and a long comment. */
static void
test_long_lines(void)
{
	const char *path = path_of("long");
	size_t cap = 20000, len = 0;
	char *t = malloc(cap);
	struct listdb db;

	len += (size_t)snprintf(t + len, cap - len, "a.com");
	memset(t + len, ' ', 3000);
	len += 3000;
	len += (size_t)snprintf(t + len, cap - len, "rate=3\t");
	memset(t + len, '\t', 2000);
	len += 2000;
	len += (size_t)snprintf(t + len, cap - len, "max_uris=9\n"
	    "b.com rate=4 # ");
	memset(t + len, 'x', 5000);
	len += 5000;
	len += (size_t)snprintf(t + len, cap - len, "\nc.com");
	memset(t + len, ' ', 1100);
	len += 1100;
	write_file(path, t, len);
	free(t);
	if (index_it(path, 1) == -1 || open_db(&db, path, 1) == -1)
		return;
	ok(db.indexed, "long lines: indexed");
	is_str(answer(&db, "a.com"), "a.com - 3 9",
	    "options after 5000 blanks");
	is_str(answer(&db, "b.com"), "b.com - 4 -1",
	    "an option before a 5000-byte comment");
	is_str(answer(&db, "c.com"), "c.com - -1 -1",
	    "trailing blanks up to the end of the text");
	listdb_close(&db);
}

static void
set_mtime(const char *path, time_t sec)
{
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };

	utimensat(AT_FDCWD, path, ts, 0);
}

static void
test_stale(void)
{
	const char *path = path_of("stale");
	struct listdb db;
	struct stat st;
	FILE *f;
	int fd;

	write_str(path, "aaa.com\n.bbb.com\n");
	set_mtime(path, 1000000000);
	if (index_it(path, 0) == -1 || open_db(&db, path, 0) == -1)
		return;
	ok(db.indexed, "fresh index used");
	listdb_close(&db);

	/* Appended after indexing: the size and the mtime differ. */
	f = fopen(path, "a");
	fputs("new.example\n", f);
	fclose(f);
	set_mtime(path, 1000000005);
	if (open_db(&db, path, 0) == -1)
		return;
	ok(db.indexed && db.stale, "appended text: the index stays in use");
	is_str(answer(&db, "new.example"), "-",
	    "the new line waits for `fedlist index`");
	is_str(answer(&db, "x.bbb.com"), ".bbb.com - -1 -1",
	    "the compiled ones answer");
	ok(listdb_warning(&db) != NULL &&
	    strstr(db.warn.msg, "changed since `fedlist index`") != NULL &&
	    strstr(db.warn.msg, "run `fedlist index`") != NULL,
	    "and it says so: %s", db.warn.msg);
	ok(listdb_warning(&db) == NULL, "once");
	listdb_close(&db);

	/* The same size, rewritten in place, only the mtime tells. */
	ok(index_it(path, 0) == 0, "reindexed");
	if (open_db(&db, path, 0) == -1)
		return;
	ok(db.indexed, "indexed again");
	listdb_close(&db);
	stat(path, &st);
	fd = open(path, O_WRONLY);
	ok(pwrite(fd, "aab", 3, 0) == 3, "aaa.com becomes aab.com in place");
	close(fd);
	set_mtime(path, st.st_mtim.tv_sec + 1);
	if (open_db(&db, path, 0) == -1)
		return;
	ok(db.indexed && db.stale, "same size, other mtime: stale");
	is_str(answer(&db, "aaa.com"), "aaa.com - -1 -1",
	    "the compiled name answers");
	listdb_close(&db);
	ok(index_it(path, 0) == 0, "compiled");
	if (open_db(&db, path, 0) == -1)
		return;
	ok(db.indexed && !db.stale && listdb_warning(&db) == NULL,
	    "fresh, nothing to say");
	is_str(answer(&db, "aab.com"), "aab.com - -1 -1", "new name seen");
	is_str(answer(&db, "aaa.com"), "-", "old name gone");
	listdb_close(&db);
}

static void
patch(const char *path, off_t at, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY);

	if (fd == -1 || pwrite(fd, bytes, n, at) != (ssize_t)n) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static void
test_bad_index(void)
{
	const char *path = path_of("ver"), *idx = path_of("ver.idx");
	struct listdb db;
	struct stat st;
	uint32_t junk[3] = { UINT32_MAX, 5, 0x7fffffff };

	write_str(path, "one.com\ntwo.com\n.three.com\n");
	if (index_it(path, 0) == -1)
		return;
	patch(idx, 15, "1", 1);	/* "fedkit-listidx 1" */
	if (open_db(&db, path, 0) == -1)
		return;
	ok(!db.indexed, "an index of another version: parsed");
	ok(listdb_warning(&db) != NULL && strstr(db.warn.msg, "not an index "
	    "of this version") != NULL, "said: %s", db.warn.msg);
	is_str(answer(&db, "a.three.com"), ".three.com - -1 -1",
	    "answers from the text");
	listdb_close(&db);

	index_it(path, 0);
	stat(idx, &st);
	ok(truncate(idx, st.st_size - 4) == 0, "index cut short");
	open_db(&db, path, 0);
	ok(!db.indexed, "a truncated index: parsed");
	listdb_close(&db);

	/* Someone else's index: it describes another file, and is what
	 * was compiled last: used, with a warning. */
	write_str(path_of("other"), "one.com\n");
	index_it(path_of("other"), 0);
	rename(path_of("other.idx"), idx);
	open_db(&db, path, 0);
	ok(db.indexed && db.stale, "another text's index: used, stale");
	is_long((long)listdb_count(&db), 1, "its one entry");
	listdb_close(&db);

	/* Offsets out of the text, or in the middle of a line, with the
	 * right identity: wrong answers are allowed, bad reads are not. */
	index_it(path, 0);
	patch(idx, LISTDB_HDR_SIZE, junk, sizeof junk);
	open_db(&db, path, 0);
	ok(db.indexed, "a corrupt index with the right identity is used");
	answer(&db, "one.com");
	answer(&db, "x.three.com");
	answer(&db, "zzz.zzz");
	ok(1, "lookups through garbage offsets return");
	listdb_close(&db);

	/* A text truncated in place under an open reader (a hand edit):
	 * with a mapping that would be SIGBUS. */
	index_it(path, 0);
	open_db(&db, path, 0);
	ok(db.indexed, "indexed");
	ok(truncate(path, 0) == 0, "text truncated under the reader");
	is_str(answer(&db, "two.com"), "two.com - -1 -1",
	    "the index holds its own copy");
	listdb_close(&db);
}

static void
test_missing_and_empty(void)
{
	const char *path = path_of("nothing");
	char scratch[LISTDB_SCRATCH];
	struct list_entry e;
	struct listdb db;
	struct fed_err err;

	ok(listdb_open(&db, path, 1, &err) == 0, "missing list: no error");
	ok(!db.exists && !db.indexed && listdb_count(&db) == 0,
	    "empty, not existing");
	is_long(listdb_lookup(&db, "a.com", &e, scratch, sizeof scratch), 0,
	    "nothing found");
	listdb_close(&db);
	listdb_close(&db);
	ok(1, "closing twice is harmless");

	path = path_of("empty");
	write_str(path, "");
	if (index_it(path, 1) == -1 || open_db(&db, path, 1) == -1)
		return;
	ok(db.exists && db.indexed && listdb_count(&db) == 0,
	    "an empty text, indexed");
	is_str(answer(&db, "a.com"), "-", "finds nothing");
	listdb_close(&db);

	path = path_of("bom");
	write_str(path, "\xef\xbb\xbf" "bom.example\n");
	if (index_it(path, 1) == -1 || open_db(&db, path, 1) == -1)
		return;
	ok(db.indexed, "a text with a byte order mark, indexed");
	is_str(answer(&db, "bom.example"), "bom.example - -1 -1",
	    "its first entry found");
	listdb_close(&db);
}

static void
test_index_errors(void)
{
	const char *path = path_of("bad"), *idx = path_of("bad.idx");
	char want[400];
	struct fed_err err;
	struct listdb db;

	err.msg[0] = '\0';
	write_str(path_of("none.idx"), "stale");
	ok(list_index_write(path_of("none"), 1, 0, &err) == 0,
	    "a missing text: no index");
	ok(access(path_of("none.idx"), F_OK) == -1, "the old one removed");

	write_str(path, "ok.com\nexa_mple.com\nok.com\n");
	is_long(list_index_write(path, 1, 0, &err), LISTDB_BAD_TEXT,
	    "a bad line: no index");
	snprintf(want, sizeof want, "%s:2: \"exa_...\": invalid "
	    "character \"_\" (a name has only letters, digits, hyphens and "
	    "dots) (and 1 more bad line)", path);
	is_str(err.msg, want, "PATH:LINE: problem, and how many more");
	ok(access(idx, F_OK) == -1, "no index written");
	ok(listdb_open(&db, path, 1, &err) == 0, "listdb_open takes it");
	ok(!db.indexed && listdb_count(&db) == 1, "the good line only");
	ok(listdb_warning(&db) != NULL && strstr(db.warn.msg, ":2: ") !=
	    NULL && strstr(db.warn.msg, "no index to fall back on") != NULL,
	    "said: %s", db.warn.msg);
	listdb_close(&db);

	/* A bad edit over a good index: the index stays, the line named. */
	write_str(path, "ok.com\n.good.com\n");
	ok(list_index_write(path, 1, 0, &err) == 0, "compiled");
	write_str(path, "ok.com\n.good.com\nbad..com\n");
	ok(list_index_write(path, 1, 0, &err) == LISTDB_BAD_TEXT &&
	    access(idx, F_OK) == 0, "a bad edit: the index kept");
	ok(listdb_open(&db, path, 1, &err) == 0 && db.indexed && db.stale,
	    "the last index in use");
	is_str(answer(&db, "a.good.com"), ".good.com - -1 -1", "answering");
	snprintf(want, sizeof want, "%s:3: ", path);
	ok(listdb_warning(&db) != NULL && strstr(db.warn.msg, want) != NULL &&
	    strstr(db.warn.msg, "run `fedlist index`") != NULL, "said: %s",
	    db.warn.msg);
	listdb_close(&db);
	is_long(listdb_check(path, 1, &err), 1, "listdb_check: 1");
	ok(strstr(err.msg, want) != NULL, "naming the line: %s", err.msg);
	write_str(path, "ok.com\n.good.com\n");
	ok(list_index_write(path, 1, 0, &err) == 0, "fixed, compiled");
	is_long(listdb_check(path, 1, &err), 0, "listdb_check: 0");

	write_str(path, "ok.com rate=5\n");
	ok(list_index_write(path, 0, 0, &err) == LISTDB_BAD_TEXT,
	    "options on a block list: no index");
	ok(strstr(err.msg, ":1: option \"rate=5\": the block list takes no "
	    "options") != NULL, "%s", err.msg);
	path = path_of("held");
	write_str(path, "ok.com rate=5\n");
	ok(list_index_write(path, 1, 1, &err) == 0,
	    "held: as an allow list it is fine");
	ok(access(path_of("held.lock"), F_OK) == -1,
	    "held: PATH.lock is the caller's, not taken here");
	ok(access(path_of("held.idx"), F_OK) == 0, "the index written");
}

/* Keep the old list until a second has passed; then see every change
 * `fedlist index` compiles, and only those. */
static void
test_refresh(void)
{
	const char *path = path_of("live");
	struct listdb db;
	struct fed_err err;
	int64_t t = 5000000;
	int fd;

	write_str(path, "one.com\n");
	if (index_it(path, 0) == -1 || open_db(&db, path, 0) == -1)
		return;
	is_long(listdb_refresh(&db, t, &err), 0, "nothing changed");
	replace_str(path, "two.com\n.three.com\n");
	is_long(listdb_refresh(&db, t + 500, &err), 0,
	    "within a second: not even looked at");
	is_str(answer(&db, "one.com"), "one.com - -1 -1", "the old list");
	is_long(listdb_refresh(&db, t + 1000, &err), 0,
	    "a second later: a text changed, not compiled: the same answers");
	ok(db.indexed && db.stale, "the index in use, stale");
	ok(listdb_warning(&db) != NULL, "said");
	is_long(listdb_refresh(&db, t + 1500, &err), 0, "no change");
	ok(listdb_warning(&db) == NULL, "said once");
	is_str(answer(&db, "one.com"), "one.com - -1 -1", "the old list");
	index_it(path, 0);
	is_long(listdb_refresh(&db, t + 2000, &err), 1,
	    "a new index is picked up");
	ok(db.indexed && !db.stale, "indexed now");
	ok(listdb_warning(&db) == NULL, "nothing to say");
	is_str(answer(&db, "x.three.com"), ".three.com - -1 -1",
	    "answers through it");
	is_str(answer(&db, "one.com"), "-", "the old entry gone");
	is_long(listdb_refresh(&db, t + 3000, &err), 0, "no change");
	is_long(listdb_refresh(&db, t - 100000, &err), 0,
	    "a clock stepped back still checks (no change)");

	replace_str(path, "bad..name\n");
	is_long(listdb_refresh(&db, t + 4000, &err), 0,
	    "a bad text: nothing changes");
	ok(listdb_warning(&db) != NULL && strstr(db.warn.msg,
	    ":1: \"bad..name\": empty label") != NULL, "said: %s",
	    db.warn.msg);
	is_str(answer(&db, "x.three.com"), ".three.com - -1 -1",
	    "the old list stays in use");
	is_long(listdb_refresh(&db, t + 5000, &err), 0, "no change");
	ok(listdb_warning(&db) == NULL, "said once");
	replace_str(path, "four.com\n");
	is_long(listdb_refresh(&db, t + 6000, &err), 0, "fixed: still stale");
	ok(listdb_warning(&db) != NULL && strstr(db.warn.msg,
	    "changed since") != NULL, "said again, for the new text: %s",
	    db.warn.msg);
	index_it(path, 0);
	is_long(listdb_refresh(&db, t + 7000, &err), 1, "compiled: reloaded");
	is_str(answer(&db, "four.com"), "four.com - -1 -1", "the fixed list");

	unlink(path);
	is_long(listdb_refresh(&db, t + 8000, &err), 0,
	    "text removed: the index stays");
	is_str(answer(&db, "four.com"), "four.com - -1 -1", "in use");
	ok(listdb_warning(&db) != NULL && strstr(db.warn.msg,
	    "to empty the list") != NULL, "said: %s", db.warn.msg);
	index_it(path, 0);
	is_long(listdb_refresh(&db, t + 9000, &err), 1,
	    "`fedlist index` of no text: reloaded");
	ok(!db.exists && listdb_count(&db) == 0, "an empty list");
	write_str(path, "five.com\n");
	is_long(listdb_refresh(&db, t + 10000, &err), 1, "text back, no index");
	ok(!db.indexed, "parsed");
	is_str(answer(&db, "five.com"), "five.com - -1 -1", "and used");
	ok(listdb_warning(&db) != NULL && strstr(db.warn.msg, "no index") !=
	    NULL, "said: %s", db.warn.msg);

	/* A writer holding PATH.lock between the text and its index: the
	 * reader keeps the old list, and looks again 100 ms later. */
	t += 10000;
	index_it(path, 0);
	listdb_refresh(&db, t + 9000, &err);
	ok(db.indexed, "indexed");
	fd = open(path_of("live.lock"), O_RDONLY | O_CREAT, 0644);
	ok(fd != -1 && flock(fd, LOCK_EX) == 0, "a writer takes PATH.lock");
	replace_str(path, "six.com\n");
	is_long(listdb_refresh(&db, t + 10000, &err), 0,
	    "text renamed, index not yet: wait");
	ok(listdb_warning(&db) == NULL, "nothing said while waiting");
	is_str(answer(&db, "five.com"), "five.com - -1 -1",
	    "meanwhile the old list");
	is_long(listdb_refresh(&db, t + 10050, &err), 0,
	    "not again within 100 ms");
	is_long(listdb_refresh(&db, t + 10100, &err), 0,
	    "100 ms later, still waiting");
	/* We are the writer: the lock is held (flock would block on a
	 * second open of PATH.lock, even in this process). */
	ok(list_index_write(path, 0, 1, &err) == 0, "the writer's index");
	close(fd);		/* the writer is done */
	is_long(listdb_refresh(&db, t + 10200, &err), 1,
	    "the writer done: reloaded");
	ok(db.indexed, "through the new index");
	is_str(answer(&db, "six.com"), "six.com - -1 -1", "the new list");

	fd = open(path_of("live.lock"), O_RDONLY);
	flock(fd, LOCK_EX);
	replace_str(path, "seven.com\n");
	is_long(listdb_refresh(&db, t + 20000, &err), 0, "a writer again");
	is_long(listdb_refresh(&db, t + 20000 + LISTDB_WRITER_WAIT_MS, &err),
	    0, "one that holds the lock too long: the index in use stays");
	ok(db.indexed && db.stale, "stale");
	is_str(answer(&db, "six.com"), "six.com - -1 -1", "and used");
	close(fd);

	/* The index removed under a reader, the text still there. */
	unlink(path_of("live.idx"));
	is_long(listdb_refresh(&db, t + 30000, &err), 0,
	    "index removed: the one open stays");
	is_str(answer(&db, "six.com"), "six.com - -1 -1", "and answers");
	ok(listdb_warning(&db) != NULL && strstr(db.warn.msg, "removed") !=
	    NULL, "said: %s", db.warn.msg);
	listdb_close(&db);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A process starting while fedlist is between the text and its index
 * waits for the index instead of parsing. */
static void
test_open_waits(void)
{
	const char *path = path_of("starting");
	struct fed_err err;
	struct listdb db;
	int64_t t0, t1;
	int p[2], fd, st;
	pid_t pid;
	char c;

	write_str(path, "old.com\n");
	index_it(path, 0);
	if (pipe(p) != 0 || (pid = fork()) == -1) {
		ok(0, "fork");
		return;
	}
	if (pid == 0) {
		fd = open(path_of("starting.lock"), O_RDONLY | O_CREAT, 0644);
		flock(fd, LOCK_EX);
		replace_str(path, "new.com\n");
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		usleep(300 * 1000);
		_exit(list_index_write(path, 0, 1, &err) == 0 ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		c = 0;
	close(p[0]);
	t0 = mono_ms();
	open_db(&db, path, 0);
	t1 = mono_ms();
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the writer succeeded");
	ok(db.indexed, "the starting reader waited for the index");
	ok(t1 - t0 >= 150 && t1 - t0 < LISTDB_WRITER_WAIT_MS,
	    "it waited for the writer (%lld ms)", (long long)(t1 - t0));
	is_str(answer(&db, "new.com"), "new.com - -1 -1", "the new list");
	listdb_close(&db);
}

static void
cleanup(void)
{
	char cmd[300];

	size_t i;

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (getenv("FEDKIT_KEEP") == NULL && system(cmd) != 0)
		diag("could not remove %s", dir);
	for (i = 0; i < 64; i++)
		free(paths[i]);
}

int
main(void)
{
	if (tap_tmpdir(dir, sizeof dir, "fedkit-0180") == NULL) {
		perror("scratch directory");
		return 1;
	}
	test_parse_line();
	test_equivalence(0);
	test_equivalence(1);
	test_suffixes();
	test_upper_case();
	test_long_lines();
	test_stale();
	test_bad_index();
	test_missing_and_empty();
	test_index_errors();
	test_refresh();
	test_open_waits();
	cleanup();
	return done_testing();
}
