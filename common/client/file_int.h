/*
 * file_int.h - what the modules of element data share: the read path
 * (read.c), the write sink (sink.c), the streaming writer (writer.c),
 * random writes (write.c) and open files (openfile.c). A sink chunks,
 * fingerprints, dedups, compresses and stores bytes, gathers them as
 * WRITE ops of one transaction and commits it. Nothing outside common/
 * includes it.
 *
 * A sink belongs to one thread at a time (the caller serialises).
 */
#ifndef AG_FILE_INT_H
#define AG_FILE_INT_H

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zstd.h>

#include "cluster.h"

/* A writer commits its extents at least this often, so that one
 * transaction stays small and a crash loses little unacknowledged work. */
#define AG_COMMIT_EVERY (32u << 20)
/* A write that finds the tree moved under it (-ESTALE: the bytes it
 * filled in, or a chunk it deduplicated against, changed) starts again
 * from the newest root, at most this many times in all, then fails
 * loudly: under contention it must not spin for ever. */
#define AG_STALE_TRIES 16
/* 1 when a write that failed with rc is to start again from the newest
 * root: -ESTALE, or -AG_ESTALEROOT (a page its sink read was reused
 * since its root: c is refreshed first, so that the next try's sink
 * sees a root that holds the page); 0 for any other rc. */
int ag_sink_again(struct ag_cluster *c, int rc);

/* ---- read path (read.c) ---- */

struct ag_chunk_rec;

/* The chunk record of sha in t: 0, -ENOENT, or -errno. */
int ag_read_chunk_rec(struct ag_tree *t, const uint8_t *sha,
		      struct ag_chunk_rec *rec);
/* The plain bytes of the chunk of rec, in a malloc'd buffer of rec->ulen
 * (the caller frees it): its stored bytes read and verified (rebuilt
 * from the other strips if need be), decompressed, and for a delta
 * decoded against its reference as t records it. 0, -AG_ECORRUPT, or
 * -errno. */
int ag_read_chunk_plain(struct ag_cluster *c, struct ag_tree *t,
			const struct ag_chunk_rec *rec, uint8_t **out);
/* Turn a chunk's stored bytes into its rec->ulen plain bytes at plain;
 * a delta's reference is found in t. */
int ag_read_chunk_decode(struct ag_cluster *c, struct ag_tree *t,
			 const struct ag_chunk_rec *rec, const uint8_t *stored,
			 uint8_t *plain);
/* The plain bytes of chunk sha, the reference of a delta, from the chunk
 * cache or read (and then cached: the deltas against one reference are
 * often read together, as the versions of one file are), in a malloc'd
 * buffer of *len bytes: -AG_ECORRUPT when sha is missing or a delta. */
int ag_read_reference(struct ag_cluster *c, struct ag_tree *t,
		      const uint8_t *sha, uint8_t **out, uint32_t *len);
/* Read [off, off + len) of ino as t has it (holes and the range past the
 * last extent as zeros, up to the file's size): the byte count, or
 * -errno. ag_read is this at the newest root, retried once when the
 * root moved. */
ssize_t ag_read_tree(struct ag_cluster *c, struct ag_tree *t, uint64_t ino,
		     uint64_t off, uint8_t *buf, size_t len);

/* ---- the sink (sink.c) ---- */

struct cut;
struct local_chunk;

/* What one preparing thread owns. */
struct preparer {
	ZSTD_CCtx *zc;
	EVP_MD_CTX *md;
	struct cut *cuts;
	size_t ncuts;
	atomic_size_t *next;  /* the next cut nobody took, shared */
};

#define PREPARERS 2

struct ag_sink {
	struct ag_cluster *c;
	struct ag_txn txn;
	uint64_t ino;         /* 0: the orphan made by this txn's MKNODE */
	struct ag_tree *dedup; /* tree at the root of the last commit */
	struct preparer prep[PREPARERS];
	struct cut *cuts;
	size_t cuts_cap;
	uint8_t *arena;       /* compressed chunks of the batch */
	size_t arena_cap;
	struct local_chunk *local;
	uint32_t nlocal, local_cap;
	uint64_t uncommitted;  /* bytes chunked since the last commit */
	int packing;           /* counted in c->inflight */
};

/* Set up s (embedded in its writer) on c, at the newest root; on failure
 * s must still be given to ag_sink_destroy. */
