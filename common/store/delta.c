/*
 * delta.c - super-features of chunks, zstd deltas against a reference
 * and the cold compression of whole chunks (delta.h).
 *
 * The feature hash is a gear hash like cdc.c's but with a table of its
 * own (splitmix64 from the seed "AgoraSim"): on cdc.c's table the sampled
 * positions would be the very ones where chunks are cut, which every chunk
 * has at its end. It shifts by two bits a byte, so that its top bits
 * depend on the last 32 bytes, not 64: an edit spoils fewer samples
 * (bench_delta: a third more saved on rebuilt binaries). Its table and the transforms are generated once from
 * fixed seeds with integer arithmetic only, so they are the same on every
 * build; a change to them makes the stored SIMILAR index miss (never give
 * wrong bytes: a delta always names its reference by digest).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "delta.h"
#include "util.h"

/* One position in 128 is sampled: a 64 KiB chunk has about 512 samples, a
 * 4 KiB one 32. The mask takes the top bits, which depend on the whole
 * WINDOW bytes of the hash. */
#define SAMPLE_MASK (0x7full << 57)
#define SHIFT 2
#define WINDOW (64 / SHIFT)
#define PER_SF (AG_DELTA_FEATURES / AG_DELTA_SF)

static uint64_t gear[256];
static uint64_t mul[AG_DELTA_FEATURES], add[AG_DELTA_FEATURES];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void tables_init(void)
{
	uint64_t s = 0x41676f726153696dull; /* "AgoraSim" */
	int i;

	for (i = 0; i < 256; i++)
		gear[i] = splitmix64(&s);
	for (i = 0; i < AG_DELTA_FEATURES; i++) {
		mul[i] = splitmix64(&s) | 1; /* odd: a bijection of the hash */
		add[i] = splitmix64(&s);
	}
}

/* Fold one group of features into a super-feature; the group's index is
 * mixed in so that equal features in two groups give two values (all
 * super-features share one index in the tree). */
static uint64_t fold(const uint64_t *f, unsigned group)
{
	uint64_t h = 0x5346ull + group; /* "SF" */
	unsigned i;

	for (i = 0; i < PER_SF; i++) {
		h ^= f[i];
		h *= 0x9fb21c651e98df25ull;
		h ^= h >> 29;
	}
	return h;
}

/* A sampled position: each feature keeps the largest of its transform
 * (without a branch: which one wins is unpredictable). */
static inline void sample(uint64_t *feat, uint64_t h)
{
	unsigned j;

	for (j = 0; j < AG_DELTA_FEATURES; j++) {
		uint64_t t = h * mul[j] + add[j];

		feat[j] = t > feat[j] ? t : feat[j];
	}
}

int ag_delta_features(const void *data, size_t len, struct ag_delta_sf *out)
{
	const uint8_t *p = data;
	uint64_t feat[AG_DELTA_FEATURES] = { 0 }, h = 0, h1;
	size_t i, samples = 0;
	unsigned j;

	pthread_once(&tables_once, tables_init);
	memset(out, 0, sizeof(*out));
	/* the first bytes have a hash of less than a full window: they are
	 * not sampled, so that a feature never depends on where the chunk
	 * starts */
	for (i = 0; i < WINDOW - 1 && i < len; i++)
		h = (h << SHIFT) + gear[p[i]];
	/* two bytes a round, as cdc.c's scan */
	for (; i + 2 <= len; i += 2) {
		h1 = (h << SHIFT) + gear[p[i]];
		h = (h1 << SHIFT) + gear[p[i + 1]];
		if (__builtin_expect(!(h1 & SAMPLE_MASK), 0)) {
			sample(feat, h1);
			samples++;
		}
		if (__builtin_expect(!(h & SAMPLE_MASK), 0)) {
			sample(feat, h);
			samples++;
		}
	}
	if (i < len) {
		h = (h << SHIFT) + gear[p[i]];
		if (!(h & SAMPLE_MASK)) {
			sample(feat, h);
			samples++;
		}
	}
	if (!samples)
		return -ENODATA;
	for (j = 0; j < AG_DELTA_SF; j++)
		out->sf[j] = fold(feat + j * PER_SF, j);
	return 0;
}

