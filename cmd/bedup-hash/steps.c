/* steps.c: the cheap tests of one group, cheapest first: checksums the
 * filesystem keeps, then samples (cached or read), before any member is
 * read in full. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"

/* a loop over some units of a job */
struct unit_loop {
	struct job *jb;
	const size_t *u;
};

static void
sample_step(void *job, size_t i, char *buf)
{
	struct job *jb = job;
	struct unit *u = &jb->units[jb->jobs[i]];

	if (sample_member(&jb->mem[u->first], buf, u->sample) < 0)
		u->failed = 1;               /* its first member is dropped */
}

/* keeps the jobs whose sample matches another job's sample */
size_t
split_by_sample(struct job *jb, size_t nj, char *buf)
{
	struct unit *units = jb->units;
	size_t *jobs = jb->jobs;
	size_t i, k = 0;

	pool_each(jb->run->pool, nj, sample_step, jb, buf);
	for (i = 0; i < nj; i++)
		if (!units[jobs[i]].failed)
			jobs[k++] = jobs[i];
	return keep_matched(units, jb->g.n, jobs, k, offsetof(struct unit, sample), jobs, k);
}

/* takes U's sample from the catalog when one of its members has a
 * valid entry there: all the members of a unit share their data */
static void
cached_sample(const struct run *rn, struct member *mem, struct unit *u)
{
	const struct bd_cat_entry *e;
	size_t i;

	for (i = u->first; i != SIZE_MAX; i = mem[i].next) {
		if (mem[i].state == ALIVE && (e = member_entry(rn, &mem[i])) &&
		    (e->flags & BD_CAT_SAMPLE)) {
			memcpy(u->sample, e->sample, 16);
			u->sampled = 1;
			return;
		}
	}
}

/* reads U's sample through the first member that can be read */
static void
sample_unit(struct member *mem, struct unit *u, char *buf)
{
	size_t i;

	for (i = u->first; i != SIZE_MAX; i = mem[i].next) {
		if (mem[i].state == ALIVE && sample_member(&mem[i], buf, u->sample) == 0) {
			u->sampled = 1;
			return;
		}
	}
	u->failed = 1;
}

/* the sample of a unit of the loop, unless it has one */
static void
sample_unit_step(void *loop, size_t i, char *buf)
{
	struct unit_loop *l = loop;
	struct unit *u = &l->jb->units[l->u[i]];

	if (!u->sampled)
		sample_unit(l->jb->mem, u, buf);
}

/* With a catalog: keeps the jobs (the unknown units) whose sample matches
 * another unit's, known or not. A known unit is never read in full, and
 * sampled only when a sampled unknown unit may match it; a unit whose
 * sample no other unit has cannot match any. Samples come from the
 * catalog when it has them, else are read. */
size_t
match_samples(struct job *jb, size_t nu, size_t nj, char *buf)
{
	struct unit *units = jb->units;
	size_t *jobs = jb->jobs;
	size_t *known = bd_ecalloc(nu, sizeof *known);     /* known units to sample */
	size_t *sampled = bd_ecalloc(nu, sizeof *sampled); /* units with a sample */
	size_t i, k, nk = 0, ns = 0, nknown = 0, nsampled = 0;

	for (k = 0; k < nu; k++) {
		cached_sample(jb->run, jb->mem, &units[k]);
		nknown += units[k].known;
	}
	if (nj + nknown < 2)
		nj = 0;                  /* nothing left to match it */
	pool_each(jb->run->pool, nj, sample_unit_step, &(struct unit_loop){ jb, jobs }, buf);
	for (i = 0; i < nj; i++)
		nsampled += units[jobs[i]].sampled;
	for (k = 0; k < nu && nsampled; k++)
		if (units[k].known && !units[k].sampled)
			known[nk++] = k;
	pool_each(jb->run->pool, nk, sample_unit_step, &(struct unit_loop){ jb, known }, buf);
	for (k = 0; k < nu; k++)
		if (units[k].sampled)
			sampled[ns++] = k;
	k = keep_matched(units, nu, sampled, ns, offsetof(struct unit, sample), jobs, nj);
	free(known);
	free(sampled);
	return k;
}

/* One member: still the inode named, and its layout. The subvolume tree
 * says both (the inode item, the file extent items) without an open:
 * members that share one layout are one unit, and the files of a unit
 * read through another member are never opened at all. When the tree
 * does not say so (no capability, gone, replaced, changed size), the
 * member is opened, which says why, and its layout read through it
 * (bd_layout_fd). With -w, a member whose data all lies inline is left
 * out: nothing to share, never read. */
