/*
 * space.c - segment bookkeeping for metad (see space.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "keys.h"
#include "pager.h"
#include "space.h"
#include "util.h"

int ag_space_init(struct ag_space *sp, const struct ag_label *l)
{
	memset(sp, 0, sizeof(*sp));
	sp->nseg = l->nsegments;
	sp->pages_per_seg = ag_pages_per_segment(l);
	sp->state = calloc(sp->nseg, 1);
	sp->recorded = calloc(sp->nseg, 1);
	sp->free_gen = calloc(sp->nseg, sizeof(uint64_t));
	sp->free_mono = calloc(sp->nseg, sizeof(uint64_t));
	sp->meta_live = calloc(sp->nseg, sizeof(uint32_t));
	sp->owner = calloc(sp->nseg, sizeof(uint64_t));
	sp->cur_meta = sp->spare_meta = AG_SEG_NONE;
	sp->grace_ns = 5ull * 1000000000ull;
	if (!sp->state || !sp->recorded || !sp->free_gen || !sp->free_mono ||
	    !sp->meta_live || !sp->owner) {
		ag_space_destroy(sp);
		return -ENOMEM;
	}
	return 0;
}

void ag_space_destroy(struct ag_space *sp)
{
	free(sp->state);
	free(sp->recorded);
	free(sp->free_gen);
	free(sp->free_mono);
	free(sp->meta_live);
	free(sp->owner);
	free(sp->released);
	memset(sp, 0, sizeof(*sp));
}

static int count_page(uint64_t addr, int level, void *arg)
{
	struct ag_space *sp = arg;
	uint32_t seg = AG_ADDR_SEG(addr);

	if (level < 0 || seg >= sp->nseg)
		return 0; /* fsck reports unreadable pages */
	sp->meta_live[seg]++;
	return 0;
}

int ag_space_load(struct ag_space *sp, struct ag_tree *t)
{
	uint8_t key[AG_KEYBUF];
	struct ag_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	uint64_t now = ag_mono_ns();
	uint32_t s;
	int rc;

	rc = ag_tree_seek(t, key, ag_key_segment(key, 0), &c);
	if (rc)
		return rc;
	while ((rc = ag_cursor_next(c, &k, &kl, &v, &vl)) == 1) {
		const uint8_t *kb = k;
		struct ag_seg_rec r;

		if (kl != 5 || kb[0] != AG_K_SEGMENT)
			break;
		s = get_be32(kb + 1);
		if (s >= sp->nseg || ag_seg_rec_decode(v, vl, &r)) {
			rc = AG_CORRUPT("segment record %u", s);
			break;
		}
		sp->state[s] = r.state;
		sp->recorded[s] = 1;
		sp->free_gen[s] = r.free_gen;
		sp->owner[s] = r.owner;
		sp->free_mono[s] = now; /* readers may predate our start */
	}
	ag_cursor_free(c);
	if (rc < 0)
		return rc;
	memset(sp->meta_live, 0, sp->nseg * sizeof(uint32_t));
	rc = ag_tree_walk(t, count_page, sp);
	if (rc)
		return rc;
	return 0;
}

int ag_space_find_free(struct ag_space *sp, uint64_t committed_gen,
		       uint32_t *seg)
{
	uint64_t now = ag_mono_ns();
	uint32_t i;

	for (i = 0; i < sp->nseg; i++) {
		uint32_t s = (sp->search + i) % sp->nseg;

		if (sp->state[s] != AG_SEG_FREE || s == sp->cur_meta ||
		    s == sp->spare_meta)
			continue;
		if (sp->recorded[s] && (sp->free_gen[s] > committed_gen ||
					now - sp->free_mono[s] < sp->grace_ns))
			continue;
		sp->search = s + 1;
		*seg = s;
		return 0;
	}
	return -ENOSPC;
}

int ag_space_page_alloc(void *ctx, uint64_t *addr)
{
	struct ag_space *sp = ctx;

	if (sp->cur_meta == AG_SEG_NONE || sp->next_page >= sp->pages_per_seg) {
		if (sp->spare_meta == AG_SEG_NONE)
			return -ENOSPC;
		sp->cur_meta = sp->spare_meta;
		sp->spare_meta = AG_SEG_NONE;
		/* page 0 of segment 0 is address 0, which means "none" */
		sp->next_page = sp->cur_meta == 0 ? 1 : 0;
	}
	*addr = AG_ADDR(sp->cur_meta, sp->next_page++);
	sp->meta_live[sp->cur_meta]++;
	return 0;
}

void ag_space_page_release(void *ctx, uint64_t addr)
{
	struct ag_space *sp = ctx;

	if (sp->nreleased == sp->released_cap) {
		uint32_t cap = sp->released_cap ? 2 * sp->released_cap : 256;
		uint64_t *n = realloc(sp->released, cap * sizeof(*n));

		if (!n)
			return; /* the page leaks until the next restart */
		sp->released = n;
		sp->released_cap = cap;
	}
	sp->released[sp->nreleased++] = addr;
}

uint32_t ag_space_committed(struct ag_space *sp, uint32_t *drained,
			    uint32_t cap)
{
	uint32_t i, n = 0;

	for (i = 0; i < sp->nreleased; i++) {
		uint32_t s = AG_ADDR_SEG(sp->released[i]);

		if (s < sp->nseg && sp->meta_live[s])
			sp->meta_live[s]--;
	}
	sp->nreleased = 0;
	for (i = 0; i < sp->nseg && n < cap; i++)
		if (sp->state[i] == AG_SEG_META && !sp->meta_live[i] &&
		    i != sp->cur_meta && i != sp->spare_meta)
			drained[n++] = i;
	return n;
}

void ag_space_abort(struct ag_space *sp)
{
	sp->nreleased = 0;
}
