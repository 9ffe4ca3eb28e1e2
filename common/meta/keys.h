/*
 * keys.h - the typed records of the metadata tree: key encodings and
 * value layouts.
 *
 * A key starts with one type byte; integers in keys are big-endian so that
 * memcmp order is numeric order (all extents of a file are adjacent and in
 * offset order; all entries of a directory are adjacent and in byte order
 * of their names, which is S3's listing order). An extent's offset is
 * a count byte n (0 to 8) and n big-endian bytes, the first not 0: one
 * byte for offset 0, and still numeric order. Values are little-endian
 * or varints (below).
 *
 *   type  key                               value
 *   0x01  SUPER  | name                     counters (next inode number)
 *   0x02  SEGMENT| seg u32                  struct ag_seg_rec (40 bytes)
 *   0x03  INODE  | ino u64                  struct ag_attr (varints, <= 128)
 *   0x04  DIRENT | parent u64 | name        type u8, ino (2 to 11 bytes)
 *   0x05  XATTR  | ino u64 | name           raw value
 *   0x06  EXTENT | ino u64 | offset (1-9)   struct ag_extent (34 to 42 bytes)
 *   0x07  CHUNK  | sha256 (32)              struct ag_chunk_rec (32 bytes,
 *                                           64 for a delta)
 *   0x08  STRIPE | seg u32 | stripe u32     crc32c u32 per strip (k+m)
 *   0x09  CLIENT | client id u64            answers of its last transactions
 *                                           (varints)
 *   0x0a  STATS  | "all"                    struct ag_stats_rec
 *   0x0b  ORPHAN | ino u64                  client u64: an inode with no name yet
 *                                           (being written) or no name left
 *                                           (unlinked while open)
 *   0x0c  SIMILAR| super-feature u64        sha256 (32) of a chunk stored
 *                                           whole that has it (delta.h)
 *   0x0d  EVENT  | seq u64                  struct ag_event (event.h): one
 *                                           change a commit made
 *   0x0e  TRIGGER| name                     a trigger's definition (event.h);
 *                                           the empty name: the deliverer's
 *                                           lease
 *   0x0f  CURSOR | name                     the next event seq of the
 *                                           trigger, failures, dead count
 *         CURSOR | name | 0x00 | seq u64    a dead letter: an event the
 *                                           trigger gave up on
 *   0x10  VERSION| bucket u64 | key | 0x00  a noncurrent version of an S3 key
 *         | ~seq u64                    of a versioned bucket, or a delete
 *                                       marker: u8 flags, varint ino
 *                                       (0 for a marker), varint mtime ns
 *   0x11..0x1f   reserved
 *
 * S3 users take no type of their own: each is an XATTR
 * record of the root directory, "agora.s3.user.ACCESS" (agora.h), so it
 * is written in one transaction, known to every gateway at the next
 * commit and hidden from the mount, with nothing new to apply or check.
 */
#ifndef AG_KEYS_H
#define AG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "base.h" /* struct ag_attr, AG_ROOT */
#include "btree.h" /* AG_KEY_MAX */
#include "format.h" /* AG_TXN_WINDOW */

enum ag_key_type {
	AG_K_SUPER = 0x01,
	AG_K_SEGMENT = 0x02,
	AG_K_INODE = 0x03,
	AG_K_DIRENT = 0x04,
	AG_K_XATTR = 0x05,
	AG_K_EXTENT = 0x06,
	AG_K_CHUNK = 0x07,
	AG_K_STRIPE = 0x08,
	AG_K_CLIENT = 0x09,
	AG_K_STATS = 0x0a,
	AG_K_ORPHAN = 0x0b,
	AG_K_SIMILAR = 0x0c,
	AG_K_EVENT = 0x0d,   /* keys and values: event.h */
	AG_K_TRIGGER = 0x0e,
	AG_K_CURSOR = 0x0f,
	AG_K_VERSION = 0x10, /* versions.h has what they mean */
};

#define AG_NAME_MAX 255
/* The XATTR record holding a symlink's target. Names starting with byte
 * 0x01 are internal: users can neither set nor list them. A target is
 * 1 to AG_SYMLINK_MAX bytes (PATH_MAX - 1, all that symlink(2) passes);
 * one longer than AG_VAL_MAX goes on in pieces, as a long xattr value
 * does (below). */
#define AG_XATTR_SYMLINK "\001symlink"
#define AG_SYMLINK_MAX 4095
#define AG_ROOT_INO AG_ROOT

