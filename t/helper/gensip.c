/* gensip: write a deterministic stream of realistic federated SIP traffic. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fed.h"

/*
 * Everything goes through one output buffer flushed with fwrite, and every
 * message is assembled in two fixed scratch buffers (headers, body), so the
 * generator allocates nothing per message and writes ~800 MB in seconds.
 * Numbers and strings are appended by hand: snprintf per header would be
 * the main cost.
 */

#define OUT_SIZE	(1 << 20)
#define MSG_MAX		4096	/* well above the 1,200 bytes we aim for */
#define SIZE_MIN	400
#define SIZE_MAX_	1200

static char out[OUT_SIZE];
static size_t outlen;

struct buf {
	char *p;
	size_t n, cap;
};

static char hdrmem[MSG_MAX], bodymem[MSG_MAX];

static void
out_flush(void)
{
	if (outlen > 0 && fwrite(out, 1, outlen, stdout) != outlen)
		fed_err(FED_EXIT_SYS, "write");
	outlen = 0;
}

static void
out_put(const char *p, size_t n)
{
	if (outlen + n > sizeof out)
		out_flush();
	memcpy(out + outlen, p, n);
	outlen += n;
}

/* Appending past cap is a bug in this file: the sizes are bounded below. */
static void
put(struct buf *b, const char *p, size_t n)
{
	if (b->n + n > b->cap)
		fed_errx(FED_EXIT_SYS, "internal error: message buffer overflow");
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void
putu(struct buf *b, unsigned long long v)
{
	char tmp[24];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	put(b, tmp + i, sizeof tmp - i);
}

static void
puthex(struct buf *b, unsigned long long v, int digits)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	int i;

	for (i = digits - 1; i >= 0; i--) {
		tmp[i] = hex[v & 15];
		v >>= 4;
	}
	put(b, tmp, (size_t)digits);
}

/* The PRNG: splitmix64, small, fast and the same on every platform. */
static uint64_t rng_state;

static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [0, n); the modulo bias is irrelevant here. */
static unsigned
rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[rndn(NELEM(a))])

static const char *const partner_domains[] = {
	"fabrikam.example", "contoso.example", "northwind.example",
	"tailspin.example", "adatum.example", "litware.example",
	"wingtip.example", "proseware.example", "woodgrove.example",
	"lucerne.example",
};
static const char *const first_names[] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert",
	"sybil", "trent", "victor", "walter", "yolanda", "zoe", "quentin",
	"ursula", "xavier", "kim", "lena", "marco", "nora", "oscar", "paula",
	"ravi", "sara", "tomas", "uma", "vera", "wen", "yusuf", "zara",
	"anton", "bianca", "chen", "dmitri", "elena", "farid", "gita",
	"hugo", "ines", "jonas", "kaito", "lucia",
};
static const char *const last_names[] = {
	"smith", "jones", "garcia", "miller", "davis", "martin", "lopez",
	"wilson", "anderson", "thomas", "taylor", "moore", "jackson", "lee",
	"white", "harris", "clark", "lewis", "young", "walker", "hall",
	"allen", "king", "wright", "scott", "green", "baker", "adams",
	"nelson", "hill",
};
static const char *const user_agents[] = {
	"Microsoft Lync 2010 (4.0.7577.4051) OC/4.0.7577.4051",
	"UCCAPI/16.0.14326.20238 OC/16.0.14326.20286 (Skype for Business)",
	"RTCC/7.0.0.0 FES/7.0",
	"Asterisk PBX 20.5.0",
	"FreeSWITCH-mod_sofia/1.10.11-release",
	"Kamailio (5.7.2 (x86_64/linux))",
	"Linphone/5.2.0 (belle-sip/5.2.0)",
	"Jitsi2.10.5550Linux",
};
static const char *const words[] = {
	"the", "meeting", "is", "moved", "to", "room", "four", "tomorrow",
	"please", "review", "draft", "before", "noon", "thanks", "quarterly",
	"numbers", "look", "good", "can", "you", "call", "me", "when",
	"free", "shipment", "arrived", "invoice", "attached", "see", "notes",
	"from", "yesterday", "we", "need", "a", "decision", "on", "budget",
};
static const char *const tokens = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* The local domain every request is addressed to. */
#define LOCAL "example.com"

