/*
 * delta.h - similarity reduction of chunks: super-features that find a
 * stored chunk resembling a new one, a zstd delta of the new chunk
 * against the plain bytes of that reference, and the cold compression
 * of a chunk kept whole.
 *
 * Super-features (Finesse, FAST'19; Odess): a gear hash rolls over the
 * chunk; at the positions where it hits a sampling mask, AG_DELTA_FEATURES
 * linear transforms of it are taken and each feature keeps its largest
 * value; the features are then folded in groups into AG_DELTA_SF
 * super-features. A small edit changes few sampled positions, so most
 * features and nearly always at least one super-feature stay the same;
 * unrelated chunks share none (64-bit values).
 *
 * The groups are of one feature: bench_delta found that a group of two
 * or four, which must survive whole, misses most of the references a
 * rebuilt binary or a tarball of a later version has (libssl3 3.0.20 to
 * .22: 6 % saved with 3 groups of 4, 22 % with 4 of 1, 27 % for a
 * reference found by trying every chunk), and four single features cost
 * four index entries a chunk where twelve gained little more. The super-features of
 * given bytes never change: the constants are fixed below, and a stored
 * index (keys.h, SIMILAR) keeps naming the same chunks.
 *
 * A delta is one zstd frame compressed with the reference's plain bytes
 * as prefix (ZSTD_CCtx_refPrefix): it decodes only against exactly those
 * bytes. Whether to keep it is the caller's choice: ag_delta_encode fails
 * with -ENOSPC when the delta does not fit the room given, so a caller
 * that gives the size of the chunk's plain zstd frame keeps only deltas
 * that are smaller.
 */
#ifndef AG_DELTA_H
#define AG_DELTA_H

#include <stddef.h>
#include <stdint.h>

#define AG_DELTA_FEATURES 4
#define AG_DELTA_SF 4

struct ag_delta_sf {
	uint64_t sf[AG_DELTA_SF];
};

/* The super-features of data[0..len) in *out: 0, or -ENODATA when the
 * chunk is too short for the hash to sample any position (then it has
 * no features and *out is zeroed). No allocation; thread-safe. */
int ag_delta_features(const void *data, size_t len, struct ag_delta_sf *out);

/* Compression and decompression state, reusable by one thread at a time;
 * a NULL context in the calls below means one made for that call. */
struct ag_delta_ctx;
int ag_delta_ctx_new(struct ag_delta_ctx **ctxp);
/* Accepts NULL. */
void ag_delta_ctx_free(struct ag_delta_ctx *ctx);

/* The zstd level of what the similarity stage stores: the deltas it
 * makes, and the chunks it keeps whole, compressed again from their
 * plain bytes as they leave the write buffer (ag_delta_compress). The
 * write path compresses at the cluster's level (1 by default), for
 * speed; the stage runs in the background over data written once and
 * read seldom. On 16 KiB pieces of this tree's sources, against level
 * 1: level 9 stores 9 % less at 26 MB/s, 12 11 % less at 14 MB/s, 19
 * 11.4 % at 4.6 MB/s. */
#define AG_DELTA_COLD_LEVEL 12

/* src[0..len) as one plain zstd frame at level (with its content size
 * and no checksum, as the write path makes them) into dst[0..cap); *zlen
 * its length. -ENOSPC when it needs more than cap (a caller that gives
 * the length of the chunk's present frame less one gets only smaller
 * frames), -ENOMEM. */
int ag_delta_compress(struct ag_delta_ctx *ctx, const void *src, size_t len,
		      int level, void *dst, size_t cap, size_t *zlen);

/* Room that always holds the delta of len bytes. */
size_t ag_delta_bound(size_t len);

/* The room to give a delta of a chunk whose zstd frame is zlen bytes: a
 * delta is worth keeping only when it saves a quarter. A chunk stored
 * whole is a reference for later ones, where a delta is not, and taking
 * any delta at all turns chunks with only a little in common into
 * deltas that the next version of them could have used whole
 * (bench_delta -k: 100 % 24 % saved on two versions of git, 75 % 29 %,
 * 60 % 28 %). */
size_t ag_delta_keep_room(size_t zlen);

/* The delta of src[0..len) against ref[0..rlen) at zstd level into
 * dst[0..cap); *dlen its length. src must not overlap ref (zstd takes
 * an overlapped prefix for one overwritten, and finds nothing in it). -ENOSPC when it needs more than cap,
 * -EINVAL when len or rlen exceeds AG_DELTA_MAX, -ENOMEM. */
#define AG_DELTA_MAX (4u << 20)
int ag_delta_encode(struct ag_delta_ctx *ctx, const void *ref, size_t rlen,
		    const void *src, size_t len, int level, void *dst,
		    size_t cap, size_t *dlen);

/* Decode delta[0..dlen) against ref[0..rlen) into exactly ulen bytes at
 * dst: 0, or -AG_ECORRUPT when the delta is damaged, made against other
 * bytes or does not decode to ulen bytes; -ENOMEM. */
int ag_delta_decode(struct ag_delta_ctx *ctx, const void *ref, size_t rlen,
		    const void *delta, size_t dlen, void *dst, size_t ulen);

#endif
