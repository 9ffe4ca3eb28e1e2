/*
 * txn.h - logical metadata transactions: what a client asks metad to do,
 * as a list of operations applied atomically (all or none).
 *
 * Wire format (the payload of a TXN frame). Integers are little-endian;
 * names are bytes, not NUL-terminated; no padding anywhere.
 *
 *   frame:  0 u64 client id   8 u64 txid (per client, increasing; 0: not
 *           remembered for retries)   16 u32 op count   20 ops
 *   op:     0 u16 type (enum ag_op_type)   2 u16 reserved (0)
 *           4 u32 body length   8 body
 *
 * A body is a fixed part, one table per op in txn.c (name, offset, size)
 * that both the encoder and the decoder use, then the variable parts in
 * the order given, whose lengths are fields of the fixed part. The body
 * length must be exactly the fixed part plus the variable parts. Offsets
 * are in the body:
 *
 *   MKNODE       0 u64 parent   8 u32 mode   12 u32 uid   16 u32 gid
 *                20 u32 flags   24 u64 rdev   32 u32 nlen   36 u32 tlen
 *                40 name[nlen] target[tlen]
 *   UNLINK       0 u64 parent   8 u32 flags   12 u32 nlen   16 name
 *   RENAME       0 u64 src dir   8 u64 dst dir   16 u32 flags
 *                20 u32 slen   24 u32 dlen   28 sname[slen] dname[dlen]
 *   LINK         0 u64 ino   8 u64 parent   16 u32 flags   20 u32 nlen
 *                24 name
 *   SETATTR      0 u64 ino   8 u32 mask   12 u32 mode   16 u32 uid
 *                20 u32 gid   24 u64 size   32 i64 atime ns
 *                40 i64 mtime ns   48 i64 ctime ns   56 etag[16]
 *                (72 bytes, no variable part)
 *   SETXATTR,    0 u64 ino   8 u32 flags   12 u32 nlen   16 u32 vlen
 *   RMXATTR      20 name[nlen] value[vlen] (RMXATTR: vlen 0)
 *   WRITE        0 u64 ino   8 u64 start   16 u64 end   24 u64 new_size
 *                32 u32 flags   36 u32 next (extent count)
 *                40 u64 base (with AG_WRITE_EXPECT)   48 next extents:
 *     extent     0 u64 file offset   8 u32 len   12 sha256[32]
 *                44 u8 has_loc   45 u8 reserved[3]   48 u64 addr
 *                56 u32 clen   60 u32 ulen   64 u32 crc   68 u32 cflags
 *                (AG_WRITE_EXT_LEN = 72 bytes)
 *   STRIPE       0 u32 seg   4 u32 stripe   8 u32 n   12 u32 crcs[n]
 *   SEG_LEASE    (empty)
 *   SEG_RELEASE  0 u32 seg   4 u32 reserved (0)   8 u64 fill
 *   DROP_ORPHAN  0 u64 ino
 *   CLONE        0 u64 src   8 u64 soff   16 u64 dst   24 u64 doff
 *                32 u64 len
 *   EXPECT       0 u64 parent   8 u32 cond   12 u32 nlen   16 etag[16]
 *                32 name
 *   MOVE         0 u32 n (entry count)   4 u32 reserved (0)   8 entries:
 *     entry      0 sha256[32]   32 u64 old addr   40 u64 new addr
 *                48 u32 clen   52 u32 crc   56 u32 flags
 *                60 u32 new clen   64 u32 new crc   68 u32 reserved (0)
 *                72 reference sha256[32]   104 u64 super-features[4]
 *                (AG_MOVE_ENT_LEN = 136 bytes)
 *   CLEAN_LEASE  (empty)
 *   EVENT        0 u32 kind   4 u32 proto   8 u64 ino
 *   TRIGGER      0 u32 action   4 u32 nlen   8 u32 vlen   12 u32 reserved
 *                16 u64 seq   24 u64 token   32 u64 ttl ns
 *                40 name[nlen] value[vlen]
 *   INO          0 u64 ino
 *   VERSION      0 u64 bucket   8 u64 ino   16 u64 seq   24 u32 action
 *                28 u32 flags   32 u32 klen   36 key[klen]
 *
 * What the fields mean is said at the structs below, which are what the
 * encoder takes and the decoder fills, one member per field.
 *
 * Inode numbers in ops may be 0, meaning "the inode created by the most
 * recent MKNODE of this transaction": a client can create, fill and name a
 * file in one transaction without a round trip. A LINK makes the inode it
 * named the current one in turn (so the ops after it, and the reply, name
 * the element just published). AG_TXN_MADE(i) names the inode the i-th
 * MKNODE of the transaction (from 0) made, or found with
 * AG_MKNODE_EXIST_OK: a file made first can be named inside directories
 * made after it, all in one transaction (an S3 key's implicit parents).
 * Real inode numbers never reach AG_TXN_MADE_BIT.
 */
