/* listdb.h: a list as fedgate reads it, searched in place through an index. */
#ifndef LISTDB_H
#define LISTDB_H

#include <sys/types.h>

#include <stdint.h>

#include "fed.h"
#include "list.h"

/*
 * A new fedgate process (one per connection under inetd) must make its
 * first decision within milliseconds, even with a million-line block list,
 * so it must not parse the list.  Beside the text PATH, the writer
 * (fedlist, or `list_index_write`) keeps PATH.idx: a binary file holding
 * the identity of the text it was built from (inode, size, mtime) and the
 * offsets of the text's entry lines sorted by normalized name.  A reader
 * opens both and binary-searches with pread(2), a few dozen small reads.
 *
 * The files are read, not mapped.  A mapping faults in 16 pages around
 * each page touched (the kernel's fault-around): four lookups in a
 * 1,000,000-entry list mapped 10 MB of page cache, which smaps counts as
 * the process's own (Private_Clean) while it is the only one mapping it,
 * against a 1 MiB budget; and a text truncated in place by a hand edit
 * would kill the process with SIGBUS at its next probe.  pread costs a
 * system call a probe (about a microsecond with the page cached), which
 * is as fast as the faults it saves, and a short read is just an end.
 *
 * An index that is missing or was built from another text (a hand edit
 * since) is never trusted: the text is then parsed whole into memory, as
 * list_load does, so the answer is always that of the text.  That path is
 * slower but correct; listdb_open says which path it took (`indexed`).
 *
 * Index layout, in the host's byte order (an index is never copied to
 * another machine: fedlist or listidx builds it beside its text); a
 * version mismatch is refused and the text parsed instead:
 *   "fedkit-listidx 1\n" padded with NULs to 32 bytes
 *   uint64 inode, uint64 size, int64 mtime seconds, int64 mtime nsec,
 *   uint64 count, uint64 reserved (0)
 *   uint32 offset[count]     line starts, sorted by normalized name
 * The device is not recorded: device numbers may change across a reboot,
 * which would make every index stale, and the index lives beside its text.
 */
#define LISTDB_IDX_SUFFIX ".idx"
#define LISTDB_MAGIC "fedkit-listidx 1\n"
#define LISTDB_HDR_SIZE 80
/* Offsets are 32 bits; list.c's LIST_FILE_MAX (256 MiB) is the real cap. */
#define LISTDB_TEXT_MAX ((size_t)UINT32_MAX)
/* listdb_lookup's scratch: an entry's name and edge. */
#define LISTDB_SCRATCH LIST_LINE_SCRATCH
/*
 * How long a reader waits for a writer holding PATH.lock (fedlist is
 * between renaming the text and renaming its index) before it parses the
 * text instead: see listdb_open.
 */
#define LISTDB_WRITER_WAIT_MS 3000
/* How long refresh leaves files it could not load alone. */
#define LISTDB_RETRY_MS 60000

struct listdb {
	char *path;
	char *idxpath;		/* PATH.idx */
	int options_allowed;	/* allow list: edge=, rate=, max_uris= */
	int indexed;		/* 1: searching the text through its index */
	int exists;		/* the text exists (a missing list is empty) */
	/* identity of the text now loaded */
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	/* PATH.idx when the list was opened: refresh notices a new index */
	struct fed_ident idx;
	/* the last text and index refresh could not load: not parsed again
	 * (every second, in every process) until one of them changes or
	 * LISTDB_RETRY_MS have passed (the failure may have been ENOMEM) */
	struct fed_ident bad, bad_idx;
	int64_t bad_ms;
	int64_t checked_ms;	/* last identity check (listdb_refresh) */
	int64_t busy_since_ms;	/* refresh waiting for a writer, or 0 */
	/* indexed: both files stay open (valid only while `indexed`) */
	int textfd;
	int idxfd;
	size_t textlen;		/* the text's size when opened */
	size_t n;		/* entries in the index */
	/* parsed */
	struct list mem;
};

/*
 * Open a list: indexed if PATH.idx matches the text, else parsed (a bad
 * line is then an error "PATH:LINE: problem").  A missing file is an
 * empty list.  When the index does not match while a writer holds
 * PATH.lock (fedlist between renaming the text and its index, or
 * list_index_write at work), wait for it up to LISTDB_WRITER_WAIT_MS
 * rather than parse a text whose index is on its way.
 */
int listdb_open(struct listdb *, const char *path, int options_allowed,
    struct fed_err *);

/*
 * If at least a second has passed since the last check (now_ms), stat the
 * text and its index and reopen when either changed.  1: reloaded, 0:
 * unchanged, -1: the new text is bad (*err says why) and the old contents
 * stay in use; that is reported once, and the same files are not tried
 * again until one of them changes, or for LISTDB_RETRY_MS.  A change whose index is not written yet while a writer
 * holds PATH.lock is left for a later call (0; checked again 100 ms
 * later, for at most LISTDB_WRITER_WAIT_MS), so running processes do not
 * all parse a big list in the moment between the two renames.
 */
int listdb_refresh(struct listdb *, int64_t now_ms, struct fed_err *);

/*
 * The entry for a normalized domain: exact, else the longest matching
 * `.suffix` entry, as list_lookup.  On a match fills *e (name and edge
 * point into `scratch`, which needs LISTDB_SCRATCH = DOMAIN_MAX * 2 + 4
 * bytes) and returns 1; 0 if none; -1 if scratch is too small (a bug in
 * the caller).  With the index this parses only the matched line, and
 * e->line is 0 (counting lines would read the text up to it); a line
 * that does not parse (it cannot, the index was built from it, but the
 * text is someone else's file) counts as a match with no options.
 */
int listdb_lookup(const struct listdb *, const char *domain,
    struct list_entry *e, char *scratch, size_t scratchsz);

/* Number of entries. */
size_t listdb_count(const struct listdb *);

/*
 * Is PATH.idx missing, or built from another text than PATH as it is now
 * (a hand edit, or an editor killed between its two renames)?  The same
 * header check listdb_open makes; 0 when PATH itself does not exist.
 * fedlist calls it holding PATH.lock, which listdb_open would wait for.
 */
int listdb_index_stale(const char *path);

void listdb_close(struct listdb *);

/*
 * Build PATH.idx from PATH (which must parse: errors name file and line),
 * written through afile.  The caller holds PATH's lock (PATH.lock) when
 * `held` is set (fedlist rewrites text and index under one lock);
 * otherwise it is taken here, so the index always describes the text in
 * place.  PATH.idx.lock is taken inside it, always in that order.
 */
int list_index_write(const char *path, int options_allowed, int held,
    struct fed_err *);

#endif
