/*
 * keys.c - encode and decode the typed records of the metadata tree
 * (layouts in keys.h).
 */
#include <errno.h>
#include <string.h>

#include "btree.h"
#include "keys.h"
#include "util.h"

/* Where the fields of a key lie (layouts in keys.h): a type byte, then
 * a u32 or u64 id, then a second id or a name. */
enum {
	KEY_ID = 1,       /* the first field, after the type byte */
	KEY_AFTER_U32 = 5, /* what follows a u32 id (SEGMENT, STRIPE) */
	KEY_AFTER_U64 = 9, /* what follows a u64 id (INODE, DIRENT, ...) */
	SEGMENT_KEY_LEN = KEY_AFTER_U32,
	ID_KEY_LEN = KEY_AFTER_U64,  /* INODE, CLIENT, ORPHAN, SIMILAR */
	STRIPE_KEY_LEN = KEY_AFTER_U32 + 4,
	CHUNK_KEY_LEN = KEY_ID + 32,
};
#define STATS_NAME "all"
#define STATS_KEY_LEN (KEY_ID + sizeof(STATS_NAME) - 1)

size_t ag_key_super(uint8_t *buf, const char *name)
{
	size_t n = strlen(name);

	buf[0] = AG_K_SUPER;
	memcpy(buf + KEY_ID, name, n);
	return KEY_ID + n;
}

size_t ag_key_segment(uint8_t *buf, uint32_t seg)
{
	buf[0] = AG_K_SEGMENT;
	put_be32(buf + KEY_ID, seg);
	return SEGMENT_KEY_LEN;
}

size_t ag_key_inode(uint8_t *buf, uint64_t ino)
{
	buf[0] = AG_K_INODE;
	put_be64(buf + KEY_ID, ino);
	return ID_KEY_LEN;
}

size_t ag_key_dirent(uint8_t *buf, uint64_t parent, const char *name,
		     size_t nlen)
{
	buf[0] = AG_K_DIRENT;
	put_be64(buf + KEY_ID, parent);
	memcpy(buf + KEY_AFTER_U64, name, nlen);
	return KEY_AFTER_U64 + nlen;
}

size_t ag_key_xattr(uint8_t *buf, uint64_t ino, const char *name, size_t nlen)
{
	buf[0] = AG_K_XATTR;
	put_be64(buf + KEY_ID, ino);
	memcpy(buf + KEY_AFTER_U64, name, nlen);
	return KEY_AFTER_U64 + nlen;
}

/* An integer in a key as a count byte and that many big-endian bytes,
 * the first not 0 (keys.h): shorter for small values, in numeric order
 * all the same, since a longer count is a larger value. */
static size_t ordered_put(uint8_t *p, uint64_t x)
{
	size_t n = 0;

	for (uint64_t y = x; y; y >>= 8)
		n++;
	p[0] = (uint8_t)n;
	for (size_t i = 0; i < n; i++)
		p[n - i] = (uint8_t)(x >> (8 * i));
	return 1 + n;
}

/* The integer ordered_put wrote at p[0..len): -1 unless it fills len
 * exactly in its one encoding. */
static int ordered_get(const uint8_t *p, size_t len, uint64_t *x)
{
	uint64_t v = 0;

	if (!len || p[0] > 8 || len != 1u + p[0] || (p[0] && !p[1]))
		return -1;
	for (size_t i = 1; i < len; i++)
		v = v << 8 | p[i];
	*x = v;
	return 0;
}

size_t ag_key_extent(uint8_t *buf, uint64_t ino, uint64_t off)
{
	buf[0] = AG_K_EXTENT;
	put_be64(buf + KEY_ID, ino);
	return KEY_AFTER_U64 + ordered_put(buf + KEY_AFTER_U64, off);
}

size_t ag_key_chunk(uint8_t *buf, const uint8_t sha[32])
{
	buf[0] = AG_K_CHUNK;
	memcpy(buf + KEY_ID, sha, 32);
	return CHUNK_KEY_LEN;
}

