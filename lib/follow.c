/* follow.c: read a log line by line, following it like `tail -F`. */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "follow.h"

#define READ_CHUNK ((size_t)1 << 20)
#define POLL_BYTES ((size_t)64 << 20)	/* per follow_poll call */
#define DIR_SCAN_MAX 100000		/* entries looked at for a rotated log */

/* Hash the first n bytes of fd into *h: 0, or -1 if they cannot be read. */
static int
head_hash(int fd, uint32_t n, uint64_t *h)
{
	char b[FOLLOW_HEAD];
	ssize_t r;

	do
		r = pread(fd, b, n, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0 || (size_t)r != n)
		return -1;
	*h = fed_fnv1a64(FED_FNV1A64_OFFSET, b, n);
	return 0;
}

static int
buf_init(struct follow *f, struct fed_err *err)
{
	f->cap = READ_CHUNK + FOLLOW_LINE_MAX;
	if ((f->buf = malloc(f->cap)) == NULL) {
		fed_err_set(err, "read buffer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
follow_fd(struct follow *f, int fd, const char *name, struct fed_err *err)
{
	memset(f, 0, sizeof *f);
	f->fd = fd;
	if ((f->name = strdup(name)) == NULL) {
		fed_err_set(err, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (buf_init(f, err) != 0) {
		free(f->name);
		return -1;
	}
	return 0;
}

/* gcc 12's analyzer drops a store through a follow reached by
 * f->old[i] and calls the name leaked; follow_close frees it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"	/* clang: no -Wanalyzer-* */
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
static int
set_name(struct follow *f, const char *name)
{
	char *n = strdup(name);

	if (n == NULL)
		return -1;
	free(f->name);
	f->name = n;
	return 0;
}
#pragma GCC diagnostic pop

/* Start the path from its beginning (or wait for it). */
static int
open_path(struct follow *f, struct fed_err *err)
{
	struct stat st;

	memset(&f->pos, 0, sizeof f->pos);
	f->len = 0;
	f->skipping = 0;
	f->skip = 0;
	f->rotated_ms = 0;
	if (set_name(f, f->path) != 0) {
		fed_err_set(err, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	/* O_NONBLOCK: a FIFO put in the log's place must not hang us; it
	 * is refused below. */
	f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (f->fd < 0) {
		if (errno == ENOENT)
			return 0;	/* not yet: wait for it */
		fed_err_set(err, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	if (fstat(f->fd, &st) != 0)
		fed_err_set(err, "%s: %s", f->path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		fed_err_set(err, "%s: not a regular file (only a file can be "
		    "followed)", f->path);
	else
		err = NULL;
	if (err != NULL) {
		close(f->fd);
		f->fd = -1;
		return -1;
	}
	f->pos.dev = st.st_dev;
	f->pos.ino = st.st_ino;
	return 0;
}

/* Is fd the saved file, with the same first bytes and at least off? */
static int
is_saved(int fd, const struct follow_pos *p)
{
	struct stat st;
	uint64_t h;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != p->dev ||
	    st.st_ino != p->ino || st.st_size < p->off)
		return 0;
	return p->headlen == 0 ||
	    (head_hash(fd, p->headlen, &h) == 0 && h == p->headhash);
}

/* Find the saved file under another name in the path's directory. */
static int
find_rotated(const char *path, const struct follow_pos *p, char **found)
{
	const char *slash = strrchr(path, '/');
	char *dir, *full;
	DIR *d;
	struct dirent *de;
	int fd = -1, seen = 0;

	*found = NULL;
	dir = slash == NULL ? strdup(".") :
	    fed_strdup_n(path, slash == path ? 1 : (size_t)(slash - path));
	if (dir == NULL || (d = opendir(dir)) == NULL) {
		free(dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL && seen++ < DIR_SCAN_MAX) {
		if (de->d_ino != p->ino || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((full = malloc(strlen(dir) + strlen(de->d_name) + 2)) == NULL)
			break;
		sprintf(full, "%s/%s", dir, de->d_name);
		fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0 && is_saved(fd, p)) {
			*found = full;
			break;
		}
		if (fd >= 0)
			close(fd);
		fd = -1;
		free(full);
	}
	closedir(d);
	free(dir);
	return fd;
}

/* A rotated file being read, continued at p (its fd at p->off). */
static struct follow *
old_new(int fd, char *name, const struct follow_pos *p, size_t cap)
{
	struct follow *o;

	if ((o = calloc(1, sizeof *o)) == NULL)
		return NULL;
	if ((o->buf = malloc(cap)) == NULL) {
		free(o);
		return NULL;
	}
	o->cap = cap;
	o->fd = fd;
	o->name = name;
	o->pos = *p;
	o->skipping = p->skipping != 0;
	o->owned = 1;
	return o;
}

static int
old_slot(const struct follow *f)
{
	int i;

	for (i = 0; i < FOLLOW_OLD_MAX; i++)
		if (f->old[i] == NULL)
			return i;
	return -1;
}

struct between {
	char *name;
	struct timespec mtime;
	dev_t dev;
	ino_t ino;
};

static int
cmp_between(const void *a, const void *b)
{
	const struct between *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
is_excluded(const struct stat *st, const struct stat *pst,
    const struct follow_pos *old, int nold)
{
	int i;

	if (pst != NULL && st->st_dev == pst->st_dev && st->st_ino == pst->st_ino)
		return 1;
	for (i = 0; i < nold; i++)
		if (st->st_dev == old[i].dev && st->st_ino == old[i].ino)
			return 1;
	return 0;
}

/*
 * Is the file at path one rotated after the saved file (*sst): a regular
 * file, newer, none of those already followed (the path's own *pst, the
 * old ones), a log line's digit first?  *st its stat.
 */
static int
is_between(const char *path, const struct stat *sst, const struct stat *pst,
    const struct follow_pos *old, int nold, struct stat *st)
{
	char first;
	int fd, yes;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) < 0)
		return 0;
	yes = fstat(fd, st) == 0 && S_ISREG(st->st_mode) &&
	    !(st->st_dev == sst->st_dev && st->st_ino == sst->st_ino) &&
	    !is_excluded(st, pst, old, nold) &&
	    cmp_between(&(struct between){ "", st->st_mtim, 0, 0 },
	    &(struct between){ "", sst->st_mtim, 0, 0 }) > 0 &&
	    pread(fd, &first, 1, 0) == 1 && first >= '0' && first <= '9';
	close(fd);
	return yes;
}

/* Follow the files found between, in order, in free rotated slots (their
 * names taken or freed).  How many could not be taken. */
static int
take_between(struct follow *f, struct between *c, int nc)
{
	struct follow_pos z;
	struct follow *o;
	int i, slot, fd, missed = 0;

	for (i = 0; i < nc; i++) {
		memset(&z, 0, sizeof z);
		z.dev = c[i].dev;
		z.ino = c[i].ino;
		/* One slot stays free for the saved file when it is done. */
		slot = old_slot(f);
		if (slot < 0 || slot == FOLLOW_OLD_MAX - 1 ||
		    (fd = open(c[i].name, O_RDONLY | O_CLOEXEC | O_NOCTTY |
		    O_NONBLOCK)) < 0) {
			missed++;
			free(c[i].name);
			continue;
		}
		if (!is_saved(fd, &z) || (o = old_new(fd, c[i].name, &z,
		    f->cap)) == NULL) {
			close(fd);
			missed++;
			free(c[i].name);
			continue;
		}
		f->old[slot] = o;
		f->old_ms[slot] = 0;
	}
	return missed;
}

/*
 * The saved file was found rotated (at fd): read too the files rotated
 * after it, from their start, in free rotated slots.  Returns how many
 * could not be taken (no slot left, out of memory).
 */
static int
add_between(struct follow *f, int savedfd, const struct follow_pos *old,
    int nold)
{
	const char *slash = strrchr(f->path, '/'), *base;
	struct between c[FOLLOW_OLD_MAX * 4];
	struct stat sst, pst, st;
	struct dirent *de;
	char *dir, *full;
	size_t blen;
	int nc = 0, missed = 0, seen = 0, havep;
	DIR *d;

	if (fstat(savedfd, &sst) != 0)
		return 0;
	havep = stat(f->path, &pst) == 0;
	base = slash == NULL ? f->path : slash + 1;
	blen = strlen(base);
	dir = slash == NULL ? strdup(".") :
	    fed_strdup_n(f->path, slash == f->path ? 1 :
	    (size_t)(slash - f->path));
	if (dir == NULL || (d = opendir(dir)) == NULL) {
		free(dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL && seen++ < DIR_SCAN_MAX) {
		if (strncmp(de->d_name, base, blen) != 0 ||
		    (de->d_name[blen] != '.' && de->d_name[blen] != '-'))
			continue;
		if ((full = malloc(strlen(dir) + strlen(de->d_name) + 2)) == NULL) {
			missed++;
			break;
		}
		sprintf(full, "%s/%s", dir, de->d_name);
		if (!is_between(full, &sst, havep ? &pst : NULL, old, nold,
		    &st)) {
			free(full);
			continue;
		}
		if (nc == (int)(sizeof c / sizeof c[0])) {
			missed++;
			free(full);
			continue;
		}
		c[nc++] = (struct between){ full, st.st_mtim, st.st_dev,
		    st.st_ino };
	}
	closedir(d);
	free(dir);
	qsort(c, (size_t)nc, sizeof c[0], cmp_between);
	return missed + take_between(f, c, nc);
}

int
follow_open(struct follow *f, const char *path, const struct follow_pos *saved,
    const struct follow_pos *old, int nold, int *lost, struct fed_err *err)
{
	struct follow *o;
	char *found;
	int fd, i, slot;

	memset(f, 0, sizeof *f);
	f->fd = -1;
	f->follow = 1;
	*lost = 0;
	if ((f->path = strdup(path)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (buf_init(f, err) != 0)
		goto fail;
	/* The rotated files that were still being read, where they were. */
	for (i = 0; i < nold && i < FOLLOW_OLD_MAX; i++) {
		if ((fd = find_rotated(path, &old[i], &found)) < 0) {
			++*lost;
			continue;
		}
		slot = old_slot(f);
		if (lseek(fd, old[i].off, SEEK_SET) < 0 || slot < 0 ||
		    (o = old_new(fd, found, &old[i], f->cap)) == NULL) {
			close(fd);
			free(found);
			++*lost;
			continue;
		}
		f->old[slot] = o;
		f->old_ms[slot] = 0;	/* set at the first poll */
	}
	if (nold > FOLLOW_OLD_MAX)
		*lost += nold - FOLLOW_OLD_MAX;
	if (saved == NULL)
		return open_path(f, err) == 0 ? 0 : (follow_close(f, NULL, NULL), -1);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd >= 0 && is_saved(fd, saved)) {
		if (set_name(f, path) != 0) {
			close(fd);
			goto sysfail;
		}
	} else {
		if (fd >= 0)
			close(fd);
		/* Rotated while we were away: finish the old file first,
		 * and read the ones rotated after it. */
		if ((fd = find_rotated(path, saved, &found)) < 0) {
			++*lost;
			return open_path(f, err) == 0 ? 0 :
			    (follow_close(f, NULL, NULL), -1);
		}
		free(f->name);
		f->name = found;
		f->rotated_ms = 1;	/* long ago: switch once it is quiet */
		*lost += add_between(f, fd, old, nold);
	}
	f->fd = fd;
	f->pos = *saved;
	f->skipping = saved->skipping != 0;
	if (lseek(fd, saved->off, SEEK_SET) < 0)
		goto sysfail;
	return 0;
sysfail:
	fed_err_set(err, "%s: %s", path, strerror(errno));
fail:
	follow_close(f, NULL, NULL);
	return -1;
}

/* Deliver the whole lines in the buffer; keep the rest.  pos.off stays
 * at a line start: the bytes of an over-long line dropped so far are
 * counted in f->skip until its end. */
static int
deliver(struct follow *f, follow_fn fn, void *arg)
{
	char *p = f->buf, *end = f->buf + f->len, *nl;
	size_t n;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		n = (size_t)(nl - p);
		f->pos.line++;
		if (f->skipping) {
			f->skipping = 0;	/* the end of the long line */
			f->pos.off += f->skip;
			f->skip = 0;
		} else if (n > FOLLOW_LINE_MAX) {
			if (fn(arg, f->name, f->pos.line, NULL, 0,
			    "line too long") != 0)
				return -1;
		} else if (fn(arg, f->name, f->pos.line, p, n, NULL) != 0) {
			return -1;
		}
		f->pos.off += (off_t)(n + 1);
		p = nl + 1;
	}
	n = (size_t)(end - p);
	if (f->skipping || n > FOLLOW_LINE_MAX) {
		/* No newline in sight: drop what we have and say so once. */
		if (!f->skipping && fn(arg, f->name, f->pos.line + 1, NULL, 0,
		    "line too long") != 0)
			return -1;
		f->skipping = 1;
		f->skip += (off_t)n;
		n = 0;
	}
	memmove(f->buf, p, n);
	f->len = n;
	return 0;
}

/* Read what is there now; 1 more may follow, 0 at the end, -1 error. */
static int
drain(struct follow *f, follow_fn fn, void *arg, size_t *got,
    struct fed_err *err)
{
	size_t total = 0;
	ssize_t r;

	*got = 0;

	while (total < POLL_BYTES) {
		r = read(f->fd, f->buf + f->len, f->cap - f->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fed_err_set(err, "%s: %s", f->name, strerror(errno));
			return -1;
		}
		if (r == 0)
			return 0;
		f->len += (size_t)r;
		total += (size_t)r;
		*got = total;
		if (deliver(f, fn, arg) != 0) {
			err->msg[0] = '\0';
			return -1;
		}
	}
	return 1;
}

/* Report and drop a line that will never be completed. */
static int
drop_partial(struct follow *f, follow_fn fn, void *arg, const char *why)
{
	int rc = 0;

	if (f->len > 0 && !f->skipping && fn != NULL)
		rc = fn(arg, f->name, f->pos.line + 1, NULL, 0, why);
	f->len = 0;
	f->skipping = 0;
	f->skip = 0;
	return rc;
}

/* Stop reading a rotated file: report its cut line, close, free. */
static void
old_end(struct follow *o, follow_fn fn, void *arg)
{
	(void)drop_partial(o, fn, arg, "line cut by rotation");
	close(o->fd);
	free(o->buf);
	free(o->name);
	free(o);
}

/*
 * The path names a new file: keep reading the current one as a rotated
 * file (its writers may still append), with its own buffer and line
 * count, and give the follower a fresh buffer.  -1 if out of memory.
 */
static int
retire(struct follow *f, int64_t now_ms, follow_fn fn, void *arg)
{
	struct follow *o;
	char *buf;
	int i, slot = 0;

	if ((o = calloc(1, sizeof *o)) == NULL)
		return -1;
	if ((buf = malloc(f->cap)) == NULL) {
		free(o);
		return -1;
	}
	for (i = 0; i < FOLLOW_OLD_MAX; i++) {
		if (f->old[i] == NULL) {
			slot = i;
			break;
		}
		if (f->old_ms[i] < f->old_ms[slot])
			slot = i;	/* all taken: the longest quiet goes */
	}
	if (f->old[slot] != NULL)
		old_end(f->old[slot], fn, arg);
	o->fd = f->fd;
	o->name = f->name;
	o->buf = f->buf;
	o->len = f->len;
	o->cap = f->cap;
	o->skipping = f->skipping;
	o->skip = f->skip;
	o->pos = f->pos;
	o->owned = 1;
	f->old[slot] = o;
	f->old_ms[slot] = now_ms;
	f->fd = -1;
	f->name = NULL;
	f->buf = buf;
	f->len = 0;
	f->skipping = 0;
	f->skip = 0;
	return 0;
}

/* Read what the rotated files got since; drop those quiet long enough. */
static int
poll_old(struct follow *f, int64_t now_ms, follow_fn fn, void *arg,
    struct fed_err *err)
{
	struct follow *o;
	off_t before;
	int i;

	for (i = 0; i < FOLLOW_OLD_MAX; i++) {
		if ((o = f->old[i]) == NULL)
			continue;
		if (f->old_ms[i] == 0)
			f->old_ms[i] = now_ms;	/* continued after a resume */
		before = o->pos.off + o->skip + (off_t)o->len;
		if (follow_poll(o, now_ms, fn, arg, err) < 0)
			return -1;
		if (o->pos.off + o->skip + (off_t)o->len != before)
			f->old_ms[i] = now_ms;
		else if (now_ms - f->old_ms[i] >= FOLLOW_OLD_QUIET_MS) {
			old_end(o, fn, arg);
			f->old[i] = NULL;
		}
	}
	return 0;
}

/*
 * Truncated (the file got shorter than what we read, or its first bytes
 * changed: truncated and written again)?  Then start it over.  Checked
 * before reading, so that no byte past the old offset is taken for a
 * line of the old contents.  0, or -1 with *err.
 */
static int
restart_if_truncated(struct follow *f, follow_fn fn, void *arg,
    struct fed_err *err)
{
	struct stat st;
	uint64_t h;

	if (fstat(f->fd, &st) != 0) {
		fed_err_set(err, "%s: %s", f->name, strerror(errno));
		return -1;
	}
	if (st.st_size >= f->pos.off + f->skip + (off_t)f->len &&
	    (f->pos.headlen == 0 || (head_hash(f->fd, f->pos.headlen,
	    &h) == 0 && h == f->pos.headhash)))
		return 0;
	if (drop_partial(f, fn, arg, "line cut by truncation") != 0)
		return -1;
	f->pos.off = 0;
	f->pos.line = 0;
	f->pos.headlen = 0;
	if (lseek(f->fd, 0, SEEK_SET) < 0) {
		fed_err_set(err, "%s: %s", f->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Remember more of the head while the bytes are at hand. */
static void
head_remember(struct follow *f)
{
	uint32_t n;
	uint64_t h;

	if (f->pos.headlen >= FOLLOW_HEAD || f->pos.off <= (off_t)f->pos.headlen)
		return;
	n = f->pos.off < FOLLOW_HEAD ? (uint32_t)f->pos.off : FOLLOW_HEAD;
	if (head_hash(f->fd, n, &h) == 0) {
		f->pos.headlen = n;
		f->pos.headhash = h;
	}
}

/*
 * Rotated: does the path name another file now?  Switch to it once a
 * poll found nothing new in the old file (got 0), or after the grace
 * period whatever its writers do; the old one is kept a while for late
 * writers (retire).  1 switched, 0 not (yet), -1 with *err.
 */
static int
switch_if_rotated(struct follow *f, int64_t now_ms, size_t got, follow_fn fn,
    void *arg, struct fed_err *err)
{
	struct stat pst;

	if (stat(f->path, &pst) != 0 || (pst.st_dev == f->pos.dev &&
	    pst.st_ino == f->pos.ino)) {
		f->rotated_ms = 0;
		return 0;
	}
	if (f->rotated_ms == 0) {
		/* First sight: give the old file one more quiet poll. */
		f->rotated_ms = now_ms;
		return 0;
	}
	if (got > 0 && now_ms - f->rotated_ms < FOLLOW_ROTATE_GRACE_MS)
		return 0;
	if (retire(f, now_ms, fn, arg) != 0) {
		/* No memory to keep it: end it here. */
		if (drop_partial(f, fn, arg, "line cut by rotation") != 0)
			return -1;
		close(f->fd);
		f->fd = -1;
	}
	if (open_path(f, err) != 0)
		return -1;
	return f->fd >= 0 ? 1 : 0;
}

int
follow_poll(struct follow *f, int64_t now_ms, follow_fn fn, void *arg,
    struct fed_err *err)
{
	size_t got;
	int r;

	err->msg[0] = '\0';
	if (f->follow && poll_old(f, now_ms, fn, arg, err) != 0)
		return -1;
	if (f->fd < 0) {
		if (!f->follow)
			return 0;
		if (open_path(f, err) != 0)
			return -1;
		if (f->fd < 0)
			return 0;
	}
	if (f->follow && restart_if_truncated(f, fn, arg, err) != 0)
		return -1;
	if ((r = drain(f, fn, arg, &got, err)) != 0)
		return r;
	if (!f->follow) {
		f->eof = 1;
		return 0;
	}
	head_remember(f);
	return switch_if_rotated(f, now_ms, got, fn, arg, err);
}

void
follow_position(struct follow *f, struct follow_pos *p)
{
	uint64_t h;
	uint32_t n;

	if (f->fd >= 0 && f->pos.headlen < FOLLOW_HEAD &&
	    f->pos.off > (off_t)f->pos.headlen) {
		n = f->pos.off < FOLLOW_HEAD ? (uint32_t)f->pos.off : FOLLOW_HEAD;
		if (head_hash(f->fd, n, &h) == 0) {
			f->pos.headlen = n;
			f->pos.headhash = h;
		}
	}
	*p = f->pos;
	p->skipping = f->skipping;
}

int
follow_old_positions(struct follow *f, struct follow_pos *p)
{
	int i, n = 0;

	for (i = 0; i < FOLLOW_OLD_MAX; i++)
		if (f->old[i] != NULL) {
			p[n] = f->old[i]->pos;
			p[n++].skipping = f->old[i]->skipping;
		}
	return n;
}

void
follow_end_old(struct follow *f, follow_fn fn, void *arg)
{
	int i;

	for (i = 0; i < FOLLOW_OLD_MAX; i++)
		if (f->old[i] != NULL) {
			old_end(f->old[i], fn, arg);
			f->old[i] = NULL;
		}
}

void
follow_close(struct follow *f, follow_fn fn, void *arg)
{
	follow_end_old(f, fn, arg);
	(void)drop_partial(f, fn, arg, "last line has no newline");
	if (f->fd >= 0 && (f->path != NULL || f->owned))
		close(f->fd);
	free(f->buf);
	free(f->name);
	free(f->path);
	memset(f, 0, sizeof *f);
	f->fd = -1;
}

void
follow_pos_write(FILE *fp, const char *tag, const struct follow_pos *p)
{
	fprintf(fp, "%s\t%ju\t%ju\t%jd\t%" PRIu64 "\t%" PRIu32 "\t%016" PRIx64
	    "\t%u\n", tag, (uintmax_t)p->dev, (uintmax_t)p->ino,
	    (intmax_t)p->off, p->line, p->headlen, p->headhash,
	    p->skipping ? 1u : 0u);
}

/* The longest saved position taken back: what follow_pos_write writes
 * is under half of it, leading zeros and all. */
#define POS_LINE_MAX	255

int
follow_pos_parse(const char *line, size_t n, const char *tag,
    struct follow_pos *p)
{
	struct fed_str f[8];
	uint64_t v[5];
	size_t i;

	if (n > POS_LINE_MAX || fed_split_tabs(line, n, f, 8) != 8 ||
	    !fed_str_eq(f[0], tag))
		return -1;
	for (i = 0; i < 5; i++)
		if (fed_parse_u64(f[1 + i].p, f[1 + i].n, UINT64_MAX,
		    &v[i]) != 0)
			return -1;
	if (v[4] > FOLLOW_HEAD || v[2] > INT64_MAX || f[6].n != 16 ||
	    (!fed_str_eq(f[7], "0") && !fed_str_eq(f[7], "1")))
		return -1;
	for (i = 0; i < 16; i++)
		if (!((f[6].p[i] >= '0' && f[6].p[i] <= '9') ||
		    (f[6].p[i] >= 'a' && f[6].p[i] <= 'f')))
			return -1;
	p->skipping = f[7].p[0] == '1';
	p->dev = (dev_t)v[0];
	p->ino = (ino_t)v[1];
	p->off = (off_t)v[2];
	p->line = v[3];
	p->headlen = (uint32_t)v[4];
	/* Sixteen hex digits, and strtoull stops at the tab after them. */
	p->headhash = strtoull(f[6].p, NULL, 16);
	return 0;
}
