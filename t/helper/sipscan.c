/* sipscan: frame a SIP stream with lib/sip and list, count or summarize it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fed.h"
#include "sip.h"

/*
 * The read loop is the one every stream reader of lib/sip needs: one
 * buffer of CHUNK + max_message bytes, allocated once.  A message is at
 * most max_message bytes, so once the consumed bytes are moved down there
 * is always room for a whole CHUNK read; the memory used is bounded
 * whatever the input says (a hostile Content-Length makes sip_frame fail,
 * and if it ever did not, a full buffer still ends the scan).
 */
#define CHUNK		(1 << 20)

enum mode { M_LIST, M_COUNT, M_SUMMARY };

struct totals {
	unsigned long long messages;	/* framed messages, malformed included */
	unsigned long long bytes;
	unsigned long long malformed;
	unsigned long long keepalives;
	double parse_seconds;		/* wall time outside read(2) */
};

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The parsed message is large (SIP_HDR_MAX headers): keep it off the stack. */
static struct sip_msg msg;

/* ---- list mode ----------------------------------------------------- */

/* Write s escaped: partner bytes must never add a field or a line. */
static void
put_esc(const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (n == 0) {
		fputs("-", stdout);
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\t')
			fputs("\\t", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\r')
			fputs("\\r", stdout);
		else if (c == '\\')
			fputs("\\\\", stdout);
		else if (c < 0x20 || c == 0x7f) {
			fputs("\\x", stdout);
			putchar(hex[c >> 4]);
			putchar(hex[c & 15]);
		} else
			putchar(c);
	}
}

/* The request's target as policy keys it: the Request-URI's user@host, or
 * the To URI's where the Request-URI has no user part (SPEC 1.2). */
static int
target_aor(const struct sip_msg *m, char *buf, size_t sz)
{
	if (m->ruri.is_sip && m->ruri.user.n == 0 && m->to.user.n > 0)
		return sip_uri_aor(&m->to, buf, sz);
	return sip_uri_aor(&m->ruri, buf, sz);
}

static void
list_message(const struct sip_msg *m)
{
	char aor[512], dom[256];
	int n;

	if (m->is_request) {
		fputs("req\t", stdout);
		put_esc(m->method.p, m->method.n);
		n = sip_uri_aor(&m->ruri, aor, sizeof aor);
	} else {
		printf("resp\t%d", m->status);
		n = -1;
	}
	putchar('\t');
	put_esc(aor, n < 0 ? 0 : (size_t)n);
	putchar('\t');
	n = sip_uri_domain(&m->from, dom, sizeof dom);
	put_esc(dom, n < 0 ? 0 : (size_t)n);
	putchar('\t');
	n = sip_uri_domain(&m->to, dom, sizeof dom);
	put_esc(dom, n < 0 ? 0 : (size_t)n);
	putchar('\t');
	put_esc(m->call_id.p, m->call_id.n);
	printf("\t%lu ", (unsigned long)m->cseq);
	put_esc(m->cseq_method.p, m->cseq_method.n);
	putchar('\n');
}

static void
list_malformed(const struct sip_error *e)
{
	fputs("malformed\t", stdout);
	put_esc(e->reason, e->reason != NULL ? strlen(e->reason) : 0);
	putchar('\n');
}

/* ---- summary mode -------------------------------------------------- */

/*
 * Partners live in a fixed open-addressing table; past PART_MAX of them
 * the rest are pooled under "(others)".  Distinct target URIs are kept
 * per partner as 64-bit FNV-1a hashes of their AOR strings (a collision
 * at these sizes is vanishingly unlikely), in a set that doubles up to a
 * global budget of URI_BUDGET entries; past it the count is shown "N+".
 */
#define PART_SLOTS	4096
#define PART_MAX	3000
#define URI_BUDGET	(1u << 22)
#define UA_KEEP		3
#define FAILURE_CODES	{ 403, 404, 410, 484, 485, 604 }

struct partner {
	char name[128];
	unsigned long long req, resp, ok2xx, fail;
	unsigned methods;	/* bit per enum sip_method; bit 0: other */
	uint64_t *uri;		/* open-addressing set of hashes, 0 = empty */
	size_t uri_cap, uri_n;
	int uri_full;
	char ua[UA_KEEP][96];
	int nua, ua_more;
};

static struct partner *part_slot[PART_SLOTS];
static unsigned npart;
static size_t uri_used;
static struct partner others = { .name = "(others)" };

static uint64_t
fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n-- > 0) {
		h ^= (unsigned char)*p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct partner *
partner_get(const char *name, size_t n)
{
	size_t i = (size_t)fnv1a(name, n) & (PART_SLOTS - 1);
	struct partner *p;

	for (;;) {
		p = part_slot[i];
		if (p == NULL)
			break;
		if (strlen(p->name) == n && memcmp(p->name, name, n) == 0)
			return p;
		i = (i + 1) & (PART_SLOTS - 1);
	}
	if (npart >= PART_MAX || n >= sizeof p->name)
		return &others;
	if ((p = calloc(1, sizeof *p)) == NULL)
		fed_err(FED_EXIT_SYS, "calloc");
	memcpy(p->name, name, n);
	p->name[n] = '\0';
	part_slot[i] = p;
	npart++;
	return p;
}

static void
uri_insert_hash(struct partner *p, uint64_t h)
{
	size_t i = (size_t)h & (p->uri_cap - 1);

	while (p->uri[i] != 0) {
		if (p->uri[i] == h)
			return;
		i = (i + 1) & (p->uri_cap - 1);
	}
	p->uri[i] = h;
	p->uri_n++;
}

static void
uri_add(struct partner *p, const char *aor, size_t n)
{
	uint64_t h = fnv1a(aor, n);
	size_t i;

	if (h == 0)
		h = 1;
	if (p->uri_n + 1 > p->uri_cap / 2) {
		size_t ncap = p->uri_cap ? p->uri_cap * 2 : 64;
		uint64_t *old = p->uri;
		size_t ocap = p->uri_cap;

		if (uri_used - ocap + ncap > URI_BUDGET) {
			/* Still count exact repeats among what we hold. */
			p->uri_full = 1;
			return;
		}
		if ((p->uri = calloc(ncap, sizeof *p->uri)) == NULL)
			fed_err(FED_EXIT_SYS, "calloc");
		p->uri_cap = ncap;
		p->uri_n = 0;
		uri_used = uri_used - ocap + ncap;
		for (i = 0; i < ocap; i++)
			if (old[i] != 0)
				uri_insert_hash(p, old[i]);
		free(old);
	}
	uri_insert_hash(p, h);
}

static void
ua_add(struct partner *p, struct fed_str ua)
{
	char tmp[96];
	int i;

	if (ua.n == 0)
		return;
	fed_str_copy(tmp, sizeof tmp, ua);
	for (i = 0; i < p->nua; i++)
		if (strcmp(p->ua[i], tmp) == 0)
			return;
	if (p->nua < UA_KEEP)
		memcpy(p->ua[p->nua++], tmp, sizeof tmp);
	else
		p->ua_more = 1;
}

static void
summary_message(const struct sip_msg *m)
{
	static const int failure[] = FAILURE_CODES;
	char dom[256], aor[512];
	struct partner *p;
	int n;
	size_t i;

	n = sip_uri_domain(&m->from, dom, sizeof dom);
	if (n < 0) {
		dom[0] = '-';
		n = 1;
	}
	p = partner_get(dom, (size_t)n);
	if (!m->is_request) {
		p->resp++;
		if (m->status >= 200 && m->status < 300)
			p->ok2xx++;
		for (i = 0; i < sizeof failure / sizeof failure[0]; i++)
			if (m->status == failure[i])
				p->fail++;
		return;
	}
	p->req++;
	p->methods |= 1u << (m->method_id < SIP_M__COUNT ? m->method_id : 0);
	if ((n = target_aor(m, aor, sizeof aor)) >= 0)
		uri_add(p, aor, (size_t)n);
	ua_add(p, m->user_agent);
}

static int
partner_cmp(const void *a, const void *b)
{
	const struct partner *x = *(const struct partner *const *)a;
	const struct partner *y = *(const struct partner *const *)b;

	if (x->req != y->req)
		return x->req > y->req ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Methods as "INVITE,MESSAGE", into buf. */
static void
methods_str(unsigned mask, char *buf, size_t sz)
{
	size_t n = 0;
	int k;

	buf[0] = '\0';
	for (k = 1; k <= SIP_M__COUNT; k++) {
		int id = k == SIP_M__COUNT ? 0 : k;
		const char *name = id == 0 ? "other" : sip_method_name(id);

		if (!(mask & (1u << id)) || name == NULL)
			continue;
		n += (size_t)snprintf(buf + n, sz - n, "%s%s", n ? "," : "",
		    name);
		if (n >= sz)
			break;
	}
	if (buf[0] == '\0')
		snprintf(buf, sz, "-");
}

static void
summary_print(void)
{
	struct partner **v;
	char meth[256], uris[32];
	size_t i, nv = 0, wname = 7, wmeth = 7;
	int j;

	if ((v = calloc(npart + 1, sizeof *v)) == NULL)
		fed_err(FED_EXIT_SYS, "calloc");
	for (i = 0; i < PART_SLOTS; i++)
		if (part_slot[i] != NULL)
			v[nv++] = part_slot[i];
	if (others.req + others.resp > 0)
		v[nv++] = &others;
	qsort(v, nv, sizeof *v, partner_cmp);
	for (i = 0; i < nv; i++) {
		methods_str(v[i]->methods, meth, sizeof meth);
		if (strlen(v[i]->name) > wname)
			wname = strlen(v[i]->name);
		if (strlen(meth) > wmeth)
			wmeth = strlen(meth);
	}
	printf("%-*s %8s %9s %6s %6s %6s  %-*s  %s\n", (int)wname, "partner",
	    "requests", "responses", "uris", "2xx", "fail", (int)wmeth,
	    "methods", "user-agents");
	for (i = 0; i < nv; i++) {
		struct partner *p = v[i];

		methods_str(p->methods, meth, sizeof meth);
		snprintf(uris, sizeof uris, "%zu%s", p->uri_n,
		    p->uri_full ? "+" : "");
		printf("%-*s %8llu %9llu %6s %6llu %6llu  %-*s  ", (int)wname,
		    p->name, p->req, p->resp, uris, p->ok2xx, p->fail,
		    (int)wmeth, meth);
		for (j = 0; j < p->nua; j++) {
			if (j > 0)
				fputs(" | ", stdout);
			put_esc(p->ua[j], strlen(p->ua[j]));
		}
		if (p->nua == 0)
			fputs("-", stdout);
		if (p->ua_more)
			fputs(" | ...", stdout);
		putchar('\n');
	}
	free(v);
	for (i = 0; i < PART_SLOTS; i++)
		if (part_slot[i] != NULL) {
			free(part_slot[i]->uri);
			free(part_slot[i]);
		}
	free(others.uri);
}

/* ---- the read loop ------------------------------------------------- */

/* Scan fd to its end; 0 when all of it was framed, 2 on a framing error. */
static int
scan(int fd, const char *name, enum mode mode, struct totals *tot)
{
	struct sip_limits lim;
	struct sip_error err;
	enum sip_frame_result r;
	unsigned long long base = 0;	/* stream offset of buf[0] */
	size_t cap, len = 0, pos = 0, scanned = 0, used, i;
	char *buf;
	ssize_t got;
	int eof = 0, rc = 0;
	/* The bench wants the parser's own speed too: time everything but
	 * the reads, two clock calls a 1 MiB chunk. */
	double t_run = now_seconds();

	sip_limits_default(&lim);
	cap = CHUNK + lim.max_message;
	if ((buf = malloc(cap)) == NULL)
		fed_err(FED_EXIT_SYS, "malloc");
	for (;;) {
		used = 0;
		memset(&err, 0, sizeof err);
		r = sip_frame(buf + pos, len - pos, &lim, &scanned, &used,
		    &msg, &err);
		switch (r) {
		case SIP_FRAME_MESSAGE:
		case SIP_FRAME_MALFORMED:
		case SIP_FRAME_KEEPALIVE:
			if (used == 0 || used > len - pos) {
				fed_warnx("%s: byte %llu: sip_frame consumed "
				    "%zu of %zu bytes", name, base + pos, used,
				    len - pos);
				rc = FED_EXIT_USAGE;
				goto done;
			}
			break;
		default:
			break;
		}
		switch (r) {
		case SIP_FRAME_MESSAGE:
			tot->messages++;
			if (mode == M_LIST)
				list_message(&msg);
			else if (mode == M_SUMMARY)
				summary_message(&msg);
			pos += used;
			scanned = 0;
			continue;
		case SIP_FRAME_MALFORMED:
			tot->messages++;
			tot->malformed++;
			if (mode == M_LIST)
				list_malformed(&err);
			pos += used;
			scanned = 0;
			continue;
		case SIP_FRAME_KEEPALIVE:
			tot->keepalives++;
			pos += used;
			scanned = 0;
			continue;
		case SIP_FRAME_ERROR:
			fed_warnx("%s: byte %llu: %s", name, base + pos,
			    err.reason != NULL ? err.reason : "framing error");
			rc = FED_EXIT_USAGE;
			goto done;
		case SIP_FRAME_MORE:
			break;
		}
		if (eof) {
			/* A lone CRLF at the end may be all of a keep-alive
			 * the framer could not tell from half a CRLFCRLF. */
			for (i = pos; i < len; i++)
				if (buf[i] != '\r' && buf[i] != '\n')
					break;
			if (pos < len && i == len) {
				tot->keepalives++;
				pos = len;
			}
			if (pos < len) {
				fed_warnx("%s: byte %llu: incomplete message "
				    "at end of input (%zu bytes)", name,
				    base + pos, len - pos);
				rc = FED_EXIT_USAGE;
			}
			goto done;
		}
		/* Move the unframed tail down; `scanned` stays valid. */
		if (pos > 0) {
			memmove(buf, buf + pos, len - pos);
			len -= pos;
			base += pos;
			pos = 0;
		}
		if (len == cap) {
			fed_warnx("%s: byte %llu: message longer than %zu "
			    "bytes", name, base, lim.max_message);
			rc = FED_EXIT_USAGE;
			goto done;
		}
		tot->parse_seconds += now_seconds() - t_run;
		do
			got = read(fd, buf + len, cap - len < CHUNK ?
			    cap - len : CHUNK);
		while (got < 0 && errno == EINTR);
		t_run = now_seconds();
		if (got < 0)
			fed_err(FED_EXIT_SYS, "%s: read", name);
		if (got == 0)
			eof = 1;
		len += (size_t)got;
		tot->bytes += (unsigned long long)got;
	}
done:
	tot->parse_seconds += now_seconds() - t_run;
	free(buf);
	return rc;
}

_Noreturn static void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: sipscan [--count | --summary] [file]\n");
	exit(code);
}

int
main(int argc, char **argv)
{
	struct totals tot = { 0 };
	enum mode mode = M_LIST;
	const char *name = "stdin";
	int fd = 0, rc, i;

	fed_progname = "sipscan";
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "--count") == 0)
			mode = M_COUNT;
		else if (strcmp(argv[i], "--summary") == 0)
			mode = M_SUMMARY;
		else if (strcmp(argv[i], "-h") == 0)
			usage(FED_EXIT_OK);
		else
			usage(FED_EXIT_USAGE);
	}
	if (argc - i > 1)
		usage(FED_EXIT_USAGE);
	if (argc - i == 1 && strcmp(argv[i], "-") != 0) {
		name = argv[i];
		if ((fd = open(name, O_RDONLY)) < 0)
			fed_err(FED_EXIT_USAGE, "%s", name);
	}
	rc = scan(fd, name, mode, &tot);
	if (mode == M_COUNT)
		printf("messages %llu bytes %llu malformed %llu keepalives %llu "
		    "parse_seconds %.6f\n", tot.messages, tot.bytes,
		    tot.malformed, tot.keepalives, tot.parse_seconds);
	else if (mode == M_SUMMARY)
		summary_print();
	if (fflush(stdout) == EOF || ferror(stdout))
		fed_err(FED_EXIT_SYS, "write");
	if (fd != 0)
		close(fd);
	return rc;
}
