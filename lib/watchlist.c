/* watchlist.c: the watch list file, read into a hash table and rewritten through afile. */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "vlog.h"
#include "watchlist.h"

#define HEADER "# fedkit watch list: DOMAIN SINCE REASON, one partner a " \
    "line.\n# fedgate adds a line when a watch starts; `fedlist watch " \
    "clear DOMAIN` removes it.\n"

_Static_assert(WATCHLIST_FILE_MAX < UINT32_MAX,
    "entry indexes and line numbers fit 32 bits");

/* The first bad line of a file, and how many there were. */
struct bad_lines {
	unsigned line;		/* 0: none yet */
	size_t n;
	struct fed_err first;	/* "PATH:LINE: problem" */
};

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The table's hash of a name, any case: SipHash under a key of this
 * process's, because the names are partners' (each watched domain one a
 * partner chose), and an unkeyed hash would let them pick names that all
 * fall on one probe chain.  A name longer than any domain hashes by its
 * first bytes: it matches no entry anyway.
 */
static uint32_t
hash_fold(const char *p, size_t n)
{
	static uint64_t key[2];
	static int keyed;
	char low[DOMAIN_MAX + 2];
	size_t i;

	if (!keyed) {
		/* getrandom(2) does not fail for 16 bytes once the pool is
		 * ready; if it did, the hash would still be SipHash. */
		(void)!getrandom(key, sizeof key, 0);
		keyed = 1;
	}
	if (n > sizeof low)
		n = sizeof low;
	for (i = 0; i < n; i++)
		low[i] = lower(p[i]);
	return (uint32_t)fed_siphash(key, low, n);
}

static void
table_free(struct watchlist_table *t)
{
	free(t->v);
	free(t->slot);
	free(t->arena);
	memset(t, 0, sizeof *t);
}

/* (Re)build the hash table on t->v: a power of two at least twice the
 * entries, so linear probing stays short.  -1 when out of memory. */
static int
table_index(struct watchlist_table *t)
{
	size_t nslot = 16, i, k;
	uint32_t *slot;

	free(t->slot);
	t->slot = NULL;
	t->nslot = 0;
	if (t->n == 0)
		return 0;
	while (nslot < t->n * 2)
		nslot *= 2;
	if ((slot = calloc(nslot, sizeof *slot)) == NULL)
		return -1;
	for (i = 0; i < t->n; i++) {
		for (k = t->v[i].hash & (nslot - 1); slot[k] != 0;
		    k = (k + 1) & (nslot - 1))
			;
		slot[k] = (uint32_t)(i + 1);
	}
	t->slot = slot;
	t->nslot = nslot;
	return 0;
}

/* The entry for name (n bytes, any case), or NULL. */
static const struct watchlist_entry *
table_find(const struct watchlist_table *t, const char *name, size_t n)
{
	const struct watchlist_entry *e;
	uint32_t h;
	size_t k, i;

	if (t->nslot == 0)
		return NULL;
	h = hash_fold(name, n);
	for (k = h & (t->nslot - 1); t->slot[k] != 0;
	    k = (k + 1) & (t->nslot - 1)) {
		e = &t->v[t->slot[k] - 1];
		if (e->hash != h || e->len != n)
			continue;
		for (i = 0; i < n && e->domain[i] == lower(name[i]); i++)
			;
		if (i == n)
			return e;
	}
	return NULL;
}

static int
cmp_entry(const void *pa, const void *pb)
{
	const struct watchlist_entry *a = pa, *b = pb;
	int c;

	if ((c = strcmp(a->domain, b->domain)) != 0)
		return c;
	return (a->line > b->line) - (a->line < b->line);
}

__attribute__((format(printf, 4, 5)))
static void
note_bad(struct bad_lines *bad, const char *path, unsigned line,
    const char *fmt, ...)
{
	char why[sizeof bad->first.msg];
	va_list ap;

	bad->n++;
	if (bad->line != 0 && bad->line < line)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	bad->line = line;
	fed_err_set(&bad->first, "%s:%u: %s", path, line, why);
}

