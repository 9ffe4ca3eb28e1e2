/*
 * openfile.c - files held open by a gateway: one object per inode per
 * cluster handle, shared by every opener, that buffers writes and commits
 * them in whole chunks.
 *
 * Writes land in dirty ranges (sorted, disjoint, never touching) and are
 * committed by a flush: each group of ranges whose committed extents
 * overlap is widened to whole extents, filled in from the committed bytes
 * and re-chunked, and every group goes into one transaction. A flush runs
 * at flush, fsync and close, before a setattr, and whenever AG_COMMIT_EVERY
 * bytes are dirty; then a range that appends at the end of the file
 * streams: only the bytes up to its last cut point are chunked, the tail
 * stays buffered for the next flush, so a file written in pieces is cut
 * where a single put would cut it. Reads merge the dirty ranges over the
 * committed bytes.
 *
 * An inode unlinked (or renamed over) while open here becomes an orphan
 * (AG_UNLINK_KEEP), kept alive by this client's heartbeat; its last close
 * drops it.
 *
 * Locks: the table lock protects the hash chains and refs; a file's lock
 * protects its ranges and sink. The table lock is never held while
 * waiting for a file's lock. The view fields are atomics so getattr never
 * waits for a flush.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster.h"
#include "event.h"
#include "file_int.h"
#include "keys.h"
#include "openfile.h"
#include "util.h"

/* Past this many dirty ranges a flush runs even with few dirty bytes:
 * each range costs a re-chunked extent at flush. */
#define MAX_RANGES 1024
#define BUCKETS 256
/* Sinks kept between flushes for the next file (a sink holds compression
 * contexts and buffers: a gateway with thousands of files open must not
 * hold one per file). */
#define IDLE_SINKS 2

struct range {
	uint64_t off;
	size_t len, cap;
	uint8_t *buf;
};

struct ag_file {
	struct ag_cluster *c;
	uint64_t ino;
	int refs;                  /* protected by the table lock */
	struct ag_file *next;      /* protected by the table lock */
	pthread_mutex_t lock;
	struct range *r;           /* protected by lock */
	size_t nr, rcap;           /* protected by lock */
	uint64_t dirty;            /* bytes in r; protected by lock */
	/* appended bytes (O_APPEND) not yet committed: they land at the
	 * file's size when metad applies them, after the ranges r of the
	 * same flush; protected by lock */
	struct range app;
	struct ag_sink *sink;      /* protected by lock; held while streaming */
	/* what getattr reports while bytes are dirty */
	atomic_int has_dirty;
	/* written since the last close said so (a "closed" event) */
	atomic_int wrote;
	atomic_uint_fast64_t vsize;
	atomic_int_fast64_t vmtime;
};

struct ag_open_files {
	pthread_mutex_t lock;
	size_t count;
	struct ag_file *b[BUCKETS];
	struct ag_sink *idle[IDLE_SINKS];
	int nidle;
};

static int table_new(struct ag_open_files **tp)
{
	struct ag_open_files *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	*tp = t;
	return 0;
}

static struct ag_file **bucket(struct ag_open_files *t, uint64_t ino)
{
	return &t->b[(ino * 0x9e3779b97f4a7c15ull) >> 56];
}

/* With the table lock. */
static struct ag_file *find(struct ag_open_files *t, uint64_t ino)
{
	struct ag_file *f;

	for (f = *bucket(t, ino); f; f = f->next)
		if (f->ino == ino)
			return f;
	return NULL;
}

static int table_none(struct ag_open_files *t)
{
	int none;

	if (!t)
		return 1;
	pthread_mutex_lock(&t->lock);
	none = !t->count;
	pthread_mutex_unlock(&t->lock);
	return none;
}

static int table_has(struct ag_open_files *t, uint64_t ino)
{
	int has;

	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	has = t->count && find(t, ino);
	pthread_mutex_unlock(&t->lock);
	return has;
}

