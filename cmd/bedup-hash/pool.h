/* pool.h: worker threads over a window of jobs. The pool knows nothing
 * of what a job is: it holds slots of a given size, hands each filled
 * slot to WORK in some worker, and gives the slots back to FINISH in the
 * main thread in the order they were filled. A worker may share a loop
 * of independent steps out to idle workers (pool_each). */
#ifndef POOL_H
#define POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* the work on one slot, in a worker (or in the main thread without
 * workers); BUF is the worker's own buffer */
typedef void pool_work_fn(void *ctx, void *slot, char *buf);
/* the end of one slot's work, in the main thread, in order */
typedef void pool_finish_fn(void *ctx, void *slot);
/* step I of a loop over ARG */
typedef void pool_step_fn(void *arg, size_t i, char *buf);

struct pool_loop;

/* a window of slots: head is the oldest unfinished, next the next one a
 * worker takes, tail the next one the main thread fills */
struct pool {
	pthread_mutex_t mu;
	pthread_cond_t wake, done, helped;   /* wake: a slot or a loop to take */
	char *slot;              /* NSLOTS slots of SIZE bytes */
	int *isdone;             /* a slot's work is done */
	size_t *weight;          /* of each slot, counted in INFLIGHT */
	size_t size, nslots, nworkers, budget, bufsz;
	uint64_t head, next, tail;
	size_t inflight;         /* weight between head and tail (main thread) */
	struct pool_loop *loops;
	pool_work_fn *work;
	pool_finish_fn *finish;
	void *ctx;
	pthread_t *th;
	char *buf;               /* the main thread's */
	int quit;
};

/* Starts NWORKERS threads (none: the work is done in pool_push) over
 * NSLOTS zeroed slots of SIZE bytes; a new slot is filled only while
 * the weight in flight is below BUDGET. Each worker has a buffer of
 * BUFSZ bytes. */
void pool_start(struct pool *q, size_t nworkers, size_t nslots, size_t size, size_t budget,
    size_t bufsz, pool_work_fn *work, pool_finish_fn *finish, void *ctx);

/* The slot to fill next; one is free after pool_finish. */
void *pool_slot(struct pool *q);

/* Hands the slot just filled, of WEIGHT, to the workers. */
void pool_push(struct pool *q, size_t weight);

/* Finishes the slots done at the head of the window, in order, waiting
 * until a slot is free (after pool_stop began, until all are done). */
void pool_finish(struct pool *q);

/* Finishes every slot, stops the workers, calls CLEAR on every slot
 * and frees the pool. */
void pool_stop(struct pool *q, void (*clear)(void *slot));

/* FN(ARG, i, BUF) for i below N, from a worker's WORK: with other workers
 * about and a loop long enough, idle ones take steps too. */
void pool_each(struct pool *q, size_t n, pool_step_fn *fn, void *arg, char *buf);

#endif
