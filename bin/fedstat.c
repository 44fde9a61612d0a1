/* fedstat.c: tail and score the verdict log: per-partner table, follow, suggest. */
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "fed.h"
#include "follow.h"
#include "listdb.h"
#include "metrics.h"
#include "resume.h"
#include "score.h"
#include "vlog.h"

#define MALFORMED_SHOWN 100	/* malformed lines reported one by one */
#define POLL_MS 200		/* -f: sleep between reads at the end */
#define REDRAW_MS 1000		/* -f on a terminal: redraw period */

enum out_mode { OUT_TABLE, OUT_TSV, OUT_JSON };

struct run {
	struct score s;
	const struct conf *c;
	enum out_mode out;
	int changes;		/* -f piped: print state changes */
	unsigned long top;	/* 0: all */
	struct metrics *m;	/* --prometheus; NULL otherwise */
	int oom;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static _Noreturn void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: fedstat [-fhV] [-c file] [--by peer] [--json] [--resume file]\n"
	    "               [--since dur|time] [--suggest] [--top n] [log ...]\n"
	    "       fedstat --prometheus [-c file] [-o file] [--since dur|time] [log ...]\n"
	    "  -c file          configuration (default $FEDKIT_CONF, "
	    CONF_DEFAULT_PATH ")\n"
	    "  -f, --follow     follow the log like tail -F\n"
	    "  --by peer        one row per peer (edge) instead of per partner\n"
	    "  --json           one JSON object a line\n"
	    "  --prometheus     metrics in the Prometheus text format\n"
	    "  -o file          --prometheus: write them to file, atomically\n"
	    "  --resume file    -f: keep the position and tally in file\n"
	    "  --since dur|time only lines from dur ago (30m, 1h) or since an RFC 3339 time\n"
	    "  --suggest        the domains to consider blocking, one a line\n"
	    "  --top n          the n highest scores only\n"
	    "  -h, --help       this help\n"
	    "  -V, --version    the version\n");
	exit(code);
}

/* --since: a duration back from now, or an RFC 3339 UTC time. */
static int
parse_since(const char *arg, int64_t now, int64_t *since)
{
	char buf[VLOG_TIME_LEN + 1];
	unsigned secs;
	size_t n = strlen(arg);

	if (n == VLOG_TIME_LEN)
		return vlog_time_parse(arg, n, since);
	if (n == 20 && arg[19] == 'Z') {	/* without milliseconds */
		memcpy(buf, arg, 19);
		memcpy(buf + 19, ".000Z", 6);
		return vlog_time_parse(buf, VLOG_TIME_LEN, since);
	}
	if (conf_parse_duration(arg, &secs) != 0)
		return -1;
	*since = now - (int64_t)secs * 1000;
	return 0;
}

/* ---- output ---- */

static void
print_share(FILE *fp, const struct score_group *g, int json)
{
	double share = score_fail_share(g);

	if (share < 0)
		fputs(json ? "null" : "-", fp);
	else
		fprintf(fp, "%.3f", share);
}

/* A logged value (printable ASCII, escaped as in the log) as a JSON
 * string; any other byte, should one get here, as \u00XX. */
static void
json_str(FILE *fp, const char *s)
{
	unsigned char c;

	putc('"', fp);
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f) {
			fprintf(fp, "\\u%04x", c);
			continue;
		}
		if (c == '"' || c == '\\')
			putc('\\', fp);
		putc(c, fp);
	}
	putc('"', fp);
}

static void
print_tsv(FILE *fp, const struct score_group *g)
{
	unsigned k;

	fprintf(fp, "%s\t%ju\t%ju\t%ju\t%ju\t%u\t%ju\t%ju\t", g->name,
	    (uintmax_t)g->messages, (uintmax_t)g->accepted,
	    (uintmax_t)g->limited, (uintmax_t)g->refused, g->uris.n,
	    (uintmax_t)g->ok, (uintmax_t)g->fail);
	print_share(fp, g, 0);
	fprintf(fp, "\t%s\t%.1f\t%u\t", score_state_name(g->state), g->score,
	    g->peers.n);
	for (k = 0; k < g->npeer_names; k++)
		fprintf(fp, "%s%s", k ? "," : "", g->peer_name[k]);
	fputs(g->npeer_names == 0 ? "-\n" : "\n", fp);
}

