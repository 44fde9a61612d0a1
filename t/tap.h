/* tap.h: a small TAP producer for the C unit tests, run by prove. */
#ifndef TAP_H
#define TAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 0)))
static void tap_vreport(int ok, const char *fmt, va_list ap)
{
	printf("%sok %d - ", ok ? "" : "not ", ++tap_n);
	vprintf(fmt, ap);
	putchar('\n');
	if (!ok)
		tap_failed++;
	fflush(stdout);
}

__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vreport(cond, fmt, ap);
	va_end(ap);
	return cond;
}

__attribute__((format(printf, 1, 2), unused))
static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

__attribute__((format(printf, 3, 4), unused))
static int is_long(long got, long want, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vreport(got == want, fmt, ap);
	va_end(ap);
	if (got != want)
		diag("  got %ld, want %ld", got, want);
	return got == want;
}

/* Compare a (pointer, length) string with a C string. */
__attribute__((format(printf, 4, 5), unused))
static int is_mem(const char *got, size_t n, const char *want,
    const char *fmt, ...)
{
	va_list ap;
	int eq = got != NULL && strlen(want) == n && memcmp(got, want, n) == 0;

	va_start(ap, fmt);
	tap_vreport(eq, fmt, ap);
	va_end(ap);
	if (!eq)
		diag("  got '%.*s', want '%s'", got ? (int)n : 4,
		    got ? got : "NULL", want);
	return eq;
}

__attribute__((format(printf, 3, 4), unused))
static int is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int eq = got != NULL && want != NULL && strcmp(got, want) == 0;

	va_start(ap, fmt);
	tap_vreport(eq, fmt, ap);
	va_end(ap);
	if (!eq)
		diag("  got '%s', want '%s'", got ? got : "NULL",
		    want ? want : "NULL");
	return eq;
}

/* Print the plan at the end and exit non-zero if anything failed. */
__attribute__((unused))
static int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0 || tap_n == 0;
}

/* Test text made fit for a TAP description: one line, printable.  The
 * result lives in a static buffer until the next call. */
__attribute__((unused))
static const char *tap_esc(const char *s)
{
	static char buf[72];
	size_t o = 0;

	for (; *s != '\0' && o < sizeof buf - 5; s++)
		if (*s >= 0x20 && *s < 0x7f)
			buf[o++] = *s;
		else
			o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x",
			    (unsigned char)*s);
	buf[o] = '\0';
	return buf;
}

/* A scratch directory NAME.XXXXXX made under $TMPDIR (/tmp when unset or
 * empty), as the shell tests' t/lib.sh makes theirs: its path in BUF, or
 * NULL (errno set) when it does not fit or cannot be made. */
__attribute__((unused))
static char *tap_tmpdir(char *buf, size_t size, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(buf, size, "%s/%s.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", name);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return mkdtemp(buf);
}

/* Read a whole file (binary); NULL on error; *len set. */
__attribute__((unused))
static char *tap_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (n + 4096 > cap) {
			char *nb = realloc(buf, cap = (cap + 4096) * 2);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

#endif
