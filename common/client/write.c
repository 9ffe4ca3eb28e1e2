/*
 * write.c - random writes and clones of element data (ag_write,
 * ag_clone_range, agora.h), each committed before it returns.
 *
 * A write of [off, off + len) is widened to the committed extents it
 * cuts, filled in from the committed bytes around it and re-chunked
 * whole, in pieces of AG_COMMIT_EVERY bytes; a piece whose filled-in
 * bytes another commit changed meanwhile fails with -ESTALE and is
 * written again from the newest root, at most AG_STALE_TRIES times. A
 * clone copies extents, never bytes: metad adds references to the
 * source's chunks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster.h"
#include "file_int.h"
#include "util.h"

/* Write len bytes at off of ino through s, as one commit: the range
 * widened to the extents it cuts, the widening filled in from s's root. */
static ssize_t write_piece(struct ag_cluster *c, struct ag_sink *s,
			   uint64_t ino, uint64_t off, const uint8_t *data,
			   size_t len)
{
	uint64_t start = off, end = off + len;
	struct ag_attr a;
	uint8_t *region;
	size_t used;
	int rc;

	rc = ag_getattr(c, ino, &a);
	if (rc)
		return rc;
	if (S_ISDIR(a.mode))
		return -EISDIR;
	if (!S_ISREG(a.mode))
		return -EINVAL;
	rc = ag_sink_widen(s, ino, &start, &end);
	if (rc)
		return rc;
	region = malloc(end - start);
	if (!region)
		return -ENOMEM;
	rc = ag_sink_fill(s, ino, start, region, off - start);
	memcpy(region + (off - start), data, len);
	if (!rc)
		rc = ag_sink_fill(s, ino, off + len,
				  region + (off - start) + len,
				  end - off - len);
	if (!rc)
		rc = ag_sink_begin(s, ino, start, end,
				   AG_MAX(a.size, off + len),
				   start < off || end > off + len);
	if (!rc)
		rc = ag_sink_bytes(s, region, end - start, start, 1, &used);
	if (!rc)
		rc = ag_sink_commit(s, NULL);
	free(region);
	return rc ? rc : (ssize_t)len;
}

ssize_t ag_clone_range(struct ag_cluster *c, uint64_t src, uint64_t soff,
		       uint64_t dst, uint64_t doff, uint64_t len)
{
	struct ag_op_clone o = { .src = src, .soff = soff, .dst = dst,
				 .doff = doff };
	struct ag_attr a;
	struct ag_txn t;
	int rc;

	if (!c->rpc)
		return -EROFS;
	rc = ag_getattr(c, src, &a);
	if (rc)
		return rc;
	if (!S_ISREG(a.mode))
		return S_ISDIR(a.mode) ? -EISDIR : -EINVAL;
	if (soff >= a.size || !len)
		return 0;
	o.len = AG_MIN(len, a.size - soff);
	if (doff + o.len < doff)
		return -EFBIG;
	ag_cl_txn(c, &t);
	ag_txn_clone(&t, &o);
	rc = ag_cl_commit(c, &t, NULL);
	ag_txn_release(&t);
	return rc ? rc : (ssize_t)o.len;
}

ssize_t ag_write(struct ag_cluster *c, uint64_t ino, uint64_t off,
		 const void *buf, size_t len)
{
	const uint8_t *p = buf;
	struct ag_sink s;
	size_t done = 0;
	int rc, tries = 0;

	if (!c->rpc)
		return -EROFS;
	if (off + len < off)
		return -EFBIG;
	rc = ag_sink_init(&s, c);
	while (!rc && done < len) {
		size_t n = AG_MIN(len - done, AG_COMMIT_EVERY);
		ssize_t w = write_piece(c, &s, ino, off + done, p + done, n);

		/* another commit changed the bytes filled in around ours,
		 * or dropped a chunk we found: again, from the newest root */
		if (w < 0 && ++tries < AG_STALE_TRIES &&
		    ag_sink_again(c, (int)w)) {
			rc = ag_sink_refresh(&s);
			continue;
		}
		if (w < 0) {
			rc = (int)w;
		} else {
			done += w;
			tries = 0;
		}
	}
	ag_sink_destroy(&s);
	return done ? (ssize_t)done : rc;
}
