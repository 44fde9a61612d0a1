/* fedlist.c: edit the allow and block lists, check a partner, show and clear watches. */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "conf.h"
#include "fed.h"
#include "gate.h"
#include "listdb.h"
#include "listedit.h"
#include "partner.h"
#include "policy.h"
#include "state.h"
#include "watchlist.h"
#include "vlog.h"

#define WORDS_MAX 64		/* words of one command line */
#define LINE_MAX_BYTES 65536	/* a line read from stdin */
#define HISTORY_MAX 1000

static const char usage_text[] =
    "usage: fedlist [-hjV] [-c file] [-p name] [command]\n"
    "  allow add domain...|- [edge=fqdn] [rate=n|unlimited] "
    "[max_uris=n|unlimited] ['# comment']\n"
    "  allow rm domain...|-     allow ls\n"
    "  block add domain...|- ['# comment']\n"
    "  block rm domain...|-     block ls\n"
    "  check domain|sip-uri     what fedgate decides for that partner\n"
    "  index [allow|block|watch|all]\n"
    "                           compile the lists for fedgate (default all)\n"
    "  watch ls                 watched, suspicious and near-limit partners\n"
    "  watch clear domain...|-  lift them\n"
    "  -c file       configuration (default $FEDKIT_CONF, "
    CONF_DEFAULT_PATH ")\n"
    "  -j, --json    records as JSON, one object a line\n"
    "  -p, --peer name\n"
    "                check: the connection's identity (its TLS name when\n"
    "                tls_cert is set, else its address; verify = srv)\n"
    "  -h, --help    this help\n"
    "  -V, --version the version\n"
    "With no command: a prompt on a terminal, else commands on stdin.\n";

static _Noreturn void
usage(int code)
{
	fputs(usage_text, code == 0 ? stdout : stderr);
	exit(code);
}

struct ctx {
	struct conf c;
	int json;
	const char *peer;
	int stdin_cmds;		/* commands come from stdin: no `-` */
	int chatty;		/* say what an edit did (a terminal) */
};

static int
worst(int a, int b)
{
	return a > b ? a : b;
}

static void
warn_cb(const char *msg, void *arg)
{
	(void)arg;
	fed_warnx("%s", msg);
}

/* ---- output ---- */

