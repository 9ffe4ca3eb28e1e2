/*
 * stripe_int.h - what stripe.c (erasure-coded stripes) and mirror.c
 * (mirrored stripes) share: the geometry, the packer, and the slots.
 */
#ifndef AG_STRIPE_INT_H
#define AG_STRIPE_INT_H

#include <isa-l/crc.h>

#include "drive.h"
#include "stripe.h"

/* Most stripes a packer writes at once. */
#define AG_BATCH_MAX 128

/* ag_crc32c() is crc32_iscsi seeded with this; chaining the seed lets a
 * range be checked piece by piece. */
#define CRC_SEED 0xffffffffu

struct ag_stripes {
	struct ag_drives *ds;
	struct ag_ec *ec;
	const struct ag_label *l;
	int k, m, w;            /* w = k + m strips per stripe */
	size_t strip;
	uint64_t spay;          /* payload of one stripe: k * strip */
	uint32_t nstripes;      /* stripes per segment */
	uint64_t payload;       /* payload per segment */
	int groups;             /* of m + 1 slots in a mirrored stripe */
	uint64_t mcap;          /* payload of a mirrored stripe */
	int batch;              /* full stripes written to the drives at once */
};

struct ag_packer {
	struct ag_stripes *s;
	uint32_t seg;
	int active;
	uint64_t fill;          /* payload offset of the open stripe */
	uint64_t used;          /* bytes in it; == spay: full, not written */
	int mirrored;           /* the open stripe is mirrored ... */
	uint64_t written;       /* ... and its first bytes are on the drives */
	int crossed;            /* a chunk runs into it from the last stripe */
	uint8_t *buf;           /* the open stripe: k data strips back to
				 * back, then m parity */
	struct ag_stripe_done *done;
	int ndone, cap;
	/* Full stripes gather in a batch (the open stripe is the batch's
	 * next), whose write, a run of strips per drive, goes on while the
	 * next batch fills (stripe.c). */
	uint8_t *bbuf;          /* s->batch stripes of k + m strips */
	struct ag_stripe_done *bdone; /* theirs, until written */
	int nbatch;             /* full stripes in it, not yet written */
	uint8_t *wbuf;          /* the batch being written */
	int wn;                 /* its stripes */
	uint32_t wseg, wt;      /* where: its first stripe */
	struct ag_pool_job wjob;
	int writing;            /* wjob started, its outcome not checked */
};

static inline uint32_t crc_more(uint32_t crc, const void *p, size_t len)
{
	return crc32_iscsi((unsigned char *)p, (int)len, crc);
}


static inline int slot_drive(const struct ag_stripes *s, uint32_t t, int j)
{
	return ag_slot_drive(s->l, (uint64_t)t * s->w + j);
}

static inline uint64_t slot_off(const struct ag_stripes *s, uint32_t seg,
				uint32_t t, int j)
{
	return ag_slot_offset(s->l, seg, (uint64_t)t * s->w + j, s->strip);
}

static inline int drive_ok(const struct ag_stripes *s, int d)
{
	return s->ds->d[d].state == AG_DRIVE_OK;
}

/* Room in the packer's done list for more stripes. */
int ag_packer_grow_done(struct ag_packer *p, int more);

/* Write the bytes of the open stripe not yet on the drives as a mirrored
 * stripe (p->used <= s->mcap), each block to the m + 1 slots of its
 * group; the stripe stays open for more. */
int ag_mirror_put(struct ag_packer *p);
/* The slow read of a range that lies in mirrored stripes: try the copies
 * until the crc matches. -AG_ECORRUPT when none does (or the range cannot
 * be mirrored data). */
int ag_mirror_read(struct ag_stripes *s, uint32_t seg, uint64_t off,
		   uint8_t *buf, size_t len, uint32_t crc);

#endif
