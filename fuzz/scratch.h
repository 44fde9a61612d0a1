/* scratch.h: the scratch world of the whole-pipeline fuzz targets: fed.conf
 * variants, lists, edge cache, state directory and verdict log. */
#ifndef FUZZ_SCRATCH_H
#define FUZZ_SCRATCH_H

/*
 * Included by fuzz_pipe.c and fuzz_relay.c only (each is its own program,
 * so the statics here are per target).  The world is made once per
 * process under $TMPDIR and reused by every input: the partner state
 * persists across inputs as it does across fedgate processes, bounded by
 * small max_partners.  It is removed at exit.
 *
 * The first bytes of an input choose the knobs, so the fuzzer explores the
 * policy's branches: an input whose first byte is 0x80 or above starts
 * with two knob bytes (consumed); any other input (a plain SIP stream, an
 * RFC 4475 message) runs with every knob at 0.
 *
 *   knob byte 1 (bits)  0 dry run (-n)
 *                       1-2 federation: open, allowlist, off, open
 *                       3 verify = srv (else none)
 *                       4 local_domains: variant B (else A)
 *                       5 tight limits (rates, max_uris, parser limits)
 *                       6 target's own (pipe: --replies; relay: our
 *                         server cannot be reached)
 *   knob byte 2 (bits)  0-1 peer: none, an address, an edge's name, an
 *                         allow-listed partner's edge
 *                       2-6 target's own
 *                       7 a fresh gate, closed after the input
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fed.h"
#include "gate.h"
#include "sip.h"
#include "vlog.h"

/* A promise broken: crash, so the fuzzer keeps the input. */
#define CHECK(x) do { if (!(x)) abort(); } while (0)

#define KNOB_DRY	0x01
#define KNOB_FED(k)	(((k) >> 1) & 3)
#define KNOB_SRV	0x08
#define KNOB_LOCAL_B	0x10
#define KNOB_TIGHT	0x20
#define KNOB_OWN	0x40
#define KNOB_PEER(k)	((k) & 3)

#define NCONF 32		/* federation x verify x local x tight */
#define LOG_TRIM (1 << 20)	/* the verdict log is cut back past this */

struct knobs {
	unsigned k1, k2;
};

static char scratch_dir[4096];
static struct conf scratch_conf[NCONF];
static int scratch_log_fd = -1;	/* the gate's, for appending */
static int scratch_log_rfd = -1;	/* ours, for reading it back */
static char scratch_log_path[4200];

/* The lists, the edge cache: every branch of the policy has a domain. */
static const char scratch_allow[] =
    "# allow-listed partners\n"
    "fabrikam.example\n"
    ".partner.example edge=edge.partner.example rate=2 max_uris=3\n"
    "example.net edge=sip.example.net\n"
    "atlanta.example rate=unlimited max_uris=unlimited\n"
    "both.example\n";
static const char scratch_block[] =
    "spam.example\n"
    ".evil.example\n"
    "both.example\n";
static const char scratch_edges[] =
    "atlanta.example\tedge.atlanta.example\t5061\t4070908800"
    "\t127.0.0.1,::1\n"
    "harvest.example\tedge.harvest.example\t5061\t4070908800\n"
    "example.org\tsip.example.org\t5061\t4070908800\t127.0.0.1\n"
    "old.example\tedge.old.example\t5061\t978307200"
    "\t127.0.0.1\n";

static const char *const scratch_peers[4] = {
	NULL, "127.0.0.1:5060", "edge.atlanta.example", "sip.example.net"
};

/*
 * Gates kept open across inputs, one per configuration, dry run,
 * peer or none, replies or not (gate_opts), and `down`
 * (gate_set_upstream_down lasts a gate's life), at most
 * GATE_KEEP at once, the least recently used closed first.  Opening a
 * gate costs milliseconds (its list cache alone is 2 MB): reusing them
 * makes an execution three times faster, and a gate that has lived
 * through many inputs is a long fedgate run's.  Knob byte 2 bit 7 asks
 * for a fresh gate instead, closed after the input, so gate_open and
 * gate_close are fuzzed too.
 */
#define GATE_KEEP 32
#define KNOB_FRESH_GATE 0x80

struct kept_gate {
	struct gate *g;
	unsigned key;
	uint64_t used;
};

static struct kept_gate kept[GATE_KEEP];
static uint64_t kept_clock;

static void scratch_gate_close(struct gate *);

static int
scratch_rm(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb;
	(void)type;
	(void)f;
	return remove(path);
}

