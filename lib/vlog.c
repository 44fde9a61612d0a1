/* vlog.c: the verdict log line (fedkit(7) Verdict log), written and read. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vlog.h"

/* The longest line: the partner fields at their caps, our own fields at
 * their longest ("federation_off", "observe"), 8 tabs and the newline. */
_Static_assert(VLOG_PEER_MAX + VLOG_PARTNER_MAX + VLOG_METHOD_MAX +
    VLOG_URI_MAX + VLOG_CALLID_MAX + VLOG_TIME_LEN + 7 + 14 + 3 + 8 + 1 <=
    VLOG_LINE_MAX, "a verdict log line must fit VLOG_LINE_MAX");

#define MS_PER_DAY INT64_C(86400000)
/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z */
#define TIME_MIN_MS (INT64_C(-719528) * MS_PER_DAY)
#define TIME_MAX_MS (INT64_C(2932897) * MS_PER_DAY - 1)

static const char hexdig[] = "0123456789abcdef";

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no timegm(3), no TZ, no locale. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static unsigned
days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

static char *
put_digits(char *p, unsigned v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

size_t
vlog_time_format(char *buf, int64_t time_ms)
{
	struct tm tm;
	time_t secs;
	int64_t s;
	unsigned ms;
	char *p = buf;

	/* Clamped to the years RFC 3339 can write. */
	if (time_ms < TIME_MIN_MS)
		time_ms = TIME_MIN_MS;
	if (time_ms > TIME_MAX_MS)
		time_ms = TIME_MAX_MS;
	s = time_ms / 1000;
	if (time_ms % 1000 < 0)		/* floor, also before 1970 */
		s--;
	ms = (unsigned)(time_ms - s * 1000);
	secs = (time_t)s;
	if (gmtime_r(&secs, &tm) == NULL)
		memset(&tm, 0, sizeof tm);	/* not reached with 64-bit time_t */
	p = put_digits(p, (unsigned)(tm.tm_year + 1900), 4);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_sec, 2);
	*p++ = '.';
	p = put_digits(p, ms, 3);
	*p++ = 'Z';
	*p = '\0';
	return (size_t)(p - buf);
}

/* n decimal digits at p, or -1. */
static int
get_digits(const char *p, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/*
 * Exactly `YYYY-MM-DDTHH:MM:SS.mmmZ`: upper-case T and Z, milliseconds
 * required, no offset other than Z, no leap second (we never write one).
 */
int
vlog_time_parse(const char *p, size_t n, int64_t *time_ms)
{
	int y, mo, d, h, mi, s, ms;

	if (n != VLOG_TIME_LEN || p[4] != '-' || p[7] != '-' || p[10] != 'T' ||
	    p[13] != ':' || p[16] != ':' || p[19] != '.' || p[23] != 'Z')
		return -1;
	if ((y = get_digits(p, 4)) < 0 || (mo = get_digits(p + 5, 2)) < 0 ||
	    (d = get_digits(p + 8, 2)) < 0 || (h = get_digits(p + 11, 2)) < 0 ||
	    (mi = get_digits(p + 14, 2)) < 0 ||
	    (s = get_digits(p + 17, 2)) < 0 || (ms = get_digits(p + 20, 3)) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 ||
	    (unsigned)d > days_in_month((unsigned)y, (unsigned)mo) ||
	    h > 23 || mi > 59 || s > 59)
		return -1;
	*time_ms = days_from_civil(y, (unsigned)mo, (unsigned)d) * MS_PER_DAY +
	    ((int64_t)h * 3600 + mi * 60 + s) * 1000 + ms;
	return 0;
}

/*
 * Escape one value from a partner into out, at most cap bytes, never
 * cutting an escape sequence; returns the bytes written.
 */
static size_t
escape_field(char *out, size_t cap, struct fed_str v)
{
	size_t o = 0, i;

	if (v.n == 0 || v.p == NULL) {
		out[0] = '-';
		return 1;
	}
	if (v.n == 1 && v.p[0] == '-') {	/* not "none" */
		memcpy(out, "\\x2d", 4);
		return 4;
	}
	for (i = 0; i < v.n; i++) {
		unsigned char c = (unsigned char)v.p[i];
		char e = 0;

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 > cap)
				break;
			out[o++] = (char)c;
			continue;
		}
		switch (c) {
		case '\\': e = '\\'; break;
		case '\t': e = 't'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		}
		if (e != 0) {
			if (o + 2 > cap)
				break;
			out[o++] = '\\';
			out[o++] = e;
		} else {
			if (o + 4 > cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hexdig[c >> 4];
			out[o++] = hexdig[c & 15];
		}
	}
	return o;
}

