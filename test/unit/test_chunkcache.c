/*
 * test_chunkcache.c - unit tests for the chunk cache: a chunk reads back
 * whole or in part, a range past its end misses, a chunk inserted again
 * replaces its bytes, the bytes held stay within the budget however many
 * chunks go in, and what was inserted last is still there.
 */
#include <stdlib.h>
#include <string.h>

#include "chunkcache.h"
#include "tap.h"

static uint64_t rng;

static void sha_of(uint32_t n, uint8_t sha[32])
{
	uint64_t s = n * 0x9e3779b97f4a7c15ull + 1;
	int i;

	for (i = 0; i < 32; i += 8) {
		uint64_t v = tap_rand(&s);

		memcpy(sha + i, &v, 8);
	}
}

static uint8_t *bytes(uint32_t len, uint8_t seed)
{
	uint8_t *p = malloc(len);
	uint32_t i;

	for (i = 0; p && i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
	return p;
}

int main(void)
{
	struct ag_chunk_cache *cc;
	uint8_t sha[32], other[32], buf[4096], *want;
	uint32_t i, hits = 0, n = 2000;
	int rc;

	rng = tap_seed() | 1;
	rc = ag_chunk_cache_new(256 << 10, &cc);
	ok(!rc, "a cache of 256 KiB");
	if (rc)
		return tap_done();
	ag_chunk_cache_free(NULL);

	sha_of(1, sha);
	sha_of(2, other);
	ok(!ag_chunk_cache_read(cc, sha, 0, buf, 1), "an empty cache misses");
	want = bytes(4096, 1);
	ag_chunk_cache_copy(cc, sha, want, 4096);
	ok(ag_chunk_cache_read(cc, sha, 0, buf, 4096) &&
		   !memcmp(buf, want, 4096),
	   "a chunk reads back whole");
	ok(ag_chunk_cache_read(cc, sha, 1000, buf, 96) &&
		   !memcmp(buf, want + 1000, 96),
	   "and in part");
	ok(!ag_chunk_cache_read(cc, sha, 4000, buf, 97),
	   "a range past its end misses");
	ok(!ag_chunk_cache_read(cc, other, 0, buf, 1),
	   "another digest misses");
	ag_chunk_cache_insert(cc, sha, bytes(2048, 9), 2048);
	free(want);
	want = bytes(2048, 9);
	ok(ag_chunk_cache_read(cc, sha, 0, buf, 2048) &&
		   !memcmp(buf, want, 2048) &&
		   !ag_chunk_cache_read(cc, sha, 0, buf, 2049),
	   "inserted again, a chunk has its new bytes and length");
	free(want);

	/* 2000 chunks of 1-4 KiB (about 5 MiB) through 256 KiB */
	for (i = 0; i < n; i++) {
		uint32_t len = 1024 + (uint32_t)(tap_rand(&rng) % 3072);

		sha_of(100 + i, sha);
		ag_chunk_cache_insert(cc, sha, bytes(len, (uint8_t)i), len);
	}
	for (i = 0; i < n; i++) {
		sha_of(100 + i, sha);
		hits += ag_chunk_cache_read(cc, sha, 0, buf, 1);
	}
	ok(hits > 0 && hits * 1024 <= (256u << 10),
	   "within its budget: %u of %u chunks kept", hits, n);
	sha_of(100 + n - 1, sha);
	ok(ag_chunk_cache_read(cc, sha, 0, buf, 1) &&
		   buf[0] == (uint8_t)(n - 1),
	   "the last chunk inserted is kept");
	ag_chunk_cache_free(cc);
	return tap_done();
}
