/*
 * txn.c - encode and decode metadata transactions (layout in txn.h).
 * The decoder checks every length against the frame: its input comes
 * from the network.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "btree.h"
#include "keys.h"
#include "txn.h"
#include "util.h"

#define OP_HDR 8
#define TXN_MAX (64u << 20)

static int reserve(struct ag_txn *t, size_t more)
{
	size_t cap;
	uint8_t *nb;

	if (t->error)
		return t->error;
	if (t->len + more <= t->cap)
		return 0;
	if (t->len + more > TXN_MAX)
		return t->error = -E2BIG;
	cap = t->cap ? t->cap : 256;
	while (cap < t->len + more)
		cap *= 2;
	nb = realloc(t->buf, cap);
	if (!nb)
		return t->error = -ENOMEM;
	t->buf = nb;
	t->cap = cap;
	return 0;
}

void ag_txn_set_id(struct ag_txn *t, uint64_t client, uint64_t txid)
{
	if (reserve(t, 0) || t->cap < AG_TXN_HDR)
		return;
	put_le64(t->buf, client);
	put_le64(t->buf + 8, txid);
	put_le32(t->buf + 16, t->nops);
}

void ag_txn_reset(struct ag_txn *t, uint64_t client, uint64_t txid)
{
	t->len = 0;
	t->nops = 0;
	t->error = 0;
	t->write_at = 0;
	if (reserve(t, AG_TXN_HDR))
		return;
	t->len = AG_TXN_HDR;
	ag_txn_set_id(t, client, txid);
}

void ag_txn_init(struct ag_txn *t, uint64_t client, uint64_t txid)
{
	memset(t, 0, sizeof(*t));
	ag_txn_reset(t, client, txid);
}

void ag_txn_release(struct ag_txn *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

/* Start an op of body length blen; returns a pointer to its body. */
static uint8_t *op_begin(struct ag_txn *t, enum ag_op_type type, size_t blen)
{
	uint8_t *p;

	if (reserve(t, OP_HDR + blen))
		return NULL;
	p = t->buf + t->len;
	put_le16(p, type);
	put_le16(p + 2, 0);
	put_le32(p + 4, (uint32_t)blen);
	t->len += OP_HDR + blen;
	t->nops++;
	put_le32(t->buf + 16, t->nops);
	if (type != AG_OP_WRITE)
		t->write_at = 0;
	return p + OP_HDR;
}

static int name_ok(struct ag_txn *t, uint32_t nlen)
{
	if (nlen > AG_NAME_MAX && !t->error)
		t->error = -ENAMETOOLONG;
	return t->error;
}

int ag_txn_mknode(struct ag_txn *t, const struct ag_op_mknode *o)
{
	uint8_t *p;

	if (name_ok(t, o->nlen))
		return t->error;
	if (o->tlen > AG_SYMLINK_MAX)
		return t->error = -ENAMETOOLONG;
	p = op_begin(t, AG_OP_MKNODE, 40 + o->nlen + o->tlen);
	if (!p)
		return t->error;
	put_le64(p, o->parent);
	put_le32(p + 8, o->mode);
	put_le32(p + 12, o->uid);
	put_le32(p + 16, o->gid);
	put_le32(p + 20, o->flags);
	put_le64(p + 24, o->rdev);
	put_le32(p + 32, o->nlen);
	put_le32(p + 36, o->tlen);
	if (o->nlen)
		memcpy(p + 40, o->name, o->nlen);
	if (o->tlen)
		memcpy(p + 40 + o->nlen, o->target, o->tlen);
	return 0;
}

int ag_txn_unlink(struct ag_txn *t, const struct ag_op_unlink *o)
{
	uint8_t *p;

	if (name_ok(t, o->nlen))
		return t->error;
	p = op_begin(t, AG_OP_UNLINK, 16 + o->nlen);
	if (!p)
		return t->error;
	put_le64(p, o->parent);
	put_le32(p + 8, o->flags);
	put_le32(p + 12, o->nlen);
	memcpy(p + 16, o->name, o->nlen);
	return 0;
}

