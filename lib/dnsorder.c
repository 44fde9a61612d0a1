/* dnsorder.c: the order a client tries SRV targets in (RFC 2782). */
#include <sys/random.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dnsorder.h"

/* Uniform in [0, bound] from the kernel's generator, without modulo bias. */
static uint32_t
rand_upto(uint32_t bound)
{
	static unsigned char pool[256];
	static size_t left;
	uint64_t range = (uint64_t)bound + 1, lim;
	uint32_t v;

	lim = (UINT64_C(1) << 32) - ((UINT64_C(1) << 32) % range);
	for (;;) {
		if (left < 4) {
			ssize_t r = getrandom(pool, sizeof pool, 0);

			if (r != (ssize_t)sizeof pool) {
				/* getrandom on Linux does not fail for 256
				 * bytes once the pool is ready; if it ever
				 * does, lean on rand() rather than stop. */
				for (r = 0; r < (ssize_t)sizeof pool; r++)
					pool[r] = (unsigned char)rand();
			}
			left = sizeof pool;
		}
		left -= 4;
		memcpy(&v, pool + left, 4);
		if (v < lim)
			return (uint32_t)(v % range);
	}
}

static int
cmp_sorted(const void *pa, const void *pb)
{
	const struct dns_target *a = pa, *b = pb;
	int c;

	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight > b->weight ? -1 : 1;
	if ((c = strcmp(a->name, b->name)) != 0)
		return c;
	return (a->port > b->port) - (a->port < b->port);
}

static int
cmp_prio(const void *pa, const void *pb)
{
	const struct dns_target *a = pa, *b = pb;

	return (a->priority > b->priority) - (a->priority < b->priority);
}

static void
swap_t(struct dns_target *a, struct dns_target *b)
{
	struct dns_target tmp;

	memcpy(&tmp, a, sizeof tmp);
	memcpy(a, b, sizeof tmp);
	memcpy(b, &tmp, sizeof tmp);
}

/*
 * RFC 2782 leaves the order of the unordered list arbitrary; shuffle it,
 * so that among several weight-0 targets each is as likely to come first,
 * then move the weight-0 ones to the front as the RFC says.
 */
static void
shuffle_zero_first(struct dns_target *t, size_t n)
{
	size_t i, z = 0;

	for (i = n; i > 1; i--)
		swap_t(&t[i - 1], &t[rand_upto((uint32_t)(i - 1))]);
	for (i = 0; i < n; i++)
		if (t[i].weight == 0)
			swap_t(&t[z++], &t[i]);
}

void
dns_order(struct dns_target *t, size_t n, int sorted)
{
	size_t lo, hi, i, k;

	if (n < 2) {
		return;
	}
	if (sorted) {
		qsort(t, n, sizeof *t, cmp_sorted);
		return;
	}
	/* Priority groups, weight-0 entries at the head of each (RFC 2782). */
	qsort(t, n, sizeof *t, cmp_prio);
	for (lo = 0; lo < n; lo = hi) {
		for (hi = lo + 1; hi < n && t[hi].priority == t[lo].priority;)
			hi++;
		shuffle_zero_first(t + lo, hi - lo);
		/* Pick one of [k, hi) by running sum, move it to k. */
		for (k = lo; k + 1 < hi; k++) {
			uint64_t sum = 0, run = 0;
			uint32_t r;

			for (i = k; i < hi; i++)
				sum += t[i].weight;
			r = rand_upto((uint32_t)sum);	/* n * 65535 fits */
			for (i = k; i < hi; i++) {
				run += t[i].weight;
				if (run >= r)
					break;
			}
			if (i == hi)
				i = hi - 1;
			/* Keep the weight-0 entries ahead of the rest. */
			if (i != k) {
				struct dns_target pick;

				memcpy(&pick, &t[i], sizeof pick);
				memmove(&t[k + 1], &t[k], (i - k) * sizeof *t);
				memcpy(&t[k], &pick, sizeof pick);
			}
		}
	}
}
