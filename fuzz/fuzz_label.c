/*
 * fuzz_label.c - drive labels (drive.c): block 0 of every drive, read at
 * every open, from drives that may hold anything.
 */
#include "block.h"
#include "drive.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t block[AG_BLOCK];
	struct ag_label l;

	fuzz_block(block, data, size);
	if (!ag_label_decode(block, &l))
		fuzz_touch(&l, sizeof(l));
	fuzz_block_fix_crc(block);
	if (!ag_label_decode(block, &l))
		fuzz_touch(&l, sizeof(l));
	return 0;
}