static void
json_str(const char *s, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			/* A byte >= 0x80 too: a comment need not be
			 * UTF-8, and the output must be valid JSON. */
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
json_cstr(const char *s)
{
	if (s == NULL)
		fputs("null", stdout);
	else
		json_str(s, strlen(s));
}

/* A field of a tab-separated record: no tab or line break inside. */
static void
tsv_field(const char *s, size_t n)
{
	size_t i;

	if (n == 0) {
		putchar('-');
		return;
	}
	for (i = 0; i < n; i++)
		putchar(s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ? ' ' :
		    s[i]);
}

static void
limit_str(char *out, size_t sz, long v)
{
	if (v == LIST_UNSET)
		snprintf(out, sz, "-");
	else if (v == LIST_UNLIMITED)
		snprintf(out, sz, "unlimited");
	else
		snprintf(out, sz, "%ld", v);
}

/* ---- allow / block ---- */

static const char *
list_path(struct ctx *x, enum listedit_which w)
{
	return w == LISTEDIT_ALLOW ? x->c.allow_list : x->c.block_list;
}

static int
cmd_ls(struct ctx *x, enum listedit_which w)
{
	struct listedit_file f;
	struct fed_err err;
	struct fed_str cm;
	char r[24], m[24];
	size_t i;

	if (listedit_load(&f, list_path(x, w), w == LISTEDIT_ALLOW, warn_cb,
	    NULL, &err) != 0) {
		fed_warnx("%s", err.msg);
		return FED_EXIT_SYS;
	}
	for (i = 0; i < f.l.n; i++) {
		const struct list_entry *e = &f.l.v[i];

		cm = listedit_comment(&f, e->off);
		if (x->json) {
			printf("{\"name\":");
			json_cstr(e->name);
			if (w == LISTEDIT_ALLOW) {
				printf(",\"edge\":");
				json_cstr(e->edge);
				limit_str(r, sizeof r, e->rate);
				limit_str(m, sizeof m, e->max_uris);
				printf(",\"rate\":");
				json_cstr(e->rate == LIST_UNSET ? NULL : r);
				printf(",\"max_uris\":");
				json_cstr(e->max_uris == LIST_UNSET ? NULL : m);
			}
			printf(",\"comment\":");
			if (cm.p != NULL)
				json_str(cm.p, cm.n);
			else
				json_cstr(NULL);
			printf(",\"line\":%u}\n", e->line);
			continue;
		}
		fputs(e->name, stdout);
		if (w == LISTEDIT_ALLOW) {
			limit_str(r, sizeof r, e->rate);
			limit_str(m, sizeof m, e->max_uris);
			printf("\t%s\t%s\t%s", e->edge ? e->edge : "-", r, m);
		}
		putchar('\t');
		tsv_field(cm.p, cm.n);
		putchar('\n');
	}
	i = f.nbad;
	listedit_free(&f);
	if (fflush(stdout) != 0) {
		fed_warn("stdout");
		return FED_EXIT_SYS;
	}
	return i > 0 ? FED_EXIT_USAGE : FED_EXIT_OK;
}

/*
 * One line of stdin into buf (LINE_MAX_BYTES + 1 bytes), without its
 * newline, NUL-terminated; *lenp its length.  0 a line, 1 the end, -1 a
 * read error, -2 a line longer than LINE_MAX_BYTES (the rest of it is
 * read and dropped), -3 a line holding a NUL byte (which would cut it
 * short unseen).
 */
static int
get_line(char *buf, size_t *lenp)
{
	size_t n = 0;
	int c, over = 0;

	while ((c = getchar()) != EOF && c != '\n') {
		if (n < LINE_MAX_BYTES)
			buf[n++] = (char)c;
		else
			over = 1;
	}
	buf[n] = '\0';
	*lenp = n;
	if (c == EOF && ferror(stdin))
		return -1;
	if (c == EOF && n == 0 && !over)
		return 1;
	if (over)
		return -2;
	return memchr(buf, '\0', n) != NULL ? -3 : 0;
}

static const char *
line_problem(int r)
{
	return r == -2 ? "line longer than 65536 bytes" :
	    "NUL byte in the line";
}

/* Domains from stdin, one a line (with options and comments, as in a
 * list file); every bad line is reported. */
static int
read_stdin_items(struct listedit_batch *b, int opts,
    const struct listedit_item *d)
{
	struct fed_err err;
	char *line;
	size_t n;
	unsigned lineno = 0, bad = 0;
	int r;

	if ((line = malloc(LINE_MAX_BYTES + 1)) == NULL) {
		fed_warn("stdin");
		return FED_EXIT_SYS;
	}
	while ((r = get_line(line, &n)) != 1 && r != -1) {
		lineno++;
		if (r < 0) {
			if (++bad <= LISTEDIT_REPORT_MAX)
				fed_warnx("stdin:%u: %s", lineno,
				    line_problem(r));
			continue;
		}
		if (listedit_batch_parse(b, line, n, opts, d, lineno,
		    &err) < 0 && ++bad <= LISTEDIT_REPORT_MAX)
			fed_warnx("stdin:%u: %s", lineno, err.msg);
	}
	if (r == -1) {
		if (errno == EINTR)	/* ^C at the prompt: see run_prompt */
			fed_warnx("stdin: interrupted: nothing written");
		else
			fed_warn("stdin");
		clearerr(stdin);	/* the next `-` reads afresh */
		free(line);
		return FED_EXIT_SYS;
	}
	free(line);
	clearerr(stdin);	/* ^D at the prompt ends the names only */
	if (bad > LISTEDIT_REPORT_MAX)
		fed_warnx("stdin: %u more bad lines not shown",
		    bad - LISTEDIT_REPORT_MAX);
	if (bad > 0) {
		fed_warnx("stdin: %u bad line%s: nothing written", bad,
		    bad > 1 ? "s" : "");
		return FED_EXIT_USAGE;
	}
	return FED_EXIT_OK;
}

static void
say_stats(struct ctx *x, enum listedit_which w, enum listedit_op op,
    const struct listedit_stats *st)
{
	const char *l = w == LISTEDIT_ALLOW ? "allow" : "block";

	if (!x->chatty)
		return;
	if (op == LISTEDIT_ADD)
		printf("%s: %zu added, %zu updated, %zu already listed\n", l,
		    st->added, st->updated, st->unchanged);
	else
		printf("%s: %zu removed, %zu not listed\n", l, st->removed,
		    st->missing);
	fflush(stdout);
}

/* The words of an add or rm, sorted: how many names (one `-` reads them
 * from stdin), the options joined by blanks, and the comment. */
struct edit_words {
	int nnames, from_stdin;
	char opts[1024], comment[1024];
	size_t ol, cl;
};

/* The comment: the word at argv[0] (its '#' and the blanks after it
 * dropped) and every word after it, joined by blanks. */
static int
edit_comment(const char *cmd, int argc, char **argv, struct edit_words *ew)
{
	const char *a = argv[0];
	int i = 0, n;

	for (a++; *a == ' ' || *a == '\t'; a++)
		;
	/* argv[argc] is not read: argv may be a full array of WORDS_MAX
	 * words. */
	for (;;) {
		n = snprintf(ew->comment + ew->cl, sizeof ew->comment - ew->cl,
		    "%s%s", ew->cl ? " " : "", a);
		if (n < 0 || (size_t)n >= sizeof ew->comment - ew->cl) {
			fed_warnx("%s: comment too long", cmd);
			return FED_EXIT_USAGE;
		}
		ew->cl += (size_t)n;
		if (++i >= argc)
			return FED_EXIT_OK;
		a = argv[i];
	}
}

/* Sort the words: names (or `-`), then options (word=value), then a
 * comment (a word starting with '#' and every word after it). */
static int
edit_words(struct ctx *x, enum listedit_op op, int argc, char **argv,
    struct edit_words *ew)
{
	const char *cmd = op == LISTEDIT_ADD ? "add" : "rm";
	int i, n;

	memset(ew, 0, sizeof *ew);
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] == '#') {
			if (edit_comment(cmd, argc - i, argv + i, ew) != 0)
				return FED_EXIT_USAGE;
			break;
		}
		if (strchr(a, '=') != NULL) {
			if (op == LISTEDIT_RM) {
				fed_warnx("rm: %s: rm takes names only", a);
				return FED_EXIT_USAGE;
			}
			n = snprintf(ew->opts + ew->ol, sizeof ew->opts - ew->ol,
			    " %s", a);
			if (n < 0 || (size_t)n >= sizeof ew->opts - ew->ol) {
				fed_warnx("%s: options too long", cmd);
				return FED_EXIT_USAGE;
			}
			ew->ol += (size_t)n;
			continue;
		}
		if (ew->ol > 0) {
			fed_warnx("%s: %s: names come before the options", cmd,
			    a);
			return FED_EXIT_USAGE;
		}
		if (strcmp(a, "-") == 0)
			ew->from_stdin = 1;
		ew->nnames++;
	}
	if (ew->nnames == 0) {
		fed_warnx("%s: which domain? (a name, or - to read names from "
		    "stdin)", cmd);
		return FED_EXIT_USAGE;
	}
	if (ew->from_stdin && ew->nnames > 1) {
		fed_warnx("%s: - reads the names from stdin: give no other",
		    cmd);
		return FED_EXIT_USAGE;
	}
	if (ew->from_stdin && x->stdin_cmds) {
		fed_warnx("%s: -: stdin holds the commands here", cmd);
		return FED_EXIT_USAGE;
	}
	if (ew->cl > 0 && op == LISTEDIT_RM) {
		fed_warnx("rm: a comment means nothing here");
		return FED_EXIT_USAGE;
	}
	return FED_EXIT_OK;
}

/* The names among the words into the batch, up to the first bad one. */
static int
edit_names(int argc, char **argv, int options_allowed,
    const struct listedit_item *d, struct listedit_batch *b)
{
	struct fed_err err;
	int i;

	for (i = 0; i < argc && argv[i][0] != '#'; i++) {
		if (strchr(argv[i], '=') != NULL)
			continue;
		if (listedit_batch_name(b, argv[i], options_allowed, d,
		    &err) != 1) {
			fed_warnx("%s", err.msg);
			fed_warnx("nothing written");
			return FED_EXIT_USAGE;
		}
	}
	return FED_EXIT_OK;
}

/* Apply a checked batch to the list and say what it did. */
static int
edit_apply(struct ctx *x, enum listedit_which w, enum listedit_op op,
    struct listedit_batch *b)
{
	struct listedit_stats st;
	struct fed_err err;
	int r;

