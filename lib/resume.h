/* resume.h: fedstat's resume file: where -f stood in the log, and its tally. */
#ifndef RESUME_H
#define RESUME_H

#include "fed.h"
#include "follow.h"
#include "score.h"

/*
 * The file (fedkit(7) FILE FORMATS, Resume file), version 2:
 *   fedstat-resume 2
 *   log	PATH
 *   by	partner|peer
 *   pos	...		the file being read (follow_pos_write)
 *   old	...		0 to FOLLOW_OLD_MAX rotated files still read
 *   key	...		then the tally (score_save), key first
 * Read line by line: no limit on its size but the tally's own.
 */
#define RESUME_MAGIC "fedstat-resume 2"
#define RESUME_LINE_MAX 16384	/* a saved line: a name is at most 4096 */

/* Where the reading stood: the file being read and the rotated ones. */
struct resume_pos {
	struct follow_pos pos, old[FOLLOW_OLD_MAX];
	int nold;
};

/* What resume_load says besides 1 (loaded) and 0 (no file yet). */
#define RESUME_BAD (-1)		/* not a resume file for this log and --by */
#define RESUME_SYS (-2)		/* it could not be read, or memory ran out */

/*
 * Load FILE, saved for LOG with s's --by: the position into *rp, the tally
 * into s (initialized, empty).  1 loaded, 0 no such file yet, or
 * RESUME_BAD or RESUME_SYS with *err naming the file (and the line).
 */
int resume_load(const char *file, const char *log, struct score *s,
    struct resume_pos *rp, struct fed_err *err);

/* Write FILE whole (afile: temporary file, rename): f's positions and
 * s's tally.  0, or -1 with *err. */
int resume_save(const char *file, const char *log, const struct score *s,
    struct follow *f, struct fed_err *err);

#endif
