/* dnswire.c: DNS messages as they come off the wire: names, records, CNAME chains. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dnswire.h"

#define CNAME_MAX_LINKS 16
#define RR_MAX_SEEN 1024	/* records looked at per section, whatever ancount says */

static int
get16(const unsigned char *m, size_t len, size_t off, uint16_t *v)
{
	if (off > len || len - off < 2)
		return -1;
	*v = (uint16_t)(m[off] << 8 | m[off + 1]);
	return 0;
}

static int
get32(const unsigned char *m, size_t len, size_t off, uint32_t *v)
{
	if (off > len || len - off < 4)
		return -1;
	*v = (uint32_t)m[off] << 24 | (uint32_t)m[off + 1] << 16 |
	    (uint32_t)m[off + 2] << 8 | m[off + 3];
	return 0;
}

/*
 * Decode the name at off into out (lowercase, no trailing dot, "" for the
 * root); *next is the offset after the name where it starts.  A pointer
 * must point before the label holding it, so every jump goes backwards
 * and the walk ends; the output never exceeds 253 octets (255 on the
 * wire), the most a name can be in presentation form.
 */
static int
name_decode(const unsigned char *m, size_t len, size_t off, char *out,
    size_t *next)
{
	size_t o = 0, pos = off, hops = 0, i;
	int jumped = 0;
	unsigned c;

	for (;;) {
		if (pos >= len)
			return -1;
		c = m[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= len || ++hops > 128)
				return -1;
			to = (size_t)(c & 0x3f) << 8 | m[pos + 1];
			if (to >= pos)
				return -1;
			if (!jumped)
				*next = pos + 2;
			jumped = 1;
			pos = to;
			continue;
		}
		if ((c & 0xc0) != 0)
			return -1;	/* the reserved label types */
		if (c == 0) {
			if (!jumped)
				*next = pos + 1;
			break;
		}
		if (pos + 1 + c > len || o + (o > 0) + c > DNS_NAME_LEN_MAX)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (i = 0; i < c; i++) {
			unsigned char b = m[pos + 1 + i];

			if (b >= 'A' && b <= 'Z')
				b = (unsigned char)(b - 'A' + 'a');
			else if (!((b >= 'a' && b <= 'z') || (b >= '0' &&
			    b <= '9') || b == '-' || b == '_' || b == '*'))
				return -1;
			out[o++] = (char)b;
		}
		pos += 1 + c;
	}
	out[o] = '\0';
	return 0;
}

/* Names as given to us may carry a trailing dot and capitals. */
int
dns_name_eq(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na > 0 && a[na - 1] == '.')
		na--;
	if (nb > 0 && b[nb - 1] == '.')
		nb--;
	return na == nb && strncasecmp(a, b, na) == 0;
}

struct rr_hdr {
	char owner[DNS_NAME_MAX];
	uint16_t type, class;
	uint32_t ttl;
	size_t rdata, rdlen;
};

/* Walk the answer section, calling fn for each record; -1 if malformed. */
static int
walk_answers(const unsigned char *m, size_t len, size_t off, unsigned an,
    int (*fn)(const unsigned char *, size_t, const struct rr_hdr *, void *),
    void *arg)
{
	struct rr_hdr h;
	uint16_t rdlen;
	unsigned i;

	for (i = 0; i < an && i < RR_MAX_SEEN; i++) {
		if (name_decode(m, len, off, h.owner, &off) != 0 ||
		    get16(m, len, off, &h.type) != 0 ||
		    get16(m, len, off + 2, &h.class) != 0 ||
		    get32(m, len, off + 4, &h.ttl) != 0 ||
		    get16(m, len, off + 8, &rdlen) != 0)
			return -1;
		off += 10;
		if (rdlen > len - off)
			return -1;
		/* RFC 2181 8: a TTL with the top bit set is zero. */
		if (h.ttl > 0x7fffffffu)
			h.ttl = 0;
		h.rdata = off;
		h.rdlen = rdlen;
		off += rdlen;
		if (h.class == 1 && fn(m, len, &h, arg) != 0)
			return -1;
	}
	return 0;
}

struct chain {
	char owner[CNAME_MAX_LINKS][DNS_NAME_MAX];
	char target[CNAME_MAX_LINKS][DNS_NAME_MAX];
	uint32_t ttl[CNAME_MAX_LINKS];
	size_t n;
};

static int
collect_cname(const unsigned char *m, size_t len, const struct rr_hdr *h,
    void *arg)
{
	struct chain *c = arg;
	size_t end;

	(void)len;
	if (h->type != DNS_T_CNAME || c->n == CNAME_MAX_LINKS)
		return 0;
	if (name_decode(m, h->rdata + h->rdlen, h->rdata, c->target[c->n],
	    &end) != 0 || end != h->rdata + h->rdlen)
		return -1;
	memcpy(c->owner[c->n], h->owner, sizeof h->owner);
	c->ttl[c->n] = h->ttl;
	c->n++;
	return 0;
}

