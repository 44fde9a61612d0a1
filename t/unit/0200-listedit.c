/* 0200-listedit.c: list editing: load, batches, add/rm, both lists, index. */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listdb.h"
#include "listedit.h"
#include "tap.h"

static char dir[200];
static char allow[256], block[256];
static char reports[8192];
static size_t nreports;

static void
collect(const char *msg, void *arg)
{
	size_t l = strlen(reports);

	(void)arg;
	nreports++;
	snprintf(reports + l, sizeof reports - l, "%s\n", msg);
}

static void
reset_reports(void)
{
	reports[0] = '\0';
	nreports = 0;
}

static void
put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) != 0)
		abort();
}

/* The file as a C string (tap_slurp does not terminate it). */
static char *
get(const char *path)
{
	size_t len;
	char *b = tap_slurp(path, &len), *s;

	if (b == NULL || (s = malloc(len + 1)) == NULL) {
		free(b);
		return NULL;
	}
	memcpy(s, b, len);
	s[len] = '\0';
	free(b);
	return s;
}

static int
file_is(const char *path, const char *want, const char *what)
{
	char *got = get(path);
	int r = is_str(got != NULL ? got : "(missing)", want, "%s", what);

	free(got);
	return r;
}

/* Apply a batch given as text, one line an item. */
static int
apply(enum listedit_which w, enum listedit_op op, const char *items,
    struct listedit_stats *st)
{
	struct listedit_batch b = { NULL, 0, 0 };
	struct fed_err err;
	const char *p = items, *nl;
	unsigned line = 0;
	int r;

	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			abort();
		if (listedit_batch_parse(&b, p, (size_t)(nl - p),
		    w == LISTEDIT_ALLOW, NULL, ++line, &err) < 0) {
			diag("bad item: %s", err.msg);
			abort();
		}
	}
	reset_reports();
	r = listedit_apply(allow, block, w, op, &b, collect, NULL, st, &err);
	if (r < 0)
		diag("apply: %s", err.msg);
	listedit_batch_free(&b);
	return r;
}

static void
test_load(void)
{
	struct listedit_file f;
	struct fed_err err;
	struct fed_str c;
	const struct list_entry *e;

	put(allow, "\xef\xbb\xbf# head\r\nb.example rate=5 # two words \r\n"
	    "a.example\n");
	reset_reports();
	ok(listedit_load(&f, allow, 1, collect, NULL, &err) == 0,
	    "a good list loads");
	is_long((long)f.l.n, 2, "... two entries");
	is_long((long)f.nbad, 0, "... no problems");
	ok(!f.sorted, "... not in name order");
	e = listedit_find(&f, "b.example");
	ok(e != NULL && e->rate == 5, "find: exact name, with its options");
	ok(listedit_find(&f, "c.example") == NULL, "find: a missing name");
	c = listedit_comment(&f, e->off);
	is_mem(c.p, c.n, "two words", "the comment, trimmed (CR too)");
	listedit_free(&f);

	put(allow, "ok.example\nbad_.example\nok.example\n.x.example rate=0\n"
	    "z.example\n");
	reset_reports();
	ok(listedit_load(&f, allow, 1, collect, NULL, &err) == 0,
	    "a list with problems loads");
	is_long((long)f.nbad, 3, "... three problems");
	ok(strstr(reports, ":2: \"bad_...\": invalid character") != NULL,
	    "... a bad name, with file and line");
	ok(strstr(reports, ":3: ok.example is listed twice (first on line "
	    "1)") != NULL, "... a duplicate, naming the first");
	ok(strstr(reports, ":4: ") != NULL, "... a bad option");
	is_long((long)f.l.n, 2, "... the two good entries remain");
	ok(listedit_find(&f, "z.example") != NULL && f.l.v[1].line == 5,
	    "... with their own line numbers");
	listedit_free(&f);

	unlink(allow);
	ok(listedit_load(&f, allow, 1, collect, NULL, &err) == 0 &&
	    !f.exists && f.l.n == 0 && f.sorted, "a missing list is empty");
	listedit_free(&f);
}

static void
test_batch(void)
{
	struct listedit_batch b = { NULL, 0, 0 };
	struct listedit_item d;
	struct fed_err err;

	memset(&d, 0, sizeof d);
	d.rate = 7;
	d.max_uris = LIST_UNSET;
	d.comment = (char *)"default";
	ok(listedit_batch_parse(&b, "A.Example. max_uris=9", 21, 1, &d, 1,
	    &err) == 1, "an item with an option");
	ok(b.n == 1 && strcmp(b.v[0].name, "a.example") == 0,
	    "... normalized");
	ok(b.v[0].rate == 7 && b.v[0].max_uris == 9 &&
	    strcmp(b.v[0].comment, "default") == 0,
	    "... defaults fill what it does not say");
	ok(listedit_batch_parse(&b, "b.example # own", 15, 1, &d, 2,
	    &err) == 1 && strcmp(b.v[1].comment, "own") == 0,
	    "an item's own comment wins");
	ok(listedit_batch_parse(&b, "  # only a comment", 18, 1, NULL, 3,
	    &err) == 0, "a comment line is no item");
	ok(listedit_batch_parse(&b, "x.example rate=1", 16, 0, NULL, 4,
	    &err) == -1 && strstr(err.msg, "no options") != NULL,
	    "the block list takes no options");
	ok(listedit_batch_parse(&b, "caf\xc3\xa9.example", 13, 0, NULL, 5,
	    &err) == -1 && strstr(err.msg, "punycode") != NULL,
	    "non-ASCII is refused");
	is_long((long)b.n, 2, "two items in all");
	listedit_batch_free(&b);
}

