/*
 * agora.h - libagora, the element core: the one header that agora-fused,
 * agora-s3d and the agora tool include.
 *
 * An element is a file, a directory entry target and an S3 object at
 * once. Elements are named by inode number (stable, cluster-wide, never
 * reused) and by (parent, name) entries. Reads go straight to the drives
 * at the newest generation this handle knows; changes are transactions
 * committed by agora-metad, and a call returns only once its change is
 * durable.
 *
 * Every function returns 0 (or a byte count) or a negative errno, or a
 * negative AG_E* code for a cause of the project's own (corruption, no
 * quorum: base.h); ag_strerror() names both. A struct ag_cluster may be
 * shared by threads.
 */
#ifndef AGORA_H
#define AGORA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* The error codes (AG_E*, ag_strerror), AG_MAX_DRIVES, AG_ROOT, struct
 * ag_attr with its element flags (AG_ATTR_*), the setattr mask (AG_SET_*),
 * the rename flags (AG_RENAME_*) and the conditions of a change
 * (AG_EXPECT_*): shared with the lowest layers, so defined there. */
#include "base.h"

struct ag_cluster;

#define AG_OPEN_RDONLY 0x1 /* no metad: reads only (fsck, status) */
#define AG_OPEN_WATCH 0x2  /* a gateway: learn commits as they happen, so
			    * that ag_cluster_refresh rarely asks metad */
#define AG_OPEN_LAZY 0x4   /* a file system: metadata changes return once
			    * every reader sees them and they survive the
			    * death of any process; ag_cluster_sync (or a
			    * second) makes them survive a power cut too */
#define AG_OPEN_DAMAGED 0x8 /* with RDONLY (fsck, status): open at the
			     * newest whole commit even when a newer one is
			     * damaged on every copy (others get -AG_ELOST) */
#define AG_OPEN_PRIVATE 0x10 /* a gateway that keeps names to itself (the
			      * S3 gateway, the agora tool): this handle
			      * sees the private names (below); any other
			      * neither sees nor touches them */

/* Open the cluster described by the config file. */
int ag_cluster_open(const char *config, int flags, struct ag_cluster **cp);
/* Release leases, close drives. Accepts NULL. */
void ag_cluster_close(struct ag_cluster *c);
/* Move this handle to the newest committed generation (strong
 * consistency for the next reads). */
int ag_cluster_refresh(struct ag_cluster *c);
uint64_t ag_cluster_generation(struct ag_cluster *c);
/* Every change this handle made so far is durable on return (fsync of an
 * AG_OPEN_LAZY handle; a no-op wait otherwise). */
int ag_cluster_sync(struct ag_cluster *c);

/* ---- namespace ---- */

int ag_getattr(struct ag_cluster *c, uint64_t ino, struct ag_attr *a);
int ag_lookup(struct ag_cluster *c, uint64_t parent, const char *name,
	      struct ag_attr *a);
/* Resolve an absolute path ("/" is the root). */
int ag_resolve(struct ag_cluster *c, const char *path, struct ag_attr *a);
/* Split path into its parent directory (resolved) and last name, which
 * points into path. -EINVAL for "/". */
int ag_resolve_parent(struct ag_cluster *c, const char *path, uint64_t *parent,
		      const char **name);

/* Call cb for each entry of dir in byte order of names, starting after
 * name "after" (NULL: from the first). cb returns non-zero to stop (that
 * value is returned). */
typedef int (*ag_dirent_cb)(void *arg, const char *name, size_t nlen,
			    uint64_t ino, unsigned type);
int ag_readdir(struct ag_cluster *c, uint64_t dir, const char *after,
	       ag_dirent_cb cb, void *arg);

int ag_mknod(struct ag_cluster *c, uint64_t parent, const char *name,
	     uint32_t mode, uint32_t uid, uint32_t gid, uint64_t rdev,
	     struct ag_attr *a);
int ag_mkdir(struct ag_cluster *c, uint64_t parent, const char *name,
	     uint32_t mode, uint32_t uid, uint32_t gid, struct ag_attr *a);
/* 0 when path is absolute with every name 1 to 255 bytes and no "." or
 * ".." part; -EINVAL or -ENAMETOOLONG otherwise. */
int ag_path_check(const char *path);
/* mkdir -p of an absolute path; the final directory in *a. Checks the
 * whole path first, so a refused path creates nothing. */
int ag_mkdir_path(struct ag_cluster *c, const char *path, uint32_t mode,
		  uint32_t uid, uint32_t gid, struct ag_attr *a);
int ag_symlink(struct ag_cluster *c, uint64_t parent, const char *name,
	       const char *target, uint32_t uid, uint32_t gid,
	       struct ag_attr *a);
/* Copy the target into buf (size bytes); returns its length. */
ssize_t ag_readlink(struct ag_cluster *c, uint64_t ino, char *buf,
		    size_t size);
int ag_unlink(struct ag_cluster *c, uint64_t parent, const char *name);
/* ag_unlink only if, when metad applies it, the name is a regular file
 * (AG_EXPECT_FILE) whose stored ETag is md5 (AG_EXPECT_ETAG), as
 * ag_writer_expect: -AG_ECONDITION or -ENOENT otherwise, and nothing
 * removed. */
int ag_unlink_if(struct ag_cluster *c, uint64_t parent, const char *name,
		 int cond, const uint8_t md5[16]);
int ag_rmdir(struct ag_cluster *c, uint64_t parent, const char *name);
/* flags: AG_RENAME_NOREPLACE, AG_RENAME_EXCHANGE (base.h) */
int ag_rename(struct ag_cluster *c, uint64_t sparent, const char *sname,
	      uint64_t dparent, const char *dname, unsigned flags);
int ag_link(struct ag_cluster *c, uint64_t ino, uint64_t parent,
	    const char *name, struct ag_attr *a);

/* Change the fields of in that mask names (AG_SET_*); the attributes
 * after the change in *out (may be NULL). */
int ag_setattr(struct ag_cluster *c, uint64_t ino, unsigned mask,
	       const struct ag_attr *in, struct ag_attr *out);

ssize_t ag_getxattr(struct ag_cluster *c, uint64_t ino, const char *name,
		    void *buf, size_t size);
int ag_setxattr(struct ag_cluster *c, uint64_t ino, const char *name,
		const void *val, size_t len, int flags);