/* One side of a dialog: who, from where. */
struct party {
	char user[48];
	char domain[48];
	char host[48];		/* the edge or client host in Via and Contact */
};

/* A transaction under construction: what the response must copy. */
struct txn {
	const char *method;
	struct party from, to;
	char ruri_user[48];	/* empty: Request-URI without a user part */
	char from_tag[16], to_tag[16];
	char call_id[64];
	char branch[32];
	unsigned long cseq;
	const char *ua;
	int compact;		/* use compact header names */
	int fold;		/* fold one long header */
};

static void
rand_token(char *dst, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		dst[i] = tokens[rndn(62)];
	dst[n - 1] = '\0';
}

/* dst = a b c, truncated to fit: snprintf per message costs too much. */
static void
join3(char *dst, size_t sz, const char *a, const char *b, const char *c)
{
	const char *part[3] = { a, b, c };
	size_t n = 0, k;
	int i;

	for (i = 0; i < 3; i++)
		for (k = 0; part[i][k] != '\0' && n + 1 < sz; k++)
			dst[n++] = part[i][k];
	dst[n] = '\0';
}

static void
make_user(char *dst, size_t sz, unsigned first, unsigned last)
{
	join3(dst, sz, first_names[first % NELEM(first_names)], ".",
	    last_names[last % NELEM(last_names)]);
}

static void
txn_new(struct txn *t, const char *method, const char *fdomain,
    const char *fuser, const char *tuser, const char *ua)
{
	static const char *const hostname[] = { "sip1.", "sip2.", "sip3." };
	char r[25];

	memset(t, 0, sizeof *t);
	t->method = method;
	join3(t->from.user, sizeof t->from.user, fuser, "", "");
	join3(t->from.domain, sizeof t->from.domain, fdomain, "", "");
	join3(t->from.host, sizeof t->from.host, PICK(hostname), fdomain, "");
	join3(t->to.user, sizeof t->to.user, tuser, "", "");
	join3(t->to.domain, sizeof t->to.domain, LOCAL, "", "");
	join3(t->to.host, sizeof t->to.host, "edge.", LOCAL, "");
	join3(t->ruri_user, sizeof t->ruri_user, tuser, "", "");
	rand_token(t->from_tag, 11);
	rand_token(t->to_tag, 11);
	rand_token(t->branch, 24);
	rand_token(r, sizeof r);
	join3(t->call_id, sizeof t->call_id, r, "@", t->from.host);
	t->cseq = 1 + rndn(9000);
	t->ua = ua;
	t->compact = rndn(20) == 0;
	t->fold = rndn(25) == 0;
}

static void
hname(struct buf *b, const struct txn *t, const char *longname,
    const char *compact)
{
	puts_(b, t->compact && compact != NULL ? compact : longname);
	puts_(b, ": ");
}

static void
put_via(struct buf *b, const struct txn *t, int response)
{
	hname(b, t, "Via", "v");
	puts_(b, "SIP/2.0/TLS ");
	puts_(b, t->from.host);
	puts_(b, ":5061;branch=z9hG4bK");
	puts_(b, t->branch);
	if (response)
		puts_(b, ";received=192.0.2.17");
	puts_(b, "\r\n");
}

