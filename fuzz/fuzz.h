/*
 * fuzz.h - what every fuzz target shares. Each fuzz/fuzz_NAME.c defines
 * LLVMFuzzerTestOneInput over one decoder of untrusted bytes; libFuzzer's
 * main calls it in the fuzzing build (configure --enable-fuzzing), and
 * fuzz/replay.c calls it on every file of fuzz/corpus/NAME/ in make check.
 *
 * Contract of a target: it accepts any bytes, returns 0, leaks nothing
 * and never writes outside what it allocated; whatever a decoder accepts
 * it reads back whole (fuzz_touch), so that a pointer or a length handed
 * out past the input is an ASan report, not a silent success.
 */
#ifndef AG_FUZZ_H
#define AG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every byte of [p, p + n); the reads are volatile, so no compiler
 * drops them. */
static inline void fuzz_touch(const void *p, size_t n)
{
	const volatile uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		(void)b[i];
}

#endif
