/*
 * writer.c - the streaming writer (ag_writer_*, agora.h): a new file
 * written front to back, as an S3 PUT or agora put writes one. Its bytes
 * go to an orphan inode, committed every AG_COMMIT_EVERY bytes, hashed
 * into an MD5 (the ETag) on a thread of their own while they are
 * chunked; the last commit publishes the orphan under its name, with its
 * xattrs, its ETag and any condition (AG_EXPECT_*) in the same
 * transaction. A writer that is freed unpublished drops its orphan.
 *
 * One writer belongs to one thread at a time.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster.h"
#include "file_int.h"
#include "keys.h"
#include "util.h"

/* The ETag a writer will store. */
enum etag_state { ETAG_MD5, ETAG_SET, ETAG_NONE };

struct ag_writer {
	struct ag_sink s;
	uint8_t *buf;        /* bytes not yet chunked */
	size_t len, cap;
	uint64_t off;        /* file offset of buf[0] */
	uint64_t piece;      /* start of the open WRITE op */
	EVP_MD_CTX *md5;     /* of every byte written, in order */
	size_t hashed;       /* bytes of buf already in md5 */
	enum etag_state etag_state;
	uint8_t etag[16];
	uint32_t mode, uid, gid; /* of the MKNODE */
	struct ag_txn xattrs; /* SETXATTR ops held for the publishing txn */
	struct ag_txn keep;   /* its VERSION KEEP op, or none */
	int expect;          /* AG_EXPECT_* of the publishing txn, or 0 */
	uint8_t expect_etag[16];
	int error;
};

static int writer_begin_piece(struct ag_writer *w)
{
	w->piece = w->off;
	return ag_txn_write(&w->s.txn, w->s.ino, w->off, UINT64_MAX, w->off,
			    0);
}

int ag_writer_new(struct ag_cluster *c, uint32_t mode, uint32_t uid,
		  uint32_t gid, struct ag_writer **wp)
{
	struct ag_op_mknode o = { .mode = S_IFREG | (mode & 07777),
				  .uid = uid, .gid = gid,
				  .flags = AG_MKNODE_ORPHAN };
	struct ag_writer *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	if (!c->rpc) {
		free(w);
		return -EROFS;
	}
	w->mode = o.mode;
	w->uid = uid;
	w->gid = gid;
	rc = ag_sink_init(&w->s, c);
	ag_txn_init(&w->xattrs, 0, 0);
	ag_txn_init(&w->keep, 0, 0);
	w->md5 = EVP_MD_CTX_new();
	if (!rc && (!w->md5 || !EVP_DigestInit_ex(w->md5, EVP_md5(), NULL)))
		rc = -ENOMEM;
	/* batches of a few MiB keep both preparing threads busy */
	w->cap = 2 * (size_t)c->ds->label.chunk_max + (8 << 20);
	w->buf = malloc(w->cap);
	if (!rc && !w->buf)
		rc = -ENOMEM;
	if (!rc)
		rc = ag_txn_mknode(&w->s.txn, &o);
	if (!rc)
		rc = writer_begin_piece(w);
	if (rc) {
		ag_writer_free(w);
		return rc;
	}
	*wp = w;
	return 0;
}

/* Commit the extents so far; the orphan keeps them until publish. */
static int writer_checkpoint(struct ag_writer *w)
{
	struct ag_rpc_reply r;
	int rc;

	rc = ag_txn_write_size(&w->s.txn, w->off);
	if (!rc)
		rc = ag_sink_commit(&w->s, &r);
	if (rc)
		return rc;
	if (!w->s.ino)
		w->s.ino = r.ino;
	return writer_begin_piece(w);
}

struct md5_job {
	EVP_MD_CTX *md;
	const uint8_t *p;
	size_t n;
	int ok;
};

static void *md5_main(void *arg)
{
	struct md5_job *j = arg;

	j->ok = EVP_DigestUpdate(j->md, j->p, j->n);
	return NULL;
}

