/*
 * test_keys.c - unit test of the key codec of the metadata tree
 * (common/meta/keys.c): every kind of key decodes to what it was encoded from,
 * and a decoder refuses a key of another kind, of a wrong length, or cut
 * short, without reading past the length it is given (each key is
 * decoded from a heap copy of exactly its length, so ASan sees an
 * overread); extent offsets of every length, in order; the values of
 * the DIRENT, CLIENT, CHUNK and SIMILAR records; VERSION keys (a key's
 * versions adjacent and newest first, "a" before "a/b", keys with a NUL
 * or too long refused) and their values and stamps; and
 * the variable-length INODE and EXTENT values: every field round-trips,
 * usual values take no bytes, and a value cut short, too long, or with
 * an unknown field is refused as corrupt.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "keys.h"
#include "tap.h"

/* Decode every kind from a copy of k[0..kl) of exactly that length; a
 * bit per kind that accepted it. */
enum {
	D_SUPER = 1 << 0, D_SEGMENT = 1 << 1, D_INODE = 1 << 2,
	D_DIRENT = 1 << 3, D_XATTR = 1 << 4, D_EXTENT = 1 << 5,
	D_CHUNK = 1 << 6, D_STRIPE = 1 << 7, D_CLIENT = 1 << 8,
	D_STATS = 1 << 9, D_ORPHAN = 1 << 10, D_SIMILAR = 1 << 11,
	D_VERSION = 1 << 12,
};

static unsigned decode_all(const uint8_t *k, size_t kl)
{
	uint8_t *copy = malloc(kl ? kl : 1), sha[32];
	const char *name;
	size_t nlen;
	uint64_t a, b;
	uint32_t s, t;
	unsigned piece, got = 0;

	if (!copy)
		return 0;
	memcpy(copy, k, kl);
	got |= ag_key_super_decode(copy, kl, &name, &nlen) ? 0 : D_SUPER;
	got |= ag_key_segment_decode(copy, kl, &s) ? 0 : D_SEGMENT;
	got |= ag_key_inode_decode(copy, kl, &a) ? 0 : D_INODE;
	got |= ag_key_dirent_decode(copy, kl, &a, &name, &nlen) ? 0 : D_DIRENT;
	got |= ag_key_xattr_decode(copy, kl, &a, &name, &nlen, &piece)
		       ? 0 : D_XATTR;
	got |= ag_key_extent_decode(copy, kl, &a, &b) ? 0 : D_EXTENT;
	got |= ag_key_chunk_decode(copy, kl, sha) ? 0 : D_CHUNK;
	got |= ag_key_stripe_decode(copy, kl, &s, &t) ? 0 : D_STRIPE;
	got |= ag_key_client_decode(copy, kl, &a) ? 0 : D_CLIENT;
	got |= ag_key_stats_decode(copy, kl) ? 0 : D_STATS;
	got |= ag_key_orphan_decode(copy, kl, &a) ? 0 : D_ORPHAN;
	got |= ag_key_similar_decode(copy, kl, &a) ? 0 : D_SIMILAR;
	got |= ag_key_version_decode(copy, kl, &a, &name, &nlen, &b)
		       ? 0 : D_VERSION;
	free(copy);
	return got;
}

/* Only the kind's own decoder takes the key whole; none takes it cut
 * below min bytes (its type byte and ids); a fixed-length kind (min ==
 * kl) refuses it one byte longer too. */
static void check_exclusive(const char *what, const uint8_t *k, size_t kl,
			    unsigned mine, size_t min)
{
	uint8_t longer[AG_KEYBUF + 1];
	size_t i;
	int short_ok = 1;

	ok(decode_all(k, kl) == mine, "%s: only its own decoder takes it "
	   "(%#x)", what, decode_all(k, kl));
	for (i = 0; i < min; i++)
		if (decode_all(k, i) & mine)
			short_ok = 0;
	ok(short_ok, "%s: refused when cut short", what);
	if (min == kl) {
		memcpy(longer, k, kl);
		longer[kl] = 0;
		ok(!(decode_all(longer, kl + 1) & mine),
		   "%s: refused one byte longer", what);
	}
}