static void
scratch_cleanup(void)
{
	size_t i;

	for (i = 0; i < GATE_KEEP; i++)
		if (kept[i].g != NULL)
			scratch_gate_close(kept[i].g);
	if (scratch_dir[0] != '\0')
		(void)nftw(scratch_dir, scratch_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void
scratch_file(const char *name, const char *text)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", scratch_dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		perror(path);
		abort();
	}
}

static void
scratch_conf_make(struct conf *c, unsigned v)
{
	static const char *const fed[] = { "open", "allowlist", "off" };
	char text[4096];
	struct fed_err e;
	int n;

	n = snprintf(text, sizeof text,
	    "local_domains = %s\n"
	    "federation = %s\n"
	    "verify = %s\n"
	    "allow_list = %s/allow\n"
	    "block_list = %s/block\n"
	    "edge_cache = %s/edges\n"
	    "state_dir = %s/state\n"
	    "verdict_log = %s\n"
	    "max_partners = %s\n"
	    "%s",
	    v & 1 ? "example.org, chair-dnrc.example.com, .corp.example.org" :
	    "example.com, .corp.example.com",
	    fed[((v >> 1) & 3) % 3], v & 8 ? "srv" : "none",
	    scratch_dir, scratch_dir, scratch_dir, scratch_dir,
	    scratch_log_path, v & 16 ? "16" : "2000",
	    v & 16 ? "discovered_rate = 3\n"
	    "max_uris = 4\n"
	    "suspect_min_responses = 2\n"
	    "suspect_fail_share = 0.5\n"
	    "suspicious_rate = 1\n"
	    "max_new_partners = 4\n"
	    "max_refusals = 3\n"
	    "max_message = 1024\n"
	    "max_line = 256\n"
	    "max_headers = 16\n"
	    "methods = INVITE, ACK, BYE, MESSAGE, OPTIONS\n"
	    "refuse_user_agents = friendly-scanner, evil\n" : "");
	CHECK(n > 0 && (size_t)n < sizeof text);
	conf_defaults(c);
	if (conf_parse(c, "fuzz.conf", text, (size_t)n, &e) != 0) {
		fprintf(stderr, "fuzz: %s\n", e.msg);
		abort();
	}
}

/* Once per process: the directory, its files and the configurations. */
static void
scratch_init(void)
{
	const char *tmp = getenv("TMPDIR");
	unsigned v;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(scratch_dir, sizeof scratch_dir, "%s/fedkit-fuzz.XXXXXX", tmp);
	if (mkdtemp(scratch_dir) == NULL) {
		perror(scratch_dir);
		abort();
	}
	atexit(scratch_cleanup);
	/* A relay or log write to a closed reader must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	scratch_file("allow", scratch_allow);
	scratch_file("block", scratch_block);
	scratch_file("edges", scratch_edges);
	snprintf(scratch_log_path, sizeof scratch_log_path, "%s/verdicts.log",
	    scratch_dir);
	if ((scratch_log_fd = vlog_open(scratch_log_path)) < 0 ||
	    (scratch_log_rfd = open(scratch_log_path, O_RDONLY |
	    O_CLOEXEC)) < 0) {
		perror(scratch_log_path);
		abort();
	}
	/* conf index: bit 0 local B, bits 1-2 federation (3: open),
	 * bit 3 verify srv, bit 4 tight. */
	for (v = 0; v < NCONF; v++)
		scratch_conf_make(&scratch_conf[v], v);
}

/* Take the knob bytes off the front of an input. */
static struct knobs
scratch_knobs(const uint8_t **data, size_t *size)
{
	struct knobs k = { 0, 0 };

	if (*size >= 2 && (*data)[0] >= 0x80) {
		k.k1 = (*data)[0] & 0x7f;
		k.k2 = (*data)[1];
		*data += 2;
		*size -= 2;
	}
	return k;
}

static const struct conf *
scratch_conf_of(struct knobs k)
{
	unsigned v = (k.k1 & KNOB_LOCAL_B ? 1 : 0) |
	    (KNOB_FED(k.k1) == 3 ? 0 : KNOB_FED(k.k1)) << 1 |
	    (k.k1 & KNOB_SRV ? 8 : 0) | (k.k1 & KNOB_TIGHT ? 16 : 0);

	return &scratch_conf[v];
}

/* Where the log ends now (the caller checks what an input adds). */
static off_t
scratch_log_mark(void)
{
	struct stat st;

	CHECK(fstat(scratch_log_fd, &st) == 0);
	if (st.st_size > LOG_TRIM) {
		CHECK(ftruncate(scratch_log_fd, 0) == 0);
		return 0;
	}
	return st.st_size;
}

