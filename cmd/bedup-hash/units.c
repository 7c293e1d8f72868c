/* units.c: the members of one group collapsed (hard links), gathered
 * into units (one layout), matched by 16 bytes, and written out in
 * classes of equal digest. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* orders of indexes, for qsort_r: sorting keeps large groups n log n */
static int
by_layout(const void *pa, const void *pb, void *arg)
{
	const struct member *m = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c;

	if (m[a].laid != m[b].laid)
		return m[a].laid < m[b].laid ? -1 : 1;
	if (m[a].laid && (c = bd_layout_cmp(&m[a].lay, &m[b].lay)))
		return c;
	return (a > b) - (a < b);
}

/* whether members A and B share all their data: both layouts from the
 * tree, and the same */
static int
one_layout(const struct member *a, const struct member *b)
{
	return a->laid && b->laid && bd_layout_same(&a->lay, &b->lay);
}

/* orders units by 16 bytes of theirs: sample, checksum digest or digest */
struct bytes_arg {
	const struct unit *u;
	size_t off;              /* offsetof(struct unit, ...) */
};

static const uint8_t *
unit_bytes(const struct bytes_arg *b, size_t k)
{
	return (const uint8_t *)&b->u[k] + b->off;
}

static int
by_bytes(const void *pa, const void *pb, void *arg)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = memcmp(unit_bytes(arg, a), unit_bytes(arg, b), 16);

	return c ? c : (a > b) - (a < b);
}

/* Sorts the N units of SET by their 16 bytes at OFF and keeps of the NJ
 * units JOBS those whose bytes another unit of SET has; NU bounds the
 * unit numbers. Returns how many are kept. */
size_t
keep_matched(const struct unit *units, size_t nu, size_t *set, size_t n, size_t off,
    size_t *jobs, size_t nj)
{
	struct bytes_arg b = { units, off };
	char *dup = bd_ecalloc(nu, 1);
	size_t i, k;

	qsort_r(set, n, sizeof *set, by_bytes, &b);
	for (i = 0; i + 1 < n; i++)
		if (memcmp(unit_bytes(&b, set[i]), unit_bytes(&b, set[i + 1]), 16) == 0)
			dup[set[i]] = dup[set[i + 1]] = 1;
	for (i = 0, k = 0; i < nj; i++)
		if (dup[jobs[i]])
			jobs[k++] = jobs[i];
	free(dup);
	return k;
}

struct class_arg {
	const struct member *mem;
	const struct unit *units;
};

static int
by_class(const void *pa, const void *pb, void *arg)
{
	const struct class_arg *c = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	size_t ca = c->units[c->mem[a].unit].cls, cb = c->units[c->mem[b].unit].cls;

	if (ca != cb)
		return ca < cb ? -1 : 1;
	/* with -w, the source first: bedup-clone keeps the first on a tie */
	if (c->mem[a].src != c->mem[b].src)
		return c->mem[a].src ? -1 : 1;
	return (a > b) - (a < b);
}

/* the members of G that are distinct inodes, in input order */
size_t
collapse_links(struct bd_group *g, struct member *mem)
{
	char *seen = bd_ecalloc(g->n, 1);
	size_t i, n = 0;

	bd_group_links(g, seen);
	for (i = 0; i < g->n; i++) {
		mem[i].fd = -1;
		if (!seen[i])
			mem[n++].r = g->r[i];
	}
	free(seen);
	return n;
}

/* members of one layout become one unit; units numbered in order of
 * their first member. Returns the number of units. */
size_t
make_units(struct member *mem, size_t n, struct unit *units)
{
	size_t *bylayout = bd_ecalloc(n, sizeof *bylayout);   /* alive members by layout */
	size_t *lead = bd_ecalloc(n, sizeof *lead);
	size_t na = 0, nu = 0, i, u;

	for (i = 0; i < n; i++)
		if (mem[i].state == ALIVE)
			bylayout[na++] = i;
	qsort_r(bylayout, na, sizeof *bylayout, by_layout, mem);
	for (i = 0; i < na; i++)
		lead[bylayout[i]] = i > 0 && one_layout(&mem[bylayout[i - 1]], &mem[bylayout[i]]) ?
		    lead[bylayout[i - 1]] : bylayout[i];
	for (i = 0; i < n; i++) {
		if (mem[i].state != ALIVE)
			continue;
		mem[i].next = SIZE_MAX;
		if (lead[i] == i) {
			u = mem[i].unit = nu++;
			units[u].first = i;
			units[u].read_by = units[u].via = SIZE_MAX;
		} else {
			u = mem[i].unit = mem[lead[i]].unit;
			mem[units[u].last].next = i;
		}
		units[u].last = i;
	}
	free(lead);
	free(bylayout);
	return nu;
}

