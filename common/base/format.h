/*
 * format.h - Agora's on-drive format, in one place.
 *
 * Every drive of a cluster has the same layout:
 *
 *   offset             size              contents
 *   0                  4096              drive label
 *   4096               16 * 4096         commit ring: slot = generation % 16
 *   AG_LEASE_OFF       4096              the active metad's lease
 *   AG_REBUILD_OFF     4096              rebuild cursor (a drive being
 *                                        rebuilt; zeros otherwise)
 *   AG_DATA_START      nsegments * seg   segments (the same rows on all drives)
 *
 * A segment is one row across all N drives: bytes [data_start + s * seg,
 * data_start + (s + 1) * seg) of every drive. A segment is cut into slots of
 * a fixed unit (a page for metadata segments, a strip for data segments)
 * numbered round-robin across the drives: slot L lies on drive L % N at
 * offset (L / N) * unit inside the segment. Any W <= N consecutive slots are
 * therefore on W distinct drives:
 *   - metadata page p of a segment is mirrored in slots 3p, 3p+1, 3p+2;
 *   - data stripe t of a segment is slots t(k+m) .. t(k+m)+k+m-1: k data
 *     strips then m parity strips.
 * A data segment's payload is the concatenation of the data strips of its
 * stripes: payload byte x is in stripe x / (k * strip), data strip
 * (x % (k * strip)) / strip. Chunks are packed into the payload and may
 * cross strip and stripe boundaries.
 *
 * Addresses (u64):  segment << 32 | index
 *   page address:   index = epoch << 16 | page slot p within the segment.
 *                   The slot says where the page lies; the epoch (the
 *                   page epoch of metad when it wrote the page, never 0)
 *                   makes a reused slot a new address, so no cache keyed
 *                   by address ever serves an old page for a new one.
 *                   0 means "no page".
 *   data address:   index = payload byte offset within the segment
 *
 * All integers are little-endian. Checksums are crc32c (isa-l
 * crc32_iscsi, seed 0xffffffff, final value stored as is).
 *
 * Drive label (4096 bytes at offset 0):
 *   0   8  magic "AGORADRV"
 *   8   4  format version (AG_FORMAT_VERSION: 4; a drive of another
 *          version is refused, never read or written)
 *   12  4  drive index
 *   16  16 cluster uuid
 *   32  4  drive count N
 *   36  4  ec k
 *   40  4  ec m
 *   44  4  page size
 *   48  4  strip size
 *   52  4  segment count
 *   56  8  segment size (bytes per drive)
 *   64  8  drive size (bytes)
 *   72  4  chunk min
 *   76  4  chunk avg
 *   80  4  chunk max
 *   84  4  zstd level
 *   88  8  creation time (unix seconds)
 *   4092 4 crc32c of bytes [0, 4092)
 *
 * Commit record (4096 bytes, slot gen % 16 of the ring, written to the
 * drives that hold copies of its pages, or to every present drive when
 * those are fewer than 3 (or than 3 succeed); at least 3 must succeed):
 *   0   8  magic "AGORACMT"
 *   8   8  generation
 *   16  8  root page address of the metadata tree
 *   24  4  fencing epoch of the metad that wrote it
 *   28  4  page epoch of the pages it wrote, at most (0: unknown)
 *   32  16 cluster uuid
 *   48  8  commit time (unix nanoseconds)
 *   56  8  lazy_since: first generation of the unsynced run the
 *          record ends (0: none; see agora-format(5))
 *   64  4  npages: pages listed below (at most 502)
 *   68  4  ndata: chunks listed after the pages (0: none)
 *   72  8n addresses of the pages this commit wrote
 *   72 + 8n  16 each: chunks its transactions stored without a sync:
 *          data address u64, stored length u32, crc32c u32 (in the room
 *          the pages leave: 8 npages + 16 ndata <= 4020)
 *   4092 4 crc32c of bytes [0, 4092)
 * A commit writes its pages and its record in one flush of every drive,
 * so after a crash the record may be on a drive while some of its pages
 * are not: a record that lists pages counts only when each of them has a
 * good copy written by its generation, and each chunk it lists reads
 * back with its crc. (A commit of more pages than fit lists none and
 * writes its record only after its pages are durable.)
 * Which record is the state of the cluster is commit.h's rule; the
 * offsets are commit.c's codec.
 *
 * Lease block (4096 bytes at AG_LEASE_OFF, right after the ring; every
 * present drive; the lease is the copy of the highest epoch, then
 * renewal count; rules in lease.h; zeros: nobody holds it):
 *   0   8  magic "AGORALSE"
 *   8   16 cluster uuid
 *   24  4  fencing epoch of the holder
 *   28  4  flags (1: released by a metad that stopped)
 *   32  8  renewal count
 *   40  8  lease duration (nanoseconds, on the holder's clock)
 *   48  16 holder's boot id
 *   64  4  holder's pid
 *   68  4  reserved (0)
 *   72  128 holder's address in `metad =`, NUL-terminated
 *   4092 4 crc32c of bytes [0, 4092)
 *
 * Page header (first AG_PAGE_HDR = 32 bytes of every metadata page; as
 * code, page.h):
 *   0   4  crc32c of bytes [4, page size)
 *   4   4  magic "AGPG"
 *   8   8  own page address
 *   16  8  generation that wrote it
 *   24  8  reserved (0)
 * A copy whose checksum, magic or address is wrong is corrupt; the reader
 * takes another mirror.
 */
