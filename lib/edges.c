/* edges.c: read the edge cache and say whether a peer is one of a domain's edges. */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "afile.h"
#include "edges.h"
#include "list.h"
#include "vlog.h"

#define EDGES_FILE_MAX ((size_t)256 << 20)

static int
cmp_edge(const void *a, const void *b)
{
	return strcmp(((const struct edge *)a)->domain,
	    ((const struct edge *)b)->domain);
}

void
edge_array_free(struct edge *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].domain);
		free(v[i].target);
		free(v[i].addrs);
	}
	free(v);
}

static void
edges_clear(struct edges *ed)
{
	edge_array_free(ed->v, ed->n);
	ed->v = NULL;
	ed->n = 0;
}

void
edges_free(struct edges *ed)
{
	edges_clear(ed);
	free(ed->path);
	ed->path = NULL;
}

/* Split a line into at most 6 whitespace-separated fields. */
static size_t
split(char *s, char **f, size_t max)
{
	size_t n = 0;

	while (*s != '\0') {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			*s++ = '\0';
		if (*s == '\0' || *s == '#')
			break;
		if (n == max)
			return max + 1;
		f[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r')
			s++;
	}
	return n;
}

static int
parse_expires(const char *s, int64_t *ms)
{
	uint64_t v;

	if (isdigit((unsigned char)s[0]) && strchr(s, '-') == NULL) {
		if (fed_parse_u64(s, strlen(s), INT64_MAX / 1000, &v) != 0)
			return -1;
		*ms = (int64_t)v * 1000;
		return 0;
	}
	return vlog_time_parse(s, strlen(s), ms);
}

/* One line into *e: 0, -1 for a bad line (*err says why, with file and
 * line), -2 when out of memory. */
static int
parse_line(struct edge *e, char *line, const char *path, unsigned lineno,
    struct fed_err *err)
{
	/* f all set: gcc's analyzer cannot tie n to the fields filled in. */
	char *f[6] = { 0 }, dom[DOMAIN_MAX + 2], tgt[DOMAIN_MAX + 2];
	char q[FED_QUOTE_MAX];
	struct fed_err why;
	uint64_t port;
	size_t n = split(line, f, 5);

	if (n != 4 && n != 5) {
		fed_err_set(err, "%s:%u: expected `domain target port expires "
		    "[addresses]`", path, lineno);
		return -1;
	}
	if (domain_normalize(f[0], strlen(f[0]), 0, dom, sizeof dom, &why) != 0 ||
	    domain_normalize(f[1], strlen(f[1]), 0, tgt, sizeof tgt, &why) != 0) {
		fed_err_set(err, "%s:%u: %s", path, lineno, why.msg);
		return -1;
	}
	if (fed_parse_u64(f[2], strlen(f[2]), 65535, &port) != 0 ||
	    port == 0) {
		fed_quote_prefix(q, f[2], strlen(f[2]), 16);
		fed_err_set(err, "%s:%u: bad port %s", path, lineno, q);
		return -1;
	}
	if (parse_expires(f[3], &e->expires_ms) != 0) {
		fed_quote_prefix(q, f[3], strlen(f[3]), FED_QUOTE_LINE);
		fed_err_set(err, "%s:%u: bad expiry time %s", path, lineno, q);
		return -1;
	}
	e->port = (unsigned)port;
	/* gcc 12's analyzer loses stores into an element at a variable index
	 * of a buffer grown on the same path, and calls these leaked; the
	 * caller keeps them, or frees them when the line is bad. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"	/* clang: no -Wanalyzer-* */
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
	e->domain = strdup(dom);
	e->target = strdup(tgt);
	e->addrs = n == 5 ? strdup(f[4]) : NULL;
	if (e->domain == NULL || e->target == NULL || (n == 5 && e->addrs == NULL)) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		return -2;
	}
	return 0;
#pragma GCC diagnostic pop
}

/* Is the field a list of addresses that split() gives back whole? */
static int
addrs_ok(const char *a)
{
	for (; *a != '\0'; a++)
		if ((unsigned char)*a <= ' ' || *a == '#' || *a == 0x7f)
			return 0;
	return 1;
}