int ag_txn_rename(struct ag_txn *t, const struct ag_op_rename *o)
{
	uint8_t *p;

	if (name_ok(t, o->slen) || name_ok(t, o->dlen))
		return t->error;
	p = op_begin(t, AG_OP_RENAME, 28 + o->slen + o->dlen);
	if (!p)
		return t->error;
	put_le64(p, o->src);
	put_le64(p + 8, o->dst);
	put_le32(p + 16, o->flags);
	put_le32(p + 20, o->slen);
	put_le32(p + 24, o->dlen);
	memcpy(p + 28, o->sname, o->slen);
	memcpy(p + 28 + o->slen, o->dname, o->dlen);
	return 0;
}

int ag_txn_link(struct ag_txn *t, const struct ag_op_link *o)
{
	uint8_t *p;

	if (name_ok(t, o->nlen))
		return t->error;
	p = op_begin(t, AG_OP_LINK, 24 + o->nlen);
	if (!p)
		return t->error;
	put_le64(p, o->ino);
	put_le64(p + 8, o->parent);
	put_le32(p + 16, o->flags);
	put_le32(p + 20, o->nlen);
	memcpy(p + 24, o->name, o->nlen);
	return 0;
}

int ag_txn_setattr(struct ag_txn *t, const struct ag_op_setattr *o)
{
	uint8_t *p = op_begin(t, AG_OP_SETATTR, 72);

	if (!p)
		return t->error;
	put_le64(p, o->ino);
	put_le32(p + 8, o->mask);
	put_le32(p + 12, o->mode);
	put_le32(p + 16, o->uid);
	put_le32(p + 20, o->gid);
	put_le64(p + 24, o->size);
	put_le64(p + 32, (uint64_t)o->atime);
	put_le64(p + 40, (uint64_t)o->mtime);
	put_le64(p + 48, (uint64_t)o->ctime);
	memcpy(p + 56, o->etag, 16);
	return 0;
}

static int xattr_op(struct ag_txn *t, enum ag_op_type type,
		    const struct ag_op_xattr *o)
{
	uint8_t *p;

	if (!o->nlen || o->nlen > AG_NAME_MAX)
		return t->error ? t->error : (t->error = -ERANGE);
	if (o->vlen > AG_XATTR_MAX)
		return t->error ? t->error : (t->error = -E2BIG);
	p = op_begin(t, type, 20 + o->nlen + o->vlen);
	if (!p)
		return t->error;
	put_le64(p, o->ino);
	put_le32(p + 8, o->flags);
	put_le32(p + 12, o->nlen);
	put_le32(p + 16, o->vlen);
	memcpy(p + 20, o->name, o->nlen);
	if (o->vlen)
		memcpy(p + 20 + o->nlen, o->value, o->vlen);
	return 0;
}

int ag_txn_setxattr(struct ag_txn *t, const struct ag_op_xattr *o)
{
	return xattr_op(t, AG_OP_SETXATTR, o);
}

int ag_txn_rmxattr(struct ag_txn *t, uint64_t ino, const char *name,
		   uint32_t nlen)
{
	struct ag_op_xattr o = { .ino = ino, .name = name, .nlen = nlen };

	return xattr_op(t, AG_OP_RMXATTR, &o);
}

/* The WRITE op's body: this header, then next ag_write_ext records. */
enum {
	WR_INO = 0,
	WR_START = 8,
	WR_END = 16,
	WR_SIZE = 24,
	WR_FLAGS = 32,
	WR_NEXT = 36,
	WR_BASE = 40, /* with AG_WRITE_EXPECT: the digest the range had */
	WR_HDR = 48,
};

int ag_txn_write(struct ag_txn *t, uint64_t ino, uint64_t start, uint64_t end,
		 uint64_t new_size, uint32_t flags)
{
	uint8_t *p = op_begin(t, AG_OP_WRITE, WR_HDR);

	if (!p)
		return t->error;
	put_le64(p + WR_INO, ino);
	put_le64(p + WR_START, start);
	put_le64(p + WR_END, end);
	put_le64(p + WR_SIZE, new_size);
	put_le32(p + WR_FLAGS, flags);
	put_le32(p + WR_NEXT, 0);
	put_le64(p + WR_BASE, 0);
	t->write_at = (size_t)(p - OP_HDR - t->buf);
	return 0;
}

