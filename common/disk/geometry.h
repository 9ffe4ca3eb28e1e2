/*
 * geometry.h - what a drive label implies for data segments (format.h):
 * how many stripes a segment holds and how many payload bytes, and what
 * a mirrored stripe holds. Pure arithmetic on the label, shared by the
 * data plane (stripe.c), metad's space accounting (data.c) and fsck.
 */
#ifndef AG_GEOMETRY_H
#define AG_GEOMETRY_H

#include <stdint.h>

#include "drive.h"

/* Stripes of k + m strips one data segment holds. */
static inline uint32_t ag_segment_stripes(const struct ag_label *l)
{
	uint64_t w = (uint64_t)l->ec_k + l->ec_m;

	if (!l->strip_size || !w)
		return 0;
	return (uint32_t)(l->ndrives * (l->segment_size / l->strip_size) / w);
}

/* Payload bytes one segment holds: stripes_per_segment * k * strip. */
static inline uint64_t ag_segment_payload(const struct ag_label *l)
{
	return (uint64_t)ag_segment_stripes(l) * l->ec_k * l->strip_size;
}

/* Payload bytes a mirrored stripe holds: (k + m) / (m + 1) strips. */
static inline uint64_t ag_mirror_payload(const struct ag_label *l)
{
	return (uint64_t)(l->ec_k + l->ec_m) / (l->ec_m + 1) * l->strip_size;
}

#endif
