/* listidx.c: test and bench helper for listdb: build, query, generate lists.
 *   listidx [-a] PATH          build PATH.idx (-a: an allow list, options allowed)
 *   listidx -q [-a] [-m] [-p] [-t] [-A ALLOW] PATH DOMAIN...
 *       open PATH with listdb (-p: parse it with list_load instead, the
 *       reference) and print, for each DOMAIN, the line
 *       DOMAIN TAB ENTRY TAB indexed|parsed TAB EDGE TAB RATE TAB MAX_URIS
 *       or DOMAIN TAB -; with -A, a second line for the allow list ALLOW.
 *       -m: then print `mem` and the private memory (Private_Dirty +
 *       Private_Clean of /proc/self/smaps_rollup, kB) before opening and
 *       after the lookups; -t: `time` and the open and lookup times.
 *       Exit 0 when every domain was found in PATH, 1 when one was not.
 *   listidx -g N [-a] [-S] [-s SEED]
 *       print N distinct random valid entries (one in ten a .suffix;
 *       options with -a), the same for the same SEED; -S sorted. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "listdb.h"

/* A sanitizer build's memory (shadow, quarantine) says nothing about
 * fedgate's: the shell test needs to know. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

struct mem {
	long dirty, clean, anon, rss;
};

static void
usage(void)
{
	fputs("usage: listidx [-a] PATH\n"
	    "       listidx -q [-a] [-m] [-p] [-t] [-A ALLOW] PATH DOMAIN...\n"
	    "       listidx -g N [-a] [-S] [-s SEED]\n", stderr);
	exit(2);
}

static long
field_kb(const char *buf, const char *name)
{
	const char *p = strstr(buf, name);

	return p != NULL ? strtol(p + strlen(name), NULL, 10) : -1;
}

/*
 * Read with read(2) into a stack buffer, not stdio: measuring must not
 * allocate what it measures.
 */
