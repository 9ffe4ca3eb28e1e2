/*
 * test_fh.c - unit test of agora-fused's handle numbers (fused/fh.c).
 *
 * New numbers are distinct, non-zero and name their object until
 * dropped; a number this process never gave (one from a gateway before a
 * restart) names nothing until adopted, and adopting it twice keeps the
 * first object (threads racing to reopen a file agree on one); dropping
 * an unknown number returns NULL; the open inodes are listed sorted, each
 * once. Numbers from another epoch are made by flipping the epoch bits,
 * so they cannot collide with this process's.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "fused.h"
#include "tap.h"

#define N 5000
#define THREADS 8

static int objs[N];
static uint64_t fhs[N];

static uint64_t foreign;
static int racers[THREADS];
static void *winner[THREADS];

static void *race(void *arg)
{
	int *mine = arg;

	winner[mine - racers] = gw_fh_adopt(foreign, mine, 42);
	return NULL;
}

int main(void)
{
	uint64_t *inos = NULL, other;
	pthread_t t[THREADS];
	int i, distinct = 1, found = 1, sorted = 1, agree = 1, x = 0, y = 0;
	ssize_t n;

	for (i = 0; i < N; i++) {
		fhs[i] = gw_fh_new(&objs[i], (uint64_t)(i % 100) + 1);
		if (!fhs[i] || (i && fhs[i] == fhs[i - 1]))
			distinct = 0;
	}
	ok(distinct, "%d new numbers are non-zero and distinct", N);
	for (i = 0; i < N; i++)
		if (gw_fh_get(fhs[i]) != &objs[i])
			found = 0;
	ok(found, "each names its object");

	n = gw_fh_inodes(&inos);
	ok(n == 100, "100 inodes open, each once (got %zd)", n);
	for (i = 1; i < n; i++)
		if (inos[i - 1] >= inos[i])
			sorted = 0;
	ok(sorted && n > 0 && inos[0] == 1 && inos[n - 1] == 100,
	   "listed sorted, 1 to 100");
	free(inos);
	ok(gw_fh_any(), "some handle is open");

	/* a number of another epoch: the same count, other epoch bits */
	other = fhs[7] ^ (1ull << 50);
	ok(gw_fh_get(other) == NULL, "a number of an earlier process names nothing");
	ok(gw_fh_adopt(other, &x, 9) == &x, "adopted, it names the new object");
	ok(gw_fh_adopt(other, &y, 9) == &x, "adopted again, it keeps the first");
	ok(gw_fh_get(other) == &x, "found after adoption");
	ok(gw_fh_drop(other) == &x && gw_fh_get(other) == NULL,
	   "dropped, it names nothing");
	ok(gw_fh_drop(other) == NULL, "dropping it again returns NULL");

	foreign = fhs[9] ^ (1ull << 51);
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, race, &racers[i]);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 1; i < THREADS; i++)
		if (winner[i] != winner[0])
			agree = 0;
	ok(agree && winner[0] && gw_fh_get(foreign) == winner[0],
	   "%d threads adopting one number agree on one object", THREADS);
	gw_fh_drop(foreign);

	for (i = 0; i < N; i++)
		if (gw_fh_drop(fhs[i]) != &objs[i])
			found = 0;
	ok(found, "each drop returns its object");
	n = gw_fh_inodes(&inos);
	ok(n == 0 && !gw_fh_any(), "nothing open after every drop (got %zd)", n);
	free(inos);
	return tap_done();
}
