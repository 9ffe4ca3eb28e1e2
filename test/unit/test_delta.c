/*
 * test_delta.c - unit tests for similarity reduction (delta.c): deltas
 * round-trip against references of every size, an identical or one-byte
 * edited chunk makes a tiny delta, an unrelated one none worth keeping,
 * damage and a wrong reference are -AG_ECORRUPT; super-features survive
 * small edits and are not shared by unrelated data; the cold frame of a
 * chunk is a plain zstd frame, smaller than the write path's, made only
 * when it fits. Speed is bench/bench_delta's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "delta.h"
#include "keys.h" /* AG_CHUNK_LIMIT */
#include "tap.h"
#include "util.h"

static uint64_t rng;

/* Text-like bytes: words of a small alphabet, compressible about 2:1 as
 * source code is, but never the same twice. */
static void fill_text(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = "etaoin shrdlu\n{}();"[tap_rand(&rng) % 19];
}

static void fill_random(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(tap_rand(&rng) >> 56);
}

/* Encode src against ref, decode it back and compare; the delta's length
 * in *dlen. */
static int round_trip(struct ag_delta_ctx *ctx, const uint8_t *ref,
		      size_t rlen, const uint8_t *src, size_t len,
		      size_t *dlen)
{
	size_t cap = ag_delta_bound(len);
	uint8_t *d = malloc(cap), *back = malloc(len + 1);
	int rc = -ENOMEM;

	if (d && back)
		rc = ag_delta_encode(ctx, ref, rlen, src, len, 3, d, cap, dlen);
	if (!rc)
		rc = ag_delta_decode(ctx, ref, rlen, d, *dlen, back, len);
	if (!rc && memcmp(back, src, len))
		rc = -EILSEQ;
	free(d);
	free(back);
	return rc;
}

static void test_sizes(struct ag_delta_ctx *ctx)
{
	static const size_t sizes[] = { 0, 1, 100, 64 << 10, AG_CHUNK_LIMIT };
	size_t i, j;

	ok(AG_DELTA_MAX == AG_CHUNK_LIMIT, "a delta covers the largest chunk");
	for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		size_t rlen = sizes[i];
		uint8_t *ref = malloc(rlen + 1);

		fill_text(ref, rlen);
		for (j = 0; j < sizeof(sizes) / sizeof(*sizes); j++) {
			size_t len = sizes[j], dlen = 0, k;
			uint8_t *src = malloc(len + 1);
			int rc;

			/* the reference's bytes, edited every 4 KiB, and
			 * new text past the reference's end */
			for (k = 0; k < len; k++)
				src[k] = k < rlen ? ref[k] : "xyz\n"[k % 4];
			for (k = 0; k < len; k += 4096)
				src[k] ^= 0x20;
			rc = round_trip(ctx, ref, rlen, src, len, &dlen);
			/* the same length edited: the delta is small */
			if (rlen == len && len >= 64 << 10 && dlen > len / 64)
				rc = -EFBIG;
			ok(!rc, "reference of %zu bytes, chunk of %zu: round "
			   "trip (%zu-byte delta): %d", rlen, len, dlen, rc);
			free(src);
		}
		free(ref);
	}
}

