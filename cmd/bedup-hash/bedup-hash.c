/* bedup-hash: split candidate groups into groups of identical files,
 * cheap tests first: files already sharing one layout are one member,
 * a few sampled blocks split groups, only survivors are read in full,
 * and digests the catalog still vouches for are not read again.
 * This file: options, the input loop; hash.h
 * says which file does what. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/ioprio.h>

#include "hash.h"

#define USAGE "bedup-hash [-C CATALOG [-u]] [-N FOUND] [-j N] [-p] [-P FD] [-v] [-w] [-i COUNTS] [FILE...]"
#define MAXJOBS 64
#define INFLIGHT 4096            /* records in the window; memory, not speed */

struct opts {
	const char *catalog, *found, *counts;
	uint64_t njobs;
	int update, prio, verbose, work;
	int progress_fd;         /* where the progress line goes */
};

/* returns 1 when -h asked for the usage only */
static int
options(int argc, char **argv, struct opts *o)
{
	int c;

	uint64_t fd;

	while ((c = getopt(argc, argv, "hC:N:uj:pP:vwi:")) != -1) {
		switch (c) {
		case 'C':
			o->catalog = optarg;
			break;
		case 'N':
			o->found = optarg;
			break;
		case 'u':
			o->update = 1;
			break;
		case 'j':
			if (bd_parse_u64(optarg, &o->njobs) < 0 || o->njobs < 1 || o->njobs > MAXJOBS)
				bd_usage(USAGE);
			break;
		case 'p':
			o->prio = 1;
			break;
		case 'P':
			if (bd_parse_u64(optarg, &fd) < 0 || fd > 1024)
				bd_usage(USAGE);
			o->progress_fd = (int)fd;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'i':
			o->counts = optarg;
			break;
		case 'w':
			o->work = 1;
			break;
		case 'h':
			printf("usage: %s\n", USAGE);
			return 1;
		default:
			bd_usage(USAGE);
		}
	}
	if (o->update && !o->catalog)
		bd_usage(USAGE);
	return 0;
}

/* whether N files can be open at once, raising the soft limit if needed */
static int
fds_for(rlim_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur >= n)
		return 1;
	if (rl.rlim_max < n)
		return 0;
	rl.rlim_cur = n;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* the filesystems whose dirty data this run wrote out */
struct synced {
	char (*fsid)[BD_FSID_LEN + 1];
	size_t n;
};

/* Writes out the dirty data of R's filesystem the first time a group of
 * it comes: the workers read the members' layouts from its trees, which
 * know nothing of data still in the page cache. A write after this is
 * caught where a member is read, or by the next run's bedup-findnew. */
static void
writeout(struct synced *sy, const struct bd_record *r)
{
	size_t i;
	int fd;

	for (i = 0; i < sy->n; i++)
		if (!strcmp(sy->fsid[i], r->fsid))
			return;
	sy->fsid = bd_erealloc(sy->fsid, (sy->n + 1) * sizeof *sy->fsid);
	memcpy(sy->fsid[sy->n++], r->fsid, sizeof *sy->fsid);
	if ((fd = bd_fs_fd(r)) >= 0 && bd_writeout_fd(fd) < 0)
		bd_warn("syncfs:");
}

static void
clear_slot(void *slot)
{
	struct job *jb = slot;

	bd_group_free(&jb->g);
}

int
main(int argc, char **argv)
{
	struct opts o = { NULL, NULL, NULL, 32, 0, 0, 0, 0, 2 };
	struct later later = {0};
	struct synced sy = {0};
	struct bd_input in;
	struct pool q;
	struct progress pr;
	struct run run;
	struct job *jb;

	bd_init(argv[0]);
	bd_version(argc, argv);
	/* glibc gives each thread an arena of its own: with 32 workers that
	 * is tens of MiB held for a few small allocations per group */
	mallopt(M_ARENA_MAX, 2);
	if (options(argc, argv, &o))
		return bd_finish();
	/* idle I/O class, set before the workers so they inherit it */
	if (!o.prio && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
	    IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) < 0)
		bd_warn("ioprio_set:");
	run = (struct run){
		.pool = &q,
		.update = o.update,
		.keep_fds = fds_for(INFLIGHT + KEEP_FDS + 64),
		.found = o.found != NULL,
		.later = &later,
		.work = o.work,
		.verbose = o.verbose,
		.pr = &pr,
	};
	/* -j 1 is a plain serial run: no worker, one slot; else room for
	 * workers to go on past a slow group at the head */
	pool_start(&q, o.njobs > 1 ? o.njobs : 0, o.njobs > 1 ? 4 * o.njobs : 1, sizeof *jb,
	    INFLIGHT, BUFSZ, work_group, finish_group, &run);
	bd_input_init(&in, argc - optind, argv + optind);
	progress_start(&pr, o.progress_fd, o.verbose, &in);
	for (;;) {
		pool_finish(&q);
		jb = pool_slot(&q);
		if (bd_group_next(&in, &jb->g) == 0)
			break;
		/* before any worker can look at it */
		if (o.catalog && !run.cat)
			open_catalog(&run, o.catalog, &jb->g.r[0]);
		writeout(&sy, &jb->g.r[0]);
		pool_push(&q, jb->g.n);
	}
	bd_input_close(&in);
	pool_stop(&q, clear_slot);
	if (fflush(stdout) == EOF)
		bd_die("write error:");
	/* the memory of the window back first, not kept beside the merge */
	malloc_trim(0);
	close_catalog(&run, o.catalog);
	progress_end(&pr);
	if (o.found)
		settle_replaced(&later, o.found, o.verbose);
	bd_counts_end(o.verbose, o.counts);
	free(sy.fsid);
	return bd_finish();
}
