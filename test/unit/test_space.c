/*
 * test_space.c - unit test of metad's segment and page-slot accounting
 * (common/meta/space.c).
 *
 * A small cluster's label (6 drives, 8 segments of 32 page slots) with no
 * drives behind it: the accounting is memory only. Page slots are handed
 * out lane by lane, run out, come back only through a reuse round (with
 * a new epoch in their address), and drained metadata segments are
 * reported; free segments freed by a generation become usable after the
 * round that covers it. Then a B+tree is built over an in-memory pager
 * that takes its page addresses from the allocator, as metad's does, and
 * ag_space_load rebuilds the same state from that tree alone. Metadata
 * segments are filled a step at a time, ahead of the slots handed out.
 * Compaction: a segment that a few live pages pin after most of the
 * tree was deleted is picked, its pages move out with the next flush,
 * it drains in the round after, and the tree reads the same.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btree.h"
#include "drive.h"
#include "format.h"
#include "keys.h"
#include "pager.h"
#include "space.h"
#include "tap.h"
#include "util.h"

#define NSEG 8

static struct ag_label small_label(void)
{
	struct ag_label l = { .ndrives = 6, .ec_k = 4, .ec_m = 2,
			      .page_size = AG_PAGE_SIZE,
			      .strip_size = 4096, .nsegments = NSEG,
			      .segment_size = 16 * AG_PAGE_SIZE };

	return l;
}

/* Mark every pending page round as due now: rounds are rate-limited by
 * the clock, which a unit test does not wait for. */
static void clock_past_rounds(struct ag_space *sp)
{
	sp->last_round = 0;
}

static void test_pages(void)
{
	struct ag_label l = small_label();
	struct ag_space sp;
	uint64_t addr[40], a;
	uint32_t seg, drained[NSEG], n, i, pps;
	int rc, distinct = 1, in_lane = 1, j;

	ok(!ag_space_init(&sp, &l), "init");
	pps = sp.pages_per_seg;
	ok(pps == 32 && sp.lanes == 2, "32 page slots per segment, 2 lanes");
	ok(ag_space_page_alloc(&sp, &a) == -ENOSPC,
	   "no metadata segment: no page");
	ok(!ag_space_find_free(&sp, &seg) && seg == 0, "segment 0 is free");
	ag_space_use_meta(&sp, seg);
	sp.state[seg] = AG_SEG_META;
	ag_space_set_lane(&sp, 3);
	ok(sp.lane == 1, "generation 3 takes lane 1");
	for (i = 0; i < pps; i++) {
		rc = ag_space_page_alloc(&sp, &addr[i]);
		if (rc || AG_ADDR_SEG(addr[i]) != 0 ||
		    AG_PAGE_EPOCH(addr[i]) != 1)
			distinct = 0;
		for (j = 0; j < (int)i; j++)
			if (addr[j] == addr[i])
				distinct = 0;
		/* the lane's slots first, then the other lane's */
		if ((AG_PAGE_SLOT(addr[i]) % 2 == 1) != (i < pps / 2))
			in_lane = 0;
	}
	ok(distinct, "%u distinct pages of segment 0, epoch 1", pps);
	ok(in_lane, "the commit's lane first, then the other");
	ok(sp.meta_live[0] == pps, "all slots live");
	ok(ag_space_page_alloc(&sp, &a) == -ENOSPC, "then none left");

	/* released pages wait for a round */
	for (i = 0; i < 4; i++)
		ag_space_page_release(&sp, addr[i]);
	ag_space_abort(&sp);
	ok(sp.nreleased == 0 && sp.ncooling == 0,
	   "an aborted commit forgets its releases");
	for (i = 0; i < 4; i++)
		ag_space_page_release(&sp, addr[i]);
	ag_space_committed(&sp, 10);
	ok(sp.ncooling == 4 && sp.meta_live[0] == pps,
	   "committed releases cool, still in use");
	ok(ag_space_page_alloc(&sp, &a) == -ENOSPC,
	   "a cooling slot is not handed out");
	ok(!ag_space_round_due(&sp, 10), "no round before its time");
	clock_past_rounds(&sp);
	ok(ag_space_round_due(&sp, 9) && sp.round_gen == 9,
	   "a round is due (up to generation 9)");
	n = ag_space_round_done(&sp, drained, NSEG);
	ok(sp.ncooling == 4 && sp.meta_live[0] == pps && sp.epoch == 2 && !n,
	   "pages of generation 10 outlive a round up to 9");
	clock_past_rounds(&sp);
	ok(ag_space_round_due(&sp, 10), "a round up to 10");
	n = ag_space_round_done(&sp, drained, NSEG);
	ok(sp.ncooling == 0 && sp.meta_live[0] == pps - 4 && sp.epoch == 3,
	   "releases them, and the epoch moves on");
	/* the spare segment first, then the holes of segment 0 */
	sp.state[4] = AG_SEG_META;
	sp.spare_meta = 4;
	sp.spare_ready = 1;
	for (i = 0, rc = 0; !rc && i < pps; i++)
		if (ag_space_page_alloc(&sp, &a) || AG_ADDR_SEG(a) != 4 ||
		    AG_PAGE_EPOCH(a) != 3)
			rc = 1;
	ok(!rc && sp.cur_meta == 4 && sp.spare_meta == AG_SEG_NONE,
	   "the spare segment is taken when the current one is full");
	rc = ag_space_page_alloc(&sp, &a);
	ok(!rc && AG_ADDR_SEG(a) == 0 && AG_PAGE_EPOCH(a) == 3 &&
	   AG_PAGE_SLOT(a) % 2 == 1 && AG_PAGE_SLOT(a) < 8,
	   "then a released slot of segment 0, under a new address (%#llx)",
	   (unsigned long long)a);

	/* a metadata segment left with no page is drained */
	sp.state[5] = AG_SEG_META;
	n = ag_space_round_done(&sp, drained, NSEG);
	ok(n == 1 && drained[0] == 5, "an empty metadata segment is drained");
	ag_space_destroy(&sp);
}

