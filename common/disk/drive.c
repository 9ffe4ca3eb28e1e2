/*
 * drive.c - open, label and do I/O on the drives of a cluster.
 *
 * Drives are opened O_DIRECT when the file system allows it (tmpfs does
 * not: we fall back to buffered I/O and rely on fdatasync). Labels decide
 * which drive is which, so the order of paths in the config does not
 * matter once a cluster is formatted. What lies on a drive past its label
 * belongs to the layers above: the commit ring to commit.c, pages to
 * pager.c, strips to stripe.c; this file only formats the ring empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drive.h"
#include "format.h"
#include "pool.h"
#include "util.h"

/* The commit ring's extent (format.h), which mkfs blanks. */
#define RING_LEN ((ssize_t)(AG_COMMIT_SLOTS * AG_BLOCK))

int (*ag_drive_fault_hook)(int drive, int is_write, uint64_t off, size_t len);

void ag_label_encode(uint8_t *b, const struct ag_label *l)
{
	memset(b, 0, AG_BLOCK);
	memcpy(b, AG_LABEL_MAGIC, 8);
	put_le32(b + 8, l->version);
	put_le32(b + 12, l->index);
	memcpy(b + 16, l->uuid, 16);
	put_le32(b + 32, l->ndrives);
	put_le32(b + 36, l->ec_k);
	put_le32(b + 40, l->ec_m);
	put_le32(b + 44, l->page_size);
	put_le32(b + 48, l->strip_size);
	put_le32(b + 52, l->nsegments);
	put_le64(b + 56, l->segment_size);
	put_le64(b + 64, l->drive_size);
	put_le32(b + 72, l->chunk_min);
	put_le32(b + 76, l->chunk_avg);
	put_le32(b + 80, l->chunk_max);
	put_le32(b + 84, (uint32_t)l->zstd_level);
	put_le64(b + 88, l->created);
	put_le32(b + 4092, ag_crc32c(b, 4092));
}

/* 0, -ENOENT when there is no label at all, -AG_ECORRUPT when damaged. */
int ag_label_decode(const uint8_t *b, struct ag_label *l)
{
	if (memcmp(b, AG_LABEL_MAGIC, 8))
		return -ENOENT;
	if (get_le32(b + 4092) != ag_crc32c(b, 4092))
		return -AG_ECORRUPT;
	l->version = get_le32(b + 8);
	l->index = get_le32(b + 12);
	memcpy(l->uuid, b + 16, 16);
	l->ndrives = get_le32(b + 32);
	l->ec_k = get_le32(b + 36);
	l->ec_m = get_le32(b + 40);
	l->page_size = get_le32(b + 44);
	l->strip_size = get_le32(b + 48);
	l->nsegments = get_le32(b + 52);
	l->segment_size = get_le64(b + 56);
	l->drive_size = get_le64(b + 64);
	l->chunk_min = get_le32(b + 72);
	l->chunk_avg = get_le32(b + 76);
	l->chunk_max = get_le32(b + 80);
	l->zstd_level = (int32_t)get_le32(b + 84);
	l->created = get_le64(b + 88);
	if (l->version != AG_FORMAT_VERSION)
		return -EMEDIUMTYPE;
	if (l->ndrives < AG_MIN_DRIVES ||
	    l->ndrives > AG_MAX_DRIVES || l->index >= l->ndrives ||
	    l->page_size != AG_PAGE_SIZE || !l->strip_size ||
	    l->strip_size % AG_BLOCK || l->segment_size % l->strip_size ||
	    l->ec_k + l->ec_m > l->ndrives || !l->ec_k)
		return -AG_ECORRUPT;
	return 0;
}

static int open_path(const char *path, int flags, int *direct)
{
	int fd = open(path, flags | O_DIRECT | O_CLOEXEC, 0600);

	*direct = fd >= 0;
	if (fd < 0 && errno == EINVAL)
		fd = open(path, flags | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

static uint64_t fd_size(int fd)
{
	struct stat st;
	uint64_t sz = 0;

	if (fstat(fd, &st))
		return 0;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);

		sz = end > 0 ? (uint64_t)end : 0;
	} else {
		sz = st.st_size;
	}
	return sz;
}

/* Blank the commit ring of the drive open on fd, then label it l and
 * sync: an old commit ring must never outlive a new label (its slots are
 * commit.c's business). ring is RING_LEN zeros, blk a block to use. 0 or
 * -1 with errno set. */