size_t ag_key_stripe(uint8_t *buf, uint32_t seg, uint32_t stripe)
{
	buf[0] = AG_K_STRIPE;
	put_be32(buf + KEY_ID, seg);
	put_be32(buf + KEY_AFTER_U32, stripe);
	return STRIPE_KEY_LEN;
}

size_t ag_key_client(uint8_t *buf, uint64_t client)
{
	buf[0] = AG_K_CLIENT;
	put_be64(buf + KEY_ID, client);
	return ID_KEY_LEN;
}

size_t ag_key_stats(uint8_t *buf)
{
	buf[0] = AG_K_STATS;
	memcpy(buf + KEY_ID, STATS_NAME, STATS_KEY_LEN - KEY_ID);
	return STATS_KEY_LEN;
}

size_t ag_key_xattr_piece(uint8_t *buf, uint64_t ino, const char *name,
			  size_t nlen, unsigned piece)
{
	size_t kl = ag_key_xattr(buf, ino, name, nlen);

	buf[kl] = 0;
	buf[kl + 1] = (uint8_t)piece;
	return kl + 2;
}

size_t ag_key_orphan(uint8_t *buf, uint64_t ino)
{
	buf[0] = AG_K_ORPHAN;
	put_be64(buf + KEY_ID, ino);
	return ID_KEY_LEN;
}

size_t ag_key_similar(uint8_t *buf, uint64_t sf)
{
	buf[0] = AG_K_SIMILAR;
	put_be64(buf + KEY_ID, sf);
	return ID_KEY_LEN;
}

int ag_key_type(const void *k, size_t kl)
{
	return kl ? ((const uint8_t *)k)[0] : -EINVAL;
}

/* 0 when k is a key of type type at least min bytes long. */
static int key_is(const void *k, size_t kl, uint8_t type, size_t min)
{
	return kl >= min && ag_key_type(k, kl) == type ? 0 : -EINVAL;
}

/* A key made of the type byte and one u64 id, nothing after. */
static int id_key_decode(const void *k, size_t kl, uint8_t type,
			 uint64_t *id)
{
	if (kl != ID_KEY_LEN || key_is(k, kl, type, 0))
		return -EINVAL;
	*id = get_be64((const uint8_t *)k + KEY_ID);
	return 0;
}

/* A key made of the type byte, a u64 id and a name to its end. */
static int named_key_decode(const void *k, size_t kl, uint8_t type,
			    uint64_t *id, const char **name, size_t *nlen)
{
	const uint8_t *b = k;

	if (key_is(k, kl, type, KEY_AFTER_U64))
		return -EINVAL;
	*id = get_be64(b + KEY_ID);
	*name = (const char *)b + KEY_AFTER_U64;
	*nlen = kl - KEY_AFTER_U64;
	return 0;
}

int ag_key_super_decode(const void *k, size_t kl, const char **name,
			size_t *nlen)
{
	if (key_is(k, kl, AG_K_SUPER, KEY_ID))
		return -EINVAL;
	*name = (const char *)k + KEY_ID;
	*nlen = kl - KEY_ID;
	return 0;
}

int ag_key_segment_decode(const void *k, size_t kl, uint32_t *seg)
{
	if (kl != SEGMENT_KEY_LEN || key_is(k, kl, AG_K_SEGMENT, 0))
		return -EINVAL;
	*seg = get_be32((const uint8_t *)k + KEY_ID);
	return 0;
}

int ag_key_inode_decode(const void *k, size_t kl, uint64_t *ino)
{
	return id_key_decode(k, kl, AG_K_INODE, ino);
}

int ag_key_dirent_decode(const void *k, size_t kl, uint64_t *parent,
			 const char **name, size_t *nlen)
{
	return named_key_decode(k, kl, AG_K_DIRENT, parent, name, nlen);
}

