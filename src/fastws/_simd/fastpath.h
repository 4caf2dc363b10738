/*
 * Vectorcall entry points for the per-call hot functions of the compiled
 * codec twin (included by _codec.pyx, after Python.h).
 *
 * A WebSocket peer masks or validates many tiny payloads, so the cost of
 * the call itself matters: Cython's generic argument handling for a
 * function with a default argument costs more than masking 8 bytes. These
 * METH_FASTCALL functions handle the common shape (positional arguments,
 * exact bytes / bytearray, a 4-byte bytes mask, a small int offset, a size
 * that keeps the GIL) directly and pass every other call, unchanged, to the
 * Cython implementation, which holds the full semantics (buffer protocol,
 * error messages, GIL release). Both paths give the same results.
 */
#ifndef FASTWS_FASTPATH_H
#define FASTWS_FASTPATH_H

#include "fastws_simd.h"

#define FWS_FAST_NOGIL_MIN 65536

enum { FWS_FAST_APPLY_MASK, FWS_FAST_APPLY_MASK_INPLACE, FWS_FAST_VALIDATE_UTF8, FWS_FAST_COUNT };

static PyObject *fws_fast_slow[FWS_FAST_COUNT];

/* offset % 4 for an exact int that fits in a long long; 0 when it does not. */
static inline int fws_fast_rotation(PyObject *offset, size_t *rot) {
    int overflow = 0;
    long long v;
    if (!PyLong_CheckExact(offset)) return 0;
    v = PyLong_AsLongLongAndOverflow(offset, &overflow);
    if (overflow) return 0;
    *rot = (size_t)((unsigned long long)v & 3);
    return 1;
}

static inline int fws_fast_key(PyObject *mask, PyObject *const *args, Py_ssize_t nargs, uint32_t *key) {
    size_t rot = 0;
    if (!PyBytes_CheckExact(mask) || PyBytes_GET_SIZE(mask) != 4) return 0;
    if (nargs == 3 && !fws_fast_rotation(args[2], &rot)) return 0;
    *key = fws_key((const uint8_t *)PyBytes_AS_STRING(mask), rot);
    return 1;
}

static PyObject *fws_fast_apply_mask(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    uint32_t key;
    (void)self;
    if (kwnames == NULL && (nargs == 2 || nargs == 3) && PyBytes_CheckExact(args[0]) &&
        PyBytes_GET_SIZE(args[0]) < FWS_FAST_NOGIL_MIN && fws_fast_key(args[1], args, nargs, &key)) {
        Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
        PyObject *out = PyBytes_FromStringAndSize(NULL, n);
        if (out == NULL) return NULL;
        fws_mask((uint8_t *)PyBytes_AS_STRING(out), (const uint8_t *)PyBytes_AS_STRING(args[0]), (size_t)n, key);
        return out;
    }
    return PyObject_Vectorcall(fws_fast_slow[FWS_FAST_APPLY_MASK], args, nargsf, kwnames);
}

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
            PyByteArray_GET_SIZE(args[0]) < FWS_FAST_NOGIL_MIN && fws_fast_key(args[1], args, nargs, &key)) {
            uint8_t *p = (uint8_t *)PyByteArray_AS_STRING(args[0]);
            fws_mask(p, p, (size_t)PyByteArray_GET_SIZE(args[0]), key);
            Py_RETURN_NONE;
        }
    }
#endif
    return PyObject_Vectorcall(fws_fast_slow[FWS_FAST_APPLY_MASK_INPLACE], args, nargsf, kwnames);
}

static PyObject *fws_fast_validate_utf8(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    (void)self;
    if (kwnames == NULL && nargs == 1 && PyBytes_CheckExact(args[0]) &&
        PyBytes_GET_SIZE(args[0]) < FWS_FAST_NOGIL_MIN) {
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
