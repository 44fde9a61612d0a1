/* listedit.c: load, check and rewrite the allow and block lists (listedit.h). */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "listdb.h"
#include "listedit.h"

static const char *const list_name[] = { "allow", "block" };

static void report(listedit_report_fn *, void *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(listedit_report_fn *fn, void *arg, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fn(msg, arg);
}

/* ---- loading ---- */

struct named {
	const char *name;
	unsigned line;
	size_t off, n;		/* the line, for blanking it */
};

static int
named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

static void
problem(struct listedit_file *f, listedit_report_fn *fn, void *arg,
    unsigned line, const char *msg)
{
	if (++f->nbad <= LISTEDIT_REPORT_MAX)
		report(fn, arg, "%s:%u: %s", f->path, line, msg);
}

/*
 * The slow path, for a text list_parse refused: every line on its own,
 * so every problem is found, not just the first.  Bad lines and later
 * duplicates are blanked (with spaces, keeping every offset) in a copy,
 * which then parses into the good entries.
 */
/* The good lines' names, for finding the ones listed twice.  Names go
 * to one arena, as offsets until names_sorted fixes them up. */
struct names_seen {
	struct named *v;
	size_t n, cap;
	char *arena;
	size_t len, acap;
};

static int
names_add(struct names_seen *s, const char *name, unsigned line, size_t off,
    size_t n)
{
	size_t nl = strlen(name) + 1;
	struct named *nv;
	char *na;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		if ((nv = reallocarray(s->v, s->cap, sizeof *nv)) == NULL)
			return -1;
		s->v = nv;
	}
	if (s->len + DOMAIN_MAX + 2 > s->acap) {
		s->acap = s->acap ? s->acap * 2 : 65536;
		if ((na = realloc(s->arena, s->acap)) == NULL)
			return -1;
		s->arena = na;
	}
	s->v[s->n] = (struct named){ .name = (const char *)(uintptr_t)s->len,
	    .line = line, .off = off, .n = n };
	memcpy(s->arena + s->len, name, nl);
	s->len += nl;
	s->n++;
	return 0;
}

/* Every later line of a name listed twice is a problem, blanked in copy. */
static void
blank_duplicates(struct listedit_file *f, listedit_report_fn *fn, void *arg,
    struct names_seen *s, char *copy)
{
	char msg[sizeof ((struct fed_err *)0)->msg + 64];
	struct named *v = s->v;
	size_t i, j, k;

	for (i = 0; i < s->n; i++)
		v[i].name = s->arena + (uintptr_t)v[i].name;
	if (s->n > 1)
		qsort(v, s->n, sizeof *v, named_cmp);
	for (i = 0; i < s->n; i = j) {
		for (j = i + 1; j < s->n && strcmp(v[j].name, v[i].name) == 0;
		    j++)
			;
		for (k = j - 1; k > i; k--) {
			snprintf(msg, sizeof msg, "%s is listed twice (first "
			    "on line %u)", v[k].name, v[i].line);
			problem(f, fn, arg, v[k].line, msg);
			memset(copy + v[k].off, ' ', v[k].n);
		}
	}
}

/*
 * The slow path, for a text list_parse refused: every line on its own,
 * so every problem is found, not just the first.  Bad lines and later
 * duplicates are blanked (with spaces, keeping every offset) in a copy,
 * which then parses into the good entries.
 */
static int
load_tolerant(struct listedit_file *f, listedit_report_fn *fn, void *arg,
    struct fed_err *err)
{
	char scratch[LIST_LINE_SCRATCH];
	struct names_seen seen = { 0 };
	struct list_entry e;
	struct fed_err le;
	char *copy, *p, *end, *nl;
	unsigned lineno = 0;
	int r, rc = -1;