static void
put_from_to(struct buf *b, const struct txn *t, int response)
{
	hname(b, t, "From", "f");
	puts_(b, "<sip:");
	puts_(b, t->from.user);
	puts_(b, "@");
	puts_(b, t->from.domain);
	puts_(b, ">;tag=");
	puts_(b, t->from_tag);
	puts_(b, "\r\n");
	hname(b, t, "To", "t");
	puts_(b, "<sip:");
	puts_(b, t->to.user[0] != '\0' ? t->to.user : "100");
	puts_(b, "@");
	puts_(b, t->to.domain);
	puts_(b, ">");
	if (response) {
		puts_(b, ";tag=");
		puts_(b, t->to_tag);
	}
	puts_(b, "\r\n");
	hname(b, t, "Call-ID", "i");
	puts_(b, t->call_id);
	puts_(b, "\r\n");
	puts_(b, "CSeq: ");
	putu(b, t->cseq);
	puts_(b, " ");
	puts_(b, t->method);
	puts_(b, "\r\n");
}

static void
put_allow(struct buf *b, const struct txn *t)
{
	/* Folding is legal but rare: the parser must join it all the same. */
	if (t->fold)
		puts_(b, "Allow: INVITE, ACK, CANCEL, BYE,\r\n OPTIONS, MESSAGE,"
		    "\r\n\tINFO, SUBSCRIBE, NOTIFY, REFER\r\n");
	else
		puts_(b, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, "
		    "INFO, SUBSCRIBE, NOTIFY, REFER\r\n");
}

/*
 * Pad a message with realistic optional headers (proxy Record-Routes) so
 * it lands near its target size; real federation traffic carries a few.
 */
static void
pad_to(struct buf *h, const struct txn *t, size_t body, size_t target)
{
	unsigned hop = 1;
	size_t cl, want, k;

	/* The Content-Length line and the empty line still to come. */
	cl = (t->compact ? 3 : 16) + 4 + (body >= 1000 ? 4 : body >= 100 ? 3 :
	    body >= 10 ? 2 : 1);
	while (h->n + body + cl + 80 < target && hop < 12) {
		puts_(h, "Record-Route: <sip:");
		puts_(h, hop % 2 ? "edge" : "proxy");
		putu(h, hop);
		puts_(h, ".");
		puts_(h, hop % 2 ? t->from.domain : LOCAL);
		puts_(h, ":5061;transport=tls;lr>\r\n");
		hop++;
	}
	/* A correlation id of just the right length: "X-Trace-Id: " CRLF. */
	if (h->n + body + cl + 14 + 8 <= target) {
		want = target - (h->n + body + cl) - 14;
		puts_(h, "X-Trace-Id: ");
		for (k = 0; k < want; k++)
			put(h, &tokens[rndn(62)], 1);
		puts_(h, "\r\n");
	}
}

/* Finish a message: Content-Length, blank line, body, into the output. */
static void
emit(struct buf *h, const struct txn *t, const struct buf *body)
{
	hname(h, t, "Content-Length", "l");
	putu(h, body->n);
	puts_(h, "\r\n\r\n");
	out_put(h->p, h->n);
	if (body->n > 0)
		out_put(body->p, body->n);
}

static size_t
target_size(void)
{
	/* Bodies may overshoot a target by a little: aim below the cap. */
	return SIZE_MIN + 22 + rndn(SIZE_MAX_ - SIZE_MIN - 120);
}

static void
body_text(struct buf *b, size_t want)
{
	size_t n;

	while (b->n < want) {
		const char *w = PICK(words);

		n = strlen(w);
		if (b->n + n + 1 > want)
			break;
		if (b->n > 0)
			put(b, " ", 1);
		put(b, w, n);
	}
	put(b, ".", 1);
}

