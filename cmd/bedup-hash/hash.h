/* hash.h: what the files of bedup-hash share. One file per job:
 *	bedup-hash.c	options, the input loop, the catalog updated at the end
 *	catalog.c	what the catalog knows of a member, what a run learns
 *	found.c		members replaced: churn, or changed during the run (-N)
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
	struct bd_cat_entry ce;  /* its catalog entry, when CE_STATE is 1 */
	int ce_state;            /* 0: not looked up yet, 1: valid, -1: none */
	int state;
	int replaced;            /* the path names another inode now */
	int resized;             /* the inode named, of another size now */
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
	int csummed;             /* CSUM holds its checksum key, 8 bytes, then 0s */
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

/* members dropped as replaced, until FOUND says which (found.c) */
struct later {
	struct replaced *v;
	size_t n, cap;
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
	struct bd_catalog *cat;  /* -C, once the first group is in; lookups
	                          * only, but for the batch of -u */
	uint8_t catfsid[16];     /* the filesystem the catalog is of */
	int update;              /* -u: what is learnt goes into the catalog */
	int keep_fds;            /* enough fds for the records in flight */
	int found;               /* -N: replaced members wait in LATER */
	struct later *later;
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

/* found.c */
void defer_replaced(struct later *l, const struct member *m);
void settle_replaced(struct later *l, const char *found, int verbose);

/* catalog.c */
void open_catalog(struct run *rn, const char *path, const struct bd_record *first);
const struct bd_cat_entry *member_entry(const struct run *rn, struct member *m);
void learn_member(const struct run *rn, struct member *m, const uint8_t *digest,
    const uint8_t *sample, const uint8_t *key);
void forget_member(const struct run *rn, const struct bd_record *r);
void close_catalog(struct run *rn, const char *path);

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

/* group.c: the pool's work and finish */
void work_group(void *run, void *job, char *buf);
void finish_group(void *run, void *job);

/* progress.c */
void progress_start(struct progress *pr, int fd, int verbose, const struct bd_input *in);
void progress_group(struct progress *pr, uint64_t records, uint64_t size);
void progress_end(struct progress *pr);

#endif
