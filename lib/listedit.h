/* listedit.h: editing the allow and block lists as fedlist does. */
#ifndef LISTEDIT_H
#define LISTEDIT_H

#include <sys/types.h>

#include "fed.h"
#include "list.h"

/*
 * A list file as an editor sees it: the text exactly as read (rewrites
 * copy it byte for byte, so comments, blank lines and the operator's
 * order survive), and its good entries parsed for lookups.  A line that
 * does not parse, or an entry listed a second time, is a problem: it is
 * reported "PATH:LINE: problem" through the caller's callback and left
 * out of `l`, never out of the text.
 */
struct listedit_file {
	char *path;
	int options_allowed;	/* the allow list: edge=, rate=, max_uris= */
	int exists;
	mode_t mode;		/* the text's permissions (0644 for a new one) */
	char *buf;		/* the text, NUL-terminated; len bytes */
	size_t len;
	struct list l;		/* the good entries, sorted by name */
	unsigned nbad;		/* problems found (bad lines, duplicates) */
	int sorted;		/* entries appear in name order in the text */
};

/* Problems (and warnings) go here, one complete message at a time. */
typedef void listedit_report_fn(const char *msg, void *arg);

/* At most this many problems of one file are reported one by one. */
#define LISTEDIT_REPORT_MAX 20

/* Read and parse a list; a missing file is an empty list.  0, or -1 on a
 * system error (*err).  Problems are reported and counted in nbad. */
int listedit_load(struct listedit_file *f, const char *path,
    int options_allowed, listedit_report_fn *fn, void *arg,
    struct fed_err *err);
void listedit_free(struct listedit_file *);

/* The entry named exactly `name` (normalized, `.suffix` form kept). */
const struct list_entry *listedit_find(const struct listedit_file *,
    const char *name);

/* The comment of the line at `off` (after its `#`, blanks trimmed): a
 * pointer into f->buf and its length; 0 length if none. */
struct fed_str listedit_comment(const struct listedit_file *, size_t off);

/*
 * One entry to add or remove: the name as the list writes it (normalized,
 * a leading '.' for a suffix entry), options (LIST_UNSET when not given)
 * and a comment.  Strings are owned by the item.
 */
struct listedit_item {
	char *name;
	char *edge;
	long rate, max_uris;
	char *comment;
	unsigned src_line;	/* where it was read (stdin), 0 if an argument */
	size_t seq;		/* its place in the input: appends keep it */
};

struct listedit_batch {
	struct listedit_item *v;
	size_t n, cap;
};

/*
 * Parse `DOMAIN [edge=FQDN] [rate=N|unlimited] [max_uris=N|unlimited]
 * [# comment]` (one list line, as list_parse_line takes it) into a new
 * item appended to the batch.  `defaults` (may be NULL) supplies the
 * options and comment an item does not give itself.  1 added, 0 a blank
 * or comment line, -1 a bad line (*err says why, without file and line;
 * or ENOMEM).
 */
int listedit_batch_parse(struct listedit_batch *, const char *line, size_t n,
    int options_allowed, const struct listedit_item *defaults,
    unsigned src_line, struct fed_err *);
void listedit_batch_free(struct listedit_batch *);

/*
 * The defaults of the names of one add: options as they would follow a
 * name on a list line (blank-separated `edge=FQDN rate=N max_uris=N`)
 * and a comment (NULL: none; blanks around it trimmed), checked as a list
 * line's are.  0, or -1 with *err (why, or ENOMEM); *d is then empty.
 */
int listedit_defaults(struct listedit_item *d, const char *opts,
    const char *comment, int options_allowed, struct fed_err *);

/*
 * A name given as a word of its own (an argument, not a line), appended
 * as listedit_batch_parse appends a line's: 1 added, -1 a bad name (*err,
 * or ENOMEM); one holding a blank or a '#', which a line would read as
 * more than a name, is bad.
 */
int listedit_batch_name(struct listedit_batch *, const char *name,
    int options_allowed, const struct listedit_item *defaults,
    struct fed_err *);
void listedit_item_free(struct listedit_item *);

enum listedit_which { LISTEDIT_ALLOW, LISTEDIT_BLOCK };
enum listedit_op { LISTEDIT_ADD, LISTEDIT_RM };

struct listedit_stats {
	size_t added, updated, unchanged, removed, missing;
	int written;		/* the text and its index were rewritten */
};

/*
 * Apply a batch to one list (which) in one rewrite, under PATH.lock
 * (exclusive).  An add also takes the other list's lock, shared, the
 * allow list's always first, so two editors never deadlock and the other
 * list cannot change between the both-lists check and the rename; an rm
 * does not read or lock the other list.  Lists naming one file by
 * different strings (a symlink, `./`) are refused (-1) before a second
 * lock could wait for the first.
 *
 * Add: a new name is inserted in name order if the text is in name
 * order (so a sorted file stays sorted), before the next entry's own
 * comment lines (those immediately above it, no blank line between; a
 * comment block starting the file is its header and stays on top), else
 * appended at the end; new lines end in CRLF in a CRLF text; a
 * name already listed keeps its line and place, its options and comment
 * replaced by those the item gives (others kept).  Refused, writing
 * nothing, when an item overlaps an entry of the other list (the same
 * domain, or a `.suffix` covering it either way: fedgate would treat it
 * as blocked), each conflict reported naming both files.
 * Rm: the entries' lines are removed; a name not listed is reported and
 * counted in `missing`.
 *
 * Either is refused, writing nothing, when the list has problems: fedgate
 * cannot use such a file (its index cannot be built, and a parse stops
 * at the bad line), so an edit would report success for an entry that is
 * not in force.  The problems are reported, naming file and line.
 *
 * The text is written through afile (temporary file, fsync, rename) and
 * its index (listdb.h) rebuilt while the lock is still held; with nothing
 * to change, an index that does not describe the text is rebuilt all the
 * same.  Returns 0 (done, or nothing to do), 1 refused (reported; nothing
 * written), -1 a system error (*err; "PATH: text written, index not
 * rebuilt: ..." when only the index failed).
 */
int listedit_apply(const char *allow_path, const char *block_path,
    enum listedit_which which, enum listedit_op op, struct listedit_batch *b,
    listedit_report_fn *fn, void *arg, struct listedit_stats *st,
    struct fed_err *err);

#endif