static void
print_json(FILE *fp, const struct run *r, const struct score_group *g)
{
	unsigned k;

	fputs(r->s.by == SCORE_BY_PEER ? "{\"peer\":" : "{\"partner\":", fp);
	json_str(fp, g->name);
	fprintf(fp, ",\"messages\":%ju,\"accepted\":%ju,\"limited\":%ju,"
	    "\"refused\":%ju,\"uris\":%u,\"uris_capped\":%s,\"2xx\":%ju,"
	    "\"failures\":%ju,\"fail_share\":", (uintmax_t)g->messages,
	    (uintmax_t)g->accepted, (uintmax_t)g->limited,
	    (uintmax_t)g->refused, g->uris.n, g->uris_capped ? "true" : "false",
	    (uintmax_t)g->ok, (uintmax_t)g->fail);
	print_share(fp, g, 1);
	fprintf(fp, ",\"state\":\"%s\",\"score\":%.1f,\"peer_count\":%u,\"%s\":[",
	    score_state_name(g->state), g->score, g->peers.n,
	    r->s.by == SCORE_BY_PEER ? "partners" : "peers");
	for (k = 0; k < g->npeer_names; k++) {
		if (k)
			putc(',', fp);
		json_str(fp, g->peer_name[k]);
	}
	fputs("]}\n", fp);
}

static void
print_table(FILE *fp, const struct run *r, size_t rows)
{
	const struct score_group *g;
	size_t i, w = 7, n = r->s.ng;
	unsigned k;

	if (r->top != 0 && r->top < n)
		n = r->top;
	if (rows != 0 && rows < n)
		n = rows;
	for (i = 0; i < n; i++)
		if (r->s.g[i]->namelen > w)
			w = r->s.g[i]->namelen > 40 ? 40 : r->s.g[i]->namelen;
	fprintf(fp, "%-*s %9s %9s %9s %9s %7s %7s %7s %6s %-10s %9s  %s\n",
	    (int)w, r->s.by == SCORE_BY_PEER ? "peer" : "partner", "messages",
	    "accepted", "limited", "refused", "uris", "2xx", "fail", "share",
	    "state", "score", r->s.by == SCORE_BY_PEER ? "partners" : "peers");
	for (i = 0; i < n; i++) {
		g = r->s.g[i];
		fprintf(fp, "%-*.*s %9ju %9ju %9ju %9ju %6u%s %7ju %7ju ", (int)w,
		    (int)w, g->name, (uintmax_t)g->messages,
		    (uintmax_t)g->accepted, (uintmax_t)g->limited,
		    (uintmax_t)g->refused, g->uris.n, g->uris_capped ? "+" : " ",
		    (uintmax_t)g->ok, (uintmax_t)g->fail);
		if (score_fail_share(g) < 0)
			fprintf(fp, "%6s", "-");
		else
			fprintf(fp, "%6.3f", score_fail_share(g));
		fprintf(fp, " %-10s %9.1f  ", score_state_name(g->state),
		    g->score);
		for (k = 0; k < g->npeer_names && k < 3; k++)
			fprintf(fp, "%s%s", k ? "," : "", g->peer_name[k]);
		if (g->peers.n > k)
			fprintf(fp, "%s+%u", k ? "," : "", g->peers.n - k);
		fputs(g->peers.n == 0 ? "-\n" : "\n", fp);
	}
}

static void
print_all(const struct run *r)
{
	size_t i, n = r->s.ng;

	if (r->out == OUT_TABLE) {
		print_table(stdout, r, 0);
		return;
	}
	if (r->top != 0 && r->top < n)
		n = r->top;
	for (i = 0; i < n; i++) {
		if (r->out == OUT_JSON)
			print_json(stdout, r, r->s.g[i]);
		else
			print_tsv(stdout, r->s.g[i]);
	}
}