/* Segment record states. A segment with no record has never been used. */
enum ag_seg_state {
	AG_SEG_FREE = 0,    /* free since free_gen: reusable when no reader
			     * can still see that generation */
	AG_SEG_META = 1,    /* metadata pages */
	AG_SEG_DATA = 2,    /* data stripes; owner != 0 while leased */
};

/* value of a SEGMENT record:
 *   0 u8 state, 1 u8 reserved[3], 4 u32 strip size (0: the label's;
 *   reserved for segments of small strips), 8 u64 owner client (0: sealed),
 *   16 u64 live payload bytes, 24 u64 fill (payload bytes handed out),
 *   32 u64 free_gen */
struct ag_seg_rec {
	uint8_t state;
	uint64_t owner;
	uint64_t live;
	uint64_t fill;
	uint64_t free_gen;
};
#define AG_SEG_REC_LEN 40

/* Varints, the one codec of the records that use them (keys.c): LEB128,
 * 7 bits a byte, low first, the top bit saying more follow; at most
 * AG_VARINT_MAX bytes for a u64. ag_varint_put writes x at p and returns
 * its length; ag_varint_get reads the varint at *p (before end) into *x
 * and moves *p past it: -1 when it runs past end, is longer than
 * AG_VARINT_MAX bytes or overflows. A zigzag varint holds a signed
 * difference, small either way. */
#define AG_VARINT_MAX 10
size_t ag_varint_put(uint8_t *p, uint64_t x);
int ag_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *x);
uint64_t ag_zigzag(uint64_t diff);
uint64_t ag_unzigzag(uint64_t z);

/* value of an INODE record (format 2; varints are LEB128, 7 bits a
 * byte, low first; a zigzag varint holds a signed difference, 2x for
 * x >= 0 and -2x - 1 below):
 *   varint present     bits of the fields that follow, in this order
 *   varint mode
 *   zigzag mtime       ns since 1970
 *   varint uid         bit 0x001 (else 0)
 *   varint gid         bit 0x002 (else 0)
 *   varint nlink       bit 0x004 (else 1)
 *   varint size        bit 0x008 (else 0)
 *   zigzag atime-mtime bit 0x010 (else atime == mtime)
 *   zigzag ctime-mtime bit 0x020 (else ctime == mtime)
 *   zigzag btime-ctime bit 0x040 (else btime == ctime)
 *   varint generation  bit 0x080 (else 0)
 *   varint rdev        bit 0x100 (else 0)
 *   varint flags       bit 0x200 (else 0)
 *   etag md5 [16]      bit 0x400 (else all zero)
 *   zigzag ino-parent  bit 0x800 (else parent 0; directories: their
 *                      parent; other types: the directory they were
 *                      created in)
 * A value with another bit set, a field missing, a u32 field over 32
 * bits or bytes left over is corrupt. ag_inode_encode needs in->ino
 * (the key's) for the parent. AG_INODE_LEN is the longest encoding. */
#define AG_INODE_LEN 128
#define AG_INODE_IMPLICIT 0x1 /* directory made by an S3 PUT of a deeper key */
#define AG_INODE_ETAG 0x2     /* etag holds the MD5 of the current content */

/* value of a DIRENT record (format 3): u8 type (the S_IFMT bits of the
 * inode's mode >> 12), zigzag varint ino - parent (as for INODE): a
 * file's inode number is near its directory's. AG_DIRENT_LEN is the
 * longest encoding. */
#define AG_DIRENT_LEN 11
size_t ag_dirent_encode(uint8_t *v, uint64_t parent, uint64_t ino,
			unsigned type);
/* -AG_ECORRUPT for a value of another layout. */
int ag_dirent_decode(const uint8_t *v, size_t len, uint64_t parent,
		     uint64_t *ino, unsigned *type);

/* value of an EXTENT record (format 2): varint len, varint chunk
 * offset, sha256 [32] (varints as for INODE; AG_EXTENT_LEN is the
 * longest encoding, a u32 field over 32 bits or another length is
 * corrupt). The extent covers file bytes [offset, offset + len) and
 * holds bytes [chunk offset, chunk offset + len) of the plain chunk named
 * by sha: a view, so an overwrite or truncate in the middle of a chunk
 * splits or trims extents without rewriting the chunk. No extent is
 * longer than AG_CHUNK_LIMIT. */
struct ag_extent {
	uint64_t off; /* from the key */
	uint32_t len;
	uint32_t coff;
	uint8_t sha[32];
};
#define AG_CHUNK_LIMIT (4u << 20)
#define AG_EXTENT_LEN 42