static int
mem_now(struct mem *m)
{
	char buf[4096];
	ssize_t r;
	size_t len = 0;
	int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	while (len < sizeof buf - 1 &&
	    (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	m->rss = field_kb(buf, "\nRss:");
	m->dirty = field_kb(buf, "\nPrivate_Dirty:");
	m->clean = field_kb(buf, "\nPrivate_Clean:");
	m->anon = field_kb(buf, "\nAnonymous:");
	return m->dirty < 0 || m->clean < 0 ? -1 : 0;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
limit(char *out, size_t sz, long v)
{
	if (v == LIST_UNSET)
		snprintf(out, sz, "-");
	else if (v == LIST_UNLIMITED)
		snprintf(out, sz, "unlimited");
	else
		snprintf(out, sz, "%ld", v);
}

static void
print_entry(const char *domain, const struct list_entry *e, const char *how)
{
	char r[24], m[24];

	if (e == NULL) {
		printf("%s\t-\n", domain);
		return;
	}
	limit(r, sizeof r, e->rate);
	limit(m, sizeof m, e->max_uris);
	printf("%s\t%s\t%s\t%s\t%s\t%s\n", domain, e->name, how,
	    e->edge != NULL ? e->edge : "-", r, m);
}

/* One list, opened either way. */
struct qlist {
	struct listdb db;
	struct list mem;
	int parsed;
};

static void
q_open(struct qlist *q, const char *path, int opts, int parsed)
{
	struct fed_err err;
	int rc;

	q->parsed = parsed;
	rc = parsed ? list_load(&q->mem, path, opts, &err) :
	    listdb_open(&q->db, path, opts, &err);
	if (rc == -1) {
		fprintf(stderr, "listidx: %s\n", err.msg);
		exit(2);
	}
}

static int
q_lookup(struct qlist *q, const char *domain)
{
	char scratch[LISTDB_SCRATCH];
	struct list_entry e;
	const struct list_entry *x;

	if (q->parsed) {
		x = list_lookup(&q->mem, domain);
		print_entry(domain, x, "parsed");
		return x != NULL;
	}
	if (listdb_lookup(&q->db, domain, &e, scratch, sizeof scratch) != 1) {
		print_entry(domain, NULL, NULL);
		return 0;
	}
	print_entry(domain, &e, q->db.indexed ? "indexed" : "parsed");
	return 1;
}

static void
q_close(struct qlist *q)
{
	if (q->parsed)
		list_free(&q->mem);
	else
		listdb_close(&q->db);
}

static int
query(int argc, char **argv, int opts, const char *allow, int parsed,
    int memory, int timing)
{
	struct qlist main_l, allow_l;
	struct mem m0, m1;
	double t0, t1, t2;
	int i, all = 1, have_m0;

	have_m0 = memory && mem_now(&m0) == 0;
	memset(&main_l, 0, sizeof main_l);
	memset(&allow_l, 0, sizeof allow_l);
	t0 = now_us();
	q_open(&main_l, argv[0], opts, parsed);
	if (allow != NULL)
		q_open(&allow_l, allow, 1, parsed);
	t1 = now_us();
	for (i = 1; i < argc; i++) {
		if (!q_lookup(&main_l, argv[i]))
			all = 0;
		if (allow != NULL)
			q_lookup(&allow_l, argv[i]);
	}
	t2 = now_us();
	if (memory) {
		if (!have_m0 || mem_now(&m1) == -1) {
			fprintf(stderr, "listidx: /proc/self/smaps_rollup: "
			    "cannot read it\n");
			exit(3);
		}
		printf("mem\tprivate_kb=%ld\tdirty_kb=%ld\tclean_kb=%ld\t"
		    "anon_kb=%ld\trss_kb=%ld\tbaseline_private_kb=%ld\t"
		    "sanitizer=%d\n", m1.dirty + m1.clean, m1.dirty, m1.clean,
		    m1.anon, m1.rss, m0.dirty + m0.clean, SANITIZED);
	}
	if (timing)
		printf("time\topen_us=%.0f\tlookup_us=%.0f\n", t1 - t0,
		    t2 - t1);
	q_close(&main_l);
	if (allow != NULL)
		q_close(&allow_l);
	return all ? 0 : 1;
}

/* splitmix64: a small deterministic generator, the same everywhere. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Entry i's label is i scrambled by a multiplication by an odd number
 * modulo 2^40 (a bijection), in base 36: distinct for every i, as list
 * names must be, yet in no useful order.
 */
static int
generate(unsigned long n, int opts, int sorted, uint64_t seed)
{
	static const char *const tld[] = { "com", "net", "org", "de", "io",
	    "example" };
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	char **lines = NULL, label[16], line[256], tail[128];
	uint64_t s = seed, x;
	unsigned long i;
	size_t k;

	if (sorted && (lines = calloc(n ? n : 1, sizeof *lines)) == NULL) {
		perror("listidx");
		return 3;
	}
	for (i = 0; i < n; i++) {
		uint64_t r = rnd(&s);

		x = ((uint64_t)i + seed) * 0x9e3779b97f4a7c15ULL &
		    ((1ULL << 40) - 1);
		k = sizeof label - 1;
		label[k] = '\0';
		do {
			label[--k] = digits[x % 36];
			x /= 36;
		} while (x != 0);
		tail[0] = '\0';
		if (opts) {
			size_t t = 0;

			if (i % 3 == 0)
				t += (size_t)snprintf(tail + t, sizeof tail -
				    t, " rate=%u", (unsigned)(r % 500 + 1));
			if (i % 5 == 0)
				t += (size_t)snprintf(tail + t, sizeof tail -
				    t, " max_uris=unlimited");
			if (i % 11 == 0)
				snprintf(tail + t, sizeof tail - t,
				    " edge=edge.%s.%s", label + k,
				    tld[(r >> 8) % 6]);
		}
		snprintf(line, sizeof line, "%s%s%s.%s%s", i % 10 == 0 ? "." :
		    "", i % 7 == 3 ? "sip." : "", label + k, tld[(r >> 8) % 6],
		    tail);
		if (sorted) {
			if ((lines[i] = strdup(line)) == NULL) {
				perror("listidx");
				return 3;
			}
		} else
			puts(line);
	}
	if (sorted) {
		qsort(lines, n, sizeof *lines, line_cmp);
		for (i = 0; i < n; i++) {
			puts(lines[i]);
			free(lines[i]);
		}
		free(lines);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("listidx: stdout");
		return 3;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static char obuf[1 << 16];
	struct fed_err err;
	const char *allow = NULL;
	unsigned long gen = 0;
	uint64_t seed = 1;
	int c, opts = 0, q = 0, parsed = 0, memory = 0, timing = 0, sorted = 0,
	    g = 0;

	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
	while ((c = getopt(argc, argv, "aA:g:mpqSs:t")) != -1)
		switch (c) {
		case 'a': opts = 1; break;
		case 'A': allow = optarg; break;
		case 'g': g = 1; gen = strtoul(optarg, NULL, 10); break;
		case 'm': memory = 1; break;
		case 'p': parsed = 1; break;
		case 'q': q = 1; break;
		case 'S': sorted = 1; break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 't': timing = 1; break;
		default: usage();
		}
	argc -= optind;
	argv += optind;
	if (g)
		return argc == 0 ? generate(gen, opts, sorted, seed) : 2;
	if (q) {
		if (argc < 1)
			usage();
		return query(argc, argv, opts, allow, parsed, memory, timing);
	}
	if (argc != 1)
		usage();
	if (list_index_write(argv[0], opts, 0, &err) != 0) {
		fprintf(stderr, "listidx: %s\n", err.msg);
		return 2;
	}
	return 0;
}
