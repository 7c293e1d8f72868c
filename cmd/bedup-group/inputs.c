/* inputs.c: what the trees under -m say of bedup-group's input items,
 * no file opened: those with all their data inline, and those that share
 * all their data with an unchanged tracked file, are left out; the others'
 * checksum keys and layout tags are read. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

/* the record of the input item IT (no path), as the layout looks want it */
static struct bd_record
item_rec(const struct item *it)
{
	struct bd_record r = { .size = it->size, .subvol = it->subvol, .ino = it->ino,
		.gen = it->gen };

	return r;
}

static int
tagcmp(const void *a, const void *b)
{
	const struct bd_cat_entry *x = *(const struct bd_cat_entry *const *)a;
	const struct bd_cat_entry *y = *(const struct bd_cat_entry *const *)b;

	return memcmp(x->layout, y->layout, BD_LAYOUT_TAG_LEN);
}

static int
inocmp(const void *a, const void *b)
{
	const struct bd_cat_entry *x = a, *y = b;

	if (x->subvol != y->subvol)
		return x->subvol < y->subvol ? -1 : 1;
	return (x->ino > y->ino) - (x->ino < y->ino);
}

/* The catalog's files of the group's size that may vouch for an input
 * item's content, into *OUT by layout tag: those with a digest and a tag,
 * not in the input, so not reported changed since both were learnt.
 * Both S->bucket and the input are in order (subvolume, inode). */
static size_t
vouchers(struct state *s, struct bd_cat_entry ***out)
{
	const struct pending *p = &s->pend;
	struct bd_cat_entry **v = bd_ecalloc(s->nb, sizeof *v);
	const unsigned want = BD_CAT_DIGEST | BD_CAT_LAYOUT;
	size_t i, k = 0, n = 0;

	for (i = 0; i < s->nb; i++) {
		struct bd_cat_entry *e = &s->bucket[i];

		if (!in_input(p, p->n, e, &k) && (e->flags & want) == want)
			v[n++] = e;
	}
	qsort(v, n, sizeof *v, tagcmp);
	*out = v;
	return n;
}

/* a voucher's layout, read once per group */
struct vlay {
	const struct bd_cat_entry *e;
	struct bd_layout l;
	int ok;
};

/* Whether the input item R, of layout L tagged TAG, is a tracked file
 * whose extents changed and that now shares all its data with one of the
 * vouchers V[0..N): what a dedupe leaves of its destination, so most of
 * the files a run's second look meets. The same extent references over
 * the same size, as the trees say now, are the same bytes, whose digest
 * the catalog has: the file has nothing to share or be shared into that
 * its voucher has not. The voucher's extents are still those its tag,
 * like its digest, was learnt with: the tag found it, and the trees say
 * the two files' extents are the same now. With -u the file is tracked
 * with what the catalog knows of that content. A file new to the
 * catalog, or whose extents are as they were (a read-only snapshot's,
 * taken again under -R), goes on as any other: in a group it may be the
 * source the others share. */
static int
settled(struct state *s, const struct bd_record *r, const struct bd_layout *l,
    const uint8_t *tag, struct bd_cat_entry **v, size_t n, struct vlay *last)
{
	struct bd_cat_entry key, *kp = &key, **at, x, *b;
	size_t i;

	if (!n || !bd_catalog_find(s->cat, r->size, r->subvol, r->ino, &x) ||
	    x.gen != r->gen || !(x.flags & BD_CAT_LAYOUT) ||
	    memcmp(x.layout, tag, BD_LAYOUT_TAG_LEN) == 0)
		return 0;
	memcpy(key.layout, tag, BD_LAYOUT_TAG_LEN);
	if (!(at = bsearch(&kp, v, n, sizeof *v, tagcmp)))
		return 0;
	i = (size_t)(at - v);
	while (i > 0 && tagcmp(&v[i - 1], &kp) == 0)
		i--;
	for (; i < n && tagcmp(&v[i], &kp) == 0; i++) {
		if (last->e != v[i]) {
			struct bd_record vr = rec_of(v[i]);

			bd_layout_free(&last->l);
			memset(&last->l, 0, sizeof last->l);
			last->e = v[i];
			last->ok = layout_of(s, &vr, &last->l) > 0;
		}
		if (!last->ok || !bd_layout_same(l, &last->l))
			continue;
		x = *v[i];
		x.subvol = r->subvol;
		x.ino = r->ino;
		x.gen = r->gen;
		if (s->update)
			bd_catalog_put(s->cat, &x);
		/* and so it is one of the catalog's files of its size, as
		 * the others of this content come (add_catalog) */
		if ((b = bsearch(&x, s->bucket, s->nb, sizeof *s->bucket, inocmp)))
			*b = x;
		return 1;
	}
	return 0;
}

/* The input items of the group being collected, looked at in the trees
 * under -m, no file opened. Those whose data lies inline in the metadata
 * are left out, neither grouped nor tracked: nothing of theirs can be
 * shared (an entry the catalog had of one goes). Only files of at most a
 * sector can be such, so without KEYS only those are looked at. With
 * KEYS (the catalog has files of this size to tell apart), those that
 * share all their data with an unchanged tracked file are left out too
 * (settled), and the checksum keys of the others go into S->pend.key.
 * Returns whether every item left has a key: then a catalog file whose
 * key none of them has holds other bytes than all of them. */
int
input_layouts(struct state *s, int keys)
{
	struct pending *p = &s->pend;
	struct bd_cat_entry **v = NULL, e;
	struct vlay last = { 0 };
	struct bd_layout l;
	size_t i, n = 0, nv = 0;
	int all = 1, k, laid;

	p->laid = 0;
	if (!keys && (!p->n || p->it[0].size > MAX_SECTOR))
		return 0;
	if (open_fs(s, keys) < 0 || (!keys && p->it[0].size > s->csum.sectorsize))
		return 0;
	if (p->kcap < p->n) {
		p->kcap = p->cap;
		p->key = bd_erealloc(p->key, p->kcap * sizeof *p->key);
	}
	if (keys)
		nv = vouchers(s, &v);
	for (i = 0; i < p->n; i++) {
		struct item *it = &p->it[i];
		struct bd_record r = item_rec(it);
		struct ikey *ik = &p->key[n];
		uint8_t key[16];

		memset(&l, 0, sizeof l);
		laid = layout_of(s, &r, &l) > 0;
		if (laid && bd_layout_all_inline(&l)) {
			if (s->update && bd_catalog_find(s->cat, r.size, r.subvol, r.ino, &e))
				forget(s, &e);
			s->inl++;
			goto drop;
		}
		ik->tagged = laid && bd_layout_tag(&l, ik->tag);
		if (ik->tagged && settled(s, &r, &l, ik->tag, v, nv, &last)) {
			s->settled++;
			goto drop;
		}
		k = 0;
		if (keys && laid) {
			k = bd_csum_key_of(s->fsfd, &s->csum, &l, r.size, s->sbuf, SEARCH_BUF, key);
			if (k < 0 && errno != EOVERFLOW)
				bd_warn("%s: subvolume %" PRIu64 " inode %" PRIu64 ": checksums:",
				    s->mount, r.subvol, r.ino);
		}
		bd_layout_free(&l);
		p->it[n] = *it;
		if (k == 1)
			memcpy(ik->key, key, 8);
		ik->have = k == 1;
		all &= k == 1;
		n++;
		continue;
drop:
		free((char *)blob(it));
		bd_layout_free(&l);
	}
	bd_layout_free(&last.l);
	free(v);
	p->n = n;
	p->laid = 1;
	return all && keys;
}
