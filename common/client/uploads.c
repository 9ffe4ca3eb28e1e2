/*
 * uploads.c - the store of S3 multipart uploads: where an upload and its
 * parts live, how they are found, listed and dropped. The S3 gateway
 * parses the requests and formats the answers; the layout is decided
 * here only.
 *
 * An upload is a directory /.agora-multipart/ID (ID: 32 random hex
 * digits), a private name (agora.h), so only a handle opened with
 * AG_OPEN_PRIVATE reaches it. The bucket and key it was started for are
 * its xattrs agora.mpu.bucket and agora.mpu.key; the metadata the object
 * will get are its other xattrs; part N is the file named N in five
 * digits, so a listing of the directory is in part order. Completing
 * builds the object by reference to the parts' chunks (ag_writer_clone)
 * and then drops the upload, whose parts go with it.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "agora.h"

#define MPU_BUCKET "agora.mpu.bucket"
#define MPU_KEY "agora.mpu.key"
/* Room for a bucket name or a key (S3 takes keys up to 1024 bytes). */
#define UPLOAD_KEY_BUF 2048

/* The store's directory; made on first use when create. */
static int store_dir(struct ag_cluster *c, int create, uint64_t *ino)
{
	struct ag_attr a;
	int rc = ag_lookup(c, AG_ROOT, AG_UPLOADS_DIR, &a);

	if (rc == -ENOENT && create) {
		rc = ag_mkdir(c, AG_ROOT, AG_UPLOADS_DIR, 0700, 0, 0, &a);
		if (rc == -EEXIST) /* another gateway made it meanwhile */
			rc = ag_lookup(c, AG_ROOT, AG_UPLOADS_DIR, &a);
	}
	if (!rc)
		*ino = a.ino;
	return rc;
}

static int id_valid(const char *id)
{
	return id && strlen(id) == AG_UPLOAD_ID_LEN &&
	       strspn(id, "0123456789abcdef") == AG_UPLOAD_ID_LEN;
}

/* Whether the xattr name of ino holds exactly want. */
static int xattr_is(struct ag_cluster *c, uint64_t ino, const char *name,
		    const char *want)
{
	char val[UPLOAD_KEY_BUF];
	ssize_t n = ag_getxattr(c, ino, name, val, sizeof(val) - 1);

	return n >= 0 && (size_t)n == strlen(want) && !memcmp(val, want, n);
}

int ag_upload_create(struct ag_cluster *c, const char *bucket,
		     const char *key, uint32_t uid, uint32_t gid,
		     char id[AG_UPLOAD_ID_LEN + 1], struct ag_attr *up)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[AG_UPLOAD_ID_LEN / 2];
	uint64_t dir;
	size_t i;
	int rc;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	for (i = 0; i < sizeof(rnd); i++) {
		id[2 * i] = hex[rnd[i] >> 4];
		id[2 * i + 1] = hex[rnd[i] & 15];
	}
	id[AG_UPLOAD_ID_LEN] = 0;
	rc = store_dir(c, 1, &dir);
	if (!rc)
		rc = ag_mkdir(c, dir, id, 0700, uid, gid, up);
	if (!rc)
		rc = ag_setxattr(c, up->ino, MPU_BUCKET, bucket, strlen(bucket),
				 0);
	if (!rc)
		rc = ag_setxattr(c, up->ino, MPU_KEY, key, strlen(key), 0);
	return rc;
}

int ag_upload_find(struct ag_cluster *c, const char *id, const char *bucket,
		   const char *key, struct ag_attr *up)
{
	uint64_t dir;

	if (!id_valid(id) || store_dir(c, 0, &dir) ||
	    ag_lookup(c, dir, id, up) || !xattr_is(c, up->ino, MPU_BUCKET, bucket) ||
	    !xattr_is(c, up->ino, MPU_KEY, key))
		return -ENOENT;
	return 0;
}

static void part_name(unsigned part, char name[16])
{
	snprintf(name, 16, "%05u", part);
}

int ag_upload_part_commit(struct ag_writer *w, const struct ag_attr *up,
			  unsigned part, struct ag_attr *a)
{
	char name[16];

	if (part < 1 || part > AG_PARTS_MAX)
		return -EINVAL;
	part_name(part, name);
	return ag_writer_commit(w, up->ino, name, a);
}

int ag_upload_part(struct ag_cluster *c, const struct ag_attr *up,
		   unsigned part, struct ag_attr *a)
{
	char name[16];

	if (part < 1 || part > AG_PARTS_MAX)
		return -ENOENT;
	part_name(part, name);
	return ag_lookup(c, up->ino, name, a);
}

/* The numbers of an upload's parts, in order. */
struct part_numbers {
	unsigned *n;
	size_t len, cap;
};