/* Chunk and store the buffer (all of it with eof, else up to its last
 * cut point). MD5 is sequential and as dear as the rest of ingest on
 * one core, so the new bytes are hashed on a thread of their own while
 * they are chunked. */
static int writer_chunk(struct ag_writer *w, int eof)
{
	struct md5_job j = { .md = w->md5, .p = w->buf + w->hashed,
			     .n = w->len - w->hashed, .ok = 1 };
	int hashing = w->etag_state == ETAG_MD5 && j.n, threaded = 0;
	pthread_t thr;
	size_t used;
	int rc;

	if (hashing)
		threaded = !pthread_create(&thr, NULL, md5_main, &j);
	rc = ag_sink_bytes(&w->s, w->buf, w->len, w->off, eof, &used);
	if (hashing && !threaded)
		md5_main(&j);
	if (threaded)
		pthread_join(thr, NULL);
	if (!rc && !j.ok)
		rc = -EIO;
	if (rc)
		return rc;
	memmove(w->buf, w->buf + used, w->len - used);
	w->len -= used;
	w->off += used;
	w->hashed = w->len;
	return 0;
}

int ag_writer_write(struct ag_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (w->error)
		return w->error;
	while (len) {
		size_t n = AG_MIN(len, w->cap - w->len);
		int rc;

		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
		if (w->len < w->cap)
			continue;
		rc = writer_chunk(w, 0);
		if (!rc && w->s.uncommitted >= AG_COMMIT_EVERY)
			rc = writer_checkpoint(w);
		if (rc)
			return w->error = rc;
	}
	return 0;
}

/* Chunk and store every buffered byte, so that what comes next starts
 * at w->off. */
static int writer_drain(struct ag_writer *w)
{
	return writer_chunk(w, 1);
}

int ag_writer_clone(struct ag_writer *w, uint64_t src, uint64_t soff,
		    uint64_t len)
{
	struct ag_op_clone o = { .src = src, .soff = soff, .len = len };
	struct ag_attr a;
	int rc = w->error;

	if (rc)
		return rc;
	rc = ag_getattr(w->s.c, src, &a);
	if (rc)
		return rc;
	if (!S_ISREG(a.mode))
		return S_ISDIR(a.mode) ? -EISDIR : -EINVAL;
	if (soff > a.size || len > a.size - soff)
		return -EINVAL;
	rc = writer_drain(w);
	if (!rc)
		rc = ag_txn_write_size(&w->s.txn, w->off);
	o.dst = w->s.ino; /* 0 before the first checkpoint: the MKNODE */
	o.doff = w->off;
	if (!rc && len)
		rc = ag_txn_clone(&w->s.txn, &o);
	if (rc)
		return w->error = rc;
	w->off += len;
	if (len && w->etag_state == ETAG_MD5)
		w->etag_state = ETAG_NONE;
	rc = writer_begin_piece(w);
	return rc ? (w->error = rc) : 0;
}

int ag_writer_setxattr(struct ag_writer *w, const char *name,
		       const void *val, size_t len)
{
	struct ag_op_xattr o = { .name = name, .value = val, .vlen = len };
	size_t nlen = strnlen(name, AG_NAME_MAX + 1);

	if (!nlen || nlen > AG_NAME_MAX || name[0] == '\001')
		return -ERANGE;
	if (len > AG_VAL_MAX)
		return -E2BIG;
	o.nlen = nlen;
	return ag_txn_setxattr(&w->xattrs, &o);
}

void ag_writer_set_etag(struct ag_writer *w, const uint8_t md5[16])
{
	memcpy(w->etag, md5, 16);
	w->etag_state = ETAG_SET;
}