/*
 * The time a watch started: as the verdict log writes it, or by hand
 * without the milliseconds (`2026-11-21T22:40:33Z`).
 */
static int
parse_since(const char *p, size_t n, int64_t *ms)
{
	char full[VLOG_TIME_LEN];

	if (n == VLOG_TIME_LEN - 4 && p[n - 1] == 'Z') {
		memcpy(full, p, n - 1);
		memcpy(full + n - 1, ".000Z", 5);
		return vlog_time_parse(full, sizeof full, ms);
	}
	return vlog_time_parse(p, n, ms);
}

/* Is [p, p + n) a reason we write and read back whole? */
static int
reason_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > WATCHLIST_REASON_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '_' || p[i] == '-' || p[i] == '.'))
			return 0;
	return 1;
}

/* Split [p, e) into at most 4 blank-separated fields (a trailing `#`
 * comment is not one); returns how many, 4 meaning too many. */
static size_t
split(const char *p, const char *e, struct fed_str *f)
{
	size_t n = 0;
	const char *s;

	for (;;) {
		while (p < e && is_blank(*p))
			p++;
		if (p == e || *p == '#')
			return n;
		if (n == 4)
			return n;
		for (s = p; p < e && !is_blank(*p); p++)
			;
		f[n].p = s;
		f[n].n = (size_t)(p - s);
		if (++n == 4)
			return n;
	}
}

/* One line, without its line end.  1: an entry in *ent (domain in out,
 * DOMAIN_MAX + 2 bytes), 0: blank or comment, -1: bad, *why says why. */
static int
parse_line(const char *p, const char *e, struct watchlist_entry *ent,
    char *out, size_t outsz, struct fed_err *why)
{
	struct fed_str f[4];
	char q[FED_QUOTE_MAX];
	size_t n;

	n = split(p, e, f);
	if (n == 0)
		return 0;
	if (n != 3) {
		fed_err_set(why, "expected `DOMAIN SINCE REASON`, found %s "
		    "field%s", n == 4 ? "more than 3" : n == 1 ? "1" : "2",
		    n == 1 ? "" : "s");
		return -1;
	}
	if (domain_normalize(f[0].p, f[0].n, 0, out, outsz, why) != 0)
		return -1;
	if (parse_since(f[1].p, f[1].n, &ent->since_ms) != 0) {
		fed_quote_prefix(q, f[1].p, f[1].n, FED_QUOTE_LINE);
		fed_err_set(why, "bad time %s (want RFC 3339 UTC, like "
		    "2026-11-21T22:40:33.123Z)", q);
		return -1;
	}
	if (!reason_ok(f[2].p, f[2].n)) {
		fed_quote_prefix(q, f[2].p, f[2].n, FED_QUOTE_LINE);
		fed_err_set(why, "bad reason %s (one word of at most %d "
		    "letters, digits, _ - .)", q, WATCHLIST_REASON_MAX);
		return -1;
	}
	memcpy(ent->reason, f[2].p, f[2].n);
	ent->reason[f[2].n] = '\0';
	return 1;
}

/* The next line of [p, end): *e at its end (before any CR), returns the
 * start of the line after. */
static const char *
next_line(const char *p, const char *end, const char **e)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *le = nl != NULL ? nl : end;

	if (le > p && le[-1] == '\r')
		le--;
	*e = le;
	return nl != NULL ? nl + 1 : end;
}

/*
 * Parse a whole file's text into *t (empty on entry).  A bad line is
 * counted into *bad and skipped; so is a later line of a domain already
 * listed.  0, or -1 with *err when out of memory (t left empty).
 */