static void test_gain(struct ag_delta_ctx *ctx)
{
	size_t len = 64 << 10, dlen = 0, cap = ag_delta_bound(len);
	uint8_t *ref = malloc(len), *src = malloc(len), *d = malloc(cap);
	uint8_t *back = malloc(len);
	int rc;

	fill_random(ref, len);
	memcpy(src, ref, len);
	rc = round_trip(ctx, ref, len, src, len, &dlen);
	ok(!rc && dlen < 64, "an identical 64 KiB chunk: %zu-byte delta", dlen);

	memcpy(src, ref, len);
	src[len / 3] ^= 1;
	rc = round_trip(ctx, ref, len, src, len, &dlen);
	ok(!rc && dlen < 100, "a one-byte edit of 64 KiB of random bytes: "
	   "%zu-byte delta", dlen);

	/* the edit at the very start and at the very end */
	memcpy(src, ref, len);
	src[0] ^= 1;
	src[len - 1] ^= 1;
	rc = round_trip(ctx, ref, len, src, len, &dlen);
	ok(!rc && dlen < 100, "edits of the first and last byte: %zu-byte "
	   "delta", dlen);

	/* unrelated random bytes: no gain, and -ENOSPC when asked to beat
	 * half their size */
	fill_random(src, len);
	rc = round_trip(ctx, ref, len, src, len, &dlen);
	ok(!rc && dlen >= len, "an unrelated chunk round-trips, %zu-byte delta",
	   dlen);
	rc = ag_delta_encode(ctx, ref, len, src, len, 3, d, len / 2, &dlen);
	ok(rc == -ENOSPC, "an unrelated chunk does not fit half its size: "
	   "-ENOSPC (%d)", rc);

	/* no context: one is made for the call */
	memcpy(src, ref, len);
	src[7] ^= 1;
	rc = ag_delta_encode(NULL, ref, len, src, len, 1, d, cap, &dlen);
	if (!rc)
		rc = ag_delta_decode(NULL, ref, len, d, dlen, back, len);
	ok(!rc && !memcmp(back, src, len) && dlen < 100,
	   "without a context: %zu-byte delta round-trips", dlen);

	ok(ag_delta_keep_room(1000) == 750 && ag_delta_keep_room(1) == 1,
	   "a delta is kept when it saves a quarter");
	rc = ag_delta_encode(ctx, ref, AG_DELTA_MAX + 1, src, len, 1, d, cap,
			     &dlen);
	ok(rc == -EINVAL, "a reference over AG_DELTA_MAX: -EINVAL (%d)", rc);
	free(ref);
	free(src);
	free(d);
	free(back);
}

static void test_damage(struct ag_delta_ctx *ctx)
{
	size_t len = 64 << 10, dlen = 0, cap = ag_delta_bound(len), i;
	uint8_t *ref = malloc(len), *src = malloc(len), *d = malloc(cap);
	uint8_t *other = malloc(len), *back = malloc(len);
	unsigned refused = 0, tries = 0;
	int rc;

	fill_text(ref, len);
	memcpy(src, ref, len);
	for (i = 0; i < len; i += 1000)
		src[i] = '#';
	rc = ag_delta_encode(ctx, ref, len, src, len, 3, d, cap, &dlen);
	ok(!rc, "delta of an edited text chunk: %zu bytes", dlen);

	/* every byte of the delta flipped in turn: refused, or (a flip of
	 * a header field that does not matter, such as the window size)
	 * still the right bytes; never wrong bytes */
	for (i = 0; i < dlen; i++, tries++) {
		d[i] ^= 0x40;
		memset(back, 0, len);
		rc = ag_delta_decode(ctx, ref, len, d, dlen, back, len);
		if (rc == -AG_ECORRUPT)
			refused++;
		else if (rc || memcmp(back, src, len))
			break;
		d[i] ^= 0x40;
	}
	ok(i == dlen && refused * 10 >= tries * 9, "each of %u flipped bytes: "
	   "-AG_ECORRUPT (%u) or the right bytes", tries, refused);
	rc = ag_delta_decode(ctx, ref, len, d, dlen / 2, back, len);
	ok(rc == -AG_ECORRUPT, "a truncated delta: -AG_ECORRUPT (%d)", rc);
	rc = ag_delta_decode(ctx, ref, len, d, dlen, back, len - 1);
	ok(rc == -AG_ECORRUPT, "a delta of another length: -AG_ECORRUPT (%d)",
	   rc);
	memcpy(other, ref, len);
	other[len / 2] ^= 1;
	rc = ag_delta_decode(ctx, other, len, d, dlen, back, len);
	ok(rc == -AG_ECORRUPT, "against a reference one byte off: "
	   "-AG_ECORRUPT (%d)", rc);
	rc = ag_delta_decode(ctx, ref, len - 1, d, dlen, back, len);
	ok(rc == -AG_ECORRUPT, "against a reference one byte short: "
	   "-AG_ECORRUPT (%d)", rc);
	rc = ag_delta_decode(ctx, ref, len, d, 0, back, len);
	ok(rc == -AG_ECORRUPT, "an empty delta: -AG_ECORRUPT (%d)", rc);
	/* the context is still good after all that */
	rc = ag_delta_decode(ctx, ref, len, d, dlen, back, len);
	ok(!rc && !memcmp(back, src, len), "the intact delta still decodes");
	free(ref);
	free(src);
	free(d);
	free(other);
	free(back);
}

