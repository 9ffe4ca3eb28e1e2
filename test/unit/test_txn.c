/*
 * test_txn.c - unit test of the transaction codec (common/meta/txn.c).
 *
 * One transaction holding every op, with a distinct value in every field,
 * is encoded and compared byte for byte with a frame kept here (the wire
 * format must not move: agora-metad and its clients may be of different
 * builds), then decoded and compared field by field with what went in.
 * Then the decoder meets every truncation of that frame, op headers that
 * lie about their lengths, and random mutations of it, each decoded from
 * a heap copy of exactly its length so that ASan sees an overread: it
 * must answer -AG_EPROTO or decode ops whose pointers stay inside the
 * frame, never crash. Builder errors are sticky.
 *
 * AG_SEED=n replays the mutations; AG_LONG=1 runs many more.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora.h"
#include "keys.h"
#include "tap.h"
#include "txn.h"
#include "util.h"

static const uint32_t stripe_crcs[3] = { 0xc0c1c2c3, 0xd0d1d2d3, 0xe0e1e2e3 };

static const struct ag_write_ext wext[2] = {
	{ .off = 0x1001, .len = 0x1002, .sha = { 1, 2, 3, 31 },
	  .has_loc = 1, .addr = 0x1003, .clen = 0x1004, .ulen = 0x1005,
	  .crc = 0x1006, .cflags = 0x1007 },
	{ .off = 0x2001, .len = 0x2002, .sha = { 9, 8, 7 }, .has_loc = 0 },
};

/* Every op once (SEG_LEASE has no body), in type order. */
static const struct ag_op_mknode mk = {
	.parent = 0x0101, .mode = 0x0102, .uid = 0x0103, .gid = 0x0104,
	.flags = 0x0105, .rdev = 0x0106, .name = "name", .nlen = 4,
	.target = "target/of/link", .tlen = 14,
};
static const struct ag_op_unlink ul = {
	.parent = 0x0201, .flags = 0x0202, .name = "gone", .nlen = 4,
};
static const struct ag_op_rename rn = {
	.src = 0x0301, .dst = 0x0302, .flags = 0x0303, .sname = "from",
	.slen = 4, .dname = "to-here", .dlen = 7,
};
static const struct ag_op_link ln = {
	.ino = 0x0401, .parent = 0x0402, .flags = 0x0403, .name = "alias",
	.nlen = 5,
};
static const struct ag_op_setattr sa = {
	.ino = 0x0501, .mask = 0x0502, .mode = 0x0503, .uid = 0x0504,
	.gid = 0x0505, .size = 0x0506, .atime = -0x0507, .mtime = 0x0508,
	.ctime = 0x0509, .etag = { 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
				   0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e,
				   0x5f, 0x50 },
};
static const struct ag_op_xattr sx = {
	.ino = 0x0601, .flags = 0x0602, .name = "user.k", .nlen = 6,
	.value = "value", .vlen = 5,
};
static const struct ag_op_clone cl = {
	.src = 0x0d01, .soff = 0x0d02, .dst = 0x0d03, .doff = 0x0d04,
	.len = 0x0d05,
};
static const struct ag_op_expect ex = {
	.parent = 0x0e01, .cond = 0x0e02, .name = "cond", .nlen = 4,
	.etag = { 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea,
		  0xeb, 0xec, 0xed, 0xee, 0xef, 0xe0 },
};

static int build_every_op(struct ag_txn *t)
{
	ag_txn_init(t, 0x0badc0de0001ull, 0x77);
	ag_txn_mknode(t, &mk);
	ag_txn_unlink(t, &ul);
	ag_txn_rename(t, &rn);
	ag_txn_link(t, &ln);
	ag_txn_setattr(t, &sa);
	ag_txn_setxattr(t, &sx);
	ag_txn_rmxattr(t, 0x0701, "user.r", 6);
	ag_txn_write(t, 0x0801, 0x0802, 0x0803, 0x0804, AG_WRITE_TRUNCATE);
	ag_txn_write_ext(t, &wext[0]);
	ag_txn_write_ext(t, &wext[1]);
	ag_txn_write_size(t, 0x0805);
	ag_txn_write_expect(t, 0x0806);
	ag_txn_stripe(t, 0x0901, 0x0902, stripe_crcs, 3);
	ag_txn_seg_lease(t);
	ag_txn_seg_release(t, 0x0b01, 0x0b02);
	ag_txn_drop_orphan(t, 0x0c01);
	ag_txn_clone(t, &cl);
	return ag_txn_expect(t, &ex);
}

