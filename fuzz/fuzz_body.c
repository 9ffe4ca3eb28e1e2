/*
 * fuzz_body.c - request bodies (s3d/body.c): plain, aws-chunked with
 * signed chunks, unsigned with trailers, Content-MD5 and the
 * x-amz-checksum-* sums, read whole through the body reader. The input
 * is a request (request.h) whose x-amz-content-sha256 header says how
 * the body is framed, as s3_auth would have set it; chunk signatures are
 * checked against a fixed signing key, so a mismatch ends most signed
 * bodies, as a wrong one would.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_request f;
	struct s3_body b;
	const char *ph;
	char buf[4096];
	long n;

	if (fuzz_request_open(&f, data, size))
		return 0;
	ph = s3_header(&f.r, "x-amz-content-sha256");
	snprintf(f.r.payload_hash, sizeof(f.r.payload_hash), "%s",
		 ph ? ph : "UNSIGNED-PAYLOAD");
	memset(f.r.seed_signature, '0', 64);
	snprintf(f.r.amz_date, sizeof(f.r.amz_date), "20400101T120000Z");
	snprintf(f.r.scope, sizeof(f.r.scope),
		 "20400101/us-east-1/s3/aws4_request");
	f.r.continued = 1; /* no "100 Continue" to send */
	if (s3_body_open(&b, &f.r) == S3_OK)
		while ((n = s3_body_read(&b, buf, sizeof(buf))) > 0)
			fuzz_touch(buf, (size_t)n);
	s3_body_close(&b);
	fuzz_request_close(&f);
	return 0;
}
