/* edges.h: the edge cache fedq -w writes (fedkit(7) Edge cache). */
#ifndef EDGES_H
#define EDGES_H

#include <sys/types.h>

#include <stdint.h>

#include "fed.h"

/*
 * One line a target: `domain target port expires [addresses]`, separated
 * by tabs or spaces; `expires` is RFC 3339 UTC (or seconds since the
 * epoch), `addresses` an optional comma-separated list of the target's
 * IPv4/IPv6 addresses so a peer known only by its address (no TLS) can be
 * verified.  `#` comments and blank lines are ignored.  A bad line (a
 * name that is not a domain as domain_normalize has it, a bad port or
 * time, a wrong number of fields) is skipped and told, naming file and
 * line; the other lines still count.
 */
struct edge {
	char *domain;		/* lowercased, no trailing dot */
	char *target;		/* likewise */
	unsigned port;
	int64_t expires_ms;
	char *addrs;		/* comma-separated, or NULL */
};

struct edges {
	char *path;
	struct edge *v;		/* sorted by domain */
	size_t n;
	int exists;		/* the file exists (missing: empty) */
	struct fed_ident id;	/* the file loaded, for edges_refresh */
	int64_t checked_ms;
};

/* Told each bad line of a cache, as "FILE:LINE: why". */
typedef void (*edges_warn_fn)(void *arg, const char *msg);

/*
 * Read the cache (missing: empty, exists = 0).  0, or -1 with *err; the
 * struct is usable either way, and remembers the file, so a file is not
 * read (nor its faults told) again until it changes; free it with
 * edges_free.  -1 with lines loaded: the file had bad lines, skipped;
 * *err names the first (FILE:LINE) and says how many.  -1 otherwise
 * (unreadable, out of memory): empty.
 */
int edges_load(struct edges *, const char *path, struct fed_err *);

/*
 * Reload if the file changed, checked at most once a second: 0
 * unchanged, 1 reloaded, -1 with *err: a file with bad lines was
 * reloaded without them (as edges_load), or an unreadable file left the
 * previous lines in force.
 */
int edges_refresh(struct edges *, int64_t now_ms, struct fed_err *);

/*
 * Is `peer` one of domain's unexpired edges?  peer is a name (a TLS name
 * or --peer), or an address with or without a port (`192.0.2.1:5061`,
 * `[2001:db8::1]:5061`); names are compared with the targets, addresses
 * with the targets' addresses.
 */
int edges_match(const struct edges *, const char *domain, const char *peer,
    int64_t now_ms);

/* Is `peer` (as above) the name `fqdn`?  For an allow entry's edge=. */
int edges_peer_is(const char *peer, const char *fqdn);

void edges_free(struct edges *);
/* Free n edges (their strings) and the array itself, as fedq collects
 * them for edges_merge. */
void edge_array_free(struct edge *, size_t n);

/*
 * Merge fresh lookups into the cache at path, through afile (locked,
 * atomic): every domain that has a line in fresh[] loses its old lines
 * and gets the fresh ones; the other domains' lines stay unless expired
 * at now_ms, as do fresh lines that are.  The file is written sorted by
 * domain, target and port, one line each, `expires` as RFC 3339 UTC with
 * milliseconds (as the verdict log writes times), addresses as the fifth
 * field when known.  A bad line of the old cache is dropped and told to
 * warn() ("FILE:LINE: why"), so one bad line never blocks the refresh;
 * so is a fresh line the reader would refuse (a name not in
 * domain_normalize's form, a bad port), which is never written.  warn
 * may be NULL.  0 or -1 (the file could not be read, locked or written;
 * out of memory).
 */
int edges_merge(const char *path, const struct edge *fresh, size_t n,
    int64_t now_ms, edges_warn_fn warn, void *warnarg, struct fed_err *);

#endif
