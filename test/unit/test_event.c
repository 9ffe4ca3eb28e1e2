/*
 * test_event.c - unit test of the codecs of the event log and of
 * triggers (common/meta/event.c) and of their transaction ops (EVENT,
 * TRIGGER, common/meta/txn.c): every field round-trips; a value cut
 * short, one byte too long, or whose lengths do not add up is refused as
 * corrupt, decoded from a heap copy of exactly its length (ASan sees an
 * overread); keys of the other kinds are refused; a dead letter's key
 * sorts right after its trigger's cursor and before the next trigger's;
 * a transaction holding both ops decodes to what was encoded, and one
 * cut anywhere is refused.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora.h"
#include "base.h"
#include "event.h"
#include "keys.h"
#include "tap.h"
#include "txn.h"
#include "util.h"

/* Decode v[0..len) from a heap copy of exactly that length. */
static int event_from_copy(const uint8_t *v, size_t len, struct ag_event *e,
			   uint8_t **copy)
{
	*copy = malloc(len ? len : 1);
	if (!*copy)
		return -ENOMEM;
	memcpy(*copy, v, len);
	return ag_event_decode(*copy, len, e);
}

static void test_event_value(void)
{
	uint8_t v[AG_EVENT_LEN_MAX + 1], *copy;
	struct ag_event e = {
		.kind = AG_EV_RENAMED, .proto = 2, .ftype = 8,
		.flags = AG_EVENT_PATH | AG_EVENT_ETAG,
		.gateway = 0x1122334455667788ull, .ino = 4100, .parent = 7,
		.oparent = 9, .size = 1ull << 40, .gen = 77,
		.time = -5, .name = "/b/new", .nlen = 6, .oname = "/a/old",
		.olen = 6,
	}, d;
	size_t len, cut;
	int bad = 0;

	memset(e.etag, 0xab, 16);
	len = ag_event_encode(v, &e, NULL);
	/* 2 + 1 + 1 + 1 (shared, name and old name lengths) + 8 (gateway)
	 * + 2 (ino) + 2 (parent) + 1 (old parent) + 6 (size) + 8 (time)
	 * + 1 (generation) + 16 (etag) + 12 */
	ok(len == 61, "an event of two 6-byte paths and an etag is %zu bytes",
	   len);
	ok(!event_from_copy(v, len, &d, &copy) && d.kind == e.kind &&
	   d.proto == 2 && d.ftype == 8 && d.flags == e.flags &&
	   d.gateway == e.gateway && d.ino == 4100 && d.parent == 7 &&
	   d.oparent == 9 && d.size == e.size && d.gen == 77 &&
	   d.time == -5 && !memcmp(d.etag, e.etag, 16) && d.nlen == 6 &&
	   !memcmp(d.name, "/b/new", 6) && d.olen == 6 &&
	   !memcmp(d.oname, "/a/old", 6),
	   "every field of an event round-trips");
	free(copy);
	for (cut = 0; cut < len; cut++) {
		bad += event_from_copy(v, cut, &d, &copy) != -AG_ECORRUPT;
		free(copy);
	}
	ok(!bad, "an event cut anywhere is corrupt (%d were not)", bad);
	v[len] = 0;
	ok(event_from_copy(v, len + 1, &d, &copy) == -AG_ECORRUPT,
	   "an event one byte too long is corrupt");
	free(copy);
	v[3] = 7; /* nlen */
	ok(event_from_copy(v, len, &d, &copy) == -AG_ECORRUPT,
	   "an event whose name length runs past it is corrupt");
	free(copy);
	v[3] = 6;
	v[1] &= 0x0f; /* no AG_EVENT_ETAG: the etag's bytes are left over */
	ok(event_from_copy(v, len, &d, &copy) == -AG_ECORRUPT,
	   "an event with bytes left over past its names is corrupt");
	free(copy);
	v[1] |= AG_EVENT_ETAG << 4;

	/* a common event: no etag, whole paths, fields near each other */
	{
		struct ag_event c = {
			.kind = AG_EV_METADATA, .proto = AG_PROTO_FUSE,
			.ftype = 8, .flags = AG_EVENT_PATH,
			.gateway = 0xae17c3f552b6ba8dull, .ino = 14100,
			.parent = 14099, .oparent = 14099, .size = 182,
			.gen = 54510, .time = 1796276073587587486ll,
			.name = "/v001/.ci/run", .nlen = 13,
		};

		len = ag_event_encode(v, &c, NULL);
		ok(len == 2 + 3 + 8 + 2 + 1 + 1 + 2 + 8 + 3 + 13 &&
		   !event_from_copy(v, len, &d, &copy) && d.ino == 14100 &&
		   d.parent == 14099 && d.oparent == 14099 && d.size == 182 &&
		   d.gen == 54510 && d.time == c.time && d.nlen == 13 &&
		   !memcmp(d.name, c.name, 13) && !d.etag[0] && !d.etag[15],
		   "an event without etag takes %zu bytes and round-trips",
		   len);
		free(copy);
	}

	/* coded against the event before: the bytes of the name shared
	 * with its name and its gateway are not stored, its other fields
	 * are differences; all come back from it */
	{
		struct ag_event b = {
			.kind = AG_EV_CREATED, .flags = AG_EVENT_PATH,
			.gateway = 0xae17c3f552b6ba8dull, .ino = 14100,
			.parent = 14099, .oparent = 14099, .gen = 54510,
			.time = 1796276073587587486ll,
			.name = "/v001/usr/src/include/a.h", .nlen = 25,
		};
		struct ag_event c = b;
		char buf[AG_EVENT_TEXT_MAX];
		size_t whole;

		c.kind = AG_EV_CLOSED;
		c.name = "/v001/usr/src/include/b.h";
		c.ino = 14101;
		c.size = 300;
		c.gen = 54512;
		c.time = b.time + 350000;
		c.oname = "";
		whole = ag_event_encode(v, &c, NULL);
		len = ag_event_encode(v, &c, &b);
		ok(!event_from_copy(v, len, &d, &copy) && d.shared == 22 &&
		   d.nlen == 3 && d.rel && !ag_event_join(&d, &b, buf) &&
		   d.nlen == 25 && d.name == buf && !memcmp(buf, c.name, 25) &&
		   d.ino == 14101 && d.parent == 14099 &&
		   d.oparent == 14099 && d.gen == 54512 && d.time == c.time &&
		   d.gateway == b.gateway && d.size == 300 && !d.rel &&
		   d.flags == AG_EVENT_PATH,
		   "an event coded against the one before takes %zu bytes "
		   "(%zu alone) and is made whole from it", len, whole);
		ok(len <= whole - 22 - 8 - 8, "its name's 22 shared bytes, "
		   "its gateway and most of its time are not stored");
		free(copy);
		ok(!event_from_copy(v, len, &d, &copy) &&
		   ag_event_join(&d, NULL, buf) == -AG_ECORRUPT,
		   "it cannot be made whole without the event before: "
		   "-AG_ECORRUPT");
		free(copy);
		b.nlen = 21;
		ok(!event_from_copy(v, len, &d, &copy) &&
		   ag_event_join(&d, &b, buf) == -AG_ECORRUPT,
		   "nor from one whose name is shorter than what it shares: "
		   "-AG_ECORRUPT");
		free(copy);
		b.nlen = 25;
		/* the reader's own buffer holds the name before */
		memcpy(buf, b.name, 25);
		b.name = buf;
		ok(!event_from_copy(v, len, &d, &copy) &&
		   !ag_event_join(&d, &b, buf) && d.nlen == 25 &&
		   !memcmp(buf, c.name, 25),
		   "made whole in the buffer that holds the name before");
		free(copy);
		/* another gateway is stored */
		c.gateway = 7;
		len = ag_event_encode(v, &c, &b);
		ok(!event_from_copy(v, len, &d, &copy) &&
		   !ag_event_join(&d, &b, buf) && d.gateway == 7,
		   "another gateway than the event before's is stored");
		free(copy);
		v[1] = (uint8_t)((v[1] & 0x0f) | 0x80);
		ok(event_from_copy(v, len, &d, &copy) == -AG_ECORRUPT,
		   "a gateway bit without the relative one: -AG_ECORRUPT");
		free(copy);
		c.gateway = b.gateway;
		c.name = b.name;
		len = ag_event_encode(v, &c, &b);
		ok(!event_from_copy(v, len, &d, &copy) && d.shared == 25 &&
		   d.nlen == 0, "the same name as the event before's stores "
		   "none of it");
		free(copy);
	}

	/* the names share AG_EVENT_TEXT_MAX: the old one is cut to fit */
	{
		static char big[AG_EVENT_TEXT_MAX + 10];

		memset(big, 'x', sizeof(big));
		e.name = big;
		e.nlen = AG_EVENT_TEXT_MAX - 4;
		e.oname = big;
		e.olen = 100;
		len = ag_event_encode(v, &e, NULL);
		ok(len <= AG_EVENT_LEN_MAX &&
		   !event_from_copy(v, len, &d, &copy) && d.olen == 4 &&
		   d.nlen + d.olen == AG_EVENT_TEXT_MAX,
		   "names too long for the record are cut to fit (%zu)", len);
		free(copy);
	}
}

