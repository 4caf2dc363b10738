/*
 * Vectorcall entry points for the per-call hot functions of the compiled
 * codec twin (included by _codec.pyx, after Python.h).
 *
 * A WebSocket peer masks or validates many tiny payloads, so the cost of
 * the call itself matters: Cython's generic argument handling for a
 * function with a default argument costs more than masking 8 bytes. These
 * METH_FASTCALL functions handle the common shape (positional arguments,
 * exact bytes / bytearray, a 4-byte bytes mask, an exact int offset, a size
 * that keeps the GIL) directly and pass every other call, unchanged, to the
 * Cython implementation, which holds the full semantics (buffer protocol,
 * error messages, GIL release). Both paths give the same results, and take
 * the GIL threshold and the key rotation from glue.h. The speed-ups noted
 * below are `python bench/codec_peers.py` ratios against the Cython
 * functions alone (the pytest-benchmark suites call through fn(*args),
 * which hides part of them).
 */
#ifndef FASTWS_FASTPATH_H
#define FASTWS_FASTPATH_H

#include "glue.h"

enum { FWS_FAST_APPLY_MASK, FWS_FAST_APPLY_MASK_INPLACE, FWS_FAST_VALIDATE_UTF8, FWS_FAST_COUNT };

static PyObject *fws_fast_slow[FWS_FAST_COUNT];

/* 1 and the packed key for a call (data, mask[, offset]) whose mask is an
 * exact 4-byte bytes and whose offset, if any, an exact int (reading it runs
 * no Python code and cannot fail); 0 for any other call, which the Cython
 * function handles. */
static inline int fws_fast_key(PyObject *const *args, Py_ssize_t nargs, uint32_t *key) {
    PyObject *mask = args[1];
    PyObject *offset = nargs == 3 ? args[2] : NULL;
    if (!PyBytes_CheckExact(mask) || PyBytes_GET_SIZE(mask) != 4) return 0;
    if (offset != NULL && !PyLong_CheckExact(offset)) return 0;
    return fws_offset_key((const uint8_t *)PyBytes_AS_STRING(mask), offset, key) == 0;
}

/* Kept for speed: 1.3x-1.6x at 8 B-1 KiB, bench/test_bench_mask.py::test_apply_mask's cases. */
static PyObject *fws_fast_apply_mask(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    uint32_t key;
    (void)self;
    if (kwnames == NULL && (nargs == 2 || nargs == 3) && PyBytes_CheckExact(args[0]) &&
        PyBytes_GET_SIZE(args[0]) < FWS_NOGIL_MIN && fws_fast_key(args, nargs, &key)) {
        Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
        PyObject *out = PyBytes_FromStringAndSize(NULL, n);
        if (out == NULL) return NULL;
        fws_mask((uint8_t *)PyBytes_AS_STRING(out), (const uint8_t *)PyBytes_AS_STRING(args[0]), (size_t)n, key);
        return out;
    }
    return PyObject_Vectorcall(fws_fast_slow[FWS_FAST_APPLY_MASK], args, nargsf, kwnames);
}

/* Kept for speed: 2x at 8 B-1 KiB, bench/test_bench_mask.py::test_apply_mask_inplace's cases. */
static PyObject *fws_fast_apply_mask_inplace(PyObject *self, PyObject *const *args, size_t nargsf,
                                             PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    (void)self;
#ifndef Py_GIL_DISABLED
    /* With the GIL held and no Python code run between taking the pointer
     * and the XOR, the bytearray cannot be resized meanwhile. */
    {
        uint32_t key;
        if (kwnames == NULL && (nargs == 2 || nargs == 3) && PyByteArray_CheckExact(args[0]) &&
            PyByteArray_GET_SIZE(args[0]) < FWS_NOGIL_MIN && fws_fast_key(args, nargs, &key)) {
            uint8_t *p = (uint8_t *)PyByteArray_AS_STRING(args[0]);
            fws_mask(p, p, (size_t)PyByteArray_GET_SIZE(args[0]), key);
            Py_RETURN_NONE;
        }
    }
#endif
    return PyObject_Vectorcall(fws_fast_slow[FWS_FAST_APPLY_MASK_INPLACE], args, nargsf, kwnames);
}

/* Kept for speed: 1.1x-1.25x at 8 B-1 KiB, bench/test_bench_utf8.py::test_validate_utf8's cases. */
static PyObject *fws_fast_validate_utf8(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    (void)self;
    if (kwnames == NULL && nargs == 1 && PyBytes_CheckExact(args[0]) &&
        PyBytes_GET_SIZE(args[0]) < FWS_NOGIL_MIN) {
        if (fws_utf8_valid((const uint8_t *)PyBytes_AS_STRING(args[0]), (size_t)PyBytes_GET_SIZE(args[0])))
            Py_RETURN_TRUE;
        Py_RETURN_FALSE;
    }
    return PyObject_Vectorcall(fws_fast_slow[FWS_FAST_VALIDATE_UTF8], args, nargsf, kwnames);
}

static PyMethodDef fws_fast_defs[FWS_FAST_COUNT];

/* A builtin function named like `slow`, with its docstring and signature,
 * that runs the fast path and otherwise calls `slow`. */
static PyObject *fws_fast_wrap(int which, PyObject *slow, const char *name, const char *signature,
                               PyObject *module_name) {
    PyObject *doc;
    const char *text;
    char *buf;
    size_t len;
    static const vectorcallfunc impls[FWS_FAST_COUNT] = {
        (vectorcallfunc)fws_fast_apply_mask,
        (vectorcallfunc)fws_fast_apply_mask_inplace,
        (vectorcallfunc)fws_fast_validate_utf8,
    };
    if (which < 0 || which >= FWS_FAST_COUNT) {
        PyErr_SetString(PyExc_ValueError, "unknown fast path");
        return NULL;
    }
    doc = PyObject_GetAttrString(slow, "__doc__");
    if (doc == NULL) return NULL;
    text = doc == Py_None ? "" : PyUnicode_AsUTF8(doc);
    if (text == NULL) {
        Py_DECREF(doc);
        return NULL;
    }
    /* "name(signature)\n--\n\n" makes inspect.signature work on a builtin. */
    len = strlen(name) + strlen(signature) + strlen(text) + 8;
    buf = (char *)PyMem_RawMalloc(len); /* lives as long as the process */
    if (buf == NULL) {
        Py_DECREF(doc);
        return PyErr_NoMemory();
    }
    snprintf(buf, len, "%s%s\n--\n\n%s", name, signature, text);
    Py_DECREF(doc);
    Py_XSETREF(fws_fast_slow[which], Py_NewRef(slow));
    fws_fast_defs[which].ml_name = name;
    fws_fast_defs[which].ml_meth = (PyCFunction)(void (*)(void))impls[which];
    fws_fast_defs[which].ml_flags = METH_FASTCALL | METH_KEYWORDS;
    fws_fast_defs[which].ml_doc = buf;
    return PyCFunction_NewEx(&fws_fast_defs[which], NULL, module_name);
}

#endif /* FASTWS_FASTPATH_H */