/* The frame build_every_op gives, as the encoder wrote it before its
 * ops were described by tables: the wire format must not move. */
static const char golden_hex[] =
	"0100dec0ad0b00007700000000000000"
	"0e000000010000003a00000001010000"
	"00000000020100000301000004010000"
	"05010000060100000000000004000000"
	"0e0000006e616d657461726765742f6f"
	"662f6c696e6b02000000140000000102"
	"0000000000000202000004000000676f"
	"6e650300000027000000010300000000"
	"00000203000000000000030300000400"
	"00000700000066726f6d746f2d686572"
	"65040000001d00000001040000000000"
	"00020400000000000003040000050000"
	"00616c69617305000000480000000105"
	"00000000000002050000030500000405"
	"0000050500000605000000000000f9fa"
	"ffffffffffff08050000000000000905"
	"0000000000005152535455565758595a"
	"5b5c5d5e5f50060000001f0000000106"
	"00000000000002060000060000000500"
	"0000757365722e6b76616c7565070000"
	"001a0000000107000000000000000000"
	"000600000000000000757365722e7208"
	"000000c0000000010800000000000002"
	"08000000000000030800000000000005"
	"08000000000000030000000200000006"
	"08000000000000011000000000000002"
	"1000000102031f000000000000000000"
	"00000000000000000000000000000000"
	"00000001000000031000000000000004"
	"10000005100000061000000710000001"
	"20000000000000022000000908070000"
	"00000000000000000000000000000000"
	"00000000000000000000000000000000"
	"00000000000000000000000000000000"
	"00000000000000090000001800000001"
	"0900000209000003000000c3c2c1c0d3"
	"d2d1d0e3e2e1e00a000000000000000b"
	"00000010000000010b00000000000002"
	"0b0000000000000c0000000800000001"
	"0c0000000000000d0000002800000001"
	"0d000000000000020d00000000000003"
	"0d000000000000040d00000000000005"
	"0d0000000000000e0000002400000001"
	"0e000000000000020e000004000000e1"
	"e2e3e4e5e6e7e8e9eaebecedeeefe063"
	"6f6e64";

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;

	while (n < cap && sscanf(h + 2 * n, "%2x", &v) == 1)
		out[n++] = (uint8_t)v;
	return n;
}

/* ---- decoding into a flat list to compare ---- */

struct seen {
	struct ag_op ops[32];
	struct ag_write_ext ext[8];
	int nops, next;
	const uint8_t *lo, *hi; /* the frame: every pointer must be inside */
	int outside;
};

static void inside(struct seen *s, const void *p, uint64_t n)
{
	const uint8_t *b = p;

	if (n && (b < s->lo || b > s->hi || (uint64_t)(s->hi - b) < n))
		s->outside++;
}

static int collect(void *arg, const struct ag_op *op)
{
	struct seen *s = arg;
	uint32_t i;

	if (s->nops < (int)AG_ARRAY_LEN(s->ops))
		s->ops[s->nops++] = *op;
	switch (op->type) {
	case AG_OP_MKNODE:
		inside(s, op->u.mknode.name, op->u.mknode.nlen);
		inside(s, op->u.mknode.target, op->u.mknode.tlen);
		break;
	case AG_OP_UNLINK:
		inside(s, op->u.unlink.name, op->u.unlink.nlen);
		break;
	case AG_OP_RENAME:
		inside(s, op->u.rename.sname, op->u.rename.slen);
		inside(s, op->u.rename.dname, op->u.rename.dlen);
		break;
	case AG_OP_LINK:
		inside(s, op->u.link.name, op->u.link.nlen);
		break;
	case AG_OP_SETXATTR:
	case AG_OP_RMXATTR:
		inside(s, op->u.xattr.name, op->u.xattr.nlen);
		inside(s, op->u.xattr.value, op->u.xattr.vlen);
		break;
	case AG_OP_WRITE:
		inside(s, op->u.write.exts,
		       (uint64_t)op->u.write.next * AG_WRITE_EXT_LEN);
		for (i = 0; i < op->u.write.next; i++) {
			struct ag_write_ext e;

			ag_write_ext_get(&op->u.write, i, &e);
			if (s->next < (int)AG_ARRAY_LEN(s->ext))
				s->ext[s->next++] = e;
		}
		break;
	case AG_OP_STRIPE:
		inside(s, op->u.stripe.crcs, 4ull * op->u.stripe.n);
		break;
	case AG_OP_EXPECT:
		inside(s, op->u.expect.name, op->u.expect.nlen);
		break;
	case AG_OP_VERSION:
		inside(s, op->u.version.key, op->u.version.klen);
		break;
	case AG_OP_MOVE:
		inside(s, op->u.move.ents,
		       (uint64_t)op->u.move.n * AG_MOVE_ENT_LEN);
		break;
	default:
		break;
	}
	return 0;
}