int ag_txn_write_ext(struct ag_txn *t, const struct ag_write_ext *e)
{
	uint8_t *op, *p;

	if (t->error)
		return t->error;
	if (!t->write_at)
		return t->error = -EINVAL;
	if (reserve(t, AG_WRITE_EXT_LEN))
		return t->error;
	p = t->buf + t->len;
	put_le64(p, e->off);
	put_le32(p + 8, e->len);
	memcpy(p + 12, e->sha, 32);
	p[44] = e->has_loc;
	p[45] = p[46] = p[47] = 0;
	put_le64(p + 48, e->addr);
	put_le32(p + 56, e->clen);
	put_le32(p + 60, e->ulen);
	put_le32(p + 64, e->crc);
	put_le32(p + 68, e->cflags);
	t->len += AG_WRITE_EXT_LEN;
	op = t->buf + t->write_at;
	put_le32(op + 4, get_le32(op + 4) + AG_WRITE_EXT_LEN);
	put_le32(op + OP_HDR + WR_NEXT, get_le32(op + OP_HDR + WR_NEXT) + 1);
	return 0;
}

int ag_txn_write_size(struct ag_txn *t, uint64_t new_size)
{
	if (t->error)
		return t->error;
	if (!t->write_at)
		return t->error = -EINVAL;
	put_le64(t->buf + t->write_at + OP_HDR + WR_SIZE, new_size);
	return 0;
}

int ag_txn_write_expect(struct ag_txn *t, uint64_t base)
{
	uint8_t *p;

	if (t->error)
		return t->error;
	if (!t->write_at)
		return t->error = -EINVAL;
	p = t->buf + t->write_at + OP_HDR;
	put_le32(p + WR_FLAGS, get_le32(p + WR_FLAGS) | AG_WRITE_EXPECT);
	put_le64(p + WR_BASE, base);
	return 0;
}

int ag_txn_stripe(struct ag_txn *t, uint32_t seg, uint32_t stripe,
		  const uint32_t *crcs, uint32_t n)
{
	uint8_t *p = op_begin(t, AG_OP_STRIPE, 12 + 4 * n);
	uint32_t i;

	if (!p)
		return t->error;
	put_le32(p, seg);
	put_le32(p + 4, stripe);
	put_le32(p + 8, n);
	for (i = 0; i < n; i++)
		put_le32(p + 12 + 4 * i, crcs[i]);
	return 0;
}

int ag_txn_seg_lease(struct ag_txn *t)
{
	return op_begin(t, AG_OP_SEG_LEASE, 0) ? 0 : t->error;
}

int ag_txn_seg_release(struct ag_txn *t, uint32_t seg, uint64_t fill)
{
	uint8_t *p = op_begin(t, AG_OP_SEG_RELEASE, 16);

	if (!p)
		return t->error;
	put_le32(p, seg);
	put_le32(p + 4, 0);
	put_le64(p + 8, fill);
	return 0;
}

int ag_txn_clone(struct ag_txn *t, const struct ag_op_clone *o)
{
	uint8_t *p = op_begin(t, AG_OP_CLONE, 40);

	if (!p)
		return t->error;
	put_le64(p, o->src);
	put_le64(p + 8, o->soff);
	put_le64(p + 16, o->dst);
	put_le64(p + 24, o->doff);
	put_le64(p + 32, o->len);
	return 0;
}

int ag_txn_expect(struct ag_txn *t, const struct ag_op_expect *o)
{
	uint8_t *p;

	if (name_ok(t, o->nlen))
		return t->error;
	p = op_begin(t, AG_OP_EXPECT, 32 + o->nlen);
	if (!p)
		return t->error;
	put_le64(p, o->parent);
	put_le32(p + 8, o->cond);
	put_le32(p + 12, o->nlen);
	memcpy(p + 16, o->etag, 16);
	memcpy(p + 32, o->name, o->nlen);
	return 0;
}

