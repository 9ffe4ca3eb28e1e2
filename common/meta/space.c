/*
 * space.c - segment and page-slot bookkeeping for metad (see space.h):
 * which segments are free, metadata or data, which page slots of the
 * metadata segments are in use, reuse rounds, and the compaction of
 * mostly dead metadata segments.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "keys.h"
#include "pager.h"
#include "space.h"
#include "util.h"

/* Rounds no more often than this: each one costs every client its page
 * cache. */
#define ROUND_EVERY_NS (2ull * 1000000000ull)

static int bit(const struct ag_space *sp, uint32_t seg, uint32_t page)
{
	uint64_t b = (uint64_t)seg * sp->pages_per_seg + page;

	return sp->pages[b >> 3] >> (b & 7) & 1;
}

static void set_bit(struct ag_space *sp, uint32_t seg, uint32_t page, int on)
{
	uint64_t b = (uint64_t)seg * sp->pages_per_seg + page;

	if (on)
		sp->pages[b >> 3] |= 1u << (b & 7);
	else
		sp->pages[b >> 3] &= ~(1u << (b & 7));
}

int ag_space_init(struct ag_space *sp, const struct ag_label *l)
{
	memset(sp, 0, sizeof(*sp));
	sp->nseg = l->nsegments;
	sp->pages_per_seg = ag_pages_per_segment(l);
	sp->state = calloc(sp->nseg, 1);
	sp->recorded = calloc(sp->nseg, 1);
	sp->reusable = calloc(sp->nseg, 1);
	sp->free_gen = calloc(sp->nseg, sizeof(uint64_t));
	sp->meta_live = calloc(sp->nseg, sizeof(uint32_t));
	sp->owner = calloc(sp->nseg, sizeof(uint64_t));
	sp->fill = calloc(sp->nseg, sizeof(uint64_t));
	sp->filled = calloc(sp->nseg, sizeof(uint64_t));
	sp->last_taken = calloc(sp->nseg, sizeof(uint64_t));
	sp->cooling_in = calloc(sp->nseg, sizeof(uint32_t));
	sp->ndrives = l->ndrives;
	sp->seg_bytes = l->segment_size;
	sp->pages = calloc(((uint64_t)sp->nseg * sp->pages_per_seg + 7) / 8, 1);
	sp->cur_meta = sp->spare_meta = sp->compacting = AG_SEG_NONE;
	sp->lanes = l->ndrives % AG_PAGE_COPIES ? l->ndrives :
		    l->ndrives / AG_PAGE_COPIES;
	sp->last_round = ag_mono_ns();
	if (!sp->state || !sp->recorded || !sp->reusable || !sp->free_gen ||
	    !sp->meta_live || !sp->owner || !sp->fill || !sp->filled ||
	    !sp->last_taken || !sp->cooling_in || !sp->pages) {
		ag_space_destroy(sp);
		return -ENOMEM;
	}
	sp->epoch = 1;
	return 0;
}

void ag_space_destroy(struct ag_space *sp)
{
	free(sp->state);
	free(sp->recorded);
	free(sp->reusable);
	free(sp->free_gen);
	free(sp->meta_live);
	free(sp->owner);
	free(sp->fill);
	free(sp->filled);
	free(sp->last_taken);
	free(sp->cooling_in);
	free(sp->pages);
	free(sp->released);
	free(sp->cooling);
	free(sp->cooling_gen);
	memset(sp, 0, sizeof(*sp));
}

static int count_page(uint64_t addr, int level, void *arg)
{
	struct ag_space *sp = arg;
	uint32_t seg = AG_ADDR_SEG(addr), page = AG_PAGE_SLOT(addr);

	if (level < 0 || seg >= sp->nseg || page >= sp->pages_per_seg)
		return 0; /* fsck reports unreadable pages */
	if (!bit(sp, seg, page)) {
		set_bit(sp, seg, page, 1);
		sp->meta_live[seg]++;
	}
	return 0;
}

int ag_space_load(struct ag_space *sp, struct ag_tree *t)
{
	uint8_t key[AG_KEYBUF];
	struct ag_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	uint32_t s;
	int rc;

	rc = ag_tree_seek(t, key, ag_key_segment(key, 0), &c);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(c, &k, &kl, &v, &vl)) == 1) {
		struct ag_seg_rec r;

		if (ag_key_segment_decode(k, kl, &s))
			break;
		if (s >= sp->nseg || ag_seg_rec_decode(v, vl, &r)) {
			rc = AG_CORRUPT("segment record %u", s);
			break;
		}
		sp->state[s] = r.state;
		sp->recorded[s] = 1;
		sp->free_gen[s] = r.free_gen;
		sp->owner[s] = r.owner;
		sp->fill[s] = r.fill;
		/* a new page epoch starts with us, and data is checked by
		 * crc: what the committed tree holds free is free now */
		sp->reusable[s] = r.state == AG_SEG_FREE;
	}
	ag_cursor_free(c);
	if (rc < 0)
		return rc;
	return ag_tree_walk(t, count_page, sp);
}

