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
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb, i;
	const struct bd_extents *x = &m[a].x, *y = &m[b].x;

	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	for (i = 0; i < x->n; i++) {
		const struct bd_extent *e = &x->e[i], *f = &y->e[i];

		if (e->physical != f->physical)
			return e->physical < f->physical ? -1 : 1;
		if (e->logical != f->logical)
			return e->logical < f->logical ? -1 : 1;
		if (e->length != f->length)
			return e->length < f->length ? -1 : 1;
	}
	return (a > b) - (a < b);
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
		lead[bylayout[i]] = i > 0 && bd_extents_same(&mem[bylayout[i - 1]].x, &mem[bylayout[i]].x) ?
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

/* writes the classes of 2+ units of equal digest, each in order of its
 * first member, members in input order */
void
write_classes(struct member *mem, size_t n, struct unit *units, size_t nu)
{
	size_t *out = bd_ecalloc(n, sizeof *out);   /* classed members, in output order */
	size_t nk = 0, i;
	char hex[BD_HASH_LEN + 1];

	classify(units, nu);
	/* members by (class, input order): units are numbered by first member */
	for (i = 0; i < n; i++)
		if (mem[i].state == ALIVE && units[mem[i].unit].cls != SIZE_MAX)
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