static void test_fixed_kinds(uint64_t *rng)
{
	uint8_t k[AG_KEYBUF], sha[32], got_sha[32];
	uint64_t ino = tap_rand(rng), off = tap_rand(rng), a, b;
	uint32_t seg = (uint32_t)tap_rand(rng), stripe = (uint32_t)tap_rand(rng);
	uint32_t s, t;
	size_t kl;
	int i;

	kl = ag_key_segment(k, seg);
	ok(!ag_key_segment_decode(k, kl, &s) && s == seg,
	   "segment %u round trip", seg);
	check_exclusive("segment", k, kl, D_SEGMENT, kl);

	kl = ag_key_inode(k, ino);
	ok(!ag_key_inode_decode(k, kl, &a) && a == ino, "inode round trip");
	check_exclusive("inode", k, kl, D_INODE, kl);

	kl = ag_key_extent(k, ino, off);
	ok(!ag_key_extent_decode(k, kl, &a, &b) && a == ino && b == off,
	   "extent round trip");
	check_exclusive("extent", k, kl, D_EXTENT, kl);

	for (i = 0; i < 32; i++)
		sha[i] = (uint8_t)tap_rand(rng);
	kl = ag_key_chunk(k, sha);
	ok(!ag_key_chunk_decode(k, kl, got_sha) && !memcmp(sha, got_sha, 32),
	   "chunk round trip");
	check_exclusive("chunk", k, kl, D_CHUNK, kl);

	kl = ag_key_stripe(k, seg, stripe);
	ok(!ag_key_stripe_decode(k, kl, &s, &t) && s == seg && t == stripe,
	   "stripe round trip");
	check_exclusive("stripe", k, kl, D_STRIPE, kl);

	kl = ag_key_client(k, ino);
	ok(!ag_key_client_decode(k, kl, &a) && a == ino, "client round trip");
	check_exclusive("client", k, kl, D_CLIENT, kl);

	kl = ag_key_orphan(k, ino);
	ok(!ag_key_orphan_decode(k, kl, &a) && a == ino, "orphan round trip");
	check_exclusive("orphan", k, kl, D_ORPHAN, kl);

	kl = ag_key_similar(k, off);
	ok(!ag_key_similar_decode(k, kl, &a) && a == off,
	   "similar round trip");
	check_exclusive("similar", k, kl, D_SIMILAR, kl);

	kl = ag_key_stats(k);
	ok(!ag_key_stats_decode(k, kl), "stats round trip");
	check_exclusive("stats", k, kl, D_STATS, kl);
	k[kl - 1] ^= 1;
	ok(ag_key_stats_decode(k, kl), "stats: another name refused");

	/* integers are big-endian: memcmp order is numeric order */
	{
		uint8_t k1[AG_KEYBUF], k2[AG_KEYBUF];

		ag_key_extent(k1, 7, 0x00ff);
		ag_key_extent(k2, 7, 0x0100);
		ok(memcmp(k1, k2, 11) < 0, "extent keys sort by offset");
	}
}

/* Extent offsets take a count byte and the bytes they need, and their
 * keys still sort in numeric order across every length; an offset
 * written with a leading zero byte (a second encoding of it) is refused. */
static void test_extent_keys(void)
{
	static const uint64_t offs[] = { 0, 1, 0xff, 0x100, 0xffff, 0x10000,
					 1ull << 22, 1ull << 40, 1ull << 56,
					 UINT64_MAX };
	uint8_t k1[AG_KEYBUF], k2[AG_KEYBUF];
	size_t l1, l2, n = sizeof(offs) / sizeof(offs[0]);
	uint64_t a, b;
	int sorted = 1;

	ok(ag_key_extent(k1, 7, 0) == 10 && ag_key_extent(k1, 7, 4 << 20) == 13 &&
	   ag_key_extent(k1, 7, UINT64_MAX) == 18,
	   "an extent key at offset 0 takes 10 bytes, at 4 MiB 13, at "
	   "2^64 - 1 18");
	for (size_t i = 0; i + 1 < n; i++) {
		int c;

		l1 = ag_key_extent(k1, 7, offs[i]);
		l2 = ag_key_extent(k2, 7, offs[i + 1]);
		c = memcmp(k1, k2, l1 < l2 ? l1 : l2);
		if (c > 0 || (c == 0 && l1 >= l2))
			sorted = 0;
		if (ag_key_extent_decode(k2, l2, &a, &b) || a != 7 ||
		    b != offs[i + 1])
			sorted = 0;
	}
	ok(sorted, "extent keys of offsets 0 to 2^64 - 1 sort in numeric "
	   "order and round-trip");
	l1 = ag_key_extent(k1, 7, 0);
	l2 = ag_key_extent(k2, 8, 0);
	ok(memcmp(k1, k2, l1) < 0 && l1 == l2,
	   "all extents of inode 7 sort before inode 8's");
	l1 = ag_key_extent(k1, 7, 0x42);
	k1[l1 - 2] = 2;	/* count 2: 0x00 0x42 */
	k1[l1 - 1] = 0;
	k1[l1] = 0x42;
	ok(ag_key_extent_decode(k1, l1 + 1, &a, &b) == -EINVAL,
	   "an offset with a leading zero byte: -EINVAL");
	k1[l1 - 2] = 9;
	ok(ag_key_extent_decode(k1, l1 + 8, &a, &b) == -EINVAL,
	   "an offset count over 8: -EINVAL");
}

