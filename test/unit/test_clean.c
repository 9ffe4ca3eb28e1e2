/*
 * test_clean.c - the MOVE op (common/meta/refs.c) against a real
 * agora-metad, then the cleaner (common/client/clean.c) on top of it.
 *
 * A chunk copied by hand into a CLEAN_LEASE segment and moved: its record
 * points at the copy, the live bytes follow it, the file reads back the
 * same and fsck agrees. Then the races a MOVE must lose without harm: the
 * chunk moved meanwhile (an old address that is no longer its own), the
 * chunk deleted meanwhile, a record whose length or crc differ; and what
 * it refuses: a new address outside a segment the client leases
 * (-ESTALE), an unknown flag (-EINVAL). Last, ag_clean empties segments
 * whose files were mostly removed, and a reader that kept the old root
 * and reads a moved chunk's old place after it was written over gets
 * -AG_ECORRUPT, never other bytes, and reads right at the newest root.
 * And the cold frame: agora reduce stores a chunk of text it keeps whole
 * compressed again, smaller, readable and fsck-clean, and metad refuses a
 * MOVE that says both a delta and a new frame (-EINVAL).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agora.h"
#include "cluster.h"
#include "file_int.h"
#include "format.h"
#include "geometry.h"
#include "keys.h"
#include "txn.h"
#include "util.h"
#include "tap.h"
#include "fixture.h"

static uint64_t rng;

static void fill_random(uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		buf[i] = (uint8_t)rng;
	}
}

static int put_file(struct ag_cluster *c, const char *name, const void *buf,
		    size_t len, struct ag_attr *a)
{
	struct ag_writer *w;
	int rc = ag_writer_new(c, S_IFREG | 0644, 0, 0, &w);

	if (!rc)
		rc = ag_writer_write(w, buf, len);
	if (!rc)
		rc = ag_writer_commit(w, AG_ROOT, name, a);
	ag_writer_free(w);
	return rc;
}

/* The chunk of ino's first extent: its sha and record, at the newest root. */
static int first_chunk(struct ag_cluster *c, uint64_t ino, uint8_t *sha,
		       struct ag_chunk_rec *rec)
{
	struct ag_extent_walk w;
	struct ag_extent e;
	struct ag_tree *t;
	int rc = ag_cluster_refresh(c);

	if (!rc)
		rc = ag_cl_tree(c, &t);
	if (rc)
		return rc;
	rc = ag_extent_walk_start(t, ino, 0, &w);
	if (!rc) {
		rc = ag_extent_walk_next(&w, &e) == 1 ? 0 : -ENOENT;
		ag_extent_walk_end(&w);
	}
	if (!rc) {
		memcpy(sha, e.sha, 32);
		rc = ag_read_chunk_rec(t, sha, rec);
	}
	ag_tree_close(t);
	return rc;
}

static int chunk_now(struct ag_cluster *c, const uint8_t *sha,
		     struct ag_chunk_rec *rec)
{
	struct ag_tree *t;
	int rc = ag_cluster_refresh(c);

	if (!rc)
		rc = ag_cl_tree(c, &t);
	if (rc)
		return rc;
	rc = ag_read_chunk_rec(t, sha, rec);
	ag_tree_close(t);
	return rc;
}

/* Segment seg's record at the newest root (live UINT64_MAX: none). */
static struct ag_seg_rec seg_rec(struct ag_cluster *c, uint32_t seg)
{
	uint8_t k[AG_KEYBUF], v[AG_SEG_REC_LEN];
	struct ag_seg_rec r = { .live = UINT64_MAX };
	size_t vl = sizeof(v);
	struct ag_tree *t;

	if (ag_cluster_refresh(c) || ag_cl_tree(c, &t))
		return r;
	if (ag_tree_get(t, k, ag_key_segment(k, seg), v, &vl) ||
	    ag_seg_rec_decode(v, vl, &r))
		r.live = UINT64_MAX;
	ag_tree_close(t);
	return r;
}