void
member_step(void *job, size_t i, char *buf)
{
	struct job *jb = job;
	struct member *m = &jb->mem[i];
	struct bd_search s;
	int fd;

	m->keep = jb->keep_fds;
	bd_search_init_buf(&s, buf, BUFSZ);
	if ((fd = bd_fs_fd(&m->r)) >= 0 &&
	    bd_layout_get(fd, m->r.subvol, m->r.ino, &s, &m->lay) == 0 &&
	    bd_layout_is(&m->lay, &m->r)) {
		m->laid = 1;
	} else if ((fd = open_member(m, &m->st)) >= 0) {
		m->laid = bd_layout_fd(fd, &m->r, &m->lay) == 0;
		if (m->keep)
			m->fd = fd;
		else
			close(fd);
	}
	if (m->state == ALIVE && m->laid && bd_layout_all_inline(&m->lay) &&
	    jb->run->work)
		m->state = LEFT;
}

void
hash_step(void *job, size_t i, char *buf)
{
	struct job *jb = job;

	hash_unit(jb->mem, &jb->units[jb->jobs[i]], buf);
}

/* U's checksum key (bd_csum_key: the first 8 bytes of the digest of its
 * checksums, the rest 0), from the catalog when it has it for a member,
 * else from the layout of its members (the tree's) */
static void
csum_step(void *job, size_t k, char *buf)
{
	struct job *jb = job;
	struct unit *u = &jb->units[k];
	struct member *m = &jb->mem[u->first];
	const struct bd_cat_entry *e;
	size_t i;
	int fd;

	for (i = u->first; i != SIZE_MAX; i = jb->mem[i].next) {
		if (jb->mem[i].state == ALIVE && (e = member_entry(jb->run, &jb->mem[i])) &&
		    (e->flags & BD_CAT_KEY)) {
			memset(u->csum, 0, 16);
			memcpy(u->csum, e->key, 8);
			u->csummed = 1;
			return;
		}
	}
	if (m->state != ALIVE || !m->laid || (fd = bd_fs_fd(&m->r)) < 0)
		return;
	u->csummed = bd_csum_key_of(fd, &jb->csum, &m->lay, m->r.size, buf, BUFSZ, u->csum) == 1;
}

/* The N units US have the same checksums: most likely one content,
 * which bedup-clone will share from the member it picks as the source
 * (lib's rule, bd_source_better, over the members in input order). Its
 * unit is read through that member, the others through a member it will
 * share into: the kernel's compare then finds both sides' pages in the
 * cache, which is per inode. NM is the number of members. */
static void
plan_reads(struct member *mem, size_t nm, struct unit *units, const size_t *us, size_t n)
{
	char *cand = bd_ecalloc(nm, 1);   /* members of the units US */
	struct bd_source s, best = { 0, 0, 0 };
	size_t k, i, src = SIZE_MAX;

	for (k = 0; k < n; k++)
		for (i = units[us[k]].first; i != SIZE_MAX; i = mem[i].next)
			cand[i] = 1;
	for (i = 0; i < nm; i++) {
		if (!cand[i])
			continue;
		member_source(mem, units, i, &s);
		if (src == SIZE_MAX || bd_source_better(&s, &best)) {
			src = i;
			best = s;
		}
	}
	free(cand);
	for (k = 0; k < n; k++) {
		struct unit *u = &units[us[k]];

		if (src != SIZE_MAX && mem[src].unit == us[k]) {
			u->via = src;
			continue;
		}
		for (i = u->first; i != SIZE_MAX && member_readonly(&mem[i]); i = mem[i].next)
			;
		u->via = i;
	}
}

/* Keeps the jobs whose data checksums match another unit's, known or
 * not: different checksums are different bytes, found without reading
 * a block of data. Returns how many are kept, or -1 when some unit has
 * no checksum digest (holes, compression, no capability...): then any
 * unit may match it, and the samples decide. */
long
match_csums(struct job *jb, size_t n, size_t nu, size_t nj, char *buf)
{
	struct unit *units = jb->units;
	size_t *jobs = jb->jobs, *bycsum;   /* units by checksum digest */
	size_t i, j, k;
	int fd;

	for (i = 0; i < n && jb->mem[i].state != ALIVE; i++)
		;
	if (i == n || (fd = bd_fs_fd(&jb->mem[i].r)) < 0 || bd_csum_fs_fd(fd, &jb->csum) < 0)
		return -1;
	pool_each(jb->run->pool, nu, csum_step, jb, buf);
	for (k = 0; k < nu; k++)
		if (!units[k].csummed)
			return -1;
	bycsum = bd_ecalloc(nu, sizeof *bycsum);
	for (k = 0; k < nu; k++)
		bycsum[k] = k;
	k = keep_matched(units, nu, bycsum, nu, offsetof(struct unit, csum), jobs, nj);
	/* classes with a unit to read */
	for (i = 0; k && i < nu; i = j) {
		size_t unread = !units[bycsum[i]].known;

		for (j = i + 1; j < nu && !memcmp(units[bycsum[i]].csum, units[bycsum[j]].csum, 16); j++)
			unread += !units[bycsum[j]].known;
		if (j - i >= 2 && unread)
			plan_reads(jb->mem, n, units, bycsum + i, j - i);
	}
	free(bycsum);
	return (long)k;
}
