/*
 * drive.h - the lowest layer: a set of drives (files or block devices)
 * and their labels.
 *
 * Every I/O of the upper layers goes through ag_drive_read/write, which
 * take care of O_DIRECT alignment, count errors per drive and pass through
 * a fault hook that tests use to fail, lose or corrupt I/O. A drive set
 * carries the threads that run a job on its drives at once (pool.h); the
 * commit ring on the drives is commit.h's.
 */
#ifndef AG_DRIVE_H
#define AG_DRIVE_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/uio.h>
#include <stdint.h>

#include "config.h"
#include "format.h"
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
	/* OK -> FAILED at any time, by any thread (ag_drive_fail); not OK
	 * -> OK by ag_drive_adopt only, fd set before state */
	_Atomic enum ag_drive_state state;
	atomic_ulong read_errors, write_errors, csum_errors;
	atomic_uint error_run; /* I/O errors since the last success */
	uint64_t born;	       /* creation time its label says */
	/* descriptors of the drive an adopted one replaced: an I/O begun
	 * before the swap may still use them; closed at ag_drives_close */
	int retired_fd, retired_cached_fd;
};

/* I/O errors in a row (none succeeding between) that fail a drive. */
#define AG_DRIVE_ERROR_RUN 16

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

/* The 4096-byte block of a label, and back: 0, -ENOENT when the block
 * holds no label at all, -AG_ECORRUPT when it is damaged or its geometry
 * cannot be (the bytes come from a drive: any may be wrong),
 * -EMEDIUMTYPE when it is whole but of another on-drive format version
 * (l->version says which). ag_drives_open() refuses a cluster with
 * such a drive. */
void ag_label_encode(uint8_t *block, const struct ag_label *l);
int ag_label_decode(const uint8_t *block, struct ag_label *l);

/* Create (sparse, drive_size) missing drive files and write fresh labels
 * and an empty commit ring. Refuses drives that already hold an Agora
 * label unless force. */
int ag_drives_format(const struct ag_config *cfg, int force,
		     struct ag_label *out);

/* Open every drive of cfg, read and cross-check labels. Succeeds degraded
 * when at most ec_m drives are missing or foreign; the per-drive state
 * says which. Fails with -EMEDIUMTYPE when a drive holds a label of
 * another on-drive format version. Logs each problem clearly. */
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
 * truncated below the label's size, label changed) and mark them failed;
 * take in (ag_drive_adopt) a new drive put in the place of one that is
 * not OK. Returns how many failed now. Daemons call it every few
 * seconds. A drive also fails after AG_DRIVE_ERROR_RUN I/O errors in a
 * row. */
int ag_drives_check(struct ag_drives *ds);
/* A new creation time for a drive in slot i's place: now, and later
 * than that of the drive known there. */
uint64_t ag_drive_new_birth(const struct ag_drives *ds, int i);
/* Write the block note (when not NULL) at note_off, then a blank commit
 * ring and a fresh label for slot i of the cluster (its uuid and
 * geometry, creation time created) on path, made drive_size long when it
 * is a shorter file, and sync: the replacement of drive i, to be rebuilt
 * (the note says so before the label does). Refuses (-EEXIST) a path
 * that holds a label of another cluster unless force, and (-EBUSY) a
 * drive of the set in use. */
int ag_drive_format_one(struct ag_drives *ds, int i, const char *path,
			int force, uint64_t created, const void *note,
			uint64_t note_off);
/* Take the drive now at drive i's path into use if it is a drive of this
 * cluster for slot i (label and size) other than the one that failed
 * there: 0 (logged), -EALREADY when drive i is OK, -ESTALE when the
 * path still holds the drive that failed, -ENOENT when it holds no label
 * of this cluster's slot i, or -errno. Reads of it are checked as any
 * (its copies are rebuilt by scrub, rebuild.c); writes go to it at once.
 * ag_drives_check calls it for every drive not OK. Not thread-safe
 * against itself. */
int ag_drive_adopt(struct ag_drives *ds, int i);
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

/* Whether enough drives took a job's write: min(3, present), at least
 * one (from the results of a pool job, pool.h). */
int ag_drives_quorum(const struct ag_drives *ds, const int *rc);
/* The mask of the drives that are OK now (bit i: drive i). */
uint64_t ag_drives_present(const struct ag_drives *ds);

/* Byte offset on a drive of segment seg, unit-sized slot L. */
static inline uint64_t ag_slot_offset(const struct ag_label *l, uint32_t seg,
				      uint64_t slot, uint32_t unit)
{
	return (uint64_t)AG_DATA_START + (uint64_t)seg * l->segment_size +
	       (slot / l->ndrives) * unit;
}

static inline int ag_slot_drive(const struct ag_label *l, uint64_t slot)
{
	return (int)(slot % l->ndrives);
}

#endif
