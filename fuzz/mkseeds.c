/*
 * mkseeds.c - valid seed inputs for the binary targets, made with the
 * real encoders (make fuzz/mkseeds; fuzz/mkseeds DIR writes
 * DIR/NAME/valid-*): transactions of every op, RPC replies with and
 * without pushed pages, labels, commit records, and B+tree pages built
 * by the tree itself. fuzz/mkseeds.py writes the text targets' seeds
 * (requests, XML bodies, config files). Not run by make check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agora.h"
#include "btree.h"
#include "commit.h"
#include "drive.h"
#include "event.h"
#include "format.h"
#include "rpc.h"
#include "txn.h"
#include "util.h"

static const char *out_dir;

static void save(const char *target, const char *name, const void *buf,
		 size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/valid-%s", out_dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static void save_txn(const char *name, struct ag_txn *t)
{
	if (t->error) {
		fprintf(stderr, "%s: %s\n", name, strerror(-t->error));
		exit(1);
	}
	save("txn", name, t->buf, t->len);
}

static void txn_seeds(void)
{
	struct ag_op_mknode mk = { .parent = 1, .mode = 0100644, .uid = 1,
				   .gid = 2, .name = "file", .nlen = 4 };
	struct ag_op_mknode ln = { .parent = 1, .mode = 0120777,
				   .name = "ln", .nlen = 2,
				   .target = "file", .tlen = 4 };
	struct ag_op_unlink ul = { .parent = 1, .flags = AG_UNLINK_KEEP,
				   .name = "file", .nlen = 4 };
	struct ag_op_rename rn = { .src = 1, .dst = 2, .sname = "a",
				   .slen = 1, .dname = "bb", .dlen = 2 };
	struct ag_op_link lk = { .ino = 5, .parent = 1, .flags = 1,
				 .name = "x", .nlen = 1 };
	struct ag_op_setattr sa = { .ino = 5, .mask = AG_SET_MODE |
				    AG_SET_SIZE | AG_SET_ETAG, .mode = 0600,
				    .size = 100 };
	struct ag_op_xattr xa = { .ino = 5, .name = "user.a", .nlen = 6,
				  .value = "value", .vlen = 5 };
	struct ag_write_ext e = { .off = 0, .len = 4096, .has_loc = 1,
				  .addr = AG_ADDR(3, 0), .clen = 100,
				  .ulen = 4096, .crc = 7 };
	struct ag_op_clone cl = { .src = 5, .soff = 0, .dst = 6, .doff = 0,
				  .len = 4096 };
	struct ag_op_expect ex = { .parent = 1, .cond = AG_EXPECT_ETAG,
				   .name = "file", .nlen = 4 };
	struct ag_op_trigger tr = { .action = AG_TRIG_CURSOR, .name = "t",
				    .nlen = 1, .value = "0123456789abcdef",
				    .vlen = 16, .token = 3 };
	uint32_t crcs[3] = { 1, 2, 3 };
	struct ag_txn t;

	ag_txn_init(&t, 42, 1);
	save_txn("empty", &t);
	ag_txn_mknode(&t, &mk);
	save_txn("mknode", &t);
	ag_txn_reset(&t, 42, 2);
	ag_txn_mknode(&t, &mk);
	ag_txn_write(&t, 0, 0, 8192, 8192, 0);
	ag_txn_write_ext(&t, &e);
	e.off = 4096;
	e.has_loc = 0;
	ag_txn_write_ext(&t, &e);
	ag_txn_write_expect(&t, 99);
	ag_txn_stripe(&t, 3, 0, crcs, 3);
	save_txn("create-write", &t);
	ag_txn_reset(&t, 42, 3);
	ag_txn_mknode(&t, &ln);
	ag_txn_unlink(&t, &ul);
	ag_txn_rename(&t, &rn);
	ag_txn_link(&t, &lk);
	save_txn("names", &t);
	ag_txn_reset(&t, 42, 4);
	ag_txn_setattr(&t, &sa);
	ag_txn_setxattr(&t, &xa);
	ag_txn_rmxattr(&t, 5, "user.a", 6);
	ag_txn_clone(&t, &cl);
	ag_txn_expect(&t, &ex);
	save_txn("attrs", &t);
	ag_txn_reset(&t, 42, 5);
	ag_txn_seg_lease(&t);
	ag_txn_seg_release(&t, 3, 1 << 20);
	ag_txn_drop_orphan(&t, 9);
	save_txn("space", &t);
	ag_txn_reset(&t, 42, 6);
	ag_txn_event(&t, AG_EV_ORIGIN, 2, 0);
	ag_txn_event(&t, AG_EV_CLOSED, 2, 5);
	ag_txn_trigger(&t, &tr);
	save_txn("events", &t);
	ag_txn_reset(&t, 42, 7);
	ag_txn_ino(&t, 4100);
	ag_txn_mknode(&t, &mk);
	save_txn("pinned", &t);
	ag_txn_release(&t);
}

static void rpc_seeds(void)
{
	struct ag_rpc_reply r = { .status = 0, .flags = 1, .gen = 7,
				  .root = AG_ADDR(1, 1 << 16), .ino = 12,
				  .seg = 3, .fill = 4096 };
	uint8_t *f = calloc(1, AG_RPC_HDR + AG_RPC_REPLY_LEN + AG_PAGE_SIZE);

	if (!f)
		exit(1);
	put_le32(f, 12 + AG_RPC_REPLY_LEN);
	put_le32(f + 4, AG_RPC_STATE | AG_RPC_REPLY);
	put_le64(f + 8, 5);
	ag_rpc_reply_encode(f + AG_RPC_HDR, &r);
	save("rpc", "state", f, AG_RPC_HDR + AG_RPC_REPLY_LEN);
	put_le32(f + 4, AG_RPC_NOTIFY | AG_RPC_REPLY);
	put_le64(f + 8, 0);
	save("rpc", "notify", f, AG_RPC_HDR + AG_RPC_REPLY_LEN);
	put_le32(f, 12 + AG_RPC_REPLY_LEN + AG_PAGE_SIZE);
	put_le32(f + 4, AG_RPC_TXN | AG_RPC_REPLY);
	put_le64(f + 8, 6);
	save("rpc", "txn-page", f, AG_RPC_HDR + AG_RPC_REPLY_LEN + AG_PAGE_SIZE);
	free(f);
}

static void block_seeds(void)
{
	struct ag_label l = { .version = AG_FORMAT_VERSION, .index = 1,
			      .ndrives = 4, .uuid = { 1, 2, 3 }, .ec_k = 2,
			      .ec_m = 1, .page_size = AG_PAGE_SIZE,
			      .strip_size = 65536, .nsegments = 64,
			      .segment_size = 64 << 20,
			      .drive_size = 4ull << 30, .chunk_min = 16384,
			      .chunk_avg = 65536, .chunk_max = 262144,
			      .zstd_level = 1, .created = 1700000000 };
	static struct ag_commit_rec rec = { .gen = 17, .root = AG_ADDR(2, 5),
					    .epoch = 3, .page_epoch = 4,
					    .uuid = { 1, 2, 3 },
					    .time_ns = 1700000000000000000ull,
					    .lazy_since = 15, .npages = 3,
					    .pages = { AG_ADDR(2, 5),
						       AG_ADDR(2, 6),
						       AG_ADDR(2, 7) } };
	uint8_t b[AG_BLOCK];
	uint32_t i;

	ag_label_encode(b, &l);
	save("label", "4-drives", b, sizeof(b));
	l.ndrives = 12;
	l.index = 11;
	l.ec_k = 8;
	l.ec_m = 3;
	ag_label_encode(b, &l);
	save("label", "12-drives", b, sizeof(b));
	ag_commit_encode(b, &rec);
	save("commit", "lazy", b, sizeof(b));
	rec.lazy_since = 0;
	rec.npages = AG_COMMIT_PAGES;
	for (i = 0; i < AG_COMMIT_PAGES; i++)
		rec.pages[i] = AG_ADDR(2, i + 1);
	ag_commit_encode(b, &rec);
	save("commit", "full", b, sizeof(b));
}

/* An in-memory pager that stamps pages as pager.c does (crc, magic,
 * address, generation) and keeps them in write order. */