static int usable(const struct ag_space *sp, uint32_t s)
{
	return sp->state[s] == AG_SEG_FREE && s != sp->cur_meta &&
	       s != sp->spare_meta && (!sp->recorded[s] || sp->reusable[s]);
}

uint32_t ag_space_clean_reserve(const struct ag_space *sp)
{
	return AG_MAX(AG_CLEAN_RESERVE_MIN, sp->nseg / AG_CLEAN_RESERVE_SHARE);
}

int ag_space_find_free_beyond(struct ag_space *sp, uint32_t reserve,
			      uint32_t *seg)
{
	uint32_t s, n = 0;

	for (s = 0; s < sp->nseg && n <= reserve; s++)
		n += usable(sp, s);
	if (n <= reserve)
		return -ENOSPC;
	return ag_space_find_free(sp, seg);
}

int ag_space_find_free(struct ag_space *sp, uint32_t *seg)
{
	uint32_t i;

	for (i = 0; i < sp->nseg; i++) {
		uint32_t s = (sp->search + i) % sp->nseg;

		if (!usable(sp, s))
			continue;
		sp->search = s + 1;
		*seg = s;
		return 0;
	}
	return -ENOSPC;
}

int ag_space_find_sealed(struct ag_space *sp, uint64_t payload,
			 uint64_t stripe, uint32_t *seg)
{
	uint32_t s;

	for (s = 0; s < sp->nseg; s++) {
		if (sp->state[s] == AG_SEG_DATA && !sp->owner[s] &&
		    sp->fill[s] + 4 * stripe <= payload) {
			*seg = s;
			return 0;
		}
	}
	return -ENOSPC;
}

/* A metadata segment other than the current one with more than want
 * free slots, the roomiest. */
static uint32_t roomy_meta(const struct ag_space *sp, uint32_t want)
{
	uint32_t s, best = AG_SEG_NONE, best_free = want;

	for (s = 0; s < sp->nseg; s++) {
		uint32_t f = sp->pages_per_seg - sp->meta_live[s];

		if (sp->state[s] == AG_SEG_META && s != sp->cur_meta &&
		    s != sp->spare_meta && s != sp->compacting &&
		    f > best_free) {
			best = s;
			best_free = f;
		}
	}
	return best;
}

uint32_t ag_space_roomy_meta(const struct ag_space *sp)
{
	return roomy_meta(sp, sp->pages_per_seg / 8);
}

void ag_space_use_meta(struct ag_space *sp, uint32_t seg)
{
	uint32_t j;

	sp->cur_meta = seg;
	for (j = 0; j < sp->lanes; j++)
		sp->lane_next[j] = j;
}

void ag_space_set_lane(struct ag_space *sp, uint64_t gen)
{
	sp->lane = (uint32_t)(gen % sp->lanes);
}

/* Before page p of segment s is handed out: its copies (slots 3p ..
 * 3p + 2, on their drives at (slot / N) pages) must lie in the filled
 * part of the segment. */
static void fill_for(struct ag_space *sp, uint32_t s, uint32_t p)
{
	uint64_t end = ((uint64_t)(AG_PAGE_COPIES * p + AG_PAGE_COPIES - 1) /
				sp->ndrives + 1) * AG_PAGE_SIZE, to;

	if (!sp->fill_holes || end <= sp->filled[s])
		return;
	to = (end + AG_META_FILL_STEP - 1) / AG_META_FILL_STEP *
	     AG_META_FILL_STEP;
	to = to < sp->seg_bytes ? to : sp->seg_bytes;
	sp->fill_holes(sp->fill_holes_arg, s, sp->filled[s], to);
	sp->filled[s] = to;
}

