/*
 * pager.c - mirrored metadata pages and their cache, and the write of a
 * commit: its pages and its record (commit.h) in one flush of each drive.
 *
 * The cache is a fixed array of page frames indexed by a hash of the
 * address (direct-mapped with 4-way buckets, clock replacement inside a
 * bucket). Pages are immutable, so a hit needs no validation and writes
 * simply insert.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "format.h"
#include "page.h"
#include "pager.h"
#include "pool.h"
#include "util.h"

#define WAYS 4

atomic_ulong ag_page_fallbacks;

struct frame {
	uint64_t addr; /* 0: empty */
	uint8_t *data;
	uint8_t ref;
};

struct queued {
	uint64_t addr;
	uint8_t *page;
};

struct ag_pagestore {
	struct ag_drives *ds;
	size_t page_size;
	uint32_t nbuckets;
	struct frame *frames;  /* nbuckets * WAYS */
	uint8_t *mem;
	pthread_mutex_t *locks; /* one per bucket */
	/* queued page writes (deferred mode) */
	int deferred;
	struct queued *queue;
	size_t nqueue, queue_cap;
	uint64_t unsynced;      /* drives with lazy writes not synced since */
	/* pager context handed to the tree */
	int (*alloc)(void *, uint64_t *);
	void (*release)(void *, uint64_t);
	void *alloc_ctx;
};

uint32_t ag_pages_per_segment(const struct ag_label *l)
{
	return (uint32_t)((uint64_t)l->ndrives *
			  (l->segment_size / l->page_size) / AG_PAGE_COPIES);
}

int ag_pagestore_new(struct ag_drives *ds, uint64_t cache_bytes,
		     struct ag_pagestore **psp)
{
	struct ag_pagestore *ps = calloc(1, sizeof(*ps));
	uint32_t i;

	if (!ps)
		return -ENOMEM;
	ps->ds = ds;
	ps->page_size = ds->label.page_size;
	ps->nbuckets = cache_bytes / ps->page_size / WAYS;
	if (ps->nbuckets < 16)
		ps->nbuckets = 16;
	ps->frames = calloc((size_t)ps->nbuckets * WAYS, sizeof(*ps->frames));
	ps->locks = calloc(ps->nbuckets, sizeof(*ps->locks));
	ps->mem = malloc((size_t)ps->nbuckets * WAYS * ps->page_size);
	if (!ps->frames || !ps->locks || !ps->mem) {
		ag_pagestore_free(ps);
		return -ENOMEM;
	}
	for (i = 0; i < ps->nbuckets; i++)
		pthread_mutex_init(&ps->locks[i], NULL);
	for (i = 0; i < ps->nbuckets * WAYS; i++)
		ps->frames[i].data = ps->mem + (size_t)i * ps->page_size;
	*psp = ps;
	return 0;
}

void ag_pagestore_free(struct ag_pagestore *ps)
{
	uint32_t i;

	if (!ps)
		return;
	ag_pagestore_discard(ps);
	free(ps->queue);
	if (ps->locks)
		for (i = 0; i < ps->nbuckets; i++)
			pthread_mutex_destroy(&ps->locks[i]);
	free(ps->locks);
	free(ps->frames);
	free(ps->mem);
	free(ps);
}

static uint32_t bucket_of(const struct ag_pagestore *ps, uint64_t addr)
{
	uint64_t h = addr * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32) % ps->nbuckets;
}

static int cache_get(struct ag_pagestore *ps, uint64_t addr, void *buf)
{
	uint32_t b = bucket_of(ps, addr), w;
	struct frame *f = &ps->frames[(size_t)b * WAYS];
	int hit = 0;

	pthread_mutex_lock(&ps->locks[b]);
	for (w = 0; w < WAYS; w++) {
		if (f[w].addr == addr) {
			memcpy(buf, f[w].data, ps->page_size);
			f[w].ref = 1;
			hit = 1;
			break;
		}
	}
	pthread_mutex_unlock(&ps->locks[b]);
	return hit;
}

