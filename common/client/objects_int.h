/*
 * objects_int.h - what objects.c lends versions.c: the transactions of
 * an S3 key's implicit directories, made in the commit that needs them
 * and pruned in the one that leaves them empty.
 */
#ifndef AG_OBJECTS_INT_H
#define AG_OBJECTS_INT_H

#include <stdint.h>

#include "agora.h"

struct ag_txn;

/* Append to t: the implicit directories key needs below bucket (made
 * when missing, owned by uid:gid), a VERSION RESTORE of key, and the
 * pruning of those directories the restore left empty. */
int ag_object_restore_ops(struct ag_txn *t, uint64_t bucket, const char *key,
			  uint32_t uid, uint32_t gid);
/* Remove the element key names for good, not as a version, and restore
 * the key's newest noncurrent version in the same commit. */
int ag_object_remove_current(struct ag_cluster *c, uint64_t bucket,
			     const char *key, uint32_t uid, uint32_t gid);

/* Remove the file key names as a DELETE of a bucket in versioning state
 * state does (a delete marker over the kept element), leaving its
 * directories: what the mount's unlink does in a versioned bucket. */
int ag_object_remove_marked(struct ag_cluster *c, uint64_t bucket,
			    const char *key, int state);

#endif
