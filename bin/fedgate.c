/* fedgate.c: front end of fedgate (not yet built: see issue 3). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "fed.h"

static _Noreturn void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr, "usage: fedgate [-n] [-c file] [-u host:port] [--peer name]\n");
	exit(code);
}

int
main(int argc, char *argv[])
{
	int ch;

	fed_progname = "fedgate";
	while ((ch = getopt(argc, argv, "c:hV")) != -1) {
		switch (ch) {
		case 'c':
			break;
		case 'V':
			printf("fedgate %s\n", FEDKIT_VERSION);
			printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
			return FED_EXIT_OK;
		case 'h':
			usage(FED_EXIT_OK);
		default:
			usage(FED_EXIT_USAGE);
		}
	}
	fed_warnx("not implemented yet (issue 3)");
	usage(FED_EXIT_USAGE);
}