#ifndef AG_TXN_H
#define AG_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "base.h" /* the public SETATTR and RENAME bits, AG_EXPECT_* */

#define AG_TXN_MADE_BIT (1ull << 63)
#define AG_TXN_MADE(i) (AG_TXN_MADE_BIT | (uint64_t)(i))

enum ag_op_type {
	AG_OP_MKNODE = 1,   /* create an inode, named or orphan */
	AG_OP_UNLINK = 2,   /* remove a name (rmdir with AG_UNLINK_DIR) */
	AG_OP_RENAME = 3,
	AG_OP_LINK = 4,     /* add a name; AG_LINK_REPLACE: atomic publish */
	AG_OP_SETATTR = 5,
	AG_OP_SETXATTR = 6,
	AG_OP_RMXATTR = 7,
	AG_OP_WRITE = 8,    /* replace the extents of a byte range */
	AG_OP_STRIPE = 9,   /* record strip crcs of a written stripe, or
			     * (n = 1) the length of a mirrored one */
	AG_OP_SEG_LEASE = 10,
	AG_OP_SEG_RELEASE = 11,
	AG_OP_DROP_ORPHAN = 12, /* the last open handle of an unlinked inode */
	AG_OP_CLONE = 13,   /* share a byte range of one file with another */
	AG_OP_EXPECT = 14,  /* a condition on a name: the transaction fails
			     * with -AG_ECONDITION when it does not hold */
	AG_OP_MOVE = 15,    /* chunks the cleaner copied elsewhere */
	AG_OP_CLEAN_LEASE = 16, /* a lease for the cleaner: a free segment,
				 * which may be one of the cleaner's reserve
				 * (space.h) */
	AG_OP_EVENT = 17,   /* the protocol of the transaction's events, or
			     * an event no other op says (event.h) */
	AG_OP_TRIGGER = 18, /* triggers, their cursors and lease */
	AG_OP_INO = 19,     /* the inode number the next MKNODE makes */
	AG_OP_VERSION = 20, /* versions of an S3 key (keys.h VERSION) */
};

/* MKNODE flags */
#define AG_MKNODE_ORPHAN 0x1   /* no name: an ORPHAN record holds it */
#define AG_MKNODE_IMPLICIT 0x2 /* directory made for a deeper S3 key */
#define AG_MKNODE_EXIST_OK 0x4 /* an existing directory is success */
/* UNLINK flags */
#define AG_UNLINK_DIR 0x1      /* rmdir: only directories, only empty */
#define AG_UNLINK_ANY 0x2      /* files or empty directories */
#define AG_UNLINK_KEEP 0x4     /* keep the inode as an orphan when the last
				* name goes (it is still open) */
#define AG_UNLINK_PRUNE 0x8    /* remove the name only if it is an empty
				* implicit directory; else (or when it is
				* gone) do nothing, and succeed */
/* RENAME flags: ag_rename's (AG_RENAME_NOREPLACE, AG_RENAME_EXCHANGE,
 * base.h), then */
#define AG_RENAME_KEEP 0x4     /* a replaced target is kept as an orphan
				* (it is still open), as AG_UNLINK_KEEP */
/* LINK flags */
#define AG_LINK_REPLACE 0x1    /* replace an existing non-directory */
/* SETATTR mask: ag_setattr's (AG_SET_MODE to AG_SET_MTIME, base.h), then
 * what only the core sets */
#define AG_SET_CTIME 0x40
#define AG_SET_ETAG 0x80
#define AG_SET_IF_SAME 0x100   /* only if size and mtime still are those
				* given (-EAGAIN otherwise): an ETag hashed
				* from the data never tags newer data */
