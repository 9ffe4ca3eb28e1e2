/*
 * cdc.c - content-defined chunking for dedup: splits a byte stream where
 * a 64-bit gear hash of the preceding 64 bytes hits a mask, so equal
 * content yields equal chunks no matter where in a stream it sits.
 *
 * Normalised chunking (FastCDC): a harder mask before avg and an easier one
 * after it pull chunk sizes towards avg, which keeps both the tiny-chunk
 * metadata overhead and the huge-chunk dedup loss down.
 */
#include <errno.h>

#include "cdc.h"

/*
 * The gear table: 256 outputs of splitmix64 seeded with 0x41676f7261434443
 * ("AgoraCDC"). It is written out rather than generated so that it can never
 * drift with a compiler or a refactor: changing a single value moves every
 * boundary, and new data would stop deduplicating against stored data.
 */
static const uint64_t gear[256] = {
	0x5919f442d037cbcc, 0xf0ffe7efa0f87197, 0x4cfe57a8fd8ceaeb,
	0x8f3cbcd9f6655d27, 0xfa641a8e23f4f05b, 0xa45ca4aa97d0c8fa,
	0x758bebecaa8518a1, 0xd14127992bf1a272, 0xb246a4de03d5dc37,
	0x615903606d7406a8, 0x79845cbcf292fac3, 0x1d70cb84d02d6302,
	0x45434733a685295e, 0x347019090ed9750c, 0x633244b2cdaccb4e,
	0x0a7d20dbf787f6f8, 0x7edbb8746516982e, 0xb0809e8754f20f4d,
	0xe4aa835b264d1390, 0x1fbe4d5437a4c4fa, 0xff02fc6879a18bd1,
	0xeda2f0c4f03e2cb9, 0xad5d56a4f720b47c, 0xc9e5beb5d31bf297,
	0x3210115c0fc9ee77, 0xd8365e005450800d, 0x9f7f7a7860648b0f,
	0xc77e39fae2843304, 0x87fe05eeb6191ca8, 0xcda813beef7baa24,
	0x275133fcdb5cae12, 0xd74e1b20b86cdf5c, 0x412a28d1b88dc06e,
	0x1fc7fc5dbc0b5144, 0x1f8cdd02ff8c3e98, 0x67dadfeafa02f65c,
	0xf875f0b07ee0691f, 0x1a64c44ccd206829, 0xdd530bee0d2dc286,
	0xf9cf34043364c724, 0x045211b441cbd30e, 0x15fd2d3a59a0dcaf,
	0x34b7876e3a0b75bd, 0x41d35d799bd9602d, 0x637577cf98a38792,
	0x4b57f8422e13bf1f, 0x2c7d9458eac37308, 0x71ad654791250e24,
	0x772fec28c0d04e3d, 0xbc73f944232b98ac, 0xff358b770c9adb70,
	0x98d405a6c8e0366f, 0x46e17e059dc0595f, 0x12bbbac88d30b5bb,
	0x464baee3b1f037a2, 0x28000329aaf795a8, 0x134270809d1baf5f,
	0x9f3f03094940c164, 0x17a7fe31a1ba6f6a, 0xcb69918aa71706af,
	0xa51ca40f38862f73, 0x8ff34c83e65df87c, 0xb606b139513e957a,
	0xd10a7cf79e2c47ff, 0x83392e59b4251ab1, 0x1aa95a329f5a084b,
	0x67f69886b503473a, 0x79743b824eebec75, 0x0a33d19f3931b2c5,
	0xa6516110cef9d8ec, 0x5b7bd7b91d7f61af, 0x53f6e32ad8d08d1f,
	0xedee7e8d2a31154b, 0x21afd5209d12e1c7, 0x6c2b840f8430d7f5,
	0x57e79b8dab443653, 0xb357a6999ccddead, 0xc1c072ae2e47d90d,
	0x2d244534880e0132, 0xa8a16ceb2d688e9c, 0xd9fa7ba8a66df099,
	0xb0f56542ee35f8b8, 0x52f3dfc9689f941b, 0xa23e2e884217989e,
	0xf5a39a62179608d8, 0x0c0216f0906465c6, 0xa43fa46be0b7a1bd,
	0xe93689cce55ff86a, 0x0fe2b7b1e0cf8395, 0x0e17df6d3132d6fe,
	0xa8da2d1b8df60bcc, 0xa1089421c6d1a8f7, 0x9c5a84f7a8057c27,
	0x1e8f496471493b7b, 0xce75dad2258c0b11, 0x181a6a8c169182a8,
	0x7bbe53c48ca990b4, 0xda6734fa1db62c95, 0x0468cf9c5dae875e,
	0xc436d825da2d4b1a, 0xb160751f6be299b5, 0x9a385f952a268842,
	0x2eb599014a0f9460, 0x636fdde61cf4c380, 0xb8e5f87d438f3891,
	0xc2035aebcd3133ba, 0x836a609057ded8ca, 0x94170ae30993d2fc,
	0xfcfa1dff5cb46a72, 0xd75e4849b191d8b0, 0x268d9ea21ab3c534,
	0x6415522d46842b2c, 0x3b6bb72c4cbafbdd, 0x15f41bfd5e5bfb75,
	0xb404a910944d3453, 0xec267d1136637bc7, 0x6482e279682b2900,
	0xca7e3b70c89a5315, 0x1d266986dd75ac26, 0xa4a168fb81b24364,
	0x81a554279ffad42d, 0xacc7f8dde07124d1, 0x0a0802e35616e267,
	0x5b908148f207eba7, 0xfaef45139a2b2c5d, 0xba9a3901c1e4cde9,
	0x8a389e80bac52fbb, 0xbb65b337ad1161a0, 0xafbbf1ed4b5db393,
	0x58c4614cce69e952, 0x37e44dcfc12dca50, 0x7a58fb0d6d231343,
	0x00fabe22a5430078, 0xc1dd755fe51c00a7, 0x065106c52d8f630c,
	0xdfae9997b1a1a6e1, 0x23f3ace1fe321981, 0x00fd2ebe18bdf387,
	0xf1feac51b5b7cec0, 0xd8af76cea66e3206, 0x7e12e30724fcca1f,
	0x2a0f802f286799e3, 0xef759b327244bf12, 0x4469b80d132f5a32,
	0xc83321aba9655392, 0xc769521b767579d7, 0xa9db54edd2c0cc30,
	0x35cbbe41100bc747, 0xf720ac0a3d203125, 0x6cc74d46131ed40f,
	0x9e7b3a16bc729e85, 0x4905c6aee758573d, 0x2922890b99e090a4,
	0xade7f40c29402eb0, 0xaa0c1550767f35ec, 0x03bd2c277ebe714b,
	0x1cafb89b3af0fe76, 0x307218ff6c609ac2, 0x182ea93d8ec48ec3,
	0xb4b7fd7d9ac73615, 0xc7b26d314aa163d4, 0xbce35b611d03a7af,
	0x3388a348863303d4, 0x9a38d2d19a6ea78d, 0xf093709615eb91ec,
	0x404d43e9c3294d80, 0x4a38018b2016d770, 0x9240505d52ced766,
	0x8488bd8b9b2c9738, 0xc3d02bb1a24c4f97, 0x533ece491b0d8da1,
	0xc887c6ae6d93c786, 0x5caef64b88ef51c2, 0x429d23a929418fd1,
	0x40b44b844546c501, 0xd3d9968939e1e934, 0x5a8582fb1508947a,
	0x224946811b4a572f, 0x3403cef62dc12f90, 0xad63e7f3882dad31,
	0xf1e5e934724d8e2c, 0x39b8b347fe2ab60c, 0xe50de3c15a7e90b9,
	0x7ec4425bb8bd6ee4, 0x5eb4bfce0d532ab1, 0xeb4bfb00d7d186ac,
	0xf931f7ca7cf8d750, 0x339a025a482b7165, 0xf7e2816c2af9f614,
	0xcbcf223198276386, 0xe94970ada4c19a37, 0x4dbd0a73d26ca759,
	0x0b7f83e67a53e1ef, 0x58cac273d4f45e9a, 0xa6cfe7751cd64662,
	0x70c486c2ac307b8e, 0xdfcc1bc0b08bc989, 0xf0b9d622278a5cf7,
	0xe606d106d4ed57b9, 0xbe81e9d39a332d35, 0xf6c4b309623a62d8,
	0x70f54c742d2142db, 0x3a38b71829c2b075, 0xe093ab0fed8ab42e,
	0x0631ae9b9c77386f, 0xc15175ded62612f7, 0xbd8647469e8a8d2c,
	0x6b7491d7ddda74e4, 0x53bc40f58ada33a7, 0x333b5d93cd861d3d,
	0x28b73d7e6809d053, 0x432abfc25792434d, 0x6d813eff9744e6b5,
	0x816ae0327c91cfa2, 0x181978c09fcb2938, 0x0377be2721bfe4a4,
	0x9e15968b05556268, 0x5e18b2d229312bb8, 0xfbc221d087bd48bb,
	0x99359948d0bc3662, 0x52569fa4f4494df2, 0x4ca7fc201ad89d70,
	0x1822b15c9ac778f4, 0x01168a44e843b48b, 0x0ad7a9568b95e80e,
	0xcdbf37e2cbf5f595, 0xf44ead0d7d3979c5, 0x83ac6e848f1ad4d4,
	0xe6806e0154b30a09, 0xbef5051c01d96d5c, 0xa0aca24c0da40fae,
	0xb9de0b73be4967f2, 0x2671f858f2280122, 0xead3d46fae2d9ac1,
	0xd53ad8825888a25f, 0xff8d0f645bcd5c80, 0x92d89824de48323c,
	0xa176e82d75c6b1b7, 0x2f5b1a3e225455ed, 0x6e0d34e81c6aeacc,
	0xe1d5a15409b55dc5, 0x060c8512877e888d, 0xa1e5b60381233f11,
	0xf2646102f8f63b1d, 0x00da6d7149ba21c1, 0xb0c3bdaea03058f3,
	0x7218a30d8e595bc6, 0xe3ec9512aee9e962, 0x896ff21c91da28d7,
	0x498b19c9e12ee317, 0x56b11e31303f26eb, 0xafcaa9bfa5663e16,
	0x93174198c9bb503e, 0xd4fc45bc6dd758cb, 0xe282ec56c5ce7564,
	0xc79b53362fcb8300,
};