/* The first bad line and how many, for edges_load's one message. */
struct bad_lines {
	char first[sizeof ((struct fed_err *)0)->msg];
	size_t n;
};

static void
note_bad(void *arg, const char *msg)
{
	struct bad_lines *b = arg;

	if (b->n++ == 0)
		snprintf(b->first, sizeof b->first, "%s", msg);
}

/*
 * Parse the whole file: a bad line is told to warn() ("FILE:LINE: why")
 * and skipped, the others kept.  -1 only when out of memory.
 */
static int
edges_parse(struct edges *ed, char *buf, edges_warn_fn warn, void *warnarg,
    struct fed_err *err)
{
	size_t cap = 0;
	unsigned lineno = 0;
	char *line = buf, *nl;
	struct edge *v;
	struct fed_err why;
	int rc;

	for (; line != NULL && *line != '\0'; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		lineno++;
		line += strspn(line, " \t\r");
		if (*line == '\0' || *line == '#')
			continue;
		if (ed->n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((v = realloc(ed->v, cap * sizeof *v)) == NULL) {
				fed_err_set(err, "%s: %s", ed->path, strerror(ENOMEM));
				return -1;
			}
			ed->v = v;
		}
		memset(&ed->v[ed->n], 0, sizeof ed->v[ed->n]);
		why.msg[0] = '\0';
		if ((rc = parse_line(&ed->v[ed->n], line, ed->path, lineno,
		    &why)) != 0) {
			struct edge *e = &ed->v[ed->n];

			free(e->domain);
			free(e->target);
			free(e->addrs);
			memset(e, 0, sizeof *e);
			if (rc == -2) {
				fed_err_set(err, "%s", why.msg);
				return -1;
			}
			if (warn != NULL)
				warn(warnarg, why.msg);
			continue;
		}
		ed->n++;
	}
	if (ed->n > 1)
		qsort(ed->v, ed->n, sizeof *ed->v, cmp_edge);
	return 0;
}

static void
note_ident(struct edges *ed, const struct stat *st)
{
	ed->exists = 1;
	fed_ident_of(&ed->id, st);
}

