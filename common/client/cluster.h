/*
 * cluster.h - the client side of libagora: struct ag_cluster and the
 * helpers elem.c, the data modules (file_int.h) and fsck.c share (read a
 * tree at the newest known root, commit a transaction through metad).
 */
#ifndef AG_CLUSTER_H
#define AG_CLUSTER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "agora.h"
#include "btree.h"
#include "cdc.h"
#include "config.h"
#include "drive.h"
#include "format.h"
#include "pager.h"
#include "rpc.h"
#include "stripe.h"
#include "txn.h"

struct ag_chunk_cache;
struct ag_open_files;
struct ag_unsynced;

/* The files a gateway holds open (openfile.c) live a layer above this
 * one. What the handle needs of them it reaches through these, which the
 * layer that stacks both gives to ag_cl_open (handle.c): so nothing here
 * or in elem.c calls up. */
struct ag_open_ops {
	int (*make)(struct ag_open_files **tp);
	/* Commit and forget the files still open (their orphans are reaped
	 * by metad once this client is gone). Accepts NULL. */
	void (*drop)(struct ag_open_files *t);
	/* 1 when this handle has no file open (t may be NULL). */
	int (*none)(struct ag_open_files *t);
	/* 1 when this handle has ino open, 0 when not (t may be NULL). */
	int (*has)(struct ag_open_files *t, uint64_t ino);
	/* A new buffer of skip bytes (for the caller) then the inode of
	 * every open file, little-endian u64 each: *buf, freed by the
	 * caller, and its length in *len. */
	int (*list)(struct ag_open_files *t, size_t skip, uint8_t **buf,
		    size_t *len);
};

struct ag_cluster {
	struct ag_config *cfg;
	int flags;
	uint64_t instance;           /* unique in the process */
	struct ag_drives *ds;
	struct ag_pagestore *ps;
	struct ag_pager pager;
	struct ag_stripes *stripes;
	struct ag_rpc *rpc;          /* NULL when opened read-only */
	/* a lazy handle's answered transactions not synced yet
	 * (unsynced.h); NULL on others */
	struct ag_unsynced *lazy_kept;
	struct ag_cdc cdc;
	uint64_t client_id;
	/* txid t goes out only once t - AG_TXN_WINDOW is answered: metad
	 * remembers the answers of the last AG_TXN_WINDOW (apply.c) */
	pthread_mutex_t txid_lock;
	pthread_cond_t txid_cond;
	uint64_t next_txid;
	uint8_t txid_busy[AG_TXN_WINDOW];
	pthread_mutex_t state_lock;  /* protects gen and root */
	uint64_t gen, root;
	pthread_mutex_t pack_lock;   /* protects packer and lease */
	struct ag_packer *packer;
	uint32_t retired[64];        /* filled segments to release */
	uint64_t retired_fill[64];
	int nretired;
	uint32_t lease_seg;          /* segment the packer fills */
	int inflight;                /* writers with uncommitted chunks */
	/* sealing rounds (ag_cl_pack_seal), under pack_lock: a writer is
	 * durable once seal_done reaches the ticket it took */
	uint64_t seal_wanted, seal_done;
	int sealing;
	int unsynced;                /* a sync failed: the next round syncs */
	pthread_cond_t seal_cond;
	struct ag_chunk_cache *cache;
	struct ag_open_files *open_files; /* openfile.c, through open_ops */
	const struct ag_open_ops *open_ops; /* NULL: none kept */
	/* metad's holds of our open inodes (holds.c): a first open holds
	 * the read side from its HOLD until its file is in open_files, a
	 * heartbeat the write side while it lists open_files and sends the
	 * list, so no list sent can miss a hold metad already has */
	pthread_rwlock_t hold_lock;
	struct ag_watch *watch;      /* watch.c; NULL: ask metad each time */
	unsigned proto;              /* AG_PROTO_* its events carry */
	pthread_t heartbeat;         /* keeps leases and orphans alive */
	int heartbeat_running;
	pthread_mutex_t hb_lock;
	pthread_cond_t hb_cond;
	int closing;
	/* refreshes in flight share one STATE request (cluster.c) */
	pthread_mutex_t rf_lock;
	pthread_cond_t rf_cond;
	uint64_t rf_sent, rf_done;
	int rf_busy, rf_rc;
};

/* ag_cluster_open and ag_cluster_close (handle.c) with the handle's
 * table of open files kept through ops (may be NULL: none). */
int ag_cl_open(const char *config, int flags, const struct ag_open_ops *ops,
	       struct ag_cluster **cp);
void ag_cl_close(struct ag_cluster *c);
/* Whether the handle has no file open, and whether it has ino open (the
 * table's none and has). */
int ag_cl_open_none(struct ag_cluster *c);
int ag_cl_open_has(struct ag_cluster *c, uint64_t ino);

/* The check of a commit record for ag_commit_pick (arg: the handle):
 * its pages (ag_pagestore_check_commit), then the data it lists
 * (ag_stripes_check_data). */
int ag_cl_check_commit(void *arg, const struct ag_commit_rec *r);

/* A read handle on the newest root this cluster handle knows. */
int ag_cl_tree(struct ag_cluster *c, struct ag_tree **tp);
/* The same for a short read: the calling thread's tree, kept while the
 * root stays the same (give it back with ag_cl_tree_done; no writes). */
