/*
 * Portable kernels, the incremental UTF-8 validator and the runtime choice
 * of the SIMD kernels (see fastws_simd.h).
 */
#include "fastws_simd.h"
#include "kernels.h"

/* -- masking: portable 8-byte loop ------------------------------------------ */

static void mask_generic(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
    uint64_t k8 = ((uint64_t)key << 32) | key;
    uint8_t kb[4];
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t a, b, c, d;
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        memcpy(&c, src + i + 16, 8);
        memcpy(&d, src + i + 24, 8);
        a ^= k8;
        b ^= k8;
        c ^= k8;
        d ^= k8;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        memcpy(dst + i + 16, &c, 8);
        memcpy(dst + i + 24, &d, 8);
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= k8;
        memcpy(dst + i, &w, 8);
    }
    memcpy(kb, &key, 4);
    for (; i < n; i++) dst[i] = (uint8_t)(src[i] ^ kb[i & 3]);
}

/* -- UTF-8: scalar range checks (RFC 3629 section 4) ------------------------ */

/*
 * UTF8-2 = %xC2-DF UTF8-tail
 * UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *          %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 * UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *          %xF4 %x80-8F 2( UTF8-tail )
 * so only the second byte's range depends on the lead byte.
 */
static inline int second_ok(uint8_t lead, uint8_t c) {
    switch (lead) {
    case 0xE0: return c >= 0xA0 && c <= 0xBF; /* no overlong 3-byte forms */
    case 0xED: return c >= 0x80 && c <= 0x9F; /* no surrogates */
    case 0xF0: return c >= 0x90 && c <= 0xBF; /* no overlong 4-byte forms */
    case 0xF4: return c >= 0x80 && c <= 0x8F; /* nothing above U+10FFFF */
    default: return (c & 0xC0) == 0x80;
    }
}

/* Sequence length announced by a lead byte; 0 when it cannot lead. */
static inline size_t seq_len(uint8_t c) {
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0; /* continuation, or overlong C0/C1 */
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    if (c < 0xF5) return 4;
    return 0;
}

#define HIGH_BITS 0x8080808080808080ULL

int fws_utf8_scalar(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        if (c < 0x80) {
            /* ASCII runs: 16 bytes per step. */
            i++;
            while (i + 16 <= n) {
                uint64_t a, b;
                memcpy(&a, s + i, 8);
                memcpy(&b, s + i + 8, 8);
                if ((a | b) & HIGH_BITS) break;
                i += 16;
            }
            while (i < n && s[i] < 0x80) i++;
            continue;
        }
        len = seq_len(c);
        if (len == 0 || n - i < len) return 0;
        if (!second_ok(c, s[i + 1])) return 0;
        if (len >= 3 && (s[i + 2] & 0xC0) != 0x80) return 0;
        if (len == 4 && (s[i + 3] & 0xC0) != 0x80) return 0;
        i += len;
    }
    return 1;
}

/* Whether t[0..k) (1 <= k <= 3) can start a valid sequence, without being one. */
static int prefix_ok(const uint8_t *t, size_t k) {
    size_t len = seq_len(t[0]);
    size_t j;
    if (len < 2 || k >= len) return 0;
    if (k > 1 && !second_ok(t[0], t[1])) return 0;
    for (j = 2; j < k; j++)
        if ((t[j] & 0xC0) != 0x80) return 0;
    return 1;
}

/* Length of an incomplete sequence at the end of s[0..n) (0-3): the bytes
 * from the last lead byte among the final three when it announces more
 * bytes than are left. Anything malformed is left to the full check. */
static size_t open_tail(const uint8_t *s, size_t n) {
    size_t i;
    for (i = 1; i <= 3 && i <= n; i++) {
        uint8_t c = s[n - i];
        if ((c & 0xC0) == 0x80) continue;
        if (c < 0xC0) return 0;
        {
            size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            return need > i ? i : 0;
        }
    }
    return 0;
}

void fws_utf8_state_reset(fws_utf8_state *st) {
    st->pend_len = 0;
    st->valid = 1;
}

