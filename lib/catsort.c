/* catsort.c: sorting a batch of catalog entries of any size in bounded
 * memory: runs of a fixed number of entries sorted with qsort, spilled
 * to temp files, read back through a k-way merge (a heap). The last put
 * of a key wins, as the catalog's order of changes wants. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

#define RUN_BYTES (4u << 20)

struct item {
	struct bd_cat_entry e;
	uint64_t seq;                 /* order of the puts: the later wins */
};

struct run {
	FILE *f;                      /* NULL: the run kept in memory */
	struct bd_cat_entry e;        /* its current entry */
};

struct bd_catsort {
	struct item *mem;
	size_t n, cap, max;
	uint64_t seq, count;
	struct run *run;
	size_t nrun;
	size_t *heap, nheap;
	size_t pos;                   /* next of mem, the last run */
	int err;
};

static int
item_cmp(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c = cat_cmp(&a->e, &b->e);

	return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

struct bd_catsort *
catsort_new(void)
{
	struct bd_catsort *s = bd_ecalloc(1, sizeof *s);
	const char *v = getenv("BEDUP_CATALOG_RUN");   /* tests: small runs */
	uint64_t n;

	s->max = RUN_BYTES / sizeof(struct item);
	if (v && bd_parse_u64(v, &n) == 0 && n >= 2 && n < s->max)
		s->max = (size_t)n;
	return s;
}

/* sorts the run in memory, keeping the last put of each key */
static void
sort_mem(struct bd_catsort *s)
{
	size_t i, o = 0;

	if (s->n == 0)
		return;
	qsort(s->mem, s->n, sizeof *s->mem, item_cmp);
	for (i = 0; i < s->n; i++) {
		if (o && cat_cmp(&s->mem[o - 1].e, &s->mem[i].e) == 0)
			o--;
		s->mem[o++] = s->mem[i];
	}
	s->n = o;
}

static void
spill(struct bd_catsort *s)
{
	FILE *f = bd_tempfile();
	size_t i;

	sort_mem(s);
	for (i = 0; i < s->n; i++)
		if (fwrite(&s->mem[i].e, sizeof s->mem[i].e, 1, f) != 1)
			s->err = errno ? errno : EIO;
	if (fflush(f) == EOF || fseek(f, 0, SEEK_SET) < 0)
		s->err = errno ? errno : EIO;
	s->run = bd_erealloc(s->run, (s->nrun + 1) * sizeof *s->run);
	s->run[s->nrun++].f = f;
	s->n = 0;
}

void
catsort_put(struct bd_catsort *s, const struct bd_cat_entry *e)
{
	if (s->n == s->cap) {
		if (s->n == s->max)
			spill(s);
		else {
			s->cap = s->cap ? s->cap * 2 : 64;
			if (s->cap > s->max)
				s->cap = s->max;
			s->mem = bd_erealloc(s->mem, s->cap * sizeof *s->mem);
		}
	}
	s->mem[s->n].e = *e;
	s->mem[s->n++].seq = s->seq++;
	s->count++;
}

uint64_t
catsort_count(const struct bd_catsort *s)
{
	return s->count;
}

/* the next entry of run R into its slot: 1, or 0 at its end */
static int
advance(struct bd_catsort *s, size_t r)
{
	struct run *u = &s->run[r];

	if (!u->f) {
		if (s->pos >= s->n)
			return 0;
		u->e = s->mem[s->pos++].e;
		return 1;
	}
	if (fread(&u->e, sizeof u->e, 1, u->f) == 1)
		return 1;
	if (ferror(u->f))
		s->err = errno ? errno : EIO;
	return 0;
}

/* heap order: the key, then the later run first */
static int
before(const struct bd_catsort *s, size_t a, size_t b)
{
	int c = cat_cmp(&s->run[a].e, &s->run[b].e);

	return c ? c < 0 : a > b;
}

static void
sift_down(struct bd_catsort *s, size_t i)
{
	size_t l, m, t;

	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < s->nheap && before(s, s->heap[l], s->heap[m]))
			m = l;
		if (l + 1 < s->nheap && before(s, s->heap[l + 1], s->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
}

int
catsort_finish(struct bd_catsort *s)
{
	size_t r, i;

	sort_mem(s);
	s->run = bd_erealloc(s->run, (s->nrun + 1) * sizeof *s->run);
	s->run[s->nrun++].f = NULL;
	s->heap = bd_ecalloc(s->nrun, sizeof *s->heap);
	for (r = 0; r < s->nrun; r++)
		if (advance(s, r))
			s->heap[s->nheap++] = r;
	for (i = s->nheap / 2; i-- > 0;)
		sift_down(s, i);
	if (s->err) {
		errno = s->err;
		return -1;
	}
	return 0;
}

/* takes the least entry off the heap into *E */
static void
pop(struct bd_catsort *s, struct bd_cat_entry *e)
{
	size_t r = s->heap[0];

	*e = s->run[r].e;
	if (!advance(s, r))
		s->heap[0] = s->heap[--s->nheap];
	sift_down(s, 0);
}

int
catsort_next(struct bd_catsort *s, struct bd_cat_entry *e)
{
	struct bd_cat_entry t;

	if (s->nheap == 0)
		goto end;
	/* the later run comes first among equal keys: drop the others */
	pop(s, e);
	while (s->nheap && cat_cmp(&s->run[s->heap[0]].e, e) == 0)
		pop(s, &t);
	if (s->err)
		goto end;
	return 1;
end:
	if (s->err) {
		errno = s->err;
		return -1;
	}
	return 0;
}

void
catsort_free(struct bd_catsort *s)
{
	size_t r;

	for (r = 0; r < s->nrun; r++)
		if (s->run[r].f)
			fclose(s->run[r].f);
	free(s->run);
	free(s->heap);
	free(s->mem);
	free(s);
}
