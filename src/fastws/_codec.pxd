# The compiled codec's shared declarations: other compiled modules of
# fastws read a Frame's fields directly (the protocol's fast lane,
# _delivery.pyx) and call FrameParser.feed_some in C (the compiled
# protocol). Modules that cimport this need src/fastws/_simd on their
# include path (setup.py).

from cpython.object cimport PyObject
from libc.stdint cimport uint8_t, uint64_t


cdef extern from "fastws_simd.h" nogil:
    ctypedef struct fws_utf8_state:
        uint8_t pend_len
        uint8_t valid


cdef class Frame:
    cdef public object fin
    cdef public object opcode
    cdef public object payload
    cdef public object rsv1
    cdef public object rsv2
    cdef public object rsv3


cdef class FrameParser:
    cdef object _require_mask
    cdef int _require_mask_c            # -1: either; 0: unmasked; 1: masked
    cdef object _max_frame_size
    cdef object _max_message_size
    cdef object _max_compressed_size
    cdef bint _has_max_frame, _has_max_message, _has_max_compressed
    cdef uint64_t _max_frame, _max_message, _max_compressed
    cdef object _error
    cdef uint64_t _message_size
    cdef bint _compressed              # the data message in progress set RSV1 on its first frame
    # Header of the frame being received.
    cdef uint8_t _hdr[14]
    cdef Py_ssize_t _hdr_len           # bytes of an incomplete header held
    cdef uint8_t _b0
    cdef bint _masked
    cdef uint8_t _key[4]
    cdef uint64_t _length
    # Payload of the frame being received (header complete, payload not).
    cdef bint _in_payload
    cdef PyObject *_pbuf               # owned bytes object being filled
    cdef Py_ssize_t _cap, _have
    cdef bint _busy
    # UTF-8 validation of text messages.
    cdef bint _validate_utf8
    cdef bint _text                    # the data message in progress is text to validate
    cdef fws_utf8_state _utf8
    cdef Py_ssize_t _checked           # payload bytes of the frame in progress validated

    cdef int _check_idle(self) except -1
    cdef void _clear(self) noexcept
    cpdef tuple feed_some(self, data, Py_ssize_t max_frames)
    cdef tuple _feed_alone(self, const uint8_t *p, Py_ssize_t n, Py_ssize_t max_frames)
    cdef Py_ssize_t _parse_header(self, const uint8_t *p, Py_ssize_t n) except -1
    cdef int _check_text(self, const uint8_t *p, Py_ssize_t n, bint final) except -1
    cdef tuple _feed(self, const uint8_t *p, Py_ssize_t n, Py_ssize_t max_frames)
