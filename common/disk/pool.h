/*
 * pool.h - one thread per drive, so that a job for several drives (a
 * sync, a commit, the strips of a stripe) costs one device round trip,
 * not one per drive in a row.
 *
 * Contract: a drive set has one pool (struct ag_drives.pool); one job
 * runs on it at a time, and a job started while another runs waits for
 * it. Each drive's thread sleeps on its own condition, so a job for 3
 * drives of 6 wakes 3 threads, not 6 that fight for the lock on 2 cores.
 * Threads are started on the first job; when they cannot be had, the
 * job runs drive after drive in the caller's thread, with the same
 * results. A job's function runs on drive i's thread with no lock held,
 * and must not start a job itself.
 */
#ifndef AG_POOL_H
#define AG_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct ag_drives;

/* Every drive of the set, as a job's mask. */
#define AG_POOL_ALL (~0ull)

/* A job for several drives at once: fn(ds, i, arg) on each drive i of
 * mask; the others get rc 1 (nothing done) and their threads sleep on. */
struct ag_pool_job {
	int (*fn)(struct ag_drives *ds, int i, void *arg);
	void *arg;
	uint64_t mask;
	int rc[AG_MAX_DRIVES]; /* each drive's result */
	int done;
};

struct ag_pool {
	pthread_mutex_t lock; /* protects everything below */
	pthread_cond_t start[AG_MAX_DRIVES], done;
	pthread_t thr[AG_MAX_DRIVES];
	int nthreads, stopping, pending;
	uint64_t seq;
	struct ag_pool_job *cur;	 /* the job running; one at a time */
	uint64_t mask;			 /* its drives */
	uint8_t *scratch[AG_MAX_DRIVES]; /* per drive thread, reused */
	size_t scratch_len[AG_MAX_DRIVES];
};

/* Ready p for use (no thread is started yet); ag_pool_destroy stops its
 * threads and frees what it holds. ag_drives_open and ag_drives_close
 * call them. */
void ag_pool_init(struct ag_pool *p);
void ag_pool_destroy(struct ag_pool *p);

/* Run fn(ds, i, arg) for every drive i at once, one thread per drive, and
 * wait for all; each result lands in rc[i] (ds->n entries). */
void ag_pool_run(struct ag_drives *ds,
		 int (*fn)(struct ag_drives *ds, int i, void *arg), void *arg,
		 int *rc);
/* The same on the drives of mask only; the others get rc 1. */
void ag_pool_run_on(struct ag_drives *ds, uint64_t mask,
		    int (*fn)(struct ag_drives *ds, int i, void *arg),
		    void *arg, int *rc);
/* The same in two halves: start job (fn, arg and mask set; once another
 * job ends) and go on; ag_pool_wait returns when it is done, its results
 * in job->rc. Any thread may wait; the job and its arg must live until
 * then. */
void ag_pool_start(struct ag_drives *ds, struct ag_pool_job *job);
void ag_pool_wait(struct ag_drives *ds, struct ag_pool_job *job);
/* 1 once a started job is done (ag_pool_wait would not wait). */
int ag_pool_done(struct ag_drives *ds, struct ag_pool_job *job);
/* An aligned buffer of at least len bytes for drive i's job to use; it
 * stays valid until the job returns (NULL when memory is short). */
void *ag_pool_scratch(struct ag_drives *ds, int i, size_t len);

#endif
