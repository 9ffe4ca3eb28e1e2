/*
 * test_rpc.c - unit tests for the client side of the metad wire (rpc.c)
 * against a scripted server on a Unix socket: reply codec, one call,
 * many threads' calls answered out of order on one connection, pushed
 * pages delivered before the call returns, a malformed reply breaking
 * the link (ag_rpc_try fails, ag_rpc_call reconnects and resends the
 * same request), an absent server failing fast, oversized payloads; the
 * greeting of a new connection: a lazy handle's kept transactions
 * (unsynced.c) go first on every new connection, in the order metad
 * applied them, a lone MKNODE's with its inode pinned (INO), and a
 * greeter that fails drops the connection.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "format.h"
#include "rpc.h"
#include "tap.h"
#include "txn.h"
#include "unsynced.h"
#include "util.h"

#define THREADS 8

/* One request as the server saw it. */
struct req {
	uint32_t type;
	uint64_t id;
	uint8_t payload[512];
	size_t len;
};

/* What the server does with the connections it accepts, one script step
 * per connection. */
enum step {
	ANSWER_ONE,      /* answer one request, echoing its payload length */
	ANSWER_REVERSED, /* read THREADS requests, answer them last first */
	PUSH_PAGES,      /* answer one TXN with two pushed pages */
	BAD_REPLY,       /* answer one request with an unasked-for id */
	ANSWER_THREE,    /* answer three requests, then hang up */
};

struct server {
	int lfd;
	enum step steps[4];
	int nsteps;
	struct req seen[THREADS + 8];
	int nseen;
	pthread_t thr;
};

static int read_req(int fd, struct req *q)
{
	uint8_t hdr[AG_RPC_HDR];
	uint32_t len;

	if (ag_rpc_read_all(fd, hdr, sizeof(hdr)))
		return -1;
	len = get_le32(hdr);
	if (len < 12 || len - 12 > sizeof(q->payload))
		return -1;
	q->type = get_le32(hdr + 4);
	q->id = get_le64(hdr + 8);
	q->len = len - 12;
	return q->len ? ag_rpc_read_all(fd, q->payload, q->len) : 0;
}

/* Reply to q: status 0, gen = the payload's length, ino = its first
 * byte, root = q's id, none of it synced for a lazy transaction; npages
 * pages of byte i + 1 after it. */
static int reply(int fd, const struct req *q, uint64_t id, int npages)
{
	uint8_t *f;
	size_t n = AG_RPC_HDR + AG_RPC_REPLY_LEN + (size_t)npages * AG_PAGE_SIZE;
	struct ag_rpc_reply r = { .gen = q->len, .root = q->id,
				  .ino = q->len ? q->payload[0] : 0,
				  .unsynced = q->type == AG_RPC_TXN_LAZY
						      ? (uint32_t)q->len
						      : 0 };
	int i, rc;

	f = calloc(1, n);
	if (!f)
		return -1;
	put_le32(f, (uint32_t)(n - 4));
	put_le32(f + 4, q->type | AG_RPC_REPLY);
	put_le64(f + 8, id);
	ag_rpc_reply_encode(f + AG_RPC_HDR, &r);
	for (i = 0; i < npages; i++)
		memset(f + AG_RPC_HDR + AG_RPC_REPLY_LEN +
			       (size_t)i * AG_PAGE_SIZE,
		       i + 1, AG_PAGE_SIZE);
	rc = ag_rpc_write_all(fd, f, n);
	free(f);
	return rc;
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	int i, j;

	for (i = 0; i < s->nsteps; i++) {
		int fd = accept(s->lfd, NULL, NULL);
		struct req *q = s->seen + s->nseen;

		if (fd < 0)
			break;
		switch (s->steps[i]) {
		case ANSWER_ONE:
		case PUSH_PAGES:
			if (!read_req(fd, q)) {
				s->nseen++;
				reply(fd, q, q->id,
				      s->steps[i] == PUSH_PAGES ? 2 : 0);
			}
			/* keep the link open until the client lets go */
			while (read_req(fd, q + 1) == 0)
				;
			break;
		case ANSWER_REVERSED:
			for (j = 0; j < THREADS; j++)
				if (read_req(fd, q + j))
					break;
			s->nseen += j;
			while (j--)
				reply(fd, q + j, q[j].id, 0);
			while (read_req(fd, q + THREADS) == 0)
				;
			break;
		case ANSWER_THREE:
			/* counted before the reply: the client reads nseen
			 * as soon as its call returns */
			for (j = 0; j < 3 && !read_req(fd, q + j); j++) {
				s->nseen++;
				reply(fd, q + j, q[j].id, 0);
			}
			break;
		case BAD_REPLY:
			if (!read_req(fd, q)) {
				s->nseen++;
				reply(fd, q, q->id + 1000, 0);
			}
			break;
		}
		close(fd);
	}
	return NULL;
}