#define SEED_PAGES 64
static uint8_t pages[SEED_PAGES][AG_PAGE_SIZE];
static uint64_t page_addr[SEED_PAGES];
static int npages;
static uint64_t next_slot = 1;

static int seed_read(void *ctx, uint64_t addr, void *buf)
{
	int i;

	(void)ctx;
	for (i = 0; i < npages; i++)
		if (page_addr[i] == addr) {
			memcpy(buf, pages[i], AG_PAGE_SIZE);
			return 0;
		}
	return -AG_ECORRUPT;
}

static int seed_write(void *ctx, uint64_t addr, uint64_t gen, void *buf)
{
	uint8_t *p = buf;

	(void)ctx;
	if (npages == SEED_PAGES)
		return -ENOSPC;
	memcpy(p + 4, AG_PAGE_MAGIC, 4);
	put_le64(p + 8, addr);
	put_le64(p + 16, gen);
	put_le32(p, ag_crc32c(p + 4, AG_PAGE_SIZE - 4));
	memcpy(pages[npages], p, AG_PAGE_SIZE);
	page_addr[npages++] = addr;
	return 0;
}

static int seed_alloc(void *ctx, uint64_t *addr)
{
	(void)ctx;
	*addr = AG_ADDR(2, 1 << 16 | next_slot++);
	return 0;
}