int ag_cl_tree_read(struct ag_cluster *c, struct ag_tree **tp);
void ag_cl_tree_done(struct ag_tree *t);
/* Whether a read that ran on a tree at generation gen (ag_tree_max_gen)
 * and failed with rc can succeed at a newer root, after moving c to the
 * newest one: when it met -AG_ESTALEROOT, or -AG_ECORRUPT (data freed and
 * reused since a root looks damaged, as no header names its owner), and
 * the root did move on past gen; at most AG_READ_TRIES times (tries:
 * those made so far). -AG_ECORRUPT at the newest root is damage. */
#define AG_READ_TRIES 8
int ag_cl_read_again(struct ag_cluster *c, uint64_t gen, ssize_t rc,
		     int tries);
/* Reads run again by ag_cl_read_again since the process started. */
extern atomic_ulong ag_cl_read_retries;
/* Evaluate expr, a read of the tree t, on the newest root c knows, and
 * again at a newer one while ag_cl_read_again says so; the value of the
 * last run (a ssize_t), or the error of opening the tree. expr may run
 * more than once, so it must only fill outputs: a read that hands
 * results to a caller on the way must resume where the last run
 * stopped (as ag_readdir does) instead of starting over. */
#define AG_CL_READ(c, t, expr)                                          \
	({                                                              \
		ssize_t _rc;                                            \
		uint64_t _gen;                                          \
		int _tries = 0;                                         \
		do {                                                    \
			_rc = ag_cl_tree_read((c), &(t));               \
			if (_rc)                                        \
				break;                                  \
			_gen = ag_tree_max_gen(t);                      \
			_rc = (expr);                                   \
			ag_cl_tree_done(t);                             \
		} while (ag_cl_read_again((c), _gen, _rc, ++_tries));   \
		_rc;                                                    \
	})
/* Start a transaction; its id is assigned when it is sent. */
void ag_cl_txn(struct ag_cluster *c, struct ag_txn *t);
/* Send t to metad and wait until it is durable (on an AG_OPEN_LAZY
 * handle: until every reader sees it); returns the status of the
 * transaction and fills *r (may be NULL). Moves the handle to the
 * committed generation. */
int ag_cl_commit(struct ag_cluster *c, struct ag_txn *t,
		 struct ag_rpc_reply *r);
/* The same, but with no waiting for a metad that is not there: -ENOTCONN
 * at once. For what a reader may store on the way (an ETag it hashed)
 * and can do without. */
int ag_cl_commit_try(struct ag_cluster *c, struct ag_txn *t,
		     struct ag_rpc_reply *r);
/* Tell metad that this client holds ino open (hold) or let go of it:
 * while held, ino outlives its last name as an orphan of ours. -ENOENT
 * when there is no such inode (the handle then has a root without it);
 * -ENOTCONN at once with no metad to tell (reading needs no hold, and
 * the heartbeat tells a metad that comes back what we hold). */
int ag_cl_hold(struct ag_cluster *c, uint64_t ino, int hold);

/* Data plane for sink.c: store one chunk's bytes (already compressed as
 * flags say) into the leased segment, leasing a new one when needed.
 * Called with pack_lock held. */
int ag_cl_pack(struct ag_cluster *c, const void *buf, size_t len,
	       uint64_t *addr);
/* Start writing the full stripes packed so far (ag_packer_kick). With
 * pack_lock. */
int ag_cl_pack_kick(struct ag_cluster *c);
/* Write the open stripe, sync the data drives and add the STRIPE records
 * of every stripe written since the last call to t. With pack_lock. */
int ag_cl_pack_seal(struct ag_cluster *c, struct ag_txn *t);
/* Add the STRIPE records of the n stripes of done (from
 * ag_packer_take, on the drives and synced) to t. */
void ag_cl_txn_stripes(struct ag_cluster *c, struct ag_txn *t,
		       const struct ag_stripe_done *done, int n);
/* Move to generation gen with root root, if newer than the one held. */
void ag_cl_set_state(struct ag_cluster *c, uint64_t gen, uint64_t root);

/* watch.c: a thread that learns every commit from metad as it happens
 * (over a Unix socket only). ag_watch_fresh() is 1 when the state held
 * includes every commit acknowledged so far, 0 when metad must be asked.
 * ag_watch_start returns 0 (with *wp NULL over TCP: no shortcut there) or
 * -errno when the thread cannot start. */
int ag_watch_start(struct ag_cluster *c, struct ag_watch **wp);
void ag_watch_stop(struct ag_watch *w);
int ag_watch_fresh(struct ag_watch *w);
/* For a reader that follows commits (agora events --follow, the
 * deliverer): with *fd < 0, open a watching connection of its own into
 * *fd and move c to the newest generation; else wait up to timeout_ms
 * for the next commit and move c to it. 1 when c moved, 0 on timeout,
 * -errno when the connection failed (*fd is then closed and -1). The
 * caller closes *fd with ag_watch_close (it may be an rsocket, net.h). */
int ag_watch_wait(struct ag_cluster *c, int *fd, int timeout_ms);
void ag_watch_close(int fd);

#endif
