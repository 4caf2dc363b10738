/* NEON masking kernel (aarch64, where NEON is always present). */
#include "kernels.h"

#if FWS_NEON
#include <arm_neon.h>

void fws_mask_neon(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
    uint8x16_t k = vreinterpretq_u8_u32(vdupq_n_u32(key));
    uint8_t kb[4];
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint8x16_t a = vld1q_u8(src + i);
        uint8x16_t b = vld1q_u8(src + i + 16);
        uint8x16_t c = vld1q_u8(src + i + 32);
        uint8x16_t d = vld1q_u8(src + i + 48);
        vst1q_u8(dst + i, veorq_u8(a, k));
        vst1q_u8(dst + i + 16, veorq_u8(b, k));
        vst1q_u8(dst + i + 32, veorq_u8(c, k));
        vst1q_u8(dst + i + 48, veorq_u8(d, k));
    }
    for (; i + 16 <= n; i += 16) vst1q_u8(dst + i, veorq_u8(vld1q_u8(src + i), k));
    memcpy(kb, &key, 4);
    for (; i < n; i++) dst[i] = (uint8_t)(src[i] ^ kb[i & 3]);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int fws_neon_unused;
#endif