static void test_segments(void)
{
	struct ag_label l = small_label();
	struct ag_space sp;
	uint32_t seg, drained[NSEG], s;
	int bad = 0;

	ag_space_init(&sp, &l);
	ok(!ag_space_find_free_beyond(&sp, NSEG - 1, &seg),
	   "with reserve 7 of 8 free, one is left to lease");
	ok(ag_space_find_free_beyond(&sp, NSEG, &seg) == -ENOSPC,
	   "with reserve 8, none");
	ok(ag_space_clean_reserve(&sp) == AG_CLEAN_RESERVE_MIN,
	   "a small cluster keeps the least cleaner reserve");
	sp.nseg = 100 * AG_CLEAN_RESERVE_SHARE;
	ok(ag_space_clean_reserve(&sp) == 100,
	   "a large one a share of its segments");
	sp.nseg = NSEG;
	/* segments found in turn, round the cluster */
	for (s = 0; s < NSEG; s++)
		if (ag_space_find_free(&sp, &seg) || seg != (s + 1) % NSEG)
			bad++;
	ok(!bad, "the search goes on after the last segment found");

	/* a data segment, sealed, with room for four more stripes */
	sp.state[2] = AG_SEG_DATA;
	sp.owner[2] = 0;
	sp.fill[2] = 1000;
	ok(!ag_space_find_sealed(&sp, 1000 + 4 * 100, 100, &seg) && seg == 2,
	   "a sealed segment with room is found");
	ok(ag_space_find_sealed(&sp, 1000 + 4 * 100 - 1, 100, &seg) ==
	   -ENOSPC, "not with less than four stripes of room");
	sp.owner[2] = 42;
	ok(ag_space_find_sealed(&sp, 1 << 20, 100, &seg) == -ENOSPC,
	   "not while leased");

	/* a segment freed by generation 20: not usable before a round
	 * that covers 20 */
	for (s = 0; s < NSEG; s++) {
		sp.state[s] = AG_SEG_DATA;
		sp.owner[s] = 1;
	}
	sp.state[6] = AG_SEG_FREE;
	sp.recorded[6] = 1;
	sp.free_gen[6] = 20;
	ok(ag_space_find_free(&sp, &seg) == -ENOSPC,
	   "a freshly freed segment is not usable");
	clock_past_rounds(&sp);
	ok(!ag_space_round_due(&sp, 19), "no round for generation 19");
	ok(ag_space_round_due(&sp, 20), "a round for generation 20");
	ag_space_round_done(&sp, drained, NSEG);
	ok(!ag_space_find_free(&sp, &seg) && seg == 6,
	   "usable after the round");
	ag_space_use_meta(&sp, 6);
	ok(ag_space_find_free(&sp, &seg) == -ENOSPC,
	   "not once it is the current metadata segment");
	ag_space_destroy(&sp);
}

