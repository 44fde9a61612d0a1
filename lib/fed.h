/* fed.h: what every fedkit module shares: slices, errors, exit codes. */
#ifndef FED_H
#define FED_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* Exit codes shared by every tool (fedkit(7) EXIT STATUS). */
enum {
	FED_EXIT_OK = 0,	/* success */
	FED_EXIT_NO = 1,	/* a policy or lookup "no" */
	FED_EXIT_USAGE = 2,	/* bad usage or bad input */
	FED_EXIT_SYS = 3	/* a system error */
};

/* A slice of someone else's buffer: never NUL-terminated, never owned. */
struct fed_str {
	const char *p;
	size_t n;
};

#define FED_STR_NULL ((struct fed_str){ NULL, 0 })

/*
 * A library error: a complete message ready for `tool: message`.
 * Library code fills it and returns -1; only front ends print.
 */
struct fed_err {
	char msg[512];
};

void fed_err_set(struct fed_err *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int fed_str_eq(struct fed_str, const char *);
int fed_str_caseeq(struct fed_str, const char *);
/* A new NUL-terminated copy of n bytes of a slice, which (unlike
 * strndup's argument) need not be a C string; NULL if out of memory. */
char *fed_strdup_n(const char *p, size_t n);
/*
 * Which file a path names, as far as noticing an edit or a replacement
 * needs: a list, the edge cache and fed.conf are reloaded when it
 * changes.  exists: 1 yes, 0 no (ENOENT), -1 could not be told.
 */
struct fed_ident {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
};
struct stat;
void fed_ident_of(struct fed_ident *, const struct stat *);	/* exists = 1 */
int fed_ident_same(const struct fed_ident *, const struct fed_ident *);
/* The identity of the file at path: exists 0 if there is none, -1 if it
 * cannot be told (stat failed otherwise), so the caller reports why. */
void fed_ident_path(struct fed_ident *, const char *path);

/*
 * A growable byte buffer (a zeroed one is empty): what fedgate has to
 * pass on and cannot write yet.  It starts at FED_BUF_FIRST bytes and
 * doubles, so a stream of messages costs few reallocs.
 */
#define FED_BUF_FIRST	65536
struct fed_buf {
	char *p;
	size_t n, cap;
};
/* Append n bytes: 0, or -1 if out of memory (the buffer unchanged). */
int fed_buf_add(struct fed_buf *, const void *p, size_t n);
/* Drop the first n bytes (n <= the buffer's n). */
void fed_buf_drop(struct fed_buf *, size_t n);
void fed_buf_free(struct fed_buf *);

/* Write all n bytes, again after EINTR: 0, or -1 with errno if a write
 * failed or wrote nothing (a blocking descriptor only). */
int fed_write_all(int fd, const void *p, size_t n);

/* Milliseconds: wall clock since the epoch (times in files and logs),
 * and a monotonic clock (deadlines, which a clock step must not move). */
int64_t fed_now_ms(void);
int64_t fed_mono_ms(void);

/* A new string a followed by b (for PATH.lock and the like); NULL if out
 * of memory. */
char *fed_concat(const char *a, const char *b);

/* Copy a slice into a NUL-terminated buffer, truncating; returns dst. */
char *fed_str_copy(char *dst, size_t dstsz, struct fed_str);

/*
 * Quote untrusted text for an error message: "text" with every byte that
 * is not printable ASCII (and '"', '\\') as \xhh, cut after FED_QUOTE_SHOW
 * bytes with "..." so a 100 KB token cannot fill the message.  `out` must
 * hold FED_QUOTE_MAX bytes.
 */
#define FED_QUOTE_SHOW	64
#define FED_QUOTE_MAX	(FED_QUOTE_SHOW * 4 + 8)
void fed_quote(char out[FED_QUOTE_MAX], const char *p, size_t n);
/*
 * The same, cut after `show` bytes (at most FED_QUOTE_SHOW).  A bad
 * line of a file is quoted with FED_QUOTE_LINE or less: a file named
 * where a list or fed.conf belongs may be anybody's secret (a list path
 * pointing at /etc/shadow), so a diagnostic shows only enough of it to
 * find the line.
 */
#define FED_QUOTE_LINE	40
void fed_quote_prefix(char out[FED_QUOTE_MAX], const char *p, size_t n,
    size_t show);

/*
 * SipHash-2-4 of n bytes under a 128-bit key: a keyed hash, so a partner
 * who does not know the key cannot craft values that collide (the state's
 * URI sets, fedstat's tallies).
 */
uint64_t fed_siphash(const uint64_t key[2], const char *p, size_t n);

/*
 * FNV-1a, 64 bits: a stable unkeyed hash, the same on every machine, for
 * what is written down or must match across processes (a To tag, a resume
 * file's head hash).  h is FED_FNV1A64_OFFSET to start, or a previous
 * result to go on.
 */
#define FED_FNV1A64_OFFSET	0xcbf29ce484222325ULL
uint64_t fed_fnv1a64(uint64_t h, const void *p, size_t n);

/*
 * Diagnostics (fedkit(7) DIAGNOSTICS): one sink for every warning the
 * library and the front ends give.  The library never writes to a
 * descriptor itself; the front end points the sink at stderr (the
 * default) or at syslog, as fedgate does when its stderr is the partner's
 * connection (under inetd fds 0, 1 and 2 are all the socket).
 */
#define FED_DIAG_MAX	2048	/* longer messages are cut */
extern const char *fed_progname;
typedef void fed_diag_sink(int priority, const char *msg);
/* The sink for what follows; NULL restores stderr. */
void fed_diag_set(fed_diag_sink *);
/* `progname: msg` as one write(2) to fd 2. */
void fed_diag_stderr(int priority, const char *msg);
/* syslog(3), daemon facility, tagged with progname and the PID; the front
 * end calls fed_diag_syslog_open first. */
void fed_diag_syslog_open(void);
void fed_diag_syslog(int priority, const char *msg);
/* Through the sink: priority as syslog(3)'s, the message without the
 * program name or a newline. */
void fed_diag(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* fed_diag at LOG_WARNING; fed_warn appends strerror(errno). */
void fed_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fed_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For front ends only: the same at LOG_ERR, then exit(code). */
_Noreturn void fed_errx(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
_Noreturn void fed_err(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Read a whole file, NUL-terminated for convenience (len excludes it):
 * fed.conf, a list, the watch list, the edge cache.  maxlen is the
 * caller's bound on what that file can be; a longer file is an error
 * (errno EFBIG), never a cut one.  Missing file: -1, errno ENOENT, and
 * *err says "PATH: No such file or directory".
 */
int fed_read_file(const char *path, size_t maxlen, char **buf, size_t *len,
    struct fed_err *);

/*
 * The same from an open descriptor, from its current offset to its end,
 * not closed: for a reader that fstat()s the descriptor and needs the
 * identity it records to be that of the bytes read, or reads a pipe.
 * `path` names the file in messages.
 */
int fed_read_fd(int fd, const char *path, size_t maxlen, char **buf,
    size_t *len, struct fed_err *);
/* What every size limit says when something is over it: "NAME: larger
 * than LIMIT", the limit exact in the largest of bytes, KiB, MiB or GiB
 * that says it exactly ("1 MiB"). */
void fed_err_too_big(struct fed_err *, const char *name, size_t limit);

/*
 * The unsigned decimal number that is the whole slice: one digit or more
 * and nothing else (no sign, no space), at most max.  0 and *out, or -1
 * (*out untouched).  Leading zeros pass: a caller that refuses them, or
 * bounds the length, says so around the call.
 */
int fed_parse_u64(const char *p, size_t n, uint64_t max, uint64_t *out);

/*
 * Cut a line (without its newline) at every tab: the number of fields it
 * has (1 or more: no tab is one field, and a tab at the end leaves an
 * empty last one), of which the first `max` are stored in f.  A count
 * above max is for the caller to refuse or ignore.
 */
size_t fed_split_tabs(const char *line, size_t n, struct fed_str *f,
    size_t max);

#endif
