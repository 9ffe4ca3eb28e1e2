/*
 * apply.h - the metadata engine inside agora-metad: applies logical
 * transactions to the tree, groups them into commits, and owns segment
 * allocation.
 *
 * Each transaction is atomic: an undo log restores every record it
 * touched when one of its ops fails, so a batch holds only whole
 * transactions. ag_meta_commit() then writes the batch's pages and one
 * commit record, and syncs them: the batch becomes durable at once or not
 * at all. Results are only sent to clients after that. A lazy commit
 * skips the sync: every reader sees it and it survives the death of any
 * process, and the next sync (in the background, at most
 * AG_COMMIT_SLOTS - 1 commits or [metad] lazy_sync_ms later) makes it
 * survive a power cut too.
 *
 * Not thread-safe: metad calls it from one thread.
 */
#ifndef AG_APPLY_H
#define AG_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct ag_meta;
struct ag_drives;
struct ag_commit_rec;

struct ag_meta_result {
	int status;      /* 0 or negative errno of the failed op */
	uint64_t ino;    /* inode made by the last MKNODE */
	uint32_t seg;    /* segment of the last SEG_LEASE */
	uint64_t fill;   /* where in it the lessee starts packing */
	int replay;      /* the txid was already applied: a retry */
};

/* Format the drives of cfg and commit generation 1: an empty root
 * directory. */
int ag_meta_mkfs(const struct ag_config *cfg, int force);

/* Open the cluster for committing: newest commit record, tree, segment
 * state. Takes an exclusive lock so one metad runs per cluster on this
 * host (agora-metad holds the lease instead: ag_meta_open_leased). Fails
 * with -AG_ELOST, naming the generation in the log, when a newer commit
 * than the newest whole one is damaged on every copy (commit.h). */
int ag_meta_open(const struct ag_config *cfg, struct ag_meta **mp);
/* flags for ag_meta_open_flags */
#define AG_META_ACCEPT_ROLLBACK 0x1 /* start at the newest whole commit
				     * anyway: commit past the damaged one,
				     * whose changes are lost, and wipe its
				     * damaged record copies */
int ag_meta_open_flags(const struct ag_config *cfg, int flags,
		       struct ag_meta **mp);
/* The same for the metad that holds the lease of lease_epoch (lease.h):
 * no lock, a fencing epoch of at least lease_epoch, and a first durable
 * commit (the fence, commit.h) before it returns. */
int ag_meta_open_leased(const struct ag_config *cfg, int flags,
			uint32_t lease_epoch, struct ag_meta **mp);
void ag_meta_close(struct ag_meta *m);

/* Apply one encoded transaction to the open batch. Returns 0 with the
 * outcome in *res, or -AG_EPROTO when the bytes are malformed. */
int ag_meta_apply(struct ag_meta *m, const uint8_t *txn, size_t len,
		  struct ag_meta_result *res);

/* The chunks that the transaction txn (applied, not a replay) stored:
 * its client wrote them without a sync (a lazy handle), so the commit of
 * the open batch names them in its record, or syncs every drive before
 * it writes the record when there are more than a record holds. */
void ag_meta_note_unsynced(struct ag_meta *m, const uint8_t *txn, size_t len);
/* How a commit record's data (commit.h) is checked when the newest whole
 * record is picked: the data plane's ag_stripes_check_data, which lives
 * a layer above; metad gives it before it opens the cluster. Without
 * one, data lists are not checked. */
void ag_meta_set_data_check(int (*check)(struct ag_drives *ds,
					 const struct ag_commit_rec *r));

/* Commit the open batch: durable, with every commit before it, or lazy
 * (written, not synced). *gen and *root describe the result (the current
 * ones when nothing was applied; a durable call then syncs what lazy
 * commits left). On failure the batch is lost, metad reloads its state
 * from the drives and every transaction of the batch must be answered
 * with the error. */
int ag_meta_commit(struct ag_meta *m, int lazy, uint64_t *gen,
		   uint64_t *root);
/* Make the segments freed by committed generations usable now, with
 * durable commits that carry a reuse round over them, instead of at the
 * next round: for a transaction refused for want of space that is in
 * fact free. Commits what the batch holds so far. */
int ag_meta_reclaim(struct ag_meta *m);
/* Copy the pages the newest commit wrote into buf (AG_PAGE_SIZE each) and
 * return their number: up to max of them, and with part the first max of
 * a commit with more, else none; 0 when one cannot be read. */
uint32_t ag_meta_commit_pages(struct ag_meta *m, uint8_t *buf, uint32_t max,
			      int part);
/* Non-zero once a failed commit could not reload the state from the
 * drives (they went away): the engine then applies and commits nothing
 * (-EIO), and its daemon must let go of it (close it, open again). */
int ag_meta_broken(const struct ag_meta *m);
/* Non-zero when transactions wait in the open batch. */
int ag_meta_pending(const struct ag_meta *m);

uint64_t ag_meta_gen(const struct ag_meta *m);
/* The newest generation known durable (synced), at most ag_meta_gen. */
uint64_t ag_meta_synced_gen(struct ag_meta *m);
uint64_t ag_meta_root(const struct ag_meta *m);

/* A client was heard from (its leases stay valid). */
void ag_meta_client_alive(struct ag_meta *m, uint64_t client);
/* Client holds ino open (0, or -ENOENT when there is no such inode):
 * should its last name go, it becomes an orphan of the client instead
 * of being destroyed (holds.c). */
int ag_meta_hold(struct ag_meta *m, uint64_t client, uint64_t ino);
/* Client closed ino: an orphan nobody else holds is dropped in the open
 * batch. */
void ag_meta_release(struct ag_meta *m, uint64_t client, uint64_t ino);
/* What client's heartbeat says it holds (n little-endian u64 inodes):
 * the whole set, replacing what the table had. */
void ag_meta_holds_set(struct ag_meta *m, uint64_t client,
		       const uint8_t *inos, size_t n);
/* Housekeeping between batches: expire leases of silent clients, free
 * drained segments, sync lazy commits that waited lazy_sync_ms. Adds
 * work to the open batch. */
void ag_meta_tick(struct ag_meta *m);

#endif
