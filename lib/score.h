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
 * as logged, keyed (SipHash-2-4 with a key drawn from getrandom(2) per
 * tally and kept in the resume file), so a log cannot be crafted to make
 * values collide: exact for any practical count (two of a million URIs
 * share a hash with a probability near 3e-8).  A group stops storing new
 * URIs past twice its URI limit (SCORE_URIS_MAX when it has none, or when
 * that is less): its `uris_capped` is then set and its count stays there,
 * which is enough to judge it and costs a hostile log at most 16 MiB a
 * group.  Peers are counted up to SCORE_PEERS_COUNT_MAX; the first
 * SCORE_PEER_NAMES are kept by name.
 */
#define SCORE_URIS_MAX ((uint32_t)1 << 20)
/* At most this many groups (about 1 KiB each before their sets): the
 * lines of further partners (or peers) are reported and counted as
 * malformed, not tallied. */
#ifndef SCORE_GROUPS_MAX
#define SCORE_GROUPS_MAX (1u << 20)
#endif
#define SCORE_PEERS_COUNT_MAX 4096u
#define SCORE_PEER_NAMES 8

enum score_by { SCORE_BY_PARTNER, SCORE_BY_PEER };

/* Responses are also counted in report_period / SCORE_SLOTS slots, as
 * fedgate counts them (state.c), for the suspicion rule. */
#define SCORE_SLOTS 12

struct score_slot_resp {
	int64_t start_ms;	/* 0: empty */
	uint32_t ok, fail;
};

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
	int64_t l_suspicious_ms;	/* time of its latest `limit suspicious` */
	int allowlisted_last;	/* its latest accept line said allowlisted
				 * (used only when the lists are not read) */
	int uris_capped;
	int64_t first_ms, last_ms;
	struct score_hset uris, peers;
	uint64_t last_peer;	/* hash of the peer of its latest line */
	unsigned char last_peer_n;	/* ... and the peer itself when it */
	char last_peer_s[39];		/* fits (n <= 39), else n is 0 */
	unsigned npeer_names;
	char *peer_name[SCORE_PEER_NAMES];
	/* from the lists, looked up once per group (score_lists) */
	int listed;		/* 0 not looked up, 1 looked up */
	int on_block, on_allow;
	long allow_max_uris;	/* the entry's max_uris, LIST_UNSET... */
	/* responses of the last report_period, by slot */
	struct score_slot_resp win[SCORE_SLOTS];
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
	uint64_t key[2];		/* the hash key (SipHash-2-4) */
	int64_t line_ms;		/* time of the line last counted */
	int64_t newest_ms;		/* the newest line time counted */
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

/* The keyed hash of a value, as the sets hold it. */
uint64_t score_hash(const struct score *, const char *p, size_t n);

/* Look the group up in the lists (once; again after score_relist). */
void score_relist(struct score *);

/* Compute a group's state and score from its counts. */
void score_eval(struct score *, struct score_group *);

/* Evaluate every group and sort: score descending, then name. */
void score_sort(struct score *);

/* Is the group allow-listed: by the allow list (not blocked) when the
 * lists are read, else by its latest accept line. */
int score_allowlisted(const struct score *, const struct score_group *);

/* The URI limit that applies to a group (0: none). */
unsigned long score_uri_limit(const struct score *, const struct score_group *);

/* failures / (2xx + failures), or -1 without responses. */
double score_fail_share(const struct score_group *);

/*
 * Write and read the whole tally (for fedstat --resume): text lines
 * `key`, `lines`, `group`, `peername`, `peer`, `uri` after whatever the
 * caller writes.  score_load takes the lines one at a time (the `key`
 * line first, before any group); 0, or -1 with *err saying why.  Names
 * are checked as vlog_parse checks a field (printable ASCII, valid
 * escapes, at most VLOG_LINE_MAX bytes).
 */
int score_save(const struct score *, FILE *);
int score_load_line(struct score *, const char *line, size_t n,
    struct fed_err *);

#endif
