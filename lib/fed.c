/* fed.c: slices, library errors and the tools' diagnostics. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fed.h"

const char *fed_progname = "fedkit";

void
fed_err_set(struct fed_err *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
}

int
fed_str_eq(struct fed_str s, const char *z)
{
	size_t n = strlen(z);

	return s.n == n && (n == 0 || memcmp(s.p, z, n) == 0);
}

int
fed_str_caseeq(struct fed_str s, const char *z)
{
	size_t n = strlen(z);

	return s.n == n && (n == 0 || strncasecmp(s.p, z, n) == 0);
}

char *
fed_strdup_n(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		if (n > 0)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

char *
fed_str_copy(char *dst, size_t dstsz, struct fed_str s)
{
	size_t n = s.n;

	if (dstsz == 0)
		return dst;
	if (n >= dstsz)
		n = dstsz - 1;
	if (n > 0)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
	return dst;
}

void
fed_quote(char out[FED_QUOTE_MAX], const char *p, size_t n)
{
	fed_quote_prefix(out, p, n, FED_QUOTE_SHOW);
}

void
fed_quote_prefix(char out[FED_QUOTE_MAX], const char *p, size_t n,
    size_t show)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (show > FED_QUOTE_SHOW)
		show = FED_QUOTE_SHOW;
	out[o++] = '"';
	for (i = 0; i < n && i < show; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
}

static fed_diag_sink *diag_sink = fed_diag_stderr;

void
fed_diag_set(fed_diag_sink *sink)
{
	diag_sink = sink != NULL ? sink : fed_diag_stderr;
}

void
fed_diag_stderr(int priority, const char *msg)
{
	char line[FED_DIAG_MAX + 64];
	int n;
	ssize_t w;

	(void)priority;
	n = snprintf(line, sizeof line, "%s: %s\n", fed_progname, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line) {
		n = sizeof line - 1;
		line[n - 1] = '\n';
	}
	/* One write: lines of processes sharing a stderr never interleave.
	 * A diagnostic that cannot be written has nowhere else to go. */
	do
		w = write(STDERR_FILENO, line, (size_t)n);
	while (w < 0 && errno == EINTR);
}