static void cache_put(struct ag_pagestore *ps, uint64_t addr, const void *buf)
{
	uint32_t b = bucket_of(ps, addr), w, victim = 0;
	struct frame *f = &ps->frames[(size_t)b * WAYS];

	pthread_mutex_lock(&ps->locks[b]);
	for (w = 0; w < WAYS; w++) {
		if (f[w].addr == addr || !f[w].addr) {
			victim = w;
			goto fill;
		}
	}
	/* clock: the first frame not used since the last sweep */
	for (w = 0; w < 2 * WAYS; w++) {
		victim = w % WAYS;
		if (!f[victim].ref)
			break;
		f[victim].ref = 0;
	}
fill:
	f[victim].addr = addr;
	f[victim].ref = 1;
	memcpy(f[victim].data, buf, ps->page_size);
	pthread_mutex_unlock(&ps->locks[b]);
}

static void cache_drop(struct ag_pagestore *ps, uint64_t addr)
{
	uint32_t b = bucket_of(ps, addr), w;
	struct frame *f = &ps->frames[(size_t)b * WAYS];

	pthread_mutex_lock(&ps->locks[b]);
	for (w = 0; w < WAYS; w++)
		if (f[w].addr == addr)
			f[w].addr = 0;
	pthread_mutex_unlock(&ps->locks[b]);
}

/* Where copy c of page addr lives. */
static void copy_place(const struct ag_pagestore *ps, uint64_t addr, int c,
		       int *drive, uint64_t *off)
{
	const struct ag_label *l = &ps->ds->label;
	uint64_t slot = (uint64_t)AG_PAGE_SLOT(addr) * AG_PAGE_COPIES + c;

	*drive = ag_slot_drive(l, slot);
	*off = ag_slot_offset(l, AG_ADDR_SEG(addr), slot, l->page_size);
}

static int valid_addr(const struct ag_pagestore *ps, uint64_t addr)
{
	const struct ag_label *l = &ps->ds->label;

	return addr && AG_ADDR_SEG(addr) < l->nsegments &&
	       AG_PAGE_SLOT(addr) < ag_pages_per_segment(l);
}

static int verify(const struct ag_pagestore *ps, uint64_t addr,
		  const uint8_t *p)
{
	return ag_page_hdr_verify(p, ps->page_size, addr);
}

int ag_pagestore_adopt(struct ag_pagestore *ps, const void *page)
{
	uint64_t addr = ag_page_hdr_addr(page);

	if (!valid_addr(ps, addr) || verify(ps, addr, page))
		return -AG_ECORRUPT;
	cache_put(ps, addr, page);
	return 0;
}

/* Whether p, a copy that is not page addr, is whole and another page of
 * the same place: addr's slot reused in a later epoch (space.h). */
static int slot_reused(const struct ag_pagestore *ps, uint64_t addr,
		       const uint8_t *p)
{
	uint64_t other = ag_page_hdr_addr(p);

	return other != addr && AG_ADDR_SEG(other) == AG_ADDR_SEG(addr) &&
	       AG_PAGE_SLOT(other) == AG_PAGE_SLOT(addr) &&
	       !verify(ps, other, p);
}

/* Copy c of page addr into buf: 0, -AG_ESTALEROOT when it is another
 * page of the same place, -AG_ECORRUPT or -EIO. */
static int read_copy(struct ag_pagestore *ps, uint64_t addr, int c, void *buf)
{
	int drive, rc;
	uint64_t off;

	copy_place(ps, addr, c, &drive, &off);
	rc = ag_drive_read(ps->ds, drive, buf, ps->page_size, off);
	if (rc)
		return rc;
	rc = verify(ps, addr, buf);
	if (rc && slot_reused(ps, addr, buf))
		return -AG_ESTALEROOT; /* the drive holds what it was given */
	if (rc)
		atomic_fetch_add(&ps->ds->d[drive].csum_errors, 1);
	return rc;
}

