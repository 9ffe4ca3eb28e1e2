/*
 * unsynced.h - the transactions of a lazy handle (a file system) that
 * metad answered but has not synced yet, kept until it has.
 *
 * A lazy commit is answered once it is written, before it is synced
 * (rpc.h): were metad's host to die then, the commit could be lost
 * although it was acknowledged and other gateways read it. So the handle
 * keeps a copy of each such transaction until a reply says that its
 * generation is durable (the reply's unsynced count), and sends the
 * copies again, in the order metad applied them, before anything else on
 * every new connection to metad (the greeting, rpc.h). A metad that has
 * them answers "replayed" by their id; one that lost them applies them,
 * and one that made an inode makes the same inode again (INO, txn.h), so
 * the transactions after it that name it still mean it.
 *
 * Bounded: metad knows a transaction as done only among the last
 * AG_TXN_WINDOW ids of its client (keys.h), so a kept one must stay in
 * that window, and at most AG_UNSYNCED_BYTES are kept. ag_unsynced_room
 * says when the next transaction would break either: the handle then
 * syncs first (AG_RPC_SYNC), which makes every kept one durable.
 *
 * Thread-safe. Its lock is a leaf, but for the greeting, which takes it
 * under the RPC client's lock (HACKING, "The locks").
 */
#ifndef AG_UNSYNCED_H
#define AG_UNSYNCED_H

#include <stddef.h>
#include <stdint.h>

#include "rpc.h"

#define AG_UNSYNCED_BYTES (8u << 20)

struct ag_unsynced;

int ag_unsynced_new(struct ag_unsynced **up);
/* Accepts NULL. */
void ag_unsynced_free(struct ag_unsynced *u);
/* Whether transaction txid of len bytes may go out now: 0 when a kept one
 * would fall out of the window of ids metad remembers, or past
 * AG_UNSYNCED_BYTES (the caller syncs, then asks again); 1 when it may.
 * A transaction bigger than the whole budget may go: its caller syncs it
 * once it is answered (ag_unsynced_keep says so). */
int ag_unsynced_room(struct ag_unsynced *u, uint64_t txid, size_t len);
/* Keep a copy of transaction txid (buf, len bytes, as sent), which metad
 * applied with reply r (status 0). 0, or -ENOSPC / -ENOMEM when it cannot
 * be kept: the caller must then sync before it acknowledges it. Call it
 * before the txid is free for reuse (so ag_unsynced_room sees it). */
int ag_unsynced_keep(struct ag_unsynced *u, uint64_t txid, const uint8_t *buf,
		     size_t len, const struct ag_rpc_reply *r);
/* A reply (r->status aside) says every generation up to r->gen -
 * r->unsynced is durable: forget what they hold. */
void ag_unsynced_synced(struct ag_unsynced *u, const struct ag_rpc_reply *r);
/* How many are kept. */
unsigned ag_unsynced_count(struct ag_unsynced *u);
/* The greeter of a lazy handle's RPC client (ag_rpc_set_greeter; arg:
 * the ag_unsynced): every kept transaction again, in order. A transport
 * error drops the connection (the next one sends them again); a
 * transaction metad now refuses is logged and forgotten. */
int ag_unsynced_greet(void *arg, struct ag_rpc_greeting *g);

#endif