static unsigned shared_sf(const struct ag_delta_sf *a,
			  const struct ag_delta_sf *b)
{
	unsigned i, j, n = 0;

	for (i = 0; i < AG_DELTA_SF; i++)
		for (j = 0; j < AG_DELTA_SF; j++)
			n += a->sf[i] == b->sf[j];
	return n;
}

static void test_features(void)
{
	size_t len = 64 << 10, t, trials = 100;
	uint8_t *a = malloc(len + 256), *b = malloc(len + 256);
	struct ag_delta_sf fa, fb;
	unsigned kept = 0, none_kept = 0, shared = 0, rc;

	ok(ag_delta_features(a, 0, &fa) == -ENODATA && !fa.sf[0],
	   "an empty chunk has no features: -ENODATA");
	fill_random(a, 31);
	ok(ag_delta_features(a, 31, &fa) == -ENODATA,
	   "a chunk shorter than the hash window has none: -ENODATA");
	fill_text(a, len);
	rc = ag_delta_features(a, len, &fa);
	ok(!rc && ag_delta_features(a, len, &fb) == 0 &&
	   shared_sf(&fa, &fb) == AG_DELTA_SF,
	   "the same bytes give the same super-features");
	ok(fa.sf[0] != fa.sf[1] && fa.sf[1] != fa.sf[2],
	   "a chunk's super-features differ from each other");

	/* small edits: a byte changed, a few bytes inserted */
	for (t = 0; t < trials; t++) {
		size_t at = tap_rand(&rng) % len, n;

		fill_text(a, len);
		ag_delta_features(a, len, &fa);
		if (t % 2) {
			memcpy(b, a, len);
			b[at] ^= 0x55;
			n = len;
		} else {
			memcpy(b, a, at);
			memcpy(b + at, "INSERTED", 8);
			memcpy(b + at + 8, a + at, len - at);
			n = len + 8;
		}
		ag_delta_features(b, n, &fb);
		rc = shared_sf(&fa, &fb);
		kept += rc;
		none_kept += !rc;
	}
	ok(!none_kept && kept * 10 >= trials * AG_DELTA_SF * 9,
	   "%zu small edits of 64 KiB keep %u of %zu super-features, none "
	   "lost all (%u did)", trials, kept, trials * AG_DELTA_SF,
	   none_kept);

	/* an edit every 4 KiB still leaves something to find, usually */
	for (t = 0, kept = 0; t < trials; t++) {
		size_t i;

		fill_text(a, len);
		memcpy(b, a, len);
		for (i = tap_rand(&rng) % 4096; i < len; i += 4096)
			b[i] ^= 0x55;
		ag_delta_features(a, len, &fa);
		ag_delta_features(b, len, &fb);
		kept += !!shared_sf(&fa, &fb);
	}
	ok(kept * 2 >= trials, "16 edits in 64 KiB: %u of %zu chunks keep a "
	   "super-feature", kept, trials);

	for (t = 0; t < trials; t++) {
		fill_random(a, len);
		fill_text(b, len);
		ag_delta_features(a, len, &fa);
		ag_delta_features(b, len, &fb);
		shared += shared_sf(&fa, &fb);
		fill_text(a, len);
		ag_delta_features(a, len, &fa);
		shared += shared_sf(&fa, &fb);
	}
	ok(!shared, "%zu pairs of unrelated chunks share no super-feature "
	   "(%u)", 2 * trials, shared);
	free(a);
	free(b);
}

