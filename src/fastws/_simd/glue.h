/*
 * What the compiled codec twin's Cython code (_codec.pyx) and its
 * vectorcall fast paths (fastpath.h) share: when a kernel runs without the
 * GIL, and how a stream offset rotates the masking key. Included after
 * Python.h.
 */
#ifndef FASTWS_GLUE_H
#define FASTWS_GLUE_H

#include "fastws_simd.h"

/* Kernels release the GIL from this many bytes on, so that other threads
 * run meanwhile; below it, releasing and taking back the GIL would cost
 * more than the work. */
#define FWS_NOGIL_MIN 65536

/* Run `stmt` (C only, no Python API) on `n` bytes, without the GIL when
 * `n` reaches FWS_NOGIL_MIN. The caller holds the GIL and must keep every
 * buffer `stmt` touches alive and unmoved meanwhile. */
#define FWS_MAYBE_NOGIL(n, stmt)         \
    do {                                 \
        if ((n) >= FWS_NOGIL_MIN) {      \
            Py_BEGIN_ALLOW_THREADS stmt; \
            Py_END_ALLOW_THREADS         \
        } else {                         \
            stmt;                        \
        }                                \
    } while (0)

static inline void fws_mask_maybe_nogil(uint8_t *dst, const uint8_t *src, Py_ssize_t n, uint32_t key) {
    FWS_MAYBE_NOGIL(n, fws_mask(dst, src, (size_t)n, key));
}

static inline void fws_copy_maybe_nogil(uint8_t *dst, const uint8_t *src, Py_ssize_t n) {
    FWS_MAYBE_NOGIL(n, memcpy(dst, src, (size_t)n));
}

static inline int fws_utf8_valid_maybe_nogil(const uint8_t *s, Py_ssize_t n) {
    int ok;
    FWS_MAYBE_NOGIL(n, ok = fws_utf8_valid(s, (size_t)n));
    return ok;
}

static inline int fws_utf8_feed_maybe_nogil(fws_utf8_state *st, const uint8_t *s, Py_ssize_t n) {
    int ok;
    FWS_MAYBE_NOGIL(n, ok = fws_utf8_feed(st, s, (size_t)n));
    return ok;
}

/* Store in *out the 4 key bytes packed from key[offset % 4] on, where
 * offset is the stream position of the first byte to mask: any integer
 * (operator.index(offset), of any size), or NULL for 0. Returns 0, or -1
 * with the exception of operator.index set. */
static inline int fws_offset_key(const uint8_t *key, PyObject *offset, uint32_t *out) {
    unsigned long long low = 0;
    if (offset != NULL) {
        PyObject *index = PyLong_CheckExact(offset) ? Py_NewRef(offset) : PyNumber_Index(offset);
        if (index == NULL) return -1;
        /* The low 64 bits in two's complement, for an int of any size and
         * sign: their low two bits are the int modulo 4, as Python's % 4. */
        low = PyLong_AsUnsignedLongLongMask(index);
        Py_DECREF(index);
        if (low == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    }
    *out = fws_key(key, (size_t)(low & 3));
    return 0;
}

#endif /* FASTWS_GLUE_H */
