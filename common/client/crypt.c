/*
 * crypt.c - server-side encryption of an element's bytes (S3 SSE-C and
 * SSE-S3): AES-256-GCM in blocks, with the element's size the plaintext
 * size, so that listings, HEAD and ranges need nothing else.
 *
 * The element holds the ciphertext of each block at the block's own
 * offset (GCM does not change lengths). It is made of segments, one for
 * an object PUT whole, one per part for an object completed from parts
 * (each part was encrypted alone, and completion clones their bytes):
 * the xattr AG_XATTR_SSE says "KIND KEYMD5 N" and then, for each of the
 * N segments, " SIZE SALT BLOCK" (kind 1 a customer's key, 2 the
 * cluster's; the MD5 of that key and each segment's random 16-byte salt
 * in hex; its plaintext bytes and block size), and AG_XATTR_SSE_TAGS
 * holds the 16-byte GCM tag of every block of every segment, in order.
 * A segment's key is HMAC-SHA256(key, "agora sse" salt), the IV of its
 * block i the big-endian 64-bit i and four zero bytes: no IV is ever
 * used twice under one key. Blocks are 1 MiB, or a power of two more
 * when the size given at the start needs it to keep the tags within one
 * xattr (AG_SSE_BLOCKS_MAX blocks in all). The key itself is never
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
	uint64_t blocks, size;
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
	cw->size += n;
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
	struct ag_sse_seg seg = { .size = cw->size, .block = cw->block };
	struct ag_sse s = { .kind = cw->kind, .nseg = 1, .seg = &seg };
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
	memcpy(s.key_md5, cw->key_md5, 16);
	memcpy(seg.salt, cw->salt, 16);
	s.blocks = cw->blocks;
	s.tags = cw->tags;
	rc = ag_sse_put(cw->w, &s);
	if (!rc)
		ag_writer_set_etag(cw->w, md5); /* of what the client sent */
	return rc;
}