/* value of a CHUNK record: 0 data address u64, 8 stored length u32,
 * 12 plain length u32, 16 crc32c of the stored bytes u32, 20 refs u32,
 * 24 flags u32, 28 reserved u32; and for a delta (AG_CHUNK_DELTA, and
 * only then), 32 the sha256 of its reference chunk [32].
 *
 * refs counts the extents that name the chunk and the deltas made
 * against it: a reference stays as long as a delta needs its bytes, and
 * a delta that goes drops its reference's count. Depth 1: a reference is
 * never itself a delta, so a read needs at most two chunks. */
struct ag_chunk_rec {
	uint64_t addr;
	uint32_t clen, ulen, crc, refs, flags;
	uint8_t ref[32]; /* AG_CHUNK_DELTA: the reference chunk */
};
#define AG_CHUNK_REC_LEN 32
#define AG_CHUNK_REC_DELTA_LEN 64
#define AG_CHUNK_REC_MAX AG_CHUNK_REC_DELTA_LEN
#define AG_CHUNK_ZSTD 0x1 /* stored bytes are a zstd frame */
/* stored bytes are a delta (delta.h) against the plain bytes of chunk
 * ref; AG_CHUNK_ZSTD is then clear */
#define AG_CHUNK_DELTA 0x2
/* the chunk went through the similarity stage (a MOVE, txn.h): it is a
 * delta, or stored whole and indexed under its super-features, and so
 * maybe a delta's reference; such a chunk never becomes a delta (depth
 * 1) and agora reduce passes it by */
#define AG_CHUNK_REDUCED 0x4

/* value of the STATS record: 0 logical bytes u64 (sum of extent lengths),
 * 8 unique bytes u64 (sum of plain chunk lengths), 16 stored bytes u64
 * (sum of stored chunk lengths), 24 chunks u64, 32 inodes u64 */
struct ag_stats_rec {
	uint64_t logical, unique, stored, chunks, inodes;
};
#define AG_STATS_REC_LEN 40

/* value of a CLIENT record (format 3): what the client's most recent
 * transactions were answered with, so that a retry gets the same answer
 * and is not applied again. A client keeps at most AG_TXN_WINDOW
 * transactions in flight and sends id t only once t - AG_TXN_WINDOW is
 * answered, so a retry is either among the AG_TXN_WINDOW highest ids
 * recorded or was never applied, even when retries arrive out of order.
 * Varints (as for INODE):
 *   varint generation, varint count (<= AG_TXN_WINDOW), then per entry:
 *   varint txid, varint inode, varint segment (u32), varint fill
 * AG_CLIENT_REC_MAX is the longest encoding. */
#define AG_CLIENT_REC_MAX (2 * 10 + AG_TXN_WINDOW * (3 * 10 + 5))

struct ag_client_entry {
	uint64_t txid, ino, fill;
	uint32_t seg;
};

struct ag_client_rec {
	uint32_t n;
	struct ag_client_entry e[AG_TXN_WINDOW];
};

/* Decode a CLIENT value into *cr; a value that does not parse decodes
 * as no entries. */
void ag_client_rec_decode(const uint8_t *v, size_t len,
			  struct ag_client_rec *cr);
/* Encode *cr at generation gen into v (AG_CLIENT_REC_MAX bytes); returns
 * the length. */
size_t ag_client_rec_encode(uint8_t *v, const struct ag_client_rec *cr,
			    uint64_t gen);
/* The entry of txid, or NULL. */
const struct ag_client_entry *
ag_client_rec_find(const struct ag_client_rec *cr, uint64_t txid);
/* Record e, in place of the lowest id when the window is full. */
void ag_client_rec_add(struct ag_client_rec *cr,
		       const struct ag_client_entry *e);

#define AG_KEYBUF 300

/* Each encoder writes the key into buf (AG_KEYBUF bytes) and returns its
 * length. */
size_t ag_key_super(uint8_t *buf, const char *name);
size_t ag_key_segment(uint8_t *buf, uint32_t seg);
size_t ag_key_inode(uint8_t *buf, uint64_t ino);
size_t ag_key_dirent(uint8_t *buf, uint64_t parent, const char *name,
		     size_t nlen);
size_t ag_key_xattr(uint8_t *buf, uint64_t ino, const char *name, size_t nlen);
/* An xattr value longer than AG_VAL_MAX goes on in records keyed
 * XATTR | ino | name | 0x00 | piece u8, pieces 1, 2 ... each full but the
 * last. Names hold no NUL, so these sort right after the first record and
 * are never taken for names. Up to AG_XATTR_PIECES records: 64 KiB, as
 * Linux allows. piece is 1 .. AG_XATTR_PIECES - 1. */