static int server_start(struct server *s, const char *addr)
{
	s->lfd = ag_rpc_listen(addr);
	if (s->lfd < 0)
		return s->lfd;
	return pthread_create(&s->thr, NULL, server_main, s) ? -EAGAIN : 0;
}

static void server_stop(struct server *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->thr, NULL);
	close(s->lfd);
}

struct caller {
	struct ag_rpc *r;
	uint8_t byte;
	int rc;
	struct ag_rpc_reply reply;
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;

	c->rc = ag_rpc_call(c->r, AG_RPC_TXN, &c->byte, 1, &c->reply);
	return NULL;
}

static int pages_seen, pages_right;

static void page_sink(void *arg, const void *page)
{
	const uint8_t *p = page;
	unsigned int i;

	(void)arg;
	pages_seen++;
	for (i = 0; i < AG_PAGE_SIZE; i++)
		if (p[i] != pages_seen)
			return;
	pages_right++;
}

static void test_codec(void)
{
	struct ag_rpc_reply a = { .status = -5, .flags = 1, .gen = 7,
				  .root = 1ull << 40, .ino = 99, .seg = 12,
				  .unsynced = 3, .fill = 1ull << 33 }, b;
	uint8_t buf[AG_RPC_REPLY_LEN];

	ag_rpc_reply_encode(buf, &a);
	ok(!ag_rpc_reply_decode(buf, sizeof(buf), &b) &&
		   b.status == a.status && b.flags == a.flags &&
		   b.gen == a.gen && b.root == a.root && b.ino == a.ino &&
		   b.seg == a.seg && b.unsynced == a.unsynced &&
		   b.fill == a.fill,
	   "reply encodes and decodes to the same fields");
	ok(ag_rpc_reply_decode(buf, sizeof(buf) - 1, &b) == -AG_EPROTO,
	   "a short reply is refused with AG_EPROTO");
}

