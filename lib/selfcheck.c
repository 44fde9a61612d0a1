/* selfcheck.c: fedgate -t: every check of a configuration, every finding told. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "edges.h"
#include "gate.h"
#include "list.h"
#include "listdb.h"
#include "relay.h"
#include "sandbox.h"
#include "selfcheck.h"
#include "state.h"
#include "statepool.h"
#include "tlssrv.h"
#include "watchlist.h"

#define BOTH_LISTS_SHOWN 10	/* domains on both lists told one by one */
#define ANSWER_MAX	512	/* of the upstream's answer, its first line */
#define CHILD_OUT_MAX	((size_t)64 << 10)	/* what the child may tell */
/* The checking child reads files and makes one connection, each bounded
 * (upstream_timeout twice: the connect, then the answer); a name lookup
 * of the upstream is the resolver's, so this leaves it room. */
#define CHILD_SLACK_MS	30000

/*
 * Where findings go: to the caller's tell (counted), or, in the child
 * that checks as `user`, down a pipe to the parent, one line each, the
 * kind as its first byte.
 */
struct sink {
	const struct selfcheck_opts *o;
	struct selfcheck_result *r;
	int fd;			/* >= 0: the child's end of the pipe */
	char who[64];		/* the user the files are checked as */
};

static void
tell(struct sink *s, enum selfcheck_kind k, const char *msg)
{
	if (k == SELFCHECK_PROBLEM)
		s->r->problems++;
	else if (k == SELFCHECK_WARNING)
		s->r->warnings++;
	if (s->o->tell != NULL)
		s->o->tell(s->o->tell_arg, k, msg);
}

static void say(struct sink *, enum selfcheck_kind, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(struct sink *s, enum selfcheck_kind k, const char *fmt, ...)
{
	char msg[FED_DIAG_MAX + 2], *p;
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg + 1, sizeof msg - 2, fmt, ap);
	va_end(ap);
	/* One line a finding: the pipe's framing. */
	for (p = msg + 1; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	if (s->fd < 0) {
		tell(s, k, msg + 1);
		return;
	}
	msg[0] = (char)('0' + k);
	n = strlen(msg);
	msg[n++] = '\n';
	/* A pipe write of at most PIPE_BUF bytes is whole; a failed one
	 * leaves the parent a child that told less, never garbage. */
	(void)!write(s->fd, msg, n);
}

static const char *
conf_name(const struct conf *c)
{
	return c->path != NULL ? c->path : "no fed.conf (built-in defaults)";
}

/* The line number of a "PATH:LINE: problem" error, or 0. */
static unsigned
err_line(const char *msg, const char *path)
{
	size_t pl = strlen(path);
	const char *num = msg + pl + 1, *end;
	uint64_t v;

	if (strncmp(msg, path, pl) != 0 || msg[pl] != ':' ||
	    (end = strchr(num, ':')) == NULL || num[0] == '0' ||
	    fed_parse_u64(num, (size_t)(end - num), UINT_MAX, &v) != 0)
		return 0;
	return (unsigned)v;
}

/* Make line `line` (from 1) of buf blank, its newline kept. */
static void
blank_line(char *buf, size_t len, unsigned line)
{
	size_t i = 0;
	unsigned l = 1;

	while (i < len && l < line)
		if (buf[i++] == '\n')
			l++;
	for (; i < len && buf[i] != '\n'; i++)
		buf[i] = ' ';
}

/*
 * fed.conf, every bad line of it: conf_parse stops at the first, so each
 * one it names is told, blanked, and the file parsed again, up to
 * SELFCHECK_CONF_PROBLEMS_MAX times.  The other checks then run on what
 * the good lines say.  0 with *c usable, or -1: no configuration to check
 * the rest against (a file that cannot be read, or too many bad lines).
 */
static int
load_conf(struct sink *s, struct conf *c)
{
	struct fed_err err;
	char *path = NULL, *buf = NULL;
	size_t len;
	unsigned line, told;
	int rc = -1;

	if (conf_load(c, s->o->conf_path, &err) == 0)
		return 0;
	say(s, SELFCHECK_PROBLEM, "%s", err.msg);
	if (c->path == NULL || (line = err_line(err.msg, c->path)) == 0)
		return -1;
	if ((path = strdup(c->path)) == NULL)
		return -1;
	if (fed_read_file(path, CONF_FILE_MAX, &buf, &len, &err) != 0) {
		say(s, SELFCHECK_PROBLEM, "%s", err.msg);
		goto done;
	}
	for (told = 1;; told++) {
		blank_line(buf, len, line);
		conf_free(c);
		conf_defaults(c);
		if ((c->path = strdup(path)) == NULL)
			goto done;
		if (conf_parse(c, path, buf, len, &err) == 0)
			break;
		if (told == SELFCHECK_CONF_PROBLEMS_MAX) {
			say(s, SELFCHECK_PROBLEM, "%s: more bad lines: the "
			    "other checks need a configuration that parses",
			    path);
			goto done;
		}
		say(s, SELFCHECK_PROBLEM, "%s", err.msg);
		if ((line = err_line(err.msg, path)) == 0)
			goto done;
	}
	/* conf_load's default: the watch list in state_dir (fed.conf(5)). */
	if (c->watch_list == NULL &&
	    (c->watch_list = fed_concat(c->state_dir, "/watch")) == NULL)
		goto done;
	rc = 0;
done:
	free(buf);
	free(path);
	return rc;
}

static void
utc_date(char *buf, size_t cap, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, cap, "%lld s after the epoch", (long long)t);
}

