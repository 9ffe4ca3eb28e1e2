/*
 * block.h - the input of a target over one 4096-byte on-drive block (a
 * label, a commit record): the input padded with zeros or cut to the
 * block, decoded as it is, then once more with its crc32c made right, so
 * that the fuzzer reaches the checks behind the checksum.
 */
#ifndef AG_FUZZ_BLOCK_H
#define AG_FUZZ_BLOCK_H

#include <string.h>

#include "format.h"
#include "util.h"

/* Fill block from the input; returns the block as given. */
static inline void fuzz_block(uint8_t block[AG_BLOCK], const uint8_t *data,
			      size_t size)
{
	memset(block, 0, AG_BLOCK);
	memcpy(block, data, size < AG_BLOCK ? size : AG_BLOCK);
}

/* The same block with a right crc in its last 4 bytes. */
static inline void fuzz_block_fix_crc(uint8_t block[AG_BLOCK])
{
	put_le32(block + AG_BLOCK - 4, ag_crc32c(block, AG_BLOCK - 4));
}

#endif
