/*
 * txn.c - encode and decode metadata transactions (layout in txn.h).
 *
 * Each op's body is described once, by a struct op_layout: the fixed
 * fields (name, offset, size, and the member of the op's struct that
 * holds them) and the variable parts that follow. One encoder
 * (op_encode) and one decoder (op_decode) read the tables, so the two
 * sides cannot disagree. The decoder checks every length against the
 * frame: its input comes from the network.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "btree.h"
#include "event.h"
#include "keys.h"
#include "txn.h"
#include "util.h"

/* the frame header and the op header (txn.h) */
enum {
	TXN_CLIENT = 0,
	TXN_TXID = 8,
	TXN_NOPS = 16,
	OP_TYPE = 0,
	OP_RESERVED = 2,
	OP_LEN = 4,
	OP_HDR = 8,
};
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
	put_le64(t->buf + TXN_CLIENT, client);
	put_le64(t->buf + TXN_TXID, txid);
	put_le32(t->buf + TXN_NOPS, t->nops);
}

void ag_txn_reset(struct ag_txn *t, uint64_t client, uint64_t txid)
{
	t->len = 0;
	t->nops = 0;
	t->error = 0;
	t->write_at = 0;
	t->origin = 0;
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

/* ---- the layout tables ---- */

/* One fixed field: size bytes at offset off of the body, a little-endian
 * integer (1, 4 or 8 bytes) or raw bytes (16, 32), held by the member at
 * mem of the op's struct, which has exactly that size. */
struct field {
	const char *name;
	uint16_t off;
	uint8_t size;
	uint16_t mem;
};

/* A variable part: count units of unit bytes, count a u32 member (also
 * a fixed field), the bytes pointed to by a pointer member. unit 0 marks
 * an unused slot. */
struct var_part {
	uint16_t count_mem, ptr_mem;
	uint8_t unit;
};

struct op_layout {
	const char *name;
	uint16_t fixed;          /* bytes of the fixed fields */
	const struct field *fields;
	uint8_t nfields;
	struct var_part vars[2]; /* after the fixed part, in this order */
};

#define SIZEOF_MEMBER(type, m) ((uint8_t)sizeof(((type *)0)->m))
#define FIELD(type, m, off) \
	{ #m, off, SIZEOF_MEMBER(type, m), offsetof(type, m) }
#define FIELDS(a) a, AG_ARRAY_LEN(a)
#define VAR(type, count, ptr, unit) \
	{ offsetof(type, count), offsetof(type, ptr), unit }

static const struct field mknode_fields[] = {
	FIELD(struct ag_op_mknode, parent, 0),
	FIELD(struct ag_op_mknode, mode, 8),
	FIELD(struct ag_op_mknode, uid, 12),
	FIELD(struct ag_op_mknode, gid, 16),
	FIELD(struct ag_op_mknode, flags, 20),
	FIELD(struct ag_op_mknode, rdev, 24),
	FIELD(struct ag_op_mknode, nlen, 32),
	FIELD(struct ag_op_mknode, tlen, 36),
};

static const struct field unlink_fields[] = {
	FIELD(struct ag_op_unlink, parent, 0),
	FIELD(struct ag_op_unlink, flags, 8),
	FIELD(struct ag_op_unlink, nlen, 12),
};

static const struct field rename_fields[] = {
	FIELD(struct ag_op_rename, src, 0),
	FIELD(struct ag_op_rename, dst, 8),
	FIELD(struct ag_op_rename, flags, 16),
	FIELD(struct ag_op_rename, slen, 20),
	FIELD(struct ag_op_rename, dlen, 24),
};

static const struct field link_fields[] = {
	FIELD(struct ag_op_link, ino, 0),
	FIELD(struct ag_op_link, parent, 8),
	FIELD(struct ag_op_link, flags, 16),
	FIELD(struct ag_op_link, nlen, 20),
};

static const struct field setattr_fields[] = {
	FIELD(struct ag_op_setattr, ino, 0),
	FIELD(struct ag_op_setattr, mask, 8),
	FIELD(struct ag_op_setattr, mode, 12),
	FIELD(struct ag_op_setattr, uid, 16),
	FIELD(struct ag_op_setattr, gid, 20),
	FIELD(struct ag_op_setattr, size, 24),
	FIELD(struct ag_op_setattr, atime, 32),
	FIELD(struct ag_op_setattr, mtime, 40),
	FIELD(struct ag_op_setattr, ctime, 48),
	FIELD(struct ag_op_setattr, etag, 56),
};

static const struct field xattr_fields[] = {
	FIELD(struct ag_op_xattr, ino, 0),
	FIELD(struct ag_op_xattr, flags, 8),
	FIELD(struct ag_op_xattr, nlen, 12),
	FIELD(struct ag_op_xattr, vlen, 16),
};

/* Indexed: the open WRITE is patched field by field as it grows. */
enum { WR_INO, WR_START, WR_END, WR_SIZE, WR_FLAGS, WR_NEXT, WR_BASE };
static const struct field write_fields[] = {
	[WR_INO] = FIELD(struct ag_op_write, ino, 0),
	[WR_START] = FIELD(struct ag_op_write, start, 8),
	[WR_END] = FIELD(struct ag_op_write, end, 16),
	[WR_SIZE] = FIELD(struct ag_op_write, new_size, 24),
	[WR_FLAGS] = FIELD(struct ag_op_write, flags, 32),
	[WR_NEXT] = FIELD(struct ag_op_write, next, 36),
	[WR_BASE] = FIELD(struct ag_op_write, base, 40),
};

static const struct field stripe_fields[] = {
	FIELD(struct ag_op_stripe, seg, 0),
	FIELD(struct ag_op_stripe, stripe, 4),
	FIELD(struct ag_op_stripe, n, 8),
};

static const struct field seg_release_fields[] = {
	FIELD(struct ag_op_seg, seg, 0),
	/* 4: u32 reserved, 0 */
	FIELD(struct ag_op_seg, fill, 8),
};

/* the body is the bare inode number, op->u.ino */
static const struct field drop_orphan_fields[] = {
	{ "ino", 0, 8, 0 },
};

static const struct field clone_fields[] = {
	FIELD(struct ag_op_clone, src, 0),
	FIELD(struct ag_op_clone, soff, 8),
	FIELD(struct ag_op_clone, dst, 16),
	FIELD(struct ag_op_clone, doff, 24),
	FIELD(struct ag_op_clone, len, 32),
};

static const struct field expect_fields[] = {
	FIELD(struct ag_op_expect, parent, 0),
	FIELD(struct ag_op_expect, cond, 8),
	FIELD(struct ag_op_expect, nlen, 12),
	FIELD(struct ag_op_expect, etag, 16),
};

static const struct field move_fields[] = {
	FIELD(struct ag_op_move, n, 0),
	/* 4: u32 reserved, 0 */
};

static const struct field event_fields[] = {
	FIELD(struct ag_op_event, kind, 0),
	FIELD(struct ag_op_event, proto, 4),
	FIELD(struct ag_op_event, ino, 8),
};

static const struct field trigger_fields[] = {
	FIELD(struct ag_op_trigger, action, 0),
	FIELD(struct ag_op_trigger, nlen, 4),
	FIELD(struct ag_op_trigger, vlen, 8),
	/* 12: u32 reserved, 0 */
	FIELD(struct ag_op_trigger, seq, 16),
	FIELD(struct ag_op_trigger, token, 24),
	FIELD(struct ag_op_trigger, ttl, 32),
};

static const struct field version_fields[] = {
	FIELD(struct ag_op_version, bucket, 0),
	FIELD(struct ag_op_version, ino, 8),
	FIELD(struct ag_op_version, seq, 16),
	FIELD(struct ag_op_version, action, 24),
	FIELD(struct ag_op_version, flags, 28),
	FIELD(struct ag_op_version, klen, 32),
};

/* One entry of a MOVE, after the op's fixed part: the one codec of it. */
_Static_assert(AG_MOVE_SF == 4, "one field per super-feature below");
static const struct field move_ent_fields[] = {
	FIELD(struct ag_move_ent, sha, 0),
	FIELD(struct ag_move_ent, old_addr, 32),
	FIELD(struct ag_move_ent, new_addr, 40),
	FIELD(struct ag_move_ent, clen, 48),
	FIELD(struct ag_move_ent, crc, 52),
	FIELD(struct ag_move_ent, flags, 56),
	FIELD(struct ag_move_ent, new_clen, 60),
	FIELD(struct ag_move_ent, new_crc, 64),
	/* 68: u32 reserved, 0 */
	FIELD(struct ag_move_ent, ref, 72),
	FIELD(struct ag_move_ent, sf[0], 104),
	FIELD(struct ag_move_ent, sf[1], 112),
	FIELD(struct ag_move_ent, sf[2], 120),
	FIELD(struct ag_move_ent, sf[3], 128),
};

/* One extent of a WRITE, after the op's fixed part. */
static const struct field write_ext_fields[] = {
	FIELD(struct ag_write_ext, off, 0),
	FIELD(struct ag_write_ext, len, 8),
	FIELD(struct ag_write_ext, sha, 12),
	FIELD(struct ag_write_ext, has_loc, 44),
	/* 45: u8 reserved[3], 0 */
	FIELD(struct ag_write_ext, addr, 48),
	FIELD(struct ag_write_ext, clen, 56),
	FIELD(struct ag_write_ext, ulen, 60),
	FIELD(struct ag_write_ext, crc, 64),
	FIELD(struct ag_write_ext, cflags, 68),
};

static const struct op_layout layouts[] = {
	[AG_OP_MKNODE] = { "mknode", 40, FIELDS(mknode_fields), {
		VAR(struct ag_op_mknode, nlen, name, 1),
		VAR(struct ag_op_mknode, tlen, target, 1) } },
	[AG_OP_UNLINK] = { "unlink", 16, FIELDS(unlink_fields), {
		VAR(struct ag_op_unlink, nlen, name, 1) } },
	[AG_OP_RENAME] = { "rename", 28, FIELDS(rename_fields), {
		VAR(struct ag_op_rename, slen, sname, 1),
		VAR(struct ag_op_rename, dlen, dname, 1) } },
	[AG_OP_LINK] = { "link", 24, FIELDS(link_fields), {
		VAR(struct ag_op_link, nlen, name, 1) } },
	[AG_OP_SETATTR] = { "setattr", 72, FIELDS(setattr_fields), { { 0 } } },
	[AG_OP_SETXATTR] = { "setxattr", 20, FIELDS(xattr_fields), {
		VAR(struct ag_op_xattr, nlen, name, 1),
		VAR(struct ag_op_xattr, vlen, value, 1) } },
	[AG_OP_RMXATTR] = { "rmxattr", 20, FIELDS(xattr_fields), {
		VAR(struct ag_op_xattr, nlen, name, 1),
		VAR(struct ag_op_xattr, vlen, value, 1) } },
	[AG_OP_WRITE] = { "write", 48, FIELDS(write_fields), {
		VAR(struct ag_op_write, next, exts, AG_WRITE_EXT_LEN) } },
	[AG_OP_STRIPE] = { "stripe", 12, FIELDS(stripe_fields), {
		VAR(struct ag_op_stripe, n, crcs, 4) } },
	[AG_OP_SEG_LEASE] = { "seg_lease", 0, NULL, 0, { { 0 } } },
	[AG_OP_SEG_RELEASE] = { "seg_release", 16,
				FIELDS(seg_release_fields), { { 0 } } },
	[AG_OP_DROP_ORPHAN] = { "drop_orphan", 8,
				FIELDS(drop_orphan_fields), { { 0 } } },
	[AG_OP_CLONE] = { "clone", 40, FIELDS(clone_fields), { { 0 } } },
	[AG_OP_EXPECT] = { "expect", 32, FIELDS(expect_fields), {
		VAR(struct ag_op_expect, nlen, name, 1) } },
	[AG_OP_MOVE] = { "move", 8, FIELDS(move_fields), {
		VAR(struct ag_op_move, n, ents, AG_MOVE_ENT_LEN) } },
	[AG_OP_CLEAN_LEASE] = { "clean_lease", 0, NULL, 0, { { 0 } } },
	[AG_OP_EVENT] = { "event", 16, FIELDS(event_fields), { { 0 } } },
	[AG_OP_TRIGGER] = { "trigger", 40, FIELDS(trigger_fields), {
		VAR(struct ag_op_trigger, nlen, name, 1),
		VAR(struct ag_op_trigger, vlen, value, 1) } },
	[AG_OP_INO] = { "ino", 8, FIELDS(drop_orphan_fields), { { 0 } } },
	[AG_OP_VERSION] = { "version", 36, FIELDS(version_fields), {
		VAR(struct ag_op_version, klen, key, 1) } },
};

static const struct op_layout *layout_of(uint16_t type)
{
	if (type >= AG_ARRAY_LEN(layouts) || !layouts[type].name)
		return NULL;
	return &layouts[type];
}

/* ---- the codec, driven by the tables ---- */

static void put_field(uint8_t *body, const struct field *f, const void *obj)
{
	const uint8_t *m = (const uint8_t *)obj + f->mem;
	uint32_t v32;
	uint64_t v64;

	switch (f->size) {
	case 4:
		memcpy(&v32, m, 4);
		put_le32(body + f->off, v32);
		break;
	case 8:
		memcpy(&v64, m, 8);
		put_le64(body + f->off, v64);
		break;
	default: /* a byte, or raw bytes */
		memcpy(body + f->off, m, f->size);
	}
}

static void get_field(const uint8_t *body, const struct field *f, void *obj)
{
	uint8_t *m = (uint8_t *)obj + f->mem;
	uint32_t v32;
	uint64_t v64;

	switch (f->size) {
	case 4:
		v32 = get_le32(body + f->off);
		memcpy(m, &v32, 4);
		break;
	case 8:
		v64 = get_le64(body + f->off);
		memcpy(m, &v64, 8);
		break;
	default:
		memcpy(m, body + f->off, f->size);
	}
}

static void put_fields(uint8_t *body, const struct field *f, size_t n,
		       const void *obj)
{
	while (n--)
		put_field(body, f++, obj);
}

static void get_fields(const uint8_t *body, const struct field *f, size_t n,
		       void *obj)
{
	while (n--)
		get_field(body, f++, obj);
}

static uint32_t var_count(const struct var_part *v, const void *obj)
{
	uint32_t n;

	memcpy(&n, (const uint8_t *)obj + v->count_mem, 4);
	return n;
}

static const void *var_ptr(const struct var_part *v, const void *obj)
{
	const void *p;

	memcpy(&p, (const uint8_t *)obj + v->ptr_mem, sizeof(p));
	return p;
}

static void var_set_ptr(const struct var_part *v, void *obj, const void *p)
{
	memcpy((uint8_t *)obj + v->ptr_mem, &p, sizeof(p));
}

static unsigned var_parts(const struct op_layout *l)
{
	unsigned n = 0;

	while (n < AG_ARRAY_LEN(l->vars) && l->vars[n].unit)
		n++;
	return n;
}

/* Bytes of the variable parts of obj. */
static uint64_t var_bytes(const struct op_layout *l, const void *obj)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < var_parts(l); i++)
		n += (uint64_t)var_count(&l->vars[i], obj) * l->vars[i].unit;
	return n;
}