/* -ENODATA when name is not set, except for the POSIX ACLs (below): an
 * element without one has nothing to remove, which is success. */
int ag_removexattr(struct ag_cluster *c, uint64_t ino, const char *name);
/* NUL-separated names as listxattr(2); size 0 asks for the length. */
ssize_t ag_listxattr(struct ag_cluster *c, uint64_t ino, char *buf,
		     size_t size);

/* ---- POSIX ACLs (acl.c) ----
 *
 * An element's permissions are its mode. An access ACL that says no more
 * than a mode (owner, group and other entries: what cp -a and setfacl
 * set where chmod would do) sets the mode and is not stored, so getxattr
 * of it answers -ENODATA and readers take the permissions from the mode.
 * Extended ACLs (named users or groups, a mask) and default ACLs are
 * refused with -EOPNOTSUPP: they would not be enforced. */
#define AG_ACL_ACCESS "system.posix_acl_access"
#define AG_ACL_DEFAULT "system.posix_acl_default"
/* Whether name is one of the two POSIX ACL xattrs. */
int ag_xattr_acl(const char *name);
/* setxattr(2) of a POSIX ACL xattr, val in the kernel's layout (u32
 * version 2, then u16 tag, u16 perms, u32 id per entry): ino's permission
 * bits become the ACL's, its file type and set-user-ID and sticky bits
 * stay, and set-group-ID is cleared unless keep_sgid (a caller in the
 * file's group or privileged, as chmod(2) rules). -EINVAL when val is
 * malformed. */
int ag_acl_set(struct ag_cluster *c, uint64_t ino, const char *name,
	       const void *val, size_t len, int keep_sgid);

/* The POSIX permission rule, for gateways that act for a user the kernel
 * does not check (the S3 users; the mount lets the kernel check, as
 * default_permissions): 0 when the mode of a grants a user of uid and
 * gid every bit of want (AG_MAY_*), -EACCES otherwise. The owner class
 * decides for the owner, the group class for a member of the group, the
 * other class for everyone else; uid 0 passes, except execute on a
 * non-directory with no execute bit at all. */
#define AG_MAY_READ 4
#define AG_MAY_WRITE 2
#define AG_MAY_EXEC 1
int ag_may(const struct ag_attr *a, uint32_t uid, uint32_t gid,
	   unsigned want);
/* The directories a key (an object key, "a/b/c" or "a/b/") passes
 * through, from dir (a bucket) down to the parent of its last name: each
 * must grant search (execute), and the deepest one that exists must also
 * grant want_dir (AG_MAY_WRITE where a write makes or removes a name
 * there; 0 for a read). 0 or -EACCES, checked before anything says
 * whether the key exists (a missing name ends the way: the lookup that
 * follows says what is missing). */
int ag_may_path(struct ag_cluster *c, const struct ag_attr *dir,
		const char *key, uint32_t uid, uint32_t gid,
		unsigned want_dir);

/* ---- data ---- */

/* Read up to len bytes at off; returns the count (short at end of file,
 * holes read as zeros). */
ssize_t ag_read(struct ag_cluster *c, uint64_t ino, uint64_t off, void *buf,
		size_t len);
/* Write len bytes at off (random overwrite, append, past the end leaving a
 * hole); durable when it returns. */
ssize_t ag_write(struct ag_cluster *c, uint64_t ino, uint64_t off,
		 const void *buf, size_t len);
/* Truncate or extend. */
int ag_truncate(struct ag_cluster *c, uint64_t ino, uint64_t size);
/* Make dst's bytes [doff, doff + len) those of src's [soff, soff + len)
 * by reference: dst shares src's chunks, no data is read or written.
 * The range is clipped at src's end; returns the bytes cloned. src and
 * dst may be the same file when the ranges do not overlap. */
ssize_t ag_clone_range(struct ag_cluster *c, uint64_t src, uint64_t soff,
		       uint64_t dst, uint64_t doff, uint64_t len);

/* A streaming writer: fills a new, nameless element and publishes it under
 * (parent, name) atomically at commit, replacing a file of that name. Used
 * by put (agora put, S3 PutObject). */
struct ag_writer;
int ag_writer_new(struct ag_cluster *c, uint32_t mode, uint32_t uid,
		  uint32_t gid, struct ag_writer **wp);
int ag_writer_write(struct ag_writer *w, const void *buf, size_t len);
/* Append len bytes of element src from soff by reference (as
 * ag_clone_range); -EINVAL when src holds fewer. */
int ag_writer_clone(struct ag_writer *w, uint64_t src, uint64_t soff,
		    uint64_t len);
/* Set an xattr in the transaction that publishes the element, so the
 * element never appears without it. */
int ag_writer_setxattr(struct ag_writer *w, const char *name,
		       const void *val, size_t len);
/* The ETag stored at commit. By default it is the MD5 of the bytes
 * written, and none is stored when a range was cloned. */
void ag_writer_set_etag(struct ag_writer *w, const uint8_t md5[16]);
/* Publish only if, when metad applies the commit, the name is free
 * (AG_EXPECT_ABSENT), is a regular file (AG_EXPECT_FILE), or is a regular
 * file whose stored ETag is md5 (AG_EXPECT_ETAG; md5 is read only then).
 * The check and the publishing are one transaction, so of racing writers
 * with AG_EXPECT_ABSENT exactly one wins. A failed condition fails the
 * commit with -AG_ECONDITION, or -ENOENT when AG_EXPECT_FILE or
 * AG_EXPECT_ETAG meets no name. A file written over POSIX has no stored
 * ETag until ag_etag stores one, and matches no ETag before. The last
 * call wins. (The AG_EXPECT_* conditions are in base.h: transactions
 * carry them as they are.) */
int ag_writer_expect(struct ag_writer *w, int cond, const uint8_t md5[16]);
/* Make everything durable and name it; *a gets the final attributes
 * (with the ETag flagged in a->flags when one was stored). When a racing
 * writer has already replaced the name, and so destroyed the element,
 * the commit still succeeded: *a is then what the writer gave the element
 * (times from this host's clock). */
int ag_writer_commit(struct ag_writer *w, uint64_t parent, const char *name,
		     struct ag_attr *a);
/* Drop an uncommitted writer (its data is reclaimed). Accepts NULL. */
void ag_writer_free(struct ag_writer *w);

