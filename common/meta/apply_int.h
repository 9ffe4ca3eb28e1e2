/*
 * apply_int.h - what the two halves of metad's engine share: apply.c
 * (undoable tree access, the namespace ops, the dispatcher) and refs.c
 * (extents, chunk references, data segments). Both work inside one
 * struct tx (meta_int.h): every change goes through ag_tx_put or
 * ag_tx_del, which log the old record so that a failed op rolls the
 * whole transaction back.
 */
#ifndef AG_APPLY_INT_H
#define AG_APPLY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "meta_int.h"
#include "txn.h"

/* ---- undoable tree access (apply.c) ---- */

int ag_tx_put(struct tx *tx, const void *k, size_t kl, const void *v,
	      size_t vl);
int ag_tx_del(struct tx *tx, const void *k, size_t kl);
int ag_tx_get(struct tx *tx, const void *k, size_t kl, void *v, size_t *vl);
/* Inode ino (0: the one this transaction's last MKNODE made). */
int ag_tx_inode_get(struct tx *tx, uint64_t ino, struct ag_attr *in);
int ag_tx_inode_put(struct tx *tx, const struct ag_attr *in);

/* ---- the namespace (apply.c), for verapply.c ---- */

/* The inode (parent, name) names: 0, -ENOENT, or -errno. */
int ag_tx_dirent_get(struct tx *tx, uint64_t parent, const char *name,
		     size_t nlen, uint64_t *ino);
int ag_tx_dirent_put(struct tx *tx, uint64_t parent, const char *name,
		     size_t nlen, const struct ag_attr *in);
/* One name of in went away (flags AG_UNLINK_KEEP or 0): its nlink
 * drops, and at 0 it is destroyed, or an orphan while open. */
int ag_tx_drop_link(struct tx *tx, struct ag_attr *in, uint32_t flags);
/* dir changed: its times, and nlink by nlink_delta. */
int ag_tx_touch_dir(struct tx *tx, struct ag_attr *dir, int nlink_delta);

/* ---- versions (verapply.c) ---- */

int ag_tx_version(struct tx *tx, const struct ag_op_version *o);
/* 1 when bucket holds VERSION records, 0 when not, or -errno. */
int ag_tx_has_versions(struct tx *tx, uint64_t bucket);

/* ---- data (refs.c): each returns 0 or -errno ---- */

/* Remove file bytes [start, end) of ino from its extent map: extents
 * inside go (dropping their chunk reference), extents across an edge are
 * trimmed or split (a split adds a reference). */
int ag_tx_punch(struct tx *tx, uint64_t ino, uint64_t start, uint64_t end);
/* The ops of txn.h that change data and space. */
int ag_tx_write(struct tx *tx, const struct ag_op_write *op);
int ag_tx_clone(struct tx *tx, const struct ag_op_clone *o);
int ag_tx_stripe(struct tx *tx, const struct ag_op_stripe *o);
int ag_tx_seg_lease(struct tx *tx);
int ag_tx_seg_release(struct tx *tx, const struct ag_op_seg *o);
int ag_tx_move(struct tx *tx, const struct ag_op_move *o);
int ag_tx_clean_lease(struct tx *tx);

/* ---- the event log (evlog.c) ---- */

/* What an op's names held before it ran, for the event it makes. */
struct ag_event_look {
	uint64_t dir, dir2; /* the op's directories, resolved */
	uint64_t ino;       /* what the (source) name held, or 0 */
	uint32_t mode;
	uint64_t size;
	int orphan;         /* LINK: the inode had no name */
};
void ag_tx_event_before(struct tx *tx, const struct ag_op *op,
			struct ag_event_look *l);
/* Note the event op made (it succeeded); 0 or -ENOMEM. */
int ag_tx_event_after(struct tx *tx, const struct ag_op *op,
		      const struct ag_event_look *l);
int ag_tx_event_op(struct tx *tx, const struct ag_op_event *o);
/* A "created" event of ino named name in dir, for a change no op's own
 * event says (a version restored as its key's current one). */
int ag_tx_event_created(struct tx *tx, uint64_t ino, uint64_t dir,
			const char *name, size_t nlen);
int ag_tx_trigger(struct tx *tx, const struct ag_op_trigger *o);
/* After the last op: append the transaction's events to the log and
 * trim it. */
int ag_tx_events_append(struct tx *tx);
void ag_tx_events_free(struct tx *tx);

#endif
