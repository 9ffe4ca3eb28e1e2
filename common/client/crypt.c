/*
 * crypt.c - server-side encryption of an element's bytes (S3 SSE-C and
 * SSE-S3): AES-256-GCM in blocks, with the element's size the plaintext
 * size, so that listings, HEAD and ranges need nothing else.
 *
 * The element holds the ciphertext of each block at the block's own
 * offset (GCM does not change lengths); its xattr AG_XATTR_SSE says
 * "KIND KEYMD5 SALT BLOCK" (kind 1 a customer's key, 2 the cluster's;
 * the MD5 of that key and a random 16-byte salt in hex; the block size)
 * and AG_XATTR_SSE_TAGS holds the 16-byte GCM tag of every block, in
 * order. The key of the element is HMAC-SHA256(key, "agora sse" salt),
 * the IV of block i its big-endian 64-bit number and four zero bytes:
 * no IV is ever used twice under one key. Blocks are 1 MiB, or a power
 * of two more when the size given at the start needs it to keep the tags
 * within one xattr (AG_SSE_BLOCKS_MAX blocks). The key itself is never
 * stored; a read with another key is -EACCES (its MD5 differs), a block
 * whose tag does not match -EBADMSG.
 *
 * Ciphertext under a per-element key never repeats: encrypted elements
 * are neither deduplicated nor compressed (their chunks are what the
 * store keeps of random bytes), by design.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora.h"
#include "elem.h"

#define BLOCK_MIN (1u << 20)

struct ag_crypt_writer {
	struct ag_writer *w;
	int kind;
	uint8_t key[32];      /* the element's, derived */
	uint8_t key_md5[16], salt[16];
	uint32_t block;
	uint8_t *buf;         /* the block being filled */
	size_t fill;
	uint64_t blocks;
	uint8_t *tags;
	EVP_MD_CTX *md5;      /* of the plaintext: the ETag */
};

static void hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int derive(const uint8_t key[32], const uint8_t salt[16],
		  uint8_t out[32])
{
	uint8_t msg[9 + 16];
	unsigned len = 32;

	memcpy(msg, "agora sse", 9);
	memcpy(msg + 9, salt, 16);
	return HMAC(EVP_sha256(), key, 32, msg, sizeof(msg), out, &len) ? 0
									 : -EIO;
}

static void key_md5(const uint8_t key[32], uint8_t out[16])
{
	unsigned len = 16;

	EVP_Digest(key, 32, out, &len, EVP_md5(), NULL);
}

/* Encrypt or decrypt n bytes of block i in place; the tag is written
 * (enc) or checked. */
static int gcm(const uint8_t key[32], uint64_t i, uint8_t *p, size_t n,
	       uint8_t tag[16], int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t iv[12] = { 0 };
	int len, ok, k;

	for (k = 0; k < 8; k++)
		iv[k] = (uint8_t)(i >> (56 - 8 * k));
	ok = ctx && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv,
				      enc) == 1;
	if (ok && n)
		ok = EVP_CipherUpdate(ctx, p, &len, p, (int)n) == 1;
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(ctx, p + n, &len) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : enc ? -EIO : -EBADMSG;
}

int ag_crypt_writer_new(struct ag_writer *w, int kind, const uint8_t key[32],
			uint64_t size_hint, struct ag_crypt_writer **cwp)
{
	struct ag_crypt_writer *cw;
	int rc = -ENOMEM;

	if (kind != AG_SSE_CUSTOMER && kind != AG_SSE_CLUSTER)
		return -EINVAL;
	cw = calloc(1, sizeof(*cw));
	if (!cw)
		return -ENOMEM;
	cw->w = w;
	cw->kind = kind;
	cw->block = BLOCK_MIN;
	while (size_hint / cw->block >= AG_SSE_BLOCKS_MAX)
		cw->block *= 2;
	key_md5(key, cw->key_md5);
	cw->buf = malloc(cw->block);
	cw->tags = malloc((size_t)AG_SSE_BLOCKS_MAX * 16);
	cw->md5 = EVP_MD_CTX_new();
	if (!cw->buf || !cw->tags || !cw->md5 ||
	    !EVP_DigestInit_ex(cw->md5, EVP_md5(), NULL))
		goto fail;
	rc = RAND_bytes(cw->salt, sizeof(cw->salt)) == 1 ? 0 : -EIO;
	if (!rc)
		rc = derive(key, cw->salt, cw->key);
	if (rc)
		goto fail;
	*cwp = cw;
	return 0;
fail:
	ag_crypt_writer_free(cw);
	return rc;
}

static int flush_block(struct ag_crypt_writer *cw)
{
	int rc;

	if (cw->blocks == AG_SSE_BLOCKS_MAX)
		return -EFBIG; /* more than the size given at the start */
	rc = gcm(cw->key, cw->blocks, cw->buf, cw->fill,
		 cw->tags + 16 * cw->blocks, 1);
	if (!rc && cw->fill)
		rc = ag_writer_write(cw->w, cw->buf, cw->fill);
	if (!rc) {
		cw->blocks++;
		cw->fill = 0;
	}
	return rc;
}

