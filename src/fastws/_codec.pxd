# The compiled codec's shared declarations: other compiled modules of
# fastws (the protocol's fast lane, _delivery.pyx) read a Frame's fields
# directly.

cdef class Frame:
    cdef public object fin
    cdef public object opcode
    cdef public object payload
    cdef public object rsv1
    cdef public object rsv2
    cdef public object rsv3