static void test_calls(const char *addr)
{
	struct server s = { .steps = { ANSWER_ONE, ANSWER_REVERSED,
				       PUSH_PAGES },
			    .nsteps = 3 };
	struct caller c[THREADS];
	pthread_t thr[THREADS];
	struct ag_rpc_reply rep;
	struct ag_rpc *r;
	uint8_t pl[3] = { 42, 1, 2 };
	int i, right = 0;

	if (!ok(!server_start(&s, addr), "scripted server listens"))
		return;
	ok(!ag_rpc_new(addr, &r), "client handle made");
	ok(!ag_rpc_call(r, AG_RPC_TXN, pl, sizeof(pl), &rep) && rep.gen == 3 &&
		   rep.ino == 42,
	   "a call gets the reply to its own request");
	ok(s.nseen == 1 && s.seen[0].type == AG_RPC_TXN && s.seen[0].len == 3 &&
		   !memcmp(s.seen[0].payload, pl, 3),
	   "the server got the frame as sent");
	ok(rep.root == s.seen[0].id, "the reply carries the request's id");

	/* the server closes the first link only when it sees EOF: drop it
	 * by breaking it from our side with a fresh handle */
	ag_rpc_free(r);
	ok(!ag_rpc_new(addr, &r), "second client handle made");
	for (i = 0; i < THREADS; i++) {
		c[i] = (struct caller){ .r = r, .byte = (uint8_t)(i + 10) };
		pthread_create(&thr[i], NULL, caller_main, &c[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(thr[i], NULL);
		right += !c[i].rc && c[i].reply.ino == (uint64_t)(i + 10);
	}
	ok(right == THREADS,
	   "%d threads on one connection, answered last first: %d got their own reply",
	   THREADS, right);
	ag_rpc_free(r);

	ok(!ag_rpc_new(addr, &r), "third client handle made");
	ag_rpc_set_page_sink(r, page_sink, NULL);
	i = ag_rpc_call(r, AG_RPC_TXN, pl, 1, &rep);
	ok(!i && pages_seen == 2 && pages_right == 2,
	   "two pushed pages reach the page sink, in order, before the call returns (%d seen, %d right)",
	   pages_seen, pages_right);
	ag_rpc_free(r);
	server_stop(&s);
}

static void test_broken(const char *addr)
{
	struct server s = { .steps = { BAD_REPLY, BAD_REPLY, ANSWER_ONE },
			    .nsteps = 3 };
	struct ag_rpc_reply rep;
	struct ag_rpc *r;
	uint8_t pl = 77;
	uint64_t t0;

	if (!ok(!server_start(&s, addr), "scripted server listens again"))
		return;
	ok(!ag_rpc_new(addr, &r), "client handle made");
	ok(ag_rpc_try(r, AG_RPC_STATE, NULL, 0, &rep) == -ENOTCONN,
	   "a reply to an unasked-for id breaks the link: ag_rpc_try fails with ENOTCONN");
	ok(!ag_rpc_call(r, AG_RPC_TXN, &pl, 1, &rep) && rep.ino == 77,
	   "ag_rpc_call reconnects after a broken link and gets its answer");
	ok(s.nseen == 3 && s.seen[1].type == AG_RPC_TXN &&
		   s.seen[2].type == AG_RPC_TXN && s.seen[1].len == 1 &&
		   s.seen[2].len == 1 && s.seen[2].payload[0] == 77,
	   "the request was resent whole on the new connection");
	ag_rpc_free(r);
	server_stop(&s);

	ok(!ag_rpc_new(addr, &r), "client handle for a server that is gone");
	t0 = ag_mono_ns();
	ok(ag_rpc_call(r, AG_RPC_STATE, NULL, 0, &rep) == -ENOTCONN,
	   "a metad never reached fails with ENOTCONN");
	t0 = ag_mono_ns() - t0;
	ok(t0 < 5000000000ull,
	   "and fails within seconds, not the whole patience (%.2f s)",
	   t0 / 1e9);
	ok(ag_rpc_call(r, AG_RPC_TXN, &pl, AG_RPC_MAX, &rep) == -E2BIG,
	   "a payload past AG_RPC_MAX is refused with E2BIG before sending");
	ag_rpc_free(r);
}

/* The ops of the encoded transaction p: their types into types (up to
 * max), the INO op's inode into *ino; how many. */
static int op_types(const uint8_t *p, size_t len, int *types, int max,
		    uint64_t *ino)
{
	struct ag_txn_iter it;
	struct ag_op op;
	uint64_t client, txid;
	int n = 0;

	if (ag_txn_parse(p, len, &client, &txid, &it))
		return -1;
	while (n < max && ag_txn_next(&it, &op) == 1) {
		if (op.type == AG_OP_INO)
			*ino = op.u.ino;
		types[n++] = op.type;
	}
	return n;
}

static int refuse(void *arg, struct ag_rpc_greeting *g)
{
	(void)arg;
	(void)g;
	return -EPIPE;
}

static void test_greeting(const char *addr)
{
	struct server s = { .steps = { ANSWER_THREE, ANSWER_THREE,
				       ANSWER_ONE },
			    .nsteps = 3 };
	struct ag_op_mknode file = { .parent = 1, .mode = 0100644,
				     .name = "f", .nlen = 1 };
	struct ag_op_mknode dir = { .parent = 1, .mode = 040755,
				    .flags = AG_MKNODE_EXIST_OK, .name = "d",
				    .nlen = 1 };
	struct ag_rpc_reply rep, ra = { .gen = 11, .ino = 4100, .unsynced = 1 },
				 rb = { .gen = 10, .ino = 4101, .unsynced = 1 };
	struct ag_txn a, b;
	struct ag_unsynced *u = NULL;
	struct ag_rpc *r = NULL;
	uint64_t ino = 0;
	int types[4], n, i, right = 1;

	ag_txn_init(&a, 5, 1);
	ag_txn_mknode(&a, &file);
	ag_txn_init(&b, 5, 2);
	ag_txn_mknode(&b, &dir);
	if (!ok(!server_start(&s, addr), "scripted server for greetings"))
		return;
	ok(!ag_rpc_new(addr, &r) && !ag_unsynced_new(&u), "handles made");
	ag_rpc_set_greeter(r, ag_unsynced_greet, u);
	/* b was applied in an older generation than a */
	ok(!ag_unsynced_keep(u, 1, a.buf, a.len, &ra) &&
		   !ag_unsynced_keep(u, 2, b.buf, b.len, &rb),
	   "two lazy transactions kept");
	ok(!ag_rpc_call(r, AG_RPC_STATE, NULL, 0, &rep),
	   "a call on a new connection");
	ok(s.nseen >= 3 && s.seen[0].type == AG_RPC_TXN_LAZY &&
		   s.seen[1].type == AG_RPC_TXN_LAZY &&
		   s.seen[2].type == AG_RPC_STATE,
	   "the kept transactions went first, lazy, then the call");
	ok(s.nseen >= 3 && s.seen[0].len == b.len &&
		   !memcmp(s.seen[0].payload, b.buf, b.len),
	   "the older one first, as it was (a MKNODE that may find a directory is not pinned)");
	n = s.nseen >= 3 ? op_types(s.seen[1].payload, s.seen[1].len, types,
				    4, &ino) : -1;
	ok(n == 2 && types[0] == AG_OP_INO && types[1] == AG_OP_MKNODE &&
		   ino == 4100,
	   "then the lone MKNODE, after an INO op of the inode it made (%llu)",
	   (unsigned long long)ino);
	/* the server hung up: the next call connects and greets again */
	ok(!ag_rpc_call(r, AG_RPC_STATE, NULL, 0, &rep) && s.nseen == 6,
	   "the next call reconnects");
	for (i = 0; i < 3 && s.nseen == 6; i++)
		right &= s.seen[3 + i].type == s.seen[i].type &&
			 s.seen[3 + i].len == s.seen[i].len &&
			 !memcmp(s.seen[3 + i].payload, s.seen[i].payload,
				 s.seen[i].len);
	ok(right && ag_unsynced_count(u) == 2,
	   "and sends the same again: kept until a reply says they are synced");
	/* the server hung up again: this finds the link broken */
	ag_rpc_try(r, AG_RPC_STATE, NULL, 0, &rep);
	ag_rpc_set_greeter(r, refuse, NULL);
	ok(ag_rpc_try(r, AG_RPC_STATE, NULL, 0, &rep) == -ENOTCONN &&
		   s.nseen == 6,
	   "a greeter that fails drops the connection: ENOTCONN, nothing sent");
	ag_rpc_free(r);
	server_stop(&s);
	ag_unsynced_free(u);
	ag_txn_release(&a);
	ag_txn_release(&b);
}

int main(void)
{
	char dir[] = "/tmp/test_rpc.XXXXXX", addr[64];

	if (!mkdtemp(dir))
		return 99;
	snprintf(addr, sizeof(addr), "unix:%s/s", dir);
	test_codec();
	test_calls(addr);
	unlink(addr + 5);
	test_broken(addr);
	unlink(addr + 5);
	test_greeting(addr);
	unlink(addr + 5);
	rmdir(dir);
	return tap_done();
}