	if (b->n == 0)
		return FED_EXIT_OK;	/* an empty stdin: nothing to do */
	r = listedit_apply(x->c.allow_list, x->c.block_list, w, op, b,
	    warn_cb, NULL, &st, &err);
	if (r < 0) {
		fed_warnx("%s", err.msg);
		return FED_EXIT_SYS;
	}
	if (r > 0)
		return FED_EXIT_USAGE;
	say_stats(x, w, op, &st);
	return st.missing > 0 ? FED_EXIT_NO : FED_EXIT_OK;
}

/*
 * add and rm: names (or `-`), then options, then a comment.  Everything
 * is validated first; nothing is written if anything is wrong.
 */
static int
cmd_edit(struct ctx *x, enum listedit_which w, enum listedit_op op, int argc,
    char **argv)
{
	struct listedit_batch b = { .v = NULL, .n = 0, .cap = 0 };
	struct listedit_item d;
	struct edit_words ew;
	struct fed_err err;
	int rc, options_allowed = w == LISTEDIT_ALLOW;

	if ((rc = edit_words(x, op, argc, argv, &ew)) != FED_EXIT_OK)
		return rc;
	/* The options and comment, checked as a list line's would be, are
	 * the defaults of every name. */
	if (listedit_defaults(&d, ew.opts, ew.cl > 0 ? ew.comment : NULL,
	    options_allowed, &err) != 0) {
		fed_warnx("%s %s: %s", w == LISTEDIT_ALLOW ? "allow" : "block",
		    op == LISTEDIT_ADD ? "add" : "rm", err.msg);
		return FED_EXIT_USAGE;
	}
	if (ew.from_stdin)
		rc = read_stdin_items(&b, options_allowed, &d);
	else
		rc = edit_names(argc, argv, options_allowed, &d, &b);
	listedit_item_free(&d);
	if (rc == FED_EXIT_OK)
		rc = edit_apply(x, w, op, &b);
	listedit_batch_free(&b);
	return rc;
}

static int
cmd_list(struct ctx *x, enum listedit_which w, int argc, char **argv)
{
	const char *l = w == LISTEDIT_ALLOW ? "allow" : "block";

	if (argc < 1) {
		fed_warnx("%s: add, rm or ls?", l);
		return FED_EXIT_USAGE;
	}
	if (strcmp(argv[0], "add") == 0)
		return cmd_edit(x, w, LISTEDIT_ADD, argc - 1, argv + 1);
	if (strcmp(argv[0], "rm") == 0)
		return cmd_edit(x, w, LISTEDIT_RM, argc - 1, argv + 1);
	if (strcmp(argv[0], "ls") == 0) {
		if (argc > 1) {
			fed_warnx("%s ls: takes no arguments", l);
			return FED_EXIT_USAGE;
		}
		return cmd_ls(x, w);
	}
	fed_warnx("%s: %s: unknown (add, rm or ls)", l, argv[0]);
	return FED_EXIT_USAGE;
}

/* ---- check ---- */

/*
 * check's argument as gate_check takes it: a SIP URI as given, a domain
 * normalized into norm (DOMAIN_MAX + 2 bytes).  What gate_check cannot
 * take is the user's mistake (exit 2), not the system's.
 */
static int
check_target(struct ctx *x, const char *arg, char *norm, size_t normsz,
    const char **target)
{
	struct fed_err err;

	if (!gate_check_arg_ok(arg)) {
		char q[FED_QUOTE_MAX];

		fed_quote(q, arg, strlen(arg));
		fed_warnx("check: %s: not a domain or a SIP URI", q);
		return FED_EXIT_USAGE;
	}
	*target = arg;
	if (strncasecmp(arg, "sip:", 4) != 0 &&
	    strncasecmp(arg, "sips:", 5) != 0) {
		if (domain_normalize(arg, strlen(arg), 0, norm, normsz,
		    &err) != 0) {
			fed_warnx("check: %s", err.msg);
			return FED_EXIT_USAGE;
		}
		*target = norm;
	}
	if (conf_check_local_domains(&x->c, &err) != 0) {
		fed_warnx("check: %s", err.msg);
		return FED_EXIT_USAGE;
	}
	return FED_EXIT_OK;
}

/* The gate check asks, opened as fedgate opens it, writing nothing. */
static int
check_gate_open(struct ctx *x, struct gate **g)
{
	struct gate_opts o = {
		.peer = x->peer,
		.dry_run = 1,
		.log_fd = -1,
		/* As fedgate on a socket (bin/fedgate.c): with TLS
		 * configured the peer is a verified certificate name, and
		 * `verify = auto` means srv.  Nothing is loaded: check
		 * reads no certificate or key. */
		.tls = x->c.tls != TLS_OFF && x->c.tls_cert != NULL,
		.replies = 0,
		.peer_names = NULL,
		.npeer_names = 0,
	};
	struct fed_err err;

	if (gate_open(g, &x->c, &o, &err) != 0) {
		fed_warnx("%s", err.msg);
		return FED_EXIT_SYS;
	}
	return FED_EXIT_OK;
}

/* check -j: the answer as one JSON object. */
static void
check_print_json(const struct gate_check *chk, const char *code)
{
	printf("{\"partner\":");
	json_cstr(chk->res.partner[0] ? chk->res.partner : NULL);
	printf(",\"verdict\":\"%s\",\"reason\":\"%s\",\"code\":%s,\"rule\":",
	    verdict_name(chk->res.d.verdict), reason_name(chk->res.d.reason),
	    chk->res.d.code < 0 ? "null" : code);
	json_cstr(chk->res.rule);
	printf(",\"list\":");
	json_cstr(chk->list);
	printf(",\"entry\":");
	json_cstr(chk->list ? chk->entry : NULL);
	printf("}\n");
}

/*
 * check's answer: a tab-separated line (partner, verdict, reason, code,
 * list:entry) or a JSON object; -v adds a sentence naming the rule and
 * the entry that decided (tcprulescheck).
 */
static void
check_print(const struct ctx *x, const char *target,
    const struct gate_check *chk)
{
	char code[8];

	snprintf(code, sizeof code, "%d", chk->res.d.code);
	if (chk->res.d.code < 0)
		snprintf(code, sizeof code, "-");
	if (x->json) {
		check_print_json(chk, code);
		return;
	}
	printf("%s\t%s\t%s\t%s\t", chk->res.partner[0] ? chk->res.partner :
	    "-", verdict_name(chk->res.d.verdict),
	    reason_name(chk->res.d.reason), code);
	if (chk->list != NULL)
		printf("%s:%s\n", chk->list, chk->entry);
	else
		printf("-\n");
	if (!x->chatty)
		return;
	printf("%s: %s", chk->res.partner[0] ? chk->res.partner : target,
	    verdict_name(chk->res.d.verdict));
	if (chk->res.d.code > 0)
		printf(" (%d %s)", chk->res.d.code,
		    policy_code_phrase(chk->res.d.code));
	printf(", rule %s", chk->res.rule);
	if (chk->list != NULL)
		printf(", by the entry %s of %s", chk->entry, chk->path);
	printf("\n");
}

