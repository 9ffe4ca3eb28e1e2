/*
 * node.c - agora-fused's namespace handlers: lookups, attributes, making
 * and removing names, xattrs, statfs. Each decodes its request, makes one
 * or two core calls and replies once. Access checks are the kernel's
 * (default_permissions); what is left here is who owns a new node.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "fused.h"

int gw_errno(int rc)
{
	if (rc >= 0)
		return 0;
	/* project causes (corruption, no quorum, protocol) are I/O errors
	 * to a POSIX caller, and so is a change that found no agora-metad
	 * within metad_timeout (ENOTCONN would read as a dead mount) */
	return -rc >= AG_EBASE || rc == -ENOTCONN ? EIO : -rc;
}

void gw_reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, gw_errno(rc));
}

static struct timespec ts_of(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000,
			       .tv_nsec = ns % 1000000000 };

	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000;
	}
	return ts;
}

void gw_stat(const struct ag_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = a->size;
	/* big I/O: cp and friends size their buffers by it */
	st->st_blksize = 1 << 20;
	st->st_blocks = (a->size + 511) / 512;
	st->st_atim = ts_of(a->atime);
	st->st_mtim = ts_of(a->mtime);
	st->st_ctim = ts_of(a->ctime);
}

void gw_entry(fuse_req_t req, const struct ag_attr *a,
	      struct fuse_entry_param *e)
{
	struct gw *g = gw_of(req);

	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = a->generation;
	e->attr_timeout = g->attr_timeout;
	e->entry_timeout = g->entry_timeout;
	gw_stat(a, &e->attr);
}

void gw_reply_entry(fuse_req_t req, int rc, const struct ag_attr *a)
{
	struct fuse_entry_param e;

	if (rc) {
		gw_reply_err(req, rc);
		return;
	}
	gw_entry(req, a, &e);
	fuse_reply_entry(req, &e);
}

void gw_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct gw *g = gw_of(req);
	struct ag_attr a;
	int rc = ag_lookup(g->c, parent, name, &a);

	if (rc == -ENOENT && !ag_cluster_refresh(g->c))
		/* another gateway may have made it since our last look */
		rc = ag_lookup(g->c, parent, name, &a);
	if (!rc)
		rc = ag_file_getattr(g->c, a.ino, &a);
	if (rc == -ENOENT) {
		/* a negative entry, cached as long as a positive one */
		struct fuse_entry_param e = {
			.entry_timeout = g->entry_timeout };

		fuse_reply_entry(req, &e);
		return;
	}
	gw_reply_entry(req, rc, &a);
}

void gw_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

void gw_forget_multi(fuse_req_t req, size_t count,
		     struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

void gw_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct gw *g = gw_of(req);
	struct ag_attr a;
	struct stat st;
	int rc = ag_file_getattr(g->c, ino, &a);

	(void)fi;
	if (rc) {
		gw_reply_err(req, rc);
		return;
	}
	gw_stat(&a, &st);
	fuse_reply_attr(req, &st, g->attr_timeout);
}

void gw_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		int to_set, struct fuse_file_info *fi)
{
	struct gw *g = gw_of(req);
	struct ag_attr in = { 0 }, out;
	int64_t now = 0;
	unsigned mask = 0;
	struct timespec ts;
	struct stat st;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if (to_set & FUSE_SET_ATTR_MODE) {
		mask |= AG_SET_MODE;
		in.mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		mask |= AG_SET_UID;
		in.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		mask |= AG_SET_GID;
		in.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		mask |= AG_SET_SIZE;
		in.size = attr->st_size;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
		mask |= AG_SET_ATIME;
		in.atime = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now :
			   (int64_t)attr->st_atim.tv_sec * 1000000000 +
				   attr->st_atim.tv_nsec;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		mask |= AG_SET_MTIME;
		in.mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now :
			   (int64_t)attr->st_mtim.tv_sec * 1000000000 +
				   attr->st_mtim.tv_nsec;
	}
	/* FUSE_SET_ATTR_CTIME: the core sets ctime to the commit time of
	 * every change, which is what the kernel asks for */
	rc = 0;
	/* a truncate by name (one through an open file kept its version
	 * at open) */
	if ((mask & AG_SET_SIZE) && !fi)
		rc = ag_version_before_write(g->c, ino);
	if (!rc)
		rc = ag_file_setattr(g->c, ino, mask, &in, &out);
	if (rc) {
		gw_reply_err(req, rc);
		return;
	}
	gw_stat(&out, &st);
	fuse_reply_attr(req, &st, g->attr_timeout);
}

void gw_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n = ag_readlink(gw_of(req)->c, ino, buf, sizeof(buf) - 1);

	if (n < 0) {
		gw_reply_err(req, (int)n);
		return;
	}
	buf[n] = 0;
	fuse_reply_readlink(req, buf);
}

/* Whether the caller is in group gid (fuse_req_getgroups reads the
 * caller's groups from /proc; a failure counts as "not in it"). */