/* Decode buf[0..len) from a heap copy of exactly len bytes. */
static int decode_copy(const uint8_t *buf, size_t len, struct seen *s)
{
	uint8_t *copy = malloc(len ? len : 1);
	uint64_t client, txid;
	int rc;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	memset(s, 0, sizeof(*s));
	s->lo = copy;
	s->hi = copy + len;
	rc = ag_txn_decode(copy, len, &client, &txid, collect, s);
	free(copy);
	return rc;
}

static int same_bytes(const void *a, const void *b, size_t n)
{
	return !n || !memcmp(a, b, n);
}

static int ext_equal(const struct ag_write_ext *a, const struct ag_write_ext *b)
{
	return a->off == b->off && a->len == b->len &&
	       !memcmp(a->sha, b->sha, 32) && a->has_loc == b->has_loc &&
	       a->addr == b->addr && a->clen == b->clen && a->ulen == b->ulen &&
	       a->crc == b->crc && a->cflags == b->cflags;
}

static void test_round_trip(void)
{
	static uint8_t golden[1024];
	size_t glen = unhex(golden_hex, golden, sizeof(golden));
	struct ag_txn t;
	struct seen s;
	const struct ag_op *o = s.ops;
	uint64_t client, txid;
	struct ag_txn_iter it;
	int rc;

	ok(!build_every_op(&t), "every op appended");
	ok(t.len == glen && !memcmp(t.buf, golden, glen),
	   "the frame is byte for byte the one kept (%zu bytes)", t.len);
	ok(!ag_txn_parse(t.buf, t.len, &client, &txid, &it) &&
	   client == 0x0badc0de0001ull && txid == 0x77 && it.left == 14,
	   "header: client, txid, op count");

	rc = decode_copy(t.buf, t.len, &s);
	ok(rc == 0 && s.nops == 14 && !s.outside, "decodes: 14 ops");
	ok(o[0].type == AG_OP_MKNODE && o[0].u.mknode.parent == mk.parent &&
	   o[0].u.mknode.mode == mk.mode && o[0].u.mknode.uid == mk.uid &&
	   o[0].u.mknode.gid == mk.gid && o[0].u.mknode.flags == mk.flags &&
	   o[0].u.mknode.rdev == mk.rdev && o[0].u.mknode.nlen == mk.nlen &&
	   o[0].u.mknode.tlen == mk.tlen, "mknode fields");
	ok(o[1].type == AG_OP_UNLINK && o[1].u.unlink.parent == ul.parent &&
	   o[1].u.unlink.flags == ul.flags && o[1].u.unlink.nlen == ul.nlen,
	   "unlink fields");
	ok(o[2].type == AG_OP_RENAME && o[2].u.rename.src == rn.src &&
	   o[2].u.rename.dst == rn.dst && o[2].u.rename.flags == rn.flags &&
	   o[2].u.rename.slen == rn.slen && o[2].u.rename.dlen == rn.dlen,
	   "rename fields");
	ok(o[3].type == AG_OP_LINK && o[3].u.link.ino == ln.ino &&
	   o[3].u.link.parent == ln.parent && o[3].u.link.flags == ln.flags &&
	   o[3].u.link.nlen == ln.nlen, "link fields");
	ok(o[4].type == AG_OP_SETATTR && o[4].u.setattr.ino == sa.ino &&
	   o[4].u.setattr.mask == sa.mask && o[4].u.setattr.mode == sa.mode &&
	   o[4].u.setattr.uid == sa.uid && o[4].u.setattr.gid == sa.gid &&
	   o[4].u.setattr.size == sa.size &&
	   o[4].u.setattr.atime == sa.atime &&
	   o[4].u.setattr.mtime == sa.mtime &&
	   o[4].u.setattr.ctime == sa.ctime &&
	   !memcmp(o[4].u.setattr.etag, sa.etag, 16), "setattr fields");
	ok(o[5].type == AG_OP_SETXATTR && o[5].u.xattr.ino == sx.ino &&
	   o[5].u.xattr.flags == sx.flags && o[5].u.xattr.nlen == sx.nlen &&
	   o[5].u.xattr.vlen == sx.vlen, "setxattr fields");
	ok(o[6].type == AG_OP_RMXATTR && o[6].u.xattr.ino == 0x0701 &&
	   o[6].u.xattr.nlen == 6 && o[6].u.xattr.vlen == 0,
	   "rmxattr fields");
	ok(o[7].type == AG_OP_WRITE && o[7].u.write.ino == 0x0801 &&
	   o[7].u.write.start == 0x0802 && o[7].u.write.end == 0x0803 &&
	   o[7].u.write.new_size == 0x0805 &&
	   o[7].u.write.flags == (AG_WRITE_TRUNCATE | AG_WRITE_EXPECT) &&
	   o[7].u.write.base == 0x0806 && o[7].u.write.next == 2,
	   "write fields (size and expect set after its extents)");
	ok(s.next == 2 && ext_equal(&s.ext[0], &wext[0]) &&
	   ext_equal(&s.ext[1], &wext[1]), "write extents");
	ok(o[8].type == AG_OP_STRIPE && o[8].u.stripe.seg == 0x0901 &&
	   o[8].u.stripe.stripe == 0x0902 && o[8].u.stripe.n == 3,
	   "stripe fields");
	ok(o[9].type == AG_OP_SEG_LEASE, "seg_lease");
	ok(o[10].type == AG_OP_SEG_RELEASE && o[10].u.seg.seg == 0x0b01 &&
	   o[10].u.seg.fill == 0x0b02, "seg_release fields");
	ok(o[11].type == AG_OP_DROP_ORPHAN && o[11].u.ino == 0x0c01,
	   "drop_orphan fields");
	ok(o[12].type == AG_OP_CLONE && o[12].u.clone.src == cl.src &&
	   o[12].u.clone.soff == cl.soff && o[12].u.clone.dst == cl.dst &&
	   o[12].u.clone.doff == cl.doff && o[12].u.clone.len == cl.len,
	   "clone fields");
	ok(o[13].type == AG_OP_EXPECT && o[13].u.expect.parent == ex.parent &&
	   o[13].u.expect.cond == ex.cond && o[13].u.expect.nlen == ex.nlen &&
	   !memcmp(o[13].u.expect.etag, ex.etag, 16), "expect fields");
	ag_txn_release(&t);
}

