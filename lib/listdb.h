/* listdb.h: a list as fedgate reads it, searched in place through an index. */
#ifndef LISTDB_H
#define LISTDB_H

#include <sys/types.h>

#include <stdint.h>

#include "fed.h"
#include "list.h"

/*
 * Lists are compiled like tcprules' rules (fedkit(7) List index): fedgate
 * searches the compiled form, PATH.idx, which `fedlist index` (or any
 * fedlist edit, or list_index_write) builds from the text PATH under
 * PATH's lock and renames into place.  The index holds a copy of the text
 * it was built from, the offsets of its entry lines sorted by normalized
 * name, and the identity (inode, size, mtime) of that text: it answers on
 * its own, whatever has happened to PATH since.  So a hand edit, good or
 * bad, changes nothing until `fedlist index` compiles it, and a bad one
 * never takes federation down; a reader says so once (listdb_warning).
 *
 * What a reader uses (listdb_open; fedkit(7) List index says why):
 *   a valid index matching the text   the index, nothing to say;
 *   a valid index, the text changed   the index, and a warning naming the
 *     since (or missing, unreadable)  text's first bad line if it has one
 *                                     and the command to run;
 *   no valid index (none, damaged,    the text, parsed whole (slow: every
 *     of another version)             fedgate process parses it) with its
 *                                     bad lines skipped (fail-safe for
 *                                     both lists: a block list still
 *                                     blocks every name it can read, an
 *                                     allow list grants no more than it
 *                                     can read), and a warning;
 *   neither text nor index, or a      an empty list (nobody listed),
 *     text of no entry and no index   nothing to say.
 *
 * The files are read, not mapped.  A mapping faults in 16 pages around
 * each page touched (the kernel's fault-around): four lookups in a
 * 1,000,000-entry list mapped 10 MB of page cache, which smaps counts as
 * the process's own (Private_Clean) while it is the only one mapping it,
 * against a 1 MiB budget.  pread costs a system call a probe (about a
 * microsecond with the page cached), as fast as the faults it saves, and
 * a short read is just an end.
 *
 * Index layout, in the host's byte order (an index is never copied to
 * another machine: fedlist builds it beside its text); another version
 * is not an index (the text is then parsed, with a warning):
 *   "fedkit-listidx 2\n" padded with NULs to 32 bytes
 *   uint64 inode, uint64 size, int64 mtime seconds, int64 mtime nsec
 *     (the text compiled), uint64 count, uint64 reserved (0)
 *   uint32 offset[count]     line starts in the copy, sorted by name
 *   the text's bytes (size of them)
 * The file's size must be exactly that sum, or it is not valid.  The
 * device is not recorded: device numbers may change across a reboot,
 * which would make every index stale, and the index lives beside its
 * text.
 */
#define LISTDB_IDX_SUFFIX ".idx"
#define LISTDB_MAGIC "fedkit-listidx 2\n"
#define LISTDB_HDR_SIZE 80
/* Offsets are 32 bits; list.c's LIST_FILE_MAX (256 MiB) is the real cap. */
#define LISTDB_TEXT_MAX ((size_t)UINT32_MAX)
/* listdb_lookup's scratch: an entry's name and edge. */
#define LISTDB_SCRATCH LIST_LINE_SCRATCH
/*
 * How long a reader waits for a writer holding PATH.lock (fedlist is
 * between renaming the text and renaming its index) before it takes the
 * index it has: see listdb_open.
 */
#define LISTDB_WRITER_WAIT_MS 3000
/* How long refresh leaves files it could not load alone. */
#define LISTDB_RETRY_MS 60000

struct listdb {
	char *path;
	char *idxpath;		/* PATH.idx */
	int options_allowed;	/* allow list: edge=, rate=, max_uris= */
	int indexed;		/* 1: searching the compiled form PATH.idx */
	int exists;		/* a list is loaded (a missing one is empty) */
	int stale;		/* indexed, but the text is not what it holds */
	/* PATH and PATH.idx as they were when loaded: refresh compares */
	struct fed_ident text;
	struct fed_ident idx;
	/* the last text and index refresh could not load: not read again
	 * (every second, in every process) until one of them changes or
	 * LISTDB_RETRY_MS have passed (the failure may have been ENOMEM) */
	struct fed_ident bad, bad_idx;
	int64_t bad_ms;
	int64_t checked_ms;	/* last identity check (listdb_refresh) */
	int64_t busy_since_ms;	/* refresh waiting for a writer, or 0 */
	/* what to say about the list as loaded (empty: nothing), and the
	 * files it was last said for: said once per process and change */
	struct fed_err warn;
	struct fed_ident told_text, told_idx;
	int told;
	/* indexed: the index stays open (valid only while `indexed`) */
	int idxfd;
	off_t textbase;		/* where the text's copy starts in it */
	size_t textlen;		/* the copy's size */
	size_t n;		/* entries in the index */
	/* parsed */
	struct list mem;
};