/* A free page slot of lane j in the current metadata segment. */
static int take_slot(struct ag_space *sp, uint32_t j, uint64_t *addr)
{
	uint32_t s = sp->cur_meta, p;

	for (p = sp->lane_next[j]; p < sp->pages_per_seg; p += sp->lanes) {
		if (bit(sp, s, p))
			continue;
		fill_for(sp, s, p);
		set_bit(sp, s, p, 1);
		sp->last_taken[s] = ag_mono_ns();
		sp->meta_live[s]++;
		sp->lane_next[j] = p + sp->lanes;
		*addr = AG_PAGE_ADDR(s, sp->epoch, p);
		return 0;
	}
	sp->lane_next[j] = p;
	return -ENOSPC;
}

int ag_space_page_alloc(void *ctx, uint64_t *addr)
{
	struct ag_space *sp = ctx;
	uint32_t j;

	for (;;) {
		uint32_t s = sp->cur_meta;

		if (s != AG_SEG_NONE) {
			/* the commit's lane, else any: a full lane must not
			 * leave the segment's other slots unused */
			if (!take_slot(sp, sp->lane, addr))
				return 0;
			for (j = 0; j < sp->lanes; j++)
				if (!take_slot(sp, j, addr))
					return 0;
		}
		/* fill holes left by old tree versions before new space */
		s = roomy_meta(sp, sp->pages_per_seg / 8);
		if (s == AG_SEG_NONE && sp->spare_meta != AG_SEG_NONE) {
			if (!sp->spare_ready && sp->spare_wait)
				sp->spare_wait(sp->spare_wait_arg);
			s = sp->spare_meta;
			sp->spare_meta = AG_SEG_NONE;
		}
		/* out of fresh segments: any free slot will do */
		if (s == AG_SEG_NONE)
			s = roomy_meta(sp, 0);
		if (s == AG_SEG_NONE)
			return -ENOSPC;
		ag_space_use_meta(sp, s);
	}
}

/* ---- compaction ---- */

/* A compaction's segment still has slots in use. */
static int draining(const struct ag_space *sp)
{
	uint32_t s = sp->compacting;

	return s != AG_SEG_NONE && sp->state[s] == AG_SEG_META &&
	       sp->meta_live[s];
}

/* The segment compaction would take (space.h), or AG_SEG_NONE; with
 * live_only, as if the pages cooling in each were released already. */
static uint32_t pick(const struct ag_space *sp, int live_only)
{
	uint32_t s, best = AG_SEG_NONE, best_used = 0, room = 0;
	uint32_t most = sp->pages_per_seg / AG_META_COMPACT_SHARE;
	uint64_t now = ag_mono_ns();

	for (s = 0; s < sp->nseg; s++) {
		uint32_t used = sp->meta_live[s];

		if (sp->state[s] != AG_SEG_META)
			continue;
		if (live_only)
			used -= AG_MIN(used, sp->cooling_in[s]);
		room += sp->pages_per_seg - used;
		if (s == sp->cur_meta || s == sp->spare_meta || !used ||
		    used > most ||
		    (sp->last_taken[s] &&
		     now - sp->last_taken[s] < AG_META_COMPACT_COLD_NS))
			continue;
		if (best == AG_SEG_NONE || used < best_used) {
			best = s;
			best_used = used;
		}
	}
	if (best == AG_SEG_NONE)
		return AG_SEG_NONE;
	room -= sp->pages_per_seg - best_used;
	return room < 2 * best_used + AG_META_COMPACT_SLACK ? AG_SEG_NONE
							     : best;
}

uint32_t ag_space_compact_pick(struct ag_space *sp)
{
	if (draining(sp))
		return AG_SEG_NONE;
	sp->compacting = pick(sp, 0);
	return sp->compacting;
}

/* What ag_tree_rewrite picks: pages of segment seg, budget of them. */
struct compact_batch {
	uint32_t seg, budget;
};

static int in_batch(uint64_t addr, void *arg)
{
	struct compact_batch *b = arg;

	if (AG_ADDR_SEG(addr) != b->seg || !b->budget)
		return 0;
	b->budget--;
	return 1;
}

int ag_space_compact(struct ag_space *sp, struct ag_tree *t)
{
	struct compact_batch b = { .seg = sp->compacting,
				   .budget = AG_META_COMPACT_BATCH };
	uint64_t picked;
	int rc;

	if (!draining(sp))
		b.seg = ag_space_compact_pick(sp);
	if (b.seg == AG_SEG_NONE)
		return 0;
	rc = ag_tree_rewrite(t, in_batch, &b, &picked);
	if (rc || !picked)
		return rc;
	AG_INFO("metadata segment %u: %u slots in use, %llu pages of the "
		"tree move out of it", b.seg, sp->meta_live[b.seg],
		(unsigned long long)picked);
	return (int)picked;
}