/* ---- open files (openfile.c) ----
 *
 * What a gateway holds for a file it has open: one object per inode per
 * cluster handle, shared by every opener (reads through any of them see
 * the writes of all). Writes are buffered and committed in whole chunks
 * at ag_file_flush, at close, before a setattr, and every few MiB; each
 * commit is durable when it returns. An inode unlinked or renamed over
 * while open on this handle stays readable and writable until its last
 * close. The calls taking (c, ino) act on ino's open file if there is
 * one, and work as well when there is none. */
struct ag_file;
/* Open ino (a reference on the shared object; no checks). */
int ag_file_open(struct ag_cluster *c, uint64_t ino, struct ag_file **fp);
/* Commit what is buffered and drop the reference; the last close of an
 * unlinked inode destroys it. Returns the commit's error (the bytes are
 * then lost). Accepts NULL. */
int ag_file_close(struct ag_file *f);
ssize_t ag_file_read(struct ag_file *f, uint64_t off, void *buf, size_t len);
ssize_t ag_file_write(struct ag_file *f, uint64_t off, const void *buf,
		      size_t len);
/* Append len bytes at the end of the file as it is when the append is
 * committed (O_APPEND): appends from every gateway land whole, one after
 * another, never over each other. Returns len or -errno. */
ssize_t ag_file_append(struct ag_file *f, const void *buf, size_t len);
/* Commit what is buffered (at close): every reader sees it; durable on
 * return unless the handle is AG_OPEN_LAZY. */
int ag_file_flush(struct ag_file *f);
/* fsync(2): commit what is buffered, and make it and every change of the
 * handle before it durable. */
int ag_file_fsync(struct ag_file *f);
/* ag_getattr, with the size and mtime of writes still buffered. */
int ag_file_getattr(struct ag_cluster *c, uint64_t ino, struct ag_attr *a);
/* ag_setattr, after committing ino's buffered writes. */
int ag_file_setattr(struct ag_cluster *c, uint64_t ino, unsigned mask,
		    const struct ag_attr *in, struct ag_attr *out);
/* fsync(2) by inode: ag_file_fsync of ino's buffered writes. */
int ag_file_sync(struct ag_cluster *c, uint64_t ino);
/* Make [off, off + len) a hole (reads as zeros, stores nothing); the size
 * does not change. */
int ag_file_punch(struct ag_cluster *c, uint64_t ino, uint64_t off,
		  uint64_t len);
/* lseek(2) SEEK_DATA or SEEK_HOLE (whence) from off: *pos; -ENXIO at or
 * past the end, or when no data follows off. */
int ag_file_seek(struct ag_cluster *c, uint64_t ino, uint64_t off,
		 int whence, uint64_t *pos);
/* ag_clone_range after committing both files' buffered writes. */
ssize_t ag_file_clone(struct ag_cluster *c, uint64_t src, uint64_t soff,
		      uint64_t dst, uint64_t doff, uint64_t len);

/* ---- configuration (config.c) ---- */

/* Call cb for every "key = value" of the config file, in order, with the
 * section it is in (values trimmed, trailing comments cut); a non-zero
 * return stops the walk and is returned. A gateway reads its own section
 * this way, with the syntax every program shares. Syntax errors are
 * reported naming file:line (-EINVAL). */
int ag_config_walk(const char *file,
		   int (*cb)(void *arg, const char *section, const char *key,
			     char *val, int lineno),
		   void *arg);

/* ---- daemons (daemon.c) ---- */

/* -d: fork into the background. The parent waits until the child calls
 * ag_daemon_ready and exits with its status (1 when the child dies
 * first). Returns, in the child, the descriptor to report on, or -errno. */
int ag_daemon_detach(void);
/* Report status (0: serving) on fd from ag_daemon_detach (-1: nothing to
 * do); on success stdin, stdout and, unless keep_stderr (a log file),
 * stderr go to /dev/null. */
void ag_daemon_ready(int fd, int status, int keep_stderr);

/* ---- cluster state ---- */

struct ag_drive_status {
	char path[256];
	int state;  /* 0 ok, 1 missing, 2 foreign, 3 failed */
	unsigned long read_errors, write_errors, csum_errors;
	unsigned bad_records; /* damaged copies in its commit ring */
};

struct ag_status {
	uint8_t uuid[16];
	uint64_t generation;
	int ndrives, ec_k, ec_m;
	struct ag_drive_status drives[AG_MAX_DRIVES]; /* [0, ndrives) */
	uint64_t raw_bytes;       /* sum of segment space on all drives */
	uint64_t capacity_bytes;  /* usable for data after EC overhead */
	uint64_t used_bytes;      /* segments in use, as raw bytes */
	/* free for data: payload of the free segments beyond those held
	 * back from user data for metadata and for the cleaner (space.h) */
	uint64_t free_bytes;
	uint32_t nsegments, free_segments, meta_segments, data_segments;
	uint64_t logical_bytes;   /* what users stored */
	uint64_t unique_bytes;    /* after dedup */
	uint64_t stored_bytes;    /* after dedup and compression */
	uint64_t chunks, inodes;
	uint32_t chunk_min, chunk_avg, chunk_max, strip_size;
	uint64_t segment_size;
	/* a newer generation than this one damaged on every copy, which
	 * agora-metad will not start over by itself (0: none) */
	uint64_t lost_generation;
	uint64_t damaged_generation; /* whose record or pages are damaged:
				      * the lost one or one before it */
	int lost_pages;           /* 1: its pages, 0: its record */
};
int ag_cluster_status(struct ag_cluster *c, struct ag_status *st);

/* What is stored, and what it costs on the drives (usage.c): the figures
 * of agora status beside ag_status's, from one read of the newest tree
 * (every page, the chunk, stripe and segment records), so dearer than
 * ag_cluster_status: not for statfs. Data bytes are chunks' stored bytes
 * (after compression), live ones only. */