static uint64_t seg_live(struct ag_cluster *c, uint32_t seg)
{
	return seg_rec(c, seg).live;
}

/* A segment leased for the cleaner, and a packer started in it. */
static int clean_lease(struct ag_cluster *c, struct ag_packer *p,
		       uint32_t *seg)
{
	struct ag_rpc_reply r;
	struct ag_txn t;
	int rc;

	ag_cl_txn(c, &t);
	ag_txn_clean_lease(&t);
	rc = ag_cl_commit(c, &t, &r);
	ag_txn_release(&t);
	if (rc)
		return rc;
	ag_packer_start(p, r.seg, r.fill);
	*seg = r.seg;
	return 0;
}

/* Copy the stored bytes of rec through p; *addr gets the copy's address,
 * durable with its stripe records in *t (begun here). */
static int copy_chunk(struct ag_cluster *c, struct ag_packer *p,
		      const struct ag_chunk_rec *rec, uint64_t *addr,
		      struct ag_txn *t)
{
	struct ag_stripe_done *done = NULL;
	uint8_t *buf = malloc(rec->clen);
	int n = 0, rc = buf ? 0 : -ENOMEM;

	if (!rc)
		rc = ag_stripes_read(c->stripes, rec->addr, buf, rec->clen,
				     rec->crc);
	if (!rc)
		rc = ag_packer_add(p, buf, rec->clen, addr);
	if (!rc)
		rc = ag_packer_flush(p);
	if (!rc)
		rc = ag_packer_take(p, &done, &n);
	if (!rc)
		rc = ag_drives_sync(c->ds, NULL);
	ag_cl_txn(c, t);
	if (!rc)
		ag_cl_txn_stripes(c, t, done, n);
	free(done);
	free(buf);
	return rc;
}

/* Commit one MOVE entry (after the stripe records t may hold). */
static int move_one(struct ag_cluster *c, struct ag_txn *t, const uint8_t *sha,
		    uint64_t old_addr, uint64_t new_addr, uint32_t clen,
		    uint32_t crc, uint32_t flags)
{
	struct ag_move_ent e = { .old_addr = old_addr, .new_addr = new_addr,
				 .clen = clen, .crc = crc, .flags = flags };
	int rc;

	memcpy(e.sha, sha, 32);
	ag_txn_move(t, &e, 1);
	rc = ag_cl_commit(c, t, NULL);
	ag_txn_release(t);
	return rc;
}

static int same_file(struct ag_cluster *c, uint64_t ino, const uint8_t *want,
		     size_t len)
{
	uint8_t *got = malloc(len);
	ssize_t n = got ? ag_read(c, ino, 0, got, len) : -ENOMEM;
	int same = n == (ssize_t)len && !memcmp(got, want, len);

	free(got);
	return same;
}

