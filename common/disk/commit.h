/*
 * commit.h - the commit record and the commit ring: which generation of
 * the metadata tree is the state of the cluster.
 *
 * Every drive holds a ring of AG_COMMIT_SLOTS one-block slots at
 * AG_COMMIT_OFF (format.h has the layout and the record's byte table).
 * Commit N writes its record into slot N % 16 of the drives of its lane
 * (those that hold copies of its pages, or every present drive when they
 * make no quorum), in the same flush as its pages; the record names the
 * root of tree N and lists the pages N wrote.
 *
 * The rule. The state of the cluster is the newest whole record: the
 * highest fencing epoch, then the highest generation, among the records
 * that decode (magic, crc, this cluster's uuid, their own slot) and are
 * whole: each page they list has a good copy written by their
 * generation, each chunk of data they list reads back with its crc, and
 * every record of the unsynced run they end is on the drives, its pages
 * and data too (a record that lists no pages was written once its pages
 * were durable: its own pages need no check; one that lists no data
 * names only data synced before it was written). ag_commit_pick is the rule's one
 * implementation.
 *
 * Why a torn commit loses. Each copy of a record or a page is one aligned
 * 4 KiB block, which a crash, kill -9 at any instant included, leaves as
 * it was or as it was meant to be, never in between. A record slot the
 * commit did not reach is blank or holds an older record; a page slot
 * holds zeros, an older page or bytes of its segment's past life, none of
 * which names that page (page.h). So a record is torn when a page it
 * lists is on no drive, or a record of the unsynced run it ends is
 * missing (a device may keep a later write and lose an earlier one until
 * a sync, and the tree of a run's last record holds pages of the whole
 * run). A torn commit was never acknowledged: the record before it is
 * the state, without a word. Whole needs one good copy of each page:
 * metad writes the others again when a crash left them unwritten.
 *
 * Why a damaged one is different. A copy is damaged when a record slot
 * is neither blank nor a valid record, or a page mirror's header names
 * the page and its crc fails: the drives went bad after the write, which
 * no crash does. When a generation newer than the state is on the drives
 * with its record, or a page it lists, damaged on every copy, taking the
 * state loses that generation, which may have been acknowledged: readers
 * refuse (-AG_ELOST) and metad starts over it only when told to
 * (--accept-rollback). Whether a damaged copy is such a newer record or
 * an older one that lay in the same slot, its remains vote: the
 * generation field if the magic is intact, against the commit time (one
 * between the cluster's creation and the state's says older), and on a
 * tie the pages it lists (stamped with the newer generation or not);
 * remains that say nothing count as newer. A power cut that tears the
 * inside of a block on every copy at once also looks damaged: then the
 * refusal errs on the side of the data.
 *
 * What the epochs mean. The fencing epoch is the metad's: each start
 * (and each reload after a failed commit) takes one above every record
 * on the drives (ag_commit_ring_scan) and above the lease it took
 * (lease.h), so its records win over those of commits it rolled back,
 * and over every record a metad that lost its lease writes after it:
 * those may have higher generations, the epoch comes first. A metad
 * that takes over writes a record at once (the fence) and skips
 * AG_COMMIT_SLOTS + 1 generations for it: the one commit its
 * predecessor may have had under way cannot overwrite the fence's ring
 * slot, and every generation of a lazy run that the death of the
 * predecessor's host lost (shorter than the ring) is below the fence,
 * so a client that read one moves on to the successor's state, newer
 * by generation too.
 * The page epoch goes into page addresses (format.h): a metad takes one
 * that no page of a rolled-back commit has, so no cache keyed by address
 * serves such a page for a new one. A record says the page epoch of the
 * pages it wrote, so that a metad can skip past it.
 *
 * Unsynced runs. A lazy commit writes its record and pages without a
 * sync; lazy_since names the first generation of the run of unsynced
 * commits that it ends, and it counts only with every record of that run
 * (see torn, above). Data too may be written without a sync, before the
 * transaction that points at it: a record lists the chunks of its
 * transactions that no sync covered yet, and counts only when they read
 * back, so that a power cut never leaves a record pointing at data the
 * drives lost (the check callback of ag_commit_pick verifies both). The run and the last synced record before it must
 * all stay in the ring: ag_commit_may_be_lazy says when a run must end.
 */
#ifndef AG_COMMIT_H
#define AG_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "drive.h"
#include "format.h"

/* Pages a commit record can list (see format.h). */
#define AG_COMMIT_PAGES 502

/* Data a record names: chunk bytes that a client wrote without a sync,
 * each stored at a data address (stripe.h) with its crc32c. After the
 * record's pages, 16 bytes each, in the bytes the pages leave free. */
struct ag_commit_data {
	uint64_t addr;
	uint32_t len;
	uint32_t crc;
};