/* Names, values and crcs point into the frame itself: compare them
 * while it is alive. */
static void test_names(void)
{
	struct ag_txn t;
	struct ag_txn_iter it;
	struct ag_op op[14];
	uint64_t client, txid;
	int n = 0, rc;

	build_every_op(&t);
	ag_txn_parse(t.buf, t.len, &client, &txid, &it);
	while (n < 14 && (rc = ag_txn_next(&it, &op[n])) == 1)
		n++;
	ok(n == 14 && ag_txn_next(&it, &op[0]) == 0, "iterator ends at 0");
	ok(same_bytes(op[0].u.mknode.name, mk.name, mk.nlen) &&
	   same_bytes(op[0].u.mknode.target, mk.target, mk.tlen),
	   "mknode name and target");
	ok(same_bytes(op[1].u.unlink.name, ul.name, ul.nlen), "unlink name");
	ok(same_bytes(op[2].u.rename.sname, rn.sname, rn.slen) &&
	   same_bytes(op[2].u.rename.dname, rn.dname, rn.dlen),
	   "rename names");
	ok(same_bytes(op[3].u.link.name, ln.name, ln.nlen), "link name");
	ok(same_bytes(op[5].u.xattr.name, sx.name, sx.nlen) &&
	   same_bytes(op[5].u.xattr.value, sx.value, sx.vlen),
	   "setxattr name and value");
	ok(same_bytes(op[6].u.xattr.name, "user.r", 6), "rmxattr name");
	ok(same_bytes(op[13].u.expect.name, ex.name, ex.nlen), "expect name");
	ok(get_le32(op[8].u.stripe.crcs) == stripe_crcs[0] &&
	   get_le32(op[8].u.stripe.crcs + 8) == stripe_crcs[2],
	   "stripe crcs");
	ag_txn_release(&t);
}

