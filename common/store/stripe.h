/*
 * stripe.h - the data plane under the chunk store: packing stored chunks
 * into full erasure-coded stripes of a leased data segment, and reading
 * them back, rebuilding from any k strips when drives are missing,
 * unreadable or return corrupt bytes.
 *
 * Geometry (format.h): stripe t of segment s is slots t(k+m) ..
 * t(k+m)+k+m-1 of strip_size each; the first k are data, the rest parity.
 * A segment's payload (the data strips of its stripes, in order) is one
 * byte range; a data address is seg << 32 | payload offset. Chunks are
 * packed back to back and may cross strip and stripe boundaries, never
 * segments. No byte on a drive is ever written twice.
 *
 * A stripe is written whole when it fills. A commit that must make a
 * partly filled stripe durable writes it mirrored instead, when its bytes
 * fit: the stripe's k + m slots form G = (k + m) / (m + 1) groups of
 * m + 1 slots, group g holding payload [g strip, (g + 1) strip) of the
 * stripe on its m + 1 slots (slot g, then slots G + g m .. G + g m + m - 1).
 * Slot g is where erasure coding keeps that payload too, so reads need
 * not know which form a stripe has; only a rebuild does. Later commits
 * append to a mirrored stripe block by block until it is closed; a small
 * object costs its size m + 1 times over, not a whole stripe.
 */
#ifndef AG_STRIPE_H
#define AG_STRIPE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "drive.h"
#include "geometry.h" /* the payload of a segment, of a mirrored stripe */

struct ag_stripes;
struct ag_packer;
struct ag_commit_rec;

/* A stripe that reached the drives: the tree records its strip crcs, or
 * for a mirrored stripe how much of it is written. */
struct ag_stripe_done {
	uint32_t seg, stripe;
	uint32_t mirrored;           /* bytes of a mirrored stripe; 0: EC */
	uint32_t crc[AG_MAX_DRIVES]; /* k + m strip crc32c */
};

/* Shared, thread-safe reader context over ds (borrowed). */
int ag_stripes_new(struct ag_drives *ds, struct ag_stripes **sp);
void ag_stripes_free(struct ag_stripes *s);

/* Read len bytes of payload at data address addr into buf and check that
 * their crc32c equals crc. On an I/O error or a crc mismatch, rebuild the
 * affected stripes from the other strips (trying each way of leaving out
 * up to m strips until the crc matches) and count the repair in
 * ag_stripe_rebuilds. Returns 0, -AG_ECORRUPT when no combination gives
 * the right bytes, -EIO when fewer than k strips can be read, -EINVAL when
 * the range leaves its segment. */
int ag_stripes_read(struct ag_stripes *s, uint64_t addr, void *buf,
		    size_t len, uint32_t crc);

/* Whether the data that commit record r lists (commit.h) is on ds: each
 * chunk reads back with its crc, rebuilt from the other strips or copies
 * if need be. 1 yes (or r lists none), 0 when one does not (a torn
 * commit: the record must not stand), -ENOMEM. With the page store's
 * check, what ag_commit_pick asks of a record. */
int ag_stripes_check_data(struct ag_drives *ds, const struct ag_commit_rec *r);

/* Read len bytes of payload at addr as they are on the drives, with no
 * check and no rebuild: the pieces on each drive in one read, all drives
 * at once. For large sequential reads whose chunks the caller checks one
 * by one (falling back to ag_stripes_read for any that fails). -EIO when
 * a piece cannot be read. */
int ag_stripes_read_range(struct ag_stripes *s, uint64_t addr, void *buf,
			  size_t len);

/* Read stripe t of segment seg whole (k + m strips into bufs, strip_size
 * each; a NULL entry skips that strip) and report in ok[] which strips
 * were readable; used by fsck and scrub to check strip crcs. */
int ag_stripes_read_raw(struct ag_stripes *s, uint32_t seg, uint32_t stripe,
			uint8_t *const *bufs, uint8_t *ok);

/* Check the first bytes of mirrored stripe t of segment seg: bad[j]
 * becomes 1 for a slot that cannot be read, 2 for one whose copy differs
 * from the others of its group (the majority, or slot g when there is
 * none). Returns the number of bad slots, or -errno. */
int ag_stripes_check_mirror(struct ag_stripes *s, uint32_t seg, uint32_t t,
			    uint32_t bytes, uint8_t *bad);
/* The same, and rewrite each bad copy of a group from the copy a strict
 * majority of that group's copies agree with (*repaired: slots written).
 * A group with no majority (two copies that differ) is left as it is. */
int ag_stripes_repair_mirror(struct ag_stripes *s, uint32_t seg, uint32_t t,
			     uint32_t bytes, uint8_t *bad, int *repaired);
/* Either of the two (repair or not) for a rebuild: the copies on the
 * drives of fresh, new drives whose copies are being rebuilt, have no
 * vote, and a group's copy is the one a strict majority of its other
 * readable copies agree with (with m = 1, the one other copy). A fresh
 * copy with no other readable is bad (2). repaired may be NULL. */
int ag_stripes_rebuild_mirror(struct ag_stripes *s, uint32_t seg, uint32_t t,
			      uint32_t bytes, uint64_t fresh, int repair,
			      uint8_t *bad, int *repaired);

/* A packer fills leased segments; one per writer thread. */
int ag_packer_new(struct ag_stripes *s, struct ag_packer **pp);
void ag_packer_free(struct ag_packer *p);
/* Begin packing into segment seg from payload offset fill (a multiple of
 * the stripe payload, k * strip). Any open stripe must be flushed first. */
void ag_packer_start(struct ag_packer *p, uint32_t seg, uint64_t fill);
/* Stop using the open segment (flush first); ag_packer_active becomes 0. */
void ag_packer_stop(struct ag_packer *p);
/* 1 when a segment is open. */
int ag_packer_active(const struct ag_packer *p);
/* Bytes that still fit in the open segment (0 when none is open). */
uint64_t ag_packer_room(const struct ag_packer *p);
/* Append len bytes; *addr gets their data address. A full stripe is
 * encoded; full stripes go to the drives in batches, each written while
 * the next fills (and checked when the next is full, at flush and at
 * take). -ENOSPC when len exceeds the room. */
int ag_packer_add(struct ag_packer *p, const void *buf, size_t len,
		  uint64_t *addr);
/* Start writing the full stripes gathered so far, unless the write before
 * them is still going (a writer between two batches of chunks: the write
 * goes on while it prepares the next). Never waits for the drives. */
int ag_packer_kick(struct ag_packer *p);
/* Make the bytes of the open stripe durable once synced: mirrored when
 * they fit (the stripe stays open, and the next add starts at the next
 * block), otherwise as a whole zero-padded stripe (the next add starts a
 * new stripe). Every stripe is on the drives when it returns 0. Does not
 * sync. */
int ag_packer_flush(struct ag_packer *p);
/* Payload offset where the next stripe of the open segment begins. */
uint64_t ag_packer_fill(const struct ag_packer *p);
/* Move the stripes written since the last call to the caller: *list
 * (malloc'd, caller frees) and *n; -EIO when one of them could not be
 * written. */
int ag_packer_take(struct ag_packer *p, struct ag_stripe_done **list, int *n);

extern atomic_ulong ag_stripe_rebuilds;

#endif
