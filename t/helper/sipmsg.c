/* sipmsg: write exactly the SIP requests (and answers) a test asks for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fed.h"

#define MAX_EXTRA 16

static _Noreturn void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: sipmsg [-n count] [-s start] [-m method] [-f from] [-r ruri]\n"
	    "              [-t to] [-a user-agent] [-R code] [-c callid-prefix]\n"
	    "              [-H header-line]... [-b body]\n"
	    "In from, ruri and to, %%d is replaced by the message's index\n"
	    "(start, start+1, ...).  -R CODE follows each request with our\n"
	    "server's response.  Defaults: MESSAGE from sip:alice@partner.example\n"
	    "to sip:user%%d@example.com.\n");
	exit(code);
}

/* Copy a template with every %d replaced by i. */
static void
fill(char *dst, size_t sz, const char *tmpl, unsigned long i)
{
	size_t n = 0;
	int w;

	for (; *tmpl != '\0' && n + 1 < sz; tmpl++) {
		if (tmpl[0] == '%' && tmpl[1] == 'd') {
			w = snprintf(dst + n, sz - n, "%lu", i);
			if (w < 0 || (size_t)w >= sz - n)
				fed_errx(2, "template too long");
			n += (size_t)w;
			tmpl++;
			continue;
		}
		dst[n++] = *tmpl;
	}
	dst[n] = '\0';
}

static unsigned long
num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0)
		fed_errx(2, "bad number: %s", s);
	return v;
}

int
main(int argc, char *argv[])
{
	const char *method = "MESSAGE", *from = "sip:alice@partner.example";
	const char *ruri = "sip:user%d@example.com", *to = NULL, *ua = NULL;
	const char *cid = "c", *body = "";
	const char *extra[MAX_EXTRA];
	unsigned long n = 1, start = 0, i, code = 0;
	char f[1024], r[1024], t[1024];
	size_t nextra = 0, k;
	int ch;

	fed_progname = "sipmsg";
	while ((ch = getopt(argc, argv, "a:b:c:f:hH:m:n:r:R:s:t:")) != -1) {
		switch (ch) {
		case 'a': ua = optarg; break;
		case 'b': body = optarg; break;
		case 'c': cid = optarg; break;
		case 'f': from = optarg; break;
		case 'H':
			if (nextra == MAX_EXTRA)
				fed_errx(2, "too many -H");
			extra[nextra++] = optarg;
			break;
		case 'm': method = optarg; break;
		case 'n': n = num(optarg); break;
		case 'r': ruri = optarg; break;
		case 'R': code = num(optarg); break;
		case 's': start = num(optarg); break;
		case 't': to = optarg; break;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	for (i = start; i < start + n; i++) {
		fill(f, sizeof f, from, i);
		fill(r, sizeof r, ruri, i);
		fill(t, sizeof t, to != NULL ? to : ruri, i);
		printf("%s %s SIP/2.0\r\n"
		    "Via: SIP/2.0/TLS edge.partner.example:5061;branch=z9hG4bK%s%lu\r\n"
		    "Max-Forwards: 70\r\n"
		    "From: <%s>;tag=f%lu\r\n"
		    "To: <%s>\r\n"
		    "Call-ID: %s%lu@partner.example\r\n"
		    "CSeq: 1 %s\r\n", method, r, cid, i, f, i, t, cid, i,
		    method);
		if (ua != NULL)
			printf("User-Agent: %s\r\n", ua);
		for (k = 0; k < nextra; k++)
			printf("%s\r\n", extra[k]);
		printf("Content-Length: %zu\r\n\r\n%s", strlen(body), body);
		if (code == 0 || strcmp(method, "ACK") == 0)
			continue;
		printf("SIP/2.0 %lu Answer\r\n"
		    "Via: SIP/2.0/TLS edge.partner.example:5061;branch=z9hG4bK%s%lu\r\n"
		    "From: <%s>;tag=f%lu\r\n"
		    "To: <%s>;tag=ours%lu\r\n"
		    "Call-ID: %s%lu@partner.example\r\n"
		    "CSeq: 1 %s\r\n"
		    "Content-Length: 0\r\n\r\n", code, cid, i, f, i, t, i, cid, i,
		    method);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		fed_err(3, "stdout");
	return 0;
}
