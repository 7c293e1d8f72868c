/* tempfile.c: scratch files that vanish with the process. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

FILE *
bd_tempfile(void)
{
	const char *dir = getenv("TMPDIR");
	char *name;
	FILE *f;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	name = bd_emalloc(strlen(dir) + sizeof "/bedup.XXXXXX");
	strcpy(name, dir);
	strcat(name, "/bedup.XXXXXX");
	fd = mkstemp(name);
	if (fd < 0)
		bd_die("%s:", name);
	unlink(name);            /* gone when we exit, whatever happens */
	free(name);
	f = fdopen(fd, "w+");
	if (!f)
		bd_die("fdopen:");
	return f;
}
