/* catalog.h: what the files of the catalog (catalog.c, cathead.c,
 * catmerge.c, catsort.c, catconv.c) share; not part of libbedup's
 * interface. */
#ifndef BD_CATALOG_H
#define BD_CATALOG_H

#include <sys/types.h>

#include "bedup.h"

struct bd_catsort;
struct cat_index;

struct bd_catalog {
	char *path, *jpath;
	int fd;                       /* the base (-1: none) */
	size_t len;
	size_t body;                  /* offset of the first entry */
	int has_fsid, fsid_new;       /* fsid_new: not yet in the base */
	int old;                      /* the base is of an older version */
	uint8_t fsid[16];
	struct bd_cat_entry *j;       /* the journal, sorted, one per key */
	size_t nj;
	off_t jend;                   /* journal bytes to its last "# commit" */
	size_t jmax;                  /* entries the journal may hold */
	struct bd_catsort *batch;     /* puts not yet committed */
	struct cat_index *idx;        /* the base's sparse index (catindex.c) */
};

/* The order of the catalog: SIZE, SUBVOL, INO. */
static inline int
cat_cmp(const struct bd_cat_entry *a, const struct bd_cat_entry *b)
{
	if (a->size != b->size)
		return a->size < b->size ? -1 : 1;
	if (a->subvol != b->subvol)
		return a->subvol < b->subvol ? -1 : 1;
	return (a->ino > b->ino) - (a->ino < b->ino);
}

/* catalog.c: the base. Opens PATH again (after a merge). */
int cat_map(struct bd_catalog *c);
void cat_unmap(struct bd_catalog *c);

/* No line of the catalog is longer (four numbers, two digests). */
#define BD_CAT_LINE_MAX 256

/* A window of the base, read with pread into BUF. */
struct cat_win {
	const struct bd_catalog *c;
	char *buf;
	size_t cap, at, n;
	int err;                      /* errno of a failed read */
};
/* W over BUF (CAP bytes), nothing read yet. */
void cat_win_init(struct cat_win *w, const struct bd_catalog *c, char *buf, size_t cap);
/* The line at OFF: its bytes (*LEN, no LF) in the window, or NULL when
 * it does not fit; *NEXT the offset after it either way. */
const char *cat_win_line(struct cat_win *w, size_t off, size_t *len, size_t *next);

/* Reading the base in order from its start, each malformed or
 * out-of-order line reported once (with REPORT) and left out:
 * cat_scan_next returns 1, 0 at the end, -1/errno on a read error. */
struct cat_scan {
	const struct bd_catalog *c;
	struct cat_win w;
	char buf[1 << 16];
	size_t off;
	uint64_t lineno;
	struct bd_cat_entry last;
	int have_last, report;
};
void cat_scan_init(struct cat_scan *s, const struct bd_catalog *c, int report);
int cat_scan_next(struct cat_scan *s, struct bd_cat_entry *e);

/* cathead.c: the header line of the base. Read at map: 1 when the base
 * is of the old form (no header), else 0 (a bad FSID only loses the
 * FSID) or -1/errno (EPROTO: a version not read here). Written: a base of
 * C's FSID. */
int cat_header_read(struct bd_catalog *c);
int cat_header_write(FILE *f, const struct bd_catalog *c);

/* The first good line of the base starting at OFF or after it (OFF need
 * not be a line start): its offset, its entry in *E; C->len when none. */
size_t cat_line_from(const struct bd_catalog *c, size_t off, struct bd_cat_entry *e);

/* catindex.c: the sparse index, made empty for the base as mapped now
 * (reset), freed, and asked for the part of the base a bisection for K
 * need look at: every good line before *LO is below K, the line at *HI is
 * not (or *HI is the end). */
void cat_index_reset(struct bd_catalog *c);
void cat_index_free(struct bd_catalog *c);
void cat_index_range(const struct bd_catalog *c, const struct bd_cat_entry *k, size_t *lo,
    size_t *hi);

/* catmerge.c: the journal read at open (C->jpath). */
int cat_journal_load(struct bd_catalog *c);

/* catconv.c: converts the old form at C->path into a base. */
int cat_convert(struct bd_catalog *c);

/* catsort.c: entries in any order, read back sorted by key, one per key
 * (the last put of it), in runs of bounded size spilled to temp files. */
struct bd_catsort *catsort_new(void);
void catsort_put(struct bd_catsort *s, const struct bd_cat_entry *e);
uint64_t catsort_count(const struct bd_catsort *s);
/* Ends the puts; then catsort_next gives the entries: 1, 0 at the end,
 * -1/errno on a read error of a temp file. */
int catsort_finish(struct bd_catsort *s);
int catsort_next(struct bd_catsort *s, struct bd_cat_entry *e);
void catsort_free(struct bd_catsort *s);

#endif