size_t
vlog_format(char *buf, const struct vlog_rec *r)
{
	const char *name;
	size_t o, n;

	o = vlog_time_format(buf, r->time_ms);
	buf[o++] = '\t';
	o += escape_field(buf + o, VLOG_PEER_MAX, r->peer);
	buf[o++] = '\t';
	o += escape_field(buf + o, VLOG_PARTNER_MAX, r->partner);
	buf[o++] = '\t';
	o += escape_field(buf + o, VLOG_METHOD_MAX, r->method);
	buf[o++] = '\t';
	o += escape_field(buf + o, VLOG_URI_MAX, r->uri);
	buf[o++] = '\t';
	name = verdict_name(r->verdict);
	memcpy(buf + o, name, n = strlen(name));
	o += n;
	buf[o++] = '\t';
	name = reason_name(r->reason);
	memcpy(buf + o, name, n = strlen(name));
	o += n;
	buf[o++] = '\t';
	/* Only a code a response can carry; anything else is "none". */
	if (r->code >= 100 && r->code <= 699)
		o = (size_t)(put_digits(buf + o, (unsigned)r->code, 3) - buf);
	else
		buf[o++] = '-';
	buf[o++] = '\t';
	o += escape_field(buf + o, VLOG_CALLID_MAX, r->callid);
	buf[o++] = '\n';
	return o;
}

/*
 * Never through a symbolic link (one planted by fedgate's user would make
 * a root fedgate append to any file).  A log made by root (a pipe-mode
 * run by an operator) is given its directory's owner, as afile does:
 * fedgate's own user must still be able to append to it (fedkit(7)).
 */
int
vlog_open(const char *path)
{
	const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY |
	    O_NOFOLLOW;
	struct stat ds;
	char *dir, *slash;
	int fd, saved;

	if ((fd = open(path, flags)) >= 0 || errno != ENOENT)
		return fd;
	if ((fd = open(path, flags | O_CREAT | O_EXCL, 0640)) < 0) {
		if (errno == EEXIST)	/* another fedgate made it first */
			return open(path, flags);
		return -1;
	}
	if (geteuid() != 0 || (dir = strdup(path)) == NULL)
		return fd;
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	saved = errno;
	if (stat(dir, &ds) == 0 && ds.st_uid != 0 &&
	    fchown(fd, ds.st_uid, ds.st_gid) != 0)
		ds.st_uid = 0;	/* best effort: fedgate's open says why */
	errno = saved;
	free(dir);
	return fd;
}

int
vlog_follow(int fd, const char *path)
{
	struct stat now, held;
	int nfd, r;

	if (fstat(fd, &held) != 0)
		return -1;
	if (lstat(path, &now) == 0) {
		if (now.st_dev == held.st_dev && now.st_ino == held.st_ino)
			return 0;
	} else if (errno != ENOENT || held.st_nlink > 0)
		return errno == ENOENT ? 0 : -1;
	if ((nfd = vlog_open(path)) < 0)
		return -1;
	r = dup3(nfd, fd, O_CLOEXEC);
	close(nfd);
	return r < 0 ? -1 : 1;
}

/*
 * One write(2) per line: O_APPEND makes each one land whole at the end,
 * whatever other fedgate processes append meanwhile.  A short write is
 * an error rather than something to finish, since a second write could
 * land after another process's line and split this one.
 */