struct ag_delta_ctx {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

int ag_delta_ctx_new(struct ag_delta_ctx **ctxp)
{
	struct ag_delta_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	ctx->cctx = ZSTD_createCCtx();
	ctx->dctx = ZSTD_createDCtx();
	if (!ctx->cctx || !ctx->dctx) {
		ag_delta_ctx_free(ctx);
		return -ENOMEM;
	}
	*ctxp = ctx;
	return 0;
}

void ag_delta_ctx_free(struct ag_delta_ctx *ctx)
{
	if (!ctx)
		return;
	ZSTD_freeCCtx(ctx->cctx);
	ZSTD_freeDCtx(ctx->dctx);
	free(ctx);
}

size_t ag_delta_bound(size_t len)
{
	return ZSTD_compressBound(len);
}

size_t ag_delta_keep_room(size_t zlen)
{
	return zlen - zlen / 4;
}

/* A delta frame carries zstd's checksum of the plain bytes (4 bytes): a
 * damaged literal or a reference of other bytes would otherwise decode
 * to wrong bytes without an error, and the chunk's crc32c covers only
 * the stored frame. */

/* Past a megabyte the match finder's tables of the fast levels hold too
 * few positions of the reference (a 4 MiB chunk edited every 4 KiB
 * deltas to more than half its size); long-distance matching finds them
 * (the same chunk: a few hundred bytes). */
#define LDM_FROM (1u << 20)

/* The smallest window log that keeps the whole reference in view of the
 * last byte of the source: a match may reach back to the prefix's start. */
static int window_log(size_t rlen, size_t len)
{
	int wl = 10; /* zstd's least */

	/* at most 2 * AG_DELTA_MAX: a window log of 23 */
	while (((size_t)1 << wl) < rlen + len)
		wl++;
	return wl;
}

/* One frame of src[0..len) into dst[0..cap) with cctx's parameters:
 * -ENOSPC when it does not fit. */
static int compress_frame(ZSTD_CCtx *cctx, const void *src, size_t len,
			  void *dst, size_t cap, size_t *out)
{
	size_t n = ZSTD_compress2(cctx, dst, cap, src, len);

	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall
			       ? -ENOSPC
			       : -ENOMEM;
	*out = n;
	return 0;
}

int ag_delta_encode(struct ag_delta_ctx *ctx, const void *ref, size_t rlen,
		    const void *src, size_t len, int level, void *dst,
		    size_t cap, size_t *dlen)
{
	struct ag_delta_ctx *own = NULL;
	int rc = 0;

	if (len > AG_DELTA_MAX || rlen > AG_DELTA_MAX)
		return -EINVAL;
	if (!ctx) {
		rc = ag_delta_ctx_new(&own);
		if (rc)
			return rc;
		ctx = own;
	}
	ZSTD_CCtx_reset(ctx->cctx, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(ctx->cctx,
						ZSTD_c_compressionLevel,
						level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(ctx->cctx, ZSTD_c_windowLog,
						window_log(rlen, len))) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(ctx->cctx,
						ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(
		    ctx->cctx, ZSTD_c_enableLongDistanceMatching,
		    rlen + len > LDM_FROM)) ||
	    ZSTD_isError(ZSTD_CCtx_refPrefix(ctx->cctx, ref, rlen))) {
		rc = -EINVAL;
		goto out;
	}
	rc = compress_frame(ctx->cctx, src, len, dst, cap, dlen);
out:
	ag_delta_ctx_free(own);
	return rc;
}

int ag_delta_compress(struct ag_delta_ctx *ctx, const void *src, size_t len,
		      int level, void *dst, size_t cap, size_t *zlen)
{
	struct ag_delta_ctx *own = NULL;
	int rc = 0;

	if (!ctx) {
		rc = ag_delta_ctx_new(&own);
		if (rc)
			return rc;
		ctx = own;
	}
	ZSTD_CCtx_reset(ctx->cctx, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(ctx->cctx,
						ZSTD_c_compressionLevel,
						level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(ctx->cctx,
						ZSTD_c_contentSizeFlag, 1))) {
		rc = -EINVAL;
		goto out;
	}
	rc = compress_frame(ctx->cctx, src, len, dst, cap, zlen);
out:
	ag_delta_ctx_free(own);
	return rc;
}

int ag_delta_decode(struct ag_delta_ctx *ctx, const void *ref, size_t rlen,
		    const void *delta, size_t dlen, void *dst, size_t ulen)
{
	struct ag_delta_ctx *own = NULL;
	unsigned long long fsize;
	size_t n;
	int rc = 0;

	/* a frame that says it holds another length is damaged: refuse it
	 * before zstd writes anything */
	fsize = ZSTD_getFrameContentSize(delta, dlen);
	if (fsize != ulen)
		return AG_CORRUPT("delta frame of %llu bytes, chunk of %zu",
				  fsize, ulen);
	if (!ctx) {
		rc = ag_delta_ctx_new(&own);
		if (rc)
			return rc;
		ctx = own;
	}
	ZSTD_DCtx_reset(ctx->dctx, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_DCtx_refPrefix(ctx->dctx, ref, rlen))) {
		rc = -ENOMEM;
		goto out;
	}
	n = ZSTD_decompressDCtx(ctx->dctx, dst, ulen, delta, dlen);
	if (ZSTD_isError(n) || n != ulen)
		rc = AG_CORRUPT("delta does not decode to its chunk");
out:
	ag_delta_ctx_free(own);
	return rc;
}