static int table_list(struct ag_open_files *t, size_t skip, uint8_t **buf,
		      size_t *len)
{
	uint8_t *b;
	size_t i, n = 0;

	if (!t) { /* closing: nothing open any more */
		*buf = calloc(1, skip);
		*len = skip;
		return *buf ? 0 : -ENOMEM;
	}
	pthread_mutex_lock(&t->lock);
	b = malloc(skip + 8 * t->count);
	if (!b) {
		pthread_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	for (i = 0; i < BUCKETS; i++) {
		const struct ag_file *f;

		for (f = t->b[i]; f; f = f->next)
			put_le64(b + skip + 8 * n++, f->ino);
	}
	pthread_mutex_unlock(&t->lock);
	*buf = b;
	*len = skip + 8 * n;
	return 0;
}

/* Take a reference on ino's open file, if there is one. */
static struct ag_file *file_get(struct ag_cluster *c, uint64_t ino)
{
	struct ag_open_files *t = c->open_files;
	struct ag_file *f;

	pthread_mutex_lock(&t->lock);
	f = t->count ? find(t, ino) : NULL;
	if (f)
		f->refs++;
	pthread_mutex_unlock(&t->lock);
	return f;
}

int ag_file_open(struct ag_cluster *c, uint64_t ino, struct ag_file **fp)
{
	struct ag_open_files *t = c->open_files;
	struct ag_file *f, **b;
	int rc;

	f = file_get(c, ino);
	if (f)
		goto found;
	/* the first opener here: metad keeps the inode alive for us from
	 * now on, should another gateway remove its last name */
	pthread_rwlock_rdlock(&c->hold_lock);
	rc = ag_cl_hold(c, ino, 1);
	if (rc && rc != -ENOTCONN) { /* none: the next heartbeat tells */
		pthread_rwlock_unlock(&c->hold_lock);
		return rc;
	}
	pthread_mutex_lock(&t->lock);
	f = find(t, ino);
	if (f) {
		f->refs++;
		goto out;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		pthread_mutex_unlock(&t->lock);
		ag_cl_hold(c, ino, 0);
		pthread_rwlock_unlock(&c->hold_lock);
		return -ENOMEM;
	}
	f->c = c;
	f->ino = ino;
	f->refs = 1;
	pthread_mutex_init(&f->lock, NULL);
	b = bucket(t, ino);
	f->next = *b;
	*b = f;
	t->count++;
out:
	pthread_mutex_unlock(&t->lock);
	pthread_rwlock_unlock(&c->hold_lock);
found:
	*fp = f;
	return 0;
}

/* Free ranges [from, to) (the byte count is the caller's). */
static void ranges_drop(struct ag_file *f, size_t from, size_t to)
{
	size_t i;

	if (from == to)
		return; /* f->r may be NULL */
	for (i = from; i < to; i++)
		free(f->r[i].buf);
	memmove(f->r + from, f->r + to, (f->nr - to) * sizeof(*f->r));
	f->nr -= to - from;
}

static void recount(struct ag_file *f)
{
	size_t i;

	f->dirty = f->app.len;
	for (i = 0; i < f->nr; i++)
		f->dirty += f->r[i].len;
	if (!f->dirty)
		atomic_store(&f->has_dirty, 0);
}

/* Fill region [ws, we) of the file: committed bytes as the sink sees
 * them (zeros past the committed end), then the dirty ranges r[i..j)
 * over them. */
static int fill_region(struct ag_file *f, size_t i, size_t j, uint64_t ws,
		       uint64_t we, uint8_t *region)
{
	int rc = ag_sink_fill(f->sink, f->ino, ws, region, we - ws);
	size_t k;

	if (rc)
		return rc;
	for (k = i; k < j; k++)
		memcpy(region + (f->r[k].off - ws), f->r[k].buf, f->r[k].len);
	return 0;
}

/* After a commit that streamed range i (its first used bytes went): its
 * unchunked tail is the one range left. */
static void keep_tail(struct ag_file *f, size_t i, size_t used)
{
	struct range keep = f->r[i];

	keep.off += used;
	keep.len -= used;
	memmove(keep.buf, keep.buf + used, keep.len);
	f->r[i].buf = NULL;
	ranges_drop(f, 0, f->nr);
	if (keep.len) {
		f->r[0] = keep;
		f->nr = 1;
	} else {
		free(keep.buf);
	}
}

/* Give f a sink: an idle one or a new one. With f's lock. */
static int sink_take(struct ag_file *f)
{
	struct ag_open_files *t = f->c->open_files;

	if (f->sink)
		return 0;
	pthread_mutex_lock(&t->lock);
	if (t->nidle)
		f->sink = t->idle[--t->nidle];
	pthread_mutex_unlock(&t->lock);
	return f->sink ? 0 : ag_sink_new(f->c, &f->sink);
}

/* f is done with its sink until its next flush. With f's lock. */
static void sink_give_back(struct ag_file *f)
{
	struct ag_open_files *t = f->c->open_files;
	struct ag_sink *s = f->sink;

	if (!s)
		return;
	f->sink = NULL;
	pthread_mutex_lock(&t->lock);
	if (t->nidle < IDLE_SINKS) {
		t->idle[t->nidle++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&t->lock);
	ag_sink_free(s);
}

/* Commit the dirty ranges. Unless final, a last range that appends at the
 * end of the file keeps its bytes after the last cut point. With lock. */
static int flush_try(struct ag_file *f, int final)
{
	size_t streamed = SIZE_MAX; /* bytes of the last range that went */
	size_t app_used = 0;        /* appended bytes that went */
	struct ag_attr a;
	size_t i = 0, j;
	int rc;

	if (!f->nr && !f->app.len)
		return 0;
	rc = sink_take(f);
	if (rc)
		return rc;
	rc = ag_sink_refresh(f->sink);
	if (!rc)
		rc = ag_getattr(f->c, f->ino, &a);
	if (rc)
		return rc;
	if (!S_ISREG(a.mode))
		return -EINVAL;
	while (!rc && i < f->nr) {
		uint64_t ws = f->r[i].off, we = ws + f->r[i].len, dend;
		uint8_t *region = NULL;
		const uint8_t *bytes;
		int stream, filled;
		size_t used;

		rc = ag_sink_widen(f->sink, f->ino, &ws, &we);
		for (j = i + 1; !rc && j < f->nr && f->r[j].off < we; j++) {
			uint64_t s = f->r[j].off, e = s + f->r[j].len;

			rc = ag_sink_widen(f->sink, f->ino, &s, &e);
			we = AG_MAX(we, e);
		}
		if (rc)
			break;
		dend = f->r[j - 1].off + f->r[j - 1].len;
		we = AG_MAX(we, dend);
		/* stream only a pure append: committed bytes never wait in
		 * the unchunked tail, where a crash would lose them */
		stream = !final && j == f->nr && j == i + 1 &&
			 ws == f->r[i].off && ws >= a.size;
		filled = !(j == i + 1 && ws == f->r[i].off && we == dend);
		if (!filled) {
			bytes = f->r[i].buf;
		} else {
			region = malloc(we - ws);
			if (!region) {
				rc = -ENOMEM;
				break;
			}
			rc = fill_region(f, i, j, ws, we, region);
			bytes = region;
		}
		if (!rc)
			rc = ag_sink_begin(f->sink, f->ino, ws, we,
					   AG_MAX(a.size, dend), filled);
		if (!rc)
			rc = ag_sink_bytes(f->sink, bytes, we - ws, ws, !stream,
					   &used);
		if (!rc && stream) {
			rc = ag_sink_size(f->sink, AG_MAX(a.size, ws + used));
			streamed = used;
		}
		free(region);
		i = j;
	}
	if (!rc && f->app.len)
		rc = ag_sink_append(f->sink, f->ino, f->app.buf, f->app.len,
				    final, &app_used);
	if (!rc)
		rc = ag_sink_commit(f->sink, NULL);
	if (!rc && streamed != SIZE_MAX)
		keep_tail(f, f->nr - 1, streamed);
	else if (!rc)
		ranges_drop(f, 0, f->nr);
	if (!rc && app_used) {
		f->app.len -= app_used;
		memmove(f->app.buf, f->app.buf + app_used, f->app.len);
	}
	/* on failure nothing was applied (all or nothing): the ranges stay,
	 * and the half-built transaction goes */
	if (rc)
		ag_sink_abort(f->sink);
	recount(f);
	return rc;
}

static int flush_locked(struct ag_file *f, int final)
{
	int rc = flush_try(f, final), tries = 1;

	/* another commit changed bytes we filled in around ours, or
	 * dropped a chunk we found in the tree: again, from the newest
	 * root */
	while (tries++ < AG_STALE_TRIES && ag_sink_again(f->c, rc))
		rc = flush_try(f, final);
	if (final)
		sink_give_back(f);
	return rc;
}

/* Room for one more range at index i. */
static int range_insert(struct ag_file *f, size_t i, uint64_t off,
			const void *buf, size_t len)
{
	struct range *r;

	if (f->nr == f->rcap) {
		size_t cap = f->rcap ? 2 * f->rcap : 16;

		r = realloc(f->r, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		f->r = r;
		f->rcap = cap;
	}
	r = &f->r[i];
	memmove(r + 1, r, (f->nr - i) * sizeof(*r));
	r->off = off;
	r->len = r->cap = len;
	r->buf = malloc(len);
	if (!r->buf) {
		memmove(r, r + 1, (f->nr - i) * sizeof(*r));
		return -ENOMEM;
	}
	memcpy(r->buf, buf, len);
	f->nr++;
	f->dirty += len;
	return 0;
}

/* Grow range r to end at end (bytes past its old end are left for the
 * caller to fill). */
static int range_grow(struct ag_file *f, struct range *r, uint64_t end)
{
	size_t need = end - r->off;

	if (need > r->cap) {
		size_t cap = AG_MAX(need, 2 * r->cap);
		uint8_t *n = realloc(r->buf, cap);

		if (!n)
			return -ENOMEM;
		r->buf = n;
		r->cap = cap;
	}
	if (need > r->len) {
		f->dirty += need - r->len;
		r->len = need;
	}
	return 0;
}

/* Put [off, off + len) into the dirty ranges, merging the ones it
 * touches. With lock. */
static int add_range(struct ag_file *f, uint64_t off, const uint8_t *buf,
		     size_t len)
{
	uint64_t end = off + len;
	size_t i = 0, j, k, lo = 0, hi = f->nr;
	struct range *r;
	int rc;

	/* i: first range that ends at or after off */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->r[mid].off + f->r[mid].len < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	i = lo;
	/* j: one past the last range that starts at or before end */
	for (j = i; j < f->nr && f->r[j].off <= end; j++)
		;
	if (i == j)
		return range_insert(f, i, off, buf, len);
	r = &f->r[i];
	if (r->off > off) {
		/* starts before the first range it touches: a new buffer */
		uint64_t nend = AG_MAX(end, f->r[j - 1].off + f->r[j - 1].len);
		struct range n = { .off = off, .len = nend - off };

		n.cap = n.len;
		n.buf = malloc(n.len);
		if (!n.buf)
			return -ENOMEM;
		for (k = i; k < j; k++)
			memcpy(n.buf + (f->r[k].off - off), f->r[k].buf,
			       f->r[k].len);
		memcpy(n.buf, buf, len);
		ranges_drop(f, i + 1, j);
		free(r->buf);
		*r = n;
		recount(f);
		return 0;
	}
	/* starts inside (or right after) range i: grow it in place */
	rc = range_grow(f, r, AG_MAX(end, f->r[j - 1].off + f->r[j - 1].len));
	if (rc)
		return rc;
	for (k = i + 1; k < j; k++)
		memcpy(r->buf + (f->r[k].off - r->off), f->r[k].buf,
		       f->r[k].len);
	memcpy(r->buf + (off - r->off), buf, len);
	if (j > i + 1) {
		ranges_drop(f, i + 1, j);
		recount(f); /* the absorbed bytes are counted in r now */
	}
	return 0;
}

/* The first dirty byte of a clean file: check that it is a regular
 * file and start the view's size from the committed one. With lock. */
static int begin_dirty(struct ag_file *f)
{
	struct ag_attr a;
	int rc;

	if (f->dirty)
		return 0;
	rc = ag_getattr(f->c, f->ino, &a);
	if (!rc && !S_ISREG(a.mode))
		rc = S_ISDIR(a.mode) ? -EISDIR : -EINVAL;
	if (!rc)
		atomic_store(&f->vsize, a.size);
	return rc;
}

/* Bytes became dirty; the view grows to end. With lock. */
static int end_dirty(struct ag_file *f, uint64_t end)
{
	if (end > atomic_load(&f->vsize))
		atomic_store(&f->vsize, end);
	atomic_store(&f->vmtime, (int64_t)ag_now_ns());
	atomic_store(&f->has_dirty, 1);
	atomic_store(&f->wrote, 1);
	if (f->dirty >= AG_COMMIT_EVERY || f->nr > MAX_RANGES)
		return flush_locked(f, 0);
	return 0;
}

ssize_t ag_file_write(struct ag_file *f, uint64_t off, const void *buf,
		      size_t len)
{
	int rc = 0;

	if (!f->c->rpc)
		return -EROFS;
	if (off + len < off)
		return -EFBIG;
	if (!len)
		return 0;
	pthread_mutex_lock(&f->lock);
	/* appends that came first go first: they are placed after the
	 * ranges of their flush */
	if (f->app.len)
		rc = flush_locked(f, 1);
	if (!rc)
		rc = begin_dirty(f);
	if (!rc)
		rc = add_range(f, off, buf, len);
	if (!rc)
		rc = end_dirty(f, off + len);
	pthread_mutex_unlock(&f->lock);
	return rc ? rc : (ssize_t)len;
}

ssize_t ag_file_append(struct ag_file *f, const void *buf, size_t len)
{
	int rc = 0;

	if (!f->c->rpc)
		return -EROFS;
	if (!len)
		return 0;
	pthread_mutex_lock(&f->lock);
	rc = begin_dirty(f);
	if (!rc)
		rc = range_grow(f, &f->app, f->app.len + len);
	if (!rc) {
		memcpy(f->app.buf + f->app.len - len, buf, len);
		rc = end_dirty(f, atomic_load(&f->vsize) + len);
	}
	pthread_mutex_unlock(&f->lock);
	return rc ? rc : (ssize_t)len;
}

ssize_t ag_file_read(struct ag_file *f, uint64_t off, void *buf, size_t len)
{
	uint64_t size;
	ssize_t n;
	size_t k;

	if (!atomic_load(&f->has_dirty))
		return ag_read(f->c, f->ino, off, buf, len);
	pthread_mutex_lock(&f->lock);
	/* appended bytes have no offset until metad places them */
	if (f->app.len) {
		int rc = flush_locked(f, 1);

		if (rc) {
			pthread_mutex_unlock(&f->lock);
			return rc;
		}
	}
	if (!f->nr) {
		pthread_mutex_unlock(&f->lock);
		return ag_read(f->c, f->ino, off, buf, len);
	}
	size = atomic_load(&f->vsize);
	if (off >= size) {
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	len = AG_MIN(len, size - off);
	n = ag_read(f->c, f->ino, off, buf, len);
	if (n >= 0) {
		memset((uint8_t *)buf + n, 0, len - n);
		for (k = 0; k < f->nr; k++) {
			const struct range *r = &f->r[k];
			uint64_t s = AG_MAX(off, r->off);
			uint64_t e = AG_MIN(off + len, r->off + r->len);

			if (s < e)
				memcpy((uint8_t *)buf + (s - off),
				       r->buf + (s - r->off), e - s);
		}
		n = (ssize_t)len;
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* A lazy handle's commits are durable only once synced: fsync syncs
 * them all (those of namespace changes of the file included). */
static int durable(struct ag_cluster *c, int rc)
{
	return rc || !(c->flags & AG_OPEN_LAZY) ? rc : ag_cluster_sync(c);
}

int ag_file_flush(struct ag_file *f)
{
	int rc;

	pthread_mutex_lock(&f->lock);
	rc = flush_locked(f, 1);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

int ag_file_fsync(struct ag_file *f)
{
	return durable(f->c, ag_file_flush(f));
}

/* The last close of an inode here: let go of our hold. A file that still
 * has a name is let go of by the next heartbeat, whose set no longer
 * names it (a round trip less per close). One that lost its last name
 * while open, here or through another gateway, is let go of at once:
 * metad drops it unless another gateway holds it (which gets the
 * orphan), and a heartbeat drops one we did not see go. */
static void let_go(struct ag_cluster *c, uint64_t ino)
{
	struct ag_attr a;
	struct ag_txn t;

	if (ag_getattr(c, ino, &a) || a.nlink)
		return;
	if (ag_cl_hold(c, ino, 0) != -ENOTCONN)
		return;
	/* no metad now: the commit below drops our orphan once it is
	 * back, so it does not outlive us */
	ag_cl_txn(c, &t);
	ag_txn_drop_orphan(&t, ino);
	ag_cl_commit(c, &t, NULL);
	ag_txn_release(&t);
}

static void file_free(struct ag_file *f)
{
	ranges_drop(f, 0, f->nr);
	free(f->r);
	free(f->app.buf);
	ag_sink_free(f->sink);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Drop a reference; the last one frees f. */
static void file_put(struct ag_file *f, int last_close)
{
	struct ag_open_files *t = f->c->open_files;
	struct ag_file **p;
	int gone;

	pthread_mutex_lock(&t->lock);
	gone = --f->refs == 0;
	if (gone) {
		for (p = bucket(t, f->ino); *p != f; p = &(*p)->next)
			;
		*p = f->next;
		t->count--;
	}
	pthread_mutex_unlock(&t->lock);
	if (!gone)
		return;
	if (last_close && f->c->rpc)
		let_go(f->c, f->ino);
	file_free(f);
}

/* A close after writes: the event log says so ("closed", event.h). */
static void closed(struct ag_file *f)
{
	struct ag_txn t;

	ag_cl_txn(f->c, &t);
	ag_txn_event(&t, AG_EV_CLOSED, f->c->proto, f->ino);
	ag_cl_commit(f->c, &t, NULL);
	ag_txn_release(&t);
}

int ag_file_close(struct ag_file *f)
{
	int rc;

	if (!f)
		return 0;
	rc = ag_file_flush(f);
	if (rc) {
		/* not committable (no space, inode gone): the bytes are lost,
		 * and this close says so */
		pthread_mutex_lock(&f->lock);
		ranges_drop(f, 0, f->nr);
		recount(f);
		pthread_mutex_unlock(&f->lock);
	} else if (atomic_exchange(&f->wrote, 0)) {
		closed(f);
	}
	file_put(f, 1);
	return rc;
}

/* Commit ino's dirty bytes, if it is open here with any. */
static int flush_ino(struct ag_cluster *c, uint64_t ino)
{
	struct ag_file *f = file_get(c, ino);
	int rc;

	if (!f)
		return 0;
	rc = atomic_load(&f->has_dirty) ? ag_file_flush(f) : 0;
	file_put(f, 0);
	return rc;
}

int ag_file_getattr(struct ag_cluster *c, uint64_t ino, struct ag_attr *a)
{
	struct ag_open_files *t = c->open_files;
	struct ag_file *f;
	int rc = ag_getattr(c, ino, a);

	if (rc)
		return rc;
	pthread_mutex_lock(&t->lock);
	f = t->count ? find(t, ino) : NULL;
	if (f && atomic_load(&f->has_dirty)) {
		int64_t m = atomic_load(&f->vmtime);

		a->size = AG_MAX(a->size, atomic_load(&f->vsize));
		a->mtime = AG_MAX(a->mtime, m);
		a->ctime = AG_MAX(a->ctime, m);
	}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int ag_file_setattr(struct ag_cluster *c, uint64_t ino, unsigned mask,
		    const struct ag_attr *in, struct ag_attr *out)
{
	/* a size or time set now must not be undone by older bytes
	 * committed later */
	int rc = flush_ino(c, ino);

	return rc ? rc : ag_setattr(c, ino, mask, in, out);
}

int ag_file_sync(struct ag_cluster *c, uint64_t ino)
{
	return durable(c, flush_ino(c, ino));
}

/* One try at punching [off, end) of ino, as s's root sees it. */
static int punch_try(struct ag_sink *s, uint64_t ino, uint64_t off,
		     uint64_t end, uint64_t size)
{
	uint64_t ws = off, we = end;
	uint8_t *head = NULL, *tail = NULL;
	size_t used;
	int rc = ag_sink_refresh(s);

	if (!rc)
		rc = ag_sink_widen(s, ino, &ws, &we);
	if (rc)
		return rc;
	/* the extents cut at either edge are rewritten without the hole */
	head = malloc(off - ws + 1);
	tail = malloc(we - end + 1);
	if (!head || !tail) {
		rc = -ENOMEM;
		goto out;
	}
	rc = ag_sink_fill(s, ino, ws, head, off - ws);
	if (!rc)
		rc = ag_sink_fill(s, ino, end, tail, we - end);
	if (!rc)
		rc = ag_sink_begin(s, ino, ws, we, size, off > ws || we > end);
	if (!rc && off > ws)
		rc = ag_sink_bytes(s, head, off - ws, ws, 1, &used);
	if (!rc && we > end)
		rc = ag_sink_bytes(s, tail, we - end, end, 1, &used);
	if (!rc)
		rc = ag_sink_commit(s, NULL);
out:
	free(head);
	free(tail);
	return rc;
}

int ag_file_punch(struct ag_cluster *c, uint64_t ino, uint64_t off,
		  uint64_t len)
{
	uint64_t end = off + len;
	struct ag_sink *s = NULL;
	struct ag_attr a;
	int rc, tries = 0;

	if (end < off)
		return -EFBIG;
	rc = flush_ino(c, ino);
	if (!rc)
		rc = ag_getattr(c, ino, &a);
	if (rc)
		return rc;
	if (!S_ISREG(a.mode))
		return S_ISDIR(a.mode) ? -EISDIR : -EINVAL;
	end = AG_MIN(end, a.size);
	if (off >= end)
		return 0;
	rc = ag_sink_new(c, &s);
	if (rc)
		return rc;
	do
		rc = punch_try(s, ino, off, end, a.size);
	while (++tries < AG_STALE_TRIES && ag_sink_again(c, rc));
	ag_sink_free(s);
	return rc;
}

/* Walk ino's extents from off: *data gets the first data byte at or after
 * off (UINT64_MAX: none), *hole the first byte at or after off that no
 * extent covers. */
static int tree_seek(struct ag_tree *t, uint64_t ino, uint64_t off,
		     uint64_t *data, uint64_t *hole)
{
	struct ag_extent_walk w;
	struct ag_extent x;
	int rc;

	*data = UINT64_MAX;
	*hole = off;
	rc = ag_extent_walk_start(t, ino, off, &w);
	if (rc)
		return rc;
	while ((rc = ag_extent_walk_next(&w, &x)) == 1) {
		if (*data == UINT64_MAX)
			*data = AG_MAX(off, x.off);
		if (x.off > *hole)
			break; /* a gap: the hole found stays */
		*hole = x.off + x.len;
	}
	ag_extent_walk_end(&w);
	return rc < 0 ? rc : 0;
}

int ag_file_seek(struct ag_cluster *c, uint64_t ino, uint64_t off,
		 int whence, uint64_t *pos)
{
	uint64_t data, hole;
	struct ag_tree *t;
	struct ag_attr a;
	int rc = flush_ino(c, ino);

	if (!rc)
		rc = ag_getattr(c, ino, &a);
	if (rc)
		return rc;
	if (off >= a.size)
		return -ENXIO;
	rc = ag_cl_tree(c, &t);
	if (rc)
		return rc;
	rc = tree_seek(t, ino, off, &data, &hole);
	ag_tree_close(t);
	if (rc)
		return rc;
	if (whence == SEEK_DATA) {
		if (data >= a.size)
			return -ENXIO;
		*pos = data;
	} else {
		*pos = AG_MIN(hole, a.size);
	}
	return 0;
}

ssize_t ag_file_clone(struct ag_cluster *c, uint64_t src, uint64_t soff,
		      uint64_t dst, uint64_t doff, uint64_t len)
{
	int rc = flush_ino(c, src);

	if (!rc && dst != src)
		rc = flush_ino(c, dst);
	return rc ? rc : ag_clone_range(c, src, soff, dst, doff, len);
}

static void table_free(struct ag_open_files *t)
{
	struct ag_file *f, *next;
	int i;

	if (!t)
		return;
	for (i = 0; i < BUCKETS; i++) {
		for (f = t->b[i]; f; f = next) {
			next = f->next;
			if (f->c->rpc && flush_locked(f, 1))
				AG_ERR("inode %llu: buffered writes lost at close",
				       (unsigned long long)f->ino);
			file_free(f);
		}
	}
	while (t->nidle)
		ag_sink_free(t->idle[--t->nidle]);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

const struct ag_open_ops ag_open_files_ops = {
	.make = table_new,
	.drop = table_free,
	.none = table_none,
	.has = table_has,
	.list = table_list,
};