static void test_keys(void)
{
	uint8_t k[AG_KEYBUF], k2[AG_KEYBUF], k3[AG_KEYBUF];
	const char *name;
	size_t kl, kl2, kl3, nlen;
	uint64_t seq;

	kl = ag_key_event(k, 0x0102030405060708ull);
	ok(kl == AG_EVENT_KEY_LEN && k[0] == AG_K_EVENT &&
	   !ag_key_event_decode(k, kl, &seq) && seq == 0x0102030405060708ull,
	   "an EVENT key round-trips");
	ag_key_event(k2, 0x0102030405060709ull);
	ok(memcmp(k, k2, kl) < 0, "EVENT keys sort by sequence");
	ok(ag_key_event_decode(k, kl - 1, &seq) == -EINVAL &&
	   ag_key_event_decode(k2, 0, &seq) == -EINVAL,
	   "an EVENT key cut short is refused");
	kl = ag_key_inode(k, 5);
	ok(ag_key_event_decode(k, kl, &seq) == -EINVAL &&
	   ag_key_trigger_decode(k, kl, &name, &nlen) == -EINVAL &&
	   ag_key_cursor_decode(k, kl, &name, &nlen, &seq) == -EINVAL,
	   "an INODE key is no EVENT, TRIGGER or CURSOR key");

	kl = ag_key_trigger(k, "thumb", 5);
	ok(!ag_key_trigger_decode(k, kl, &name, &nlen) && nlen == 5 &&
	   !memcmp(name, "thumb", 5), "a TRIGGER key round-trips");
	kl = ag_key_trigger(k, "", 0);
	ok(!ag_key_trigger_decode(k, kl, &name, &nlen) && !nlen,
	   "the lease's key is TRIGGER with no name");

	kl = ag_key_cursor(k, "a", 1);
	kl2 = ag_key_dead(k2, "a", 1, 42);
	kl3 = ag_key_cursor(k3, "a-", 2);
	ok(!ag_key_cursor_decode(k, kl, &name, &nlen, &seq) && !seq &&
	   nlen == 1 && name[0] == 'a', "a CURSOR key round-trips");
	ok(!ag_key_cursor_decode(k2, kl2, &name, &nlen, &seq) && seq == 42 &&
	   nlen == 1 && name[0] == 'a', "a dead letter's key round-trips");
	ok(memcmp(k, k2, kl) <= 0 && memcmp(k2, k3, AG_MIN(kl2, kl3)) < 0,
	   "a dead letter sorts after its cursor and before the next name");
	ok(ag_key_cursor_decode(k2, kl2 - 1, &name, &nlen, &seq) == -EINVAL,
	   "a dead letter's key cut short is refused");
	kl2 = ag_key_dead(k2, "a", 1, 0);
	ok(ag_key_cursor_decode(k2, kl2, &name, &nlen, &seq) == -EINVAL,
	   "a dead letter of event 0 is refused");

	ok(!ag_trigger_name_check("in.jpg_2-x", 10) &&
	   ag_trigger_name_check("", 0) == -EINVAL &&
	   ag_trigger_name_check("a/b", 3) == -EINVAL &&
	   ag_trigger_name_check("a\0b", 3) == -EINVAL &&
	   ag_trigger_name_check("x", AG_TRIGGER_NAME_MAX + 1) == -EINVAL,
	   "trigger names: letters, digits, . _ -, 1 to 64 bytes");
}

