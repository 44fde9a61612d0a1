/* fedq.c: front end of fedq (not yet built: see issue 6). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <ares.h>
#include <openssl/crypto.h>
#include "fed.h"

static _Noreturn void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr, "usage: fedq [-c file] [-t service] [-s addr[:port]] [-P n] [-w file] [--sorted] [--json] [--probe] domain... | -\n");
	exit(code);
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
			usage(FED_EXIT_OK);
		default:
			usage(FED_EXIT_USAGE);
		}
	}
	fed_warnx("not implemented yet (issue 6)");
	usage(FED_EXIT_USAGE);
}