/* SETXATTR flags (as setxattr) */
#define AG_XATTR_CREATE 0x1
#define AG_XATTR_REPLACE 0x2
/* WRITE flags */
#define AG_WRITE_TRUNCATE 0x1  /* size becomes new_size exactly */
#define AG_WRITE_EXPECT 0x2    /* only if the extents of [start, end) still
				* have the digest base (-ESTALE otherwise):
				* bytes a writer filled in from the file as
				* it saw it never undo a newer commit */
#define AG_WRITE_APPEND 0x4    /* start, end, new_size and the extents'
				* offsets count from the file's size when
				* applied: an append lands whole at the end */

/* MKNODE: a new inode of mode (type and permissions), owned by uid:gid,
 * named name in directory parent (AG_MKNODE_* flags); rdev for device
 * nodes, target for symlinks (tlen 0 otherwise). */
struct ag_op_mknode {
	uint64_t parent;   /* 0 with AG_MKNODE_ORPHAN */
	uint32_t mode, uid, gid, flags;
	uint64_t rdev;
	const char *name;  /* not NUL-terminated */
	uint32_t nlen;
	const char *target; /* symlink target */
	uint32_t tlen;
};

/* UNLINK: remove name from directory parent (AG_UNLINK_* flags). */
struct ag_op_unlink {
	uint64_t parent;
	uint32_t flags;
	const char *name;
	uint32_t nlen;
};

/* RENAME: sname in directory src becomes dname in directory dst
 * (AG_RENAME_* flags). */
struct ag_op_rename {
	uint64_t src, dst;
	uint32_t flags;
	const char *sname, *dname;
	uint32_t slen, dlen;
};

/* LINK: inode ino gets the name name in directory parent (AG_LINK_*). */
struct ag_op_link {
	uint64_t ino, parent;
	uint32_t flags;
	const char *name;
	uint32_t nlen;
};

/* SETATTR: the attributes of ino that mask (AG_SET_*) names take these
 * values; times are ns since the epoch; etag is an MD5. */
struct ag_op_setattr {
	uint64_t ino;
	uint32_t mask, mode, uid, gid;
	uint64_t size;
	int64_t atime, mtime, ctime;
	uint8_t etag[16];
};

/* SETXATTR / RMXATTR: extended attribute name of ino gets value (flags
 * AG_XATTR_CREATE / REPLACE), or goes. */
struct ag_op_xattr {
	uint64_t ino;
	uint32_t flags;
	const char *name;
	uint32_t nlen;
	const void *value;
	uint32_t vlen;
};

/* One extent of a WRITE. has_loc says the client stored the chunk and
 * gives its location; otherwise the client found the chunk in the dedup
 * index and metad adds a reference (or answers -ESTALE when it is gone). */
struct ag_write_ext {
	uint64_t off;
	uint32_t len;       /* bytes of the chunk used by this extent */
	uint8_t sha[32];
	uint8_t has_loc;
	uint64_t addr;
	uint32_t clen, ulen, crc, cflags;
};

/* WRITE: the extents of ino starting in [start, end) are replaced by
 * the next extents that follow the op (ag_write_ext_get). */
struct ag_op_write {
	uint64_t ino;
	uint64_t start, end;  /* extents starting in [start, end) go */
	uint64_t new_size;    /* size grows to this (or is set with TRUNCATE) */
	uint32_t flags;
	uint32_t next;
	uint64_t base;        /* with AG_WRITE_EXPECT: ag_extent_digest */
	const uint8_t *exts;  /* encoded ag_write_ext array (decoder side) */
};

/* CLONE: dst [doff, doff + len) becomes src [soff, soff + len) by reference:
 * the destination's extents name the source's chunks, which gain a
 * reference each; no data moves. The range is clipped at the source's
 * end; holes stay holes. */
struct ag_op_clone {
	uint64_t src, soff, dst, doff, len;
};

/* EXPECT: what (parent, name) must be when the op is applied:
 * AG_EXPECT_ABSENT (no entry), AG_EXPECT_FILE (a regular file),
 * AG_EXPECT_ETAG (a regular file whose stored ETag is etag; one with none
 * stored does not match). A name that is missing fails the last two with
 * -ENOENT, any other mismatch with -AG_ECONDITION. Nothing else checks
 * it: the ops that follow see the state it was checked against. */
struct ag_op_expect {
	uint64_t parent;
	uint32_t cond;     /* AG_EXPECT_* (agora.h) */
	const char *name;  /* not NUL-terminated */
	uint32_t nlen;
	uint8_t etag[16];
};

