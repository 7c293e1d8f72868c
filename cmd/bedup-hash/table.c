/* table.c: the table of the inodes this run found changed (-N), sorted
 * by inode. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"

struct entry *
table_add(struct table *t, const struct bd_record *r)
{
	struct entry *e;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap / 2 * 3 : 256;
		t->e = bd_erealloc(t->e, t->cap * sizeof *t->e);
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof *e);
	bd_inode_key(&e->key, r);
	e->gen = r->gen;
	e->size = r->size;
	return e;
}

/* T's entry for R's inode as it is now (same generation and size) */
struct entry *
table_valid(const struct table *t, const struct bd_record *r)
{
	struct bd_inode key;
	struct entry *e;

	bd_inode_key(&key, r);
	e = t->n ? bsearch(&key, t->e, t->n, sizeof *t->e, bd_inode_cmp) : NULL;
	return e && e->gen == r->gen && e->size == r->size ? e : NULL;
}

void
table_sort(struct table *t)
{
	if (t->n)
		qsort(t->e, t->n, sizeof *t->e, bd_inode_cmp);
}