/* --suggest: watched or suspicious partners not allow-listed (by the
 * list; by their log only when the lists could not be read) and not
 * blocked, in score order. */
static void
print_suggest(const struct run *r)
{
	const struct score_group *g;
	char dom[DOMAIN_MAX + 2];
	size_t i;

	for (i = 0; i < r->s.ng; i++) {
		g = r->s.g[i];
		if (g->state != SCORE_WATCH && g->state != SCORE_SUSPICIOUS)
			continue;
		if (score_allowlisted(&r->s, g) || g->on_block)
			continue;
		/* Only a name fedlist accepts: never `-` or escaped junk. */
		if (domain_normalize(g->name, g->namelen, 0, dom, sizeof dom,
		    NULL) != 0)
			continue;
		printf("%s\n", dom);
	}
}

/* --prometheus: the metrics on stdout, or written whole to `out`; rc is
 * the exit code of the reads.  Only when every log was read: a partial
 * count would look like a counter reset. */
static int
print_metrics(const struct run *r, const char *out, int rc)
{
	struct fed_err err;

	if (rc != FED_EXIT_OK) {
		fed_warnx("metrics not %s: a log could not be read",
		    out != NULL ? "written" : "printed");
		return rc;
	}
	if (out == NULL) {
		/* A write error shows at the final fflush of stdout. */
		(void)metrics_write(stdout, r->m, &r->s);
		return FED_EXIT_OK;
	}
	if (metrics_write_file(out, r->m, &r->s, &err) != 0) {
		fed_warnx("%s", err.msg);
		return FED_EXIT_SYS;
	}
	return FED_EXIT_OK;
}

/* ---- reading ---- */

static void
report_malformed(const struct run *r, const char *name, uint64_t lineno,
    const char *why)
{
	if (r->s.malformed <= MALFORMED_SHOWN)
		fed_warnx("%s:%ju: %s", name, (uintmax_t)lineno, why);
	if (r->s.malformed == MALFORMED_SHOWN)
		fed_warnx("further malformed lines are counted, not shown");
}

static void
print_change(struct run *r, const struct score_group *g, enum score_state old,
    int64_t t)
{
	char ts[VLOG_TIME_LEN + 1];

	vlog_time_format(ts, t);
	if (r->out == OUT_JSON) {
		printf("{\"time\":\"%s\",\"%s\":", ts,
		    r->s.by == SCORE_BY_PEER ? "peer" : "partner");
		json_str(stdout, g->name);
		printf(",\"from\":\"%s\",\"to\":\"%s\",\"score\":%.1f}\n",
		    score_state_name(old), score_state_name(g->state), g->score);
	} else {
		printf("%s\t%s\t%s\t%s\t%.1f\n", ts, g->name,
		    score_state_name(old), score_state_name(g->state), g->score);
	}
	fflush(stdout);
}

static int
on_line(void *arg, const char *name, uint64_t lineno, const char *line,
    size_t n, const char *problem)
{
	struct run *r = arg;
	struct score_group *g;
	struct fed_err err;
	enum score_state old;

	if (problem != NULL) {
		r->s.lines++;
		r->s.malformed++;
		report_malformed(r, name, lineno, problem);
		return 0;
	}
	if ((g = score_line(&r->s, line, n, &r->oom, &err)) == NULL) {
		if (r->oom)
			return -1;
		if (err.msg[0] != '\0')
			report_malformed(r, name, lineno, err.msg);
		return 0;
	}
	if (r->m != NULL && metrics_count(r->m, line, n) != 0)
		fed_errx(FED_EXIT_SYS, "%s:%ju: a counted line without a "
		    "reason field (a bug)", name, (uintmax_t)lineno);
	if (r->changes) {
		old = g->state;
		score_eval(&r->s, g);
		if (g->state != old)
			print_change(r, g, old, r->s.line_ms);
	}
	return 0;
}

