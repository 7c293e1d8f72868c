/* group.c: reading runs of records with equal (SIZE, HASH, FSID), and
 * which of them are hard links of one another. */
#include <stdlib.h>
#include <string.h>

#include "bedup.h"

static void
clear(struct bd_group *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		bd_record_free(&g->r[i]);
	g->n = 0;
}

static void
push(struct bd_group *g, const struct bd_record *r)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->r = bd_erealloc(g->r, g->cap * sizeof *g->r);
	}
	g->r[g->n++] = *r;
}

size_t
bd_group_next(struct bd_input *in, struct bd_group *g)
{
	struct bd_record r, c;

	clear(g);
	if (in->have_peek) {
		push(g, &in->peek);          /* ownership moves to the group */
		in->have_peek = 0;
	} else {
		if (!bd_input_next(in, &r))
			return 0;
		bd_record_copy(&c, &r);
		push(g, &c);
	}
	while (bd_input_next(in, &r)) {
		bd_record_copy(&c, &r);
		if (!bd_record_same_group(&g->r[0], &c)) {
			in->peek = c;
			in->have_peek = 1;
			break;
		}
		push(g, &c);
	}
	return g->n;
}

void
bd_group_free(struct bd_group *g)
{
	clear(g);
	free(g->r);
	g->r = NULL;
	g->cap = 0;
}

/* records by inode, then by place in the group: the first of an inode
 * sorts first */
static int
by_inode(const void *pa, const void *pb, void *arg)
{
	const struct bd_record *r = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c;

	if (r[a].ino != r[b].ino)
		return r[a].ino < r[b].ino ? -1 : 1;
	if (r[a].subvol != r[b].subvol)
		return r[a].subvol < r[b].subvol ? -1 : 1;
	if ((c = strcmp(r[a].fsid, r[b].fsid)))
		return c;
	return (a > b) - (a < b);
}

size_t
bd_group_links(const struct bd_group *g, char *seen)
{
	size_t *byino = bd_ecalloc(g->n ? g->n : 1, sizeof *byino);
	size_t i, n = 0;

	for (i = 0; i < g->n; i++)
		byino[i] = i;
	qsort_r(byino, g->n, sizeof *byino, by_inode, g->r);
	for (i = 0; i < g->n; i++) {
		seen[byino[i]] = i > 0 && bd_record_same_inode(&g->r[byino[i - 1]], &g->r[byino[i]]);
		n += !seen[byino[i]];
	}
	free(byino);
	return n;
}
