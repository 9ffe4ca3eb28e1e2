/*
 * ec.h - erasure coding of one stripe: k data strips + m parity strips,
 * with isa-l over a Cauchy matrix (every k x k submatrix is invertible, so
 * any k surviving strips rebuild the rest).
 */
#ifndef AG_EC_H
#define AG_EC_H

#include <stddef.h>
#include <stdint.h>

#define AG_EC_MAX 32 /* k + m */

struct ag_ec;

/* 1 <= k, 0 <= m, k + m <= AG_EC_MAX; -EINVAL otherwise. */
int ag_ec_new(struct ag_ec **ep, int k, int m);
void ag_ec_free(struct ag_ec *e);

/* Compute the m parity strips (len bytes each) from the k data strips. */
void ag_ec_encode(const struct ag_ec *e, size_t len, uint8_t *const *data,
		  uint8_t *const *parity);

/* strips[0..k+m) point at len-byte buffers; present[i] says which hold
 * good bytes. Rebuild every strip that is not present, in place. Returns 0,
 * or -EIO when fewer than k are present. */
int ag_ec_reconstruct(const struct ag_ec *e, size_t len, uint8_t *const *strips,
		      const uint8_t *present);

#endif