int ag_key_xattr_decode(const void *k, size_t kl, uint64_t *ino,
			const char **name, size_t *nlen, unsigned *piece)
{
	const char *n, *nul;
	size_t len;
	uint64_t id;

	if (named_key_decode(k, kl, AG_K_XATTR, &id, &n, &len))
		return -EINVAL;
	nul = memchr(n, 0, len);
	if (nul && (nul != n + len - 2 || !nul[1]))
		return -EINVAL;
	*ino = id;
	*name = n;
	*nlen = nul ? (size_t)(nul - n) : len;
	*piece = nul ? (uint8_t)nul[1] : 0;
	return 0;
}

int ag_key_extent_decode(const void *k, size_t kl, uint64_t *ino,
			 uint64_t *off)
{
	const uint8_t *b = k;
	uint64_t o;

	if (key_is(k, kl, AG_K_EXTENT, KEY_AFTER_U64 + 1) ||
	    ordered_get(b + KEY_AFTER_U64, kl - KEY_AFTER_U64, &o))
		return -EINVAL;
	*ino = get_be64(b + KEY_ID);
	*off = o;
	return 0;
}

int ag_key_chunk_decode(const void *k, size_t kl, uint8_t sha[32])
{
	if (kl != CHUNK_KEY_LEN || key_is(k, kl, AG_K_CHUNK, 0))
		return -EINVAL;
	memcpy(sha, (const uint8_t *)k + KEY_ID, 32);
	return 0;
}

int ag_key_stripe_decode(const void *k, size_t kl, uint32_t *seg,
			 uint32_t *stripe)
{
	const uint8_t *b = k;

	if (kl != STRIPE_KEY_LEN || key_is(k, kl, AG_K_STRIPE, 0))
		return -EINVAL;
	*seg = get_be32(b + KEY_ID);
	*stripe = get_be32(b + KEY_AFTER_U32);
	return 0;
}

int ag_key_client_decode(const void *k, size_t kl, uint64_t *client)
{
	return id_key_decode(k, kl, AG_K_CLIENT, client);
}

int ag_key_stats_decode(const void *k, size_t kl)
{
	if (kl != STATS_KEY_LEN || key_is(k, kl, AG_K_STATS, 0) ||
	    memcmp((const uint8_t *)k + KEY_ID, STATS_NAME,
		   STATS_KEY_LEN - KEY_ID))
		return -EINVAL;
	return 0;
}

int ag_key_orphan_decode(const void *k, size_t kl, uint64_t *ino)
{
	return id_key_decode(k, kl, AG_K_ORPHAN, ino);
}

int ag_key_similar_decode(const void *k, size_t kl, uint64_t *sf)
{
	return id_key_decode(k, kl, AG_K_SIMILAR, sf);
}

/* ---- VERSION ---- */

int ag_key_version(uint8_t *buf, uint64_t bucket, const char *key,
		   size_t klen, uint64_t seq)
{
	if (!klen || klen > AG_VERSION_KEY_MAX || memchr(key, 0, klen))
		return -EINVAL;
	ag_key_version_prefix(buf, bucket, key, klen);
	buf[KEY_AFTER_U64 + klen] = 0;
	put_be64(buf + KEY_AFTER_U64 + klen + 1, ~seq);
	return (int)(KEY_AFTER_U64 + klen + 9);
}

size_t ag_key_version_prefix(uint8_t *buf, uint64_t bucket, const char *key,
			     size_t klen)
{
	buf[0] = AG_K_VERSION;
	put_be64(buf + KEY_ID, bucket);
	memcpy(buf + KEY_AFTER_U64, key, klen);
	return KEY_AFTER_U64 + klen;
}