struct ag_usage {
	uint64_t generation;      /* the tree the figures are of */
	uint64_t logical_bytes;   /* what users stored (sum of extents) */
	uint64_t unique_bytes;    /* after dedup (plain chunk bytes) */
	/* after dedup and similarity: a chunk stored as a delta against a
	 * similar one counts its delta, any other chunk its plain bytes
	 * (equal to unique_bytes while no chunk is a delta) */
	uint64_t similar_bytes;
	uint64_t delta_chunks;    /* chunks stored as deltas */
	uint64_t stored_bytes;    /* after compression: one copy of data */
	uint64_t chunks;
	uint64_t meta_pages;      /* pages of the tree */
	uint64_t meta_bytes;      /* one copy: meta_pages * page size */
	uint64_t meta_copies_bytes; /* every mirror: meta_copies of each */
	int meta_copies;          /* mirrors of each page */
	/* stored_bytes split by where it lies: in erasure-coded stripes,
	 * and in mirrored ones (the write buffer) */
	uint64_t data_ec_bytes, data_mirrored_bytes;
	uint64_t physical_bytes;  /* one copy: stored + meta_bytes */
	/* with the redundancy: EC data at (k + m) / k, mirrored data at
	 * m + 1 copies, pages at meta_copies */
	uint64_t protected_bytes;
	/* payload handed out in sealed data segments and no longer (or
	 * never: padding) holding a live chunk, waiting for the cleaner */
	uint64_t garbage_bytes;
};
/* Fill u from the newest root (read again at a newer one when space was
 * reused under the read). 0 or a negative errno. */
int ag_cluster_usage(struct ag_cluster *c, struct ag_usage *u);

/* Walk the whole tree and every reference; print findings to out (NULL:
 * quiet). Returns 0 when clean, 1 when damage was found, or a negative
 * errno when the check could not run. */
int ag_fsck(struct ag_cluster *c, FILE *out, int verbose);

/* Scrub (scrub.c): read every live copy of the metadata pages, the commit
 * records and the data strips, verify each, and with repair rewrite the
 * bad or missing ones from the surviving redundancy. */
struct ag_scrub_opts {
	int repair;     /* rewrite what can be rebuilt */
	int verbose;    /* one line per damaged copy on out */
	int progress;   /* one updating line on stderr */
	double rate_mb; /* read at most this many MB/s (0: no limit) */
	FILE *out;
};
/* Copies of one kind: read, failing their check, unreadable or absent,
 * rewritten, left damaged (with repair). */
struct ag_scrub_kind {
	uint64_t checked, bad, missing, repaired, unrepairable;
};
struct ag_scrub_report {
	uint64_t generation; /* the root whose pages were read */
	struct ag_scrub_kind pages, records, strips, mirrored;
	uint64_t skipped;    /* damaged, but changed under the scrub */
	uint64_t bytes;
	double seconds;
};
/* 0 when nothing is damaged (with repair: nothing left damaged), 1
 * otherwise, or a negative errno when the scrub could not run. */
int ag_scrub(struct ag_cluster *c, const struct ag_scrub_opts *o,
	     struct ag_scrub_report *r);

/* Drive replace (rebuild.c): format a new drive at path for slot drive
 * (not OK now: missing, failed or foreign; path is where the config
 * names it) and rebuild onto it every page copy, commit record copy,
 * strip and mirrored copy that lay there, from the other drives, beside
 * the running daemons (which take the new drive in by themselves). A
 * replace of a drive whose rebuild was cut short goes on from its
 * cursor. 0 when everything was rebuilt, 1 when some copies could not
 * be (run agora scrub), or a negative errno (-EBUSY: the drive is in use
 * and no rebuild of it is under way). */
struct ag_rebuild_opts {
	int force;       /* over a label of another cluster */
	int verbose;     /* one line per copy rewritten on out */
	int progress;    /* one updating line on stderr (else plain lines
			  * on out every few seconds) */
	double rate_mb;  /* read at most this many MB/s (0: no limit) */
	double settle_s; /* wait before reading for the daemons to take
			  * the drive in (< 0: a third of the lease + 2 s) */
	FILE *out;
};
struct ag_rebuild_report {
	struct ag_scrub_report scrub; /* what was read and rewritten */
	int resumed;                  /* went on from a cursor */
	uint32_t from_seg, from_stripe;
};
int ag_drive_replace(struct ag_cluster *c, int drive, const char *path,
		     const struct ag_rebuild_opts *o,
		     struct ag_rebuild_report *r);
/* Whether drive is a new one whose rebuild is under way or was cut
 * short (its cursor): 1, with the next stripe to rebuild and the bytes
 * read so far; 0 when not; a negative errno when it cannot be read. */
int ag_drive_rebuilding(struct ag_cluster *c, int drive, uint32_t *seg,
			uint32_t *stripe, uint64_t *done);

/* Cleaning (clean.c): copy the live chunks out of data segments into
 * fresh full-width erasure-coded stripes, so that the segments empty and
 * their space comes back. Two kinds of segment are cleaned: those
 * holding mirrored stripes (destaging: a small write costs m + 1 copies
 * of whole blocks there, and byte-granular EC stripes here), and those
 * whose data is mostly deleted, by LFS cost-benefit. Safe beside the
 * gateways and beside another cleaner: a chunk moves only while it is
 * where the cleaner read it. */
struct ag_clean_opts {
	int destage_only; /* only segments holding mirrored stripes */
	int verbose;      /* one line per batch of segments on out */
	int progress;     /* one updating line on stderr */
	double rate_mb;   /* copy at most this many MB/s (0: no limit) */
	double max_util;  /* clean no segment fuller than this share of
			   * live bytes (0: 0.8); destaging ignores it */
	/* with either set, clean only when free space is below free_pct %
	 * of the capacity or mirrored stripes hold more than mirrored_pct %
	 * of the stored bytes (agora clean --watch); 0 and 0: always */
	int free_pct, mirrored_pct;
	/* agora reduce: move only the chunks never through the similarity
	 * stage (delta.h), from every sealed segment */
	int reduce;
	FILE *out;
};
struct ag_clean_report {
	uint64_t victims;         /* segments chosen */
	uint64_t freed;           /* of those, empty at the end */
	uint64_t chunks, bytes;   /* chunks copied, their stored bytes */
	uint64_t lost;            /* copies made moot by a delete or another
				   * cleaner meanwhile */
	uint64_t unreadable;      /* chunks left where they are: no good copy */
	uint64_t deltas, saved;   /* copies made deltas, stored bytes saved */
	uint64_t recompressed, recompress_saved; /* copies kept whole but
						  * compressed again, the
						  * bytes that saved */
	uint64_t free_before, free_after;         /* free segments */
	uint64_t mirrored_before, mirrored_after; /* bytes mirrored stripes
						   * hold */
	uint64_t raw_before, raw_after; /* bytes the recorded data stripes
					 * take on the drives (a mirrored one
					 * m + 1 times its bytes) */
	uint64_t stored;          /* stored bytes of the live chunks */
	int skipped;              /* 1: thresholds not reached, nothing done */
	double seconds;
};
/* 0 (report in *r), or a negative errno: -ENOSPC when even the cleaner's
 * reserve ran out before a segment could empty. */
