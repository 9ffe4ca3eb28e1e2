/*
 * request.h - an S3 request for the s3d targets, made from the input as
 * civetweb would hand it over: the first line "METHOD TARGET", then one
 * header "Name: value" a line (at most MG_MAX_HEADERS, as civetweb keeps;
 * a line without ':' is skipped), an empty line, and the body, which
 * s3_recv then reads. TARGET is split at '?' into the path and the query
 * string; Content-Length sets the request's content_length.
 */
#ifndef AG_FUZZ_REQUEST_H
#define AG_FUZZ_REQUEST_H

#include <civetweb.h>

#include "../s3d/s3d.h"

struct fuzz_request {
	char *text;               /* the input, NUL-terminated, cut up */
	struct mg_request_info ri;
	struct s3_conf conf;      /* domain "s3.test", a skew of 30 years */
	struct s3_req r;          /* conn, c: NULL */
	const char *body;         /* after the empty line (or "") */
	size_t body_len;
};

/* 0, or -1 when the input has no request line (nothing to free then). */
int fuzz_request_open(struct fuzz_request *f, const uint8_t *data,
		      size_t size);
/* Free what it and s3_req_decode allocated. */
void fuzz_request_close(struct fuzz_request *f);

#endif