/*
 * tls_cert, tls_key and tls_ca set, and every file named readable: 0.
 * Each missing one told, not only the first tls_srv_open meets.
 */
static int
check_tls_files(struct sink *s, const struct conf *c)
{
	const char *path[4] = { c->tls_cert, c->tls_key, c->tls_ca,
	    c->tls_crl };
	static const char *const key[3] = { "tls_cert", "tls_key", "tls_ca" };
	const char *unset[3] = { "", "", "" };
	unsigned i, nunset = 0, bad = 0;

	for (i = 0; i < 3; i++)
		if (path[i] == NULL)
			unset[nunset++] = key[i];
	if (nunset > 0) {
		say(s, SELFCHECK_PROBLEM, "%s: tls is on, but %s%s%s%s%s %s "
		    "not set: socket mode refuses to start; set tls_cert, "
		    "tls_key and tls_ca, or tls = off to relay plain TCP",
		    conf_name(c), unset[0], nunset > 1 ? (nunset > 2 ? ", " :
		    " and ") : "", nunset > 1 ? unset[1] : "",
		    nunset > 2 ? " and " : "", nunset > 2 ? unset[2] : "",
		    nunset > 1 ? "are" : "is");
		return -1;
	}
	for (i = 0; i < 4; i++)
		if (path[i] != NULL && access(path[i], R_OK) != 0) {
			say(s, SELFCHECK_PROBLEM, "TLS: %s: %s", path[i],
			    strerror(errno));
			bad++;
		}
	return bad > 0 ? -1 : 0;
}

/* The certificate's dates: expired, not yet valid, or expiring soon. */
static void
check_cert_dates(struct sink *s, const struct conf *c, struct tls_srv *t)
{
	struct fed_err err;
	int64_t nb, na, now;
	char date[64];

	if (tls_srv_cert_dates(t, &nb, &na, &err) != 0) {
		say(s, SELFCHECK_PROBLEM, "%s (%s)", err.msg, c->tls_cert);
		return;
	}
	now = fed_now_ms() / 1000;
	if (now >= na) {
		utc_date(date, sizeof date, na);
		say(s, SELFCHECK_PROBLEM, "TLS: %s: the certificate expired "
		    "on %s: partners refuse it", c->tls_cert, date);
	} else if (now < nb) {
		utc_date(date, sizeof date, nb);
		say(s, SELFCHECK_PROBLEM, "TLS: %s: the certificate is not "
		    "valid before %s: partners refuse it", c->tls_cert, date);
	} else if (na - now < SELFCHECK_EXPIRY_WARN_DAYS * 86400) {
		utc_date(date, sizeof date, na);
		say(s, SELFCHECK_WARNING, "TLS: %s: the certificate expires "
		    "in %lld day%s (%s)", c->tls_cert,
		    (long long)((na - now) / 86400),
		    (na - now) / 86400 == 1 ? "" : "s", date);
	}
}