int ag_crypt_write(struct ag_crypt_writer *cw, const void *p, size_t n)
{
	const uint8_t *s = p;
	int rc = 0;

	if (!EVP_DigestUpdate(cw->md5, p, n))
		return -EIO;
	while (!rc && n) {
		size_t take = cw->block - cw->fill;

		if (take > n)
			take = n;
		memcpy(cw->buf + cw->fill, s, take);
		cw->fill += take;
		s += take;
		n -= take;
		if (cw->fill == cw->block)
			rc = flush_block(cw);
	}
	return rc;
}

int ag_crypt_writer_finish(struct ag_crypt_writer *cw)
{
	char desc[128], md5hex[33], salthex[33];
	uint8_t md5[16];
	unsigned ml = 16;
	int rc = 0;

	/* the last block, unless the bytes ended on a boundary (an empty
	 * element has one block of none) */
	if (cw->fill || !cw->blocks)
		rc = flush_block(cw);
	if (!rc && !EVP_DigestFinal_ex(cw->md5, md5, &ml))
		rc = -EIO;
	if (rc)
		return rc;
	hex(cw->key_md5, 16, md5hex);
	hex(cw->salt, 16, salthex);
	snprintf(desc, sizeof(desc), "%d %s %s %u", cw->kind, md5hex, salthex,
		 cw->block);
	rc = ag_writer_setxattr(cw->w, AG_XATTR_SSE, desc, strlen(desc));
	if (!rc)
		rc = ag_writer_setxattr(cw->w, AG_XATTR_SSE_TAGS, cw->tags,
					16 * cw->blocks);
	if (!rc)
		ag_writer_set_etag(cw->w, md5); /* of what the client sent */
	return rc;
}

void ag_crypt_writer_free(struct ag_crypt_writer *cw)
{
	if (!cw)
		return;
	OPENSSL_cleanse(cw->key, sizeof(cw->key));
	free(cw->buf);
	free(cw->tags);
	EVP_MD_CTX_free(cw->md5);
	free(cw);
}

int ag_sse_get(struct ag_cluster *c, uint64_t ino, struct ag_sse *s)
{
	char desc[128], md5hex[33], salthex[33];
	/* seen through every handle: the mount must refuse the element */
	ssize_t n = ag_elem_getxattr_any(c, ino, AG_XATTR_SSE, desc,
					 sizeof(desc) - 1);
	unsigned block;

	if (n < 0)
		return (int)n; /* -ENODATA: not encrypted */
	desc[n] = 0;
	if (!s)
		return 0;
	memset(s, 0, sizeof(*s));
	if (sscanf(desc, "%d %32s %32s %u", &s->kind, md5hex, salthex,
		   &block) != 4 || strlen(md5hex) != 32 ||
	    strlen(salthex) != 32 || unhex(md5hex, s->key_md5, 16) ||
	    unhex(salthex, s->salt, 16) || block < BLOCK_MIN ||
	    (block & (block - 1)))
		return -EBADMSG;
	s->block = block;
	n = ag_elem_getxattr_any(c, ino, AG_XATTR_SSE_TAGS, NULL, 0);
	if (n < 0 || n % 16)
		return n < 0 ? (int)n : -EBADMSG;
	s->tags = malloc(n ? n : 1);
	if (!s->tags)
		return -ENOMEM;
	n = ag_elem_getxattr_any(c, ino, AG_XATTR_SSE_TAGS, s->tags, n);
	if (n < 0) {
		ag_sse_free(s);
		return (int)n;
	}
	s->blocks = (uint64_t)n / 16;
	return 0;
}

void ag_sse_free(struct ag_sse *s)
{
	free(s->tags);
	s->tags = NULL;
}

int ag_sse_key_matches(const struct ag_sse *s, const uint8_t key[32])
{
	uint8_t md5[16];

	key_md5(key, md5);
	return !memcmp(md5, s->key_md5, 16);
}

ssize_t ag_crypt_read(struct ag_cluster *c, const struct ag_attr *a,
		      const struct ag_sse *s, const uint8_t key[32],
		      uint64_t off, void *buf, size_t len)
{
	uint8_t k[32], *blk = NULL;
	size_t done = 0;
	int rc;

	if (!ag_sse_key_matches(s, key))
		return -EACCES;
	if (off >= a->size)
		return 0;
	if (len > a->size - off)
		len = (size_t)(a->size - off);
	rc = derive(key, s->salt, k);
	blk = malloc(s->block);
	if (!rc && !blk)
		rc = -ENOMEM;
	while (!rc && done < len) {
		uint64_t i = (off + done) / s->block, start = i * s->block;
		size_t n = (size_t)(a->size - start < s->block
					    ? a->size - start
					    : s->block),
		       got = 0, skip = (size_t)(off + done - start), take;

		if (i >= s->blocks) {
			rc = -EBADMSG; /* more bytes than tags */
			break;
		}
		while (!rc && got < n) {
			ssize_t r = ag_read(c, a->ino, start + got, blk + got,
					    n - got);

			if (r <= 0)
				rc = r ? (int)r : -EIO;
			else
				got += (size_t)r;
		}
		if (!rc)
			rc = gcm(k, i, blk, n, s->tags + 16 * i, 0);
		if (rc)
			break;
		take = n - skip < len - done ? n - skip : len - done;
		memcpy((uint8_t *)buf + done, blk + skip, take);
		done += take;
	}
	OPENSSL_cleanse(k, sizeof(k));
	free(blk);
	return rc ? rc : (ssize_t)done;
}