static int
table_parse(struct watchlist_table *t, const char *path, const char *buf,
    size_t len, struct bad_lines *bad, struct fed_err *err)
{
	const char *p = buf, *end = buf + len, *le;
	struct watchlist_entry ent, *nv;
	struct fed_err why;
	char name[DOMAIN_MAX + 2];
	size_t cap = 0, a = 0, i, k;
	unsigned line = 0;
	int rc;

	/* A normalized name is never longer than its field, and each field
	 * is followed by a blank, a line end or the end: len + 1 holds
	 * every name with its NUL. */
	if ((t->arena = malloc(len + 1)) == NULL)
		goto nomem;
	while (p < end) {
		const char *start = p;

		p = next_line(start, end, &le);
		line++;
		memset(&ent, 0, sizeof ent);
		why.msg[0] = '\0';
		rc = parse_line(start, le, &ent, name, sizeof name, &why);
		if (rc == 0)
			continue;
		if (rc < 0) {
			note_bad(bad, path, line, "%s", why.msg);
			continue;
		}
		if (t->n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = reallocarray(t->v, cap, sizeof *nv)) == NULL)
				goto nomem;
			t->v = nv;
		}
		ent.len = (unsigned)strlen(name);
		memcpy(t->arena + a, name, ent.len + 1);
		ent.domain = t->arena + a;
		a += ent.len + 1;
		ent.hash = hash_fold(ent.domain, ent.len);
		ent.line = line;
		t->v[t->n++] = ent;
	}
	if (t->n > 1)
		qsort(t->v, t->n, sizeof *t->v, cmp_entry);
	/* A domain's first line counts: the writers append, so it is the
	 * watch that started first. */
	for (i = 0, k = 0; i < t->n; i++) {
		if (k > 0 && strcmp(t->v[k - 1].domain, t->v[i].domain) == 0) {
			note_bad(bad, path, t->v[i].line, "%s already listed "
			    "on line %u", t->v[i].domain, t->v[k - 1].line);
			continue;
		}
		t->v[k++] = t->v[i];
	}
	t->n = k;
	t->nbad = bad->n;
	if (table_index(t) != 0)
		goto nomem;
	return 0;
nomem:
	fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
	table_free(t);
	return -1;
}

/* How many lines [p, p + n) holds (a last line without its LF counts). */
static unsigned
count_lines(const char *p, size_t n)
{
	const char *end = p + n, *nl;
	unsigned lines = 0;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		lines++;
		p = nl != NULL ? nl + 1 : end;
	}
	return lines;
}

/*
 * Read the file whole, and its identity from the same descriptor, taken
 * before reading: a writer changing it meanwhile changes the identity, so
 * the next refresh reads it again.  A missing file is *buf NULL, *len 0,
 * id->exists 0.  *mode is its permission bits (WATCHLIST_MODE when
 * missing).  0, or -1 with *err.
 */
