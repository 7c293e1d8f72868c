/* table.c: tables of inodes, sorted by inode: what the catalog or the
 * samples file knows, and what a run learns (spooled until its end). */
#include <stdlib.h>
#include <string.h>

#include "hash.h"

struct entry *
table_new(struct table *t)
{
	struct entry *e;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap / 2 * 3 : 256;
		t->e = bd_erealloc(t->e, t->cap * sizeof *t->e);
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof *e);
	return e;
}

/* E, cleared, for R's inode as it is */
static void
entry_init(struct entry *e, const struct bd_record *r)
{
	memset(e, 0, sizeof *e);
	bd_inode_key(&e->key, r);
	e->gen = r->gen;
	e->size = r->size;
}

struct entry *
table_add(struct table *t, const struct bd_record *r)
{
	struct entry *e = table_new(t);

	entry_init(e, r);
	return e;
}

/* R's inode learnt: its DIGEST (or sample) when not NULL, or DROP it */
void
learn(struct table *t, const struct bd_record *r, const uint8_t *digest, int drop)
{
	struct entry e;

	entry_init(&e, r);
	if (digest)
		memcpy(e.digest, digest, 16);
	e.drop = drop;
	if (!t->spool)
		t->spool = bd_tempfile();
	if (fwrite(&e, sizeof e, 1, t->spool) != 1)
		bd_die("temp file: write error:");
	t->nspool++;
}

/* what was learnt into T, read back from its spool */
void
unspool(struct table *t)
{
	if (!t->spool)
		return;
	if (fflush(t->spool) == EOF || fseeko(t->spool, 0, SEEK_SET) < 0)
		bd_die("temp file:");
	t->cap = t->n + t->nspool;
	t->e = bd_erealloc(t->e, t->cap * sizeof *t->e);
	if (fread(t->e + t->n, sizeof *t->e, t->nspool, t->spool) != t->nspool)
		bd_die("temp file: short read");
	t->n += t->nspool;
	t->nspool = 0;
	fclose(t->spool);
	t->spool = NULL;
}

struct entry *
table_find(const struct table *t, const struct bd_record *r)
{
	struct bd_inode key;

	bd_inode_key(&key, r);
	return t->n ? bsearch(&key, t->e, t->n, sizeof *t->e, bd_inode_cmp) : NULL;
}

/* T's entry for R's inode as it is now (same generation and size) */
struct entry *
table_valid(const struct table *t, const struct bd_record *r)
{
	struct entry *e = table_find(t, r);

	return e && e->gen == r->gen && e->size == r->size ? e : NULL;
}

void
table_sort(struct table *t)
{
	if (t->n)
		qsort(t->e, t->n, sizeof *t->e, bd_inode_cmp);
}