/* edges_load, also telling how many lines were bad (skipped). */
static int
load(struct edges *ed, const char *path, size_t *nbad, struct fed_err *err)
{
	struct bad_lines bad;
	struct stat st;
	char *buf = NULL;
	size_t len;
	int rc;

	memset(ed, 0, sizeof *ed);
	*nbad = 0;
	if ((ed->path = strdup(path)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		return -1;
	}
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		fed_err_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Even a file with bad lines is remembered as seen, so it is read
	 * (and its bad lines told) again only once it changes. */
	note_ident(ed, &st);
	if (fed_read_file(path, EDGES_FILE_MAX, &buf, &len, err) != 0)
		return errno == ENOENT ? 0 : -1;
	bad.n = 0;
	bad.first[0] = '\0';
	rc = edges_parse(ed, buf, note_bad, &bad, err);
	free(buf);
	if (rc != 0) {
		edges_clear(ed);	/* out of memory: nobody verified */
		return -1;
	}
	if (bad.n > 0) {
		*nbad = bad.n;
		if (bad.n == 1)
			fed_err_set(err, "%s (line skipped, the others used)",
			    bad.first);
		else
			fed_err_set(err, "%s (line skipped; %zu bad lines in "
			    "all, the others used)", bad.first, bad.n);
		return -1;
	}
	return 0;
}

int
edges_load(struct edges *ed, const char *path, struct fed_err *err)
{
	size_t nbad;

	return load(ed, path, &nbad, err);
}

int
edges_refresh(struct edges *ed, int64_t now_ms, struct fed_err *err)
{
	struct edges fresh;
	struct fed_ident now_id;
	size_t nbad;

	if (ed->path == NULL || now_ms - ed->checked_ms < 1000)
		return 0;
	ed->checked_ms = now_ms;
	fed_ident_path(&now_id, ed->path);
	if (fed_ident_same(&ed->id, &now_id))
		return 0;
	if (load(&fresh, ed->path, &nbad, err) != 0 && nbad == 0) {
		/* Unreadable: keep what we had, but take the file's
		 * identity, so it is tried again once it changes. */
		ed->exists = fresh.exists;
		ed->id = now_id;
		edges_free(&fresh);
		return -1;
	}
	/* Its good lines replace the old ones even when some were bad. */
	fresh.checked_ms = now_ms;
	edges_free(ed);
	*ed = fresh;
	return nbad > 0 ? -1 : 1;
}

/* The host part of a peer: without brackets, port and trailing dot. */
static size_t
peer_host(const char *peer, char *out, size_t outsz)
{
	const char *p = peer, *end, *colon;
	size_t n;

	if (*p == '[') {
		p++;
		end = strchr(p, ']');
		if (end == NULL)
			end = p + strlen(p);
	} else {
		colon = strchr(p, ':');
		/* one colon: host:port; more: a bare IPv6 address */
		if (colon != NULL && strchr(colon + 1, ':') == NULL)
			end = colon;
		else
			end = p + strlen(p);
	}
	n = (size_t)(end - p);
	if (n > 0 && p[n - 1] == '.')
		n--;
	if (n == 0 || n >= outsz)
		return 0;
	memcpy(out, p, n);
	out[n] = '\0';
	return n;
}

static int
in_addr_list(const char *list, const char *host)
{
	size_t hn = strlen(host);
	const char *p = list, *comma;

	while (p != NULL && *p != '\0') {
		comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n == hn && strncasecmp(p, host, n) == 0)
			return 1;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return 0;
}

int
edges_peer_is(const char *peer, const char *fqdn)
{
	char host[DOMAIN_MAX + 2];
	size_t fn = strlen(fqdn);

	if (peer == NULL || peer_host(peer, host, sizeof host) == 0)
		return 0;
	if (fn > 0 && fqdn[fn - 1] == '.')
		fn--;
	return strlen(host) == fn && strncasecmp(host, fqdn, fn) == 0;
}

int
edges_match(const struct edges *ed, const char *domain, const char *peer,
    int64_t now_ms)
{
	char host[DOMAIN_MAX + 2];
	size_t lo = 0, hi = ed->n, mid;

	if (peer == NULL || peer_host(peer, host, sizeof host) == 0)
		return 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(ed->v[mid].domain, domain) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ed->n && strcmp(ed->v[lo].domain, domain) == 0; lo++) {
		const struct edge *e = &ed->v[lo];

		if (e->expires_ms <= now_ms)
			continue;
		if (strcasecmp(e->target, host) == 0 ||
		    (e->addrs != NULL && in_addr_list(e->addrs, host)))
			return 1;
	}
	return 0;
}

/* ---- the writer: fedq -w ---- */

struct edge_ref {
	const struct edge *e;
	size_t seq;		/* later wins among equal keys */
};

