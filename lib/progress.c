/* progress.c: the progress line of long work. On a terminal one line
 * that rewrites itself; with -v elsewhere a plain line now and then;
 * nothing otherwise (a pipe, the journal). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bedup.h"

#define TTY_EVERY 0.2            /* seconds between redraws on a terminal */
#define LINES_EVERY 5.0          /* and between plain lines */

static double
since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void
bd_progress_start(struct bd_progress *p, const char *phase, int fd, int verbose)
{
	memset(p, 0, sizeof *p);
	p->phase = phase;
	p->fd = fd;
	if (isatty(fd))
		p->mode = BD_PROGRESS_TTY;
	else if (verbose)
		p->mode = BD_PROGRESS_LINES;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
}

double
bd_progress_elapsed(const struct bd_progress *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return since(&p->start, &now);
}

void
bd_progress_total(struct bd_progress *p, uint64_t files, uint64_t bytes)
{
	p->total_files = files;
	p->total_bytes = bytes;
}

const char *
bd_human(char *buf, size_t len, double n)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	size_t i = 0;

	while (n >= 1024 && i < sizeof unit / sizeof *unit - 1) {
		n /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", n, unit[i]);
	return buf;
}

/* SECS as "45 s", "12 min", "3 h 20 min" into BUF */
static const char *
duration(char *buf, size_t len, double secs)
{
	unsigned long s = secs > 0 ? (unsigned long)(secs + 0.5) : 0;

	if (s < 100)
		snprintf(buf, len, "%lu s", s);
	else if (s < 6000)
		snprintf(buf, len, "%lu min", (s + 30) / 60);
	else
		snprintf(buf, len, "%lu h %lu min", s / 3600, s % 3600 / 60);
	return buf;
}

/* "PROG: PHASE F of N files, B of T, R/s, D left", what is known of it */
static void
draw(struct bd_progress *p, double t)
{
	char line[256], a[32], b[32], r[32], d[32];
	double rate = t > 0 ? (double)p->bytes / t : 0;
	int n;

	if (p->total_files)
		n = snprintf(line, sizeof line, "%s: %s %llu of %llu files, %s of %s", bd_prog,
		    p->phase, (unsigned long long)p->files, (unsigned long long)p->total_files,
		    bd_human(a, sizeof a, (double)p->bytes), bd_human(b, sizeof b, (double)p->total_bytes));
	else
		n = snprintf(line, sizeof line, "%s: %s %llu files, %s", bd_prog, p->phase,
		    (unsigned long long)p->files, bd_human(a, sizeof a, (double)p->bytes));
	if (n > 0 && (size_t)n < sizeof line)
		n += snprintf(line + n, sizeof line - (size_t)n, ", %s/s", bd_human(r, sizeof r, rate));
	if (n > 0 && (size_t)n < sizeof line && p->total_files && rate > 0 &&
	    p->total_bytes >= p->bytes)
		snprintf(line + n, sizeof line - (size_t)n, ", %s left",
		    duration(d, sizeof d, (double)(p->total_bytes - p->bytes) / rate));
	/* one write: another process's line never lands inside it */
	if (p->mode == BD_PROGRESS_TTY) {
		dprintf(p->fd, "\r%s\033[K", line);
		p->shown = 1;
	} else {
		dprintf(p->fd, "%s\n", line);
	}
}

void
bd_progress_add(struct bd_progress *p, uint64_t files, uint64_t bytes)
{
	struct timespec now;

	p->files += files;
	p->bytes += bytes;
	if (p->mode == BD_PROGRESS_OFF)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* the first at once, so that even short work shows where it is */
	if (p->drawn && since(&p->last, &now) < (p->mode == BD_PROGRESS_TTY ? TTY_EVERY : LINES_EVERY))
		return;
	p->last = now;
	p->drawn = 1;
	draw(p, since(&p->start, &now));
}

void
bd_progress_end(struct bd_progress *p)
{
	struct timespec now;

	if (p->mode == BD_PROGRESS_OFF || !p->drawn)
		return;
	/* where it ended, even when quicker than the redraws */
	clock_gettime(CLOCK_MONOTONIC, &now);
	draw(p, since(&p->start, &now));
	if (p->mode == BD_PROGRESS_TTY)
		dprintf(p->fd, "\r\033[K");
	p->shown = 0;
}
