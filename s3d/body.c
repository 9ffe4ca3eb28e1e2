/*
 * body.c - request bodies as a verified byte stream. Plain bodies are
 * checked against the signed x-amz-content-sha256; aws-chunked bodies
 * (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER
 * and the signed trailer form) are de-framed here, each chunk signature
 * checked against the previous one, and the trailing checksum compared.
 * Content-MD5 and x-amz-checksum-* are verified for every form. Every
 * check happens before the last byte is handed over (read returns 0 only
 * after all of them passed), so a caller that commits on 0 never
 * publishes unverified data.
 */
#include <civetweb.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3d.h"

#define STREAM_SIGNED "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define STREAM_SIGNED_TRAILER "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
#define STREAM_UNSIGNED_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
#define EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- CRCs, reflected, one table each, built once ---- */

static const struct {
	const char *name;
	uint64_t poly;
	int bits;
} crcs[] = {
	[S3_SUM_CRC32] = { "crc32", 0xEDB88320ull, 32 },
	[S3_SUM_CRC32C] = { "crc32c", 0x82F63B78ull, 32 },
	[S3_SUM_CRC64NVME] = { "crc64nvme", 0x9A6C9329AC4BC9B5ull, 64 },
	[S3_SUM_SHA1] = { "sha1", 0, 0 },
	[S3_SUM_SHA256] = { "sha256", 0, 0 },
};
static uint64_t crc_table[3][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	int s, i, b;

	for (s = S3_SUM_CRC32; s <= S3_SUM_CRC64NVME; s++)
		for (i = 0; i < 256; i++) {
			uint64_t c = i;

			for (b = 0; b < 8; b++)
				c = c & 1 ? (c >> 1) ^ crcs[s].poly : c >> 1;
			crc_table[s - S3_SUM_CRC32][i] = c;
		}
}

