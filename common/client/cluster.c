/*
 * cluster.c - open a cluster as a client: drives, page cache, stripe
 * reader, the connection to metad and the data segment lease.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunkcache.h"
#include "cluster.h"
#include "event.h"
#include "format.h"
#include "keys.h"
#include "unsynced.h"
#include "util.h"

static int retire(struct ag_cluster *c);
static int commit(struct ag_cluster *c, struct ag_txn *t,
		  struct ag_rpc_reply *r, int wait, int lazy);

static atomic_uint_fast64_t next_instance = 1; /* ag_cluster.instance */

void ag_cl_set_state(struct ag_cluster *c, uint64_t gen, uint64_t root)
{
	pthread_mutex_lock(&c->state_lock);
	if (gen > c->gen) {
		c->gen = gen;
		c->root = root;
	}
	pthread_mutex_unlock(&c->state_lock);
}

/* What any reply of metad says: its state, and what is durable. */
static void learn(struct ag_cluster *c, const struct ag_rpc_reply *r)
{
	ag_cl_set_state(c, r->gen, r->root);
	ag_unsynced_synced(c->lazy_kept, r);
}

/* Ask metad for the newest state. Threads that want it at the same time
 * share one request: a caller needs an answer to a request sent after it
 * arrived, so while one is on the wire it waits for the next, which
 * serves everyone who came meanwhile. */
static int state_shared(struct ag_cluster *c)
{
	uint64_t want, mine;
	int rc;

	pthread_mutex_lock(&c->rf_lock);
	want = c->rf_sent + 1;
	while (c->rf_done < want) {
		struct ag_rpc_reply r;

		if (c->rf_busy) {
			pthread_cond_wait(&c->rf_cond, &c->rf_lock);
			continue;
		}
		c->rf_busy = 1;
		mine = ++c->rf_sent;
		pthread_mutex_unlock(&c->rf_lock);
		/* one attempt: a reader does not wait for a metad that is
		 * not there (ag_cluster_refresh reads the drives instead) */
		rc = ag_rpc_try(c->rpc, AG_RPC_STATE, NULL, 0, &r);
		if (!rc)
			learn(c, &r);
		pthread_mutex_lock(&c->rf_lock);
		c->rf_busy = 0;
		c->rf_done = mine;
		c->rf_rc = rc;
		pthread_cond_broadcast(&c->rf_cond);
	}
	rc = c->rf_rc;
	pthread_mutex_unlock(&c->rf_lock);
	return rc;
}

int ag_cl_check_commit(void *arg, const struct ag_commit_rec *r)
{
	struct ag_cluster *c = arg;
	int rc = ag_pagestore_check_commit(c->ps, r);

	return rc > 0 ? ag_stripes_check_data(c->ds, r) : rc;
}

int ag_cluster_refresh(struct ag_cluster *c)
{
	struct ag_commit_rec rec;
	int rc;

	if (ag_watch_fresh(c->watch))
		return 0;
	if (c->rpc) {
		rc = state_shared(c);
		if (rc != -ENOTCONN)
			return rc;
	}
	/* no metad: the drives still say what is committed (metad writes
	 * a commit there before it acknowledges it), so reads, listings
	 * and stats go on without it; only changes wait for it */
	rc = ag_commit_read_latest(c->ds, &rec, ag_cl_check_commit, c);
	if (rc == -AG_ELOST && (c->flags & AG_OPEN_DAMAGED))
		rc = 0; /* fsck and status say what it lost */
	if (rc)
		return rc;
	ag_cl_set_state(c, rec.gen, rec.root);
	return 0;
}

int ag_cluster_sync(struct ag_cluster *c)
{
	struct ag_rpc_reply r;
	int rc;

	if (!c->rpc)
		return 0;
	rc = ag_rpc_call(c->rpc, AG_RPC_SYNC, NULL, 0, &r);
	if (rc || r.status)
		return rc ? rc : r.status;
	r.unsynced = 0; /* everything up to r.gen */
	learn(c, &r);
	return 0;
}

uint64_t ag_cluster_generation(struct ag_cluster *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->state_lock);
	g = c->gen;
	pthread_mutex_unlock(&c->state_lock);
	return g;
}

int ag_cl_open_none(struct ag_cluster *c)
{
	return !c->open_ops || c->open_ops->none(c->open_files);
}

