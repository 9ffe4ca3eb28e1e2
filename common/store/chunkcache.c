/*
 * chunkcache.c - plain chunk bytes by SHA-256 (chunkcache.h): a
 * set-associative table of 8 ways, evicting the least recently used way
 * of a set, and entries round the table (as a clock would) when the bytes
 * held pass the budget.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chunkcache.h"
#include "util.h"

struct cached {
	uint8_t sha[32];
	uint8_t *data;
	uint32_t len;
	uint64_t tick;
};

struct ag_chunk_cache {
	pthread_mutex_t lock;
	struct cached *slots;
	uint32_t nslots;
	uint64_t tick;
	uint64_t bytes, budget; /* cached, and at most */
	uint32_t hand;          /* where eviction for room goes on */
};

int ag_chunk_cache_new(uint64_t bytes, struct ag_chunk_cache **ccp)
{
	struct ag_chunk_cache *cc = calloc(1, sizeof(*cc));

	if (!cc)
		return -ENOMEM;
	/* a set-associative table with 8 ways, with slots enough for small
	 * chunks (small objects) too; bytes bound what they hold */
	cc->budget = bytes;
	cc->nslots = (uint32_t)AG_MAX(bytes / (8 << 10), 64);
	cc->nslots = (cc->nslots + 7) & ~7u;
	cc->slots = calloc(cc->nslots, sizeof(*cc->slots));
	if (!cc->slots) {
		free(cc);
		return -ENOMEM;
	}
	pthread_mutex_init(&cc->lock, NULL);
	*ccp = cc;
	return 0;
}

void ag_chunk_cache_free(struct ag_chunk_cache *cc)
{
	uint32_t i;

	if (!cc)
		return;
	for (i = 0; i < cc->nslots; i++)
		free(cc->slots[i].data);
	pthread_mutex_destroy(&cc->lock);
	free(cc->slots);
	free(cc);
}

static struct cached *cache_set(struct ag_chunk_cache *cc, const uint8_t *sha)
{
	uint32_t set;

	memcpy(&set, sha, 4);
	return &cc->slots[(set % (cc->nslots / 8)) * 8];
}

int ag_chunk_cache_read(struct ag_chunk_cache *cc, const uint8_t *sha,
			uint32_t off, void *buf, uint32_t len)
{
	struct cached *s = cache_set(cc, sha);
	int i, hit = 0;

	pthread_mutex_lock(&cc->lock);
	for (i = 0; i < 8; i++) {
		if (s[i].data && !memcmp(s[i].sha, sha, 32) &&
		    off + len <= s[i].len) {
			memcpy(buf, s[i].data + off, len);
			s[i].tick = ++cc->tick;
			hit = 1;
			break;
		}
	}
	pthread_mutex_unlock(&cc->lock);
	return hit;
}

void ag_chunk_cache_insert(struct ag_chunk_cache *cc, const uint8_t *sha,
			   uint8_t *data, uint32_t len)
{
	struct cached *s = cache_set(cc, sha), *victim = s;
	int i;

	pthread_mutex_lock(&cc->lock);
	for (i = 0; i < 8; i++) {
		if (s[i].data && !memcmp(s[i].sha, sha, 32)) {
			victim = &s[i];
			break;
		}
		if (!s[i].data || s[i].tick < victim->tick)
			victim = &s[i];
	}
	if (victim->data)
		cc->bytes -= victim->len;
	free(victim->data);
	victim->data = NULL;
	/* over budget: drop entries round the table, as a clock would */
	while (cc->bytes + len > cc->budget && cc->bytes) {
		struct cached *e = &cc->slots[cc->hand++ % cc->nslots];

		if (e->data) {
			cc->bytes -= e->len;
			free(e->data);
			e->data = NULL;
		}
	}
	memcpy(victim->sha, sha, 32);
	victim->data = data;
	victim->len = len;
	victim->tick = ++cc->tick;
	cc->bytes += len;
	pthread_mutex_unlock(&cc->lock);
}


/* The cache is a help only: no memory, no copy. */
void ag_chunk_cache_copy(struct ag_chunk_cache *cc, const uint8_t *sha,
			 const uint8_t *data, uint32_t len)
{
	uint8_t *copy = malloc(len);

	if (copy) {
		memcpy(copy, data, len);
		ag_chunk_cache_insert(cc, sha, copy, len);
	}
}