static int note_part(void *arg, const char *name, size_t nlen, uint64_t ino,
		     unsigned type)
{
	struct part_numbers *p = arg;
	char num[8];

	(void)ino;
	(void)type;
	if (nlen != 5 || strspn(name, "0123456789") < 5)
		return 0; /* not a part */
	if (p->len == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		unsigned *nn = realloc(p->n, cap * sizeof(*nn));

		if (!nn)
			return -ENOMEM;
		p->n = nn;
		p->cap = cap;
	}
	memcpy(num, name, 5);
	num[5] = 0;
	p->n[p->len++] = (unsigned)strtoul(num, NULL, 10);
	return 0;
}

/* Numbers first, then each part: a callback that stops the walk early
 * or that changes the upload cannot upset the listing. */
int ag_upload_parts(struct ag_cluster *c, const struct ag_attr *up,
		    int (*cb)(void *arg, unsigned part,
			      const struct ag_attr *a),
		    void *arg)
{
	struct part_numbers p = { 0 };
	struct ag_attr a;
	size_t i;
	int rc = ag_readdir(c, up->ino, NULL, note_part, &p);

	for (i = 0; !rc && i < p.len; i++) {
		if (ag_upload_part(c, up, p.n[i], &a))
			continue; /* gone meanwhile */
		rc = cb(arg, p.n[i], &a);
	}
	free(p.n);
	return rc;
}

struct drop {
	struct ag_cluster *c;
	uint64_t dir;
};

static int unlink_part(void *arg, unsigned part, const struct ag_attr *a)
{
	struct drop *d = arg;
	char name[16];

	(void)a;
	part_name(part, name);
	return ag_unlink(d->c, d->dir, name);
}

int ag_upload_drop(struct ag_cluster *c, const struct ag_attr *up,
		   const char *id)
{
	struct drop d = { .c = c, .dir = up->ino };
	uint64_t dir;
	int rc = ag_upload_parts(c, up, unlink_part, &d);

	if (!rc)
		rc = store_dir(c, 0, &dir);
	if (!rc)
		rc = ag_rmdir(c, dir, id);
	return rc;
}

struct upload_walk {
	struct ag_cluster *c;
	const char *bucket;
	int (*cb)(void *arg, const char *id, const char *key,
		  const struct ag_attr *up);
	void *arg;
};

static int visit_upload(void *arg, const char *name, size_t nlen,
			uint64_t ino, unsigned type)
{
	struct upload_walk *uw = arg;
	char id[AG_UPLOAD_ID_LEN + 1], key[UPLOAD_KEY_BUF];
	struct ag_attr a;
	ssize_t n;

	(void)type;
	if (nlen != AG_UPLOAD_ID_LEN || ag_getattr(uw->c, ino, &a))
		return 0;
	memcpy(id, name, nlen);
	id[nlen] = 0;
	if (!xattr_is(uw->c, ino, MPU_BUCKET, uw->bucket))
		return 0;
	n = ag_getxattr(uw->c, ino, MPU_KEY, key, sizeof(key) - 1);
	if (n < 0)
		return 0; /* being made or dropped */
	key[n] = 0;
	return uw->cb(uw->arg, id, key, &a);
}

int ag_upload_list(struct ag_cluster *c, const char *bucket,
		   int (*cb)(void *arg, const char *id, const char *key,
			     const struct ag_attr *up),
		   void *arg)
{
	struct upload_walk uw = { .c = c, .bucket = bucket, .cb = cb,
				  .arg = arg };
	uint64_t dir;
	int rc = store_dir(c, 0, &dir);

	if (rc == -ENOENT)
		return 0; /* no upload was ever started */
	/* uploads are few: a full scan of the store */
	return rc ? rc : ag_readdir(c, dir, NULL, visit_upload, &uw);
}

/* ---- completion ---- */

struct ag_upload_build {
	struct ag_cluster *c;
	struct ag_attr up;
	struct ag_writer *w;
	EVP_MD_CTX *md5s;  /* of the parts' MD5s, in order */
	unsigned last;     /* number of the part added last, 0: none */
	unsigned n;
	uint64_t *sizes;   /* of the n parts added, for the parts claim */
	unsigned cap;
	char id[AG_UPLOAD_ID_LEN + 1];
	struct ag_sse sse; /* the encrypted parts' segments (crypt.c) */
	unsigned encrypted;
};

/* Add the segments of an encrypted part (p) to those of the object:
 * every part must be encrypted, with the same key. */
