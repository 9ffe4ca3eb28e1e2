/*
 * bench_cdc.c - content-defined chunking's throughput (cdc.c) at four
 * parameter sets: the default 16K/64K/256K, 2K/8K/64K, the smallest
 * 64/256/1K and a huge average. One thread, in memory; each figure is
 * as many passes over 8 MiB of pseudo-random bytes as fit in half a
 * second (the gear hash costs the same whatever the bytes; only how
 * often it cuts depends on them).
 *
 *   bench_cdc
 *
 * Prints one line per set and a "result KEY VALUE" line (bench/run.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cdc.h"

#define STREAM (8u << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Chunk data over and over for half a second; GB/s. */
static double bench(const uint8_t *data, uint32_t min, uint32_t avg,
		    uint32_t max)
{
	struct ag_cdc c;
	size_t bytes = 0, chunks = 0;
	double t0 = now(), t, gbps;

	if (ag_cdc_init(&c, min, avg, max))
		return 0;
	do {
		size_t off = 0;

		while (off < STREAM) {
			off += ag_cdc_next(&c, data + off, STREAM - off, 1);
			chunks++;
		}
		bytes += STREAM;
	} while ((t = now() - t0) < 0.5);
	gbps = bytes / t / 1e9;
	printf("chunking %u/%u/%u: %.2f GB/s (%zu chunks)\n", min, avg, max,
	       gbps, chunks);
	return gbps;
}

int main(void)
{
	uint8_t *data = malloc(STREAM);
	uint64_t x = 0x0123456789abcdefull;
	size_t i;

	if (!data)
		return 1;
	for (i = 0; i < STREAM; i++) { /* xorshift64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (uint8_t)(x >> 32);
	}
	printf("result chunk_GBps %.2f\n", bench(data, 16384, 65536, 262144));
	bench(data, 2048, 8192, 65536);
	bench(data, 64, 256, 1024);
	bench(data, 64, 1 << 20, 1 << 22);
	free(data);
	return 0;
}