int ag_cl_open_has(struct ag_cluster *c, uint64_t ino)
{
	return c->open_ops && c->open_ops->has(c->open_files, ino);
}

/* Tell metad this client is alive, and which inodes it holds open,
 * without waiting for a metad that is not there; 0 when it answered. */
static int ping(struct ag_cluster *c)
{
	struct ag_rpc_reply r;
	uint8_t one[8], *msg = NULL;
	size_t len = sizeof(one);
	int rc;

	pthread_rwlock_wrlock(&c->hold_lock);
	if (!c->open_ops || c->open_ops->list(c->open_files, 8, &msg, &len))
		msg = NULL; /* no memory: say we are alive at least */
	if (!msg) {
		msg = one;
		len = sizeof(one);
	}
	put_le64(msg, c->client_id);
	rc = ag_rpc_try(c->rpc, AG_RPC_PING, msg, len, &r);
	pthread_rwlock_unlock(&c->hold_lock);
	if (!rc)
		learn(c, &r);
	if (msg != one)
		free(msg);
	return rc;
}

int ag_cl_hold(struct ag_cluster *c, uint64_t ino, int hold)
{
	struct ag_rpc_reply r;
	uint8_t msg[17];
	int rc;

	if (!c->rpc)
		return 0;
	put_le64(msg, c->client_id);
	put_le64(msg + 8, ino);
	msg[16] = hold ? 1 : 0;
	/* no waiting for an absent metad: reading needs no hold, and the
	 * next heartbeat tells a metad that comes back what we hold */
	rc = ag_rpc_try(c->rpc, AG_RPC_HOLD, msg, sizeof(msg), &r);
	if (rc)
		return rc;
	learn(c, &r);
	return r.status;
}

/* Tell metad we are alive a few times per lease timeout, so that our
 * segment leases and our open orphans outlive quiet periods; and look
 * for drives that went away meanwhile. While a lazy handle keeps
 * transactions, every second: the answer says when they are synced, and
 * after a failover the ping is what reaches the new metad and sends them
 * again, so a quiet mount's changes are back within about a second. */
static void *heartbeat_main(void *arg)
{
	struct ag_cluster *c = arg;
	int period = c->cfg->lease_timeout > 3 ? c->cfg->lease_timeout / 3 : 1;

	pthread_mutex_lock(&c->hb_lock);
	while (!c->closing) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += c->lazy_kept && ag_unsynced_count(c->lazy_kept)
				     ? 1
				     : period;
		if (pthread_cond_timedwait(&c->hb_cond, &c->hb_lock, &ts) == 0 ||
		    c->closing)
			continue;
		pthread_mutex_unlock(&c->hb_lock);
		ping(c);
		/* a drive that went away under us takes no more strips */
		ag_drives_check(c->ds);
		pthread_mutex_lock(&c->hb_lock);
	}
	pthread_mutex_unlock(&c->hb_lock);
	return NULL;
}

/* A page metad pushed with the reply to our transaction: the next reads
 * walk the new tree through it. */
static void adopt_page(void *arg, const void *page)
{
	if (ag_pagestore_adopt(arg, page))
		AG_WARN("agora-metad pushed a page that does not verify");
}

int ag_cl_open(const char *config, int flags, const struct ag_open_ops *ops,
	       struct ag_cluster **cp)
{
	struct ag_cluster *c = calloc(1, sizeof(*c));
	const struct ag_label *l;
	int rc;