	if ((copy = malloc(f->len + 1)) == NULL)
		goto nomem;
	memcpy(copy, f->buf, f->len + 1);
	p = copy;
	end = copy + f->len;
	if (f->len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;		/* a byte order mark, as list_parse skips */
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		lineno++;
		r = list_parse_line(p, (size_t)(nl - p), f->options_allowed,
		    &e, scratch, sizeof scratch, &le);
		if (r == -1) {
			problem(f, fn, arg, lineno, le.msg);
			memset(p, ' ', (size_t)(nl - p));
		} else if (r == 1 && names_add(&seen, e.name, lineno,
		    (size_t)(p - copy), (size_t)(nl - p)) != 0)
			goto nomem;
	}
	blank_duplicates(f, fn, arg, &seen, copy);
	if (f->nbad > LISTEDIT_REPORT_MAX)
		report(fn, arg, "%s: %u more problems not shown", f->path,
		    f->nbad - LISTEDIT_REPORT_MAX);
	if (list_parse(&f->l, f->path, copy, f->len, f->options_allowed,
	    err) != 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	fed_err_set(err, "%s: %s", f->path, strerror(ENOMEM));
out:
	free(copy);
	free(seen.arena);
	free(seen.v);
	return rc;
}

int
listedit_load(struct listedit_file *f, const char *path, int options_allowed,
    listedit_report_fn *fn, void *arg, struct fed_err *err)
{
	struct fed_err perr;
	struct stat st;
	size_t i;

	memset(f, 0, sizeof *f);
	f->options_allowed = options_allowed;
	f->mode = 0644;
	if ((f->path = strdup(path)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		return -1;
	}
	if (fed_read_file(path, LIST_FILE_MAX, &f->buf, &f->len, err) != 0) {
		if (errno != ENOENT)
			goto fail;
		if ((f->buf = strdup("")) == NULL) {
			fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
			goto fail;
		}
		f->len = 0;
		f->sorted = 1;
		return 0;	/* no list yet: nobody listed */
	}
	f->exists = 1;
	if (stat(path, &st) == 0)
		f->mode = st.st_mode & 07777;
	if (list_parse(&f->l, path, f->buf, f->len, options_allowed,
	    &perr) != 0 && load_tolerant(f, fn, arg, err) != 0)
		goto fail;
	/* l.v is in name order: the text is too if offsets only grow. */
	f->sorted = 1;
	for (i = 1; i < f->l.n; i++)
		if (f->l.v[i].off < f->l.v[i - 1].off) {
			f->sorted = 0;
			break;
		}
	return 0;
fail:
	listedit_free(f);
	return -1;
}

void
listedit_free(struct listedit_file *f)
{
	if (f == NULL)
		return;
	list_free(&f->l);
	free(f->buf);
	free(f->path);
	memset(f, 0, sizeof *f);
}

const struct list_entry *
listedit_find(const struct listedit_file *f, const char *name)
{
	size_t lo = 0, hi = f->l.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, f->l.v[mid].name);

		if (c == 0)
			return &f->l.v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The end of the line starting at off (its '\n', or the end of text). */
static size_t
line_end(const char *buf, size_t len, size_t off)
{
	const char *nl = memchr(buf + off, '\n', len - off);

	return nl != NULL ? (size_t)(nl - buf) : len;
}

static struct fed_str
comment_in(const char *p, size_t n)
{
	const char *h = memchr(p, '#', n), *e = p + n;
	struct fed_str s = FED_STR_NULL;

	/* In a line that parses, the first '#' starts the comment: no name
	 * or option may hold one. */
	if (h == NULL)
		return s;
	for (h++; h < e && (*h == ' ' || *h == '\t'); h++)
		;
	while (e > h && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	s.p = h;
	s.n = (size_t)(e - h);
	return s;
}

struct fed_str
listedit_comment(const struct listedit_file *f, size_t off)
{
	if (off >= f->len)
		return FED_STR_NULL;
	return comment_in(f->buf + off, line_end(f->buf, f->len, off) - off);
}

/* ---- batches ---- */

int
listedit_batch_parse(struct listedit_batch *b, const char *line, size_t n,
    int options_allowed, const struct listedit_item *d, unsigned src_line,
    struct fed_err *err)
{
	char scratch[LIST_LINE_SCRATCH];
	struct listedit_item *it, *nv;
	struct list_entry e;
	struct fed_str c;
	int r;

	r = list_parse_line(line, n, options_allowed, &e, scratch,
	    sizeof scratch, err);
	if (r != 1)
		return r;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;

		if ((nv = reallocarray(b->v, cap, sizeof *nv)) == NULL)
			goto nomem;
		b->v = nv;
		b->cap = cap;
	}
	it = &b->v[b->n];
	memset(it, 0, sizeof *it);
	it->src_line = src_line;
	it->seq = b->n;
	it->rate = e.rate;
	it->max_uris = e.max_uris;
	if (d != NULL) {
		if (it->rate == LIST_UNSET)
			it->rate = d->rate;
		if (it->max_uris == LIST_UNSET)
			it->max_uris = d->max_uris;
	}
	c = comment_in(line, n);
	if ((it->name = strdup(e.name)) == NULL)
		goto nomem_item;
	if (e.edge != NULL || (d != NULL && d->edge != NULL)) {
		if ((it->edge = strdup(e.edge != NULL ? e.edge : d->edge)) ==
		    NULL)
			goto nomem_item;
	}
	if (c.p != NULL || (d != NULL && d->comment != NULL)) {
		it->comment = c.p != NULL ? fed_strdup_n(c.p, c.n) :
		    strdup(d->comment);
		if (it->comment == NULL)
			goto nomem_item;
	}
	b->n++;
	return 1;
nomem_item:
	free(it->name);
	free(it->edge);
	free(it->comment);
nomem:
	fed_err_set(err, "%s", strerror(ENOMEM));
	return -1;
}

int
listedit_defaults(struct listedit_item *d, const char *opts,
    const char *comment, int options_allowed, struct fed_err *err)
{
	char scratch[LIST_LINE_SCRATCH];
	struct list_entry e;
	size_t on = strlen(opts), cn = comment != NULL ? strlen(comment) : 0;
	const char *c = comment;

	memset(d, 0, sizeof *d);
	d->rate = d->max_uris = LIST_UNSET;
	/* As on a list line, a CR ending it is a CRLF line's. */
	if (c != NULL && cn > 0 && c[cn - 1] == '\r')
		cn--;
	else if (c == NULL && on > 0 && opts[on - 1] == '\r')
		on--;
	if (list_check_controls(opts, on, err) != 0 ||
	    (c != NULL && list_check_controls(c, cn, err) != 0) ||
	    list_parse_options(opts, on, options_allowed, &e, scratch,
	    sizeof scratch, err) != 0)
		return -1;
	d->rate = e.rate;
	d->max_uris = e.max_uris;
	if (e.edge != NULL && (d->edge = strdup(e.edge)) == NULL)
		goto nomem;
	if (c != NULL) {
		for (; cn > 0 && (*c == ' ' || *c == '\t'); c++, cn--)
			;
		while (cn > 0 && (c[cn - 1] == ' ' || c[cn - 1] == '\t' ||
		    c[cn - 1] == '\r'))
			cn--;
		if ((d->comment = fed_strdup_n(c, cn)) == NULL)
			goto nomem;
	}
	return 0;
nomem:
	listedit_item_free(d);
	fed_err_set(err, "%s", strerror(ENOMEM));
	return -1;
}

int
listedit_batch_name(struct listedit_batch *b, const char *name,
    int options_allowed, const struct listedit_item *d, struct fed_err *err)
{
	int r;

	if (strpbrk(name, " \t#") != NULL) {
		char q[FED_QUOTE_MAX];

		fed_quote(q, name, strlen(name));
		fed_err_set(err, "%s: invalid character in name", q);
		return -1;
	}
	r = listedit_batch_parse(b, name, strlen(name), options_allowed, d, 0,
	    err);
	if (r == 0)
		fed_err_set(err, "empty name");
	return r == 1 ? 1 : -1;
}

void
listedit_item_free(struct listedit_item *it)
{
	free(it->name);
	free(it->edge);
	free(it->comment);
	it->name = it->edge = it->comment = NULL;
}

void
listedit_batch_free(struct listedit_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		free(b->v[i].name);
		free(b->v[i].edge);
		free(b->v[i].comment);
	}
	free(b->v);
	memset(b, 0, sizeof *b);
}

/* ---- locking ---- */

/*
 * Take PATH.lock (afile_lock), shared or exclusive.  With `optional`
 * (the other list, only read), a directory that does not exist is no
 * error: no list can be there, nor can another editor put one there, so
 * there is nothing to hold still (-2).  Otherwise the lock's descriptor,
 * or -1 (*err).
 */
static int
lock_path(const char *path, int shared, int optional, struct fed_err *err)
{
	int fd;

	if (afile_lock(path, shared, &fd, err) != 0)
		return optional && errno == ENOENT ? -2 : -1;
	return fd;
}

/*
 * Do the two lists name one file by different strings (`/x/l` and
 * `/x/./l`, a symlink, a relative path)?  Their lock files are then one
 * file too (and a second flock on it would wait for ourselves forever),
 * or the texts are.  `lockfd` is the first lock, already held; the second
 * is not taken yet.
 */
static int
same_file(const char *a, const char *b, int lockfd)
{
	struct stat sa, sb;
	char *lb;
	int same = 0;

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino)
		return 1;
	if (lockfd < 0 || (lb = fed_concat(b, ".lock")) == NULL)
		return 0;
	if (fstat(lockfd, &sa) == 0 && stat(lb, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
		same = 1;
	free(lb);
	return same;
}

/* ---- the edit ---- */

/* One change to the text: replace [off, end) by text (an insertion when
 * off == end). */
struct edit {
	size_t off, end;
	int kind;		/* 0 insertion, 1 replacement or removal */
	size_t order;
	char *text;
	size_t tlen;
};

static int
edit_cmp(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return (x->order > y->order) - (x->order < y->order);
}

static void
limit_str(char *out, size_t sz, long v)
{
	if (v == LIST_UNLIMITED)
		snprintf(out, sz, "unlimited");
	else
		snprintf(out, sz, "%ld", v);
}

/* The line for an entry, without its newline. */
static char *
format_line(const char *name, const char *edge, long rate, long max_uris,
    const char *comment, size_t clen, size_t *lenp)
{
	char r[32], m[32], *s;
	size_t cap = strlen(name) + (edge ? strlen(edge) : 0) + clen + 96;
	int n;

	if ((s = malloc(cap)) == NULL)
		return NULL;
	r[0] = m[0] = '\0';
	if (rate != LIST_UNSET)
		limit_str(r, sizeof r, rate);
	if (max_uris != LIST_UNSET)
		limit_str(m, sizeof m, max_uris);
	n = snprintf(s, cap, "%s%s%s%s%s%s%s%s%.*s", name,
	    edge ? " edge=" : "", edge ? edge : "",
	    r[0] ? " rate=" : "", r,
	    m[0] ? " max_uris=" : "", m,
	    comment ? " # " : "", (int)clen, comment ? comment : "");
	*lenp = (size_t)n;
	return s;
}

static int
item_cmp(const void *a, const void *b)
{
	const struct listedit_item *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
item_same(const struct listedit_item *a, const struct listedit_item *b)
{
	return str_eq(a->edge, b->edge) && a->rate == b->rate &&
	    a->max_uris == b->max_uris && str_eq(a->comment, b->comment);
}

static void
item_free(struct listedit_item *it)
{
	free(it->name);
	free(it->edge);
	free(it->comment);
}

/*
 * Sort the batch by name and merge repeats.  The same name twice with
 * different options is ambiguous: refused (1).
 */
static int
batch_dedupe(struct listedit_batch *b, listedit_report_fn *fn, void *arg)
{
	struct listedit_item *v = b->v;
	size_t i, j, k, bad = 0;

	if (b->n > 1)
		qsort(v, b->n, sizeof *v, item_cmp);
	for (i = 0, k = 0; i < b->n; i = j) {
		for (j = i + 1; j < b->n && strcmp(v[j].name, v[i].name) == 0;
		    j++) {
			if (!item_same(&v[i], &v[j]) &&
			    ++bad <= LISTEDIT_REPORT_MAX) {
				if (v[j].src_line == 0)
					report(fn, arg, "%s: given twice with "
					    "different options", v[j].name);
				else
					report(fn, arg, "stdin:%u: %s: given "
					    "twice with different options "
					    "(first on line %u)", v[j].src_line,
					    v[j].name, v[i].src_line);
			}
			item_free(&v[j]);
		}
		v[k++] = v[i];
	}
	b->n = k;
	return bad ? 1 : 0;
}

static const char *
bare(const char *name)
{
	return name[0] == '.' ? name + 1 : name;
}

/*
 * Does an item overlap an entry of the other list?  Two entries overlap
 * when some domain matches both: then fedgate treats it as blocked
 * (fedkit(7) Order of decision), which makes an allow entry dead and is
 * what "a domain on both lists" means.  Checked both ways: an entry of
 * the other list covering the item's name (list_lookup, labels x log n),
 * and an item `.suffix` covering an entry of the other list (each of its
 * entries looked up among the batch's suffix entries).
 */
static size_t
conflicts(const struct listedit_file *self, const struct listedit_file *other,
    const struct listedit_batch *b, listedit_report_fn *fn, void *arg,
    struct fed_err *err, int *sys)
{
	const struct list_entry *x;
	struct list suf;
	char *text = NULL, *p;
	size_t i, nsuf = 0, tl = 0, bad = 0;

	*sys = 0;
	for (i = 0; i < b->n; i++) {
		if (b->v[i].name[0] == '.') {
			nsuf++;
			tl += strlen(b->v[i].name) + 1;
		}
		if ((x = list_lookup(&other->l, bare(b->v[i].name))) == NULL)
			continue;
		if (++bad <= LISTEDIT_REPORT_MAX)
			report(fn, arg, "%s: on the %s list (%s:%u%s%s): a "
			    "domain cannot be on both lists; nothing written "
			    "to %s", b->v[i].name,
			    self->options_allowed ? "block" : "allow",
			    other->path, x->line,
			    strcmp(x->name, b->v[i].name) ? ", as " : "",
			    strcmp(x->name, b->v[i].name) ? x->name : "",
			    self->path);
	}
	if (nsuf == 0 || other->l.n == 0)
		goto out;
	if ((text = malloc(tl + 1)) == NULL) {
		fed_err_set(err, "%s", strerror(ENOMEM));
		*sys = 1;
		return 0;
	}
	for (i = 0, p = text; i < b->n; i++)
		if (b->v[i].name[0] == '.')
			p += sprintf(p, "%s\n", b->v[i].name);
	if (list_parse(&suf, "batch", text, tl, 0, err) != 0) {
		free(text);
		*sys = 1;
		return 0;
	}
	for (i = 0; i < other->l.n; i++) {
		const struct list_entry *o = &other->l.v[i];

		if ((x = list_lookup(&suf, bare(o->name))) == NULL)
			continue;
		/* The same domain: reported above, the entry covering
		 * the item. */
		if (strcmp(bare(o->name), bare(x->name)) == 0)
			continue;
		if (++bad <= LISTEDIT_REPORT_MAX)
			report(fn, arg, "%s: covers %s, which is on the %s "
			    "list (%s:%u): a domain cannot be on both lists; "
			    "nothing written to %s", x->name, o->name,
			    self->options_allowed ? "block" : "allow",
			    other->path, o->line, self->path);
	}
	list_free(&suf);
	free(text);
out:
	if (bad > LISTEDIT_REPORT_MAX)
		report(fn, arg, "%zu more conflicts not shown",
		    bad - LISTEDIT_REPORT_MAX);
	return bad;
}

/* Where a new entry goes in a sorted text: before the first entry with a
 * greater name, and before the comment lines right above that entry
 * (they are its comments). */
static size_t
insert_at(const struct listedit_file *f, const char *name)
{
	size_t lo = 0, hi = f->l.n, pos, ps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(f->l.v[mid].name, name) > 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == f->l.n)
		return f->len;
	pos = f->l.v[lo].off;
	/* Up over the entry's own comments: comment lines immediately above
	 * it, no blank line between. */
	while (pos > 0) {
		ps = pos - 1;
		while (ps > 0 && f->buf[ps - 1] != '\n')
			ps--;
		while (ps < pos && (f->buf[ps] == ' ' || f->buf[ps] == '\t'))
			ps++;
		if (f->buf[ps] != '#')
			break;
		while (ps > 0 && f->buf[ps - 1] != '\n')
			ps--;
		pos = ps;
	}
	/* A comment block that starts the file is the file's header, not
	 * the first entry's: a new first entry goes below it. */
	if (pos == 0)
		return f->l.v[lo].off;
	return pos;
}

/* Does the text end its lines with CRLF (its first line does)?  New
 * lines are then written the same way. */
static int
uses_crlf(const struct listedit_file *f)
{
	const char *nl = memchr(f->buf, '\n', f->len);

	return nl != NULL && nl > f->buf && nl[-1] == '\r';
}

static int
write_text(FILE *fp, const struct listedit_file *f, struct edit *ed,
    size_t ned)
{
	size_t pos = 0, i;
	int nl_done = 0;

	if (ned > 1)
		qsort(ed, ned, sizeof *ed, edit_cmp);
	for (i = 0; i < ned; i++) {
		if (ed[i].off < pos)
			continue;	/* cannot happen: one edit a line */
		if (ed[i].off > pos &&
		    fwrite(f->buf + pos, 1, ed[i].off - pos, fp) !=
		    ed[i].off - pos)
			return -1;
		pos = ed[i].off;
		/* Appending to a text whose last line has no newline. */
		if (ed[i].kind == 0 && pos == f->len && f->len > 0 &&
		    f->buf[f->len - 1] != '\n' && !nl_done) {
			if ((uses_crlf(f) && fputc('\r', fp) == EOF) ||
			    fputc('\n', fp) == EOF)
				return -1;
			nl_done = 1;
		}
		if (ed[i].tlen > 0 &&
		    fwrite(ed[i].text, 1, ed[i].tlen, fp) != ed[i].tlen)
			return -1;
		pos = ed[i].end;
	}
	if (pos < f->len && fwrite(f->buf + pos, 1, f->len - pos, fp) !=
	    f->len - pos)
		return -1;
	return 0;
}

/* Plan the edits of an addition; counts go to st. */
static int
plan_add(const struct listedit_file *f, const struct listedit_batch *b,
    struct edit *ed, size_t *ned,
    struct listedit_stats *st)
{
	char scratch[LIST_LINE_SCRATCH];
	struct list_entry e;
	struct fed_err perr;
	struct fed_str oc;
	size_t i, le, n = 0;

	for (i = 0; i < b->n; i++) {
		const struct listedit_item *it = &b->v[i];
		const struct list_entry *x = listedit_find(f, it->name);
		struct edit *d = &ed[n];

		memset(d, 0, sizeof *d);
		if (x == NULL) {
			d->text = format_line(it->name, it->edge, it->rate,
			    it->max_uris, it->comment,
			    it->comment ? strlen(it->comment) : 0, &d->tlen);
			if (d->text == NULL)
				return -1;
			/* room: format_line's cap exceeds the length */
			if (uses_crlf(f))
				d->text[d->tlen++] = '\r';
			d->text[d->tlen++] = '\n';
			d->off = d->end = f->sorted ? insert_at(f, it->name) :
			    f->len;
			d->kind = 0;
			d->order = f->sorted ? i : it->seq;
			st->added++;
			n++;
			continue;
		}
		/* Listed already: keep what the item does not say. */
		le = line_end(f->buf, f->len, x->off);
		if (le > x->off && f->buf[le - 1] == '\r')
			le--;	/* keep a CRLF line's CR */
		if (list_parse_line(f->buf + x->off, le - x->off,
		    f->options_allowed, &e, scratch, sizeof scratch,
		    &perr) != 1)
			return -1;	/* it parsed when loaded */
		oc = comment_in(f->buf + x->off, le - x->off);
		{
			const char *edge = it->edge ? it->edge : e.edge;
			long rate = it->rate != LIST_UNSET ? it->rate : e.rate;
			long mu = it->max_uris != LIST_UNSET ? it->max_uris :
			    e.max_uris;
			const char *c = it->comment ? it->comment : oc.p;
			size_t cl = it->comment ? strlen(it->comment) : oc.n;

			if (str_eq(edge, e.edge) && rate == e.rate &&
			    mu == e.max_uris && (it->comment == NULL ||
			    (oc.p != NULL && oc.n == cl &&
			    memcmp(oc.p, c, cl) == 0))) {
				st->unchanged++;
				continue;
			}
			d->text = format_line(x->name, edge, rate, mu,
			    oc.p == NULL && it->comment == NULL ? NULL : c,
			    cl, &d->tlen);
			if (d->text == NULL)
				return -1;
		}
		d->off = x->off;
		d->end = le;
		d->kind = 1;
		d->order = i;
		st->updated++;
		n++;
	}
	*ned = n;
	return 0;
}

static void
plan_rm(const struct listedit_file *f, const struct listedit_batch *b,
    struct edit *ed, size_t *ned, struct listedit_stats *st,
    enum listedit_which which, listedit_report_fn *fn, void *arg)
{
	char other[DOMAIN_MAX + 3];
	size_t i, n = 0, le;

	for (i = 0; i < b->n; i++) {
		const char *name = b->v[i].name;
		const struct list_entry *x = listedit_find(f, name);

		if (x == NULL) {
			st->missing++;
			/* A hint for the other form of the name. */
			snprintf(other, sizeof other, "%s%s",
			    name[0] == '.' ? "" : ".", bare(name));
			if (listedit_find(f, other) != NULL)
				report(fn, arg, "%s: not on the %s list (%s); "
				    "%s is", name, list_name[which], f->path,
				    other);
			else
				report(fn, arg, "%s: not on the %s list (%s)",
				    name, list_name[which], f->path);
			continue;
		}
		le = line_end(f->buf, f->len, x->off);
		memset(&ed[n], 0, sizeof ed[n]);
		ed[n].off = x->off;
		ed[n].end = le < f->len ? le + 1 : le;
		ed[n].kind = 1;
		ed[n].order = i;
		st->removed++;
		n++;
	}
	*ned = n;
}

/*
 * The locks.  Our list's is exclusive.  The other list is read only by an
 * add (the both-lists check), and its lock is then taken shared: that
 * keeps its editors out until our rename, which is all the check needs
 * (an editor of the other list holds that lock exclusive, so the two
 * never run at once and a domain cannot land on both lists), while
 * fedgate, which takes a shared lock to ask whether a writer is at work
 * (listdb.h), is not told the other list is being rewritten and made to
 * wait.  An rm reads nothing of the other list (removing cannot put a
 * domain on both) and takes no lock on it.  Always the allow list's lock
 * first, then the block list's: two editors never deadlock.  lk[0] is
 * the allow list's, lk[1] the block list's (-1: not taken).  0, or -1
 * with *err.
 */
static int
take_locks(const char *allow_path, const char *block_path,
    enum listedit_which which, int other_read, int lk[2],
    struct fed_err *err)
{
	if (which == LISTEDIT_ALLOW) {
		if ((lk[0] = lock_path(allow_path, 0, 0, err)) == -1)
			return -1;
		if (!other_read)
			return 0;
		if (same_file(allow_path, block_path, lk[0]))
			goto same;
		lk[1] = lock_path(block_path, 1, 1, err);
		return lk[1] == -1 ? -1 : 0;
	}
	if (other_read && (lk[0] = lock_path(allow_path, 1, 1, err)) == -1)
		return -1;
	if (same_file(allow_path, block_path, lk[0]))
		goto same;
	lk[1] = lock_path(block_path, 0, 0, err);
	return lk[1] == -1 ? -1 : 0;
same:
	fed_err_set(err, "%s: allow_list and block_list name the same file",
	    allow_path);
	return -1;
}

/*
 * Read the list to edit, and for an add the other list, under the locks:
 * 0 to go on, 1 refused (a list with problems, or a name on both lists:
 * reported), -1 with *err.
 */
static int
load_lists(const char *path, const char *opath, int opts,
    enum listedit_op op, const struct listedit_batch *b,
    struct listedit_file *f, struct listedit_file *o,
    listedit_report_fn *fn, void *arg, struct fed_err *err)
{
	int sys;

	afile_remove_stale(path);
	if (listedit_load(f, path, opts, fn, arg, err) != 0)
		return -1;
	if (f->nbad > 0) {
		report(fn, arg, "%s: fix the line%s above first: fedgate "
		    "cannot use the list as it is; nothing written", path,
		    f->nbad > 1 ? "s" : "");
		return 1;
	}
	if (op != LISTEDIT_ADD)
		return 0;
	if (listedit_load(o, opath, !opts, fn, arg, err) != 0)
		return -1;
	if (conflicts(f, o, b, fn, arg, err, &sys) > 0)
		return 1;
	return sys ? -1 : 0;
}

/*
 * Write the edited text (afile) and its index, while PATH.lock is still
 * held (listdb.h).  With nothing to change in the text, an index left
 * stale (a hand edit, a killed editor) is repaired all the same, or
 * fedgate would parse the whole list in every process until the next
 * change.  0, or -1 with *err.
 */
static int
write_list(const char *path, int opts, const struct listedit_file *f,
    struct edit *ed, size_t ned, struct listedit_stats *st,
    struct fed_err *err)
{
	struct fed_err ierr;
	struct afile af;

	if (ned == 0) {
		if (f->exists && listdb_index_stale(path) &&
		    list_index_write(path, opts, 1, &ierr) != 0) {
			fed_err_set(err, "%s: index not rebuilt: %s", path,
			    ierr.msg);
			return -1;
		}
		return 0;
	}
	if (afile_begin_held(&af, path, (int)f->mode, err) != 0)
		return -1;
	if (write_text(af.fp, f, ed, ned) != 0) {
		fed_err_set(err, "%s: write: %s", af.tmp, strerror(errno));
		afile_abort(&af);
		return -1;
	}
	if (afile_commit(&af, err) != 0)
		return -1;
	st->written = 1;
	if (list_index_write(path, opts, 1, &ierr) != 0) {
		fed_err_set(err, "%s: text written, index not rebuilt: %s",
		    path, ierr.msg);
		return -1;
	}
	return 0;
}

int
listedit_apply(const char *allow_path, const char *block_path,
    enum listedit_which which, enum listedit_op op, struct listedit_batch *b,
    listedit_report_fn *fn, void *arg, struct listedit_stats *st,
    struct fed_err *err)
{
	const char *path = which == LISTEDIT_ALLOW ? allow_path : block_path;
	const char *opath = which == LISTEDIT_ALLOW ? block_path : allow_path;
	int opts = which == LISTEDIT_ALLOW;
	struct listedit_file f, o;
	struct edit *ed = NULL;
	size_t ned = 0, i;
	int lk[2] = { -1, -1 }, rc;

	memset(st, 0, sizeof *st);
	memset(&f, 0, sizeof f);
	memset(&o, 0, sizeof o);
	if (strcmp(allow_path, block_path) == 0 ||
	    same_file(allow_path, block_path, -1)) {
		fed_err_set(err, "%s: allow_list and block_list name the same "
		    "file", allow_path);
		return -1;
	}
	if (batch_dedupe(b, fn, arg) != 0)
		return 1;
	if (take_locks(allow_path, block_path, which, op == LISTEDIT_ADD, lk,
	    err) != 0) {
		rc = -1;
		goto out;
	}
	if ((rc = load_lists(path, opath, opts, op, b, &f, &o, fn, arg,
	    err)) != 0)
		goto out;
	rc = -1;
	if ((ed = reallocarray(NULL, b->n ? b->n : 1, sizeof *ed)) == NULL) {
		fed_err_set(err, "%s", strerror(ENOMEM));
		goto out;
	}
	if (op == LISTEDIT_ADD) {
		if (plan_add(&f, b, ed, &ned, st) != 0) {
			fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
			goto out;
		}
	} else
		plan_rm(&f, b, ed, &ned, st, which, fn, arg);
	rc = write_list(path, opts, &f, ed, ned, st, err);
out:
	/* Closing drops the locks: the block list's first, then the allow
	 * list's, the reverse of taking them. */
	if (lk[1] >= 0)
		close(lk[1]);
	if (lk[0] >= 0)
		close(lk[0]);
	for (i = 0; ed != NULL && i < ned; i++)
		free(ed[i].text);
	free(ed);
	listedit_free(&f);
	listedit_free(&o);
	return rc;
}