/* Every prefix of the frame but the whole is refused, and so is the
 * frame with a byte more. */
static void test_truncated(void)
{
	struct ag_txn t;
	struct seen s;
	size_t n, bad = 0, outside = 0;
	uint8_t *longer;

	build_every_op(&t);
	for (n = 0; n < t.len; n++) {
		if (decode_copy(t.buf, n, &s) != -AG_EPROTO)
			bad++;
		outside += s.outside;
	}
	ok(!bad && !outside, "all %zu truncations refused (-AG_EPROTO)",
	   t.len);
	longer = calloc(1, t.len + 1);
	memcpy(longer, t.buf, t.len);
	ok(decode_copy(longer, t.len + 1, &s) == -AG_EPROTO,
	   "a byte after the last op refused");
	free(longer);
	ag_txn_release(&t);
}

/* One op with a body of blen that holds body[0..blen). */
static int one_op(uint16_t type, const uint8_t *body, uint32_t blen,
		  uint32_t claimed)
{
	uint8_t buf[512];
	struct seen s;

	memset(buf, 0, AG_TXN_HDR);
	put_le32(buf + 16, 1);
	put_le16(buf + AG_TXN_HDR, type);
	put_le16(buf + AG_TXN_HDR + 2, 0);
	put_le32(buf + AG_TXN_HDR + 4, claimed);
	memcpy(buf + AG_TXN_HDR + 8, body, blen);
	return decode_copy(buf, AG_TXN_HDR + 8 + blen, &s);
}

static void test_malformed(void)
{
	uint8_t body[256] = { 0 };
	uint8_t hdr[AG_TXN_HDR] = { 0 };
	struct seen s;
	uint16_t type;
	int bad = 0;

	/* SETATTR's body is exactly 72 bytes */
	ok(one_op(AG_OP_SETATTR, body, 72, 72) == 0,
	   "setattr of 72 bytes taken");
	ok(one_op(AG_OP_SETATTR, body, 71, 71) == -AG_EPROTO &&
	   one_op(AG_OP_SETATTR, body, 73, 73) == -AG_EPROTO,
	   "setattr of 71 or 73 bytes refused");
	/* a name length past the body */
	put_le32(body + 12, 4);
	ok(one_op(AG_OP_UNLINK, body, 20, 20) == 0,
	   "unlink: name length matching the body taken");
	put_le32(body + 12, 5);
	ok(one_op(AG_OP_UNLINK, body, 20, 20) == -AG_EPROTO,
	   "unlink: name length past the body refused");
	put_le32(body + 12, 0xffffffff);
	ok(one_op(AG_OP_UNLINK, body, 20, 20) == -AG_EPROTO,
	   "unlink: name length 2^32-1 refused");
	/* two lengths whose sum wraps in 32 bits */
	memset(body, 0, sizeof(body));
	put_le32(body + 32, 0xffffffff);
	put_le32(body + 36, 1);
	ok(one_op(AG_OP_MKNODE, body, 40, 40) == -AG_EPROTO,
	   "mknode: lengths summing to 2^32 refused");
	/* an extent count whose bytes wrap in 32 bits */
	memset(body, 0, sizeof(body));
	put_le32(body + 36, 0x80000000u / 36);
	ok(one_op(AG_OP_WRITE, body, 48, 48) == -AG_EPROTO,
	   "write: huge extent count refused");
	memset(body, 0, sizeof(body));
	put_le32(body + 8, 0x40000000);
	ok(one_op(AG_OP_STRIPE, body, 12, 12) == -AG_EPROTO,
	   "stripe: count times 4 wrapping refused");
	/* a body length past the frame */
	ok(one_op(AG_OP_CLONE, body, 40, 41) == -AG_EPROTO &&
	   one_op(AG_OP_CLONE, body, 40, 0xffffffff) == -AG_EPROTO,
	   "body length past the frame refused");
	/* unknown types */
	for (type = 0; type < 64; type++)
		if ((type == 0 || type > AG_OP_CLEAN_LEASE) &&
		    one_op(type, body, 0, 0) != -AG_EPROTO)
			bad++;
	ok(!bad && one_op(0xffff, body, 0, 0) == -AG_EPROTO,
	   "unknown op types refused");
	/* the op count against the ops there are */
	put_le32(hdr + 16, 1);
	ok(decode_copy(hdr, sizeof(hdr), &s) == -AG_EPROTO,
	   "a count of 1 with no op refused");
	put_le32(hdr + 16, 0);
	ok(decode_copy(hdr, sizeof(hdr), &s) == 0 && s.nops == 0,
	   "an empty transaction is fine");
	ok(decode_copy(hdr, sizeof(hdr) - 1, &s) == -AG_EPROTO,
	   "a header cut short refused");
}

