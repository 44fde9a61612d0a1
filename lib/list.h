/* list.h: allow and block lists (fedkit(7)): parse, validate, match. */
#ifndef LIST_H
#define LIST_H

#include "fed.h"

#define DOMAIN_MAX 253		/* RFC 1035 name, without the trailing dot */
/* A list file is read whole.  A million entries take about 30 MB; the cap
 * only stops a wrong path (a disk image, /dev/zero) from eating memory. */
#define LIST_FILE_MAX ((size_t)256 << 20)
/* list_parse_line's scratch: a .suffix name and an edge, each with its NUL. */
#define LIST_LINE_SCRATCH (DOMAIN_MAX * 2 + 4)
#define LIST_UNSET (-1L)	/* rate= / max_uris= not given */
#define LIST_UNLIMITED (-2L)	/* rate=unlimited / max_uris=unlimited */

struct list_entry {
	char *name;		/* lowercased; starts with '.' for a suffix entry */
	char *edge;		/* edge=FQDN or NULL */
	long rate;		/* requests/s, LIST_UNSET or LIST_UNLIMITED */
	long max_uris;		/* likewise */
	unsigned line;		/* line number in its file; 0 if unknown */
	size_t off;		/* where the entry's line starts in the text */
};

struct list {
	char *path;		/* for messages; may be NULL */
	struct list_entry *v;	/* sorted by name for lookup */
	size_t n;
	char *arena;		/* storage the entries point into */
};

/*
 * Normalize and validate a domain name: lowercase, drop one trailing dot,
 * RFC 1035 labels (letters, digits, hyphen, not at either end of a label;
 * 1..63 octets; 253 in all), non-ASCII refused ("write punycode").  A
 * leading '.' is kept when allow_suffix is set.  Writes a NUL-terminated
 * name to out (DOMAIN_MAX + 2 bytes suffice).  0 or -1 with *err saying why
 * (without the file and line, which the caller knows).
 */
int domain_normalize(const char *in, size_t n, int allow_suffix, char *out,
    size_t outsz, struct fed_err *);

/* Does pattern ("a.b" exact, ".a.b" that and every subdomain) match? */
int domain_match(const char *pattern, const char *domain);

/*
 * Parse list text: one entry a line, `DOMAIN [edge=FQDN] [rate=N|unlimited]
 * [max_uris=N|unlimited] [# comment]`, `#` comment lines, blank lines.
 * With options_allowed clear (the block list) any option is an error.  A
 * bad line or a duplicate entry is an error "NAME:LINE: problem".  *list
 * is overwritten (free it first); on error it is left empty.  CRLF line
 * endings are accepted.
 */
int list_parse(struct list *, const char *name, const char *buf, size_t len,
    int options_allowed, struct fed_err *);

/*
 * Parse one line of list text, [line, line + n) without its newline, as
 * list_parse does, for a reader that found the line through an index and
 * wants its options (listdb).  The names are written into scratch
 * (LIST_LINE_SCRATCH bytes), where e->name and e->edge then point;
 * e->line and e->off are set to 0.  1: an entry, 0: a blank or comment
 * line, -1: a bad line, *err saying why (without file and line).
 */
int list_parse_line(const char *line, size_t n, int options_allowed,
    struct list_entry *e, char *scratch, size_t scratchsz, struct fed_err *);

/* fedlist's checks of what an edit gives on its command line, as a line
 * would give it: a control character in [p, p + n) (0, or -1 with *err
 * naming it) ... */
int list_check_controls(const char *p, size_t n, struct fed_err *);

/* ... and options alone, blank-separated (up to a '#'), as they follow a
 * line's name: e's edge (in scratch, LIST_LINE_SCRATCH bytes), rate and
 * max_uris (LIST_UNSET when not given).  0, or -1 with *err. */
int list_parse_options(const char *p, size_t n, int options_allowed,
    struct list_entry *e, char *scratch, size_t scratchsz,
    struct fed_err *err);

/* Read and parse a file; a missing file is an empty list (path kept). */
int list_load(struct list *, const char *path, int options_allowed,
    struct fed_err *);

/*
 * The same from an open descriptor, read from its current offset to its
 * end and not closed: for a caller that fstat()s the descriptor and needs
 * the identity it records to be that of the bytes parsed.  `path` names
 * the file in messages.
 */
int list_load_fd(struct list *, int fd, const char *path,
    int options_allowed, struct fed_err *);

/*
 * The same as list_load_fd, for fedgate with no index to read (fedkit(7)
 * List index): a bad line, or a later line of a name listed already, is
 * skipped instead of failing the list, so every good line still counts
 * (a block list keeps blocking what it can read; an allow list grants
 * only what it can read).  *nbad counts what was skipped and, when it is
 * not 0, *bad names the first by line: "PATH:LINE: problem".  -1 with
 * *err only when the file cannot be read (or memory runs out).
 */
int list_load_fd_salvage(struct list *, int fd, const char *path,
    int options_allowed, size_t *nbad, struct fed_err *bad,
    struct fed_err *err);

/*
 * Read the text on fd and count its bad lines, keeping nothing: *nbad,
 * and *bad naming the first ("PATH:LINE: problem").  Lines are judged one
 * by one, so a name listed twice is not seen (list_load_fd finds it).
 * -1 with *err when the file cannot be read.
 */
int list_check_fd(int fd, const char *path, int options_allowed,
    size_t *nbad, struct fed_err *bad, struct fed_err *err);

/* The entry matching `domain` (normalized; case and one trailing dot are
 * forgiven): the exact entry, else the longest matching suffix entry;
 * NULL if none.  O(labels x log n). */
const struct list_entry *list_lookup(const struct list *, const char *domain);

void list_free(struct list *);

#endif
