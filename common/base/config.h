/*
 * config.h - the cluster configuration file every program reads (-c FILE).
 *
 * INI syntax: [section], key = value, comments with # or ;. Unknown
 * sections and keys are errors that name file:line, so a typo never
 * silently falls back to a default.
 */
#ifndef AG_CONFIG_H
#define AG_CONFIG_H

#include <stdint.h>

#include "base.h" /* AG_MAX_DRIVES */

struct ag_config {
	char *path;
	/* [cluster] */
	int ndrives;
	char *drives[AG_MAX_DRIVES];
	int ec_k, ec_m;
	uint64_t drive_size;
	/* "unix:PATH" or "HOST:PORT", or several, comma-separated: the
	 * agora-metad instances of which one is active */
	char *metad;
	uint32_t chunk_min, chunk_avg, chunk_max;
	uint32_t strip_size;
	uint64_t segment_size;
	int zstd_level;
	uint64_t page_cache, chunk_cache;
	int metad_timeout;  /* seconds a change waits for a lost metad */
	/* [metad] */
	char *pidfile;
	char *log;
	int batch_max;
	int lease_timeout;
	int active_lease_ms; /* the active metad's lease (lease.h) */
	int lazy_sync_ms;    /* longest a lazy commit waits for its sync */
	/* [clean]: when agora clean --watch cleans (agora.conf(5)) */
	int clean_free_pct;     /* free space below this share, in % */
	int clean_mirrored_pct; /* mirrored stripes above this share of the
				 * stored bytes, in % */
	int clean_interval;     /* seconds between two looks */
	int clean_rate;         /* MB/s a cleaning copies at most (0: any) */
	int scrub_rate;         /* MB/s a background scrub reads at most */
	int scrub_interval;     /* seconds from one background scrub to the next */
	/* [lifecycle]: agora lifecycle --watch */
	int lifecycle_interval; /* seconds between two runs */
	int lifecycle_day;      /* seconds a lifecycle rule's day lasts */
	/* [events] */
	int events_keep;        /* events the log keeps past every trigger's
				 * cursor (0: the default, 100000) */
};

/* Read FILE into *cp (freed with ag_config_free). On a syntax error or an
 * unknown key, logs file:line and returns -EINVAL. */
int ag_config_load(const char *file, struct ag_config **cp);
void ag_config_free(struct ag_config *c);
/* Whether addr is one of the addresses the metad key lists. */
int ag_config_metad_has(const struct ag_config *c, const char *addr);

#endif