static int write_fresh(int fd, const struct ag_label *l, const uint8_t *ring,
		       uint8_t *blk)
{
	if (pwrite(fd, ring, RING_LEN, AG_COMMIT_OFF) != RING_LEN)
		return -1;
	ag_label_encode(blk, l);
	if (pwrite(fd, blk, AG_BLOCK, 0) != AG_BLOCK || fdatasync(fd))
		return -1;
	return 0;
}

/* Why drive i can no longer be trusted, or NULL: its file was removed,
 * or (thorough: a stat of its path too) replaced, or it is shorter than
 * its label says. A write past the end of a truncated file only grows
 * it back, sparse, over what was lost, so writes would go on "landing"
 * while the redundancy they count on is gone. */
static const char *drive_gone(struct ag_drives *ds, int i, int thorough)
{
	const struct ag_drive *d = &ds->d[i];
	struct stat st, now;

	if (fstat(d->fd, &st))
		return "cannot be examined";
	if (S_ISREG(st.st_mode) && !st.st_nlink)
		return "was removed";
	if (thorough && d->real &&
	    (stat(d->real, &now) || now.st_dev != st.st_dev ||
	     now.st_ino != st.st_ino || now.st_rdev != st.st_rdev))
		return "was removed or replaced";
	if ((S_ISREG(st.st_mode) ? (uint64_t)st.st_size : fd_size(d->fd)) <
	    ds->label.drive_size)
		return "was truncated";
	return NULL;
}

void ag_drive_fail(struct ag_drives *ds, int i, const char *why)
{
	enum ag_drive_state ok = AG_DRIVE_OK;

	/* once: every thread that meets it may get here */
	if (atomic_compare_exchange_strong(&ds->d[i].state, &ok,
					   AG_DRIVE_FAILED))
		AG_ERR("drive %d (%s) %s: marked failed, running degraded "
		       "without it", i, ds->d[i].path ? ds->d[i].path : "?",
		       why);
}

/* Whether the label drive i holds now is still the one it was opened
 * with (another mkfs or a stray copy over it would make every strip of
 * it lie). A label that cannot be read is the I/O error's business. */
static int label_changed(struct ag_drives *ds, int i)
{
	uint8_t *b = ag_alloc_aligned(AG_BLOCK);
	struct ag_label l;
	int changed = 0;

	if (!b)
		return 0;
	if (!ag_drive_read(ds, i, b, AG_BLOCK, 0))
		changed = ag_label_decode(b, &l) ||
			  memcmp(l.uuid, ds->label.uuid, 16) ||
			  l.index != (uint32_t)i || l.created != ds->d[i].born;
	free(b);
	return changed;
}

int ag_drives_check(struct ag_drives *ds)
{
	int i, failed = 0;

	for (i = 0; i < ds->n; i++) {
		const char *why;

		if (ds->d[i].state != AG_DRIVE_OK) {
			if (ds->d[i].path)
				ag_drive_adopt(ds, i);
			continue;
		}
		why = drive_gone(ds, i, 1);
		if (!why && label_changed(ds, i))
			why = "has another label now";
		if (why) {
			ag_drive_fail(ds, i, why);
			failed++;
		}
	}
	return failed;
}

/* Whether label l is one of this cluster's, for slot i, of its shape. */
static int label_fits(const struct ag_drives *ds, const struct ag_label *l,
		      int i)
{
	const struct ag_label *c = &ds->label;

	return !memcmp(l->uuid, c->uuid, 16) && l->index == (uint32_t)i &&
	       l->ndrives == c->ndrives && l->ec_k == c->ec_k &&
	       l->ec_m == c->ec_m && l->page_size == c->page_size &&
	       l->strip_size == c->strip_size &&
	       l->nsegments == c->nsegments &&
	       l->segment_size == c->segment_size &&
	       l->drive_size == c->drive_size;
}

/* Whether fd is the very file or device the descriptor old is. */
static int same_file(int fd, int old)
{
	struct stat a, b;

	return old >= 0 && !fstat(fd, &a) && !fstat(old, &b) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
	       a.st_rdev == b.st_rdev;
}