uint64_t s3_crc_update(enum s3_sum s, uint64_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;
	const uint64_t *t;
	uint64_t mask;

	pthread_once(&crc_once, crc_init);
	t = crc_table[s - S3_SUM_CRC32];
	mask = crcs[s].bits == 64 ? ~0ull : 0xffffffffull;
	crc = ~crc & mask;
	while (n--)
		crc = t[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc & mask;
}

static void b64(const uint8_t *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

void s3_sum_b64(enum s3_sum s, uint64_t crc, char *out)
{
	uint8_t be[8];
	int i, nb = crcs[s].bits / 8;

	for (i = 0; i < nb; i++)
		be[i] = (uint8_t)(crc >> (8 * (nb - 1 - i)));
	b64(be, nb, out);
}

/* ---- reading ---- */

static long raw_read(struct s3_body *b, void *buf, size_t len)
{
	int n = s3_recv(b->r, buf, len);

	return n > 0 ? n : -(long)S3_INCOMPLETE_BODY;
}

/* One CRLF-terminated line of the chunk framing. */
static long read_line(struct s3_body *b, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		char ch;
		long rc = raw_read(b, &ch, 1);

		if (rc < 0)
			return rc;
		if (ch == '\n')
			break;
		if (n + 1 >= size)
			return -(long)S3_INVALID_REQUEST;
		line[n++] = ch;
	}
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = 0;
	return (long)n;
}

static enum s3_sum sum_by_name(const char *name)
{
	int s;

	for (s = S3_SUM_CRC32; s <= S3_SUM_SHA256; s++)
		if (!strcasecmp(name, crcs[s].name))
			return s;
	return S3_SUM_NONE;
}

static enum s3_err sum_start(struct s3_body *b, const char *name,
			     const char *expect)
{
	b->sum = sum_by_name(name);
	if (b->sum == S3_SUM_NONE)
		return S3_INVALID_REQUEST;
	snprintf(b->sum_name, sizeof(b->sum_name), "%s", crcs[b->sum].name);
	if (expect)
		snprintf(b->sum_expect, sizeof(b->sum_expect), "%s", expect);
	if (b->sum == S3_SUM_SHA1 || b->sum == S3_SUM_SHA256) {
		b->sum_md = EVP_MD_CTX_new();
		if (!b->sum_md ||
		    !EVP_DigestInit_ex(b->sum_md, b->sum == S3_SUM_SHA1
				       ? EVP_sha1() : EVP_sha256(), NULL))
			return S3_INTERNAL;
	}
	return S3_OK;
}

enum s3_err s3_body_open(struct s3_body *b, struct s3_req *r)
{
	const char *ph = r->payload_hash, *h;
	int i;

	memset(b, 0, sizeof(*b));
	b->r = r;
	b->left = r->ri->content_length;
	if (!strcmp(ph, STREAM_SIGNED) || !strcmp(ph, STREAM_SIGNED_TRAILER)) {
		b->chunked = b->signed_chunks = 1;
		b->trailer = ph[strlen(STREAM_SIGNED)] != 0;
		memcpy(b->prev_sig, r->seed_signature, 65);
	} else if (!strcmp(ph, STREAM_UNSIGNED_TRAILER)) {
		b->chunked = b->trailer = 1;
	} else if (strcmp(ph, "UNSIGNED-PAYLOAD")) {
		if (strlen(ph) != 64)
			return S3_SHA256_MISMATCH;
		b->sha = EVP_MD_CTX_new();
		if (!b->sha || !EVP_DigestInit_ex(b->sha, EVP_sha256(), NULL))
			return S3_INTERNAL;
	}
	if (b->chunked && !s3_header(r, "x-amz-decoded-content-length"))
		return S3_MISSING_CONTENT_LENGTH;
	if (b->left < 0 && !b->chunked &&
	    !s3_header(r, "Transfer-Encoding"))
		return S3_MISSING_CONTENT_LENGTH;
	/* the writer hashes MD5 for the ETag already: here only to check a
	 * Content-MD5 the client sent */
	if (s3_header(r, "Content-MD5")) {
		b->md5 = EVP_MD_CTX_new();
		if (!b->md5 || !EVP_DigestInit_ex(b->md5, EVP_md5(), NULL))
			return S3_INTERNAL;
	}
	if (b->signed_chunks) {
		b->chunk_sha = EVP_MD_CTX_new();
		if (!b->chunk_sha)
			return S3_INTERNAL;
	}
	/* a checksum in a header, or announced for the trailer */
	for (i = 0; i < r->ri->num_headers; i++) {
		const char *n = r->ri->http_headers[i].name;

		if (!strncasecmp(n, "x-amz-checksum-", 15) &&
		    strcasecmp(n, "x-amz-checksum-algorithm") &&
		    strcasecmp(n, "x-amz-checksum-type"))
			return sum_start(b, n + 15, r->ri->http_headers[i].value);
	}
	h = s3_header(r, "x-amz-trailer");
	if (h && b->trailer && !strncasecmp(h, "x-amz-checksum-", 15))
		return sum_start(b, h + 15, NULL);
	return S3_OK;
}

static void consume(struct s3_body *b, const void *buf, size_t n)
{
	if (b->md5)
		EVP_DigestUpdate(b->md5, buf, n);
	if (b->sha)
		EVP_DigestUpdate(b->sha, buf, n);
	if (b->chunk_sha)
		EVP_DigestUpdate(b->chunk_sha, buf, n);
	if (b->sum_md)
		EVP_DigestUpdate(b->sum_md, buf, n);
	else if (b->sum != S3_SUM_NONE)
		b->crc = s3_crc_update(b->sum, b->crc, buf, n);
	b->total += n;
}

/* The chunk just read: its signature chains from the previous one. */
static enum s3_err check_chunk_sig(struct s3_body *b)
{
	char sts[512], hash[65], sig[65];
	uint8_t md[32], mac[32];
	unsigned int ml = 32;

	EVP_DigestFinal_ex(b->chunk_sha, md, &ml);
	s3_hex(md, 32, hash);
	snprintf(sts, sizeof(sts),
		 "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n" EMPTY_SHA256 "\n%s",
		 b->r->amz_date, b->r->scope, b->prev_sig, hash);
	s3_hmac(b->r->signing_key, 32, sts, strlen(sts), mac);
	s3_hex(mac, 32, sig);
	if (strcmp(sig, b->chunk_sig))
		return S3_SIGNATURE_MISMATCH;
	memcpy(b->prev_sig, sig, sizeof(sig));
	return S3_OK;
}

/* Next chunk header "SIZE[;chunk-signature=SIG]". */
static long chunk_header(struct s3_body *b)
{
	char line[256], *semi, *e;
	long rc = read_line(b, line, sizeof(line));

	if (rc < 0)
		return rc;
	b->chunk_left = strtoull(line, &e, 16);
	if (e == line || (*e && *e != ';') || b->chunk_left > (1ull << 40))
		return -(long)S3_INVALID_REQUEST;
	semi = strchr(line, ';');
	if (b->signed_chunks) {
		if (!semi || strncmp(semi + 1, "chunk-signature=", 16) ||
		    strlen(semi + 17) != 64)
			return -(long)S3_SIGNATURE_MISMATCH;
		memcpy(b->chunk_sig, semi + 17, 65);
		if (!EVP_DigestInit_ex(b->chunk_sha, EVP_sha256(), NULL))
			return -(long)S3_INTERNAL;
	}
	return 0;
}

/* After the zero-size chunk: trailer lines up to an empty one. */
static long read_trailers(struct s3_body *b)
{
	char line[512];
	long rc;

	while ((rc = read_line(b, line, sizeof(line))) > 0) {
		char *colon = strchr(line, ':');

		if (!colon)
			return -(long)S3_INVALID_REQUEST;
		*colon = 0;
		if (!strncasecmp(line, "x-amz-checksum-", 15)) {
			char *v = colon + 1;

			while (*v == ' ')
				v++;
			if (b->sum == S3_SUM_NONE) {
				enum s3_err e = sum_start(b, line + 15, v);

				if (e)
					return -(long)e;
				return -(long)S3_INVALID_REQUEST;
			}
			snprintf(b->sum_expect, sizeof(b->sum_expect), "%s", v);
		}
		/* x-amz-trailer-signature: accepted, not checked */
	}
	return rc;
}

/* Everything is in: compare digests and checksums. */
static long finish(struct s3_body *b)
{
	unsigned int ml;
	uint8_t md[64];
	const char *cmd5 = s3_header(b->r, "Content-MD5");

	if (b->sha) {
		char hex[65];

		ml = 32;
		EVP_DigestFinal_ex(b->sha, md, &ml);
		s3_hex(md, 32, hex);
		if (strcasecmp(hex, b->r->payload_hash))
			return -(long)S3_SHA256_MISMATCH;
	}
	if (cmd5) {
		char want[32];

		ml = 16;
		EVP_DigestFinal_ex(b->md5, b->md5_out, &ml);
		b64(b->md5_out, 16, want);
		if (strlen(cmd5) != 24)
			return -(long)S3_INVALID_DIGEST;
		if (strcmp(want, cmd5))
			return -(long)S3_BAD_DIGEST;
	}
	if (b->sum != S3_SUM_NONE) {
		if (b->sum_md) {
			ml = sizeof(md);
			EVP_DigestFinal_ex(b->sum_md, md, &ml);
			b64(md, ml, b->sum_b64);
		} else {
			s3_sum_b64(b->sum, b->crc, b->sum_b64);
		}
		if (!*b->sum_expect || strcmp(b->sum_b64, b->sum_expect))
			return -(long)S3_BAD_CHECKSUM;
	}
	if (b->chunked) {
		const char *dl = s3_header(b->r, "x-amz-decoded-content-length");

		if (strtoull(dl, NULL, 10) != b->total)
			return -(long)S3_INCOMPLETE_BODY;
	}
	b->done = 1;
	b->r->body_complete = 1;
	return 0;
}

long s3_body_read(struct s3_body *b, void *buf, size_t len)
{
	long rc;

	if (b->done)
		return 0;
	if (!b->r->continued) {
		const char *ex = s3_header(b->r, "Expect");

		/* civetweb leaves "100 Continue" to us: a client waiting
		 * for it would otherwise stall (a second, for most) */
		b->r->continued = 1;
		if (ex && !strcasecmp(ex, "100-continue"))
			mg_printf(b->r->conn, "HTTP/1.1 100 Continue\r\n\r\n");
	}
	if (!b->chunked) {
		if (b->left == 0)
			return finish(b);
		if (b->left > 0 && (uint64_t)len > (uint64_t)b->left)
			len = (size_t)b->left;
		rc = s3_recv(b->r, buf, len);
		if (rc <= 0) {
			if (b->left < 0 && rc == 0) /* chunked transfer end */
				return finish(b);
			return -(long)S3_INCOMPLETE_BODY;
		}
		if (b->left > 0)
			b->left -= rc;
		consume(b, buf, rc);
		return rc;
	}
	if (!b->chunk_left) {
		rc = chunk_header(b);
		if (rc < 0)
			return rc;
		if (!b->chunk_left) {
			enum s3_err e = b->signed_chunks ? check_chunk_sig(b)
							 : S3_OK;

			if (e)
				return -(long)e;
			rc = b->trailer ? read_trailers(b) : 0;
			if (!b->trailer) {
				char line[8];

				rc = read_line(b, line, sizeof(line));
			}
			if (rc < 0)
				return rc;
			return finish(b);
		}
	}
	if ((uint64_t)len > b->chunk_left)
		len = (size_t)b->chunk_left;
	rc = raw_read(b, buf, len);
	if (rc < 0)
		return rc;
	consume(b, buf, rc);
	b->chunk_left -= rc;
	if (!b->chunk_left) {
		char crlf[8];
		enum s3_err e;

		if (read_line(b, crlf, sizeof(crlf)) != 0)
			return -(long)S3_INVALID_REQUEST;
		e = b->signed_chunks ? check_chunk_sig(b) : S3_OK;
		if (e)
			return -(long)e;
	}
	return rc;
}

void s3_body_close(struct s3_body *b)
{
	EVP_MD_CTX_free(b->sha);
	EVP_MD_CTX_free(b->md5);
	EVP_MD_CTX_free(b->chunk_sha);
	EVP_MD_CTX_free(b->sum_md);
	b->sha = b->md5 = b->chunk_sha = b->sum_md = NULL;
}