/* STRIPE: stripe number stripe of data segment seg was written. */
struct ag_op_stripe {
	uint32_t seg, stripe, n;
	const uint8_t *crcs; /* n little-endian u32: k + m strip crcs, or the
			      * bytes written of a mirrored stripe */
};

/* One entry of a MOVE: the chunk sha, stored (clen bytes of crc32c
 * crc) at old, was copied to new, a segment the client leases. Applied
 * only while the chunk's record still says old, clen and crc: otherwise
 * a delete or another cleaner came first and the copy at new is garbage
 * (its space comes back with its segment).
 *
 * flags say what the similarity stage (delta.h) made of the chunk; with
 * none the copy is byte for byte and the fields after flags are 0.
 * AG_MOVE_DELTA: the copy is a delta of new_clen bytes (crc new_crc)
 * against chunk ref; applied only while ref is recorded and stored whole
 * and the chunk itself was never through the stage (AG_CHUNK_REDUCED:
 * only such a chunk may be another delta's reference), else it is
 * garbage as above. AG_MOVE_INDEX: the copy is byte for byte, and the
 * chunk is indexed under its non-zero super-features sf (SIMILAR,
 * keys.h). Either marks the chunk AG_CHUNK_REDUCED. AG_MOVE_ZSTD (not
 * with AG_MOVE_DELTA): the copy is the chunk's plain bytes as a new zstd
 * frame of new_clen bytes (crc new_crc), which the record then names
 * (AG_CHUNK_ZSTD), so a chunk kept whole is compressed again as it
 * moves (delta.h, AG_DELTA_COLD_LEVEL). */
#define AG_MOVE_SF 4
struct ag_move_ent {
	uint8_t sha[32];
	uint64_t old_addr, new_addr;
	uint32_t clen, crc, flags;
	uint32_t new_clen, new_crc;
	uint8_t ref[32];
	uint64_t sf[AG_MOVE_SF];
};
#define AG_MOVE_DELTA 0x2 /* = AG_CHUNK_DELTA */
#define AG_MOVE_INDEX 0x4
#define AG_MOVE_ZSTD 0x8

/* MOVE: n entries (ag_move_ent_get). */
struct ag_op_move {
	uint32_t n;
	const uint8_t *ents;  /* encoded ag_move_ent array (decoder side) */
};

/* SEG_RELEASE: the client hands back its lease on seg, whose data ends
 * at payload offset fill. (SEG_LEASE asks for a lease and carries
 * nothing; DROP_ORPHAN carries the inode, op->u.ino, and so does INO:
 * the next MKNODE of the transaction makes that inode, which must not
 * exist (-EEXIST), instead of a new number. A lazy transaction sent
 * again to the metad that took over from one whose host died (its
 * commit lost) so makes the inode its client was told of, and the
 * transactions after it that name that inode still mean it.) */
struct ag_op_seg {
	uint32_t seg;
	uint64_t fill;
};

/* EVENT: kind AG_EV_ORIGIN says that the events of this transaction
 * came through protocol proto (AG_PROTO_*, agora.h), the gateway being
 * its client; AG_EV_CLOSED that ino was written and closed (metad adds
 * its name, size and ETag). metad makes the other events from the ops
 * themselves. */
struct ag_op_event {
	uint32_t kind, proto;
	uint64_t ino;
};

/* TRIGGER (event.h has the records): ADD puts trigger name with the
 * definition value, its cursor at the next event (-EEXIST when there
 * is one); REMOVE drops it, its cursor and dead letters (-ENOENT);
 * LEASE takes the deliverer's lease for token for ttl ns, when it is
 * free, expired or token's (-EBUSY otherwise), and ttl 0 gives it back;
 * CURSOR sets name's cursor to value (struct ag_trigger_cursor), never
 * backwards; DEAD records value as the dead letter of event seq. CURSOR
 * and DEAD need the lease held by token (-EBUSY). */
#define AG_TRIG_ADD 1
#define AG_TRIG_REMOVE 2
#define AG_TRIG_LEASE 3
#define AG_TRIG_CURSOR 4
#define AG_TRIG_DEAD 5
struct ag_op_trigger {
	uint32_t action;
	const char *name;
	uint32_t nlen;
	const void *value;
	uint32_t vlen;
	uint64_t seq, token, ttl;
};

