/* 0160-afile: fed_read_file's size limit, afile's error paths, and the owner of what root writes. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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


/* One rewrite of path through afile: 0 or -1. */
static int
rewrite(const char *path, int mode, const char *text, struct fed_err *e)
{
	struct afile af;

	if (afile_begin(&af, path, mode, e) != 0)
		return -1;
	fputs(text, af.fp);
	return afile_commit(&af, e);
}

/* Is path owned by uid:gid, with permission bits mode (-1: any)? */
static int
owned(const char *path, uid_t uid, gid_t gid, int mode)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		diag("  %s: %s", path, strerror(errno));
		return 0;
	}
	if (st.st_uid == uid && st.st_gid == gid &&
	    (mode < 0 || (st.st_mode & 07777) == (mode_t)mode))
		return 1;
	diag("  %s is %ld:%ld %04o", path, (long)st.st_uid, (long)st.st_gid,
	    (unsigned)(st.st_mode & 07777));
	return 0;
}

#define FEDKIT_UID 4242		/* fedgate's user, as far as the test goes */

/*
 * SPEC 3: a tool run as root never leaves a file fedgate's user cannot
 * use.  Run as root, afile gives what it writes to the owner of the file
 * it replaces, or of the directory; the lock file it creates too.
 */
static void
test_root_owner(void)
{
	char dir[200], f[256], g[256], h[256];
	char k[256], lock[300], target[256], cmd[300];
	struct fed_err e = { "" };
	struct afile af;
	char *buf;
	size_t len;
	int fd, lockfd, status;
	pid_t pid;

	if (geteuid() != 0) {
		ok(0, "run as root: afile's rule for files root writes (they "
		    "keep fedgate's user's owner) cannot be tested as uid %ld",
		    (long)geteuid());
		return;
	}
	if (tap_tmpdir(dir, sizeof dir, "fedkit-afile-root") == NULL ||
	    chown(dir, FEDKIT_UID, FEDKIT_UID) != 0 ||
	    chmod(dir, 0755) != 0) {
		ok(0, "scratch directory owned by %d: %s", FEDKIT_UID,
		    strerror(errno));
		return;
	}
	/* root's umask may well be 077: a lock file root made would then be
	 * root's alone, and fedgate's user could not open it to lock. */
	umask(077);
	snprintf(f, sizeof f, "%s/f", dir);
	snprintf(g, sizeof g, "%s/g", dir);
	snprintf(h, sizeof h, "%s/h", dir);
	snprintf(k, sizeof k, "%s/k", dir);
	snprintf(target, sizeof target, "%s/target", dir);

	/* fedgate's file, rewritten by root. */
	write_file(f, 10);
	if (chown(f, FEDKIT_UID, FEDKIT_UID) != 0 || chmod(f, 0640) != 0)
		diag("chown %s: %s", f, strerror(errno));
	if (!ok(rewrite(f, 0644, "by root\n", &e) == 0, "root rewrites a "
	    "file owned by %d", FEDKIT_UID))
		diag("  %s", e.msg);
	ok(owned(f, FEDKIT_UID, FEDKIT_UID, 0640),
	    "... it is still %d:%d, mode 0640 (not the mode asked for)",
	    FEDKIT_UID, FEDKIT_UID);
	snprintf(lock, sizeof lock, "%s.lock", f);
	ok(owned(lock, FEDKIT_UID, FEDKIT_UID, -1),
	    "... the lock file root created belongs to the directory's owner");

	/* A new file takes the directory's owner, and the mode asked for. */
	ok(rewrite(g, 0600, "new\n", &e) == 0, "root writes a new file");
	ok(owned(g, FEDKIT_UID, FEDKIT_UID, 0600),
	    "... it belongs to the directory's owner, with the mode asked for");

	/* The file's owner wins over the directory's. */
	write_file(h, 10);
	if (chown(h, FEDKIT_UID + 1, FEDKIT_UID + 2) != 0 || chmod(h, 0604))
		diag("chown %s: %s", h, strerror(errno));
	snprintf(lock, sizeof lock, "%s.lock", h);
	if ((fd = open(lock, O_RDONLY | O_CREAT, 0644)) >= 0) {
		if (fchown(fd, FEDKIT_UID + 1, FEDKIT_UID + 1) != 0)
			diag("fchown %s: %s", lock, strerror(errno));
		close(fd);
	}
	ok(rewrite(h, 0644, "x\n", &e) == 0 &&
	    owned(h, FEDKIT_UID + 1, FEDKIT_UID + 2, 0604),
	    "a file owned by another user keeps its owner, group and mode");
	ok(owned(lock, FEDKIT_UID + 1, FEDKIT_UID + 1, -1),
	    "... and an existing lock file is left as it is");

	/* afile_begin_held (the state directory's way) follows the rule. */
	ok(afile_lock(f, 0, &lockfd, &e) == 0 &&
	    afile_begin_held(&af, f, 0644, &e) == 0, "begin_held");
	fputs("held\n", af.fp);
	ok(afile_commit(&af, &e) == 0 &&
	    owned(f, FEDKIT_UID, FEDKIT_UID, 0640),
	    "... the file keeps its owner and mode");
	close(lockfd);

	/* A link planted in the directory lends nothing: neither its
	 * target's owner to the new file, nor ours to its target. */
	write_file(target, 10);
	chmod(target, 0600);	/* root's */
	if (symlink(target, k) != 0)
		diag("symlink %s: %s", k, strerror(errno));
	snprintf(lock, sizeof lock, "%s.lock", k);
	if (symlink(target, lock) != 0)
		diag("symlink %s: %s", lock, strerror(errno));
	ok(rewrite(k, 0644, "k\n", &e) == -1 && errno == ELOOP,
	    "a lock file linked elsewhere is refused, never followed: %s",
	    e.msg);
	unlink(lock);
	ok(rewrite(k, 0644, "k\n", &e) == 0 &&
	    owned(k, FEDKIT_UID, FEDKIT_UID, 0644),
	    "a symbolic link is replaced by a file of the directory's owner");
	ok(owned(target, 0, 0, 0600),
	    "... its target, and the lock file once linked to it, are not "
	    "chowned");

	/* The point of it all: fedgate's user can rewrite what root wrote. */
	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (setgid(FEDKIT_UID) != 0 || setuid(FEDKIT_UID) != 0)
			_exit(2);
		/* g is 0600: only its owner may read it. */
		if (fed_read_file(g, 100, &buf, &len, &e) != 0 ||
		    rewrite(f, 0644, "by fedgate\n", &e) != 0 ||
		    rewrite(g, 0600, "by fedgate\n", &e) != 0) {
			printf("# uid %d: %s\n", FEDKIT_UID, e.msg);
			fflush(stdout);
			_exit(1);
		}
		_exit(0);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0,
	    "uid %d can read and rewrite the files root wrote", FEDKIT_UID);
	ok(owned(f, FEDKIT_UID, FEDKIT_UID, 0644),
	    "... not root, the mode asked for is used, as always");

	/* In a directory of root's, root's files stay root's. */
	if (chown(dir, 0, 0) != 0)
		diag("chown %s: %s", dir, strerror(errno));
	unlink(g);
	ok(rewrite(g, 0644, "root\n", &e) == 0 && owned(g, 0, 0, 0644),
	    "in root's directory a new file is root's");

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	umask(022);
}