/*
 * fedlist check: what fedgate decides for the target, by gate_check, the
 * code that decides real requests, changing nothing (fedlist(1) check).
 */
static int
cmd_check(struct ctx *x, int argc, char **argv)
{
	struct gate_check *chk;
	struct fed_err err;
	struct gate *g;
	char norm[DOMAIN_MAX + 2];
	const char *target;
	int rc;

	if (argc != 1) {
		fed_warnx("check: one domain or SIP URI");
		return FED_EXIT_USAGE;
	}
	if ((rc = check_target(x, argv[0], norm, sizeof norm, &target)) !=
	    FED_EXIT_OK || (rc = check_gate_open(x, &g)) != FED_EXIT_OK)
		return rc;
	if ((chk = malloc(sizeof *chk)) == NULL) {
		fed_warn("check");
		gate_close(g, &err);
		return FED_EXIT_SYS;
	}
	if (gate_check(g, target, fed_now_ms(), chk, &err) != 0) {
		/* The argument was checked above as gate_check checks it:
		 * what is left is the state directory or memory. */
		fed_warnx("check: %s", err.msg);
		free(chk);
		gate_close(g, &err);
		return FED_EXIT_SYS;
	}
	check_print(x, target, chk);
	rc = chk->res.d.verdict == VERDICT_ACCEPT ? FED_EXIT_OK : FED_EXIT_NO;
	free(chk);
	if (gate_close(g, &err) != 0) {
		fed_warnx("%s", err.msg);
		rc = FED_EXIT_SYS;
	}
	if (fflush(stdout) != 0) {
		fed_warn("stdout");
		rc = FED_EXIT_SYS;
	}
	return rc;
}

/* ---- watch ---- */

/* One line of `watch ls`, gathered from the store and the watch list. */
struct watch_rowdata {
	char domain[DOMAIN_MAX + 1];
	const char *state;
	unsigned uris, ok, fail;
	int limited;
	unsigned long max;
	int64_t since;
	unsigned npeer;
	struct staterec_peer peer[STATEREC_PEERS];
};

struct walk {
	struct ctx *x;
	struct listdb allow, block;
	struct watchlist wl;
	struct state *st;
	int64_t now;
	struct watch_rowdata *rows;
	size_t n, cap;
	int err;
};

/*
 * What fedgate would make of a partner (partner.c decides it for both):
 * a discovered partner is watched while the watch list (or the store's
 * mark of a watch just begun) says so, suspicious by its response counts
 * now, near at 80% of max_uris; an allow-listed one only by its entry's
 * own max_uris, and never suspicious.  A domain on both lists (a hand
 * edit) is blocked, not allowed, as fedgate has it (fedkit(7) 1.5).
 * Only the partner's domain is looked up: fedgate also allows a partner
 * by the name of the peer a request came from, which depends on the
 * connection, not on the partner; such a partner shows as discovered.
 */
static void
watch_judge(struct walk *wk, const char *domain, const struct state_view *v)
{
	struct ctx *x = wk->x;
	struct list_entry e, be;
	char scratch[LISTDB_SCRATCH], bscratch[LISTDB_SCRATCH];
	struct watch_rowdata *r;
	struct partner_limits l;
	struct partner_status ps;
	int64_t wsince = 0;
	unsigned uris = v != NULL ? v->rec.nuris : 0;
	int allowed, marked;

	allowed = listdb_lookup(&wk->allow, domain, &e, scratch,
	    sizeof scratch) == 1 && listdb_lookup(&wk->block, domain,
	    &be, bscratch, sizeof bscratch) != 1;
	l = allowed ? partner_limits(&x->c, 1, e.rate, e.max_uris) :
	    partner_limits(&x->c, 0, LIST_UNSET, LIST_UNSET);
	marked = watchlist_lookup(&wk->wl, domain, wk->now, x->c.watch_expire,
	    &wsince);
	if (!marked && v != NULL && partner_store_watch(&x->c,
	    v->rec.watch_ms, v->watch_kept, wk->now)) {
		marked = 1;
		wsince = v->rec.watch_ms;
	}
	ps = partner_status(&x->c, &l, marked, v != NULL, uris,
	    v != NULL ? v->ok : 0, v != NULL ? v->fail : 0);
	if (!ps.watched && !ps.suspicious && !ps.near)
		return;
	if (wk->n == wk->cap) {
		size_t nc = wk->cap ? wk->cap * 2 : 64;
		struct watch_rowdata *nr = reallocarray(wk->rows, nc,
		    sizeof *nr);

		if (nr == NULL) {
			wk->err = errno;
			return;
		}
		wk->rows = nr;
		wk->cap = nc;
	}
	r = &wk->rows[wk->n++];
	memset(r, 0, sizeof *r);
	snprintf(r->domain, sizeof r->domain, "%s", domain);
	r->state = ps.watched && ps.suspicious ? "both" : ps.watched ?
	    "watch" : ps.suspicious ? "suspicious" : "near";
	r->uris = uris;
	r->limited = l.uris_limited;
	r->max = l.max_uris;
	if (v != NULL) {
		r->ok = v->ok;
		r->fail = v->fail;
		r->npeer = v->npeer;
		memcpy(r->peer, v->peer, sizeof r->peer);
	}
	if (ps.watched)
		r->since = wsince;
	if (ps.suspicious && v != NULL && v->rec.suspicious_ms != 0 &&
	    (r->since == 0 || v->rec.suspicious_ms < r->since))
		r->since = v->rec.suspicious_ms;
}

static int
watch_from_state(const struct state_view *v, void *arg)
{
	watch_judge(arg, v->domain, v);
	return 0;
}

/* A watch list entry the store holds nothing for (nothing is kept for a
 * watched partner once the watch has settled). */
static int
watch_from_list(const char *domain, int64_t since, const char *reason,
    void *arg)
{
	struct walk *wk = arg;
	struct state_view v;
	char dom[DOMAIN_MAX + 1];
	struct fed_err err;

	(void)since;
	(void)reason;
	if (state_view(wk->st, domain, wk->now, &v, dom, &err) == 0)
		watch_judge(wk, domain, NULL);
	return 0;
}

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct watch_rowdata *)a)->domain,
	    ((const struct watch_rowdata *)b)->domain);
}

