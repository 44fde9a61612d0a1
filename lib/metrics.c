/* metrics.c: the verdict log's tally in the Prometheus text format (fedstat --prometheus). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "afile.h"
#include "metrics.h"

/* The fields a metric needs, counted from 1 as fedkit(7) numbers them. */
#define FIELD_REASON 7
#define FIELD_CODE 8

void
metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof *m);
}

int
metrics_count(struct metrics *m, const char *line, size_t n)
{
	struct fed_str f[FIELD_CODE];
	enum reason reason;

	/* The line was checked whole by vlog_parse: splitting at tabs is
	 * all that is left to do, and costs a few memchr calls a line.  A
	 * field must follow the code. */
	if (fed_split_tabs(line, n, f, FIELD_CODE) <= FIELD_CODE)
		return -1;
	if (reason_from_name(f[FIELD_REASON - 1].p, f[FIELD_REASON - 1].n,
	    &reason) != 0)
		return -1;
	m->decisions[reason]++;
	/* fedkit(7): a request policy accepted when our server cannot be
	 * reached is answered 503 by fedgate itself. */
	if (reason_verdict(reason) == VERDICT_ACCEPT &&
	    fed_str_eq(f[FIELD_CODE - 1], "503"))
		m->accepted_503++;
	return 0;
}

void
metrics_label_value(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", fp);
		else if (*s == '"')
			fputs("\\\"", fp);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			putc(*s, fp);
	}
}

/* The HELP and TYPE lines of a family.  HELP text escapes backslash and
 * line feed only (a quote stands as it is there). */
static void
family(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s ", name);
	for (; *help != '\0'; help++) {
		if (*help == '\\')
			fputs("\\\\", fp);
		else if (*help == '\n')
			fputs("\\n", fp);
		else
			putc(*help, fp);
	}
	fprintf(fp, "\n# TYPE %s %s\n", name, type);
}

int
metrics_write(FILE *fp, const struct metrics *m, const struct score *s)
{
	static const enum verdict verdicts[] = {
		VERDICT_ACCEPT, VERDICT_LIMIT, VERDICT_REFUSE, VERDICT_OBSERVE
	};
	uint64_t states[SCORE_BLOCKED + 1] = { 0 }, near = 0;
	const struct score_group *g;
	size_t i, v;
	int r;

	for (i = 0; i < s->ng; i++) {
		g = s->g[i];
		if ((unsigned)g->state <= SCORE_BLOCKED)
			states[g->state]++;
		/* Near the URI limit and still served: the partners an
		 * operator may want to allow-list before they are hurt. */
		if (g->state != SCORE_WATCH && g->state != SCORE_BLOCKED &&
		    policy_near(g->uris.n, score_uri_limit(s, g)))
			near++;
	}

	/* Every combination, zeros included: a series that appears only
	 * with its first line makes rate() miss that line. */
	family(fp, "fedkit_decisions_total", "counter",
	    "Verdict log lines counted, by verdict and reason (fedkit(7)): "
	    "every line read but the malformed ones and those before --since.");
	for (v = 0; v < sizeof verdicts / sizeof verdicts[0]; v++)
		for (r = 0; r < REASON__COUNT; r++) {
			if (reason_verdict((enum reason)r) != verdicts[v])
				continue;
			fputs("fedkit_decisions_total{verdict=\"", fp);
			metrics_label_value(fp, verdict_name(verdicts[v]));
			fputs("\",reason=\"", fp);
			metrics_label_value(fp, reason_name((enum reason)r));
			fprintf(fp, "\"} %" PRIu64 "\n", m->decisions[r]);
		}
	family(fp, "fedkit_accepted_upstream_down_total", "counter",
	    "Requests accepted by policy that fedgate answered 503 itself, "
	    "our server unreachable (accept lines with code 503).");
	fprintf(fp, "fedkit_accepted_upstream_down_total %" PRIu64 "\n",
	    m->accepted_503);
	family(fp, "fedkit_log_lines_total", "counter",
	    "Verdict log lines read, malformed ones included.");
	fprintf(fp, "fedkit_log_lines_total %" PRIu64 "\n", s->lines);
	family(fp, "fedkit_log_lines_malformed_total", "counter",
	    "Verdict log lines skipped as malformed.");
	fprintf(fp, "fedkit_log_lines_malformed_total %" PRIu64 "\n",
	    s->malformed);

	family(fp, "fedkit_partners", "gauge",
	    "Partners in the log, by the state fedstat(1) gives them.");
	for (r = SCORE_OK; r <= SCORE_BLOCKED; r++) {
		fputs("fedkit_partners{state=\"", fp);
		metrics_label_value(fp, score_state_name((enum score_state)r));
		fprintf(fp, "\"} %" PRIu64 "\n", states[r]);
	}
	family(fp, "fedkit_partners_near_uri_limit", "gauge",
	    "Partners neither watched nor blocked whose distinct URIs are at "
	    "least 80% of the URI limit that applies to them.");
	fprintf(fp, "fedkit_partners_near_uri_limit %" PRIu64 "\n", near);
	/* No line, no time: an absent series, not the epoch. */
	if (s->newest_ms != INT64_MIN) {
		family(fp, "fedkit_log_newest_line_timestamp_seconds", "gauge",
		    "Time of the newest verdict log line counted, in seconds "
		    "since the epoch.");
		fprintf(fp, "fedkit_log_newest_line_timestamp_seconds %.3f\n",
		    (double)s->newest_ms / 1000);
	}
	return ferror(fp) ? -1 : 0;
}

int
metrics_write_file(const char *path, const struct metrics *m,
    const struct score *s, struct fed_err *err)
{
	struct afile af;

	if (afile_begin(&af, path, 0644, err) != 0)
		return -1;
	/* Written again at the next run: a power loss may keep the old
	 * contents, as long as it never leaves half of the new. */
	af.no_dirsync = 1;
	if (metrics_write(af.fp, m, s) != 0) {
		fed_err_set(err, "%s: %s", path, strerror(errno));
		afile_abort(&af);
		return -1;
	}
	return afile_commit(&af, err);
}