/*
 * Hash bytes are shifted left, so bit p of the hash depends on the last p + 1
 * bytes only. Masks take the top bits: every cut then looks at a full 64-byte
 * window, and no byte older than that has any say.
 */
#define WINDOW 64

static uint64_t top_bits(unsigned n)
{
	return n ? ~0ULL << (64 - n) : 0;
}

int ag_cdc_init(struct ag_cdc *c, uint32_t min, uint32_t avg, uint32_t max)
{
	unsigned bits;

	if (min < WINDOW || min > avg || avg > max || (avg & (avg - 1)))
		return -EINVAL;
	bits = __builtin_ctz(avg);
	c->min = min;
	c->avg = avg;
	c->max = max;
	/* Level 2 normalisation: 1/4 the cut rate before avg, 4x after it.
	 * avg >= min >= 64 so bits >= 6 and both masks stay non-trivial. */
	c->mask_small = top_bits(bits + 2);
	c->mask_large = top_bits(bits - 2);
	return 0;
}

/*
 * Advance the hash over p[i..end) and return the first i + 1 at which
 * (h & mask) == 0, or 0 when there is none. This loop is the whole cost of
 * chunking: two bytes a round halve the loop overhead, and the shift-and-add
 * is a single lea on x86, so the hash chain costs about a cycle a byte.
 */