/*
 * What the gate logged since `from`: whole lines, each one record that
 * vlog_parse takes back (a partner's bytes cannot forge or split a
 * line: fedkit(7), log injection).
 */
static void
scratch_log_check(off_t from)
{
	static char buf[1 << 16];
	struct vlog_rec rec;
	struct fed_err e;
	ssize_t n;
	size_t have = 0, i, start;

	for (;;) {
		n = pread(scratch_log_rfd, buf + have, sizeof buf - have, from);
		CHECK(n >= 0);
		if (n == 0)
			break;
		from += n;
		have += (size_t)n;
		start = 0;
		for (i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			CHECK(i - start < VLOG_LINE_MAX);
			if (vlog_parse(buf + start, i + 1 - start, &rec,
			    &e) != 0) {
				fprintf(stderr, "fuzz: bad log line: %s\n",
				    e.msg);
				abort();
			}
			start = i + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		CHECK(have < VLOG_LINE_MAX);
	}
	CHECK(have == 0);	/* no torn line */
}

/*
 * What the state directory holds: a sum over its files' names, sizes and
 * modification times.  LMDB's lock file is left out: a dry run reads the
 * real store, which takes a reader slot there (state.h says so).
 */
static uint64_t
scratch_state_sum(void)
{
	char path[4200];
	struct dirent *de;
	struct stat st;
	uint64_t key[2] = { 14, 6 }, sum = 0;
	DIR *d;

	snprintf(path, sizeof path, "%s/state", scratch_dir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n >= 5 && strcmp(de->d_name + n - 5, "-lock") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		sum += fed_siphash(key, de->d_name, n) ^
		    (uint64_t)st.st_size * 0x9e3779b97f4a7c15u ^
		    ((uint64_t)st.st_mtim.tv_sec << 30) ^
		    (uint64_t)st.st_mtim.tv_nsec;
	}
	closedir(d);
	return sum;
}

static void
scratch_opts(struct gate_opts *o, struct knobs k)
{
	memset(o, 0, sizeof *o);
	o->peer = scratch_peers[KNOB_PEER(k.k2)];
	o->dry_run = (k.k1 & KNOB_DRY) != 0;
	o->log_fd = scratch_log_fd;
}

static struct gate *
scratch_gate_open(const struct conf *c, const struct gate_opts *o)
{
	struct fed_err e;
	struct gate *g;

	if (gate_open(&g, c, o, &e) != 0) {
		fprintf(stderr, "fuzz: gate_open: %s\n", e.msg);
		abort();
	}
	return g;
}

static void
scratch_gate_close(struct gate *g)
{
	struct fed_err e;

	if (gate_close(g, &e) != 0) {
		fprintf(stderr, "fuzz: gate_close: %s\n", e.msg);
		abort();
	}
}

/* The gate for this input: call scratch_gate_done after it. */
static struct gate *
scratch_gate(struct knobs k, int replies, int down, int bound_refusals)
{
	const struct conf *c = scratch_conf_of(k);
	struct gate_opts o;
	unsigned key = (unsigned)(c - scratch_conf) << 4 |
	    (replies ? 8u : 0u) | (KNOB_PEER(k.k2) == 0 ? 4u : 0u) |
	    (k.k1 & KNOB_DRY ? 2u : 0u) | (down ? 1u : 0u);
	struct kept_gate *slot = &kept[0];
	size_t i;

	scratch_opts(&o, k);
	o.replies = replies;
	/* A fresh gate is one connection, whose refusals are bounded as
	 * socket mode bounds them; a kept one lives through many inputs,
	 * whose refusals would all count against one bucket. */
	if (k.k2 & KNOB_FRESH_GATE) {
		o.bound_refusals = bound_refusals;
		return scratch_gate_open(c, &o);
	}
	for (i = 0; i < GATE_KEEP; i++) {
		if (kept[i].g != NULL && kept[i].key == key) {
			slot = &kept[i];
			break;
		}
		if (kept[i].g == NULL || kept[i].used < slot->used)
			slot = &kept[i];
	}
	if (slot->g == NULL || slot->key != key) {
		if (slot->g != NULL)
			scratch_gate_close(slot->g);
		slot->g = scratch_gate_open(c, &o);
		slot->key = key;
	}
	slot->used = ++kept_clock;
	/* The peer is this input's, as for a new connection (a gate
	 * without one is kept apart: set_peer cannot undo a peer). */
	if (o.peer != NULL)
		gate_set_peer(slot->g, o.peer);
	return slot->g;
}

static void
scratch_gate_done(struct gate *g, struct knobs k)
{
	if (k.k2 & KNOB_FRESH_GATE)
		scratch_gate_close(g);
}

#endif
