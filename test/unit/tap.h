/*
 * tap.h - a tiny TAP producer for the unit tests (automake reads TAP).
 *
 * ok(cond, fmt, ...) prints one test line; tap_done() prints the plan and
 * returns the exit status. tap_seed() picks a seed (AG_SEED in the
 * environment overrides) and prints it so a failure can be replayed.
 */
#ifndef AG_TAP_H
#define AG_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int tap_count, tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));
static inline int tap_ok(int cond, const char *file, int line, const char *fmt,
			 ...)
{
	va_list ap;

	tap_count++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("# failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define diag(...) (printf("# " __VA_ARGS__), printf("\n"))

static inline uint64_t tap_seed(void)
{
	const char *s = getenv("AG_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0)
			  : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);

	printf("# seed %llu (AG_SEED=%llu to replay)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

/* xorshift64*: a fast, reproducible generator for test data. */
static inline uint64_t tap_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