static void
body_sdp(struct buf *b, const struct txn *t)
{
	unsigned long sess = (unsigned long)(rnd() % 4000000000UL);
	unsigned port = 20000 + 2 * rndn(10000);

	puts_(b, "v=0\r\no=- ");
	putu(b, sess);
	puts_(b, " ");
	putu(b, sess);
	puts_(b, " IN IP4 198.51.100.");
	putu(b, 1 + rndn(254));
	puts_(b, "\r\ns=session\r\nc=IN IP4 198.51.100.");
	putu(b, 1 + rndn(254));
	puts_(b, "\r\nb=CT:99980\r\nt=0 0\r\nm=audio ");
	putu(b, port);
	puts_(b, " RTP/SAVP 0 8 9 101\r\n"
	    "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
	    "a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	    "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
	    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:");
	{
		char k[41];

		rand_token(k, sizeof k);
		puts_(b, k);
	}
	puts_(b, "\r\n");
	(void)t;
}

static void
body_pidf(struct buf *b, const struct txn *t)
{
	static const char *const basic[] = { "open", "closed" };

	puts_(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
	    "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:");
	puts_(b, t->from.user);
	puts_(b, "@");
	puts_(b, t->from.domain);
	puts_(b, "\">\r\n<tuple id=\"t");
	puthex(b, rnd(), 8);
	puts_(b, "\"><status><basic>");
	puts_(b, PICK(basic));
	puts_(b, "</basic></status></tuple>\r\n</presence>\r\n");
}

/* Write one request of transaction t. */
static void
gen_request(const struct txn *t)
{
	struct buf h = { hdrmem, 0, sizeof hdrmem };
	struct buf b = { bodymem, 0, sizeof bodymem };
	size_t target = target_size();
	const char *ctype = NULL;

	if (strcmp(t->method, "MESSAGE") == 0) {
		ctype = "text/plain; charset=UTF-8";
		body_text(&b, 20 + rndn(target > 700 ? 300 : 120));
	} else if (strcmp(t->method, "INVITE") == 0) {
		ctype = "application/sdp";
		body_sdp(&b, t);
	} else if (strcmp(t->method, "NOTIFY") == 0) {
		ctype = "application/pidf+xml";
		body_pidf(&b, t);
	}

	puts_(&h, t->method);
	puts_(&h, " sip:");
	if (t->ruri_user[0] != '\0') {
		puts_(&h, t->ruri_user);
		puts_(&h, "@");
	}
	puts_(&h, LOCAL);
	puts_(&h, " SIP/2.0\r\n");
	put_via(&h, t, 0);
	puts_(&h, "Max-Forwards: 70\r\n");
	put_from_to(&h, t, 0);
	hname(&h, t, "Contact", "m");
	puts_(&h, "<sip:");
	puts_(&h, t->from.user);
	puts_(&h, "@");
	puts_(&h, t->from.host);
	puts_(&h, ":5061;transport=tls>\r\n");
	puts_(&h, "User-Agent: ");
	puts_(&h, t->ua);
	puts_(&h, "\r\n");
	if (strcmp(t->method, "SUBSCRIBE") == 0 ||
	    strcmp(t->method, "NOTIFY") == 0) {
		hname(&h, t, "Event", "o");
		puts_(&h, "presence\r\n");
		puts_(&h, "Accept: application/pidf+xml\r\n");
		if (t->method[0] == 'S')
			puts_(&h, "Expires: 3600\r\n");
		else
			puts_(&h, "Subscription-State: active;expires=3599\r\n");
	}
	if (strcmp(t->method, "REGISTER") != 0) {
		hname(&h, t, "Supported", "k");
		puts_(&h, "timer, replaces, ms-sender\r\n");
		put_allow(&h, t);
	} else
		puts_(&h, "Expires: 3600\r\n");
	if (ctype != NULL) {
		hname(&h, t, "Content-Type", "c");
		puts_(&h, ctype);
		puts_(&h, "\r\n");
	}
	pad_to(&h, t, b.n, target);
	emit(&h, t, &b);
}

static const char *
reason_phrase(int code)
{
	switch (code) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 200: return "OK";
	case 202: return "Accepted";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 480: return "Temporarily Unavailable";
	case 486: return "Busy Here";
	case 603: return "Decline";
	default: return "Unknown";
	}
}