static int
cmp_ref(const void *pa, const void *pb)
{
	const struct edge_ref *a = pa, *b = pb;
	int c;

	if ((c = strcmp(a->e->domain, b->e->domain)) != 0 ||
	    (c = strcmp(a->e->target, b->e->target)) != 0)
		return c;
	if (a->e->port != b->e->port)
		return a->e->port < b->e->port ? -1 : 1;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Would the reader take this fresh line as it is?  (It is written as
 * given, so its names must already be in the reader's normal form.) */
static int
fresh_ok(const struct edge *e)
{
	char buf[DOMAIN_MAX + 2];

	return e->domain != NULL && e->target != NULL &&
	    domain_normalize(e->domain, strlen(e->domain), 0, buf, sizeof buf,
	    NULL) == 0 && strcmp(buf, e->domain) == 0 &&
	    domain_normalize(e->target, strlen(e->target), 0, buf, sizeof buf,
	    NULL) == 0 && strcmp(buf, e->target) == 0 &&
	    e->port > 0 && e->port <= 65535 &&
	    (e->addrs == NULL || addrs_ok(e->addrs));
}

/* The good fresh entries' domains, sorted and each once: the domains
 * whose old entries the merge replaces.  How many. */
static size_t
fresh_domains(const struct edge *fresh, size_t n, const char **doms)
{
	size_t i, k = 0, nd = 0;

	for (i = 0; i < n; i++)
		if (fresh_ok(&fresh[i]))
			doms[k++] = fresh[i].domain;
	qsort(doms, k, sizeof *doms, cmp_str);
	for (i = 0; i < k; i++)
		if (nd == 0 || strcmp(doms[nd - 1], doms[i]) != 0)
			doms[nd++] = doms[i];
	return nd;
}

/* Add e to refs[*nr], in the order read. */
static void
ref_add(struct edge_ref *refs, size_t *nr, const struct edge *e)
{
	refs[*nr].e = e;
	refs[*nr].seq = *nr;
	(*nr)++;
}

/* A fresh entry the reader would refuse is said and left out. */
static void
fresh_refused(const char *path, const struct edge *e, edges_warn_fn warn,
    void *warnarg)
{
	char msg[sizeof ((struct fed_err *)0)->msg];

	if (warn == NULL)
		return;
	snprintf(msg, sizeof msg, "%s: not written: a line the reader would "
	    "refuse (%.64s %.80s)", path, e->domain != NULL ? e->domain : "-",
	    e->target != NULL ? e->target : "-");
	warn(warnarg, msg);
}

/* The cache's lines, sorted; of equal keys (a domain given twice) the
 * last one read. */
static void
refs_write(FILE *fp, struct edge_ref *refs, size_t nr)
{
	char when[32];
	size_t i;

	qsort(refs, nr, sizeof *refs, cmp_ref);
	fprintf(fp, "# fedkit edge cache, written by fedq -w: "
	    "domain target port expires [addresses]\n");
	for (i = 0; i < nr; i++) {
		const struct edge *e = refs[i].e;

		if (i + 1 < nr && strcmp(e->domain, refs[i + 1].e->domain) == 0 &&
		    strcmp(e->target, refs[i + 1].e->target) == 0 &&
		    e->port == refs[i + 1].e->port)
			continue;
		vlog_time_format(when, e->expires_ms);
		fprintf(fp, "%s\t%s\t%u\t%s%s%s\n", e->domain, e->target,
		    e->port, when, e->addrs != NULL && e->addrs[0] != '\0' ?
		    "\t" : "", e->addrs != NULL ? e->addrs : "");
	}
}

int
edges_merge(const char *path, const struct edge *fresh, size_t n,
    int64_t now_ms, edges_warn_fn warn, void *warnarg, struct fed_err *err)
{
	struct edges old;
	struct afile af;
	struct edge_ref *refs = NULL;
	const char **doms = NULL;
	char *buf = NULL;
	size_t len, i, nr = 0, nd;
	int rc = -1;

	memset(&old, 0, sizeof old);
	if (afile_begin(&af, path, 0644, err) != 0)
		return -1;
	/* Read under the lock: a concurrent fedq -w cannot slip in between. */
	if ((old.path = strdup(path)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		goto out;
	}
	if (fed_read_file(path, EDGES_FILE_MAX, &buf, &len, err) != 0) {
		if (errno != ENOENT)
			goto out;
	} else if (edges_parse(&old, buf, warn, warnarg, err) != 0) {
		goto out;	/* out of memory; bad lines are dropped */
	}
	if ((doms = malloc((n ? n : 1) * sizeof *doms)) == NULL ||
	    (refs = malloc((n + old.n + 1) * sizeof *refs)) == NULL) {
		fed_err_set(err, "%s: %s", path, strerror(ENOMEM));
		goto out;
	}
	nd = fresh_domains(fresh, n, doms);
	for (i = 0; i < old.n; i++) {
		const char *d = old.v[i].domain;

		if (old.v[i].expires_ms > now_ms && (nd == 0 ||
		    bsearch(&d, doms, nd, sizeof *doms, cmp_str) == NULL))
			ref_add(refs, &nr, &old.v[i]);
	}
	for (i = 0; i < n; i++)
		if (!fresh_ok(&fresh[i]))
			fresh_refused(path, &fresh[i], warn, warnarg);
		else if (fresh[i].expires_ms > now_ms)
			ref_add(refs, &nr, &fresh[i]);
	refs_write(af.fp, refs, nr);
	rc = afile_commit(&af, err);
out:
	if (rc != 0)
		afile_abort(&af);
	free(refs);
	free(doms);
	free(buf);
	edges_free(&old);
	return rc;
}