/* VERSION: what happens to the versions of key in the bucket directory
 * bucket (the path key names below it, walked by metad):
 *   KEEP     the element the key names now (a regular file) gets a
 *            VERSION record, so that an UNLINK or a LINK_REPLACE after
 *            it in the transaction leaves it a noncurrent version. An
 *            element without a stamp gets a new seq and is the "null"
 *            version. With AG_VERSION_SUSPENDED a null current element
 *            is not kept (what follows replaces it) and a noncurrent
 *            null version goes: a suspended bucket has one null version.
 *            No element, or not a file: nothing is kept.
 *   STAMP    ino (0: the transaction's current inode) becomes version
 *            new seq of the key (AG_VERSION_NULL in flags: the null
 *            one), as its AG_XATTR_VERSION says.
 *   MARKER   a delete marker with a new seq becomes the newest version;
 *            AG_VERSION_SUSPENDED: the null one, in place of any other.
 *   DROP     the version seq goes, with its element unless something
 *            else names it (-ENOENT when there is no such version).
 *   RESTORE  when the key names nothing and its newest version is an
 *            element (not a marker), that element is named by the key
 *            again (its directories must exist; they are the ones an
 *            S3 PUT of the key would make); else nothing.
 *   SNAPSHOT the element key names is about to change in place (a
 *            write through the mount): a new element sharing its extents
 *            and xattrs becomes the noncurrent version it was, and it
 *            gets a new seq (SUSPENDED: the null one; when it is the
 *            null version already, or an empty element with no seq,
 *            one just made, nothing is kept).
 * Keys of one transaction's VERSION ops are checked as metad walks them
 * (-ENOENT when a directory on the way is missing, -EINVAL for a key
 * that is no S3 key or longer than AG_VERSION_KEY_MAX). */
#define AG_VERSION_KEEP 1
#define AG_VERSION_STAMP 2
#define AG_VERSION_MARK 3
#define AG_VERSION_DROP 4
#define AG_VERSION_RESTORE 5
#define AG_VERSION_SNAPSHOT 6
#define AG_VERSION_SUSPENDED 0x100 /* a flag of KEEP and MARKER */
struct ag_op_version {
	uint64_t bucket, ino, seq;
	uint32_t action, flags;
	const char *key;   /* not NUL-terminated */
	uint32_t klen;
};

struct ag_op {
	enum ag_op_type type;
	union {
		struct ag_op_mknode mknode;
		struct ag_op_unlink unlink;
		struct ag_op_rename rename;
		struct ag_op_link link;
		struct ag_op_setattr setattr;
		struct ag_op_xattr xattr;
		struct ag_op_write write;
		struct ag_op_clone clone;
		struct ag_op_expect expect;
		struct ag_op_stripe stripe;
		struct ag_op_seg seg;
		struct ag_op_move move;
		struct ag_op_event event;
		struct ag_op_trigger trigger;
		struct ag_op_version version;
		uint64_t ino;
	} u;
};

/* A transaction being built by a client. */
struct ag_txn {
	uint8_t *buf;
	size_t len, cap;
	uint32_t nops;
	int error; /* sticky: the first failed append poisons the txn */
	size_t write_at; /* offset of the open WRITE op, 0 if none */
	int origin;      /* an EVENT ORIGIN op is in */
};

#define AG_TXN_HDR 20
#define AG_WRITE_EXT_LEN 72
#define AG_MOVE_ENT_LEN 136

void ag_txn_init(struct ag_txn *t, uint64_t client, uint64_t txid);
void ag_txn_release(struct ag_txn *t);
/* Restart the transaction with a new id, keeping its buffer. */
void ag_txn_reset(struct ag_txn *t, uint64_t client, uint64_t txid);
void ag_txn_set_id(struct ag_txn *t, uint64_t client, uint64_t txid);

/* Append one op. Errors are sticky in t->error and returned by every
 * later call, so callers may check once at the end. */
int ag_txn_mknode(struct ag_txn *t, const struct ag_op_mknode *o);
int ag_txn_unlink(struct ag_txn *t, const struct ag_op_unlink *o);
int ag_txn_rename(struct ag_txn *t, const struct ag_op_rename *o);
int ag_txn_link(struct ag_txn *t, const struct ag_op_link *o);
int ag_txn_setattr(struct ag_txn *t, const struct ag_op_setattr *o);
int ag_txn_setxattr(struct ag_txn *t, const struct ag_op_xattr *o);
int ag_txn_rmxattr(struct ag_txn *t, uint64_t ino, const char *name,
		   uint32_t nlen);
