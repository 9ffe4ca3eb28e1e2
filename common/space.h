/*
 * space.h - metad's view of the segments: which are free, which hold
 * metadata pages, which hold data; hands out metadata pages and data
 * segment leases.
 *
 * Segment states live in the tree (SEGMENT records) so they survive a
 * restart; the live-page count of metadata segments is derived at start
 * by walking the tree, and kept in memory afterwards. A freed segment is
 * reused only when the generation that freed it is committed and a grace
 * time has passed, so a reader still holding an older root is very
 * unlikely to meet a reused address, and if it does, page addresses and
 * chunk crcs make it notice and retry.
 */
#ifndef AG_SPACE_H
#define AG_SPACE_H

#include <stdint.h>

#include "btree.h"
#include "drive.h"

#define AG_SEG_NONE UINT32_MAX

struct ag_space {
	uint32_t nseg;
	uint32_t pages_per_seg;
	uint8_t *state;       /* enum ag_seg_state per segment */
	uint8_t *recorded;    /* 1 when the tree holds a SEGMENT record */
	uint64_t *free_gen;   /* FREE: generation that freed it */
	uint64_t *free_mono;  /* FREE: when (monotonic ns) it was freed */
	uint32_t *meta_live;  /* META: pages the committed tree uses */
	uint64_t *owner;      /* DATA: client holding the lease, 0 sealed */
	uint32_t cur_meta, spare_meta, next_page;
	uint32_t search;      /* where the next free-segment search starts */
	uint64_t grace_ns;
	/* pages released by the batch being committed */
	uint64_t *released;
	uint32_t nreleased, released_cap;
};

int ag_space_init(struct ag_space *sp, const struct ag_label *l);
void ag_space_destroy(struct ag_space *sp);

/* Rebuild from the committed tree: SEGMENT records and a walk of every
 * page. Metadata segments found empty become free. */
int ag_space_load(struct ag_space *sp, struct ag_tree *t);

/* A free segment usable now (committed_gen is the newest durable
 * generation); -ENOSPC when none. Does not change its state. */
int ag_space_find_free(struct ag_space *sp, uint64_t committed_gen,
		       uint32_t *seg);

/* Pager callbacks: ctx is the struct ag_space. */
int ag_space_page_alloc(void *ctx, uint64_t *addr);
void ag_space_page_release(void *ctx, uint64_t addr);

/* After a successful commit: count this batch's releases out of
 * meta_live (allocations count at once). Fills drained[] (capacity cap) with metadata segments
 * that no longer hold a live page; the caller records them FREE. */
uint32_t ag_space_committed(struct ag_space *sp, uint32_t *drained,
			    uint32_t cap);
/* After a failed commit: forget this batch's releases. The caller then
 * reloads the whole state from the drives. */
void ag_space_abort(struct ag_space *sp);

#endif