int ag_writer_expect(struct ag_writer *w, int cond, const uint8_t md5[16])
{
	if (cond < AG_EXPECT_ABSENT || cond > AG_EXPECT_ETAG)
		return -EINVAL;
	w->expect = cond;
	if (cond == AG_EXPECT_ETAG)
		memcpy(w->expect_etag, md5, 16);
	return 0;
}

/* The condition, ahead of the LINK it guards. */
static int writer_expect(struct ag_writer *w, uint64_t parent,
			 const char *name, uint32_t nlen)
{
	struct ag_op_expect o = { .parent = parent, .cond = w->expect,
				  .name = name, .nlen = nlen };

	memcpy(o.etag, w->expect_etag, 16);
	return ag_txn_expect(&w->s.txn, &o);
}

/* Append the held xattrs (for ino) and the ETag to the final txn. */
static int writer_attrs(struct ag_writer *w, uint64_t ino)
{
	struct ag_op_setattr sa = { .ino = ino, .mask = AG_SET_ETAG };
	struct ag_txn_iter it;
	struct ag_op op;
	uint64_t client, txid;
	unsigned int mdlen;
	int rc;

	rc = ag_txn_parse(w->xattrs.buf, w->xattrs.len, &client, &txid, &it);
	while (!rc && (rc = ag_txn_next(&it, &op)) == 1) {
		op.u.xattr.ino = ino;
		rc = ag_txn_setxattr(&w->s.txn, &op.u.xattr);
	}
	if (rc)
		return rc;
	if (w->etag_state == ETAG_MD5 &&
	    !EVP_DigestFinal_ex(w->md5, w->etag, &mdlen))
		return -EIO;
	if (w->etag_state == ETAG_NONE)
		return 0;
	memcpy(sa.etag, w->etag, 16);
	return ag_txn_setattr(&w->s.txn, &sa);
}

/* The attributes of the element our commit published, for the reply to
 * its writer. Another writer may replace the name, and so destroy the
 * element, as soon as our commit is applied, even within the same group
 * commit (racing PUTs of one key), so that no tree after it holds the
 * element. Our commit still succeeded: the attributes are then the ones
 * the writer gave it, its times this host's clock at the answer. */
static int committed_attr(struct ag_writer *w, uint64_t parent,
			  struct ag_attr *a)
{
	int rc = ag_getattr(w->s.c, w->s.ino, a);

	if (rc != -ENOENT)
		return rc;
	memset(a, 0, sizeof(*a));
	a->ino = w->s.ino;
	a->mode = w->mode;
	a->uid = w->uid;
	a->gid = w->gid;
	a->nlink = 1;
	a->size = w->off;
	a->parent = parent;
	a->atime = a->mtime = a->ctime = a->btime = (int64_t)ag_now_ns();
	if (w->etag_state != ETAG_NONE) {
		memcpy(a->etag, w->etag, 16);
		a->flags = AG_ATTR_ETAG;
	}
	return 0;
}

/* The MKNODE ops of dirs, ahead of the condition and the LINK. */
static int writer_dirs(struct ag_writer *w, const struct ag_txn *dirs)
{
	struct ag_txn_iter it;
	struct ag_op op;
	uint64_t client, txid;
	int rc = ag_txn_parse(dirs->buf, dirs->len, &client, &txid, &it);

	while (!rc && (rc = ag_txn_next(&it, &op)) == 1)
		rc = op.type == AG_OP_MKNODE ? ag_txn_mknode(&w->s.txn,
							     &op.u.mknode)
					     : -EINVAL;
	return rc;
}

struct ag_cluster *ag_writer_cluster(struct ag_writer *w)
{
	return w->s.c;
}

int ag_writer_version(struct ag_writer *w, uint64_t bucket, const char *key,
		      uint32_t flags)
{
	struct ag_op_version o = { .bucket = bucket,
				   .action = AG_VERSION_KEEP,
				   .flags = flags, .key = key,
				   .klen = (uint32_t)strlen(key) };

	ag_txn_reset(&w->keep, 0, 0);
	return ag_txn_version(&w->keep, &o);
}

