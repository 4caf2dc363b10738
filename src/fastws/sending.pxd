# The compiled twin's declarations for sending.py: its classes become
# extension types, their slots C fields (see fastws._layers).


# ZERO_COPY_MIN as a C integer: a payload's length is compared with it
# without making an int object per frame.
cdef Py_ssize_t _ZERO_COPY


cdef class FrameWriter:
    cdef public object extensions
    cdef public object fragment_size
    cdef public object mask
    cdef public object meter

    cpdef write(self, output, opcode, payload, fin)


cdef class Sender:
    cdef public object _eof_sent
    cdef public object _output
    cdef public object _send_frag
    cdef public FrameWriter _writer
    cdef public object state

    cpdef _send_whole(self, data)