static void
test_apply(void)
{
	struct listedit_stats st;
	struct listedit_batch b = { NULL, 0, 0 };
	struct listdb db;
	struct list_entry e;
	struct fed_err err;
	char scratch[LISTDB_SCRATCH];

	unlink(allow);
	unlink(block);
	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_ADD, "c.example\n"
	    "a.example edge=e.a.example # partner A\n", &st), 0,
	    "add two to a new list");
	ok(st.added == 2 && st.written, "... two added, written");
	file_is(allow, "a.example edge=e.a.example # partner A\nc.example\n",
	    "... in name order");
	ok(listdb_open(&db, allow, 1, &err) == 0 && db.indexed,
	    "... and its index is fresh (fedgate searches it in place)");
	ok(listdb_lookup(&db, "a.example", &e, scratch, sizeof scratch) == 1 &&
	    e.edge != NULL && strcmp(e.edge, "e.a.example") == 0,
	    "... and finds the entry with its edge");
	listdb_close(&db);

	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_ADD, "b.example\n"
	    "b.example\n", &st), 0, "a name twice alike is one");
	file_is(allow, "a.example edge=e.a.example # partner A\nb.example\n"
	    "c.example\n", "... inserted in order");
	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_ADD, "d.example rate=1\n"
	    "d.example rate=2\n", &st), 1, "a name twice with different "
	    "options is refused");
	ok(strstr(reports, "stdin:2: d.example: given twice") != NULL,
	    "... naming the line");

	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_ADD, "a.example rate=3\n",
	    &st), 0, "an update");
	ok(st.updated == 1 && st.added == 0, "... counted as one");
	file_is(allow, "a.example edge=e.a.example rate=3 # partner A\n"
	    "b.example\nc.example\n", "... keeps the edge and the comment");
	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_ADD, "a.example rate=3\n",
	    &st), 0, "the same again");
	ok(st.unchanged == 1 && !st.written, "... writes nothing");

	/* Both lists. */
	is_long(apply(LISTEDIT_BLOCK, LISTEDIT_ADD, "b.example\n", &st), 1,
	    "block add of an allowed name is refused");
	ok(strstr(reports, allow) != NULL && strstr(reports, block) != NULL,
	    "... the message names both files");
	is_long(apply(LISTEDIT_BLOCK, LISTEDIT_ADD, ".example\n", &st), 1,
	    "a .suffix covering allowed names is refused");
	is_long((long)nreports, 3, "... one report per covered entry");
	is_long(apply(LISTEDIT_BLOCK, LISTEDIT_ADD, ".evil.example\n", &st),
	    0, "a .suffix covering none is fine");
	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_ADD, "www.evil.example\n",
	    &st), 1, "an allow entry under a blocked .suffix is refused");
	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_ADD, ".evil.example\n", &st),
	    1, "... and the same .suffix");
	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_ADD, ".www.evil.example\n",
	    &st), 1, "... and a narrower one");

	/* Rm. */
	put(allow, "# head\nz.example\n\nb.example # bee\ny.example");
	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_RM, "b.example\nq.example\n",
	    &st), 0, "rm of one listed and one missing name");
	ok(st.removed == 1 && st.missing == 1, "... one removed, one missing");
	ok(strstr(reports, "q.example: not on the allow list") != NULL,
	    "... the missing one reported");
	file_is(allow, "# head\nz.example\n\ny.example",
	    "... only its line is gone");
	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_ADD, "m.example\n", &st), 0,
	    "add to an unsorted text without a final newline");
	file_is(allow, "# head\nz.example\n\ny.example\nm.example\n",
	    "... appends after a newline of its own");
	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_RM, "m.example\n", &st), 0,
	    "rm of the last line");
	file_is(allow, "# head\nz.example\n\ny.example\n", "... gone");

	/* A list with a bad line is not edited. */
	put(allow, "ok.example\nbad_.example\n");
	is_long(apply(LISTEDIT_ALLOW, LISTEDIT_ADD, "n.example\n", &st), 1,
	    "an add to a list with a bad line is refused");
	ok(strstr(reports, ":2: ") != NULL &&
	    strstr(reports, "nothing written") != NULL,
	    "... naming the line, saying nothing was written");
	file_is(allow, "ok.example\nbad_.example\n", "... the file untouched");

	ok(listedit_batch_parse(&b, "x.example", 9, 0, NULL, 0, &err) == 1,
	    "an item");
	{
		char nodir[300];

		snprintf(nodir, sizeof nodir, "%s/no/such/dir/block", dir);
		unlink(allow);
		ok(listedit_apply(allow, nodir, LISTEDIT_ALLOW, LISTEDIT_ADD,
		    &b, collect, NULL, &st, &err) == 0 && st.added == 1,
		    "the other list's directory missing: the edit goes on");
		ok(listedit_apply(nodir, allow, LISTEDIT_ALLOW, LISTEDIT_ADD,
		    &b, collect, NULL, &st, &err) == -1 &&
		    strstr(err.msg, "no/such/dir/block.lock") != NULL,
		    "... but not the list's own");
	}
	ok(listedit_apply(allow, allow, LISTEDIT_BLOCK, LISTEDIT_ADD, &b,
	    collect, NULL, &st, &err) == -1 &&
	    strstr(err.msg, "same file") != NULL,
	    "allow_list and block_list the same file: refused, no deadlock");
	listedit_batch_free(&b);
}

