/* afile.h: the one write path for every file fedkit rewrites. */
#ifndef AFILE_H
#define AFILE_H

#include <stdio.h>

#include "fed.h"

/*
 * Rewriting a file safely: take the lock (PATH.lock, flock(2), so the
 * lock survives the rename of PATH itself), read PATH if you need its
 * current contents, write the new contents to `fp` (a temporary file in
 * the same directory), then commit: fflush, fsync, close, rename over PATH,
 * fsync the directory, unlock.  A reader never sees a partial file and a
 * kill -9 at any moment leaves either the old or the new file; a stale
 * temporary file (PATH.tmp.XXXXXX) is all that can remain.
 */
struct afile {
	char *path;
	char *tmp;		/* NULL once committed or aborted */
	FILE *fp;		/* write the new contents here */
	int lockfd;
	int no_dirsync;		/* set after begin: skip the directory fsync */
};

/*
 * Lock PATH and open its temporary file; mode is the new file's mode.
 *
 * Run as root (euid 0), afile keeps every file usable by the user fedgate
 * runs as (fedkit(7) FILES), whoever owns the directory: the new contents get the
 * owner, group and permission bits of the regular file they replace, or,
 * for a new file, the owner and group of its directory and `mode`; a
 * PATH.lock root creates gets the directory's owner and group.  It is all
 * done with fchown/fchmod on descriptors we created, never by path, and
 * a file that cannot be given away is an error, not a root-owned file.
 * Other users get the files they create, with `mode`, as always.
 */
int afile_begin(struct afile *, const char *path, int mode, struct fed_err *);

/*
 * The same, for a caller that already holds a lock covering PATH (the
 * state directory locks shards of many files) and removes stale
 * temporary files itself: no PATH.lock is taken and the commit releases
 * no lock.
 */
int afile_begin_held(struct afile *, const char *path, int mode,
    struct fed_err *);

/*
 * The lock alone, as afile_begin takes it: open (creating it) PATH.lock
 * and flock it, exclusive or, with `shared`, shared (a reader that must
 * keep writers out).  Closing *fdp releases it.  0, or -1 with *err and
 * errno set (ENOENT: PATH's directory does not exist).
 */
int afile_lock(const char *path, int shared, int *fdp, struct fed_err *);

/*
 * Remove PATH.tmp.XXXXXX files: call it only holding PATH.lock, when any
 * such file is a killed writer's (afile_begin does it itself).
 */
void afile_remove_stale(const char *path);

/* Make the new contents PATH's; always releases everything.  0 or -1;
 * once it has returned 0 every reader sees the new contents. */
int afile_commit(struct afile *, struct fed_err *);

/* Drop the new contents; PATH is untouched.  Safe after commit. */
void afile_abort(struct afile *);

#endif