/* Random bytes changed in the frame: any answer, but no crash, no
 * pointer outside the frame, and a success only with a whole walk. */
static void test_mutations(uint64_t *rng, int rounds)
{
	struct ag_txn t;
	struct seen s;
	uint8_t *m;
	int i, j, outside = 0, ok_frames = 0, refused = 0;

	build_every_op(&t);
	m = malloc(t.len);
	for (i = 0; i < rounds; i++) {
		int changes = 1 + (int)(tap_rand(rng) % 4), rc;

		memcpy(m, t.buf, t.len);
		for (j = 0; j < changes; j++) {
			size_t at = tap_rand(rng) % t.len;

			/* lengths and counts are where it matters: often
			 * write 0, 0xff or a small number there */
			switch (tap_rand(rng) % 3) {
			case 0: m[at] = (uint8_t)tap_rand(rng); break;
			case 1: m[at] = 0xff; break;
			default: m[at] = (uint8_t)(tap_rand(rng) % 8);
			}
		}
		rc = decode_copy(m, t.len - (tap_rand(rng) % 4 ? 0 :
					     tap_rand(rng) % t.len), &s);
		outside += s.outside;
		if (rc == 0)
			ok_frames++;
		else if (rc == -AG_EPROTO)
			refused++;
	}
	ok(!outside && ok_frames + refused == rounds,
	   "%d mutated frames: %d decoded, %d refused, none read outside",
	   rounds, ok_frames, refused);
	free(m);
	ag_txn_release(&t);
}

/* MOVE: the entry layout of txn.h byte by byte, the round trip, and a
 * body whose length disagrees with its count. */
