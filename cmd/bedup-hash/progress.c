/* progress.c: the progress line on stderr (a terminal, or -v). */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"

static double
since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void
progress(struct progress *pr, int final)
{
	struct timespec now;
	double t;

	if (!pr->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && since(&pr->last, &now) < (pr->tty ? 0.2 : 1.0))
		return;
	pr->last = now;
	t = since(&pr->start, &now);
	fprintf(stderr, "%s%s: %" PRIu64 " groups, %" PRIu64 " files read, %.1f MiB hashed, %.1f MiB/s%s",
	    pr->tty ? "\r" : "", bd_prog, pr->groups, pr->files, (double)pr->bytes / 1048576,
	    t > 0 ? (double)pr->bytes / 1048576 / t : 0.0,
	    pr->tty && !final ? "\033[K" : "\n");
}

/* on with VERBOSE, or when stderr is a terminal; the clock starts now */
void
progress_start(struct progress *pr, int verbose)
{
	memset(pr, 0, sizeof *pr);
	pr->tty = isatty(2);
	pr->on = verbose | pr->tty;
	clock_gettime(CLOCK_MONOTONIC, &pr->start);
	pr->last = pr->start;
}
