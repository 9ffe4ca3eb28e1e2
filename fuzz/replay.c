/*
 * replay.c - a fuzz target as a plain test: feed every file of the given
 * corpus directories (default: $AGORA_SRCDIR/fuzz/corpus/NAME, NAME taken
 * from the program's name, replay_NAME) to LLVMFuzzerTestOneInput, one
 * TAP test point per file, in name order.
 *
 * Each input is copied into a buffer of exactly its size, as libFuzzer
 * does, so that under ASan (configure --enable-asan) a read one byte past
 * it is reported. A crash stops the program: the last "# input" line of
 * the log names the file.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int ok_count, fail_count;

/* Read path whole into a malloc'd buffer of its size: 0 or -errno. */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, got;
	int rc = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap ? 2 * cap : 4096);

			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = cap ? 2 * cap : 4096;
		}
		got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		rc = -EIO;
out:
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

static void replay_file(const char *path, const char *shown)
{
	uint8_t *buf = NULL, *exact;
	size_t len = 0;
	int rc = read_file(path, &buf, &len);

	if (rc) {
		printf("not ok %d - %s: %s\n", ok_count + fail_count + 1, shown,
		       strerror(-rc));
		fail_count++;
		return;
	}
	/* exactly len bytes (and a distinct pointer for an empty input) */
	exact = malloc(len ? len : 1);
	if (!exact) {
		free(buf);
		printf("not ok %d - %s: out of memory\n",
		       ok_count + fail_count + 1, shown);
		fail_count++;
		return;
	}
	memcpy(exact, buf, len);
	free(buf);
	printf("# input %s (%zu bytes)\n", shown, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	printf("ok %d - %s\n", ok_count + fail_count + 1, shown);
	ok_count++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every regular file of dir (dot files skipped); -errno when dir cannot
 * be read. */
static int replay_dir(const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, by_name), i;

	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		char path[4096];

		if (ents[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir,
				 ents[i]->d_name);
			replay_file(path, ents[i]->d_name);
		}
		free(ents[i]);
	}
	free(ents);
	return 0;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/'), *name, *src;
	char dir[4096];
	int i, rc = 0;

	base = base ? base + 1 : argv[0];
	name = strncmp(base, "replay_", 7) ? base : base + 7;
	src = getenv("AGORA_SRCDIR");
	if (argc > 1) {
		for (i = 1; i < argc && !rc; i++)
			if ((rc = replay_dir(argv[i])))
				fprintf(stderr, "%s: %s\n", argv[i],
					strerror(-rc));
	} else {
		snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", src ? src : ".",
			 name);
		if ((rc = replay_dir(dir)))
			fprintf(stderr, "%s: %s\n", dir, strerror(-rc));
	}
	if (rc || ok_count + fail_count == 0) {
		printf("not ok 1 - no corpus to replay\n1..1\n");
		return 1;
	}
	printf("1..%d\n", ok_count + fail_count);
	return fail_count ? 1 : 0;
}