/* Write our server's response to transaction t. */
static void
gen_response(const struct txn *t, int code)
{
	struct buf h = { hdrmem, 0, sizeof hdrmem };
	struct buf b = { bodymem, 0, sizeof bodymem };
	size_t target = target_size();
	int invite = strcmp(t->method, "INVITE") == 0;

	if (invite && code == 200)
		body_sdp(&b, t);
	puts_(&h, "SIP/2.0 ");
	putu(&h, (unsigned)code);
	puts_(&h, " ");
	puts_(&h, reason_phrase(code));
	puts_(&h, "\r\n");
	put_via(&h, t, 1);
	put_from_to(&h, t, code > 100);
	if (code >= 180 && code < 300 && strcmp(t->method, "MESSAGE") != 0 &&
	    strcmp(t->method, "OPTIONS") != 0) {
		hname(&h, t, "Contact", "m");
		puts_(&h, "<sip:");
		puts_(&h, t->to.user);
		puts_(&h, "@");
		puts_(&h, t->to.host);
		puts_(&h, ":5061;transport=tls>\r\n");
	}
	puts_(&h, "Server: RTC/7.0 (example.com front end)\r\n");
	if (strcmp(t->method, "SUBSCRIBE") == 0 && code < 300)
		puts_(&h, "Expires: 3600\r\n");
	if (code == 200 && (invite || strcmp(t->method, "OPTIONS") == 0)) {
		hname(&h, t, "Supported", "k");
		puts_(&h, "timer, replaces\r\n");
		put_allow(&h, t);
	}
	if (b.n > 0) {
		hname(&h, t, "Content-Type", "c");
		puts_(&h, "application/sdp\r\n");
	}
	pad_to(&h, t, b.n, target);
	emit(&h, t, &b);
}

/* ---- the bulk mode ------------------------------------------------- */

enum kind { K_MESSAGE, K_INVITE, K_OPTIONS, K_SUBSCRIBE, K_NOTIFY, K__COUNT };
static const char *const kind_names[K__COUNT] = {
	"message", "invite", "options", "subscribe", "notify"
};
static const char *const kind_methods[K__COUNT] = {
	"MESSAGE", "INVITE", "OPTIONS", "SUBSCRIBE", "NOTIFY"
};

struct mix {
	unsigned weight[K__COUNT];
	unsigned total;
	unsigned resp;		/* percent of requests answered */
};

_Noreturn static void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr, "usage: gensip [-s seed] [-n count] [-m mix] [-p partners | -M first[:count]]\n"
	    "              [-u users]\n"
	    "       gensip --demo [-s seed]\n"
	    "mix: comma-separated kind=weight (message invite options "
	    "subscribe notify) and resp=PERCENT\n"
	    "-p N: From domains p0.example .. pN-1.example; "
	    "-u N: N target users of example.com\n"
	    "-M F: request k from mF+k.example (a new domain each); "
	    "-M F:C: from mF.example .. mF+C-1.example in turn\n");
	exit(code);
}

static unsigned long long
parse_num(const char *s, const char *what, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v > max)
		fed_errx(FED_EXIT_USAGE, "bad %s: %s", what, s);
	return v;
}

static void
parse_mix(struct mix *m, const char *arg)
{
	char copy[256], *tok, *save = NULL;
	int k;

	if (strlen(arg) >= sizeof copy)
		fed_errx(FED_EXIT_USAGE, "mix too long");
	strcpy(copy, arg);
	memset(m->weight, 0, sizeof m->weight);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (eq == NULL)
			fed_errx(FED_EXIT_USAGE, "bad mix entry: %s", tok);
		*eq = '\0';
		if (strcmp(tok, "resp") == 0) {
			m->resp = (unsigned)parse_num(eq + 1, "resp", 100);
			continue;
		}
		for (k = 0; k < K__COUNT; k++)
			if (strcmp(tok, kind_names[k]) == 0)
				break;
		if (k == K__COUNT)
			fed_errx(FED_EXIT_USAGE, "unknown kind in mix: %s",
			    tok);
		m->weight[k] = (unsigned)parse_num(eq + 1, "weight", 1000000);
	}
	m->total = 0;
	for (k = 0; k < K__COUNT; k++)
		m->total += m->weight[k];
	if (m->total == 0)
		fed_errx(FED_EXIT_USAGE, "mix has no weight");
}

