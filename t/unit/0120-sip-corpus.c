/* 0120-sip-corpus: the RFC 4475 and RFC 5118 torture tests through the parser. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip.h"
#include "tap.h"

#define CORPUS_TOTAL	61	/* 49 from RFC 4475, 12 from RFC 5118 */

/*
 * Messages whose expected verdict the parser does not give as is, each
 * with the reason.  RFC 5118 declares Content-Length larger than the body
 * in two messages (shared/corpus/README.md): a strict datagram parser must
 * refuse them for that; the IPv6 forms they test are checked on a copy
 * with the length corrected.
 */
static const struct {
	const char *name;
	const char *why;
} cl_defects[] = {
	{ "ipv6-in-sdp", "RFC 5118 declares Content-Length 268 for a "
	    "242-octet body" },
	{ "mult-ip-in-sdp", "RFC 5118 declares Content-Length 181 for a "
	    "180-octet body" },
};

static struct sip_msg msg;	/* big: keep it off the stack */
static struct sip_msg smsg;

static const char *
cl_defect(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof cl_defects / sizeof cl_defects[0]; i++)
		if (strcmp(cl_defects[i].name, name) == 0)
			return cl_defects[i].why;
	return NULL;
}

/* A copy of buf with the Content-Length value set to the body's length. */
static char *
fix_cl(const char *buf, size_t len, size_t *nlen)
{
	const char *cl = NULL, *eol, *end = NULL;
	char *out, num[32];
	size_t i, body, pre, post;
	int n;

	for (i = 0; i + 4 <= len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i + 4;
			break;
		}
	for (i = 0; end != NULL && buf + i + 16 < end; i++)
		if (memcmp(buf + i, "\nContent-Length:", 16) == 0) {
			cl = buf + i + 16;
			break;
		}
	if (cl == NULL)
		return NULL;
	while (*cl == ' ')
		cl++;
	eol = memchr(cl, '\r', (size_t)(end - cl));
	body = (size_t)(buf + len - end);
	n = snprintf(num, sizeof num, "%zu", body);
	pre = (size_t)(cl - buf);
	post = (size_t)(buf + len - eol);
	if ((out = malloc(pre + (size_t)n + post)) == NULL)
		return NULL;
	memcpy(out, buf, pre);
	memcpy(out + pre, num, (size_t)n);
	memcpy(out + pre + (size_t)n, eol, post);
	*nlen = pre + (size_t)n + post;
	return out;
}

static int
same(struct fed_str a, struct fed_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Frame a valid message as a stream; it must agree with the datagram. */
static void
frame_check(const char *tag, const char *buf, size_t len)
{
	struct sip_limits lim;
	struct sip_error err;
	size_t scanned = 0, used = 0, want;
	enum sip_frame_result r;

	sip_limits_default(&lim);
	want = msg.header_len + (size_t)msg.content_length;
	r = sip_frame(buf, want - 1, &lim, &scanned, &used, &smsg, &err);
	ok(r == SIP_FRAME_MORE, "%s: stream minus one byte is MORE", tag);
	r = sip_frame(buf, len, &lim, &scanned, &used, &smsg, &err);
	ok(r == SIP_FRAME_MESSAGE && used == want &&
	    same(smsg.call_id, msg.call_id) && smsg.cseq == msg.cseq &&
	    same(smsg.method, msg.method) && smsg.status == msg.status &&
	    same(smsg.via_branch, msg.via_branch) && smsg.nhdr == msg.nhdr &&
	    same(smsg.body, msg.body),
	    "%s: framed as a stream, %zu bytes, same fields (%s)", tag, used,
	    err.reason ? err.reason : "ok");
}

static int
run_dir(const char *shared, const char *dir, int *valid, int *invalid)
{
	char path[4096], line[1024], tag[256];
	struct sip_limits lim;
	struct sip_error err;
	FILE *idx;
	int count = 0, rc;

	sip_limits_default(&lim);
	snprintf(path, sizeof path, "%s/corpus/%s/INDEX.tsv", shared, dir);
	if ((idx = fopen(path, "r")) == NULL) {
		ok(0, "corpus index %s: %s (set FEDKIT_SHARED)", path,
		    strerror(errno));
		return 0;
	}
	while (fgets(line, sizeof line, idx) != NULL) {
		char *name = strtok(line, "\t"), *sect = strtok(NULL, "\t");
		char *exp = strtok(NULL, "\t\n"), *buf, *fixed;
		const char *why;
		size_t len, flen;

		if (name == NULL || sect == NULL || exp == NULL ||
		    strcmp(name, "name") == 0)
			continue;
		count++;
		snprintf(tag, sizeof tag, "%s/%s", dir, name);
		snprintf(path, sizeof path, "%s/corpus/%s/%s.sip", shared,
		    dir, name);
		if ((buf = tap_slurp(path, &len)) == NULL) {
			ok(0, "%s: cannot read %s", tag, path);
			continue;
		}
		rc = sip_parse_datagram(buf, len, &lim, &msg, &err);
		if ((why = cl_defect(name)) != NULL) {
			(*valid)++;
			ok(rc == -1 && err.reason != NULL && strcmp(err.reason,
			    "Content-Length larger than the datagram") == 0,
			    "%s valid, but refused for its Content-Length: %s"
			    " (exception: %s)", tag, err.reason ? err.reason :
			    "accepted", why);
			fixed = fix_cl(buf, len, &flen);
			rc = fixed ? sip_parse_datagram(fixed, flen, &lim,
			    &msg, &err) : -1;
			ok(rc == 0, "%s with Content-Length corrected parses%s%s",
			    tag, rc ? ": " : "", rc ? err.reason : "");
			if (rc == 0)
				frame_check(tag, fixed, flen);
			free(fixed);
		} else if (strcmp(exp, "valid") == 0) {
			(*valid)++;
			ok(rc == 0, "%s valid (%s): parses%s%s", tag, sect,
			    rc ? ": " : "", rc ? err.reason : "");
			if (rc == 0 && msg.content_length >= 0)
				frame_check(tag, buf, len);
			else if (rc == 0)
				diag("%s has no Content-Length: not a stream "
				    "message", tag);
		} else {
			(*invalid)++;
			ok(rc == -1 && err.reason != NULL && *err.reason,
			    "%s invalid (%s): refused: %s (%d)", tag, sect,
			    err.reason ? err.reason : "ACCEPTED", err.code);
		}
		free(buf);
	}
	fclose(idx);
	return count;
}

int
main(void)
{
	const char *shared = getenv("FEDKIT_SHARED");
	int n = 0, valid = 0, invalid = 0;

	if (shared == NULL || *shared == '\0')
		shared = "../shared";
	n += run_dir(shared, "rfc4475", &valid, &invalid);
	n += run_dir(shared, "rfc5118", &valid, &invalid);
	is_long(n, CORPUS_TOTAL, "all %d corpus messages seen", CORPUS_TOTAL);
	is_long(valid, 38, "38 valid messages");
	is_long(invalid, 23, "23 invalid messages");
	return done_testing();
}