int
vlog_write(int fd, const struct vlog_rec *r)
{
	char buf[VLOG_LINE_MAX];
	size_t n = vlog_format(buf, r);
	ssize_t w;

	do
		w = write(fd, buf, n);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	if ((size_t)w != n) {
		errno = EIO;	/* XXX the torn line stays in the log */
		return -1;
	}
	return 0;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
vlog_unescape(struct fed_str s, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < s.n; i++, o++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '\\' && i + 1 < s.n) {
			switch (s.p[i + 1]) {
			case '\\': c = '\\'; i++; break;
			case 't': c = '\t'; i++; break;
			case 'n': c = '\n'; i++; break;
			case 'r': c = '\r'; i++; break;
			case 'x':
				if (i + 3 < s.n && hexval((unsigned char)s.p[i + 2]) >= 0 &&
				    hexval((unsigned char)s.p[i + 3]) >= 0) {
					c = (unsigned char)(
					    hexval((unsigned char)s.p[i + 2]) << 4 |
					    hexval((unsigned char)s.p[i + 3]));
					i += 3;
				}
				break;
			}
		}
		if (o < outsz)
			out[o] = (char)c;
	}
	return o;
}

/* A byte that a line never holds raw: controls, DEL, and from 0x80 up. */
#define RAW(c) ((unsigned char)((unsigned char)(c) - 0x20) > 0x5e)

/*
 * Does p[0..n) hold a raw byte?  This is the parser's hot loop, so it
 * looks at 8 bytes at a time (the bit tricks of "Bit Twiddling Hacks":
 * a byte below 0x20, a byte equal to 0x7f, a byte with its top bit set);
 * at -O2 no compiler vectorizes the plain loop for us.
 */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static int
has_raw(const char *p, size_t n)
{
	uint64_t w, lt, del;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		lt = (w - ONES * 0x20) & ~w & HIGHS;
		del = ((w ^ (ONES * 0x7f)) - ONES) & ~(w ^ (ONES * 0x7f)) & HIGHS;
		if ((lt | del | (w & HIGHS)) != 0)
			return 1;
	}
	for (; i < n; i++)
		if (RAW(p[i]))
			return 1;
	return 0;
}

static const char *const field_names[9] = {
	"time", "peer", "partner", "method", "uri", "verdict", "reason",
	"code", "callid",
};

/* A raw byte c in field k (from 0, perhaps past the ninth). */
static int
raw_byte(int k, char c, struct fed_err *err)
{
	fed_err_set(err, "field %d%s%s%s: raw byte 0x%02x (must be escaped)",
	    k + 1, k < 9 ? " (" : "", k < 9 ? field_names[k] : "",
	    k < 9 ? ")" : "", (unsigned char)c);
	return -1;
}

/* A field quoted in a diagnostic: escaped, so a log line cannot put
 * control bytes on an operator's terminal, and cut (fed_quote). */
static const char *
quoted(char q[FED_QUOTE_MAX], struct fed_str s)
{
	fed_quote(q, s.p, s.n);
	return q;
}

/* Check the escapes of a partner field; `-` gives the empty slice. */
static int
check_escaped(struct fed_str *s, int field, struct fed_err *err)
{
	size_t i;

	if (s->n == 1 && s->p[0] == '-') {
		s->n = 0;
		return 0;
	}
	for (i = 0; i < s->n; i++) {
		const char *bs = memchr(s->p + i, '\\', s->n - i);

		if (bs == NULL)
			break;
		i = (size_t)(bs - s->p);
		if (i + 1 < s->n && (s->p[i + 1] == '\\' || s->p[i + 1] == 't' ||
		    s->p[i + 1] == 'n' || s->p[i + 1] == 'r')) {
			i++;
			continue;
		}
		if (i + 3 < s->n && s->p[i + 1] == 'x' &&
		    hexval((unsigned char)s->p[i + 2]) >= 0 &&
		    hexval((unsigned char)s->p[i + 3]) >= 0) {
			i += 3;
			continue;
		}
		fed_err_set(err, "field %d (%s): bad escape at byte %zu",
		    field + 1, field_names[field], i + 1);
		return -1;
	}
	return 0;
}

/*
 * Refuse any control or non-ASCII byte but the tabs: we escape them all
 * when writing.  The first such byte is named, even past the ninth
 * field, before the count of fields is.
 */