static void
watch_print(const struct ctx *x, const struct watch_rowdata *r)
{
	char since[32];
	unsigned i;

	if (r->since != 0)
		vlog_time_format(since, r->since);
	else
		snprintf(since, sizeof since, "-");
	if (x->json) {
		printf("{\"partner\":");
		json_cstr(r->domain);
		printf(",\"state\":\"%s\",\"uris\":%u,\"max_uris\":",
		    r->state, r->uris);
		/* No limit (an allow entry's max_uris=unlimited, or none)
		 * is null, not 0. */
		if (r->limited)
			printf("%lu", r->max);
		else
			fputs("null", stdout);
		printf(",\"ok\":%u,\"fail\":%u,\"since\":", r->ok, r->fail);
		json_cstr(r->since != 0 ? since : NULL);
		printf(",\"peers\":[");
		for (i = 0; i < r->npeer; i++) {
			if (i)
				putchar(',');
			json_cstr(r->peer[i].name);
		}
		printf("]}\n");
		return;
	}
	printf("%s\t%s\t%u\t%u\t%u\t%s\t", r->domain, r->state, r->uris,
	    r->ok, r->fail, since);
	for (i = 0; i < r->npeer; i++)
		printf("%s%s", i ? "," : "", r->peer[i].name);
	printf("%s\n", r->npeer ? "" : "-");
}

static int
open_state(struct ctx *x, struct state **st, int dry_run)
{
	struct state_params sp;
	struct fed_err err;

	gate_state_params(&sp, &x->c);
	sp.pool_only = 1;
	if (state_open(st, x->c.state_dir, &sp, dry_run, &err) != 0) {
		fed_warnx("%s", err.msg);
		return -1;
	}
	return 0;
}

static int
open_watchlist(struct ctx *x, struct watchlist *wl)
{
	struct fed_err err;
	int r = watchlist_open(wl, x->c.watch_list, &err);

	if (r == WATCHLIST_BADLINES)
		fed_warnx("%s (line skipped)", err.msg);
	else if (r < 0) {
		fed_warnx("%s", err.msg);
		watchlist_close(wl);
		return -1;
	}
	return 0;
}

static int
cmd_watch_ls(struct ctx *x)
{
	struct walk wk;
	struct fed_err err;
	size_t i;
	int rc = FED_EXIT_SYS;

	memset(&wk, 0, sizeof wk);
	wk.x = x;
	wk.now = fed_now_ms();
	if (open_state(x, &wk.st, 1) != 0)
		return FED_EXIT_SYS;
	if (open_watchlist(x, &wk.wl) != 0)
		goto close_state;
	if (listdb_open(&wk.allow, x->c.allow_list, 1, &err) != 0) {
		fed_warnx("%s", err.msg);
		goto close_wl;
	}
	if (listdb_open(&wk.block, x->c.block_list, 0, &err) != 0) {
		fed_warnx("%s", err.msg);
		goto close_allow;
	}
	if (state_walk(wk.st, wk.now, watch_from_state, &wk, &err) != 0) {
		fed_warnx("%s", err.msg);
		goto close_block;
	}
	watchlist_walk(&wk.wl, watch_from_list, &wk);
	if (wk.err != 0) {
		fed_warnx("watch ls: %s", strerror(wk.err));
		goto close_block;
	}
	if (wk.n > 0)
		qsort(wk.rows, wk.n, sizeof wk.rows[0], row_cmp);
	for (i = 0; i < wk.n; i++)
		watch_print(x, &wk.rows[i]);
	rc = FED_EXIT_OK;
	if (fflush(stdout) != 0) {
		fed_warn("stdout");
		rc = FED_EXIT_SYS;
	}
close_block:
	listdb_close(&wk.block);
close_allow:
	listdb_close(&wk.allow);
close_wl:
	watchlist_close(&wk.wl);
close_state:
	state_close(wk.st, NULL);
	free(wk.rows);
	return rc;
}

static int
store_exists(const struct ctx *x)
{
	char *p = fed_concat(x->c.state_dir, "/counters.mdb");
	int ok = p != NULL && access(p, F_OK) == 0;

	free(p);
	return ok;
}

/*
 * Lift a partner: its line goes from the watch list (durably) and its
 * counters from the store (flushed), so it starts again as a new partner.
 */
static int
clear_one(struct ctx *x, struct watchlist *wl, struct state **rw,
    const char *name)
{
	char norm[DOMAIN_MAX + 2], dom[DOMAIN_MAX + 1];
	struct state_view v;
	struct fed_err err;
	int64_t now = fed_now_ms();
	int listed, had, susp = 0, pooled_watch;

	if (domain_normalize(name, strlen(name), 0, norm, sizeof norm,
	    &err) != 0) {
		fed_warnx("watch clear: %s", err.msg);
		return FED_EXIT_USAGE;
	}
	/* Nothing is created here: a state directory made by an operator's
	 * root shell would be root's, and fedgate's user could not use it
	 * (fedkit(7)).  No store, no watch list: nothing to clear. */
	if (*rw == NULL && (store_exists(x) || x->c.redis != NULL) &&
	    open_state(x, rw, 0) != 0)
		return FED_EXIT_SYS;
	had = 0;
	if (*rw != NULL &&
	    (had = state_view(*rw, norm, now, &v, dom, &err)) < 0) {
		fed_warnx("%s", err.msg);
		return FED_EXIT_SYS;
	}
	if (had)
		susp = v.rec.suspicious_ms != 0;
	/* A pool's watch is its store's, not the file's (fedkit(7) POOL). */
	pooled_watch = had && v.watch_kept && v.rec.watch_ms != 0;
	listed = 0;
	if (watchlist_lookup(wl, norm, now, 0, NULL) &&
	    (listed = watchlist_remove(wl, norm, &err)) < 0) {
		fed_warnx("%s", err.msg);
		return FED_EXIT_SYS;
	}
	if (had && state_clear(*rw, norm, now, &err) < 0) {
		fed_warnx("%s", err.msg);
		return FED_EXIT_SYS;
	}
	listed = listed || pooled_watch;
	if (!listed && !had) {
		fed_warnx("%s: no state to clear (%s, %s)", norm,
		    x->c.watch_list, x->c.state_dir);
		return FED_EXIT_NO;
	}
	if (x->chatty)
		printf("%s: cleared (was %s)\n", norm, listed && susp ?
		    "watched and suspicious" : listed ? "watched" : susp ?
		    "suspicious" : "neither watched nor suspicious");
	return FED_EXIT_OK;
}

