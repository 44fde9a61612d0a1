/* watchlist.h: the watch list, partners refused until an operator clears them. */
#ifndef WATCHLIST_H
#define WATCHLIST_H

#include <stddef.h>
#include <stdint.h>

#include "fed.h"
#include "list.h"

/*
 * The watch list (fedkit(7) Watch list) is plain text, one partner a line:
 *
 *	DOMAIN<TAB>SINCE<TAB>REASON
 *
 * DOMAIN is a partner domain as the lists have it (domain_normalize: lower
 * case, no trailing dot, ASCII only; no `.suffix` form: a watch is one
 * partner's); SINCE is when the watch started, RFC 3339 UTC with
 * milliseconds as the verdict log writes it (2026-11-21T22:40:33.123Z;
 * a hand-written time without the milliseconds is taken too); REASON is
 * one token of at most WATCHLIST_REASON_MAX letters, digits, `_`, `-` or
 * `.` (`max_uris`, `operator`).  fedgate appends a line when a watch
 * starts, `fedlist watch clear` removes one, and an operator may edit the
 * file by hand, so a reader is forgiving: any run of blanks (spaces, tabs)
 * separates the fields, a trailing `# comment` is allowed, blank lines and
 * `#` comment lines are skipped, CRLF line ends are taken.
 *
 * A bad line (a name domain_normalize refuses, a bad time or reason, a
 * wrong number of fields, a domain already listed on an earlier line) is
 * skipped and the others are used: a hand edit gone wrong never lifts
 * every watch.  Loading then returns WATCHLIST_BADLINES with *err naming
 * the first bad line as "PATH:LINE: problem" (and how many more there
 * were).  The writers keep every line they do not add or remove as it
 * was, comments and bad lines included, in order.
 */
#define WATCHLIST_FILE_MAX ((size_t)64 << 20)	/* a wrong path, not a list */
#define WATCHLIST_REASON_MAX 32
#define WATCHLIST_MODE 0644	/* a new file's; a rewrite keeps the mode */
/* How long refresh leaves a file it could not read alone (it may have
 * been out of memory, or a permission since fixed by chmod, which changes
 * no identity). */
#define WATCHLIST_RETRY_MS 60000

/* Returns of watchlist_open and watchlist_refresh, besides -1 (error). */
enum {
	WATCHLIST_SAME = 0,		/* refresh: the file has not changed */
	WATCHLIST_LOADED = 0,		/* open: loaded, every line good */
	WATCHLIST_RELOADED = 1,		/* refresh: reloaded, every line good */
	WATCHLIST_BADLINES = 2		/* (re)loaded without its bad lines */
};

struct watchlist_entry {
	const char *domain;	/* normalized, in the table's arena */
	int64_t since_ms;
	uint32_t hash;
	unsigned len;		/* strlen(domain) */
	unsigned line;		/* its line when the file was last read */
	char reason[WATCHLIST_REASON_MAX + 1];
};

/* One loaded file: entries sorted by domain, and a hash table on them. */
struct watchlist_table {
	struct watchlist_entry *v;
	size_t n;
	uint32_t *slot;		/* index + 1 into v; 0: empty */
	size_t nslot;		/* a power of two, or 0 when n is 0 */
	char *arena;		/* the domains */
	/* bad lines skipped: such a file vouches for no watch's end (a
	 * watched partner whose line a hand edit broke stays watched in
	 * the store until the file is fixed; fedkit(7) Watch list) */
	size_t nbad;
};

struct watchlist {
	char *path;
	struct watchlist_table t;
	struct fed_ident id;	/* the file t was loaded from */
	int64_t checked_ms;	/* last identity check (refresh) */
	/* the file refresh could not read, not tried again until it changes
	 * or WATCHLIST_RETRY_MS have passed */
	struct fed_ident bad;
	int64_t bad_ms;
};

/*
 * Load the watch list at path; a missing file is an empty list.
 * WATCHLIST_LOADED (0), WATCHLIST_BADLINES (loaded without its bad lines,
 * *err says which), or -1 with *err (unreadable, too large, not a regular
 * file, out of memory).  The struct is usable (empty) even after -1, and
 * must be closed in every case.
 */
int watchlist_open(struct watchlist *, const char *path, struct fed_err *);

/*
 * If at least a second has passed since the last check (now_ms; a clock
 * gone back counts as due), stat the file and reload it if its identity
 * (inode, size, mtime) changed.  WATCHLIST_SAME (0), WATCHLIST_RELOADED
 * (1), WATCHLIST_BADLINES (2: reloaded without its bad lines, *err says
 * which; told once, the file is not read again until it changes), or -1
 * with *err: the file could not be read and the old contents stay in use
 * (tried again when it changes, or after WATCHLIST_RETRY_MS).
 */
int watchlist_refresh(struct watchlist *, int64_t now_ms, struct fed_err *);

/*
 * Is domain watched at now_ms?  1 (and *since_ms, if not NULL, set) or 0.
 * With expire_s > 0 an entry that started expire_s seconds ago or earlier
 * no longer counts (fed.conf watch_expire), as state.c judges a watch.
 * The domain is as domain_normalize gives it; case and one trailing dot
 * are forgiven.  One hash probe, no allocation: it runs on every request.
 */
int watchlist_lookup(const struct watchlist *, const char *domain,
    int64_t now_ms, unsigned expire_s, int64_t *since_ms);

/*
 * Put domain on the watch list, durably (afile: PATH.lock held while the
 * file is read and rewritten, so two writers at once both land): the
 * file is kept as it is and the line `DOMAIN SINCE REASON` appended.  A
 * domain already in the file (a good line) is left alone, nothing is
 * written and its first start kept.  The in-memory table becomes that of
 * the file written (or read), so other writers' lines show at once.  0,
 * or -1 with *err (a bad domain or reason, or the file could not be read,
 * parsed for lack of memory, or written).
 */
int watchlist_add(struct watchlist *, const char *domain, int64_t since_ms,
    const char *reason, struct fed_err *);

/*
 * Take domain off the watch list, durably: the file is rewritten without
 * every line naming it (bad lines too: an entry with a broken time is
 * still that domain's), all other lines kept.  1 removed, 0 it was not
 * watched (nothing written), -1 with *err.  The in-memory table becomes
 * that of the file.
 */
int watchlist_remove(struct watchlist *, const char *domain,
    struct fed_err *);

/*
 * Call fn for every entry, in domain order (strcmp), expired or not; a
 * non-zero return stops the walk and is returned.  0 otherwise.
 */
int watchlist_walk(const struct watchlist *,
    int (*fn)(const char *domain, int64_t since_ms, const char *reason,
    void *arg), void *arg);

/* Number of entries loaded. */
size_t watchlist_count(const struct watchlist *);

void watchlist_close(struct watchlist *);

#endif
