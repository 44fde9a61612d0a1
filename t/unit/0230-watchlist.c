/* 0230-watchlist: the watch list file: load, lookup, durable add and remove, hand edits, refresh, concurrent writers. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "vlog.h"
#include "watchlist.h"

static char dir[256];
static const int64_t T0 = 1795000000123;	/* 2026-11-18T...Z */

static void
write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (f != NULL) {
		fputs(s, f);
		fclose(f);
	}
}

/* The file's text (static buffer), or "" when it cannot be read. */
static const char *
text_of(const char *path)
{
	static char *buf;
	size_t len;

	free(buf);
	if ((buf = tap_slurp(path, &len)) == NULL)
		return "";
	buf[len] = '\0';	/* tap_slurp leaves room for it */
	return buf;
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Temporary files left beside path (PATH.tmp.*). */
static int
tmp_files(void)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	while (d != NULL && (de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp.") != NULL)
			n++;
	if (d != NULL)
		closedir(d);
	return n;
}

static void
test_missing_add_remove(void)
{
	char path[300], line[128], when[32];
	struct fed_err e = { "" };
	struct watchlist wl;
	struct stat st, st2;
	int64_t since = 0;
	int rc;

	snprintf(path, sizeof path, "%s/watch", dir);
	is_long(watchlist_open(&wl, path, &e), WATCHLIST_LOADED,
	    "a missing file opens as an empty list");
	ok(watchlist_count(&wl) == 0 && !watchlist_lookup(&wl, "a.example",
	    T0, 0, NULL), "... nobody is watched");
	ok(access(path, F_OK) != 0, "... and opening creates nothing");
	is_long(watchlist_refresh(&wl, T0, &e), WATCHLIST_SAME,
	    "refresh of a file still missing: unchanged");

	is_long(watchlist_add(&wl, "a.example", T0, "max_uris", &e), 0,
	    "add a.example");
	ok(watchlist_lookup(&wl, "a.example", T0, 0, &since) == 1 &&
	    since == T0, "a.example is watched, since the time given");
	vlog_time_format(when, T0);
	snprintf(line, sizeof line, "\na.example\t%s\tmax_uris\n", when);
	ok(strncmp(text_of(path), "# ", 2) == 0 &&
	    strstr(text_of(path), line) != NULL,
	    "a new file: a header comment, then DOMAIN<TAB>SINCE<TAB>REASON");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == WATCHLIST_MODE,
	    "a new file has mode %o", WATCHLIST_MODE);
	is_long(watchlist_add(&wl, "B.Example.", T0 + 5, "operator", &e), 0,
	    "add B.Example. (normalized)");
	ok(watchlist_lookup(&wl, "b.example", T0, 0, NULL) == 1 &&
	    watchlist_lookup(&wl, "B.EXAMPLE", T0, 0, NULL) == 1 &&
	    watchlist_lookup(&wl, "b.example.", T0, 0, NULL) == 1,
	    "lookup forgives case and one trailing dot");
	ok(strstr(text_of(path), "\nb.example\t") != NULL,
	    "... and the file holds the normal form");
	ok(!watchlist_lookup(&wl, "c.example", T0, 0, NULL) &&
	    !watchlist_lookup(&wl, "example", T0, 0, NULL) &&
	    !watchlist_lookup(&wl, "x.a.example", T0, 0, NULL) &&
	    !watchlist_lookup(&wl, "", T0, 0, NULL) &&
	    !watchlist_lookup(&wl, NULL, T0, 0, NULL),
	    "other names are not watched (no suffix matching)");

	/* A second add of the same domain writes nothing. */
	stat(path, &st);
	usleep(20000);
	is_long(watchlist_add(&wl, "A.example", T0 + 999, "operator", &e), 0,
	    "adding a watched domain again succeeds");
	ok(stat(path, &st2) == 0 && same_file(&st, &st2),
	    "... without writing (same inode, size and mtime)");
	ok(watchlist_lookup(&wl, "a.example", T0, 0, &since) == 1 &&
	    since == T0, "... and the first start is kept");
	ok(tmp_files() == 0, "no temporary file left behind");

	is_long(watchlist_remove(&wl, "a.example.", &e), 1, "remove a.example");
	ok(!watchlist_lookup(&wl, "a.example", T0, 0, NULL) &&
	    watchlist_lookup(&wl, "b.example", T0, 0, NULL),
	    "a.example is no longer watched, b.example still is");
	ok(strstr(text_of(path), "a.example") == NULL &&
	    strncmp(text_of(path), "# ", 2) == 0,
	    "its line is gone, the header kept");
	stat(path, &st);
	is_long(watchlist_remove(&wl, "a.example", &e), 0,
	    "removing it again: not there");
	ok(stat(path, &st2) == 0 && same_file(&st, &st2),
	    "... and nothing was written");

	/* Arguments a writer refuses. */
	ok(watchlist_add(&wl, "-bad-.example", T0, "operator", &e) == -1 &&
	    strstr(e.msg, "hyphen") != NULL, "a bad domain is refused: %s",
	    e.msg);
	ok(watchlist_add(&wl, ".suffix.example", T0, "operator", &e) == -1,
	    "the .suffix form is refused: %s", e.msg);
	rc = watchlist_add(&wl, "b\xc3\xa9.example", T0, "operator", &e);
	ok(rc == -1 && strstr(e.msg, "punycode") != NULL,
	    "non-ASCII is refused: %s", e.msg);
	ok(watchlist_add(&wl, "c.example", T0, "two words", &e) == -1 &&
	    strstr(e.msg, "reason") != NULL, "a reason of two words is "
	    "refused: %s", e.msg);
	ok(watchlist_add(&wl, "c.example", T0,
	    "abcdefghijklmnopqrstuvwxyz0123456", &e) == -1,
	    "a 33-byte reason is refused");
	ok(watchlist_add(&wl, "c.example", T0,
	    "abcdefghijklmnopqrstuvwxyz012345", &e) == 0,
	    "a 32-byte reason is taken");
	ok(watchlist_add(&wl, "d.example", T0, "", &e) == -1,
	    "an empty reason is refused");
	ok(watchlist_remove(&wl, "bad..example", &e) == -1,
	    "remove refuses a bad domain: %s", e.msg);
	watchlist_close(&wl);
	unlink(path);
}

static const char hand[] =
    "# watched by hand\n"
    "\n"
    "good.example   2026-11-21T22:40:33.123Z \t max_uris\n"
    "bad-time.example\t2026-13-21T22:40:33.123Z\tmax_uris\n"
    "  # an indented comment\n"
    "Upper.Example.\t2026-11-21T22:40:33Z\toperator   # by hand\n"
    "two.example\t2026-11-21T22:40:33.123Z\n"
    "crlf.example\t2026-11-21T22:40:33.123Z\toperator\r\n"
    "good.example\t2026-11-22T00:00:00.000Z\toperator\n"
    "x\xc3\xa9.example\t2026-11-21T22:40:33.123Z\toperator\n"
    "four.example\t2026-11-21T22:40:33.123Z\tmax_uris extra\n"
    "last.example\t2026-11-21T22:40:33.123Z\tbad/reason";

struct walked {
	char names[8][64];
	int n, stop;
};

static int
walk_fn(const char *domain, int64_t since_ms, const char *reason, void *arg)
{
	struct walked *w = arg;

	(void)since_ms;
	(void)reason;
	if (w->n < 8)
		snprintf(w->names[w->n], sizeof w->names[0], "%s", domain);
	w->n++;
	return w->stop != 0 && w->n == w->stop ? 7 : 0;
}

static void
test_hand_edits(void)
{
	char path[300], want[2048], when[32], msg[600];
	struct fed_err e = { "" };
	struct watchlist wl;
	struct walked w;
	struct stat st;
	int64_t since = 0, t;

	snprintf(path, sizeof path, "%s/hand", dir);
	write_text(path, hand);
	chmod(path, 0640);
	is_long(watchlist_open(&wl, path, &e), WATCHLIST_BADLINES,
	    "a file with bad lines loads, saying so");
	snprintf(msg, sizeof msg, "%s:4: bad time", path);
	ok(strncmp(e.msg, msg, strlen(msg)) == 0,
	    "... the message names PATH:LINE of the first: %s", e.msg);
	ok(strstr(e.msg, "and 5 more bad lines") != NULL,
	    "... and how many more (two fields, a duplicate, non-ASCII, four "
	    "fields, a bad reason)");
	is_long((long)watchlist_count(&wl), 3, "the three good lines are used");
	vlog_time_parse("2026-11-21T22:40:33.123Z", 24, &t);
	ok(watchlist_lookup(&wl, "good.example", t, 0, &since) && since == t,
	    "blanks of any kind separate fields; the first line of a domain "
	    "counts");
	ok(watchlist_lookup(&wl, "upper.example", t, 0, &since) &&
	    since == t - 123, "a time without milliseconds and a trailing "
	    "comment are taken; the name is normalized");
	ok(watchlist_lookup(&wl, "crlf.example", t, 0, NULL),
	    "a CRLF line end is taken");
	ok(!watchlist_lookup(&wl, "bad-time.example", t, 0, NULL) &&
	    !watchlist_lookup(&wl, "two.example", t, 0, NULL) &&
	    !watchlist_lookup(&wl, "four.example", t, 0, NULL) &&
	    !watchlist_lookup(&wl, "last.example", t, 0, NULL),
	    "bad lines are skipped");

	memset(&w, 0, sizeof w);
	is_long(watchlist_walk(&wl, walk_fn, &w), 0, "walk");
	ok(w.n == 3 && strcmp(w.names[0], "crlf.example") == 0 &&
	    strcmp(w.names[1], "good.example") == 0 &&
	    strcmp(w.names[2], "upper.example") == 0,
	    "... every entry, in name order");
	memset(&w, 0, sizeof w);
	w.stop = 2;
	ok(watchlist_walk(&wl, walk_fn, &w) == 7 && w.n == 2,
	    "a non-zero return stops the walk and is returned");

	/* An add keeps every line as it was and appends its own. */
	is_long(watchlist_add(&wl, "new.example", T0, "max_uris", &e), 0,
	    "add to the hand-written file");
	vlog_time_format(when, T0);
	snprintf(want, sizeof want, "%s\nnew.example\t%s\tmax_uris\n", hand,
	    when);
	is_str(text_of(path), want, "comments, blank and bad lines kept, in "
	    "order; a missing last line end added");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640,
	    "the file's mode is kept (0640)");
	ok(watchlist_lookup(&wl, "new.example", T0, 0, NULL) &&
	    watchlist_lookup(&wl, "good.example", T0, 0, NULL),
	    "the table is that of the file written");

	/* A remove drops every line of the domain, even a bad one. */
	is_long(watchlist_remove(&wl, "GOOD.example", &e), 1,
	    "remove good.example (listed twice)");
	snprintf(want, sizeof want, "%s", hand);
	{
		char *p;

		p = strstr(want, "good.example   ");
		memmove(p, strchr(p, '\n') + 1, strlen(strchr(p, '\n') + 1) + 1);
		p = strstr(want, "good.example\t");
		memmove(p, strchr(p, '\n') + 1, strlen(strchr(p, '\n') + 1) + 1);
	}
	snprintf(want + strlen(want), sizeof want - strlen(want),
	    "\nnew.example\t%s\tmax_uris\n", when);
	is_str(text_of(path), want, "both its lines are gone, every other "
	    "line is as it was");
	ok(!watchlist_lookup(&wl, "good.example", T0, 0, NULL),
	    "good.example is no longer watched");
	is_long(watchlist_remove(&wl, "bad-time.example", &e), 0,
	    "a domain on a bad line only is not watched: nothing to remove");
	watchlist_close(&wl);
	unlink(path);
}

