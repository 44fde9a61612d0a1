/* listdb.c: lists searched on disk through a sorted line index (listdb.h). */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "afile.h"
#include "listdb.h"

/* The index file's header, in host byte order (listdb.h). */
struct idxhdr {
	char magic[32];
	uint64_t ino;
	uint64_t size;
	int64_t mtime_sec;
	int64_t mtime_nsec;
	uint64_t count;
	uint64_t reserved;
};

_Static_assert(sizeof(struct idxhdr) == LISTDB_HDR_SIZE,
    "the header is 80 bytes, without padding");
_Static_assert(sizeof LISTDB_MAGIC <= 32, "the magic fits its field");
_Static_assert(LIST_FILE_MAX <= LISTDB_TEXT_MAX,
    "every line offset of a text list_parse takes fits 32 bits");
_Static_assert(LISTDB_SCRATCH >= (DOMAIN_MAX + 2) + (DOMAIN_MAX + 1),
    "scratch holds a .suffix name and an edge");

/* Results of one attempt at opening. */
enum { OPEN_ERR = -1, OPEN_OK = 0, OPEN_STALE = 1 };

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Is the file open on fd still the one whose identity is *id? */
static int
fd_unchanged(int fd, const struct fed_ident *id)
{
	struct fed_ident now;
	struct stat st;

	if (fstat(fd, &st) == -1)
		return 0;
	fed_ident_of(&now, &st);
	return fed_ident_same(&now, id);
}

/*
 * Is a writer rewriting the list now?  Every writer holds PATH.lock (an
 * exclusive flock, afile.h) across rewriting the text and its index; a
 * shared lock that cannot be had means one is at work.  The lock file is
 * never created here: a reader has no business writing beside the list,
 * and without a lock file no writer has ever run.
 */
static int
writer_busy(const char *path)
{
	char *lp = fed_concat(path, ".lock");
	int fd, busy = 0;

	if (lp == NULL)
		return 0;
	fd = open(lp, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	free(lp);
	if (fd == -1)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == -1)
		busy = errno == EWOULDBLOCK;
	close(fd);		/* drops the shared lock, if we got it */
	return busy;
}

/* Close and free what an open attempt loaded; keep path, options and
 * what was told. */
static void
unload(struct listdb *db)
{
	if (db->indexed)
		close(db->idxfd);
	list_free(&db->mem);
	db->idxfd = -1;
	db->textbase = 0;
	db->textlen = 0;
	db->n = 0;
	db->indexed = 0;
	db->exists = 0;
	db->stale = 0;
	memset(&db->text, 0, sizeof db->text);
	memset(&db->idx, 0, sizeof db->idx);
	db->warn.msg[0] = '\0';
}

/*
 * Is the file open on ifd (stat *ist) a valid index?  The header is read
 * and the file's size must be exactly header, offsets and text; *h is
 * filled.  The offsets are not checked one by one, which would read the
 * whole index at every start: lookups treat an offset out of the text as
 * an empty name instead.
 */
static int
index_valid(int ifd, const struct stat *ist, struct idxhdr *h)
{
	char magic[32];
	uint64_t isz = (uint64_t)ist->st_size;

	if (!S_ISREG(ist->st_mode) || isz < LISTDB_HDR_SIZE)
		return 0;
	if (pread(ifd, h, sizeof *h, 0) != (ssize_t)sizeof *h)
		return 0;
	memset(magic, 0, sizeof magic);
	memcpy(magic, LISTDB_MAGIC, sizeof LISTDB_MAGIC - 1);
	if (memcmp(h->magic, magic, sizeof magic) != 0)
		return 0;	/* another version, or not an index */
	if (h->size > LISTDB_TEXT_MAX || h->count > h->size ||
	    isz != LISTDB_HDR_SIZE + h->count * sizeof(uint32_t) + h->size)
		return 0;	/* truncated, or damaged */
	return 1;
}

/* Was the index with header *h compiled from the text whose stat is *st? */
static int
index_of(const struct idxhdr *h, const struct stat *st)
{
	return h->ino == (uint64_t)st->st_ino &&
	    h->size == (uint64_t)st->st_size &&
	    h->mtime_sec == (int64_t)st->st_mtim.tv_sec &&
	    h->mtime_nsec == (int64_t)st->st_mtim.tv_nsec;
}