int ag_page_read(struct ag_pagestore *ps, uint64_t addr, void *buf)
{
	int c, rc = -EIO, reused = -1;

	if (!valid_addr(ps, addr))
		return AG_CORRUPT("page address %#llx out of range",
				  (unsigned long long)addr);
	if (cache_get(ps, addr, buf))
		return 0;
	for (c = 0; c < AG_PAGE_COPIES; c++) {
		rc = read_copy(ps, addr, c, buf);
		if (!rc) {
			if (c)
				atomic_fetch_add(&ag_page_fallbacks, 1);
			cache_put(ps, addr, buf);
			return 0;
		}
		if (rc == -AG_ESTALEROOT)
			reused = c;
	}
	/* no copy is the page, and one is a newer page of its place: the
	 * reader's tree tells a stale root from damage (btree.h), and says
	 * which it was; buf holds the newer page for it */
	if (reused >= 0 &&
	    (reused == AG_PAGE_COPIES - 1 ||
	     read_copy(ps, addr, reused, buf) == -AG_ESTALEROOT))
		return -AG_ESTALEROOT;
	AG_ERR("page %#llx: no good copy on any mirror (%s)",
	       (unsigned long long)addr, ag_strerror(rc));
	return rc;
}

int ag_page_check(struct ag_pagestore *ps, uint64_t addr, int *bad,
		  int *unwritten)
{
	uint8_t *buf = ag_alloc_aligned(ps->page_size);
	int c, good = 0;

	if (!buf)
		return -ENOMEM;
	for (c = 0; c < AG_PAGE_COPIES; c++) {
		int drive;
		uint64_t off;

		copy_place(ps, addr, c, &drive, &off);
		if (ps->ds->d[drive].state != AG_DRIVE_OK)
			continue; /* a missing drive is reported on its own */
		if (!valid_addr(ps, addr) ||
		    ag_drive_read(ps->ds, drive, buf, ps->page_size, off)) {
			(*bad)++;
		} else if (!verify(ps, addr, buf)) {
			good++;
		} else {
			atomic_fetch_add(&ps->ds->d[drive].csum_errors, 1);
			/* damaged, or not this page at all */
			if (ag_page_hdr_names(buf, addr))
				(*bad)++;
			else
				(*unwritten)++;
		}
	}
	free(buf);
	return good;
}