/* Start an op of body length blen; returns a pointer to its body. */
static uint8_t *op_begin(struct ag_txn *t, enum ag_op_type type, size_t blen)
{
	uint8_t *p;

	if (reserve(t, OP_HDR + blen))
		return NULL;
	p = t->buf + t->len;
	put_le16(p + OP_TYPE, type);
	put_le16(p + OP_RESERVED, 0);
	put_le32(p + OP_LEN, (uint32_t)blen);
	memset(p + OP_HDR, 0, blen); /* reserved fields are 0 */
	t->len += OP_HDR + blen;
	t->nops++;
	put_le32(t->buf + TXN_NOPS, t->nops);
	if (type != AG_OP_WRITE)
		t->write_at = 0;
	return p + OP_HDR;
}

/* Append op type with the fields of obj, its struct (txn.h). */
static uint8_t *op_encode(struct ag_txn *t, enum ag_op_type type,
			  const void *obj)
{
	const struct op_layout *l = layout_of(type);
	uint64_t var = var_bytes(l, obj);
	uint8_t *body, *p;
	unsigned i;

	if (var > TXN_MAX) {
		if (!t->error)
			t->error = -E2BIG;
		return NULL;
	}
	body = op_begin(t, type, l->fixed + var);
	if (!body)
		return NULL;
	put_fields(body, l->fields, l->nfields, obj);
	p = body + l->fixed;
	for (i = 0; i < var_parts(l); i++) {
		size_t n = (size_t)var_count(&l->vars[i], obj) *
			   l->vars[i].unit;

		if (n)
			memcpy(p, var_ptr(&l->vars[i], obj), n);
		p += n;
	}
	return body;
}