int ag_key_version_decode(const void *k, size_t kl, uint64_t *bucket,
			  const char **key, size_t *klen, uint64_t *seq)
{
	const uint8_t *b = k;
	size_t n;

	if (key_is(k, kl, AG_K_VERSION, KEY_AFTER_U64 + 10))
		return -EINVAL;
	n = kl - KEY_AFTER_U64 - 9;
	if (n > AG_VERSION_KEY_MAX || b[KEY_AFTER_U64 + n] ||
	    memchr(b + KEY_AFTER_U64, 0, n))
		return -EINVAL;
	*bucket = get_be64(b + KEY_ID);
	*key = (const char *)b + KEY_AFTER_U64;
	*klen = n;
	*seq = ~get_be64(b + KEY_AFTER_U64 + n + 1);
	return 0;
}

void ag_version_stamp_encode(uint8_t *v, uint64_t seq, uint8_t flags)
{
	v[0] = flags;
	put_le64(v + 1, seq);
}

int ag_version_stamp_decode(const uint8_t *v, size_t len, uint64_t *seq,
			    uint8_t *flags)
{
	if (len != AG_VERSION_STAMP_LEN || (v[0] & ~AG_VERSION_NULL))
		return AG_CORRUPT("version stamp");
	*flags = v[0];
	*seq = get_le64(v + 1);
	return 0;
}

void ag_seg_rec_encode(uint8_t *v, const struct ag_seg_rec *r)
{
	memset(v, 0, AG_SEG_REC_LEN);
	v[0] = r->state;
	put_le64(v + 8, r->owner);
	put_le64(v + 16, r->live);
	put_le64(v + 24, r->fill);
	put_le64(v + 32, r->free_gen);
}

int ag_seg_rec_decode(const uint8_t *v, size_t len, struct ag_seg_rec *r)
{
	if (len != AG_SEG_REC_LEN || v[0] > AG_SEG_DATA)
		return AG_CORRUPT("segment record");
	r->state = v[0];
	r->owner = get_le64(v + 8);
	r->live = get_le64(v + 16);
	r->fill = get_le64(v + 24);
	r->free_gen = get_le64(v + 32);
	return 0;
}

/* ---- varints: 7 bits a byte, low first, the top bit saying more
 * follow (LEB128); at most 10 bytes for a u64 ---- */

#define VARINT_MAX AG_VARINT_MAX

static size_t varint_put(uint8_t *p, uint64_t x)
{
	size_t n = 0;

	while (x >= 0x80) {
		p[n++] = (uint8_t)x | 0x80;
		x >>= 7;
	}
	p[n++] = (uint8_t)x;
	return n;
}

/* The varint at *p (before end) into *x, *p past it; -1 when it runs
 * past end, is longer than 10 bytes or overflows 64 bits. */
static int varint_get(const uint8_t **p, const uint8_t *end, uint64_t *x)
{
	uint64_t v = 0;

	for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;

		if (shift == 63 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*x = v;
			return 0;
		}
	}
	return -1;
}

static int varint_get32(const uint8_t **p, const uint8_t *end, uint32_t *x)
{
	uint64_t v;

	if (varint_get(p, end, &v) || v > UINT32_MAX)
		return -1;
	*x = (uint32_t)v;
	return 0;
}

/* Signed differences as unsigned varints, small either way. */
static uint64_t zigzag(uint64_t diff)
{
	return (diff << 1) ^ (uint64_t)-(int64_t)(diff >> 63);
}

static uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (uint64_t)-(int64_t)(z & 1);
}

/* The same codec for the records of the modules beside this one
 * (keys.h). */
size_t ag_varint_put(uint8_t *p, uint64_t x)
{
	return varint_put(p, x);
}

int ag_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *x)
{
	return varint_get(p, end, x);
}

uint64_t ag_zigzag(uint64_t diff)
{
	return zigzag(diff);
}

uint64_t ag_unzigzag(uint64_t z)
{
	return unzigzag(z);
}

/* ---- INODE ---- */

/* The INODE value's present bits (layout in keys.h): a field whose bit
 * is clear has its usual value and takes no bytes. */
