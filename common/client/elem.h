/*
 * elem.h - what elem.c lends to the modules above it (objects.c,
 * crypt.c): the one path walker, its name splitter, and xattrs read
 * past the private names' veil. Nothing outside common/
 * includes it.
 */
#ifndef AG_ELEM_H
#define AG_ELEM_H

#include <stddef.h>
#include <stdint.h>

#include "agora.h"

/* The next name of a path: skips the '/'s at *p, points *name at the
 * name and *p past it; returns its length, 0 at the end. */
size_t ag_path_next(const char **p, const char **name);
/* 0 when every name of path (absolute or not) is 1 to AG_NAME_MAX
 * bytes and none is "." or ".."; -EINVAL or -ENAMETOOLONG otherwise. */
int ag_path_names_check(const char *path);

/* Called by ag_walk for each name it resolved: found (in dir) is what
 * the name names. A non-zero return stops the walk and is returned.
 * Called first with name NULL (dir: where the walk starts) each time the
 * walk starts, and again when it starts over at a newer root because
 * the one it began at moved on (AG_CL_READ): forget the names before. */
typedef int (*ag_walk_cb)(void *arg, uint64_t dir, const char *name,
			  size_t nlen, const struct ag_attr *found);
/* Resolve path (names checked by the caller) from the directory dir,
 * in one tree: *a is what it names; -ENOTDIR when a name on the way is
 * not a directory. Private names stay hidden from an ordinary handle. */
int ag_walk(struct ag_cluster *c, uint64_t dir, const char *path,
	    ag_walk_cb step, void *arg, struct ag_attr *a);

/* ag_getxattr of any name, private ones too, whatever the handle: for
 * the core's own marks that every face must heed (crypt.c; versions.c:
 * a bucket's versioning and a version stamp, also for the mount). */
ssize_t ag_elem_getxattr_any(struct ag_cluster *c, uint64_t ino,
			     const char *name, void *buf, size_t size);

/* Whether (parent, name) names a non-directory open on this handle: its
 * last name going, it must stay as an orphan (AG_UNLINK_KEEP). */
int ag_elem_open_here(struct ag_cluster *c, uint64_t parent,
		      const char *name);

/* ag_rename with the ops of before ahead of the RENAME and those of
 * after it, in one transaction (either may be NULL). */
struct ag_txn;
int ag_rename_with(struct ag_cluster *c, uint64_t sparent, const char *sname,
		   uint64_t dparent, const char *dname, unsigned flags,
		   const struct ag_txn *before, const struct ag_txn *after);

#endif
