/* group.h: what the files of bedup-group share. One file per job:
 *	bedup-group.c	options, the input, groups collected and written
 *	runs.c		records sorted in bounded memory: runs spilled, merged
 *	catalog.c	the catalog's files of a group's size; the input tracked */
#ifndef GROUP_H
#define GROUP_H

#include <stdint.h>
#include <stdio.h>

#include "bedup.h"

#define DEFAULT_MEMORY (16u << 20)   /* spilling is cheap: runs stay in the page cache */
#define MAXRUNS 64           /* more runs than this are merged into one */
#define CHUNK (1u << 20)     /* path arena chunk */
#define SEARCH_BUF (128u << 10)  /* a tree search's buffer (bd_csum_key) */
#define MAX_SECTOR (64u << 10)   /* btrfs's largest sector: no inline data above */

/* one record, compact: the memory of a run is mostly these. PATH is
 * decoded and not NUL-terminated; a digest, when HASH is one, is kept in
 * the 16 bytes right before PATH (most records have none) */
struct item {
	uint64_t size, subvol, ino, gen;
	uint8_t fsid[16];
	const char *path;
	uint32_t pathlen;
	uint8_t hashed;      /* HASH is a digest, not "-" */
};

/* the digest and path bytes of IT, as stored */
static inline const char *
blob(const struct item *it)
{
	return it->hashed ? it->path - 16 : it->path;
}

static inline size_t
blob_len(const struct item *it)
{
	return it->pathlen + (it->hashed ? 16u : 0u);
}

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

/* a sorted run in a temp file: items, each followed by its path */
struct run {
	FILE *f;
	struct item cur;
	char *buf;
	size_t cap;
	int live;
};

/* a checksum key (bd_csum_key) and a layout tag (bd_layout_tag) of an
 * input item, when read */
struct ikey {
	uint8_t key[8], tag[BD_LAYOUT_TAG_LEN];
	int have, tagged;
};

/* the current (SIZE, FSID) run being collected for output; KEY, when a
 * group has catalog files, the keys of the input items */
struct pending {
	struct item *it;
	size_t n, cap;
	struct ikey *key;    /* with LAID: each item's, as input_layouts read it */
	size_t kcap;
	int laid;
};

struct state {
	struct item *items;
	size_t n, cap;
	struct chunk *chunks;
	size_t mem, budget;  /* MEM: bytes of paths held */
	struct run *runs;
	size_t nruns;
	uint64_t minsize;
	const char *catpath, *mount;  /* -C, -m */
	int update;          /* -u */
	int verbose;         /* -v */
	const char *counts;  /* -i */
	struct bd_catalog *cat;       /* opened at the first group */
	uint8_t catfsid[16];
	struct bd_inopaths *paths;    /* under -m, at the first path needed */
	struct bd_cat_entry *bucket;  /* the catalog's files of one size */
	size_t bcap, nb;
	int fsfd;                     /* -m, for tree searches (-1: not open) */
	int nofs;                     /* -m is not the catalog's filesystem */
	struct bd_csum_fs csum;
	char *sbuf;                   /* a tree search's buffer */
	uint64_t left;                /* catalog files left out by their key */
	uint64_t inl;                 /* files left out: their data lies inline */
	uint64_t same;                /* catalog files left out: one layout with another */
	uint64_t settled;             /* input files left out: one layout with a tracked one */
	FILE *out;           /* stdout, or a spool until the catalog is committed */
	struct pending pend;
};


/* runs.c */
int cmp_item(const struct item *a, const struct item *b);
int qcmp(const void *a, const void *b);
const char *store_path(struct state *s, const uint8_t *digest, const char *p, size_t n);
void free_chunks(struct state *s);
void merge(struct run *runs, size_t n, void (*emit)(void *, const struct item *), void *arg);
void spill(struct state *s);

/* catalog.c */
void open_catalog(struct state *s, const struct item *first);
int open_fs(struct state *s, int need);
void forget(struct state *s, const struct bd_cat_entry *e);
struct bd_record rec_of(const struct bd_cat_entry *e);
int layout_of(struct state *s, const struct bd_record *r, struct bd_layout *l);
int in_input(const struct pending *p, size_t n, const struct bd_cat_entry *e, size_t *k);
void track(struct state *s, const struct item *it, const struct ikey *k);
void add_catalog(struct state *s, int keyed);

/* inputs.c */
int input_layouts(struct state *s, int keys);

#endif
