/*
 * sse.c - what a request says of server-side encryption, and what an
 * answer says of it. The encryption itself is the core's (crypt.c).
 *
 * SSE-C: x-amz-server-side-encryption-customer-algorithm AES256, the
 * 32-byte key in base64 and its MD5 in base64, which must agree; the
 * key is used for this request only and never stored (the core keeps
 * its MD5). SSE-S3: x-amz-server-side-encryption AES256, with the
 * cluster key of [s3] sse_key_file (held outside the drives); without
 * one configured, 501. aws:kms is 501. Served on PutObject, GetObject
 * and HeadObject, and on multipart uploads: CreateMultipartUpload marks
 * the upload (AG_XATTR_SSE_UPLOAD, the kind and the key's MD5), each
 * UploadPart encrypts its part with the key the mark names (an SSE-C
 * part must bring it), and completion joins the parts' segments (the
 * core's). Every other operation refuses these headers with 501
 * (http.c), and a copy of an encrypted source is refused too.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "s3d.h"

#define C_ALGO "x-amz-server-side-encryption-customer-algorithm"
#define C_KEY "x-amz-server-side-encryption-customer-key"
#define C_MD5 "x-amz-server-side-encryption-customer-key-MD5"
#define S_ALGO "x-amz-server-side-encryption"

static int b64_decode(const char *in, uint8_t *out, size_t want)
{
	uint8_t buf[96];
	size_t n = strlen(in), pad;
	int got;

	if (!n || n % 4 || n > 4 * (sizeof(buf) / 3))
		return -1;
	pad = (in[n - 1] == '=') + (in[n - 2] == '=');
	got = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
	if (got < 0 || (size_t)got - pad != want)
		return -1;
	memcpy(out, buf, want);
	return 0;
}

enum s3_err s3_sse_request(struct s3_req *r, struct s3_sse *sse,
			   const char **detail)
{
	const char *algo = s3_header(r, C_ALGO), *key = s3_header(r, C_KEY);
	const char *md5 = s3_header(r, C_MD5), *s3 = s3_header(r, S_ALGO);
	uint8_t want[16], got[16];
	unsigned ml = 16;

	memset(sse, 0, sizeof(*sse));
	if (algo || key || md5) {
		if (s3) {
			*detail = "Server Side Encryption with Customer "
				  "provided key is incompatible with the "
				  "encryption method specified";
			return S3_INVALID_ARGUMENT;
		}
		if (!algo || strcmp(algo, "AES256")) {
			*detail = "The encryption algorithm specified is not "
				  "valid.";
			return S3_INVALID_ARGUMENT;
		}
		if (!key || !md5 || b64_decode(key, sse->key, 32) ||
		    b64_decode(md5, want, 16)) {
			*detail = "The secret key was invalid for the "
				  "specified algorithm.";
			return S3_INVALID_ARGUMENT;
		}
		EVP_Digest(sse->key, 32, got, &ml, EVP_md5(), NULL);
		if (memcmp(got, want, 16)) {
			*detail = "The calculated MD5 hash of the key did not "
				  "match the hash that was provided.";
			return S3_INVALID_ARGUMENT;
		}
		sse->kind = AG_SSE_CUSTOMER;
		return S3_OK;
	}
	if (!s3)
		return S3_OK;
	if (strcmp(s3, "AES256")) {
		*detail = "Only AES256 server-side encryption is served "
			  "(no KMS).";
		return S3_NOT_IMPLEMENTED;
	}
	if (!r->conf->has_cluster_key) {
		*detail = "SSE-S3 needs [s3] sse_key_file in the configuration.";
		return S3_NOT_IMPLEMENTED;
	}
	sse->kind = AG_SSE_CLUSTER;
	memcpy(sse->key, r->conf->cluster_key, 32);
	return S3_OK;
}

enum s3_err s3_sse_key_for(struct s3_req *r, const struct ag_sse *stored,
			   const struct s3_sse *given, const uint8_t **key)
{
	if (stored->kind == AG_SSE_CUSTOMER) {
		if (given->kind != AG_SSE_CUSTOMER)
			return S3_INVALID_REQUEST;
		if (!ag_sse_key_matches(stored, given->key))
			return S3_ACCESS_DENIED;
		*key = given->key;
		return S3_OK;
	}
	if (given->kind == AG_SSE_CUSTOMER)
		return S3_INVALID_REQUEST;
	if (!r->conf->has_cluster_key ||
	    !ag_sse_key_matches(stored, r->conf->cluster_key))
		return S3_INTERNAL; /* the key it was written with is gone */
	*key = r->conf->cluster_key;
	return S3_OK;
}

int s3_sse_upload_mark(struct s3_req *r, uint64_t up, const struct s3_sse *sse)
{
	char mark[64], md5hex[33];
	uint8_t md5[16];
	unsigned ml = 16;

	if (!sse->kind)
		return 0;
	EVP_Digest(sse->key, 32, md5, &ml, EVP_md5(), NULL);
	s3_hex(md5, 16, md5hex);
	snprintf(mark, sizeof(mark), "%d %s", sse->kind, md5hex);
	return ag_setxattr(r->c, up, AG_XATTR_SSE_UPLOAD, mark, strlen(mark),
			   0);
}

enum s3_err s3_sse_for_part(struct s3_req *r, uint64_t up, struct s3_sse *sse,
			    const char **detail)
{
	char mark[64], md5hex[33], have[33];
	ssize_t n = ag_getxattr(r->c, up, AG_XATTR_SSE_UPLOAD, mark,
				sizeof(mark) - 1);
	enum s3_err e = s3_sse_request(r, sse, detail);
	uint8_t md5[16];
	unsigned ml = 16;
	int kind;

	if (e)
		return e;
	if (n == -ENODATA) {
		if (!sse->kind)
			return S3_OK;
		*detail = "The upload was not started with encryption.";
		return S3_INVALID_REQUEST;
	}
	if (n < 0)
		return s3_errno((int)n, 1);
	mark[n] = 0;
	if (sscanf(mark, "%d %32s", &kind, md5hex) != 2)
		return S3_INTERNAL;
	if (kind == AG_SSE_CLUSTER && !sse->kind && r->conf->has_cluster_key) {
		sse->kind = AG_SSE_CLUSTER;
		memcpy(sse->key, r->conf->cluster_key, 32);
	}
	if (sse->kind != kind) {
		*detail = "The upload was started with another form of "
			  "Server Side Encryption: its parts need the same.";
		return S3_INVALID_REQUEST;
	}
	EVP_Digest(sse->key, 32, md5, &ml, EVP_md5(), NULL);
	s3_hex(md5, 16, have);
	if (strcmp(have, md5hex)) {
		*detail = "The key is not the one the upload was started with.";
		return kind == AG_SSE_CUSTOMER ? S3_ACCESS_DENIED : S3_INTERNAL;
	}
	return S3_OK;
}

void s3_sse_headers(int kind, const uint8_t key_md5[16], char *hdr,
		    size_t size)
{
	char b64[32];
	size_t n = strlen(hdr);

	if (kind == AG_SSE_CLUSTER) {
		snprintf(hdr + n, size - n, S_ALGO ": AES256\r\n");
	} else if (kind == AG_SSE_CUSTOMER) {
		EVP_EncodeBlock((unsigned char *)b64, key_md5, 16);
		snprintf(hdr + n, size - n, C_ALGO ": AES256\r\n" C_MD5 ": %s\r\n",
			 b64);
	}
}