static void test_move(void)
{
	struct ag_move_ent in[2] = {
		{ .sha = { 0xa1, 2, 3, [31] = 0xa4 }, .old_addr = 0x1112131415,
		  .new_addr = 0x2122232425, .clen = 0x31323334,
		  .crc = 0x41424344, .flags = 0x51525354,
		  .new_clen = 0x61626364, .new_crc = 0x71727374,
		  .ref = { 0xc1, [31] = 0xc4 },
		  .sf = { 0x8182838485868788, 2, 3, 0x9192939495969798 } },
		{ .sha = { 0xb1 }, .old_addr = 7, .new_addr = 8, .clen = 9,
		  .crc = 10 },
	}, out;
	uint64_t client, txid;
	const uint8_t *b;
	struct seen s;
	struct ag_txn t;
	int rc;

	ag_txn_init(&t, 1, 2);
	ok(ag_txn_move(&t, in, 0) == -EINVAL, "move: no entry refused");
	ag_txn_reset(&t, 1, 2);
	ok(!ag_txn_move(&t, in, 2) && !ag_txn_clean_lease(&t) &&
	   t.len == AG_TXN_HDR + 8 + 8 + 2 * AG_MOVE_ENT_LEN + 8,
	   "move and clean_lease encode");
	b = t.buf + AG_TXN_HDR;
	ok(get_le16(b) == AG_OP_MOVE &&
	   get_le32(b + 4) == 8 + 2 * AG_MOVE_ENT_LEN && get_le32(b + 8) == 2 &&
	   get_le32(b + 12) == 0, "move: op header, count, reserved");
	b += 16;
	ok(b[0] == 0xa1 && b[31] == 0xa4 && get_le64(b + 32) == 0x1112131415 &&
	   get_le64(b + 40) == 0x2122232425 &&
	   get_le32(b + 48) == 0x31323334 && get_le32(b + 52) == 0x41424344 &&
	   get_le32(b + 56) == 0x51525354 && get_le32(b + 60) == 0x61626364 &&
	   get_le32(b + 64) == 0x71727374 && get_le32(b + 68) == 0 &&
	   b[72] == 0xc1 && b[103] == 0xc4 &&
	   get_le64(b + 104) == 0x8182838485868788 &&
	   get_le64(b + 112) == 2 && get_le64(b + 120) == 3 &&
	   get_le64(b + 128) == 0x9192939495969798 && AG_MOVE_ENT_LEN == 136,
	   "move: entry fields at their offsets");
	rc = decode_copy(t.buf, t.len, &s);
	ok(!rc && s.nops == 2 && !s.outside &&
	   s.ops[0].type == AG_OP_MOVE && s.ops[0].u.move.n == 2 &&
	   s.ops[1].type == AG_OP_CLEAN_LEASE, "move: decodes");
	/* the pointers decode_copy saw lived in its copy: decode in place */
	memset(&s, 0, sizeof(s));
	s.lo = t.buf;
	s.hi = t.buf + t.len;
	ag_txn_decode(t.buf, t.len, &client, &txid, collect, &s);
	ag_move_ent_get(&s.ops[0].u.move, 0, &out);
	ok(!memcmp(&out.sha, in[0].sha, 32) &&
	   out.old_addr == in[0].old_addr && out.new_addr == in[0].new_addr &&
	   out.clen == in[0].clen && out.crc == in[0].crc &&
	   out.flags == in[0].flags && out.new_clen == in[0].new_clen &&
	   out.new_crc == in[0].new_crc && !memcmp(out.ref, in[0].ref, 32) &&
	   !memcmp(out.sf, in[0].sf, sizeof(out.sf)),
	   "move: entry 0 round-trips");
	ag_move_ent_get(&s.ops[0].u.move, 1, &out);
	ok(out.sha[0] == 0xb1 && out.old_addr == 7 && out.new_addr == 8 &&
	   out.clen == 9 && out.crc == 10 && !out.flags,
	   "move: entry 1 round-trips");
	/* one entry fewer than the count says */
	put_le32(t.buf + AG_TXN_HDR + 8, 3);
	ok(decode_copy(t.buf, t.len, &s) == -AG_EPROTO,
	   "move: count past the body refused");
	ag_txn_release(&t);
}

static void test_builder_errors(void)
{
	char name[AG_NAME_MAX + 1];
	struct ag_op_unlink u = { .parent = 1, .name = name,
				  .nlen = AG_NAME_MAX + 1 };
	struct ag_write_ext e = { .len = 1 };
	struct ag_txn t;

	memset(name, 'n', sizeof(name));
	ag_txn_init(&t, 1, 1);
	ok(ag_txn_write_ext(&t, &e) == -EINVAL, "an extent with no WRITE open");
	ok(ag_txn_drop_orphan(&t, 5) == -EINVAL, "the error is sticky");
	ag_txn_reset(&t, 1, 2);
	ok(ag_txn_unlink(&t, &u) == -ENAMETOOLONG, "a name too long");
	ag_txn_reset(&t, 1, 3);
	ok(ag_txn_rmxattr(&t, 1, name, 0) == -ERANGE, "an empty xattr name");
	ag_txn_reset(&t, 1, 4);
	ag_txn_write(&t, 9, 0, 10, 10, 0);
	ag_txn_seg_lease(&t);
	ok(ag_txn_write_size(&t, 11) == -EINVAL,
	   "another op closes the open WRITE");
	ag_txn_reset(&t, 1, 5);
	ok(!ag_txn_seg_lease(&t) && t.nops == 1 && t.len == AG_TXN_HDR + 8,
	   "reset keeps the buffer, starts over");
	ag_txn_release(&t);
}