int ag_page_repair(struct ag_pagestore *ps, uint64_t addr, uint64_t gen)
{
	uint8_t *good = ag_alloc_aligned(ps->page_size);
	uint8_t *buf = ag_alloc_aligned(ps->page_size);
	int c, have = -1, bad = 0, rc = 0;

	if (!good || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (c = 0; c < AG_PAGE_COPIES; c++) {
		int drive;
		uint64_t off;

		copy_place(ps, addr, c, &drive, &off);
		if (ag_drive_read(ps->ds, drive, buf, ps->page_size, off)) {
			if (ps->ds->d[drive].state == AG_DRIVE_OK)
				bad |= 1 << c;
			continue;
		}
		if (verify(ps, addr, buf) || ag_page_hdr_gen(buf) != gen) {
			/* a newer page of the same place is not damage: a
			 * scrub beside agora-metad must not write over it */
			if (!slot_reused(ps, addr, buf))
				bad |= 1 << c;
		} else if (have < 0) {
			memcpy(good, buf, ps->page_size);
			have = c;
		}
	}
	if (have < 0 || !valid_addr(ps, addr)) {
		rc = -AG_ECORRUPT;
		goto out;
	}
	for (c = 0; c < AG_PAGE_COPIES; c++) {
		int drive;
		uint64_t off;

		if (!(bad >> c & 1))
			continue;
		copy_place(ps, addr, c, &drive, &off);
		if (!ag_drive_write(ps->ds, drive, good, ps->page_size, off))
			rc++;
	}
out:
	free(good);
	free(buf);
	return rc;
}

static int enqueue(struct ag_pagestore *ps, uint64_t addr, const void *p)
{
	struct queued *q;

	if (ps->nqueue == ps->queue_cap) {
		size_t cap = ps->queue_cap ? 2 * ps->queue_cap : 64;

		q = realloc(ps->queue, cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		ps->queue = q;
		ps->queue_cap = cap;
	}
	q = &ps->queue[ps->nqueue];
	q->page = ag_alloc_aligned(ps->page_size);
	if (!q->page)
		return -ENOMEM;
	memcpy(q->page, p, ps->page_size);
	q->addr = addr;
	ps->nqueue++;
	cache_put(ps, addr, p);
	return 0;
}

void ag_pagestore_defer(struct ag_pagestore *ps, int on)
{
	ps->deferred = on;
}

void ag_pagestore_discard(struct ag_pagestore *ps)
{
	size_t i;

	for (i = 0; i < ps->nqueue; i++) {
		cache_drop(ps, ps->queue[i].addr);
		free(ps->queue[i].page);
	}
	ps->nqueue = 0;
}

struct copy {
	uint64_t off;
	const uint8_t *page;
};

static int by_offset(const void *a, const void *b)
{
	const struct copy *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

struct flush_job {
	struct ag_pagestore *ps;
	const uint8_t *commit; /* a commit record block to write too */
	uint64_t commit_off;
	int lazy;              /* write only: a later sync makes it durable */
	uint64_t record;       /* drives that take the record */
	uint64_t sync;         /* drives to sync */
	uint64_t touch;        /* drives with anything to do */
	int rc[AG_MAX_DRIVES]; /* each drive's result; 1: not involved */
};

/* The drives that hold a copy of a queued page. */
static uint64_t copy_drives(const struct ag_pagestore *ps)
{
	uint64_t mask = 0;
	size_t i;
	int c;

	for (i = 0; i < ps->nqueue; i++) {
		for (c = 0; c < AG_PAGE_COPIES; c++) {
			int drive;
			uint64_t off;

			copy_place(ps, ps->queue[i].addr, c, &drive, &off);
			mask |= 1ull << drive;
		}
	}
	return mask;
}

/* A lazy commit goes through the page cache: a direct write costs a
 * device round trip, and the sync that will follow writes the whole run
 * of lazy commits back at once. */
static int write_run(struct ag_drives *ds, int d, const struct iovec *iov,
		     int n, uint64_t off, int lazy)
{
	return lazy ? ag_drive_writev_cached(ds, d, iov, n, off)
		    : ag_drive_writev(ds, d, iov, n, off);
}

/* Runs on drive d's thread (lazy: in the caller's): write every queued
 * copy that lives on d, in runs of adjacent blocks, and the commit record
 * if d takes it, then sync if the job says so. */
static int flush_drive(struct ag_drives *ds, int d, void *arg)
{
	const struct flush_job *job = arg;
	struct ag_pagestore *ps = job->ps;
	struct iovec iov[256];
	struct copy *cp;
	size_t i, n = 0;
	int c, rc = 0;

	if (ds->d[d].state != AG_DRIVE_OK || !(job->touch >> d & 1))
		return 1;
	cp = malloc(ps->nqueue * AG_PAGE_COPIES * sizeof(*cp) + 1);
	if (!cp)
		return -ENOMEM;
	for (i = 0; i < ps->nqueue; i++) {
		for (c = 0; c < AG_PAGE_COPIES; c++) {
			int drive;
			uint64_t off;

			copy_place(ps, ps->queue[i].addr, c, &drive, &off);
			if (drive == d) {
				cp[n].off = off;
				cp[n++].page = ps->queue[i].page;
			}
		}
	}
	qsort(cp, n, sizeof(*cp), by_offset);
	for (i = 0; i < n && !rc;) {
		size_t run = 0;
		uint64_t start = cp[i].off;

		while (i < n && run < AG_ARRAY_LEN(iov) &&
		       cp[i].off == start + run * ps->page_size) {
			iov[run].iov_base = (void *)cp[i].page;
			iov[run++].iov_len = ps->page_size;
			i++;
		}
		rc = write_run(ds, d, iov, (int)run, start, job->lazy);
	}
	free(cp);
	if (!rc && job->commit && (job->record >> d & 1)) {
		iov[0].iov_base = (void *)job->commit;
		iov[0].iov_len = AG_BLOCK;
		rc = write_run(ds, d, iov, 1, job->commit_off, job->lazy);
	}
	if (rc || !(job->sync >> d & 1))
		return rc;
	return ag_drive_sync(ds, d);
}

/* Write the queued pages (and the record), syncing unless lazy; the
 * queue stays for the caller to retry or drop. */
static int flush_queue(struct ag_pagestore *ps, struct flush_job *job)
{
	struct ag_drives *ds = ps->ds;
	uint64_t present = ag_drives_present(ds), copies = copy_drives(ps);
	uint64_t written;
	size_t i;
	int c, rc = 0;

	/* the record goes where the pages go (one lane of drives, as metad
	 * allocates them, space.c) when that makes a quorum */
	if (job->commit && !job->record)
		job->record = ag_commit_lane(ds, copies);
	written = (copies | job->record) & present;
	/* a durable flush syncs what lazy ones left too */
	job->sync = job->lazy ? 0 : written | (ps->unsynced & present);
	job->touch = written | job->sync;
	if (job->lazy) {
		/* copies into the page cache: no need for the threads */
		for (c = 0; c < ds->n; c++)
			job->rc[c] = flush_drive(ds, c, job);
	} else {
		ag_pool_run_on(ds, job->touch, flush_drive, job, job->rc);
	}
	/* every page needs a copy on a drive that took its writes */
	for (i = 0; i < ps->nqueue && !rc; i++) {
		int landed = 0;

		for (c = 0; c < AG_PAGE_COPIES; c++) {
			int drive;
			uint64_t off;

			copy_place(ps, ps->queue[i].addr, c, &drive, &off);
			if (job->rc[drive] == 0)
				landed++;
		}
		if (!landed)
			rc = -AG_ENOQUORUM;
	}
	for (c = 0; c < ds->n && !rc; c++)
		if (job->rc[c] == -ENOSPC)
			rc = -ENOSPC;
	if (!rc && job->commit && !ag_drives_quorum(ds, job->rc))
		rc = -AG_ENOQUORUM;
	if (rc)
		return rc;
	if (job->lazy)
		ps->unsynced |= written;
	else
		ps->unsynced = 0;
	return 0;
}

/* After a flush: drop the queue, its pages written or not. */
static int flush_done(struct ag_pagestore *ps, int rc)
{
	size_t i;

	if (rc) {
		ag_pagestore_discard(ps);
		return rc;
	}
	for (i = 0; i < ps->nqueue; i++)
		free(ps->queue[i].page);
	ps->nqueue = 0;
	return 0;
}

int ag_pagestore_flush(struct ag_pagestore *ps)
{
	struct flush_job job = { .ps = ps };

	return flush_done(ps, flush_queue(ps, &job));
}

int ag_pagestore_commit(struct ag_pagestore *ps, struct ag_commit_rec *rec,
			int lazy)
{
	struct flush_job job = { .ps = ps, .lazy = lazy };
	uint64_t present;
	uint8_t *block;
	size_t i;
	int rc;

	if (rec->ndata && !ag_commit_fits(ps->nqueue, rec->ndata))
		return -E2BIG;
	if (ps->nqueue > AG_COMMIT_PAGES) {
		/* too many to list: pages first, then the record, durable */
		if (lazy)
			return -EAGAIN;
		rec->npages = 0;
		rc = ag_pagestore_flush(ps);
		return rc ? rc : ag_commit_write(ps->ds, rec);
	}
	/* one flush for pages and record: the record lists the pages, and
	 * a reader takes it only once all of them are on the drives */
	rec->npages = ps->nqueue;
	for (i = 0; i < ps->nqueue; i++)
		rec->pages[i] = ps->queue[i].addr;
	block = ag_alloc_aligned(AG_BLOCK);
	if (!block)
		return -ENOMEM;
	ag_commit_encode(block, rec);
	job.commit = block;
	job.commit_off = ag_commit_slot_off(ag_commit_slot(rec->gen));
	rc = flush_queue(ps, &job);
	present = ag_drives_present(ps->ds);
	if (rc == -AG_ENOQUORUM && job.record != present) {
		/* a drive of the lane failed: every drive takes it */
		job.record = present;
		rc = flush_queue(ps, &job);
	}
	free(block);
	return flush_done(ps, rc);
}

/* Whether a mirror of page addr holds it damaged: its header names the
 * page and its checksum fails. A slot its commit never reached holds
 * zeros, an older page (of another address: the epoch differs) or bytes
 * of the segment's past life, none of which names it (commit.h says why
 * that tells a torn commit from a damaged one). */
static int page_damaged(struct ag_pagestore *ps, uint64_t addr, uint8_t *buf)
{
	int c;

	if (!valid_addr(ps, addr))
		return 0;
	for (c = 0; c < AG_PAGE_COPIES; c++) {
		int drive;
		uint64_t off;

		copy_place(ps, addr, c, &drive, &off);
		if (ag_drive_read(ps->ds, drive, buf, ps->page_size, off))
			continue;
		if (ag_page_hdr_names(buf, addr) && verify(ps, addr, buf))
			return 1;
	}
	return 0;
}

int ag_pagestore_check_commit(void *arg, const struct ag_commit_rec *rec)
{
	struct ag_pagestore *ps = arg;
	uint8_t *buf = ag_alloc_aligned(ps->page_size);
	uint32_t i;
	int rc = 1;

	if (!buf)
		return 0;
	for (i = 0; rc > 0 && i < rec->npages; i++) {
		if (!ag_page_read(ps, rec->pages[i], buf) &&
		    ag_page_hdr_gen(buf) == rec->gen)
			continue;
		rc = 0;
		if (page_damaged(ps, rec->pages[i], buf)) {
			AG_ERR("page %#llx of commit %llu is damaged on every "
			       "mirror", (unsigned long long)rec->pages[i],
			       (unsigned long long)rec->gen);
			rc = -AG_ECORRUPT;
		}
	}
	free(buf);
	return rc;
}

int ag_page_write(struct ag_pagestore *ps, uint64_t addr, uint64_t gen,
		  void *buf)
{
	uint8_t *p = buf;
	int c, ok = 0, rc = 0;

	if (!valid_addr(ps, addr))
		return -EINVAL;
	ag_page_hdr_stamp(p, ps->page_size, addr, gen);
	if (ps->deferred)
		return enqueue(ps, addr, p);
	for (c = 0; c < AG_PAGE_COPIES; c++) {
		int drive, r;
		uint64_t off;

		copy_place(ps, addr, c, &drive, &off);
		if (ps->ds->d[drive].state != AG_DRIVE_OK)
			continue;
		r = ag_drive_write(ps->ds, drive, p, ps->page_size, off);
		if (r)
			rc = r;
		else
			ok++;
	}
	if (!ok)
		return rc ? rc : -AG_ENOQUORUM;
	if (rc == -ENOSPC)
		return rc;
	cache_put(ps, addr, p);
	return 0;
}

static int pg_read(void *ctx, uint64_t addr, void *buf)
{
	return ag_page_read(ctx, addr, buf);
}

static int pg_write(void *ctx, uint64_t addr, uint64_t gen, void *buf)
{
	return ag_page_write(ctx, addr, gen, buf);
}

static int pg_alloc(void *ctx, uint64_t *addr)
{
	struct ag_pagestore *ps = ctx;

	return ps->alloc ? ps->alloc(ps->alloc_ctx, addr) : -EROFS;
}

static void pg_release(void *ctx, uint64_t addr)
{
	struct ag_pagestore *ps = ctx;

	if (ps->release)
		ps->release(ps->alloc_ctx, addr);
}

void ag_pagestore_pager(struct ag_pagestore *ps, struct ag_pager *pg,
			int (*alloc)(void *, uint64_t *),
			void (*release)(void *, uint64_t), void *alloc_ctx)
{
	ps->alloc = alloc;
	ps->release = release;
	ps->alloc_ctx = alloc_ctx;
	pg->page_size = ps->page_size;
	pg->ctx = ps;
	pg->read = pg_read;
	pg->write = pg_write;
	pg->alloc = pg_alloc;
	pg->release = pg_release;
	pg->crc_verified = 1;
}