#define AG_XATTR_PIECES 64
#define AG_XATTR_MAX (AG_XATTR_PIECES * AG_VAL_MAX)
size_t ag_key_xattr_piece(uint8_t *buf, uint64_t ino, const char *name,
			  size_t nlen, unsigned piece);
size_t ag_key_extent(uint8_t *buf, uint64_t ino, uint64_t off);
size_t ag_key_chunk(uint8_t *buf, const uint8_t sha[32]);
size_t ag_key_stripe(uint8_t *buf, uint32_t seg, uint32_t stripe);
size_t ag_key_client(uint8_t *buf, uint64_t client);
size_t ag_key_stats(uint8_t *buf);
size_t ag_key_orphan(uint8_t *buf, uint64_t ino);
/* The SIMILAR index: one record per super-feature, naming the last chunk
 * stored whole (no delta) that had it, to make deltas against. An entry
 * outlives its chunk: whoever looks one up reads the CHUNK record it
 * names and ignores the entry when that chunk is gone or is a delta; the
 * next chunk stored whole with that super-feature puts its own. */
size_t ag_key_similar(uint8_t *buf, uint64_t sf);

/* Each decoder parses a key of its kind from k[0..kl) into its
 * out-parameters and returns 0, or -EINVAL when k is not such a key (an
 * empty key, another type byte, a wrong length); it then sets nothing.
 * No decoder reads past kl. Names point into k: they live as long as k
 * does and are not NUL-terminated. A walk over the records of one kind
 * ends at the first key its decoder refuses. */

/* The type byte of k (enum ag_key_type, or a byte no kind has), or
 * -EINVAL when k is empty. */
int ag_key_type(const void *k, size_t kl);
int ag_key_super_decode(const void *k, size_t kl, const char **name,
			size_t *nlen);
int ag_key_segment_decode(const void *k, size_t kl, uint32_t *seg);
int ag_key_inode_decode(const void *k, size_t kl, uint64_t *ino);
/* The name may be empty: that is the prefix of all of parent's entries
 * (a stored entry's name is 1..AG_NAME_MAX bytes; callers check). */
int ag_key_dirent_decode(const void *k, size_t kl, uint64_t *parent,
			 const char **name, size_t *nlen);
/* *piece is 0 for the first record of a value, else the piece number
 * (ag_key_xattr_piece): the name then ends before the 0x00, which must
 * be followed by exactly one non-zero byte. */
int ag_key_xattr_decode(const void *k, size_t kl, uint64_t *ino,
			const char **name, size_t *nlen, unsigned *piece);
int ag_key_extent_decode(const void *k, size_t kl, uint64_t *ino,
			 uint64_t *off);
int ag_key_chunk_decode(const void *k, size_t kl, uint8_t sha[32]);
int ag_key_stripe_decode(const void *k, size_t kl, uint32_t *seg,
			 uint32_t *stripe);
int ag_key_client_decode(const void *k, size_t kl, uint64_t *client);
/* 0 for the one STATS key ("all"). */
int ag_key_stats_decode(const void *k, size_t kl);
int ag_key_orphan_decode(const void *k, size_t kl, uint64_t *ino);
int ag_key_similar_decode(const void *k, size_t kl, uint64_t *sf);

/* VERSION records (keys.h table): the versions of one key are adjacent,
 * newest first (the sequence is stored inverted), and the keys of a
 * bucket in S3's bytewise order (a key holds no NUL, so "a" and its
 * versions sort before "a/b"). A noncurrent version is an element no
 * DIRENT names: its VERSION record is its one name (it counts in its
 * nlink), so it lives until that record goes. A delete marker has no
 * element (ino 0). seq is the version's number, unique in the cluster
 * (metad takes it from the inode counter); its id is seq in 16 hex
 * digits, or "null" with AG_VERSION_NULL. Keys take at most
 * AG_VERSION_KEY_MAX bytes, so that the record fits a tree key. */
#define AG_VERSION_KEY_MAX (AG_KEY_MAX - 18)
#define AG_VERSION_MARKER 0x1 /* a delete marker: no element */
#define AG_VERSION_NULL 0x2   /* the version whose id is "null" */
#define AG_VERSION_LEN 21
struct ag_version_rec {
	uint64_t seq;   /* from the key */
	uint64_t ino;   /* 0 for a marker */
	int64_t mtime;  /* a marker's time; an element's own otherwise */
	uint8_t flags;  /* AG_VERSION_* */
};
/* -EINVAL for an empty key, one with a NUL or longer than
 * AG_VERSION_KEY_MAX; the key's length otherwise. */