/* The DIRENT value: type and inode round-trip, an inode near its
 * directory takes one byte, and a value cut short, too long or of an
 * unknown type is corrupt. */
static void test_dirent_rec(void)
{
	static const uint64_t inos[] = { 2, 1, 1000, 0, UINT64_MAX,
					 1ull << 63 };
	uint8_t v[AG_DIRENT_LEN + 1];
	uint64_t ino;
	unsigned type;
	size_t len;
	int all = 1;

	for (size_t i = 0; i < sizeof(inos) / sizeof(inos[0]); i++) {
		len = ag_dirent_encode(v, 900, inos[i], 0x8);
		if (len > AG_DIRENT_LEN || ag_dirent_decode(v, len, 900, &ino,
							    &type) ||
		    ino != inos[i] || type != 0x8)
			all = 0;
	}
	ok(all, "dirent values round-trip for inodes far either side");
	len = ag_dirent_encode(v, 900, 903, 0x4);
	ok(len == 2, "an entry for inode 903 in directory 900: %zu bytes "
	   "(9 in format 2)", len);
	ok(ag_dirent_decode(v, 1, 900, &ino, &type) == -AG_ECORRUPT,
	   "dirent value without its inode: -AG_ECORRUPT");
	v[len] = 0;
	ok(ag_dirent_decode(v, len + 1, 900, &ino, &type) == -AG_ECORRUPT,
	   "dirent value with a byte left over: -AG_ECORRUPT");
	v[0] = 0x10;
	ok(ag_dirent_decode(v, len, 900, &ino, &type) == -AG_ECORRUPT,
	   "dirent value of type 0x10: -AG_ECORRUPT");
}

static void test_named_kinds(uint64_t *rng)
{
	uint8_t k[AG_KEYBUF];
	char name[AG_NAME_MAX];
	const char *got;
	size_t kl, nlen, len = 1 + tap_rand(rng) % AG_NAME_MAX, i;
	uint64_t ino = tap_rand(rng), a;
	unsigned piece;

	for (i = 0; i < len; i++)
		name[i] = (char)('a' + tap_rand(rng) % 26);

	kl = ag_key_super(k, "next_ino");
	ok(!ag_key_super_decode(k, kl, &got, &nlen) && nlen == 8 &&
	   !memcmp(got, "next_ino", 8), "super round trip");
	check_exclusive("super", k, kl, D_SUPER, 1);

	kl = ag_key_dirent(k, ino, name, len);
	ok(!ag_key_dirent_decode(k, kl, &a, &got, &nlen) && a == ino &&
	   nlen == len && !memcmp(got, name, len),
	   "dirent round trip (name of %zu bytes)", len);
	check_exclusive("dirent", k, kl, D_DIRENT, 9);
	kl = ag_key_dirent(k, ino, "", 0);
	ok(!ag_key_dirent_decode(k, kl, &a, &got, &nlen) && a == ino &&
	   !nlen, "dirent prefix: empty name");
	ok(ag_key_dirent_decode(k, kl - 1, &a, &got, &nlen),
	   "dirent without its whole parent refused");

	kl = ag_key_xattr(k, ino, name, len);
	ok(!ag_key_xattr_decode(k, kl, &a, &got, &nlen, &piece) && a == ino &&
	   nlen == len && !memcmp(got, name, len) && piece == 0,
	   "xattr round trip");
	check_exclusive("xattr", k, kl, D_XATTR, 9);

	kl = ag_key_xattr_piece(k, ino, name, len, AG_XATTR_PIECES - 1);
	ok(!ag_key_xattr_decode(k, kl, &a, &got, &nlen, &piece) && a == ino &&
	   nlen == len && !memcmp(got, name, len) &&
	   piece == AG_XATTR_PIECES - 1, "xattr piece round trip");
	ok(ag_key_xattr_decode(k, kl - 1, &a, &got, &nlen, &piece),
	   "xattr piece without its number refused");
	k[kl - 1] = 0;
	ok(ag_key_xattr_decode(k, kl, &a, &got, &nlen, &piece),
	   "xattr piece 0 refused");
	k[kl - 1] = 1;
	k[kl] = 1;
	ok(ag_key_xattr_decode(k, kl + 1, &a, &got, &nlen, &piece),
	   "xattr with bytes after its piece number refused");
}