/*
 * watch clear -: the names on stdin, one a line (the first word; blanks
 * and a comment around it are ignored), each cleared as it is read.
 */
static int
clear_stdin(struct ctx *x, struct watchlist *wl, struct state **rw)
{
	char *line;
	size_t n;
	unsigned lineno = 0;
	int r, rc = FED_EXIT_OK;

	if ((line = malloc(LINE_MAX_BYTES + 1)) == NULL) {
		fed_warn("watch clear");
		return FED_EXIT_SYS;
	}
	while ((r = get_line(line, &n)) != 1) {
		char *p = line, *e;

		lineno++;
		if (r == -1) {
			/* ^C at the prompt: the names cleared so far stay
			 * cleared, the rest are not read. */
			if (errno == EINTR)
				fed_warnx("stdin: interrupted");
			else
				fed_warn("stdin");
			rc = worst(rc, FED_EXIT_SYS);
			break;
		}
		if (r < 0) {
			fed_warnx("stdin:%u: %s", lineno, line_problem(r));
			rc = worst(rc, FED_EXIT_USAGE);
			continue;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		for (e = p; *e && *e != '\n' && *e != ' ' && *e != '\t' &&
		    *e != '#'; e++)
			;
		*e = '\0';
		if (*p != '\0')
			rc = worst(rc, clear_one(x, wl, rw, p));
	}
	free(line);
	clearerr(stdin);	/* as for add - */
	return rc;
}

static int
cmd_watch_clear(struct ctx *x, int argc, char **argv)
{
	struct state *rw = NULL;
	struct watchlist wl;
	int i, rc = FED_EXIT_OK;

	if (argc == 0) {
		fed_warnx("watch clear: which domain? (names, or - for stdin)");
		return FED_EXIT_USAGE;
	}
	if (argc == 1 && strcmp(argv[0], "-") == 0 && x->stdin_cmds) {
		fed_warnx("watch clear: -: stdin holds the commands here");
		return FED_EXIT_USAGE;
	}
	if (open_watchlist(x, &wl) != 0)
		return FED_EXIT_SYS;
	if (argc == 1 && strcmp(argv[0], "-") == 0)
		rc = clear_stdin(x, &wl, &rw);
	else
		for (i = 0; i < argc; i++)
			rc = worst(rc, clear_one(x, &wl, &rw, argv[i]));
	watchlist_close(&wl);
	if (rw != NULL)
		state_close(rw, NULL);
	fflush(stdout);
	return rc;
}

static int
cmd_watch(struct ctx *x, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "ls") == 0) {
		if (argc > 1) {
			fed_warnx("watch ls: takes no arguments");
			return FED_EXIT_USAGE;
		}
		return cmd_watch_ls(x);
	}
	if (argc >= 1 && strcmp(argv[0], "clear") == 0)
		return cmd_watch_clear(x, argc - 1, argv + 1);
	fed_warnx("watch: ls or clear?");
	return FED_EXIT_USAGE;
}

/* ---- index ---- */

/*
 * Compile one list (fedkit(7) List index): under its lock, atomically; a bad
 * line leaves the index in place, which fedgate goes on using.
 */
static int
index_list(const char *path, int options_allowed)
{
	struct fed_err err;
	int r = list_index_write(path, options_allowed, 0, &err);

	if (r == LISTDB_BAD_TEXT) {
		fed_warnx("%s: not compiled; fedgate keeps using %s%s", err.msg,
		    path, LISTDB_IDX_SUFFIX);
		return FED_EXIT_USAGE;
	}
	if (r != 0) {
		fed_warnx("index: %s", err.msg);
		return FED_EXIT_SYS;
	}
	return FED_EXIT_OK;
}

/*
 * The watch list has no compiled form (fedgate appends to it as watches
 * start): `index watch` checks it, naming its bad lines, which fedgate
 * skips while keeping every watch in force (fedkit(7) Watch list).
 */
static int
index_watch(struct ctx *x)
{
	struct watchlist wl;
	struct fed_err err;
	int r = watchlist_open(&wl, x->c.watch_list, &err);

	watchlist_close(&wl);
	if (r == WATCHLIST_BADLINES) {
		fed_warnx("%s: fedgate skips the line and lifts no watch "
		    "until it is fixed", err.msg);
		return FED_EXIT_USAGE;
	}
	if (r < 0) {
		fed_warnx("index: %s", err.msg);
		return FED_EXIT_SYS;
	}
	return FED_EXIT_OK;
}

/* `index [allow|block|watch|all]`: every list named, each on its own. */
static int
cmd_index(struct ctx *x, int argc, char **argv)
{
	const char *which = argc > 0 ? argv[0] : "all";
	int all = strcmp(which, "all") == 0, rc = FED_EXIT_OK;

	if (argc > 1 || (!all && strcmp(which, "allow") != 0 &&
	    strcmp(which, "block") != 0 && strcmp(which, "watch") != 0)) {
		fed_warnx("index: allow, block, watch or all (the default)");
		return FED_EXIT_USAGE;
	}
	if (all || strcmp(which, "allow") == 0)
		rc = worst(rc, index_list(x->c.allow_list, 1));
	if (all || strcmp(which, "block") == 0)
		rc = worst(rc, index_list(x->c.block_list, 0));
	if (all || strcmp(which, "watch") == 0)
		rc = worst(rc, index_watch(x));
	return rc;
}

/* ---- commands ---- */

static const char help_text[] =
    "allow add DOMAIN...|- [edge=FQDN] [rate=N|unlimited] "
    "[max_uris=N|unlimited] [# comment]\n"
    "allow rm DOMAIN...|-      allow ls\n"
    "block add DOMAIN...|- [# comment]\n"
    "block rm DOMAIN...|-      block ls\n"
    "check DOMAIN|SIP-URI      what fedgate decides for that partner\n"
    "index [allow|block|watch|all]  compile the lists for fedgate\n"
    "watch ls                  watched, suspicious, near-limit partners\n"
    "watch clear DOMAIN...|-   lift them\n"
    "help                      this text\n"
    "quit                      leave (or end of input)\n"
    "- reads the names, one a line, until end of input (^D at the prompt;\n"
    "not when the commands themselves come from stdin).\n"
    "At most 64 words a command; a word starting with # and the rest of\n"
    "the line are the comment.\n"
    "Add --json to ls, check or watch ls for JSON; --peer NAME to check.\n";

