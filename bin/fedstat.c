/* fedstat.c: front end of fedstat (not yet built: see issue 5). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fed.h"

static void
usage(void)
{
	fprintf(stderr, "usage: fedstat [-c file] [-f] [--since dur] [--by peer] [--top n] [--json] [--suggest] [log...]\n");
	exit(FED_EXIT_USAGE);
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
		default:
			usage();
		}
	}
	fed_warnx("not implemented yet (issue 5)");
	usage();
}