static size_t scan(const uint8_t *p, size_t i, size_t end, uint64_t *hp,
		   uint64_t mask)
{
	uint64_t h = *hp;

	for (; i + 2 <= end; i += 2) {
		uint64_t h1 = (h << 1) + gear[p[i]];

		h = (h1 << 1) + gear[p[i + 1]];
		if (__builtin_expect(!(h1 & mask), 0)) {
			*hp = h1;
			return i + 1;
		}
		if (__builtin_expect(!(h & mask), 0)) {
			*hp = h;
			return i + 2;
		}
	}
	if (i < end) {
		h = (h << 1) + gear[p[i]];
		if (!(h & mask)) {
			*hp = h;
			return i + 1;
		}
	}
	*hp = h;
	return 0;
}

size_t ag_cdc_next(const struct ag_cdc *c, const uint8_t *buf, size_t len,
		   int eof)
{
	size_t end = len < c->max ? len : c->max;
	size_t mid = c->avg < end ? c->avg : end;
	uint64_t h = 0;
	size_t i, cut;

	if (len <= c->min)
		return eof ? len : 0;

	/*
	 * Warm the hash up on the window before min instead of starting it
	 * cold at min: a cut then depends only on content, never on where the
	 * chunk happened to start, so a stream resynchronises after an edit.
	 */
	for (i = c->min - WINDOW; i < c->min; i++)
		h = (h << 1) + gear[buf[i]];

	/* A cut at length n is tested with byte n - 1 as the newest byte. */
	if (c->min < mid) {
		cut = scan(buf, c->min, mid, &h, c->mask_small);
		if (cut)
			return cut;
	}
	cut = scan(buf, mid > c->min ? mid : c->min, end, &h, c->mask_large);
	if (cut)
		return cut;
	/* No cut point: a hard cut at max, the whole tail at eof, or wait for
	 * more bytes since a later byte could still produce a cut below max. */
	if (end == c->max || eof)
		return end;
	return 0;
}