/* ---- an in-memory pager whose addresses come from the space ---- */

struct mem_pager {
	struct ag_space *sp;
	uint8_t *pages;  /* NSEG * pages_per_seg slots of a page each */
	uint64_t *addr;  /* the address each slot was last written as */
	uint32_t pps;
	struct ag_pager pg;
};

static uint8_t *slot_of(struct mem_pager *m, uint64_t addr)
{
	uint32_t s = AG_ADDR_SEG(addr), p = AG_PAGE_SLOT(addr);

	if (s >= NSEG || p >= m->pps)
		return NULL;
	return m->pages + ((size_t)s * m->pps + p) * AG_PAGE_SIZE;
}

static int mem_read(void *ctx, uint64_t addr, void *buf)
{
	struct mem_pager *m = ctx;
	uint8_t *p = slot_of(m, addr);

	if (!p || m->addr[(p - m->pages) / AG_PAGE_SIZE] != addr)
		return -EIO;
	memcpy(buf, p, AG_PAGE_SIZE);
	return 0;
}

static int mem_write(void *ctx, uint64_t addr, uint64_t gen, void *buf)
{
	struct mem_pager *m = ctx;
	uint8_t *p = slot_of(m, addr);

	(void)gen;
	if (!p)
		return -EIO;
	memcpy(p, buf, AG_PAGE_SIZE);
	m->addr[(p - m->pages) / AG_PAGE_SIZE] = addr;
	return 0;
}

static int mem_alloc(void *ctx, uint64_t *addr)
{
	struct mem_pager *m = ctx;

	return ag_space_page_alloc(m->sp, addr);
}

static void mem_release(void *ctx, uint64_t addr)
{
	struct mem_pager *m = ctx;

	ag_space_page_release(m->sp, addr);
}

static int count_pages(uint64_t addr, int level, void *arg)
{
	uint32_t *n = arg;

	(void)addr;
	if (level >= 0)
		(*n)++;
	return 0;
}

static int put_seg(struct ag_tree *t, uint32_t seg, uint8_t state,
		   uint64_t owner, uint64_t fill, uint64_t free_gen)
{
	struct ag_seg_rec r = { .state = state, .owner = owner,
				.fill = fill, .free_gen = free_gen };
	uint8_t k[AG_KEYBUF], v[AG_SEG_REC_LEN];

	ag_seg_rec_encode(v, &r);
	return ag_tree_put(t, k, ag_key_segment(k, seg), v, sizeof(v));
}

