/* 0212-metrics.c: fedstat --prometheus: counting lines, escaping, the exposition text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "metrics.h"
#include "score.h"
#include "tap.h"

/* What fn writes to a FILE, as a C string (freed by the caller). */
static char *
captured(FILE *fp)
{
	long n;
	char *buf;

	fflush(fp);
	if ((n = ftell(fp)) < 0 || (buf = malloc((size_t)n + 1)) == NULL)
		return NULL;
	rewind(fp);
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static void
label_is(const char *value, const char *want, const char *what)
{
	FILE *fp = tmpfile();
	char *got;

	if (fp == NULL) {
		ok(0, "%s: tmpfile", what);
		return;
	}
	metrics_label_value(fp, value);
	got = captured(fp);
	is_str(got, want, "%s", what);
	free(got);
	fclose(fp);
}

#define T "2026-11-22T00:00:00.000Z"

int
main(void)
{
	static const char *lines[] = {
		T "\t1.2.3.4:5061\ta.example\tMESSAGE\tu@example.com\taccept\tdiscovered\t-\tc1",
		T "\t1.2.3.4:5061\ta.example\tMESSAGE\tu@example.com\taccept\tdiscovered\t503\tc2",
		T "\t1.2.3.4:5061\ta.example\tMESSAGE\tu@example.com\tlimit\trate\t503\tc3",
		T "\t1.2.3.4:5061\tb.example\t404\t-\tobserve\tresponse\t-\tc4",
		T "\t-\t-\tREGISTER\t-\trefuse\tmalformed\t-\t-",
	};
	static const char unknown[] =
	    T "\tp\tq\tM\tu\taccept\tnonsense\t-\tc";
	struct conf c;
	struct score s;
	struct metrics m;
	struct fed_err err;
	FILE *fp;
	char *text;
	size_t i;
	int oom;

	label_is("plain", "plain", "a plain value as it is");
	label_is("a\\b", "a\\\\b", "a backslash doubled");
	label_is("say \"hi\"", "say \\\"hi\\\"", "a double quote escaped");
	label_is("two\nlines", "two\\nlines", "a line feed as \\n");
	label_is("tab\there", "tab\there", "a tab as it is (the format escapes three bytes only)");

	conf_defaults(&c);
	score_init(&s, SCORE_BY_PARTNER, &c, NULL, NULL, INT64_MIN);
	metrics_init(&m);
	for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		if (score_line(&s, lines[i], strlen(lines[i]), &oom, &err) == NULL)
			diag("unexpected: %s", err.msg);
		is_long(metrics_count(&m, lines[i], strlen(lines[i])), 0,
		    "line %zu counted", i + 1);
	}
	is_long((long)m.decisions[REASON_DISCOVERED], 2, "2 accept discovered");
	is_long((long)m.decisions[REASON_RATE], 1, "1 limit rate");
	is_long((long)m.decisions[REASON_RESPONSE], 1, "1 observe response");
	is_long((long)m.decisions[REASON_MALFORMED], 1, "1 refuse malformed");
	is_long((long)m.accepted_503, 1, "1 accepted, answered 503 (a limit's 503 is not one)");
	is_long(metrics_count(&m, "a\tb\tc", 5), -1, "a line of 3 fields: -1");
	is_long(metrics_count(&m, unknown, strlen(unknown)), -1,
	    "an unknown reason: -1");
	is_long((long)m.decisions[REASON_DISCOVERED], 2, "... and nothing counted");

	score_sort(&s);
	if ((fp = tmpfile()) == NULL)
		return ok(0, "tmpfile"), done_testing();
	is_long(metrics_write(fp, &m, &s), 0, "metrics_write");
	text = captured(fp);
	fclose(fp);
	ok(text != NULL && strstr(text, "# TYPE fedkit_decisions_total counter\n"
	    "fedkit_decisions_total{verdict=\"accept\",reason=\"allowlisted\"} 0\n"
	    "fedkit_decisions_total{verdict=\"accept\",reason=\"discovered\"} 2\n"
	    "fedkit_decisions_total{verdict=\"limit\",reason=\"rate\"} 1\n") != NULL,
	    "decisions by verdict, then reason, zeros included");
	ok(text != NULL && strstr(text, "\nfedkit_decisions_total{verdict=\"observe\","
	    "reason=\"response\"} 1\n# HELP ") != NULL, "... observe last");
	ok(text != NULL && strstr(text, "\nfedkit_accepted_upstream_down_total 1\n") != NULL,
	    "the upstream-down acceptances");
	ok(text != NULL && strstr(text, "\nfedkit_log_lines_total 5\n") != NULL &&
	    strstr(text, "\nfedkit_log_lines_malformed_total 0\n") != NULL,
	    "lines read and malformed");
	ok(text != NULL && strstr(text, "\nfedkit_partners{state=\"ok\"} 3\n") != NULL &&
	    strstr(text, "\nfedkit_partners{state=\"blocked\"} 0\n") != NULL,
	    "partners by state: a.example, b.example and `-` ok");
	ok(text != NULL && strstr(text, "\nfedkit_log_newest_line_timestamp_seconds "
	    "1795305600.000\n") != NULL, "the newest line's time, in seconds");
	if (text != NULL)
		diag("%zu bytes of exposition text", strlen(text));
	free(text);
	score_free(&s);
	conf_free(&c);
	return done_testing();
}
