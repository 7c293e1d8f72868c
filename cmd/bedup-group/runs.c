/* runs.c: records sorted in bounded memory: what is beyond the budget
 * is sorted and written to a temp file as a run; runs are merged. */
#include <stdlib.h>
#include <string.h>

#include "group.h"

int
cmp_item(const struct item *a, const struct item *b)
{
	int c;
	size_t n;

	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;   /* largest first */
	if ((c = memcmp(a->fsid, b->fsid, 16)))
		return c;
	if (a->subvol != b->subvol)
		return a->subvol < b->subvol ? -1 : 1;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	n = a->pathlen < b->pathlen ? a->pathlen : b->pathlen;
	if ((c = memcmp(a->path, b->path, n)))
		return c;
	return (a->pathlen > b->pathlen) - (a->pathlen < b->pathlen);
}

int
qcmp(const void *a, const void *b)
{
	return cmp_item(a, b);
}

/* stores the N bytes at P, after the 16 at DIGEST if not NULL; returns
 * where P's bytes went */
const char *
store_path(struct state *s, const uint8_t *digest, const char *p, size_t n)
{
	size_t d = digest ? 16 : 0;

	struct chunk *c = s->chunks;
	size_t want = n + d > CHUNK ? n + d : CHUNK;

	if (!c || c->size - c->used < n + d) {
		c = bd_emalloc(sizeof *c + want);
		c->used = 0;
		c->size = want;
		c->next = s->chunks;
		s->chunks = c;
		s->mem += sizeof *c + want;
	}
	if (d)
		memcpy(c->data + c->used, digest, d);
	memcpy(c->data + c->used + d, p, n);
	c->used += n + d;
	return c->data + c->used - n;
}

void
free_chunks(struct state *s)
{
	struct chunk *c, *next;

	for (c = s->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	s->chunks = NULL;
}

static void
run_write(FILE *f, const struct item *it)
{
	if (fwrite(it, sizeof *it, 1, f) != 1 ||
	    fwrite(blob(it), 1, blob_len(it), f) != blob_len(it))
		bd_die("temp file: write error:");
}

/* reads the next item of R into R->cur; 0 at its end */
static int
run_next(struct run *r)
{
	if (fread(&r->cur, sizeof r->cur, 1, r->f) != 1) {
		if (ferror(r->f))
			bd_die("temp file: read error:");
		r->live = 0;
		return 0;
	}
	if (blob_len(&r->cur) > r->cap) {
		r->cap = blob_len(&r->cur);
		r->buf = bd_erealloc(r->buf, r->cap);
	}
	if (fread(r->buf, 1, blob_len(&r->cur), r->f) != blob_len(&r->cur))
		bd_die("temp file: short read");
	r->cur.path = r->buf + (r->cur.hashed ? 16 : 0);
	r->live = 1;
	return 1;
}

static void
run_start(struct run *r)
{
	if (fflush(r->f) == EOF || fseeko(r->f, 0, SEEK_SET) < 0)
		bd_die("temp file:");
	run_next(r);
}

/* merges RUNS[0..N) in order, handing each item to EMIT */
void
merge(struct run *runs, size_t n, void (*emit)(void *, const struct item *), void *arg)
{
	size_t i, best;

	for (i = 0; i < n; i++)
		run_start(&runs[i]);
	for (;;) {
		best = n;
		for (i = 0; i < n; i++)
			if (runs[i].live && (best == n || cmp_item(&runs[i].cur, &runs[best].cur) < 0))
				best = i;
		if (best == n)
			break;
		emit(arg, &runs[best].cur);
		run_next(&runs[best]);
	}
	for (i = 0; i < n; i++) {
		fclose(runs[i].f);
		free(runs[i].buf);
	}
}

static void
emit_run(void *arg, const struct item *it)
{
	run_write(arg, it);
}

/* sorts what is in memory and writes it out as one more run */
void
spill(struct state *s)
{
	struct run *r;
	FILE *f;
	size_t i;

	if (s->n == 0)
		return;
	qsort(s->items, s->n, sizeof *s->items, qcmp);
	if (s->nruns == MAXRUNS) {
		/* too many open temp files: fold them into one */
		f = bd_tempfile();
		merge(s->runs, s->nruns, emit_run, f);
		memset(s->runs, 0, MAXRUNS * sizeof *s->runs);
		s->runs[0].f = f;
		s->nruns = 1;
	}
	r = &s->runs[s->nruns++];
	memset(r, 0, sizeof *r);
	r->f = bd_tempfile();
	for (i = 0; i < s->n; i++)
		run_write(r->f, &s->items[i]);
	s->n = 0;
	free_chunks(s);
	s->mem = 0;
}