static int
check_raw_bytes(const char *line, size_t len, const struct fed_str f[9],
    size_t nf, struct fed_err *err)
{
	size_t i;
	int k;

	for (k = 0; k < 9 && (size_t)k < nf; k++)
		if (has_raw(f[k].p, f[k].n)) {
			for (i = 0; !RAW(f[k].p[i]); i++)
				;
			return raw_byte(k, f[k].p[i], err);
		}
	/* Past f[8] (k is 9), byte by byte: the line is refused anyway. */
	for (i = nf > 9 ? (size_t)(f[8].p + f[8].n - line) + 1 : len;
	    i < len; i++) {
		if (line[i] == '\t')
			k++;
		else if (RAW(line[i]))
			return raw_byte(k, line[i], err);
	}
	return 0;
}

/* Nine fields, none empty: an absent value is written `-`. */
static int
check_field_count(const struct fed_str f[9], size_t nf, struct fed_err *err)
{
	int k;

	if (nf != 9) {
		fed_err_set(err, "%zu field%s, want 9", nf, nf == 1 ? "" : "s");
		return -1;
	}
	for (k = 0; k < 9; k++)
		if (f[k].n == 0) {
			fed_err_set(err, "field %d (%s): empty (want a value "
			    "or -)", k + 1, field_names[k]);
			return -1;
		}
	return 0;
}

/* Fields 6 and 7: a known verdict, and a reason that goes with it. */
static int
parse_verdict_reason(struct fed_str fv, struct fed_str fr, enum verdict *v,
    enum reason *rs, struct fed_err *err)
{
	char q[FED_QUOTE_MAX];

	if (verdict_from_name(fv.p, fv.n, v) < 0) {
		fed_err_set(err, "field 6 (verdict): unknown verdict %s",
		    quoted(q, fv));
		return -1;
	}
	if (reason_from_name(fr.p, fr.n, rs) < 0) {
		fed_err_set(err, "field 7 (reason): unknown reason %s",
		    quoted(q, fr));
		return -1;
	}
	if (reason_verdict(*rs) != *v) {
		fed_err_set(err, "field 7 (reason): reason \"%s\" does not go "
		    "with verdict \"%s\"", reason_name(*rs), verdict_name(*v));
		return -1;
	}
	return 0;
}

/* Field 8: the code fedgate answered with, -1 for `-`. */
static int
parse_code(struct fed_str f, enum verdict v, int *code, struct fed_err *err)
{
	char q[FED_QUOTE_MAX];

	if (f.n == 1 && f.p[0] == '-')
		*code = -1;
	else if (f.n != 3 || (*code = get_digits(f.p, 3)) < 100 ||
	    *code > 699) {
		fed_err_set(err, "field 8 (code): bad code %s (want - or "
		    "100 to 699)", quoted(q, f));
		return -1;
	} else if (v == VERDICT_OBSERVE ||
	    (v == VERDICT_ACCEPT && *code != 503)) {
		/* An accepted request is answered by fedgate only when our
		 * server cannot be reached: 503 (fedkit(7) Verdict log). */
		fed_err_set(err, "field 8 (code): an %s line has no code of "
		    "its own (want -%s)", verdict_name(v),
		    v == VERDICT_ACCEPT ? ", or 503 when our server is down" :
		    "");
		return -1;
	}
	return 0;
}

int
vlog_parse(const char *line, size_t len, struct vlog_rec *r,
    struct fed_err *err)
{
	struct fed_str f[9];
	char q[FED_QUOTE_MAX];
	size_t nf;
	int k;
	enum verdict v;
	enum reason rs;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	nf = fed_split_tabs(line, len, f, 9);
	if (check_raw_bytes(line, len, f, nf, err) < 0 ||
	    check_field_count(f, nf, err) < 0)
		return -1;
	if (vlog_time_parse(f[0].p, f[0].n, &r->time_ms) < 0) {
		fed_err_set(err, "field 1 (time): bad time %s (want "
		    "YYYY-MM-DDTHH:MM:SS.mmmZ)", quoted(q, f[0]));
		return -1;
	}
	for (k = 1; k <= 4; k++)
		if (check_escaped(&f[k], k, err) < 0)
			return -1;
	if (check_escaped(&f[8], 8, err) < 0 ||
	    parse_verdict_reason(f[5], f[6], &v, &rs, err) < 0 ||
	    parse_code(f[7], v, &r->code, err) < 0)
		return -1;
	r->peer = f[1];
	r->partner = f[2];
	r->method = f[3];
	r->uri = f[4];
	r->verdict = v;
	r->reason = rs;
	r->callid = f[8];
	return 0;
}
