/* afilew.c: test helper for afile: read-modify-write a counter file.
 *   afilew PATH N [LINES]   add 1 to the counter N times, each a full rewrite
 *   afilew --check PATH     exit 0 and print the counter if the file is whole
 * The file is `count C`, LINES lines `line I C`, then `end C`: a torn or
 * mixed file fails the check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"

static long
check(const char *buf)
{
	long c, c2, i, lines = 0;
	const char *p = buf;
	int n;

	if (sscanf(p, "count %ld\n%n", &c, &n) != 1)
		return -1;
	for (p += n; strncmp(p, "line ", 5) == 0; p += n, lines++)
		if (sscanf(p, "line %ld %ld\n%n", &i, &c2, &n) != 2 ||
		    i != lines || c2 != c)
			return -1;
	if (sscanf(p, "end %ld\n%n", &c2, &n) != 1 || c2 != c || p[n] != '\0')
		return -1;
	return c;
}

int
main(int argc, char *argv[])
{
	struct fed_err err;
	struct afile af;
	char *buf;
	size_t len;
	long c, k, n, lines, i;

	if (argc == 3 && strcmp(argv[1], "--check") == 0) {
		if (fed_read_file(argv[2], 1 << 30, &buf, &len, &err) != 0) {
			fprintf(stderr, "afilew: %s\n", err.msg);
			return 1;
		}
		c = check(buf);
		free(buf);
		if (c < 0) {
			fprintf(stderr, "afilew: %s: torn file\n", argv[2]);
			return 1;
		}
		printf("%ld\n", c);
		return 0;
	}
	if (argc < 3)
		return 2;
	n = atol(argv[2]);
	lines = argc > 3 ? atol(argv[3]) : 10;
	for (k = 0; k < n; k++) {
		if (afile_begin(&af, argv[1], 0644, &err) != 0) {
			fprintf(stderr, "afilew: %s\n", err.msg);
			return 1;
		}
		c = 0;
		if (fed_read_file(argv[1], 1 << 30, &buf, &len, &err) == 0) {
			c = check(buf);
			free(buf);
			if (c < 0) {
				fprintf(stderr, "afilew: torn file seen\n");
				afile_abort(&af);
				return 1;
			}
		}
		c++;
		fprintf(af.fp, "count %ld\n", c);
		for (i = 0; i < lines; i++)
			fprintf(af.fp, "line %ld %ld\n", i, c);
		fprintf(af.fp, "end %ld\n", c);
		if (afile_commit(&af, &err) != 0) {
			fprintf(stderr, "afilew: %s\n", err.msg);
			return 1;
		}
	}
	return 0;
}