/* Read one log (or stdin) to its end; 0, or an exit code. */
static int
read_log(struct run *r, const char *path)
{
	struct follow f;
	struct fed_err err;
	int fd, rc;

	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
		path = "stdin";
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		int e = errno;

		fed_warn("%s", path);
		/* A log named that is not there or not ours to read is an
		 * input error; anything else a system error. */
		return e == ENOENT || e == ENOTDIR || e == EACCES ||
		    e == EPERM || e == ELOOP || e == ENAMETOOLONG ?
		    FED_EXIT_USAGE : FED_EXIT_SYS;
	}
	if (follow_fd(&f, fd, path, &err) != 0) {
		fed_warnx("%s", err.msg);
		rc = FED_EXIT_SYS;
		goto done;
	}
	while ((rc = follow_poll(&f, 0, on_line, r, &err)) == 1)
		;
	follow_close(&f, on_line, r);
	if (rc < 0) {
		if (r->oom)
			fed_errx(FED_EXIT_SYS, "%s: out of memory", path);
		fed_warnx("%s", err.msg);
		rc = FED_EXIT_SYS;
	}
done:
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

/* ---- -f ---- */

static size_t
term_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row < 5)
		return 20;
	return (size_t)ws.ws_row - 3;
}

static void
redraw(struct run *r, const char *log)
{
	char ts[VLOG_TIME_LEN + 1];

	score_sort(&r->s);
	vlog_time_format(ts, fed_now_ms());
	fputs("\033[H\033[J", stdout);
	printf("fedstat -f %s  %s  %ju lines, %ju malformed\n\n", log, ts,
	    (uintmax_t)r->s.lines, (uintmax_t)r->s.malformed);
	print_table(stdout, r, term_rows() - 1);
	fflush(stdout);
}

static void
relist(struct run *r, struct listdb *allow, struct listdb *block, int64_t now)
{
	struct fed_err err;
	int a = 0, b = 0;

	if (allow != NULL && (a = listdb_refresh(allow, now, &err)) < 0)
		fed_warnx("%s (keeping the previous allow list)", err.msg);
	if (block != NULL && (b = listdb_refresh(block, now, &err)) < 0)
		fed_warnx("%s (keeping the previous block list)", err.msg);
	if (a > 0 || b > 0)
		score_relist(&r->s);
}

/*
 * Open the log to follow, where --resume left it if its file says so.
 * Only a file can be followed (a FIFO or a device has no position, and
 * /dev/zero no end): an input error.  A log not there yet is waited for.
 */
static void
open_or_resume(struct run *r, struct follow *f, const char *log,
    const char *resume)
{
	struct resume_pos sv;
	struct fed_err err;
	struct sigaction sa;
	struct stat st;
	int lost, have = 0;

	if (stat(log, &st) == 0 && !S_ISREG(st.st_mode))
		fed_errx(FED_EXIT_USAGE, "%s: not a regular file (-f follows "
		    "a log file)", log);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (resume != NULL &&
	    (have = resume_load(resume, log, &r->s, &sv, &err)) < 0)
		fed_errx(have == RESUME_SYS ? FED_EXIT_SYS : FED_EXIT_USAGE,
		    "%s", err.msg);
	if (follow_open(f, log, have ? &sv.pos : NULL, have ? sv.old : NULL,
	    have ? sv.nold : 0, &lost, &err) != 0)
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	if (lost)
		fed_warnx("%s: %d file%s of the log (saved in %s, or rotated "
		    "since) gone, replaced or truncated, or beyond the %d "
		    "rotated files read at once: lines written there after "
		    "the last save are not counted", log, lost,
		    lost == 1 ? "" : "s", resume, FOLLOW_OLD_MAX);
	if (have) {
		/* States as saved: only later changes are news. */
		score_sort(&r->s);
	}
}

