# The compiled twin's declarations for protocol.py: its classes become
# extension types, their slots C fields (see fastws._layers).

cimport cython

from fastws.closing cimport Closing
from fastws.flow cimport FlowControl
from fastws.reassembly cimport Reassembler


cdef class Protocol(Closing):
    cdef public object _eof_held
    cdef public object _extensions
    cdef public object _input_ended
    cdef public object _max_size
    cdef public object _on_message
    cdef public object _plain
    cdef public Reassembler _reassembler
    cdef public object _rsv_allowed
    cdef public object _sink_is_queue
    cdef public object auto_pong
    cdef public object defer_failure
    cdef public FlowControl flow
    cdef public object handshake_exc
    cdef public object subprotocol

    cpdef events_received(self)

    # C integers: no int object per read for a position past 256.
    @cython.locals(size=Py_ssize_t, start=Py_ssize_t)
    cpdef receive_data(self, data)

    cpdef _feed(self, data, max_frames=*)
    cpdef _process(self, frames, error)
    cpdef _lane(self)
    cpdef _after_callback(self, size)
    cpdef _take_output(self)
