/*
 * pool.c - the per-drive threads of a drive set (see pool.h).
 *
 * A job is published under the lock as (cur, mask, seq): a thread whose
 * drive is in mask runs it once per seq, and the last one to finish marks
 * it done and frees the pool for the next job.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "drive.h"
#include "pool.h"
#include "util.h"

struct worker {
	struct ag_drives *ds;
	int i;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ag_pool *p = &w->ds->pool;
	uint64_t seen = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct ag_pool_job *job;

		while (!p->stopping &&
		       (p->seq == seen || !(p->mask >> w->i & 1)))
			pthread_cond_wait(&p->start[w->i], &p->lock);
		if (p->stopping)
			break;
		seen = p->seq;
		job = p->cur;
		pthread_mutex_unlock(&p->lock);
		job->rc[w->i] = job->fn(w->ds, w->i, job->arg);
		pthread_mutex_lock(&p->lock);
		if (!--p->pending) {
			/* the last one frees the pool for the next job */
			job->done = 1;
			p->cur = NULL;
			pthread_cond_broadcast(&p->done);
		}
	}
	pthread_mutex_unlock(&p->lock);
	free(w);
	return NULL;
}

void ag_pool_init(struct ag_pool *p)
{
	int i;

	pthread_mutex_init(&p->lock, NULL);
	for (i = 0; i < AG_MAX_DRIVES; i++)
		pthread_cond_init(&p->start[i], NULL);
	pthread_cond_init(&p->done, NULL);
}

void ag_pool_destroy(struct ag_pool *p)
{
	int i;

	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	for (i = 0; i < AG_MAX_DRIVES; i++)
		pthread_cond_signal(&p->start[i]);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->thr[i], NULL);
	p->nthreads = 0;
	for (i = 0; i < AG_MAX_DRIVES; i++)
		free(p->scratch[i]);
	for (i = 0; i < AG_MAX_DRIVES; i++)
		pthread_cond_destroy(&p->start[i]);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
}

/* Start job on its drives at once. Falls back to running it drive after
 * drive, before returning, if threads cannot be had. */
void ag_pool_start(struct ag_drives *ds, struct ag_pool_job *job)
{
	struct ag_pool *p = &ds->pool;
	uint64_t all = ds->n < 64 ? (1ull << ds->n) - 1 : ~0ull;
	uint64_t mask = job->mask & all;
	int i;

	job->done = 0;
	for (i = 0; i < ds->n; i++)
		job->rc[i] = 1;
	pthread_mutex_lock(&p->lock);
	while (p->cur)
		pthread_cond_wait(&p->done, &p->lock);
	while (p->nthreads < ds->n) {
		struct worker *w = malloc(sizeof(*w));

		if (!w)
			break;
		w->ds = ds;
		w->i = p->nthreads;
		if (pthread_create(&p->thr[p->nthreads], NULL, worker_main,
				   w)) {
			free(w);
			break;
		}
		p->nthreads++;
	}
	p->cur = job;
	if (p->nthreads < ds->n || !mask) {
		pthread_mutex_unlock(&p->lock);
		for (i = 0; i < ds->n; i++)
			if (mask >> i & 1)
				job->rc[i] = job->fn(ds, i, job->arg);
		pthread_mutex_lock(&p->lock);
		job->done = 1;
		p->cur = NULL;
		pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->pending = __builtin_popcountll(mask);
	p->mask = mask;
	p->seq++;
	for (i = 0; i < ds->n; i++)
		if (mask >> i & 1)
			pthread_cond_signal(&p->start[i]);
	pthread_mutex_unlock(&p->lock);
}

void ag_pool_wait(struct ag_drives *ds, struct ag_pool_job *job)
{
	struct ag_pool *p = &ds->pool;

	pthread_mutex_lock(&p->lock);
	while (!job->done)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

int ag_pool_done(struct ag_drives *ds, struct ag_pool_job *job)
{
	struct ag_pool *p = &ds->pool;
	int done;

	pthread_mutex_lock(&p->lock);
	done = job->done;
	pthread_mutex_unlock(&p->lock);
	return done;
}

void ag_pool_run_on(struct ag_drives *ds, uint64_t mask,
		    int (*fn)(struct ag_drives *, int, void *), void *arg,
		    int *rc)
{
	struct ag_pool_job job = { .fn = fn, .arg = arg, .mask = mask };

	ag_pool_start(ds, &job);
	ag_pool_wait(ds, &job);
	memcpy(rc, job.rc, sizeof(*rc) * ds->n);
}

void ag_pool_run(struct ag_drives *ds,
		 int (*fn)(struct ag_drives *, int, void *), void *arg, int *rc)
{
	ag_pool_run_on(ds, AG_POOL_ALL, fn, arg, rc);
}

void *ag_pool_scratch(struct ag_drives *ds, int i, size_t len)
{
	struct ag_pool *p = &ds->pool;

	if (p->scratch_len[i] < len) {
		free(p->scratch[i]);
		p->scratch[i] = ag_alloc_aligned(len);
		p->scratch_len[i] = p->scratch[i] ? len : 0;
	}
	return p->scratch[i];
}