int ag_clean(struct ag_cluster *c, const struct ag_clean_opts *o,
	     struct ag_clean_report *r);

/* ---- S3 support (objects.c) ---- */

/* The MD5 of a regular file's content, its ETag: the stored one, or (for
 * a file written over POSIX) hashed from the data now and stored with
 * the element, unless the data changed meanwhile: the one write a read
 * makes (why: objects.c), which also drops what the S3 write that made
 * the older data claimed of it (AG_XATTR_PARTS, the checksums). a is the
 * element's attributes as the caller read them. */
int ag_etag(struct ag_cluster *c, const struct ag_attr *a, uint8_t md5[16]);

/* Objects: a key ("a/b/c", or "a/b/" for a directory) names a path below
 * the directory dir (a bucket). The directories on its way that no one
 * made explicitly are implicit (AG_ATTR_IMPLICIT): made, as the object's
 * owner, in the very transaction that publishes the object, and removed
 * in the one that removes the last key below them; so a crash leaves
 * every one of them with the object, or none. Keys are checked as
 * ag_path_check checks names (-EINVAL, -ENAMETOOLONG); a key starting
 * with '/' is -EINVAL. */
/* What key names: a regular file, or with a trailing '/' a directory.
 * -ENOENT when nothing, or something else, is there; -ENOTDIR when a
 * non-directory is on the way; -EISDIR when key names a file and a
 * directory is there. */
int ag_object_find(struct ag_cluster *c, uint64_t dir, const char *key,
		   struct ag_attr *a);
/* ag_writer_commit of w at key (no trailing '/'), making the missing
 * parents (uid, gid, mode 0755) in the publishing transaction: -EEXIST
 * when a non-directory is on the way, -EISDIR when key is a directory. */
int ag_object_commit(struct ag_writer *w, uint64_t dir, const char *key,
		     uint32_t uid, uint32_t gid, struct ag_attr *a);
/* Make the directory "name/" a key names (explicit: it outlives the
 * keys below it; an implicit one of that name becomes explicit) and its
 * missing parents, in one transaction; an existing one is success. */
int ag_object_mkdir(struct ag_cluster *c, uint64_t dir, const char *key,
		    uint32_t uid, uint32_t gid, struct ag_attr *a);
/* Remove what ag_object_find finds (a directory only when empty:
 * -ENOTEMPTY), and the implicit parents it leaves empty, in one
 * transaction. cond and md5 as ag_unlink_if (files only: -EINVAL for a
 * directory). */
int ag_object_remove(struct ag_cluster *c, uint64_t dir, const char *key,
		     int cond, const uint8_t md5[16]);
#define AG_ETAG_MAX 48
/* The ETag of an object as S3 quotes it (with its quotes, NUL-ended):
 * the MD5 of its bytes in hex (ag_etag: hashed and stored for a file
 * written over POSIX), followed by "-N" for an object completed from N
 * parts while its data is the completed one; a directory's is the MD5 of
 * nothing. */
int ag_object_etag(struct ag_cluster *c, const struct ag_attr *a,
		   char out[AG_ETAG_MAX]);
/* The rule itself: md5 quoted, with "-nparts" when nparts is not 0. */
void ag_etag_format(const uint8_t md5[16], unsigned nparts,
		    char out[AG_ETAG_MAX]);
/* The ETag of a multipart completion, in w's publishing transaction:
 * md5 (of the parts' MD5s) and the part count (1 to AG_PARTS_MAX) that
 * makes ag_object_etag answer "MD5-N", with the upload's ID and the
 * parts' sizes when given (NULL: not known). (parts.c) */
#define AG_PARTS_MAX 10000
#define AG_UPLOAD_ID_LEN 32
int ag_object_set_parts(struct ag_writer *w, const uint8_t md5[16],
			unsigned nparts, const char *upload_id,
			const uint64_t *sizes);
/* Of an object as a reads it: its part count (0: not completed from
 * parts, or its data changed since) and the ID of the upload that
 * completed it (upload_id NULL, or "" when not known). */
int ag_object_parts(struct ag_cluster *c, const struct ag_attr *a,
		    unsigned *nparts, char upload_id[AG_UPLOAD_ID_LEN + 1]);
/* The bytes [*off, *off + *len) of part (1-based; part 1 of any other
 * object is all of it): -ERANGE when it has no such part, -ENODATA when
 * the sizes of its parts were not kept. */
int ag_object_part(struct ag_cluster *c, const struct ag_attr *a,
		   unsigned part, uint64_t *off, uint64_t *len);
/* The xattrs in which an S3 write states what it knew of the bytes: the
 * part count, and a checksum per algorithm (AG_XATTR_CHECKSUM_PREFIX and
 * its name, "crc32", ...). They hold while the ETag flag does, and the
 * core drops them when it stores the ETag of data changed since. */
#define AG_XATTR_PARTS "agora.s3.parts"
#define AG_XATTR_CHECKSUM_PREFIX "agora.s3.checksum-"
/* The version an element of a versioned bucket is (keys.h, stamps), and
 * a bucket directory's versioning state ("Enabled" or "Suspended";
 * absent: never enabled). versions.c reads and sets them. */
#define AG_XATTR_VERSION "agora.s3.version"
#define AG_XATTR_VERSIONING "agora.s3.versioning"

/* ---- server-side encryption (crypt.c) ----
 *
 * An element written through an ag_crypt_writer holds AES-256-GCM
 * ciphertext (its size the plaintext's), read back with the key through
 * ag_crypt_read only; AG_XATTR_SSE says how, and its presence makes the
 * other faces refuse the element (its bytes mean nothing to them). */
