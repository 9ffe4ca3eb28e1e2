/*
 * util.c - error names, the log sink, crc32c, clocks and small parsers
 * shared by every layer.
 */
#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "util.h"

static int log_level = 6;

const char *ag_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case AG_ECORRUPT:
		return "metadata or data checksum mismatch (corrupt)";
	case AG_ENOQUORUM:
		return "too few drives answered";
	case AG_EFOREIGN:
		return "drive belongs to another cluster";
	case AG_EPROTO:
		return "malformed protocol frame";
	case AG_ELOST:
		return "the newest commit is damaged on every copy (see "
		       "agora fsck)";
	case AG_ECONDITION:
		return "a condition of the change did not hold";
	case AG_ESTALEROOT:
		return "the metadata tree moved on under every try of a "
		       "read (try again)";
	}
	return strerror(err);
}

void ag_log_set_level(int level)
{
	log_level = level;
}

void ag_log(int level, const char *fmt, ...)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "error", "warning", "notice", "info",
		"debug",
	};
	char line[1024];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "agora %s: ",
		     names[level < 0 ? 0 : level > 7 ? 7 : level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n && line[n - 1] != '\n' && n < (int)sizeof(line) - 1) {
		line[n++] = '\n';
		line[n] = 0;
	}
	/* one write() per line keeps lines whole across threads */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

uint32_t ag_crc32c(const void *buf, size_t len)
{
	return crc32_iscsi((unsigned char *)buf, (int)len, 0xffffffffu);
}

uint64_t ag_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t ag_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void ag_pace_start(struct ag_pace *p, double rate_mb)
{
	p->start_ns = ag_mono_ns();
	p->done = 0;
	p->rate_mb = rate_mb;
}

void ag_pace_wait(struct ag_pace *p, uint64_t bytes)
{
	double ahead;

	p->done += bytes;
	if (p->rate_mb <= 0)
		return;
	ahead = (double)p->done / (p->rate_mb * 1e6) -
		(double)(ag_mono_ns() - p->start_ns) / 1e9;
	if (ahead > 0.001)
		usleep((useconds_t)(ahead * 1e6));
}

void *ag_alloc_aligned(size_t len)
{
	void *p;

	if (posix_memalign(&p, AG_BLOCK, len ? len : AG_BLOCK))
		return NULL;
	return p;
}

int ag_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'b' || *end == 'B') && shift)
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (~0ull >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int ag_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}
