/* swap.c: whether a file is an active swap file. The kernel keeps such a
 * file open for writing and refuses to share its data (ETXTBSY) for as
 * long as it is in use: a reason to leave it, not a writer to wait for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bedup.h"

int
bd_swapfile_fd(int fd)
{
	struct stat st, sw;
	FILE *f;
	char *line = NULL, *p;
	size_t cap = 0, n;
	int found = 0;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!(f = fopen("/proc/swaps", "re")))
		return errno == ENOENT ? 0 : -1;
	/* "Filename Type Size Used Priority": the name first, its blanks and
	 * backslashes written as \ooo, which bd_unescape decodes */
	while (!found && getline(&line, &cap, f) > 0) {
		if (line[0] != '/')
			continue;
		p = line + strcspn(line, " \t\n");
		*p = '\0';
		if (bd_unescape(line, (size_t)(p - line), &n) < 0)
			continue;
		found = stat(line, &sw) == 0 && sw.st_dev == st.st_dev && sw.st_ino == st.st_ino;
	}
	free(line);
	fclose(f);
	return found;
}