#define AG_XATTR_SSE "agora.sse"
#define AG_XATTR_SSE_TAGS "agora.sse.tags"
/* on a multipart upload begun encrypted: "KIND KEYMD5" (sse.c) */
#define AG_XATTR_SSE_UPLOAD "agora.sse.upload"
#define AG_SSE_BLOCKS_MAX 3840 /* their tags fit one xattr */
#define AG_XATTR_SSE_MAX 65536 /* the description of the segments too */
enum { AG_SSE_CUSTOMER = 1, AG_SSE_CLUSTER = 2 };
struct ag_sse_seg {
	uint64_t off, size;  /* of its plaintext in the element */
	uint8_t salt[16];
	uint32_t block;
	uint64_t tag0;       /* its first block's tag, in tags */
};
struct ag_sse {
	int kind;            /* AG_SSE_* */
	uint8_t key_md5[16]; /* of the key it was written with */
	uint32_t nseg;
	struct ag_sse_seg *seg;
	uint64_t size;       /* the segments' bytes */
	uint64_t blocks;
	uint8_t *tags;       /* 16 bytes per block */
};
struct ag_crypt_writer;
/* Encrypt what goes through it into w, with key (32 bytes); size_hint
 * (the bytes to come, or 0) sizes the blocks: more than it allows is
 * -EFBIG. */
int ag_crypt_writer_new(struct ag_writer *w, int kind, const uint8_t key[32],
			uint64_t size_hint, struct ag_crypt_writer **cwp);
int ag_crypt_write(struct ag_crypt_writer *cw, const void *p, size_t n);
/* The last block, AG_XATTR_SSE and the tags in w's publishing
 * transaction, and the MD5 of the plaintext as its ETag. */
int ag_crypt_writer_finish(struct ag_crypt_writer *cw);
void ag_crypt_writer_free(struct ag_crypt_writer *cw);
/* Store how an element is encrypted, in w's publishing transaction:
 * -EFBIG when its tags or segments would not fit. */
int ag_sse_put(struct ag_writer *w, const struct ag_sse *s);
/* How ino is encrypted (s NULL: whether it is): 0, -ENODATA when it is
 * not; free with ag_sse_free. */
int ag_sse_get(struct ag_cluster *c, uint64_t ino, struct ag_sse *s);
void ag_sse_free(struct ag_sse *s);
int ag_sse_key_matches(const struct ag_sse *s, const uint8_t key[32]);
/* Plaintext bytes [off, off + len) of a: the count, -EACCES for another
 * key, -EBADMSG for bytes that are not what was written. */
ssize_t ag_crypt_read(struct ag_cluster *c, const struct ag_attr *a,
		      const struct ag_sse *s, const uint8_t key[32],
		      uint64_t off, void *buf, size_t len);

/* ---- S3 lifecycle (lifecycle.c) ----
 *
 * A bucket's lifecycle rules, kept by the core in its directory's private
 * xattr AG_XATTR_LIFECYCLE, and the run that applies them. An object's
 * tags are the xattr AG_XATTR_TAGS ("k=v&k=v", the gateway's encoding;
 * a rule's tags are parts of that same form). */
#define AG_XATTR_LIFECYCLE "agora.lifecycle"
#define AG_XATTR_TAGS "agora.tags"
struct ag_lifecycle_rule {
	char id[256];
	int enabled;
	char prefix[1025];   /* of the keys it applies to ("": all) */
	char *tags;          /* parts every object's tag set must hold */
	int expire_days;     /* objects expire this many days after their
			      * mtime; 0: not by age */
	int64_t expire_date; /* or once this time (s since 1970) passed */
	int abort_days;      /* uploads are dropped this many days after
			      * they began; 0: never */
	int noncurrent_days; /* versions are removed this many days after
			      * they became noncurrent; 0: never */
};
int ag_lifecycle_get(struct ag_cluster *c, uint64_t bucket,
		     struct ag_lifecycle_rule **rules, int *n);
/* n rules replace the bucket's (none: no rules); tags may be NULL. */
int ag_lifecycle_set(struct ag_cluster *c, uint64_t bucket,
		     const struct ag_lifecycle_rule *rules, int n);
void ag_lifecycle_free(struct ag_lifecycle_rule *rules, int n);
/* The codec of the xattr, for the tests. */
int ag_lifecycle_encode(const struct ag_lifecycle_rule *rules, int n,
			char **out, size_t *len);
int ag_lifecycle_decode(const char *buf, size_t len,
			struct ag_lifecycle_rule **rules, int *n);
struct ag_lifecycle_report {
	uint64_t buckets;  /* with rules */
	uint64_t objects;  /* looked at */
	uint64_t expired;  /* removed */
	uint64_t aborted;  /* uploads dropped */
	uint64_t noncurrent; /* noncurrent versions removed */
};
/* Apply every bucket's rules now, a day being day_seconds long. */
int ag_lifecycle_run(struct ag_cluster *c, int64_t day_seconds,
		     struct ag_lifecycle_report *report);

/* ---- S3 versioning (versions.c) ----
 *
 * A bucket's versioning is off until enabled; then suspended or enabled
 * again, never off. While it is on, ag_object_commit keeps the element a
 * key named as a noncurrent version and ag_object_remove adds a delete
 * marker (the element removed becomes a noncurrent version); each new
 * element is stamped with a version id. Suspended, new elements and
 * markers are the "null" version, which replaces the key's null version.
 * Ids are AG_VERSION_ID_MAX - 1 hex digits, or "null". In a versioned
 * bucket a key takes at most AG_VERSION_KEY_LEN bytes (-ENAMETOOLONG). */
#define AG_VERSIONING_OFF 0
#define AG_VERSIONING_ENABLED 1
#define AG_VERSIONING_SUSPENDED 2
#define AG_VERSION_ID_MAX 17
#define AG_VERSION_KEY_LEN 270
#define AG_VER_MARKER 0x1 /* a delete marker */
#define AG_VER_NULL 0x2   /* the version "null" */
struct ag_version {
	uint64_t seq;         /* order: a higher seq is newer */
	uint64_t ino;         /* its element; 0 for a marker */
	int64_t mtime;        /* a marker's time (an element has its own) */
	unsigned flags;       /* AG_VER_* */
	int latest;           /* the key's newest version */
	char id[AG_VERSION_ID_MAX];
};
/* The bucket directory's state, AG_VERSIONING_*. */
int ag_versioning_get(struct ag_cluster *c, uint64_t bucket, int *state);
/* ENABLED or SUSPENDED (-EINVAL for OFF: once on, never off). */
int ag_versioning_set(struct ag_cluster *c, uint64_t bucket, int state);
/* The version of a key's current element a: latest. */
int ag_version_current(struct ag_cluster *c, const struct ag_attr *a,
		       struct ag_version *v);
