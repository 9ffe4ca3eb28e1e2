/*
 * meta_int.h - what the two halves of metad's engine share: apply.c
 * (transactions applied with an undo log) and meta.c (open, group
 * commit, housekeeping). Nothing outside those two files includes it.
 */
#ifndef AG_META_INT_H
#define AG_META_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "btree.h"
#include "drive.h"
#include "keys.h"
#include "pager.h"
#include "space.h"

#define MAX_CLIENTS 4096

struct undo {
	uint8_t *key;
	size_t klen;
	uint8_t *val; /* NULL: the key did not exist */
	size_t vlen;
};

struct client_seen {
	uint64_t id;
	uint64_t mono;
};

/* Which clients hold which inodes open (holds.c). */
#define AG_HOLDS_BITS 12
#define AG_HOLDS_BUCKETS (1u << AG_HOLDS_BITS)
struct hold;
struct ag_holds {
	struct hold *b[AG_HOLDS_BUCKETS];
	size_t count;
};

int ag_holds_add(struct ag_holds *h, uint64_t client, uint64_t ino);
void ag_holds_del(struct ag_holds *h, uint64_t client, uint64_t ino);
/* A client other than except that holds ino, or 0. */
uint64_t ag_holds_other(const struct ag_holds *h, uint64_t ino,
			uint64_t except);
/* Remove every hold of a client for which drop(arg, client) is true. */
void ag_holds_prune(struct ag_holds *h, int (*drop)(void *arg, uint64_t),
		    void *arg);
/* Remove every hold of client; their inodes go to *inos (freed by the
 * caller), n of them. */
int ag_holds_take_client(struct ag_holds *h, uint64_t client,
			 uint64_t **inos, size_t *n);
void ag_holds_free(struct ag_holds *h);

struct ag_meta {
	const struct ag_config *cfg;
	struct ag_drives *ds;
	struct ag_pagestore *ps;
	struct ag_pager pager;
	struct ag_tree *tree;
	struct ag_space space;
	struct ag_commit_rec rec; /* the newest commit */
	uint64_t synced_gen;      /* the newest synced: durable */
	uint64_t unsynced_since;  /* monotonic ns of the first lazy commit
				   * after it */
	/* the syncer: a thread that syncs runs of lazy commits while the
	 * loop goes on committing (meta.c) */
	pthread_t syncer;
	int syncer_running, syncer_stop, syncer_busy;
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	uint64_t sync_want, sync_done; /* generations, under sync_lock */
	uint32_t fill_want, fill_done; /* spare segments to prepare */
	uint64_t next_ino;
	uint64_t stored_ino;      /* the tree's next_ino: at least next_ino */
	uint32_t stored_epoch;    /* the tree's page_epoch (0: not yet) */
	struct ag_stats_rec stats;
	int pending;              /* transactions applied since commit */
	int lock_fd;
	uint32_t lease_epoch;     /* of agora-metad's lease (0: none) */
	struct client_seen clients[MAX_CLIENTS];
	int nclients;
	struct ag_holds holds;
	uint64_t started;
	int accept_rollback;      /* AG_META_ACCEPT_ROLLBACK was given */
	uint64_t lost_gen;        /* the damaged generation it accepted to
				   * lose: commits go on past it (0: none) */
	int broken;               /* a failed commit could not reload the
				   * state (the drives went away): nothing
				   * more is applied or committed */
	/* chunks the open batch's lazy transactions stored unsynced
	 * (ag_meta_note_unsynced): its record lists them, or, past what a
	 * record holds (too_many), the commit syncs them first */
	struct ag_commit_data unsynced[AG_COMMIT_DATA_MAX];
	uint32_t nunsynced;
	int too_many;
	struct ag_event_paths *evpaths; /* directory paths for events
					 * (evlog.c) */
	struct ag_evlast *evlast; /* the event appended last (evlog.c) */
};

/* The state of one transaction being applied. */
struct tx {
	struct ag_meta *m;
	uint64_t client;
	int64_t now;
	struct undo *undo;
	size_t nundo, undo_cap;
	struct ag_stats_rec stats; /* copy, committed on success */
	uint64_t last_ino;
	uint64_t *made;           /* inode of each MKNODE so far, for
				   * AG_TXN_MADE(i) (txn.h) */
	uint32_t nmade, made_cap;
	uint32_t seg;
	uint64_t fill;
	struct ag_tx_events *events; /* evlog.c: made, not yet appended */
	uint32_t proto;           /* of the events (EVENT ORIGIN) */
	uint64_t want_ino;	  /* an INO op's, for the next MKNODE */
};

/* Segment record changes that keep space's in-memory mirror in step. */
int ag_tx_seg_put(struct tx *tx, uint32_t seg, const struct ag_seg_rec *r);
/* Give a leased segment back: sealed, or free when nothing in it lives. */
int ag_tx_seal_segment(struct tx *tx, uint32_t seg, uint64_t fill);
/* Destroy an orphan inode with its data (nothing if it was named again). */
int ag_tx_drop_orphan(struct tx *tx, uint64_t ino);
/* The directory paths and the last event evlog.c keeps: forgotten when
 * the tree may have gone back (a rollback, a reload), freed with m. */
void ag_evlog_forget(struct ag_meta *m);
void ag_evlog_close(struct ag_meta *m);
/* Undo every change of the transaction; then free it. */
void ag_tx_rollback(struct tx *tx);
void ag_tx_free(struct tx *tx);

#endif