int ag_key_version(uint8_t *buf, uint64_t bucket, const char *key,
		   size_t klen, uint64_t seq);
/* The prefix of the records of (bucket, key), all its versions; with
 * klen 0, of every key of bucket. */
size_t ag_key_version_prefix(uint8_t *buf, uint64_t bucket, const char *key,
			     size_t klen);
int ag_key_version_decode(const void *k, size_t kl, uint64_t *bucket,
			  const char **key, size_t *klen, uint64_t *seq);
size_t ag_version_rec_encode(uint8_t *v, const struct ag_version_rec *r);
/* -AG_ECORRUPT for a value of another layout (a marker with an element,
 * an element without one, unknown flags, bytes left over). */
int ag_version_rec_decode(const uint8_t *v, size_t len,
			  struct ag_version_rec *r);
/* The current element of a key in a versioned bucket carries its
 * version in the private xattr AG_XATTR_VERSION (agora.h): u8 flags
 * (AG_VERSION_NULL or 0), u64 seq little-endian. An element without it
 * was written before versioning was enabled: the "null" version. */
#define AG_VERSION_STAMP_LEN 9
void ag_version_stamp_encode(uint8_t *v, uint64_t seq, uint8_t flags);
int ag_version_stamp_decode(const uint8_t *v, size_t len, uint64_t *seq,
			    uint8_t *flags);

void ag_seg_rec_encode(uint8_t *v, const struct ag_seg_rec *r);
int ag_seg_rec_decode(const uint8_t *v, size_t len, struct ag_seg_rec *r);
/* The INODE and EXTENT encoders write at most AG_INODE_LEN and
 * AG_EXTENT_LEN bytes and return their length. */
size_t ag_inode_encode(uint8_t *v, const struct ag_attr *in);
int ag_inode_decode(const uint8_t *v, size_t len, uint64_t ino,
		    struct ag_attr *in);
size_t ag_extent_encode(uint8_t *v, const struct ag_extent *e);
int ag_extent_decode(const uint8_t *k, size_t klen, const uint8_t *v,
		     size_t vlen, struct ag_extent *e);
/* Encode c into v (AG_CHUNK_REC_MAX bytes); returns the length: 64 for a
 * delta, else 32. The decoder takes a value of the length its flags say
 * (-AG_ECORRUPT otherwise, and for a delta with AG_CHUNK_ZSTD); ref is
 * zeroed for a chunk that is no delta. */
size_t ag_chunk_rec_encode(uint8_t *v, const struct ag_chunk_rec *c);
int ag_chunk_rec_decode(const uint8_t *v, size_t len, struct ag_chunk_rec *c);
/* value of a SIMILAR record: 0 sha256 [32] */
#define AG_SIMILAR_LEN 32
size_t ag_similar_encode(uint8_t *v, const uint8_t sha[32]);
int ag_similar_decode(const uint8_t *v, size_t len, uint8_t sha[32]);
void ag_stats_rec_encode(uint8_t *v, const struct ag_stats_rec *s);
int ag_stats_rec_decode(const uint8_t *v, size_t len, struct ag_stats_rec *s);

/* Walk the extents of ino that end after off, in file order: no extent
 * is longer than AG_CHUNK_LIMIT, so the walk starts that far before off. */
struct ag_tree;
struct ag_cursor;
struct ag_extent_walk {
	struct ag_cursor *cur;
	uint64_t ino, off;
};
int ag_extent_walk_start(struct ag_tree *t, uint64_t ino, uint64_t off,
			 struct ag_extent_walk *w);
/* 1 with the next extent in *x, 0 after ino's last one, or -errno. */
int ag_extent_walk_next(struct ag_extent_walk *w, struct ag_extent *x);
void ag_extent_walk_end(struct ag_extent_walk *w);

/* A 64-bit digest of the extents of ino that overlap [start, end) in t:
 * their offsets, lengths and chunks. A writer that filled bytes of a
 * range in from the committed file sends the digest it saw; the commit
 * applies only if the range still has it (AG_WRITE_EXPECT). */
int ag_extent_digest(struct ag_tree *t, uint64_t ino, uint64_t start,
		     uint64_t end, uint64_t *digest);

#endif