int ag_drive_adopt(struct ag_drives *ds, int i)
{
	struct ag_drive *d = &ds->d[i];
	uint8_t *b = NULL;
	struct ag_label l;
	int fd, direct, rc;

	if (d->state == AG_DRIVE_OK)
		return -EALREADY;
	if (!d->path)
		return -ENOENT;
	fd = open_path(d->path, O_RDWR, &direct);
	if (fd < 0)
		return fd;
	b = ag_alloc_aligned(AG_BLOCK);
	rc = !b ? -ENOMEM : pread(fd, b, AG_BLOCK, 0) != AG_BLOCK ? -EIO : 0;
	if (!rc && (ag_label_decode(b, &l) || !label_fits(ds, &l, i)))
		rc = -ENOENT;
	if (!rc && fd_size(fd) < ds->label.drive_size)
		rc = -ENOENT;
	/* the drive we knew there, back as it was (or a copy of it), stays
	 * out: only one formatted for the slot since is taken in */
	if (!rc && d->born && l.created == d->born)
		rc = -ESTALE;
	free(b);
	if (rc) {
		close(fd);
		return rc;
	}
	if (d->retired_fd >= 0)
		close(d->retired_fd);
	if (d->retired_cached_fd >= 0)
		close(d->retired_cached_fd);
	d->retired_fd = d->fd;
	d->retired_cached_fd = d->cached_fd;
	d->cached_fd = -1;
	d->direct = direct;
	d->born = l.created;
	if (!d->real)
		d->real = realpath(d->path, NULL);
	d->fd = fd;
	atomic_store(&d->error_run, 0);
	atomic_store(&d->state, AG_DRIVE_OK);
	AG_WARN("drive %d (%s): a new drive for this slot, in use again "
		"(its copies come back with agora drive replace or scrub "
		"--repair)", i, d->path);
	return 0;
}

uint64_t ag_drive_new_birth(const struct ag_drives *ds, int i)
{
	uint64_t now = ag_now_ns() / 1000000000ull;

	return now > ds->d[i].born ? now : ds->d[i].born + 1;
}

int ag_drive_format_one(struct ag_drives *ds, int i, const char *path,
			int force, uint64_t created, const void *note,
			uint64_t note_off)
{
	struct ag_label l = ds->label, old;
	uint8_t *blk = ag_alloc_aligned(AG_BLOCK), *ring = ag_alloc_aligned(RING_LEN);
	int fd = -1, direct, j, rc = -ENOMEM;
	struct stat st;

	if (!blk || !ring)
		goto out;
	memset(ring, 0, RING_LEN);
	fd = open_path(path, O_RDWR | O_CREAT, &direct);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	for (j = 0; j < ds->n; j++) {
		if (ds->d[j].state == AG_DRIVE_OK && same_file(fd, ds->d[j].fd)) {
			AG_ERR("%s is drive %d of the cluster, in use", path, j);
			rc = -EBUSY;
			goto out;
		}
	}
	rc = pread(fd, blk, AG_BLOCK, 0) == AG_BLOCK ?
	     ag_label_decode(blk, &old) : -ENOENT;
	if (rc != -ENOENT && !force &&
	    (rc || memcmp(old.uuid, ds->label.uuid, 16))) {
		AG_ERR("%s holds the label of another cluster; use --force to "
		       "destroy it", path);
		rc = -EEXIST;
		goto out;
	}
	if (fd_size(fd) < l.drive_size &&
	    (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	     ftruncate(fd, (off_t)l.drive_size))) {
		AG_ERR("%s: smaller than the cluster's drives and cannot grow",
		       path);
		rc = -ENOSPC;
		goto out;
	}
	l.index = (uint32_t)i;
	/* a new creation time tells this drive from the one it replaces */
	l.created = created;
	rc = 0;
	if (note && pwrite(fd, note, AG_BLOCK, (off_t)note_off) != AG_BLOCK)
		rc = -errno;
	if (!rc && write_fresh(fd, &l, ring, blk))
		rc = -errno;
	if (rc)
		AG_ERR("%s: %s", path, strerror(-rc));
out:
	if (fd >= 0)
		close(fd);
	free(blk);
	free(ring);
	return rc;
}

/* An I/O of drive i failed: count it, and fail the drive once it has
 * failed AG_DRIVE_ERROR_RUN times in a row (a drive that errs now and
 * then is read around; one that no longer answers is dropped). -EIO. */
static int io_failed(struct ag_drives *ds, int i, int is_write)
{
	struct ag_drive *d = &ds->d[i];

	atomic_fetch_add(is_write ? &d->write_errors : &d->read_errors, 1);
	if (atomic_fetch_add(&d->error_run, 1) + 1 == AG_DRIVE_ERROR_RUN)
		ag_drive_fail(ds, i, "gave I/O errors over and over");
	return -EIO;
}

static void io_worked(struct ag_drive *d)
{
	if (atomic_load_explicit(&d->error_run, memory_order_relaxed))
		atomic_store(&d->error_run, 0);
}