enum {
	IN_UID = 1 << 0,    /* uid != 0 */
	IN_GID = 1 << 1,    /* gid != 0 */
	IN_NLINK = 1 << 2,  /* nlink != 1 */
	IN_SIZE = 1 << 3,   /* size != 0 */
	IN_ATIME = 1 << 4,  /* atime != mtime */
	IN_CTIME = 1 << 5,  /* ctime != mtime */
	IN_BTIME = 1 << 6,  /* btime != ctime */
	IN_GEN = 1 << 7,    /* generation != 0 */
	IN_RDEV = 1 << 8,   /* rdev != 0 */
	IN_FLAGS = 1 << 9,  /* flags != 0 */
	IN_ETAG = 1 << 10,  /* etag not all zero */
	IN_PARENT = 1 << 11, /* parent != 0 */
	IN_ALL = (1 << 12) - 1,
};

static const uint8_t zero_etag[16];

size_t ag_inode_encode(uint8_t *v, const struct ag_attr *in)
{
	uint64_t mtime = (uint64_t)in->mtime, ctime = (uint64_t)in->ctime;
	unsigned present = 0;
	size_t n;

	present |= in->uid ? IN_UID : 0;
	present |= in->gid ? IN_GID : 0;
	present |= in->nlink != 1 ? IN_NLINK : 0;
	present |= in->size ? IN_SIZE : 0;
	present |= in->atime != in->mtime ? IN_ATIME : 0;
	present |= in->ctime != in->mtime ? IN_CTIME : 0;
	present |= in->btime != in->ctime ? IN_BTIME : 0;
	present |= in->generation ? IN_GEN : 0;
	present |= in->rdev ? IN_RDEV : 0;
	present |= in->flags ? IN_FLAGS : 0;
	present |= memcmp(in->etag, zero_etag, 16) ? IN_ETAG : 0;
	present |= in->parent ? IN_PARENT : 0;
	n = varint_put(v, present);
	n += varint_put(v + n, in->mode);
	n += varint_put(v + n, zigzag(mtime));
	if (present & IN_UID)
		n += varint_put(v + n, in->uid);
	if (present & IN_GID)
		n += varint_put(v + n, in->gid);
	if (present & IN_NLINK)
		n += varint_put(v + n, in->nlink);
	if (present & IN_SIZE)
		n += varint_put(v + n, in->size);
	if (present & IN_ATIME)
		n += varint_put(v + n, zigzag((uint64_t)in->atime - mtime));
	if (present & IN_CTIME)
		n += varint_put(v + n, zigzag(ctime - mtime));
	if (present & IN_BTIME)
		n += varint_put(v + n, zigzag((uint64_t)in->btime - ctime));
	if (present & IN_GEN)
		n += varint_put(v + n, in->generation);
	if (present & IN_RDEV)
		n += varint_put(v + n, in->rdev);
	if (present & IN_FLAGS)
		n += varint_put(v + n, in->flags);
	if (present & IN_ETAG) {
		memcpy(v + n, in->etag, 16);
		n += 16;
	}
	if (present & IN_PARENT)
		n += varint_put(v + n, zigzag(in->ino - in->parent));
	return n;
}

/* The fields of an INODE value; -1 when it does not parse. */
static int inode_fields(const uint8_t *p, const uint8_t *end, uint64_t ino,
			struct ag_attr *in)
{
	uint64_t present, x;