static enum kind
pick_kind(const struct mix *m)
{
	unsigned r = rndn(m->total);
	int k;

	for (k = 0; k < K__COUNT - 1; k++) {
		if (r < m->weight[k])
			return (enum kind)k;
		r -= m->weight[k];
	}
	return (enum kind)(K__COUNT - 1);
}

/* Final response codes with their odds, per kind. */
static int
final_code(enum kind k)
{
	unsigned r = rndn(100);

	switch (k) {
	case K_INVITE:
		return r < 70 ? 200 : r < 85 ? 486 : r < 93 ? 404 : 603;
	case K_MESSAGE:
		return r < 85 ? 200 : r < 93 ? 404 : 480;
	case K_SUBSCRIBE:
		return r < 60 ? 200 : r < 90 ? 202 : 404;
	default:
		return r < 92 ? 200 : 404;
	}
}

/*
 * Who talks to whom in bulk mode.  By default From domains come from the
 * small partner_domains table and target users from first.last pairs;
 * benches need more control: `-p N` draws From domains from N partners
 * p0.example .. p(N-1).example (to fill an allow list with them), `-u N`
 * draws target users from N fixed users of our domain (so a discovered
 * partner stays under max_uris).  `-M FIRST[:COUNT]` mints From
 * domains instead, as a spammer would: request k (responses not counted)
 * comes from m(FIRST + k).example, a new domain every request, or, with
 * COUNT, from mFIRST.example .. m(FIRST + COUNT - 1).example in turn (so
 * separate runs can give disjoint sets of partners, a few requests each).
 * It draws no random number for the domain.  Without -p, -M and -u
 * (0 in struct who), bulk mode draws exactly the random numbers it always
 * did: its output is part of the contract with t/0300-sipscan.t.
 */
struct who {
	unsigned partners;
	unsigned users;
	int mint;
	unsigned long long mint_first, mint_count;	/* count 0: unbounded */
};

/* Target user i of our domain: first.last, then first.lastN past the
 * 1,500 pairs the tables give. */
static void
target_user(char *dst, size_t sz, unsigned i)
{
	unsigned pairs = NELEM(first_names) * NELEM(last_names);
	char num[16];
	size_t n, k = sizeof num;

	make_user(dst, sz, i % NELEM(first_names), i / NELEM(first_names));
	if (i < pairs)
		return;
	num[--k] = '\0';
	for (i /= pairs; i > 0; i /= 10)
		num[--k] = (char)('0' + i % 10);
	n = strlen(dst);
	if (n + (sizeof num - 1 - k) < sz)
		memcpy(dst + n, num + k, sizeof num - k);
}

static void
gen_bulk(unsigned long long count, const struct mix *m, const struct who *w)
{
	unsigned long long n = 0, reqs = 0;
	struct txn t;
	char fuser[48], tuser[48], pdom[32];
	const char *fdomain, *ua;
	unsigned first, last;

	/*
	 * Every random number is drawn in a statement of its own: C leaves
	 * the order in which a call's arguments are evaluated unspecified,
	 * and the stream must not depend on the compiler.  The order is the
	 * one GCC gave the first version of this loop, which drew several
	 * in one call (last argument first), so its output stays the same.
	 */
	while (n < count) {
		enum kind k = pick_kind(m);
		int code;

		last = rndn(1000);
		first = rndn(1000);
		make_user(fuser, sizeof fuser, first, last);
		if (w->users > 0)
			target_user(tuser, sizeof tuser, rndn(w->users));
		else {
			last = rndn(1000);
			first = rndn(1000);
			make_user(tuser, sizeof tuser, first, last);
		}
		ua = PICK(user_agents);
		if (w->mint) {
			snprintf(pdom, sizeof pdom, "m%llu.example",
			    w->mint_first + (w->mint_count > 0 ?
			    reqs % w->mint_count : reqs));
			fdomain = pdom;
		} else if (w->partners > 0) {
			snprintf(pdom, sizeof pdom, "p%u.example",
			    rndn(w->partners));
			fdomain = pdom;
		} else
			fdomain = PICK(partner_domains);
		txn_new(&t, kind_methods[k], fdomain, fuser, tuser, ua);
		gen_request(&t);
		reqs++;
		if (++n >= count || rndn(100) >= m->resp)
			continue;
		code = final_code(k);
		if (k == K_INVITE && code != 404) {
			gen_response(&t, 180);
			if (++n >= count)
				break;
		}
		gen_response(&t, code);
		n++;
	}
}

