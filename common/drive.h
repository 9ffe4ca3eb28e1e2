/*
 * drive.h - the lowest layer: a set of drives (files or block devices),
 * their labels and the commit ring.
 *
 * Every I/O of the upper layers goes through ag_drive_read/write, which
 * take care of O_DIRECT alignment, count errors per drive and pass through
 * a fault hook that tests use to fail, lose or corrupt I/O. A drive set
 * carries the threads that run a job on its drives at once (pool.h).
 */
#ifndef AG_DRIVE_H
#define AG_DRIVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/uio.h>
#include <stdint.h>

#include "config.h"
#include "pool.h"

struct ag_label {
	uint32_t version, index, ndrives;
	uint8_t uuid[16];
	uint32_t ec_k, ec_m, page_size, strip_size, nsegments;
	uint64_t segment_size, drive_size;
	uint32_t chunk_min, chunk_avg, chunk_max;
	int32_t zstd_level;
	uint64_t created;
};

/* Pages a commit record can list (see format.h). */
#define AG_COMMIT_PAGES 502

struct ag_commit_rec {
	uint64_t gen;
	uint64_t root;
	uint32_t epoch;
	uint32_t page_epoch; /* of the pages it wrote, at most (0: unknown) */
	uint8_t uuid[16];
	uint64_t time_ns;
	/* first generation of the unsynced run this record ends (0: none):
	 * it counts only with every record of [lazy_since, gen) */
	uint64_t lazy_since;
	uint32_t npages;  /* pages written with the record, to check */
	uint64_t pages[AG_COMMIT_PAGES];
};

enum ag_drive_state {
	AG_DRIVE_OK = 0,
	AG_DRIVE_MISSING,  /* cannot be opened or has no label */
	AG_DRIVE_FOREIGN,  /* label of another cluster */
	AG_DRIVE_FAILED,   /* truncated, removed or replaced: found so at
			    * open or since (ag_drives_check) */
};

struct ag_drive {
	char *path;
	char *real; /* path made absolute at open (a daemon may chdir) */
	int fd;
	int direct; /* opened with O_DIRECT */
	int cached_fd; /* the same drive through the page cache, or -1 */
	/* OK -> FAILED at any time, by any thread (ag_drive_fail) */
	_Atomic enum ag_drive_state state;
	atomic_ulong read_errors, write_errors, csum_errors;
};

struct ag_drives {
	int n;                 /* drive count of the cluster (label) */
	struct ag_label label; /* the cluster's label (index field unused) */
	struct ag_drive d[AG_MAX_DRIVES];
	int missing;           /* drives not OK at open */
	struct ag_pool pool;   /* its per-drive threads */
};

/* A test hook consulted before every drive I/O: return 0 to let it run,
 * a negative errno to fail it, or 1 (writes only) to drop it silently. */
extern int (*ag_drive_fault_hook)(int drive, int is_write, uint64_t off,
				  size_t len);

/* Create (sparse, drive_size) missing drive files and write fresh labels
 * and an empty commit ring. Refuses drives that already hold an Agora
 * label unless force. */
int ag_drives_format(const struct ag_config *cfg, int force,
		     struct ag_label *out);

/* Open every drive of cfg, read and cross-check labels. Succeeds degraded
 * when at most ec_m drives are missing or foreign; the per-drive state
 * says which. Logs each problem clearly. */
int ag_drives_open(const struct ag_config *cfg, struct ag_drives **dsp);
void ag_drives_close(struct ag_drives *ds);

/* Read/write len bytes at byte offset off of drive i. Any alignment is
 * accepted (bounce-buffered when the drive is O_DIRECT and the request is
 * not aligned). Returns 0 or a negative errno; a failed or missing drive
 * gives -EIO at once. */
int ag_drive_read(struct ag_drives *ds, int i, void *buf, size_t len,
		  uint64_t off);
int ag_drive_write(struct ag_drives *ds, int i, const void *buf, size_t len,
		   uint64_t off);
/* Write iovcnt buffers (4 KiB aligned, whole blocks) contiguously at off. */
int ag_drive_writev(struct ag_drives *ds, int i, const struct iovec *iov,
		    int iovcnt, uint64_t off);
/* The same through the page cache: a fraction of the cost when no sync
 * follows soon (readers stay coherent: a direct read of a range first
 * writes back what the cache holds of it). Not thread-safe. */
int ag_drive_writev_cached(struct ag_drives *ds, int i,
			   const struct iovec *iov, int iovcnt, uint64_t off);
/* fdatasync drive i: 0, 1 when it is not present (not counted), or
 * -EIO; a drive found truncated, removed or replaced then is marked
 * failed (what the sync made durable is not on the cluster's drive). */
int ag_drive_sync(struct ag_drives *ds, int i);
/* Mark drive i failed, once, logging why: every later I/O of this
 * process skips it, as a drive missing at open (reads rebuild from the
 * others, writes go on without it). */
