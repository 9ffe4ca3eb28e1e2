/*
 * fuzz_policy.c - bucket policy documents (s3d/policy.c): the JSON reader
 * and the check of the subset served, on the bytes of a
 * PutBucketPolicy body. Whatever the input, the answer is one of the
 * three the check may give, and a detail, when set, is a string.
 */
#include <string.h>

#include "fuzz.h"
#include "../s3d/s3d.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *detail = NULL;
	enum s3_err e = s3_policy_check((const char *)data, size, "bucket",
					&detail);

	if (e != S3_OK && e != S3_MALFORMED_POLICY && e != S3_NOT_IMPLEMENTED &&
	    e != S3_INTERNAL)
		__builtin_trap();
	if (detail)
		fuzz_touch(detail, strlen(detail));
	return 0;
}