static int sse_add(struct ag_upload_build *b, const struct ag_sse *p)
{
	struct ag_sse *s = &b->sse;
	struct ag_sse_seg *seg;
	uint8_t *tags;
	uint32_t i;

	if (b->encrypted != b->n ||
	    (b->encrypted && (s->kind != p->kind ||
			      memcmp(s->key_md5, p->key_md5, 16))))
		return -EPERM;
	if (s->blocks + p->blocks > AG_SSE_BLOCKS_MAX)
		return -EFBIG;
	seg = realloc(s->seg, (s->nseg + p->nseg) * sizeof(*seg));
	if (seg)
		s->seg = seg;
	tags = seg ? realloc(s->tags, 16 * (s->blocks + p->blocks)) : NULL;
	if (!tags)
		return -ENOMEM;
	s->tags = tags;
	memcpy(s->tags + 16 * s->blocks, p->tags, 16 * p->blocks);
	for (i = 0; i < p->nseg; i++) {
		s->seg[s->nseg + i] = p->seg[i];
		s->seg[s->nseg + i].off += s->size;
		s->seg[s->nseg + i].tag0 += s->blocks;
	}
	s->kind = p->kind;
	memcpy(s->key_md5, p->key_md5, 16);
	s->nseg += p->nseg;
	s->blocks += p->blocks;
	s->size += p->size;
	b->encrypted++;
	return 0;
}

int ag_upload_build_new(struct ag_cluster *c, const struct ag_attr *up,
			const char *id, uint32_t uid, uint32_t gid,
			struct ag_upload_build **bp)
{
	struct ag_upload_build *b;
	int rc;

	if (strlen(id) != AG_UPLOAD_ID_LEN)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->c = c;
	b->up = *up;
	memcpy(b->id, id, AG_UPLOAD_ID_LEN + 1);
	b->md5s = EVP_MD_CTX_new();
	rc = b->md5s && EVP_DigestInit_ex(b->md5s, EVP_md5(), NULL) ? 0
								     : -ENOMEM;
	if (!rc)
		rc = ag_writer_new(c, 0644, uid, gid, &b->w);
	if (rc) {
		ag_upload_build_free(b);
		return rc;
	}
	*bp = b;
	return 0;
}

int ag_upload_build_add(struct ag_upload_build *b, unsigned part,
			const uint8_t md5[16])
{
	struct ag_sse ps = { 0 };
	struct ag_attr a;
	uint8_t have[16];
	int rc;

	if (part <= b->last)
		return -EINVAL;
	/* every part but the last has the minimum size */
	if (b->n && b->sizes[b->n - 1] < AG_UPLOAD_MIN_PART)
		return -ERANGE;
	if (b->n == b->cap) {
		unsigned cap = b->cap ? 2 * b->cap : 16;
		uint64_t *sizes = realloc(b->sizes, cap * sizeof(*sizes));

		if (!sizes)
			return -ENOMEM;
		b->sizes = sizes;
		b->cap = cap;
	}
	b->last = part;
	/* the part's MD5 as ag_etag finds it: it may hash (and store) it
	 * now for a part copied by reference */
	if (ag_upload_part(b->c, &b->up, part, &a) || ag_etag(b->c, &a, have) ||
	    memcmp(have, md5, 16))
		return -ENOENT;
	if (!EVP_DigestUpdate(b->md5s, have, 16))
		return -EIO;
	rc = ag_sse_get(b->c, a.ino, &ps);
	if (!rc)
		rc = sse_add(b, &ps);
	else if (rc == -ENODATA)
		rc = b->encrypted ? -EPERM : 0;
	ag_sse_free(&ps);
	if (!rc)
		rc = a.size ? ag_writer_clone(b->w, a.ino, 0, a.size) : 0;
	if (rc)
		return rc;
	b->sizes[b->n++] = a.size;
	return 0;
}

struct ag_writer *ag_upload_build_writer(struct ag_upload_build *b)
{
	return b->w;
}

int ag_upload_build_commit(struct ag_upload_build *b, uint64_t dir,
			   const char *key, uint32_t uid, uint32_t gid,
			   struct ag_attr *a, char etag[AG_ETAG_MAX])
{
	uint8_t sum[16];
	unsigned int ml = sizeof(sum);
	int rc;

	if (!b->n)
		return -EINVAL;
	if (!EVP_DigestFinal_ex(b->md5s, sum, &ml))
		return -EIO;
	rc = ag_object_set_parts(b->w, sum, b->n, b->id, b->sizes);
	if (!rc && b->encrypted)
		rc = ag_sse_put(b->w, &b->sse);
	if (!rc)
		rc = ag_object_commit(b->w, dir, key, uid, gid, a);
	/* the ETag as committed, not read back: a racing PUT may already
	 * have replaced the object, and its part count */
	if (!rc)
		ag_etag_format(sum, b->n, etag);
	return rc;
}

void ag_upload_build_free(struct ag_upload_build *b)
{
	if (!b)
		return;
	ag_writer_free(b->w);
	EVP_MD_CTX_free(b->md5s);
	free(b->sizes);
	ag_sse_free(&b->sse);
	free(b);
}
