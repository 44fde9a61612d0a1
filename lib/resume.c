/* resume.c: fedstat's resume file: where -f stood in the log, and its tally. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "resume.h"

static const char *
by_line(const struct score *s)
{
	return s->by == SCORE_BY_PEER ? "by\tpeer" : "by\tpartner";
}

static int
is_line(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(p, want, n) == 0;
}

/*
 * One line of the file (without its newline), the lineno'th: 0, or
 * RESUME_BAD / RESUME_SYS with *err.  The header comes first, in its
 * order; then the rotated files' positions; then the tally, `key` first.
 */
static int
load_line(const char *file, const char *log, unsigned long lineno,
    const char *p, size_t n, struct score *s, struct resume_pos *rp,
    int *keyed, struct fed_err *err)
{
	if (lineno == 1) {
		if (!is_line(p, n, RESUME_MAGIC)) {
			fed_err_set(err, "%s:1: not a fedstat resume file of "
			    "version 2", file);
			return RESUME_BAD;
		}
		return 0;
	}
	if (lineno == 2) {
		if (n < 5 || memcmp(p, "log\t", 4) != 0 ||
		    n - 4 != strlen(log) || memcmp(p + 4, log, n - 4) != 0) {
			fed_err_set(err, "%s:2: saved for another log than %s",
			    file, log);
			return RESUME_BAD;
		}
		return 0;
	}
	if (lineno == 3) {
		if (!is_line(p, n, by_line(s))) {
			fed_err_set(err, "%s:3: saved with another --by", file);
			return RESUME_BAD;
		}
		return 0;
	}
	if (lineno == 4) {
		if (follow_pos_parse(p, n, "pos", &rp->pos) != 0) {
			fed_err_set(err, "%s:4: bad position", file);
			return RESUME_BAD;
		}
		return 0;
	}
	if (!*keyed && n >= 4 && memcmp(p, "old\t", 4) == 0) {
		if (rp->nold == FOLLOW_OLD_MAX ||
		    follow_pos_parse(p, n, "old", &rp->old[rp->nold]) != 0) {
			fed_err_set(err, "%s:%lu: bad position of a rotated "
			    "file", file, lineno);
			return RESUME_BAD;
		}
		rp->nold++;
		return 0;
	}
	if (!*keyed) {
		if (n < 4 || memcmp(p, "key\t", 4) != 0) {
			fed_err_set(err, "%s:%lu: no hash key before the tally",
			    file, lineno);
			return RESUME_BAD;
		}
		*keyed = 1;
	}
	if (score_load_line(s, p, n, err) != 0) {
		int sys = errno == ENOMEM;
		struct fed_err why = *err;

		fed_err_set(err, "%s:%lu: %s", file, lineno, why.msg);
		return sys ? RESUME_SYS : RESUME_BAD;
	}
	return 0;
}

/* Read the open file line by line: RESUME_BAD, RESUME_SYS or 1. */
static int
load_lines(FILE *fp, char *buf, const char *file, const char *log,
    struct score *s, struct resume_pos *rp, struct fed_err *err)
{
	unsigned long lineno = 0;
	int keyed = 0, rc;
	size_t n;

	while (fgets(buf, RESUME_LINE_MAX + 2, fp) != NULL) {
		n = strlen(buf);
		lineno++;
		if (n == 0 || buf[n - 1] != '\n') {
			fed_err_set(err, "%s:%lu: %s (not written by fedstat?)",
			    file, lineno, n > RESUME_LINE_MAX ?
			    "line too long" : "no newline at end");
			return RESUME_BAD;
		}
		n--;
		if (memchr(buf, '\0', n) != NULL) {
			fed_err_set(err, "%s:%lu: a NUL byte", file, lineno);
			return RESUME_BAD;
		}
		if ((rc = load_line(file, log, lineno, buf, n, s, rp, &keyed,
		    err)) != 0)
			return rc;
	}
	if (ferror(fp)) {
		fed_err_set(err, "%s: %s", file, strerror(errno));
		return RESUME_SYS;
	}
	if (lineno < 4 || !keyed) {
		fed_err_set(err, "%s: cut short (no %s)", file,
		    lineno >= 4 ? "tally" : "position");
		return RESUME_BAD;
	}
	return 1;
}

int
resume_load(const char *file, const char *log, struct score *s,
    struct resume_pos *rp, struct fed_err *err)
{
	char *buf;
	FILE *fp;
	int rc;

	memset(rp, 0, sizeof *rp);
	if ((buf = malloc(RESUME_LINE_MAX + 2)) == NULL) {
		fed_err_set(err, "%s: %s", file, strerror(errno));
		return RESUME_SYS;
	}
	if ((fp = fopen(file, "re")) == NULL) {
		int e = errno;

		free(buf);
		if (e == ENOENT)
			return 0;
		fed_err_set(err, "%s: %s", file, strerror(e));
		return RESUME_SYS;
	}
	rc = load_lines(fp, buf, file, log, s, rp, err);
	fclose(fp);
	free(buf);
	return rc;
}

int
resume_save(const char *file, const char *log, const struct score *s,
    struct follow *f, struct fed_err *err)
{
	struct follow_pos pos, old[FOLLOW_OLD_MAX];
	struct afile af;
	int i, nold;

	follow_position(f, &pos);
	nold = follow_old_positions(f, old);
	if (afile_begin(&af, file, 0600, err) != 0)
		return -1;
	/* Nothing needs to outlive a power loss here but the positions and
	 * tally together, which the rename gives. */
	af.no_dirsync = 1;
	fprintf(af.fp, "%s\nlog\t%s\n%s\n", RESUME_MAGIC, log, by_line(s));
	follow_pos_write(af.fp, "pos", &pos);
	for (i = 0; i < nold; i++)
		follow_pos_write(af.fp, "old", &old[i]);
	if (score_save(s, af.fp) != 0) {
		fed_err_set(err, "%s: %s", file, strerror(errno));
		afile_abort(&af);
		return -1;
	}
	return afile_commit(&af, err);
}