int ag_space_compact_busy(const struct ag_space *sp)
{
	if (draining(sp) || (sp->compacting != AG_SEG_NONE &&
			     ag_space_segments_waiting(sp)))
		return 1;
	/* what stands between a segment and its compaction is a round:
	 * the commits that carry it release nothing that makes another
	 * (their pages are in the current segment) */
	return sp->ncooling && pick(sp, 1) != AG_SEG_NONE;
}

static int grow(uint64_t **a, uint64_t **b, uint32_t *cap, uint32_t need)
{
	uint32_t c = *cap ? *cap : 256;
	uint64_t *na, *nb = NULL;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	na = realloc(*a, c * sizeof(**a));
	if (na)
		*a = na;
	if (b) {
		nb = realloc(*b, c * sizeof(**b));
		if (nb)
			*b = nb;
	}
	if (!na || (b && !nb))
		return -ENOMEM;
	*cap = c;
	return 0;
}

void ag_space_page_release(void *ctx, uint64_t addr)
{
	struct ag_space *sp = ctx;

	/* on failure the slot stays in use until the next restart */
	if (grow(&sp->released, NULL, &sp->released_cap, sp->nreleased + 1))
		return;
	sp->released[sp->nreleased++] = addr;
}

void ag_space_committed(struct ag_space *sp, uint64_t gen)
{
	uint32_t i;

	if (!grow(&sp->cooling, &sp->cooling_gen, &sp->cooling_cap,
		  sp->ncooling + sp->nreleased)) {
		for (i = 0; i < sp->nreleased; i++) {
			uint32_t s = AG_ADDR_SEG(sp->released[i]);

			sp->cooling[sp->ncooling] = sp->released[i];
			sp->cooling_gen[sp->ncooling++] = gen;
			if (s < sp->nseg)
				sp->cooling_in[s]++;
		}
	}
	sp->nreleased = 0;
}

void ag_space_abort(struct ag_space *sp)
{
	sp->nreleased = 0;
}

int ag_space_round_due(struct ag_space *sp, uint64_t committed_gen)
{
	uint32_t s;
	int waiting = sp->ncooling > 0;

	if (ag_mono_ns() - sp->last_round < ROUND_EVERY_NS)
		return 0;
	for (s = 0; !waiting && s < sp->nseg; s++)
		waiting = sp->state[s] == AG_SEG_FREE && sp->recorded[s] &&
			  !sp->reusable[s] && sp->free_gen[s] <= committed_gen;
	if (waiting)
		sp->round_gen = committed_gen;
	return waiting;
}

int ag_space_segments_waiting(const struct ag_space *sp)
{
	uint32_t s;

	for (s = 0; s < sp->nseg; s++)
		if (sp->state[s] == AG_SEG_FREE && sp->recorded[s] &&
		    !sp->reusable[s])
			return 1;
	return 0;
}

void ag_space_round_soon(struct ag_space *sp)
{
	sp->last_round = 0;
}

uint32_t ag_space_round_done(struct ag_space *sp, uint32_t *drained,
			     uint32_t cap)
{
	uint32_t i, j = 0, s, n = 0;

	for (i = 0; i < sp->ncooling; i++) {
		uint64_t a = sp->cooling[i];

		if (sp->cooling_gen[i] > sp->round_gen) {
			sp->cooling[j] = a;
			sp->cooling_gen[j++] = sp->cooling_gen[i];
			continue;
		}
		s = AG_ADDR_SEG(a);
		if (s < sp->nseg && sp->cooling_in[s])
			sp->cooling_in[s]--;
		if (s < sp->nseg && AG_PAGE_SLOT(a) < sp->pages_per_seg &&
		    bit(sp, s, AG_PAGE_SLOT(a))) {
			set_bit(sp, s, AG_PAGE_SLOT(a), 0);
			sp->meta_live[s]--;
		}
	}
	sp->ncooling = j;
	for (s = 0; s < sp->nseg; s++) {
		if (sp->state[s] == AG_SEG_FREE && sp->recorded[s] &&
		    sp->free_gen[s] <= sp->round_gen)
			sp->reusable[s] = 1;
		if (n < cap && sp->state[s] == AG_SEG_META &&
		    !sp->meta_live[s] && s != sp->cur_meta &&
		    s != sp->spare_meta)
			drained[n++] = s;
	}
	/* slots freed from now on belong to the new epoch's addresses */
	sp->epoch = sp->epoch % AG_MAX_PAGE_SLOTS + 1;
	sp->last_round = ag_mono_ns();
	return n;
}
