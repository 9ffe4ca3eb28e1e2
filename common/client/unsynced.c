/*
 * unsynced.c - a lazy handle's transactions that metad answered but has
 * not synced yet: kept until it has, and sent again to the metad of each
 * new connection (unsynced.h has the contract).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "txn.h"
#include "unsynced.h"
#include "util.h"

/* One transaction kept. */
struct kept {
	uint64_t txid;
	uint64_t gen; /* of the commit that holds it, as last answered */
	uint64_t ino; /* the inode its one MKNODE made (0: none to pin) */
	uint8_t *buf;
	size_t len;
};

struct ag_unsynced {
	pthread_mutex_t lock; /* everything below */
	/* in the order metad applied them: by generation, then txid (the
	 * ones of one batch were in flight together, so none waited for
	 * another) */
	struct kept k[AG_TXN_WINDOW];
	unsigned n;
	size_t bytes;
};

int ag_unsynced_new(struct ag_unsynced **up)
{
	struct ag_unsynced *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	pthread_mutex_init(&u->lock, NULL);
	*up = u;
	return 0;
}

void ag_unsynced_free(struct ag_unsynced *u)
{
	unsigned i;

	if (!u)
		return;
	for (i = 0; i < u->n; i++)
		free(u->k[i].buf);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

int ag_unsynced_room(struct ag_unsynced *u, uint64_t txid, size_t len)
{
	int ok = 1;
	unsigned i;

	pthread_mutex_lock(&u->lock);
	if (u->n && u->bytes + len > AG_UNSYNCED_BYTES)
		ok = 0;
	for (i = 0; ok && i < u->n; i++)
		if (u->k[i].txid + AG_TXN_WINDOW <= txid)
			ok = 0;
	pthread_mutex_unlock(&u->lock);
	return ok;
}

/* The inode to make again when the transaction is applied anew: the one
 * the reply named, when the transaction has exactly one MKNODE that makes
 * a new inode (one that may find an existing directory is left alone);
 * 0 otherwise. */
static uint64_t ino_to_pin(const uint8_t *buf, size_t len, uint64_t ino)
{
	struct ag_txn_iter it;
	struct ag_op op;
	uint64_t client, txid;
	int rc, n = 0;

	if (!ino || ag_txn_parse(buf, len, &client, &txid, &it))
		return 0;
	while ((rc = ag_txn_next(&it, &op)) == 1) {
		if (op.type == AG_OP_INO)
			return 0; /* pinned already */
		if (op.type != AG_OP_MKNODE)
			continue;
		if (op.u.mknode.flags & AG_MKNODE_EXIST_OK)
			return 0;
		n++;
	}
	return rc == 0 && n == 1 ? ino : 0;
}

int ag_unsynced_keep(struct ag_unsynced *u, uint64_t txid, const uint8_t *buf,
		     size_t len, const struct ag_rpc_reply *r)
{
	struct kept e = { .txid = txid, .gen = r->gen, .len = len };
	unsigned i;
	int rc = 0;

	if (len > AG_UNSYNCED_BYTES)
		return -ENOSPC;
	e.ino = ino_to_pin(buf, len, r->ino);
	e.buf = malloc(len);
	if (!e.buf)
		return -ENOMEM;
	memcpy(e.buf, buf, len);
	pthread_mutex_lock(&u->lock);
	if (u->n == AG_TXN_WINDOW || u->bytes + len > AG_UNSYNCED_BYTES) {
		rc = -ENOSPC;
		goto out;
	}
	for (i = u->n; i > 0; i--) {
		const struct kept *p = &u->k[i - 1];

		if (p->gen < e.gen || (p->gen == e.gen && p->txid < e.txid))
			break;
	}
	memmove(&u->k[i + 1], &u->k[i], (u->n - i) * sizeof(u->k[0]));
	u->k[i] = e;
	u->n++;
	u->bytes += len;
	e.buf = NULL;
out:
	pthread_mutex_unlock(&u->lock);
	free(e.buf);
	return rc;
}

/* Forget the kept ones of generations up to gen. Under u->lock. */
static void forget_upto(struct ag_unsynced *u, uint64_t gen)
{
	unsigned i, j = 0;

	for (i = 0; i < u->n; i++) {
		if (u->k[i].gen <= gen) {
			u->bytes -= u->k[i].len;
			free(u->k[i].buf);
			continue;
		}
		u->k[j++] = u->k[i];
	}
	u->n = j;
}

void ag_unsynced_synced(struct ag_unsynced *u, const struct ag_rpc_reply *r)
{
	if (!u || !r->gen || r->unsynced > r->gen)
		return;
	pthread_mutex_lock(&u->lock);
	forget_upto(u, r->gen - r->unsynced);
	pthread_mutex_unlock(&u->lock);
}

unsigned ag_unsynced_count(struct ag_unsynced *u)
{
	unsigned n;

	pthread_mutex_lock(&u->lock);
	n = u->n;
	pthread_mutex_unlock(&u->lock);
	return n;
}

/* Send kept transaction e again on the connection g: 0 with the reply in
 * *r, or the transport's error. */
static int resend(struct ag_rpc_greeting *g, const struct kept *e,
		  struct ag_rpc_reply *r)
{
	uint8_t *pinned = NULL;
	size_t plen;
	int rc;

	if (e->ino && !ag_txn_with_ino(e->buf, e->len, e->ino, &pinned, &plen))
		rc = ag_rpc_greet_call(g, AG_RPC_TXN_LAZY, pinned, plen, r);
	else /* no memory for the pin: the MKNODE makes a new number */
		rc = ag_rpc_greet_call(g, AG_RPC_TXN_LAZY, e->buf, e->len, r);
	free(pinned);
	return rc;
}

int ag_unsynced_greet(void *arg, struct ag_rpc_greeting *g)
{
	struct ag_unsynced *u = arg;
	struct ag_rpc_reply r = { 0 }, last = { 0 };
	unsigned i, j = 0, sent, again = 0, refused = 0;
	int rc = 0;

	pthread_mutex_lock(&u->lock);
	sent = u->n;
	for (i = 0; i < u->n; i++) {
		struct kept *e = &u->k[i];

		rc = resend(g, e, &r);
		if (rc) {
			/* keep what is left for the next connection */
			memmove(&u->k[j], &u->k[i], (u->n - i) * sizeof(*e));
			j += u->n - i;
			break;
		}
		last = r;
		if (r.status) {
			/* applied anew on a state that moved on without it
			 * (another gateway changed the same names meanwhile) */
			AG_WARN("a transaction acknowledged before agora-metad "
				"changed could not be applied again: %s",
				ag_strerror(r.status));
			refused++;
			u->bytes -= e->len;
			free(e->buf);
			continue;
		}
		if (!(r.flags & 1))
			again++;
		e->gen = r.gen;
		u->k[j++] = *e;
	}
	u->n = j;
	pthread_mutex_unlock(&u->lock);
	if (!rc && last.gen)
		ag_unsynced_synced(u, &last);
	if (sent && !rc)
		AG_INFO("%u unsynced transactions sent again to agora-metad: "
			"%u applied again, %u already there, %u refused",
			sent, again, sent - again - refused, refused);
	return rc;
}