	memset(in, 0, sizeof(*in));
	in->ino = ino;
	in->nlink = 1;
	if (varint_get(&p, end, &present) || (present & ~(uint64_t)IN_ALL) ||
	    varint_get32(&p, end, &in->mode) || varint_get(&p, end, &x))
		return -1;
	in->mtime = (int64_t)unzigzag(x);
	in->atime = in->ctime = in->mtime;
	if ((present & IN_UID) && varint_get32(&p, end, &in->uid))
		return -1;
	if ((present & IN_GID) && varint_get32(&p, end, &in->gid))
		return -1;
	if ((present & IN_NLINK) && varint_get32(&p, end, &in->nlink))
		return -1;
	if ((present & IN_SIZE) && varint_get(&p, end, &in->size))
		return -1;
	if (present & IN_ATIME) {
		if (varint_get(&p, end, &x))
			return -1;
		in->atime = (int64_t)((uint64_t)in->mtime + unzigzag(x));
	}
	if (present & IN_CTIME) {
		if (varint_get(&p, end, &x))
			return -1;
		in->ctime = (int64_t)((uint64_t)in->mtime + unzigzag(x));
	}
	in->btime = in->ctime;
	if (present & IN_BTIME) {
		if (varint_get(&p, end, &x))
			return -1;
		in->btime = (int64_t)((uint64_t)in->ctime + unzigzag(x));
	}
	if ((present & IN_GEN) && varint_get(&p, end, &in->generation))
		return -1;
	if ((present & IN_RDEV) && varint_get(&p, end, &in->rdev))
		return -1;
	if ((present & IN_FLAGS) && varint_get32(&p, end, &in->flags))
		return -1;
	if (present & IN_ETAG) {
		if (end - p < 16)
			return -1;
		memcpy(in->etag, p, 16);
		p += 16;
	}
	if (present & IN_PARENT) {
		if (varint_get(&p, end, &x))
			return -1;
		in->parent = ino - unzigzag(x);
	}
	return p == end ? 0 : -1;
}

int ag_inode_decode(const uint8_t *v, size_t len, uint64_t ino,
		    struct ag_attr *in)
{
	struct ag_attr a;

	if (len > AG_INODE_LEN || inode_fields(v, v + len, ino, &a))
		return AG_CORRUPT("inode %llu record (%zu bytes)",
				  (unsigned long long)ino, len);
	*in = a;
	return 0;
}

/* ---- DIRENT ---- */

size_t ag_dirent_encode(uint8_t *v, uint64_t parent, uint64_t ino,
			unsigned type)
{
	v[0] = (uint8_t)type;
	return 1 + varint_put(v + 1, zigzag(ino - parent));
}

int ag_dirent_decode(const uint8_t *v, size_t len, uint64_t parent,
		     uint64_t *ino, unsigned *type)
{
	const uint8_t *p = v + 1, *end = v + len;
	uint64_t z;

	if (len < 2 || len > AG_DIRENT_LEN || v[0] > 0xf ||
	    varint_get(&p, end, &z) || p != end)
		return AG_CORRUPT("directory entry of %zu bytes", len);
	*ino = parent + unzigzag(z);
	*type = v[0];
	return 0;
}

/* ---- EXTENT ---- */

size_t ag_extent_encode(uint8_t *v, const struct ag_extent *e)
{
	size_t n = varint_put(v, e->len);

	n += varint_put(v + n, e->coff);
	memcpy(v + n, e->sha, 32);
	return n + 32;
}

int ag_extent_decode(const uint8_t *k, size_t klen, const uint8_t *v,
		     size_t vlen, struct ag_extent *e)
{
	const uint8_t *p = v, *end = v + vlen;
	uint64_t ino;

	if (ag_key_extent_decode(k, klen, &ino, &e->off) ||
	    varint_get32(&p, end, &e->len) || varint_get32(&p, end, &e->coff) ||
	    end - p != 32)
		return AG_CORRUPT("extent record");
	memcpy(e->sha, p, 32);
	if (!e->len || e->len > AG_CHUNK_LIMIT || e->coff >= AG_CHUNK_LIMIT)
		return AG_CORRUPT("extent length %u", e->len);
	return 0;
}

size_t ag_chunk_rec_encode(uint8_t *v, const struct ag_chunk_rec *c)
{
	put_le64(v, c->addr);
	put_le32(v + 8, c->clen);
	put_le32(v + 12, c->ulen);
	put_le32(v + 16, c->crc);
	put_le32(v + 20, c->refs);
	put_le32(v + 24, c->flags);
	put_le32(v + 28, 0);
	if (!(c->flags & AG_CHUNK_DELTA))
		return AG_CHUNK_REC_LEN;
	memcpy(v + AG_CHUNK_REC_LEN, c->ref, 32);
	return AG_CHUNK_REC_DELTA_LEN;
}