static void test_type(void)
{
	uint8_t k[AG_KEYBUF] = { 0 };

	ok(ag_key_type(k, 0) < 0, "empty key has no type");
	ag_key_orphan(k, 1);
	ok(ag_key_type(k, 9) == AG_K_ORPHAN, "type byte");
	k[0] = 0x1f;
	ok(decode_all(k, 9) == 0, "a reserved type is no kind");
	ok(decode_all(k, 0) == 0, "an empty key is no kind");
}

/* The CLIENT value: the window round-trips, a value that does not
 * parse reads as no entries, and a full window gives up its lowest id
 * for a higher one only. */
static void test_client_rec(void)
{
	uint8_t v[AG_CLIENT_REC_MAX + 1];
	struct ag_client_rec cr = { 0 }, back;
	struct ag_client_entry e;
	const struct ag_client_entry *f;
	size_t len;
	uint32_t i;

	for (i = 0; i < AG_TXN_WINDOW; i++) {
		e = (struct ag_client_entry){ .txid = 100 + i, .ino = 7 * i,
					      .seg = i, .fill = 1000 + i };
		ag_client_rec_add(&cr, &e);
	}
	len = ag_client_rec_encode(v, &cr, 42);
	ok(len <= AG_CLIENT_REC_MAX && len < 16 + 28 * AG_TXN_WINDOW / 3,
	   "client record of a full window: %zu bytes (%u in format 2)", len,
	   16 + 28 * AG_TXN_WINDOW);
	ag_client_rec_decode(v, len, &back);
	f = ag_client_rec_find(&back, 131);
	ok(back.n == AG_TXN_WINDOW && f && f->ino == 7 * 31 && f->seg == 31 &&
		   f->fill == 1031,
	   "client record round trip");
	ok(!ag_client_rec_find(&back, 99), "client record: an id not there");
	e = (struct ag_client_entry){ .txid = 99 };
	ag_client_rec_add(&back, &e);
	ok(!ag_client_rec_find(&back, 99) && ag_client_rec_find(&back, 100),
	   "client record: an id below the window is not recorded");
	e = (struct ag_client_entry){ .txid = 200 };
	ag_client_rec_add(&back, &e);
	ok(ag_client_rec_find(&back, 200) && !ag_client_rec_find(&back, 100) &&
		   back.n == AG_TXN_WINDOW,
	   "client record: a higher id takes the lowest one's place");
	ag_client_rec_decode(v, len - 1, &back);
	ok(back.n == 0, "client record one byte short: no entries");
	v[len] = 0;
	ag_client_rec_decode(v, len + 1, &back);
	ok(back.n == 0, "client record with a byte left over: no entries");
	cr.n = 1;
	cr.e[0] = (struct ag_client_entry){ .txid = UINT64_MAX,
					    .ino = UINT64_MAX,
					    .seg = UINT32_MAX,
					    .fill = UINT64_MAX };
	len = ag_client_rec_encode(v, &cr, UINT64_MAX);
	ag_client_rec_decode(v, len, &back);
	f = ag_client_rec_find(&back, UINT64_MAX);
	ok(len <= AG_CLIENT_REC_MAX && back.n == 1 && f &&
		   f->ino == UINT64_MAX && f->seg == UINT32_MAX &&
		   f->fill == UINT64_MAX,
	   "client record of the largest values: %zu bytes, round trip",
	   len);
}

/* Encode a into a heap buffer of exactly its length, decode it back from
 * there (ASan sees an overread) into *back: the decoder's result. */
static int inode_round(const struct ag_attr *a, size_t *len,
		       struct ag_attr *back)
{
	uint8_t v[AG_INODE_LEN + 16], *copy;
	int rc;

	memset(v, 0xee, sizeof(v));
	*len = ag_inode_encode(v, a);
	if (*len > AG_INODE_LEN || v[*len] != 0xee)
		return -1000;
	if (!(copy = malloc(*len)))
		return -1001;
	memcpy(copy, v, *len);
	rc = ag_inode_decode(copy, *len, a->ino, back);
	free(copy);
	return rc;
}

