# The compiled twin's declarations for reassembly.py: its classes become
# extension types, their slots C fields (see fastws._layers).


cdef class Reassembler:
    cdef public object _buffer
    cdef public object _count
    cdef public object _utf8
    cdef public object extensions
    cdef public object max_fragments
    cdef public object max_size
    cdef public object meter
    cdef public object opcode