/* ---- the demo scenario --------------------------------------------- */

/*
 * Five partners, interleaved as they would be on a busy edge, with the
 * flood as one burst.  The numbers are part of the contract with
 * t/0300-sipscan.t and share/demo/README.
 */
enum actor { A_FABRIKAM, A_HARVEST, A_SPAM, A_SCAN, A__COUNT };
#define N_FABRIKAM	60
#define N_KNOWN		20
#define N_HARVEST	1500
#define N_FLOOD		300
#define N_SPAM		5
#define N_SCAN		40

/* Known user i of our domain: first.last from the tables, fixed. */
static void
known_user(char *dst, size_t sz, unsigned i)
{
	make_user(dst, sz, i * 7, i * 3);
}

static int
is_known(const char *user)
{
	char k[48];
	unsigned i;

	for (i = 0; i < N_KNOWN; i++) {
		known_user(k, sizeof k, i);
		if (strcmp(k, user) == 0)
			return 1;
	}
	return 0;
}

static void
demo_fabrikam(unsigned i)
{
	static const char *const methods[] = { "MESSAGE", "INVITE",
	    "MESSAGE", "SUBSCRIBE" };
	struct txn t;
	char fu[48], tu[48];
	const char *m = methods[i % NELEM(methods)];

	make_user(fu, sizeof fu, i % 5 + 10, i % 5 + 20);
	known_user(tu, sizeof tu, i % N_KNOWN);
	txn_new(&t, m, "fabrikam.example", fu, tu,
	    "UCCAPI/16.0.14326.20238 OC/16.0.14326.20286 (Skype for Business)");
	gen_request(&t);
	if (m[0] == 'I')
		gen_response(&t, 180);
	gen_response(&t, 200);
}

static void
demo_harvest(unsigned i)
{
	struct txn t;
	char tu[48];
	int known;

	/* Walk first.last over the name tables: 1,500 distinct addresses. */
	make_user(tu, sizeof tu, i % NELEM(first_names),
	    i / NELEM(first_names));
	known = is_known(tu);
	txn_new(&t, rndn(2) ? "OPTIONS" : "MESSAGE", "harvest.example",
	    "probe", tu, "Microsoft RTC/4.0");
	gen_request(&t);
	gen_response(&t, known ? 200 : 404);
}

static void
demo_flood(unsigned i)
{
	struct txn t;
	char tu[48];

	(void)i;
	known_user(tu, sizeof tu, 3);
	txn_new(&t, "MESSAGE", "flood.example", "blast", tu, "FloodBot/2.1");
	gen_request(&t);
	gen_response(&t, 200);
}

static void
demo_spam(unsigned i)
{
	struct txn t;
	char tu[48];

	known_user(tu, sizeof tu, i * 4 % N_KNOWN);
	txn_new(&t, "MESSAGE", "spam.example", "deals", tu, "BulkSender/1.0");
	gen_request(&t);
	gen_response(&t, 200);
}

static void
demo_scan(unsigned i)
{
	struct txn t;
	char tu[48];

	/* sipvicious style: extensions 100, 101, ... by REGISTER and OPTIONS. */
	snprintf(tu, sizeof tu, "%u", 100 + i / 2);
	if (i % 2 == 0) {
		txn_new(&t, "REGISTER", "scan.example", tu, tu,
		    "friendly-scanner");
		t.ruri_user[0] = '\0';	/* REGISTER sip:example.com */
		gen_request(&t);
		gen_response(&t, 403);
	} else {
		txn_new(&t, "OPTIONS", "scan.example", tu, tu,
		    "friendly-scanner");
		gen_request(&t);
		gen_response(&t, 404);
	}
}

