/*
 * file_int.h - what file.c lends to openfile.c: a sink that chunks,
 * fingerprints, dedups, compresses and stores bytes, gathers them as
 * WRITE ops of one transaction and commits it. Nothing outside common/
 * includes it.
 *
 * A sink belongs to one thread at a time (the caller serialises).
 */
#ifndef AG_FILE_INT_H
#define AG_FILE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "agora.h"

/* A writer commits its extents at least this often, so that one
 * transaction stays small and a crash loses little unacknowledged work. */
#define AG_COMMIT_EVERY (32u << 20)
/* A write that finds the tree moved under it (-ESTALE: the bytes it
 * filled in, or a chunk it deduplicated against, changed) starts again
 * from the newest root, at most this many times in all, then fails
 * loudly: under contention it must not spin for ever. */
#define AG_STALE_TRIES 16

struct ag_sink;

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
/* Seal the stored data and commit the transaction (durable on return);
 * the sink is ready for the next one. */
int ag_sink_commit(struct ag_sink *s);
/* Drop the transaction being built after a failure before its commit
 * (a chunk that found no space, an inode gone): a sink kept for the next
 * flush, maybe of another file, must not carry its ops, nor its chunks
 * that the tree never got as dedup hits, nor hold back the release of
 * retired segments as a writer with uncommitted chunks. Accepts NULL. */
void ag_sink_abort(struct ag_sink *s);

/* ag_writer_commit with the MKNODE ops of dirs (a transaction holding
 * only those; NULL or empty: none) in the publishing transaction, ahead
 * of the condition and the LINK, which then name the directory the last
 * of them made or found (parent is unused then). Used by objects.c
 * for an S3 key's implicit parents: all of them and the element, or
 * none. */
struct ag_txn;
int ag_writer_commit_under(struct ag_writer *w, const struct ag_txn *dirs,
			   uint64_t parent, const char *name,
			   struct ag_attr *a);

#endif
