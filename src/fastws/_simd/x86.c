/*
 * x86-64 kernels: SSE2 (baseline), AVX2 and AVX-512 masking; AVX2 UTF-8
 * validation after Keiser and Lemire, "Validating UTF-8 In Less Than One
 * Instruction Per Byte" (Software: Practice and Experience, 2021).
 *
 * AVX2 and AVX-512 functions carry target attributes, so this file is built
 * without any -m flag and the CPU is asked at run time (dispatch.c).
 */
#include "kernels.h"

#if FWS_X86
#include <emmintrin.h>

static inline void mask_tail(uint8_t *dst, const uint8_t *src, size_t i, size_t n, uint32_t key) {
    uint64_t k8 = ((uint64_t)key << 32) | key;
    uint8_t kb[4];
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= k8;
        memcpy(dst + i, &w, 8);
    }
    memcpy(kb, &key, 4);
    for (; i < n; i++) dst[i] = (uint8_t)(src[i] ^ kb[i & 3]);
}

void fws_mask_sse2(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
    __m128i k = _mm_set1_epi32((int)key);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k));
        _mm_storeu_si128((__m128i *)(dst + i + 16), _mm_xor_si128(b, k));
        _mm_storeu_si128((__m128i *)(dst + i + 32), _mm_xor_si128(c, k));
        _mm_storeu_si128((__m128i *)(dst + i + 48), _mm_xor_si128(d, k));
    }
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(_mm_loadu_si128((const __m128i *)(src + i)), k));
    mask_tail(dst, src, i, n, key);
}
#endif /* FWS_X86 */

#if FWS_GNUC_X86
#include <immintrin.h>

/* -- AVX2 masking ----------------------------------------------------------- */

__attribute__((target("avx2"))) void fws_mask_avx2(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
    __m256i k = _mm256_set1_epi32((int)key);
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(src + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(src + i + 96));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(a, k));
        _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_xor_si256(b, k));
        _mm256_storeu_si256((__m256i *)(dst + i + 64), _mm256_xor_si256(c, k));
        _mm256_storeu_si256((__m256i *)(dst + i + 96), _mm256_xor_si256(d, k));
    }
    for (; i + 32 <= n; i += 32)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(src + i)), k));
    if (i + 16 <= n) {
        __m128i k4 = _mm256_castsi256_si128(k);
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(_mm_loadu_si128((const __m128i *)(src + i)), k4));
        i += 16;
    }
    mask_tail(dst, src, i, n, key);
}

/* -- AVX-512 masking ---------------------------------------------------------- */

__attribute__((target("avx512f,avx512bw"))) void fws_mask_avx512(uint8_t *dst, const uint8_t *src, size_t n,
                                                                  uint32_t key) {
    __m512i k = _mm512_set1_epi32((int)key);
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        __m512i a = _mm512_loadu_si512((const void *)(src + i));
        __m512i b = _mm512_loadu_si512((const void *)(src + i + 64));
        __m512i c = _mm512_loadu_si512((const void *)(src + i + 128));
        __m512i d = _mm512_loadu_si512((const void *)(src + i + 192));
        _mm512_storeu_si512((void *)(dst + i), _mm512_xor_si512(a, k));
        _mm512_storeu_si512((void *)(dst + i + 64), _mm512_xor_si512(b, k));
        _mm512_storeu_si512((void *)(dst + i + 128), _mm512_xor_si512(c, k));
        _mm512_storeu_si512((void *)(dst + i + 192), _mm512_xor_si512(d, k));
    }
    for (; i + 64 <= n; i += 64)
        _mm512_storeu_si512((void *)(dst + i), _mm512_xor_si512(_mm512_loadu_si512((const void *)(src + i)), k));
    if (i < n) {
        /* The last 1-63 bytes in one masked load and store (i is a multiple
         * of 4, so the key stays in phase). */
        __mmask64 m = (__mmask64)(~0ULL >> (64 - (n - i)));
        __m512i x = _mm512_maskz_loadu_epi8(m, (const void *)(src + i));
        _mm512_mask_storeu_epi8((void *)(dst + i), m, _mm512_xor_si512(x, k));
    }
}

/* -- AVX2 UTF-8 validation (Keiser-Lemire lookup algorithm) -------------------
 *
 * Every byte is classified together with the byte before it by three
 * 16-entry tables, indexed by the high nibble of the previous byte, its low
 * nibble and the high nibble of the current byte. Each table entry is a set
 * of error classes that nibble is compatible with; AND-ing the three gives
 * the errors that the pair actually shows. Classes:
 */
#define TOO_SHORT (1 << 0)      /* lead byte followed by a non-continuation */
#define TOO_LONG (1 << 1)       /* ASCII followed by a continuation */
#define OVERLONG_3 (1 << 2)     /* E0 80..9F */
#define TOO_LARGE (1 << 3)      /* F4 90..BF, F5..FF followed by 90..BF */
#define SURROGATE (1 << 4)      /* ED A0..BF */
#define OVERLONG_2 (1 << 5)     /* C0..C1 followed by a continuation */
#define TOO_LARGE_1000 (1 << 6) /* F5..FF 80..8F */
#define OVERLONG_4 (1 << 6)     /* F0 80..8F (shares the bit: its lead is F0 only) */
/* Bit 7, written as a negative int so that the tables fit in (signed) char
 * arguments without overflow. */
#define TWO_CONTS (-0x80)       /* continuation after continuation: checked below */
#define CARRY (TOO_SHORT | TOO_LONG | TWO_CONTS)

#define TABLE16(...) _mm256_setr_epi8(__VA_ARGS__, __VA_ARGS__)

