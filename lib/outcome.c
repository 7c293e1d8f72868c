/* outcome.c: the line that says what became of a group member, written
 * by bedup-clone for each destination and by bedup-lock -s for each
 * member it leaves out: one format, so that a program joins both to the
 * records the same way, by inode. */
#include <inttypes.h>

#include "bedup.h"

int
bd_outcome_write(FILE *f, const char *status, uint64_t bytes, const struct bd_record *src,
    const struct bd_record *dst)
{
	int r;

	if (src)
		r = fprintf(f, "%s\t%" PRIu64 "\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%"
		    PRIu64 "\t", status, bytes, dst->fsid, src->subvol, src->ino, dst->subvol,
		    dst->ino);
	else
		r = fprintf(f, "%s\t%" PRIu64 "\t%s\t-\t-\t%" PRIu64 "\t%" PRIu64 "\t", status,
		    bytes, dst->fsid, dst->subvol, dst->ino);
	if (r < 0)
		return -1;
	if (src) {
		if (bd_escape_write(f, src->path, src->pathlen) < 0)
			return -1;
	} else if (fputc('-', f) == EOF) {
		return -1;
	}
	if (fputc('\t', f) == EOF || bd_escape_write(f, dst->path, dst->pathlen) < 0 ||
	    fputc('\n', f) == EOF)
		return -1;
	return 0;
}