/* One command's words, w[0] its name: the action it names. */
static int
run_command(struct ctx *x, int n, char **w)
{
	if (n == 0)
		return FED_EXIT_OK;
	if (strcmp(w[0], "allow") == 0)
		return cmd_list(x, LISTEDIT_ALLOW, n - 1, w + 1);
	if (strcmp(w[0], "block") == 0)
		return cmd_list(x, LISTEDIT_BLOCK, n - 1, w + 1);
	if (strcmp(w[0], "check") == 0)
		return cmd_check(x, n - 1, w + 1);
	if (strcmp(w[0], "watch") == 0)
		return cmd_watch(x, n - 1, w + 1);
	if (strcmp(w[0], "index") == 0)
		return cmd_index(x, n - 1, w + 1);
	if (strcmp(w[0], "help") == 0) {
		fputs(help_text, stdout);
		fflush(stdout);
		return FED_EXIT_OK;
	}
	fed_warnx("%s: unknown command (allow, block, check, index, watch, "
	    "help)", w[0]);
	return FED_EXIT_USAGE;
}

/* One command, words already split; --json and --peer NAME may come
 * anywhere in it (before a comment). */
static int
run(struct ctx *x, int argc, char **argv)
{
	char *w[WORDS_MAX] = { 0 };	/* all set: gcc's analyzer cannot
					 * tie n to the words filled in */
	int n = 0, i, rc, json = x->json, no_name = 0;
	const char *peer = x->peer;

	for (i = 0; i < argc && n < WORDS_MAX; i++) {
		if (argv[i][0] == '#') {
			for (; i < argc && n < WORDS_MAX; i++)
				w[n++] = argv[i];
			break;
		}
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") ==
		    0) {
			x->json = 1;
			continue;
		}
		if (strcmp(argv[i], "--peer") == 0 ||
		    strcmp(argv[i], "-p") == 0) {
			if (i + 1 >= argc) {
				no_name = 1;
				break;
			}
			x->peer = argv[++i];
			continue;
		}
		w[n++] = argv[i];
	}
	/* Every refusal restores -j and --peer too: at the prompt they are
	 * this command's, never the next one's. */
	if (no_name) {
		fed_warnx("--peer: which name?");
		rc = FED_EXIT_USAGE;
	} else if (i < argc) {
		fed_warnx("too many words (at most %d)", WORDS_MAX);
		rc = FED_EXIT_USAGE;
	} else if (x->peer != NULL && (x->peer[0] == '\0' ||
	    strlen(x->peer) >= 256)) {
		fed_warnx("--peer: a name of 1 to 255 bytes");
		rc = FED_EXIT_USAGE;
	} else
		rc = run_command(x, n, w);
	x->json = json;
	x->peer = peer;
	return rc;
}

/*
 * Split a command line into words at blanks; a word starting with '#'
 * starts the comment, which stays one word.  -1: too many words.
 */
static int
split(char *line, char **w)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '\0')
			return n;
		if (n == WORDS_MAX)
			return -1;
		w[n++] = p;
		if (*p == '#') {
			size_t l = strlen(p);

			while (l > 0 && (p[l - 1] == '\n' || p[l - 1] == '\r' ||
			    p[l - 1] == ' ' || p[l - 1] == '\t'))
				p[--l] = '\0';
			return n;
		}
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' &&
		    *p != '\r')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
}

static int
is_quit(int n, char **w)
{
	return n == 1 && (strcmp(w[0], "quit") == 0 ||
	    strcmp(w[0], "exit") == 0);
}

/* Commands on stdin, one a line: the exit status is the worst. */
static int
run_stdin(struct ctx *x)
{
	char *line, *w[WORDS_MAX];
	size_t len;
	unsigned lineno = 0;
	int n, r, rc = FED_EXIT_OK;

	x->stdin_cmds = 1;
	if ((line = malloc(LINE_MAX_BYTES + 1)) == NULL) {
		fed_warn("stdin");
		return FED_EXIT_SYS;
	}
	while ((r = get_line(line, &len)) != 1) {
		lineno++;
		if (r == -1) {
			fed_warn("stdin");
			rc = worst(rc, FED_EXIT_SYS);
			break;
		}
		if (r < 0) {
			fed_warnx("stdin:%u: %s: command not run", lineno,
			    line_problem(r));
			rc = worst(rc, FED_EXIT_USAGE);
			continue;
		}
		if ((n = split(line, w)) < 0) {
			fed_warnx("stdin:%u: too many words (at most %d)",
			    lineno, WORDS_MAX);
			rc = worst(rc, FED_EXIT_USAGE);
			continue;
		}
		if (n > 0 && w[0][0] == '#')
			continue;
		if (is_quit(n, w))
			break;
		rc = worst(rc, run(x, n, w));
	}
	free(line);
	return rc;
}

/* ---- the prompt ---- */

static struct ctx *cx;		/* for the completion callbacks */
static const char *const *cand;	/* candidates of the word being completed */
static size_t ncand;
static int cand_names;		/* or the names of cfile */
static struct listedit_file cfile;	/* the list whose names complete */
static int cfile_which = -1;
static struct fed_ident cfile_id;

static char *
gen(const char *text, int state)
{
	static size_t i;
	size_t tl = strlen(text);

	if (state == 0)
		i = 0;
	while (i < ncand) {
		const char *c = cand_names ? cfile.l.v[i].name : cand[i];

		i++;
		if (strncmp(c, text, tl) == 0)
			return strdup(c);
	}
	return NULL;
}

/* The names of a list, loaded again only when the file changed. */
static int
load_names(enum listedit_which w)
{
	const char *path = list_path(cx, w);
	struct fed_err err;
	struct fed_ident id;

	fed_ident_path(&id, path);
	if (cfile_which == (int)w && fed_ident_same(&id, &cfile_id))
		return 0;
	listedit_free(&cfile);
	cfile_which = -1;
	if (listedit_load(&cfile, path, w == LISTEDIT_ALLOW, NULL, NULL,
	    &err) != 0)
		return -1;
	cfile_which = (int)w;
	cfile_id = id;
	return 0;
}