static int raw_io(struct ag_drives *ds, int i, int is_write, void *buf,
		  size_t len, uint64_t off)
{
	struct ag_drive *d = &ds->d[i];
	uint8_t *p = buf;

	if (d->state != AG_DRIVE_OK || d->fd < 0)
		return -EIO;
	if (ag_drive_fault_hook) {
		int f = ag_drive_fault_hook(i, is_write, off, len);

		if (f < 0)
			goto fail;
		if (f > 0 && is_write)
			return 0;
	}
	while (len) {
		ssize_t n = is_write ? pwrite(d->fd, p, len, off)
				     : pread(d->fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOSPC)
			return -ENOSPC;
		if (n <= 0) {
			if (n == 0 && !is_write &&
			    off >= ds->label.drive_size) {
				memset(p, 0, len); /* past the end reads zeros */
				return 0;
			}
			if (n == 0 && !is_write)
				ag_drive_fail(ds, i, "was truncated");
			goto fail;
		}
		p += n;
		len -= n;
		off += n;
	}
	io_worked(d);
	return 0;
fail:
	return io_failed(ds, i, is_write);
}

/* Unaligned reads are the read path's common case (chunks are packed
 * byte-granular) and each needs an aligned bounce buffer: a thread keeps
 * one of up to BOUNCE_KEEP bytes, since a fresh posix_memalign and free
 * of a strip's size per read showed in random-read profiles. */
#define BOUNCE_KEEP (1u << 20)

struct bounce {
	uint8_t *p;
	size_t cap;
};

static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;
static int bounce_key_ok;

static void bounce_free(void *arg)
{
	struct bounce *b = arg;

	free(b->p);
	free(b);
}

static void bounce_key_make(void)
{
	bounce_key_ok = !pthread_key_create(&bounce_key, bounce_free);
}

/* An aligned buffer of len bytes: the thread's own (bounce_put keeps
 * it) or, past BOUNCE_KEEP or without a key, a fresh one. */
static uint8_t *bounce_get(size_t len)
{
	struct bounce *b;

	pthread_once(&bounce_once, bounce_key_make);
	if (len > BOUNCE_KEEP || !bounce_key_ok)
		return ag_alloc_aligned(len);
	b = pthread_getspecific(bounce_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return ag_alloc_aligned(len);
		if (pthread_setspecific(bounce_key, b)) {
			free(b);
			return ag_alloc_aligned(len);
		}
	}
	if (b->cap < len) {
		uint8_t *p = ag_alloc_aligned(BOUNCE_KEEP);

		if (!p)
			return NULL;
		free(b->p);
		b->p = p;
		b->cap = BOUNCE_KEEP;
	}
	return b->p;
}

static void bounce_put(uint8_t *p)
{
	struct bounce *b = bounce_key_ok ? pthread_getspecific(bounce_key)
					 : NULL;

	if (!b || p != b->p)
		free(p);
}

static int drive_io(struct ag_drives *ds, int i, int is_write, void *buf,
		    size_t len, uint64_t off)
{
	struct ag_drive *d = &ds->d[i];
	uint64_t start, end;
	uint8_t *bounce;
	int rc;

	if (i < 0 || i >= ds->n)
		return -EINVAL;
	if (!d->direct ||
	    (!(off % AG_BLOCK) && !(len % AG_BLOCK) &&
	     !((uintptr_t)buf % AG_BLOCK)))
		return raw_io(ds, i, is_write, buf, len, off);
	start = off & ~(uint64_t)(AG_BLOCK - 1);
	end = (off + len + AG_BLOCK - 1) & ~(uint64_t)(AG_BLOCK - 1);
	bounce = bounce_get(end - start);
	if (!bounce)
		return -ENOMEM;
	if (is_write && (start != off || end != off + len)) {
		/* read-modify-write of the edge blocks: only the label and
		 * commit paths ever write unaligned, and they write whole
		 * blocks, so this is a fallback, not a hot path */
		rc = raw_io(ds, i, 0, bounce, end - start, start);
		if (rc)
			goto out;
	}
	if (is_write) {
		memcpy(bounce + (off - start), buf, len);
		rc = raw_io(ds, i, 1, bounce, end - start, start);
	} else {
		rc = raw_io(ds, i, 0, bounce, end - start, start);
		if (!rc)
			memcpy(buf, bounce + (off - start), len);
	}
out:
	bounce_put(bounce);
	return rc;
}

int ag_drive_read(struct ag_drives *ds, int i, void *buf, size_t len,
		  uint64_t off)
{
	return drive_io(ds, i, 0, buf, len, off);
}

int ag_drive_write(struct ag_drives *ds, int i, const void *buf, size_t len,
		   uint64_t off)
{
	return drive_io(ds, i, 1, (void *)buf, len, off);
}

