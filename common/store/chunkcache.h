/*
 * chunkcache.h - plain chunk bytes by SHA-256, shared by the readers and
 * writers of one cluster handle (which owns it: cluster.c).
 *
 * A chunk's bytes never change for its digest, so an entry is never stale;
 * the cache is only a help: every call may miss, and an insert that finds
 * no memory is dropped. Thread-safe (one mutex, held only to copy).
 */
#ifndef AG_CHUNKCACHE_H
#define AG_CHUNKCACHE_H

#include <stdint.h>

struct ag_chunk_cache;

/* A cache holding at most bytes of chunk data. */
int ag_chunk_cache_new(uint64_t bytes, struct ag_chunk_cache **ccp);
/* Accepts NULL. */
void ag_chunk_cache_free(struct ag_chunk_cache *cc);
/* Copy [off, off + len) of the cached chunk sha into buf; 1 on a hit, 0
 * when the chunk is not cached whole up to off + len. */
int ag_chunk_cache_read(struct ag_chunk_cache *cc, const uint8_t *sha,
			uint32_t off, void *buf, uint32_t len);
/* Keep data, len bytes of chunk sha: malloc'd, ownership passes to the
 * cache. */
void ag_chunk_cache_insert(struct ag_chunk_cache *cc, const uint8_t *sha,
			   uint8_t *data, uint32_t len);
/* Keep a copy of data (when memory allows). */
void ag_chunk_cache_copy(struct ag_chunk_cache *cc, const uint8_t *sha,
			 const uint8_t *data, uint32_t len);

#endif