static char **
complete(const char *text, int start, int end)
{
	static const char *const top[] = { "allow", "block", "check", "index",
	    "watch", "help", "quit" };
	static const char *const isub[] = { "allow", "block", "watch", "all" };
	static const char *const lsub[] = { "add", "rm", "ls" };
	static const char *const wsub[] = { "ls", "clear" };
	static const char *const aopt[] = { "edge=", "rate=", "max_uris=" };
	char buf[1024], *w[WORDS_MAX];
	int n;

	(void)end;
	rl_attempted_completion_over = 1;	/* never file names */
	cand_names = 0;
	cand = NULL;
	ncand = 0;
	snprintf(buf, sizeof buf, "%.*s", start, rl_line_buffer);
	if ((n = split(buf, w)) < 0)
		return NULL;
	if (n == 0) {
		cand = top;
		ncand = sizeof top / sizeof top[0];
	} else if (n == 1 && (strcmp(w[0], "allow") == 0 ||
	    strcmp(w[0], "block") == 0)) {
		cand = lsub;
		ncand = 3;
	} else if (n == 1 && strcmp(w[0], "watch") == 0) {
		cand = wsub;
		ncand = 2;
	} else if (n == 1 && strcmp(w[0], "index") == 0) {
		cand = isub;
		ncand = 4;
	} else if (n >= 2 && (strcmp(w[0], "allow") == 0 ||
	    strcmp(w[0], "block") == 0) && strcmp(w[1], "rm") == 0) {
		if (load_names(w[0][0] == 'a' ? LISTEDIT_ALLOW :
		    LISTEDIT_BLOCK) != 0)
			return NULL;
		cand_names = 1;
		ncand = cfile.l.n;
	} else if (n >= 3 && strcmp(w[0], "allow") == 0 &&
	    strcmp(w[1], "add") == 0) {
		cand = aopt;
		ncand = 3;
	} else if (n == 1 && strcmp(w[0], "check") == 0) {
		/* The allow list's partners are the usual question. */
		if (load_names(LISTEDIT_ALLOW) != 0)
			return NULL;
		cand_names = 1;
		ncand = cfile.l.n;
	}
	if (ncand == 0)
		return NULL;
	rl_completion_append_character = cand == aopt ? '\0' : ' ';
	return rl_completion_matches(text, gen);
}

static const char *
history_path(char *buf, size_t sz)
{
	const char *h = getenv("FEDLIST_HISTORY");

	if (h != NULL && h[0] != '\0')
		return h;
	if ((h = getenv("HOME")) == NULL || h[0] == '\0')
		return NULL;
	snprintf(buf, sz, "%s/.fedlist_history", h);
	return buf;
}

static volatile sig_atomic_t interrupted;	/* ^C since the last prompt */

static void
on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * ^C at the prompt drops the line being typed and gives a fresh prompt,
 * as a shell does; during a command it stops a read of names from the
 * terminal (`-`), and the command writes nothing (lib/ retries the
 * other calls a signal interrupts, so an edit under way completes).
 * The handler has no SA_RESTART so that such a read returns EINTR.
 * While editline reads a line, its own handler (EL_SIGNAL, set by the
 * readline layer) takes the signal first: it puts the terminal back,
 * restores this handler and raises the signal again, so this handler
 * runs and editline's read returns EINTR: readline() then returns NULL,
 * which the flag tells from the end of input (fedlist(1), The prompt).
 * The handler is installed even over an inherited SIG_IGN: the prompt
 * runs only on a terminal, where ^C should never end the session.
 */
static int
catch_interrupt(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	return sigaction(SIGINT, &sa, NULL);
}

/* The prompt's readline: its name, completion, and the history kept in
 * hist (NULL: none) from earlier sessions. */
static void
prompt_readline_init(const char *hist)
{
	rl_readline_name = "fedlist";
	rl_attempted_completion_function = complete;
	using_history();
	stifle_history(HISTORY_MAX);
	if (hist != NULL)
		(void)read_history(hist);
}

/* A line with a word in it joins the history, written to hist as it is
 * added. */
static void
prompt_remember(const char *line, const char *hist)
{
	if (line[strspn(line, " \t")] == '\0')
		return;
	add_history(line);
	if (hist != NULL && write_history(hist) != 0)
		fed_warnx("%s: history not saved", hist);
}

static int
run_prompt(struct ctx *x)
{
	char hbuf[4096], *line, *w[WORDS_MAX];
	const char *hist = history_path(hbuf, sizeof hbuf);
	int n, rc = FED_EXIT_OK;

	cx = x;
	x->chatty = 1;
	if (catch_interrupt() != 0) {
		fed_warn("prompt: SIGINT");
		return FED_EXIT_SYS;
	}
	prompt_readline_init(hist);
	for (;;) {
		char *copy;

		interrupted = 0;
		line = readline("fedlist> ");
		if (interrupted) {
			/* The line is dropped, even one just ended (^C came
			 * before fedlist saw it): the operator cancelled it.
			 * The exit status stays that of the last command. */
			free(line);
			fputs("^C\n", stdout);
			fflush(stdout);
			continue;
		}
		if (line == NULL)
			break;
		if ((copy = strdup(line)) == NULL) {
			free(line);
			fed_warn("prompt");
			rc = FED_EXIT_SYS;
			break;
		}
		prompt_remember(line, hist);
		free(line);
		n = split(copy, w);
		if (n < 0) {
			fed_warnx("too many words (at most %d)", WORDS_MAX);
			rc = FED_EXIT_USAGE;
		} else if (is_quit(n, w)) {
			free(copy);
			break;
		} else
			rc = run(x, n, w);	/* errors keep the prompt */
		free(copy);
	}
	if (line == NULL)
		putchar('\n');	/* end of input: leave the terminal tidy */
	listedit_free(&cfile);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "peer", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf_path = NULL;
	struct fed_err err;
	struct ctx x;
	int ch, rc;

	fed_progname = "fedlist";
	memset(&x, 0, sizeof x);
	/* "+": options end at the command, whose words are its own. */
	while ((ch = getopt_long(argc, argv, "+c:hjp:V", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'j':
			x.json = 1;
			break;
		case 'p':
			x.peer = optarg;
			break;
		case 'V':
			printf("fedlist %s\n", FEDKIT_VERSION);
			return FED_EXIT_OK;
		case 'h':
			usage(FED_EXIT_OK);
		default:
			usage(FED_EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (conf_load(&x.c, conf_path, &err) != 0) {
		conf_free(&x.c);
		fed_errx(FED_EXIT_USAGE, "%s", err.msg);
	}
	x.chatty = isatty(STDOUT_FILENO);
	if (argc > 0)
		rc = run(&x, argc, argv);
	else if (isatty(STDIN_FILENO))
		rc = run_prompt(&x);
	else
		rc = run_stdin(&x);
	conf_free(&x.c);
	return rc;
}
