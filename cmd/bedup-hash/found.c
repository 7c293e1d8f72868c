/* found.c: members dropped as replaced or resized, told apart at the
 * end of the run by -N FOUND, the records this run's search found
 * changed: one of
 * those that changed between the stages is a failure; a file tracked
 * by an earlier run and replaced since is churn, dropped quietly. FOUND
 * is read once, streaming, and only when some member was replaced: what
 * memory holds grows with those, not with the files found. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"

struct replaced {
	struct bd_inode key;     /* first: sorted by it */
	uint64_t gen, size;
	size_t order;            /* in input order */
	char *path, *note;
	int found;
	int resized;             /* not replaced: of another size now */
};

/* member M, dropped as replaced: decided at the end */
void
defer_replaced(struct later *l, const struct member *m)
{
	struct replaced *d;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = bd_erealloc(l->v, l->cap * sizeof *l->v);
	}
	d = &l->v[l->n];
	memset(d, 0, sizeof *d);
	bd_inode_key(&d->key, &m->r);
	d->gen = m->r.gen;
	d->size = m->r.size;
	d->order = l->n++;
	d->resized = m->resized;
	d->path = bd_estrdup(m->r.path);
	d->note = bd_estrdup(m->note);
}

static int
cmp_order(const void *a, const void *b)
{
	const struct replaced *x = a, *y = b;

	return (x->order > y->order) - (x->order < y->order);
}

/* the deferred members reported: a failure for those FOUND names as
 * they were (inode, generation, size), a note with -v for the others */
void
settle_replaced(struct later *l, const char *found, int verbose)
{
	struct bd_input in;
	struct bd_record r;
	struct bd_inode k;
	struct replaced *d;
	char *files[1] = { (char *)found };
	size_t i;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof *l->v, bd_inode_cmp);
	bd_input_init(&in, 1, files);
	while (bd_input_next(&in, &r)) {
		bd_inode_key(&k, &r);
		d = bsearch(&k, l->v, l->n, sizeof *l->v, bd_inode_cmp);
		/* hard links: one of the names is enough */
		for (; d && d > l->v && bd_inode_cmp(d - 1, &k) == 0; d--)
			;
		for (; d && d < l->v + l->n && bd_inode_cmp(d, &k) == 0; d++)
			if (d->gen == r.gen && d->size == r.size)
				d->found = 1;
	}
	bd_input_close(&in);
	qsort(l->v, l->n, sizeof *l->v, cmp_order);
	for (i = 0; i < l->n; i++) {
		d = &l->v[i];
		if (d->found)
			bd_pfail(d->path, "%s", d->note);
		else if (verbose)
			bd_pwarn(d->path, "%s since the last run, dropped",
			    d->resized ? "resized" : "replaced");
		free(d->path);
		free(d->note);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
