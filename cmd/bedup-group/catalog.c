/* catalog.c: the catalog (lib/catalog.c) in bedup-group: the input
 * tracked, one batch, and the catalog's files of each size the input
 * has, their paths found from their inodes under -m. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

/* the catalog, at the first group: an empty one takes the FSID of the
 * first record */
void
open_catalog(struct state *s, const struct item *first)
{
	if (!(s->cat = bd_catalog_open(s->catpath)))
		bd_die("%s:", s->catpath);
	if (bd_catalog_fsid(s->cat, s->catfsid) < 0) {
		memcpy(s->catfsid, first->fsid, 16);
		if (s->update)
			bd_catalog_set_fsid(s->cat, s->catfsid);
	}
}

/* the input item IT into the catalog's batch: what it says replaces the
 * entry of its inode and size (HASH -: nothing known of its content) */
void
track(struct state *s, const struct item *it)
{
	struct bd_cat_entry e, old;

	memset(&e, 0, sizeof e);
	e.size = it->size;
	e.subvol = it->subvol;
	e.ino = it->ino;
	e.gen = it->gen;
	if (it->hashed) {
		/* a digest fed back: the inode has not changed, its sample
		 * stays */
		if (bd_catalog_find(s->cat, e.size, e.subvol, e.ino, &old) && old.gen == e.gen &&
		    (old.flags & BD_CAT_SAMPLE)) {
			memcpy(e.sample, old.sample, 16);
			e.flags |= BD_CAT_SAMPLE;
		}
		memcpy(e.digest, blob(it), 16);
		e.flags |= BD_CAT_DIGEST;
	}
	bd_catalog_put(s->cat, &e);
}

/* the catalog's file E of the group being collected as an item, its
 * path found from its inode; 0, or -1 when it has no path (a file
 * deleted since leaves the catalog) */
static int
from_catalog(struct state *s, const struct bd_cat_entry *e, struct item *it)
{
	char *path;

	if (!s->paths && !(s->paths = bd_inopaths_open(s->mount)))
		bd_die("%s:", s->mount);
	if (!(path = bd_inopath(s->paths, e->subvol, e->ino))) {
		if (errno == ENOENT && s->update) {
			struct bd_cat_entry gone = *e;

			gone.flags = BD_CAT_GONE;
			bd_catalog_put(s->cat, &gone);
		} else if (errno != ENOENT) {
			bd_warn("subvolume %" PRIu64 " inode %" PRIu64 ": no path:", e->subvol, e->ino);
		}
		return -1;
	}
	memset(it, 0, sizeof *it);
	it->size = e->size;
	memcpy(it->fsid, s->catfsid, 16);
	it->subvol = e->subvol;
	it->ino = e->ino;
	it->gen = e->gen;
	it->pathlen = (uint32_t)strlen(path);
	it->path = path;
	return 0;
}

/* the catalog's files of the group's size, not in the input, into the
 * group in order (subvolume, inode) */
void
add_catalog(struct state *s)
{
	struct pending *p = &s->pend;
	size_t nb, nin = p->n, i, k = 0;
	struct item it;

	nb = bd_catalog_bucket(s->cat, p->it[0].size, &s->bucket, &s->bcap);
	for (i = 0; i < nb; i++) {
		const struct bd_cat_entry *e = &s->bucket[i];

		while (k < nin && (p->it[k].subvol < e->subvol ||
		    (p->it[k].subvol == e->subvol && p->it[k].ino < e->ino)))
			k++;
		if (k < nin && p->it[k].subvol == e->subvol && p->it[k].ino == e->ino)
			continue;        /* the input's record replaces it */
		if (from_catalog(s, e, &it) < 0)
			continue;
		if (p->n == p->cap) {
			p->cap = 2 * p->cap;
			p->it = bd_erealloc(p->it, p->cap * sizeof *p->it);
		}
		p->it[p->n++] = it;
	}
	/* back in order: the input's records, then the catalog's */
	if (p->n > nin)
		qsort(p->it, p->n, sizeof *p->it, qcmp);
}