int ag_chunk_rec_decode(const uint8_t *v, size_t len, struct ag_chunk_rec *c)
{
	if (len != AG_CHUNK_REC_LEN && len != AG_CHUNK_REC_DELTA_LEN)
		return AG_CORRUPT("chunk record length %zu", len);
	c->addr = get_le64(v);
	c->clen = get_le32(v + 8);
	c->ulen = get_le32(v + 12);
	c->crc = get_le32(v + 16);
	c->refs = get_le32(v + 20);
	c->flags = get_le32(v + 24);
	if (!c->clen || !c->ulen)
		return AG_CORRUPT("empty chunk record");
	if (!(c->flags & AG_CHUNK_DELTA) != (len == AG_CHUNK_REC_LEN) ||
	    (c->flags & AG_CHUNK_DELTA && c->flags & AG_CHUNK_ZSTD))
		return AG_CORRUPT("chunk record of %zu bytes, flags %#x", len,
				  c->flags);
	if (len == AG_CHUNK_REC_DELTA_LEN)
		memcpy(c->ref, v + AG_CHUNK_REC_LEN, 32);
	else
		memset(c->ref, 0, 32);
	return 0;
}

size_t ag_similar_encode(uint8_t *v, const uint8_t sha[32])
{
	memcpy(v, sha, 32);
	return AG_SIMILAR_LEN;
}

int ag_similar_decode(const uint8_t *v, size_t len, uint8_t sha[32])
{
	if (len != AG_SIMILAR_LEN)
		return AG_CORRUPT("similar record length %zu", len);
	memcpy(sha, v, 32);
	return 0;
}

void ag_stats_rec_encode(uint8_t *v, const struct ag_stats_rec *s)
{
	put_le64(v, s->logical);
	put_le64(v + 8, s->unique);
	put_le64(v + 16, s->stored);
	put_le64(v + 24, s->chunks);
	put_le64(v + 32, s->inodes);
}

int ag_stats_rec_decode(const uint8_t *v, size_t len, struct ag_stats_rec *s)
{
	if (len != AG_STATS_REC_LEN)
		return AG_CORRUPT("stats record");
	s->logical = get_le64(v);
	s->unique = get_le64(v + 8);
	s->stored = get_le64(v + 16);
	s->chunks = get_le64(v + 24);
	s->inodes = get_le64(v + 32);
	return 0;
}

/* The fields of a CLIENT value into *cr; -1 when it does not parse. */
static int client_fields(const uint8_t *p, const uint8_t *end,
			 struct ag_client_rec *cr)
{
	uint64_t gen, n;

	if (varint_get(&p, end, &gen) || varint_get(&p, end, &n) ||
	    n > AG_TXN_WINDOW)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		struct ag_client_entry *e = &cr->e[i];

		if (varint_get(&p, end, &e->txid) ||
		    varint_get(&p, end, &e->ino) ||
		    varint_get32(&p, end, &e->seg) ||
		    varint_get(&p, end, &e->fill))
			return -1;
	}
	cr->n = (uint32_t)n;
	return p == end ? 0 : -1;
}

void ag_client_rec_decode(const uint8_t *v, size_t len,
			  struct ag_client_rec *cr)
{
	if (client_fields(v, v + len, cr))
		cr->n = 0;
}

size_t ag_client_rec_encode(uint8_t *v, const struct ag_client_rec *cr,
			    uint64_t gen)
{
	size_t n = varint_put(v, gen);

	n += varint_put(v + n, cr->n);
	for (uint32_t i = 0; i < cr->n; i++) {
		const struct ag_client_entry *e = &cr->e[i];

		n += varint_put(v + n, e->txid);
		n += varint_put(v + n, e->ino);
		n += varint_put(v + n, e->seg);
		n += varint_put(v + n, e->fill);
	}
	return n;
}

