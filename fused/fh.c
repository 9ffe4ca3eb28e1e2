/*
 * fh.c - the numbers agora-fused gives the kernel for open files and
 * directories (fi->fh), valid across a restart of the gateway under a
 * kept mount (keep.c).
 *
 * A number is this process's random 20-bit epoch above a 44-bit count,
 * and names its object through a hash table. After a restart the kernel
 * still holds the numbers the earlier process gave (an NFS server keeps
 * its files open for long): gw_fh_get does not know them, the caller
 * opens the object again and gw_fh_adopt files it under the old number,
 * so that the kernel never sees a handle change and no number is ever
 * taken for a pointer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "fused.h"

#define FH_BUCKETS 4096
#define FH_COUNT_BITS 44

struct fh_ent {
	uint64_t fh, ino;
	void *obj;
	struct fh_ent *next;
};

static pthread_mutex_t fh_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fh_ent *fh_table[FH_BUCKETS];
static uint64_t fh_epoch, fh_count;

static struct fh_ent **bucket(uint64_t fh)
{
	return &fh_table[(fh ^ (fh >> FH_COUNT_BITS)) % FH_BUCKETS];
}

/* With fh_lock held. */
static struct fh_ent *find(uint64_t fh)
{
	struct fh_ent *e;

	for (e = *bucket(fh); e && e->fh != fh; e = e->next)
		;
	return e;
}

static size_t fh_open; /* entries in the table */

static int insert(uint64_t fh, void *obj, uint64_t ino)
{
	struct fh_ent *e = malloc(sizeof(*e)), **b = bucket(fh);

	if (!e)
		return -1;
	e->fh = fh;
	e->ino = ino;
	e->obj = obj;
	fh_open++;
	e->next = *b;
	*b = e;
	return 0;
}

uint64_t gw_fh_new(void *obj, uint64_t ino)
{
	uint64_t fh;

	pthread_mutex_lock(&fh_lock);
	if (!fh_epoch) {
		uint32_t r;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 8;
		fh_epoch = ((uint64_t)(r & 0xfffff) | 1) << FH_COUNT_BITS;
	}
	fh = fh_epoch | (++fh_count & ((1ull << FH_COUNT_BITS) - 1));
	if (insert(fh, obj, ino))
		fh = 0;
	pthread_mutex_unlock(&fh_lock);
	return fh;
}

void *gw_fh_get(uint64_t fh)
{
	struct fh_ent *e;
	void *obj;

	pthread_mutex_lock(&fh_lock);
	e = find(fh);
	obj = e ? e->obj : NULL;
	pthread_mutex_unlock(&fh_lock);
	return obj;
}

void *gw_fh_adopt(uint64_t fh, void *obj, uint64_t ino)
{
	struct fh_ent *e;

	pthread_mutex_lock(&fh_lock);
	e = find(fh);
	if (e)
		obj = e->obj; /* another thread adopted it first */
	else if (insert(fh, obj, ino))
		obj = NULL;
	pthread_mutex_unlock(&fh_lock);
	return obj;
}

void *gw_fh_drop(uint64_t fh)
{
	struct fh_ent **p, *e;
	void *obj = NULL;

	pthread_mutex_lock(&fh_lock);
	for (p = bucket(fh); *p && (*p)->fh != fh; p = &(*p)->next)
		;
	e = *p;
	if (e) {
		*p = e->next;
		obj = e->obj;
		free(e);
		fh_open--;
	}
	pthread_mutex_unlock(&fh_lock);
	return obj;
}

static int by_ino(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int gw_fh_any(void)
{
	int any;

	pthread_mutex_lock(&fh_lock);
	any = fh_open > 0;
	pthread_mutex_unlock(&fh_lock);
	return any;
}

ssize_t gw_fh_inodes(uint64_t **inos)
{
	size_t n = 0, i, u = 0;
	uint64_t *v;
	struct fh_ent *e;

	pthread_mutex_lock(&fh_lock);
	v = malloc((fh_open ? fh_open : 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&fh_lock);
		return -ENOMEM;
	}
	for (i = 0; i < FH_BUCKETS; i++)
		for (e = fh_table[i]; e; e = e->next)
			v[n++] = e->ino;
	pthread_mutex_unlock(&fh_lock);
	if (n)
		qsort(v, n, sizeof(*v), by_ino);
	for (i = 0; i < n; i++)
		if (!u || v[u - 1] != v[i])
			v[u++] = v[i];
	*inos = v;
	return (ssize_t)u;
}