static void
test_expire(void)
{
	char path[300];
	struct fed_err e = { "" };
	struct watchlist wl;

	snprintf(path, sizeof path, "%s/expire", dir);
	watchlist_open(&wl, path, &e);
	watchlist_add(&wl, "old.example", T0 - 100000, "max_uris", &e);
	ok(watchlist_lookup(&wl, "old.example", T0, 0, NULL),
	    "expire_s 0: watched until cleared");
	ok(watchlist_lookup(&wl, "old.example", T0, 101, NULL),
	    "a 100 s old watch with expire_s 101 counts");
	ok(!watchlist_lookup(&wl, "old.example", T0, 100, NULL),
	    "... with expire_s 100 it has expired (as state.c judges)");
	ok(!watchlist_lookup(&wl, "old.example", T0, 50, NULL),
	    "... with expire_s 50 too");
	ok(watchlist_count(&wl) == 1, "an expired entry stays in the file "
	    "until cleared");
	watchlist_close(&wl);
	unlink(path);
}

static void
test_refresh(void)
{
	char path[300], buf[512];
	struct fed_err e = { "" };
	struct watchlist a, b;
	int64_t now = T0;

	snprintf(path, sizeof path, "%s/refresh", dir);
	watchlist_open(&a, path, &e);
	watchlist_open(&b, path, &e);
	is_long(watchlist_add(&b, "x.example", T0, "max_uris", &e), 0,
	    "another writer adds x.example");
	ok(!watchlist_lookup(&a, "x.example", now, 0, NULL),
	    "the reader does not see it before a refresh");
	is_long(watchlist_refresh(&a, now, &e), WATCHLIST_RELOADED,
	    "refresh notices the new file");
	ok(watchlist_lookup(&a, "x.example", now, 0, NULL), "... and loads it");
	is_long(watchlist_refresh(&a, now + 2000, &e), WATCHLIST_SAME,
	    "unchanged file: nothing to do");
	watchlist_add(&b, "y.example", T0, "max_uris", &e);
	is_long(watchlist_refresh(&a, now + 2500, &e), WATCHLIST_SAME,
	    "refresh checks at most once a second");
	ok(!watchlist_lookup(&a, "y.example", now, 0, NULL), "... so y.example "
	    "is not seen yet");
	is_long(watchlist_refresh(&a, now + 3000, &e), WATCHLIST_RELOADED,
	    "a second later it is");
	ok(watchlist_lookup(&a, "y.example", now, 0, NULL), "... y.example "
	    "watched");
	is_long(watchlist_refresh(&b, now + 3000, &e), WATCHLIST_SAME,
	    "the writer does not reload its own write");

	/* A hand edit with a bad line: reloaded once, told once. */
	snprintf(buf, sizeof buf, "%s" "z.example 2026-11-21T22:40:33.123Z "
	    "operator\nbroken line\n", text_of(path));
	write_text(path, buf);
	is_long(watchlist_refresh(&a, now + 4000, &e), WATCHLIST_BADLINES,
	    "a hand edit with a bad line is reloaded, saying so");
	ok(strstr(e.msg, path) != NULL && strstr(e.msg, ":6: ") != NULL,
	    "... naming PATH:LINE: %s", e.msg);
	ok(watchlist_lookup(&a, "z.example", now, 0, NULL) &&
	    watchlist_lookup(&a, "x.example", now, 0, NULL),
	    "... its good lines used");
	is_long(watchlist_refresh(&a, now + 5000, &e), WATCHLIST_SAME,
	    "... and not told again while the file stays as it is");

	/* An unreadable file leaves the watches in force. */
	unlink(path);
	mkdir(path, 0755);
	e.msg[0] = '\0';
	is_long(watchlist_refresh(&a, now + 6000, &e), -1,
	    "a directory in place of the file is an error");
	ok(strstr(e.msg, "not a regular file") != NULL, "... saying so: %s",
	    e.msg);
	ok(watchlist_lookup(&a, "x.example", now, 0, NULL),
	    "... and the old watches stay in force");
	is_long(watchlist_refresh(&a, now + 7000, &e), WATCHLIST_SAME,
	    "... told once, not every second");
	rmdir(path);
	is_long(watchlist_refresh(&a, now + 8000, &e), WATCHLIST_RELOADED,
	    "a removed file is an empty list");
	ok(watchlist_count(&a) == 0, "... nobody watched");
	watchlist_close(&a);
	watchlist_close(&b);

	/* A FIFO in place of the file must not hang the reader. */
	if (mkfifo(path, 0644) == 0) {
		ok(watchlist_open(&a, path, &e) == -1 &&
		    strstr(e.msg, "not a regular file") != NULL,
		    "a FIFO is refused, without waiting for a writer: %s",
		    e.msg);
		watchlist_close(&a);
		unlink(path);
	} else
		ok(0, "mkfifo %s: %s", path, strerror(errno));
}

