/* vlog.h: the verdict log line (fedkit(7) Verdict log), written and read. */
#ifndef VLOG_H
#define VLOG_H

#include <stdint.h>

#include "fed.h"
#include "policy.h"

#define VLOG_LINE_MAX 4096	/* one write(2), never torn */

/*
 * Each escaped field is cut to at most this many bytes (never inside an
 * escape sequence), so that the longest line, with our own fields at
 * their longest, still fits VLOG_LINE_MAX: 3648 + 57 bytes.
 */
#define VLOG_PEER_MAX 256
#define VLOG_PARTNER_MAX 256
#define VLOG_METHOD_MAX 64
#define VLOG_URI_MAX 1024
#define VLOG_CALLID_MAX 2048
#define VLOG_TIME_LEN 24	/* 2026-11-21T22:40:33.123Z */

/*
 * One line: `time peer partner method uri verdict reason code callid`.
 * When writing, string fields are raw bytes (from a partner, maybe
 * hostile) and are escaped; n == 0 is written `-`.  When reading, they are
 * slices of the line, still escaped, `-` given as n == 0.
 *
 * Escaping (fedkit(7), FILE FORMATS): backslash is `\\`, tab `\t`, LF
 * `\n`, CR `\r`; every other byte below 0x20, 0x7f and every byte from
 * 0x80 up is `\xhh` with lower-case hex digits; a value that is exactly
 * `-` is written `\x2d`, so it stays distinct from "none".  A line is
 * thus printable ASCII plus 8 tabs and its newline.
 */
struct vlog_rec {
	int64_t time_ms;	/* ms since the epoch, UTC */
	struct fed_str peer, partner, method, uri;
	enum verdict verdict;
	enum reason reason;
	int code;		/* -1 for `-` */
	struct fed_str callid;
};

/* Format one line with its '\n' into buf (VLOG_LINE_MAX); returns length.
 * Over-long fields are cut so the line always fits. */
size_t vlog_format(char *buf, const struct vlog_rec *);

/* Open (create 0640) for appending; -1 with errno. */
int vlog_open(const char *path);

/*
 * Follow a rotation: when `path` names another file than fd (the log was
 * renamed and a new one made, logrotate's way), open that file onto fd's
 * number.  A log renamed but not yet replaced is kept until the new one
 * appears (logrotate makes it right after the rename, and a file made by
 * us first would make its `create` fail); one removed for good (no link
 * left) is made again.  1 if fd now writes the file at path, 0 if it
 * already did or must wait, -1 with errno.
 */
int vlog_follow(int fd, const char *path);

/* Format and write with a single write(2).  0 or -1 with errno. */
int vlog_write(int fd, const struct vlog_rec *);

/*
 * Parse one line (without or with its '\n').  0 or -1 with *err naming
 * the field: `field 6 (verdict): unknown verdict "acept"`.  Every field is
 * checked (time, names, reason against verdict, code, escapes); nothing
 * is allocated and nothing is copied.
 */
int vlog_parse(const char *line, size_t len, struct vlog_rec *,
    struct fed_err *);

/* RFC 3339 UTC with milliseconds; buf of 25 bytes at least. */
size_t vlog_time_format(char *buf, int64_t time_ms);
int vlog_time_parse(const char *p, size_t n, int64_t *time_ms);

/*
 * Undo the escaping of one field as vlog_parse returns it.  Writes at most
 * outsz bytes (no NUL: a value may hold NUL bytes) and returns the length
 * of the whole value, so a return > outsz means it was cut.
 */
size_t vlog_unescape(struct fed_str, char *out, size_t outsz);

#endif