/* "; and N more bad lines", or nothing. */
static void
more_lines(char *out, size_t sz, size_t nbad)
{
	if (nbad > 1)
		snprintf(out, sz, " (and %zu more bad line%s)", nbad - 1,
		    nbad > 2 ? "s" : "");
	else
		out[0] = '\0';
}

/*
 * A valid index that is not the text's (a hand edit since, a text
 * removed or unreadable): it stays in use; say why, naming the text's
 * first bad line if it has one.  fd is the text (-1: could not be opened,
 * `terr` the errno).
 */
static void
warn_stale(struct listdb *db, int fd, int terr)
{
	struct fed_err bad, rerr;
	char more[64];
	size_t nbad = 0;

	if (fd == -1) {
		fed_err_set(&db->warn, "%s: %s: using its last index %s; "
		    "run `fedlist index`%s", db->path, strerror(terr),
		    db->idxpath, terr == ENOENT ? " to empty the list" : "");
		return;
	}
	if (list_check_fd(fd, db->path, db->options_allowed, &nbad, &bad,
	    &rerr) == -1) {
		fed_err_set(&db->warn, "%s: changed since `fedlist index` "
		    "(%s): using its last index %s", db->path, rerr.msg,
		    db->idxpath);
		return;
	}
	if (nbad == 0) {
		fed_err_set(&db->warn, "%s: changed since `fedlist index`: "
		    "using its last index %s until you run `fedlist index`",
		    db->path, db->idxpath);
		return;
	}
	more_lines(more, sizeof more, nbad);
	fed_err_set(&db->warn, "%s%s: using the last index %s, from before "
	    "this edit; fix the text and run `fedlist index`", bad.msg, more,
	    db->idxpath);
}

