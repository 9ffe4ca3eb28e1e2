/*
 * test_unsynced.c - unit tests for a lazy handle's kept transactions
 * (unsynced.c): what is kept, forgotten once a reply says it is synced,
 * and the bounds (the window of ids metad remembers, the bytes). Sending
 * them again on a new connection is in test_rpc (it needs a server).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "tap.h"
#include "txn.h"
#include "unsynced.h"

/* An encoded transaction of client 5 with id txid: one UNLINK. */
static void unlink_txn(struct ag_txn *t, uint64_t txid)
{
	struct ag_op_unlink o = { .parent = 1, .name = "x", .nlen = 1 };

	ag_txn_init(t, 5, txid);
	ag_txn_unlink(t, &o);
}

static int keep(struct ag_unsynced *u, uint64_t txid, uint64_t gen,
		uint32_t unsynced)
{
	struct ag_rpc_reply r = { .gen = gen, .unsynced = unsynced };
	struct ag_txn t;
	int rc;

	unlink_txn(&t, txid);
	rc = ag_unsynced_keep(u, txid, t.buf, t.len, &r);
	ag_txn_release(&t);
	return rc;
}

static void test_keep_and_forget(void)
{
	struct ag_rpc_reply r = { 0 };
	struct ag_unsynced *u;

	if (!ok(!ag_unsynced_new(&u), "made"))
		return;
	ok(!keep(u, 1, 10, 1) && !keep(u, 2, 11, 2) && !keep(u, 3, 10, 1) &&
		   ag_unsynced_count(u) == 3,
	   "three transactions answered unsynced are kept");
	r.gen = 12;
	r.unsynced = 3; /* durable up to 9 */
	ag_unsynced_synced(u, &r);
	ok(ag_unsynced_count(u) == 3, "a reply durable up to 9 forgets none");
	r.unsynced = 2; /* up to 10 */
	ag_unsynced_synced(u, &r);
	ok(ag_unsynced_count(u) == 1,
	   "one durable up to 10 forgets the two of generation 10");
	r.unsynced = 13; /* more than its generation: says nothing */
	ag_unsynced_synced(u, &r);
	ok(ag_unsynced_count(u) == 1, "a reply that makes no sense forgets none");
	r.unsynced = 0;
	ag_unsynced_synced(u, &r);
	ok(ag_unsynced_count(u) == 0, "a durable reply forgets the rest");
	ag_unsynced_free(u);
}

static void test_bounds(void)
{
	struct ag_rpc_reply r = { .gen = 3, .unsynced = 1 };
	struct ag_unsynced *u;
	uint8_t *big;
	unsigned i;
	int rc = 0;

	if (!ok(!ag_unsynced_new(&u), "made"))
		return;
	ok(ag_unsynced_room(u, 1, AG_UNSYNCED_BYTES + 1),
	   "with none kept, any transaction may go, even one past the budget");
	keep(u, 1, 2, 1);
	ok(ag_unsynced_room(u, AG_TXN_WINDOW, 100),
	   "id %u may go while id 1 is kept", AG_TXN_WINDOW);
	ok(!ag_unsynced_room(u, 1 + AG_TXN_WINDOW, 100),
	   "id %u may not: metad would no longer know id 1 as done",
	   1 + AG_TXN_WINDOW);
	ok(!ag_unsynced_room(u, 2, AG_UNSYNCED_BYTES),
	   "nor may one that takes the kept bytes past the budget");
	big = calloc(1, AG_UNSYNCED_BYTES + 1);
	ok(big && ag_unsynced_keep(u, 2, big, AG_UNSYNCED_BYTES + 1, &r) ==
			  -ENOSPC,
	   "one bigger than the budget is not kept: ENOSPC (its caller syncs)");
	free(big);
	for (i = 2; i <= AG_TXN_WINDOW && !rc; i++)
		rc = keep(u, i, 3, 1);
	ok(!rc && ag_unsynced_count(u) == AG_TXN_WINDOW,
	   "a window's worth is kept");
	ok(keep(u, AG_TXN_WINDOW + 1, 3, 1) == -ENOSPC,
	   "one more is refused with ENOSPC");
	ag_unsynced_free(u);
	ag_unsynced_free(NULL);
}

int main(void)
{
	test_keep_and_forget();
	test_bounds();
	return tap_done();
}
