/* version.c: "PROG --version", the same answer from every program. */
#include <stdlib.h>
#include <string.h>

#include "bedup.h"

#ifndef BD_VERSION
#error "BD_VERSION comes from the Makefile's VERSION (-DBD_VERSION)"
#endif

void
bd_version(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--version") != 0)
		return;
	printf("%s %s\n", bd_prog, BD_VERSION);
	exit(bd_finish());
}
