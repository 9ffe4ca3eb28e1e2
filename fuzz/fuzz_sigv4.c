/*
 * fuzz_sigv4.c - SigV4 (s3d/sigv4.c): the Authorization header or the
 * presigned query, the date checks and the canonical request, over a
 * request decoded as s3_http_handle decodes it. Every access key has the
 * same secret, so a seed signed with it passes (the seeds of the corpus
 * are), and the fuzzer reaches everything up to the comparison.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "request.h"

#define FUZZ_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static int any_user(void *arg, const char *access, struct ag_user *u)
{
	(void)arg;
	memset(u, 0, sizeof(*u));
	snprintf(u->access, sizeof(u->access), "%s", access);
	snprintf(u->secret, sizeof(u->secret), "%s", FUZZ_SECRET);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_request f;
	const char *detail = NULL;

	if (fuzz_request_open(&f, data, size))
		return 0;
	if (s3_req_decode(&f.r, &detail) == S3_OK &&
	    s3_auth_with(&f.r, any_user, NULL) == S3_OK)
		fuzz_touch(f.r.payload_hash, strlen(f.r.payload_hash));
	fuzz_request_close(&f);
	return 0;
}