/* Version id of key in bucket: 0 with *v, and its element's attributes
 * in *a unless it is a marker; -ENOENT when there is no such version,
 * -EINVAL for an id that is no version id. */
int ag_version_find(struct ag_cluster *c, uint64_t bucket, const char *key,
		    const char *id, struct ag_version *v, struct ag_attr *a);
/* Remove version id of key for good (the current element, a noncurrent
 * version or a marker; *v says which it was); when the key's current
 * element or newest marker went, its newest remaining element becomes
 * current, with the implicit directories (uid, gid) it needs. */
int ag_version_remove(struct ag_cluster *c, uint64_t bucket, const char *key,
		      const char *id, uint32_t uid, uint32_t gid,
		      struct ag_version *v);
/* The newest noncurrent version or marker of key: 0, -ENOENT. */
int ag_version_newest(struct ag_cluster *c, uint64_t bucket, const char *key,
		      struct ag_version *v);
/* One noncurrent version or marker met by ag_version_scan. */
struct ag_version_ent {
	char key[AG_VERSION_KEY_LEN + 1];
	struct ag_version v;
};
/* Up to max noncurrent versions and markers of bucket's keys, in key
 * order and newest first, after (after_key, after_seq): the versions
 * of after_key older than after_seq (after_seq 0: none of after_key),
 * then those of the keys after it (after_key "": from the start).
 * Their count, or -errno. */
int ag_version_scan(struct ag_cluster *c, uint64_t bucket,
		    const char *after_key, uint64_t after_seq,
		    struct ag_version_ent *out, int max);
/* The seq of an id ("null": 0 with *null set), or -EINVAL. */
int ag_version_id_parse(const char *id, uint64_t *seq, int *null);
/* The mount's face (agora-fused): ag_unlink, but a file of a versioned
 * bucket is removed as an S3 DELETE removes it (kept as a noncurrent
 * version under a new delete marker; the directories stay). */
int ag_version_unlink(struct ag_cluster *c, uint64_t parent,
		      const char *name);
/* ag_rename, but a file it replaces in a versioned bucket is kept as a
 * noncurrent version, and the file renamed in becomes the key's newest
 * version. The source key is left as it is (no marker). */
int ag_version_rename(struct ag_cluster *c, uint64_t sparent,
		      const char *sname, uint64_t dparent, const char *dname,
		      unsigned flags);
/* Before ino's bytes change in place (opened for writing, truncated):
 * when it is the current element of a key of a versioned bucket, a copy
 * sharing its chunks becomes the noncurrent version it was, and ino the
 * key's newest version. 0 when there is nothing to keep. */
int ag_version_before_write(struct ag_cluster *c, uint64_t ino);
/* Before ag_writer_commit(w, parent, name): when that is a key of a
 * versioned bucket, the commit keeps what it replaces as a noncurrent
 * version and its element is the key's newest (the agora tool's put). */
int ag_version_prepare(struct ag_writer *w, uint64_t parent,
		       const char *name);

/* ---- S3 multipart uploads (uploads.c) ----
 *
 * Where an upload and its parts live, decided by the core; they are
 * private names (below), so every call needs a handle opened with
 * AG_OPEN_PRIVATE. An upload is named by its ID (AG_UPLOAD_ID_LEN hex
 * digits) and answers only for the bucket and key it was started for;
 * up (its attributes) is where the metadata the object will get are
 * kept, as xattrs. AG_UPLOAD_ID_LEN is above (the parts claim). */
/* Start an upload of key in bucket (names, not checked): its new ID in
 * id, its attributes in *up. */
int ag_upload_create(struct ag_cluster *c, const char *bucket,
		     const char *key, uint32_t uid, uint32_t gid,
		     char id[AG_UPLOAD_ID_LEN + 1], struct ag_attr *up);
/* The upload id of bucket and key: -ENOENT when there is none (a
 * malformed id, another bucket or key, completed or aborted). */
int ag_upload_find(struct ag_cluster *c, const char *id, const char *bucket,
		   const char *key, struct ag_attr *up);
/* Publish w as part number part (1 to AG_PARTS_MAX) of up, replacing a
 * part of that number; *a as ag_writer_commit. */
int ag_upload_part_commit(struct ag_writer *w, const struct ag_attr *up,
			  unsigned part, struct ag_attr *a);
/* Part number part of up: -ENOENT when it was never uploaded. */
int ag_upload_part(struct ag_cluster *c, const struct ag_attr *up,
		   unsigned part, struct ag_attr *a);
/* Call cb for each part of up in increasing number; a non-zero return
 * stops and is returned. */
int ag_upload_parts(struct ag_cluster *c, const struct ag_attr *up,
		    int (*cb)(void *arg, unsigned part,
			      const struct ag_attr *a),
		    void *arg);
/* Drop the upload up (named id) and its parts: after an abort, or once
 * a completion published the object, which shares the parts' chunks. */
int ag_upload_drop(struct ag_cluster *c, const struct ag_attr *up,
		   const char *id);
/* Call cb for each upload started in bucket (in no order): its id, key
 * and attributes (btime: when it was started). */
int ag_upload_list(struct ag_cluster *c, const char *bucket,
		   int (*cb)(void *arg, const char *id, const char *key,
			     const struct ag_attr *up),
		   void *arg);
/* Completing an upload: the parts the client names, added in increasing
 * number, become the object by reference to their chunks. Free with
 * ag_upload_build_free (accepts NULL); drop the upload with
 * ag_upload_drop once the commit succeeded. */
struct ag_upload_build;
#define AG_UPLOAD_MIN_PART (5ull << 20) /* every part but the last */
int ag_upload_build_new(struct ag_cluster *c, const struct ag_attr *up,
			const char *id, uint32_t uid, uint32_t gid,
			struct ag_upload_build **bp);
/* Add part number part, whose MD5 the client gives: -EINVAL when not
 * above the last one added, -ERANGE when the last one added is smaller
 * than AG_UPLOAD_MIN_PART, -ENOENT when part was not uploaded or has
 * another MD5. Encrypted parts (crypt.c) make an encrypted object: all
 * of them with one key (-EPERM otherwise), AG_SSE_BLOCKS_MAX blocks in
 * all (-EFBIG). */
int ag_upload_build_add(struct ag_upload_build *b, unsigned part,
			const uint8_t md5[16]);