/* Socket mode with TLS, as fedgate sets it up: tls_srv_open, and what a
 * listener does once (tls_srv_check), and the certificate's dates. */
static void
check_tls(struct sink *s, const struct conf *c)
{
	struct tls_srv *t;
	struct fed_err err;

	if (c->tls == TLS_OFF || check_tls_files(s, c) != 0)
		return;
	if (tls_srv_open(&t, c, &err) != 0) {
		say(s, SELFCHECK_PROBLEM, "%s", err.msg);
		return;
	}
	if (tls_srv_check(t, &err) != 0)
		say(s, SELFCHECK_PROBLEM, "%s", err.msg);
	check_cert_dates(s, c, t);
	tls_srv_close(t);
}

static int
entry_name_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct list_entry *)elem)->name);
}

/*
 * The lists' texts are parsed whole (a bad line is a problem: the edit
 * is not in force), then each is looked at as fedgate opens it
 * (listdb_check): a text not compiled, or changed since its index, is a
 * warning naming `fedlist index`.
 */
static void
check_lists(struct sink *s, const struct conf *c)
{
	struct list allow, block;
	const struct list_entry *b;
	struct fed_err err;
	int ha, hb;
	size_t i, both = 0;

	memset(&allow, 0, sizeof allow);
	memset(&block, 0, sizeof block);
	ha = list_load(&allow, c->allow_list, 1, &err) == 0;
	if (!ha)
		say(s, SELFCHECK_PROBLEM, "%s", err.msg);
	else if (listdb_check(c->allow_list, 1, &err) != 0)
		say(s, SELFCHECK_WARNING, "%s", err.msg);
	hb = list_load(&block, c->block_list, 0, &err) == 0;
	if (!hb)
		say(s, SELFCHECK_PROBLEM, "%s", err.msg);
	else if (listdb_check(c->block_list, 0, &err) != 0)
		say(s, SELFCHECK_WARNING, "%s", err.msg);
	for (i = 0; ha && hb && block.n > 0 && i < allow.n; i++) {
		/* The lists are sorted by name (strcmp), then line. */
		if ((b = bsearch(allow.v[i].name, block.v, block.n,
		    sizeof *block.v, entry_name_cmp)) == NULL)
			continue;
		if (++both <= BOTH_LISTS_SHOWN)
			say(s, SELFCHECK_WARNING, "%s:%u: %s is on the block "
			    "list too (%s:%u): fedgate treats it as blocked",
			    c->allow_list, allow.v[i].line, allow.v[i].name,
			    c->block_list, b->line);
	}
	if (both > BOTH_LISTS_SHOWN)
		say(s, SELFCHECK_WARNING, "%s: %zu more domains are on the "
		    "block list too", c->allow_list, both - BOTH_LISTS_SHOWN);
	list_free(&allow);
	list_free(&block);
}

static void
check_edges(struct sink *s, const struct conf *c)
{
	struct edges e;
	struct fed_err err;
	int64_t now = fed_now_ms();
	size_t i, live = 0;
	int rc;

	rc = edges_load(&e, c->edge_cache, &err);
	if (rc != 0)
		say(s, SELFCHECK_PROBLEM, "%s", err.msg);
	/* Socket mode has TLS unless tls = off (fedgate(8)). */
	if (relay_verified(c, c->tls != TLS_OFF)) {
		for (i = 0; i < e.n; i++)
			if (e.v[i].expires_ms > now)
				live++;
		if (!e.exists && rc == 0)
			say(s, SELFCHECK_PROBLEM, "%s: no edge cache: with "
			    "verify = srv every discovered partner is refused "
			    "as unverified until `fedq -w %s` fills it",
			    c->edge_cache, c->edge_cache);
		else if (e.n > 0 && live == 0)
			say(s, SELFCHECK_WARNING, "%s: every edge in it has "
			    "expired: is `fedq -w` run (fedkit-edges.timer)?",
			    c->edge_cache);
	}
	edges_free(&e);
}