/* The --resume saves so far. */
struct saves {
	uint64_t lines;		/* the tally's lines at the last save */
	int64_t at_ms;		/* when it was */
	int64_t cost_ms;	/* how long it took */
};

/*
 * Save when lines were read (from any file: the positions of the rotated
 * files still read go with the tally), at most once a second, and less
 * often when the tally is big: never more than a tenth of the time.
 */
static void
save_when_due(struct run *r, struct follow *f, const char *log,
    const char *resume, struct saves *sv, int64_t now)
{
	struct fed_err err;

	if (resume == NULL || r->s.lines == sv->lines ||
	    now - sv->at_ms < 1000 || now - sv->at_ms < sv->cost_ms * 10)
		return;
	if (resume_save(resume, log, &r->s, f, &err) != 0)
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	sv->lines = r->s.lines;
	sv->cost_ms = fed_now_ms() - now;
	sv->at_ms = now;
}

/*
 * Stopped (SIGINT, SIGTERM, SIGHUP): read what was written before the
 * signal, keep the position, and close.  Bounded: each pass reads up to
 * 64 MiB a file, so the passes that what the file held at the signal
 * needs, and one more.
 */
static void
finish_reading(struct run *r, struct follow *f, const char *log,
    const char *resume)
{
	struct fed_err err;
	struct stat st;
	uint64_t passes = 2;
	int rc;

	if (f->fd >= 0 && fstat(f->fd, &st) == 0 && st.st_size > f->pos.off)
		passes += (uint64_t)(st.st_size - f->pos.off) /
		    ((uint64_t)64 << 20);
	while ((rc = follow_poll(f, fed_now_ms(), on_line, r, &err)) == 1 &&
	    --passes > 0)
		;
	if (rc < 0)
		fed_errx(FED_EXIT_SYS, "%s", r->oom ? "out of memory" : err.msg);
	/* Rotated files still read end here (a cut line in them is
	 * malformed; what a writer appends to them later is not counted);
	 * a cut line at the end of the current file is a write in
	 * progress, read whole after a --resume. */
	follow_end_old(f, on_line, r);
	if (resume != NULL && resume_save(resume, log, &r->s, f, &err) != 0)
		fed_errx(FED_EXIT_SYS, "%s", err.msg);
	follow_close(f, NULL, NULL);
}

/* -f: read, relist, redraw or print changes, save, sleep at the end,
 * until a signal; then give a pipeline the totals. */
static int
run_follow(struct run *r, const char *log, const char *resume,
    struct listdb *allow, struct listdb *block)
{
	struct follow f;
	struct fed_err err;
	struct saves sv = { 0, 0, 0 };
	struct timespec ts = { 0, POLL_MS * 1000000L };
	int64_t now, drawn = 0;
	int rc, tty = r->out == OUT_TABLE;

	open_or_resume(r, &f, log, resume);
	sv.lines = r->s.lines;
	while (!stop) {
		now = fed_now_ms();
		rc = follow_poll(&f, now, on_line, r, &err);
		if (rc < 0) {
			if (r->oom)
				fed_errx(FED_EXIT_SYS, "%s: out of memory", log);
			fed_errx(FED_EXIT_SYS, "%s", err.msg);
		}
		now = fed_now_ms();
		relist(r, allow, block, now);
		if (tty && now - drawn >= REDRAW_MS) {
			redraw(r, log);
			drawn = now;
		}
		save_when_due(r, &f, log, resume, &sv, now);
		if (rc == 0 && !stop)
			nanosleep(&ts, NULL);
	}
	finish_reading(r, &f, log, resume);
	score_sort(&r->s);
	if (!tty)
		print_all(r);
	return FED_EXIT_OK;
}

/* A list as fedgate reads it; one that could not be read at all (not a
 * missing one: that is empty) is -1 with *err, so the log's own word on
 * allow-listing counts instead.  A stale index is used, with its word. */
static int
lists_open(struct listdb *db, const char *path, int options_allowed,
    struct fed_err *err)
{
	const char *w;