int ag_drive_sync(struct ag_drives *ds, int i)
{
	struct ag_drive *d = &ds->d[i];
	const char *why;

	if (d->state != AG_DRIVE_OK)
		return 1; /* not counted either way */
	if (fdatasync(d->fd)) {
		atomic_fetch_add(&d->write_errors, 1);
		return -EIO;
	}
	/* what a sync made durable must be on the drive we think it is */
	why = drive_gone(ds, i, 0);
	if (why) {
		ag_drive_fail(ds, i, why);
		return -EIO;
	}
	return 0;
}

/* ag_drive_sync as a pool job. */
static int sync_one(struct ag_drives *ds, int i, void *arg)
{
	(void)arg;
	return ag_drive_sync(ds, i);
}

/* Drive i's descriptor through the page cache (opened on first use). */
static int cached_fd(struct ag_drive *d)
{
	if (!d->direct)
		return d->fd;
	if (d->cached_fd < 0)
		d->cached_fd = open(d->real ? d->real : d->path,
				    O_RDWR | O_CLOEXEC);
	return d->cached_fd;
}

static int writev_fd(struct ag_drives *ds, int i, int fd,
		     const struct iovec *iov, int iovcnt, uint64_t off)
{
	struct ag_drive *d = &ds->d[i];
	size_t len = 0;
	ssize_t n;
	int k;

	for (k = 0; k < iovcnt; k++)
		len += iov[k].iov_len;
	if (d->state != AG_DRIVE_OK || fd < 0)
		return -EIO;
	if (ag_drive_fault_hook) {
		int f = ag_drive_fault_hook(i, 1, off, len);

		if (f > 0)
			return 0;
		if (f < 0)
			return io_failed(ds, i, 1);
	}
	do
		n = pwritev(fd, iov, iovcnt, off);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == ENOSPC)
			return -ENOSPC;
		return io_failed(ds, i, 1);
	}
	io_worked(d);
	/* a short write: finish the rest buffer by buffer */
	for (k = 0; (size_t)n < len && k < iovcnt; k++) {
		size_t l = iov[k].iov_len;
		int rc;

		if ((size_t)n >= l) {
			n -= l;
			off += l;
			len -= l;
			continue;
		}
		rc = ag_drive_write(ds, i, (uint8_t *)iov[k].iov_base + n,
				    l - n, off + n);
		if (rc)
			return rc;
		off += l;
		len -= l;
		n = 0;
	}
	return 0;
}

int ag_drive_writev(struct ag_drives *ds, int i, const struct iovec *iov,
		    int iovcnt, uint64_t off)
{
	return writev_fd(ds, i, ds->d[i].fd, iov, iovcnt, off);
}

int ag_drive_writev_cached(struct ag_drives *ds, int i,
			   const struct iovec *iov, int iovcnt, uint64_t off)
{
	return writev_fd(ds, i, cached_fd(&ds->d[i]), iov, iovcnt, off);
}

int ag_drives_sync(struct ag_drives *ds, int *rcs)
{
	int i, ok = 0, rc = 0, mine[AG_MAX_DRIVES];

	if (!rcs)
		rcs = mine;
	ag_pool_run(ds, sync_one, NULL, rcs);
	for (i = 0; i < ds->n; i++) {
		if (!rcs[i])
			ok++;
		else if (rcs[i] < 0)
			rc = rcs[i];
	}
	return ok ? 0 : rc ? rc : -AG_ENOQUORUM;
}

/* Zeros (chunk bytes of them) over the holes of [off, off + len) of drive
 * i if it is a file, then a sync, so that later writes there are
 * overwrites. */
static void fill_one(struct ag_drives *ds, int i, uint64_t off,
		     uint64_t len, const void *zero, size_t chunk)
{
	struct ag_drive *d = &ds->d[i];
	uint64_t end = off + len, pos = off;
	struct stat st;
	int wrote = 0;

	if (d->state != AG_DRIVE_OK || fstat(d->fd, &st) || !S_ISREG(st.st_mode))
		return;
	while (pos < end) {
		off_t hole = lseek(d->fd, (off_t)pos, SEEK_HOLE), data;
		uint64_t stop;

		if (hole < 0 || (uint64_t)hole >= end)
			break;
		data = lseek(d->fd, hole, SEEK_DATA);
		stop = data < 0 || (uint64_t)data > end ? end : (uint64_t)data;
		/* a hole ends and starts on block boundaries */
		for (pos = (uint64_t)hole; pos < stop; pos += chunk) {
			size_t n = AG_MIN(chunk, stop - pos);

			if (ag_drive_write(ds, i, zero, n, pos))
				return; /* an optimisation only */
			wrote = 1;
		}
	}
	if (wrote)
		fdatasync(d->fd);
}