static int
read_file(const char *path, char **buf, size_t *len, struct fed_ident *id,
    mode_t *mode, struct fed_err *err)
{
	struct stat st;
	int fd, saved;

	*buf = NULL;
	*len = 0;
	*mode = WATCHLIST_MODE;
	memset(id, 0, sizeof *id);
	/* O_NONBLOCK: a FIFO put there must not hang fedgate. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) <
	    0) {
		if (errno == ENOENT)
			return 0;	/* nobody watched yet */
		fed_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		fed_err_set(err, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		fed_err_set(err, "%s: not a regular file", path);
		goto fail;
	}
	if (fed_read_fd(fd, path, WATCHLIST_FILE_MAX, buf, len, err) != 0)
		goto fail;
	close(fd);
	fed_ident_of(id, &st);
	*mode = st.st_mode & 0777;
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Say what bad lines table_parse skipped: WATCHLIST_BADLINES, or 0. */
static int
tell_bad(const struct bad_lines *bad, struct fed_err *err)
{
	if (bad->n == 0)
		return 0;
	if (bad->n == 1)
		fed_err_set(err, "%s", bad->first.msg);
	else
		fed_err_set(err, "%s (and %zu more bad lines)",
		    bad->first.msg, bad->n - 1);
	return WATCHLIST_BADLINES;
}

/* Read and parse path into *t and *id: 0, WATCHLIST_BADLINES, -1. */
static int
load(const char *path, struct watchlist_table *t, struct fed_ident *id,
    struct fed_err *err)
{
	struct bad_lines bad;
	char *buf;
	size_t len;
	mode_t mode;
	int rc;

	memset(t, 0, sizeof *t);
	memset(&bad, 0, sizeof bad);
	if (read_file(path, &buf, &len, id, &mode, err) != 0)
		return -1;
	rc = table_parse(t, path, buf != NULL ? buf : "", len, &bad, err);
	free(buf);
	if (rc != 0) {
		memset(id, 0, sizeof *id);
		return -1;
	}
	return tell_bad(&bad, err);
}

/* Make t (emptied) the list in use, loaded from the file id names. */
static void
adopt(struct watchlist *wl, struct watchlist_table *t,
    const struct fed_ident *id)
{
	table_free(&wl->t);
	wl->t = *t;
	memset(t, 0, sizeof *t);
	wl->id = *id;
	wl->bad_ms = 0;
	memset(&wl->bad, 0, sizeof wl->bad);
}

int
watchlist_open(struct watchlist *wl, const char *path, struct fed_err *err)
{
	memset(wl, 0, sizeof *wl);
	if ((wl->path = strdup(path)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		return -1;
	}
	return load(wl->path, &wl->t, &wl->id, err);
}

int
watchlist_refresh(struct watchlist *wl, int64_t now_ms, struct fed_err *err)
{
	struct watchlist_table t;
	struct fed_ident now_id, id;
	struct stat st;
	int rc;

	if (wl->path == NULL ||
	    (now_ms >= wl->checked_ms && now_ms - wl->checked_ms < 1000))
		return WATCHLIST_SAME;
	wl->checked_ms = now_ms;
	memset(&now_id, 0, sizeof now_id);
	if (stat(wl->path, &st) == 0)
		fed_ident_of(&now_id, &st);
	else if (errno != ENOENT)
		now_id.exists = -1;	/* changed: the reload says why */
	if (fed_ident_same(&wl->id, &now_id))
		return WATCHLIST_SAME;
	if (wl->bad_ms != 0 && fed_ident_same(&wl->bad, &now_id) &&
	    now_ms >= wl->bad_ms && now_ms - wl->bad_ms < WATCHLIST_RETRY_MS)
		return WATCHLIST_SAME;
	if ((rc = load(wl->path, &t, &id, err)) == -1) {
		/* The watches in force stay: an unreadable file lifts none. */
		wl->bad = now_id;
		wl->bad_ms = now_ms;
		return -1;
	}
	adopt(wl, &t, &id);
	return rc == WATCHLIST_BADLINES ? WATCHLIST_BADLINES :
	    WATCHLIST_RELOADED;
}

int
watchlist_lookup(const struct watchlist *wl, const char *domain,
    int64_t now_ms, unsigned expire_s, int64_t *since_ms)
{
	const struct watchlist_entry *e;
	size_t n;

	if (domain == NULL || wl->t.nslot == 0)
		return 0;
	n = strnlen(domain, DOMAIN_MAX + 2);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n > DOMAIN_MAX ||
	    (e = table_find(&wl->t, domain, n)) == NULL)
		return 0;
	if (expire_s > 0 && e->since_ms <= now_ms - (int64_t)expire_s * 1000)
		return 0;
	if (since_ms != NULL)
		*since_ms = e->since_ms;
	return 1;
}

/* The caller's domain in normal form, into name (DOMAIN_MAX + 2). */
static int
arg_domain(const char *domain, char *name, size_t namesz, struct fed_err *err)
{
	struct fed_err why;

	if (domain == NULL) {
		fed_err_set(err, "no domain");
		return -1;
	}
	if (domain_normalize(domain, strlen(domain), 0, name, namesz, &why) !=
	    0) {
		fed_err_set(err, "%s", why.msg);
		return -1;
	}
	return 0;
}

/*
 * Write text as the new file, under the lock the caller holds; *id gets
 * the new file's identity (that of the temporary file, which the rename
 * keeps: a refresh must not read our own write again).  0 or -1.
 */
static int
rewrite(const char *path, const char *text, size_t len, mode_t mode,
    struct fed_ident *id, struct fed_err *err)
{
	struct afile af;
	struct stat st;

	if (afile_begin_held(&af, path, (int)mode, err) != 0)
		return -1;
	if (fwrite(text, 1, len, af.fp) != len || fflush(af.fp) != 0 ||
	    fstat(fileno(af.fp), &st) != 0) {
		fed_err_set(err, "%s: write: %s", af.tmp, strerror(errno));
		afile_abort(&af);
		return -1;
	}
	fed_ident_of(id, &st);
	return afile_commit(&af, err);
}

/*
 * An edit of the file: read under its lock, so that another writer's
 * line cannot slip in between our read and our rename, and so is never
 * lost; then the new text written, and its table adopted.
 */
struct wl_edit {
	int lockfd;
	char *buf, *text;	/* the file as read; the new text */
	size_t len, n;
	struct fed_ident id;
	mode_t mode;
	struct watchlist_table t;
};

static int
edit_begin(struct watchlist *wl, struct wl_edit *ed, struct fed_err *err)
{
	memset(ed, 0, sizeof *ed);
	ed->lockfd = -1;
	if (afile_lock(wl->path, 0, &ed->lockfd, err) != 0)
		return -1;
	afile_remove_stale(wl->path);
	return read_file(wl->path, &ed->buf, &ed->len, &ed->id, &ed->mode,
	    err);
}

/* The new text written, its table (ed->t, parsed) the one in use. */
static int
edit_write(struct watchlist *wl, struct wl_edit *ed, struct fed_err *err)
{
	if (rewrite(wl->path, ed->text, ed->n, ed->mode, &ed->id, err) != 0)
		return -1;
	adopt(wl, &ed->t, &ed->id);
	return 0;
}

static void
edit_end(struct wl_edit *ed)
{
	if (ed->lockfd >= 0)
		close(ed->lockfd);
	table_free(&ed->t);
	free(ed->text);
	free(ed->buf);
}

/* The file as it is (a header for a new one), and the new line.  -1 when
 * out of memory. */
static int
text_appended(struct wl_edit *ed, const char *name, int64_t since_ms,
    const char *reason)
{
	char when[VLOG_TIME_LEN + 1];
	size_t cap;

	vlog_time_format(when, since_ms);
	cap = (ed->buf != NULL ? ed->len + 1 : sizeof HEADER) + strlen(name) +
	    strlen(when) + strlen(reason) + 4;
	if ((ed->text = malloc(cap)) == NULL)
		return -1;
	if (ed->buf != NULL) {
		memcpy(ed->text, ed->buf, ed->len);
		ed->n = ed->len;
		if (ed->n > 0 && ed->text[ed->n - 1] != '\n')
			ed->text[ed->n++] = '\n';
	} else
		ed->n = (size_t)snprintf(ed->text, cap, "%s", HEADER);
	ed->n += (size_t)snprintf(ed->text + ed->n, cap - ed->n, "%s\t%s\t%s\n",
	    name, when, reason);
	return 0;
}

int
watchlist_add(struct watchlist *wl, const char *domain, int64_t since_ms,
    const char *reason, struct fed_err *err)
{
	struct wl_edit ed;
	struct bad_lines bad;
	const struct watchlist_entry *e;
	char name[DOMAIN_MAX + 2], q[FED_QUOTE_MAX];
	int rc = -1;

	if (wl->path == NULL) {
		fed_err_set(err, "watchlist_add without watchlist_open");
		return -1;
	}
	if (arg_domain(domain, name, sizeof name, err) != 0)
		return -1;
	if (reason == NULL || !reason_ok(reason, strlen(reason))) {
		fed_quote(q, reason != NULL ? reason : "",
		    reason != NULL ? strlen(reason) : 0);
		fed_err_set(err, "bad reason %s (one word of at most %d "
		    "letters, digits, _ - .)", q, WATCHLIST_REASON_MAX);
		return -1;
	}
	if (edit_begin(wl, &ed, err) != 0)
		goto out;
	if (text_appended(&ed, name, since_ms, reason) != 0) {
		fed_err_set(err, "%s: %s", wl->path, strerror(ENOMEM));
		goto out;
	}
	/* One parse tells whether the domain was there (its first line is
	 * not the new, last one) and gives the table of the text written. */
	memset(&bad, 0, sizeof bad);
	if (table_parse(&ed.t, wl->path, ed.text, ed.n, &bad, err) != 0)
		goto out;
	if ((e = table_find(&ed.t, name, strlen(name))) == NULL) {
		fed_err_set(err, "%s: the new line does not read back", wl->path);
		goto out;
	}
	if (e->line != count_lines(ed.text, ed.n)) {
		/* Already watched: nothing to write.  The table read (the
		 * appended duplicate dropped) is that of the file. */
		adopt(wl, &ed.t, &ed.id);
		rc = 0;
	} else if (edit_write(wl, &ed, err) == 0)
		rc = 0;
out:
	edit_end(&ed);
	return rc;
}

/* Does the line [p, e) name domain in its first field?  (Good or bad, a
 * line whose first field is the domain is that domain's.) */
static int
line_names(const char *p, const char *e, const char *name)
{
	char got[DOMAIN_MAX + 2];
	struct fed_str f[4];

	return split(p, e, f) > 0 &&
	    domain_normalize(f[0].p, f[0].n, 0, got, sizeof got, NULL) == 0 &&
	    strcmp(got, name) == 0;
}

int
watchlist_remove(struct watchlist *wl, const char *domain,
    struct fed_err *err)
{
	struct wl_edit ed;
	struct bad_lines bad;
	char name[DOMAIN_MAX + 2];
	const char *p, *next, *end, *le;
	int rc = -1;

	if (wl->path == NULL) {
		fed_err_set(err, "watchlist_remove without watchlist_open");
		return -1;
	}
	if (arg_domain(domain, name, sizeof name, err) != 0)
		return -1;
	if (edit_begin(wl, &ed, err) != 0)
		goto out;
	memset(&bad, 0, sizeof bad);
	if (table_parse(&ed.t, wl->path, ed.buf != NULL ? ed.buf : "", ed.len,
	    &bad, err) != 0)
		goto out;
	if (table_find(&ed.t, name, strlen(name)) == NULL) {
		adopt(wl, &ed.t, &ed.id);	/* not watched: nothing to write */
		rc = 0;
		goto out;
	}
	table_free(&ed.t);

	/* Every line but the domain's, byte for byte. */
	if ((ed.text = malloc(ed.len + 1)) == NULL) {
		fed_err_set(err, "%s: %s", wl->path, strerror(ENOMEM));
		goto out;
	}
	for (p = ed.buf, end = ed.buf + ed.len; p < end; p = next) {
		next = next_line(p, end, &le);
		if (line_names(p, le, name))
			continue;
		memcpy(ed.text + ed.n, p, (size_t)(next - p));
		ed.n += (size_t)(next - p);
	}
	memset(&bad, 0, sizeof bad);
	if (table_parse(&ed.t, wl->path, ed.text, ed.n, &bad, err) == 0 &&
	    edit_write(wl, &ed, err) == 0)
		rc = 1;
out:
	edit_end(&ed);
	return rc;
}

int
watchlist_walk(const struct watchlist *wl,
    int (*fn)(const char *, int64_t, const char *, void *), void *arg)
{
	size_t i;
	int rc;

	for (i = 0; i < wl->t.n; i++)
		if ((rc = fn(wl->t.v[i].domain, wl->t.v[i].since_ms,
		    wl->t.v[i].reason, arg)) != 0)
			return rc;
	return 0;
}

size_t
watchlist_count(const struct watchlist *wl)
{
	return wl->t.n;
}

void
watchlist_close(struct watchlist *wl)
{
	table_free(&wl->t);
	free(wl->path);
	memset(wl, 0, sizeof *wl);
}