__attribute__((target("avx2"))) static inline __m256i prev_n(__m256i in, __m256i prev, int n) {
    /* `in` shifted right by n bytes across the whole 32 bytes, the last n
     * bytes of `prev` filling in (alignr works per 128-bit lane). */
    __m256i joined = _mm256_permute2x128_si256(prev, in, 0x21);
    switch (n) {
    case 1: return _mm256_alignr_epi8(in, joined, 15);
    case 2: return _mm256_alignr_epi8(in, joined, 14);
    default: return _mm256_alignr_epi8(in, joined, 13);
    }
}

__attribute__((target("avx2"))) static inline __m256i utf8_check(__m256i in, __m256i prev) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i byte1_high_t = TABLE16(
        /* 0_______ ASCII */
        TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
        /* 10______ continuation */
        TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
        /* 1100____ */
        TOO_SHORT | OVERLONG_2,
        /* 1101____ */
        TOO_SHORT,
        /* 1110____ */
        TOO_SHORT | OVERLONG_3 | SURROGATE,
        /* 1111____ */
        TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4);
    const __m256i byte1_low_t = TABLE16(
        /* ____0000 */ CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
        /* ____0001 */ CARRY | OVERLONG_2,
        /* ____001_ */ CARRY, CARRY,
        /* ____0100 */ CARRY | TOO_LARGE,
        /* ____0101 */ CARRY | TOO_LARGE | TOO_LARGE_1000,
        /* ____011_ */ CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        /* ____1___ */ CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        /* ____1101 */ CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000);
    const __m256i byte2_high_t = TABLE16(
        /* ________ 0_______ */
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
        /* ________ 1000____ */
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
        /* ________ 1001____ */
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
        /* ________ 101_____ */
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        /* ________ 11______ */
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT);

    __m256i prev1 = prev_n(in, prev, 1);
    __m256i b1h = _mm256_shuffle_epi8(byte1_high_t, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), low4));
    __m256i b1l = _mm256_shuffle_epi8(byte1_low_t, _mm256_and_si256(prev1, low4));
    __m256i b2h = _mm256_shuffle_epi8(byte2_high_t, _mm256_and_si256(_mm256_srli_epi16(in, 4), low4));
    __m256i special = _mm256_and_si256(_mm256_and_si256(b1h, b1l), b2h);

    /* A continuation after a continuation is right only as the third or
     * fourth byte of a sequence: two bytes after a lead >= E0, or three after
     * a lead >= F0. Saturating subtraction leaves bit 7 set exactly then. */
    __m256i prev2 = prev_n(in, prev, 2);
    __m256i prev3 = prev_n(in, prev, 3);
    __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xE0 - 0x80)));
    __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xF0 - 0x80)));
    __m256i must23 = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(must23, special);
}

__attribute__((target("avx2"))) static inline __m256i utf8_incomplete(__m256i in) {
    /* Nonzero when the last three bytes open a sequence they do not finish:
     * a lead >= F0 in the third-to-last place, >= E0 in the second-to-last,
     * >= C0 in the last. */
    const __m256i max = _mm256_setr_epi8(
        (char)255, (char)255, (char)255, (char)255, (char)255, (char)255, (char)255, (char)255,
        (char)255, (char)255, (char)255, (char)255, (char)255, (char)255, (char)255, (char)255,
        (char)255, (char)255, (char)255, (char)255, (char)255, (char)255, (char)255, (char)255,
        (char)255, (char)255, (char)255, (char)255, (char)255, (char)(0xF0 - 1), (char)(0xE0 - 1),
        (char)(0xC0 - 1));
    return _mm256_subs_epu8(in, max);
}

__attribute__((target("avx2"))) int fws_utf8_avx2(const uint8_t *s, size_t n) {
    __m256i prev = _mm256_setzero_si256();
    __m256i prev_incomplete = _mm256_setzero_si256();
    __m256i error = _mm256_setzero_si256();
    size_t i = 0;

    /* Long ASCII runs: 128 bytes per test. */
    while (i + 128 <= n) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(s + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(s + i + 96));
        __m256i all = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
        if (_mm256_movemask_epi8(all)) break;
        i += 128;
    }
    if (i == n) return 1;
    if (i) prev = _mm256_loadu_si256((const __m256i *)(s + i - 32));

    for (; i + 64 <= n; i += 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
        if (!_mm256_movemask_epi8(_mm256_or_si256(a, b))) {
            /* ASCII block: only a sequence left open before it can fail. */
            error = _mm256_or_si256(error, prev_incomplete);
            prev_incomplete = _mm256_setzero_si256();
        } else {
            error = _mm256_or_si256(error, utf8_check(a, prev));
            error = _mm256_or_si256(error, utf8_check(b, a));
            prev_incomplete = utf8_incomplete(b);
        }
        prev = b;
    }
    if (i < n) {
        /* The last 1-63 bytes, padded with zeros (ASCII): a sequence left
         * open at the very end then shows as too short. */
        uint8_t buf[64];
        __m256i a, b;
        memset(buf, 0, sizeof buf);
        memcpy(buf, s + i, n - i);
        a = _mm256_loadu_si256((const __m256i *)buf);
        b = _mm256_loadu_si256((const __m256i *)(buf + 32));
        error = _mm256_or_si256(error, utf8_check(a, prev));
        error = _mm256_or_si256(error, utf8_check(b, a));
    } else {
        error = _mm256_or_si256(error, prev_incomplete);
    }
    return _mm256_testz_si256(error, error);
}
#endif /* FWS_GNUC_X86 */

#if !FWS_X86
typedef int fws_x86_unused;
#endif
