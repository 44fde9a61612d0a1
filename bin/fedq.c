/* fedq.c: front end of fedq (not yet built: see issue 6). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <ares.h>
#include <openssl/crypto.h>
#include "fed.h"

static void
usage(void)
{
	fprintf(stderr, "usage: fedq [-c file] [-t service] [-s addr[:port]] [-P n] [-w file] [--sorted] [--json] [--probe] domain... | -\n");
	exit(FED_EXIT_USAGE);
}

int
main(int argc, char *argv[])
{
	int ch;

	fed_progname = "fedq";
	while ((ch = getopt(argc, argv, "c:hV")) != -1) {
		switch (ch) {
		case 'c':
			break;
		case 'V':
			printf("fedq %s\n", FEDKIT_VERSION);
			printf("c-ares %s, %s\n", ares_version(NULL),
			    OpenSSL_version(OPENSSL_VERSION));
			return FED_EXIT_OK;
		case 'h':
		default:
			usage();
		}
	}
	fed_warnx("not implemented yet (issue 6)");
	usage();
}
