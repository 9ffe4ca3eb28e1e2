/*
 * util.h - small helpers every layer of libagora uses: little/big-endian
 * encoding, crc32c, logging, clocks, aligned buffers; and, from base.h,
 * the project error codes (AG_E*, ag_strerror, named in util.c).
 */
#ifndef AG_UTIL_H
#define AG_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base.h"

/* Log sink: level as syslog (3 err, 4 warning, 6 info, 7 debug). */
void ag_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ag_log_set_level(int level);
#define AG_ERR(...) ag_log(3, __VA_ARGS__)
#define AG_WARN(...) ag_log(4, __VA_ARGS__)
#define AG_INFO(...) ag_log(6, __VA_ARGS__)
#define AG_DEBUG(...) ag_log(7, __VA_ARGS__)

/* Report corruption once, with the place it was first seen. */
#define AG_CORRUPT(...) \
	(ag_log(3, "corruption at %s:%d: ", __FILE__, __LINE__), \
	 ag_log(3, __VA_ARGS__), -AG_ECORRUPT)

uint32_t ag_crc32c(const void *buf, size_t len);
uint64_t ag_now_ns(void);
uint64_t ag_mono_ns(void);
/* Hold work to rate_mb MB/s (0: no limit): start, then after each piece
 * of work of bytes, wait sleeps while the work is ahead of that pace. */
struct ag_pace {
	uint64_t start_ns, done;
	double rate_mb;
};
void ag_pace_start(struct ag_pace *p, double rate_mb);
void ag_pace_wait(struct ag_pace *p, uint64_t bytes);
/* Aligned to AG_BLOCK for O_DIRECT; free with free(). NULL on failure. */
void *ag_alloc_aligned(size_t len);
/* Parse "64K", "1G", "4096" into bytes; -EINVAL on junk. */
int ag_parse_size(const char *s, uint64_t *out);
/* Fill buf with random bytes from the kernel. */
int ag_random(void *buf, size_t len);

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}
static inline void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* x86 and arm64 are little-endian */
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}
static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, 4);
}
static inline void put_be64(uint8_t *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	memcpy(p, &v, 8);
}
static inline uint32_t get_be32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}
static inline uint64_t get_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

#define AG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define AG_MAX(a, b) ((a) > (b) ? (a) : (b))
#define AG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