	if (listdb_open(db, path, options_allowed, err) != 0)
		return -1;
	if ((w = listdb_warning(db)) == NULL)
		return 0;
	if (!db->exists) {
		fed_err_set(err, "%s", w);
		return -1;
	}
	fed_warnx("%s", w);
	return 0;
}

/* The options, as read. */
struct opts {
	const char *conf_path, *resume, *since, *prom_out;
	enum score_by by;
	int json, suggest, follow, prometheus;
	unsigned long top;
};

static enum score_by
parse_by(const char *arg)
{
	if (strcmp(arg, "peer") == 0)
		return SCORE_BY_PEER;
	if (strcmp(arg, "partner") != 0)
		fed_errx(FED_EXIT_USAGE, "--by %s: want peer or partner", arg);
	return SCORE_BY_PARTNER;
}

static unsigned long
parse_top(const char *arg)
{
	uint64_t v;

	if (arg[0] == '0' || fed_parse_u64(arg, strlen(arg), ULONG_MAX,
	    &v) != 0)
		fed_errx(FED_EXIT_USAGE, "--top %s: want a number from 1", arg);
	return (unsigned long)v;
}

/* --since's argument as a time, or exit 2. */
static int64_t
since_arg(const char *arg)
{
	int64_t since_ms;

	if (parse_since(arg, fed_now_ms(), &since_ms) != 0)
		fed_errx(FED_EXIT_USAGE, "--since %s: want a duration (30s, "
		    "60m, 1h, 1d) or a time (YYYY-MM-DDTHH:MM:SS[.mmm]Z)", arg);
	return since_ms;
}

static int
version(void)
{
	printf("fedstat %s\n", FEDKIT_VERSION);
	return FED_EXIT_OK;
}

/* The combinations of options and logs that make no sense. */
static void
check_options(const struct opts *o, int argc, char **argv)
{
	if (o->suggest && (o->follow || o->json || o->by == SCORE_BY_PEER))
		fed_errx(FED_EXIT_USAGE, "--suggest prints domains: not with "
		    "-f, --json or --by peer");
	if (o->resume != NULL && !o->follow)
		fed_errx(FED_EXIT_USAGE, "--resume goes with -f");
	/* Metrics are of partners, over whole reads: the rows, their
	 * number and their kind are the table's business. */
	if (o->prometheus && (o->follow || o->json || o->suggest ||
	    o->top != 0 || o->by == SCORE_BY_PEER))
		fed_errx(FED_EXIT_USAGE, "--prometheus prints metrics: not "
		    "with -f, --json, --suggest, --top or --by peer");
	if (o->prom_out != NULL && !o->prometheus)
		fed_errx(FED_EXIT_USAGE, "-o goes with --prometheus");
	if (o->follow && (argc > 1 || (argc == 1 &&
	    strcmp(argv[0], "-") == 0)))
		fed_errx(FED_EXIT_USAGE, "-f follows one log file (not stdin)");
	/* The resume file records the log's path on a line of its own. */
	if (o->resume != NULL && argc == 1 && strpbrk(argv[0], "\t\n") != NULL)
		fed_errx(FED_EXIT_USAGE, "--resume: a log path holding a tab or "
		    "a newline cannot be recorded");
}

/*
 * The lists say who is allow-listed or blocked now.  A list that cannot
 * be read is left out, with a word: the log still counts.  1 with both
 * open, 0 without them.
 */
static int
open_lists(const struct conf *c, struct listdb *allow, struct listdb *block)
{
	struct fed_err err;

	memset(allow, 0, sizeof *allow);
	memset(block, 0, sizeof *block);
	if (lists_open(allow, c->allow_list, 1, &err) != 0 ||
	    lists_open(block, c->block_list, 0, &err) != 0) {
		fed_warnx("%s (lists not consulted)", err.msg);
		listdb_close(allow);
		listdb_close(block);
		return 0;
	}
	return 1;
}