/* The writer of the object, for its metadata and its condition
 * (ag_writer_setxattr, ag_writer_expect); owned by b. */
struct ag_writer *ag_upload_build_writer(struct ag_upload_build *b);
/* Publish the object at key below dir (ag_object_commit) with the
 * multipart ETag, which etag gets as committed; -EINVAL when no part was
 * added. */
int ag_upload_build_commit(struct ag_upload_build *b, uint64_t dir,
			   const char *key, uint32_t uid, uint32_t gid,
			   struct ag_attr *a, char etag[AG_ETAG_MAX]);
void ag_upload_build_free(struct ag_upload_build *b);

/* Names the gateways keep to themselves: xattrs in the "agora." namespace
 * (S3 attributes, the users and their secrets) and the top-level directory
 * of multipart uploads. A handle opened without AG_OPEN_PRIVATE neither
 * sees nor touches them: ag_lookup, ag_resolve and ag_readdir hide the
 * names (-ENOENT), making, linking or renaming onto one is -EPERM, and
 * the xattr calls answer -ENODATA (get) or -EOPNOTSUPP (set, remove) and
 * list none, so an adapter cannot expose them by forgetting to filter
 * (the kernel passes any xattr name to a FUSE file system). */
#define AG_PRIVATE_XATTR_PREFIX "agora."
#define AG_UPLOADS_DIR ".agora-multipart"
int ag_xattr_private(const char *name);
int ag_name_private(uint64_t parent, const char *name, size_t nlen);

/* S3 users: xattrs "agora.s3.user.ACCESS" of the root directory, value
 * "SECRET UID GID NAME" (private names: see above). */
struct ag_user {
	char name[65];
	char access[33];
	char secret[65];
	uint32_t uid, gid;
};
/* Add u (its access key must be new: -EEXIST; so must its name). */
int ag_user_add(struct ag_cluster *c, const struct ag_user *u);
/* Find the user of an access key: -ENOENT when there is none. */
int ag_user_get(struct ag_cluster *c, const char *access, struct ag_user *u);
/* Remove the user named name (or holding that access key). */
int ag_user_remove(struct ag_cluster *c, const char *name);
/* Call cb for each user; a non-zero return stops and is returned. */
int ag_user_list(struct ag_cluster *c,
		 int (*cb)(void *arg, const struct ag_user *u), void *arg);

/* ---- events and triggers (events.c, trigger.c; agora(8)) ---- */

/* The protocol a handle's changes come through, which the events of its
 * commits carry (0: none said, "core"). NFS and SMB arrive through the
 * mount: fuse. */
#define AG_PROTO_FUSE 1
#define AG_PROTO_S3 2
#define AG_PROTO_AGORA 3
void ag_cluster_set_origin(struct ag_cluster *c, unsigned proto);
/* Print the events of the log from sequence since on (0: the oldest
 * kept), one JSON object a line, to out. With follow, wait for the
 * commits that come next (metad tells, no polling) and print theirs,
 * until an error or *stop becomes non-zero (stop may be NULL). */
int ag_events_print(struct ag_cluster *c, uint64_t since, int follow,
		    volatile int *stop, FILE *out);

/* A trigger: the events of kinds on ("created,closed", NULL: closed)
 * whose path starts with prefix and ends with suffix (NULL: any) run
 * exec (through sh -c) or are POSTed to webhook, one of the two. A
 * webhook POSTs the form of the event it says: a CloudEvent, or the
 * S3 event notification ({"Records": [...]}) of a bucket's
 * NotificationConfiguration element (topic, queue or cloud function,
 * as agora-s3d took it), of regular files only: a closed event is
 * ObjectCreated:Put, a deleted one ObjectRemoved:Delete. */
#define AG_TRIGGER_FORM_CLOUDEVENT 0
#define AG_TRIGGER_FORM_S3_TOPIC 1
#define AG_TRIGGER_FORM_S3_QUEUE 2
#define AG_TRIGGER_FORM_S3_FUNCTION 3
#define AG_TRIGGER_FORM_MAX 3
struct ag_trigger_spec {
	const char *name, *prefix, *suffix, *on, *exec, *webhook;
	int form; /* AG_TRIGGER_FORM_*; an exec's is 0 */
};
/* -EEXIST when name is taken, -EINVAL for a bad name or kind. A new
 * trigger sees the events committed after it. */
int ag_trigger_add(struct ag_cluster *c, const struct ag_trigger_spec *s);
int ag_trigger_remove(struct ag_cluster *c, const char *name);
/* In one transaction: remove every trigger whose name starts with
 * group, and add the n of specs (each named within group too, or
 * -EINVAL). A trigger added again starts over at the next event. */
int ag_trigger_replace(struct ag_cluster *c, const char *group,
		       const struct ag_trigger_spec *specs, size_t n);
/* fn(arg, s) for each trigger whose name starts with group, in the
 * order of names (s's strings last until fn returns; s->on lists its
 * kinds, "closed,deleted"); a non-zero return of fn stops the walk
 * and is returned. */
int ag_trigger_list(struct ag_cluster *c, const char *group,
		    int (*fn)(void *arg, const struct ag_trigger_spec *s),
		    void *arg);
/* One line per trigger: name, kinds, prefix, suffix, action, cursor,
 * dead letters; then the dead letters. */
int ag_trigger_print(struct ag_cluster *c, FILE *out);
struct ag_deliver_opts {
	int watch;        /* go on as commits come, until *stop */
	int max_failures; /* a dead letter after this many (0: 5) */
	int retry_ms;     /* first back-off, doubled each time (0: 200) */
	int lease_s;      /* the deliverer's lease (0: 10) */
	int verbose;
	volatile int *stop;
	FILE *out;        /* what was delivered, a line each (NULL: none) */
};
/* Deliver what the triggers have not had yet, each trigger in order,
 * at least once. -EBUSY when another deliverer holds the lease. */
int ag_trigger_run(struct ag_cluster *c, const struct ag_deliver_opts *o);
/* Keep the SQLite database db (made when missing) a catalog of the
 * namespace: built by a walk the first time, then brought up to date
 * from the event log; with follow, kept so as commits come, until an
 * error or *stop. A line of what it did goes to out (may be NULL). */
int ag_catalog_run(struct ag_cluster *c, const char *db, int follow,
		   volatile int *stop, FILE *out);

#endif
