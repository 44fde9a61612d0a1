/* fedstat.c: front end of fedstat (not yet built: see issue 5). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fed.h"

static _Noreturn void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr, "usage: fedstat [-c file] [-f] [--since dur] [--by peer] [--top n] [--json] [--suggest] [log...]\n");
	exit(code);
}

int
main(int argc, char *argv[])
{
	int ch;

	fed_progname = "fedstat";
	while ((ch = getopt(argc, argv, "c:hV")) != -1) {
		switch (ch) {
		case 'c':
			break;
		case 'V':
			printf("fedstat %s\n", FEDKIT_VERSION);
			return FED_EXIT_OK;
		case 'h':
			usage(FED_EXIT_OK);
		default:
			usage(FED_EXIT_USAGE);
		}
	}
	fed_warnx("not implemented yet (issue 5)");
	usage(FED_EXIT_USAGE);
}