static void
check_watch(struct sink *s, const struct conf *c)
{
	struct watchlist w;
	struct fed_err err;
	int rc;

	rc = watchlist_open(&w, c->watch_list, &err);
	if (rc == -1 || rc == WATCHLIST_BADLINES)
		say(s, SELFCHECK_PROBLEM, "%s", err.msg);
	watchlist_close(&w);
}

/* A new string: the directory of path. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return fed_strdup_n(path, (size_t)(slash - path));
}

/*
 * A directory fedgate writes in (as `user`): it must be one and let us
 * in and write; a missing one is fine when fedgate makes it itself
 * (`creatable`: state_dir) and its parent lets it.
 */
static void
check_dir(struct sink *s, const char *key, const char *dir, int creatable)
{
	struct stat st;
	char *parent;

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			say(s, SELFCHECK_PROBLEM, "%s %s: not a directory",
			    key, dir);
		else if (access(dir, W_OK | X_OK) != 0)
			say(s, SELFCHECK_PROBLEM, "%s %s: %s cannot write in "
			    "it: %s", key, dir, s->who, strerror(errno));
		return;
	}
	if (errno != ENOENT || !creatable) {
		say(s, SELFCHECK_PROBLEM, "%s %s: %s", key, dir,
		    strerror(errno));
		return;
	}
	if ((parent = dir_of(dir)) == NULL)
		return;
	if (access(parent, W_OK | X_OK) != 0)
		say(s, SELFCHECK_PROBLEM, "%s %s: missing, and %s cannot make "
		    "it: %s: %s", key, dir, s->who, parent, strerror(errno));
	free(parent);
}

static void
check_files(struct sink *s, const struct conf *c)
{
	static const char *const store[] = { "/counters.mdb",
	    "/counters.mdb-lock" };
	struct stat st;
	char *dir, *f;
	size_t i;

	check_dir(s, "state_dir", c->state_dir, 1);
	/* The store fedgate opens read-write, if it is there already. */
	for (i = 0; i < sizeof store / sizeof store[0]; i++) {
		if ((f = fed_concat(c->state_dir, store[i])) == NULL)
			continue;
		if (access(f, F_OK) == 0 && access(f, R_OK | W_OK) != 0)
			say(s, SELFCHECK_PROBLEM, "state_dir %s: %s cannot "
			    "write it: %s", f, s->who, strerror(errno));
		free(f);
	}
	/* The watch list is rewritten beside itself (temporary, rename). */
	if ((dir = dir_of(c->watch_list)) != NULL) {
		if (strcmp(dir, c->state_dir) != 0)
			check_dir(s, "watch_list", dir, 0);
		free(dir);
	}
	if (lstat(c->verdict_log, &st) == 0) {
		if (S_ISLNK(st.st_mode))
			say(s, SELFCHECK_PROBLEM, "verdict_log %s: a symbolic "
			    "link, which fedgate never follows",
			    c->verdict_log);
		else if (access(c->verdict_log, W_OK) != 0)
			say(s, SELFCHECK_PROBLEM, "verdict_log %s: %s cannot "
			    "append to it: %s", c->verdict_log, s->who,
			    strerror(errno));
	} else if (errno == ENOENT) {
		/* fedgate makes the log, not its directory. */
		if ((dir = dir_of(c->verdict_log)) != NULL) {
			check_dir(s, "verdict_log's directory", dir, 0);
			free(dir);
		}
	} else
		say(s, SELFCHECK_PROBLEM, "verdict_log %s: %s",
		    c->verdict_log, strerror(errno));
}

/* Our end of the connection, for Via (RFC 3261 18.1.1). */
static void
local_addr(int fd, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, cap, "127.0.0.1");
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		if (inet_ntop(AF_INET, &in->sin_addr, a, sizeof a) != NULL)
			snprintf(buf, cap, "%s:%u", a, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		if (inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a) != NULL)
			snprintf(buf, cap, "[%s]:%u", a, ntohs(in6->sin6_port));
	}
}