/* An INO op put before the ops of a transaction already encoded is the
 * same as one appended first: the frame a lazy client sends again. */
static void test_ino(void)
{
	struct ag_op_mknode o = { .parent = 1, .mode = 0100644, .name = "f",
				  .nlen = 1 };
	struct ag_txn t, want;
	struct ag_txn_iter it;
	struct ag_op op;
	uint64_t client, txid;
	uint8_t *p = NULL;
	size_t len = 0;
	int rc;

	ag_txn_init(&t, 7, 9);
	ag_txn_mknode(&t, &o);
	ag_txn_init(&want, 7, 9);
	ag_txn_ino(&want, 4242);
	ag_txn_mknode(&want, &o);
	rc = ag_txn_with_ino(t.buf, t.len, 4242, &p, &len);
	ok(!rc && len == want.len && !memcmp(p, want.buf, len),
	   "an INO op put in front is the frame with the op appended first");
	rc = p ? ag_txn_parse(p, len, &client, &txid, &it) : -1;
	ok(!rc && client == 7 && txid == 9 && ag_txn_next(&it, &op) == 1 &&
		   op.type == AG_OP_INO && op.u.ino == 4242 &&
		   ag_txn_next(&it, &op) == 1 && op.type == AG_OP_MKNODE &&
		   ag_txn_next(&it, &op) == 0,
	   "it decodes: INO 4242, then the MKNODE, then the end");
	free(p);
	ag_txn_release(&t);
	ag_txn_release(&want);
}

/* The VERSION op round trips field by field (36 fixed bytes, then the
 * key); ag_txn_append carries ops whole, a frame of one op more per op
 * appended; a key longer than a tree key is refused before it is sent. */
static void test_version_op(void)
{
	const struct ag_op_version vo = {
		.bucket = 0x1001, .ino = 0x1002, .seq = 0x1003,
		.action = AG_VERSION_SNAPSHOT, .flags = AG_VERSION_SUSPENDED,
		.key = "dir/key", .klen = 7,
	};
	char longkey[AG_KEY_MAX + 1];
	struct ag_op_version too_long = vo;
	struct ag_txn t, more;
	struct seen s;
	int rc;

	ag_txn_init(&t, 1, 2);
	ag_txn_version(&t, &vo);
	ok(!t.error && t.len == AG_TXN_HDR + 8 + 36 + 7,
	   "version op: %zu bytes", t.len);
	rc = decode_copy(t.buf, t.len, &s);
	ok(!rc && s.nops == 1 && s.ops[0].type == AG_OP_VERSION &&
	   s.ops[0].u.version.bucket == vo.bucket &&
	   s.ops[0].u.version.ino == vo.ino &&
	   s.ops[0].u.version.seq == vo.seq &&
	   s.ops[0].u.version.action == vo.action &&
	   s.ops[0].u.version.flags == vo.flags &&
	   s.ops[0].u.version.klen == vo.klen && !s.outside,
	   "version op fields");
	ag_txn_init(&more, 0, 0);
	ag_txn_unlink(&more, &ul);
	ag_txn_version(&more, &vo);
	ag_txn_append(&t, &more);
	rc = decode_copy(t.buf, t.len, &s);
	ok(!rc && !t.error && t.nops == 3 && s.nops == 3 &&
	   s.ops[1].type == AG_OP_UNLINK && s.ops[2].type == AG_OP_VERSION,
	   "append: the ops of another transaction follow, as they were");
	ag_txn_release(&more);
	memset(longkey, 'k', sizeof(longkey));
	too_long.key = longkey;
	too_long.klen = sizeof(longkey);
	ok(ag_txn_version(&t, &too_long) == -ENAMETOOLONG,
	   "version op: a key longer than a tree key is refused (ENAMETOOLONG)");
	ag_txn_release(&t);
}

int main(void)
{
	uint64_t rng = tap_seed() | 1;

	test_round_trip();
	test_names();
	test_truncated();
	test_malformed();
	test_mutations(&rng, getenv("AG_LONG") ? 2000000 : 100000);
	test_builder_errors();
	test_move();
	test_ino();
	test_version_op();
	return tap_done();
}
