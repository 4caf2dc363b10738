/*
 * Internal: which instruction sets this compiler can target, and the
 * per-ISA kernels (x86.c, neon.c) that dispatch.c chooses between.
 */
#ifndef FASTWS_KERNELS_H
#define FASTWS_KERNELS_H

#include "fastws_simd.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(_M_AMD64)
#define FWS_X86 1
#else
#define FWS_X86 0
#endif

/* AVX2 and AVX-512 kernels need per-function target attributes and
 * __builtin_cpu_supports (GCC >= 4.9, Clang); other x86-64 compilers
 * (MSVC) get the SSE2 baseline, which every x86-64 CPU has. */
#if FWS_X86 && (defined(__GNUC__) || defined(__clang__)) && !defined(_MSC_VER)
#define FWS_GNUC_X86 1
#else
#define FWS_GNUC_X86 0
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define FWS_NEON 1
#else
#define FWS_NEON 0
#endif

#if FWS_X86
void fws_mask_sse2(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key);
#endif
#if FWS_GNUC_X86
void fws_mask_avx2(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key);
void fws_mask_avx512(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key);
int fws_utf8_avx2(const uint8_t *s, size_t n);
#endif
#if FWS_NEON
void fws_mask_neon(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key);
#endif

#endif /* FASTWS_KERNELS_H */
