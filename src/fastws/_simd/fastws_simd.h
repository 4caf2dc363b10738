/*
 * C kernels of the compiled codec twin: WebSocket masking (RFC 6455
 * section 5.3) and UTF-8 validation (RFC 3629), with a kernel chosen once
 * at import time from what the CPU supports (runtime dispatch, never
 * -march=native, so one wheel runs everywhere).
 *
 * Levels: 0 generic (portable 8-byte loop), 1 SSE2 (x86-64 baseline) or
 * NEON (aarch64), 2 AVX2, 3 AVX-512 (F + BW).
 */
#ifndef FASTWS_SIMD_H
#define FASTWS_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FWS_LEVEL_GENERIC 0
#define FWS_LEVEL_SSE2 1
#define FWS_LEVEL_NEON 1
#define FWS_LEVEL_AVX2 2
#define FWS_LEVEL_AVX512 3

/* XOR src[0..n) with the 4-byte key (as laid out in memory, already rotated
 * to the stream position of src[0]) into dst; dst may equal src. */
typedef void (*fws_mask_fn)(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key);
/* 1 when s[0..n) is entirely valid UTF-8 (complete sequences only). */
typedef int (*fws_utf8_fn)(const uint8_t *s, size_t n);

extern fws_mask_fn fws_mask_impl;
extern fws_utf8_fn fws_utf8_impl;

/* Choose the kernels. `force` (may be NULL or empty) names a level to use
 * instead of the best one: "generic", "sse2", "neon", "avx2", "avx512"; a
 * level the CPU lacks is lowered to the best it has. Returns the level. */
int fws_simd_init(const char *force);
/* Name of the masking kernel in use ("generic", "sse2", "neon", "avx2",
 * "avx512"), of the UTF-8 kernel, and of the best level the CPU supports. */
const char *fws_simd_mask_name(void);
const char *fws_simd_utf8_name(void);
const char *fws_simd_best_name(void);

/* The 4 key bytes starting at key[rot & 3], packed in memory order. */
static inline uint32_t fws_key(const uint8_t *key, size_t rot) {
    uint8_t k[4];
    uint32_t out;
    k[0] = key[rot & 3];
    k[1] = key[(rot + 1) & 3];
    k[2] = key[(rot + 2) & 3];
    k[3] = key[(rot + 3) & 3];
    memcpy(&out, k, 4);
    return out;
}

/* Rotate a packed key so that it starts `rot` bytes further on. */
static inline uint32_t fws_key_rotate(uint32_t key, size_t rot) {
    uint8_t k[4];
    memcpy(k, &key, 4);
    return fws_key(k, rot);
}

/* Small inputs stay inline: a call through the kernel pointer costs more
 * than XOR-ing a few words. */
static inline void fws_mask(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
    if (n >= 32) {
        fws_mask_impl(dst, src, n, key);
        return;
    }
    {
        uint64_t k8 = ((uint64_t)key << 32) | key; /* same 8 bytes either endianness */
        uint8_t kb[4];
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            memcpy(&w, src + i, 8);
            w ^= k8;
            memcpy(dst + i, &w, 8);
        }
        memcpy(kb, &key, 4);
        for (; i < n; i++) dst[i] = (uint8_t)(src[i] ^ kb[i & 3]);
    }
}

int fws_utf8_scalar(const uint8_t *s, size_t n);

static inline int fws_utf8_valid(const uint8_t *s, size_t n) {
    return fws_utf8_impl(s, n);
}

/* Incremental, fail-fast validation: state carried between fragments. */
typedef struct {
    uint8_t pend[4];  /* bytes of a sequence left open at the end */
    uint8_t pend_len; /* 0-3 */
    uint8_t valid;    /* 0 once an invalid byte was seen */
} fws_utf8_state;

void fws_utf8_state_reset(fws_utf8_state *st);
/* Feed bytes; returns st->valid. */
int fws_utf8_feed(fws_utf8_state *st, const uint8_t *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* FASTWS_SIMD_H */
