/* 0214-resume.c: fedstat's resume file: saved and loaded whole, refused when it is not this log's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "follow.h"
#include "resume.h"
#include "score.h"
#include "tap.h"

#define T "2026-11-22T00:00:00.000Z"

static void
put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp != NULL) {
		fputs(text, fp);
		fclose(fp);
	}
}

static int
count(void *arg, const char *name, uint64_t lineno, const char *line,
    size_t n, const char *problem)
{
	struct fed_err err;
	int oom;

	(void)name;
	(void)lineno;
	if (problem == NULL)
		(void)score_line(arg, line, n, &oom, &err);
	return 0;
}

/* Load `text` as a resume file for log: the result, the message in err. */
static int
load_text(const char *file, const char *text, const char *log,
    const struct conf *c, struct fed_err *err)
{
	struct resume_pos rp;
	struct score s;
	int r;

	put(file, text);
	score_init(&s, SCORE_BY_PARTNER, c, NULL, NULL, INT64_MIN);
	err->msg[0] = '\0';
	r = resume_load(file, log, &s, &rp, err);
	score_free(&s);
	return r;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], log[4200], file[4200], want[4400];
	struct resume_pos rp;
	struct score s, s2;
	struct follow f;
	struct fed_err err;
	struct conf c;
	int lost, r;

	snprintf(dir, sizeof dir, "%s/resume.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(log, sizeof log, "%s/log", dir);
	snprintf(file, sizeof file, "%s/pos", dir);
	conf_defaults(&c);
	put(log, T "\t1.2.3.4:5061\ta.example\tMESSAGE\tu@a.example\taccept"
	    "\tdiscovered\t-\tc1\n"
	    T "\t1.2.3.4:5061\ta.example\tMESSAGE\tv@a.example\taccept"
	    "\tdiscovered\t-\tc2\n");

	ok(load_text(file, "", log, &c, &err) == RESUME_BAD &&
	    strstr(err.msg, "cut short (no position)") != NULL,
	    "an empty file: cut short");
	unlink(file);
	score_init(&s, SCORE_BY_PARTNER, &c, NULL, NULL, INT64_MIN);
	ok(resume_load(file, log, &s, &rp, &err) == 0, "no file yet: 0");

	/* Read the log, save, load into a fresh tally: the same counts. */
	ok(follow_open(&f, log, NULL, NULL, 0, &lost, &err) == 0,
	    "follow the log");
	while (follow_poll(&f, 0, count, &s, &err) == 1)
		;
	ok(resume_save(file, log, &s, &f, &err) == 0, "saved");
	follow_close(&f, NULL, NULL);
	score_init(&s2, SCORE_BY_PARTNER, &c, NULL, NULL, INT64_MIN);
	r = resume_load(file, log, &s2, &rp, &err);
	ok(r == 1, "loaded: 1");
	if (r != 1)
		diag("%s", err.msg);
	ok(s2.ng == 1 && s2.g[0]->messages == 2 && s2.g[0]->uris.n == 2 &&
	    rp.pos.line == 2 && rp.nold == 0,
	    "the tally and the position as saved");
	score_free(&s2);
	score_free(&s);

	/* Not this log's, not this --by's, not this version. */
	score_init(&s, SCORE_BY_PEER, &c, NULL, NULL, INT64_MIN);
	ok(resume_load(file, log, &s, &rp, &err) == RESUME_BAD &&
	    strstr(err.msg, ":3: saved with another --by") != NULL,
	    "another --by: refused at line 3");
	score_free(&s);
	score_init(&s, SCORE_BY_PARTNER, &c, NULL, NULL, INT64_MIN);
	ok(resume_load(file, "/other/log", &s, &rp, &err) == RESUME_BAD &&
	    strstr(err.msg, ":2: saved for another log than /other/log") !=
	    NULL, "another log: refused at line 2");
	score_free(&s);
	ok(load_text(file, "fedstat-resume 1\n", log, &c, &err) ==
	    RESUME_BAD && strstr(err.msg, ":1: not a fedstat resume file of "
	    "version 2") != NULL, "version 1: refused");
	snprintf(want, sizeof want, "fedstat-resume 2\nlog\t%s\nby\tpartner\n"
	    "pos\tx\n", log);
	ok(load_text(file, want, log, &c, &err) == RESUME_BAD &&
	    strstr(err.msg, ":4: bad position") != NULL, "a bad position");
	snprintf(want, sizeof want, "fedstat-resume 2\nlog\t%s\nby\tpartner\n"
	    "pos\t1\t2\t0\t0\t0\t0000000000000000\t0\n", log);
	ok(load_text(file, want, log, &c, &err) == RESUME_BAD &&
	    strstr(err.msg, "cut short (no tally)") != NULL, "no tally");
	ok(load_text(file, "fedstat-resume 2", log, &c, &err) == RESUME_BAD &&
	    strstr(err.msg, ":1: no newline at end") != NULL,
	    "no newline at the end");
	unlink(file);
	unlink(log);
	snprintf(want, sizeof want, "%s.lock", file);	/* afile's lock */
	unlink(want);
	rmdir(dir);
	conf_free(&c);
	return done_testing();
}