int ag_sink_init(struct ag_sink *s, struct ag_cluster *c);
/* Undo ag_sink_init; uncommitted work is dropped. */
void ag_sink_destroy(struct ag_sink *s);
/* A sink on the heap (-EROFS on a read-only handle). */
int ag_sink_new(struct ag_cluster *c, struct ag_sink **sp);
/* Accepts NULL; uncommitted work is dropped. */
void ag_sink_free(struct ag_sink *s);
/* Look at the newest root for dedup and widen: a sink kept between
 * commits must, as others' commits may have dropped chunks and extents
 * it saw. */
int ag_sink_refresh(struct ag_sink *s);
/* Extend [*start, *end) to the edges of ino's committed extents it cuts
 * (as of the sink's last commit or refresh), so that a rewrite of that
 * range re-chunks whole extents. */
int ag_sink_widen(struct ag_sink *s, uint64_t ino, uint64_t *start,
		  uint64_t *end);
/* Fill buf with committed bytes [off, off + len) of ino as the sink
 * sees them (the root of its last commit or refresh), zeros past the
 * committed end: the bytes a widened write fills in. 0 or -errno. */
int ag_sink_fill(struct ag_sink *s, uint64_t ino, uint64_t off, void *buf,
		 size_t len);
/* Open a WRITE op replacing the extents of ino starting in [start, end);
 * the size grows to new_size. With filled (some bytes of the range came
 * from ag_sink_fill, not from the writer), the commit applies only if
 * no other commit changed the range's extents since the sink's root; it
 * fails with -ESTALE otherwise, and the writer starts again from a
 * refresh. So a commit changes exactly the bytes its writer wrote. */
int ag_sink_begin(struct ag_sink *s, uint64_t ino, uint64_t start,
		  uint64_t end, uint64_t new_size, int filled);
/* A WRITE op of buf appended at the end of ino as metad finds it
 * (AG_WRITE_APPEND): chunked from offset 0 of buf, placed at the file's
 * size when applied. Without eof the tail after the last cut point is
 * left; *used says how much went. */
int ag_sink_append(struct ag_sink *s, uint64_t ino, const void *buf,
		   size_t len, int eof, size_t *used);
/* Change the new_size of the open WRITE op. */
int ag_sink_size(struct ag_sink *s, uint64_t new_size);
/* Chunk and store buf, file offset off, into the open WRITE op. With
 * eof everything is used; otherwise the tail after the last cut point is
 * left, and *used says how much was taken. */
int ag_sink_bytes(struct ag_sink *s, const void *buf, size_t len,
		  uint64_t off, int eof, size_t *used);
/* Seal the stored data and commit the transaction (durable on return),
 * with metad's reply in *r (may be NULL); the sink is ready for the next
 * one, at the root of this commit. */
int ag_sink_commit(struct ag_sink *s, struct ag_rpc_reply *r);
/* Drop the transaction being built after a failure before its commit
 * (a chunk that found no space, an inode gone): a sink kept for the next
 * flush, maybe of another file, must not carry its ops, nor its chunks
 * that the tree never got as dedup hits, nor hold back the release of
 * retired segments as a writer with uncommitted chunks. Accepts NULL. */
void ag_sink_abort(struct ag_sink *s);

/* ---- the streaming writer (writer.c) ---- */

/* ag_writer_commit with the MKNODE ops of dirs (a transaction holding
 * only those; NULL or empty: none) in the publishing transaction, ahead
 * of the condition and the LINK, which then name the directory the last
 * of them made or found (parent is unused then). Used by objects.c
 * for an S3 key's implicit parents: all of them and the element, or
 * none. */
int ag_writer_commit_under(struct ag_writer *w, const struct ag_txn *dirs,
			   uint64_t parent, const char *name,
			   struct ag_attr *a);
/* The publishing commit keeps what key names in the bucket directory
 * bucket as a noncurrent version (a VERSION KEEP before the LINK, with
 * flags AG_VERSION_SUSPENDED or 0, txn.h) and stamps the element it
 * publishes as the key's newest version (the null one in a suspended
 * bucket). Used by versions.c, which decides. */
int ag_writer_version(struct ag_writer *w, uint64_t bucket, const char *key,
		      uint32_t flags);
/* The handle w writes through. */
struct ag_cluster *ag_writer_cluster(struct ag_writer *w);

#endif