void ag_drive_fail(struct ag_drives *ds, int i, const char *why);
/* Look for drives that went away under us (file removed or replaced,
 * truncated below the label's size) and mark them failed; returns how
 * many were found now. Daemons call it every few seconds. */
int ag_drives_check(struct ag_drives *ds);
/* fdatasync every present drive; 0 when one succeeded at least. Each
 * drive's result lands in rc[i] when rc is not NULL. */
int ag_drives_sync(struct ag_drives *ds, int *rc);
/* Write zeros over the holes of bytes [off, off + len) of every drive that
 * is a file, and sync: a sparse file allocates on the first write to a
 * block, and a sync of allocated blocks then costs twice that of written
 * ones (metadata segments, synced at every commit). Changes nothing a
 * reader sees; block devices are left alone. Runs in the calling thread,
 * drive after drive, so a background caller holds up no drive job. */
void ag_drives_fill_holes(struct ag_drives *ds, uint64_t off, uint64_t len);

/* A damaged copy of a commit record: present in its slot (not blank),
 * checksum wrong. gen is what its header says, 0 when unreadable. */
struct ag_commit_bad {
	int drive;
	uint32_t slot;
	uint64_t gen;
	uint64_t time_ns; /* what its commit time field says */
};

#define AG_COMMIT_BAD_MAX 64

/* What ag_commit_pick saw in the rings besides the record it picked. */
struct ag_commit_scan {
	/* The newest generation past the pick that is on the drives but
	 * damaged, its record on every copy or a page it lists on every
	 * mirror: picking the record means losing it (0: nothing newer than
	 * the pick was ever acknowledged). */
	uint64_t lost_gen;
	/* the generation whose record or pages are damaged: lost_gen, or
	 * one of the unsynced run lost_gen ends */
	uint64_t damaged_gen;
	int lost_pages;    /* 1: pages of damaged_gen are what is damaged */
	int nbad;          /* damaged record copies, of any generation */
	struct ag_commit_bad bad[AG_COMMIT_BAD_MAX]; /* the first ones */
};

/* Pick the cluster's state by the rule at the top of drive.c: the newest
 * record on any drive, by generation and then epoch, that is whole, and
 * tell in *scan (never NULL) what that passed over. check (when not
 * NULL) says whether the pages a record lists are on the drives: 1 all
 * of them, 0 one was never written (a torn commit), -AG_ECORRUPT one is
 * there but no mirror of it verifies. 0, or -ENOENT if no record is
 * whole (*scan is filled either way), or -ENOMEM. */
int ag_commit_pick(struct ag_drives *ds, struct ag_commit_rec *rec,
		   struct ag_commit_scan *scan,
		   int (*check)(void *arg, const struct ag_commit_rec *r),
		   void *arg);
/* ag_commit_pick for readers: -AG_ELOST when picking means losing a
 * damaged newer commit (*rec then holds the pick all the same, for the
 * callers that report it). */
int ag_commit_read_latest(struct ag_drives *ds, struct ag_commit_rec *rec,
			  int (*check)(void *arg, const struct ag_commit_rec *r),
			  void *arg);
/* Write zeros over slot of drive's ring (a damaged copy that a rollback
 * was accepted over), and sync. */
int ag_commit_wipe(struct ag_drives *ds, int drive, uint32_t slot);
/* Over every record in the rings that decodes: the highest fencing epoch
 * (*epoch), and the page epoch furthest ahead (mod 0xffff) of those
 * newer than after (*page_epoch, 0 when none): a metad that starts, or
 * reloads, must use neither, or its records and pages could be taken
 * for those of commits it rolled back. */
void ag_commit_ring_scan(struct ag_drives *ds, const struct ag_commit_rec *after,
			 uint32_t *epoch, uint32_t *page_epoch);
/* Whether page epoch a is ahead of b (they wrap at 0xffff). */
int ag_page_epoch_ahead(uint32_t a, uint32_t b);
/* The 4096-byte block of a commit record. */
void ag_commit_encode(uint8_t *block, const struct ag_commit_rec *rec);
/* Write rec into slot gen % 16 of every present drive and sync; succeeds
 * when at least min(3, present) drives took it. */
int ag_commit_write(struct ag_drives *ds, const struct ag_commit_rec *rec);
/* Whether enough drives took a job's write: min(3, present), at least
 * one (from the results of a pool job, pool.h). */
int ag_drives_quorum(const struct ag_drives *ds, const int *rc);

/* Byte offset on a drive of segment seg, unit-sized slot L. */
static inline uint64_t ag_slot_offset(const struct ag_label *l, uint32_t seg,
				      uint64_t slot, uint32_t unit)
{
	return (uint64_t)(1u << 20) + (uint64_t)seg * l->segment_size +
	       (slot / l->ndrives) * unit;
}

static inline int ag_slot_drive(const struct ag_label *l, uint64_t slot)
{
	return (int)(slot % l->ndrives);
}

#endif
