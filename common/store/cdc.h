/*
 * cdc.h - content-defined chunking (FastCDC-style gear hash with
 * normalised chunking).
 *
 * A cut point depends only on the bytes just before it (a 64-bit gear
 * hash over a sliding window), so inserting bytes early in a stream moves
 * only the boundaries near the insertion: that is what lets identical
 * content dedup across elements and versions.
 */
#ifndef AG_CDC_H
#define AG_CDC_H

#include <stddef.h>
#include <stdint.h>

struct ag_cdc {
	uint32_t min, avg, max;
	uint64_t mask_small; /* harder to match: used before avg */
	uint64_t mask_large; /* easier to match: used after avg */
};

/* min <= avg <= max, avg a power of two, min >= 64; -EINVAL otherwise. */
int ag_cdc_init(struct ag_cdc *c, uint32_t min, uint32_t avg, uint32_t max);

/* Length of the next chunk at the start of buf. When fewer than max bytes
 * are available and eof is 0 and no cut point was found, returns 0: call
 * again with more data. With eof set, always returns > 0 for len > 0. */
size_t ag_cdc_next(const struct ag_cdc *c, const uint8_t *buf, size_t len,
		   int eof);

#endif