/* A <character-string> of a NAPTR record into out (cut to outsz - 1). */
static int
char_string(const unsigned char *m, size_t end, size_t *off, char *out,
    size_t outsz)
{
	size_t n, i, o = 0;

	if (*off >= end)
		return -1;
	n = m[*off];
	if (n > end - *off - 1)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char b = m[*off + 1 + i];

		if (o + 1 < outsz)
			out[o++] = (char)(b >= 0x20 && b < 0x7f ? b : '?');
	}
	out[o] = '\0';
	*off += 1 + n;
	return 0;
}

struct collect {
	struct dns_answer *a;
	int qtype;
};

static int
collect_rr(const unsigned char *m, size_t len, const struct rr_hdr *h,
    void *arg)
{
	struct collect *c = arg;
	struct dns_answer *a = c->a;
	size_t end = h->rdata + h->rdlen, off = h->rdata, next;
	struct dns_rr *r;

	(void)len;
	if (h->type != c->qtype || !dns_name_eq(h->owner, a->name))
		return 0;
	if (a->n == DNS_MAX_RRS) {
		a->dropped++;
		return 0;
	}
	r = &a->rr[a->n];
	memset(r, 0, sizeof *r);
	r->type = h->type;
	r->ttl = h->ttl;
	switch (h->type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		if (h->rdlen != (h->type == DNS_T_A ? 4u : 16u))
			return -1;
		r->u.addr.family = h->type == DNS_T_A ? AF_INET : AF_INET6;
		memcpy(r->u.addr.a, m + off, h->rdlen);
		break;
	case DNS_T_SRV:
		/* Names in RDATA may point anywhere before them, but
		 * must end inside the record. */
		if (get16(m, end, off, &r->u.srv.priority) != 0 ||
		    get16(m, end, off + 2, &r->u.srv.weight) != 0 ||
		    get16(m, end, off + 4, &r->u.srv.port) != 0 ||
		    name_decode(m, end, off + 6, r->u.srv.target, &next) != 0 ||
		    next != end)
			return -1;
		break;
	case DNS_T_NAPTR:
		off += 4;
		if (get16(m, end, h->rdata, &r->u.naptr.order) != 0 ||
		    get16(m, end, h->rdata + 2, &r->u.naptr.preference) != 0 ||
		    char_string(m, end, &off, r->u.naptr.flags,
		    sizeof r->u.naptr.flags) != 0 ||
		    char_string(m, end, &off, r->u.naptr.service,
		    sizeof r->u.naptr.service) != 0 ||
		    char_string(m, end, &off, r->u.naptr.replacement,
		    sizeof r->u.naptr.replacement) != 0)	/* the regexp */
			return -1;
		if (name_decode(m, end, off, r->u.naptr.replacement,
		    &next) != 0 || next != end)
			return -1;
		break;
	default:
		return 0;
	}
	a->n++;
	return 0;
}

int
dns_parse(const unsigned char *m, size_t len, const char *qname, int qtype,
    struct dns_answer *a)
{
	struct chain *ch;
	struct collect col;
	uint16_t flags, qd, an;
	size_t off = 12, i, link;
	char skip[DNS_NAME_MAX];
	int rc = -1;

	a->n = a->dropped = 0;
	a->rcode = 0;
	a->cname_ttl = UINT32_MAX;
	if (strlen(qname) >= sizeof a->name)
		return -1;
	strcpy(a->name, qname);
	if (get16(m, len, 2, &flags) != 0 || get16(m, len, 4, &qd) != 0 ||
	    get16(m, len, 6, &an) != 0 || len < 12 || !(flags & 0x8000))
		return -1;
	a->rcode = flags & 0xf;
	if (qd > 4)
		return -1;
	for (i = 0; i < qd; i++) {
		if (name_decode(m, len, off, skip, &off) != 0 || len - off < 4)
			return -1;
		off += 4;
	}
	if ((ch = malloc(sizeof *ch)) == NULL)
		return -1;
	ch->n = 0;
	if (walk_answers(m, len, off, an, collect_cname, ch) != 0)
		goto out;
	/* Follow the chain: each link must start where the last ended. */
	for (link = 0; link < CNAME_MAX_LINKS; link++) {
		for (i = 0; i < ch->n; i++)
			if (dns_name_eq(ch->owner[i], a->name))
				break;
		if (i == ch->n)
			break;
		memcpy(a->name, ch->target[i], sizeof a->name);
		if (ch->ttl[i] < a->cname_ttl)
			a->cname_ttl = ch->ttl[i];
	}
	col.a = a;
	col.qtype = qtype;
	rc = walk_answers(m, len, off, an, collect_rr, &col);
out:
	free(ch);
	if (rc != 0)
		a->n = 0;
	return rc;
}

void
dns_addr_str(const struct dns_addr *a, char *buf, size_t bufsz)
{
	if (inet_ntop(a->family, a->a, buf, (socklen_t)bufsz) == NULL &&
	    bufsz > 0)
		buf[0] = '\0';
}