const struct ag_client_entry *
ag_client_rec_find(const struct ag_client_rec *cr, uint64_t txid)
{
	uint32_t i;

	for (i = 0; i < cr->n; i++)
		if (cr->e[i].txid == txid)
			return &cr->e[i];
	return NULL;
}

/* Record e, in place of the lowest id when the window is full. */
void ag_client_rec_add(struct ag_client_rec *cr,
		       const struct ag_client_entry *e)
{
	uint32_t i, low = 0;

	if (cr->n < AG_TXN_WINDOW) {
		cr->e[cr->n++] = *e;
		return;
	}
	for (i = 1; i < cr->n; i++)
		if (cr->e[i].txid < cr->e[low].txid)
			low = i;
	if (e->txid > cr->e[low].txid)
		cr->e[low] = *e;
}

int ag_extent_walk_start(struct ag_tree *t, uint64_t ino, uint64_t off,
			 struct ag_extent_walk *w)
{
	uint8_t k[AG_KEYBUF];
	uint64_t from = off > AG_CHUNK_LIMIT ? off - AG_CHUNK_LIMIT : 0;

	w->ino = ino;
	w->off = off;
	return ag_tree_seek(t, k, ag_key_extent(k, ino, from), &w->cur);
}

int ag_extent_walk_next(struct ag_extent_walk *w, struct ag_extent *x)
{
	const void *ck, *cv;
	size_t ckl, cvl;
	int rc;

	while ((rc = ag_cursor_next(w->cur, &ck, &ckl, &cv, &cvl)) == 1) {
		uint64_t ino, off;

		if (ag_key_extent_decode(ck, ckl, &ino, &off) || ino != w->ino)
			return 0;
		rc = ag_extent_decode(ck, ckl, cv, cvl, x);
		if (rc)
			return rc;
		if (x->off + x->len > w->off)
			return 1;
	}
	return rc;
}

void ag_extent_walk_end(struct ag_extent_walk *w)
{
	ag_cursor_free(w->cur);
	w->cur = NULL;
}

/* FNV-1a: the digest only has to change when the extents do, and both
 * ends compute it the same way; no one gains by forging it (a writer
 * that does only overwrites bytes it could have written anyway). */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

int ag_extent_digest(struct ag_tree *t, uint64_t ino, uint64_t start,
		     uint64_t end, uint64_t *digest)
{
	uint64_t h = 0xcbf29ce484222325ull;
	struct ag_extent_walk w;
	struct ag_extent x;
	uint8_t v[8 + AG_EXTENT_LEN];
	int rc = ag_extent_walk_start(t, ino, start, &w);

	if (rc)
		return rc;
	while ((rc = ag_extent_walk_next(&w, &x)) == 1 && x.off < end) {
		put_le64(v, x.off);
		h = fnv1a(h, v, 8 + ag_extent_encode(v + 8, &x));
	}
	ag_extent_walk_end(&w);
	if (rc < 0)
		return rc;
	*digest = h;
	return 0;
}

size_t ag_version_rec_encode(uint8_t *v, const struct ag_version_rec *r)
{
	size_t n = 1;

	v[0] = r->flags;
	n += varint_put(v + n, r->ino);
	n += varint_put(v + n, (uint64_t)r->mtime);
	return n;
}

int ag_version_rec_decode(const uint8_t *v, size_t len,
			  struct ag_version_rec *r)
{
	const uint8_t *p = v + 1, *end = v + len;
	uint64_t mtime;

	if (!len || (v[0] & ~(AG_VERSION_MARKER | AG_VERSION_NULL)) ||
	    varint_get(&p, end, &r->ino) || varint_get(&p, end, &mtime) ||
	    p != end || !(v[0] & AG_VERSION_MARKER) != !!r->ino)
		return AG_CORRUPT("version record");
	r->flags = v[0];
	r->mtime = (int64_t)mtime;
	return 0;
}
