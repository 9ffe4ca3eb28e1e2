/*
 * metad.c - agora-metad, the metadata commit service.
 *
 * One thread, one poll loop. Every turn it reads whatever frames the
 * clients have sent, applies each transaction to the open batch, then
 * commits the batch once (pages and one commit record, synced) and
 * answers every transaction of it: group commit falls out of the loop,
 * the batch is whatever arrived while the previous commit was on the
 * drives (and, briefly, what the clients of the last batch send next).
 * A batch of lazy transactions only is written and not synced; a durable
 * transaction, a SYNC request or the timer syncs it later.
 *
 * Several agora-metad may serve one cluster (`metad = ADDR,ADDR,...`):
 * one is active, the others stand by. A standby neither listens nor
 * touches the cluster; it looks at the lease on the drives (lease.h)
 * until it takes it, then opens the cluster with the lease's fencing
 * epoch (which commits the fence) and listens on its own address. The
 * active one commits only while it holds the lease and answers a
 * commit only when it still held it once the commit was written: one
 * that lost it (it was stopped, or cut off from the drives for longer
 * than its lease) drops its connections unanswered, stops listening
 * and stands by again. Its clients resend to the new one by
 * idempotency id.
 *
 * A client that sends garbage or an oversized frame is disconnected;
 * everyone else goes on. Replies are buffered per connection so a slow
 * reader never stalls the loop. A frame's body is held only as its bytes
 * arrive, and every connection's partial body comes out of one budget
 * (BODY_BUDGET): a length declared is not memory spent, and clients that
 * send many big frames slowly cannot take the daemon's memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agora.h"
#include "apply.h"
#include "config.h"
#include "format.h"
#include "lease.h"
#include "net.h"
#include "rpc.h"
#include "stripe.h"
#include "util.h"

#define MAX_CONNS 1024

/* A frame body starts at BODY_FIRST bytes (or its length, if smaller) and
 * doubles as it fills. Beyond its first allocation a body grows only
 * within BODY_BUDGET, shared by all connections: one whole frame of
 * AG_RPC_MAX and then some always fit. A connection that needs more while
 * the budget is spent is starved: not read (its sender waits on a full
 * socket) until a frame completes or a connection closes. So the partial
 * bodies hold at most BODY_BUDGET + MAX_CONNS * BODY_FIRST bytes.
 * Partial frames that all wait for budget would wait for ever: a
 * connection that has sent nothing for lease_timeout half-way through a
 * frame is dropped, starved or not. The oldest holders go first, and a
 * starved one cannot send to stay alive, so the budget always comes
 * back; a client whose frame was dropped so resends it on its new
 * connection (transactions are idempotent). */
#define BODY_FIRST (16u << 10)
#define BODY_BUDGET ((size_t)AG_RPC_MAX + (32u << 20))

struct conn {
	int fd;
	uint8_t hdr[AG_RPC_HDR];
	size_t hdr_got;
	uint8_t *body;
	size_t body_len, body_got;
	size_t body_cap;   /* allocated, counted in body_held */
	int starved;       /* needs more than the budget has left */
	uint64_t last_rx;  /* ag_mono_ns of the last bytes received */
	uint8_t *out;
	size_t out_len, out_cap;
	int watching;      /* gets AG_RPC_NOTIFY after every commit */
};

/* A transaction applied in the open batch, waiting for its commit. */
struct waiter {
	int conn;
	int fd;            /* to notice a reused slot */
	uint32_t type;
	uint64_t id;
	struct ag_rpc_reply reply;
};

static volatile sig_atomic_t stopping;
static struct ag_lease *lease;
static int lease_lost;     /* serve() must step down */
static const char *step_down_why = "lost the lease";
static struct conn conns[MAX_CONNS];
static int nconns;
static struct waiter *waiters;
static size_t nwaiters, waiters_cap;
static size_t body_held;   /* body_cap of every connection */
static int body_freed;     /* budget came back: starved ones may go on */

static void body_drop(struct conn *c)
{
	free(c->body);
	body_held -= c->body_cap;
	body_freed |= c->body_cap != 0;
	c->body = NULL;
	c->body_cap = 0;
}