/* Wait for fd until the monotonic deadline: 1 ready, 0 timed out. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		if ((left = deadline - fed_mono_ms()) <= 0)
			return 0;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return 0;
	}
}

/*
 * The OPTIONS fedgate -t sends (RFC 3261 11), from our end of fd: its
 * length, or -1 when upstream is too long a name for req.
 */
static int
options_request(char *req, size_t cap, const char *upstream,
    const char *local)
{
	int n = snprintf(req, cap,
	    "OPTIONS sip:%s;transport=tcp SIP/2.0\r\n"
	    "Via: SIP/2.0/TCP %s;branch=z9hG4bK-fedgate-t-%ld-%lld\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:fedgate@%s>;tag=%ld\r\n"
	    "To: <sip:%s>\r\n"
	    "Call-ID: fedgate-t-%ld-%lld@%s\r\n"
	    "CSeq: 1 OPTIONS\r\n"
	    "User-Agent: fedgate/" FEDKIT_VERSION " -t\r\n"
	    "Content-Length: 0\r\n\r\n",
	    upstream, local, (long)getpid(), (long long)fed_now_ms(), local,
	    (long)getpid(), upstream, (long)getpid(),
	    (long long)fed_now_ms(), local);

	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/*
 * Send all of req by the deadline: 0, or -1 with *why the errno that
 * stopped it (0 when the deadline did).
 */
static int
send_by(int fd, const char *req, size_t len, int64_t deadline, int *why)
{
	size_t off = 0;
	ssize_t r;

	*why = 0;
	while (off < len && *why == 0 && wait_fd(fd, POLLOUT, deadline)) {
		r = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (r < 0 && errno != EINTR && errno != EAGAIN)
			*why = errno;
		if (r > 0)
			off += (size_t)r;
	}
	return off < len ? -1 : 0;
}

/*
 * The status line, or up to ANSWER_MAX bytes, or the deadline: into ans
 * without its line end, NUL-terminated; its length.  *closed tells that
 * the upstream closed or failed the connection first.
 */
static size_t
read_first_line(int fd, char ans[ANSWER_MAX + 1], int64_t deadline,
    int *closed)
{
	size_t got = 0;
	ssize_t r;
	char *nl = NULL;

	*closed = 0;
	while (got < ANSWER_MAX && nl == NULL &&
	    wait_fd(fd, POLLIN, deadline)) {
		r = recv(fd, ans + got, ANSWER_MAX - got, 0);
		if (r == 0) {
			*closed = 1;
			break;
		}
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			*closed = 1;
			break;
		}
		got += (size_t)r;
		nl = memchr(ans, '\n', got);
	}
	if (nl != NULL)
		got = (size_t)(nl - ans);
	if (got > 0 && ans[got - 1] == '\r')
		got--;
	ans[got] = '\0';
	return got;
}

/* What the upstream's first line (ans, got bytes) says of it. */
static void
report_answer(struct sink *s, const struct conf *c, const char *upstream,
    const char *ans, size_t got, int closed)
{
	char q[FED_QUOTE_MAX];

	if (got >= 12 && memcmp(ans, "SIP/2.0 ", 8) == 0 &&
	    ans[8] >= '1' && ans[8] <= '6' && ans[9] >= '0' && ans[9] <= '9' &&
	    ans[10] >= '0' && ans[10] <= '9' && ans[11] == ' ') {
		fed_quote(q, ans, got);
		say(s, SELFCHECK_INFO, "upstream %s: answers OPTIONS: %s",
		    upstream, q);
	} else if (got > 0) {
		fed_quote(q, ans, got);
		say(s, SELFCHECK_PROBLEM, "upstream %s: answered OPTIONS with "
		    "something other than SIP: %s", upstream, q);
	} else if (closed)
		say(s, SELFCHECK_PROBLEM, "upstream %s: closed the connection "
		    "without answering OPTIONS", upstream);
	else
		say(s, SELFCHECK_WARNING, "upstream %s: connected, but no "
		    "answer to OPTIONS within upstream_timeout (%u s)",
		    upstream, c->upstream_timeout);
}