static void
gen_demo(void)
{
	unsigned left[A__COUNT] = { N_FABRIKAM, N_HARVEST, N_SPAM, N_SCAN };
	unsigned done[A__COUNT] = { 0 };
	unsigned total = N_FABRIKAM + N_HARVEST + N_SPAM + N_SCAN;
	unsigned sent = 0, i;
	int flooded = 0;

	while (sent < total) {
		/* Pick an actor weighted by what it still has to send. */
		unsigned r = rndn(total - sent);
		int a;

		for (a = 0; a < A__COUNT - 1; a++) {
			if (r < left[a])
				break;
			r -= left[a];
		}
		switch (a) {
		case A_FABRIKAM: demo_fabrikam(done[a]); break;
		case A_HARVEST: demo_harvest(done[a]); break;
		case A_SPAM: demo_spam(done[a]); break;
		default: demo_scan(done[a]); break;
		}
		done[a]++;
		left[a]--;
		sent++;
		if (!flooded && sent == total / 3) {
			for (i = 0; i < N_FLOOD; i++)
				demo_flood(i);
			flooded = 1;
		}
	}
}

int
main(int argc, char **argv)
{
	struct mix mix = { { 40, 15, 15, 15, 15 }, 100, 100 };
	struct who who = { 0, 0, 0, 0, 0 };
	char *colon;
	unsigned long long count = 1000, seed = 1;
	int demo = 0, c, i;

	fed_progname = "gensip";
	/* getopt has no long options; --demo is the only one. */
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--demo") == 0) {
			demo = 1;
			argv[i] = "-D";
		}
	while ((c = getopt(argc, argv, "Dn:s:m:M:p:u:h")) != -1) {
		switch (c) {
		case 'D': demo = 1; break;
		case 'n': count = parse_num(optarg, "count", ULLONG_MAX); break;
		case 's': seed = parse_num(optarg, "seed", ULLONG_MAX); break;
		case 'm': parse_mix(&mix, optarg); break;
		case 'p':
			who.partners = (unsigned)parse_num(optarg, "partners",
			    100000000);
			if (who.partners == 0)
				fed_errx(FED_EXIT_USAGE, "bad partners: 0");
			break;
		case 'M':
			who.mint = 1;
			if ((colon = strchr(optarg, ':')) != NULL) {
				*colon = '\0';
				who.mint_count = parse_num(colon + 1,
				    "minted domain count", 100000000);
				if (who.mint_count == 0)
					fed_errx(FED_EXIT_USAGE,
					    "bad minted domain count: 0");
			}
			/* m + 20 digits + .example fits the 32 bytes of pdom. */
			who.mint_first = parse_num(optarg, "first minted domain",
			    ULLONG_MAX / 2);
			break;
		case 'u':
			who.users = (unsigned)parse_num(optarg, "users",
			    100000000);
			if (who.users == 0)
				fed_errx(FED_EXIT_USAGE, "bad users: 0");
			break;
		case 'h': usage(FED_EXIT_OK);
		default: usage(FED_EXIT_USAGE);
		}
	}
	if (optind != argc)
		usage(FED_EXIT_USAGE);
	if (demo && (who.partners > 0 || who.users > 0 || who.mint))
		fed_errx(FED_EXIT_USAGE, "-p, -M and -u are for bulk mode, not "
		    "--demo");
	if (who.partners > 0 && who.mint)
		fed_errx(FED_EXIT_USAGE, "-p and -M both name the From domains: "
		    "give one");
	rng_state = seed;
	if (demo)
		gen_demo();
	else
		gen_bulk(count, &mix, &who);
	out_flush();
	if (fflush(stdout) == EOF || ferror(stdout))
		fed_err(FED_EXIT_SYS, "write");
	return FED_EXIT_OK;
}