void ag_drives_fill_holes(struct ag_drives *ds, uint64_t off, uint64_t len)
{
	size_t chunk = 1u << 20;
	void *zero = ag_alloc_aligned(chunk);
	int i;

	if (!zero)
		return;
	memset(zero, 0, chunk);
	for (i = 0; i < ds->n; i++)
		fill_one(ds, i, off, len, zero, chunk);
	free(zero);
}

static int label_from_config(const struct ag_config *cfg, struct ag_label *l)
{
	uint64_t usable;

	memset(l, 0, sizeof(*l));
	l->version = AG_FORMAT_VERSION;
	l->ndrives = cfg->ndrives;
	l->ec_k = cfg->ec_k;
	l->ec_m = cfg->ec_m;
	l->page_size = AG_PAGE_SIZE;
	l->strip_size = cfg->strip_size;
	l->segment_size = cfg->segment_size;
	l->drive_size = cfg->drive_size;
	l->chunk_min = cfg->chunk_min;
	l->chunk_avg = cfg->chunk_avg;
	l->chunk_max = cfg->chunk_max;
	l->zstd_level = cfg->zstd_level;
	l->created = ag_now_ns() / 1000000000ull;
	if (cfg->ndrives < AG_MIN_DRIVES) {
		AG_ERR("a cluster needs at least %d drives, the config has %d",
		       AG_MIN_DRIVES, cfg->ndrives);
		return -EINVAL;
	}
	if (cfg->ec_k + cfg->ec_m > cfg->ndrives) {
		AG_ERR("ec %d+%d needs %d drives, the config has %d",
		       cfg->ec_k, cfg->ec_m, cfg->ec_k + cfg->ec_m,
		       cfg->ndrives);
		return -EINVAL;
	}
	if (!cfg->strip_size || cfg->strip_size % AG_BLOCK ||
	    cfg->segment_size % cfg->strip_size ||
	    cfg->segment_size < 16ull * cfg->strip_size) {
		AG_ERR("strip_size must be a multiple of 4K and segment_size "
		       "a multiple of at least 16 strips");
		return -EINVAL;
	}
	if (cfg->chunk_min < 64 || cfg->chunk_min > cfg->chunk_avg ||
	    cfg->chunk_avg > cfg->chunk_max || cfg->chunk_max > (4u << 20)) {
		AG_ERR("need 64 <= chunk_min <= chunk_avg <= chunk_max <= 4M");
		return -EINVAL;
	}
	if (cfg->drive_size < AG_DATA_START + 8 * cfg->segment_size) {
		AG_ERR("drive_size is too small: at least %llu bytes",
		       (unsigned long long)(AG_DATA_START +
					    8 * cfg->segment_size));
		return -EINVAL;
	}
	usable = cfg->drive_size - AG_DATA_START;
	l->nsegments = usable / cfg->segment_size;
	if ((uint64_t)cfg->ndrives * (cfg->segment_size / AG_PAGE_SIZE) / 3 >
	    AG_MAX_PAGE_SLOTS) {
		AG_ERR("segment_size is too large for %d drives: a segment may "
		       "hold at most %u metadata pages", cfg->ndrives,
		       AG_MAX_PAGE_SLOTS);
		return -EINVAL;
	}
	return ag_random(l->uuid, 16);
}

int ag_drives_format(const struct ag_config *cfg, int force,
		     struct ag_label *out)
{
	struct ag_label l;
	uint8_t *blk = NULL, *ring = NULL;
	int i, rc, fds[AG_MAX_DRIVES];