static void test_move(struct ag_cluster *c)
{
	enum { LEN = 64 << 10 };
	uint8_t *data = malloc(LEN), sha[32], shb[32];
	struct ag_chunk_rec rec, now, recb;
	struct ag_packer *p = NULL;
	struct ag_attr a, b;
	uint64_t addr, addr2, old_live, new_live;
	uint32_t seg = 0, old_seg;
	struct ag_txn t;

	fill_random(data, LEN);
	ok(!put_file(c, "a", data, LEN, &a), "write file a");
	ok(!first_chunk(c, a.ino, sha, &rec), "its first chunk");
	old_seg = AG_ADDR_SEG(rec.addr);
	old_live = seg_live(c, old_seg);
	ok(!ag_packer_new(c->stripes, &p) && !clean_lease(c, p, &seg) &&
	   seg != old_seg, "a cleaner's lease: a fresh segment");

	/* the move itself */
	ok(!copy_chunk(c, p, &rec, &addr, &t) &&
	   !move_one(c, &t, sha, rec.addr, addr, rec.clen, rec.crc, 0),
	   "MOVE commits");
	ok(!chunk_now(c, sha, &now) && now.addr == addr &&
	   now.clen == rec.clen && now.crc == rec.crc && now.refs == rec.refs,
	   "the record points at the copy");
	new_live = seg_live(c, seg);
	ok(new_live == rec.clen, "the new segment's live bytes: the chunk's");
	ok(seg_live(c, old_seg) == old_live - rec.clen,
	   "the old segment's live bytes lose it");
	ok(same_file(c, a.ino, data, LEN), "file a reads back the same");
	ok(ag_fsck(c, stderr, 0) == 0, "fsck agrees with the live bytes");

	/* lost race: another cleaner moved it first */
	ok(!copy_chunk(c, p, &rec, &addr2, &t) &&
	   !move_one(c, &t, sha, rec.addr, addr2, rec.clen, rec.crc, 0),
	   "a MOVE from an address the chunk left commits");
	ok(!chunk_now(c, sha, &now) && now.addr == addr &&
	   seg_live(c, seg) == new_live,
	   "and changes nothing: the copy is garbage");
	/* a record that differs from what was read */
	ag_cl_txn(c, &t);
	ok(!move_one(c, &t, sha, addr, addr2, rec.clen, rec.crc ^ 1, 0) &&
	   !chunk_now(c, sha, &now) && now.addr == addr,
	   "a MOVE with another crc changes nothing");
	ag_cl_txn(c, &t);
	ok(!move_one(c, &t, sha, addr, addr2, rec.clen + 1, rec.crc, 0) &&
	   !chunk_now(c, sha, &now) && now.addr == addr,
	   "a MOVE with another length changes nothing");

	/* lost race: the chunk was deleted */
	fill_random(data, LEN);
	ok(!put_file(c, "b", data, LEN, &b) && !first_chunk(c, b.ino, shb,
							  &recb),
	   "write file b");
	ok(!copy_chunk(c, p, &recb, &addr2, &t), "copy b's chunk");
	ok(!ag_unlink(c, AG_ROOT, "b"), "remove b");
	ok(!move_one(c, &t, shb, recb.addr, addr2, recb.clen, recb.crc, 0),
	   "a MOVE of a deleted chunk commits");
	ok(chunk_now(c, shb, &now) == -ENOENT && seg_live(c, seg) == new_live,
	   "and brings nothing back");

	/* refused */
	ag_cl_txn(c, &t);
	/* the handle's own writes lease old_seg: the last segment is free */
	ok(move_one(c, &t, sha, addr, AG_ADDR(c->ds->label.nsegments - 1, 0),
		    rec.clen, rec.crc, 0) == -ESTALE,
	   "a MOVE into a segment not leased: ESTALE");
	ag_cl_txn(c, &t);
	ok(move_one(c, &t, sha, addr, addr2, rec.clen, rec.crc, 0x80) == -EINVAL,
	   "a MOVE with an unknown flag: EINVAL");
	ok(!chunk_now(c, sha, &now) && now.addr == addr,
	   "neither changed the record");

	/* hand the lease back */
	ag_cl_txn(c, &t);
	ag_txn_seg_release(&t, seg, ag_packer_fill(p));
	ok(!ag_cl_commit(c, &t, NULL), "release the cleaner's segment");
	ag_txn_release(&t);
	ag_packer_stop(p);
	ag_packer_free(p);
	ok(ag_fsck(c, stderr, 0) == 0, "fsck clean after the races");
	free(data);
}

