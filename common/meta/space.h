/*
 * space.h - metad's view of the segments: which are free, which hold
 * metadata pages, which hold data; hands out metadata pages (reusing
 * freed page slots) and data segment leases.
 *
 * Segment states live in the tree (SEGMENT records) so they survive a
 * restart; which page slots of a metadata segment are in use is derived
 * at start by walking the tree, and kept in memory afterwards.
 *
 * Freed space comes back in reuse rounds. Space freed by a committed
 * generation (a page slot of an old tree version, a drained segment) is
 * not handed out at once: it waits for the next round, and each round
 * starts a new page epoch, which is part of every page address. A reused
 * slot therefore has a new address: no cache keyed by address ever serves
 * the old page for it, and a reader still on an older root that reads the
 * slot from a drive finds another address in the page header (or a chunk
 * whose crc fails, for data) and moves to a newer root. The epoch is kept
 * in the tree (SUPER "page_epoch") and moves on at every metad start, so
 * an epoch is not reused for some 65,000 rounds; clients drop cached
 * pages long before that.
 *
 * Compaction: a metadata segment comes back only once none of its slots
 * is in use, and a few live pages would pin a segment forever. When one
 * is mostly dead and the others have room for what lives in it, its
 * live pages are dirtied in the tree (ag_tree_rewrite): the next commit
 * writes them elsewhere, as it writes any page it changed, the segment
 * takes no new page meanwhile, and it drains and returns to free through
 * the reuse rounds like any other. Nothing is written in place, so a
 * crash at any point leaves a committed tree, the old one or the new.
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
	uint8_t *reusable;    /* FREE and released by a reuse round */
	uint64_t *free_gen;   /* FREE: generation that freed it */
	uint32_t *meta_live;  /* META: page slots in use (live or cooling) */
	uint8_t *pages;       /* META: bitmap of page slots in use */
	uint64_t *owner;      /* DATA: client holding the lease, 0 sealed */
	uint64_t *fill;       /* DATA: payload offset past all data in it */
	uint32_t cur_meta, spare_meta;
	uint32_t compacting;  /* META being drained by compaction, or
			       * AG_SEG_NONE: it takes no new page */
	uint64_t *last_taken; /* META: monotonic ns a slot was last handed
			       * out there (0: not since the start) */
	uint32_t *cooling_in; /* slots of the segment among the cooling */
	/* Page p of a segment lies on drives 3p .. 3p + 2 (mod N), which
	 * depend on p mod lanes (N / gcd(N, 3)). A commit takes its pages
	 * from one lane: then it writes, and syncs, 3 drives, not all N. */
	uint32_t lanes, lane;
	uint32_t lane_next[AG_MAX_DRIVES]; /* where the search in cur_meta
					    * goes on, per lane */
	/* META: bytes from each segment's start, on every drive, whose
	 * holes have been filled (meta.c, through fill_holes). Slots are
	 * handed out only there: one past it first has fill_holes extend
	 * it by AG_META_FILL_STEP, so metadata takes drive space as it
	 * grows, not a whole zero-filled segment at a time. No fill_holes:
	 * no limit. */
	uint64_t *filled;
	void (*fill_holes)(void *arg, uint32_t seg, uint64_t from,
			   uint64_t to);
	void *fill_holes_arg;
	uint32_t ndrives;
	uint64_t seg_bytes;
	/* the spare is prepared in the background (meta.c): the allocator
	 * waits for it before it takes it */
	int spare_ready;
	void (*spare_wait)(void *arg);
	void *spare_wait_arg;
	uint32_t search;      /* where the next free-segment search starts */
	/* pages released by the batch being committed */
	uint64_t *released;
	uint32_t nreleased, released_cap;
	/* pages of committed generations waiting for a reuse round */
	uint64_t *cooling, *cooling_gen;
	uint32_t ncooling, cooling_cap;
	uint32_t epoch;       /* page epoch of new addresses, 1..0xffff */
	uint64_t last_round;  /* monotonic ns */
	uint64_t round_gen;   /* what the pending round may release */
};

int ag_space_init(struct ag_space *sp, const struct ag_label *l);
void ag_space_destroy(struct ag_space *sp);

/* Rebuild from the committed tree: SEGMENT records and a walk of every
 * page. Nothing freed is reusable until the first round. */
int ag_space_load(struct ag_space *sp, struct ag_tree *t);

/* A free segment usable now; -ENOSPC when none. Does not change its
 * state. */
int ag_space_find_free(struct ag_space *sp, uint32_t *seg);

/* Bytes of a metadata segment, per drive, filled at a time: 256 KiB
 * a drive holds 64 page slots, some 128 pages of 6 drives. */
#define AG_META_FILL_STEP (256u << 10)

/* Free segments held back from data leases for metadata. */
#define AG_META_RESERVE 2

