/*
 * fuzz_commit.c - commit records (commit.c's codec): every slot of every
 * drive's ring is decoded when a cluster opens. The decoder is also
 * given the input at its own length, short of a block or not.
 */
#include "block.h"
#include "commit.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t block[AG_BLOCK];
	struct ag_commit_rec rec;

	if (!ag_commit_decode(data, size, &rec))
		fuzz_touch(rec.pages, rec.npages * sizeof(rec.pages[0]));
	fuzz_block(block, data, size);
	if (!ag_commit_decode(block, sizeof(block), &rec))
		fuzz_touch(rec.pages, rec.npages * sizeof(rec.pages[0]));
	fuzz_block_fix_crc(block);
	if (!ag_commit_decode(block, sizeof(block), &rec))
		fuzz_touch(rec.pages, rec.npages * sizeof(rec.pages[0]));
	return 0;
}