static void test_clean(struct ag_cluster *c)
{
	enum { FILES = 24, LEN = 256 << 10 };
	struct ag_clean_opts o = { .out = stderr };
	struct ag_clean_report r;
	uint8_t *data = malloc((size_t)FILES * LEN), sha[32], *junk, *got;
	struct ag_chunk_rec before, after;
	struct ag_attr a[FILES];
	struct ag_packer *p = NULL;
	struct ag_tree *old = NULL;
	uint64_t gen, junk_addr;
	char name[16];
	int i, bad = 0, rc;
	ssize_t n;

	fill_random(data, (size_t)FILES * LEN);
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		bad += !!put_file(c, name, data + (size_t)i * LEN, LEN, &a[i]);
	}
	ok(!bad, "write %d files of %d KiB", FILES, LEN >> 10);
	for (i = 0; i < FILES; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		bad += !!ag_unlink(c, AG_ROOT, name);
	}
	ok(!bad, "remove every other one");
	/* a reader on the root before the cleaning */
	ok(!first_chunk(c, a[1].ino, sha, &before) && !ag_cl_tree(c, &old),
	   "a reader keeps the root before cleaning");
	gen = ag_tree_max_gen(old);
	rc = ag_clean(c, &o, &r);
	ok(!rc && r.victims && r.chunks && r.freed,
	   "ag_clean: %llu segments cleaned, %llu freed, %llu chunks",
	   (unsigned long long)r.victims, (unsigned long long)r.freed,
	   (unsigned long long)r.chunks);
	for (i = 1; i < FILES; i += 2)
		bad += !same_file(c, a[i].ino, data + (size_t)i * LEN, LEN);
	ok(!bad, "the files left read back the same");
	ok(ag_fsck(c, stderr, 0) == 0, "fsck clean after cleaning");
	ok(!chunk_now(c, sha, &after) && after.addr != before.addr,
	   "f1's first chunk moved");

	/* the old place written over, as a reuse of its segment would:
	 * the stripes that hold it, once the segment is free */
	if (ok(seg_rec(c, AG_ADDR_SEG(before.addr)).state == AG_SEG_FREE,
	       "f1's first chunk's old segment is free")) {
		const struct ag_label *l = &c->ds->label;
		uint64_t spay = (uint64_t)l->ec_k * l->strip_size;
		uint64_t from = AG_ADDR_IDX(before.addr) / spay * spay;
		uint64_t len = AG_MIN(AG_ADDR_IDX(before.addr) + before.clen +
				      spay - from, ag_segment_payload(l) - from);

		junk = malloc(len);
		fill_random(junk, len);
		ok(!ag_packer_new(c->stripes, &p), "a packer");
		ag_packer_start(p, AG_ADDR_SEG(before.addr), from);
		ok(!ag_packer_add(p, junk, len, &junk_addr) &&
		   !ag_packer_flush(p), "new bytes over the old place");
		ag_packer_stop(p);
		ag_packer_free(p);
		free(junk);
	}
	junk = malloc(before.clen);
	got = malloc(LEN);
	rc = ag_stripes_read(c->stripes, before.addr, junk, before.clen,
			     before.crc);
	ok(rc == -AG_ECORRUPT || rc == 0,
	   "the old place fails its crc (or still holds it): %d", rc);
	n = ag_read_tree(c, old, a[1].ino, 0, got, LEN);
	ok(n == -AG_ECORRUPT || n == -AG_ESTALEROOT ||
	   (n == LEN && !memcmp(got, data + LEN, LEN)),
	   "a read at the old root: an error to retry, never other bytes "
	   "(%zd)", n);
	ok(n >= 0 || ag_cl_read_again(c, gen, n, 0),
	   "the read is to run again at the newer root");
	ok(same_file(c, a[1].ino, data + LEN, LEN),
	   "and there it reads right");
	ag_tree_close(old);
	free(junk);
	free(got);
	free(data);
}

/* Source-like text: words of a small vocabulary, which zstd compresses
 * better at the cold level than at the write path's. */
static void fill_words(uint8_t *buf, size_t len)
{
	static const char *const words[] = {
		"static ", "int ", "return ", "struct ", "const ", "if (",
		"rc", " = ", ";\n", "\t", "len", "buf", "->", "{\n", "}\n",
		"goto out;\n", "NULL", "free(", ")", ", ", "0", "/* ", " */",
	};
	size_t i = 0, nw = sizeof(words) / sizeof(words[0]);

	while (i < len) {
		const char *w = words[tap_rand(&rng) % nw];

		while (*w && i < len)
			buf[i++] = (uint8_t)*w++;
	}
}

/* The similarity stage stores a chunk it keeps whole compressed again at
 * AG_DELTA_COLD_LEVEL when that is smaller; metad refuses a MOVE that
 * says both a delta and a new frame. */
