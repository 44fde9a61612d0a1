/* vlogw: append verdict log lines, or check that every line of a log parses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fed.h"
#include "vlog.h"

/*
 * vlogw FILE N TAG   append N lines with vlog_write; each Call-ID starts
 *                    `[TAG:i]` and goes on with hostile bytes, so that
 *                    lines are 1 to 3 KB once escaped
 * vlogw --check FILE print the number of lines that parse; exit 1 if any
 *                    does not (each bad one named on stderr)
 */
static void
usage(void)
{
	fprintf(stderr, "usage: vlogw FILE N TAG\n"
	    "       vlogw --check FILE\n");
	exit(FED_EXIT_USAGE);
}

static int
append(const char *path, long n, const char *tag)
{
	/* Bytes that take 1, 2 and 4 bytes escaped. */
	static const char junk[] = "abc\tdef\\gh\n\x01\xe9\xff-ij\rklmnop ";
	char cid[1600], uri[700];
	struct timespec ts;
	struct vlog_rec r;
	size_t len, i, hdr;
	long k;
	int fd;

	if ((fd = vlog_open(path)) < 0)
		fed_err(FED_EXIT_SYS, "%s", path);
	for (k = 0; k < n; k++) {
		hdr = (size_t)snprintf(cid, sizeof cid, "[%s:%ld]", tag, k);
		len = 300 + (size_t)(k * 37 % 1200);
		for (i = hdr; i < len; i++)
			cid[i] = junk[(i + (size_t)k) % (sizeof junk - 1)];
		for (i = 0; i < sizeof uri; i++)
			uri[i] = junk[(i * 7 + (size_t)k) % (sizeof junk - 1)];
		clock_gettime(CLOCK_REALTIME, &ts);
		memset(&r, 0, sizeof r);
		r.time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		r.peer = (struct fed_str){ "127.0.0.1:5061", 14 };
		r.partner = (struct fed_str){ tag, strlen(tag) };
		r.method = (struct fed_str){ "INVITE", 6 };
		r.uri = (struct fed_str){ uri, 100 + (size_t)(k % 500) };
		r.verdict = k % 3 == 0 ? VERDICT_REFUSE : VERDICT_ACCEPT;
		r.reason = k % 3 == 0 ? REASON_WATCH : REASON_DISCOVERED;
		r.code = k % 3 == 0 ? 403 : -1;
		r.callid = (struct fed_str){ cid, len };
		if (vlog_write(fd, &r) < 0)
			fed_err(FED_EXIT_SYS, "%s: write", path);
	}
	if (close(fd) < 0)
		fed_err(FED_EXIT_SYS, "%s: close", path);
	return FED_EXIT_OK;
}

static int
check(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0, good = 0, bad = 0;
	struct vlog_rec r;
	struct fed_err err;

	if (f == NULL)
		fed_err(FED_EXIT_SYS, "%s", path);
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] != '\n') {
			fed_warnx("%s:%ld: no newline at the end", path, lineno);
			bad++;
		} else if (vlog_parse(line, (size_t)n, &r, &err) < 0) {
			fed_warnx("%s:%ld: %s", path, lineno, err.msg);
			bad++;
		} else
			good++;
	}
	if (ferror(f))
		fed_err(FED_EXIT_SYS, "%s: read", path);
	free(line);
	fclose(f);
	printf("%ld\n", good);
	return bad != 0 ? FED_EXIT_NO : FED_EXIT_OK;
}

int
main(int argc, char **argv)
{
	char *end;
	long n;

	fed_progname = "vlogw";
	if (argc == 3 && strcmp(argv[1], "--check") == 0)
		return check(argv[2]);
	if (argc != 4)
		usage();
	errno = 0;
	n = strtol(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[2] || n < 0)
		fed_errx(FED_EXIT_USAGE, "bad count: %s", argv[2]);
	return append(argv[1], n, argv[3]);
}