/* Decode body b[0..blen) of op type into obj: -AG_EPROTO unless blen is
 * the fixed part plus the variable parts the fixed part announces. */
static int op_decode(const struct op_layout *l, const uint8_t *b,
		     uint32_t blen, void *obj)
{
	const uint8_t *p = b + l->fixed;
	unsigned i;

	if (blen < l->fixed)
		return -AG_EPROTO;
	get_fields(b, l->fields, l->nfields, obj);
	if (l->fixed + var_bytes(l, obj) != blen)
		return -AG_EPROTO;
	for (i = 0; i < var_parts(l); i++) {
		var_set_ptr(&l->vars[i], obj, p);
		p += (size_t)var_count(&l->vars[i], obj) * l->vars[i].unit;
	}
	return 0;
}

/* ---- the builders ---- */

static int name_ok(struct ag_txn *t, uint32_t nlen)
{
	if (nlen > AG_NAME_MAX && !t->error)
		t->error = -ENAMETOOLONG;
	return t->error;
}

int ag_txn_mknode(struct ag_txn *t, const struct ag_op_mknode *o)
{
	if (name_ok(t, o->nlen))
		return t->error;
	if (o->tlen > AG_SYMLINK_MAX)
		return t->error = -ENAMETOOLONG;
	return op_encode(t, AG_OP_MKNODE, o) ? 0 : t->error;
}