/* Read the logs whole and print what was asked: the exit code. */
static int
run_read(struct run *r, const struct opts *o, int argc, char **argv)
{
	int i, lrc, rc = FED_EXIT_OK;

	for (i = 0; i < argc; i++)
		if ((lrc = read_log(r, argv[i])) > rc)
			rc = lrc;
	score_sort(&r->s);
	if (o->prometheus)
		rc = print_metrics(r, o->prom_out, rc);
	else if (o->suggest)
		print_suggest(r);
	else
		print_all(r);
	return rc;
}

enum { O_BY = 256, O_JSON, O_RESUME, O_SINCE, O_SUGGEST, O_TOP,
    O_PROMETHEUS };

static const struct option longopts[] = {
	{ "by", required_argument, NULL, O_BY },
	{ "follow", no_argument, NULL, 'f' },
	{ "json", no_argument, NULL, O_JSON },
	{ "prometheus", no_argument, NULL, O_PROMETHEUS },
	{ "resume", required_argument, NULL, O_RESUME },
	{ "since", required_argument, NULL, O_SINCE },
	{ "suggest", no_argument, NULL, O_SUGGEST },
	{ "top", required_argument, NULL, O_TOP },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char *argv[])
{
	struct opts o = { .by = SCORE_BY_PARTNER };
	const char *default_log[1];
	struct listdb allow, block;
	struct fed_err err;
	struct conf c;
	struct run r;
	struct metrics m;
	int ch, lists = 0, rc;
	int64_t since_ms = INT64_MIN;

	fed_progname = "fedstat";
	while ((ch = getopt_long(argc, argv, "c:fho:V", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.conf_path = optarg; break;
		case 'o': o.prom_out = optarg; break;
		case 'f': o.follow = 1; break;
		case O_PROMETHEUS: o.prometheus = 1; break;
		case O_BY: o.by = parse_by(optarg); break;
		case O_JSON: o.json = 1; break;
		case O_RESUME: o.resume = optarg; break;
		case O_SINCE: o.since = optarg; break;
		case O_SUGGEST: o.suggest = 1; break;
		case O_TOP: o.top = parse_top(optarg); break;
		case 'V': return version();
		case 'h': usage(FED_EXIT_OK);
		default: usage(FED_EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	check_options(&o, argc, argv);

	if (conf_load(&c, o.conf_path, &err) != 0) {
		conf_free(&c);
		fed_errx(FED_EXIT_USAGE, "%s", err.msg);
	}
	if (o.since != NULL)
		since_ms = since_arg(o.since);
	if (argc == 0) {
		default_log[0] = c.verdict_log;
		argv = (char **)default_log;
		argc = 1;
	}
	if (o.by == SCORE_BY_PARTNER)
		lists = open_lists(&c, &allow, &block);
	memset(&r, 0, sizeof r);
	score_init(&r.s, o.by, &c, lists ? &allow : NULL,
	    lists ? &block : NULL, since_ms);
	r.c = &c;
	r.top = o.top;
	r.out = o.json ? OUT_JSON : isatty(STDOUT_FILENO) ? OUT_TABLE : OUT_TSV;
	r.changes = o.follow && r.out != OUT_TABLE;
	if (o.prometheus) {
		metrics_init(&m);
		r.m = &m;
	}

	if (o.follow)
		rc = run_follow(&r, argv[0], o.resume, lists ? &allow : NULL,
		    lists ? &block : NULL);
	else
		rc = run_read(&r, &o, argc, argv);
	if (r.s.malformed > 0)
		fed_warnx("%ju malformed line%s of %ju skipped",
		    (uintmax_t)r.s.malformed, r.s.malformed == 1 ? "" : "s",
		    (uintmax_t)r.s.lines);
	if (fflush(stdout) != 0 || ferror(stdout))
		fed_err(FED_EXIT_SYS, "stdout");
	score_free(&r.s);
	if (lists) {
		listdb_close(&allow);
		listdb_close(&block);
	}
	conf_free(&c);
	return rc;
}