/* numbers the classes of 2+ units of equal digest (cls: the class's
 * smallest unit, else SIZE_MAX) */
static void
classify(struct unit *units, size_t nu)
{
	size_t *bydigest = bd_ecalloc(nu, sizeof *bydigest);   /* known units by digest */
	size_t nk = 0, i, j, cnt;

	for (i = 0; i < nu; i++) {
		units[i].cls = SIZE_MAX;
		if (units[i].known && !units[i].failed)
			bydigest[nk++] = i;
	}
	qsort_r(bydigest, nk, sizeof *bydigest, by_bytes,
	    &(struct bytes_arg){ units, offsetof(struct unit, digest) });
	for (i = 0; i < nk; i = j) {
		for (j = i + 1; j < nk && !memcmp(units[bydigest[i]].digest, units[bydigest[j]].digest, 16); j++)
			;
		cnt = j - i;
		while (cnt >= 2 && i < j)
			units[bydigest[i++]].cls = bydigest[j - cnt];   /* its smallest unit */
	}
	free(bydigest);
}

/* With -w, only the work left for bedup-clone: per class of 2+ units of
 * equal digest, the member it will share from (lib's rule, the first best
 * in input order, as bedup-clone picks it) and the members of the other
 * units; the rest of the source's unit shares its data already. Marks
 * them SEND, the source SRC too. */
void
plan_work(struct member *mem, size_t n, struct unit *units, size_t nu)
{
	size_t *best = bd_ecalloc(nu, sizeof *best);            /* by class */
	struct bd_source *bs = bd_ecalloc(nu, sizeof *bs), s;
	size_t i, c;

	classify(units, nu);
	for (c = 0; c < nu; c++)
		best[c] = SIZE_MAX;
	for (i = 0; i < n; i++) {
		if (mem[i].state != ALIVE || (c = units[mem[i].unit].cls) == SIZE_MAX)
			continue;
		member_source(mem, units, i, &s);
		if (best[c] == SIZE_MAX || bd_source_better(&s, &bs[c])) {
			best[c] = i;
			bs[c] = s;
		}
	}
	for (i = 0; i < n; i++) {
		if (mem[i].state != ALIVE || (c = units[mem[i].unit].cls) == SIZE_MAX)
			continue;
		mem[i].src = best[c] == i;
		mem[i].send = mem[i].src || mem[i].unit != mem[best[c]].unit;
	}
	free(bs);
	free(best);
}

/* writes the classes of 2+ units of equal digest, each in order of its
 * first member, members in input order; with WORK (-w) only the members
 * plan_work marked, the source first */
void
write_classes(struct member *mem, size_t n, struct unit *units, size_t nu, int work)
{
	size_t *out = bd_ecalloc(n, sizeof *out);   /* classed members, in output order */
	size_t nk = 0, i;
	char hex[BD_HASH_LEN + 1];

	classify(units, nu);
	/* members by (class, input order): units are numbered by first member */
	for (i = 0; i < n; i++)
		if (mem[i].state == ALIVE && units[mem[i].unit].cls != SIZE_MAX &&
		    (!work || mem[i].send))
			out[nk++] = i;
	qsort_r(out, nk, sizeof *out, by_class, &(struct class_arg){ mem, units });
	for (i = 0; i < nk; i++) {
		struct member *m = &mem[out[i]];

		bd_hash_unpack(units[m->unit].digest, hex);
		memcpy(m->r.hash, hex, sizeof hex);
		if (bd_record_write(stdout, &m->r) < 0)
			bd_die("write error:");
	}
	free(out);
}
