/*
 * rpc.h - the wire between libagora clients and agora-metad:
 * length-prefixed binary frames over a Unix, TCP or RDMA (rsockets)
 * stream, whichever the address names (net.h).
 *
 * Frame (little-endian):
 *   0 u32 length of what follows (12 + payload), at most AG_RPC_MAX
 *   4 u32 type      8 u64 request id      16 payload
 * Requests: AG_RPC_TXN (payload: an encoded transaction, txn.h),
 * AG_RPC_STATE (empty: asks for the newest generation and root),
 * AG_RPC_PING (u64 client id, then the u64 inodes the client holds open:
 * the client is alive, its segment leases and orphans stay, and metad's
 * table of open inodes gets its whole set; answered at once),
 * AG_RPC_HOLD (u64 client id, u64 inode, u8 1 to hold it open or 0 to
 * let go: answered at once, or with status -ENOENT when there is no such
 * inode after the open batch commits), AG_RPC_WATCH (empty: answered at
 * once with the newest generation; from then on, after every commit,
 * the connection gets an AG_RPC_NOTIFY frame with the new generation and
 * root (request id 0) written before any reply that acknowledges the
 * commit), AG_RPC_TXN_LAZY (as TXN, but answered once the commit is
 * written, before it is synced: it survives the death of any process,
 * and a power cut once synced), AG_RPC_SYNC (empty: answered once every
 * commit so far is durable).
 * A reply has the request's type with AG_RPC_REPLY set, the same request
 * id, and the payload struct ag_rpc_reply (40 bytes):
 *   0 i32 status   4 u32 flags (1: replayed)   8 u64 generation
 *   16 u64 root    24 u64 inode made   32 u32 segment leased
 *   36 u32 unsynced: how many of the generations up to this one metad
 *      has not synced yet (its lazy commits; 0: all are durable)
 *   40 u64 fill of the segment leased
 * A TXN or TXN_LAZY reply may carry after it up to AG_RPC_PUSH_MAX
 * metadata pages (AG_PAGE_SIZE each): the pages of the commit that holds the
 * transaction, which the client is about to read (as many as metad
 * chooses to send); the client checks and caches them.
 */
#ifndef AG_RPC_H
#define AG_RPC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define AG_RPC_MAX (64u << 20)
#define AG_RPC_HDR 16
#define AG_RPC_TXN 1u
#define AG_RPC_STATE 2u
#define AG_RPC_PING 3u
#define AG_RPC_WATCH 4u
#define AG_RPC_NOTIFY 5u /* sent as AG_RPC_NOTIFY | AG_RPC_REPLY */
#define AG_RPC_TXN_LAZY 6u
#define AG_RPC_SYNC 7u
#define AG_RPC_HOLD 8u
#define AG_RPC_REPLY 0x80000000u
#define AG_RPC_REPLY_LEN 48
#define AG_RPC_PUSH_MAX 512

struct ag_rpc_reply {
	int32_t status;
	uint32_t flags;
	uint64_t gen, root, ino;
	uint32_t seg;
	uint32_t unsynced; /* generations gen - unsynced and older are durable */
	uint64_t fill;
};

void ag_rpc_reply_encode(uint8_t *p, const struct ag_rpc_reply *r);
int ag_rpc_reply_decode(const uint8_t *p, size_t len, struct ag_rpc_reply *r);
/* The header of a frame a client reads (AG_RPC_HDR bytes): its type, its
 * request id and how many pages follow its reply; -AG_EPROTO when it is
 * not a well-formed reply (the bytes come from the network). */
int ag_rpc_reply_header(const uint8_t *hdr, uint32_t *type, uint64_t *id,
			uint32_t *npages);

/* Listen on "unix:PATH", "HOST:PORT" or "rdma:HOST:PORT" (net.h);
 * returns the socket or -errno. The socket is one of net.h's: used
 * through the ag_net_* calls only. */
int ag_rpc_listen(const char *addr);
/* Connect to the same forms; returns the socket or -errno. */
int ag_rpc_connect(const char *addr);

/* A client connection, shared by any number of threads with their calls
 * in flight together. It reconnects and resends when metad restarts:
 * transactions are idempotent by their id. */
struct ag_rpc;
int ag_rpc_new(const char *addr, struct ag_rpc **rp);
void ag_rpc_free(struct ag_rpc *r);
/* How long ag_rpc_call waits for a metad that went away before it fails
 * with -ENOTCONN (default 60 s; one that was never reached, at most
 * 1 s). */
void ag_rpc_set_patience(struct ag_rpc *r, unsigned seconds);
/* Where the pages pushed with replies go (none: they are read and
 * dropped). */
void ag_rpc_set_page_sink(struct ag_rpc *r,
			  void (*sink)(void *arg, const void *page),
			  void *arg);
/* What a new connection sends before any call goes out on it: greet is
 * called with each connection made (the first one too), under the
 * client's lock, so every call waits for it; whatever it sends with
 * ag_rpc_greet_call reaches metad first, in order. A non-zero return
 * drops the connection: the call that made it fails as on a lost one
 * (-EPIPE, and ag_rpc_call tries again). */
struct ag_rpc_greeting;
void ag_rpc_set_greeter(struct ag_rpc *r,
			int (*greet)(void *arg, struct ag_rpc_greeting *g),
			void *arg);
/* One request on the connection being greeted, and its reply (pages
 * pushed with it are dropped). */
int ag_rpc_greet_call(struct ag_rpc_greeting *g, uint32_t type,
		      const void *payload, size_t len,
		      struct ag_rpc_reply *reply);

/* Send one request and wait for its reply; retries for up to the
 * configured patience when the connection fails. */
int ag_rpc_call(struct ag_rpc *r, uint32_t type, const void *payload,
		size_t len, struct ag_rpc_reply *reply);

/* One attempt, no waiting for a restarting metad: -ENOTCONN at once when
 * it is not there (a heartbeat must not hold up a client that stops). */
int ag_rpc_try(struct ag_rpc *r, uint32_t type, const void *payload,
	       size_t len, struct ag_rpc_reply *reply);

/* Blocking helpers for whole buffers; -EPIPE on a closed peer. */
int ag_rpc_write_all(int fd, const void *buf, size_t len);
int ag_rpc_read_all(int fd, void *buf, size_t len);

#endif