static int in_group(fuse_req_t req, gid_t gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[64];
	int n, i;

	if (ctx->gid == gid)
		return 1;
	n = fuse_req_getgroups(req, 64, groups);
	for (i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

int gw_make(fuse_req_t req, fuse_ino_t parent, const char *name,
	    mode_t mode, dev_t rdev, const char *target, struct ag_attr *a)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct ag_cluster *c = gw_of(req)->c;
	uid_t uid = ctx->uid;
	gid_t gid = ctx->gid;
	struct ag_attr dir;
	int rc = ag_getattr(c, parent, &dir);

	if (rc)
		return rc;
	if (dir.mode & S_ISGID) {
		/* BSD group semantics in a set-group-ID directory, and
		 * subdirectories inherit the bit */
		gid = dir.gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
		else if ((mode & S_ISGID) && uid && !in_group(req, gid))
			mode &= ~S_ISGID;
	}
	if (target)
		return ag_symlink(c, parent, name, target, uid, gid, a);
	if (S_ISDIR(mode))
		return ag_mkdir(c, parent, name, mode, uid, gid, a);
	return ag_mknod(c, parent, name, mode, uid, gid, rdev, a);
}

void gw_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode, dev_t rdev)
{
	struct ag_attr a;

	gw_reply_entry(req, gw_make(req, parent, name, mode, rdev, NULL, &a),
		       &a);
}

void gw_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode)
{
	struct ag_attr a;

	gw_reply_entry(req, gw_make(req, parent, name, S_IFDIR | mode, 0, NULL,
				    &a), &a);
}

void gw_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		const char *name)
{
	struct ag_attr a;

	gw_reply_entry(req, gw_make(req, parent, name, S_IFLNK | 0777, 0, link,
				    &a), &a);
}

void gw_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	/* in a versioned bucket: a delete marker, as S3's DELETE */
	gw_reply_err(req, ag_version_unlink(gw_of(req)->c, parent, name));
}

void gw_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	gw_reply_err(req, ag_rmdir(gw_of(req)->c, parent, name));
}

void gw_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	unsigned f = 0;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL); /* RENAME_WHITEOUT */
		return;
	}
	if (flags & RENAME_NOREPLACE)
		f |= AG_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		f |= AG_RENAME_EXCHANGE;
	gw_reply_err(req, ag_version_rename(gw_of(req)->c, parent, name,
					    newparent, newname, f));
}

void gw_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	     const char *newname)
{
	struct ag_cluster *c = gw_of(req)->c;
	struct ag_attr a;
	int rc = ag_link(c, ino, newparent, newname, &a);

	/* the inode may be open here with writes not yet committed */
	if (!rc)
		rc = ag_file_getattr(c, ino, &a);
	gw_reply_entry(req, rc, &a);
}

void gw_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ag_status *st = calloc(1, sizeof(*st));
	struct statvfs sv = { 0 };
	int rc;

	(void)ino;
	if (!st) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = ag_cluster_status(gw_of(req)->c, st);
	if (rc) {
		free(st);
		gw_reply_err(req, rc);
		return;
	}
	sv.f_bsize = 1 << 20;
	sv.f_frsize = 4096;
	sv.f_blocks = st->capacity_bytes / sv.f_frsize;
	sv.f_bfree = sv.f_bavail = st->free_bytes / sv.f_frsize;
	/* inodes are records in the tree: as many as space allows */
	sv.f_ffree = sv.f_favail = sv.f_bfree;
	sv.f_files = st->inodes + sv.f_ffree;
	sv.f_namemax = 255;
	free(st);
	fuse_reply_statfs(req, &sv);
}

/* Whether the caller keeps ino's set-group-ID bit when it changes the
 * mode: privileged or in the file's group, as chmod(2) rules. */
static int keeps_sgid(fuse_req_t req, fuse_ino_t ino)
{
	struct ag_attr a;

	if (!fuse_req_ctx(req)->uid)
		return 1;
	return !ag_getattr(gw_of(req)->c, ino, &a) && in_group(req, a.gid);
}

void gw_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 const char *value, size_t size, int flags)
{
	struct ag_cluster *c = gw_of(req)->c;
	int rc;

	if (ag_xattr_acl(name))
		/* a POSIX ACL is a chmod (or refused): the core decides */
		rc = ag_acl_set(c, ino, name, value, size,
				keeps_sgid(req, ino));
	else
		/* the core takes setxattr(2)'s flags as they are */
		rc = ag_setxattr(c, ino, name, value, size, flags);
	gw_reply_err(req, rc);
}

void gw_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	ssize_t n;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = ag_getxattr(gw_of(req)->c, ino, name, buf, size);
	if (n < 0)
		gw_reply_err(req, (int)n);
	else if (!size)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

/* The names of ino's xattrs in *list (length returned). */
static ssize_t xattr_names(struct ag_cluster *c, fuse_ino_t ino, char **list)
{
	ssize_t n = ag_listxattr(c, ino, NULL, 0), got;
	char *buf;

	if (n < 0)
		return n;
	buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	got = ag_listxattr(c, ino, buf, n);
	if (got < 0) {
		free(buf);
		return got == -ERANGE ? -EAGAIN : got; /* grew meanwhile */
	}
	*list = buf;
	return got;
}

void gw_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *list = NULL;
	ssize_t n = xattr_names(gw_of(req)->c, ino, &list);

	if (n < 0)
		gw_reply_err(req, (int)n);
	else if (!size)
		fuse_reply_xattr(req, n);
	else if ((size_t)n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, list, n);
	free(list);
}

void gw_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	gw_reply_err(req, ag_removexattr(gw_of(req)->c, ino, name));
}
