/*
 * test_keys.c - unit test of the key codec of the metadata tree
 * (common/meta/keys.c): every kind of key decodes to what it was encoded from,
 * and a decoder refuses a key of another kind, of a wrong length, or cut
 * short, without reading past the length it is given (each key is
 * decoded from a heap copy of exactly its length, so ASan sees an
 * overread); and the CLIENT record's value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "tap.h"

/* Decode every kind from a copy of k[0..kl) of exactly that length; a
 * bit per kind that accepted it. */
enum {
	D_SUPER = 1 << 0, D_SEGMENT = 1 << 1, D_INODE = 1 << 2,
	D_DIRENT = 1 << 3, D_XATTR = 1 << 4, D_EXTENT = 1 << 5,
	D_CHUNK = 1 << 6, D_STRIPE = 1 << 7, D_CLIENT = 1 << 8,
	D_STATS = 1 << 9, D_ORPHAN = 1 << 10,
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
		ok(memcmp(k1, k2, 17) < 0, "extent keys sort by offset");
	}
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

/* The CLIENT value: the window round-trips, the first one-entry layout
 * still reads, a value of another length reads as no entries, and a full
 * window gives up its lowest id for a higher one only. */
static void test_client_rec(void)
{
	uint8_t v[AG_CLIENT_HDR + AG_TXN_WINDOW * AG_CLIENT_ENTRY];
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
	ok(len == sizeof(v), "client record of a full window: %zu bytes", len);
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
	memset(v, 0, AG_CLIENT_LEGACY_LEN);
	v[0] = 5;	/* txid */
	v[8] = 9;	/* generation */
	v[16] = 6;	/* inode */
	v[24] = 3;	/* segment */
	v[28] = 4;	/* fill */
	ag_client_rec_decode(v, AG_CLIENT_LEGACY_LEN, &back);
	f = ag_client_rec_find(&back, 5);
	ok(back.n == 1 && f && f->ino == 6 && f->seg == 3 && f->fill == 4,
	   "client record of the first layout: one entry");
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
	test_client_rec();
	return tap_done();
}
