/* 0211-follow.c: the tail -F reader: lines whole, rotation, truncation, resume. */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "follow.h"
#include "tap.h"

struct seen {
	unsigned lines, problems;
	char last[64];
	char problem[64];
};

static int
cb(void *arg, const char *name, uint64_t lineno, const char *line, size_t n,
    const char *problem)
{
	struct seen *s = arg;

	(void)name;
	(void)lineno;
	if (problem != NULL) {
		s->problems++;
		snprintf(s->problem, sizeof s->problem, "%s", problem);
		return 0;
	}
	s->lines++;
	snprintf(s->last, sizeof s->last, "%.*s", (int)n, line);
	return 0;
}

static void
append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		diag("append %s failed", path);
	close(fd);
}

/* Poll until nothing more comes, a bounded number of times. */
static void
settle(struct follow *f, struct seen *s, int64_t *now)
{
	struct fed_err err;
	int i;

	for (i = 0; i < 10; i++) {
		*now += 1000;
		if (follow_poll(f, *now, cb, s, &err) < 0)
			diag("poll: %s", err.msg);
	}
}

int
main(void)
{
	char dir[200], log[256], rot[256], rot2[256];
	char line[FOLLOW_LINE_MAX + 10];
	struct follow f;
	struct follow_pos pos;
	struct seen s;
	struct fed_err err;
	int64_t now = 1000000;
	int lost;
	FILE *fp;
	char *buf;
	size_t len;

	if (tap_tmpdir(dir, sizeof dir, "fedkit-follow") == NULL) {
		perror("scratch directory");
		return 1;
	}
	snprintf(log, sizeof log, "%s/log", dir);
	snprintf(rot, sizeof rot, "%s/log.1", dir);
	snprintf(rot2, sizeof rot2, "%s/log.2", dir);
	memset(&s, 0, sizeof s);

	ok(follow_open(&f, log, NULL, NULL, 0, &lost, &err) == 0 && f.fd < 0,
	    "a missing log is waited for");
	append(log, "a\nb\nc");
	settle(&f, &s, &now);
	is_long(s.lines, 2, "two whole lines; the cut third waits");
	append(log, "\n");
	settle(&f, &s, &now);
	is_long(s.lines, 3, "its newline completes it");
	is_str(s.last, "c", "... whole");

	/* rotation: lines written to the old file after the rename count */
	append(log, "d\n");
	rename(log, rot);
	append(rot, "e\n");
	append(log, "f\n");
	settle(&f, &s, &now);
	is_long(s.lines, 6, "rotation: the old file to its end, then the new");
	is_str(s.last, "f", "... in that order");
	is_long(s.problems, 0, "... no problem");

	/* a writer that still holds the rotated file: read after the switch */
	append(log, "g\nhalf");
	settle(&f, &s, &now);
	rename(log, rot2);
	append(log, "h\n");
	settle(&f, &s, &now);
	is_long(s.lines, 8, "g and h counted");
	is_long(s.problems, 0, "the half line waits");
	append(rot2, "-done\nlate\n");
	settle(&f, &s, &now);
	is_long(s.lines, 10, "the rotated file is still read after the switch");
	is_long(s.problems, 0, "... its half line completed");
	/* a line never completed in a rotated file is reported, not counted */
	append(rot2, "cut");
	settle(&f, &s, &now);
	settle(&f, &s, &now);
	settle(&f, &s, &now);
	settle(&f, &s, &now);
	is_long(s.lines, 10, "a rotated file quiet for 30 s is left");
	is_long(s.problems, 1, "... its cut line reported");
	is_str(s.problem, "line cut by rotation", "... as cut by rotation");
	append(rot2, "ignored\n");
	settle(&f, &s, &now);
	is_long(s.lines, 10, "... and later lines there are not read");

	/* truncation: read again from the start */
	if (truncate(log, 0) != 0)
		diag("truncate failed");
	append(log, "i\nj\n");
	settle(&f, &s, &now);
	is_long(s.lines, 12, "truncation: the new lines from offset 0");
	is_str(s.last, "j", "... the last");

	/* truncated and refilled past the old offset: the head tells */
	if (truncate(log, 0) != 0)
		diag("truncate failed");
	append(log, "kkkkkkk\nllll\n");
	settle(&f, &s, &now);
	is_long(s.lines, 14, "truncated and grown beyond: noticed by its head");

	/* an over-long line */
	memset(line, 'x', sizeof line - 2);
	line[sizeof line - 2] = '\n';
	line[sizeof line - 1] = '\0';
	append(log, line);
	append(log, "m\n");
	s.problems = 0;	/* (the line cut by rotation above) */
	settle(&f, &s, &now);
	is_long(s.problems, 1, "an over-long line is reported once");
	is_long(s.lines, 15, "... and the next line counts");

	/* save and resume in the same file */
	follow_position(&f, &pos);
	fp = open_memstream(&buf, &len);
	follow_pos_write(fp, "pos", &pos);
	fclose(fp);
	follow_close(&f, NULL, NULL);
	memset(&pos, 0, sizeof pos);
	ok(follow_pos_parse(buf, len - 1, "pos", &pos) == 0, "the position parses");
	free(buf);
	append(log, "n\n");
	memset(&s, 0, sizeof s);
	ok(follow_open(&f, log, &pos, NULL, 0, &lost, &err) == 0 && !lost,
	    "resume in the same file");
	settle(&f, &s, &now);
	is_long(s.lines, 1, "... only the line written since");
	is_str(s.last, "n", "... n");
	follow_position(&f, &pos);
	follow_close(&f, NULL, NULL);

	/* resume after a rotation while stopped */
	append(log, "o\n");
	rename(log, rot);
	append(log, "p\n");
	memset(&s, 0, sizeof s);
	ok(follow_open(&f, log, &pos, NULL, 0, &lost, &err) == 0 && !lost,
	    "resume finds the rotated file by its identity");
	settle(&f, &s, &now);
	is_long(s.lines, 2, "... its rest, then the new file");
	is_str(s.last, "p", "... p last");
	follow_position(&f, &pos);
	follow_close(&f, NULL, NULL);

	/* the saved file is gone */
	unlink(log);
	unlink(rot);
	append(log, "q\n");
	memset(&s, 0, sizeof s);
	ok(follow_open(&f, log, &pos, NULL, 0, &lost, &err) == 0 && lost,
	    "the saved file gone: said so");
	settle(&f, &s, &now);
	is_long(s.lines, 1, "... and the log read from its start");
	follow_close(&f, NULL, NULL);

	ok(follow_pos_parse("pos\t1\t2\t3", 9, "pos", &pos) == -1,
	    "a short position is refused");

	/* a position inside an over-long line names its start */
	memset(line, 'y', sizeof line - 2);
	line[sizeof line - 2] = '\0';
	append(log, line);
	memset(&s, 0, sizeof s);
	ok(follow_open(&f, log, NULL, NULL, 0, &lost, &err) == 0, "open again");
	settle(&f, &s, &now);
	is_long(s.problems, 1, "a long line without its end yet: reported");
	follow_position(&f, &pos);
	is_long((long)pos.off, 2, "... the saved offset is its start (after q)");
	ok(pos.skipping == 1, "... marked as being skipped");
	follow_close(&f, NULL, NULL);
	append(log, "zz\nr\n");
	memset(&s, 0, sizeof s);
	ok(follow_open(&f, log, &pos, NULL, 0, &lost, &err) == 0 && !lost,
	    "resume inside the long line");
	settle(&f, &s, &now);
	is_long(s.problems, 0, "... not reported twice");
	is_long(s.lines, 1, "... and the next line counts once");
	is_str(s.last, "r", "... r");
	follow_position(&f, &pos);
	is_long((long)pos.line, 3, "... line numbers go on");
	follow_close(&f, NULL, NULL);

	/* a rotated file still read is saved and continued */
	unlink(rot);
	unlink(rot2);
	memset(&s, 0, sizeof s);
	ok(follow_open(&f, log, &pos, NULL, 0, &lost, &err) == 0 && !lost,
	    "resume again");
	rename(log, rot);
	append(log, "s\n");
	settle(&f, &s, &now);
	is_long(s.lines, 1, "the new file after a rotation");
	{
		struct follow_pos oldp[FOLLOW_OLD_MAX];
		int nold = follow_old_positions(&f, oldp);

		is_long(nold, 1, "one rotated file still read");
		follow_position(&f, &pos);
		follow_close(&f, NULL, NULL);
		append(rot, "t\n");
		append(log, "u\n");
		memset(&s, 0, sizeof s);
		ok(follow_open(&f, log, &pos, oldp, nold, &lost, &err) == 0 &&
		    !lost, "resume with the rotated file's position");
		settle(&f, &s, &now);
		is_long(s.lines, 2, "... what both files got since");
		follow_position(&f, &pos);
		follow_close(&f, NULL, NULL);
	}

	/* two rotations while stopped: the file between is read too */
	unlink(rot);
	append(log, "v\n");
	rename(log, rot);
	sleep(1);	/* (mtimes apart on any file system) */
	append(log, "2026 w\n");
	rename(rot, rot2);
	rename(log, rot);
	append(log, "x\n");
	memset(&s, 0, sizeof s);
	ok(follow_open(&f, log, &pos, NULL, 0, &lost, &err) == 0 && !lost,
	    "resume after two rotations");
	settle(&f, &s, &now);
	is_long(s.lines, 3, "... the saved file, the one between, the new one");
	follow_close(&f, NULL, NULL);

	/* only a regular file is followed */
	unlink(log);
	if (mkfifo(log, 0600) != 0)
		diag("mkfifo failed");
	ok(follow_open(&f, log, NULL, NULL, 0, &lost, &err) == -1 &&
	    strstr(err.msg, "not a regular file") != NULL,
	    "a FIFO is refused at once (%s)", err.msg);
	unlink(log);
	unlink(rot);
	unlink(rot2);
	rmdir(dir);
	return done_testing();
}
