/* catindex.c: a sparse index of the catalog's base, filled as lookups
 * need it, so that a lookup costs one or two reads, not a bisection of
 * the whole file. The base is cut into at most IDX_MAX blocks of equal
 * size (4 KiB at least); a block's slot holds the key and offset of the
 * first good line starting in it or after it, read the first time a
 * bisection over the blocks asks. Memory is fixed (IDX_MAX slots), what
 * is read follows the lookups made, and several threads may fill slots
 * at once (a slot is published with release, read with acquire). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

#define IDX_MAX 16384
#define IDX_MIN_STEP 4096

struct cat_index {
	size_t step, n;
	pthread_mutex_t lock;
	_Atomic unsigned char *ready;
	struct cat_slot {
		struct bd_cat_entry key;   /* size, subvol, ino */
		size_t off;                /* c->len: no good line after */
	} *slot;
};

void
cat_index_free(struct bd_catalog *c)
{
	if (!c->idx)
		return;
	pthread_mutex_destroy(&c->idx->lock);
	free((void *)c->idx->ready);
	free(c->idx->slot);
	free(c->idx);
	c->idx = NULL;
}

void
cat_index_reset(struct bd_catalog *c)
{
	struct cat_index *x;
	size_t body;

	cat_index_free(c);
	if (c->fd < 0 || c->len <= c->body)
		return;
	body = c->len - c->body;
	x = bd_ecalloc(1, sizeof *x);
	x->step = (body + IDX_MAX - 1) / IDX_MAX;
	if (x->step < IDX_MIN_STEP)
		x->step = IDX_MIN_STEP;
	x->n = (body + x->step - 1) / x->step;
	x->ready = bd_ecalloc(x->n, sizeof *x->ready);
	x->slot = bd_ecalloc(x->n, sizeof *x->slot);
	pthread_mutex_init(&x->lock, NULL);
	c->idx = x;
}

/* block B's slot, read from the base the first time */
static const struct cat_slot *
slot(const struct bd_catalog *c, size_t b)
{
	struct cat_index *x = c->idx;
	struct cat_slot *s = &x->slot[b];

	if (atomic_load_explicit(&x->ready[b], memory_order_acquire))
		return s;
	pthread_mutex_lock(&x->lock);
	if (!atomic_load_explicit(&x->ready[b], memory_order_relaxed)) {
		s->off = cat_line_from(c, c->body + b * x->step, &s->key);
		atomic_store_explicit(&x->ready[b], 1, memory_order_release);
	}
	pthread_mutex_unlock(&x->lock);
	return s;
}

/* below K: a slot with a good line whose key is under K's */
static int
below(const struct cat_slot *s, const struct bd_catalog *c, const struct bd_cat_entry *k)
{
	return s->off < c->len && cat_cmp(&s->key, k) < 0;
}

void
cat_index_range(const struct bd_catalog *c, const struct bd_cat_entry *k, size_t *lo, size_t *hi)
{
	size_t l = 0, h, m;

	*lo = c->body;
	*hi = c->len;
	if (!c->idx)
		return;
	/* the first block whose slot is not below K: blocks before it are */
	h = c->idx->n;
	while (l < h) {
		m = l + (h - l) / 2;
		if (below(slot(c, m), c, k))
			l = m + 1;
		else
			h = m;
	}
	if (l > 0)
		*lo = slot(c, l - 1)->off;
	if (l < c->idx->n)
		*hi = slot(c, l)->off;
}
