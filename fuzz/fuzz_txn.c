/*
 * fuzz_txn.c - transaction frames (txn.c): the payload of a TXN frame,
 * as agora-metad decodes it from any client, op by op and extent by
 * extent, through ag_txn_next and through ag_txn_decode.
 */
#include "fuzz.h"
#include "txn.h"
#include "util.h"

static int touch_op(void *arg, const struct ag_op *op)
{
	struct ag_move_ent me;
	struct ag_write_ext e;
	uint32_t i;

	switch (op->type) {
	case AG_OP_MKNODE:
		fuzz_touch(op->u.mknode.name, op->u.mknode.nlen);
		fuzz_touch(op->u.mknode.target, op->u.mknode.tlen);
		break;
	case AG_OP_UNLINK:
		fuzz_touch(op->u.unlink.name, op->u.unlink.nlen);
		break;
	case AG_OP_RENAME:
		fuzz_touch(op->u.rename.sname, op->u.rename.slen);
		fuzz_touch(op->u.rename.dname, op->u.rename.dlen);
		break;
	case AG_OP_LINK:
		fuzz_touch(op->u.link.name, op->u.link.nlen);
		break;
	case AG_OP_SETXATTR:
	case AG_OP_RMXATTR:
		fuzz_touch(op->u.xattr.name, op->u.xattr.nlen);
		fuzz_touch(op->u.xattr.value, op->u.xattr.vlen);
		break;
	case AG_OP_WRITE:
		for (i = 0; i < op->u.write.next; i++) {
			ag_write_ext_get(&op->u.write, i, &e);
			fuzz_touch(&e, sizeof(e));
		}
		break;
	case AG_OP_EXPECT:
		fuzz_touch(op->u.expect.name, op->u.expect.nlen);
		break;
	case AG_OP_VERSION:
		fuzz_touch(op->u.version.key, op->u.version.klen);
		break;
	case AG_OP_STRIPE:
		fuzz_touch(op->u.stripe.crcs, 4 * (size_t)op->u.stripe.n);
		break;
	case AG_OP_MOVE:
		for (i = 0; i < op->u.move.n; i++) {
			ag_move_ent_get(&op->u.move, i, &me);
			fuzz_touch(&me, sizeof(me));
		}
		break;
	default:
		break;
	}
	(void)arg;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_txn_iter it;
	struct ag_op op;
	uint64_t client, txid;
	int rc;

	/* the op by op iterator, then the whole-frame walk over it */
	if (ag_txn_parse(data, size, &client, &txid, &it))
		return 0;
	while ((rc = ag_txn_next(&it, &op)) == 1)
		touch_op(NULL, &op);
	ag_txn_decode(data, size, &client, &txid, touch_op, NULL);
	return 0;
}