	if (!c)
		return -ENOMEM;
	c->flags = flags;
	c->instance = atomic_fetch_add(&next_instance, 1);
	pthread_mutex_init(&c->state_lock, NULL);
	pthread_mutex_init(&c->txid_lock, NULL);
	pthread_cond_init(&c->txid_cond, NULL);
	pthread_mutex_init(&c->pack_lock, NULL);
	pthread_cond_init(&c->seal_cond, NULL);
	pthread_mutex_init(&c->hb_lock, NULL);
	pthread_cond_init(&c->hb_cond, NULL);
	pthread_mutex_init(&c->rf_lock, NULL);
	{
		pthread_rwlockattr_t ra;

		/* a steady stream of opens must not starve the heartbeat */
		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(
			&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&c->hold_lock, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	pthread_cond_init(&c->rf_cond, NULL);
	rc = ag_config_load(config, &c->cfg);
	if (rc)
		goto fail;
	rc = ag_drives_open(c->cfg, &c->ds);
	if (rc)
		goto fail;
	l = &c->ds->label;
	rc = ag_cdc_init(&c->cdc, l->chunk_min, l->chunk_avg, l->chunk_max);
	if (!rc)
		rc = ag_pagestore_new(c->ds, c->cfg->page_cache, &c->ps);
	if (!rc)
		rc = ag_stripes_new(c->ds, &c->stripes);
	if (!rc)
		rc = ag_packer_new(c->stripes, &c->packer);
	if (!rc)
		rc = ag_chunk_cache_new(c->cfg->chunk_cache, &c->cache);
	c->open_ops = ops;
	if (!rc && ops)
		rc = ops->make(&c->open_files);
	if (!rc)
		rc = ag_random(&c->client_id, sizeof(c->client_id));
	if (rc)
		goto fail;
	c->client_id |= 1; /* 0 means "no owner" in segment records */
	c->next_txid = 1;
	ag_pagestore_pager(c->ps, &c->pager, NULL, NULL, NULL);
	if (!(flags & AG_OPEN_RDONLY)) {
		rc = ag_rpc_new(c->cfg->metad, &c->rpc);
		if (rc)
			goto fail;
		ag_rpc_set_page_sink(c->rpc, adopt_page, c->ps);
		ag_rpc_set_patience(c->rpc, (unsigned)c->cfg->metad_timeout);
		if (flags & AG_OPEN_LAZY) {
			/* what metad's host could still lose goes again to
			 * every metad we reach */
			rc = ag_unsynced_new(&c->lazy_kept);
			if (rc)
				goto fail;
			ag_rpc_set_greeter(c->rpc, ag_unsynced_greet,
					   c->lazy_kept);
		}
	}
	rc = ag_cluster_refresh(c);
	if (rc) {
		AG_ERR("cannot find the cluster's state: %s", ag_strerror(rc));
		goto fail;
	}
	if (c->rpc) {
		/* without it our leases and orphans would lapse under us */
		rc = -pthread_create(&c->heartbeat, NULL, heartbeat_main, c);
		if (rc) {
			AG_ERR("cannot start the heartbeat: %s",
			       ag_strerror(rc));
			goto fail;
		}
		c->heartbeat_running = 1;
	}
	if (c->rpc && (flags & AG_OPEN_WATCH) &&
	    (rc = ag_watch_start(c, &c->watch)))
		/* correct without it, only slower: metad is asked each time */
		AG_WARN("cannot watch commits (%s): asking agora-metad for "
			"each read", ag_strerror(rc));
	*cp = c;
	return 0;
fail:
	ag_cl_close(c);
	return rc;
}

void ag_cl_close(struct ag_cluster *c)
{
	if (!c)
		return;
	/* the heartbeat reads the open files: it stops first */
	if (c->heartbeat_running) {
		pthread_mutex_lock(&c->hb_lock);
		c->closing = 1;
		pthread_cond_signal(&c->hb_cond);
		pthread_mutex_unlock(&c->hb_lock);
		pthread_join(c->heartbeat, NULL);
	}
	/* files a gateway still has open: commit what they buffer */
	if (c->open_ops)
		c->open_ops->drop(c->open_files);
	c->open_files = NULL;
	if (c->rpc && c->packer && ag_packer_active(c->packer) && !ping(c)) {
		struct ag_txn t;

		/* hand the lease back: the rest of the segment is free for
		 * others once its data drains (or once the lease lapses, when
		 * metad is gone and waiting for it would hold up the stop) */
		pthread_mutex_lock(&c->pack_lock);
		ag_cl_txn(c, &t);
		if (!retire(c) && !ag_cl_pack_seal(c, &t))
			ag_cl_commit(c, &t, NULL);
		ag_txn_release(&t);
		pthread_mutex_unlock(&c->pack_lock);
	}
	/* an unmount leaves everything durable */
	if (c->rpc && (c->flags & AG_OPEN_LAZY) && !ping(c))
		ag_cluster_sync(c);
	ag_watch_stop(c->watch);
	ag_packer_free(c->packer);
	ag_chunk_cache_free(c->cache);
	ag_stripes_free(c->stripes);
	ag_rpc_free(c->rpc);
	ag_unsynced_free(c->lazy_kept);
	ag_pagestore_free(c->ps);
	ag_drives_close(c->ds);
	ag_config_free(c->cfg);
	pthread_mutex_destroy(&c->state_lock);
	pthread_mutex_destroy(&c->txid_lock);
	pthread_cond_destroy(&c->txid_cond);
	pthread_mutex_destroy(&c->hb_lock);
	pthread_cond_destroy(&c->hb_cond);
	pthread_mutex_destroy(&c->rf_lock);
	pthread_rwlock_destroy(&c->hold_lock);
	pthread_cond_destroy(&c->rf_cond);
	pthread_mutex_destroy(&c->pack_lock);
	pthread_cond_destroy(&c->seal_cond);
	free(c);
}

/* Stop packing into the current segment: write its open stripe and queue
 * the segment for release by the next sealed transaction. */
static int retire(struct ag_cluster *c)
{
	int rc;

	if (!ag_packer_active(c->packer))
		return 0;
	if (c->nretired == (int)AG_ARRAY_LEN(c->retired)) {
		/* forget the oldest: its lease lapses when metad restarts */
		memmove(c->retired, c->retired + 1,
			sizeof(c->retired) - sizeof(c->retired[0]));
		memmove(c->retired_fill, c->retired_fill + 1,
			sizeof(c->retired_fill) - sizeof(c->retired_fill[0]));
		c->nretired--;
	}
	rc = ag_packer_flush(c->packer);
	if (rc)
		return rc;
	c->retired[c->nretired] = c->lease_seg;
	c->retired_fill[c->nretired++] = ag_packer_fill(c->packer);
	ag_packer_stop(c->packer);
	return 0;
}

static int lease(struct ag_cluster *c)
{
	struct ag_rpc_reply r;
	struct ag_txn t;
	int rc;

	ag_cl_txn(c, &t);
	ag_txn_seg_lease(&t);
	/* durable even on a lazy handle: a lease lost with metad's host
	 * and taken again would be another segment, under chunks already
	 * packed into this one */
	rc = commit(c, &t, &r, 1, 0);
	ag_txn_release(&t);
	if (rc)
		return rc;
	c->lease_seg = r.seg;
	ag_packer_start(c->packer, r.seg, r.fill);
	return 0;
}

int ag_cl_pack(struct ag_cluster *c, const void *buf, size_t len,
	       uint64_t *addr)
{
	int rc;

	if (ag_packer_active(c->packer) && ag_packer_room(c->packer) < len) {
		rc = retire(c);
		if (rc)
			return rc;
	}
	if (!ag_packer_active(c->packer)) {
		rc = lease(c);
		if (rc)
			return rc;
	}
	return ag_packer_add(c->packer, buf, len, addr);
}

int ag_cl_pack_kick(struct ag_cluster *c)
{
	return c->packer ? ag_packer_kick(c->packer) : 0;
}

void ag_cl_txn_stripes(struct ag_cluster *c, struct ag_txn *t,
		       const struct ag_stripe_done *done, int n)
{
	const struct ag_label *l = &c->ds->label;
	int i;

	/* the chunks' own commits keep the segment's fill past them; these
	 * records give scrub and fsck the strip crcs */
	for (i = 0; i < n; i++) {
		/* a mirrored stripe's record is its length (agora-format(5)) */
		if (done[i].mirrored)
			ag_txn_stripe(t, done[i].seg, done[i].stripe,
				      &done[i].mirrored, 1);
		else
			ag_txn_stripe(t, done[i].seg, done[i].stripe,
				      done[i].crc, l->ec_k + l->ec_m);
	}
}

/* One round of sealing: flush the packer, sync the drives without
 * pack_lock (others go on packing meanwhile), and record in t the
 * stripes written. Every writer that asked before the round began is
 * durable after it. A lazy handle (a file system) syncs nothing: its
 * commits are durable only once metad syncs them, and metad lists the
 * chunks of such a commit in its record until then (commit.h), so the
 * stripes need only be on the drives, as they are once flushed. */
static int seal_round(struct ag_cluster *c, struct ag_txn *t)
{
	uint64_t upto = c->seal_wanted;
	struct ag_stripe_done *done = NULL;
	int n = 0, rc = 0;

	if (ag_packer_active(c->packer))
		rc = ag_packer_flush(c->packer);
	if (!rc)
		rc = ag_packer_take(c->packer, &done, &n);
	if (!rc && (n || c->nretired || c->unsynced) &&
	    !(c->flags & AG_OPEN_LAZY)) {
		/* data before the metadata that points at it */
		c->sealing = 1;
		c->unsynced = 1; /* until a sync succeeds */
		pthread_mutex_unlock(&c->pack_lock);
		rc = ag_drives_sync(c->ds, NULL);
		pthread_mutex_lock(&c->pack_lock);
		c->sealing = 0;
		c->unsynced = rc != 0;
		pthread_cond_broadcast(&c->seal_cond);
	}
	if (rc)
		goto out;
	c->seal_done = upto;
	ag_cl_txn_stripes(c, t, done, n);
out:
	free(done);
	return rc;
}

int ag_cl_pack_seal(struct ag_cluster *c, struct ag_txn *t)
{
	uint64_t ticket = ++c->seal_wanted;
	int i, rc = 0;

	/* group commit of data: while one writer syncs, the others wait
	 * for the next round, which one sync serves for all of them */
	while (!rc && c->seal_done < ticket) {
		if (c->sealing)
			pthread_cond_wait(&c->seal_cond, &c->pack_lock);
		else
			rc = seal_round(c, t);
	}
	if (rc)
		return rc;
	/* a retired segment is released only when no other writer may still
	 * commit chunks into it: releasing makes an empty segment free */
	if (c->inflight <= 1) {
		for (i = 0; i < c->nretired; i++)
			ag_txn_seg_release(t, c->retired[i],
					   c->retired_fill[i]);
		c->nretired = 0;
	}
	return t->error;
}

static void current(struct ag_cluster *c, uint64_t *root, uint64_t *gen)
{
	pthread_mutex_lock(&c->state_lock);
	*root = c->root;
	*gen = c->gen;
	pthread_mutex_unlock(&c->state_lock);
}

static int open_at(struct ag_cluster *c, uint64_t root, uint64_t gen,
		   struct ag_tree **tp)
{
	int rc = ag_tree_open(tp, &c->pager, root);

	if (!rc)
		ag_tree_set_max_gen(*tp, gen);
	return rc;
}

int ag_cl_tree(struct ag_cluster *c, struct ag_tree **tp)
{
	uint64_t root, gen;

	current(c, &root, &gen);
	return open_at(c, root, gen, tp);
}

/* A reader's tree, kept per thread while the root stays the same: a
 * request makes several lookups, and a quiet cluster serves many requests,
 * on one root, and each fresh tree loaded (copied, checked) the same
 * pages again. Kept small: every thread has one. */
#define READ_TREE_PAGES 64

struct read_tree {
	uint64_t cluster, root;
	struct ag_tree *t;
	int busy; /* lent out: a nested reader opens its own */
};

static __thread struct read_tree read_tree;
static pthread_key_t read_tree_key;
static pthread_once_t read_tree_once = PTHREAD_ONCE_INIT;

static void read_tree_drop(void *arg)
{
	struct read_tree *rt = arg;

	ag_tree_close(rt->t);
	rt->t = NULL;
}

static void read_tree_init(void)
{
	pthread_key_create(&read_tree_key, read_tree_drop);
}

int ag_cl_tree_read(struct ag_cluster *c, struct ag_tree **tp)
{
	struct read_tree *rt = &read_tree;
	uint64_t root, gen;
	int rc;

	current(c, &root, &gen);
	if (rt->busy)
		return open_at(c, root, gen, tp);
	if (rt->t && rt->cluster == c->instance && rt->root == root) {
		rt->busy = 1;
		*tp = rt->t;
		return 0;
	}
	pthread_once(&read_tree_once, read_tree_init);
	ag_tree_close(rt->t);
	rt->t = NULL;
	rc = open_at(c, root, gen, &rt->t);
	if (rc)
		return rc;
	ag_tree_set_cache(rt->t, READ_TREE_PAGES);
	pthread_setspecific(read_tree_key, rt); /* closed at thread exit */
	rt->cluster = c->instance;
	rt->root = root;
	rt->busy = 1;
	*tp = rt->t;
	return 0;
}

void ag_cl_tree_done(struct ag_tree *t)
{
	if (t == read_tree.t)
		read_tree.busy = 0;
	else
		ag_tree_close(t);
}

atomic_ulong ag_cl_read_retries;

int ag_cl_read_again(struct ag_cluster *c, uint64_t gen, ssize_t rc,
		     int tries)
{
	if ((rc != -AG_ESTALEROOT && rc != -AG_ECORRUPT) ||
	    tries >= AG_READ_TRIES || ag_cluster_refresh(c) ||
	    ag_cluster_generation(c) <= gen)
		return 0;
	atomic_fetch_add(&ag_cl_read_retries, 1);
	return 1;
}

void ag_cl_txn(struct ag_cluster *c, struct ag_txn *t)
{
	ag_txn_init(t, c->client_id, 0);
}

/* Before lazy transaction txid of len bytes goes out: sync while a kept
 * one would fall out of what metad remembers (unsynced.h). */
static int make_room(struct ag_cluster *c, uint64_t txid, size_t len)
{
	int rc = 0;

	while (!rc && !ag_unsynced_room(c->lazy_kept, txid, len))
		rc = ag_cluster_sync(c);
	return rc;
}

/* Lazy transaction txid was applied with reply r: keep it until it is
 * synced, or sync it now when it cannot be kept. It is applied either
 * way: a failed sync leaves it as lazy as it ever was, not undone. */
static void keep(struct ag_cluster *c, uint64_t txid, const struct ag_txn *t,
		 const struct ag_rpc_reply *r)
{
	int rc;

	if (!ag_unsynced_keep(c->lazy_kept, txid, t->buf, t->len, r)) {
		/* the first one kept: the heartbeat goes to its faster pace
		 * now, not at the end of a long wait */
		if (ag_unsynced_count(c->lazy_kept) == 1) {
			pthread_mutex_lock(&c->hb_lock);
			pthread_cond_signal(&c->hb_cond);
			pthread_mutex_unlock(&c->hb_lock);
		}
		return;
	}
	rc = ag_cluster_sync(c);
	if (rc)
		AG_WARN("a transaction too big to keep was not synced: %s",
			ag_strerror(rc));
}

static int commit(struct ag_cluster *c, struct ag_txn *t,
		  struct ag_rpc_reply *r, int wait, int lazy)
{
	struct ag_rpc_reply tmp;
	uint64_t txid;
	int rc;

	if (!r)
		r = &tmp;
	if (c->proto) /* the events of t came through c's protocol */
		ag_txn_event(t, AG_EV_ORIGIN, c->proto, 0);
	if (t->error)
		return t->error;
	if (!c->rpc)
		return -EROFS;
	pthread_mutex_lock(&c->txid_lock);
	while (c->txid_busy[c->next_txid % AG_TXN_WINDOW])
		pthread_cond_wait(&c->txid_cond, &c->txid_lock);
	txid = c->next_txid++;
	c->txid_busy[txid % AG_TXN_WINDOW] = 1;
	pthread_mutex_unlock(&c->txid_lock);
	ag_txn_set_id(t, c->client_id, txid);
	rc = lazy ? make_room(c, txid, t->len) : 0;
	if (!rc)
		rc = (wait ? ag_rpc_call : ag_rpc_try)(
			c->rpc, lazy ? AG_RPC_TXN_LAZY : AG_RPC_TXN, t->buf,
			t->len, r);
	/* kept before its id is free again, so that no later id goes out
	 * while it would leave the window unseen */
	if (!rc && lazy && !r->status)
		keep(c, txid, t, r);
	pthread_mutex_lock(&c->txid_lock);
	c->txid_busy[txid % AG_TXN_WINDOW] = 0;
	pthread_cond_broadcast(&c->txid_cond);
	pthread_mutex_unlock(&c->txid_lock);
	if (rc)
		return rc;
	if (r->gen)
		learn(c, r);
	return r->status;
}

int ag_cl_commit(struct ag_cluster *c, struct ag_txn *t,
		 struct ag_rpc_reply *r)
{
	return commit(c, t, r, 1, !!c->lazy_kept);
}

int ag_cl_commit_try(struct ag_cluster *c, struct ag_txn *t,
		     struct ag_rpc_reply *r)
{
	return commit(c, t, r, 0, !!c->lazy_kept);
}
