/* score.h: fedstat's per-partner tally of the verdict log, states and score. */
#ifndef SCORE_H
#define SCORE_H

#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "fed.h"
#include "listdb.h"
#include "vlog.h"

/*
 * Distinct URIs and peers are kept as sets of 64-bit hashes of the values
 * as logged: exact for any practical count (two of a million URIs share a
 * hash with a probability near 3e-8).  A group stops counting new URIs at
 * SCORE_URIS_MAX (its `uris_capped` is then set), so a hostile log costs
 * at most 16 MiB a group in sets.  Peers are counted up to
 * SCORE_PEERS_COUNT_MAX; the first SCORE_PEER_NAMES are kept by name.
 */
#define SCORE_URIS_MAX ((uint32_t)1 << 20)
#define SCORE_PEERS_COUNT_MAX 4096u
#define SCORE_PEER_NAMES 8

enum score_by { SCORE_BY_PARTNER, SCORE_BY_PEER };

/* States, lowest first: a group shows the highest that applies. */
enum score_state {
	SCORE_OK, SCORE_NEAR, SCORE_SUSPICIOUS, SCORE_WATCH, SCORE_BLOCKED
};

struct score_hset {		/* open addressing; 0 marks an empty slot */
	uint64_t *v;
	uint32_t n, cap;	/* cap is 0 or a power of two */
};

struct score_group {
	/* First, in one cache line: what a lookup compares. */
	char *name;		/* partner (or peer) as logged; "-" for none */
	size_t namelen;
	char inl[48];		/* name is here when it fits */
	uint64_t hash;
	uint64_t messages, accepted, limited, refused, ok, fail;
	uint64_t r_watch, r_blocked, l_suspicious;
	int allowlisted_last;	/* its latest accept line said allowlisted */
	int uris_capped;
	int64_t first_ms, last_ms;
	struct score_hset uris, peers;
	uint64_t last_peer;	/* hash of the peer of its latest line */
	unsigned npeer_names;
	char *peer_name[SCORE_PEER_NAMES];
	/* from the lists, looked up once per group (score_lists) */
	int listed;		/* 0 not looked up, 1 looked up */
	int on_block, on_allow;
	long allow_max_uris;	/* the entry's max_uris, LIST_UNSET... */
	/* derived (score_eval) */
	enum score_state state;
	double score;
};

/* The hash beside the index, so a probe touches no group it does not want. */
struct score_slot {
	uint64_t hash;
	uint32_t idx;			/* group index + 1; 0 empty */
};

struct score {
	enum score_by by;
	const struct conf *c;
	struct listdb *allow, *block;	/* NULL: not consulted */
	int64_t since_ms;		/* lines before are skipped */
	uint64_t lines, skipped, malformed;
	struct score_group **g;
	size_t ng, gcap;
	struct score_slot *tab;		/* the groups by hash */
	uint32_t tabcap;
};

const char *score_state_name(enum score_state);

/* allow/block may be NULL (the lists are not consulted). */
void score_init(struct score *, enum score_by, const struct conf *,
    struct listdb *allow, struct listdb *block, int64_t since_ms);
void score_free(struct score *);

/*
 * Count one line (without its newline).  Returns the group it counted
 * for, NULL when the line was skipped by --since, or NULL with *err set
 * when it is malformed (vlog_parse's message) or memory ran out
 * (*oom set: stop).  A malformed line is counted in `malformed`.
 */
struct score_group *score_line(struct score *, const char *line, size_t n,
    int *oom, struct fed_err *err);

/* Look the group up in the lists (once; again after score_relist). */
void score_relist(struct score *);

/* Compute a group's state and score from its counts. */
void score_eval(struct score *, struct score_group *);

/* Evaluate every group and sort: score descending, then name. */
void score_sort(struct score *);

/* The URI limit that applies to a group (0: none). */
unsigned long score_uri_limit(const struct score *, const struct score_group *);

/* failures / (2xx + failures), or -1 without responses. */
double score_fail_share(const struct score_group *);

/*
 * Write and read the whole tally (for fedstat --resume): text lines
 * `group`, `peer`, `uri` after whatever the caller writes.  score_load
 * takes the lines one at a time; 0, or -1 with *err saying why.
 */
int score_save(const struct score *, FILE *);
int score_load_line(struct score *, const char *line, size_t n,
    struct fed_err *);

#endif
