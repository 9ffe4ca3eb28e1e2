/*
 * keys.c - encode and decode the typed records of the metadata tree
 * (layouts in keys.h).
 */
#include <errno.h>
#include <string.h>

#include "btree.h"
#include "keys.h"
#include "util.h"

size_t ag_key_super(uint8_t *buf, const char *name)
{
	size_t n = strlen(name);

	buf[0] = AG_K_SUPER;
	memcpy(buf + 1, name, n);
	return 1 + n;
}

size_t ag_key_segment(uint8_t *buf, uint32_t seg)
{
	buf[0] = AG_K_SEGMENT;
	put_be32(buf + 1, seg);
	return 5;
}

size_t ag_key_inode(uint8_t *buf, uint64_t ino)
{
	buf[0] = AG_K_INODE;
	put_be64(buf + 1, ino);
	return 9;
}

size_t ag_key_dirent(uint8_t *buf, uint64_t parent, const char *name,
		     size_t nlen)
{
	buf[0] = AG_K_DIRENT;
	put_be64(buf + 1, parent);
	memcpy(buf + 9, name, nlen);
	return 9 + nlen;
}

size_t ag_key_xattr(uint8_t *buf, uint64_t ino, const char *name, size_t nlen)
{
	buf[0] = AG_K_XATTR;
	put_be64(buf + 1, ino);
	memcpy(buf + 9, name, nlen);
	return 9 + nlen;
}

size_t ag_key_extent(uint8_t *buf, uint64_t ino, uint64_t off)
{
	buf[0] = AG_K_EXTENT;
	put_be64(buf + 1, ino);
	put_be64(buf + 9, off);
	return 17;
}

size_t ag_key_chunk(uint8_t *buf, const uint8_t sha[32])
{
	buf[0] = AG_K_CHUNK;
	memcpy(buf + 1, sha, 32);
	return 33;
}

size_t ag_key_stripe(uint8_t *buf, uint32_t seg, uint32_t stripe)
{
	buf[0] = AG_K_STRIPE;
	put_be32(buf + 1, seg);
	put_be32(buf + 5, stripe);
	return 9;
}

size_t ag_key_client(uint8_t *buf, uint64_t client)
{
	buf[0] = AG_K_CLIENT;
	put_be64(buf + 1, client);
	return 9;
}

size_t ag_key_stats(uint8_t *buf)
{
	buf[0] = AG_K_STATS;
	memcpy(buf + 1, "all", 3);
	return 4;
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
	put_be64(buf + 1, ino);
	return 9;
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

void ag_inode_encode(uint8_t *v, const struct ag_attr *in)
{
	memset(v, 0, AG_INODE_LEN);
	put_le32(v + 0, in->mode);
	put_le32(v + 4, in->uid);
	put_le32(v + 8, in->gid);
	put_le32(v + 12, in->nlink);
	put_le64(v + 16, in->size);
	put_le64(v + 24, (uint64_t)in->atime);
	put_le64(v + 32, (uint64_t)in->mtime);
	put_le64(v + 40, (uint64_t)in->ctime);
	put_le64(v + 48, (uint64_t)in->btime);
	put_le64(v + 56, in->generation);
	put_le64(v + 64, in->rdev);
	put_le32(v + 72, in->flags);
	memcpy(v + 76, in->etag, 16);
	put_le64(v + 96, in->parent);
}

int ag_inode_decode(const uint8_t *v, size_t len, uint64_t ino,
		    struct ag_attr *in)
{
	if (len != AG_INODE_LEN)
		return AG_CORRUPT("inode %llu record length %zu",
				  (unsigned long long)ino, len);
	in->ino = ino;
	in->mode = get_le32(v + 0);
	in->uid = get_le32(v + 4);
	in->gid = get_le32(v + 8);
	in->nlink = get_le32(v + 12);
	in->size = get_le64(v + 16);
	in->atime = (int64_t)get_le64(v + 24);
	in->mtime = (int64_t)get_le64(v + 32);
	in->ctime = (int64_t)get_le64(v + 40);
	in->btime = (int64_t)get_le64(v + 48);
	in->generation = get_le64(v + 56);
	in->rdev = get_le64(v + 64);
	in->flags = get_le32(v + 72);
	memcpy(in->etag, v + 76, 16);
	in->parent = get_le64(v + 96);
	return 0;
}

void ag_extent_encode(uint8_t *v, const struct ag_extent *e)
{
	put_le32(v, e->len);
	put_le32(v + 4, e->coff);
	memcpy(v + 8, e->sha, 32);
}

int ag_extent_decode(const uint8_t *k, size_t klen, const uint8_t *v,
		     size_t vlen, struct ag_extent *e)
{
	if (klen != 17 || k[0] != AG_K_EXTENT || vlen != AG_EXTENT_LEN)
		return AG_CORRUPT("extent record");
	e->off = get_be64(k + 9);
	e->len = get_le32(v);
	e->coff = get_le32(v + 4);
	memcpy(e->sha, v + 8, 32);
	if (!e->len || e->len > AG_CHUNK_LIMIT || e->coff >= AG_CHUNK_LIMIT)
		return AG_CORRUPT("extent length %u", e->len);
	return 0;
}

void ag_chunk_rec_encode(uint8_t *v, const struct ag_chunk_rec *c)
{
	put_le64(v, c->addr);
	put_le32(v + 8, c->clen);
	put_le32(v + 12, c->ulen);
	put_le32(v + 16, c->crc);
	put_le32(v + 20, c->refs);
	put_le32(v + 24, c->flags);
	put_le32(v + 28, 0);
}

int ag_chunk_rec_decode(const uint8_t *v, size_t len, struct ag_chunk_rec *c)
{
	if (len != AG_CHUNK_REC_LEN)
		return AG_CORRUPT("chunk record length %zu", len);
	c->addr = get_le64(v);
	c->clen = get_le32(v + 8);
	c->ulen = get_le32(v + 12);
	c->crc = get_le32(v + 16);
	c->refs = get_le32(v + 20);
	c->flags = get_le32(v + 24);
	if (!c->clen || !c->ulen)
		return AG_CORRUPT("empty chunk record");
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
		const uint8_t *kb = ck;

		if (ckl != 17 || kb[0] != AG_K_EXTENT ||
		    get_be64(kb + 1) != w->ino)
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
	uint8_t v[AG_EXTENT_LEN + 8];
	int rc = ag_extent_walk_start(t, ino, start, &w);

	if (rc)
		return rc;
	while ((rc = ag_extent_walk_next(&w, &x)) == 1 && x.off < end) {
		put_le64(v, x.off);
		ag_extent_encode(v + 8, &x);
		h = fnv1a(h, v, sizeof(v));
	}
	ag_extent_walk_end(&w);
	if (rc < 0)
		return rc;
	*digest = h;
	return 0;
}