/* Begin a WRITE; append its extents with ag_txn_write_ext. */
int ag_txn_write(struct ag_txn *t, uint64_t ino, uint64_t start, uint64_t end,
		 uint64_t new_size, uint32_t flags);
int ag_txn_write_ext(struct ag_txn *t, const struct ag_write_ext *e);
/* Change the new_size of the open WRITE (the size is known last). */
int ag_txn_write_size(struct ag_txn *t, uint64_t new_size);
/* Make the open WRITE conditional on the extents of its range still
 * having the digest base (AG_WRITE_EXPECT). */
int ag_txn_write_expect(struct ag_txn *t, uint64_t base);
int ag_txn_clone(struct ag_txn *t, const struct ag_op_clone *o);
int ag_txn_expect(struct ag_txn *t, const struct ag_op_expect *o);
int ag_txn_stripe(struct ag_txn *t, uint32_t seg, uint32_t stripe,
		  const uint32_t *crcs, uint32_t n);
int ag_txn_seg_lease(struct ag_txn *t);
int ag_txn_seg_release(struct ag_txn *t, uint32_t seg, uint64_t fill);
int ag_txn_drop_orphan(struct ag_txn *t, uint64_t ino);
/* An INO op: the next MKNODE of t makes inode ino. */
int ag_txn_ino(struct ag_txn *t, uint64_t ino);
/* A copy of the encoded transaction buf (len bytes, well-formed) with an
 * INO op of ino before its first op: *out, freed by the caller, of
 * *outlen bytes. -ENOMEM. */
int ag_txn_with_ino(const uint8_t *buf, size_t len, uint64_t ino,
		    uint8_t **out, size_t *outlen);
/* A MOVE of the n entries of ents (n > 0). */
int ag_txn_move(struct ag_txn *t, const struct ag_move_ent *ents, uint32_t n);
int ag_txn_clean_lease(struct ag_txn *t);
/* An EVENT op. Kind AG_EV_ORIGIN goes in once per transaction: a second
 * does nothing (the commit adds it, and a retried commit sends the same
 * bytes). */
int ag_txn_event(struct ag_txn *t, uint32_t kind, uint32_t proto,
		 uint64_t ino);
int ag_txn_trigger(struct ag_txn *t, const struct ag_op_trigger *o);
int ag_txn_version(struct ag_txn *t, const struct ag_op_version *o);
/* Append the ops of ops (none may be an open WRITE, nor in t), as they
 * are: their inode numbers 0 and AG_TXN_MADE then count in t. */
int ag_txn_append(struct ag_txn *t, const struct ag_txn *ops);

/* Decoder (metad side): iterate the ops of an encoded transaction. Its
 * input comes from the network: every length is checked against the
 * frame, nothing is read outside buf[0..len). */
struct ag_txn_iter {
	const uint8_t *p, *end;
	uint32_t left;
};
/* Parse the header; -AG_EPROTO on a malformed one. */
int ag_txn_parse(const uint8_t *buf, size_t len, uint64_t *client,
		 uint64_t *txid, struct ag_txn_iter *it);
/* 1 and *op filled; 0 at the end; -AG_EPROTO on malformed input (a body
 * whose length is not its fixed part plus its variable parts, an unknown
 * type, fewer or more ops than the count says). Pointers in *op point
 * into the frame and live as long as it does. */
int ag_txn_next(struct ag_txn_iter *it, struct ag_op *op);
/* Decode extent i (< w->next) of a WRITE op from ag_txn_next: the
 * decoder checked that all of them lie in the frame. */
void ag_write_ext_get(const struct ag_op_write *w, uint32_t i,
		      struct ag_write_ext *e);
/* Decode entry i (< m->n) of a MOVE op from ag_txn_next. */
void ag_move_ent_get(const struct ag_op_move *m, uint32_t i,
		     struct ag_move_ent *e);
/* Decode a whole frame buf[0..len): its header, then each op in turn to
 * cb (with the extents of a WRITE readable by ag_write_ext_get). 0, or
 * -AG_EPROTO on malformed input (cb may have seen the ops before the bad
 * one), or the first non-zero value cb returned. cb may be NULL: the
 * frame is only checked. */
typedef int (*ag_txn_op_cb)(void *arg, const struct ag_op *op);
int ag_txn_decode(const uint8_t *buf, size_t len, uint64_t *client,
		  uint64_t *txid, ag_txn_op_cb cb, void *arg);

#endif