static void test_records(void)
{
	uint8_t v[AG_TRIGGER_FIXED + AG_TRIGGER_TEXT_MAX + 1];
	uint8_t k[AG_KEYBUF];
	struct ag_trigger_def d = {
		.on = 1u << AG_EV_CLOSED | 1u << AG_EV_CREATED,
		.action = AG_TRIGGER_WEBHOOK, .prefix = "/b/in/", .plen = 6,
		.suffix = ".jpg", .slen = 4, .target = "http://h/x", .tlen = 10,
	}, g;
	struct ag_trigger_cursor c = { 1ull << 50, 3, 9 }, c2;
	struct ag_trigger_lease l = { 7, -1, 0xfeedull }, l2;
	size_t len = ag_trigger_encode(v, &d), kl;

	ok(len == AG_TRIGGER_FIXED + 20 && !ag_trigger_decode(v, len, &g) &&
	   g.on == d.on && g.action == d.action && g.plen == 6 &&
	   !memcmp(g.prefix, "/b/in/", 6) && g.slen == 4 &&
	   !memcmp(g.suffix, ".jpg", 4) && g.tlen == 10 &&
	   !memcmp(g.target, "http://h/x", 10),
	   "a trigger's definition round-trips");
	ok(ag_trigger_decode(v, len - 1, &g) == -AG_ECORRUPT &&
	   ag_trigger_decode(v, AG_TRIGGER_FIXED - 1, &g) == -AG_ECORRUPT,
	   "a definition cut short is corrupt");
	v[4] = 9;
	ok(ag_trigger_decode(v, len, &g) == -AG_ECORRUPT,
	   "a definition of an unknown action is corrupt");
	d.form = AG_TRIGGER_FORM_S3_QUEUE;
	len = ag_trigger_encode(v, &d);
	ok(!ag_trigger_decode(v, len, &g) && g.form == AG_TRIGGER_FORM_S3_QUEUE,
	   "a webhook's S3 form round-trips");
	v[5] = AG_TRIGGER_FORM_MAX + 1;
	ok(ag_trigger_decode(v, len, &g) == -AG_ECORRUPT,
	   "a definition of an unknown form is corrupt");
	d.action = AG_TRIGGER_EXEC;
	len = ag_trigger_encode(v, &d);
	ok(ag_trigger_decode(v, len, &g) == -AG_ECORRUPT,
	   "an exec of an S3 form is corrupt");
	d.action = AG_TRIGGER_WEBHOOK;
	d.form = 0;
	d.tlen = AG_TRIGGER_TEXT_MAX;
	ok(!ag_trigger_encode(v, &d), "a definition too long is not encoded");

	ag_cursor_encode(v, &c);
	ok(!ag_cursor_decode(v, AG_CURSOR_LEN, &c2) && c2.next == c.next &&
	   c2.failures == 3 && c2.dead == 9 &&
	   ag_cursor_decode(v, AG_CURSOR_LEN - 1, &c2) == -AG_ECORRUPT,
	   "a cursor round-trips, and is refused cut short");
	ag_lease_encode(v, &l);
	ok(!ag_lease_decode(v, AG_LEASE_LEN, &l2) && l2.client == 7 &&
	   l2.expiry == -1 && l2.token == 0xfeed &&
	   ag_lease_decode(v, AG_LEASE_LEN + 1, &l2) == -AG_ECORRUPT,
	   "a lease round-trips, and is refused too long");

	kl = ag_key_cursor(k, "t", 1);
	ag_cursor_encode(v, &c);
	ok(!ag_event_record_check(k, kl, v, AG_CURSOR_LEN) &&
	   ag_event_record_check(k, kl, v, 3) == -AG_ECORRUPT,
	   "fsck's check takes a cursor and refuses a short one");
	kl = ag_key_trigger(k, "t/x", 3);
	ok(ag_event_record_check(k, kl, v, len) == -AG_ECORRUPT,
	   "fsck's check refuses a trigger of a bad name");

	ok(ag_event_kind_parse("closed") == AG_EV_CLOSED &&
	   ag_event_kind_parse("origin") == -EINVAL &&
	   !strcmp(ag_event_kind_name(AG_EV_METADATA), "metadata") &&
	   !ag_event_kind_name(AG_EV_KINDS),
	   "kinds by name and back; origin is no event");
}

