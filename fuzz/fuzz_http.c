/*
 * fuzz_http.c - HTTP request decoding (s3d/http.c): the request line and
 * the headers as civetweb hands them over (request.h), decoded into
 * bucket, key, query parameters and framing by s3_req_decode, as every
 * request is before anything else looks at it.
 */
#include <string.h>

#include "fuzz.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_request f;
	const char *detail = NULL;
	int i;

	if (fuzz_request_open(&f, data, size))
		return 0;
	if (s3_req_decode(&f.r, &detail) == S3_OK) {
		fuzz_touch(f.r.bucket, strlen(f.r.bucket));
		fuzz_touch(f.r.key, strlen(f.r.key));
		for (i = 0; i < f.r.nparams; i++) {
			fuzz_touch(f.r.params[i].name,
				   strlen(f.r.params[i].name));
			fuzz_touch(f.r.params[i].value,
				   strlen(f.r.params[i].value));
		}
		s3_key_check(f.r.key);
	}
	fuzz_request_close(&f);
	return 0;
}