static int attr_same(const struct ag_attr *a, const struct ag_attr *b)
{
	return a->ino == b->ino && a->mode == b->mode && a->uid == b->uid &&
	       a->gid == b->gid && a->nlink == b->nlink && a->size == b->size &&
	       a->atime == b->atime && a->mtime == b->mtime &&
	       a->ctime == b->ctime && a->btime == b->btime &&
	       a->generation == b->generation && a->rdev == b->rdev &&
	       a->flags == b->flags && !memcmp(a->etag, b->etag, 16) &&
	       a->parent == b->parent;
}

/* Each field of a set to a value other than its usual one, in turn. */
static void set_field(struct ag_attr *a, int field, uint64_t x)
{
	switch (field) {
	case 0: a->mode = (uint32_t)x; break;
	case 1: a->uid = (uint32_t)x; break;
	case 2: a->gid = (uint32_t)x; break;
	case 3: a->nlink = (uint32_t)x; break;
	case 4: a->size = x; break;
	case 5: a->atime = (int64_t)x; break;
	case 6: a->mtime = (int64_t)x; break;
	case 7: a->ctime = (int64_t)x; break;
	case 8: a->btime = (int64_t)x; break;
	case 9: a->generation = x; break;
	case 10: a->rdev = x; break;
	case 11: a->flags = (uint32_t)x; break;
	case 12: memcpy(a->etag, &x, 8); memcpy(a->etag + 8, &x, 8); break;
	case 13: a->parent = x; break;
	}
}
#define NFIELDS 14

static void test_inode_rec(uint64_t *rng)
{
	static const uint64_t extremes[] = { 0, 1, 0x7f, 0x80, UINT32_MAX,
					     (uint64_t)INT64_MAX,
					     (uint64_t)INT64_MIN, UINT64_MAX };
	struct ag_attr a, back;
	uint8_t v[AG_INODE_LEN + 1];
	size_t len, full;
	int rc, all = 1, cut = 1;

	/* a file as agora put makes it: every time the same, one link */
	memset(&a, 0, sizeof(a));
	a.ino = 12345;
	a.mode = 0100644;
	a.nlink = 1;
	a.size = 4321;
	a.atime = a.mtime = a.ctime = a.btime = 1764700000123456789;
	a.parent = 12001;
	rc = inode_round(&a, &len, &back);
	ok(!rc && attr_same(&a, &back), "inode value round trip (rc %d)", rc);
	ok(len <= 20, "a new file's inode takes %zu bytes (104 in format 1)",
	   len);

	/* every field alone at each extreme, on top of that file */
	for (int f = 0; f < NFIELDS; f++) {
		for (size_t i = 0; i < sizeof(extremes) / sizeof(*extremes);
		     i++) {
			struct ag_attr b = a;

			set_field(&b, f, extremes[i]);
			rc = inode_round(&b, &len, &back);
			if (rc || !attr_same(&b, &back)) {
				diag("field %d = %#llx: rc %d", f,
				     (unsigned long long)extremes[i], rc);
				all = 0;
			}
		}
	}
	ok(all, "inode value: each field at each extreme round-trips");

	/* random values in every field at once */
	all = 1;
	for (int round = 0; round < 2000 && all; round++) {
		struct ag_attr b;

		memset(&b, 0, sizeof(b));
		b.ino = tap_rand(rng) >> (tap_rand(rng) % 64);
		for (int f = 0; f < NFIELDS; f++)
			if (tap_rand(rng) % 2)
				set_field(&b, f, tap_rand(rng) >>
							 (tap_rand(rng) % 64));
		if (b.nlink == 0 && tap_rand(rng) % 2)
			b.nlink = 1;
		rc = inode_round(&b, &len, &back);
		if (rc || !attr_same(&b, &back)) {
			diag("round %d: rc %d, %zu bytes", round, rc, len);
			all = 0;
		}
	}
	ok(all, "inode value: 2000 random attributes round-trip");

	/* a value with every field far from usual, then every cut of it, and
	 * one byte more */
	memset(&a, 0, sizeof(a));
	for (int f = 0; f < NFIELDS; f++)
		set_field(&a, f, UINT64_MAX);
	a.ino = 0;
	a.parent = 1ull << 63;
	a.atime = (int64_t)(1ull << 63);
	a.mtime = INT64_MAX;
	a.ctime = (int64_t)(1ull << 63);
	a.btime = INT64_MAX;
	full = ag_inode_encode(v, &a);
	ok(full <= AG_INODE_LEN,
	   "inode value with every field far from usual: %zu bytes (at "
	   "most %d)", full, AG_INODE_LEN);
	rc = ag_inode_decode(v, full, a.ino, &back);
	ok(!rc && attr_same(&a, &back), "that value round-trips");
	for (len = 0; len < full; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, v, len);
		if (ag_inode_decode(copy, len, a.ino, &back) != -AG_ECORRUPT)
			cut = 0;
		free(copy);
	}
	ok(cut, "inode value cut short anywhere: -AG_ECORRUPT");
	v[full] = 0;
	ok(ag_inode_decode(v, full + 1, a.ino, &back) == -AG_ECORRUPT,
	   "inode value with a byte left over: -AG_ECORRUPT");

	/* an unknown field, and a u32 field over 32 bits */
	v[0] = 0x80;
	v[1] = 0x20; /* present bit 12 */
	v[2] = 0x01;
	v[3] = 0x00;
	ok(ag_inode_decode(v, 4, 7, &back) == -AG_ECORRUPT,
	   "inode value with an unknown field: -AG_ECORRUPT");
	v[0] = 0x00;
	v[1] = 0x80, v[2] = 0x80, v[3] = 0x80, v[4] = 0x80, v[5] = 0x10;
	v[6] = 0x00;
	ok(ag_inode_decode(v, 7, 7, &back) == -AG_ECORRUPT,
	   "inode value whose mode is over 32 bits: -AG_ECORRUPT");
	memset(v, 0xff, 12);
	v[0] = 0x00;
	v[1] = 0x01;
	v[12] = 0x00;
	ok(ag_inode_decode(v, 13, 7, &back) == -AG_ECORRUPT,
	   "inode value with an 11-byte varint: -AG_ECORRUPT");
}

