/* progress.c: how far the run is (lib's progress line: records and bytes
 * of the input handled, of the total when the input is a regular file),
 * and with -v, at the end, what was read. */
#include <inttypes.h>
#include <string.h>

#include "hash.h"

/* the clock starts now; the line is drawn on FD (a terminal), or with
 * VERBOSE; the total is IN's, when it can be counted */
void
progress_start(struct progress *pr, int fd, int verbose, const struct bd_input *in)
{
	uint64_t files, bytes;

	memset(pr, 0, sizeof *pr);
	pr->verbose = verbose;
	bd_progress_start(&pr->line, "hashing", fd, verbose);
	if (pr->line.mode != BD_PROGRESS_OFF && bd_input_count(in, &files, &bytes) == 0)
		bd_progress_total(&pr->line, files, bytes);
	/* on a terminal, where it stands from the start: a first group can
	 * take long */
	if (pr->line.mode == BD_PROGRESS_TTY)
		bd_progress_add(&pr->line, 0, 0);
}

/* a group of RECORDS records of SIZE bytes each is done */
void
progress_group(struct progress *pr, uint64_t records, uint64_t size)
{
	pr->groups++;
	bd_progress_add(&pr->line, records, records * size);
}

/* the line erased; with -v, what was read, on a line of its own */
void
progress_end(struct progress *pr)
{
	double t;

	bd_progress_end(&pr->line);
	if (!pr->verbose || !pr->groups)
		return;
	t = bd_progress_elapsed(&pr->line);
	fprintf(stderr, "%s: %" PRIu64 " groups, %" PRIu64 " files read, %.1f MiB hashed, %.1f MiB/s\n",
	    bd_prog, pr->groups, pr->files, (double)pr->bytes / 1048576,
	    t > 0 ? (double)pr->bytes / 1048576 / t : 0.0);
}
