/* ahead.c: reading ahead. The walk reads one leaf at a time, each a wait
 * for the disk; threads searching later parts of the trees meanwhile
 * (their results thrown away) have the leaves in the cache when it gets
 * there. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bedup-findnew.h"

#define AHEAD_THREADS 4
#define AHEAD_PARTS 16                /* per subvolume */
#define AHEAD_BUF (256u << 10)

/* One part of a subvolume's tree, objectids FROM to TO. */
struct part {
	struct target *t;
	uint64_t from, to;
};

struct ahead {
	pthread_mutex_t mu;
	struct target *t;             /* the targets, in the walk's order */
	struct part *p;
	size_t n, next;
	size_t at;                    /* the target the walk is in */
	uint64_t ino;                 /* and the objectid it has reached */
	pthread_t th[AHEAD_THREADS];
	size_t nth;
};

/* Whether T's tree holds an item of objectid X or above (up to the last
 * inode number). */
static int
has_from(struct target *t, struct bd_search *s, uint64_t x)
{
	bd_search_set(s, t->subvol, (struct bd_key){ x, 0, 0 },
	    (struct bd_key){ BTRFS_LAST_FREE_OBJECTID, UINT8_MAX, UINT64_MAX }, 0);
	return bd_search_run(t->fd, s, 1) > 0;
}

/* The highest inode number in T's tree, found by bisection; 0 if unsure */
static uint64_t
last_ino(struct target *t, struct bd_search *s)
{
	uint64_t lo = TOP_DIR, hi = BTRFS_LAST_FREE_OBJECTID, mid;

	if (!has_from(t, s, lo))
		return 0;
	/* lo has an item at or above it, hi none */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (has_from(t, s, mid))
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* whether the walk is past objectid INO of target T (A locked) */
static int
passed(const struct ahead *a, const struct target *t, uint64_t ino)
{
	size_t j = (size_t)(t - a->t);

	return j < a->at || (j == a->at && a->ino >= ino);
}

void
ahead_at(struct ahead *a, size_t j, uint64_t ino)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->at = j;
	a->ino = ino;
	pthread_mutex_unlock(&a->mu);
}

void
ahead_stop(struct ahead *a)
{
	size_t i;

	ahead_at(a, SIZE_MAX, 0);
	for (i = 0; i < a->nth; i++)
		pthread_join(a->th[i], NULL);
	pthread_mutex_destroy(&a->mu);
	free(a->p);
	free(a);
}

/* Searches part P until its end, or until the walk overtakes it. */
static void
read_part(struct ahead *a, const struct part *p, struct bd_search *s)
{
	struct bd_search_item it;
	int got, skip;

	bd_search_set(s, p->t->subvol, (struct bd_key){ p->from, BTRFS_INODE_ITEM_KEY, 0 },
	    (struct bd_key){ p->to, UINT8_MAX, UINT64_MAX }, p->t->start);
	while (bd_search_run(p->t->fd, s, UINT32_MAX) > 0) {
		for (got = 0; bd_search_next(s, &it); got = 1)
			;
		if (!got || it.objectid >= p->to)
			break;
		pthread_mutex_lock(&a->mu);
		skip = passed(a, p->t, it.objectid);
		pthread_mutex_unlock(&a->mu);
		if (skip)
			break;
		bd_search_from(s, (struct bd_key){ it.objectid + 1, 0, 0 });
	}
}

static void *
ahead_run(void *arg)
{
	struct ahead *a = arg;
	struct bd_search s;
	struct part p;

	bd_search_init(&s, AHEAD_BUF);
	for (;;) {
		pthread_mutex_lock(&a->mu);
		/* parts the walk has reached need no reading ahead */
		while (a->next < a->n && passed(a, a->p[a->next].t, a->p[a->next].to))
			a->next++;
		if (a->next == a->n) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		p = a->p[a->next++];
		pthread_mutex_unlock(&a->mu);
		read_part(a, &p, &s);
	}
	bd_search_free(&s);
	return NULL;
}

struct ahead *
ahead_start(struct target *t, size_t n)
{
	struct ahead *a = bd_ecalloc(1, sizeof *a);
	struct bd_search s;
	uint64_t last, step, x;
	size_t j;

	pthread_mutex_init(&a->mu, NULL);
	a->t = t;
	bd_search_init(&s, SMALL_BUF);
	a->p = bd_ecalloc(n * AHEAD_PARTS, sizeof *a->p);
	for (j = 0; j < n; j++) {
		if (!t[j].next || !(last = last_ino(&t[j], &s)))
			continue;
		step = (last - TOP_DIR) / AHEAD_PARTS + 1;
		for (x = TOP_DIR; x <= last; x += step) {
			if (j == 0 && x == TOP_DIR)
				continue;
			a->p[a->n++] = (struct part){ &t[j], x, x + step - 1 < last ? x + step - 1 : last };
		}
	}
	bd_search_free(&s);
	for (a->nth = 0; a->nth < AHEAD_THREADS && a->nth < a->n; a->nth++)
		if (pthread_create(&a->th[a->nth], NULL, ahead_run, a) != 0)
			break;
	return a;
}
