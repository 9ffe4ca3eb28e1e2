/*
 * openfile.h - the table of open files of a cluster handle (openfile.c),
 * as the layer below reaches it: through the operations cluster.h
 * defines, given to the handle when it opens (handle.c). The handle
 * makes the table at open, asks it at unlink and rename whether a name's
 * inode is still open here, lists it in every heartbeat and commits and
 * frees it at close.
 */
#ifndef AG_OPENFILE_H
#define AG_OPENFILE_H

#include "cluster.h"

extern const struct ag_open_ops ag_open_files_ops;

#endif