/* Source-like bytes: words of a small vocabulary, so that there are
 * matches to find, as in real text (fill_text's letters have none, and
 * compress no better at a higher level). */
static void fill_words(uint8_t *p, size_t n)
{
	static const char *const words[] = {
		"static ", "int ", "return ", "struct ", "const ", "uint8_t ",
		"size_t ", "if (", "rc", " = ", ";\n", "\t", "len", "buf",
		"->", "for (i = 0; i < n; i++)", "{\n", "}\n", "goto out;\n",
		"NULL", "ctx", "free(", ")", ", ", "0", "1", "/* ", " */",
	};
	size_t i = 0, nw = sizeof(words) / sizeof(words[0]);

	while (i < n) {
		const char *w = words[tap_rand(&rng) % nw];

		while (*w && i < n)
			p[i++] = (uint8_t)*w++;
	}
}

/* The cold frame: any zstd reader decodes it alone (no prefix left from
 * a delta made before on the same context), it carries its content size
 * and on text it is smaller than level 1's; a cap it cannot meet is
 * -ENOSPC. */
static void test_cold(struct ag_delta_ctx *ctx)
{
	static const size_t sizes[] = { 1, 100, 4096, 65536, 1u << 20 };
	size_t len = 1u << 20, cap = ag_delta_bound(len), i, zlen, dlen, n;
	uint8_t *src = malloc(len), *ref = malloc(len), *z = malloc(cap);
	uint8_t *back = malloc(len);
	size_t cold = 0, warm = 0;
	int bad = 0;

	if (!src || !ref || !z || !back) {
		ok(0, "cold frame buffers");
		goto out;
	}
	fill_words(src, len);
	fill_text(ref, len);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t m = sizes[i];

		/* a delta first, so that a prefix left behind would show */
		if (ag_delta_encode(ctx, ref, m, src, m, 3, z, cap, &dlen) ||
		    ag_delta_compress(ctx, src, m, AG_DELTA_COLD_LEVEL, z, cap,
				      &zlen)) {
			bad++;
			continue;
		}
		n = ZSTD_decompress(back, m, z, zlen);
		bad += ZSTD_isError(n) || n != m || memcmp(back, src, m) ||
		       ZSTD_getFrameContentSize(z, zlen) != m;
		cold += zlen;
		warm += ZSTD_compress(back, len, src, m, 1);
	}
	ok(!bad, "cold frames of 1 B to 1 MiB decode alone to their bytes "
	   "(%d did not)", bad);
	ok(cold < warm, "cold frames of source-like text take %zu bytes, "
	   "level 1's %zu",
	   cold, warm);
	fill_random(src, 65536);
	ok(ag_delta_compress(ctx, src, 65536, AG_DELTA_COLD_LEVEL, z, 65535,
			     &zlen) == -ENOSPC,
	   "random bytes given less room than their length: -ENOSPC");
	ok(ag_delta_compress(NULL, src, 100, 1, z, cap, &zlen) == 0 &&
	   ZSTD_decompress(back, 100, z, zlen) == 100 &&
	   !memcmp(back, src, 100), "a cold frame without a context");
out:
	free(src);
	free(ref);
	free(z);
	free(back);
}

int main(void)
{
	struct ag_delta_ctx *ctx = NULL;

	rng = tap_seed() | 1;
	ok(!ag_delta_ctx_new(&ctx), "a context");
	test_sizes(ctx);
	test_gain(ctx);
	test_damage(ctx);
	test_features();
	test_cold(ctx);
	ag_delta_ctx_free(ctx);
	ag_delta_ctx_free(NULL);
	return tap_done();
}