/*
 * Our server, as socket mode reaches it (relay_connect, upstream_timeout),
 * then asked OPTIONS (RFC 3261 11): only its first line is read.
 */
static void
check_upstream(struct sink *s, const struct conf *c, const char *upstream)
{
	char req[1024], local[INET6_ADDRSTRLEN + 16], ans[ANSWER_MAX + 1];
	unsigned timeout_ms = c->upstream_timeout * 1000;
	struct fed_err err;
	int64_t deadline;
	size_t got;
	int fd, n, closed, why;

	if (upstream == NULL && (upstream = c->upstream) == NULL) {
		say(s, SELFCHECK_PROBLEM, "%s: no upstream: socket mode needs "
		    "our internal server (-u host:port, or upstream = "
		    "host:port)",
		    conf_name(c));
		return;
	}
	if ((fd = relay_connect(upstream, SOCK_STREAM, timeout_ms,
	    &err)) < 0) {
		say(s, SELFCHECK_PROBLEM, "%s", err.msg);
		return;
	}
	local_addr(fd, local, sizeof local);
	if ((n = options_request(req, sizeof req, upstream, local)) < 0) {
		say(s, SELFCHECK_PROBLEM, "upstream %s: too long a name",
		    upstream);
		close(fd);
		return;
	}
	deadline = fed_mono_ms() + timeout_ms;
	if (send_by(fd, req, (size_t)n, deadline, &why) == -1) {
		say(s, SELFCHECK_PROBLEM, "upstream %s: cannot send OPTIONS: "
		    "%s", upstream, why != 0 ? strerror(why) : "timed out");
		close(fd);
		return;
	}
	got = read_first_line(fd, ans, deadline, &closed);
	close(fd);
	report_answer(s, c, upstream, ans, got, closed);
}

/*
 * An edge pool's Redis (fedkit(7) POOL): reached, authenticated and the
 * script loaded, as fedgate will do it.  Down is a problem with
 * redis_down = refuse (every request needing state would be answered
 * 503), a warning with local (limits count per host until it is back).
 */
static void
check_pool(struct sink *s, const struct conf *c)
{
	struct state_params sp;
	struct pool *p;
	struct fed_err err;
	int64_t now = fed_now_ms();

	if (c->redis == NULL)
		return;
	gate_state_params(&sp, c);
	if (pool_open(&p, &sp, 1, now, &err) != 0) {
		say(s, SELFCHECK_PROBLEM, "redis %s: %s", c->redis, err.msg);
		return;
	}
	if (pool_up(p, now))
		say(s, SELFCHECK_INFO, "redis %s: reached, the pool's script "
		    "loaded", c->redis);
	else
		say(s, c->redis_down_refuse ? SELFCHECK_PROBLEM :
		    SELFCHECK_WARNING, "redis %s: %s: %s", c->redis,
		    pool_why(p), c->redis_down_refuse ? "every request "
		    "needing state would be answered 503 (redis_down = "
		    "refuse)" : "each host would count on its own until it "
		    "is back (redis_down = local)");
	pool_close(p);
}

static void
check_as_user(struct sink *s, const struct conf *c, const char *upstream)
{
	check_lists(s, c);
	check_edges(s, c);
	check_watch(s, c);
	check_files(s, c);
	check_upstream(s, c, upstream);
	check_pool(s, c);	/* as `user`: a unix socket's mode counts */
}

/* The findings the child sent, one a line, told in order. */
static void
relay_findings(struct sink *s, char *buf, size_t len)
{
	char *p = buf, *end = buf + len, *nl;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;	/* a cut last line is dropped */
		*nl = '\0';
		if (nl > p && p[0] >= '0' && p[0] <= '0' + SELFCHECK_INFO)
			tell(s, (enum selfcheck_kind)(p[0] - '0'), p + 1);
	}
}

/* Not root: the checks run right here, under our own name. */
static void
check_as_self(struct sink *s, const struct conf *c, const char *upstream)
{
	struct passwd *pw;

	if ((pw = getpwuid(geteuid())) != NULL)
		snprintf(s->who, sizeof s->who, "%s", pw->pw_name);
	else
		snprintf(s->who, sizeof s->who, "uid %ld", (long)geteuid());
	check_as_user(s, c, upstream);
}