static void test_extent_rec(void)
{
	static const uint32_t lens[] = { 1, 127, 128, 4096, AG_CHUNK_LIMIT };
	uint8_t k[AG_KEYBUF], v[AG_EXTENT_LEN + 1];
	struct ag_extent e = { .off = 1ull << 40 }, back;
	size_t kl = ag_key_extent(k, 9, e.off), len;
	int all = 1, cut = 1;

	for (int i = 0; i < 32; i++)
		e.sha[i] = (uint8_t)(i * 37 + 1);
	for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++) {
		e.len = lens[i];
		e.coff = AG_CHUNK_LIMIT - lens[i];
		len = ag_extent_encode(v, &e);
		if (len > AG_EXTENT_LEN ||
		    ag_extent_decode(k, kl, v, len, &back) ||
		    back.off != e.off || back.len != e.len ||
		    back.coff != e.coff || memcmp(back.sha, e.sha, 32))
			all = 0;
	}
	ok(all, "extent value round-trips at every length");
	e.len = 300;
	e.coff = 0;
	len = ag_extent_encode(v, &e);
	ok(len == 35, "an extent of a small file takes %zu bytes (40 in "
		      "format 1)", len);
	for (size_t l = 0; l < len; l++)
		if (ag_extent_decode(k, kl, v, l, &back) != -AG_ECORRUPT)
			cut = 0;
	ok(cut, "extent value cut short anywhere: -AG_ECORRUPT");
	ok(ag_extent_decode(k, kl, v, len + 1, &back) == -AG_ECORRUPT,
	   "extent value with a byte left over: -AG_ECORRUPT");
	e.len = 0;
	len = ag_extent_encode(v, &e);
	ok(ag_extent_decode(k, kl, v, len, &back) == -AG_ECORRUPT,
	   "extent of length 0: -AG_ECORRUPT");
	e.len = AG_CHUNK_LIMIT + 1;
	len = ag_extent_encode(v, &e);
	ok(ag_extent_decode(k, kl, v, len, &back) == -AG_ECORRUPT,
	   "extent longer than a chunk: -AG_ECORRUPT");
}

/* The CHUNK value: 32 bytes for a chunk stored whole, 64 with the
 * reference of a delta; a length its flags do not say, or a delta that
 * says zstd too, is -AG_ECORRUPT. And the SIMILAR value. */
