/* 0160-afile: afile_read's size limit and afile's error paths. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afile.h"
#include "tap.h"

static void
write_file(const char *path, size_t n)
{
	FILE *f = fopen(path, "w");
	size_t i;

	for (i = 0; f != NULL && i < n; i++)
		fputc('a' + (int)(i % 26), f);
	if (f != NULL)
		fclose(f);
}

int
main(void)
{
	char dir[] = "/tmp/fedkit-afile.XXXXXX", path[256], lock[300];
	struct fed_err e = { "" };
	struct afile af;
	struct stat st;
	char *buf = NULL;
	size_t len = 0, n;

	umask(022);	/* the lock file's mode is the process's to mask */
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/f", dir);
	snprintf(lock, sizeof lock, "%s.lock", path);

	/* Exactly maxlen is fine, one byte more is not. */
	for (n = 0; n < 5000; n += 997) {
		write_file(path, n);
		ok(afile_read(path, n, &buf, &len, &e) == 0 && len == n &&
		    buf[len] == '\0', "a %zu-byte file with maxlen %zu is read",
		    n, n);
		free(buf);
		buf = NULL;
		write_file(path, n + 1);
		ok(afile_read(path, n, &buf, &len, &e) == -1 && errno == EFBIG &&
		    strstr(e.msg, "larger than") != NULL,
		    "a %zu-byte file with maxlen %zu is refused: %s", n + 1, n,
		    e.msg);
	}
	ok(afile_read(dir, 100, &buf, &len, &e) == -1 &&
	    strstr(e.msg, "Is a directory") != NULL,
	    "a directory is refused: %s", e.msg);

	/* A commit writes the new contents; an abort leaves the old. */
	ok(afile_begin(&af, path, 0640, &e) == 0, "begin");
	fputs("new\n", af.fp);
	ok(afile_commit(&af, &e) == 0, "commit");
	ok(afile_read(path, 100, &buf, &len, &e) == 0 &&
	    strcmp(buf, "new\n") == 0, "the new contents are in place");
	free(buf);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640,
	    "the file has the requested mode");
	ok(stat(lock, &st) == 0 && (st.st_mode & 0777) == 0644,
	    "the lock file is readable by others, so they can take the lock");
	ok(afile_begin(&af, path, 0640, &e) == 0, "begin again");
	fputs("discarded\n", af.fp);
	afile_abort(&af);
	ok(afile_read(path, 100, &buf, &len, &e) == 0 &&
	    strcmp(buf, "new\n") == 0, "an abort leaves the old contents");
	free(buf);
	ok(afile_commit(&af, &e) == -1, "a commit after abort is an error: %s",
	    e.msg);
	snprintf(lock, sizeof lock, "%s/missing/f", dir);
	ok(afile_begin(&af, lock, 0640, &e) == -1 &&
	    strstr(e.msg, "missing/f.lock") != NULL,
	    "begin in a missing directory names the lock file: %s", e.msg);

	unlink(path);
	snprintf(lock, sizeof lock, "%s.lock", path);
	unlink(lock);
	rmdir(dir);
	return done_testing();
}
