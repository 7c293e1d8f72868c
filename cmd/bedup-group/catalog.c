/* catalog.c: the catalog (lib/catalog.c) in bedup-group: the input
 * tracked, one batch, and the catalog's files of each size the input
 * has that may hold the bytes of an input file, their paths found from
 * their inodes under -m. What the trees say of the input: inputs.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group.h"

/* the catalog, at the first group: an empty one takes the FSID of the
 * first record */
void
open_catalog(struct state *s, const struct item *first)
{
	if (!(s->cat = bd_catalog_open_for(s->catpath, first->fsid, s->update, s->catfsid)))
		bd_die("%s:", s->catpath);
}

/* -m, opened at the first tree search: the catalog's filesystem, its
 * dirty data written out (the trees then say where every byte lies).
 * When it is not, and the catalog has files to tell apart (NEED), -m is
 * wrong: exit 2. Else (only the input's small files to look at, and the
 * catalog had none: its filesystem came from the first record) the
 * files are not looked at, said once. Returns 0, or -1 then. */
int
open_fs(struct state *s, int need)
{
	char mfsid[BD_FSID_LEN + 1], cfsid[BD_FSID_LEN + 1], why[128];

	if (s->fsfd >= 0)
		return 0;
	if (!s->nofs) {
		bd_fsid_unpack(s->catfsid, cfsid);
		if ((s->fsfd = open(s->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
		    bd_fsid_fd(s->fsfd, mfsid) < 0)
			snprintf(why, sizeof why, "%s", strerror(errno));
		else if (strcmp(mfsid, cfsid) != 0)
			snprintf(why, sizeof why, "filesystem %s, the catalog's is %s", mfsid, cfsid);
		else
			goto open;
		if (s->fsfd >= 0)
			close(s->fsfd);
		s->fsfd = -1;
		s->nofs = 1;
		if (need)
			bd_die("%s: %s", s->mount, why);
		bd_fail("%s: %s: small files not looked at, kept in groups and tracked", s->mount,
		    why);
	}
	if (need)
		exit(2);     /* said when first met */
	return -1;
open:
	/* data still in the page cache is not in the trees: a file being
	 * rewritten would get the key of its old bytes */
	if (bd_writeout_fd(s->fsfd) < 0)
		bd_warn("%s: syncfs:", s->mount);
	if (bd_csum_fs_fd(s->fsfd, &s->csum) < 0)
		bd_die("%s:", s->mount);
	s->sbuf = bd_emalloc(SEARCH_BUF);
	return 0;
}

/* with -u, the catalog's file E leaves the catalog */
void
forget(struct state *s, const struct bd_cat_entry *e)
{
	struct bd_cat_entry gone = *e;

	if (!s->update)
		return;
	gone.flags = BD_CAT_GONE;
	bd_catalog_put(s->cat, &gone);
}

/* the record of the catalog's file E: its inode, generation and size
 * (no path), as the layout looks want it */
struct bd_record
rec_of(const struct bd_cat_entry *e)
{
	struct bd_record r = { .size = e->size, .subvol = e->subvol, .ino = e->ino, .gen = e->gen };

	return r;
}

/* The layout of the inode R names into L, from the trees under -m:
 * 1, 0 when it is not that inode now (gone, or another file has its
 * number), or -1 when the search failed (said) */
int
layout_of(struct state *s, const struct bd_record *r, struct bd_layout *l)
{
	struct bd_search sr;

	bd_search_init_buf(&sr, s->sbuf, SEARCH_BUF);
	if (bd_layout_get(s->fsfd, r->subvol, r->ino, &sr, l) < 0) {
		if (errno == ENOENT)
			return 0;
		bd_warn("%s: subvolume %" PRIu64 " inode %" PRIu64 ":", s->mount, r->subvol, r->ino);
		return -1;
	}
	return bd_layout_is(l, r);
}

/* Whether the catalog's file E is one of the first N input items of P,
 * by inode. A walk over a bucket in order (subvolume, inode) calls it
 * with its cursor *K, from 0, into those items, in the same order. */
int
in_input(const struct pending *p, size_t n, const struct bd_cat_entry *e, size_t *k)
{
	while (*k < n && (p->it[*k].subvol < e->subvol ||
	    (p->it[*k].subvol == e->subvol && p->it[*k].ino < e->ino)))
		(*k)++;
	return *k < n && p->it[*k].subvol == e->subvol && p->it[*k].ino == e->ino;
}

/* the input item IT into the catalog's batch: what it says replaces the
 * entry of its inode and size (HASH -: nothing known of its content),
 * with its checksum key K when known */
void
track(struct state *s, const struct item *it, const struct ikey *k)
{
	struct bd_cat_entry e, old;

	memset(&e, 0, sizeof e);
	e.size = it->size;
	e.subvol = it->subvol;
	e.ino = it->ino;
	e.gen = it->gen;
	if (it->hashed) {
		/* a digest fed back: the inode has not changed, its sample
		 * and key stay */
		if (bd_catalog_find(s->cat, e.size, e.subvol, e.ino, &old) && old.gen == e.gen) {
			memcpy(e.sample, old.sample, 16);
			memcpy(e.key, old.key, 8);
			e.flags |= old.flags & (BD_CAT_SAMPLE | BD_CAT_KEY);
		}
		memcpy(e.digest, blob(it), 16);
		e.flags |= BD_CAT_DIGEST;
	}
	if (k && k->have) {
		memcpy(e.key, k->key, 8);
		e.flags |= BD_CAT_KEY;
	}
	if (k && k->tagged) {
		memcpy(e.layout, k->tag, BD_LAYOUT_TAG_LEN);
		e.flags |= BD_CAT_LAYOUT;
	}
	bd_catalog_put(s->cat, &e);
}

static int
keycmp(const void *a, const void *b)
{
	return memcmp(a, b, 8);
}

/* whether E may hold the bytes of an input item: with KEYS (N sorted
 * keys, every input item's), when it has no key or one of those */
static int
may_match(const struct bd_cat_entry *e, const uint8_t (*keys)[8], size_t n)
{
	return !keys || !(e->flags & BD_CAT_KEY) || bsearch(e->key, keys, n, 8, keycmp);
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
		if (errno == ENOENT)
			forget(s, e);
		else
			bd_warn("subvolume %" PRIu64 " inode %" PRIu64 ": no path:", e->subvol, e->ino);
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

/* The catalog's file E, which has no checksum key, as its inode is now
 * in the trees under -m: 0 when it is left out, for its data lies inline
 * (it then leaves the catalog: an older bedup tracked such files), or,
 * with KEYS (N sorted keys, every input item's), for its key, read now
 * and learnt, is none of them. Else 1: it may hold the bytes of an input
 * item, and E has the key when one was read. A tree search or two, where
 * a path would cost a search per directory up to the top. */
static int
keyless(struct state *s, struct bd_cat_entry *e, const uint8_t (*keys)[8], size_t n)
{
	struct bd_record r = rec_of(e);
	struct bd_layout l = { 0 };
	struct bd_cat_entry x = *e;
	uint8_t key[16];
	int laid, k = 0;

	if (!keys && e->size > s->csum.sectorsize)
		return 1;
	laid = layout_of(s, &r, &l) > 0;
	if (laid && bd_layout_all_inline(&l)) {
		bd_layout_free(&l);
		forget(s, e);
		s->inl++;
		return 0;
	}
	if (laid && keys)
		k = bd_csum_key_of(s->fsfd, &s->csum, &l, r.size, s->sbuf, SEARCH_BUF, key);
	if (laid && bd_layout_tag(&l, x.layout))
		x.flags |= BD_CAT_LAYOUT;
	bd_layout_free(&l);
	if (k == 1) {
		memcpy(x.key, key, 8);
		x.flags |= BD_CAT_KEY;
	}
	if (s->update && x.flags != e->flags)
		bd_catalog_put(s->cat, &x);
	*e = x;
	if (k != 1)
		return 1;
	if (may_match(&x, keys, n))
		return 1;
	s->left++;
	return 0;
}

/* What tells E's content: 2, its checksum key; 1, its digest; 0,
 * nothing known. */
static int
kind(const struct bd_cat_entry *e)
{
	return e->flags & BD_CAT_KEY ? 2 : e->flags & BD_CAT_DIGEST ? 1 : 0;
}

/* by content (key, digest, nothing known last), then in the bucket's
 * order */
static int
candcmp(const void *a, const void *b)
{
	const struct bd_cat_entry *x = *(const struct bd_cat_entry *const *)a;
	const struct bd_cat_entry *y = *(const struct bd_cat_entry *const *)b;
	int kx = kind(x), ky = kind(y), c = 0;

	if (kx != ky)
		return ky - kx;
	if (kx == 2)
		c = memcmp(x->key, y->key, 8);
	else if (kx == 1)
		c = memcmp(x->digest, y->digest, 16);
	return c ? c : (x > y) - (x < y);
}

/* Whether the catalog's files C[0..N) (N >= 2) all have one layout: by
 * the layout tags the catalog has, when each has one, else as the trees
 * say now (the same extent references, compressed or not), the tags then
 * learnt. A tag learnt before a balance moved the extents differs from
 * one learnt after: files sharing data may then come all, never the
 * other way round. */
static int
one_layout(struct state *s, struct bd_cat_entry **c, size_t n)
{
	struct bd_layout first = { 0 }, l;
	size_t i;
	int same = 1;

	for (i = 0; i < n && (c[i]->flags & BD_CAT_LAYOUT); i++)
		if (memcmp(c[i]->layout, c[0]->layout, BD_LAYOUT_TAG_LEN) != 0)
			same = 0;
	if (i == n)
		return same;
	for (i = 0; i < n && same; i++) {
		struct bd_record r = rec_of(c[i]);
		struct bd_layout *lp = i ? &l : &first;

		memset(&l, 0, sizeof l);
		if (layout_of(s, &r, lp) <= 0) {
			same = 0;
		} else {
			if (s->update && !(c[i]->flags & BD_CAT_LAYOUT) &&
			    bd_layout_tag(lp, c[i]->layout)) {
				c[i]->flags |= BD_CAT_LAYOUT;
				bd_catalog_put(s->cat, c[i]);
			}
			if (i)
				same = bd_layout_same(&first, &l);
		}
		bd_layout_free(&l);
	}
	bd_layout_free(&first);
	return same;
}

/* E into the group, its path looked up: 0, or -1 when it has none */
static int
bring(struct state *s, const struct bd_cat_entry *e)
{
	struct pending *p = &s->pend;
	struct item it;

	if (from_catalog(s, e, &it) < 0)
		return -1;
	if (p->n == p->cap) {
		p->cap = 2 * p->cap;
		p->it = bd_erealloc(p->it, p->cap * sizeof *p->it);
	}
	p->it[p->n++] = it;
	return 0;
}

/* Of the catalog's files C[0..N) of one content and one layout, the
 * first that is still the inode its entry names (the trees say so) and
 * has a path into the group: the others hold the very extents it holds.
 * One deleted or replaced since is passed over (and with -u leaves the
 * catalog): bringing it would bring nothing, and leave a new copy of the
 * content with no file to share. */
static void
bring_one(struct state *s, struct bd_cat_entry **c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct bd_record r = rec_of(c[i]);
		struct bd_layout l = { 0 };
		int ok = layout_of(s, &r, &l);

		bd_layout_free(&l);
		if (ok > 0 && bring(s, c[i]) == 0) {
			s->same += n - i - 1;
			return;
		}
		if (ok == 0)
			forget(s, c[i]);
	}
}

/* The catalog's files C[0..N) that join the group, into it. Those of one
 * content (one checksum key, or one digest) that share one layout are
 * one: only one comes (bring_one), and whatever bedup-clone shares into
 * it or from it needs nothing of the others. When a content's files have
 * more than one layout, all come: bedup-clone may share one's data into
 * every other. (Should the one that came be shared into, from a new file
 * in a read-only subvolume, say, the run's second look at what it
 * changed brings the others: their content then has two layouts.) */
static void
bring_all(struct state *s, struct bd_cat_entry **c, size_t n)
{
	size_t i = 0, j;

	qsort(c, n, sizeof *c, candcmp);
	while (i < n) {
		for (j = i + 1; j < n && kind(c[i]) && kind(c[j]) == kind(c[i]) &&
		    (kind(c[i]) == 2 ? memcmp(c[i]->key, c[j]->key, 8) :
		    memcmp(c[i]->digest, c[j]->digest, 16)) == 0; j++)
			;
		if (j - i >= 2 && one_layout(s, c + i, j - i))
			bring_one(s, c + i, j - i);
		else
			for (; i < j; i++)
				bring(s, c[i]);
		i = j;
	}
}

/* The catalog's files of the group's size (S->bucket, S->nb of them), not
 * in the input, into the group in order (subvolume, inode); with KEYED
 * (every input item has its key), only those that may hold the bytes of
 * an input item, by the key the catalog has or the trees give: the others
 * are left out, their paths not even looked up. */
void
add_catalog(struct state *s, int keyed)
{
	struct pending *p = &s->pend;
	size_t nb = s->nb, nin = p->n, i, k = 0, nc = 0;
	uint8_t (*keys)[8] = NULL;
	struct bd_cat_entry **cand = bd_ecalloc(nb, sizeof *cand);

	if (keyed) {
		keys = bd_ecalloc(nin, sizeof *keys);
		for (i = 0; i < nin; i++)
			memcpy(keys[i], p->key[i].key, 8);
		qsort(keys, nin, sizeof *keys, keycmp);
	}
	for (i = 0; i < nb; i++) {
		struct bd_cat_entry *e = &s->bucket[i];

		if (in_input(p, nin, e, &k))
			continue;        /* the input's record replaces it */
		if (!may_match(e, (const uint8_t (*)[8])keys, nin)) {
			s->left++;
			continue;
		}
		if (!(e->flags & BD_CAT_KEY) && !keyless(s, e, (const uint8_t (*)[8])keys, nin))
			continue;
		cand[nc++] = e;
	}
	free(keys);
	bring_all(s, cand, nc);
	free(cand);
	/* back in order: the input's records, then the catalog's */
	if (p->n > nin)
		qsort(p->it, p->n, sizeof *p->it, qcmp);
}