/* Open path to read and fstat it: the descriptor, or -1 with *errnum. */
static int
open_stat(const char *path, struct stat *st, int *errnum)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		*errnum = errno;
		return -1;
	}
	if (fstat(fd, st) == -1) {
		*errnum = errno;
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * open_try with a valid index (ifd, header *h): it is searched, stale when
 * it does not describe the text on fd (-1: none, `terr` the errno; *st
 * its stat).  Takes both descriptors; ifd stays open in db unless the
 * load waits for a writer (OPEN_STALE, with wait_ok).
 */
static int
open_indexed(struct listdb *db, int ifd, const struct idxhdr *h, int fd,
    const struct stat *st, int terr, int wait_ok)
{
	if (fd == -1 || !S_ISREG(st->st_mode) || !index_of(h, st)) {
		if (wait_ok && writer_busy(db->path)) {
			if (fd != -1)
				close(fd);
			close(ifd);
			unload(db);
			return OPEN_STALE;
		}
		db->stale = 1;
		warn_stale(db, fd, terr);
	}
	if (fd != -1)
		close(fd);
	/* A lookup reads a piece here and there: reading ahead around
	 * each would only cost time when the list is not in the page
	 * cache. */
	(void)posix_fadvise(ifd, 0, 0, POSIX_FADV_RANDOM);
	db->idxfd = ifd;
	db->textbase = (off_t)(LISTDB_HDR_SIZE + h->count * sizeof(uint32_t));
	db->textlen = (size_t)h->size;
	db->n = (size_t)h->count;
	db->indexed = 1;
	db->exists = 1;
	return OPEN_OK;
}

/*
 * open_try with no valid index (`ierr` why: ENOENT none, another errno,
 * or 0 for an index of another version or damaged): the text on fd (-1:
 * none, `terr` the errno) is parsed whole, its bad lines skipped.  Takes
 * fd.
 */
static int
open_text(struct listdb *db, int fd, int terr, int ierr, struct fed_err *err)
{
	/* list_load_fd_salvage only writes it; cppcheck thinks it reads it. */
	struct fed_err bad = { "" };
	char more[64];
	size_t nbad = 0;

	if (fd == -1) {
		if (terr == ENOENT && ierr == ENOENT)
			return OPEN_OK;	/* no list yet: nobody listed */
		if (terr == ENOENT) {
			fed_err_set(&db->warn, "%s: not a valid list index, "
			    "and there is no text %s to compile: the list "
			    "is empty", db->idxpath, db->path);
			return OPEN_OK;
		}
		fed_err_set(err, "%s: %s, and no index to use: the list is "
		    "empty until it can be read", db->path, strerror(terr));
		unload(db);
		return OPEN_ERR;
	}
	if (list_load_fd_salvage(&db->mem, fd, db->path, db->options_allowed,
	    &nbad, &bad, err) == -1) {
		char m[sizeof err->msg];

		memcpy(m, err->msg, sizeof m);
		fed_err_set(err, "%s, and no index to use: the list is empty "
		    "until it can be read", m);
		close(fd);
		unload(db);
		return OPEN_ERR;
	}
	close(fd);
	db->exists = 1;
	more_lines(more, sizeof more, nbad);
	if (nbad > 0)
		fed_err_set(&db->warn, "%s%s: no index to fall back on: "
		    "using the other %zu entries of the text, the bad lines "
		    "skipped; fix them and run `fedlist index`", bad.msg, more,
		    db->mem.n);
	/* Nothing listed and no index: nothing to compile, nothing slow. */
	else if (db->mem.n != 0 || ierr != ENOENT)
		fed_err_set(&db->warn, "%s: %s: every process parses the "
		    "text (slow); run `fedlist index`", db->idxpath,
		    ierr == ENOENT ? "no index" : ierr != 0 ? strerror(ierr) :
		    "not an index of this version, or damaged");
	return OPEN_OK;
}

/*
 * One attempt at loading db->path into db (which holds path, idxpath and
 * options only).  Index and text are each opened once, the index first
 * (writers rename the text first), and everything is judged on those
 * descriptors.  With wait_ok set, a valid index that does not describe
 * the text while a writer holds PATH.lock loads nothing and returns
 * OPEN_STALE: the caller decides whether to wait for its writer.
 * OPEN_ERR (*err set) when there is no index and the text cannot be
 * read, or memory runs out: nothing loaded.
 */
static int
open_try(struct listdb *db, int wait_ok, struct fed_err *err)
{
	struct stat st, ist;
	struct idxhdr h;
	int fd, ifd, terr = 0, ierr = 0, valid = 0;

	unload(db);
	if ((ifd = open_stat(db->idxpath, &ist, &ierr)) != -1) {
		fed_ident_of(&db->idx, &ist);
		valid = index_valid(ifd, &ist, &h);
	} else if (ierr != ENOENT)
		db->idx.exists = -1;
	if ((fd = open_stat(db->path, &st, &terr)) != -1)
		fed_ident_of(&db->text, &st);
	else if (terr != ENOENT)
		db->text.exists = -1;
	if (valid)
		return open_indexed(db, ifd, &h, fd, &st, terr, wait_ok);
	if (ifd != -1)
		close(ifd);
	return open_text(db, fd, terr, ierr, err);
}

/* A fresh db for path, nothing loaded yet. */
static int
init(struct listdb *db, const char *path, int options_allowed,
    struct fed_err *err)
{
	memset(db, 0, sizeof *db);
	db->idxfd = -1;
	db->options_allowed = options_allowed;
	if ((db->path = strdup(path)) == NULL ||
	    (db->idxpath = fed_concat(path, LISTDB_IDX_SUFFIX)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		listdb_close(db);
		return -1;
	}
	return 0;
}

int
listdb_index_stale(const char *path)
{
	struct stat st, ist;
	struct idxhdr h;
	char *ip;
	int fd, stale = 1, have_text;

	have_text = stat(path, &st) == 0;
	if ((ip = fed_concat(path, LISTDB_IDX_SUFFIX)) == NULL)
		return 1;
	fd = open(ip, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	free(ip);
	if (fd < 0)
		return have_text || errno != ENOENT;
	if (have_text && fstat(fd, &ist) == 0 && index_valid(fd, &ist, &h) &&
	    index_of(&h, &st))
		stale = 0;
	close(fd);
	return stale;
}

int
listdb_open(struct listdb *db, const char *path, int options_allowed,
    struct fed_err *err)
{
	struct timespec pause = { 0, 10 * 1000000 };
	int64_t deadline = fed_mono_ms() + LISTDB_WRITER_WAIT_MS;
	int r;

	if (init(db, path, options_allowed, err) == -1)
		return -1;
	/*
	 * A stale index while a writer holds the lock means fedlist is
	 * between renaming the new text and renaming its index: wait a
	 * moment for it rather than take the index on its way out.
	 */
	while ((r = open_try(db, fed_mono_ms() < deadline, err)) ==
	    OPEN_STALE)
		nanosleep(&pause, NULL);
	if (r == OPEN_ERR) {
		/* Nothing to read: an empty list, and say so. */
		memcpy(db->warn.msg, err->msg, sizeof db->warn.msg);
		return 0;
	}
	return 0;
}

const char *
listdb_warning(struct listdb *db)
{
	if (db == NULL || db->warn.msg[0] == '\0')
		return NULL;
	if (db->told && fed_ident_same(&db->told_text, &db->text) &&
	    fed_ident_same(&db->told_idx, &db->idx))
		return NULL;
	db->told = 1;
	db->told_text = db->text;
	db->told_idx = db->idx;
	return db->warn.msg;
}

int
listdb_check(const char *path, int options_allowed, struct fed_err *err)
{
	struct listdb db;
	const char *w;
	int rc = 0;

	if (listdb_open(&db, path, options_allowed, err) == -1)
		return -1;
	if ((w = listdb_warning(&db)) != NULL) {
		fed_err_set(err, "%s", w);
		rc = 1;
	}
	listdb_close(&db);
	return rc;
}

/*
 * listdb_refresh found the index this process has open removed or
 * damaged (nd, the reload, has none): keep searching it (its descriptor
 * still reads it), rather than fall back on a text nobody compiled.
 * Closes nd; 0, the answers unchanged.
 */
static int
refresh_keep_index(struct listdb *db, struct listdb *nd)
{
	db->text = nd->text;
	db->idx = nd->idx;
	db->stale = 1;
	fed_err_set(&db->warn, "%s: %s: still using the index loaded "
	    "before; run `fedlist index`", db->idxpath, nd->idx.exists ?
	    "not a valid index" : "removed");
	listdb_close(nd);
	return 0;
}

/*
 * listdb_refresh takes the reload nd in db's place, keeping what db has
 * told.  1, or 0 when the same index stays (over a text edited by hand,
 * it answers as before).
 */
static int
refresh_adopt(struct listdb *db, struct listdb *nd, int64_t now_ms)
{
	int r;

	nd->checked_ms = now_ms;
	nd->told = db->told;
	nd->told_text = db->told_text;
	nd->told_idx = db->told_idx;
	r = !(db->indexed && nd->indexed && fed_ident_same(&nd->idx,
	    &db->idx));
	listdb_close(db);
	*db = *nd;
	return r;
}

int
listdb_refresh(struct listdb *db, int64_t now_ms, struct fed_err *err)
{
	struct fed_ident t, i;
	struct listdb nd;
	int r;

	/* A clock stepped back must not stop the checks for that long. */
	if (now_ms >= db->checked_ms && now_ms - db->checked_ms < 1000)
		return 0;
	db->checked_ms = now_ms;
	fed_ident_path(&t, db->path);
	fed_ident_path(&i, db->idxpath);
	if (fed_ident_same(&t, &db->text) && fed_ident_same(&i, &db->idx)) {
		db->busy_since_ms = 0;
		return 0;
	}
	if (db->bad.exists && fed_ident_same(&t, &db->bad) &&
	    fed_ident_same(&i, &db->bad_idx) && now_ms >= db->bad_ms &&
	    now_ms - db->bad_ms < LISTDB_RETRY_MS)
		return 0;	/* refused already; the old list stays */
	if (init(&nd, db->path, db->options_allowed, err) == -1)
		return -1;
	r = open_try(&nd, db->busy_since_ms == 0 ||
	    now_ms - db->busy_since_ms < LISTDB_WRITER_WAIT_MS, err);
	if (r == OPEN_STALE) {
		/* Keep the old list; look again in 100 ms. */
		if (db->busy_since_ms == 0)
			db->busy_since_ms = now_ms;
		db->checked_ms = now_ms - 900;
		listdb_close(&nd);
		return 0;
	}
	db->busy_since_ms = 0;
	if (r == OPEN_ERR) {
		/* Remember what failed (as stat saw it before the attempt: a
		 * file replaced since then is a change, and tried again). */
		db->bad = t;
		db->bad_idx = i;
		db->bad_ms = now_ms;
		listdb_close(&nd);
		return -1;
	}
	if (db->indexed && !nd.indexed && nd.text.exists)
		return refresh_keep_index(db, &nd);
	return refresh_adopt(db, &nd, now_ms);
}

/*
 * The text as a lookup reads it: a window of it, refilled by pread(2) when
 * a position falls outside.  A position past the size the text had when
 * opened, or a failed or short read (a text truncated since), reads as the
 * end, so a corrupt index or a hand edit gives wrong answers at worst,
 * never a bad read.
 */
#define PROBE_WINDOW (DOMAIN_MAX + 64)

struct reader {
	const struct listdb *db;
	off_t at;		/* text offset of win[0] */
	size_t have;		/* bytes in win */
	char win[PROBE_WINDOW];
};

static int
text_byte(struct reader *r, size_t pos)
{
	ssize_t got;

	if (pos >= r->db->textlen)
		return -1;
	if ((off_t)pos < r->at || (off_t)pos >= r->at + (off_t)r->have) {
		got = pread(r->db->idxfd, r->win, sizeof r->win,
		    r->db->textbase + (off_t)pos);
		if (got <= 0) {
			r->have = 0;
			return -1;
		}
		r->at = (off_t)pos;
		r->have = (size_t)got;
	}
	return (unsigned char)r->win[pos - (size_t)r->at];
}

static int
is_delim(int c)
{
	return c == -1 || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Compare key[0..klen) with the normalized name of the entry whose line
 * starts at text offset `off`, as strcmp would compare the two normalized
 * names: the line's first field, lowercased, one trailing dot dropped.
 * The normalization happens on the fly, so a hand-written line in upper
 * case needs no copy.
 */
static int
probe_cmp(struct reader *r, const char *key, size_t klen, uint32_t off)
{
	size_t p = off, i;
	int c;

	while ((c = text_byte(r, p)) == ' ' || c == '\t')
		p++;
	for (i = 0;; i++) {
		int kc = i < klen ? (unsigned char)key[i] : -1;
		int tc = text_byte(r, p + i);

		if (is_delim(tc) || (tc == '.' && is_delim(text_byte(r,
		    p + i + 1))))
			tc = -1;	/* the end of the normalized name */
		else
			tc = (unsigned char)lower((char)tc);
		if (kc != tc)
			return kc < tc ? -1 : 1;
		if (kc == -1)
			return 0;
	}
}

/* Offsets read at once when the search has narrowed to this many. */
#define FIND_WINDOW 256

/* index entry i's offset; an unreadable one reads as past the text. */
static uint32_t
index_off(const struct listdb *db, size_t i)
{
	uint32_t o;

	if (pread(db->idxfd, &o, sizeof o, (off_t)(LISTDB_HDR_SIZE +
	    i * sizeof o)) != (ssize_t)sizeof o)
		return UINT32_MAX;
	return o;
}

/*
 * Binary search of the index: the line offset of key's entry, or -1.
 * Each probe reads one offset and a piece of the text; once the range is
 * down to FIND_WINDOW entries their offsets are read in one go, which
 * saves the last eight reads of the index.
 */
static long long
find(const struct listdb *db, struct reader *r, const char *key,
    size_t klen)
{
	uint32_t win[FIND_WINDOW];
	size_t lo = 0, hi = db->n, base = 0, nwin = 0;
	ssize_t got;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t o;
		int c;

		if (nwin == 0 && hi - lo <= FIND_WINDOW) {
			got = pread(db->idxfd, win, (hi - lo) * sizeof *win,
			    (off_t)(LISTDB_HDR_SIZE + lo * sizeof *win));
			if (got == (ssize_t)((hi - lo) * sizeof *win)) {
				base = lo;
				nwin = hi - lo;
			}
		}
		o = nwin != 0 ? win[mid - base] : index_off(db, mid);
		if ((c = probe_cmp(r, key, klen, o)) == 0)
			return (long long)o;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* *e from an entry of the parsed list, its strings copied to scratch. */
static void
copy_entry(struct list_entry *e, const struct list_entry *x, char *scratch)
{
	size_t nl = strlen(x->name);

	*e = *x;
	memcpy(scratch, x->name, nl + 1);
	e->name = scratch;
	if (x->edge != NULL) {
		e->edge = scratch + nl + 1;
		memcpy(e->edge, x->edge, strlen(x->edge) + 1);
	}
}

/*
 * Read the line at off for its options into buf (bufsz bytes), or into
 * *heap for a long one.  Only the part before a comment matters to
 * list_parse_line, and a comment starts with a '#' after a blank, so a
 * line cut there parses the same; only a line of more than bufsz bytes
 * before its comment (many blanks between options) needs the heap.
 * Returns the length, 0 when the line cannot be read.
 */
static size_t
read_line(const struct listdb *db, size_t off, char *buf, size_t bufsz,
    char **heap)
{
	const char *nl;
	size_t have = 0, cap = bufsz, i;
	char *p = buf, *np;
	ssize_t got;

	*heap = NULL;
	for (;;) {
		got = pread(db->idxfd, p + have, cap - have,
		    db->textbase + (off_t)(off + have));
		if (got <= 0)
			return have;	/* the end of the text */
		have += (size_t)got;
		if ((nl = memchr(p, '\n', have)) != NULL)
			return (size_t)(nl - p);
		for (i = 1; i < have; i++)
			if (p[i] == '#' && (p[i - 1] == ' ' ||
			    p[i - 1] == '\t'))
				return i;
		if (have < cap || off + have >= db->textlen)
			return have;
		if (cap > LIST_FILE_MAX || (np = realloc(*heap, cap * 2)) ==
		    NULL)
			return 0;
		if (*heap == NULL)
			memcpy(np, buf, have);
		*heap = p = np;
		cap *= 2;
	}
}

/* *e from the line at off, which matched key. */
static void
entry_at(const struct listdb *db, size_t off, const char *key, size_t klen,
    struct list_entry *e, char *scratch, size_t scratchsz)
{
	struct fed_err perr;
	char buf[1024], *heap;
	size_t n = read_line(db, off, buf, sizeof buf, &heap);

	if (n == 0 || list_parse_line(heap != NULL ? heap : buf, n,
	    db->options_allowed, e, scratch, scratchsz, &perr) != 1) {
		/* Cannot happen with a text that matches its index; if it
		 * does, the name matched, so it is listed, without options. */
		memset(e, 0, sizeof *e);
		memcpy(scratch, key, klen);
		scratch[klen] = '\0';
		e->name = scratch;
		e->rate = e->max_uris = LIST_UNSET;
	}
	free(heap);
	e->off = off;
}

int
listdb_lookup(const struct listdb *db, const char *domain,
    struct list_entry *e, char *scratch, size_t scratchsz)
{
	char buf[DOMAIN_MAX + 3];
	const struct list_entry *x;
	struct reader r;
	long long off;
	size_t n, i;

	if (scratchsz < LISTDB_SCRATCH)
		return -1;
	if (db == NULL || !db->exists || domain == NULL)
		return 0;
	if (!db->indexed) {
		if ((x = list_lookup(&db->mem, domain)) == NULL)
			return 0;
		copy_entry(e, x, scratch);
		return 1;
	}
	/* The same steps as list_lookup, so both give the same answer. */
	if (db->n == 0)
		return 0;
	n = strnlen(domain, DOMAIN_MAX + 2);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n > DOMAIN_MAX)
		return 0;	/* no entry is that long */
	buf[0] = '.';
	for (i = 0; i < n; i++)
		buf[i + 1] = lower(domain[i]);
	buf[n + 1] = '\0';
	r.db = db;
	r.at = 0;
	r.have = 0;
	if ((off = find(db, &r, buf + 1, n)) != -1) {
		entry_at(db, (size_t)off, buf + 1, n, e, scratch, scratchsz);
		return 1;
	}
	/* .a.b.example.com, then .b.example.com, ...: longest first. */
	for (i = 0; i <= n; i++)
		if (buf[i] == '.' &&
		    (off = find(db, &r, buf + i, n + 1 - i)) != -1) {
			entry_at(db, (size_t)off, buf + i, n + 1 - i, e,
			    scratch, scratchsz);
			return 1;
		}
	return 0;
}

size_t
listdb_count(const struct listdb *db)
{
	if (db == NULL || !db->exists)
		return 0;
	return db->indexed ? db->n : db->mem.n;
}

void
listdb_close(struct listdb *db)
{
	if (db == NULL)
		return;
	unload(db);
	free(db->path);
	free(db->idxpath);
	memset(db, 0, sizeof *db);
}

/*
 * The text on fd, checked for compiling: a regular file LISTDB_TEXT_MAX
 * bytes at most.  *st and *text describe it.  0, or -1 with *err.
 */
static int
text_stat(int fd, const char *path, struct stat *st, struct fed_ident *text,
    struct fed_err *err)
{
	if (fstat(fd, st) == -1) {
		fed_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		fed_err_set(err, "%s: not a regular file", path);
		return -1;
	}
	fed_ident_of(text, st);
	if ((uint64_t)st->st_size > LISTDB_TEXT_MAX) {
		fed_err_too_big(err, path, LISTDB_TEXT_MAX);
		return -1;
	}
	return 0;
}

/*
 * The line offsets of the text on fd's entries, sorted by name, in *offs
 * (*n of them; NULL when none).  0; LISTDB_BAD_TEXT, *err naming its first
 * bad line; -1, *err.
 */
static int
text_offsets(int fd, const char *path, int options_allowed, uint32_t **offs,
    size_t *n, struct fed_err *err)
{
	struct fed_err bad = { "" };	/* as in open_text */
	struct list l;
	char more[64];
	size_t i, nbad = 0;
	int rc = -1;

	*offs = NULL;
	*n = 0;
	/* Every bad line is counted, so the operator fixes them in one go. */
	if (list_load_fd_salvage(&l, fd, path, options_allowed, &nbad, &bad,
	    err) == -1)
		return -1;
	if (nbad > 0) {
		more_lines(more, sizeof more, nbad);
		fed_err_set(err, "%s%s", bad.msg, more);
		rc = LISTDB_BAD_TEXT;
		goto out;
	}
	if (l.n > 0 && (*offs = reallocarray(NULL, l.n, sizeof **offs)) ==
	    NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		goto out;
	}
	for (i = 0; i < l.n; i++)
		(*offs)[i] = (uint32_t)l.v[i].off;
	*n = l.n;
	rc = 0;
out:
	list_free(&l);
	return rc;
}

/*
 * The text's bytes, as the index carries them (list_load_fd rewrote its
 * own copy in place), into *copy: st->st_size of them, from fd, whose
 * identity must still be *text.  0, or -1 with *err.
 */
static int
text_copy(int fd, const char *path, const struct stat *st,
    const struct fed_ident *text, char **copy, struct fed_err *err)
{
	if ((*copy = malloc((size_t)st->st_size + 1)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		return -1;
	}
	if (st->st_size > 0 && pread(fd, *copy, (size_t)st->st_size, 0) !=
	    (ssize_t)st->st_size) {
		fed_err_set(err, "%s: changed while it was read; try again",
		    path);
		return -1;
	}
	/*
	 * Only a writer ignoring the lock (a hand edit in place) can change
	 * the file under us; then the bytes read may not be those of the
	 * identity, so refuse rather than guess.
	 */
	if (!fd_unchanged(fd, text)) {
		fed_err_set(err, "%s: changed while it was read; try again",
		    path);
		return -1;
	}
	return 0;
}

/*
 * Write PATH.idx (idxpath) through afile: the header for the text whose
 * stat is *st, its n sorted line offsets and its bytes.  0, or -1 with
 * *err.
 */
static int
index_put(const char *idxpath, const struct stat *st, const uint32_t *offs,
    size_t n, const char *copy, struct fed_err *err)
{
	struct afile idx;
	struct idxhdr h;

	memset(&h, 0, sizeof h);
	memcpy(h.magic, LISTDB_MAGIC, sizeof LISTDB_MAGIC - 1);
	h.ino = (uint64_t)st->st_ino;
	h.size = (uint64_t)st->st_size;
	h.mtime_sec = (int64_t)st->st_mtim.tv_sec;
	h.mtime_nsec = (int64_t)st->st_mtim.tv_nsec;
	h.count = (uint64_t)n;
	/* The index tells no more than the text: the same permissions. */
	if (afile_begin(&idx, idxpath, (int)(st->st_mode & 0666), err) == -1)
		return -1;
	if (fwrite(&h, sizeof h, 1, idx.fp) != 1 ||
	    (offs != NULL && fwrite(offs, sizeof *offs, n, idx.fp) != n) ||
	    (st->st_size > 0 && fwrite(copy, (size_t)st->st_size, 1,
	    idx.fp) != 1)) {
		fed_err_set(err, "%s: write: %s", idx.tmp, strerror(errno));
		afile_abort(&idx);
		return -1;
	}
	return afile_commit(&idx, err);
}

/*
 * Which lock protects what.  The index is a function of the text, so the
 * lock that matters is the text's, PATH.lock, which every writer of PATH
 * holds (afile_begin on PATH; fedlist across rewriting text and index).
 * Reading the text and renaming the index under it means no writer can
 * rename a new text between our read and our rename, so the index put in
 * place describes the text in place.  Were only PATH.idx.lock taken, a
 * `listidx` could read the old text, fedlist rename a new text and its
 * index, and `listidx` then rename the old text's index over the new one:
 * readers would notice (the identity differs) and keep answering, but
 * every one of them would warn of a stale index until the next edit.  Readers
 * also look at PATH.lock: a stale index while it is held means "wait".
 *
 * The index itself is written with afile_begin on PATH.idx, so
 * PATH.idx.lock is taken too, always after PATH.lock.  It is never
 * contended (every index writer holds PATH.lock first), but afile_begin
 * uses it to remove the temporary index files of a killed writer, which
 * afile_begin_held would leave behind for good.
 *
 * Without `held`, PATH.lock is taken through afile_begin on PATH, the one
 * lock protocol; the empty temporary text it opens is dropped, and the
 * lock released, by afile_abort once the index is in place.
 */
int
list_index_write(const char *path, int options_allowed, int held,
    struct fed_err *err)
{
	struct afile lock;
	struct fed_ident text;
	struct stat st;
	uint32_t *offs = NULL;
	char *idxpath = NULL, *copy = NULL;
	size_t n;
	int fd = -1, locked = 0, rc = -1;

	if ((idxpath = fed_concat(path, LISTDB_IDX_SUFFIX)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		return -1;
	}
	if (!held) {
		if (afile_begin(&lock, path, 0644, err) == -1)
			goto out;
		locked = 1;
	}
	/* One open file for the identity and the bytes: a text renamed in
	 * meanwhile cannot get the identity of the one read. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno != ENOENT)
			fed_err_set(err, "%s: %s", path, strerror(errno));
		/* No text: an empty list, which needs no index. */
		else if (unlink(idxpath) == -1 && errno != ENOENT)
			fed_err_set(err, "%s: %s", idxpath, strerror(errno));
		else
			rc = 0;
		goto out;
	}
	if (text_stat(fd, path, &st, &text, err) == -1 ||
	    (rc = text_offsets(fd, path, options_allowed, &offs, &n, err)) !=
	    0 || (rc = text_copy(fd, path, &st, &text, &copy, err)) != 0)
		goto out;
	rc = index_put(idxpath, &st, offs, n, copy, err);
out:
	if (fd != -1)
		close(fd);
	if (locked)
		afile_abort(&lock);
	free(offs);
	free(copy);
	free(idxpath);
	return rc;
}
