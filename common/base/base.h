/*
 * base.h - what the public API (agora.h) and the lowest layers of
 * libagora share: the project's error codes, the limits a cluster is
 * built within, the attributes of an element with their two flag
 * families, the rename flags, and the conditions a change may put on a
 * name. It depends on no other header of the tree, so a layer below the
 * element core (keys, config, util, txn) can include it where it could
 * not include agora.h; agora.h re-exports all of it.
 */
#ifndef AG_BASE_H
#define AG_BASE_H

#include <stdint.h>

/* ---- errors ----
 *
 * Every function returns 0 (or a count) or a negative error: -errno, or
 * -AG_E* for a cause of the project's own. These live above every errno
 * value (-err >= AG_EBASE), so the two never collide; ag_strerror()
 * names both. */
#define AG_EBASE 4096
#define AG_ECORRUPT (AG_EBASE + 1)  /* checksum or structure mismatch:
				     * damage (the core runs a read again
				     * first when its root has moved on,
				     * as data freed and reused since looks
				     * the same) */
#define AG_ENOQUORUM (AG_EBASE + 2) /* too few drives answered */
#define AG_EFOREIGN (AG_EBASE + 3)  /* drive of another cluster */
#define AG_EPROTO (AG_EBASE + 4)    /* malformed frame from a peer */
#define AG_ELOST (AG_EBASE + 5)     /* newest commit damaged on every copy */
#define AG_ECONDITION (AG_EBASE + 6) /* a condition of a change
				      * (ag_writer_expect, ag_unlink_if) did
				      * not hold; nothing was changed */
#define AG_ESTALEROOT (AG_EBASE + 7) /* a read met a page written after its
				      * root (the space it read was freed
				      * and reused since): the same read
				      * at a newer root can succeed. The
				      * core retries such reads itself; a
				      * caller sees this only when the
				      * tree kept moving under every try */

/* The name of err (negative or not): an errno value's strerror(), or
 * the meaning of an AG_E* code. A static string. */
const char *ag_strerror(int err);

/* ---- limits ---- */

#define AG_MAX_DRIVES 64 /* drives of one cluster (config, label, status) */

/* ---- elements ---- */

#define AG_ROOT 1ull /* inode number of the root directory */

/* The attributes of an element (also its on-drive inode record, keys.h). */
struct ag_attr {
	uint64_t ino;
	uint32_t mode, uid, gid, nlink;
	uint64_t size;
	int64_t atime, mtime, ctime, btime; /* nanoseconds since 1970 */
	uint64_t generation;
	uint64_t rdev;
	uint32_t flags;   /* AG_ATTR_* */
	uint8_t etag[16];
	uint64_t parent;
};

/* Element flags: struct ag_attr's flags, what an element is. */
#define AG_ATTR_IMPLICIT 0x1 /* directory made for a deeper S3 key */
#define AG_ATTR_ETAG 0x2     /* etag is the MD5 of the current content;
			      * any change of the data clears it */

/* The setattr mask: which fields of a struct ag_attr ag_setattr (and
 * ag_file_setattr) changes. Transactions carry the same bits, and add
 * their own above these (txn.h). */
#define AG_SET_MODE 0x01
#define AG_SET_UID 0x02
#define AG_SET_GID 0x04
#define AG_SET_SIZE 0x08
#define AG_SET_ATIME 0x10
#define AG_SET_MTIME 0x20

/* ag_rename's flags (as renameat2); transactions carry them as they are,
 * and add their own above these (txn.h). */
#define AG_RENAME_NOREPLACE 0x1
#define AG_RENAME_EXCHANGE 0x2

/* What a name must be for a change to apply (ag_writer_expect,
 * ag_unlink_if; the AG_OP_EXPECT of a transaction, txn.h). */
#define AG_EXPECT_ABSENT 1 /* no such name */
#define AG_EXPECT_FILE 2   /* a regular file */
#define AG_EXPECT_ETAG 3   /* a regular file whose stored ETag is given */

#endif
