/*
 * fuzz_config.c - the configuration file (config.c): the input is the
 * whole file, read through ag_config_load from a memory file (its
 * /proc/self/fd path), so the file's own reader runs as it does for a
 * daemon.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agora.h"
#include "config.h"
#include "fuzz.h"
#include "util.h"

static int walk_key(void *arg, const char *section, const char *key,
		    char *val, int lineno)
{
	(void)arg;
	(void)lineno;
	fuzz_touch(section, strlen(section));
	fuzz_touch(key, strlen(key));
	fuzz_touch(val, strlen(val));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct ag_config *c;
	char path[64];

	ag_log_set_level(2);
	if (fd < 0 && (fd = memfd_create("agora-fuzz.conf", 0)) < 0)
		return 0;
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (!ag_config_load(path, &c))
		ag_config_free(c);
	ag_config_walk(path, walk_key, NULL);
	return 0;
}
