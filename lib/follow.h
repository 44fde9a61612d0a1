/* follow.h: read a log line by line, following it like `tail -F`. */
#ifndef FOLLOW_H
#define FOLLOW_H

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>

#include "fed.h"

#define FOLLOW_HEAD 64		/* bytes hashed to tell a file from another */
#define FOLLOW_LINE_MAX 4096	/* longer lines are reported, not delivered */
/* After the path names a new file, the old one is read until it has been
 * quiet for a poll, or for at most this long (a writer that still holds
 * it open may append a last batch). */
#define FOLLOW_ROTATE_GRACE_MS 5000
/*
 * ... and after the switch it is still read, with up to FOLLOW_OLD_MAX
 * others, until it has been quiet for FOLLOW_OLD_QUIET_MS: a fedgate
 * process that opened the log before the rotation appends there.
 */
#define FOLLOW_OLD_MAX 4
#define FOLLOW_OLD_QUIET_MS 30000

/*
 * Where a reader stands: the file (device, inode, and a hash of its first
 * bytes, so that a new file that got the same inode is not mistaken for
 * the old one), the offset of the first byte not yet delivered (always
 * the start of a line), and the number of lines delivered from it.
 */
struct follow_pos {
	dev_t dev;
	ino_t ino;
	off_t off;
	uint64_t line;
	uint32_t headlen;	/* bytes hashed, at most FOLLOW_HEAD */
	uint64_t headhash;
	uint32_t skipping;	/* 1: the line at off is over-long, already
				 * reported: skip it silently */
};

/*
 * Called for each whole line (without its newline), or for a problem:
 * line NULL and `problem` saying what (a line cut by rotation or
 * truncation, an over-long line).  `name` and `lineno` say where.  A
 * non-zero return stops the reader (follow_poll returns -1 then).
 */
typedef int (*follow_fn)(void *arg, const char *name, uint64_t lineno,
    const char *line, size_t n, const char *problem);

struct follow {
	char *path;		/* what the reader follows (NULL: a plain fd) */
	char *name;		/* the file being read, for messages */
	int fd;			/* -1 while the path does not exist */
	int follow;		/* 1: follow rotation and truncation */
	struct follow_pos pos;
	char *buf;
	size_t len, cap;	/* bytes at pos.off not yet delivered */
	int skipping;		/* inside an over-long line */
	off_t skip;		/* ... bytes of it dropped past pos.off */
	int64_t rotated_ms;	/* the path names another file since */
	int eof;		/* a plain fd reached its end */
	int owned;		/* a rotated file: close fd at the end */
	struct follow *old[FOLLOW_OLD_MAX];	/* rotated files, still read */
	int64_t old_ms[FOLLOW_OLD_MAX];		/* ... last seen growing */
};

/*
 * Read a descriptor once, to its end (a file named on the command line,
 * or stdin): follow_poll until f->eof, then follow_close, which reports
 * a last line without a newline.
 */
int follow_fd(struct follow *, int fd, const char *name, struct fed_err *);

/*
 * Follow `path`, a regular file (anything else is refused: a FIFO or a
 * device cannot be followed or resumed).  With a saved position,
 * continue there: in the same file if the path still names it, else in
 * the file that has its identity in the same directory (a rotated log,
 * e.g. PATH.1), to its end, then the path from its start.  The files
 * rotated between the saved one and the path (PATH.1 when the saved file
 * is PATH.2 now: two rotations while away) are found by name (PATH.* or
 * PATH-*, regular, starting with a digit, as a log line does, so not
 * compressed) and modification time (newer than the saved file) and read
 * from their start.  The `nold` rotated files that were still being read
 * (saved by follow_old_positions) are found by identity and continued.
 * *lost counts what cannot be found: the saved file (the path is then
 * read from its beginning), a rotated file, or rotated files beyond
 * FOLLOW_OLD_MAX.  A path that does not exist yet is waited for.
 */
int follow_open(struct follow *, const char *path, const struct follow_pos *,
    const struct follow_pos *old, int nold, int *lost, struct fed_err *);

/* The positions of the rotated files still being read, at most
 * FOLLOW_OLD_MAX; returns how many. */
int follow_old_positions(struct follow *, struct follow_pos *);

/*
 * Deliver what can be read now, at most about 64 MiB; then notice
 * rotation (the path names another file: the old one is read to its end
 * first) and truncation (the file got shorter, or its first bytes
 * changed: read again from 0).  Returns 1 if more may be readable at
 * once, 0 if it is at the end for now, -1 on an error (*err) or when the
 * callback asked to stop.
 */
int follow_poll(struct follow *, int64_t now_ms, follow_fn, void *,
    struct fed_err *);

/* The position to save (updates the head hash from the file). */
void follow_position(struct follow *, struct follow_pos *);

/* Stop reading the rotated files, reporting the lines cut in them (a
 * follower that stops: its saved position names the current file only). */
void follow_end_old(struct follow *, follow_fn, void *);

/* Report a last line without its newline (problem) and free; lines cut
 * in rotated files still read are reported too. */
void follow_close(struct follow *, follow_fn, void *);

/* The saved position as one text line `TAG DEV INO OFF LINE HLEN HASH
 * SKIPPING` (TAG `pos`, or `old` for a rotated file), and back;
 * follow_pos_parse 0 or -1. */
void follow_pos_write(FILE *, const char *tag, const struct follow_pos *);
int follow_pos_parse(const char *line, size_t n, const char *tag,
    struct follow_pos *);

#endif
