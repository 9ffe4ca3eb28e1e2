/*
 * fused.h - what the files of agora-fused share: the gateway state every
 * handler reaches through fuse_req_userdata(), the one error map, and the
 * conversions from element attributes to what the kernel wants.
 *
 * agora-fused is a thin adapter over libagora (low-level libfuse API):
 * FUSE node ids are the core's inode numbers (cluster-wide, never reused),
 * so the gateway keeps no inode table and forget needs no work.
 */
#ifndef AG_FUSED_H
#define AG_FUSED_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>

#include "agora.h"

struct gw {
	struct ag_cluster *c;
	double entry_timeout, attr_timeout;
	int kernel_checks; /* default_permissions: the kernel checks access */
};

static inline struct gw *gw_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The errno to send for a core result (project errors become EIO). */
int gw_errno(int rc);
/* Reply with an error, or 0 for success. */
void gw_reply_err(fuse_req_t req, int rc);
void gw_stat(const struct ag_attr *a, struct stat *st);
/* Fill an entry for a (lookup count, generation, timeouts). */
void gw_entry(fuse_req_t req, const struct ag_attr *a,
	      struct fuse_entry_param *e);
void gw_reply_entry(fuse_req_t req, int rc, const struct ag_attr *a);

/* fh.c: the numbers of open files and directories (fi->fh). gw_fh_new
 * files obj (of inode ino) under a new number (0: no memory); gw_fh_get
 * finds it (NULL: a number of an earlier process, or none); gw_fh_adopt
 * files obj under an earlier process's number and returns what that
 * number names now (another thread's object if it came first; NULL: no
 * memory); gw_fh_drop forgets the number and returns its object;
 * gw_fh_inodes gives the inodes open now, sorted, each once (count, or
 * -ENOMEM; free *inos). */
uint64_t gw_fh_new(void *obj, uint64_t ino);
void *gw_fh_get(uint64_t fh);
void *gw_fh_adopt(uint64_t fh, void *obj, uint64_t ino);
void *gw_fh_drop(uint64_t fh);
ssize_t gw_fh_inodes(uint64_t **inos);
int gw_fh_any(void);

/* notify.c: tell the kernel of open files another gateway changed. */
struct gw_notify;
int gw_notify_start(struct fuse_session *se, struct ag_cluster *c,
		    struct gw_notify **np);
void gw_notify_stop(struct gw_notify *n);

/* keep.c: the keeper of -o keep_mount. gw_keep serves the mounted
 * session se in gateway processes it forks, serve(arg, fd, takeover,
 * ready_fd) each (fd: the connection; takeover: an earlier gateway served
 * it; one byte on ready_fd once serving), another whenever one exits,
 * until unmounted or told to stop; it reports on report_fd (-d) once the
 * first serves, and unmounts at the end. gw_takeover sets up a gateway's
 * session on a connection an earlier one served. */
typedef int (*gw_serve_fn)(void *arg, int fuse_fd, int takeover,
			   int ready_fd);
int gw_keep(struct fuse_session *se, gw_serve_fn serve, void *arg,
	    int report_fd, const char *log);
int gw_takeover(struct fuse_session *se);

/* node.c, data.c, dir.c: the handlers, gathered in main.c's table. */
void gw_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void gw_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void gw_forget_multi(fuse_req_t req, size_t count,
		     struct fuse_forget_data *forgets);
void gw_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gw_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		int to_set, struct fuse_file_info *fi);
void gw_readlink(fuse_req_t req, fuse_ino_t ino);
void gw_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode, dev_t rdev);
void gw_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode);
void gw_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void gw_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void gw_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		const char *name);
void gw_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags);
void gw_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	     const char *newname);
void gw_statfs(fuse_req_t req, fuse_ino_t ino);
void gw_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 const char *value, size_t size, int flags);
void gw_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		 size_t size);
void gw_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void gw_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
/* Create a node of mode in parent as the caller (node.c; data.c's create
 * uses it too). */
int gw_make(fuse_req_t req, fuse_ino_t parent, const char *name,
	    mode_t mode, dev_t rdev, const char *target, struct ag_attr *a);

void gw_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gw_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi);
void gw_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);
void gw_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi);
void gw_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gw_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gw_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi);
void gw_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		  off_t length, struct fuse_file_info *fi);
void gw_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi);
void gw_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			off_t off_out, struct fuse_file_info *fi_out,
			size_t len, int flags);

void gw_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gw_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void gw_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void gw_releasedir(fuse_req_t req, fuse_ino_t ino,
		   struct fuse_file_info *fi);
void gw_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);

#endif