int fws_utf8_feed(fws_utf8_state *st, const uint8_t *s, size_t n) {
    size_t tail;
    if (!st->valid) return 0;
    if (st->pend_len) {
        /* Finish the sequence left open by the previous fragment. */
        uint8_t tmp[4];
        size_t k = st->pend_len;
        size_t need = seq_len(st->pend[0]);
        memcpy(tmp, st->pend, k);
        while (k < need && n) {
            tmp[k++] = *s++;
            n--;
        }
        if (k < need) {
            if (!prefix_ok(tmp, k)) goto invalid;
            memcpy(st->pend, tmp, k);
            st->pend_len = (uint8_t)k;
            return 1;
        }
        if (!fws_utf8_scalar(tmp, need)) goto invalid;
        st->pend_len = 0;
    }
    tail = open_tail(s, n);
    if (!fws_utf8_impl(s, n - tail)) goto invalid;
    /* Fail fast: an open sequence that no continuation can complete (ED A0,
     * F4 90, E0 80, C0, F5...) is already an error. */
    if (tail && !prefix_ok(s + n - tail, tail)) goto invalid;
    memcpy(st->pend, s + n - tail, tail);
    st->pend_len = (uint8_t)tail;
    return 1;
invalid:
    st->valid = 0;
    st->pend_len = 0;
    return 0;
}

/* -- runtime dispatch ---------------------------------------------------------- */

fws_mask_fn fws_mask_impl = mask_generic;
fws_utf8_fn fws_utf8_impl = fws_utf8_scalar;

static const char *mask_name = "generic";
static const char *utf8_name = "generic";
static int best_level = -1;

static int detect(void) {
#if FWS_X86
#if FWS_GNUC_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return FWS_LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2")) return FWS_LEVEL_AVX2;
#endif
    return FWS_LEVEL_SSE2;
#elif FWS_NEON
    return FWS_LEVEL_NEON;
#else
    return FWS_LEVEL_GENERIC;
#endif
}

static const char *level_name(int level) {
    switch (level) {
    case FWS_LEVEL_AVX512: return "avx512";
    case FWS_LEVEL_AVX2: return "avx2";
    case 1:
#if FWS_NEON
        return "neon";
#else
        return "sse2";
#endif
    default: return "generic";
    }
}

const char *fws_simd_best_name(void) {
    if (best_level < 0) best_level = detect();
    return level_name(best_level);
}

int fws_simd_init(const char *force) {
    int level;
    if (best_level < 0) best_level = detect();
    level = best_level;
    if (force && *force) {
        int want = -1;
        if (!strcmp(force, "generic")) want = FWS_LEVEL_GENERIC;
        else if (!strcmp(force, "sse2") || !strcmp(force, "neon")) want = 1;
        else if (!strcmp(force, "avx2")) want = FWS_LEVEL_AVX2;
        else if (!strcmp(force, "avx512")) want = FWS_LEVEL_AVX512;
        if (want >= 0 && want < level) level = want;
    }
    fws_mask_impl = mask_generic;
    fws_utf8_impl = fws_utf8_scalar;
    mask_name = utf8_name = "generic";
#if FWS_X86
    if (level >= FWS_LEVEL_SSE2) {
        fws_mask_impl = fws_mask_sse2;
        mask_name = "sse2";
    }
#if FWS_GNUC_X86
    if (level >= FWS_LEVEL_AVX2) {
        fws_mask_impl = fws_mask_avx2;
        fws_utf8_impl = fws_utf8_avx2;
        mask_name = utf8_name = "avx2";
    }
    if (level >= FWS_LEVEL_AVX512) {
        fws_mask_impl = fws_mask_avx512;
        mask_name = "avx512";
    }
#endif
#elif FWS_NEON
    if (level >= FWS_LEVEL_NEON) {
        fws_mask_impl = fws_mask_neon;
        mask_name = "neon";
    }
#endif
    return level;
}

const char *fws_simd_mask_name(void) { return mask_name; }
const char *fws_simd_utf8_name(void) { return utf8_name; }
