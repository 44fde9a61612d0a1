/* vlog.h: the verdict log line (SPEC section 3), written and read. */
#ifndef VLOG_H
#define VLOG_H

#include <stdint.h>

#include "fed.h"
#include "policy.h"

#define VLOG_LINE_MAX 4096	/* one write(2), never torn */

/*
 * One line: `time peer partner method uri verdict reason code callid`.
 * When writing, string fields are raw bytes (from a partner, maybe
 * hostile) and are escaped; n == 0 is written `-`.  When reading, they are
 * slices of the line, still escaped, `-` given as n == 0.
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

/* Format and write with a single write(2).  0 or -1 with errno. */
int vlog_write(int fd, const struct vlog_rec *);

/* Parse one line (without or with its '\n').  0 or -1 with *err. */
int vlog_parse(const char *line, size_t len, struct vlog_rec *,
    struct fed_err *);

/* RFC 3339 UTC with milliseconds; buf of 25 bytes at least. */
size_t vlog_time_format(char *buf, int64_t time_ms);
int vlog_time_parse(const char *p, size_t n, int64_t *time_ms);

#endif