int
main(void)
{
	char dir[200], path[256], lock[300];
	struct fed_err e = { "" };
	struct afile af;
	struct stat st;
	char *buf = NULL;
	size_t len = 0, n;

	umask(022);	/* the lock file's mode is the process's to mask */
	if (tap_tmpdir(dir, sizeof dir, "fedkit-afile") == NULL) {
		perror("scratch directory");
		return 1;
	}
	snprintf(path, sizeof path, "%s/f", dir);
	snprintf(lock, sizeof lock, "%s.lock", path);

	/* Exactly maxlen is fine, one byte more is not. */
	for (n = 0; n < 5000; n += 997) {
		write_file(path, n);
		ok(fed_read_file(path, n, &buf, &len, &e) == 0 && len == n &&
		    buf[len] == '\0', "a %zu-byte file with maxlen %zu is read",
		    n, n);
		free(buf);
		buf = NULL;
		write_file(path, n + 1);
		ok(fed_read_file(path, n, &buf, &len, &e) == -1 && errno == EFBIG &&
		    strstr(e.msg, "larger than") != NULL,
		    "a %zu-byte file with maxlen %zu is refused: %s", n + 1, n,
		    e.msg);
	}
	ok(fed_read_file(dir, 100, &buf, &len, &e) == -1 &&
	    strstr(e.msg, "Is a directory") != NULL,
	    "a directory is refused: %s", e.msg);

	/* A commit writes the new contents; an abort leaves the old.  (A
	 * new file: run as root, a rewrite keeps the old file's mode.) */
	unlink(path);
	ok(afile_begin(&af, path, 0640, &e) == 0, "begin");
	fputs("new\n", af.fp);
	ok(afile_commit(&af, &e) == 0, "commit");
	ok(fed_read_file(path, 100, &buf, &len, &e) == 0 &&
	    strcmp(buf, "new\n") == 0, "the new contents are in place");
	free(buf);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640,
	    "the file has the requested mode");
	ok(stat(lock, &st) == 0 && (st.st_mode & 0777) == 0644,
	    "the lock file is readable by others, so they can take the lock");
	ok(afile_begin(&af, path, 0640, &e) == 0, "begin again");
	fputs("discarded\n", af.fp);
	afile_abort(&af);
	ok(fed_read_file(path, 100, &buf, &len, &e) == 0 &&
	    strcmp(buf, "new\n") == 0, "an abort leaves the old contents");
	free(buf);
	ok(afile_commit(&af, &e) == -1, "a commit after abort is an error: %s",
	    e.msg);
	snprintf(lock, sizeof lock, "%s/missing/f", dir);
	ok(afile_begin(&af, lock, 0640, &e) == -1 &&
	    strstr(e.msg, "missing/f.lock") != NULL,
	    "begin in a missing directory names the lock file: %s", e.msg);

	/* A planted PATH.lock link is never followed (fedkit(7) SECURITY):
	 * not to create its target, not to lock an existing one. */
	{
		char victim[300];
		int fd;

		snprintf(lock, sizeof lock, "%s.lock", path);
		snprintf(victim, sizeof victim, "%s/victim", dir);
		unlink(lock);
		ok(symlink(victim, lock) == 0, "a PATH.lock link is planted");
		ok(afile_begin(&af, path, 0640, &e) == -1 && errno == ELOOP &&
		    strstr(e.msg, "f.lock: a symbolic link") != NULL,
		    "afile_begin refuses it, naming the lock: %s", e.msg);
		ok(lstat(victim, &st) == -1 && errno == ENOENT,
		    "the link's target was not created");
		write_file(victim, 3);
		ok(afile_lock(path, 1, &fd, &e) == -1 && errno == ELOOP,
		    "a link to an existing file is refused too (shared lock)");
		ok(stat(victim, &st) == 0 && st.st_size == 3,
		    "the target is untouched");
		ok(fed_read_file(path, 100, &buf, &len, &e) == 0 &&
		    strcmp(buf, "new\n") == 0, "and the file is as it was");
		free(buf);
		unlink(victim);
		unlink(lock);
		ok(afile_begin(&af, path, 0640, &e) == 0 &&
		    lstat(lock, &st) == 0 && S_ISREG(st.st_mode),
		    "with the link gone, a lock file of its own: %s", e.msg);
		afile_abort(&af);
	}

	unlink(path);
	snprintf(lock, sizeof lock, "%s.lock", path);
	unlink(lock);
	rmdir(dir);

	test_root_owner();
	return done_testing();
}
