/* metrics.h: the verdict log's tally in the Prometheus text format (fedstat --prometheus). */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fed.h"
#include "policy.h"
#include "score.h"

/*
 * What the exposition adds to the score tally: the decisions by reason
 * (each reason belongs to one verdict, fedkit(7), so the reason is the
 * key), and the acceptances fedgate answered 503 itself because our
 * server could not be reached (`accept ... 503`).  The partner gauges
 * come from the score tally itself.
 *
 * No metric carries a partner's name: a hostile log could invent a
 * million of them, and each would be a time series.
 */
struct metrics {
	uint64_t decisions[REASON__COUNT];
	uint64_t accepted_503;
};

void metrics_init(struct metrics *);

/*
 * Count one line that score_line counted (a line vlog_parse accepted,
 * without its newline), from its reason and code fields.  0, or -1 when
 * the line has no known reason where a valid line has it: then nothing
 * is counted.
 */
int metrics_count(struct metrics *, const char *line, size_t n);

/*
 * Write the Prometheus text exposition format (version 0.0.4, the one
 * node_exporter's textfile collector reads; no timestamps): the
 * decisions, the lines read and the malformed ones, the partners by
 * state and those near their URI limit, the time of the newest line.
 * The tally must be evaluated (score_sort).  0, or -1 on a write error.
 */
int metrics_write(FILE *, const struct metrics *, const struct score *);

/*
 * The same, written to PATH through afile (temporary file, fsync,
 * rename), mode 0644 for a new file: a scraper never reads half of it.
 * 0, or -1 with *err set.
 */
int metrics_write_file(const char *path, const struct metrics *,
    const struct score *, struct fed_err *);

/* A label value as the format escapes it: backslash, double quote and
 * line feed as \\, \" and \n; every other byte as it is. */
void metrics_label_value(FILE *, const char *);

#endif