void
fed_diag_syslog_open(void)
{
	openlog(fed_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
fed_diag_syslog(int priority, const char *msg)
{
	syslog(priority, "%s", msg);
}

static void __attribute__((format(printf, 3, 0)))
diag_v(int priority, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[FED_DIAG_MAX];
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (with_errno && (n = strlen(msg)) < sizeof msg)
		snprintf(msg + n, sizeof msg - n, ": %s", strerror(saved));
	diag_sink(priority, msg);
	errno = saved;
}

void
fed_diag(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_v(priority, 0, fmt, ap);
	va_end(ap);
}

void
fed_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_v(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
fed_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_v(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void
fed_errx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_v(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(code);
}

void
fed_err(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_v(LOG_ERR, 1, fmt, ap);
	va_end(ap);
	exit(code);
}

char *
fed_concat(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *s = malloc(na + nb + 1);

	if (s != NULL) {
		memcpy(s, a, na);
		memcpy(s + na, b, nb + 1);
	}
	return s;
}

void
fed_ident_of(struct fed_ident *id, const struct stat *st)
{
	id->exists = 1;
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec;
}

void
fed_ident_path(struct fed_ident *id, const char *path)
{
	struct stat st;

	memset(id, 0, sizeof *id);
	if (stat(path, &st) == 0)
		fed_ident_of(id, &st);
	else if (errno != ENOENT)
		id->exists = -1;
}

int
fed_ident_same(const struct fed_ident *a, const struct fed_ident *b)
{
	if (a->exists != b->exists)
		return 0;
	if (a->exists != 1)
		return 1;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_ns == b->mtime_ns;
}

int
fed_buf_add(struct fed_buf *b, const void *p, size_t n)
{
	size_t cap;
	char *np;

	if (b->n + n > b->cap) {
		cap = b->cap ? b->cap : FED_BUF_FIRST;
		while (cap < b->n + n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}

void
fed_buf_drop(struct fed_buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->n - n);
	b->n -= n;
}

void
fed_buf_free(struct fed_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

int
fed_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int64_t
fed_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
fed_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SipHash-2-4 (Aumasson and Bernstein); see fed.h. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
load_le64(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint64_t)u[0] | (uint64_t)u[1] << 8 | (uint64_t)u[2] << 16 |
	    (uint64_t)u[3] << 24 | (uint64_t)u[4] << 32 |
	    (uint64_t)u[5] << 40 | (uint64_t)u[6] << 48 | (uint64_t)u[7] << 56;
}

uint64_t
fed_siphash(const uint64_t key[2], const char *p, size_t n)
{
	uint64_t v0 = key[0] ^ 0x736f6d6570736575u;
	uint64_t v1 = key[1] ^ 0x646f72616e646f6du;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261u;
	uint64_t v3 = key[1] ^ 0x7465646279746573u;
	uint64_t m, b = (uint64_t)n << 56;
	size_t i, left = n & 7;

	for (i = 0; i + 8 <= n; i += 8) {
		m = load_le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	switch (left) {
	case 7: b |= (uint64_t)(unsigned char)p[i + 6] << 48; /* FALLTHROUGH */
	case 6: b |= (uint64_t)(unsigned char)p[i + 5] << 40; /* FALLTHROUGH */
	case 5: b |= (uint64_t)(unsigned char)p[i + 4] << 32; /* FALLTHROUGH */
	case 4: b |= (uint64_t)(unsigned char)p[i + 3] << 24; /* FALLTHROUGH */
	case 3: b |= (uint64_t)(unsigned char)p[i + 2] << 16; /* FALLTHROUGH */
	case 2: b |= (uint64_t)(unsigned char)p[i + 1] << 8; /* FALLTHROUGH */
	case 1: b |= (uint64_t)(unsigned char)p[i]; break;
	default: break;
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
fed_fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int
fed_read_file(const char *path, size_t maxlen, char **bufp, size_t *lenp,
    struct fed_err *err)
{
	int fd, rc, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		saved = errno;
		fed_err_set(err, "%s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	rc = fed_read_fd(fd, path, maxlen, bufp, lenp, err);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
fed_read_fd(int fd, const char *path, size_t maxlen, char **bufp,
    size_t *lenp, struct fed_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	ssize_t r;
	int saved;

	if (fstat(fd, &st) != 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	/* st_size is a hint only: the file may grow while we read it. */
	cap = (st.st_size > 0 && (size_t)st.st_size <= maxlen ?
	    (size_t)st.st_size : 4096) + 1;
	if ((buf = malloc(cap)) == NULL)
		goto fail;
	for (;;) {
		if (len + 1 == cap) {
			size_t ncap;
			char *nb;

			/* Room for maxlen bytes, the NUL, and one byte more
			 * to tell a file of maxlen bytes from a longer one. */
			if (len > maxlen)
				break;
			ncap = cap > (maxlen + 2) / 2 ? maxlen + 2 : cap * 2;
			if ((nb = realloc(buf, ncap)) == NULL)
				goto fail;
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > maxlen) {
		free(buf);
		fed_err_too_big(err, path, maxlen);
		errno = EFBIG;
		return -1;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	saved = errno;
	fed_err_set(err, "%s: %s", path, strerror(saved));
	free(buf);
	errno = saved;
	return -1;
}

void
fed_err_too_big(struct fed_err *err, const char *name, size_t limit)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB" };
	size_t u = 0;

	/* The largest unit that says it exactly (1 MiB, 256 MiB, 64 KiB),
	 * else bytes (4294967295 bytes), as the man pages give the limits. */
	while (limit >= 1024 && limit % 1024 == 0 && u + 1 < 4) {
		limit /= 1024;
		u++;
	}
	fed_err_set(err, "%s: larger than %zu %s", name, limit, unit[u]);
}

int
fed_parse_u64(const char *p, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		uint64_t d = (uint64_t)(unsigned char)p[i] - '0';

		/* v * 10 + d <= max, asked without overflowing. */
		if (d > 9 || d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

size_t
fed_split_tabs(const char *line, size_t n, struct fed_str *f, size_t max)
{
	const char *p = line, *end = line + n, *tab;
	size_t nf = 0;

	/* memchr finds a tab a word at a time: the log and state lines cut
	 * here are mostly long fields between few tabs. */
	for (;;) {
		tab = memchr(p, '\t', (size_t)(end - p));
		if (nf < max)
			f[nf] = (struct fed_str){ p, (size_t)((tab != NULL ?
			    tab : end) - p) };
		nf++;
		if (tab == NULL)
			return nf;
		p = tab + 1;
	}
}
