/* fedlist.c: front end of fedlist (not yet built: see issue 4). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fed.h"

static void
usage(void)
{
	fprintf(stderr, "usage: fedlist [-c file] [allow|block add|rm|ls ... | check domain | watch ls|clear ...]\n");
	exit(FED_EXIT_USAGE);
}

int
main(int argc, char *argv[])
{
	int ch;

	fed_progname = "fedlist";
	while ((ch = getopt(argc, argv, "c:hV")) != -1) {
		switch (ch) {
		case 'c':
			break;
		case 'V':
			printf("fedlist %s\n", FEDKIT_VERSION);
			return FED_EXIT_OK;
		case 'h':
		default:
			usage();
		}
	}
	fed_warnx("not implemented yet (issue 4)");
	usage();
}