int ag_sse_put(struct ag_writer *w, const struct ag_sse *s)
{
	size_t cap = 64 + (size_t)s->nseg * 80, n;
	char *desc = malloc(cap), salthex[33];
	uint32_t i;
	int rc;

	if (!desc)
		return -ENOMEM;
	hex(s->key_md5, 16, salthex);
	n = (size_t)snprintf(desc, cap, "%d %s %u", s->kind, salthex, s->nseg);
	for (i = 0; i < s->nseg; i++) {
		hex(s->seg[i].salt, 16, salthex);
		n += (size_t)snprintf(desc + n, cap - n, " %" PRIu64 " %s %u",
				      s->seg[i].size, salthex,
				      s->seg[i].block);
	}
	rc = n > AG_XATTR_SSE_MAX || s->blocks > AG_SSE_BLOCKS_MAX ? -EFBIG
	     : ag_writer_setxattr(w, AG_XATTR_SSE, desc, n);
	if (!rc)
		rc = ag_writer_setxattr(w, AG_XATTR_SSE_TAGS, s->tags,
					16 * s->blocks);
	free(desc);
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

/* The segments of a description, after its "KIND KEYMD5 N". */
static int segments_parse(const char *p, struct ag_sse *s)
{
	uint64_t at = 0, blocks = 0;
	uint32_t i;

	s->seg = calloc(s->nseg ? s->nseg : 1, sizeof(*s->seg));
	if (!s->seg)
		return -ENOMEM;
	for (i = 0; i < s->nseg; i++) {
		struct ag_sse_seg *g = &s->seg[i];
		char salthex[33];
		unsigned long long size;
		unsigned block;
		int used = 0;

		if (sscanf(p, " %llu %32s %u%n", &size, salthex, &block,
			   &used) != 3 || strlen(salthex) != 32 ||
		    unhex(salthex, g->salt, 16) || block < BLOCK_MIN ||
		    (block & (block - 1)))
			return -EBADMSG;
		p += used;
		g->off = at;
		g->size = size;
		g->block = block;
		g->tag0 = blocks;
		at += size;
		blocks += size ? (size + block - 1) / block : 1;
	}
	s->size = at;
	return *p || blocks != s->blocks ? -EBADMSG : 0;
}

int ag_sse_get(struct ag_cluster *c, uint64_t ino, struct ag_sse *s)
{
	char *desc, md5hex[33];
	/* seen through every handle: the mount must refuse the element */
	ssize_t n = ag_elem_getxattr_any(c, ino, AG_XATTR_SSE, NULL, 0);
	int used = 0, rc;

	if (n < 0 || !s)
		return n < 0 ? (int)n : 0; /* -ENODATA: not encrypted */
	memset(s, 0, sizeof(*s));
	desc = malloc(n + 1);
	if (!desc)
		return -ENOMEM;
	n = ag_elem_getxattr_any(c, ino, AG_XATTR_SSE, desc, n);
	rc = n < 0 ? (int)n : 0;
	if (!rc) {
		desc[n] = 0;
		if (sscanf(desc, "%d %32s %u%n", &s->kind, md5hex, &s->nseg,
			   &used) != 3 || strlen(md5hex) != 32 ||
		    unhex(md5hex, s->key_md5, 16) || !s->nseg ||
		    s->nseg > AG_SSE_BLOCKS_MAX)
			rc = -EBADMSG;
	}
	n = rc ? 0 : ag_elem_getxattr_any(c, ino, AG_XATTR_SSE_TAGS, NULL, 0);
	if (!rc && (n < 0 || n % 16))
		rc = n < 0 ? (int)n : -EBADMSG;
	if (!rc && !(s->tags = malloc(n ? n : 1)))
		rc = -ENOMEM;
	if (!rc)
		n = ag_elem_getxattr_any(c, ino, AG_XATTR_SSE_TAGS, s->tags, n);
	if (!rc && n < 0)
		rc = (int)n;
	if (!rc) {
		s->blocks = (uint64_t)n / 16;
		rc = segments_parse(desc + used, s);
	}
	free(desc);
	if (rc)
		ag_sse_free(s);
	return rc;
}

void ag_sse_free(struct ag_sse *s)
{
	free(s->tags);
	free(s->seg);
	s->tags = NULL;
	s->seg = NULL;
}

int ag_sse_key_matches(const struct ag_sse *s, const uint8_t key[32])
{
	uint8_t md5[16];

	key_md5(key, md5);
	return !memcmp(md5, s->key_md5, 16);
}

/* The segment holding plaintext byte off. */
static const struct ag_sse_seg *segment_at(const struct ag_sse *s,
					   uint64_t off)
{
	uint32_t lo = 0, hi = s->nseg;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->seg[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return &s->seg[lo];
}

ssize_t ag_crypt_read(struct ag_cluster *c, const struct ag_attr *a,
		      const struct ag_sse *s, const uint8_t key[32],
		      uint64_t off, void *buf, size_t len)
{
	const struct ag_sse_seg *g = NULL;
	uint8_t k[32], *blk = NULL;
	uint32_t have = 0;
	size_t done = 0;
	int rc = 0;

	if (!ag_sse_key_matches(s, key))
		return -EACCES;
	if (s->size != a->size)
		return -EBADMSG; /* the bytes are not those encrypted */
	if (off >= a->size)
		return 0;
	if (len > a->size - off)
		len = (size_t)(a->size - off);
	while (!rc && done < len) {
		const struct ag_sse_seg *at = segment_at(s, off + done);
		uint64_t rel = off + done - at->off, i = rel / at->block;
		uint64_t start = at->off + i * at->block;
		size_t n = (size_t)(at->size - i * at->block < at->block
					    ? at->size - i * at->block
					    : at->block),
		       got = 0, skip = (size_t)(rel - i * at->block), take;

		if (at != g) { /* a segment's key, and room for its blocks */
			g = at;
			rc = derive(key, g->salt, k);
			if (!rc && g->block > have) {
				free(blk);
				blk = malloc(g->block);
				have = blk ? g->block : 0;
				rc = blk ? 0 : -ENOMEM;
			}
			if (rc)
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
			rc = gcm(k, i, blk, n, s->tags + 16 * (g->tag0 + i), 0);
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