static void seed_release(void *ctx, uint64_t addr)
{
	(void)ctx;
	(void)addr;
}

/* The tree whose root is at root, as the page target reads it: the root
 * page first, then the others. */
static void save_tree(const char *name, uint64_t root)
{
	uint8_t *buf = malloc((size_t)npages * AG_PAGE_SIZE);
	int i, n = 0;

	if (!buf)
		exit(1);
	for (i = npages - 1; i >= 0; i--)
		if (page_addr[i] == root)
			memcpy(buf + (size_t)n++ * AG_PAGE_SIZE, pages[i],
			       AG_PAGE_SIZE);
	for (i = npages - 1; i >= 0 && n < 8; i--)
		if (page_addr[i] != root)
			memcpy(buf + (size_t)n++ * AG_PAGE_SIZE, pages[i],
			       AG_PAGE_SIZE);
	save("page", name, buf, (size_t)n * AG_PAGE_SIZE);
	free(buf);
}

static void page_seeds(void)
{
	struct ag_pager pg = { .page_size = AG_PAGE_SIZE, .read = seed_read,
			       .write = seed_write, .alloc = seed_alloc,
			       .release = seed_release };
	struct ag_tree *t;
	char key[64], val[200];
	uint64_t root;
	int i;

	if (ag_tree_open(&t, &pg, 0))
		exit(1);
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "\x02key-%03d", i);
		snprintf(val, sizeof(val), "value %d", i);
		ag_tree_put(t, key, strlen(key), val, strlen(val));
	}
	if (ag_tree_flush(t, 1, &root))
		exit(1);
	save_tree("leaf", root);
	memset(val, 'v', sizeof(val));
	for (i = 0; i < 60; i++) {
		snprintf(key, sizeof(key), "\x03longer-key-%05d", i * 7);
		ag_tree_put(t, key, strlen(key), val, sizeof(val));
	}
	if (ag_tree_flush(t, 2, &root))
		exit(1);
	save_tree("branch", root);
	ag_tree_close(t);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	txn_seeds();
	rpc_seeds();
	block_seeds();
	page_seeds();
	return 0;
}