static void test_load(void)
{
	struct ag_label l = small_label();
	struct ag_space sp, back;
	struct mem_pager m = { .sp = &sp };
	struct ag_tree *t = NULL;
	uint8_t k[AG_KEYBUF], v[AG_INODE_LEN];
	uint64_t root = 0, ino;
	uint32_t pages = 0, live = 0, s, p;
	int rc = 0, same = 1;

	ag_space_init(&sp, &l);
	m.pps = sp.pages_per_seg;
	m.pages = calloc((size_t)NSEG * m.pps, AG_PAGE_SIZE);
	m.addr = calloc((size_t)NSEG * m.pps, sizeof(uint64_t));
	m.pg = (struct ag_pager){ .page_size = AG_PAGE_SIZE, .ctx = &m,
				  .read = mem_read, .write = mem_write,
				  .alloc = mem_alloc,
				  .release = mem_release };
	sp.state[1] = AG_SEG_META;
	ag_space_use_meta(&sp, 1);
	rc = ag_tree_open(&t, &m.pg, 0);
	/* enough records for a tree of a few pages */
	memset(v, 0x5a, sizeof(v));
	for (ino = 1; !rc && ino <= 300; ino++)
		rc = ag_tree_put(t, k, ag_key_inode(k, ino), v, sizeof(v));
	if (!rc)
		rc = put_seg(t, 1, AG_SEG_META, 0, 0, 0);
	if (!rc)
		rc = put_seg(t, 3, AG_SEG_DATA, 7, 12345, 0);
	if (!rc)
		rc = put_seg(t, 5, AG_SEG_FREE, 0, 0, 9);
	if (!rc)
		rc = ag_tree_flush(t, 1, &root);
	ag_tree_close(t);
	t = NULL;
	ok(!rc && root, "a tree of 300 inodes built, its pages from the space");
	ag_space_committed(&sp, 1);

	rc = ag_tree_open(&t, &m.pg, root);
	if (!rc)
		rc = ag_tree_walk(t, count_pages, &pages);
	ok(!rc && pages > 3, "its %u pages reachable", pages);
	ag_space_init(&back, &l);
	rc = rc ? rc : ag_space_load(&back, t);
	ok(!rc, "ag_space_load");
	for (s = 0; s < NSEG; s++)
		live += back.meta_live[s];
	ok(live == pages && back.meta_live[1] == pages,
	   "every page of the tree is counted live in segment 1 (%u)", live);
	for (s = 0; s < NSEG; s++)
		for (p = 0; p < back.pages_per_seg; p++) {
			uint64_t b = (uint64_t)s * back.pages_per_seg + p;
			int on = back.pages[b >> 3] >> (b & 7) & 1;
			uint64_t a = m.addr[b];

			/* a slot is in use iff it holds a reachable page;
			 * every written slot here is reachable or was
			 * released (then the old copy is unreachable) */
			if (on && (!a || AG_ADDR_SEG(a) != s))
				same = 0;
		}
	ok(same, "only slots holding pages are marked");
	ok(back.state[1] == AG_SEG_META && back.recorded[1] &&
	   back.state[3] == AG_SEG_DATA && back.owner[3] == 7 &&
	   back.fill[3] == 12345 && back.state[5] == AG_SEG_FREE &&
	   back.recorded[5] && back.free_gen[5] == 9 && back.reusable[5] &&
	   !back.recorded[0] && !back.recorded[7],
	   "segment records: states, owner, fill, free_gen");
	ag_tree_close(t);
	ag_space_destroy(&back);

	/* a SEGMENT record past the cluster's end is corruption */
	rc = ag_tree_open(&t, &m.pg, root);
	if (!rc)
		rc = put_seg(t, NSEG, AG_SEG_DATA, 0, 0, 0);
	ag_space_init(&back, &l);
	ok(!rc && ag_space_load(&back, t) == -AG_ECORRUPT,
	   "a segment record past the end: -AG_ECORRUPT");
	ag_tree_close(t);
	ag_space_destroy(&back);
	ag_space_destroy(&sp);
	free(m.pages);
	free(m.addr);
}

static void mem_init(struct mem_pager *m, struct ag_space *sp)
{
	m->sp = sp;
	m->pps = sp->pages_per_seg;
	m->pages = calloc((size_t)NSEG * m->pps, AG_PAGE_SIZE);
	m->addr = calloc((size_t)NSEG * m->pps, sizeof(uint64_t));
	m->pg = (struct ag_pager){ .page_size = AG_PAGE_SIZE, .ctx = m,
				   .read = mem_read, .write = mem_write,
				   .alloc = mem_alloc,
				   .release = mem_release };
}

