/* group.c: one group, worked on by a worker (work_group) and finished
 * in the main thread in input order (finish_group): the pool's two
 * functions. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"

static void
note(const struct run *rn, struct member *m)
{
	/* with -N, a member this run did not find changed was tracked by
	 * an earlier run (the catalog's, a record taken again): replaced
	 * since, it is churn (save by rename), dropped quietly. Only what
	 * changes between the stages of one run is worth a line: FOUND
	 * tells which at the end. So for a member of another size now: the
	 * catalog's entry of a file that grew or shrank since, found this
	 * run at its new size, is one of the catalog's, not a failure. */
	if (m->state == DROPPED && (m->replaced || m->resized) && rn->found) {
		defer_replaced(rn->later, m);
	} else if (m->state == DROPPED) {
		bd_pfail(m->r.path, "%s", m->note);
	}
	/* gone, replaced or resized: its catalog entry of this size goes
	 * (the entry of its new size is group's, once findnew reports it) */
	if (m->state == GONE || m->replaced || m->resized)
		forget_member(rn, &m->r);
}

/* units whose digest the catalog vouches for; returns how many */
static size_t
known_from_catalog(struct job *jb, size_t n)
{
	struct member *mem = jb->mem;
	const struct bd_cat_entry *e;
	struct unit *u;
	size_t i, nknown = 0;

	for (i = 0; i < n; i++) {
		u = &jb->units[mem[i].unit];
		if (mem[i].state != ALIVE || u->known)
			continue;
		if ((e = member_entry(jb->run, &mem[i])) && (e->flags & BD_CAT_DIGEST)) {
			u->known = 1;
			memcpy(u->digest, e->digest, 16);
			nknown++;
		}
	}
	return nknown;
}

/* the units of the N members to read in full, once the cheap tests have
 * ruled out those that cannot match: into JOBS, returns how many */
static size_t
choose_reads(struct job *jb, size_t n, size_t nu, size_t nknown, char *buf)
{
	uint64_t size = jb->g.r[0].size;
	size_t nj = 0, k;
	long c;

	for (k = 0; k < nu; k++)
		if (!jb->units[k].known)
			jb->jobs[nj++] = k;
	if (nj && (c = match_csums(jb, n, nu, nj, buf)) >= 0)
		nj = (size_t)c;
	else if (size >= SAMPLE_MIN && jb->run->cat)
		nj = match_samples(jb, nu, nj, buf);
	else if (size >= SAMPLE_MIN && nknown == 0 && nj >= 2)
		nj = split_by_sample(jb, nj, buf);
	if (nj == 1 && nknown == 0)
		nj = 0;                  /* nothing left to match it */
	return nj;
}

/* the reading part of one group, in a worker: touches only JOB and reads
 * the catalog, so that groups can be worked on side by side */
void
work_group(void *run, void *job, char *buf)
{
	const struct run *rn = run;
	struct job *jb = job;
	struct bd_group *g = &jb->g;
	struct member *mem = jb->mem = bd_ecalloc(g->n, sizeof *mem);
	size_t n, nu = 0, nj = 0, nknown = 0, i, alive = 0;

	jb->run = rn;
	jb->units = bd_ecalloc(g->n, sizeof *jb->units);
	jb->jobs = bd_ecalloc(g->n, sizeof *jb->jobs);
	/* hard links are one member */
	n = collapse_links(g, mem);
	jb->keep_fds = rn->keep_fds && n <= KEEP_FDS;
	if (n >= 2)
		pool_each(rn->pool, n, member_step, jb, buf);
	for (i = 0; i < n && n >= 2; i++)
		alive += mem[i].state == ALIVE;
	if (alive >= 2)
		nu = make_units(mem, n, jb->units);
	/* one unit too: its members deduplicated by the last pass come
	 * back without their digests (bedup-group tracked them changed),
	 * and get the one of their unit again */
	if (rn->cat && nu >= 1)
		nknown = known_from_catalog(jb, n);
	/* one unit: already deduplicated, nothing to read */
	if (nu >= 2) {
		nj = choose_reads(jb, n, nu, nknown, buf);
		pool_each(rn->pool, nj, hash_step, jb, buf);
		if (rn->work)
			plan_work(mem, n, jb->units, nu);
	}
	jb->n = n;
	jb->nu = nu;
	jb->nj = nj;
}

/* the rest of one group, in the main thread and in input order: notes,
 * output, page cache, what was learnt, progress */
void
finish_group(void *run, void *job)
{
	const struct run *rn = run;
	struct job *jb = job;
	struct member *mem = jb->mem;
	struct unit *units = jb->units;
	struct progress *pr = rn->pr;
	size_t n = jb->n, nu = jb->nu, nj = jb->nj, i;

	for (i = 0; i < nj; i++) {
		pr->bytes += units[jb->jobs[i]].bytes;
		pr->files += units[jb->jobs[i]].bytes || jb->g.r[0].size == 0;
	}
	/* notes in input order, whatever thread met the problem */
	for (i = 0; i < n; i++)
		note(rn, &mem[i]);
	if (nu >= 2) {
		write_classes(mem, n, units, nu, rn->work);
		evict_unmatched(mem, units, jb->jobs, nj);
	}
	/* every digest and sample known, matched or not, saves a read next
	 * time */
	for (i = 0; i < n && nu >= 1; i++) {
		const struct unit *u = &units[mem[i].unit];

		if (mem[i].state == ALIVE)
			learn_member(rn, &mem[i], u->known ? u->digest : NULL,
			    u->sampled && !u->failed ? u->sample : NULL,
			    u->csummed ? u->csum : NULL);
	}
	progress_group(pr, jb->g.n, jb->g.r[0].size);
	for (i = 0; i < n; i++) {
		bd_layout_free(&mem[i].lay);
		if (mem[i].fd >= 0)
			close(mem[i].fd);
	}
	free(units);
	free(mem);
	free(jb->jobs);
	/* a slot that held a big group gives its room back */
	if (jb->g.cap > KEEP_CAP)
		bd_group_free(&jb->g);
}