/*
 * Open a list as the table above says.  Never fails for what the files
 * hold: 0, with listdb_warning saying what is wrong, if anything; -1
 * with *err only when memory runs out.  When the index does not match
 * the text while a writer holds PATH.lock (fedlist between renaming the
 * text and its index), wait for it up to LISTDB_WRITER_WAIT_MS rather
 * than take an index about to be replaced.
 */
int listdb_open(struct listdb *, const char *path, int options_allowed,
    struct fed_err *);

/*
 * If at least a second has passed since the last check (now_ms), stat the
 * text and its index and reopen when either changed.  1: reloaded (the
 * answers may differ), 0: unchanged (a text changed by hand while a
 * valid index stays in use is unchanged too: listdb_warning tells it),
 * -1: the files could not be read at all and the old contents stay in
 * use; *err says why, once: the same files are not tried again until
 * one of them changes, or for LISTDB_RETRY_MS.  An index removed or
 * damaged under a running reader does not replace the one it has open.
 * A change whose index is not written yet while a writer holds PATH.lock
 * is left for a later call (0; checked again 100 ms later, for at most
 * LISTDB_WRITER_WAIT_MS).
 */
int listdb_refresh(struct listdb *, int64_t now_ms, struct fed_err *);

/*
 * What is wrong with the list as loaded (a stale or missing index, bad
 * lines, an unreadable text), as one diagnostic line naming file:line
 * and the command to run; NULL when nothing is, or when it was returned
 * already for the same files: a caller prints what it gets, and says
 * each thing once.
 */
const char *listdb_warning(struct listdb *);

/*
 * For `fedgate -t` and scripts: how the list at PATH stands, by the same
 * code fedgate opens it with.  0: nothing to say (the index matches the
 * text, or neither exists); 1: fedgate would run on it with a warning,
 * *err holding that warning (a text changed since the index, a bad
 * line, no index); -1: a system error, *err says.
 */
int listdb_check(const char *path, int options_allowed, struct fed_err *);

/*
 * The entry for a normalized domain: exact, else the longest matching
 * `.suffix` entry, as list_lookup.  On a match fills *e (name and edge
 * point into `scratch`, which needs LISTDB_SCRATCH = DOMAIN_MAX * 2 + 4
 * bytes) and returns 1; 0 if none; -1 if scratch is too small (a bug in
 * the caller).  With the index this parses only the matched line, and
 * e->line is 0 (counting lines would read the text up to it).
 */
int listdb_lookup(const struct listdb *, const char *domain,
    struct list_entry *e, char *scratch, size_t scratchsz);

/* Number of entries. */
size_t listdb_count(const struct listdb *);

/*
 * Is PATH.idx missing, not a valid index, or built from another text
 * than PATH as it is now (a hand edit, or an editor killed between its
 * two renames)?  0 when neither PATH nor PATH.idx exists.  fedlist calls
 * it holding PATH.lock, which listdb_open would wait for.
 */
int listdb_index_stale(const char *path);

void listdb_close(struct listdb *);

/*
 * Build PATH.idx from PATH, written through afile.  A text that does not
 * parse returns LISTDB_BAD_TEXT, *err naming its first bad line
 * ("PATH:LINE: problem (and N more bad lines)"), and leaves the index in
 * place as it was; -1 is a system error.  A
 * missing PATH removes PATH.idx (a missing list is empty).  The caller
 * holds PATH's lock (PATH.lock) when `held` is set (fedlist rewrites text
 * and index under one lock); otherwise it is taken here, so the index
 * always describes the text in place.  PATH.idx.lock is taken inside it,
 * always in that order.
 */
#define LISTDB_BAD_TEXT (-2)
int list_index_write(const char *path, int options_allowed, int held,
    struct fed_err *);

#endif