int ag_txn_unlink(struct ag_txn *t, const struct ag_op_unlink *o)
{
	if (name_ok(t, o->nlen))
		return t->error;
	return op_encode(t, AG_OP_UNLINK, o) ? 0 : t->error;
}

int ag_txn_rename(struct ag_txn *t, const struct ag_op_rename *o)
{
	if (name_ok(t, o->slen) || name_ok(t, o->dlen))
		return t->error;
	return op_encode(t, AG_OP_RENAME, o) ? 0 : t->error;
}

int ag_txn_link(struct ag_txn *t, const struct ag_op_link *o)
{
	if (name_ok(t, o->nlen))
		return t->error;
	return op_encode(t, AG_OP_LINK, o) ? 0 : t->error;
}

int ag_txn_setattr(struct ag_txn *t, const struct ag_op_setattr *o)
{
	return op_encode(t, AG_OP_SETATTR, o) ? 0 : t->error;
}

static int xattr_op(struct ag_txn *t, enum ag_op_type type,
		    const struct ag_op_xattr *o)
{
	if (!o->nlen || o->nlen > AG_NAME_MAX)
		return t->error ? t->error : (t->error = -ERANGE);
	if (o->vlen > AG_XATTR_MAX)
		return t->error ? t->error : (t->error = -E2BIG);
	return op_encode(t, type, o) ? 0 : t->error;
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

int ag_txn_write(struct ag_txn *t, uint64_t ino, uint64_t start, uint64_t end,
		 uint64_t new_size, uint32_t flags)
{
	struct ag_op_write o = { .ino = ino, .start = start, .end = end,
				 .new_size = new_size, .flags = flags };
	uint8_t *p = op_encode(t, AG_OP_WRITE, &o);

	if (!p)
		return t->error;
	t->write_at = (size_t)(p - OP_HDR - t->buf);
	return 0;
}

/* The body of the open WRITE, or NULL (and t poisoned) when none is. */
static uint8_t *open_write(struct ag_txn *t)
{
	if (t->error)
		return NULL;
	if (!t->write_at) {
		t->error = -EINVAL;
		return NULL;
	}
	return t->buf + t->write_at + OP_HDR;
}

int ag_txn_write_ext(struct ag_txn *t, const struct ag_write_ext *e)
{
	struct ag_op_write w;
	uint8_t *op;

	if (!open_write(t) || reserve(t, AG_WRITE_EXT_LEN))
		return t->error;
	memset(t->buf + t->len, 0, AG_WRITE_EXT_LEN);
	put_fields(t->buf + t->len, write_ext_fields,
		   AG_ARRAY_LEN(write_ext_fields), e);
	t->len += AG_WRITE_EXT_LEN;
	op = t->buf + t->write_at;
	put_le32(op + OP_LEN, get_le32(op + OP_LEN) + AG_WRITE_EXT_LEN);
	get_field(op + OP_HDR, &write_fields[WR_NEXT], &w);
	w.next++;
	put_field(op + OP_HDR, &write_fields[WR_NEXT], &w);
	return 0;
}

int ag_txn_write_size(struct ag_txn *t, uint64_t new_size)
{
	struct ag_op_write w = { .new_size = new_size };
	uint8_t *p = open_write(t);

	if (!p)
		return t->error;
	put_field(p, &write_fields[WR_SIZE], &w);
	return 0;
}

int ag_txn_write_expect(struct ag_txn *t, uint64_t base)
{
	struct ag_op_write w = { .base = base };
	uint8_t *p = open_write(t);

	if (!p)
		return t->error;
	get_field(p, &write_fields[WR_FLAGS], &w);
	w.flags |= AG_WRITE_EXPECT;
	put_field(p, &write_fields[WR_FLAGS], &w);
	put_field(p, &write_fields[WR_BASE], &w);
	return 0;
}

int ag_txn_stripe(struct ag_txn *t, uint32_t seg, uint32_t stripe,
		  const uint32_t *crcs, uint32_t n)
{
	/* the u32 array is already little-endian in memory (util.h) */
	struct ag_op_stripe o = { .seg = seg, .stripe = stripe, .n = n,
				  .crcs = (const uint8_t *)crcs };

	return op_encode(t, AG_OP_STRIPE, &o) ? 0 : t->error;
}

int ag_txn_seg_lease(struct ag_txn *t)
{
	return op_encode(t, AG_OP_SEG_LEASE, NULL) ? 0 : t->error;
}

int ag_txn_seg_release(struct ag_txn *t, uint32_t seg, uint64_t fill)
{
	struct ag_op_seg o = { .seg = seg, .fill = fill };

	return op_encode(t, AG_OP_SEG_RELEASE, &o) ? 0 : t->error;
}

int ag_txn_clone(struct ag_txn *t, const struct ag_op_clone *o)
{
	return op_encode(t, AG_OP_CLONE, o) ? 0 : t->error;
}

int ag_txn_expect(struct ag_txn *t, const struct ag_op_expect *o)
{
	if (name_ok(t, o->nlen))
		return t->error;
	return op_encode(t, AG_OP_EXPECT, o) ? 0 : t->error;
}

int ag_txn_drop_orphan(struct ag_txn *t, uint64_t ino)
{
	return op_encode(t, AG_OP_DROP_ORPHAN, &ino) ? 0 : t->error;
}

int ag_txn_ino(struct ag_txn *t, uint64_t ino)
{
	return op_encode(t, AG_OP_INO, &ino) ? 0 : t->error;
}

int ag_txn_with_ino(const uint8_t *buf, size_t len, uint64_t ino,
		    uint8_t **out, size_t *outlen)
{
	size_t op = 8 + 8; /* op header, then the inode */
	uint8_t *p = malloc(len + op);

	if (!p)
		return -ENOMEM;
	memcpy(p, buf, AG_TXN_HDR);
	put_le32(p + 16, get_le32(buf + 16) + 1);
	put_le16(p + AG_TXN_HDR, AG_OP_INO);
	put_le16(p + AG_TXN_HDR + 2, 0);
	put_le32(p + AG_TXN_HDR + 4, 8);
	put_le64(p + AG_TXN_HDR + 8, ino);
	memcpy(p + AG_TXN_HDR + op, buf + AG_TXN_HDR, len - AG_TXN_HDR);
	*out = p;
	*outlen = len + op;
	return 0;
}

int ag_txn_move(struct ag_txn *t, const struct ag_move_ent *ents, uint32_t n)
{
	struct ag_op_move o = { .n = n };
	const struct op_layout *l = layout_of(AG_OP_MOVE);
	uint8_t *body;
	uint32_t i;

	if (!n || n > (TXN_MAX - l->fixed) / AG_MOVE_ENT_LEN)
		return t->error ? t->error : (t->error = -EINVAL);
	body = op_begin(t, AG_OP_MOVE, l->fixed + (size_t)n * AG_MOVE_ENT_LEN);
	if (!body)
		return t->error;
	put_fields(body, l->fields, l->nfields, &o);
	for (i = 0; i < n; i++)
		put_fields(body + l->fixed + (size_t)i * AG_MOVE_ENT_LEN,
			   move_ent_fields, AG_ARRAY_LEN(move_ent_fields),
			   &ents[i]);
	return 0;
}

int ag_txn_clean_lease(struct ag_txn *t)
{
	return op_encode(t, AG_OP_CLEAN_LEASE, NULL) ? 0 : t->error;
}

int ag_txn_event(struct ag_txn *t, uint32_t kind, uint32_t proto,
		 uint64_t ino)
{
	struct ag_op_event o = { .kind = kind, .proto = proto, .ino = ino };

	if (kind == AG_EV_ORIGIN && t->origin)
		return t->error;
	if (!op_encode(t, AG_OP_EVENT, &o))
		return t->error;
	if (kind == AG_EV_ORIGIN)
		t->origin = 1;
	return 0;
}

int ag_txn_trigger(struct ag_txn *t, const struct ag_op_trigger *o)
{
	if (o->nlen > AG_TRIGGER_NAME_MAX || o->vlen > AG_VAL_MAX)
		return t->error ? t->error : (t->error = -EINVAL);
	return op_encode(t, AG_OP_TRIGGER, o) ? 0 : t->error;
}

int ag_txn_append(struct ag_txn *t, const struct ag_txn *ops)
{
	size_t n;

	if (!ops || !ops->nops)
		return t->error;
	if (ops->error)
		return t->error ? t->error : (t->error = ops->error);
	if (t->write_at || ops->write_at)
		return t->error ? t->error : (t->error = -EINVAL);
	n = ops->len - AG_TXN_HDR;
	if (reserve(t, n))
		return t->error;
	memcpy(t->buf + t->len, ops->buf + AG_TXN_HDR, n);
	t->len += n;
	t->nops += ops->nops;
	put_le32(t->buf + TXN_NOPS, t->nops);
	return 0;
}

int ag_txn_version(struct ag_txn *t, const struct ag_op_version *o)
{
	if (o->klen > AG_KEY_MAX)
		return t->error ? t->error : (t->error = -ENAMETOOLONG);
	return op_encode(t, AG_OP_VERSION, o) ? 0 : t->error;
}

/* ---- the decoder ---- */

int ag_txn_parse(const uint8_t *buf, size_t len, uint64_t *client,
		 uint64_t *txid, struct ag_txn_iter *it)
{
	if (len < AG_TXN_HDR)
		return -AG_EPROTO;
	*client = get_le64(buf + TXN_CLIENT);
	*txid = get_le64(buf + TXN_TXID);
	it->left = get_le32(buf + TXN_NOPS);
	it->p = buf + AG_TXN_HDR;
	it->end = buf + len;
	return 0;
}

int ag_txn_next(struct ag_txn_iter *it, struct ag_op *op)
{
	const struct op_layout *l;
	const uint8_t *b;
	uint16_t type;
	uint32_t blen;

	if (!it->left)
		return it->p == it->end ? 0 : -AG_EPROTO;
	if (it->end - it->p < OP_HDR)
		return -AG_EPROTO;
	type = get_le16(it->p + OP_TYPE);
	blen = get_le32(it->p + OP_LEN);
	if ((size_t)(it->end - it->p - OP_HDR) < blen)
		return -AG_EPROTO;
	b = it->p + OP_HDR;
	it->p = b + blen;
	it->left--;
	l = layout_of(type);
	if (!l)
		return -AG_EPROTO;
	op->type = type;
	return op_decode(l, b, blen, &op->u) ? -AG_EPROTO : 1;
}

void ag_write_ext_get(const struct ag_op_write *w, uint32_t i,
		      struct ag_write_ext *e)
{
	memset(e, 0, sizeof(*e));
	get_fields(w->exts + (size_t)i * AG_WRITE_EXT_LEN, write_ext_fields,
		   AG_ARRAY_LEN(write_ext_fields), e);
}

void ag_move_ent_get(const struct ag_op_move *m, uint32_t i,
		     struct ag_move_ent *e)
{
	memset(e, 0, sizeof(*e));
	get_fields(m->ents + (size_t)i * AG_MOVE_ENT_LEN, move_ent_fields,
		   AG_ARRAY_LEN(move_ent_fields), e);
}

int ag_txn_decode(const uint8_t *buf, size_t len, uint64_t *client,
		  uint64_t *txid, ag_txn_op_cb cb, void *arg)
{
	struct ag_txn_iter it;
	struct ag_op op;
	int rc = ag_txn_parse(buf, len, client, txid, &it);

	while (!rc && (rc = ag_txn_next(&it, &op)) == 1)
		rc = cb ? cb(arg, &op) : 0;
	return rc;
}