static void test_chunk_rec(uint64_t *rng)
{
	struct ag_chunk_rec c = { .addr = tap_rand(rng), .clen = 1000,
				  .ulen = 65536, .crc = 0xdeadbeef, .refs = 3,
				  .flags = AG_CHUNK_ZSTD }, back;
	uint8_t v[AG_CHUNK_REC_MAX + 1], sha[32], got[32];
	size_t len, i;

	for (i = 0; i < 32; i++)
		c.ref[i] = (uint8_t)tap_rand(rng);
	len = ag_chunk_rec_encode(v, &c);
	ok(len == AG_CHUNK_REC_LEN && !ag_chunk_rec_decode(v, len, &back) &&
		   back.addr == c.addr && back.clen == 1000 &&
		   back.ulen == 65536 && back.crc == 0xdeadbeef &&
		   back.refs == 3 && back.flags == AG_CHUNK_ZSTD &&
		   !back.ref[0] && !memcmp(back.ref, back.ref + 1, 31),
	   "chunk record stored whole: 32 bytes round trip, no reference");
	ok(ag_chunk_rec_decode(v, AG_CHUNK_REC_DELTA_LEN, &back) ==
		   -AG_ECORRUPT,
	   "a 64-byte chunk record without the delta flag: -AG_ECORRUPT");
	c.flags = AG_CHUNK_DELTA;
	len = ag_chunk_rec_encode(v, &c);
	ok(len == AG_CHUNK_REC_DELTA_LEN &&
		   !ag_chunk_rec_decode(v, len, &back) &&
		   back.flags == AG_CHUNK_DELTA && back.refs == 3 &&
		   !memcmp(back.ref, c.ref, 32),
	   "delta chunk record: 64 bytes round trip with its reference");
	ok(ag_chunk_rec_decode(v, AG_CHUNK_REC_LEN, &back) == -AG_ECORRUPT,
	   "a delta's record cut to 32 bytes: -AG_ECORRUPT");
	ok(ag_chunk_rec_decode(v, len - 1, &back) == -AG_ECORRUPT &&
		   ag_chunk_rec_decode(v, len + 1, &back) == -AG_ECORRUPT,
	   "a chunk record of 63 or 65 bytes: -AG_ECORRUPT");
	c.flags = AG_CHUNK_DELTA | AG_CHUNK_ZSTD;
	len = ag_chunk_rec_encode(v, &c);
	ok(ag_chunk_rec_decode(v, len, &back) == -AG_ECORRUPT,
	   "a delta that says zstd too: -AG_ECORRUPT");

	for (i = 0; i < 32; i++)
		sha[i] = (uint8_t)tap_rand(rng);
	len = ag_similar_encode(v, sha);
	ok(len == AG_SIMILAR_LEN && !ag_similar_decode(v, len, got) &&
		   !memcmp(got, sha, 32),
	   "similar record round trip");
	ok(ag_similar_decode(v, len - 1, got) == -AG_ECORRUPT,
	   "a similar record of 31 bytes: -AG_ECORRUPT");
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c ? c : (al > bl) - (al < bl);
}

static void test_version_keys(uint64_t *rng)
{
	uint8_t k[AG_KEYBUF], k2[AG_KEYBUF], k3[AG_KEYBUF];
	char longkey[AG_VERSION_KEY_MAX + 2];
	uint64_t bucket = tap_rand(rng), seq = tap_rand(rng) | 1, b, q;
	const char *key;
	size_t klen;
	int kl, kl2, kl3;

	kl = ag_key_version(k, bucket, "a/b", 3, seq);
	ok(kl == 3 + 18 && !ag_key_version_decode(k, (size_t)kl, &b, &key,
						   &klen, &q) &&
	   b == bucket && klen == 3 && !memcmp(key, "a/b", 3) && q == seq,
	   "version round trip (seq %llu)", (unsigned long long)seq);
	check_exclusive("version", k, (size_t)kl, D_VERSION, 19);
	/* newer first within a key, and a key before the keys it prefixes */
	kl2 = ag_key_version(k2, bucket, "a/b", 3, seq + 1);
	ok(key_cmp(k2, (size_t)kl2, k, (size_t)kl) < 0,
	   "version: a newer version of a key sorts first");
	kl3 = ag_key_version(k3, bucket, "a/b/c", 5, 1);
	ok(key_cmp(k, (size_t)kl, k3, (size_t)kl3) < 0,
	   "version: all of \"a/b\" sorts before \"a/b/c\"");
	kl3 = ag_key_version(k3, bucket, "a/b-", 4, UINT64_MAX);
	ok(key_cmp(k, (size_t)kl, k3, (size_t)kl3) < 0,
	   "version: all of \"a/b\" sorts before \"a/b-\"");
	klen = ag_key_version_prefix(k3, bucket, "a/b", 3);
	ok(klen == 12 && !memcmp(k3, k, klen), "version: the key's prefix");
	/* refused: empty, a NUL inside, one byte too long */
	ok(ag_key_version(k3, bucket, "", 0, seq) == -EINVAL,
	   "version: an empty key is refused (EINVAL)");
	ok(ag_key_version(k3, bucket, "a\0b", 3, seq) == -EINVAL,
	   "version: a key with a NUL is refused (EINVAL)");
	memset(longkey, 'x', sizeof(longkey));
	ok(ag_key_version(k3, bucket, longkey, AG_VERSION_KEY_MAX, seq) ==
		   AG_VERSION_KEY_MAX + 18 &&
	   AG_VERSION_KEY_MAX + 18 == AG_KEY_MAX,
	   "version: the longest key fills a tree key");
	ok(ag_key_version(k3, bucket, longkey, AG_VERSION_KEY_MAX + 1, seq) ==
		   -EINVAL,
	   "version: a key one byte longer is refused (EINVAL)");
	/* a decoder refuses what has no separator before the seq */
	k[kl - 9] = 'x';
	ok(ag_key_version_decode(k, (size_t)kl, &b, &key, &klen, &q) == -EINVAL,
	   "version: no NUL before the seq is refused (EINVAL)");
}

