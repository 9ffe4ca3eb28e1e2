/*
 * scrub.h - a scrub narrowed to some drives, resumable: what a rebuild
 * (rebuild.c) runs over a new drive. agora.h has the scrub of everything.
 */
#ifndef AG_SCRUB_H
#define AG_SCRUB_H

#include <stdint.h>

#include "agora.h"

/* What a narrowed scrub reads: the copies that lie on drives (bit i:
 * drive i), the stripes from (from_seg, from_stripe) on, in key order
 * (those before were done by an earlier run). Blank commit ring slots of
 * those drives count as missing copies too, filled from the newest whole
 * record of the slot elsewhere: a new drive's ring is blank. */
struct ag_scrub_focus {
	uint64_t drives;
	uint32_t from_seg, from_stripe;
	/* after a batch of stripes is read and rebuilt, the next stripe's
	 * place; nonzero stops the run with that error (NULL: not called) */
	int (*stripe_done)(void *arg, uint32_t next_seg, uint32_t next_stripe,
			   uint64_t done, uint64_t total);
	void *arg;
	const char *what; /* the progress line's name ("scrub" when NULL) */
};

/* ag_scrub of what f says (f NULL: everything). */
int ag_scrub_focused(struct ag_cluster *c, const struct ag_scrub_opts *o,
		     const struct ag_scrub_focus *f, struct ag_scrub_report *r);

#endif
