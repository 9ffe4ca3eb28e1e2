/*
 * fuzz_commit.c - commit records (the codec of the commit ring): every
 * slot of every drive's ring is decoded when a cluster opens.
 */
#include "block.h"
#include "drive.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t block[AG_BLOCK];
	struct ag_commit_rec rec;

	fuzz_block(block, data, size);
	if (!ag_commit_decode(block, &rec))
		fuzz_touch(rec.pages, rec.npages * sizeof(rec.pages[0]));
	fuzz_block_fix_crc(block);
	if (!ag_commit_decode(block, &rec))
		fuzz_touch(rec.pages, rec.npages * sizeof(rec.pages[0]));
	return 0;
}