static void test_version_rec(uint64_t *rng)
{
	struct ag_version_rec r = { .ino = tap_rand(rng) >> 1,
				    .mtime = (int64_t)(tap_rand(rng) >> 2),
				    .flags = AG_VERSION_NULL }, got;
	struct ag_version_rec m = { .mtime = 12345,
				    .flags = AG_VERSION_MARKER }, bad;
	uint8_t v[AG_VERSION_LEN + 1], st[AG_VERSION_STAMP_LEN + 1], flags;
	uint64_t seq;
	size_t n;

	r.ino |= 1;
	n = ag_version_rec_encode(v, &r);
	ok(n <= AG_VERSION_LEN && !ag_version_rec_decode(v, n, &got) &&
	   got.ino == r.ino && got.mtime == r.mtime && got.flags == r.flags,
	   "version value round trip (%zu bytes)", n);
	ok(ag_version_rec_decode(v, n - 1, &got) == -AG_ECORRUPT,
	   "version value cut short is corrupt");
	v[n] = 0;
	ok(ag_version_rec_decode(v, n + 1, &got) == -AG_ECORRUPT,
	   "version value with a byte left over is corrupt");
	v[0] |= AG_VERSION_MARKER;
	ok(ag_version_rec_decode(v, n, &got) == -AG_ECORRUPT,
	   "a marker with an element is corrupt");
	v[0] = 0x80;
	ok(ag_version_rec_decode(v, n, &got) == -AG_ECORRUPT,
	   "an unknown flag is corrupt");
	n = ag_version_rec_encode(v, &m);
	ok(n == 4 && !ag_version_rec_decode(v, n, &got) && !got.ino &&
	   got.mtime == 12345 && got.flags == AG_VERSION_MARKER,
	   "a marker round trips in %zu bytes", n);
	bad = m;
	bad.flags = 0;
	n = ag_version_rec_encode(v, &bad);
	ok(ag_version_rec_decode(v, n, &got) == -AG_ECORRUPT,
	   "a version without an element is corrupt");
	ag_version_stamp_encode(st, 0x1234567890ull, AG_VERSION_NULL);
	ok(!ag_version_stamp_decode(st, AG_VERSION_STAMP_LEN, &seq, &flags) &&
	   seq == 0x1234567890ull && flags == AG_VERSION_NULL,
	   "version stamp round trip");
	ok(ag_version_stamp_decode(st, AG_VERSION_STAMP_LEN - 1, &seq,
				   &flags) == -AG_ECORRUPT,
	   "a stamp cut short is corrupt");
	st[0] = AG_VERSION_MARKER;
	ok(ag_version_stamp_decode(st, AG_VERSION_STAMP_LEN, &seq, &flags) ==
		   -AG_ECORRUPT,
	   "a stamp of a marker is corrupt");
}

int main(void)
{
	uint64_t rng = tap_seed() | 1;
	int round;

	for (round = 0; round < 4; round++) {
		test_fixed_kinds(&rng);
		test_named_kinds(&rng);
	}
	test_type();
	test_extent_keys();
	test_dirent_rec();
	test_client_rec();
	test_inode_rec(&rng);
	test_extent_rec();
	test_chunk_rec(&rng);
	test_version_keys(&rng);
	test_version_rec(&rng);
	return tap_done();
}