/* Room for the next bytes of c's body: 0, or -1 when out of memory. A
 * body the budget cannot grow starves its connection (returns 0). */
static int body_grow(struct conn *c)
{
	size_t cap = c->body_cap * 2;
	uint8_t *nb;

	if (cap > c->body_len)
		cap = c->body_len;
	if (body_held + (cap - c->body_cap) > BODY_BUDGET) {
		c->starved = 1;
		return 0;
	}
	nb = realloc(c->body, cap);
	if (!nb)
		return -1;
	body_held += cap - c->body_cap;
	c->body = nb;
	c->body_cap = cap;
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void conn_close(int i)
{
	struct conn *c = &conns[i];

	ag_net_close(c->fd);
	body_drop(c);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int conn_flush(struct conn *c)
{
	while (c->out_len) {
		ssize_t n = ag_net_send(c->fd, c->out, c->out_len,
					MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -EPIPE;
		memmove(c->out, c->out + n, c->out_len - n);
		c->out_len -= n;
	}
	return 0;
}

/* How many generations up to gen are not synced yet: a lazy client
 * keeps its transactions until this says they are durable. */
static uint32_t unsynced_upto(struct ag_meta *m, uint64_t gen)
{
	uint64_t synced = ag_meta_synced_gen(m);

	return synced >= gen ? 0 : (uint32_t)AG_MIN(gen - synced, UINT32_MAX);
}

/* Queue a reply, followed by npages pushed pages. */
static void send_reply_pages(int i, uint32_t type, uint64_t id,
			     const struct ag_rpc_reply *r, const uint8_t *pages,
			     uint32_t npages)
{
	struct conn *c = &conns[i];
	size_t extra = (size_t)npages * AG_PAGE_SIZE;
	size_t need = AG_RPC_HDR + AG_RPC_REPLY_LEN + extra;
	uint8_t *p;

	if (c->out_len + need > c->out_cap) {
		size_t cap = c->out_cap ? 2 * c->out_cap : 4096;
		uint8_t *n;

		while (cap < c->out_len + need)
			cap *= 2;
		n = realloc(c->out, cap);
		if (!n) {
			conn_close(i);
			return;
		}
		c->out = n;
		c->out_cap = cap;
	}
	p = c->out + c->out_len;
	put_le32(p, (uint32_t)(12 + AG_RPC_REPLY_LEN + extra));
	put_le32(p + 4, type | AG_RPC_REPLY);
	put_le64(p + 8, id);
	ag_rpc_reply_encode(p + AG_RPC_HDR, r);
	if (extra)
		memcpy(p + AG_RPC_HDR + AG_RPC_REPLY_LEN, pages, extra);
	c->out_len += need;
}

static void send_reply(int i, uint32_t type, uint64_t id,
		       const struct ag_rpc_reply *r)
{
	send_reply_pages(i, type, id, r, NULL, 0);
}

/* Tell the watchers of a new commit, before anyone learns it is done: a
 * watcher that has read every byte of its socket knows every commit
 * acknowledged so far. A watcher that cannot take the notice at once has
 * stopped reading and is dropped (its client asks for the state again). */
static void notify_watchers(uint64_t gen, uint64_t root)
{
	struct ag_rpc_reply r = { .gen = gen, .root = root };
	int i;

	for (i = 0; i < nconns; i++) {
		if (conns[i].fd < 0 || !conns[i].watching)
			continue;
		send_reply(i, AG_RPC_NOTIFY, 0, &r);
		if (conns[i].fd >= 0 &&
		    (conn_flush(&conns[i]) || conns[i].out_len)) {
			AG_WARN("connection %d: a watcher does not read; "
				"dropped", i);
			conn_close(i);
		}
	}
}

static int add_waiter(int conn, uint32_t type, uint64_t id,
		      const struct ag_rpc_reply *r)
{
	if (nwaiters == waiters_cap) {
		size_t cap = waiters_cap ? 2 * waiters_cap : 256;
		struct waiter *n = realloc(waiters, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		waiters = n;
		waiters_cap = cap;
	}
	waiters[nwaiters].conn = conn;
	waiters[nwaiters].fd = conns[conn].fd;
	waiters[nwaiters].type = type;
	waiters[nwaiters].id = id;
	waiters[nwaiters].reply = *r;
	nwaiters++;
	return 0;
}

/* Handle one whole frame; returns -1 to drop the connection. */
static int handle_frame(struct ag_meta *m, int i, uint32_t type, uint64_t id,
			const uint8_t *body, size_t len)
{
	struct ag_rpc_reply r = { 0 };
	struct ag_meta_result res;
	int rc;

	switch (type) {
	case AG_RPC_TXN:
	case AG_RPC_TXN_LAZY:
		rc = ag_meta_apply(m, body, len, &res);
		if (rc == -AG_EPROTO) {
			AG_WARN("connection %d: malformed transaction", i);
			r.status = -EPROTO;
			send_reply(i, type, id, &r);
			return 0;
		}
		/* a lazy client does not sync the chunks it stored */
		if (type == AG_RPC_TXN_LAZY && !res.status && !res.replay)
			ag_meta_note_unsynced(m, body, len);
		r.status = res.status;
		r.flags = res.replay;
		r.ino = res.ino;
		r.seg = res.seg;
		r.fill = res.fill;
		return add_waiter(i, type, id, &r) ? -1 : 0;
	case AG_RPC_PING:
		if (len < 8 || len % 8)
			return -1;
		ag_meta_client_alive(m, get_le64(body));
		ag_meta_holds_set(m, get_le64(body), body + 8, len / 8 - 1);
		r.gen = ag_meta_gen(m);
		r.root = ag_meta_root(m);
		r.unsynced = unsynced_upto(m, r.gen);
		send_reply(i, type, id, &r);
		return 0;
	case AG_RPC_HOLD:
		if (len != 17 || body[16] > 1)
			return -1;
		if (body[16])
			r.status = ag_meta_hold(m, get_le64(body),
						get_le64(body + 8));
		else
			ag_meta_release(m, get_le64(body), get_le64(body + 8));
		/* "no such inode" after the open batch commits: the client
		 * then reads a root without it */
		if (r.status)
			return add_waiter(i, type, id, &r) ? -1 : 0;
		r.gen = ag_meta_gen(m);
		r.root = ag_meta_root(m);
		r.unsynced = unsynced_upto(m, r.gen);
		send_reply(i, type, id, &r);
		return 0;
	case AG_RPC_WATCH:
		if (len)
			return -1;
		conns[i].watching = 1;
		r.gen = ag_meta_gen(m);
		r.root = ag_meta_root(m);
		r.unsynced = unsynced_upto(m, r.gen);
		send_reply(i, type, id, &r);
		return 0;
	case AG_RPC_STATE:
	case AG_RPC_SYNC:
		if (len)
			return -1;
		/* answered after the open batch commits, so the reader sees
		 * everything acknowledged before it asked */
		return add_waiter(i, type, id, &r) ? -1 : 0;
	}
	AG_WARN("connection %d: unknown frame type %#x", i, type);
	return -1;
}

/* Read what the socket has; handle complete frames. -1: drop it. */
static int conn_read(struct ag_meta *m, int i, int budget)
{
	struct conn *c = &conns[i];

	while (budget > 0) {
		ssize_t n;

		if (c->hdr_got < AG_RPC_HDR) {
			n = ag_net_recv(c->fd, c->hdr + c->hdr_got,
					AG_RPC_HDR - c->hdr_got, MSG_DONTWAIT);
		} else {
			if (c->body_got == c->body_cap && body_grow(c))
				return -1;
			if (c->starved)
				return 0;
			n = ag_net_recv(c->fd, c->body + c->body_got,
					c->body_cap - c->body_got, MSG_DONTWAIT);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		c->last_rx = ag_mono_ns();
		if (c->hdr_got < AG_RPC_HDR) {
			uint32_t flen;

			c->hdr_got += n;
			if (c->hdr_got < AG_RPC_HDR)
				continue;
			flen = get_le32(c->hdr);
			if (flen < 12 || flen > AG_RPC_MAX) {
				AG_WARN("connection %d: bad frame length %u",
					i, flen);
				return -1;
			}
			c->body_len = flen - 12;
			c->body_got = 0;
			/* the first part is always granted, so a small frame
			 * goes through however much others hold */
			c->body_cap = c->body_len < BODY_FIRST ? c->body_len
							      : BODY_FIRST;
			c->body = malloc(c->body_cap ? c->body_cap : 1);
			if (!c->body) {
				c->body_cap = 0;
				return -1;
			}
			body_held += c->body_cap;
		} else {
			c->body_got += n;
		}
		if (c->hdr_got == AG_RPC_HDR && c->body_got == c->body_len) {
			int rc = handle_frame(m, i, get_le32(c->hdr + 4),
					      get_le64(c->hdr + 8), c->body,
					      c->body_len);

			body_drop(c);
			c->hdr_got = 0;
			if (rc)
				return -1;
			budget--;
		}
	}
	return 0;
}

static int is_txn(uint32_t type)
{
	return type == AG_RPC_TXN || type == AG_RPC_TXN_LAZY;
}

/* Transactions (not STATE or SYNC requests) in the open batch. */
static size_t txns_waiting(void)
{
	size_t n = 0, w;

	for (w = 0; w < nwaiters; w++)
		n += is_txn(waiters[w].type);
	return n;
}

/* Whether a waiter of the open batch wants it durable. */
static int durable_wanted(void)
{
	size_t w;

	for (w = 0; w < nwaiters; w++)
		if (waiters[w].type == AG_RPC_TXN ||
		    waiters[w].type == AG_RPC_SYNC)
			return 1;
	return 0;
}

/* Pages of a commit go to its clients with their replies: each is about
 * to read the new tree, whose changed pages it has never seen.
 * - A lone writer (agora put, a big PUT) gets up to AG_RPC_PUSH_MAX of
 *   them, all or the first: its next dedup lookups land in the leaves its
 *   commit rewrote, and reading those back from the drives one by one
 *   cost a fifth of a put's time.
 * - The clients of a batch share PUSH_SHARED pages, and get them only
 *   when the whole commit fits: copying more to everyone cost 8 clients
 *   of small creates more than the reads it saves them. */
#define PUSH_SHARED 64 /* pages times clients */

static uint32_t pages_to_push(struct ag_meta *m, uint64_t old_gen,
			      uint64_t gen, uint8_t **buf)
{
	size_t ntxn = txns_waiting();
	uint32_t max;

	if (gen == old_gen || !ntxn)
		return 0;
	max = ntxn == 1 ? AG_RPC_PUSH_MAX : PUSH_SHARED / ntxn;
	if (!*buf)
		*buf = malloc((size_t)AG_RPC_PUSH_MAX * AG_PAGE_SIZE);
	return *buf ? ag_meta_commit_pages(m, *buf, max, ntxn == 1) : 0;
}

static void commit_and_answer(struct ag_meta *m)
{
	static uint8_t *push;
	uint64_t old_gen = ag_meta_gen(m), gen, root;
	uint32_t npush = 0, lag;
	size_t w;
	int rc;

	if (!nwaiters && !ag_meta_pending(m))
		return;
	/* fenced: nothing is committed without the lease, and nothing is
	 * answered that was written after it ran out (a successor may
	 * have started from a state without it) */
	if (!ag_lease_held(lease)) {
		lease_lost = 1;
		return;
	}
	rc = ag_meta_commit(m, !durable_wanted(), &gen, &root);
	if (!ag_lease_held(lease)) {
		lease_lost = 1;
		return;
	}
	if (rc && ag_meta_broken(m)) {
		/* the drives went away under us (our host lost its
		 * storage network): a standby that still has them takes
		 * over once our lease runs out, which no renewal makes
		 * longer now; our clients go there */
		step_down_why = "cannot read the cluster's state";
		lease_lost = 1;
		return;
	}
	if (!rc && gen != old_gen)
		notify_watchers(gen, root);
	if (!rc)
		npush = pages_to_push(m, old_gen, gen, &push);
	lag = unsynced_upto(m, gen);
	for (w = 0; w < nwaiters; w++) {
		struct waiter *wt = &waiters[w];
		int txn = is_txn(wt->type);

		if (conns[wt->conn].fd != wt->fd || wt->fd < 0)
			continue; /* the client went away */
		if (rc && wt->type != AG_RPC_STATE)
			wt->reply.status = rc;
		wt->reply.gen = gen;
		wt->reply.root = root;
		wt->reply.unsynced = lag;
		send_reply_pages(wt->conn, wt->type, wt->id, &wt->reply, push,
				 txn ? npush : 0);
	}
	nwaiters = 0;
}

static int accept_conn(int lfd)
{
	int fd = ag_net_accept(lfd);
	int i;

	if (fd < 0)
		return fd;
	for (i = 0; i < nconns; i++)
		if (conns[i].fd < 0)
			break;
	if (i == MAX_CONNS) {
		AG_WARN("too many connections; refusing one");
		ag_net_close(fd);
		return -EMFILE;
	}
	if (i == nconns)
		nconns++;
	memset(&conns[i], 0, sizeof(conns[i]));
	conns[i].fd = fd;
	return 0;
}

/* Poll the listener and every connection for up to timeout_ns, accept a
 * newcomer and read what arrived (up to budget frames a connection).
 * Pending replies are polled for too only when want_out says so. */
static int poll_and_read(struct ag_meta *m, int lfd, int budget,
			 uint64_t timeout_ns, int want_out)
{
	static struct pollfd pfd[MAX_CONNS + 1];
	int n = 0, i, rc;

	/* the starved try again whenever some budget came back (their
	 * silence still counts from their last bytes) */
	if (body_freed)
		for (i = 0; i < nconns; i++)
			conns[i].starved = 0;
	body_freed = 0;
	pfd[n].fd = lfd;
	pfd[n++].events = POLLIN;
	for (i = 0; i < nconns; i++) {
		pfd[n].fd = conns[i].fd;
		pfd[n].events = conns[i].fd < 0 ? 0 :
				(conns[i].starved ? 0 : POLLIN) |
				(want_out && conns[i].out_len ? POLLOUT : 0);
		n++;
	}
	rc = ag_net_poll(pfd, n, (int64_t)timeout_ns);
	if (rc < 0)
		return rc == -EINTR ? 0 : rc;
	if (rc > 0 && (pfd[0].revents & POLLIN))
		accept_conn(lfd);
	for (i = 0; rc > 0 && i < nconns; i++) {
		short ev = pfd[i + 1].revents;

		if (conns[i].fd < 0 || !ev)
			continue;
		/* a starved peer that hung up can never finish its frame:
		 * without this, its POLLHUP would spin the loop */
		if (conns[i].starved && (ev & (POLLHUP | POLLERR))) {
			conn_close(i);
			continue;
		}
		if ((ev & (POLLIN | POLLHUP | POLLERR)) &&
		    conn_read(m, i, budget) < 0)
			conn_close(i);
	}
	return 0;
}

/* Clients answered together tend to send their next transaction
 * together, a few tens of microseconds apart. When fewer have arrived
 * than the last batch held, wait a moment for the rest: one flush then
 * commits them all, where committing at once would cost them a flush
 * each. A lone client never waits. */
#define GATHER_NS 150000ull

static void gather(struct ag_meta *m, int lfd, int budget, size_t last_batch)
{
	uint64_t start = ag_mono_ns(), now = start;
	size_t n;

	/* a reader's STATE never waits: only transactions gather */
	while (!stopping && (n = txns_waiting()) && n < last_batch &&
	       now - start < GATHER_NS) {
		if (poll_and_read(m, lfd, budget, GATHER_NS - (now - start),
				  0))
			return;
		now = ag_mono_ns();
	}
}

/* Drop the connections silent half-way through a frame for silence_ns:
 * a partial frame holds memory of the budget (BODY_BUDGET). */
static void drop_stalled(uint64_t silence_ns)
{
	uint64_t now = ag_mono_ns();
	int i;

	for (i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		if (c->fd < 0 || !c->hdr_got || now - c->last_rx < silence_ns)
			continue;
		AG_WARN("connection %d: silent for %llu s half-way through a "
			"frame; dropped", i,
			(unsigned long long)((now - c->last_rx) / 1000000000ull));
		conn_close(i);
	}
}

/* Step down: every connection dropped, its transactions unanswered (the
 * clients resend them to the active metad). */
static void drop_all(void)
{
	int i;

	for (i = 0; i < nconns; i++)
		if (conns[i].fd >= 0)
			conn_close(i);
	nconns = 0;
	nwaiters = 0;
}

static int serve(struct ag_meta *m, int lfd, int batch_max,
		 uint64_t silence_ns)
{
	uint64_t last_tick = ag_mono_ns();
	size_t last_batch = 0;
	int i, rc;

	while (!stopping && !lease_lost) {
		if (!ag_lease_held(lease)) {
			lease_lost = 1;
			break;
		}
		rc = poll_and_read(m, lfd, batch_max, 1000000000ull, 1);
		if (rc)
			return rc;
		gather(m, lfd, batch_max, last_batch);
		if (txns_waiting())
			last_batch = txns_waiting();
		commit_and_answer(m);
		if (lease_lost)
			break;
		for (i = 0; i < nconns; i++)
			if (conns[i].fd >= 0 && conns[i].out_len &&
			    conn_flush(&conns[i]))
				conn_close(i);
		if (ag_mono_ns() - last_tick > 1000000000ull) {
			last_tick = ag_mono_ns();
			ag_meta_tick(m);
			commit_and_answer(m);
			drop_stalled(silence_ns);
		}
	}
	if (!lease_lost)
		commit_and_answer(m);
	if (lease_lost) {
		AG_ERR("%s at generation %llu: stepping down, %zu request%s "
		       "left unanswered", step_down_why, (unsigned long long)
		       ag_meta_gen(m), nwaiters, nwaiters == 1 ? "" : "s");
		drop_all();
	}
	return 0;
}

/* This metad's address: -l ADDR, which must be in the list, or the
 * list's only one. */
static const char *own_address(const struct ag_config *cfg,
			       const char *listen_addr, char *buf, size_t len)
{
	if (!listen_addr) {
		if (strchr(cfg->metad, ',')) {
			AG_ERR("metad = lists several addresses: say which is "
			       "this one's with -l ADDR");
			return NULL;
		}
		snprintf(buf, len, "%s", cfg->metad);
		return buf;
	}
	if (!ag_config_metad_has(cfg, listen_addr)) {
		AG_ERR("-l %s: not an address of metad = %s", listen_addr,
		       cfg->metad);
		return NULL;
	}
	snprintf(buf, len, "%s", listen_addr);
	return buf;
}

/* Stand by until this metad takes the lease: 0, or -errno (-EBUSY when
 * another must not be waited for), or 1 when told to stop. ready_fd is
 * told once the first look is done, so that `agora-metad -d` of a
 * standby returns. */
static int stand_by(int *ready_fd, int keep_stderr)
{
	char holder[AG_LEASE_ADDR_MAX] = "", told[AG_LEASE_ADDR_MAX] = "";
	int rc;

	while (!stopping) {
		rc = ag_lease_try_take(lease, holder, sizeof(holder));
		if (rc == -EBUSY || rc == -ENOMEM)
			return rc;
		if (rc == 1)
			return 0;
		if (rc < 0)
			AG_WARN("cannot take the lease: %s; trying again",
				ag_strerror(rc));
		else if (strcmp(told, holder)) {
			AG_INFO("standing by: %s is the active metad", holder);
			snprintf(told, sizeof(told), "%s", holder);
		}
		if (*ready_fd >= 0) {
			ag_daemon_ready(*ready_fd, 0, keep_stderr);
			*ready_fd = -1;
		}
		usleep((useconds_t)(ag_lease_poll_ns(lease) / 1000));
	}
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: agora-metad -c CONFIG [-d] [-p PIDFILE] [-l ADDR] "
		   "[--accept-rollback]\n"
		   "  -c CONFIG   cluster configuration (agora.conf(5))\n"
		   "  -d          detach once ready (active or standing by), "
		   "write the pid file\n"
		   "  -l ADDR     this metad's address among those of metad =\n"
		   "  -p PIDFILE  pid file (default: [metad] pidfile)\n"
		   "  -v          log debug messages\n"
		   "  --accept-rollback\n"
		   "              serve the newest whole commit even when a "
		   "newer one is\n"
		   "              damaged on every copy, losing it\n");
}

int main(int argc, char **argv)
{
	const char *cfgfile = NULL, *pidfile = NULL, *listen_addr = NULL;
	const char *self;
	char selfbuf[AG_LEASE_ADDR_MAX];
	struct ag_config *cfg = NULL;
	struct ag_meta *m = NULL;
	static const struct option longopts[] = {
		{ "accept-rollback", no_argument, NULL, 'R' },
		{ "listen", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, daemonize = 0, lfd = -1, ready_fd = -1, rc, flags = 0;
	int wrote_pid = 0;
	struct sigaction sa = { .sa_handler = on_signal };

	while ((opt = getopt_long(argc, argv, "c:dl:p:vh", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'R': flags |= AG_META_ACCEPT_ROLLBACK; break;
		case 'c': cfgfile = optarg; break;
		case 'd': daemonize = 1; break;
		case 'l': listen_addr = optarg; break;
		case 'p': pidfile = optarg; break;
		case 'v': ag_log_set_level(7); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfgfile || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (ag_config_load(cfgfile, &cfg))
		return 2;
	self = own_address(cfg, listen_addr, selfbuf, sizeof(selfbuf));
	/* an address this build cannot listen on is refused before the
	 * lease is taken (ag_net_check says why) */
	rc = self ? ag_net_check(self) : -EINVAL;
	if (self && rc)
		AG_ERR("cannot listen on %s: %s", self, ag_strerror(rc));
	if (rc) {
		ag_config_free(cfg);
		return 2;
	}
	if (!pidfile)
		pidfile = cfg->pidfile;
	if (cfg->log) {
		int fd = open(cfg->log, O_WRONLY | O_CREAT | O_APPEND |
				       O_CLOEXEC, 0644);

		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
			fprintf(stderr, "agora-metad: %s: %s\n", cfg->log,
				strerror(errno));
			return 2;
		}
		close(fd);
	}
	if (daemonize && (ready_fd = ag_daemon_detach()) < 0) {
		fprintf(stderr, "agora-metad: fork: %s\n",
			ag_strerror(ready_fd));
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ag_meta_set_data_check(ag_stripes_check_data);
	rc = ag_lease_new(cfg, self,
			  (uint64_t)cfg->active_lease_ms * 1000000ull, &lease);
	if (rc) {
		AG_ERR("cannot open the cluster: %s", ag_strerror(rc));
		goto out;
	}
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
			wrote_pid = 1;
		}
	}
	while (!stopping) {
		rc = stand_by(&ready_fd, cfg->log != NULL);
		if (rc == 1) {
			rc = 0;
			break;
		}
		if (rc)
			goto out;
		rc = ag_meta_open_leased(cfg, flags, ag_lease_epoch(lease), &m);
		if (rc) {
			AG_ERR("cannot open the cluster: %s", ag_strerror(rc));
			goto out;
		}
		lfd = ag_rpc_listen(self);
		if (lfd < 0) {
			rc = lfd;
			AG_ERR("cannot listen on %s: %s", self, ag_strerror(rc));
			goto out;
		}
		AG_INFO("serving %s at generation %llu (fencing epoch %u)",
			self, (unsigned long long)ag_meta_gen(m),
			ag_lease_epoch(lease));
		if (ready_fd >= 0) {
			ag_daemon_ready(ready_fd, 0, cfg->log != NULL);
			ready_fd = -1;
		}
		lease_lost = 0;
		step_down_why = "lost the lease";
		rc = serve(m, lfd, cfg->batch_max > 0 ? cfg->batch_max : 256,
			   (uint64_t)cfg->lease_timeout * 1000000000ull);
		ag_net_close(lfd);
		lfd = -1;
		if (!strncmp(self, "unix:", 5))
			unlink(self + 5);
		if (rc || !lease_lost)
			break;
		/* stand by again, without a word more to the drives */
		ag_meta_close(m);
		m = NULL;
		ag_lease_drop(lease, 0);
	}
	if (m)
		AG_INFO("stopping at generation %llu",
			(unsigned long long)ag_meta_gen(m));
out:
	if (wrote_pid)
		unlink(pidfile);
	if (lfd >= 0)
		ag_net_close(lfd);
	/* the last sync first, then the lease goes to a standby */
	ag_meta_close(m);
	ag_lease_free(lease);
	ag_config_free(cfg);
	return rc ? 1 : 0;
}
