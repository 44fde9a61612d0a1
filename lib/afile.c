/* afile.c: lock, write a temporary file, fsync, rename: nothing half-written. */
#include <sys/file.h>
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"

static void
afile_release(struct afile *af)
{
	if (af->fp != NULL)
		fclose(af->fp);
	if (af->tmp != NULL)
		unlink(af->tmp);
	if (af->lockfd >= 0)
		close(af->lockfd);	/* drops the flock */
	free(af->tmp);
	free(af->path);
	af->fp = NULL;
	af->tmp = af->path = NULL;
	af->lockfd = -1;
}

/*
 * Temporary files are only ever created under the lock, so once we hold it
 * any PATH.tmp.* left in the directory belongs to a writer that died
 * (kill -9, power loss): remove them, or they would pile up forever.
 */
void
afile_remove_stale(const char *path)
{
	char *dcopy = strdup(path), *bcopy = strdup(path), *full;
	const char *dir, *base;
	struct dirent *de;
	size_t nb;
	DIR *d;

	if (dcopy == NULL || bcopy == NULL)
		goto out;
	dir = dirname(dcopy);
	base = basename(bcopy);
	nb = strlen(base);
	if ((d = opendir(dir)) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, nb) != 0 ||
		    strncmp(de->d_name + nb, ".tmp.", 5) != 0 ||
		    strlen(de->d_name + nb + 5) != 6)
			continue;
		if ((full = malloc(strlen(dir) + strlen(de->d_name) + 2)) == NULL)
			break;
		sprintf(full, "%s/%s", dir, de->d_name);
		unlink(full);
		free(full);
	}
	closedir(d);
out:
	free(dcopy);
	free(bcopy);
}

static int open_tmp(struct afile *, const char *, int, struct fed_err *);

/*
 * Who a new file in PATH's directory should belong to when root writes it
 * (fedkit(7) FILES: a tool run as root never leaves a file fedgate's user
 * cannot use): the owner, group and permissions of PATH itself when it is
 * a regular file (use_file), else the directory's owner and group, with
 * *mode left as the caller's.  The directory is opened once and PATH
 * looked at through it without following a symbolic link, so a link
 * planted in the directory cannot lend its target's owner.  0, or -1 with
 * errno.
 */
