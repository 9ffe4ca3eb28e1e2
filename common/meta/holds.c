/*
 * holds.c - which clients hold which inodes open: agora-metad's table,
 * kept in memory only.
 *
 * An inode that loses its last name while a client holds it open becomes
 * an orphan owned by that client instead of being destroyed (apply.c),
 * so a file removed or replaced through one gateway stays readable and
 * writable through the descriptors another gateway has open, as a local
 * file system keeps an unlinked open file; the last release drops it
 * (meta.c). A client holds an inode from the first open on it to the last
 * close (openfile.c), and its heartbeat carries its whole set, which
 * replaces what the table had for it: that is how a restarted metad
 * learns the table again (until a client's first heartbeat reaches it,
 * lease_timeout / 3 seconds at most, its open files are not held), and
 * how a release lost with a connection is made good.
 *
 * A set of (inode, client) pairs, hashed by inode. Not thread-safe: metad
 * uses it from its one thread.
 */
#include <errno.h>
#include <stdlib.h>

#include "meta_int.h"

struct hold {
	uint64_t ino, client;
	struct hold *next;
};

static struct hold **slot(struct ag_holds *h, uint64_t ino)
{
	return &h->b[(ino * 0x9e3779b97f4a7c15ull) >> (64 - AG_HOLDS_BITS)];
}

int ag_holds_add(struct ag_holds *h, uint64_t client, uint64_t ino)
{
	struct hold **s = slot(h, ino), *x;

	for (x = *s; x; x = x->next)
		if (x->ino == ino && x->client == client)
			return 0;
	x = malloc(sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->ino = ino;
	x->client = client;
	x->next = *s;
	*s = x;
	h->count++;
	return 0;
}

void ag_holds_del(struct ag_holds *h, uint64_t client, uint64_t ino)
{
	struct hold **p, *x;

	for (p = slot(h, ino); (x = *p); p = &x->next)
		if (x->ino == ino && x->client == client) {
			*p = x->next;
			free(x);
			h->count--;
			return;
		}
}

uint64_t ag_holds_other(const struct ag_holds *h, uint64_t ino,
			uint64_t except)
{
	const struct hold *x;

	for (x = *slot((struct ag_holds *)h, ino); x; x = x->next)
		if (x->ino == ino && x->client != except)
			return x->client;
	return 0;
}

void ag_holds_prune(struct ag_holds *h, int (*drop)(void *arg, uint64_t),
		    void *arg)
{
	size_t i;

	for (i = 0; h->count && i < AG_HOLDS_BUCKETS; i++) {
		struct hold **p = &h->b[i], *x;

		while ((x = *p)) {
			if (drop(arg, x->client)) {
				*p = x->next;
				free(x);
				h->count--;
			} else {
				p = &x->next;
			}
		}
	}
}

int ag_holds_take_client(struct ag_holds *h, uint64_t client,
			 uint64_t **inos, size_t *n)
{
	uint64_t *out = NULL;
	size_t cnt = 0, cap = 0, i;

	for (i = 0; h->count && i < AG_HOLDS_BUCKETS; i++) {
		struct hold **p = &h->b[i], *x;

		while ((x = *p)) {
			if (x->client != client) {
				p = &x->next;
				continue;
			}
			if (cnt == cap) {
				uint64_t *m;

				cap = cap ? 2 * cap : 16;
				m = realloc(out, cap * sizeof(*m));
				if (!m) {
					free(out);
					return -ENOMEM;
				}
				out = m;
			}
			out[cnt++] = x->ino;
			*p = x->next;
			free(x);
			h->count--;
		}
	}
	*inos = out;
	*n = cnt;
	return 0;
}

static int every(void *arg, uint64_t client)
{
	(void)arg;
	(void)client;
	return 1;
}

void ag_holds_free(struct ag_holds *h)
{
	ag_holds_prune(h, every, NULL);
}
