# The compiled twin's declarations for closing.py: its classes become
# extension types, their slots C fields (see fastws._layers).

from fastws._codec cimport FrameParser
from fastws.sending cimport Sender


cdef class Closing(Sender):
    cdef public object _discard
    cdef public object _eof_rcvd
    cdef public object _events
    cdef public FrameParser _parser
    cdef public object _pending_failure
    cdef public object close_rcvd
    cdef public object close_rcvd_then_sent
    cdef public object close_sent
    cdef public object error
    cdef public object side