static void
test_limits(void)
{
	char path[300], name[300], *p;
	struct fed_err e = { "" };
	struct watchlist wl;
	int fd;

	snprintf(path, sizeof path, "%s/limits", dir);
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 octets. */
	memset(name, 'a', sizeof name);
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	watchlist_open(&wl, path, &e);
	is_long(watchlist_add(&wl, name, T0, "max_uris", &e), 0,
	    "a 253-octet domain is added");
	ok(watchlist_lookup(&wl, name, T0, 0, NULL), "... and watched");
	watchlist_close(&wl);
	is_long(watchlist_open(&wl, path, &e), WATCHLIST_LOADED,
	    "... and read back from the file");
	ok(watchlist_lookup(&wl, name, T0, 0, NULL) &&
	    (p = strstr(text_of(path), name)) != NULL && p[253] == '\t',
	    "... whole");
	name[253] = 'a';
	name[254] = '\0';
	ok(watchlist_add(&wl, name, T0, "max_uris", &e) == -1,
	    "a 254-octet domain is refused: %s", e.msg);
	ok(!watchlist_lookup(&wl, name, T0, 0, NULL),
	    "... and never found");
	watchlist_close(&wl);

	/* A file beyond the cap is a wrong path, not a list. */
	if ((fd = open(path, O_WRONLY | O_TRUNC)) >= 0) {
		ok(ftruncate(fd, (off_t)WATCHLIST_FILE_MAX + 1) == 0,
		    "a sparse file one byte over the cap");
		close(fd);
	}
	ok(watchlist_open(&wl, path, &e) == -1 &&
	    strstr(e.msg, "larger than") != NULL, "is refused: %s", e.msg);
	ok(watchlist_count(&wl) == 0, "... the list stays empty and usable");
	watchlist_close(&wl);
	unlink(path);
}