static int
heir_of(const char *path, int use_file, uid_t *uid, gid_t *gid, mode_t *mode)
{
	char *dcopy = strdup(path), *bcopy = strdup(path);
	struct stat st;
	int dfd = -1, rc = -1, saved;

	if (dcopy == NULL || bcopy == NULL)
		goto out;
	if ((dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
	    0 || fstat(dfd, &st) != 0)
		goto out;
	*uid = st.st_uid;
	*gid = st.st_gid;
	if (use_file && fstatat(dfd, basename(bcopy), &st,
	    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		*uid = st.st_uid;
		*gid = st.st_gid;
		/* Only the permission bits: never a set-id bit. */
		*mode = st.st_mode & 0777;
	}
	rc = 0;
out:
	saved = errno;
	if (dfd >= 0)
		close(dfd);
	free(dcopy);
	free(bcopy);
	errno = saved;
	return rc;
}

/*
 * Give the file open on fd, which we have just created, to uid:gid.  Only
 * through the descriptor: a path could be swapped for a link meanwhile.
 */
static int
give_fd(int fd, uid_t uid, gid_t gid)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -1;
	if (st.st_uid == uid && st.st_gid == gid)
		return 0;
	return fchown(fd, uid, gid);
}

/* How often afile_lock tries again when PATH.lock vanishes between our
 * attempt to create it and our attempt to open it. */
#define LOCK_OPEN_TRIES 8

int
afile_lock(const char *path, int shared, int *fdp, struct fed_err *err)
{
	char *lockpath = fed_concat(path, ".lock");
	int fd = -1, saved, created = 0, tries;
	uid_t uid;
	gid_t gid;
	mode_t mode = 0;

	*fdp = -1;
	if (lockpath == NULL) {
		saved = errno;
		fed_err_set(err, "%s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	/*
	 * flock needs no write access: a lock file made by one user can be
	 * taken by another (fedgate and fedlist may run as different users).
	 * Created with O_EXCL, so we know whether it is ours to give away:
	 * an existing one is never chowned (it may be a link to anything).
	 */
	/*
	 * Never through a symbolic link (O_NOFOLLOW): whoever can write
	 * the directory could plant PATH.lock -> /etc/nologin and have a
	 * root fedlist create, or lock, a file of their choosing.
	 */
	for (tries = 0; tries < LOCK_OPEN_TRIES; tries++) {
		fd = open(lockpath, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (fd >= 0) {
			created = 1;
			break;
		}
		if (errno != EEXIST)
			break;
		if ((fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_NOCTTY |
		    O_CLOEXEC)) >= 0 || errno != ENOENT)
			break;
	}
	if (fd < 0) {
		saved = errno;
		if (saved == ELOOP)
			fed_err_set(err, "%s: a symbolic link: lock files are "
			    "never followed (remove it)", lockpath);
		else
			fed_err_set(err, "%s: %s", lockpath, strerror(saved));
		free(lockpath);
		errno = saved;
		return -1;
	}
	/* Root's lock file would otherwise be root's, 0600 under umask 077,
	 * and fedgate's user could not open it to take the lock. */
	if (created && geteuid() == 0 &&
	    (heir_of(lockpath, 0, &uid, &gid, &mode) != 0 ||
	    give_fd(fd, uid, gid) != 0)) {
		saved = errno;
		fed_err_set(err, "%s: giving it to the directory's owner: %s",
		    lockpath, strerror(saved));
		close(fd);
		free(lockpath);
		errno = saved;
		return -1;
	}
	while (flock(fd, shared ? LOCK_SH : LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		saved = errno;
		fed_err_set(err, "%s: lock: %s", lockpath, strerror(saved));
		close(fd);
		free(lockpath);
		errno = saved;
		return -1;
	}
	free(lockpath);
	*fdp = fd;
	return 0;
}

int
afile_begin(struct afile *af, const char *path, int mode, struct fed_err *err)
{
	af->no_dirsync = 0;
	af->fp = NULL;
	af->tmp = NULL;
	af->lockfd = -1;
	if ((af->path = strdup(path)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(errno));
		afile_release(af);
		return -1;
	}
	if (afile_lock(path, 0, &af->lockfd, err) != 0) {
		afile_release(af);
		return -1;
	}
	afile_remove_stale(path);
	return open_tmp(af, path, mode, err);
}

int
afile_begin_held(struct afile *af, const char *path, int mode,
    struct fed_err *err)
{
	af->fp = NULL;
	af->tmp = NULL;
	af->lockfd = -1;
	af->no_dirsync = 0;
	if ((af->path = strdup(path)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	return open_tmp(af, path, mode, err);
}

static int
open_tmp(struct afile *af, const char *path, int mode, struct fed_err *err)
{
	mode_t m = (mode_t)mode;
	uid_t uid;
	gid_t gid;
	int fd;

	/* mkostemp's O_EXCL already refuses a planted link; O_NOFOLLOW says
	 * so in the flags too. */
	if ((af->tmp = fed_concat(path, ".tmp.XXXXXX")) == NULL ||
	    (fd = mkostemp(af->tmp, O_CLOEXEC | O_NOFOLLOW)) < 0) {
		fed_err_set(err, "%s: temporary file: %s", path, strerror(errno));
		free(af->tmp);
		af->tmp = NULL;
		afile_release(af);
		return -1;
	}
	/*
	 * Run as root, the new contents would become root's at the rename
	 * and fedgate's user could no longer rewrite them: they get the
	 * owner, group and mode of the file they replace, or the directory's
	 * owner and group for a new file.  chown before chmod: chown may
	 * clear mode bits.
	 */
	if (geteuid() == 0 &&
	    (heir_of(path, 1, &uid, &gid, &m) != 0 ||
	    give_fd(fd, uid, gid) != 0)) {
		fed_err_set(err, "%s: giving it to the owner of %s: %s",
		    af->tmp, path, strerror(errno));
		close(fd);
		afile_release(af);
		return -1;
	}
	if (fchmod(fd, m) != 0 ||
	    (af->fp = fdopen(fd, "w")) == NULL) {
		fed_err_set(err, "%s: %s", af->tmp, strerror(errno));
		close(fd);
		afile_release(af);
		return -1;
	}
	return 0;
}

static int
fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (copy == NULL)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

int
afile_commit(struct afile *af, struct fed_err *err)
{
	FILE *fp = af->fp;
	int fd;

	if (fp == NULL) {
		fed_err_set(err, "afile_commit without afile_begin");
		afile_release(af);
		return -1;
	}
	fd = fileno(fp);
	/* Every step is checked: a full disk must not become a short file. */
	af->fp = NULL;
	if (ferror(fp))
		errno = EIO;	/* an earlier write failed; errno is stale */
	if (ferror(fp) || fflush(fp) != 0 || fsync(fd) != 0) {
		fed_err_set(err, "%s: write: %s", af->tmp, strerror(errno));
		fclose(fp);
		afile_release(af);
		return -1;
	}
	if (fclose(fp) != 0) {
		fed_err_set(err, "%s: close: %s", af->tmp, strerror(errno));
		afile_release(af);
		return -1;
	}
	if (rename(af->tmp, af->path) != 0) {
		fed_err_set(err, "%s: rename: %s", af->path, strerror(errno));
		afile_release(af);
		return -1;
	}
	free(af->tmp);
	af->tmp = NULL;
	/*
	 * The rename is durable only once the directory is synced.  If that
	 * fails the new contents are nevertheless in place for every reader,
	 * so reporting failure would mislead the caller into thinking the
	 * old ones are: only a crash before the next sync could lose it.
	 */
	if (!af->no_dirsync)
		(void)fsync_dir(af->path);
	afile_release(af);
	return 0;
}

void
afile_abort(struct afile *af)
{
	afile_release(af);
}