/*
 * allow_list and block_list naming one file by different strings: a
 * second flock of the same lock file would wait for ourselves forever,
 * so it must be refused before it is taken.  alarm() bounds the test: a
 * deadlock kills it instead of hanging.
 */
static void
test_same_file(void)
{
	struct listedit_batch b = { NULL, 0, 0 };
	struct listedit_stats st;
	struct fed_err err;
	char same[300], dotted[300], link[300];
	int w;

	snprintf(same, sizeof same, "%s/same", dir);
	snprintf(dotted, sizeof dotted, "%s/./same", dir);
	snprintf(link, sizeof link, "%s/link", dir);
	alarm(20);
	ok(listedit_batch_parse(&b, "x.example", 9, 0, NULL, 0, &err) == 1,
	    "an item");
	unlink(same);
	for (w = 0; w < 2; w++) {
		reset_reports();
		ok(listedit_apply(same, dotted, w ? LISTEDIT_BLOCK :
		    LISTEDIT_ALLOW, LISTEDIT_ADD, &b, collect, NULL, &st,
		    &err) == -1 && strstr(err.msg, "name the same file") != NULL,
		    "%s add, lists /x/same and /x/./same (no file yet): refused, "
		    "no deadlock", w ? "block" : "allow");
	}
	ok(access(same, F_OK) != 0, "... nothing written");
	put(same, "old.example\n");
	if (symlink(same, link) != 0)
		diag("symlink: %s", strerror(errno));
	for (w = 0; w < 2; w++)
		ok(listedit_apply(same, link, w ? LISTEDIT_BLOCK :
		    LISTEDIT_ALLOW, LISTEDIT_ADD, &b, collect, NULL, &st,
		    &err) == -1 && strstr(err.msg, "name the same file") != NULL,
		    "%s add, block list a symlink to the allow list: refused",
		    w ? "block" : "allow");
	ok(listedit_apply(link, same, LISTEDIT_BLOCK, LISTEDIT_RM, &b,
	    collect, NULL, &st, &err) == -1 &&
	    strstr(err.msg, "name the same file") != NULL,
	    "... rm too");
	file_is(same, "old.example\n", "... the file untouched");
	alarm(0);
	listedit_batch_free(&b);
}

/* Where new lines go, and how they end. */
static void
test_text(void)
{
	struct listedit_stats st;

	put(allow, "");
	put(block, "# the header\naa.example\n\n# about cc\ncc.example\n");
	is_long(apply(LISTEDIT_BLOCK, LISTEDIT_ADD, "0a.example\n", &st), 0,
	    "a new first entry");
	file_is(block, "# the header\n0a.example\naa.example\n\n"
	    "# about cc\ncc.example\n",
	    "... goes below the file's header comment");
	is_long(apply(LISTEDIT_BLOCK, LISTEDIT_ADD, "bb.example\n", &st), 0,
	    "an entry before one with its own comment");
	file_is(block, "# the header\n0a.example\naa.example\n\n"
	    "bb.example\n# about cc\ncc.example\n",
	    "... goes above that comment");
	put(block, "aa.example\r\n# c\r\ncc.example");
	is_long(apply(LISTEDIT_BLOCK, LISTEDIT_ADD, "bb.example\ndd.example\n",
	    &st), 0, "adds to a CRLF list");
	file_is(block, "aa.example\r\nbb.example\r\n# c\r\ncc.example\r\n"
	    "dd.example\r\n", "... new lines end in CRLF");
	put(block, "");
}

int
main(void)
{
	char cmd[300];

	if (tap_tmpdir(dir, sizeof dir, "fedkit-0200") == NULL) {
		perror("scratch directory");
		return 1;
	}
	snprintf(allow, sizeof allow, "%s/allow", dir);
	snprintf(block, sizeof block, "%s/block", dir);
	test_load();
	test_batch();
	test_apply();
	test_same_file();
	test_text();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (getenv("FEDKIT_KEEP") == NULL && system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
