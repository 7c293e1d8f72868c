/* hash.h: what the files of bedup-hash share. One file per job:
 *	bedup-hash.c	options, the input loop, the catalog updated at the end
 *	catalog.c	the catalog and the samples file, loaded and written
 *	table.c		tables of inodes: what is known, what a run learns
 *	read.c		one member opened, sampled, read in full
 *	units.c		members into units, units matched and written out
 *	steps.c		the cheap-tests-first steps of one group
 *	group.c		one group, worked on (in a worker) and finished
 *	progress.c	the progress line
 *	pool.c		the worker pool: jobs in a ring, loops shared out */
#ifndef HASH_H
#define HASH_H

#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "bedup.h"
#include "pool.h"

#define BLOCK 4096
#define SAMPLE_MIN (4 * BLOCK)   /* smaller files are simply read in full */
#define BUFSZ (128u << 10)      /* per worker; readahead does the large reads */
#define KEEP_CAP 64              /* a slot keeps room for this many records */
#define KEEP_FDS 64              /* groups up to this size keep their fds */

/* LEFT: left out quietly, with -w (inline data: nothing to share) */
enum { ALIVE, GONE, DROPPED, LEFT };

struct member {
	struct bd_record r;
	int state;
	int replaced;            /* the path names another inode now */
	char note[128];          /* why it was DROPPED */
	struct stat st;          /* at the first open */
	int fd;                  /* kept from the first open, or -1 */
	int keep;                /* keep the fd of its first open */
	struct bd_layout lay;    /* when LAID: from the tree, or through its fd */
	int laid;                /* LAY is known */
	size_t unit;
	size_t next;             /* next member of its unit, or SIZE_MAX */
	int ro, ro_known;        /* in a read-only subvolume */
	int src;                 /* with -w: the source of its class */
	int send;                /* with -w: written (the source, or no sharer of it) */
};

struct unit {
	size_t first, last;      /* its members, chained through next */
	int failed;              /* the sample could not be read */
	int known;               /* DIGEST holds the whole-file digest */
	int sampled;             /* SAMPLE holds its sample (read or cached) */
	int csummed;             /* CSUM holds the digest of its checksums */
	uint8_t digest[16];
	uint8_t sample[16];
	uint8_t csum[16];
	uint64_t bytes;          /* read by a worker */
	size_t read_by;          /* the member read in full, or SIZE_MAX */
	size_t via;              /* the member to read it through, or SIZE_MAX */
	size_t cls;              /* class of equal digests */
	int src_known;           /* SHARED is known */
	uint64_t shared;         /* bytes of its data the kernel marks shared */
};

/* what the catalog (or the samples file) knows, or what this run
 * learnt, of one inode */
struct entry {
	struct bd_inode key;     /* first: the table sorts by it */
	uint64_t gen, size;
	uint8_t digest[16];      /* or its sample, in a table of samples */
	int drop;                /* learnt: gone or replaced */
	int seen;                /* a sample: the catalog has the inode */
};

/* what a run learns is used only at its end (the catalog and samples
 * updated): it waits in SPOOL, a temp file, so that memory holds the
 * records in flight, not every file hashed */
struct table {
	struct entry *e;
	size_t n, cap;
	FILE *spool;
	size_t nspool;
};

struct progress {
	int verbose;
	uint64_t groups, files, bytes;   /* groups done, files read, bytes hashed */
	struct bd_progress line;
};

/* what the work on every group reads (set up by main, then read-only
 * while workers run) and what finishing a group writes (main thread) */
struct run {
	struct pool *pool;
	const struct table *cat;
	const struct table *smp; /* samples file, with a catalog */
	int keep_fds;            /* enough fds for the records in flight */
	struct table *learnt;    /* with -u: digests learnt, inodes dropped */
	struct table *lsmp;      /* with -u: samples learnt */
	const struct table *found; /* -N: the records this run found changed */
	int work;                /* -w: only the work left for bedup-clone */
	int verbose;
	struct progress *pr;
};

/* one group on its way through: read by the main thread, worked on by
 * one worker, finished (written out) by the main thread in input order;
 * a slot of the pool */
struct job {
	struct bd_group g;       /* bd_group_next reads straight into it */
	const struct run *run;
	struct member *mem;
	struct unit *units;
	size_t *jobs;            /* units to read */
	size_t n, nu, nj;
	struct bd_csum_fs csum;  /* the filesystem's checksums */
	int keep_fds;            /* members keep their first open's fd */
};

/* table.c */
struct entry *table_new(struct table *t);
struct entry *table_add(struct table *t, const struct bd_record *r);
void learn(struct table *t, const struct bd_record *r, const uint8_t *digest, int drop);
void unspool(struct table *t);
struct entry *table_find(const struct table *t, const struct bd_record *r);
struct entry *table_valid(const struct table *t, const struct bd_record *r);
void table_sort(struct table *t);

/* catalog.c */
void load_catalog(struct table *t, const char *path);
void load_found(struct table *t, const char *path);
int update_catalog(struct table *learnt, const char *path, struct table *keep);
uint64_t load_samples(struct table *t, const char *path);
int merge_samples(struct table *smp, struct table *lsmp, struct table *learnt);
void write_samples(struct table *smp, const char *path);

/* read.c */
int open_member(struct member *m, struct stat *st);
int peek_fd(struct member *m);
void release(struct member *m, int fd);
int sample_member(struct member *m, char *buf, uint8_t sample[16]);
int member_readonly(struct member *m);
void member_source(struct member *mem, struct unit *units, size_t i, struct bd_source *s);
void hash_unit(struct member *mem, struct unit *u, char *buf);
void evict_unmatched(struct member *mem, struct unit *units, const size_t *jobs, size_t nj);

/* units.c */
size_t collapse_links(struct bd_group *g, struct member *mem);
size_t make_units(struct member *mem, size_t n, struct unit *units);
size_t keep_matched(const struct unit *units, size_t nu, size_t *set, size_t n, size_t off,
    size_t *jobs, size_t nj);
void plan_work(struct member *mem, size_t n, struct unit *units, size_t nu);
void write_classes(struct member *mem, size_t n, struct unit *units, size_t nu, int work);

/* steps.c */
void member_step(void *job, size_t i, char *buf);
void hash_step(void *job, size_t i, char *buf);
size_t split_by_sample(struct job *jb, size_t nj, char *buf);
size_t match_samples(struct job *jb, size_t nu, size_t nj, char *buf);
long match_csums(struct job *jb, size_t n, size_t nu, size_t nj, char *buf);
void learn_samples(struct table *lsmp, const struct table *smp, const struct member *mem,
    size_t n, const struct unit *units);

/* group.c: the pool's work and finish */
void work_group(void *run, void *job, char *buf);
void finish_group(void *run, void *job);

/* progress.c */
void progress_start(struct progress *pr, int fd, int verbose, const struct bd_input *in);
void progress_group(struct progress *pr, uint64_t records, uint64_t size);
void progress_end(struct progress *pr);

#endif