/* Pages of the tree in segment seg. */
struct seg_count {
	uint32_t seg, n;
};

static int count_in_seg(uint64_t addr, int level, void *arg)
{
	struct seg_count *c = arg;

	if (level >= 0 && AG_ADDR_SEG(addr) == c->seg)
		c->n++;
	return 0;
}

static uint32_t pages_in(struct ag_tree *t, uint32_t seg)
{
	struct seg_count c = { .seg = seg };

	return ag_tree_walk(t, count_in_seg, &c) ? UINT32_MAX : c.n;
}

/* Flush t as generation gen and run the reuse round that covers it. */
static uint32_t commit_round(struct ag_space *sp, struct ag_tree *t,
			     uint64_t gen, uint32_t *drained)
{
	uint64_t root;

	if (ag_tree_flush(t, gen, &root))
		return UINT32_MAX;
	ag_space_committed(sp, gen);
	clock_past_rounds(sp);
	if (!ag_space_round_due(sp, gen))
		return 0;
	return ag_space_round_done(sp, drained, NSEG);
}

static void test_compact(void)
{
	struct ag_label l = small_label();
	struct ag_space sp;
	struct mem_pager m;
	struct ag_tree *t = NULL;
	uint8_t k[AG_KEYBUF], v[AG_INODE_LEN], got[AG_INODE_LEN];
	uint32_t drained[NSEG], n, live, i;
	uint64_t ino;
	int rc = 0, same = 1, rc2;

	ag_space_init(&sp, &l);
	mem_init(&m, &sp);
	sp.state[1] = sp.state[2] = sp.state[3] = AG_SEG_META;
	ag_space_use_meta(&sp, 1);
	rc = ag_tree_open(&t, &m.pg, 0);
	memset(v, 0x5a, sizeof(v));
	for (ino = 1; !rc && ino <= 600; ino++)
		rc = ag_tree_put(t, k, ag_key_inode(k, ino), v, sizeof(v));
	n = rc ? UINT32_MAX : commit_round(&sp, t, 1, drained);
	live = sp.meta_live[1];
	ok(!rc && n != UINT32_MAX && live > 16 && pages_in(t, 1) == live,
	   "600 inodes fill %u of segment 1's 32 slots", live);
	ag_space_use_meta(&sp, 2);
	ok(ag_space_compact_pick(&sp) == AG_SEG_NONE,
	   "a segment more than half in use is not compacted");

	/* most of the tree goes; the leaves of the last inodes, untouched,
	 * stay where they were written */
	for (ino = 1; !rc && ino <= 540; ino++)
		rc = ag_tree_del(t, k, ag_key_inode(k, ino));
	n = rc ? UINT32_MAX : commit_round(&sp, t, 2, drained);
	live = sp.meta_live[1];
	ok(!rc && n != UINT32_MAX && live > 0 && live <= 16 &&
	   pages_in(t, 1) == live,
	   "after deleting 540 of them, %u live pages pin segment 1", live);

	ok(ag_space_compact_pick(&sp) == AG_SEG_NONE,
	   "a segment slots were handed out of a moment ago is not compacted");
	sp.last_taken[1] = 1;	/* long ago */
	rc = ag_space_compact(&sp, t);
	ok(rc == (int)live && sp.compacting == 1,
	   "segment 1 is compacted: its %u pages are dirtied (%d)", live, rc);
	ok(ag_space_roomy_meta(&sp) != 1 && ag_space_compact_busy(&sp),
	   "while it drains, no page goes to it");
	ok(ag_space_compact_pick(&sp) == AG_SEG_NONE,
	   "one segment is compacted at a time");
	ok(ag_space_compact(&sp, t) == 0 && sp.compacting == 1,
	   "called again before the commit, it goes on with segment 1 and "
	   "finds nothing left to move");
	n = commit_round(&sp, t, 3, drained);
	for (i = 0, same = 0; n != UINT32_MAX && i < n; i++)
		same |= drained[i] == 1;
	ok(same && !sp.meta_live[1] && !pages_in(t, 1),
	   "the flush moves them out and the round drains segment 1");
	same = 1;
	for (ino = 1; ino <= 600 && same; ino++) {
		size_t vl = sizeof(got);

		rc2 = ag_tree_get(t, k, ag_key_inode(k, ino), got, &vl);
		same = ino <= 540 ? rc2 == -ENOENT
				  : !rc2 && vl == sizeof(v) &&
					    !memcmp(got, v, vl);
	}
	ok(same, "the tree reads the same: 60 inodes, the others -ENOENT");
	sp.state[1] = AG_SEG_FREE;	/* what metad records for it */
	ok(ag_space_compact_pick(&sp) == AG_SEG_NONE &&
	   sp.compacting == AG_SEG_NONE,
	   "once it is free, the compaction is over and none is due");
	for (i = 0, live = 0; i < NSEG; i++)
		live += sp.meta_live[i];
	ok(live == pages_in(t, 2) + pages_in(t, 3),
	   "the %u slots in use are the tree's pages in segments 2 and 3",
	   live);
	ag_tree_close(t);
	ag_space_destroy(&sp);
	free(m.pages);
	free(m.addr);
}

