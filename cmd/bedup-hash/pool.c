/* pool.c: the worker pool of bedup-hash (pool.h): groups side by side
 * (-j), and the loops of a big group shared out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bedup.h"
#include "pool.h"

#define HELP_MIN 8               /* steps of a loop worth sharing out */

/* a loop of a worker whose steps are independent (members opened, units
 * sampled or read): idle workers take steps too */
struct pool_loop {
	pool_step_fn *fn;
	void *arg;
	size_t next, n, done;
	struct pool_loop *later; /* the loop opened after it */
};

static void *
slot_at(struct pool *q, uint64_t k)
{
	return q->slot + k % q->nslots * q->size;
}

/* the oldest loop not yet fully taken, or NULL */
static struct pool_loop *
loop_open(struct pool *q)
{
	struct pool_loop *s;

	for (s = q->loops; s && s->next == s->n; s = s->later)
		;
	return s;
}

static void *
worker(void *arg)
{
	struct pool *q = arg;
	char *buf = bd_emalloc(q->bufsz);
	struct pool_loop *s;
	uint64_t k;
	size_t i;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		/* loops begun before new slots, oldest first: the head of
		 * the window waits on them */
		if ((s = loop_open(q))) {
			i = s->next++;
			pthread_mutex_unlock(&q->mu);
			s->fn(s->arg, i, buf);
			pthread_mutex_lock(&q->mu);
			if (++s->done == s->n)
				pthread_cond_broadcast(&q->helped);
			continue;
		}
		if (q->next == q->tail) {
			if (q->quit)
				break;
			pthread_cond_wait(&q->wake, &q->mu);
			continue;
		}
		k = q->next++;
		pthread_mutex_unlock(&q->mu);
		q->work(q->ctx, slot_at(q, k), buf);
		pthread_mutex_lock(&q->mu);
		q->isdone[k % q->nslots] = 1;
		pthread_cond_signal(&q->done);
	}
	pthread_mutex_unlock(&q->mu);
	free(buf);
	return NULL;
}

void
pool_start(struct pool *q, size_t nworkers, size_t nslots, size_t size, size_t budget,
    size_t bufsz, pool_work_fn *work, pool_finish_fn *finish, void *ctx)
{
	size_t i;

	memset(q, 0, sizeof *q);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->wake, NULL);
	pthread_cond_init(&q->done, NULL);
	pthread_cond_init(&q->helped, NULL);
	q->nworkers = nworkers;
	q->nslots = nslots;
	q->size = size;
	q->budget = budget;
	q->bufsz = bufsz;
	q->work = work;
	q->finish = finish;
	q->ctx = ctx;
	q->slot = bd_ecalloc(nslots, size);
	q->isdone = bd_ecalloc(nslots, sizeof *q->isdone);
	q->weight = bd_ecalloc(nslots, sizeof *q->weight);
	q->buf = bd_emalloc(bufsz);
	if (nworkers)
		q->th = bd_ecalloc(nworkers, sizeof *q->th);
	for (i = 0; i < nworkers; i++)
		if ((errno = pthread_create(&q->th[i], NULL, worker, q)))
			bd_die("pthread_create:");
}

void
pool_finish(struct pool *q)
{
	size_t k;

	pthread_mutex_lock(&q->mu);
	while (q->head < q->tail) {
		k = q->head % q->nslots;
		if (!q->isdone[k]) {
			/* room for one more: a free slot, and weight in
			 * flight below the budget (groups of thousands of
			 * small files come in runs) */
			if (q->tail - q->head < q->nslots && q->inflight < q->budget && !q->quit)
				break;
			pthread_cond_wait(&q->done, &q->mu);
			continue;
		}
		/* a done slot is the main thread's alone */
		pthread_mutex_unlock(&q->mu);
		q->finish(q->ctx, slot_at(q, q->head));
		q->inflight -= q->weight[k];
		q->isdone[k] = 0;
		pthread_mutex_lock(&q->mu);
		q->head++;
	}
	pthread_mutex_unlock(&q->mu);
}

void *
pool_slot(struct pool *q)
{
	return slot_at(q, q->tail);
}

void
pool_push(struct pool *q, size_t weight)
{
	size_t k = q->tail % q->nslots;

	if (q->nworkers == 0) {
		q->work(q->ctx, slot_at(q, q->tail), q->buf);
		q->isdone[k] = 1;
	}
	q->weight[k] = weight;
	q->inflight += weight;
	pthread_mutex_lock(&q->mu);
	q->tail++;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->mu);
}

void
pool_stop(struct pool *q, void (*clear)(void *slot))
{
	size_t i;

	pthread_mutex_lock(&q->mu);
	q->quit = 1;
	pthread_cond_broadcast(&q->wake);
	pthread_mutex_unlock(&q->mu);
	pool_finish(q);
	for (i = 0; i < q->nworkers; i++)
		pthread_join(q->th[i], NULL);
	for (i = 0; i < q->nslots; i++)
		clear(slot_at(q, i));
	free(q->slot);
	free(q->isdone);
	free(q->weight);
	free(q->th);
	free(q->buf);
}

/* a big group of small files is otherwise one cold open after another */
void
pool_each(struct pool *q, size_t n, pool_step_fn *fn, void *arg, char *buf)
{
	struct pool_loop s = { fn, arg, 0, n, 0, NULL }, **p;
	size_t i;

	if (q->nworkers < 2 || n < HELP_MIN) {
		for (i = 0; i < n; i++)
			fn(arg, i, buf);
		return;
	}
	pthread_mutex_lock(&q->mu);
	for (p = &q->loops; *p; p = &(*p)->later)
		;
	*p = &s;
	pthread_cond_broadcast(&q->wake);
	while (s.next < s.n) {
		i = s.next++;
		pthread_mutex_unlock(&q->mu);
		fn(arg, i, buf);
		pthread_mutex_lock(&q->mu);
		s.done++;
	}
	while (s.done < s.n)
		pthread_cond_wait(&q->helped, &q->mu);
	for (p = &q->loops; *p != &s; p = &(*p)->later)
		;
	*p = s.later;
	pthread_mutex_unlock(&q->mu);
}
