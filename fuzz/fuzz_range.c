/*
 * fuzz_range.c - Range and conditional headers (s3d/object.c, copy.c):
 * Range and x-amz-copy-source-range against objects of a few sizes;
 * If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since of a
 * read (and of a copy's source); If-Match / If-None-Match of a write;
 * over the headers of a request (request.h).
 */
#include "fuzz.h"
#include "request.h"

#define FUZZ_ETAG "\"9e107d9d372bb6826bd81d3542a419d6\""

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = { 0, 1, 4096, UINT64_MAX };
	struct fuzz_request f;
	uint64_t from, to;
	uint8_t md5[16];
	size_t i;
	int cond;

	if (fuzz_request_open(&f, data, size))
		return 0;
	for (i = 0; i < S3_ARRAY_LEN(sizes); i++)
		if (s3_range_parse(s3_header(&f.r, "Range"), sizes[i], &from,
				   &to) == 1 &&
		    (from > to || to >= sizes[i]))
			__builtin_trap(); /* a range outside the object */
	for (i = 0; i < S3_ARRAY_LEN(sizes); i++)
		if (s3_copy_range(s3_header(&f.r, "x-amz-copy-source-range"),
				  sizes[i], &from, &to) == S3_OK &&
		    (to > sizes[i] || from > sizes[i] - to))
			__builtin_trap(); /* a copy past the source's end */
	s3_conditions(&f.r, "", FUZZ_ETAG, 1700000000ll * 1000000000,
		      S3_NOT_MODIFIED);
	s3_conditions(&f.r, "x-amz-copy-source-", FUZZ_ETAG, 0,
		      S3_PRECONDITION_FAILED);
	s3_write_condition(&f.r, &cond, md5);
	fuzz_request_close(&f);
	return 0;
}
