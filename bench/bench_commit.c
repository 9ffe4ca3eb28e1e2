/*
 * bench_commit.c - metad's group commit rate: THREADS clients, each with
 * its own cluster handle and connection, and PER threads on each handle
 * (as a gateway's threads share one), each thread creating N empty files
 * in a directory of its own, one at a time, as fast as metad acknowledges
 * them. Prints the total creates per second and the median and 99th
 * percentile latency of one create. With -l the handles are lazy, as
 * agora-fused's: a create returns once written, before its sync.
 *
 *   bench_commit -c CONFIG [-t THREADS] [-p PER] [-n N] [-l]
 *
 * Needs agora-metad running. The files stay under /bench-commit/.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agora.h"
#include "util.h"

#define THREADS_MAX 256

struct worker {
	pthread_t tid;
	int id;
	uint64_t parent;        /* this run's directory */
	int n;
	struct ag_cluster *c;   /* its client's handle */
	uint64_t dir;
	uint64_t *lat;          /* ns per create */
	int done;
	int rc;
};

static pthread_barrier_t ready, go;
static char run_name[64];

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ag_attr a;
	char name[32];
	int i, rc;

	snprintf(name, sizeof(name), "t%d", w->id);
	rc = ag_mkdir(w->c, w->parent, name, 0755, getuid(), getgid(), &a);
	if (!rc)
		w->dir = a.ino;
	w->rc = rc;
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	for (i = 0; !w->rc && i < w->n; i++) {
		uint64_t t0 = ag_mono_ns();

		snprintf(name, sizeof(name), "f%07d", i);
		rc = ag_mknod(w->c, w->dir, name, S_IFREG | 0644, getuid(),
			      getgid(), 0, NULL);
		w->lat[i] = ag_mono_ns() - t0;
		if (rc)
			w->rc = rc;
		else
			w->done++;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_commit -c CONFIG [-t THREADS] [-p PER] [-n N] "
		"[-l]\n"
		"  -t THREADS  clients, each with its own handle (default 1)\n"
		"  -p PER      threads sharing each handle (default 1)\n"
		"  -n N        empty files each thread creates (default 2000)\n"
		"  -l          lazy handles (AG_OPEN_LAZY, as agora-fused)\n");
}

int main(int argc, char **argv)
{
	static struct worker ws[THREADS_MAX];
	static struct ag_cluster *clients[THREADS_MAX];
	const char *config = NULL;
	struct ag_cluster *c = NULL;
	struct ag_attr a;
	uint64_t t0, t1, *all, total = 0;
	int opt, nclients = 1, per = 1, threads, n = 2000, i, j, rc;
	int flags = 0;
	int failed = 0;
	size_t k = 0;

	while ((opt = getopt(argc, argv, "c:t:p:n:lh")) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 't': nclients = atoi(optarg); break;
		case 'p': per = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'l': flags |= AG_OPEN_LAZY; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	threads = nclients * per;
	if (!config || optind != argc || nclients < 1 || per < 1 ||
	    threads > THREADS_MAX || n < 1) {
		usage(stderr);
		return 2;
	}
	/* one directory per run, so runs never collide */
	snprintf(run_name, sizeof(run_name), "/bench-commit/%d-%" PRIu64,
		 (int)getpid(), ag_now_ns());
	rc = ag_cluster_open(config, 0, &c);
	if (!rc)
		rc = ag_mkdir_path(c, run_name, 0755, getuid(), getgid(), &a);
	ag_cluster_close(c);
	if (rc) {
		fprintf(stderr, "bench_commit: %s: %s\n", run_name,
			ag_strerror(rc));
		return 1;
	}
	all = calloc((size_t)threads * n, sizeof(*all));
	if (!all) {
		fprintf(stderr, "bench_commit: out of memory\n");
		return 1;
	}
	for (i = 0; i < nclients; i++) {
		rc = ag_cluster_open(config, flags, &clients[i]);
		if (rc) {
			fprintf(stderr, "bench_commit: %s: %s\n", config,
				ag_strerror(rc));
			return 1;
		}
	}
	pthread_barrier_init(&ready, NULL, threads + 1);
	pthread_barrier_init(&go, NULL, threads + 1);
	for (i = 0; i < threads; i++) {
		ws[i].id = i;
		ws[i].c = clients[i / per];
		ws[i].parent = a.ino;
		ws[i].n = n;
		ws[i].lat = all + (size_t)i * n;
		rc = pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]);
		if (rc) {
			fprintf(stderr, "bench_commit: pthread_create: %s\n",
				strerror(rc));
			return 1;
		}
	}
	/* every handle opened and its directory made before the clock runs */
	pthread_barrier_wait(&ready);
	t0 = ag_mono_ns();
	pthread_barrier_wait(&go);
	for (i = 0; i < threads; i++)
		pthread_join(ws[i].tid, NULL);
	t1 = ag_mono_ns();
	for (i = 0; i < threads; i++) {
		if (ws[i].rc) {
			fprintf(stderr, "bench_commit: thread %d: %s after %d "
				"creates\n", i, ag_strerror(ws[i].rc),
				ws[i].done);
			failed = 1;
		}
		for (j = 0; j < ws[i].done; j++)
			all[k++] = ws[i].lat[j];
		total += ws[i].done;
	}
	for (i = 0; i < nclients; i++)
		ag_cluster_close(clients[i]);
	qsort(all, k, sizeof(*all), cmp_u64);
	printf("bench_commit: %d client%s x %d thread%s x %d creates in %s: "
	       "%" PRIu64 " in %.3f s\n", nclients, nclients > 1 ? "s" : "",
	       per, per > 1 ? "s" : "", n, run_name, total,
	       (t1 - t0) / 1e9);
	if (k)
		printf("  latency of one create: median %.0f us, p99 %.0f us\n",
		       all[k / 2] / 1e3, all[k * 99 / 100] / 1e3);
	printf("result creates_per_s %.0f\n", total / ((t1 - t0) / 1e9));
	free(all);
	return failed;
}