int ag_txn_drop_orphan(struct ag_txn *t, uint64_t ino)
{
	uint8_t *p = op_begin(t, AG_OP_DROP_ORPHAN, 8);

	if (!p)
		return t->error;
	put_le64(p, ino);
	return 0;
}

int ag_txn_parse(const uint8_t *buf, size_t len, uint64_t *client,
		 uint64_t *txid, struct ag_txn_iter *it)
{
	if (len < AG_TXN_HDR)
		return -AG_EPROTO;
	*client = get_le64(buf);
	*txid = get_le64(buf + 8);
	it->left = get_le32(buf + 16);
	it->p = buf + AG_TXN_HDR;
	it->end = buf + len;
	return 0;
}

/* Check that a body of blen holds fixed bytes plus the variable parts. */
static int fits(uint32_t blen, uint64_t fixed, uint64_t var)
{
	return fixed + var == blen;
}

int ag_txn_next(struct ag_txn_iter *it, struct ag_op *op)
{
	const uint8_t *b;
	uint32_t blen;

	if (!it->left)
		return it->p == it->end ? 0 : -AG_EPROTO;
	if (it->end - it->p < OP_HDR)
		return -AG_EPROTO;
	op->type = get_le16(it->p);
	blen = get_le32(it->p + 4);
	if ((size_t)(it->end - it->p - OP_HDR) < blen)
		return -AG_EPROTO;
	b = it->p + OP_HDR;
	it->p = b + blen;
	it->left--;
	switch (op->type) {
	case AG_OP_MKNODE: {
		struct ag_op_mknode *o = &op->u.mknode;

		if (blen < 40)
			return -AG_EPROTO;
		o->parent = get_le64(b);
		o->mode = get_le32(b + 8);
		o->uid = get_le32(b + 12);
		o->gid = get_le32(b + 16);
		o->flags = get_le32(b + 20);
		o->rdev = get_le64(b + 24);
		o->nlen = get_le32(b + 32);
		o->tlen = get_le32(b + 36);
		if (!fits(blen, 40, (uint64_t)o->nlen + o->tlen))
			return -AG_EPROTO;
		o->name = (const char *)b + 40;
		o->target = o->name + o->nlen;
		return 1;
	}
	case AG_OP_UNLINK: {
		struct ag_op_unlink *o = &op->u.unlink;

		if (blen < 16)
			return -AG_EPROTO;
		o->parent = get_le64(b);
		o->flags = get_le32(b + 8);
		o->nlen = get_le32(b + 12);
		o->name = (const char *)b + 16;
		return fits(blen, 16, o->nlen) ? 1 : -AG_EPROTO;
	}
	case AG_OP_RENAME: {
		struct ag_op_rename *o = &op->u.rename;

		if (blen < 28)
			return -AG_EPROTO;
		o->src = get_le64(b);
		o->dst = get_le64(b + 8);
		o->flags = get_le32(b + 16);
		o->slen = get_le32(b + 20);
		o->dlen = get_le32(b + 24);
		if (!fits(blen, 28, (uint64_t)o->slen + o->dlen))
			return -AG_EPROTO;
		o->sname = (const char *)b + 28;
		o->dname = o->sname + o->slen;
		return 1;
	}
	case AG_OP_LINK: {
		struct ag_op_link *o = &op->u.link;

		if (blen < 24)
			return -AG_EPROTO;
		o->ino = get_le64(b);
		o->parent = get_le64(b + 8);
		o->flags = get_le32(b + 16);
		o->nlen = get_le32(b + 20);
		o->name = (const char *)b + 24;
		return fits(blen, 24, o->nlen) ? 1 : -AG_EPROTO;
	}
	case AG_OP_SETATTR: {
		struct ag_op_setattr *o = &op->u.setattr;

		if (blen != 72)
			return -AG_EPROTO;
		o->ino = get_le64(b);
		o->mask = get_le32(b + 8);
		o->mode = get_le32(b + 12);
		o->uid = get_le32(b + 16);
		o->gid = get_le32(b + 20);
		o->size = get_le64(b + 24);
		o->atime = (int64_t)get_le64(b + 32);
		o->mtime = (int64_t)get_le64(b + 40);
		o->ctime = (int64_t)get_le64(b + 48);
		memcpy(o->etag, b + 56, 16);
		return 1;
	}
	case AG_OP_SETXATTR:
	case AG_OP_RMXATTR: {
		struct ag_op_xattr *o = &op->u.xattr;

		if (blen < 20)
			return -AG_EPROTO;
		o->ino = get_le64(b);
		o->flags = get_le32(b + 8);
		o->nlen = get_le32(b + 12);
		o->vlen = get_le32(b + 16);
		if (!fits(blen, 20, (uint64_t)o->nlen + o->vlen))
			return -AG_EPROTO;
		o->name = (const char *)b + 20;
		o->value = b + 20 + o->nlen;
		return 1;
	}
	case AG_OP_WRITE: {
		struct ag_op_write *o = &op->u.write;

		if (blen < WR_HDR)
			return -AG_EPROTO;
		o->ino = get_le64(b + WR_INO);
		o->start = get_le64(b + WR_START);
		o->end = get_le64(b + WR_END);
		o->new_size = get_le64(b + WR_SIZE);
		o->flags = get_le32(b + WR_FLAGS);
		o->next = get_le32(b + WR_NEXT);
		o->base = get_le64(b + WR_BASE);
		o->exts = b + WR_HDR;
		return fits(blen, WR_HDR, (uint64_t)o->next * AG_WRITE_EXT_LEN)
			       ? 1 : -AG_EPROTO;
	}
	case AG_OP_STRIPE: {
		struct ag_op_stripe *o = &op->u.stripe;

		if (blen < 12)
			return -AG_EPROTO;
		o->seg = get_le32(b);
		o->stripe = get_le32(b + 4);
		o->n = get_le32(b + 8);
		o->crcs = b + 12;
		return fits(blen, 12, 4ull * o->n) ? 1 : -AG_EPROTO;
	}
	case AG_OP_SEG_LEASE:
		return blen == 0 ? 1 : -AG_EPROTO;
	case AG_OP_SEG_RELEASE:
		if (blen != 16)
			return -AG_EPROTO;
		op->u.seg.seg = get_le32(b);
		op->u.seg.fill = get_le64(b + 8);
		return 1;
	case AG_OP_DROP_ORPHAN:
		if (blen != 8)
			return -AG_EPROTO;
		op->u.ino = get_le64(b);
		return 1;
	case AG_OP_CLONE: {
		struct ag_op_clone *o = &op->u.clone;

		if (blen != 40)
			return -AG_EPROTO;
		o->src = get_le64(b);
		o->soff = get_le64(b + 8);
		o->dst = get_le64(b + 16);
		o->doff = get_le64(b + 24);
		o->len = get_le64(b + 32);
		return 1;
	}
	case AG_OP_EXPECT: {
		struct ag_op_expect *o = &op->u.expect;

		if (blen < 32)
			return -AG_EPROTO;
		o->parent = get_le64(b);
		o->cond = get_le32(b + 8);
		o->nlen = get_le32(b + 12);
		memcpy(o->etag, b + 16, 16);
		o->name = (const char *)b + 32;
		return fits(blen, 32, o->nlen) ? 1 : -AG_EPROTO;
	}
	}
	return -AG_EPROTO;
}

void ag_write_ext_get(const struct ag_op_write *w, uint32_t i,
		      struct ag_write_ext *e)
{
	const uint8_t *p = w->exts + (size_t)i * AG_WRITE_EXT_LEN;

	e->off = get_le64(p);
	e->len = get_le32(p + 8);
	memcpy(e->sha, p + 12, 32);
	e->has_loc = p[44];
	e->addr = get_le64(p + 48);
	e->clen = get_le32(p + 56);
	e->ulen = get_le32(p + 60);
	e->crc = get_le32(p + 64);
	e->cflags = get_le32(p + 68);
}