/* The held KEEP op (before the LINK), or with stamp_ino the STAMP of the
 * element published (after it): the new version is null where the kept
 * one was asked for in a suspended bucket. */
static int writer_versions(struct ag_writer *w, int stamp, uint64_t ino)
{
	struct ag_txn_iter it;
	struct ag_op op;
	uint64_t client, txid;
	int rc;

	if (!w->keep.nops)
		return w->keep.error;
	rc = ag_txn_parse(w->keep.buf, w->keep.len, &client, &txid, &it);
	if (!rc && (rc = ag_txn_next(&it, &op)) == 1) {
		if (stamp) {
			op.u.version.action = AG_VERSION_STAMP;
			op.u.version.ino = ino;
			op.u.version.flags = op.u.version.flags &
					     AG_VERSION_SUSPENDED
					     ? AG_VERSION_NULL : 0;
		}
		rc = ag_txn_version(&w->s.txn, &op.u.version);
	}
	return rc;
}

int ag_writer_commit(struct ag_writer *w, uint64_t parent, const char *name,
		     struct ag_attr *a)
{
	return ag_writer_commit_under(w, NULL, parent, name, a);
}

int ag_writer_commit_under(struct ag_writer *w, const struct ag_txn *dirs,
			   uint64_t parent, const char *name,
			   struct ag_attr *a)
{
	struct ag_op_link o = { .parent = parent, .name = name,
				.flags = AG_LINK_REPLACE };
	struct ag_rpc_reply r;
	int rc = w->error;

	if (!rc)
		rc = w->xattrs.error;
	if (!rc)
		rc = writer_drain(w);
	/* a commit that fails fails whole, and the stripe records and
	 * segment releases of this handle's writers ride with whichever
	 * commit seals them: under a condition, which may well fail, the
	 * data is committed first (to the orphan) and the publishing
	 * commit carries none */
	if (!rc && w->expect)
		rc = writer_checkpoint(w);
	if (rc)
		return w->error = rc;
	o.ino = w->s.ino;
	o.nlen = strnlen(name, AG_NAME_MAX + 1);
	rc = ag_txn_write_size(&w->s.txn, w->off);
	if (!rc && dirs && dirs->nops) {
		/* the element, MKNODE 0 of this transaction until a
		 * checkpoint named it, goes in the directory made last */
		rc = writer_dirs(w, dirs);
		if (!o.ino)
			o.ino = AG_TXN_MADE(0);
		o.parent = parent = 0;
	}
	if (!rc && w->expect)
		rc = writer_expect(w, parent, name, o.nlen);
	if (!rc)
		rc = writer_versions(w, 0, 0);
	if (!rc)
		rc = ag_txn_link(&w->s.txn, &o);
	if (!rc)
		rc = writer_attrs(w, o.ino);
	if (!rc)
		rc = writer_versions(w, 1, o.ino);
	if (!rc)
		rc = ag_sink_commit(&w->s, &r);
	if (rc)
		return w->error = rc;
	if (!w->s.ino)
		w->s.ino = r.ino;
	w->error = -EALREADY; /* committed: nothing more to write */
	return a ? committed_attr(w, parent, a) : 0;
}

void ag_writer_free(struct ag_writer *w)
{
	if (!w)
		return;
	if (w->s.ino && w->error != -EALREADY && w->s.c->rpc) {
		struct ag_txn t;

		/* drop the half-written orphan now rather than at fsck */
		ag_cl_txn(w->s.c, &t);
		ag_txn_drop_orphan(&t, w->s.ino);
		ag_cl_commit(w->s.c, &t, NULL);
		ag_txn_release(&t);
	}
	ag_sink_destroy(&w->s);
	ag_txn_release(&w->xattrs);
	ag_txn_release(&w->keep);
	EVP_MD_CTX_free(w->md5);
	free(w->buf);
	free(w);
}
