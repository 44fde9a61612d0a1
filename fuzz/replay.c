/* replay.c: feed files to a fuzz entry point without libFuzzer, so
 * `make check` replays the RFC corpora and saved crashers through the very
 * code the fuzzers exercise, under the sanitizers when built that way. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay(const char *path)
{
	FILE *f;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, r;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	for (;;) {
		if (cap - len < 65536) {
			uint8_t *nb = realloc(buf, cap = cap * 2 + 65536);

			if (nb == NULL) {
				perror("realloc");
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		if ((r = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += r;
	}
	if (ferror(f)) {
		perror(path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int
main(int argc, char *argv[])
{
	int i, n = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: replay file...\n");
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (replay(argv[i]) != 0)
			return 1;
		n++;
	}
	printf("%d\n", n);
	return 0;
}