#ifndef AG_FORMAT_H
#define AG_FORMAT_H

#include <stdint.h>

/* 2: variable-length INODE and EXTENT values (keys.h); 4: EVENT values
 * of varints (event.h). Drives of another format are refused at open:
 * their data is copied out with the Agora that wrote them. */
#define AG_FORMAT_VERSION 4
#define AG_BLOCK 4096u
#define AG_LABEL_MAGIC "AGORADRV"
#define AG_COMMIT_MAGIC "AGORACMT"
#define AG_PAGE_MAGIC "AGPG"
#define AG_COMMIT_OFF 4096u
#define AG_COMMIT_SLOTS 16u
#define AG_LEASE_MAGIC "AGORALSE"
#define AG_LEASE_OFF (AG_COMMIT_OFF + AG_COMMIT_SLOTS * AG_BLOCK)
#define AG_DATA_START (1u << 20)
/* Rebuild cursor (4096 bytes at AG_REBUILD_OFF, on a drive that agora
 * drive replace is rebuilding; rebuild.c's codec):
 *   0   8  magic "AGORAREB"
 *   8   16 cluster uuid
 *   24  4  drive index
 *   28  4  segment of the next stripe to rebuild
 *   32  4  stripe within it
 *   40  8  creation time of the drive's label (a cursor of a drive
 *          formatted since is not this drive's)
 *   48  8  bytes read so far
 *   4092 4 crc32c of bytes [0, 4092)
 * A rebuild that ends writes zeros over it. */
#define AG_REBUILD_MAGIC "AGORAREB"
#define AG_REBUILD_OFF (AG_LEASE_OFF + AG_BLOCK)
#define AG_PAGE_SIZE 4096u
#define AG_PAGE_COPIES 3
#define AG_MIN_DRIVES 3
/* transactions a client may have in flight (the CLIENT record keeps the
 * answers of this many) */
#define AG_TXN_WINDOW 32u

#define AG_ADDR(seg, idx) (((uint64_t)(seg) << 32) | (uint32_t)(idx))
#define AG_ADDR_SEG(a) ((uint32_t)((a) >> 32))
#define AG_ADDR_IDX(a) ((uint32_t)(a))
#define AG_PAGE_SLOT(a) ((uint32_t)(a) & 0xffffu)
#define AG_PAGE_EPOCH(a) (((uint32_t)(a) >> 16) & 0xffffu)
#define AG_PAGE_ADDR(seg, epoch, slot) \
	AG_ADDR(seg, ((uint32_t)(epoch) & 0xffffu) << 16 | (slot))
#define AG_MAX_PAGE_SLOTS 0xffffu

#endif
