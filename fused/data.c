/*
 * data.c - agora-fused's file handlers: open and create, read and write
 * through the core's open-file object (fi->fh), flush at every close so
 * that another gateway sees the file once it is closed, fsync, fallocate,
 * SEEK_DATA/SEEK_HOLE and copy_file_range as a reference copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fused.h"

/* The core's file object of fi. A handle from before a restart of the
 * gateway (fh.c) names nothing here yet: the file is opened again under
 * that number, so the kernel's open files go on working. */
static int file_of(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   struct ag_file **fp)
{
	struct ag_file *f = gw_fh_get(fi->fh), *held;
	int rc;

	if (f) {
		*fp = f;
		return 0;
	}
	rc = ag_file_open(gw_of(req)->c, ino, &f);
	if (rc)
		return rc;
	held = gw_fh_adopt(fi->fh, f, ino);
	if (held != f)
		ag_file_close(f);
	*fp = held;
	return held ? 0 : -ENOMEM;
}

/* Close the file of a handle the kernel let go of (or never got). */
static int file_drop(struct fuse_file_info *fi)
{
	struct ag_file *f = gw_fh_drop(fi->fh);

	return f ? ag_file_close(f) : 0;
}

/* Open the core's file object for a and fill fi. */
static int open_file(fuse_req_t req, const struct ag_attr *a,
		     struct fuse_file_info *fi)
{
	struct ag_cluster *c = gw_of(req)->c;
	struct ag_file *f;
	int rc;

	if (S_ISDIR(a->mode))
		return -EISDIR;
	/* in a versioned bucket, what the file holds now stays a version */
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		rc = ag_version_before_write(c, a->ino);
		if (rc)
			return rc;
	}
	/* the kernel has checked write access; an empty file (one just
	 * made by create) needs no commit */
	if ((fi->flags & O_TRUNC) && a->size) {
		struct ag_attr in = { .size = 0 };

		rc = ag_file_setattr(c, a->ino, AG_SET_SIZE, &in, NULL);
		if (rc)
			return rc;
	}
	rc = ag_file_open(c, a->ino, &f);
	if (rc)
		return rc;
	fi->fh = gw_fh_new(f, a->ino);
	if (!fi->fh) {
		ag_file_close(f);
		return -ENOMEM;
	}
	/* the page cache may hold what another gateway has replaced since:
	 * drop it at open (close-to-open consistency) */
	fi->keep_cache = 0;
	return 0;
}

void gw_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ag_cluster *c = gw_of(req)->c;
	struct ag_attr a;
	int rc = ag_cluster_refresh(c);

	if (!rc)
		rc = ag_file_getattr(c, ino, &a); /* with buffered writes */
	/* an object encrypted over S3: its bytes are ciphertext here, and
	 * a write would break it */
	if (!rc && S_ISREG(a.mode) && !ag_sse_get(c, ino, NULL))
		rc = -EACCES;
	if (!rc)
		rc = open_file(req, &a, fi);
	/* the name the kernel looked up now names another inode (replaced
	 * through another gateway): ESTALE makes it look the name up again
	 * and open what it names now, as a local open would */
	if (rc == -ENOENT)
		rc = -ESTALE;
	if (rc) {
		gw_reply_err(req, rc);
		return;
	}
	if (fuse_reply_open(req, fi) == -ENOENT)
		file_drop(fi); /* the caller was interrupted */
}

void gw_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi)
{
	struct ag_cluster *c = gw_of(req)->c;
	struct fuse_entry_param e;
	struct ag_attr a;
	int rc = gw_make(req, parent, name, S_IFREG | (mode & 07777), 0, NULL,
			 &a);

	if (rc == -EEXIST && !(fi->flags & O_EXCL)) {
		/* made by another gateway after our negative lookup */
		rc = ag_lookup(c, parent, name, &a);
	}
	if (!rc)
		rc = open_file(req, &a, fi);
	if (!rc)
		rc = ag_file_getattr(c, a.ino, &a);
	if (rc) {
		gw_reply_err(req, rc);
		return;
	}
	gw_entry(req, &a, &e);
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		file_drop(fi);
}

void gw_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	struct ag_file *f;
	ssize_t n;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = file_of(req, ino, fi, &f);
	if (!n)
		n = ag_file_read(f, off, buf, size);
	if (n < 0)
		gw_reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

void gw_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi)
{
	struct ag_file *f;
	ssize_t n = file_of(req, ino, fi, &f);

	/* O_APPEND: the kernel's offset is its cached size, which another
	 * gateway's appends have outdated; the core places the bytes */
	if (!n)
		n = fi->flags & O_APPEND ? ag_file_append(f, buf, size)
					 : ag_file_write(f, off, buf, size);
	if (n < 0)
		gw_reply_err(req, (int)n);
	else
		fuse_reply_write(req, n);
}

void gw_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ag_file *f;
	int rc = file_of(req, ino, fi, &f);

	gw_reply_err(req, rc ? rc : ag_file_flush(f));
}

void gw_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	gw_reply_err(req, file_drop(fi));
}

void gw_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi)
{
	struct ag_file *f;
	int rc;

	(void)datasync;
	if (!fi) {
		gw_reply_err(req, ag_file_sync(gw_of(req)->c, ino));
		return;
	}
	rc = file_of(req, ino, fi, &f);
	gw_reply_err(req, rc ? rc : ag_file_fsync(f));
}

void gw_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		  off_t length, struct fuse_file_info *fi)
{
	struct ag_cluster *c = gw_of(req)->c;
	struct ag_attr a;
	int rc;

	(void)fi;
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
		gw_reply_err(req, ag_file_punch(c, ino, offset, length));
		return;
	}
	if (mode & ~FALLOC_FL_KEEP_SIZE) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	/* space is not reserved ahead (chunks are stored as written, after
	 * dedup): plain allocation only sets the size */
	rc = ag_file_getattr(c, ino, &a);
	if (!rc && !(mode & FALLOC_FL_KEEP_SIZE) &&
	    (uint64_t)offset + length > a.size) {
		struct ag_attr in = { .size = offset + length };

		rc = ag_file_setattr(c, ino, AG_SET_SIZE, &in, NULL);
	}
	gw_reply_err(req, rc);
}

void gw_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi)
{
	uint64_t pos;
	int rc;

	(void)fi;
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL); /* the kernel does the others */
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	rc = ag_file_seek(gw_of(req)->c, ino, off, whence, &pos);
	if (rc)
		gw_reply_err(req, rc);
	else
		fuse_reply_lseek(req, pos);
}

void gw_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			off_t off_out, struct fuse_file_info *fi_out,
			size_t len, int flags)
{
	ssize_t n;

	(void)fi_in;
	(void)fi_out;
	if (flags || off_in < 0 || off_out < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	n = ag_file_clone(gw_of(req)->c, ino_in, off_in, ino_out, off_out,
			  len);
	if (n < 0)
		gw_reply_err(req, (int)n);
	else
		fuse_reply_write(req, n);
}