struct seen {
	int n;
	struct ag_op op[4];
};

static int collect(void *arg, const struct ag_op *op)
{
	struct seen *s = arg;

	if (s->n < 4)
		s->op[s->n] = *op;
	s->n++;
	return 0;
}

static void test_ops(void)
{
	struct ag_op_trigger o = { .action = AG_TRIG_DEAD, .name = "hook",
				   .nlen = 4, .value = "0123456789abcdefE",
				   .vlen = 17, .seq = 99, .token = 5,
				   .ttl = 1ull << 40 };
	struct seen s = { 0 };
	uint64_t client, txid;
	struct ag_txn t;
	size_t cut;
	int bad = 0;

	ag_txn_init(&t, 3, 4);
	ok(!ag_txn_event(&t, AG_EV_ORIGIN, 2, 0) &&
	   !ag_txn_event(&t, AG_EV_ORIGIN, 2, 0) &&
	   !ag_txn_event(&t, AG_EV_CLOSED, 2, 4100) && !ag_txn_trigger(&t, &o),
	   "EVENT and TRIGGER ops encode");
	ok(t.nops == 3, "a second ORIGIN is not added (%u ops)", t.nops);
	ok(!ag_txn_decode(t.buf, t.len, &client, &txid, collect, &s) &&
	   s.n == 3 && s.op[0].type == AG_OP_EVENT &&
	   s.op[0].u.event.kind == AG_EV_ORIGIN &&
	   s.op[0].u.event.proto == 2 && s.op[1].u.event.kind == AG_EV_CLOSED &&
	   s.op[1].u.event.ino == 4100 && s.op[2].type == AG_OP_TRIGGER,
	   "they decode to what was encoded");
	ok(s.op[2].u.trigger.action == AG_TRIG_DEAD &&
	   s.op[2].u.trigger.nlen == 4 &&
	   !memcmp(s.op[2].u.trigger.name, "hook", 4) &&
	   s.op[2].u.trigger.vlen == 17 &&
	   !memcmp(s.op[2].u.trigger.value, "0123456789abcdefE", 17) &&
	   s.op[2].u.trigger.seq == 99 && s.op[2].u.trigger.token == 5 &&
	   s.op[2].u.trigger.ttl == 1ull << 40,
	   "every field of a TRIGGER op round-trips");
	for (cut = AG_TXN_HDR; cut < t.len; cut++) {
		uint8_t *copy = malloc(cut);

		memcpy(copy, t.buf, cut);
		bad += ag_txn_decode(copy, cut, &client, &txid, NULL, NULL) !=
		       -AG_EPROTO;
		free(copy);
	}
	ok(!bad, "the transaction cut anywhere is refused (%d were not)", bad);
	o.nlen = AG_TRIGGER_NAME_MAX + 1;
	ag_txn_reset(&t, 3, 5);
	ok(ag_txn_trigger(&t, &o) == -EINVAL && t.error == -EINVAL,
	   "a TRIGGER op with a name too long poisons the transaction");
	ag_txn_reset(&t, 3, 6);
	ok(!t.origin, "a reset transaction has no ORIGIN yet");
	ag_txn_release(&t);
}

int main(void)
{
	test_event_value();
	test_keys();
	test_records();
	test_ops();
	return tap_done();
}