	rc = label_from_config(cfg, &l);
	if (rc)
		return rc;
	blk = ag_alloc_aligned(AG_BLOCK);
	ring = ag_alloc_aligned(RING_LEN);
	if (!blk || !ring) {
		free(blk);
		free(ring);
		return -ENOMEM;
	}
	memset(ring, 0, RING_LEN);
	for (i = 0; i < cfg->ndrives; i++)
		fds[i] = -1;
	for (i = 0; i < cfg->ndrives; i++) {
		struct ag_label old;
		struct stat st, other;
		int direct, j;

		fds[i] = open_path(cfg->drives[i], O_RDWR | O_CREAT, &direct);
		if (fds[i] < 0) {
			rc = fds[i];
			AG_ERR("%s: %s", cfg->drives[i], strerror(-rc));
			goto out;
		}
		/* one file or device named twice would hold two strips of
		 * every stripe: losing it would lose both */
		for (j = 0; j < i; j++) {
			if (!fstat(fds[i], &st) && !fstat(fds[j], &other) &&
			    st.st_dev == other.st_dev &&
			    st.st_ino == other.st_ino &&
			    st.st_rdev == other.st_rdev) {
				AG_ERR("%s and %s are the same drive",
				       cfg->drives[j], cfg->drives[i]);
				rc = -EINVAL;
				goto out;
			}
		}
		if (fd_size(fds[i]) < cfg->drive_size) {
			if (fstat(fds[i], &st) || !S_ISREG(st.st_mode) ||
			    ftruncate(fds[i], cfg->drive_size)) {
				rc = -ENOSPC;
				AG_ERR("%s: smaller than drive_size and cannot "
				       "grow", cfg->drives[i]);
				goto out;
			}
		}
		if (pread(fds[i], blk, AG_BLOCK, 0) == AG_BLOCK &&
		    ag_label_decode(blk, &old) != -ENOENT && !force) {
			AG_ERR("%s already holds an Agora label; use --force "
			       "to destroy it", cfg->drives[i]);
			rc = -EEXIST;
			goto out;
		}
	}
	for (i = 0; i < cfg->ndrives; i++) {
		l.index = i;
		if (write_fresh(fds[i], &l, ring, blk))
			goto ioerr;
	}
	l.index = 0;
	*out = l;
	rc = 0;
	goto out;
ioerr:
	rc = errno ? -errno : -EIO;
	AG_ERR("%s: %s", cfg->drives[i], strerror(errno));
out:
	for (i = 0; i < cfg->ndrives; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(ring);
	free(blk);
	return rc;
}

/* Pick the cluster label most drives agree on: the one that mkfs wrote. */
static int pick_cluster(struct ag_label *labels, const int *ok, int n)
{
	int best = -1, best_votes = 0, i, j;

	for (i = 0; i < n; i++) {
		int votes = 0;

		if (!ok[i])
			continue;
		for (j = 0; j < n; j++)
			if (ok[j] && !memcmp(labels[i].uuid, labels[j].uuid, 16))
				votes++;
		if (votes > best_votes) {
			best = i;
			best_votes = votes;
		}
	}
	return best;
}

int ag_drives_open(const struct ag_config *cfg, struct ag_drives **dsp)
{
	struct ag_label labels[AG_MAX_DRIVES];
	int fds[AG_MAX_DRIVES], direct[AG_MAX_DRIVES], ok[AG_MAX_DRIVES];
	uint8_t foreign[AG_MAX_DRIVES] = { 0 };
	struct ag_drives *ds;
	uint8_t *blk;
	int i, best, rc = 0, other_format = -1;

	ds = calloc(1, sizeof(*ds));
	blk = ag_alloc_aligned(AG_BLOCK);
	if (!ds || !blk) {
		free(ds);
		free(blk);
		return -ENOMEM;
	}
	ag_pool_init(&ds->pool);
	for (i = 0; i < cfg->ndrives; i++) {
		ok[i] = 0;
		fds[i] = open_path(cfg->drives[i], O_RDWR, &direct[i]);
		if (fds[i] < 0) {
			AG_WARN("drive %s: %s", cfg->drives[i],
				strerror(-fds[i]));
			continue;
		}
		if (pread(fds[i], blk, AG_BLOCK, 0) != AG_BLOCK) {
			AG_WARN("drive %s: cannot read its label",
				cfg->drives[i]);
			continue;
		}
		rc = ag_label_decode(blk, &labels[i]);
		if (rc == -EMEDIUMTYPE) {
			if (other_format < 0)
				other_format = i;
		} else if (rc == -ENOENT)
			AG_WARN("drive %s: no Agora label (not formatted, or "
				"zeroed)", cfg->drives[i]);
		else if (rc)
			AG_WARN("drive %s: damaged label", cfg->drives[i]);
		else
			ok[i] = 1;
	}
	if (other_format >= 0) {
		/* its pages and records may not even parse: never run
		 * beside such a drive, nor in its place */
		AG_ERR("drive %s was formatted with on-drive format %u; this "
		       "Agora reads format %u: copy the data out with the "
		       "Agora that wrote it and format again",
		       cfg->drives[other_format], labels[other_format].version,
		       AG_FORMAT_VERSION);
		rc = -EMEDIUMTYPE;
		goto fail;
	}
	best = pick_cluster(labels, ok, cfg->ndrives);
	if (best < 0) {
		AG_ERR("no drive of %s holds a valid Agora label; run "
		       "'agora mkfs'", cfg->path);
		rc = -ENOENT;
		goto fail;
	}
	ds->label = labels[best];
	ds->n = ds->label.ndrives;
	for (i = 0; i < ds->n; i++) {
		ds->d[i].fd = ds->d[i].cached_fd = -1;
		ds->d[i].retired_fd = ds->d[i].retired_cached_fd = -1;
		ds->d[i].state = AG_DRIVE_MISSING;
	}
	for (i = 0; i < cfg->ndrives; i++) {
		struct ag_drive *d;

		if (!ok[i])
			continue;
		if (memcmp(labels[i].uuid, ds->label.uuid, 16)) {
			AG_ERR("drive %s belongs to another cluster; ignoring "
			       "it", cfg->drives[i]);
			foreign[i] = 1;
			continue;
		}
		if (labels[i].ndrives != ds->label.ndrives) {
			AG_ERR("drive %s: label disagrees on the drive count",
			       cfg->drives[i]);
			continue;
		}
		d = &ds->d[labels[i].index];
		if (d->fd >= 0) {
			AG_ERR("drive %s is a duplicate of %s (both index %u); "
			       "ignoring it", cfg->drives[i], d->path,
			       labels[i].index);
			continue;
		}
		d->path = strdup(cfg->drives[i]);
		d->born = labels[i].created;
		if (fd_size(fds[i]) < ds->label.drive_size) {
			/* truncated: the label survived, data past the cut
			 * did not */
			AG_ERR("drive %d (%s) is %llu bytes, its label says "
			       "%llu: truncated, failed", labels[i].index,
			       cfg->drives[i],
			       (unsigned long long)fd_size(fds[i]),
			       (unsigned long long)ds->label.drive_size);
			d->state = AG_DRIVE_FAILED;
			continue;
		}
		d->fd = fds[i];
		fds[i] = -1;
		d->direct = direct[i];
		d->real = realpath(cfg->drives[i], NULL);
		d->state = AG_DRIVE_OK;
	}
	for (i = 0; i < ds->n; i++) {
		if (ds->d[i].state == AG_DRIVE_OK)
			continue;
		ds->missing++;
		/* a foreign drive most likely took this drive's place in the
		 * config: name it so the report says what is wrong */
		if (ds->d[i].state == AG_DRIVE_FAILED)
			continue; /* said above */
		if (i < cfg->ndrives && foreign[i] && !ds->d[i].path) {
			ds->d[i].state = AG_DRIVE_FOREIGN;
			ds->d[i].path = strdup(cfg->drives[i]);
			continue;
		}
		if (!ds->d[i].path)
			ds->d[i].path = strdup(i < cfg->ndrives ? cfg->drives[i]
								: "?");
		AG_WARN("drive %d (%s) is missing: running degraded", i,
			ds->d[i].path ? ds->d[i].path : "?");
	}
	if (ds->missing > (int)ds->label.ec_m) {
		AG_ERR("%d of %d drives are missing; at most %u may be",
		       ds->missing, ds->n, ds->label.ec_m);
		rc = -AG_ENOQUORUM;
		goto fail;
	}
	for (i = 0; i < cfg->ndrives; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(blk);
	ds->label.index = 0;
	*dsp = ds;
	return 0;
fail:
	for (i = 0; i < cfg->ndrives; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(blk);
	ag_drives_close(ds);
	return rc;
}

void ag_drives_close(struct ag_drives *ds)
{
	int i;

	if (!ds)
		return;
	ag_pool_destroy(&ds->pool);
	for (i = 0; i < ds->n; i++) {
		if (ds->d[i].fd >= 0)
			close(ds->d[i].fd);
		if (ds->d[i].cached_fd >= 0)
			close(ds->d[i].cached_fd);
		if (ds->d[i].retired_fd >= 0)
			close(ds->d[i].retired_fd);
		if (ds->d[i].retired_cached_fd >= 0)
			close(ds->d[i].retired_cached_fd);
		free(ds->d[i].path);
		free(ds->d[i].real);
	}
	free(ds);
}

int ag_drives_quorum(const struct ag_drives *ds, const int *rc)
{
	int i, ok = 0, present = 0;

	for (i = 0; i < ds->n; i++) {
		if (rc[i] == 1)
			continue;
		present++;
		if (!rc[i])
			ok++;
	}
	return ok >= AG_MIN(3, present) && ok;
}

uint64_t ag_drives_present(const struct ag_drives *ds)
{
	uint64_t mask = 0;
	int i;

	for (i = 0; i < ds->n; i++)
		if (ds->d[i].state == AG_DRIVE_OK)
			mask |= 1ull << i;
	return mask;
}