/* Free segments held back from user data leases, beyond AG_META_RESERVE,
 * for the cleaner (CLEAN_LEASE): on a cluster its users filled up, the
 * cleaner must still find room to copy live chunks out of the segments
 * it cleans, since their space only comes back once they have emptied
 * and a reuse round has passed. At least AG_CLEAN_RESERVE_MIN, and one
 * segment in AG_CLEAN_RESERVE_SHARE on large clusters. Metadata may
 * grow into this reserve too (its pages wait for reuse rounds as well),
 * so the cleaner may also take all but AG_CLEAN_META_KEEP of the
 * metadata reserve (all of it while a metadata segment has an eighth of
 * its slots free): metadata that finds no free segment goes on in free
 * slots of its own segments, and what the cleaner frees comes back. */
#define AG_CLEAN_META_KEEP 1
#define AG_CLEAN_RESERVE_MIN 2
#define AG_CLEAN_RESERVE_SHARE 64
uint32_t ag_space_clean_reserve(const struct ag_space *sp);

/* The same, but only while more than reserve free segments remain. */
int ag_space_find_free_beyond(struct ag_space *sp, uint32_t reserve,
			      uint32_t *seg);

/* A sealed data segment with at least four stripes of room left after
 * its data (payload and stripe are the segment's and a stripe's payload
 * bytes), to lease again: small writers then share segments instead of
 * each leaving most of one empty. -ENOSPC when none. */
int ag_space_find_sealed(struct ag_space *sp, uint64_t payload,
			 uint64_t stripe, uint32_t *seg);

/* A metadata segment with room (an eighth of its slots free), other
 * than the current one and the spare, or AG_SEG_NONE: where pages go on
 * after a restart before a free segment is taken. */
uint32_t ag_space_roomy_meta(const struct ag_space *sp);
/* Make seg the metadata segment pages come from. */
void ag_space_use_meta(struct ag_space *sp, uint32_t seg);
/* The lane the next commit's pages come from (by its generation, so that
 * commits in a row spread over the drives). */
void ag_space_set_lane(struct ag_space *sp, uint64_t gen);

/* A metadata segment is compacted when at most one slot in
 * AG_META_COMPACT_SHARE is in use in it, the other metadata segments
 * have room for twice that, and AG_META_COMPACT_SLACK pages more (the
 * pages on the way to the ones that move are written too), and no slot
 * of it was handed out for AG_META_COMPACT_COLD_NS: while metadata grows
 * or churns, the allocator fills the holes of roomy segments itself, and
 * moving their live pages out would only write them twice. */
#define AG_META_COMPACT_SHARE 2
#define AG_META_COMPACT_SLACK 16
#define AG_META_COMPACT_COLD_NS (10ull * 1000000000ull)
/* Pages moved out of it per call of ag_space_compact, so that a commit
 * that carries them stays small enough to be lazy (commit.h). */
#define AG_META_COMPACT_BATCH 256
/* The metadata segment to compact now (the emptiest that qualifies; it
 * then takes no new page until it has drained), or AG_SEG_NONE: none
 * does, or one is still draining. */
uint32_t ag_space_compact_pick(struct ag_space *sp);
/* Dirty up to AG_META_COMPACT_BATCH live pages in t (metad's write
 * handle) of the segment being compacted, or of the one
 * ag_space_compact_pick picks when none is: the number of pages picked
 * (the caller commits them), 0 when there is nothing to move, or
 * -errno. */
int ag_space_compact(struct ag_space *sp, struct ag_tree *t);
/* 1 while commits must go on for a compaction, even on an idle
 * cluster, for the reuse rounds it waits for: its segment drains, the
 * segment it drained waits for its round, or a segment would be
 * compacted once the pages cooling in it are released. */
int ag_space_compact_busy(const struct ag_space *sp);

/* Pager callbacks: ctx is the struct ag_space. */
int ag_space_page_alloc(void *ctx, uint64_t *addr);
void ag_space_page_release(void *ctx, uint64_t addr);

/* After a successful commit of generation gen: this batch's released
 * pages start cooling. */
void ag_space_committed(struct ag_space *sp, uint64_t gen);
/* After a failed commit: forget this batch's releases. The caller then
 * reloads the whole state from the drives. */
void ag_space_abort(struct ag_space *sp);

/* 1 when a reuse round should go with the next commit (something freed
 * by a committed generation waits, and the last round is not too
 * recent); it then remembers committed_gen as the round's limit. */
int ag_space_round_due(struct ag_space *sp, uint64_t committed_gen);
/* 1 when freed segments wait for a reuse round: space that is free but
 * not yet usable. */
int ag_space_segments_waiting(const struct ag_space *sp);
/* Let the next ag_space_round_due ignore the interval between rounds
 * (space is short: a round now is worth an epoch). */
void ag_space_round_soon(struct ag_space *sp);
/* The commit carrying the round is durable: release what it covers.
 * Fills drained[] (capacity cap) with metadata segments left with no page
 * in use; the caller records them FREE. Returns their count. */
uint32_t ag_space_round_done(struct ag_space *sp, uint32_t *drained,
			     uint32_t cap);

#endif