/* The child: become `user`, run the checks, tell them down fd. */
static _Noreturn void
check_in_child(struct sink *s, const struct conf *c, const char *upstream,
    int fd)
{
	struct fed_err err;

	s->fd = fd;
	snprintf(s->who, sizeof s->who, "%s", c->user);
	/* Still root after a failure: the files are then checked as
	 * root, which finds bad lines but not permissions. */
	if (sandbox_drop_user(c->user, NULL, NULL, &err) < 0) {
		say(s, SELFCHECK_PROBLEM, "%s: user = %s: %s", conf_name(c),
		    c->user, err.msg);
		snprintf(s->who, sizeof s->who, "root");
	}
	check_as_user(s, c, upstream);
	_exit(0);
}

/*
 * What the child tells on fd, up to CHILD_OUT_MAX bytes by the deadline,
 * into buf: its length.  *eof tells that the child closed its end.
 */
static size_t
read_child(int fd, char *buf, int64_t deadline, int *eof)
{
	size_t got = 0;
	ssize_t r;

	*eof = 0;
	while (!*eof && got < CHILD_OUT_MAX && wait_fd(fd, POLLIN, deadline)) {
		r = read(fd, buf + got, CHILD_OUT_MAX - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			*eof = 1;
		else
			got += (size_t)r;
	}
	return got;
}

/*
 * As root: the checks of what fedgate opens as `user` run in a child that
 * becomes `user` first (sandbox_drop_user, as socket mode does), and tell
 * the parent what they found through a pipe.  Not root: right here.
 */
static void
check_user_side(struct sink *s, const struct conf *c, const char *upstream)
{
	char *buf;
	size_t got;
	pid_t pid;
	int p[2], status = 0, eof;

	if (geteuid() != 0) {
		check_as_self(s, c, upstream);
		return;
	}
	if ((buf = malloc(CHILD_OUT_MAX)) == NULL || pipe2(p, O_CLOEXEC) != 0) {
		say(s, SELFCHECK_PROBLEM, "cannot check as %s: %s", c->user,
		    strerror(errno));
		free(buf);
		return;
	}
	if ((pid = fork()) < 0) {
		say(s, SELFCHECK_PROBLEM, "cannot check as %s: fork: %s",
		    c->user, strerror(errno));
		close(p[0]);
		close(p[1]);
		free(buf);
		return;
	}
	if (pid == 0) {
		free(buf);
		close(p[0]);
		check_in_child(s, c, upstream, p[1]);
	}
	close(p[1]);
	got = read_child(p[0], buf, fed_mono_ms() +
	    (int64_t)c->upstream_timeout * 2000 + CHILD_SLACK_MS, &eof);
	/* Out of time, or telling more than any check has to say. */
	if (!eof)
		kill(pid, SIGKILL);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	relay_findings(s, buf, got);
	free(buf);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		say(s, SELFCHECK_PROBLEM, "the checks run as %s did not end "
		    "(%s %d): some were not made", c->user,
		    WIFSIGNALED(status) ? "signal" : "status",
		    WIFSIGNALED(status) ? WTERMSIG(status) :
		    WEXITSTATUS(status));
}

unsigned
selfcheck_run(const struct selfcheck_opts *o, struct selfcheck_result *res)
{
	struct sink s;
	struct conf c;
	struct fed_err err;
	int ok;

	memset(res, 0, sizeof *res);
	memset(&s, 0, sizeof s);
	s.o = o;
	s.r = res;
	s.fd = -1;
	ok = load_conf(&s, &c) == 0;
	snprintf(res->conf, sizeof res->conf, "%s", c.path != NULL ? c.path :
	    "built-in defaults");
	if (ok) {
		if (conf_check_local_domains(&c, &err) != 0)
			say(&s, SELFCHECK_PROBLEM, "%s", err.msg);
		check_tls(&s, &c);
		check_user_side(&s, &c, o->upstream);
	}
	conf_free(&c);
	return res->problems;
}
