/* fuzz_pipe.c: libFuzzer target: pipe mode end to end (pipe_run): framing,
 * policy, partner state and verdict log on a scratch state directory. */
#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipe.h"
#include "sipreply.h"
#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * An input is the knob bytes (scratch.h), then the stream fedgate reads
 * on stdin.  Pipe knobs: byte 1 bit 6 writes the responses fedgate
 * builds (--replies; without it the gate only learns whether one could
 * be built).  Stdin, stdout and the replies file are memory files made
 * once: nothing blocks, and what pipe_run wrote is read back and checked.
 */
#define OUT_MAX (1 << 20)

static int in_fd = -1, out_fd, replies_fd;

static int
memory_file(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0) {
		perror("fuzz_pipe: memfd_create");
		abort();
	}
	return fd;
}

/* A memory file's contents, emptied for the next input. */
static size_t
take(int fd, char *buf, size_t cap)
{
	ssize_t n;
	size_t have = 0;

	while (have < cap && (n = pread(fd, buf + have, cap - have,
	    (off_t)have)) > 0)
		have += (size_t)n;
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	return have;
}

/*
 * stdout holds what fedgate read, exactly (SPEC 2: accepted requests and
 * observed responses as read, keep-alives too), in order: every message
 * there is the bytes of one message of the input, after the previous.
 */
static void
check_passed(const char *in, size_t inlen, const char *out, size_t outlen,
    const struct conf *c)
{
	static struct sip_msg m;
	struct sip_error se;
	enum sip_frame_result fr;
	size_t off = 0, pos = 0, scanned, used;
	const char *at;

	while (off < outlen) {
		scanned = used = 0;
		fr = sip_frame(out + off, outlen - off, &c->limits, &scanned,
		    &used, &m, &se);
		if (fr == SIP_FRAME_MORE) {
			/* Only a lone CRLF keep-alive at the very end. */
			CHECK(outlen - off <= 2);
			CHECK(out[outlen - 1] == '\n');
			return;
		}
		if (fr != SIP_FRAME_KEEPALIVE) {
			/* Passed on once framed: it frames again whole. */
			CHECK(fr == SIP_FRAME_MESSAGE ||
			    fr == SIP_FRAME_MALFORMED);
			at = memmem(in + pos, inlen - pos, out + off, used);
			if (at == NULL) {
				fprintf(stderr, "fuzz_pipe: stdout byte %zu: "
				    "%zu bytes that are not the input's\n",
				    off, used);
				abort();
			}
			pos = (size_t)(at - in) + used;
		}
		off += used;
	}
}

/* Every response fedgate built is one whole SIP response. */
static void
check_replies(const char *buf, size_t len)
{
	static struct sip_msg m;
	struct sip_limits lim;
	struct sip_error se;
	enum sip_frame_result fr;
	size_t off = 0, scanned, used;

	sip_limits_default(&lim);
	lim.max_message = SIP_REPLY_CAP(SIP_DEFAULT_MAX_MESSAGE);
	lim.max_headers = SIP_HDR_MAX;
	while (off < len) {
		scanned = used = 0;
		fr = sip_frame(buf + off, len - off, &lim, &scanned, &used, &m,
		    &se);
		if (fr != SIP_FRAME_MESSAGE || m.is_request) {
			fprintf(stderr, "fuzz_pipe: reply at byte %zu: %s\n",
			    off, fr == SIP_FRAME_MESSAGE ? "a request" :
			    se.reason ? se.reason : "not whole");
			abort();
		}
		off += used;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[OUT_MAX], replies[OUT_MAX];
	struct knobs k;
	struct pipe_opts po;
	struct gate *g;
	struct fed_err e;
	size_t off, outlen, replen;
	off_t logmark;
	uint64_t statesum;
	ssize_t n;
	int want_replies, rc;

	if (in_fd < 0) {
		scratch_init();
		in_fd = memory_file("stdin");
		out_fd = memory_file("stdout");
		replies_fd = memory_file("replies");
	}
	k = scratch_knobs(&data, &size);
	for (off = 0; off < size; off += (size_t)n)
		CHECK((n = write(in_fd, data + off, size - off)) > 0);
	CHECK(lseek(in_fd, 0, SEEK_SET) == 0);

	want_replies = (k.k1 & KNOB_OWN) != 0;
	logmark = scratch_log_mark();
	/* A dry run changes nothing under state_dir (SPEC 2, -n), from
	 * gate_open (when the gate is fresh) to gate_close. */
	statesum = (k.k1 & KNOB_DRY) && (k.k2 & KNOB_FRESH_GATE) ?
	    scratch_state_sum() : 0;
	g = scratch_gate(k, want_replies, 0, 0);
	if ((k.k1 & KNOB_DRY) && !(k.k2 & KNOB_FRESH_GATE))
		statesum = scratch_state_sum();
	memset(&po, 0, sizeof po);
	po.in_fd = in_fd;
	po.out_fd = out_fd;
	po.replies_fd = want_replies ? replies_fd : -1;
	po.in_name = "stdin";
	e.msg[0] = '\0';
	rc = pipe_run(g, scratch_conf_of(k), &po, &e);
	scratch_gate_done(g, k);
	if (k.k1 & KNOB_DRY)
		CHECK(scratch_state_sum() == statesum);
	/* fedkit(7): 0 when all is decided, 2 when the stream cannot be
	 * framed; a system error here is the world's, not the input's. */
	if (rc != FED_EXIT_OK && rc != FED_EXIT_USAGE) {
		fprintf(stderr, "fuzz_pipe: pipe_run: %d: %s\n", rc, e.msg);
		abort();
	}
	CHECK(rc == FED_EXIT_OK || e.msg[0] != '\0');
	scratch_log_check(logmark);

	(void)take(in_fd, out, 0);
	outlen = take(out_fd, out, sizeof out);
	CHECK(outlen < sizeof out);
	check_passed((const char *)data, size, out, outlen,
	    scratch_conf_of(k));
	replen = take(replies_fd, replies, sizeof replies);
	CHECK(replen < sizeof replies);
	CHECK(want_replies || replen == 0);
	check_replies(replies, replen);
	return 0;
}
