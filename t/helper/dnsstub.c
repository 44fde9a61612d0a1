/* dnsstub.c: a DNS server on 127.0.0.1 that fails every query one way (SERVFAIL, REFUSED, silence), for fedq's tests. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * usage: dnsstub servfail|refused|drop PORTFILE SECONDS
 * Binds an ephemeral UDP port on 127.0.0.1, writes its number to
 * PORTFILE, and answers (or not) for at most SECONDS, so a test that
 * forgets it cannot leave it running.
 */
int
main(int argc, char *argv[])
{
	struct sockaddr_in sin, from;
	socklen_t sl = sizeof sin, fl;
	unsigned char buf[4096];
	int fd, rcode = -1;
	long secs;
	time_t end;
	ssize_t n;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: dnsstub servfail|refused|drop portfile seconds\n");
		return 2;
	}
	if (strcmp(argv[1], "servfail") == 0)
		rcode = 2;
	else if (strcmp(argv[1], "refused") == 0)
		rcode = 5;
	else if (strcmp(argv[1], "drop") != 0) {
		fprintf(stderr, "dnsstub: unknown mode %s\n", argv[1]);
		return 2;
	}
	secs = strtol(argv[3], NULL, 10);
	if (secs <= 0 || secs > 600)
		secs = 60;
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0) {
		perror("dnsstub: socket");
		return 3;
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
		perror("dnsstub: bind");
		return 3;
	}
	if ((f = fopen(argv[2], "w")) == NULL) {
		perror(argv[2]);
		return 3;
	}
	fprintf(f, "%u\n", ntohs(sin.sin_port));
	fclose(f);
	end = time(NULL) + secs;
	while (time(NULL) < end) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 200) <= 0)
			continue;
		fl = sizeof from;
		n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		if (n < 12 || rcode < 0)
			continue;
		/* The query back as a response: QR, RA, the rcode, no
		 * records (EDNS's OPT record in the additional section is
		 * dropped with the counts). */
		buf[2] |= 0x80;
		buf[3] = (unsigned char)(0x80 | rcode);
		memset(buf + 6, 0, 6);
		{
			/* Keep only the question: its name and 4 bytes. */
			ssize_t off = 12;

			while (off < n && buf[off] != 0)
				off += 1 + buf[off];
			off += 5;
			if (off > n)
				continue;
			sendto(fd, buf, (size_t)off, 0, (struct sockaddr *)&from, fl);
		}
	}
	return 0;
}