#define AG_COMMIT_DATA_MAX 251 /* with no page listed */

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
	uint32_t npages; /* pages written with the record, to check */
	uint64_t pages[AG_COMMIT_PAGES];
	/* chunks its transactions stored unsynced, to check too */
	uint32_t ndata;
	struct ag_commit_data data[AG_COMMIT_DATA_MAX];
};

/* Whether a record listing npages pages can list ndata chunks too. */
static inline int ag_commit_fits(uint32_t npages, uint32_t ndata)
{
	return npages <= AG_COMMIT_PAGES &&
	       72 + 8ull * npages + 16ull * ndata <= AG_BLOCK - 4;
}

/* The ring slot of generation gen's record. */
static inline uint32_t ag_commit_slot(uint64_t gen)
{
	return (uint32_t)(gen % AG_COMMIT_SLOTS);
}

/* Byte offset on a drive of ring slot slot; the ring's slots follow one
 * another, so slot s of a ring read whole lies at (s * AG_BLOCK). */
static inline uint64_t ag_commit_slot_off(uint32_t slot)
{
	return AG_COMMIT_OFF + (uint64_t)slot * AG_BLOCK;
}

/* Encode rec into block (AG_BLOCK bytes). */
void ag_commit_encode(uint8_t *block, const struct ag_commit_rec *rec);
/* Decode and validate the record in buf (len bytes; only its first
 * AG_BLOCK are read): 0, -ENOENT when it is no record at all (no magic),
 * -AG_ECORRUPT when it is a damaged one (crc, or fields that no encoder
 * writes), -EINVAL when len is short of a block. rec holds the record on
 * 0 only (anything otherwise); it is not checked against a cluster
 * (uuid) or a slot, which the ring scan does. */
int ag_commit_decode(const void *buf, size_t len, struct ag_commit_rec *rec);

/* Whether the record of generation gen may be written lazily, synced_gen
 * being the newest synced one: only while the durable record that will
 * end the run still fits in the ring beside the run and the synced
 * record before it (it counts only with all of them). */
static inline int ag_commit_may_be_lazy(uint64_t synced_gen, uint64_t gen)
{
	return gen - synced_gen < AG_COMMIT_SLOTS - 1;
}

/* The drives a record goes to, given the mask of those holding copies of
 * its pages (0: none, a record written alone): those that are present
 * when they make a quorum, min(3, present), else every present drive. */
uint64_t ag_commit_lane(const struct ag_drives *ds, uint64_t page_drives);

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
	int lost_pages; /* 1: pages of damaged_gen are what is damaged */
	int nbad;	/* damaged record copies, of any generation */
	struct ag_commit_bad bad[AG_COMMIT_BAD_MAX]; /* the first ones */
};

/* Pick the cluster's state by the rule above, and tell in *scan (never
 * NULL) what that passed over. check (when not NULL) says whether the
 * pages a record lists are on the drives: 1 all of them, 0 one was never
 * written (a torn commit), -AG_ECORRUPT one is there but no mirror of it
 * verifies. A present drive whose ring cannot be read is skipped, as a
 * missing one (logged). 0, or -ENOENT if no record is whole (*scan is
 * filled either way), or -ENOMEM. */
int ag_commit_pick(struct ag_drives *ds, struct ag_commit_rec *rec,
		   struct ag_commit_scan *scan,
		   int (*check)(void *arg, const struct ag_commit_rec *r),
		   void *arg);
/* ag_commit_pick for readers: -AG_ELOST when picking means losing a
 * damaged newer commit (*rec then holds the pick all the same, for the
 * callers that report it). */
int ag_commit_read_latest(struct ag_drives *ds, struct ag_commit_rec *rec,
			  int (*check)(void *arg,
				       const struct ag_commit_rec *r),
			  void *arg);
/* Over every record in the rings that decodes: the highest fencing epoch
 * (*epoch), and the page epoch furthest ahead (page.h) of those newer
 * than after (*page_epoch, 0 when none): a metad that starts, or
 * reloads, must use neither, or its records and pages could be taken for
 * those of commits it rolled back. 0, or -ENOMEM, or -EIO when the ring
 * of a present drive cannot be read: then the drives do not say the
 * epochs, and a metad that knows no others must not write (*epoch and
 * *page_epoch are left 0). */
int ag_commit_ring_scan(struct ag_drives *ds, const struct ag_commit_rec *after,
			uint32_t *epoch, uint32_t *page_epoch);
/* Write zeros over slot of drive's ring (a damaged copy that a rollback
 * was accepted over), and sync. */
int ag_commit_wipe(struct ag_drives *ds, int drive, uint32_t slot);
/* Write rec alone (its pages durable before) into its slot of every
 * present drive and sync; succeeds when at least min(3, present) drives
 * took it. A record written with its pages goes with them instead
 * (ag_pagestore_commit). */
int ag_commit_write(struct ag_drives *ds, const struct ag_commit_rec *rec);

#endif