/* Two processes adding 200 domains each at once: the lock serializes
 * them and each re-reads under it, so no line is lost. */
static void
test_concurrent(void)
{
	char path[300], name[64];
	struct fed_err e = { "" };
	struct watchlist wl;
	pid_t pid[2];
	int i, k, status, good = 1, missing = 0;

	snprintf(path, sizeof path, "%s/concurrent", dir);
	fflush(stdout);
	for (k = 0; k < 2; k++) {
		if ((pid[k] = fork()) == 0) {
			if (watchlist_open(&wl, path, &e) == -1)
				_exit(1);
			for (i = 0; i < 200; i++) {
				snprintf(name, sizeof name, "p%d-%d.example", k,
				    i);
				if (watchlist_add(&wl, name, T0 + i,
				    "max_uris", &e) != 0) {
					fprintf(stderr, "%s\n", e.msg);
					_exit(1);
				}
			}
			watchlist_close(&wl);
			_exit(0);
		}
		if (pid[k] < 0)
			good = 0;
	}
	for (k = 0; k < 2; k++)
		if (pid[k] > 0 && (waitpid(pid[k], &status, 0) != pid[k] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0))
			good = 0;
	ok(good, "two processes added 200 domains each");
	is_long(watchlist_open(&wl, path, &e), WATCHLIST_LOADED,
	    "the file they wrote reads clean");
	for (k = 0; k < 2; k++)
		for (i = 0; i < 200; i++) {
			snprintf(name, sizeof name, "p%d-%d.example", k, i);
			if (!watchlist_lookup(&wl, name, T0, 0, NULL))
				missing++;
		}
	ok(watchlist_count(&wl) == 400 && missing == 0,
	    "all 400 are in the file (%zu entries, %d missing)",
	    watchlist_count(&wl), missing);
	ok(tmp_files() == 0, "no temporary file left behind");
	watchlist_close(&wl);
}

int
main(void)
{
	char cmd[300];

	if (tap_tmpdir(dir, sizeof dir, "fedkit-watch") == NULL) {
		perror(dir);
		return 1;
	}
	umask(022);
	test_missing_add_remove();
	test_hand_edits();
	test_expire();
	test_refresh();
	test_limits();
	test_concurrent();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (getenv("FEDKIT_KEEP") == NULL && system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
