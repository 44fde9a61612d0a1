/* fuzz_list.c: libFuzzer target: list text through list_parse (allow and
 * block rules) and list_lookup, checking what a successful parse promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* What list_lookup must return, by brute force: exact, else longest. */
static const struct list_entry *
slow_lookup(const struct list *l, const char *d)
{
	const struct list_entry *best = NULL;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].name, d) == 0)
			return &l->v[i];
		if (l->v[i].name[0] == '.' && domain_match(l->v[i].name, d) &&
		    (best == NULL || strlen(l->v[i].name) > strlen(best->name)))
			best = &l->v[i];
	}
	return best;
}

static void
invariants(const struct list *l, int options_allowed)
{
	char out[DOMAIN_MAX + 2], sub[DOMAIN_MAX + 8];
	struct fed_err e;
	const struct list_entry *x;
	size_t i;

	for (i = 0; i < l->n; i++) {
		const struct list_entry *v = &l->v[i];

		/* Sorted, without duplicates, every name already normal. */
		CHECK(i == 0 || strcmp(l->v[i - 1].name, v->name) < 0);
		CHECK(domain_normalize(v->name, strlen(v->name), 1, out,
		    sizeof out, &e) == 0 && strcmp(out, v->name) == 0);
		if (v->edge != NULL)
			CHECK(domain_normalize(v->edge, strlen(v->edge), 0,
			    out, sizeof out, &e) == 0 &&
			    strcmp(out, v->edge) == 0);
		CHECK(v->rate == LIST_UNSET || v->rate == LIST_UNLIMITED ||
		    v->rate >= 1);
		CHECK(v->max_uris == LIST_UNSET ||
		    v->max_uris == LIST_UNLIMITED || v->max_uris >= 1);
		if (!options_allowed)
			CHECK(v->edge == NULL && v->rate == LIST_UNSET &&
			    v->max_uris == LIST_UNSET);
		/* An entry's own name finds it, or an exact entry. */
		x = list_lookup(l, v->name[0] == '.' ? v->name + 1 : v->name);
		CHECK(x != NULL && domain_match(x->name,
		    v->name[0] == '.' ? v->name + 1 : v->name));
		if (v->name[0] == '.' && strlen(v->name) < DOMAIN_MAX - 2) {
			memcpy(sub, "zz", 2);
			strcpy(sub + 2, v->name);
			x = list_lookup(l, sub);
			CHECK(x != NULL && (l->n > 256 ||
			    x == slow_lookup(l, sub)));
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	char name[DOMAIN_MAX + 2];
	struct list l;
	struct fed_err e;
	const struct list_entry *x;
	int opts;
	size_t n;
	const char *nl;

	/* The first line, normalized, is the name looked up. */
	nl = memchr(p, '\n', size);
	n = nl ? (size_t)(nl - p) : size;
	if (domain_normalize(p, n, 0, name, sizeof name, &e) == -1)
		name[0] = '\0';
	for (opts = 0; opts <= 1; opts++) {
		e.msg[0] = '\0';
		if (list_parse(&l, "fuzz", p, size, opts, &e) == 0) {
			invariants(&l, opts);
			if (name[0] != '\0') {
				x = list_lookup(&l, name);
				CHECK(x == slow_lookup(&l, name));
			}
		} else
			CHECK(e.msg[0] != '\0' && l.n == 0 && l.v == NULL);
		list_free(&l);
	}
	return 0;
}