static void test_cold(struct ag_cluster *c)
{
	enum { LEN = 48 << 10 };
	struct ag_clean_opts o = { .out = stderr, .reduce = 1 };
	uint8_t *data = malloc(LEN), sha[32];
	struct ag_chunk_rec before, after;
	struct ag_clean_report r;
	struct ag_move_ent e = { 0 };
	struct ag_cluster *w = NULL;
	struct ag_packer *p = NULL;
	struct ag_attr a;
	struct ag_txn t;
	uint64_t addr;
	uint32_t seg;
	int rc;

	if (!ok(data != NULL, "a buffer"))
		return;
	fill_words(data, LEN);
	/* written by a client of its own, whose close seals its segment
	 * (the cleaner takes only sealed ones) */
	memset(&before, 0, sizeof(before));
	rc = ag_cluster_open(conf, 0, &w);
	if (!rc) {
		rc = put_file(w, "text", data, LEN, &a);
		ag_cluster_close(w);
	}
	if (!rc)
		rc = first_chunk(c, a.ino, sha, &before);
	ok(!rc && before.flags == AG_CHUNK_ZSTD,
	   "a file of text: its first chunk a zstd frame of %u bytes",
	   before.clen);

	/* a delta and a new frame at once: refused, the chunk stays */
	ok(!ag_packer_new(c->stripes, &p) && !clean_lease(c, p, &seg) &&
	   !copy_chunk(c, p, &before, &addr, &t), "a copy of it");
	memcpy(e.sha, sha, 32);
	e.old_addr = before.addr;
	e.new_addr = addr;
	e.clen = before.clen;
	e.crc = before.crc;
	e.flags = AG_MOVE_DELTA | AG_MOVE_ZSTD;
	e.new_clen = before.clen;
	e.new_crc = before.crc;
	memcpy(e.ref, sha, 32);
	ag_txn_move(&t, &e, 1);
	rc = ag_cl_commit(c, &t, NULL);
	ag_txn_release(&t);
	ok(rc == -EINVAL && !chunk_now(c, sha, &after) &&
	   after.addr == before.addr,
	   "a MOVE of a delta that is also a new frame: -EINVAL (%d), the "
	   "chunk stays", rc);
	ag_cl_txn(c, &t);
	ag_txn_seg_release(&t, seg, ag_packer_fill(p));
	ok(!ag_cl_commit(c, &t, NULL), "release the cleaner's segment");
	ag_txn_release(&t);
	ag_packer_stop(p);
	ag_packer_free(p);

	rc = ag_clean(c, &o, &r);
	ok(!rc && r.recompressed && r.recompress_saved,
	   "agora reduce: %llu chunks compressed again, %llu bytes saved",
	   (unsigned long long)r.recompressed,
	   (unsigned long long)r.recompress_saved);
	memset(&after, 0, sizeof(after));
	rc = chunk_now(c, sha, &after);
	ok(!rc && after.clen < before.clen &&
	   after.flags == (AG_CHUNK_ZSTD | AG_CHUNK_REDUCED) &&
	   after.ulen == before.ulen,
	   "the text's first chunk: %u bytes stored where it took %u (flags %#x)",
	   after.clen, before.clen, after.flags);
	ok(same_file(c, a.ino, data, LEN), "the file reads back the same");
	ok(ag_fsck(c, stderr, 0) == 0, "fsck clean after compressing again");
	free(data);
}

int main(void)
{
	struct ag_cluster *c = NULL;

	rng = tap_seed() | 1;
	if (fixture_init("clean"))
		return 99;
	ok(!fixture_mkfs(), "mkfs");
	if (!ok(!fixture_start_metad(), "metad starts"))
		return tap_done();
	if (ok(!ag_cluster_open(conf, 0, &c), "cluster opens")) {
		test_move(c);
		test_clean(c);
		test_cold(c);
		ag_cluster_close(c);
	}
	fixture_stop_metad();
	fixture_done(tap_failed);
	return tap_done();
}