/* What fill_holes was asked, in order. */
struct fills {
	uint32_t n, bad_seg, gaps;
	uint64_t to;
};

static void record_fill(void *arg, uint32_t seg, uint64_t from, uint64_t to)
{
	struct fills *f = arg;

	f->n++;
	f->bad_seg += seg != 0;
	f->gaps += from != f->to || to <= from;
	f->to = to;
}

/* Metadata space is filled a step at a time as slots are handed out:
 * every copy of every page handed out lies in the filled part, which
 * grows by AG_META_FILL_STEP from 0 to the whole segment. */
static void test_fill_steps(void)
{
	struct ag_label l = small_label();
	struct fills f = { 0 };
	struct ag_space sp;
	uint64_t a, seg0 = ag_slot_offset(&l, 0, 0, AG_PAGE_SIZE);
	uint32_t i, outside = 0, first = 0;

	l.segment_size = 4 * AG_META_FILL_STEP;
	ok(!ag_space_init(&sp, &l), "init with segments of 4 fill steps");
	sp.fill_holes = record_fill;
	sp.fill_holes_arg = &f;
	ag_space_use_meta(&sp, 0);
	sp.state[0] = AG_SEG_META;
	for (i = 0; i < sp.pages_per_seg; i++) {
		ag_space_set_lane(&sp, i);
		if (ag_space_page_alloc(&sp, &a))
			break;
		for (int c = 0; c < AG_PAGE_COPIES; c++) {
			uint64_t slot = (uint64_t)AG_PAGE_SLOT(a) *
					AG_PAGE_COPIES + c;

			if (ag_slot_offset(&l, 0, slot, AG_PAGE_SIZE) - seg0 +
			    AG_PAGE_SIZE > f.to)
				outside++;
		}
		if (i == 0)
			first = f.n;
	}
	ok(i == sp.pages_per_seg, "all %u page slots handed out", i);
	ok(first == 1, "the first page fills one step first (%u calls)", first);
	ok(!outside, "no page copy outside the filled part (%u)", outside);
	ok(f.n == 4 && !f.gaps && !f.bad_seg && f.to == l.segment_size,
	   "the segment filled in 4 steps, each from where the last ended "
	   "(%u calls, %u gaps, to %llu)", f.n, f.gaps,
	   (unsigned long long)f.to);
	ag_space_destroy(&sp);
}

int main(void)
{
	test_pages();
	test_segments();
	test_fill_steps();
	test_load();
	test_compact();
	return tap_done();
}
